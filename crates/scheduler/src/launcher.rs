//! How a party runs a task: the spec handed to the task process, and the launcher
//! trait (a local OS process today, a pod later).

use async_trait::async_trait;
use fateflow_domain::{PartyId, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A table a task reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRefSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// A model a task reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The component that produced it.
    pub component: String,
    /// Its alias.
    pub alias: String,
    /// Its module.
    pub module: String,
    /// The model as typed JSON.
    pub model: Value,
}

/// Everything a task process needs, written to `task.json` beside its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Job id.
    pub job_id: String,
    /// Component name.
    pub component: String,
    /// Module (canonical name).
    pub module: String,
    /// Task id.
    pub task_id: String,
    /// Task version.
    pub task_version: i64,
    /// This party's role.
    pub role: Role,
    /// This party's id.
    pub party_id: PartyId,
    /// Merged component parameters.
    pub parameters: Map<String, Value>,
    /// Data inputs by key.
    pub data_inputs: BTreeMap<String, Vec<TableRefSpec>>,
    /// `input.model`.
    pub model_inputs: Vec<ModelSpec>,
    /// `input.isometric_model`.
    pub isometric_model_inputs: Vec<ModelSpec>,
    /// Output data names.
    pub output_data: Vec<String>,
    /// Output model names.
    pub output_model: Vec<String>,
    /// The site's data dir (tables live under it).
    pub data_dir: PathBuf,
    /// Where the task writes its log.
    pub log_dir: PathBuf,
    /// The site's HTTP address for reports, e.g. `http://127.0.0.1:9380`.
    pub server: String,
    /// Cores the task may use.
    pub task_cores: u32,
    /// Partitions for computing tables.
    pub computing_partitions: u32,
    /// The job's parties by role, in position order.
    #[serde(default)]
    pub roles: BTreeMap<Role, Vec<PartyId>>,
    /// How long a `get` waits for another party before failing with its name.
    #[serde(default = "default_federation_timeout")]
    pub federation_timeout_s: u64,
    /// The task's secret for its site's routes. Never in the spec file: the launcher
    /// hands it to the process in [`TASK_TOKEN_ENV`].
    #[serde(skip)]
    pub token: TaskToken,
}

/// The environment variable carrying a task's [`TaskToken`] to its process.
pub const TASK_TOKEN_ENV: &str = "FATEFLOW_TASK_TOKEN";

/// A task's secret: 32 random bytes from the OS, hex encoded. It proves to the site's
/// worker and federation routes that a request comes from the process launched for
/// that task. `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TaskToken(String);

impl TaskToken {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Result<Self, LaunchError> {
        use rand::TryRngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| LaunchError(format!("drawing the task token from the OS: {e}")))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token received by the task process.
    pub fn from_secret(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret, to send with requests.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is this secret, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        if a.is_empty() || a.len() != b.len() {
            return false;
        }
        let diff = a
            .iter()
            .zip(b)
            .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
        diff == 0
    }
}

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "TaskToken(none)"
        } else {
            "TaskToken(<secret>)"
        })
    }
}

fn default_federation_timeout() -> u64 {
    600
}

/// A launched task process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// OS process id.
    pub pid: i64,
    /// The command line, for the record.
    pub cmd: String,
    /// A unique id of this launch.
    pub worker_id: String,
}

/// Why a launch or kill failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

/// Starts and stops task processes.
#[async_trait]
pub trait TaskLauncher: Send + Sync {
    /// Starts the task; its exit is reported through the launcher's exit channel.
    async fn launch(&self, spec: &TaskSpec) -> Result<Launched, LaunchError>;
    /// Kills the task's process (and its process group) if it still runs. `task_id`
    /// guards against a reused pid.
    async fn kill(&self, pid: i64, task_id: &str) -> Result<bool, LaunchError>;
    /// Whether the process of `task_id` still runs as `pid`.
    fn is_alive(&self, pid: i64, task_id: &str) -> bool;
}

/// A task process ended (sent by the launcher).
#[derive(Debug, Clone)]
pub struct ProcessExit {
    /// Job id.
    pub job_id: String,
    /// Task id.
    pub task_id: String,
    /// Task version.
    pub task_version: i64,
    /// Role.
    pub role: Role,
    /// Party id.
    pub party_id: PartyId,
    /// Exit code, when it exited rather than being killed by a signal.
    pub code: Option<i32>,
    /// The last lines of its log.
    pub log_tail: String,
}

/// A launcher that starts nothing, for tests of what happens around tasks.
#[cfg(test)]
pub(crate) struct NoLauncher;

#[cfg(test)]
#[async_trait]
impl TaskLauncher for NoLauncher {
    async fn launch(&self, _: &TaskSpec) -> Result<Launched, LaunchError> {
        Err(LaunchError("no processes in this test".into()))
    }
    async fn kill(&self, _: i64, _: &str) -> Result<bool, LaunchError> {
        Ok(false)
    }
    fn is_alive(&self, _: i64, _: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compare_exactly() {
        let a = TaskToken::generate().unwrap();
        let b = TaskToken::generate().unwrap();
        assert_eq!(a.secret().len(), 64);
        assert!(a.secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(a.matches(a.secret()));
        assert!(!a.matches(b.secret()));
        assert!(!a.matches(&a.secret()[..63]));
        assert!(!a.matches(""));
        assert!(!TaskToken::default().matches(""));
        assert!(!format!("{a:?}").contains(a.secret()));
    }

    #[test]
    fn the_token_is_not_written_to_the_spec_file() {
        let spec = serde_json::json!({
            "job_id": "j", "component": "c", "module": "Reader", "task_id": "j_c",
            "task_version": 0, "role": "guest", "party_id": 9999, "parameters": {},
            "data_inputs": {}, "model_inputs": [], "isometric_model_inputs": [],
            "output_data": [], "output_model": [], "data_dir": "/d", "log_dir": "/l",
            "server": "http://127.0.0.1:1", "task_cores": 1, "computing_partitions": 1,
        });
        let mut spec: TaskSpec = serde_json::from_value(spec).unwrap();
        assert!(spec.token.is_empty());
        spec.token = TaskToken::generate().unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains(spec.token.secret()), "{text}");
    }
}

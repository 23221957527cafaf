//! What a party's task processes and a remote initiator receive about tasks: the spec
//! file of a task process, its secret token, and the task states a party reports.

use fateflow_domain::{ErrorKind, PartyId, Role, Status};
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

/// Everything a task process needs, written to `task.json` beside its log by the
/// party's launcher and read by `fateflow task run`.
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
    /// Output cache names (`output.cache`: an intersection's `run_cache`).
    #[serde(default)]
    pub output_cache: Vec<String>,
    /// The site's data dir (tables live under it).
    pub data_dir: PathBuf,
    /// Where the task writes its log.
    pub log_dir: PathBuf,
    /// The site's HTTP address for reports, e.g. `http://127.0.0.1:9380`.
    pub server: String,
    /// Cores the task may use.
    pub task_cores: u32,
    /// The task's memory budget in MB (the job's `task_memory`, else the site's
    /// `--task-memory-mb`); 0 leaves it to the executor's default.
    #[serde(default)]
    pub task_memory_mb: u64,
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
    /// A token from 32 random bytes, hex encoded (the launcher draws them from the
    /// operating system).
    pub fn from_random_bytes(bytes: &[u8; 32]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

/// What travels about one task of a party to a remote initiator, in the gateway's
/// command replies and reports (the fields the initiator schedules on, and the
/// failure reason it shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    /// Job.
    pub job_id: String,
    /// Task id.
    pub task_id: String,
    /// Version.
    pub task_version: i64,
    /// Component.
    pub component_name: String,
    /// Module.
    pub component_module: String,
    /// Role at the party.
    pub role: Role,
    /// The party.
    pub party_id: PartyId,
    /// The job's initiator role.
    pub initiator_role: Role,
    /// The job's initiator party.
    pub initiator_party_id: PartyId,
    /// Federated status as the party stores it.
    pub status: Status,
    /// The party's own status.
    pub party_status: Status,
    /// Retries left.
    pub auto_retries: i64,
    /// Why it failed.
    pub error_report: Option<String>,
    /// The kind of the component's error (absent from older sites: then retryable).
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// Created at (ms).
    pub create_time: i64,
    /// Started at (ms).
    pub start_time: Option<i64>,
    /// Ended at (ms).
    pub end_time: Option<i64>,
    /// Run time (ms).
    pub elapsed: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hex_and_compare_exactly() {
        let a = TaskToken::from_random_bytes(&[7; 32]);
        let b = TaskToken::from_random_bytes(&[8; 32]);
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
        assert_eq!(spec.federation_timeout_s, 600);
        spec.token = TaskToken::from_random_bytes(&[9; 32]);
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains(spec.token.secret()), "{text}");
    }
}

//! How a party runs a task: the launcher trait (a local OS process, or a Kubernetes
//! Job in `fateflow-launcher-k8s`). The spec handed to the task process is a wire
//! type of `fateflow-api-types`, re-exported here.

use async_trait::async_trait;
use fateflow_domain::{PartyId, Role};

pub use fateflow_api_types::task::{ModelSpec, TableRefSpec, TaskSpec, TaskToken, TASK_TOKEN_ENV};

/// Draws a fresh [`TaskToken`] from the operating system's random source.
pub trait GenerateToken: Sized {
    /// A fresh secret.
    fn generate() -> Result<Self, LaunchError>;
}

impl GenerateToken for TaskToken {
    fn generate() -> Result<Self, LaunchError> {
        use rand::TryRngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| LaunchError(format!("drawing the task token from the OS: {e}")))?;
        Ok(Self::from_random_bytes(&bytes))
    }
}

/// A launched task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// OS process id, when the task runs as a process of this machine.
    pub pid: Option<i64>,
    /// The command line, for the record.
    pub cmd: String,
    /// A unique id of this launch ([`worker_id`]); stored in the task row.
    pub worker_id: String,
}

impl Launched {
    /// The handle that finds this launch again.
    pub fn handle(&self, task_id: &str) -> TaskHandle {
        TaskHandle {
            task_id: task_id.to_string(),
            worker_id: Some(self.worker_id.clone()),
            pid: self.pid,
        }
    }
}

/// What a launcher needs to find a launched task again, from this server or another
/// one sharing the site: its pid on the launching machine (local processes), its
/// worker id (a pod's name derives from it), and its task id (which a local process's
/// command line must name, so a reused pid is never killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHandle {
    /// Task id.
    pub task_id: String,
    /// The launch's unique id, as stored in the task row.
    pub worker_id: Option<String>,
    /// OS process id, for launches that are local processes.
    pub pid: Option<i64>,
}

/// The unique id of one launch of a task: `<task_id>_<version>_<role>_<party_id>`.
pub fn worker_id(spec: &TaskSpec) -> String {
    format!(
        "{}_{}_{}_{}",
        spec.task_id, spec.task_version, spec.role, spec.party_id
    )
}

/// Why a launch or kill failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

/// Starts and stops tasks (local processes, or pods).
#[async_trait]
pub trait TaskLauncher: Send + Sync {
    /// Starts the task; its exit is reported through the launcher's exit channel.
    async fn launch(&self, spec: &TaskSpec) -> Result<Launched, LaunchError>;
    /// Kills the task if it still runs; `Ok(true)` when something was killed.
    async fn kill(&self, task: &TaskHandle) -> Result<bool, LaunchError>;
    /// Whether the task still runs.
    async fn is_alive(&self, task: &TaskHandle) -> bool;
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
    async fn kill(&self, _: &TaskHandle) -> Result<bool, LaunchError> {
        Ok(false)
    }
    async fn is_alive(&self, _: &TaskHandle) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_random_hex() {
        let a = TaskToken::generate().unwrap();
        let b = TaskToken::generate().unwrap();
        assert_eq!(a.secret().len(), 64);
        assert!(a.secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}

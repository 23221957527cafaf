//! How a party runs a task: the launcher trait (a local OS process today, a pod
//! later). The spec handed to the task process is a wire type of `fateflow-api-types`,
//! re-exported here.

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
    fn generated_tokens_are_random_hex() {
        let a = TaskToken::generate().unwrap();
        let b = TaskToken::generate().unwrap();
        assert_eq!(a.secret().len(), 64);
        assert!(a.secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}

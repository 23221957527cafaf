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
    /// Kills the task's process if it still runs. `task_id` guards against a reused pid.
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

//! Rows of the metadata store, as typed records.

use fateflow_domain::{ErrorKind, PartyId, Role, Status};
use serde::Serialize;
use serde_json::Value;

/// One party's view of a job (`t_job`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub job_id: String,
    pub role: Role,
    pub party_id: PartyId,
    pub is_initiator: bool,
    pub initiator_role: Role,
    pub initiator_party_id: PartyId,
    pub user_id: String,
    pub name: String,
    pub description: String,
    pub tag: String,
    pub dsl: Value,
    pub runtime_conf: Value,
    pub runtime_conf_on_party: Value,
    pub train_runtime_conf: Value,
    pub roles: Value,
    pub status: Status,
    pub status_code: Option<i64>,
    pub progress: i64,
    pub ready_signal: bool,
    pub ready_time: Option<i64>,
    pub cancel_signal: bool,
    pub cancel_time: Option<i64>,
    pub rerun_signal: bool,
    pub cores: i64,
    pub memory: i64,
    pub remaining_cores: i64,
    pub remaining_memory: i64,
    pub resource_in_use: bool,
    pub apply_resource_time: Option<i64>,
    pub return_resource_time: Option<i64>,
    pub model_id: String,
    pub model_version: String,
    /// Why the job failed, when it did (our addition to FATE's columns).
    pub error_report: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub elapsed: Option<i64>,
    /// The row's version: 0 when inserted (whatever the record says), one more on
    /// every update, so a writer can tell that the row changed since it read it.
    pub version: i64,
}

impl JobRecord {
    /// A new job row in status `ready`, as `create` makes it at a party.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_id: &str,
        role: Role,
        party_id: PartyId,
        initiator: fateflow_domain::Party,
        dsl: Value,
        runtime_conf: Value,
        runtime_conf_on_party: Value,
        roles: Value,
        now: i64,
    ) -> Self {
        Self {
            job_id: job_id.to_string(),
            role,
            party_id,
            is_initiator: initiator.role == role && initiator.party_id == party_id,
            initiator_role: initiator.role,
            initiator_party_id: initiator.party_id,
            user_id: String::new(),
            name: String::new(),
            description: String::new(),
            tag: String::new(),
            dsl,
            runtime_conf,
            runtime_conf_on_party,
            train_runtime_conf: Value::Object(Default::default()),
            roles,
            status: Status::Ready,
            status_code: None,
            progress: 0,
            ready_signal: false,
            ready_time: None,
            cancel_signal: false,
            cancel_time: None,
            rerun_signal: false,
            cores: 0,
            memory: 0,
            remaining_cores: 0,
            remaining_memory: 0,
            resource_in_use: false,
            apply_resource_time: None,
            return_resource_time: None,
            model_id: String::new(),
            model_version: String::new(),
            error_report: None,
            create_time: now,
            update_time: now,
            start_time: None,
            end_time: None,
            elapsed: None,
            version: 0,
        }
    }
}

/// The key of a task row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TaskKey {
    pub job_id: String,
    pub task_id: String,
    pub task_version: i64,
    pub role: Role,
    pub party_id: PartyId,
}

/// One party's task of one component, one version (`t_task`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    pub job_id: String,
    pub task_id: String,
    pub task_version: i64,
    pub role: Role,
    pub party_id: PartyId,
    pub component_name: String,
    pub component_module: String,
    pub initiator_role: Role,
    pub initiator_party_id: PartyId,
    pub federated_mode: String,
    pub federated_status_collect_type: String,
    /// The federated status, computed by the initiator.
    pub status: Status,
    /// What this party's executor reported.
    pub party_status: Status,
    pub status_code: Option<i64>,
    pub auto_retries: i64,
    pub auto_retry_delay: i64,
    pub run_on_this_party: bool,
    pub worker_id: Option<String>,
    pub cmd: Option<String>,
    pub run_ip: Option<String>,
    pub run_port: Option<i64>,
    pub run_pid: Option<i64>,
    pub provider_info: Value,
    pub component_parameters: Value,
    pub engine_conf: Value,
    pub kill_status: bool,
    pub error_report: Option<String>,
    /// The kind of the component's error, when it failed with one.
    pub error_kind: Option<ErrorKind>,
    pub heartbeat_time: Option<i64>,
    pub create_time: i64,
    pub update_time: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub elapsed: Option<i64>,
    /// The row's version, as [`JobRecord::version`].
    pub version: i64,
}

impl TaskRecord {
    /// This row's key.
    pub fn key(&self) -> TaskKey {
        TaskKey {
            job_id: self.job_id.clone(),
            task_id: self.task_id.clone(),
            task_version: self.task_version,
            role: self.role,
            party_id: self.party_id,
        }
    }
}

/// Changes to a task row; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskUpdate {
    pub worker_id: Option<String>,
    pub cmd: Option<String>,
    pub run_ip: Option<String>,
    pub run_port: Option<i64>,
    pub run_pid: Option<i64>,
    pub kill_status: Option<bool>,
    pub error_report: Option<String>,
    pub error_kind: Option<ErrorKind>,
    pub heartbeat_time: Option<i64>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub elapsed: Option<i64>,
    pub auto_retries: Option<i64>,
    pub engine_conf: Option<Value>,
}

/// Changes to a job row; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct JobUpdate {
    pub progress: Option<i64>,
    pub tag: Option<String>,
    pub description: Option<String>,
    pub ready_signal: Option<bool>,
    pub ready_time: Option<i64>,
    pub cancel_signal: Option<bool>,
    pub cancel_time: Option<i64>,
    pub rerun_signal: Option<bool>,
    pub error_report: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub elapsed: Option<i64>,
    /// Set `end_time`, `elapsed` and `error_report` back to empty (rerun).
    pub clear_end: bool,
    pub model_id: Option<String>,
    pub model_version: Option<String>,
    pub train_runtime_conf: Option<Value>,
}

/// A filter on jobs; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub job_id: Option<String>,
    pub role: Option<Role>,
    pub party_id: Option<PartyId>,
    pub statuses: Vec<Status>,
    pub is_initiator: Option<bool>,
    /// Substring of the job id.
    pub job_id_like: Option<String>,
    /// Substring of the description.
    pub description_like: Option<String>,
    /// Exclude jobs with this tag (`submit_failed` in job lists).
    pub exclude_tag: Option<String>,
    /// Column to order by (a whitelisted name) and direction.
    pub order_by: Option<(String, bool)>,
    /// Rows per page (0 = all) and 1-based page.
    pub limit: u64,
    pub page: u64,
}

/// A filter on tasks; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub job_id: Option<String>,
    pub task_id: Option<String>,
    pub task_version: Option<i64>,
    pub role: Option<Role>,
    pub party_id: Option<PartyId>,
    pub component_name: Option<String>,
    pub statuses: Vec<Status>,
    pub party_statuses: Vec<Status>,
    pub run_on_this_party: Option<bool>,
    /// Keep only the highest `task_version` per (task, role, party).
    pub latest_only: bool,
    pub order_by: Option<(String, bool)>,
    pub limit: u64,
    pub page: u64,
}

/// A stored table's metadata (`t_storage_table_meta`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableMetaRecord {
    pub namespace: String,
    pub name: String,
    pub address: Value,
    pub engine: String,
    pub store_type: String,
    pub partitions: i64,
    pub id_delimiter: String,
    pub have_head: bool,
    pub extend_sid: bool,
    pub schema: Value,
    pub count: i64,
    pub part_of_data: Value,
    pub origin: String,
    pub disable: bool,
    pub description: String,
    pub create_time: i64,
    pub update_time: i64,
}

/// Where a task's result rows belong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskOwner {
    pub job_id: String,
    pub component_name: String,
    pub task_id: String,
    pub task_version: i64,
    pub role: Role,
    pub party_id: PartyId,
}

/// One tracked metric: a name, its points and its meta.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRecord {
    pub owner: TaskOwner,
    pub metric_namespace: String,
    pub metric_name: String,
    /// `[[key, value], ...]`.
    pub data: Value,
    pub meta: Value,
    pub create_time: i64,
}

/// An output table of a task (`t_tracking_output_data_info`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputDataRecord {
    pub owner: TaskOwner,
    pub data_name: String,
    pub table_namespace: String,
    pub table_name: String,
    pub description: String,
    pub create_time: i64,
}

/// A component's model, stored as typed JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentModelRecord {
    pub owner: TaskOwner,
    pub model_alias: String,
    pub module: String,
    pub model: Value,
    pub create_time: i64,
}

/// The computing engine's capacity at this site (`t_engine_registry`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineRecord {
    pub engine_name: String,
    pub cores: i64,
    pub memory: i64,
    pub remaining_cores: i64,
    pub remaining_memory: i64,
    pub nodes: i64,
}

/// The key of one party's pipeline model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ModelKey {
    pub model_id: String,
    pub model_version: String,
    pub role: Role,
    pub party_id: PartyId,
}

impl std::fmt::Display for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "model {} version {} of {} {}",
            self.model_id, self.model_version, self.role, self.party_id
        )
    }
}

/// One party's pipeline model (`t_machine_learning_model_info`): a training job's
/// model (`parent`) or a deployed child of one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfoRecord {
    pub model_id: String,
    pub model_version: String,
    pub role: Role,
    pub party_id: PartyId,
    /// The job that made it: the training job, or the deploy's new id.
    pub job_id: String,
    /// `{role: [party ids]}` of the training job.
    pub roles: Value,
    pub initiator_role: Role,
    pub initiator_party_id: PartyId,
    pub train_dsl: Value,
    pub train_runtime_conf: Value,
    pub runtime_conf_on_party: Value,
    pub inference_dsl: Value,
    pub fate_version: String,
    /// True for a trained model, false for a deployed child.
    pub parent: bool,
    /// `{parent_model_id, parent_model_version}` of a child, else `{}`.
    pub parent_info: Value,
    pub loaded_times: i64,
    pub imported: bool,
    /// Bytes of the component models (their JSON).
    pub size: i64,
    pub description: String,
    pub archive_sha256: Option<String>,
    pub archive_from_ip: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

impl ModelInfoRecord {
    /// This row's key.
    pub fn key(&self) -> ModelKey {
        ModelKey {
            model_id: self.model_id.clone(),
            model_version: self.model_version.clone(),
            role: self.role,
            party_id: self.party_id,
        }
    }
}

/// One component model inside a pipeline model (`t_pipeline_component_meta` plus
/// the model itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineComponentRecord {
    pub component_name: String,
    pub model_alias: String,
    pub module: String,
    pub model: Value,
    pub create_time: i64,
}

/// A filter on pipeline models; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    pub model_id: Option<String>,
    pub model_version: Option<String>,
    pub role: Option<Role>,
    pub party_id: Option<PartyId>,
    pub job_id: Option<String>,
    pub initiator_role: Option<Role>,
    pub initiator_party_id: Option<PartyId>,
    pub parent: Option<bool>,
    pub imported: Option<bool>,
}

/// One running `fateflow server` process of a site (the instance registry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceRecord {
    /// Random per process start.
    pub instance_id: String,
    /// A small number no other registered instance has (it makes job ids unique).
    pub slot: i64,
    /// The machine's host name.
    pub host: String,
    /// Where its API listens (`http://host:port`).
    pub address: String,
    pub pid: i64,
    /// The fateflow version.
    pub version: String,
    /// Database clock, ms.
    pub started_at: i64,
    /// Database clock, ms.
    pub heartbeat_at: i64,
}

/// The scheduler lease as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseState {
    /// The holding instance ('' before anyone took it).
    pub holder: String,
    /// The fencing epoch: one more on every takeover.
    pub epoch: i64,
    /// Database clock, ms; in the past once the holder stopped renewing.
    pub expires_at: i64,
    /// The database clock when this was read, ms.
    pub now: i64,
}

impl LeaseState {
    /// Whether the holder's lease still runs.
    pub fn held(&self) -> bool {
        !self.holder.is_empty() && self.expires_at >= self.now
    }
}

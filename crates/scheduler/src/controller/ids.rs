//! Keys, ids and rows: command ids checked before use, task keys and new task rows,
//! a party's latest tasks, stored job parameters.

use super::*;

impl PartyController {
    /// The owner triple used by tracking rows of a task.
    pub fn owner_of(key: &TaskKey, component: &str) -> TaskOwner {
        TaskOwner {
            job_id: key.job_id.clone(),
            component_name: component.to_string(),
            task_id: key.task_id.clone(),
            task_version: key.task_version,
            role: key.role,
            party_id: key.party_id,
        }
    }
}

/// `<task_id> v<version> of <role>:<party>`, for messages.
pub(super) fn describe_task(key: &TaskKey) -> String {
    format!(
        "{} v{} of {}:{}",
        key.task_id, key.task_version, key.role, key.party_id
    )
}

/// A task's federation session: `<task_id>_<version>`.
pub fn session_of(key: &TaskKey) -> String {
    format!("{}_{}", key.task_id, key.task_version)
}

/// Cores and memory one task takes from its job's share.
pub fn task_resource_need(role: Role, params: &fateflow_domain::JobParameters) -> (i64, i64) {
    if role == Role::Arbiter {
        return (0, 0);
    }
    (
        i64::from(params.task_cores),
        i64::try_from(params.task_memory).unwrap_or(i64::MAX),
    )
}

/// The typed job parameters stored at a party.
pub fn job_params_of(job: &JobRecord) -> fateflow_domain::JobParameters {
    job.runtime_conf_on_party
        .get("job_parameters")
        .and_then(|v| serde_json::from_value::<JobParamsRow>(v.clone()).ok())
        .map(JobParamsRow::into_params)
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct JobParamsRow {
    task_cores: u32,
    task_memory: u64,
    task_parallelism: u32,
    computing_partitions: Option<u32>,
    timeout: u64,
    auto_retries: u32,
}

impl JobParamsRow {
    pub(super) fn into_params(self) -> fateflow_domain::JobParameters {
        fateflow_domain::JobParameters {
            task_cores: self.task_cores,
            task_memory: self.task_memory,
            task_parallelism: self.task_parallelism,
            computing_partitions: self.computing_partitions,
            timeout: self.timeout,
            auto_retries: self.auto_retries,
            ..Default::default()
        }
    }
}

/// The key of a component's task at a party.
pub fn task_key(job_id: &str, component: &str, version: i64, party: Party) -> TaskKey {
    TaskKey {
        job_id: job_id.to_string(),
        task_id: fateflow_domain::ids::task_id(job_id, component),
        task_version: version,
        role: party.role,
        party_id: party.party_id,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_task(
    job_id: &str,
    component: &str,
    module: &str,
    version: i64,
    party: Party,
    job: &Job,
    pt: &fateflow_domain::PartyTask,
    auto_retries: u32,
    now: i64,
) -> TaskRecord {
    let mut params = pt.parameters.clone();
    params.insert("need_run".into(), Value::Bool(pt.need_run));
    TaskRecord {
        job_id: job_id.to_string(),
        task_id: fateflow_domain::ids::task_id(job_id, component),
        task_version: version,
        role: party.role,
        party_id: party.party_id,
        component_name: component.to_string(),
        component_module: module.to_string(),
        initiator_role: job.conf.initiator.role,
        initiator_party_id: job.conf.initiator.party_id,
        federated_mode: if job
            .parties()
            .iter()
            .map(|p| p.party_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
        {
            "MULTIPLE".into()
        } else {
            "SINGLE".into()
        },
        federated_status_collect_type: "PUSH".into(),
        status: Status::Waiting,
        party_status: Status::Waiting,
        status_code: None,
        auto_retries: i64::from(auto_retries),
        auto_retry_delay: i64::try_from(job.conf.common_job_parameters.auto_retry_delay)
            .unwrap_or(i64::MAX),
        run_on_this_party: true,
        worker_id: None,
        cmd: None,
        run_ip: None,
        run_port: None,
        run_pid: None,
        provider_info: json!({"name": "fateflow-rs", "version": env!("CARGO_PKG_VERSION")}),
        component_parameters: Value::Object(params),
        engine_conf: json!({"computing_engine": "STANDALONE"}),
        kill_status: false,
        error_report: None,
        error_kind: None,
        heartbeat_time: None,
        create_time: now,
        update_time: now,
        start_time: None,
        end_time: None,
        elapsed: None,
        version: 0,
    }
}

/// The latest version of each of a party's tasks in a job.
pub async fn latest_party_tasks(
    store: &dyn MetadataStore,
    job_id: &str,
    party: Party,
) -> Result<Vec<TaskRecord>, fateflow_storage::Error> {
    let (tasks, _) = store
        .query_tasks(&TaskFilter {
            job_id: Some(job_id.into()),
            role: Some(party.role),
            party_id: Some(party.party_id),
            latest_only: true,
            ..Default::default()
        })
        .await?;
    Ok(tasks)
}

/// Every identifier of a command that can become a path, checked against the one
/// grammar before anything is stored or written (a partner chooses them).
pub(super) fn check_command_ids(job_id: &str, cmd: &PartyCommand) -> Result<(), Refusal> {
    let bad = |e: fateflow_domain::ident::InvalidId| Refusal::new(101, e.to_string());
    let model = |id: &str, version: &str| -> Result<(), Refusal> {
        check(IdKind::ModelId, id).map_err(bad)?;
        check(IdKind::ModelVersion, version).map_err(bad)
    };
    match cmd {
        PartyCommand::DeployModel {
            model_id,
            model_version,
            child_model_version,
            cpn_list,
            ..
        } => {
            model(model_id, model_version)?;
            check(IdKind::ModelVersion, child_model_version).map_err(bad)?;
            for c in cpn_list.iter().flatten() {
                check(IdKind::Component, c).map_err(bad)?;
            }
            Ok(())
        }
        PartyCommand::LoadModel {
            model_id,
            model_version,
            ..
        }
        | PartyCommand::UnloadModel {
            model_id,
            model_version,
            ..
        } => model(model_id, model_version),
        PartyCommand::CreateTask { component, .. }
        | PartyCommand::StartTask { component, .. }
        | PartyCommand::SyncTaskStatus { component, .. }
        | PartyCommand::StopTask { component, .. } => {
            check(IdKind::JobId, job_id).map_err(bad)?;
            check(IdKind::Component, component).map_err(bad)
        }
        _ => check(IdKind::JobId, job_id).map_err(bad),
    }
}

/// What finds a task row's launch again, if it was launched.
pub(super) fn handle_of(task: &TaskRecord) -> Option<TaskHandle> {
    if task.run_pid.is_none() && task.worker_id.is_none() {
        return None;
    }
    Some(TaskHandle {
        task_id: task.task_id.clone(),
        worker_id: task.worker_id.clone(),
        pid: task.run_pid,
    })
}

/// A launch in messages: its pid, else its worker id.
pub(super) fn describe_launch(handle: &TaskHandle) -> String {
    match (&handle.pid, &handle.worker_id) {
        (Some(pid), _) => pid.to_string(),
        (None, Some(w)) => w.clone(),
        (None, None) => "(not launched)".into(),
    }
}

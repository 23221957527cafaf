//! The initiator's copies of remote parties' task rows.
//!
//! The scheduler aggregates task statuses from the rows in its own store. A remote
//! party keeps its real rows at its own site; the initiator keeps a copy of each
//! (`run_on_this_party = false`), created and moved forward from the [`TaskState`]s the
//! party returns with every command reply and reports whenever its tasks change. The
//! copies only move forward through the status rules, so a late or repeated report can
//! never take a task back.

use crate::Error;
use fateflow_domain::{Party, PartyId};
use fateflow_scheduler::PartyController;
use fateflow_storage::{MetadataStore, TaskRecord};
use serde_json::Value;

pub use fateflow_api_types::task::TaskState;

/// The largest report accepted: a job's tasks of one party are a few KiB.
pub const MAX_TASKS_PER_REPORT: usize = 10_000;

/// A [`TaskState`] and the task rows it is made from and mirrored into.
pub trait TaskRow {
    /// From a stored row.
    fn of(t: &TaskRecord) -> Self;
    /// The initiator's copy of the party's row.
    fn record(&self) -> TaskRecord;
}

impl TaskRow for TaskState {
    fn of(t: &TaskRecord) -> Self {
        Self {
            job_id: t.job_id.clone(),
            task_id: t.task_id.clone(),
            task_version: t.task_version,
            component_name: t.component_name.clone(),
            component_module: t.component_module.clone(),
            role: t.role,
            party_id: t.party_id,
            initiator_role: t.initiator_role,
            initiator_party_id: t.initiator_party_id,
            status: t.status,
            party_status: t.party_status,
            auto_retries: t.auto_retries,
            error_report: t.error_report.clone(),
            error_kind: t.error_kind,
            create_time: t.create_time,
            start_time: t.start_time,
            end_time: t.end_time,
            elapsed: t.elapsed,
        }
    }

    fn record(&self) -> TaskRecord {
        TaskRecord {
            job_id: self.job_id.clone(),
            task_id: self.task_id.clone(),
            task_version: self.task_version,
            role: self.role,
            party_id: self.party_id,
            component_name: self.component_name.clone(),
            component_module: self.component_module.clone(),
            initiator_role: self.initiator_role,
            initiator_party_id: self.initiator_party_id,
            federated_mode: "MULTIPLE".into(),
            federated_status_collect_type: "PUSH".into(),
            status: self.status,
            party_status: self.party_status,
            status_code: None,
            auto_retries: self.auto_retries,
            auto_retry_delay: 1,
            run_on_this_party: false,
            worker_id: None,
            cmd: None,
            run_ip: None,
            run_port: None,
            run_pid: None,
            provider_info: Value::Null,
            component_parameters: Value::Null,
            engine_conf: Value::Null,
            kill_status: false,
            error_report: self.error_report.clone(),
            error_kind: self.error_kind,
            heartbeat_time: None,
            create_time: self.create_time,
            update_time: self.create_time,
            start_time: self.start_time,
            end_time: self.end_time,
            elapsed: self.elapsed,
            version: 0,
        }
    }
}

/// Decodes a JSON list of task states; errors say what was wrong.
pub fn decode_tasks(bytes: &[u8]) -> Result<Vec<TaskState>, Error> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let tasks: Vec<TaskState> =
        serde_json::from_slice(bytes).map_err(|e| Error::BadMessage(format!("tasks_json: {e}")))?;
    if tasks.len() > MAX_TASKS_PER_REPORT {
        return Err(Error::BadMessage(format!(
            "tasks_json: {} tasks, above the limit of {MAX_TASKS_PER_REPORT}",
            tasks.len()
        )));
    }
    Ok(tasks)
}

/// The latest task rows of `party` in `job_id`, as states.
pub async fn party_tasks(
    store: &dyn MetadataStore,
    job_id: &str,
    party: Party,
) -> Result<Vec<TaskState>, fateflow_storage::Error> {
    let rows = fateflow_scheduler::controller::latest_party_tasks(store, job_id, party).await?;
    Ok(rows.iter().map(TaskState::of).collect())
}

/// Hands `from`'s task states to the scheduler, which creates or moves forward its
/// copies of them; returns how many changed. States of any other party are refused
/// (a site speaks only for its own parties).
pub async fn apply(
    controller: &PartyController,
    from: PartyId,
    tasks: &[TaskState],
) -> Result<u32, Error> {
    let rows: Vec<TaskRecord> = tasks.iter().map(TaskState::record).collect();
    Ok(controller.apply_remote_tasks(from, &rows).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_domain::{ErrorKind, Role, Status};

    #[test]
    fn states_from_sites_that_predate_the_error_kind_still_decode() {
        let failed = TaskState {
            job_id: "j1".into(),
            task_id: "j1_reader_0".into(),
            task_version: 0,
            component_name: "reader_0".into(),
            component_module: "Reader".into(),
            role: Role::Host,
            party_id: 10000,
            initiator_role: Role::Guest,
            initiator_party_id: 9999,
            status: Status::Running,
            party_status: Status::Failed,
            auto_retries: 2,
            error_report: Some("can not found table name: t namespace: ns".into()),
            error_kind: Some(ErrorKind::User),
            create_time: 1,
            start_time: Some(2),
            end_time: None,
            elapsed: None,
        };
        let decoded = decode_tasks(&serde_json::to_vec(&[&failed]).unwrap()).unwrap();
        assert_eq!(decoded[0].error_kind, Some(ErrorKind::User));
        // A site that predates the kind sends no field: the state still decodes.
        let mut old = serde_json::to_value(vec![&failed]).unwrap();
        old[0].as_object_mut().unwrap().remove("error_kind");
        let decoded = decode_tasks(old.to_string().as_bytes()).unwrap();
        assert_eq!(decoded[0].error_kind, None);
    }
}

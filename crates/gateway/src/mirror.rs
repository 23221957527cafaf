//! The initiator's copies of remote parties' task rows.
//!
//! The scheduler aggregates task statuses from the rows in its own store. A remote
//! party keeps its real rows at its own site; the initiator keeps a copy of each
//! (`run_on_this_party = false`), created and moved forward from the [`TaskState`]s the
//! party returns with every command reply and reports whenever its tasks change. The
//! copies only move forward through the status rules, so a late or repeated report can
//! never take a task back.

use crate::Error;
use fateflow_domain::{Party, PartyId, Status};
use fateflow_storage::{MetadataStore, TaskFilter, TaskKey, TaskRecord, TaskUpdate};
use serde_json::Value;

pub use fateflow_api_types::task::TaskState;

/// The largest report accepted: a job's tasks of one party are a few KiB.
pub const MAX_TASKS_PER_REPORT: usize = 10_000;

/// A [`TaskState`] and the task rows it is made from and mirrored into.
pub trait TaskRow {
    /// From a stored row.
    fn of(t: &TaskRecord) -> Self;
    /// The key of the mirrored row.
    fn key(&self) -> TaskKey;
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

    fn key(&self) -> TaskKey {
        TaskKey {
            job_id: self.job_id.clone(),
            task_id: self.task_id.clone(),
            task_version: self.task_version,
            role: self.role,
            party_id: self.party_id,
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

/// Moves one status column forward to `to`, through `running` when the party went
/// from waiting straight to an end (a report in between was coalesced).
async fn advance(
    store: &dyn MetadataStore,
    key: &TaskKey,
    from: Status,
    to: Status,
    party_column: bool,
    now: i64,
) -> Result<bool, fateflow_storage::Error> {
    if from == to {
        return Ok(false);
    }
    let set = |s: Status| async move {
        if party_column {
            store.update_task_party_status(key, s, now).await
        } else {
            store.update_task_status(key, s, now).await
        }
    };
    if set(to).await? {
        return Ok(true);
    }
    if to.is_end() && from != Status::Running && set(Status::Running).await? {
        return set(to).await;
    }
    Ok(false)
}

/// Creates or moves forward the initiator's copies of these rows; returns how many
/// changed. `from` is the party the states came from: states of any other party are
/// refused (a site speaks only for its own parties).
pub async fn apply(
    store: &dyn MetadataStore,
    from: PartyId,
    tasks: &[TaskState],
    now: i64,
) -> Result<u32, Error> {
    let mut changed = 0;
    for s in tasks {
        if s.party_id != from {
            return Err(Error::Refused(format!(
                "party {from} reported a task of party {} ({}); refused",
                s.party_id, s.task_id
            )));
        }
        let key = s.key();
        let existing = store.get_task(&key).await?;
        let Some(row) = existing else {
            store.insert_task(&s.record()).await?;
            changed += 1;
            continue;
        };
        if row.run_on_this_party {
            // A party hosted here too (both sites claim it): our own row wins.
            continue;
        }
        let mut moved = false;
        if row.error_report != s.error_report && s.error_report.is_some()
            || row.error_kind != s.error_kind && s.error_kind.is_some()
            || row.start_time != s.start_time
            || row.end_time != s.end_time
        {
            // The reason goes in before the status, as everywhere else.
            store
                .update_task(
                    &key,
                    &TaskUpdate {
                        error_report: s.error_report.clone(),
                        error_kind: s.error_kind,
                        start_time: s.start_time,
                        end_time: s.end_time,
                        elapsed: s.elapsed,
                        auto_retries: Some(s.auto_retries),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
            moved = true;
        }
        moved |= advance(store, &key, row.party_status, s.party_status, true, now).await?;
        moved |= advance(store, &key, row.status, s.status, false, now).await?;
        if moved {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Fails the copies of `party_id`'s unfinished tasks in running jobs initiated here
/// (its site stopped answering); returns the jobs touched.
pub async fn fail_party(
    store: &dyn MetadataStore,
    party_id: PartyId,
    reason: &str,
    now: i64,
) -> Result<Vec<String>, fateflow_storage::Error> {
    let (rows, _) = store
        .query_tasks(&TaskFilter {
            party_id: Some(party_id),
            run_on_this_party: Some(false),
            party_statuses: vec![Status::Running, Status::Waiting],
            latest_only: true,
            ..Default::default()
        })
        .await?;
    let mut jobs = Vec::new();
    for t in rows {
        // A waiting copy matters only once the initiator has started the task.
        if t.party_status == Status::Waiting && t.status != Status::Running {
            continue;
        }
        let key = t.key();
        store
            .update_task(
                &key,
                &TaskUpdate {
                    error_report: Some(reason.to_string()),
                    end_time: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
        if advance(store, &key, t.party_status, Status::Failed, true, now).await? {
            tracing::warn!(job_id = %t.job_id, task_id = %t.task_id, party_id, reason, "remote task marked failed");
            if !jobs.contains(&t.job_id) {
                jobs.push(t.job_id.clone());
            }
        }
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_domain::{ErrorKind, Role};
    use fateflow_storage::SqliteStore;

    fn state(party_status: Status, kind: Option<ErrorKind>) -> TaskState {
        TaskState {
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
            party_status,
            auto_retries: 2,
            error_report: kind.map(|_| "can not found table name: t namespace: ns".into()),
            error_kind: kind,
            create_time: 1,
            start_time: Some(2),
            end_time: None,
            elapsed: None,
        }
    }

    #[tokio::test]
    async fn a_remote_failure_keeps_its_kind_and_old_sites_send_none() {
        let store = SqliteStore::memory().await.unwrap();
        apply(&store, 10000, &[state(Status::Running, None)], 10)
            .await
            .unwrap();
        let failed = state(Status::Failed, Some(ErrorKind::User));
        assert_eq!(
            apply(&store, 10000, std::slice::from_ref(&failed), 20)
                .await
                .unwrap(),
            1
        );
        let row = store.get_task(&failed.key()).await.unwrap().unwrap();
        assert_eq!(row.party_status, Status::Failed);
        assert_eq!(row.error_kind, Some(ErrorKind::User));

        // A site that predates the kind sends no field: the state still decodes.
        let mut old = serde_json::to_value(vec![&failed]).unwrap();
        old[0].as_object_mut().unwrap().remove("error_kind");
        let decoded = decode_tasks(old.to_string().as_bytes()).unwrap();
        assert_eq!(decoded[0].error_kind, None);
        // Another party's task is refused, typed.
        let e = apply(&store, 9999, &decoded, 30).await.unwrap_err();
        assert!(matches!(e, Error::Refused(_)), "{e}");
    }
}

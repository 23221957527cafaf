//! The initiator's copies of remote parties' task rows.
//!
//! The initiator aggregates task statuses from the rows in its own store. A remote
//! party keeps its real rows at its own site; the initiator keeps a copy of each
//! (`run_on_this_party = false`), created and moved forward from the rows the party
//! returns with every command reply and reports whenever its tasks change (the
//! gateway decodes them and hands them over here). Copies only move forward through
//! the status rules, so a late or repeated report never takes a task back.

use crate::clock::now_ms;
use crate::{Error, Event, PartyController};
use fateflow_domain::{PartyId, Status};
use fateflow_storage::{MetadataStore, TaskFilter, TaskKey, TaskRecord, TaskUpdate};

impl PartyController {
    /// Creates or moves forward this site's copies of `from`'s task rows; returns how
    /// many changed. A row of any other party is refused (a site speaks only for its
    /// own parties), and a row of a party hosted here too is left alone.
    pub async fn apply_remote_tasks(
        &self,
        from: PartyId,
        tasks: &[TaskRecord],
    ) -> Result<u32, Error> {
        if let Some(t) = tasks.iter().find(|t| t.party_id != from) {
            return Err(Error::Refused(format!(
                "party {from} reported a task of party {} ({}); refused",
                t.party_id, t.task_id
            )));
        }
        let store = self.store.as_ref();
        let now = now_ms();
        let mut changed = 0;
        for s in tasks {
            let key = s.key();
            let Some(row) = store.get_task(&key).await? else {
                let copy = TaskRecord {
                    run_on_this_party: false,
                    ..s.clone()
                };
                store.insert_task(&copy).await?;
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
                let update = TaskUpdate {
                    error_report: s.error_report.clone(),
                    error_kind: s.error_kind,
                    start_time: s.start_time,
                    end_time: s.end_time,
                    elapsed: s.elapsed,
                    auto_retries: Some(s.auto_retries),
                    ..Default::default()
                };
                store.update_task(&key, &update, now).await?;
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

    /// Fails the copies of `party_id`'s started, unfinished tasks in jobs initiated
    /// here (its site stopped answering) with `reason`, and schedules each job
    /// touched; returns those jobs.
    pub async fn fail_unreachable_party(
        &self,
        party_id: PartyId,
        reason: &str,
    ) -> Result<Vec<String>, Error> {
        let store = self.store.as_ref();
        let (rows, _) = store
            .query_tasks(&TaskFilter {
                party_id: Some(party_id),
                run_on_this_party: Some(false),
                party_statuses: vec![Status::Running, Status::Waiting],
                latest_only: true,
                ..Default::default()
            })
            .await?;
        let now = now_ms();
        let mut jobs = Vec::new();
        for t in rows {
            // A waiting copy matters only once the initiator has started the task.
            if t.party_status == Status::Waiting && t.status != Status::Running {
                continue;
            }
            let key = t.key();
            let update = TaskUpdate {
                error_report: Some(reason.to_string()),
                end_time: Some(now),
                ..Default::default()
            };
            store.update_task(&key, &update, now).await?;
            if advance(store, &key, t.party_status, Status::Failed, true, now).await? {
                tracing::warn!(job_id = %t.job_id, task_id = %t.task_id, party_id, reason, "remote task marked failed");
                if !jobs.contains(&t.job_id) {
                    jobs.push(t.job_id.clone());
                }
            }
        }
        for j in &jobs {
            let _ = self.events.send(Event::Schedule(j.clone()));
        }
        Ok(jobs)
    }
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

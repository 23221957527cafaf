//! Periodic checks: dead or silent task processes, and job timeouts.

use crate::clock::now_ms;
use crate::controller::PartyController;
use crate::initiator::Scheduler;
use fateflow_domain::Status;
use fateflow_storage::{MetadataStore, TaskFilter};
use std::sync::Arc;
use std::time::Duration;

/// Runs the detector every `period` until the process ends.
pub async fn run(
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    scheduler: Arc<Scheduler>,
    period: Duration,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if !controller.leading() {
            continue;
        }
        if let Err(e) = detect_once(store.as_ref(), &controller, &scheduler).await {
            tracing::error!(error = %e, "detector round failed");
        }
    }
}

/// One detector round.
pub async fn detect_once(
    store: &dyn MetadataStore,
    controller: &PartyController,
    scheduler: &Scheduler,
) -> Result<(), crate::Error> {
    let now = now_ms();
    let (running, _) = store
        .query_tasks(&TaskFilter {
            party_statuses: vec![Status::Running],
            run_on_this_party: Some(true),
            ..Default::default()
        })
        .await?;
    for t in running.iter().filter(|t| controller.hosts(t.party_id)) {
        match controller.check_running_task(t, now).await {
            Ok(true) => {
                tracing::warn!(job_id = %t.job_id, task_id = %t.task_id, role = %t.role, party_id = t.party_id, "task declared dead")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(task_id = %t.task_id, error = %e.message, "task check failed")
            }
        }
    }
    scheduler.check_timeouts(now).await
}

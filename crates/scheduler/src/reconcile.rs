//! Copies of jobs initiated by another site ("partner copies"): this site runs its
//! parties' share, but only the initiator decides when the job ends. When the
//! initiator's commands never come (it crashed, lost the job, ended it while this
//! site was down, or never meant to start it), the copy would hold its resources
//! forever. This loop bounds that:
//!
//! - a copy that holds resources without being started ends after the resource hold
//!   timeout, its resources returned, with a reason naming the initiator;
//! - at start-up (the first round) every unfinished copy asks its initiator for the
//!   job's status; later, a copy whose row has not changed for the check interval
//!   asks again, and one whose initiator could not be reached asks again soon (so a
//!   reconnect is noticed). A copy the initiator ended, or does not know, is ended
//!   here with a reason, its tasks stopped and its resources returned. A copy still
//!   running at the initiator is left alone: the tasks failed by `recover()` reach
//!   the initiator through the reports.

use crate::clock::now_ms;
use crate::controller::PartyController;
use crate::partner::{CommandError, InitiatorView, Partner};
use fateflow_domain::{Party, Status};
use fateflow_storage::{JobFilter, JobRecord, MetadataStore, TaskFilter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long partner copies may wait on their initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// A copy holding resources this long without being started is ended.
    pub resource_hold_timeout: Duration,
    /// A copy whose row has not changed this long asks its initiator for the job's
    /// status.
    pub initiator_check: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            resource_hold_timeout: Duration::from_secs(300),
            initiator_check: Duration::from_secs(600),
        }
    }
}

/// An initiator that says it does not know a job is believed only for copies older
/// than this (or the check interval, if shorter): a job is created at every party
/// one after the other.
const UNKNOWN_GRACE_MS: i64 = 30_000;
/// The longest wait before asking an unreachable initiator again.
const RETRY_MAX_MS: i64 = 30_000;

/// Runs reconciliation rounds until the process ends; the first round runs at once.
pub async fn run(
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    partner: Arc<dyn Partner>,
    config: ReconcileConfig,
) {
    let period = config
        .resource_hold_timeout
        .min(config.initiator_check)
        .div_f64(5.0)
        .clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut r = Reconciler::new(store, controller, partner, config);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = r.round(now_ms()).await {
            tracing::error!(error = %e, "reconciling jobs initiated by other sites failed");
        }
    }
}

/// When a copy last asked its initiator, and whether it got an answer.
#[derive(Debug, Clone, Copy)]
struct Asked {
    at: i64,
    answered: bool,
}

/// The state of the reconciliation loop.
pub struct Reconciler {
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    partner: Arc<dyn Partner>,
    config: ReconcileConfig,
    asked: HashMap<(String, Party), Asked>,
    first_round: bool,
}

impl Reconciler {
    /// A reconciler whose first round asks about every unfinished copy.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        controller: Arc<PartyController>,
        partner: Arc<dyn Partner>,
        config: ReconcileConfig,
    ) -> Self {
        Self {
            store,
            controller,
            partner,
            config,
            asked: HashMap::new(),
            first_round: true,
        }
    }

    /// Unfinished copies here of jobs whose initiator is another site.
    async fn partner_copies(&self) -> Result<Vec<JobRecord>, String> {
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(false),
                statuses: vec![Status::Ready, Status::Waiting, Status::Running],
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(jobs
            .into_iter()
            .filter(|j| {
                self.controller.hosts(j.party_id) && !self.controller.hosts(j.initiator_party_id)
            })
            .collect())
    }

    /// One round: expired resource holds, then the copies due to ask their initiator.
    pub async fn round(&mut self, now: i64) -> Result<(), String> {
        let copies = self.partner_copies().await?;
        let first = std::mem::take(&mut self.first_round);
        self.asked.retain(|k, _| {
            copies
                .iter()
                .any(|j| (&j.job_id, party_of(j)) == (&k.0, k.1))
        });
        for job in copies {
            if self.hold_expired(&job, now) {
                self.expire_hold(&job, now).await;
                continue;
            }
            if first || self.due(&job, now) {
                self.ask(&job, now).await;
            }
        }
        Ok(())
    }

    fn hold_expired(&self, job: &JobRecord, now: i64) -> bool {
        let hold_ms =
            i64::try_from(self.config.resource_hold_timeout.as_millis()).unwrap_or(i64::MAX);
        job.resource_in_use
            && matches!(job.status, Status::Ready | Status::Waiting)
            && job
                .apply_resource_time
                .is_some_and(|t| now.saturating_sub(t) >= hold_ms)
    }

    fn due(&self, job: &JobRecord, now: i64) -> bool {
        let check_ms = i64::try_from(self.config.initiator_check.as_millis()).unwrap_or(i64::MAX);
        match self.asked.get(&(job.job_id.clone(), party_of(job))) {
            Some(a) if !a.answered => now.saturating_sub(a.at) >= check_ms.min(RETRY_MAX_MS),
            Some(a) => now.saturating_sub(a.at.max(job.update_time)) >= check_ms,
            None => now.saturating_sub(job.update_time) >= check_ms,
        }
    }

    async fn expire_hold(&self, job: &JobRecord, now: i64) {
        let party = party_of(job);
        let held_s = job.apply_resource_time.map_or(0, |t| (now - t) / 1000);
        let reason = format!(
            "job {} held {} cores at {party} for {held_s} s without its initiator {} starting it \
             (resource hold timeout {} s); its resources were returned",
            job.job_id,
            job.cores,
            initiator_of(job),
            self.config.resource_hold_timeout.as_secs()
        );
        match self.controller.end_copy(job, Status::Failed, &reason).await {
            Ok(true) => {
                tracing::warn!(job_id = %job.job_id, %party, initiator = %initiator_of(job), "{reason}")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(job_id = %job.job_id, %party, error = %e.message, "ending a copy whose resource hold expired failed")
            }
        }
    }

    async fn ask(&mut self, job: &JobRecord, now: i64) {
        let party = party_of(job);
        let initiator = initiator_of(job);
        let answer = self
            .partner
            .ask_initiator(&job.job_id, party, initiator)
            .await;
        let key = (job.job_id.clone(), party);
        let view = match answer {
            Ok(v) => {
                self.asked.insert(
                    key,
                    Asked {
                        at: now,
                        answered: true,
                    },
                );
                v
            }
            Err(e) => {
                self.asked.insert(
                    key,
                    Asked {
                        at: now,
                        answered: false,
                    },
                );
                match e {
                    CommandError::Unreachable { .. } => {
                        tracing::info!(job_id = %job.job_id, %party, %initiator, error = %e.message(), "the job's initiator could not be asked for its status; asking again later")
                    }
                    CommandError::Refused { .. } => {
                        tracing::warn!(job_id = %job.job_id, %party, %initiator, error = %e.message(), "the job's initiator refused to give its status")
                    }
                }
                return;
            }
        };
        let (status, reason) = match view {
            InitiatorView::Known { status, .. } if !status.is_end() => return,
            InitiatorView::Known { status, reason } => {
                let why = reason
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                // A success with tasks still running here is no success of this copy.
                let local = if status == Status::Success && self.has_running_task(job).await {
                    Status::Canceled
                } else {
                    status
                };
                (
                    local,
                    format!(
                        "the initiator {initiator} ended job {} ({status}{why}) and this site's \
                         copy at {party} had missed it; ended here and its resources returned",
                        job.job_id
                    ),
                )
            }
            InitiatorView::Unknown => {
                let check_ms =
                    i64::try_from(self.config.initiator_check.as_millis()).unwrap_or(i64::MAX);
                if now.saturating_sub(job.create_time) < UNKNOWN_GRACE_MS.min(check_ms) {
                    return;
                }
                (
                    Status::Failed,
                    format!(
                        "the initiator {initiator} does not know job {} (its site holds no such \
                         job initiated by it); this site's copy at {party} was ended and its \
                         resources returned",
                        job.job_id
                    ),
                )
            }
        };
        match self.controller.end_copy(job, status, &reason).await {
            Ok(true) => {
                tracing::warn!(job_id = %job.job_id, %party, %initiator, %status, "{reason}")
            }
            Ok(false) => {
                // The copy changed while asking: look again soon.
                self.asked.insert(
                    (job.job_id.clone(), party),
                    Asked {
                        at: now,
                        answered: false,
                    },
                );
            }
            Err(e) => {
                tracing::error!(job_id = %job.job_id, %party, error = %e.message, "ending a copy its initiator ended failed")
            }
        }
    }

    async fn has_running_task(&self, job: &JobRecord) -> bool {
        self.store
            .query_tasks(&TaskFilter {
                job_id: Some(job.job_id.clone()),
                role: Some(job.role),
                party_id: Some(job.party_id),
                party_statuses: vec![Status::Running],
                latest_only: true,
                ..Default::default()
            })
            .await
            .map_or(true, |(t, _)| !t.is_empty())
    }
}

fn party_of(job: &JobRecord) -> Party {
    Party {
        role: job.role,
        party_id: job.party_id,
    }
}

fn initiator_of(job: &JobRecord) -> Party {
    Party {
        role: job.initiator_role,
        party_id: job.initiator_party_id,
    }
}

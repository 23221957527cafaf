//! The initiator: submit, the scheduling round of a job, stop and rerun.

use crate::clock::{job_timestamp, now_ms};
use crate::controller::{job_params_of, task_key, PartyController};
use crate::partner::{CommandError, Partner, PartyCommand};
use crate::{Error, Event, EventReceiver, EventSender};
use fateflow_domain::ids::JobIdGenerator;
use fateflow_domain::status::{
    aggregate_job_status, aggregate_task_status, job_progress, SchedulingRound,
};
use fateflow_domain::{ErrorKind, Job, Party, Status};
use fateflow_storage::{JobFilter, JobRecord, JobUpdate, MetadataStore, TaskFilter, TaskRecord};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

mod retry;
mod round;
mod stop_rerun;
mod submit;

use retry::{retry_due, user_error};

/// What a successful submit returns (FATE's submit result, less the Board URL).
#[derive(Debug, Clone, Serialize)]
pub struct SubmitResult {
    /// The new job id.
    pub job_id: String,
    /// `model_id` and `model_version`.
    pub model_info: Value,
    /// Where the job's logs go.
    pub logs_directory: String,
    /// Warnings from validation.
    pub warnings: Vec<String>,
}

/// Why a submit was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// The DSL or conf is invalid; every problem is listed.
    #[error("{0}")]
    Invalid(String),
    /// The initiator is not hosted by this site.
    #[error("{0}")]
    NotHere(String),
    /// One or more parties refused to create the job (each reason listed).
    #[error("{message}")]
    Refused {
        /// The job id, kept as failed for the record.
        job_id: String,
        /// Every party's reason.
        message: String,
        /// Whether a party refused for want of a permission grant (FATE's 108).
        permission: bool,
    },
}

/// Answers a stop or rerun that reached a server without the scheduler lease.
fn refuse_not_leading(ev: Event) {
    const WHY: &str = "is not running on this server: another server of the site holds the scheduler lease; send the request there (GET /v1/cluster/status)";
    match ev {
        Event::Stop {
            reply: Some(tx), ..
        } => {
            let _ = tx.send(Err(Error::Stopped(WHY)));
        }
        Event::Rerun {
            reply: Some(tx), ..
        } => {
            let _ = tx.send(Err(Error::Stopped(WHY)));
        }
        _ => {}
    }
}

/// The initiator's scheduler.
pub struct Scheduler {
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) partner: Arc<dyn Partner>,
    pub(crate) controller: Arc<PartyController>,
    ids: JobIdGenerator,
    events: EventSender,
}

impl Scheduler {
    /// A scheduler sending commands through `partner`.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        partner: Arc<dyn Partner>,
        controller: Arc<PartyController>,
        events: EventSender,
    ) -> Self {
        Self {
            store,
            partner,
            controller,
            ids: JobIdGenerator::new(),
            events,
        }
    }

    /// A fresh job id (uploads and other one-party jobs use it too).
    pub fn new_job_id(&self) -> String {
        self.ids.next_id(&job_timestamp())
    }

    /// Makes this server's job ids distinct from the other servers' of the site.
    pub fn set_id_tag(&self, slot: i64) {
        self.ids.set_tag(format!("{:02}", slot.clamp(0, 99)));
    }

    /// The job id generator (deploy and load make ids too).
    pub(crate) fn ids(&self) -> &JobIdGenerator {
        &self.ids
    }

    /// The event inbox.
    pub fn events(&self) -> &EventSender {
        &self.events
    }

    /// Runs the event loop until the channel closes. A tick every `tick` is the
    /// safety net for lost events.
    pub async fn run(self: Arc<Self>, mut rx: EventReceiver, tick: Duration) {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                ev = rx.recv() => match ev { Some(ev) => ev, None => break },
                _ = interval.tick() => Event::ScheduleAll,
            };
            // Coalesce whatever else is queued: one round per job per batch.
            let mut batch = vec![first];
            while let Ok(ev) = rx.try_recv() {
                batch.push(ev);
            }
            // Of several servers, only the scheduler lease's holder runs rounds; the
            // API forwards stops and reruns to it.
            if !self.controller.leading() {
                for ev in batch {
                    refuse_not_leading(ev);
                }
                continue;
            }
            let mut to_schedule = BTreeSet::new();
            let mut all = false;
            for ev in batch {
                match ev {
                    Event::Schedule(j) => {
                        to_schedule.insert(j);
                    }
                    Event::ScheduleAll => all = true,
                    Event::Stop {
                        job_id,
                        status,
                        reason,
                        reply,
                    } => {
                        let r = self.stop(&job_id, status, &reason).await;
                        if let Some(tx) = reply {
                            let _ = tx.send(r);
                        }
                        all = true;
                    }
                    Event::Rerun {
                        job_id,
                        component,
                        force,
                        reply,
                    } => {
                        let r = self
                            .rerun(&job_id, component.as_deref(), force, false)
                            .await;
                        if let Some(tx) = reply {
                            let _ = tx.send(r);
                        }
                        to_schedule.insert(job_id);
                    }
                }
            }
            if all {
                match self.unfinished_jobs().await {
                    Ok(jobs) => to_schedule.extend(jobs),
                    Err(e) => tracing::error!(error = %e, "listing unfinished jobs failed"),
                }
            }
            let mut queue_ran = false;
            for job_id in to_schedule {
                if let Err(e) = self.schedule_in_batch(&job_id, &mut queue_ran).await {
                    tracing::error!(job_id = %job_id, error = %e, "scheduling round failed");
                }
            }
        }
    }

    /// Stops a job through the loop and waits for the answer.
    pub async fn request_stop(
        &self,
        job_id: &str,
        status: Status,
        reason: &str,
    ) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Stop {
                job_id: job_id.into(),
                status,
                reason: reason.into(),
                reply: Some(tx),
            })
            .map_err(|_| Error::Stopped("is not running"))?;
        rx.await.map_err(|_| Error::Stopped("stopped"))?
    }

    /// Reruns a job through the loop and waits for the answer (the rerun components).
    pub async fn request_rerun(
        &self,
        job_id: &str,
        component: Option<String>,
        force: bool,
    ) -> Result<Vec<String>, Error> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Rerun {
                job_id: job_id.into(),
                component,
                force,
                reply: Some(tx),
            })
            .map_err(|_| Error::Stopped("is not running"))?;
        rx.await.map_err(|_| Error::Stopped("stopped"))?
    }

    async fn unfinished_jobs(&self) -> Result<Vec<String>, fateflow_storage::Error> {
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(true),
                statuses: vec![Status::Waiting, Status::Running],
                order_by: Some(("create_time".into(), true)),
                ..Default::default()
            })
            .await?;
        Ok(jobs.into_iter().map(|j| j.job_id).collect())
    }

    async fn initiator_row(
        &self,
        job_id: &str,
    ) -> Result<Option<JobRecord>, fateflow_storage::Error> {
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                job_id: Some(job_id.into()),
                is_initiator: Some(true),
                ..Default::default()
            })
            .await?;
        Ok(jobs.into_iter().next())
    }

    /// The party key of a task row, for callers outside the crate.
    pub fn task_key(
        job_id: &str,
        component: &str,
        version: i64,
        party: Party,
    ) -> fateflow_storage::TaskKey {
        task_key(job_id, component, version, party)
    }
}

/// Every party of a job, from its stored `roles`.
pub fn parties_of(job: &JobRecord) -> Result<Vec<Party>, Error> {
    let roles: BTreeMap<fateflow_domain::Role, Vec<u64>> =
        serde_json::from_value(job.roles.clone())
            .map_err(|e| Error::Corrupt(format!("job {} has bad roles: {e}", job.job_id)))?;
    Ok(roles
        .into_iter()
        .flat_map(|(role, ids)| {
            ids.into_iter()
                .map(move |party_id| Party { role, party_id })
        })
        .collect())
}

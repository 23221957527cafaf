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
    },
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

    /// The job id generator (deploy and load make ids too).
    pub(crate) fn ids(&self) -> &JobIdGenerator {
        &self.ids
    }

    /// The event inbox.
    pub fn events(&self) -> &EventSender {
        &self.events
    }

    /// Validates and creates a job at every party, then queues it (reference §6.2).
    pub async fn submit(&self, dsl: &Value, conf: &Value) -> Result<SubmitResult, SubmitError> {
        // A predict job runs the deployed model's inference DSL, whatever DSL came.
        let (dsl, conf, train_conf) =
            if fateflow_domain::predict::job_type_of(conf) == fateflow_domain::JobType::Predict {
                let p = self.resolve_predict(conf).await?;
                (p.dsl, p.conf, Some(p.train_conf))
            } else {
                (dsl.clone(), conf.clone(), None)
            };
        let (dsl, conf) = (&dsl, &conf);
        let job = Job::parse(dsl, conf).map_err(|e| SubmitError::Invalid(e.to_string()))?;
        let initiator = job.conf.initiator;
        if !self.controller.hosts(initiator.party_id) {
            return Err(SubmitError::NotHere(format!(
                "initiator party {} is not hosted by this site (hosted: {:?})",
                initiator.party_id,
                self.controller.config().parties
            )));
        }
        let job_id = self.ids.next_id(&job_timestamp());
        let parties = job.parties();
        // The parties hosted here and every round reuse this parse.
        let job = Arc::new(job);
        self.controller
            .parsed
            .insert(&job_id, dsl, conf, job.clone());
        let mut refusals = Vec::new();
        let mut created = Vec::new();
        for party in &parties {
            let cmd = PartyCommand::CreateJob {
                dsl: dsl.clone(),
                runtime_conf: conf.clone(),
                train_runtime_conf: train_conf.clone(),
            };
            match self.partner.send(&job_id, *party, cmd).await {
                Ok(_) => created.push(*party),
                Err(e) => refusals.push(format!("{}: {}", e.party(), e.message())),
            }
        }
        if !refusals.is_empty() {
            let message = format!(
                "the job cannot run; {} part{} refused it:\n  - {}",
                refusals.len(),
                if refusals.len() == 1 { "y" } else { "ies" },
                refusals.join("\n  - ")
            );
            for party in created.iter().copied() {
                let _ = self
                    .partner
                    .send(
                        &job_id,
                        party,
                        PartyCommand::StopJob {
                            status: Status::Failed,
                            reason: message.clone(),
                        },
                    )
                    .await;
                let _ = self
                    .store
                    .update_job(
                        &job_id,
                        party.role,
                        party.party_id,
                        &JobUpdate {
                            tag: Some("submit_failed".into()),
                            ..Default::default()
                        },
                        now_ms(),
                    )
                    .await;
            }
            if !created.contains(&initiator) {
                // Keep a record at the initiator so the refusal can be looked up.
                let now = now_ms();
                let mut row = JobRecord::new(
                    &job_id,
                    initiator.role,
                    initiator.party_id,
                    initiator,
                    dsl.clone(),
                    conf.clone(),
                    Value::Null,
                    serde_json::json!(job.conf.roles),
                    now,
                );
                row.status = Status::Failed;
                row.tag = "submit_failed".into();
                row.error_report = Some(message.clone());
                row.end_time = Some(now);
                row.elapsed = Some(0);
                if let Err(e) = self.store.insert_job(&row).await {
                    tracing::warn!(job_id = %job_id, error = %e, "could not record the refused job");
                }
            }
            return Err(SubmitError::Refused { job_id, message });
        }
        for party in &parties {
            let _ = self
                .partner
                .send(
                    &job_id,
                    *party,
                    PartyCommand::SyncJobStatus {
                        status: Status::Waiting,
                        reason: None,
                    },
                )
                .await;
        }
        let _ = self.events.send(Event::Schedule(job_id.clone()));
        tracing::info!(job_id = %job_id, parties = parties.len(), "job submitted");
        let model_info = match train_conf {
            Some(_) => serde_json::json!({
                "model_id": job.conf.common_job_parameters.model_id,
                "model_version": job.conf.common_job_parameters.model_version,
            }),
            None => serde_json::json!({
                "model_id": fateflow_domain::ids::model_id(&parties),
                "model_version": job_id,
            }),
        };
        Ok(SubmitResult {
            model_info,
            logs_directory: self
                .controller
                .config()
                .data_dir
                .join("logs")
                .join(&job_id)
                .display()
                .to_string(),
            job_id,
            warnings: job.warnings.clone(),
        })
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
            for job_id in to_schedule {
                if let Err(e) = self.schedule(&job_id).await {
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

    /// One scheduling round for a job this site initiated.
    pub async fn schedule(&self, job_id: &str) -> Result<(), Error> {
        let Some(job) = self.initiator_row(job_id).await? else {
            // A job initiated by another site: its scheduler needs our task changes.
            self.partner.report_to_initiator(job_id).await;
            return Ok(());
        };
        match job.status {
            Status::Waiting => self.schedule_waiting_queue().await,
            Status::Running => self.schedule_running(&job).await,
            _ => Ok(()),
        }
    }

    /// Waiting jobs in FIFO order: the oldest gets resources first and blocks the
    /// queue until it does (reference §6.2).
    async fn schedule_waiting_queue(&self) -> Result<(), Error> {
        let (waiting, _) = self
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(true),
                statuses: vec![Status::Waiting],
                order_by: Some(("create_time".into(), true)),
                ..Default::default()
            })
            .await?;
        for job in waiting {
            if job.cancel_signal {
                self.stop(&job.job_id, Status::Canceled, "canceled while waiting")
                    .await?;
                continue;
            }
            if !self.start_job(&job).await? {
                break;
            }
        }
        Ok(())
    }

    /// Applies resources at every party, all or nothing, then starts the job.
    async fn start_job(&self, job: &JobRecord) -> Result<bool, Error> {
        let parties = parties_of(job)?;
        let mut applied = Vec::new();
        for party in &parties {
            match self
                .partner
                .send(&job.job_id, *party, PartyCommand::ApplyResource)
                .await
            {
                Ok(_) => applied.push(*party),
                Err(e) => {
                    tracing::info!(job_id = %job.job_id, party = %e.party(), reason = %e.message(), "job waits for resources");
                    for p in applied {
                        let _ = self
                            .partner
                            .send(&job.job_id, p, PartyCommand::ReturnResource)
                            .await;
                    }
                    if matches!(e, CommandError::Refused { retcode, .. } if retcode != 103) {
                        self.stop(
                            &job.job_id,
                            Status::Failed,
                            &format!("resource apply failed: {e}"),
                        )
                        .await?;
                        return Ok(true);
                    }
                    return Ok(false);
                }
            }
        }
        for party in &parties {
            if let Err(e) = self
                .partner
                .send(&job.job_id, *party, PartyCommand::StartJob)
                .await
            {
                self.stop(&job.job_id, Status::Failed, &format!("start failed: {e}"))
                    .await?;
                return Ok(true);
            }
        }
        tracing::info!(job_id = %job.job_id, "job running");
        let fresh = self.initiator_row(&job.job_id).await?;
        if let Some(fresh) = fresh {
            self.schedule_running(&fresh).await?;
        }
        Ok(true)
    }

    async fn latest_tasks(&self, job_id: &str) -> Result<BTreeMap<String, Vec<TaskRecord>>, Error> {
        let (tasks, _) = self
            .store
            .query_tasks(&TaskFilter {
                job_id: Some(job_id.into()),
                latest_only: true,
                ..Default::default()
            })
            .await?;
        let mut by_cpn: BTreeMap<String, Vec<TaskRecord>> = BTreeMap::new();
        for t in tasks {
            by_cpn.entry(t.component_name.clone()).or_default().push(t);
        }
        Ok(by_cpn)
    }

    /// Aggregates party statuses into task statuses, pushes changes, stops the rest of
    /// an interrupted task. Returns the federated status per component.
    async fn sync_tasks(
        &self,
        job: &JobRecord,
        by_cpn: &BTreeMap<String, Vec<TaskRecord>>,
    ) -> Result<BTreeMap<String, Status>, Error> {
        let mut fed = BTreeMap::new();
        for (cpn, rows) in by_cpn {
            let status = aggregate_task_status(rows.iter().map(|t| t.party_status))
                .map_err(|e| Error::Corrupt(format!("job {} component {cpn}: {e}", job.job_id)))?;
            for t in rows.iter().filter(|t| t.status != status) {
                let party = Party {
                    role: t.role,
                    party_id: t.party_id,
                };
                let cmd = PartyCommand::SyncTaskStatus {
                    component: cpn.clone(),
                    task_version: t.task_version,
                    status,
                };
                if let Err(e) = self.partner.send(&job.job_id, party, cmd).await {
                    tracing::warn!(job_id = %job.job_id, component = %cpn, error = %e, "task status sync failed");
                }
            }
            if status.is_interrupt() {
                let reason = failure_reason(cpn, rows)
                    .unwrap_or_else(|| format!("component {cpn} {status}"));
                for t in rows.iter().filter(|t| !t.party_status.is_end()) {
                    let party = Party {
                        role: t.role,
                        party_id: t.party_id,
                    };
                    let cmd = PartyCommand::StopTask {
                        component: cpn.clone(),
                        task_version: t.task_version,
                        status,
                        reason: format!("stopped because {reason}"),
                    };
                    let _ = self.partner.send(&job.job_id, party, cmd).await;
                }
            }
            fed.insert(cpn.clone(), status);
        }
        Ok(fed)
    }

    /// The job's parsed DSL and conf (parsed once per content, shared with the
    /// controller).
    fn parsed(&self, job: &JobRecord) -> Result<std::sync::Arc<Job>, Error> {
        self.controller
            .parsed
            .get(&job.job_id, &job.dsl, &job.runtime_conf)
            .map_err(|e| Error::Corrupt(format!("stored job {} no longer parses: {e}", job.job_id)))
    }

    async fn schedule_running(&self, job: &JobRecord) -> Result<(), Error> {
        let parsed = self.parsed(job)?;
        let by_cpn = self.latest_tasks(&job.job_id).await?;
        let fed = self.sync_tasks(job, &by_cpn).await?;

        // Automatic retries of failed or timed-out tasks.
        if !job.cancel_signal {
            for (cpn, status) in &fed {
                let retries = by_cpn[cpn]
                    .iter()
                    .map(|t| t.auto_retries)
                    .min()
                    .unwrap_or(0);
                if status.is_auto_rerun() && retries > 0 {
                    // A user error (bad parameter value, bad input data) fails the
                    // same way every time: the job fails now with its message.
                    if let Some(t) = user_error(&by_cpn[cpn]) {
                        tracing::info!(job_id = %job.job_id, component = %cpn, role = %t.role, party_id = t.party_id, "not retrying: the component failed with a user error");
                        continue;
                    }
                    if !retry_due(&by_cpn[cpn], now_ms()) {
                        // Backing off; a later round retries it.
                        return Ok(());
                    }
                    tracing::info!(job_id = %job.job_id, component = %cpn, retries, "retrying task");
                    self.new_task_versions(
                        job,
                        std::slice::from_ref(cpn),
                        false,
                        true,
                        &fed,
                        &by_cpn,
                    )
                    .await?;
                    let _ = self.events.send(Event::Schedule(job.job_id.clone()));
                    return Ok(());
                }
            }
        }

        let interrupted = fed.values().any(|s| s.is_interrupt());
        let mut round = SchedulingRound::NoNext;
        if !interrupted && !job.cancel_signal {
            let parallelism = i64::from(job_params_of(job).task_parallelism.max(1));
            let mut running = fed.values().filter(|s| **s == Status::Running).count() as i64;
            for cpn in parsed.topological_order() {
                if running >= parallelism {
                    break;
                }
                if fed.get(cpn) != Some(&Status::Waiting) {
                    continue;
                }
                let spec = parsed.dsl.component(cpn).ok_or_else(|| {
                    Error::Corrupt(format!(
                        "job {}: component {cpn} vanished from the DSL",
                        job.job_id
                    ))
                })?;
                let ready = spec
                    .input
                    .upstream()
                    .iter()
                    .all(|up| fed.get(*up) == Some(&Status::Success));
                if !ready {
                    continue;
                }
                // The federated status goes to running first (FATE does the same),
                // so it can later move to an end status under the task rules.
                let rows = &by_cpn[cpn];
                let sync = |t: &TaskRecord| PartyCommand::SyncTaskStatus {
                    component: cpn.to_string(),
                    task_version: t.task_version,
                    status: Status::Running,
                };
                self.send_to_tasks(&job.job_id, rows, sync).await;
                let start = |t: &TaskRecord| PartyCommand::StartTask {
                    component: cpn.to_string(),
                    task_version: t.task_version,
                };
                for e in self.send_to_tasks(&job.job_id, rows, start).await {
                    tracing::warn!(job_id = %job.job_id, component = cpn, error = %e, "task start failed");
                }
                tracing::info!(job_id = %job.job_id, component = cpn, "task started");
                running += 1;
                round = SchedulingRound::HaveNext;
            }
        }

        let statuses: Vec<Status> = fed.values().copied().collect();
        let new_status = aggregate_job_status(statuses.iter().copied(), round, job.cancel_signal)
            .map_err(|e| Error::Corrupt(format!("job {}: {e}", job.job_id)))?;
        let progress = i64::from(job_progress(&statuses)).max(job.progress);
        let parties = parties_of(job)?;
        if progress != job.progress {
            for p in &parties {
                let _ = self
                    .partner
                    .send(&job.job_id, *p, PartyCommand::SyncProgress { progress })
                    .await;
            }
        }
        if new_status != job.status && new_status.is_end() {
            let reason = if new_status == Status::Success {
                None
            } else {
                Some(
                    by_cpn
                        .iter()
                        .filter(|(c, _)| fed.get(*c).is_some_and(|s| s.is_interrupt()))
                        .filter_map(|(c, rows)| failure_reason(c, rows))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
                .filter(|s| !s.is_empty())
            };
            self.finish(job, new_status, reason).await?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        job: &JobRecord,
        status: Status,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let parties = parties_of(job)?;
        let (status, reason) = if status == Status::Success {
            match self.save_models(job, &parties).await {
                Ok(()) => (status, reason),
                Err(why) => (Status::Failed, Some(why.to_string())),
            }
        } else {
            (status, reason)
        };
        for p in &parties {
            let cmd = PartyCommand::SyncJobStatus {
                status,
                reason: reason.clone(),
            };
            if let Err(e) = self.partner.send(&job.job_id, *p, cmd).await {
                tracing::warn!(job_id = %job.job_id, error = %e, "job status sync failed");
            }
        }
        for p in &parties {
            let cmd = PartyCommand::StopJob {
                status,
                reason: reason.clone().unwrap_or_else(|| format!("job {status}")),
            };
            let _ = self.partner.send(&job.job_id, *p, cmd).await;
        }
        tracing::info!(job_id = %job.job_id, %status, reason = reason.as_deref().unwrap_or(""), "job finished");
        // Resources came back: the waiting queue may move.
        let _ = self.events.send(Event::ScheduleAll);
        Ok(())
    }

    /// Every party saves its pipeline model of a training job that succeeded (FATE's
    /// `model` command at job end); predict jobs save none. Every refusal is named.
    async fn save_models(&self, job: &JobRecord, parties: &[Party]) -> Result<(), Error> {
        if fateflow_domain::predict::job_type_of(&job.runtime_conf)
            == fateflow_domain::JobType::Predict
        {
            return Ok(());
        }
        let mut failed = Vec::new();
        for p in parties {
            if let Err(e) = self
                .partner
                .send(&job.job_id, *p, PartyCommand::SaveModel)
                .await
            {
                failed.push(format!("{}: {}", e.party(), e.message()));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Parties(format!(
                "every component succeeded, but saving the pipeline model failed at {}",
                failed.join("; ")
            )))
        }
    }

    /// Sends one command per task row to the row's party; returns the failures.
    async fn send_to_tasks(
        &self,
        job_id: &str,
        rows: &[TaskRecord],
        cmd: impl Fn(&TaskRecord) -> PartyCommand,
    ) -> Vec<CommandError> {
        let mut errors = Vec::new();
        for t in rows {
            let party = Party {
                role: t.role,
                party_id: t.party_id,
            };
            if let Err(e) = self.partner.send(job_id, party, cmd(t)).await {
                errors.push(e);
            }
        }
        errors
    }

    /// Stops a job at every party (user stop, timeout, failure).
    pub async fn stop(&self, job_id: &str, status: Status, reason: &str) -> Result<(), Error> {
        let Some(job) = self.initiator_row(job_id).await? else {
            return Err(Error::JobNotFound(job_id.to_string()));
        };
        if job.status.is_end() {
            return Ok(());
        }
        let now = now_ms();
        if status == Status::Canceled {
            self.store
                .update_job(
                    job_id,
                    job.role,
                    job.party_id,
                    &JobUpdate {
                        cancel_signal: Some(true),
                        cancel_time: Some(now),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
        }
        let parties = parties_of(&job)?;
        let mut errors = Vec::new();
        for p in &parties {
            let cmd = PartyCommand::StopJob {
                status,
                reason: reason.to_string(),
            };
            if let Err(e) = self.partner.send(job_id, *p, cmd).await {
                errors.push(e.to_string());
            }
        }
        // Bring the federated task statuses in line with what the parties now report.
        let by_cpn = self.latest_tasks(job_id).await?;
        let _ = self.sync_tasks(&job, &by_cpn).await;
        tracing::info!(job_id, %status, reason, "job stopped");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Parties(errors.join("; ")))
        }
    }

    /// Reruns a job from `component` (and everything downstream), or every unfinished
    /// component. Returns the components rerun.
    pub async fn rerun(
        &self,
        job_id: &str,
        component: Option<&str>,
        force: bool,
        auto: bool,
    ) -> Result<Vec<String>, Error> {
        let Some(job) = self.initiator_row(job_id).await? else {
            return Err(Error::JobNotFound(job_id.to_string()));
        };
        let parsed = self.parsed(&job)?;
        let by_cpn = self.latest_tasks(job_id).await?;
        let fed: BTreeMap<String, Status> = by_cpn
            .iter()
            .map(|(c, rows)| {
                (
                    c.clone(),
                    aggregate_task_status(rows.iter().map(|t| t.party_status))
                        .unwrap_or(Status::Failed),
                )
            })
            .collect();
        let selected: Vec<String> = match component {
            Some(c) if c != "pipeline" && !c.is_empty() => parsed
                .downstream_of(c)
                .ok_or_else(|| Error::Invalid(format!("component {c} is not in job {job_id}")))?,
            _ => parsed
                .topological_order()
                .into_iter()
                .map(String::from)
                .collect(),
        };
        if job.status == Status::Running && !auto {
            return Err(Error::Invalid(format!(
                "job {job_id} is running; stop it before a rerun"
            )));
        }
        let rerun = self
            .new_task_versions(&job, &selected, force, auto, &fed, &by_cpn)
            .await?;
        if rerun.is_empty() {
            return Err(Error::Invalid(format!(
                "nothing to rerun in job {job_id}: every selected component succeeded (use force)"
            )));
        }
        if job.status.is_end() {
            for p in parties_of(&job)? {
                self.partner
                    .send(job_id, p, PartyCommand::PrepareRerun)
                    .await?;
            }
        }
        let _ = self.events.send(Event::Schedule(job_id.to_string()));
        Ok(rerun)
    }

    async fn new_task_versions(
        &self,
        job: &JobRecord,
        selected: &[String],
        force: bool,
        auto: bool,
        fed: &BTreeMap<String, Status>,
        by_cpn: &BTreeMap<String, Vec<TaskRecord>>,
    ) -> Result<Vec<String>, Error> {
        let mut rerun = Vec::new();
        for cpn in selected {
            let Some(rows) = by_cpn.get(cpn) else {
                continue;
            };
            if !force && fed.get(cpn) == Some(&Status::Success) {
                continue;
            }
            for t in rows {
                let party = Party {
                    role: t.role,
                    party_id: t.party_id,
                };
                if !t.party_status.is_end() && t.party_status != Status::Waiting {
                    let stop = PartyCommand::StopTask {
                        component: cpn.clone(),
                        task_version: t.task_version,
                        status: Status::Canceled,
                        reason: "rerun".into(),
                    };
                    let _ = self.partner.send(&job.job_id, party, stop).await;
                }
                if t.party_status == Status::Waiting && t.status == Status::Waiting {
                    continue;
                }
                let retries = if auto {
                    (t.auto_retries - 1).max(0)
                } else {
                    t.auto_retries
                };
                let cmd = PartyCommand::CreateTask {
                    component: cpn.clone(),
                    task_version: t.task_version + 1,
                    auto_retries: retries,
                };
                self.partner.send(&job.job_id, party, cmd).await?;
            }
            rerun.push(cpn.clone());
        }
        Ok(rerun)
    }

    /// Stops initiator jobs that outlived their `timeout` (reference §6.5).
    pub async fn check_timeouts(&self, now: i64) -> Result<(), Error> {
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(true),
                statuses: vec![Status::Waiting, Status::Running],
                ..Default::default()
            })
            .await?;
        for job in jobs {
            let timeout = i64::try_from(job_params_of(&job).timeout)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000);
            if now - job.create_time > timeout {
                let reason = format!(
                    "job timed out: it ran longer than its timeout of {} s",
                    timeout / 1000
                );
                let _ = self.events.send(Event::Stop {
                    job_id: job.job_id.clone(),
                    status: Status::Timeout,
                    reason,
                    reply: None,
                });
            }
        }
        Ok(())
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

fn failure_reason(cpn: &str, rows: &[TaskRecord]) -> Option<String> {
    let failed: Vec<String> = rows
        .iter()
        .filter(|t| t.party_status.is_interrupt())
        .map(|t| {
            let why = t
                .error_report
                .clone()
                .unwrap_or_else(|| t.party_status.to_string());
            format!(
                "component {cpn} {} at {}:{}: {why}",
                t.party_status, t.role, t.party_id
            )
        })
        .collect();
    if failed.is_empty() {
        None
    } else {
        Some(failed.join("\n"))
    }
}

/// The failed row of a component that failed with a user error, if any.
fn user_error(rows: &[TaskRecord]) -> Option<&TaskRecord> {
    rows.iter()
        .find(|t| t.party_status.is_interrupt() && t.error_kind == Some(ErrorKind::User))
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

/// Whether a failed component's next automatic retry is due: `auto_retry_delay`
/// seconds after its last task ended, doubled with every version already run (capped
/// at an hour), so a task that fails at once is not restarted in a tight loop.
fn retry_due(rows: &[TaskRecord], now: i64) -> bool {
    let Some(last) = rows.iter().max_by_key(|t| t.task_version) else {
        return true;
    };
    let ended = last.end_time.unwrap_or(last.update_time);
    let base_ms = last.auto_retry_delay.max(0).saturating_mul(1000);
    let factor = 1i64 << last.task_version.clamp(0, 12);
    now >= ended.saturating_add(base_ms.saturating_mul(factor).min(3_600_000))
}

//! The scheduling round of one job: the waiting queue, job start, task status sync,
//! task starts in DAG order within `task_parallelism`, aggregation and the job's end.

use super::*;

impl Scheduler {
    /// One scheduling round for a job this site initiated.
    pub async fn schedule(&self, job_id: &str) -> Result<(), Error> {
        self.schedule_in_batch(job_id, &mut false).await
    }

    /// A round for `job_id` within a batch of rounds: the waiting queue (every waiting
    /// job, in FIFO order) runs once per batch, however many waiting jobs it holds.
    pub(super) async fn schedule_in_batch(
        &self,
        job_id: &str,
        queue_ran: &mut bool,
    ) -> Result<(), Error> {
        let Some(job) = self.initiator_row(job_id).await? else {
            // A job initiated by another site: its scheduler needs our task changes.
            self.partner.report_to_initiator(job_id).await;
            return Ok(());
        };
        match job.status {
            Status::Waiting if !*queue_ran => {
                *queue_ran = true;
                self.schedule_waiting_queue().await
            }
            Status::Running => self.schedule_running(&job).await,
            _ => Ok(()),
        }
    }

    /// Waiting jobs in FIFO order: the oldest gets resources first and blocks the
    /// queue until it does (reference §6.2).
    pub(super) async fn schedule_waiting_queue(&self) -> Result<(), Error> {
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
    pub(super) async fn start_job(&self, job: &JobRecord) -> Result<bool, Error> {
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

    pub(super) async fn latest_tasks(
        &self,
        job_id: &str,
    ) -> Result<BTreeMap<String, Vec<TaskRecord>>, Error> {
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
    pub(super) async fn sync_tasks(
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
    pub(super) fn parsed(&self, job: &JobRecord) -> Result<std::sync::Arc<Job>, Error> {
        self.controller
            .parsed
            .get(&job.job_id, &job.dsl, &job.runtime_conf)
            .map_err(|e| Error::Corrupt(format!("stored job {} no longer parses: {e}", job.job_id)))
    }

    pub(super) async fn schedule_running(&self, job: &JobRecord) -> Result<(), Error> {
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

    pub(super) async fn finish(
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
    pub(super) async fn save_models(
        &self,
        job: &JobRecord,
        parties: &[Party],
    ) -> Result<(), Error> {
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
    pub(super) async fn send_to_tasks(
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
}

pub(super) fn failure_reason(cpn: &str, rows: &[TaskRecord]) -> Option<String> {
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

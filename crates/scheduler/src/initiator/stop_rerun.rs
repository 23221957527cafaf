//! Stop and rerun of a job, and the new task versions a rerun or retry creates.

use super::*;

impl Scheduler {
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

    pub(super) async fn new_task_versions(
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
}

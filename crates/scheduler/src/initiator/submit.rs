//! Submit: a job validated, created at every party (every refusal collected), and
//! queued.

use super::*;

impl Scheduler {
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
        let job = self
            .controller
            .parsed_jobs()
            .parse(dsl, conf)
            .map_err(|e| SubmitError::Invalid(e.to_string()))?;
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
        let mut permission = false;
        let mut created = Vec::new();
        for party in &parties {
            let cmd = PartyCommand::CreateJob {
                dsl: dsl.clone(),
                runtime_conf: conf.clone(),
                train_runtime_conf: train_conf.clone(),
            };
            match self.partner.send(&job_id, *party, cmd).await {
                Ok(_) => created.push(*party),
                Err(e) => {
                    permission |= e.retcode() == crate::permission::PERMISSION_RETCODE;
                    refusals.push(format!("{}: {}", e.party(), e.message()))
                }
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
            return Err(SubmitError::Refused {
                job_id,
                message,
                permission,
            });
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
        for w in &job.warnings {
            tracing::warn!(job_id = %job_id, warning = %w, "job accepted with a warning");
        }
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
}

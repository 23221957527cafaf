//! The partner of a site with routes: parties hosted here get their commands
//! in-process, others through their site's gateway; task changes of jobs initiated
//! elsewhere are reported back to the initiator.

use crate::audit::{self, Entry};
use crate::client::Peers;
use crate::mirror::{self, TaskState};
use crate::proto::{CommandRequest, JobStatusRequest, ReportRequest};
use async_trait::async_trait;
use fateflow_domain::{Party, Role};
use fateflow_scheduler::local::LocalPartner;
use fateflow_scheduler::{CommandError, InitiatorView, Partner, PartyCommand, PartyController};
use fateflow_storage::{Direction, JobFilter, MetadataStore};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Local parties in-process, remote parties over the gateway.
pub struct SitePartner {
    local: LocalPartner,
    controller: Arc<PartyController>,
    store: Arc<dyn MetadataStore>,
    peers: Arc<Peers>,
}

impl SitePartner {
    /// A partner over this site's controller and the gateway's peers.
    pub fn new(
        controller: Arc<PartyController>,
        store: Arc<dyn MetadataStore>,
        peers: Arc<Peers>,
    ) -> Self {
        Self {
            local: LocalPartner::new(controller.clone()),
            controller,
            store,
            peers,
        }
    }

    /// The initiator of a job initiated here.
    async fn initiator_of(&self, job_id: &str, cmd: &PartyCommand) -> Option<Party> {
        if let PartyCommand::CreateJob { runtime_conf, .. } = cmd {
            let i = runtime_conf.get("initiator")?;
            let role: Role = i.get("role")?.as_str()?.parse().ok()?;
            let p = i.get("party_id")?;
            let party_id = p.as_u64().or_else(|| p.as_str()?.parse().ok())?;
            return Some(Party { role, party_id });
        }
        if let PartyCommand::DeployModel { initiator, .. }
        | PartyCommand::LoadModel { initiator, .. }
        | PartyCommand::UnloadModel { initiator, .. } = cmd
        {
            return self
                .controller
                .hosts(initiator.party_id)
                .then_some(*initiator);
        }
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                job_id: Some(job_id.into()),
                is_initiator: Some(true),
                ..Default::default()
            })
            .await
            .ok()?;
        jobs.first().map(|j| Party {
            role: j.role,
            party_id: j.party_id,
        })
    }
}

#[async_trait]
impl Partner for SitePartner {
    async fn send(
        &self,
        job_id: &str,
        party: Party,
        cmd: PartyCommand,
    ) -> Result<Value, CommandError> {
        if self.controller.hosts(party.party_id) {
            return self.local.send(job_id, party, cmd).await;
        }
        let command = cmd.name().to_string();
        let unreachable = |message: String| CommandError::Unreachable {
            party,
            command: command.clone(),
            message,
        };
        let Some(src) = self.initiator_of(job_id, &cmd).await else {
            return Err(unreachable(format!(
                "job {job_id} was not initiated by this site; only its initiator sends commands"
            )));
        };
        let command_json = serde_json::to_vec(&cmd)
            .map_err(|e| unreachable(format!("encoding the command: {e}")))?;
        let req = CommandRequest {
            job_id: job_id.to_string(),
            src_role: src.role.to_string(),
            src_party_id: src.party_id,
            dst_role: party.role.to_string(),
            dst_party_id: party.party_id,
            command_json,
        };
        let body_hash_input = req.command_json.clone();
        let sent = |decision: &'static str, detail: String| {
            let store = self.store.clone();
            let body = &body_hash_input;
            let command = command.clone();
            async move {
                audit::record(
                    store.as_ref(),
                    Entry {
                        direction: Direction::Sent,
                        partner: (party.party_id, party.role.as_str()),
                        local_party_id: src.party_id,
                        fingerprint: "",
                        command: &command,
                        job_id,
                        datasets: "",
                        decision,
                        detail: &detail,
                        body,
                    },
                )
                .await
            }
        };
        let reply = match self.peers.command(req).await {
            Ok(reply) => reply,
            Err(e) => {
                let address = self
                    .peers
                    .route(party.party_id)
                    .map(|r| r.address.clone())
                    .unwrap_or_default();
                let message = format!(
                    "site gateway of party {} ({address}): {}",
                    party.party_id,
                    e.message()
                );
                sent("unreachable", message.clone()).await;
                return Err(unreachable(message));
            }
        };
        if reply.ok {
            sent("ok", String::new()).await;
        } else {
            sent(
                "refused",
                format!("retcode {}: {}", reply.retcode, reply.message),
            )
            .await;
        }
        match mirror::decode_tasks(&reply.tasks_json) {
            Ok(tasks) => {
                if let Err(e) = mirror::apply(&self.controller, party.party_id, &tasks).await {
                    tracing::warn!(job_id, party = %party, error = %e, "could not record the party's tasks");
                }
            }
            Err(e) => {
                tracing::warn!(job_id, party = %party, error = %e, "bad task list in a reply")
            }
        }
        if reply.ok {
            if reply.data_json.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_slice(&reply.data_json)
                .map_err(|e| unreachable(format!("data_json of the reply: {e}")))
        } else {
            Err(CommandError::Refused {
                party,
                command,
                retcode: reply.retcode,
                message: reply.message,
            })
        }
    }

    async fn ask_initiator(
        &self,
        job_id: &str,
        me: Party,
        initiator: Party,
    ) -> Result<InitiatorView, CommandError> {
        let command = "job/status".to_string();
        if self.controller.hosts(initiator.party_id) {
            let job = self
                .store
                .get_job(job_id, initiator.role, initiator.party_id)
                .await
                .map_err(|e| CommandError::Refused {
                    party: initiator,
                    command: command.clone(),
                    retcode: 100,
                    message: e.to_string(),
                })?;
            return Ok(match job.filter(|j| j.is_initiator) {
                None => InitiatorView::Unknown,
                Some(j) => InitiatorView::Known {
                    status: j.status,
                    reason: j.error_report,
                },
            });
        }
        let req = JobStatusRequest {
            job_id: job_id.to_string(),
            src_role: me.role.to_string(),
            src_party_id: me.party_id,
            dst_role: initiator.role.to_string(),
            dst_party_id: initiator.party_id,
        };
        let reply = self.peers.job_status(req).await.map_err(|e| {
            let message = format!(
                "site gateway of party {}: {}",
                initiator.party_id,
                crate::health::describe(&e)
            );
            if matches!(
                e.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
            ) {
                CommandError::Unreachable {
                    party: initiator,
                    command: command.clone(),
                    message,
                }
            } else {
                CommandError::Refused {
                    party: initiator,
                    command: command.clone(),
                    retcode: 104,
                    message,
                }
            }
        })?;
        if !reply.known {
            return Ok(InitiatorView::Unknown);
        }
        let status =
            reply
                .status
                .parse()
                .map_err(
                    |e: fateflow_domain::status::UnknownStatus| CommandError::Refused {
                        party: initiator,
                        command,
                        retcode: 104,
                        message: format!("job {job_id}: status in the reply: {e}"),
                    },
                )?;
        Ok(InitiatorView::Known {
            status,
            reason: Some(reply.reason).filter(|r| !r.is_empty()),
        })
    }

    async fn report_to_initiator(&self, job_id: &str) {
        let (jobs, _) = match self
            .store
            .query_jobs(&JobFilter {
                job_id: Some(job_id.into()),
                ..Default::default()
            })
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(job_id, error = %e, "reading the job for a report failed");
                return;
            }
        };
        for job in jobs {
            let me = Party {
                role: job.role,
                party_id: job.party_id,
            };
            if !self.controller.hosts(me.party_id) || self.controller.hosts(job.initiator_party_id)
            {
                continue;
            }
            let tasks = match mirror::party_tasks(self.store.as_ref(), job_id, me).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(job_id, error = %e, "reading tasks for a report failed");
                    continue;
                }
            };
            let peers = self.peers.clone();
            let initiator = job.initiator_party_id;
            let job_id = job_id.to_string();
            tokio::spawn(send_report(peers, job_id, me, initiator, tasks));
        }
    }
}

async fn send_report(
    peers: Arc<Peers>,
    job_id: String,
    me: Party,
    initiator: u64,
    tasks: Vec<TaskState>,
) {
    let tasks_json = match serde_json::to_vec(&tasks) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(job_id, error = %e, "encoding a report failed");
            return;
        }
    };
    let req = ReportRequest {
        job_id: job_id.clone(),
        src_role: me.role.to_string(),
        src_party_id: me.party_id,
        tasks_json,
    };
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=5 {
        match peers.report(initiator, req.clone()).await {
            Ok(_) => return,
            Err(e) if attempt < 5 => {
                tracing::debug!(job_id, initiator, error = %e.message(), "report to the initiator failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                tracing::warn!(job_id, initiator, party = %me, error = %e.message(), "could not report task status to the initiator's site");
            }
        }
    }
}

/// Re-sends this site's task states of unfinished jobs initiated elsewhere every
/// `every`, so a report lost while the initiator's site was down is repaired once it
/// is back (copies only move forward, so a repeat is harmless).
pub async fn rereport(partner: Arc<SitePartner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let jobs = partner
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(false),
                statuses: vec![
                    fateflow_domain::Status::Waiting,
                    fateflow_domain::Status::Running,
                ],
                ..Default::default()
            })
            .await;
        match jobs {
            Ok((jobs, _)) => {
                let mut seen = std::collections::BTreeSet::new();
                for j in jobs {
                    if seen.insert(j.job_id.clone()) {
                        partner.report_to_initiator(&j.job_id).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing jobs to report failed"),
        }
    }
}

//! The receiving side: a gRPC server behind pinned mTLS that runs partner commands on
//! this site's controller, takes task reports for jobs initiated here, and writes
//! federation messages into the mailbox.
//!
//! Every call is checked twice: the TLS handshake admits only certificates in the
//! routes, and each request's claimed source party must be routed to the very
//! certificate the connection presented. A refusal is logged with the party, the
//! presented fingerprint and the reason.

use crate::audit::{self, Entry};
use crate::mirror::{self, TaskState};
use crate::proto::{
    party, CommandReply, CommandRequest, GatewayServer, Handler, InferReply, InferRequest,
    JobStatusReply, JobStatusRequest, PingReply, PingRequest, PushChunk, PushReply, ReportReply,
    ReportRequest,
};
use crate::tls::{fingerprint, Routes};
use fateflow_api_types::serving::{HostScoreReply, HostScoreRequest};
use fateflow_domain::Party;
use fateflow_federation::Mailbox;
use fateflow_scheduler::permission::{Decision, PermissionGate};
use fateflow_scheduler::{Event, EventSender, PartyCommand, PartyController};
use fateflow_storage::{Direction, JobFilter, MetadataStore};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;
use tonic::Status as RpcStatus;

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Remote address.
    pub addr: SocketAddr,
    /// Fingerprint of the certificate it presented.
    pub fingerprint: String,
}

/// A TLS connection that tells tonic who the peer is.
pub struct PeerStream {
    inner: TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The certificate fingerprint a request's connection presented ("" without one).
fn fingerprint_of<T>(req: &tonic::Request<T>) -> String {
    req.extensions()
        .get::<PeerInfo>()
        .map(|p| p.fingerprint.clone())
        .unwrap_or_default()
}

/// Decodes a command's JSON into the one type it may be.
pub fn decode_command(bytes: &[u8]) -> Result<PartyCommand, crate::Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| crate::Error::BadMessage(format!("command_json: {e}")))
}

/// What the gateway serves with.
pub struct GatewayService {
    /// This site's party controller.
    pub controller: Arc<PartyController>,
    /// The metadata store (for the initiator's copies of remote tasks).
    pub store: Arc<dyn MetadataStore>,
    /// The mailbox federation messages go to.
    pub mailbox: Arc<Mailbox>,
    /// The routes (who may call, with which certificate).
    pub routes: Arc<Routes>,
    /// The scheduler's inbox (a report triggers a round).
    pub events: EventSender,
    /// What partners may use here.
    pub permissions: Arc<PermissionGate>,
    /// This site's hosts' part of online inference.
    pub inference: Arc<dyn HostInference>,
}

/// A host party's part of online inference: partial scores of a loaded model.
#[tonic::async_trait]
pub trait HostInference: Send + Sync {
    /// Scores the rows for `guest` (which must be a party of the model).
    async fn host_scores(&self, guest: u64, req: HostScoreRequest) -> HostScoreReply;
}

impl GatewayService {
    /// Checks that the connection's certificate is the one routed for `party_id`.
    async fn authorize<T>(
        &self,
        req: &tonic::Request<T>,
        party_id: u64,
        what: &str,
    ) -> Result<(), RpcStatus> {
        let Some(peer) = req.extensions().get::<PeerInfo>() else {
            return Err(RpcStatus::unauthenticated("no client certificate"));
        };
        let refused = match self.routes.parties.get(&party_id) {
            None => {
                tracing::warn!(party_id, peer = %peer.addr, presented = %peer.fingerprint, what, "gateway refused: the party is not in the routes");
                Err(RpcStatus::permission_denied(format!(
                    "party {party_id} is not in this site's routes"
                )))
            }
            Some(r) if r.fingerprint != peer.fingerprint => {
                tracing::warn!(party_id, peer = %peer.addr, presented = %peer.fingerprint, expected = %r.fingerprint, what, "gateway refused: the certificate does not match the party's route");
                Err(RpcStatus::permission_denied(format!(
                    "the connection's certificate {} is not party {party_id}'s ({})",
                    peer.fingerprint, r.fingerprint
                )))
            }
            Some(_) => Ok(()),
        };
        if let Err(status) = &refused {
            audit::record(
                self.store.as_ref(),
                Entry {
                    direction: Direction::Received,
                    partner: (party_id, ""),
                    local_party_id: 0,
                    fingerprint: &peer.fingerprint,
                    command: what,
                    job_id: "",
                    datasets: "",
                    decision: "refused",
                    detail: status.message(),
                    body: &[],
                },
            )
            .await;
        }
        refused
    }

    /// What the permission rules say about a partner's command: `create` is checked on
    /// the job it carries, the commands that make work happen on the job held here;
    /// status syncs and stops always pass (a partner can always end what it started).
    async fn permission(
        &self,
        job_id: &str,
        src: Party,
        dst: Party,
        cmd: &PartyCommand,
    ) -> Result<Decision, RpcStatus> {
        let pass = Decision {
            datasets: String::new(),
            outcome: Ok(()),
        };
        match cmd {
            PartyCommand::CreateJob {
                dsl, runtime_conf, ..
            } => {
                // An invalid job is the controller's to refuse, with its own reasons.
                let Ok(job) = self.controller.parsed_jobs().get(job_id, dsl, runtime_conf) else {
                    return Ok(pass);
                };
                self.permissions
                    .check_job(&job, src.party_id, dst)
                    .await
                    .map_err(|e| RpcStatus::internal(e.to_string()))
            }
            PartyCommand::ApplyResource
            | PartyCommand::StartJob
            | PartyCommand::CreateTask { .. }
            | PartyCommand::StartTask { .. }
            | PartyCommand::PrepareRerun => self
                .permissions
                .check_stored_job(&self.controller, job_id, dst)
                .await
                .map_err(|e| RpcStatus::internal(e.to_string())),
            _ => Ok(pass),
        }
    }

    /// The source of a command must be the job's initiator; a model command's source
    /// must be the model's initiator, as recorded at the destination party.
    async fn check_initiator(
        &self,
        job_id: &str,
        src: Party,
        dst: Party,
        cmd: &PartyCommand,
    ) -> Result<(), RpcStatus> {
        let initiator = match cmd {
            PartyCommand::CreateJob { runtime_conf, .. } => runtime_conf
                .get("initiator")
                .and_then(|i| i.get("party_id"))
                .and_then(|p| {
                    p.as_u64()
                        .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
                }),
            PartyCommand::DeployModel {
                model_id,
                model_version,
                ..
            }
            | PartyCommand::LoadModel {
                model_id,
                model_version,
                ..
            }
            | PartyCommand::UnloadModel {
                model_id,
                model_version,
                ..
            } => self
                .store
                .get_model(&fateflow_storage::ModelKey {
                    model_id: model_id.clone(),
                    model_version: model_version.clone(),
                    role: dst.role,
                    party_id: dst.party_id,
                })
                .await
                .map_err(|e| RpcStatus::internal(e.to_string()))?
                .map(|m| m.initiator_party_id),
            _ => self
                .store
                .get_job(job_id, dst.role, dst.party_id)
                .await
                .map_err(|e| RpcStatus::internal(e.to_string()))?
                .map(|j| j.initiator_party_id),
        };
        match initiator {
            Some(i) if i != src.party_id => {
                tracing::warn!(job_id, src = %src, initiator = i, command = cmd.name(), "gateway refused a command from a party that is not the job's initiator");
                Err(RpcStatus::permission_denied(format!(
                    "party {} is not the initiator of job {job_id} (party {i} is)",
                    src.party_id
                )))
            }
            _ => Ok(()),
        }
    }
}

#[tonic::async_trait]
impl Handler for GatewayService {
    async fn command(
        &self,
        req: tonic::Request<CommandRequest>,
    ) -> Result<tonic::Response<CommandReply>, RpcStatus> {
        let src_id = req.get_ref().src_party_id;
        self.authorize(&req, src_id, "command").await?;
        let fingerprint = fingerprint_of(&req);
        let r = req.into_inner();
        let src = party("src_role", &r.src_role, r.src_party_id).map_err(RpcStatus::from)?;
        let dst = party("dst_role", &r.dst_role, r.dst_party_id).map_err(RpcStatus::from)?;
        let cmd = decode_command(&r.command_json).map_err(RpcStatus::from)?;
        if !self.controller.hosts(dst.party_id) {
            return Err(RpcStatus::not_found(format!(
                "party {} is not hosted by this site",
                dst.party_id
            )));
        }
        let entry = |decision: &'static str, datasets: String, detail: String| {
            let (store, r, fp) = (self.store.clone(), &r, fingerprint.clone());
            let command = cmd.name();
            async move {
                audit::record(
                    store.as_ref(),
                    Entry {
                        direction: Direction::Received,
                        partner: (src.party_id, src.role.as_str()),
                        local_party_id: dst.party_id,
                        fingerprint: &fp,
                        command,
                        job_id: &r.job_id,
                        datasets: &datasets,
                        decision,
                        detail: &detail,
                        body: &r.command_json,
                    },
                )
                .await
            }
        };
        if let Err(status) = self.check_initiator(&r.job_id, src, dst, &cmd).await {
            entry("refused", String::new(), status.message().to_string()).await;
            return Err(status);
        }
        let decision = self.permission(&r.job_id, src, dst, &cmd).await?;
        if let Err(refusal) = decision.outcome {
            tracing::warn!(job_id = %r.job_id, %src, %dst, command = cmd.name(), reason = %refusal.message, "permission check failed");
            entry("refused", decision.datasets, refusal.message.clone()).await;
            // A task refused mid-job fails here with the reason, and the reply carries
            // that to the initiator, so the job ends saying why instead of waiting.
            let mut tasks_json = Vec::new();
            if let PartyCommand::StartTask {
                component,
                task_version,
            } = &cmd
            {
                if let Err(e) = self
                    .controller
                    .refuse_task_start(&r.job_id, dst, component, *task_version, &refusal.message)
                    .await
                {
                    tracing::warn!(job_id = %r.job_id, component, error = %e.message, "could not fail the refused task");
                }
                let tasks = mirror::party_tasks(self.store.as_ref(), &r.job_id, dst)
                    .await
                    .unwrap_or_default();
                tasks_json = serde_json::to_vec(&tasks).unwrap_or_default();
            }
            return Ok(tonic::Response::new(CommandReply {
                ok: false,
                retcode: refusal.retcode,
                message: refusal.message,
                data_json: Vec::new(),
                tasks_json,
            }));
        }
        tracing::debug!(job_id = %r.job_id, %src, %dst, command = cmd.name(), "gateway command");
        let outcome = self.controller.handle(&r.job_id, dst, cmd.clone()).await;
        let detail = match &outcome {
            Ok(_) => "ok".to_string(),
            Err(refusal) => format!("retcode {}: {}", refusal.retcode, refusal.message),
        };
        entry("allowed", decision.datasets, detail).await;
        let tasks = mirror::party_tasks(self.store.as_ref(), &r.job_id, dst)
            .await
            .unwrap_or_default();
        let tasks_json = serde_json::to_vec(&tasks).unwrap_or_default();
        let reply = match outcome {
            Ok(data) => CommandReply {
                ok: true,
                retcode: 0,
                message: String::new(),
                data_json: serde_json::to_vec(&data).unwrap_or_default(),
                tasks_json,
            },
            Err(refusal) => CommandReply {
                ok: false,
                retcode: refusal.retcode,
                message: refusal.message,
                data_json: Vec::new(),
                tasks_json,
            },
        };
        Ok(tonic::Response::new(reply))
    }

    async fn report(
        &self,
        req: tonic::Request<ReportRequest>,
    ) -> Result<tonic::Response<ReportReply>, RpcStatus> {
        let src_id = req.get_ref().src_party_id;
        self.authorize(&req, src_id, "report").await?;
        let fingerprint = fingerprint_of(&req);
        let r = req.into_inner();
        let tasks = mirror::decode_tasks(&r.tasks_json).map_err(RpcStatus::from)?;
        if let Some(t) = tasks.iter().find(|t| t.job_id != r.job_id) {
            return Err(RpcStatus::invalid_argument(format!(
                "report for job {} carries task {} of job {}",
                r.job_id, t.task_id, t.job_id
            )));
        }
        // Only jobs this site initiated take reports.
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                job_id: Some(r.job_id.clone()),
                is_initiator: Some(true),
                ..Default::default()
            })
            .await
            .map_err(|e| RpcStatus::internal(e.to_string()))?;
        let Some(job) = jobs.first() else {
            return Err(RpcStatus::not_found(format!(
                "job {} was not initiated by this site",
                r.job_id
            )));
        };
        let parties = fateflow_scheduler::initiator::parties_of(job)
            .map_err(|e| RpcStatus::internal(e.to_string()))?;
        if let Some(t) = tasks.iter().find(|t| {
            !parties.contains(&Party {
                role: t.role,
                party_id: t.party_id,
            })
        }) {
            tracing::warn!(job_id = %r.job_id, party_id = src_id, role = %t.role, "gateway refused a report from a party that is not in the job");
            return Err(RpcStatus::permission_denied(format!(
                "{}:{} is not a party of job {}",
                t.role, t.party_id, r.job_id
            )));
        }
        let changed = mirror::apply(&self.controller, src_id, &tasks)
            .await
            .map_err(RpcStatus::from)?;
        if changed > 0 {
            let states: Vec<String> = tasks
                .iter()
                .map(|t| format!("{} {}", t.component_name, t.party_status))
                .collect();
            audit::record(
                self.store.as_ref(),
                Entry {
                    direction: Direction::Received,
                    partner: (src_id, tasks.first().map(|t| t.role.as_str()).unwrap_or("")),
                    local_party_id: job.party_id,
                    fingerprint: &fingerprint,
                    command: "report",
                    job_id: &r.job_id,
                    datasets: "",
                    decision: "allowed",
                    detail: &states.join(", "),
                    body: &r.tasks_json,
                },
            )
            .await;
        }
        if changed > 0 {
            log_failures(src_id, &tasks);
            let _ = self.events.send(Event::Schedule(r.job_id.clone()));
        }
        Ok(tonic::Response::new(ReportReply { changed }))
    }

    async fn push(
        &self,
        req: tonic::Request<tonic::Streaming<PushChunk>>,
    ) -> Result<tonic::Response<PushReply>, RpcStatus> {
        // Of several servers, only the scheduler lease's holder runs tasks, so only its
        // mailbox is read: another one refuses rather than keep a message nobody takes.
        if !self.controller.leading() {
            return Err(RpcStatus::unavailable(
                "this server of the site does not hold the scheduler lease, so no task here reads federation messages; route the gateway to the holder (GET /v1/cluster/leader answers 200 there)",
            ));
        }
        let peer = req.extensions().get::<PeerInfo>().cloned();
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| RpcStatus::invalid_argument("empty push"))?;
        let header = first
            .header
            .as_ref()
            .ok_or_else(|| RpcStatus::invalid_argument("push: the first chunk has no header"))?;
        let key = header.key().map_err(RpcStatus::from)?;
        // Same check as `authorize`, on the header's source party.
        let probe = {
            let mut r = tonic::Request::new(());
            if let Some(p) = peer {
                r.extensions_mut().insert(p);
            }
            r
        };
        self.authorize(&probe, key.src.party_id, "push").await?;
        if !self.controller.hosts(key.dst.party_id) {
            return Err(RpcStatus::not_found(format!(
                "party {} is not hosted by this site",
                key.dst
            )));
        }
        // Only for a job of the destination party here that includes the sender.
        let job_id = match self
            .controller
            .check_federation_sender(&key.session, key.src, key.dst)
            .await
        {
            Ok(job_id) => job_id,
            Err(reason) => {
                tracing::warn!(session = %key.session, name = %key.name, src = %key.src, dst = %key.dst, %reason, "gateway refused a federation message");
                return Err(match reason {
                    fateflow_scheduler::Error::Invalid(m) => RpcStatus::permission_denied(m),
                    e => RpcStatus::internal(e.to_string()),
                });
            }
        };
        // The data plane of a job held here for a partner runs only while the partner
        // holds its grants.
        let decision = self
            .permissions
            .check_stored_job(&self.controller, &job_id, key.dst)
            .await
            .map_err(|e| RpcStatus::internal(e.to_string()))?;
        if let Err(refusal) = decision.outcome {
            tracing::warn!(session = %key.session, name = %key.name, src = %key.src, dst = %key.dst, reason = %refusal.message, "gateway refused a federation message: permission");
            audit::record(
                self.store.as_ref(),
                Entry {
                    direction: Direction::Received,
                    partner: (key.src.party_id, key.src.role.as_str()),
                    local_party_id: key.dst.party_id,
                    fingerprint: &fingerprint_of(&probe),
                    command: "push",
                    job_id: &job_id,
                    datasets: &decision.datasets,
                    decision: "refused",
                    detail: &format!("message `{}`: {}", key.name, refusal.message),
                    body: &[],
                },
            )
            .await;
            return Err(RpcStatus::permission_denied(refusal.message));
        }
        let total = header.total_size;
        let limit = self.mailbox.max_message() as u64;
        if total > limit {
            return Err(RpcStatus::resource_exhausted(format!(
                "message `{}` of {total} bytes is above the limit of {limit} bytes",
                key.name
            )));
        }
        if let Err(e) = self.mailbox.check_quota(key.src.party_id, total) {
            tracing::warn!(session = %key.session, name = %key.name, src = %key.src, size = total, reason = %e, "gateway refused a federation message over its sender's quota");
            return Err(RpcStatus::resource_exhausted(e.to_string()));
        }
        if self.mailbox.has_seen(&key) {
            return Ok(tonic::Response::new(PushReply {
                stored: false,
                size: total,
            }));
        }
        let mailbox = self.mailbox.clone();
        // Disk writes happen on a blocking thread, fed chunk by chunk: memory stays at a
        // few chunks whatever the message's size.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let wkey = key.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<(bool, u64), RpcStatus> {
            let mut w = mailbox.writer(wkey).map_err(mailbox_refusal)?;
            while let Some(piece) = rx.blocking_recv() {
                w.write(&piece).map_err(mailbox_refusal)?;
            }
            let size = w.size() as u64;
            if size != total {
                return Err(RpcStatus::invalid_argument(format!(
                    "message ended after {size} of its {total} bytes; nothing stored"
                )));
            }
            let stored = w.finish().map_err(mailbox_refusal)?;
            Ok((stored, size))
        });
        let mut ok = first.data.is_empty() || tx.send(first.data).await.is_ok();
        while ok {
            match stream.message().await {
                Ok(Some(chunk)) => {
                    if chunk.header.is_some() {
                        drop(tx);
                        let _ = writer.await;
                        return Err(RpcStatus::invalid_argument(
                            "push: a header after the first chunk",
                        ));
                    }
                    if !chunk.data.is_empty() {
                        ok = tx.send(chunk.data).await.is_ok();
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    drop(tx);
                    let _ = writer.await;
                    return Err(e);
                }
            }
        }
        drop(tx);
        let (stored, size) = writer
            .await
            .map_err(|e| RpcStatus::internal(e.to_string()))??;
        if size > 64 << 20 {
            tracing::info!(session = %key.session, name = %key.name, src = %key.src, dst = %key.dst, size, "large federation message received");
        }
        Ok(tonic::Response::new(PushReply { stored, size }))
    }

    async fn ping(
        &self,
        req: tonic::Request<PingRequest>,
    ) -> Result<tonic::Response<PingReply>, RpcStatus> {
        let src = req.get_ref().src_party_id;
        self.authorize(&req, src, "ping").await?;
        Ok(tonic::Response::new(PingReply {
            party_ids: self.controller.config().parties.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }))
    }

    async fn infer(
        &self,
        req: tonic::Request<InferRequest>,
    ) -> Result<tonic::Response<InferReply>, RpcStatus> {
        let src_id = req.get_ref().src_party_id;
        self.authorize(&req, src_id, "infer").await?;
        let r = req.into_inner();
        if !self.controller.hosts(r.dst_party_id) {
            return Err(RpcStatus::not_found(format!(
                "party {} is not hosted by this site",
                r.dst_party_id
            )));
        }
        let request: HostScoreRequest = serde_json::from_slice(&r.request_json)
            .map_err(|e| RpcStatus::invalid_argument(format!("request_json: {e}")))?;
        if request.host_party_id != r.dst_party_id || request.guest_party_id != src_id {
            return Err(RpcStatus::permission_denied(format!(
                "the request names guest {} and host {}, the call came from {src_id} for {}",
                request.guest_party_id, request.host_party_id, r.dst_party_id
            )));
        }
        let reply = self.inference.host_scores(src_id, request).await;
        Ok(tonic::Response::new(InferReply {
            reply_json: serde_json::to_vec(&reply).unwrap_or_default(),
        }))
    }

    async fn job_status(
        &self,
        req: tonic::Request<JobStatusRequest>,
    ) -> Result<tonic::Response<JobStatusReply>, RpcStatus> {
        let src_id = req.get_ref().src_party_id;
        self.authorize(&req, src_id, "job status").await?;
        let fingerprint = fingerprint_of(&req);
        let r = req.into_inner();
        let src = party("src_role", &r.src_role, r.src_party_id).map_err(RpcStatus::from)?;
        let dst = party("dst_role", &r.dst_role, r.dst_party_id).map_err(RpcStatus::from)?;
        if !self.controller.hosts(dst.party_id) {
            return Err(RpcStatus::not_found(format!(
                "party {} is not hosted by this site",
                dst.party_id
            )));
        }
        let job = self
            .store
            .get_job(&r.job_id, dst.role, dst.party_id)
            .await
            .map_err(|e| RpcStatus::internal(e.to_string()))?;
        let Some(job) = job.filter(|j| j.is_initiator) else {
            tracing::info!(job_id = %r.job_id, %src, initiator = %dst, "gateway: a party asked about a job not initiated here");
            return Ok(tonic::Response::new(JobStatusReply::default()));
        };
        // Only the job's parties learn its status.
        let parties = fateflow_scheduler::initiator::parties_of(&job)
            .map_err(|e| RpcStatus::internal(e.to_string()))?;
        let allowed = parties.contains(&src);
        let detail = if allowed {
            format!("answered {}", job.status)
        } else {
            format!("{src} is not a party of job {}", r.job_id)
        };
        audit::record(
            self.store.as_ref(),
            Entry {
                direction: Direction::Received,
                partner: (src.party_id, src.role.as_str()),
                local_party_id: dst.party_id,
                fingerprint: &fingerprint,
                command: "job/status",
                job_id: &r.job_id,
                datasets: "",
                decision: if allowed { "allowed" } else { "refused" },
                detail: &detail,
                body: &[],
            },
        )
        .await;
        if !allowed {
            tracing::warn!(job_id = %r.job_id, %src, "gateway refused a job status query from a party that is not in the job");
            return Err(RpcStatus::permission_denied(detail));
        }
        Ok(tonic::Response::new(JobStatusReply {
            known: true,
            status: job.status.to_string(),
            reason: job.error_report.unwrap_or_default(),
        }))
    }
}

/// A mailbox error as the push's status: limits are `resource_exhausted`.
fn mailbox_refusal(e: fateflow_federation::Error) -> RpcStatus {
    match e {
        fateflow_federation::Error::Quota { .. } | fateflow_federation::Error::TooLarge { .. } => {
            RpcStatus::resource_exhausted(e.to_string())
        }
        other => RpcStatus::invalid_argument(other.to_string()),
    }
}

fn log_failures(src: u64, tasks: &[TaskState]) {
    for t in tasks.iter().filter(|t| t.party_status.is_interrupt()) {
        tracing::info!(job_id = %t.job_id, component = %t.component_name, party_id = src, status = %t.party_status, reason = t.error_report.as_deref().unwrap_or(""), "remote task ended");
    }
}

/// Accepts TCP connections, completes TLS handshakes (each on its own task, so a
/// slow or refused peer never blocks others) and serves the gateway until the
/// listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    service: Arc<GatewayService>,
) -> Result<(), tonic::transport::Error> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<PeerStream, std::io::Error>>(16);
    tokio::spawn(async move {
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "gateway accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                        .await;
                match handshake {
                    Ok(Ok(tls)) => {
                        let fp = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| fingerprint(c))
                            .unwrap_or_default();
                        let info = PeerInfo {
                            addr,
                            fingerprint: fp,
                        };
                        let _ = tx.send(Ok(PeerStream { inner: tls, info })).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %addr, error = %e, "gateway refused a connection: TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::warn!(peer = %addr, "gateway refused a connection: TLS handshake timed out");
                    }
                }
            });
        }
    });
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .serve_with_incoming(
            GatewayServer::new(service),
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )
        .await
}

//! The wire format: protobuf messages (prost derives, written by hand so the build
//! needs no `protoc`) and the gRPC service glue for the `fateflow.gateway.Gateway`
//! service.
//!
//! ```proto
//! service Gateway {
//!   rpc Command(CommandRequest) returns (CommandReply);   // initiator → party
//!   rpc Report(ReportRequest) returns (ReportReply);      // party → initiator
//!   rpc Push(stream PushChunk) returns (PushReply);       // a federation message
//!   rpc Ping(PingRequest) returns (PingReply);            // health
//!   rpc JobStatus(JobStatusRequest) returns (JobStatusReply); // party → initiator
//!   rpc Infer(InferRequest) returns (InferReply);         // guest → host, online inference
//! }
//! ```
//!
//! Nothing received is turned into anything but these messages and the typed JSON
//! payloads they carry ([`fateflow_scheduler::PartyCommand`], [`crate::mirror::TaskState`]).

use fateflow_domain::{Party, Role};
use fateflow_federation::Key;
use prost::Message;
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, StdError};

/// The largest protobuf message either side decodes (chunks are [`CHUNK_BYTES`]).
pub const MAX_FRAME_BYTES: usize = 4 << 20;
/// The size of the data pieces of a pushed message.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A partner command for one party.
#[derive(Clone, PartialEq, Message)]
pub struct CommandRequest {
    /// The job.
    #[prost(string, tag = "1")]
    pub job_id: String,
    /// The sending party's role (the job's initiator).
    #[prost(string, tag = "2")]
    pub src_role: String,
    /// The sending party.
    #[prost(uint64, tag = "3")]
    pub src_party_id: u64,
    /// The receiving party's role.
    #[prost(string, tag = "4")]
    pub dst_role: String,
    /// The receiving party.
    #[prost(uint64, tag = "5")]
    pub dst_party_id: u64,
    /// The command, as JSON of `PartyCommand`.
    #[prost(bytes = "vec", tag = "6")]
    pub command_json: Vec<u8>,
}

/// A party's answer to a command.
#[derive(Clone, PartialEq, Message)]
pub struct CommandReply {
    /// Whether the command succeeded.
    #[prost(bool, tag = "1")]
    pub ok: bool,
    /// FATE's retcode when it did not.
    #[prost(int32, tag = "2")]
    pub retcode: i32,
    /// The party's reason when it did not.
    #[prost(string, tag = "3")]
    pub message: String,
    /// The command's data (JSON) when it did.
    #[prost(bytes = "vec", tag = "4")]
    pub data_json: Vec<u8>,
    /// The party's tasks of the job after the command (JSON list of `TaskState`).
    #[prost(bytes = "vec", tag = "5")]
    pub tasks_json: Vec<u8>,
}

/// A party's tasks of a job, sent to the job's initiator when they change.
#[derive(Clone, PartialEq, Message)]
pub struct ReportRequest {
    /// The job.
    #[prost(string, tag = "1")]
    pub job_id: String,
    /// The reporting party's role.
    #[prost(string, tag = "2")]
    pub src_role: String,
    /// The reporting party.
    #[prost(uint64, tag = "3")]
    pub src_party_id: u64,
    /// JSON list of `TaskState`, every one of the reporting party.
    #[prost(bytes = "vec", tag = "4")]
    pub tasks_json: Vec<u8>,
}

/// The initiator's answer to a report.
#[derive(Clone, PartialEq, Message)]
pub struct ReportReply {
    /// Task rows that changed.
    #[prost(uint32, tag = "1")]
    pub changed: u32,
}

/// The key and size of a pushed message (first chunk only; also inside every chunk
/// sent through RabbitMQ, as JSON).
#[derive(Clone, PartialEq, Message, serde::Serialize, serde::Deserialize)]
pub struct MessageHeader {
    /// Federation session.
    #[prost(string, tag = "1")]
    pub session: String,
    /// Variable name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Tag.
    #[prost(string, tag = "3")]
    pub tag: String,
    /// Sender's role.
    #[prost(string, tag = "4")]
    pub src_role: String,
    /// Sender.
    #[prost(uint64, tag = "5")]
    pub src_party_id: u64,
    /// Receiver's role.
    #[prost(string, tag = "6")]
    pub dst_role: String,
    /// Receiver.
    #[prost(uint64, tag = "7")]
    pub dst_party_id: u64,
    /// Total bytes, when the sender knows it (0: unknown).
    #[prost(uint64, tag = "8")]
    pub total_size: u64,
}

/// One piece of a pushed message.
#[derive(Clone, PartialEq, Message)]
pub struct PushChunk {
    /// Present in the first chunk only.
    #[prost(message, optional, tag = "1")]
    pub header: Option<MessageHeader>,
    /// Payload bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// The receiver's answer to a push.
#[derive(Clone, PartialEq, Message)]
pub struct PushReply {
    /// `false` when the key had already arrived (the copy was ignored).
    #[prost(bool, tag = "1")]
    pub stored: bool,
    /// Bytes received.
    #[prost(uint64, tag = "2")]
    pub size: u64,
}

/// A health probe.
#[derive(Clone, PartialEq, Message)]
pub struct PingRequest {
    /// The probing party (one hosted by the caller).
    #[prost(uint64, tag = "1")]
    pub src_party_id: u64,
}

/// The answer to a probe.
#[derive(Clone, PartialEq, Message)]
pub struct PingReply {
    /// Parties hosted by the answering site.
    #[prost(uint64, repeated, tag = "1")]
    pub party_ids: Vec<u64>,
    /// The answering server's version.
    #[prost(string, tag = "2")]
    pub version: String,
}

/// A party of a job asks the job's initiator what it knows of the job (a restarted
/// site, or a copy its initiator has not commanded for long).
#[derive(Clone, PartialEq, Message)]
pub struct JobStatusRequest {
    /// The job.
    #[prost(string, tag = "1")]
    pub job_id: String,
    /// The asking party's role (a party of the job).
    #[prost(string, tag = "2")]
    pub src_role: String,
    /// The asking party.
    #[prost(uint64, tag = "3")]
    pub src_party_id: u64,
    /// The initiator's role, as the asking party recorded it.
    #[prost(string, tag = "4")]
    pub dst_role: String,
    /// The initiator.
    #[prost(uint64, tag = "5")]
    pub dst_party_id: u64,
}

/// A guest's request for a host's partial scores (online inference).
#[derive(Clone, PartialEq, Message)]
pub struct InferRequest {
    /// The asking guest.
    #[prost(uint64, tag = "1")]
    pub src_party_id: u64,
    /// The host asked.
    #[prost(uint64, tag = "2")]
    pub dst_party_id: u64,
    /// `fateflow_api_types::serving::HostScoreRequest` as JSON.
    #[prost(bytes = "vec", tag = "3")]
    pub request_json: Vec<u8>,
}

/// The host's answer.
#[derive(Clone, PartialEq, Message)]
pub struct InferReply {
    /// `fateflow_api_types::serving::HostScoreReply` as JSON.
    #[prost(bytes = "vec", tag = "1")]
    pub reply_json: Vec<u8>,
}

/// The initiator's answer.
#[derive(Clone, PartialEq, Message)]
pub struct JobStatusReply {
    /// Whether the initiator holds the job as one it initiated.
    #[prost(bool, tag = "1")]
    pub known: bool,
    /// The job's status there, when known.
    #[prost(string, tag = "2")]
    pub status: String,
    /// Why it ended, when it did.
    #[prost(string, tag = "3")]
    pub reason: String,
}

/// A party from its wire parts; errors name the field.
pub fn party(field: &str, role: &str, party_id: u64) -> Result<Party, crate::Error> {
    let role: Role = role.parse().map_err(|e: fateflow_domain::UnknownRole| {
        crate::Error::BadMessage(format!("{field}: {e}"))
    })?;
    Ok(Party { role, party_id })
}

impl MessageHeader {
    /// The header of a message with this key.
    pub fn of(key: &Key, total_size: u64) -> Self {
        Self {
            session: key.session.clone(),
            name: key.name.clone(),
            tag: key.tag.clone(),
            src_role: key.src.role.to_string(),
            src_party_id: key.src.party_id,
            dst_role: key.dst.role.to_string(),
            dst_party_id: key.dst.party_id,
            total_size,
        }
    }

    /// The federation key, validated; errors name the field.
    pub fn key(&self) -> Result<Key, crate::Error> {
        let key = Key {
            session: self.session.clone(),
            name: self.name.clone(),
            tag: self.tag.clone(),
            src: party("src_role", &self.src_role, self.src_party_id)?,
            dst: party("dst_role", &self.dst_role, self.dst_party_id)?,
        };
        key.validate()
            .map_err(|e| crate::Error::BadMessage(e.to_string()))?;
        Ok(key)
    }
}

/// What the fuzz target and the property test feed random bytes to: every message
/// the gateway decodes off the wire, then the checks it applies before acting.
/// Never panics; returns whether anything decoded.
pub fn decode_any(bytes: &[u8]) -> bool {
    let mut any = false;
    if let Ok(c) = PushChunk::decode(bytes) {
        any = true;
        if let Some(h) = &c.header {
            let _ = h.key();
        }
    }
    if let Ok(c) = CommandRequest::decode(bytes) {
        any = true;
        let _ = party("src_role", &c.src_role, c.src_party_id);
        let _ = crate::server::decode_command(&c.command_json);
    }
    if let Ok(r) = ReportRequest::decode(bytes) {
        any = true;
        let _ = crate::mirror::decode_tasks(&r.tasks_json);
    }
    if let Ok(r) = CommandReply::decode(bytes) {
        any = true;
        let _ = crate::mirror::decode_tasks(&r.tasks_json);
    }
    if let Ok(r) = JobStatusRequest::decode(bytes) {
        any = true;
        let _ = party("src_role", &r.src_role, r.src_party_id);
        let _ = party("dst_role", &r.dst_role, r.dst_party_id);
    }
    if let Ok(r) = JobStatusReply::decode(bytes) {
        any = true;
        let _ = r.status.parse::<fateflow_domain::Status>();
    }
    if let Ok(r) = InferRequest::decode(bytes) {
        any = true;
        let _ = serde_json::from_slice::<fateflow_api_types::serving::HostScoreRequest>(
            &r.request_json,
        );
    }
    any |= PingRequest::decode(bytes).is_ok();
    any |= PingReply::decode(bytes).is_ok();
    any
}

/// The service's name on the wire.
pub const SERVICE_NAME: &str = "fateflow.gateway.Gateway";
const PATH_COMMAND: &str = "/fateflow.gateway.Gateway/Command";
const PATH_REPORT: &str = "/fateflow.gateway.Gateway/Report";
const PATH_PUSH: &str = "/fateflow.gateway.Gateway/Push";
const PATH_PING: &str = "/fateflow.gateway.Gateway/Ping";
const PATH_JOB_STATUS: &str = "/fateflow.gateway.Gateway/JobStatus";
const PATH_INFER: &str = "/fateflow.gateway.Gateway/Infer";

/// What a gateway does with each call (implemented by [`crate::server::GatewayService`]).
#[tonic::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// A partner command.
    async fn command(
        &self,
        req: tonic::Request<CommandRequest>,
    ) -> Result<tonic::Response<CommandReply>, tonic::Status>;
    /// A party's task report.
    async fn report(
        &self,
        req: tonic::Request<ReportRequest>,
    ) -> Result<tonic::Response<ReportReply>, tonic::Status>;
    /// A federation message in chunks.
    async fn push(
        &self,
        req: tonic::Request<tonic::Streaming<PushChunk>>,
    ) -> Result<tonic::Response<PushReply>, tonic::Status>;
    /// A health probe.
    async fn ping(
        &self,
        req: tonic::Request<PingRequest>,
    ) -> Result<tonic::Response<PingReply>, tonic::Status>;
    /// A party asks the job's initiator for the job's status.
    async fn job_status(
        &self,
        req: tonic::Request<JobStatusRequest>,
    ) -> Result<tonic::Response<JobStatusReply>, tonic::Status>;
    /// A guest asks a host for partial scores.
    async fn infer(
        &self,
        req: tonic::Request<InferRequest>,
    ) -> Result<tonic::Response<InferReply>, tonic::Status>;
}

/// The tower service that routes gRPC calls to a [`Handler`].
pub struct GatewayServer<T> {
    inner: std::sync::Arc<T>,
}

impl<T> GatewayServer<T> {
    /// Serves `inner`.
    pub fn new(inner: std::sync::Arc<T>) -> Self {
        Self { inner }
    }
}

impl<T> Clone for GatewayServer<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Handler> tonic::server::NamedService for GatewayServer<T> {
    const NAME: &'static str = SERVICE_NAME;
}

macro_rules! unary_svc {
    ($name:ident, $req:ty, $resp:ty, $method:ident) => {
        struct $name<T>(std::sync::Arc<T>);
        impl<T: Handler> tonic::server::UnaryService<$req> for $name<T> {
            type Response = $resp;
            type Future = BoxFuture<tonic::Response<$resp>, tonic::Status>;
            fn call(&mut self, request: tonic::Request<$req>) -> Self::Future {
                let inner = self.0.clone();
                Box::pin(async move { inner.$method(request).await })
            }
        }
    };
}

unary_svc!(CommandSvc, CommandRequest, CommandReply, command);
unary_svc!(ReportSvc, ReportRequest, ReportReply, report);
unary_svc!(PingSvc, PingRequest, PingReply, ping);
unary_svc!(JobStatusSvc, JobStatusRequest, JobStatusReply, job_status);
unary_svc!(InferSvc, InferRequest, InferReply, infer);

struct PushSvc<T>(std::sync::Arc<T>);
impl<T: Handler> tonic::server::ClientStreamingService<PushChunk> for PushSvc<T> {
    type Response = PushReply;
    type Future = BoxFuture<tonic::Response<PushReply>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<tonic::Streaming<PushChunk>>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { inner.push(request).await })
    }
}

fn grpc<Req: Message + Default + 'static, Resp: Message + 'static>(
) -> tonic::server::Grpc<tonic_prost::ProstCodec<Resp, Req>> {
    tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
        .apply_max_message_size_config(Some(MAX_FRAME_BYTES), Some(MAX_FRAME_BYTES))
}

impl<T, B> tonic::codegen::Service<http::Request<B>> for GatewayServer<T>
where
    T: Handler,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        match req.uri().path() {
            PATH_COMMAND => Box::pin(async move {
                Ok(grpc::<CommandRequest, CommandReply>()
                    .unary(CommandSvc(inner), req)
                    .await)
            }),
            PATH_REPORT => Box::pin(async move {
                Ok(grpc::<ReportRequest, ReportReply>()
                    .unary(ReportSvc(inner), req)
                    .await)
            }),
            PATH_PING => Box::pin(async move {
                Ok(grpc::<PingRequest, PingReply>()
                    .unary(PingSvc(inner), req)
                    .await)
            }),
            PATH_JOB_STATUS => Box::pin(async move {
                Ok(grpc::<JobStatusRequest, JobStatusReply>()
                    .unary(JobStatusSvc(inner), req)
                    .await)
            }),
            PATH_INFER => Box::pin(async move {
                Ok(grpc::<InferRequest, InferReply>()
                    .unary(InferSvc(inner), req)
                    .await)
            }),
            PATH_PUSH => Box::pin(async move {
                Ok(grpc::<PushChunk, PushReply>()
                    .client_streaming(PushSvc(inner), req)
                    .await)
            }),
            _ => Box::pin(async move {
                let mut response = http::Response::new(tonic::body::Body::default());
                let headers = response.headers_mut();
                headers.insert(
                    tonic::Status::GRPC_STATUS,
                    (tonic::Code::Unimplemented as i32).into(),
                );
                headers.insert(
                    http::header::CONTENT_TYPE,
                    tonic::metadata::GRPC_CONTENT_TYPE,
                );
                Ok(response)
            }),
        }
    }
}

/// The client side of the service over one channel.
#[derive(Clone)]
pub struct GatewayClient {
    inner: tonic::client::Grpc<tonic::transport::Channel>,
}

impl GatewayClient {
    /// A client over `channel`.
    pub fn new(channel: tonic::transport::Channel) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel)
                .max_decoding_message_size(MAX_FRAME_BYTES)
                .max_encoding_message_size(MAX_FRAME_BYTES),
        }
    }

    async fn ready(&mut self) -> Result<(), tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("gateway connection: {e}")))
    }

    /// `Command`.
    pub async fn command(
        &mut self,
        req: tonic::Request<CommandRequest>,
    ) -> Result<tonic::Response<CommandReply>, tonic::Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_COMMAND);
        self.inner
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
    }

    /// `Report`.
    pub async fn report(
        &mut self,
        req: tonic::Request<ReportRequest>,
    ) -> Result<tonic::Response<ReportReply>, tonic::Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_REPORT);
        self.inner
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
    }

    /// `Ping`.
    pub async fn ping(
        &mut self,
        req: tonic::Request<PingRequest>,
    ) -> Result<tonic::Response<PingReply>, tonic::Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_PING);
        self.inner
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
    }

    /// `JobStatus`.
    pub async fn job_status(
        &mut self,
        req: tonic::Request<JobStatusRequest>,
    ) -> Result<tonic::Response<JobStatusReply>, tonic::Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_JOB_STATUS);
        self.inner
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
    }

    /// `Infer`.
    pub async fn infer(
        &mut self,
        req: tonic::Request<InferRequest>,
    ) -> Result<tonic::Response<InferReply>, tonic::Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_INFER);
        self.inner
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
    }

    /// `Push`: the stream's first chunk carries the header.
    pub async fn push<S>(&mut self, chunks: S) -> Result<tonic::Response<PushReply>, tonic::Status>
    where
        S: futures_util::Stream<Item = PushChunk> + Send + 'static,
    {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH_PUSH);
        self.inner
            .client_streaming(
                tonic::Request::new(chunks),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
    }
}

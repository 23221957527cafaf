//! Outgoing calls: one lazily connected mTLS channel per routed party.

use crate::proto::{
    CommandReply, CommandRequest, GatewayClient, InferReply, InferRequest, JobStatusReply,
    JobStatusRequest, MessageHeader, PingReply, PingRequest, PushChunk, PushReply, ReportRequest,
    CHUNK_BYTES,
};
use crate::tls::{client_config, Identity, Route, Routes, TlsError};
use fateflow_federation::Key;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// How long a command or a report may take before the party counts as unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Channels to every routed party's gateway.
pub struct Peers {
    routes: Routes,
    configs: HashMap<u64, Arc<tokio_rustls::rustls::ClientConfig>>,
    channels: Mutex<HashMap<u64, GatewayClient>>,
    connect_timeout: Duration,
}

impl Peers {
    /// Client configs for every route (each pinned to its party's certificate).
    pub fn new(identity: &Identity, routes: Routes) -> Result<Self, TlsError> {
        let mut configs = HashMap::new();
        for (p, r) in &routes.parties {
            configs.insert(*p, client_config(identity, *p, r)?);
        }
        Ok(Self {
            routes,
            configs,
            channels: Mutex::new(HashMap::new()),
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// The routes.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// The route of a party, or an error naming it.
    pub fn route(&self, party_id: u64) -> Result<&Route, tonic::Status> {
        self.routes.parties.get(&party_id).ok_or_else(|| {
            tonic::Status::not_found(format!(
                "party {party_id} has no route: add it to this site's routes file"
            ))
        })
    }

    fn client(&self, party_id: u64) -> Result<GatewayClient, tonic::Status> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channels.get(&party_id) {
            return Ok(c.clone());
        }
        let route = self.route(party_id)?;
        let Some(cfg) = self.configs.get(&party_id).cloned() else {
            return Err(tonic::Status::not_found(format!(
                "party {party_id} has no TLS config"
            )));
        };
        let address = route.address.clone();
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| {
                tonic::Status::invalid_argument(format!(
                    "party {party_id}: route address `{address}`: {e}"
                ))
            })?
            .connect_timeout(self.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let connector = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
            let cfg = cfg.clone();
            let address = address.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(&address).await?;
                let _ = tcp.set_nodelay(true);
                let name = ServerName::try_from("fateflow-gateway")
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let tls = TlsConnector::from(cfg).connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        });
        let channel = endpoint.connect_with_connector_lazy(connector);
        let client = GatewayClient::new(channel);
        channels.insert(party_id, client.clone());
        Ok(client)
    }

    /// Sends a command; retries twice (after 0.5 s and 1 s) when the party's gateway
    /// cannot be reached at all.
    pub async fn command(&self, req: CommandRequest) -> Result<CommandReply, tonic::Status> {
        let party_id = req.dst_party_id;
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=3 {
            let mut client = self.client(party_id)?;
            let mut r = tonic::Request::new(req.clone());
            r.set_timeout(CALL_TIMEOUT);
            match client.command(r).await {
                Ok(resp) => return Ok(resp.into_inner()),
                Err(e) if e.code() == tonic::Code::Unavailable && attempt < 3 => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e),
            }
        }
        Err(tonic::Status::unavailable("unreachable"))
    }

    /// Sends a task report to the initiator's party.
    pub async fn report(&self, dst: u64, req: ReportRequest) -> Result<u32, tonic::Status> {
        let mut client = self.client(dst)?;
        let mut r = tonic::Request::new(req);
        r.set_timeout(CALL_TIMEOUT);
        Ok(client.report(r).await?.into_inner().changed)
    }

    /// Asks a job's initiator for the job's status (one attempt: the caller asks
    /// again later).
    pub async fn job_status(&self, req: JobStatusRequest) -> Result<JobStatusReply, tonic::Status> {
        let mut client = self.client(req.dst_party_id)?;
        let mut r = tonic::Request::new(req);
        r.set_timeout(Duration::from_secs(10));
        Ok(client.job_status(r).await?.into_inner())
    }

    /// Asks a host for partial scores, giving up after `timeout` (one attempt: an
    /// inference request is not retried behind its caller's back).
    pub async fn infer(
        &self,
        req: InferRequest,
        timeout: Duration,
    ) -> Result<InferReply, tonic::Status> {
        let mut client = self.client(req.dst_party_id)?;
        let mut r = tonic::Request::new(req);
        r.set_timeout(timeout);
        Ok(client.infer(r).await?.into_inner())
    }

    /// Probes a party's gateway.
    pub async fn ping(&self, dst: u64, src: u64) -> Result<PingReply, tonic::Status> {
        let mut client = self.client(dst)?;
        let mut r = tonic::Request::new(PingRequest { src_party_id: src });
        r.set_timeout(Duration::from_secs(10));
        Ok(client.ping(r).await?.into_inner())
    }

    /// Streams a message of `total_size` bytes to the gateway of `key.dst`, re-cut
    /// into chunks of at most [`CHUNK_BYTES`]. The receiver stores it only if exactly
    /// `total_size` bytes arrive, so a sender that fails half-way leaves nothing.
    pub async fn push<S, E>(
        &self,
        key: &Key,
        total_size: u64,
        pieces: S,
    ) -> Result<PushReply, tonic::Status>
    where
        S: Stream<Item = Result<bytes_like::Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let mut client = self.client(key.dst.party_id)?;
        let header = MessageHeader::of(key, total_size);
        let (tx, rx) = tokio::sync::mpsc::channel::<PushChunk>(4);
        let (err_tx, mut err_rx) = tokio::sync::oneshot::channel::<String>();
        tokio::spawn(async move {
            let mut pieces = pieces;
            let mut header = Some(header);
            let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
            while let Some(piece) = pieces.next().await {
                let piece = match piece {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = err_tx.send(format!("reading the message: {e}"));
                        return;
                    }
                };
                let mut rest: &[u8] = &piece;
                while !rest.is_empty() {
                    let take = (CHUNK_BYTES - buf.len()).min(rest.len());
                    buf.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if buf.len() == CHUNK_BYTES {
                        let data = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES));
                        let chunk = PushChunk {
                            header: header.take(),
                            data,
                        };
                        if tx.send(chunk).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if !buf.is_empty() || header.is_some() {
                let _ = tx
                    .send(PushChunk {
                        header: header.take(),
                        data: buf,
                    })
                    .await;
            }
        });
        let result = client
            .push(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
        if let Ok(e) = err_rx.try_recv() {
            return Err(tonic::Status::aborted(e));
        }
        Ok(result?.into_inner())
    }
}

/// The byte buffer type of pushed pieces.
pub mod bytes_like {
    pub use tonic::codegen::Bytes;
}

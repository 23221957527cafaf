//! The site's data-plane routes for its task processes, and the gateway health route.
//!
//! - `push` delivers a message to the receiving party's mailbox: in this process when
//!   the party is hosted here, otherwise streamed through the site gateway to the
//!   party's site. The body is never held whole: it goes to the mailbox writer (which
//!   spills past a few MiB) or to the gateway in chunks as it arrives.
//! - `pull` waits for a message; a spilled one is streamed from its file.
//!
//! Both are loopback only (with the Kubernetes launcher, also the pod networks of
//! `--k8s-pod-cidrs`) and need the calling task's token (`X-Fateflow-Task-Token`):
//! a task pushes only as its own party (`src`), pulls only its own messages (`dst`),
//! only in its own session (`<task_id>_<version>`), and only while it runs.
//! `/v1/gateway/health` probes every routed party (client authentication as for the
//! rest of the API).

use crate::api::{AppState, Reply};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fateflow_domain::retcode::RetCode;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Delivered, Key, Mailbox};
use fateflow_gateway::Peers;
use futures_util::StreamExt;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What the routes need.
#[derive(Clone)]
pub struct FederationState {
    /// The site.
    pub app: AppState,
    /// This site's mailbox.
    pub mailbox: Arc<Mailbox>,
    /// Channels to other sites' gateways (none for a standalone site).
    pub peers: Option<Arc<Peers>>,
    /// Publishes to the parties the routes file sends through RabbitMQ.
    pub queue: Option<Arc<fateflow_gateway::queue::QueueSender>>,
    /// What this site's RabbitMQ consumer counted (when it consumes).
    pub queue_stats: Option<Arc<fateflow_gateway::queue::ConsumerStats>>,
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    session: String,
    name: String,
    tag: String,
    src_role: String,
    src_party_id: String,
    dst_role: String,
    dst_party_id: String,
    wait_ms: Option<u64>,
}

/// Why a push or pull query names no valid message key.
#[derive(Debug, thiserror::Error)]
enum KeyError {
    /// `src_role` or `dst_role` is not a role.
    #[error(transparent)]
    Role(#[from] fateflow_domain::UnknownRole),
    /// `src_party_id` or `dst_party_id` is not a number.
    #[error("party id `{0}` is not a number")]
    PartyId(String),
    /// A session, name or tag breaks the key rules.
    #[error(transparent)]
    Key(#[from] fateflow_federation::Error),
}

fn parse_key(q: &KeyQuery) -> Result<Key, KeyError> {
    let party = |role: &str, id: &str| -> Result<Party, KeyError> {
        let role: Role = role.parse()?;
        let party_id = id.parse().map_err(|_| KeyError::PartyId(id.into()))?;
        Ok(Party { role, party_id })
    };
    let key = Key {
        session: q.session.clone(),
        name: q.name.clone(),
        tag: q.tag.clone(),
        src: party(&q.src_role, &q.src_party_id)?,
        dst: party(&q.dst_role, &q.dst_party_id)?,
    };
    key.validate()?;
    Ok(key)
}

/// The routes, over the site's mailbox and gateway peers.
pub fn router(state: FederationState) -> Router {
    let health = Router::new()
        .route("/v1/gateway/health", post(health).get(health))
        .layer(axum::middleware::from_fn_with_state(
            state.app.clone(),
            crate::api::client_auth,
        ));
    Router::new()
        .route("/v1/federation/push", post(push))
        .route("/v1/federation/pull", post(pull))
        .merge(health)
        .with_state(state)
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Reply::err(RetCode::FederatedError, msg)).into_response()
}

fn loopback_only(s: &FederationState, peer: SocketAddr) -> Result<(), Box<Response>> {
    let callers = &s.app.task_callers;
    if callers.allows(peer.ip()) {
        Ok(())
    } else {
        Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            format!("federation routes accept {}", callers.describe()),
        )))
    }
}

/// Checks the calling task's token for `party` (the push's source, the pull's
/// destination) in the key's session.
async fn authorize(
    s: &FederationState,
    headers: &HeaderMap,
    key: &Key,
    party: Party,
    what: &str,
) -> Result<(), Box<Response>> {
    let token = crate::api::task_token(headers);
    match s
        .app
        .controller
        .authorize_federation(&key.session, party, token)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(session = %key.session, %party, what, reason = %e, "federation route refused a request");
            Err(Box::new(crate::api::token_refusal(
                &e,
                &format!("{what}: "),
            )))
        }
    }
}

async fn push(
    State(s): State<FederationState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = loopback_only(&s, peer) {
        return *r;
    }
    let key = match parse_key(&q) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Err(r) = authorize(&s, &headers, &key, key.src, "push").await {
        return *r;
    }
    let limit = s.mailbox.max_message();
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = length {
        if n > limit as u64 {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "message `{}` of {n} bytes is above the limit of {limit} bytes",
                    key.name
                ),
            );
        }
    }
    if s.app.controller.hosts(key.dst.party_id) {
        return push_local(&s.mailbox, key, body).await;
    }
    let Some(peers) = s.peers.clone() else {
        return refuse(
            StatusCode::BAD_GATEWAY,
            format!(
                "party {} is not hosted by this site and the site gateway is not configured (start the server with --routes)",
                key.dst
            ),
        );
    };
    let Some(length) = length else {
        return refuse(
            StatusCode::LENGTH_REQUIRED,
            "a message for another site needs a Content-Length",
        );
    };
    let stream = body.into_data_stream().boxed();
    let through_queue = peers
        .routes()
        .parties
        .get(&key.dst.party_id)
        .and_then(|r| r.rabbitmq.clone());
    if let (Some(conf), Some(q)) = (through_queue, s.queue.as_ref()) {
        return match q.push(&conf, &key, length, stream).await {
            Ok(()) => Reply::ok(serde_json::Value::Null).into_response(),
            Err(e) => refuse(
                StatusCode::BAD_GATEWAY,
                format!(
                    "sending `{}` to {} through RabbitMQ: {e}",
                    key.name, key.dst
                ),
            ),
        };
    }
    match peers.push(&key, length, stream).await {
        Ok(_) => Reply::ok(serde_json::Value::Null).into_response(),
        Err(e) => refuse(
            StatusCode::BAD_GATEWAY,
            format!(
                "sending `{}` to {} through the site gateway: {}",
                key.name,
                key.dst,
                fateflow_gateway::health::describe(&e)
            ),
        ),
    }
}

/// Writes the body into the mailbox piece by piece (spilling past a few MiB).
async fn push_local(mailbox: &Arc<Mailbox>, key: Key, body: Body) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let mb = mailbox.clone();
    let writer = tokio::task::spawn_blocking(move || -> fateflow_federation::Result<bool> {
        let mut w = mb.writer(key)?;
        while let Some(piece) = rx.blocking_recv() {
            w.write(&piece)?;
        }
        w.finish()
    });
    let mut stream = body.into_data_stream();
    let mut read_error = None;
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(p) => {
                if tx.send(p).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    if let Some(e) = read_error {
        // Dropping the writer without finishing discards the partial message.
        writer.abort();
        return refuse(StatusCode::BAD_REQUEST, format!("reading the message: {e}"));
    }
    match writer.await {
        Ok(Ok(_)) => Reply::ok(serde_json::Value::Null).into_response(),
        Ok(Err(e @ fateflow_federation::Error::Quota { .. })) => {
            refuse(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
        }
        Ok(Err(e)) => refuse(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn pull(
    State(s): State<FederationState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = loopback_only(&s, peer) {
        return *r;
    }
    let key = match parse_key(&q) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Err(r) = authorize(&s, &headers, &key, key.dst, "pull").await {
        return *r;
    }
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(30_000).min(60_000));
    match s.mailbox.get_delivered(&key, wait).await {
        Ok(Delivered::Memory(bytes)) => bytes.into_response(),
        Ok(Delivered::File(path)) => match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let len = file.metadata().await.map(|m| m.len()).ok();
                let stream =
                    futures_util::stream::unfold((Some(file), path), |(file, path)| async move {
                        use tokio::io::AsyncReadExt;
                        let mut file = file?;
                        let mut buf = vec![0u8; 256 << 10];
                        match file.read(&mut buf).await {
                            Ok(0) => {
                                let _ = tokio::fs::remove_file(&path).await;
                                None
                            }
                            Ok(n) => {
                                buf.truncate(n);
                                Some((
                                    Ok::<_, std::io::Error>(Bytes::from(buf)),
                                    (Some(file), path),
                                ))
                            }
                            Err(e) => {
                                let _ = tokio::fs::remove_file(&path).await;
                                Some((Err(e), (None, path)))
                            }
                        }
                    });
                let mut resp = Body::from_stream(stream).into_response();
                if let Some(len) = len {
                    resp.headers_mut()
                        .insert(axum::http::header::CONTENT_LENGTH, len.into());
                }
                resp
            }
            Err(e) => refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("spilled message {}: {e}", path.display()),
            ),
        },
        Err(fateflow_federation::Error::Timeout { .. }) => {
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn health(State(s): State<FederationState>) -> Response {
    let Some(peers) = s.peers.clone() else {
        return Reply::ok(serde_json::json!({
            "gateway": false,
            "parties": [],
            "message": "standalone site: no routes configured",
        }))
        .into_response();
    };
    let src = s
        .app
        .controller
        .config()
        .parties
        .first()
        .copied()
        .unwrap_or(0);
    let parties = fateflow_gateway::health::check_all(&peers, src).await;
    let all_ok = parties.iter().all(|p| p.ok);
    let mut data = serde_json::json!({"gateway": true, "ok": all_ok, "parties": parties});
    if s.queue.is_some() || s.queue_stats.is_some() {
        use std::sync::atomic::Ordering::Relaxed;
        let published = s.queue.as_ref().map(|q| q.published.load(Relaxed));
        let received = s.queue_stats.as_ref().map(|st| {
            serde_json::json!({"messages": st.messages.load(Relaxed), "duplicates": st.duplicates.load(Relaxed),
                               "refused": st.refused.load(Relaxed)})
        });
        data["rabbitmq"] = serde_json::json!({"chunks_published": published, "received": received});
    }
    if all_ok {
        Reply::ok(data).into_response()
    } else {
        let failed: Vec<String> = parties
            .iter()
            .filter(|p| !p.ok)
            .map(|p| {
                format!(
                    "party {}: {}",
                    p.party_id,
                    p.error.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        Reply::err(RetCode::FederatedError, failed.join("; "))
            .data(data)
            .into_response()
    }
}

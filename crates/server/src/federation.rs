//! The site's data-plane routes for its task processes: `push` delivers a message to
//! the receiving party's mailbox, `pull` waits for one. Loopback only. A message for a
//! party this site does not host needs the site gateway (not built yet) and is refused
//! with a message saying so.

use crate::api::{AppState, Reply};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fateflow_domain::retcode::RetCode;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Key, Mailbox};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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

fn parse_key(q: &KeyQuery) -> Result<Key, String> {
    let party = |role: &str, id: &str| -> Result<Party, String> {
        let role: Role = role
            .parse()
            .map_err(|e: fateflow_domain::UnknownRole| e.to_string())?;
        let party_id = id
            .parse()
            .map_err(|_| format!("party id `{id}` is not a number"))?;
        Ok(Party { role, party_id })
    };
    let key = Key {
        session: q.session.clone(),
        name: q.name.clone(),
        tag: q.tag.clone(),
        src: party(&q.src_role, &q.src_party_id)?,
        dst: party(&q.dst_role, &q.dst_party_id)?,
    };
    key.validate().map_err(|e| e.to_string())?;
    Ok(key)
}

/// The routes, over the site's mailbox.
pub fn router(state: AppState, mailbox: Arc<Mailbox>) -> Router {
    Router::new()
        .route("/v1/federation/push", post(push))
        .route("/v1/federation/pull", post(pull))
        // axum's 2 MiB default would cut large variables (30k RSA values are ~15 MB).
        .layer(axum::extract::DefaultBodyLimit::max(
            fateflow_federation::MAX_MESSAGE_BYTES,
        ))
        .with_state((state, mailbox))
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Reply::err(RetCode::FederatedError, msg)).into_response()
}

async fn push(
    State((s, mailbox)): State<(AppState, Arc<Mailbox>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<KeyQuery>,
    body: Bytes,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(
            StatusCode::FORBIDDEN,
            "federation routes accept only this machine's task processes",
        );
    }
    let key = match parse_key(&q) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    if !s.controller.hosts(key.dst.party_id) {
        return refuse(
            StatusCode::BAD_GATEWAY,
            format!(
                "party {} is not hosted by this site and the site gateway is not configured",
                key.dst
            ),
        );
    }
    match mailbox.put(key, body.to_vec()) {
        Ok(_) => Reply::ok(serde_json::Value::Null).into_response(),
        Err(e) => refuse(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn pull(
    State((_s, mailbox)): State<(AppState, Arc<Mailbox>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<KeyQuery>,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(
            StatusCode::FORBIDDEN,
            "federation routes accept only this machine's task processes",
        );
    }
    let key = match parse_key(&q) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(30_000).min(60_000));
    match mailbox.get(&key, wait).await {
        Ok(bytes) => bytes.into_response(),
        Err(fateflow_federation::Error::Timeout { .. }) => {
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

//! Several servers per site: `/v1/cluster/status` (who is registered, who holds the
//! scheduler lease), `/v1/cluster/leader` (200 on the holder only, for a load
//! balancer's health check), and the forwarding of requests that need the scheduler.

use super::*;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::json;

/// An instance that has not heartbeated for this long is shown as not alive.
const ALIVE_MS: i64 = 5_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/cluster/status", post_route(status))
}

/// Unauthenticated: a load balancer's health check sends the gateway and the API to
/// the lease holder (its mailbox holds the federation messages of running tasks).
pub(super) fn public_routes() -> Router<AppState> {
    Router::new().route("/v1/cluster/leader", get(leader))
}

async fn leader(State(s): State<AppState>) -> Response {
    let g = &s.gate;
    let body = json!({
        "instance_id": g.instance_id(),
        "leading": g.is_leading(),
        "epoch": g.epoch(),
    });
    let code = if g.is_leading() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn status(State(s): State<AppState>) -> Response {
    let g = &s.gate;
    if !g.is_clustered() {
        return Reply::ok(json!({
            "clustered": false,
            "leading": true,
            "instances": [],
        }))
        .into_response();
    }
    let (instances, now) = match s.store.list_instances().await {
        Ok(v) => v,
        Err(e) => {
            return Reply::err(RetCode::ExceptionError, format!("listing instances: {e}"))
                .into_response()
        }
    };
    let lease = s
        .store
        .lease_state(fateflow_storage::SCHEDULER_LEASE)
        .await
        .ok()
        .flatten();
    let holder = lease
        .as_ref()
        .filter(|l| l.held())
        .map(|l| l.holder.clone());
    let list: Vec<Value> = instances
        .iter()
        .map(|i| {
            json!({
                "instance_id": i.instance_id,
                "slot": i.slot,
                "host": i.host,
                "address": i.address,
                "pid": i.pid,
                "version": i.version,
                "alive": now - i.heartbeat_at <= ALIVE_MS,
                "heartbeat_age_ms": now - i.heartbeat_at,
                "leader": holder.as_deref() == Some(i.instance_id.as_str()),
            })
        })
        .collect();
    Reply::ok(json!({
        "clustered": true,
        "instance_id": g.instance_id(),
        "leading": g.is_leading(),
        "epoch": g.epoch(),
        "lease": lease.map(|l| json!({
            "holder": l.holder,
            "epoch": l.epoch,
            "expires_in_ms": l.expires_at - l.now,
        })),
        "instances": list,
    }))
    .into_response()
}

/// What a forwarded request keeps of the client's headers (lowercase).
const FORWARDED_HEADERS: [&str; 6] = [
    "timestamp",
    "nonce",
    "app_key",
    "signature",
    "content-type",
    "cookie",
];

/// For a request the scheduler's holder must handle: `None` when this server holds
/// the lease (or runs alone), else the holder's answer to the same request (its
/// headers carry the client's signature, which the holder checks again).
pub(super) async fn forward(
    s: &AppState,
    route: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    let target = match s.gate.forward_to()? {
        Ok(t) => t,
        Err(why) => {
            return Some(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                RetCode::ServerError,
                why,
            ))
        }
    };
    let url = format!("{}{API_PREFIX}{route}", target.trim_end_matches('/'));
    let mut req = s.http.post(&url).body(body.clone());
    for (name, value) in headers {
        if FORWARDED_HEADERS.contains(&name.as_str()) {
            req = req.header(name, value);
        }
    }
    let answer = async {
        let r = req
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await?;
        let status = r.status();
        let bytes = r.bytes().await?;
        Ok::<_, reqwest::Error>((status, bytes))
    };
    Some(match answer.await {
        Ok((status, bytes)) => {
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                bytes,
            )
                .into_response()
        }
        Err(e) => error_response(
            StatusCode::BAD_GATEWAY,
            RetCode::ServerError,
            format!(
                "this server forwards {route} to the scheduler lease's holder at {target}, which did not answer: {e}"
            ),
        ),
    })
}

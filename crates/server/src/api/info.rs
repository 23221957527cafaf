//! `/v1/version/get`, `/v1/server/*`, `/v1/info/*`, `/v1/component/*`.

use super::{body_object, error_response, post_route, str_field, AppState, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fateflow_domain::retcode::RetCode;
use serde_json::json;

/// The FATE version whose API we follow.
pub(crate) const FATE_VERSION: &str = "1.11.4";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/version/get", post_route(version))
        .route("/info/version", post_route(version))
        .route("/server/version/get", post_route(versions))
        .route("/info/common", post_route(common))
        .route("/server/fateflow/info", post_route(common))
        .route("/component/get", post_route(components))
        .route("/component/list", post_route(components))
}

async fn version(body: Bytes) -> Response {
    let body = body_object(&body);
    let module = str_field(&body, "module").unwrap_or_else(|| "FATE".into());
    let v = match module.as_str() {
        "FATE" => FATE_VERSION,
        "FATEFlow" | "fateflow-rs" => env!("CARGO_PKG_VERSION"),
        _ => {
            return error_response(
                StatusCode::NOT_FOUND,
                RetCode::ArgumentError,
                format!("unknown module {module}"),
            )
        }
    };
    Reply::ok(json!({module: v, "API": "v1"})).into_response()
}

async fn versions() -> Response {
    Reply::ok(json!({"FATE": FATE_VERSION, "FATEFlow": env!("CARGO_PKG_VERSION"), "fateflow-rs": env!("CARGO_PKG_VERSION"), "API": "v1"})).into_response()
}

async fn common(State(s): State<AppState>) -> Response {
    let cfg = s.controller.config();
    Reply::ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "fate_version": FATE_VERSION,
        "host": s.listen.ip().to_string(),
        "http_port": s.listen.port(),
        "party_id": cfg.parties.first(),
        "parties": cfg.parties,
        "cores_per_party": cfg.cores,
        "memory_mb_per_party": cfg.memory,
        "uptime_s": s.started.elapsed().as_secs(),
    }))
    .into_response()
}

async fn components() -> Response {
    let implemented: Vec<&str> = fateflow_components::registry().modules().collect();
    let all: Vec<serde_json::Value> = fateflow_domain::module::MODULES
        .iter()
        .map(|m| {
            json!({
                "module": m.name,
                "aliases": m.aliases,
                "roles": m.roles,
                "implemented": implemented.contains(&m.name),
            })
        })
        .collect();
    Reply::ok(json!({"components": all})).into_response()
}

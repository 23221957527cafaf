//! The FATE-Flow 1.x `/v1` HTTP API.
//!
//! Routes are grouped by caller: `client` routes (what `flow` calls, behind client
//! authentication) and `worker` routes (task processes of this site, loopback only).
//! Every handler reads its body as JSON whatever the Content-Type, ignores unknown
//! fields, and answers with FATE's envelope `{retcode, retmsg, data, jobId}`.

mod auth;
mod data;
mod dicts;
mod info;
mod job;
mod model;
mod table;
mod tracking;
mod worker;

pub use auth::Auth;
pub(crate) use auth::{client_auth, SESSION_COOKIE};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use fateflow_domain::retcode::RetCode;
use fateflow_scheduler::{PartyController, Scheduler};
use fateflow_storage::MetadataStore;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the API is mounted (FATE-Flow 1.x `API_VERSION`).
pub(crate) const API_PREFIX: &str = "/v1";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Metadata.
    pub store: Arc<dyn MetadataStore>,
    /// The initiator's scheduler.
    pub scheduler: Arc<Scheduler>,
    /// The party side.
    pub controller: Arc<PartyController>,
    /// Table files.
    pub tables: Arc<fateflow_tables::LocalTableStore>,
    /// The data dir.
    pub data_dir: PathBuf,
    /// Where server-side files may be read and written.
    pub file_root: Option<PathBuf>,
    /// Client authentication.
    pub auth: Arc<Auth>,
    /// When the site started.
    pub started: std::time::Instant,
    /// The address the API listens on.
    pub listen: SocketAddr,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let client = Router::new()
        .merge(job::routes())
        .merge(model::routes())
        .merge(data::routes())
        .merge(table::routes())
        .merge(tracking::routes())
        .merge(info::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::client_auth,
        ));
    Router::new()
        .nest(API_PREFIX, client.merge(worker::routes()))
        .route("/v1/{*rest}", any(unknown_route))
        .layer(axum::extract::DefaultBodyLimit::max(8 << 30))
        .with_state(state)
}

async fn unknown_route(uri: axum::http::Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        RetCode::ArgumentError,
        format!("no such API: {}", uri.path()),
    )
}

/// FATE's envelope.
#[derive(Debug, Default)]
pub struct Reply {
    retcode: i32,
    retmsg: String,
    data: Option<Box<Value>>,
    job_id: Option<String>,
    meta: Option<Box<Value>>,
}

impl Reply {
    /// `retcode 0, retmsg "success"` with data.
    pub fn ok(data: Value) -> Self {
        Self {
            retcode: 0,
            retmsg: "success".into(),
            data: Some(Box::new(data)),
            ..Default::default()
        }
    }

    /// A failure with a FATE code.
    pub fn err(code: RetCode, msg: impl Into<String>) -> Self {
        Self {
            retcode: code.code(),
            retmsg: msg.into(),
            ..Default::default()
        }
    }

    /// Replaces the message.
    pub fn msg(mut self, msg: impl Into<String>) -> Self {
        self.retmsg = msg.into();
        self
    }

    /// Sets the top-level `jobId`.
    pub fn job(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Sets `data`.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }

    /// Sets `meta`.
    pub fn meta(mut self, meta: Value) -> Self {
        self.meta = Some(Box::new(meta));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("retcode".into(), Value::from(self.retcode));
        body.insert("retmsg".into(), Value::from(self.retmsg));
        if let Some(d) = self.data.filter(|d| !d.is_null()) {
            body.insert("data".into(), *d);
        }
        if let Some(j) = self.job_id {
            body.insert("jobId".into(), Value::from(j));
        }
        if let Some(m) = self.meta.filter(|m| !m.is_null()) {
            body.insert("meta".into(), *m);
        }
        axum::Json(Value::Object(body)).into_response()
    }
}

/// An error envelope with an HTTP status equal to its meaning (FATE's `error_response`).
pub fn error_response(status: StatusCode, code: RetCode, msg: impl Into<String>) -> Response {
    let body = serde_json::json!({"retcode": code.code(), "retmsg": msg.into()});
    (status, axum::Json(body)).into_response()
}

/// A request body as a JSON object: anything unparsable or not an object is empty.
pub fn body_object(bytes: &Bytes) -> Map<String, Value> {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// Checks required fields the FATE way: retcode 101 naming every missing one.
pub fn require(body: &Map<String, Value>, fields: &[&str]) -> Result<(), Reply> {
    let missing: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| {
            body.get(*f)
                .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Reply::err(
            RetCode::ArgumentError,
            format!("required argument are missing: {}", missing.join(",")),
        ))
    }
}

/// A string field (numbers are accepted and rendered).
pub fn str_field(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer field given as a number or a numeric string.
pub fn int_field(body: &Map<String, Value>, key: &str) -> Option<i64> {
    match body.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// A boolean field given as a bool, a number or a string.
pub fn bool_field(body: &Map<String, Value>, key: &str) -> Option<bool> {
    match body.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A role field.
pub fn role_field(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<fateflow_domain::Role>, Reply> {
    match str_field(body, key) {
        None => Ok(None),
        Some(r) => r
            .parse()
            .map(Some)
            .map_err(|e: fateflow_domain::UnknownRole| {
                Reply::err(RetCode::ArgumentError, format!("{key}: {e}"))
            }),
    }
}

/// Storage failures become retcode 100 with the message; details go to the log.
pub fn internal(e: impl std::fmt::Display) -> Reply {
    tracing::error!(error = %e, "request failed");
    Reply::err(RetCode::ExceptionError, e.to_string())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    fateflow_scheduler::clock::now_ms()
}

pub(crate) type Handler = Result<Reply, Reply>;

/// Turns a handler result into a response.
pub(crate) fn respond(r: Handler) -> Response {
    match r {
        Ok(r) | Err(r) => r.into_response(),
    }
}

pub(crate) fn post_route<H, T>(h: H) -> axum::routing::MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    post(h.clone()).get(h)
}

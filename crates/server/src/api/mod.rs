//! The FATE-Flow 1.x `/v1` HTTP API.
//!
//! Routes are grouped by caller: `client` routes (what `flow` calls, behind client
//! authentication) and `worker` routes (task processes of this site, loopback only).
//! Every handler reads its body as JSON, ignores unknown fields, and answers with
//! FATE's envelope `{retcode, retmsg, data, jobId}`. Before a client handler runs,
//! [`auth::client_auth`] has checked the headers and then the signature, and [`guard`]
//! has checked the body: JSON (or a signed form) up to [`JSON_BODY_LIMIT`], an object,
//! identifiers in the grammar of `fateflow_domain::ident`; multipart only on the two
//! routes that stream a file.

mod auth;
mod cluster;
mod data;
mod dicts;
mod info;
mod job;
mod model;
mod output_archive;
mod output_view;
mod permission;
mod table;
mod tracking;
mod worker;

pub use auth::Auth;
pub(crate) use auth::{client_auth, SESSION_COOKIE};
pub(crate) use worker::{task_token, token_refusal};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use fateflow_api_types::{Envelope, RetCode};
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
    /// What partner sites may use here.
    pub permissions: Arc<fateflow_scheduler::permission::PermissionGate>,
    /// Online inference.
    pub serving: Arc<crate::serving::Serving>,
    /// Whether this server holds the scheduler lease (always, alone).
    pub gate: Arc<fateflow_scheduler::cluster::LeaderGate>,
    /// Forwards requests to the lease holder.
    pub http: reqwest::Client,
    /// Who may call the worker and federation routes (set by the launcher).
    pub task_callers: crate::launchers::TaskCallers,
}

/// Largest JSON (or form) body of a client route.
pub(crate) const JSON_BODY_LIMIT: usize = 16 << 20;
/// Largest body of a task process's report (models included).
const WORKER_BODY_LIMIT: usize = 256 << 20;
/// Largest upload (streamed to disk).
const UPLOAD_BODY_LIMIT: usize = 8 << 30;
/// The upload route, whose multipart body streams unsigned (as in FATE).
pub(crate) const UPLOAD_ROUTE: &str = "/v1/data/upload";
/// The only routes that take a multipart body.
pub(crate) const MULTIPART_ROUTES: [&str; 2] = [UPLOAD_ROUTE, "/v1/model/import"];

/// The whole API.
pub fn router(state: AppState) -> Router {
    use axum::extract::DefaultBodyLimit;
    let client = Router::new()
        .merge(job::routes())
        .merge(model::routes())
        .merge(data::routes().layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
        .merge(table::routes())
        .merge(tracking::routes())
        .merge(info::routes())
        .merge(permission::routes())
        .merge(cluster::routes())
        .merge(crate::serving::client_routes())
        .layer(axum::middleware::from_fn(guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::client_auth,
        ));
    let worker = worker::routes().layer(DefaultBodyLimit::max(WORKER_BODY_LIMIT));
    let serving = crate::serving::routes().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::client_auth,
    ));
    Router::new()
        .nest(API_PREFIX, client.merge(worker))
        .merge(serving)
        .merge(cluster::public_routes())
        .route("/v1/{*rest}", any(unknown_route))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state)
}

/// The declared body size, if any.
pub(crate) fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// 413 naming the route's limit.
pub(crate) fn too_large(route: &str, limit: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        RetCode::ArgumentError,
        format!(
            "request body too large: {route} accepts at most {} MiB",
            limit >> 20
        ),
    )
}

/// 415 for a multipart body on a route that takes JSON.
pub(crate) fn multipart_refused(route: &str) -> Response {
    error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        RetCode::ArgumentError,
        format!(
            "{route} takes a JSON body, not multipart/form-data (multipart is accepted only by {})",
            MULTIPART_ROUTES.join(" and ")
        ),
    )
}

/// Why a request was refused before its handler ran: a foreign Origin, a body that
/// is not a JSON object, an identifier outside the grammar, a bad import body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A page of another site sent the request (`Origin`). Both values are escaped.
    #[error("Origin `{origin}` refused: only pages of this site (http://{host}) may call its API")]
    ForeignOrigin {
        /// The `Origin` header.
        origin: String,
        /// The `Host` the request was sent to.
        host: String,
    },
    /// The body is JSON but not an object (`an array`, `null`, ...).
    #[error("the request body must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// An identifier field holds an array, object or boolean (its start is shown).
    #[error("{field}: expected a string, got {found}")]
    NotAString {
        /// The field.
        field: &'static str,
        /// The value as JSON, at most 64 characters.
        found: String,
    },
    /// An id breaks the identifier grammar.
    #[error(transparent)]
    InvalidId(#[from] fateflow_domain::ident::InvalidId),
    /// `role` is not a role (escaped).
    #[error("role `{0}`: expected one of guest, host, arbiter, local")]
    Role(String),
    /// `party_id` is not a non-negative integer (escaped).
    #[error("party_id `{0}`: expected a non-negative integer")]
    PartyId(String),
    /// A multipart body whose Content-Type names no boundary.
    #[error("multipart/form-data without a boundary")]
    NoBoundary,
    /// The text fields of a model import do not end within the limit (bytes).
    #[error("the text fields of a model import must come before the archive and stay under {} KiB", .limit >> 10)]
    ImportFieldsTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read.
    #[error("cannot read the request body: {0}")]
    Body(#[source] axum::Error),
}

impl RequestError {
    /// FATE's return code: 108 for a foreign Origin, 101 for the rest.
    pub fn retcode(&self) -> RetCode {
        match self {
            RequestError::ForeignOrigin { .. } => RetCode::PermissionError,
            _ => RetCode::ArgumentError,
        }
    }
}

/// The message, for handlers that answer with a plain string.
impl From<RequestError> for String {
    fn from(e: RequestError) -> String {
        e.to_string()
    }
}

/// A browser's `Origin`, when sent, must be the site the request is addressed to:
/// no other page can make a user's browser act on this API.
pub(crate) fn same_origin(headers: &axum::http::HeaderMap, host: &str) -> Result<(), RequestError> {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let own = ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|h| h.eq_ignore_ascii_case(host))
    });
    if own && !host.is_empty() {
        Ok(())
    } else {
        Err(RequestError::ForeignOrigin {
            origin: origin.escape_debug().to_string(),
            host: host.escape_debug().to_string(),
        })
    }
}

/// The Host a request was sent to (the header, or the URI's authority).
pub(crate) fn request_host(req: &axum::extract::Request) -> String {
    req.headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// The body checks of every client route, after authentication: the Origin, multipart
/// only where it belongs, the size limit, a JSON object (or a signed form), and the
/// identifiers that become paths or queries.
pub(crate) async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = auth::signed_path(req.uri().path());
    let host = request_host(&req);
    if let Err(e) = same_origin(req.headers(), &host) {
        return error_response(StatusCode::FORBIDDEN, e.retcode(), e.to_string());
    }
    let content_type = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        if MULTIPART_ROUTES.contains(&route.as_str()) {
            return next.run(req).await;
        }
        return multipart_refused(&route);
    }
    if content_length(req.headers()).is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
        return too_large(&route, JSON_BODY_LIMIT);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, JSON_BODY_LIMIT).await else {
        return too_large(&route, JSON_BODY_LIMIT);
    };
    let object = if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(form_object(&bytes))
    } else {
        parse_object(&bytes)
    };
    let checked = object.and_then(|m| check_identifiers(&m));
    if let Err(e) = checked {
        return error_response(StatusCode::BAD_REQUEST, e.retcode(), e.to_string());
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// A body as a JSON object: empty is `{}`; anything else must parse to an object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, RequestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(RequestError::NotAnObject(match other {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        })),
        Err(e) => Err(RequestError::InvalidJson(e)),
    }
}

/// A urlencoded form as an object of strings.
fn form_object(bytes: &[u8]) -> Map<String, Value> {
    fateflow_api_types::signing::form_fields(&String::from_utf8_lossy(bytes))
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// The identifier fields of a request body, checked against the one grammar: ids
/// that name files, roles that exist, numeric party ids. Absent, null or empty
/// fields are left to the handlers' own "required" checks.
pub fn check_identifiers(body: &Map<String, Value>) -> Result<(), RequestError> {
    use fateflow_domain::ident::{check, IdKind};
    const IDS: [(&str, IdKind); 5] = [
        ("job_id", IdKind::JobId),
        ("component_name", IdKind::Component),
        ("task_id", IdKind::TaskId),
        ("model_id", IdKind::ModelId),
        ("model_version", IdKind::ModelVersion),
    ];
    let text = |key: &'static str| -> Result<Option<String>, RequestError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(RequestError::NotAString {
                field: key,
                found: other.to_string().chars().take(64).collect(),
            }),
        }
    };
    for (key, kind) in IDS {
        if let Some(v) = text(key)? {
            check(kind, &v)?;
        }
    }
    // FATE's publish confs (`model/load`, `model/bind`) give `role` as the job's
    // `{role: [party ids]}`; only a role name is checked here.
    if !matches!(body.get("role"), Some(Value::Object(_))) {
        if let Some(r) = text("role")? {
            r.parse::<fateflow_domain::Role>()
                .map_err(|_| RequestError::Role(r.escape_debug().to_string()))?;
        }
    }
    if let Some(p) = text("party_id")? {
        if p.is_empty() || p.len() > 20 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RequestError::PartyId(p.escape_debug().to_string()));
        }
    }
    Ok(())
}

async fn unknown_route(uri: axum::http::Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        RetCode::ArgumentError,
        format!("no such API: {}", uri.path()),
    )
}

/// FATE's envelope ([`Envelope`]) as an answer.
#[derive(Debug, Default)]
pub struct Reply(Box<Envelope>);

impl Reply {
    /// `retcode 0, retmsg "success"` with data.
    pub fn ok(data: Value) -> Self {
        Self(Box::new(Envelope::ok(data)))
    }

    /// A failure with a FATE code.
    pub fn err(code: RetCode, msg: impl Into<String>) -> Self {
        Self(Box::new(Envelope::err(code, msg)))
    }

    /// Replaces the message.
    pub fn msg(mut self, msg: impl Into<String>) -> Self {
        self.0.retmsg = msg.into();
        self
    }

    /// Sets the top-level `jobId`.
    pub fn job(mut self, job_id: impl Into<String>) -> Self {
        self.0.job_id = Some(job_id.into());
        self
    }

    /// Sets `data`.
    pub fn data(mut self, data: Value) -> Self {
        self.0.data = Some(data);
        self
    }

    /// Sets `meta`.
    pub fn meta(mut self, meta: Value) -> Self {
        self.0.meta = Some(meta);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        axum::Json(*self.0).into_response()
    }
}

/// An error envelope with an HTTP status equal to its meaning (FATE's `error_response`).
pub fn error_response(status: StatusCode, code: RetCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(Envelope::err(code, msg))).into_response()
}

/// A request body as a JSON object. Client routes never see a malformed one here:
/// [`guard`] answers it with retcode 101 first; for the others it reads as empty.
pub fn body_object(bytes: &Bytes) -> Map<String, Value> {
    parse_object(bytes).unwrap_or_default()
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

/// A typed body ([`fateflow_api_types::requests`]) from a body object: retcode 101
/// naming the field and what it expected when a value does not fit.
pub fn typed<T: serde::de::DeserializeOwned>(body: &Map<String, Value>) -> Result<T, Reply> {
    fateflow_api_types::lenient::from_object(body)
        .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))
}

/// FATE's publish confs (`model/load`, `model/bind`) give the model in
/// `job_parameters` (or its `common` block): that object, empty when absent.
pub fn job_parameters(body: &Map<String, Value>) -> Map<String, Value> {
    body.get("job_parameters")
        .and_then(Value::as_object)
        .map(|p| {
            p.get("common")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| p.clone())
        })
        .unwrap_or_default()
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
    parse_role(key, str_field(body, key).as_deref())
}

/// A role given by name in `field`; absent or empty is none.
pub fn parse_role(field: &str, role: Option<&str>) -> Result<Option<fateflow_domain::Role>, Reply> {
    match role.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => r
            .parse()
            .map(Some)
            .map_err(|e: fateflow_domain::UnknownRole| {
                Reply::err(RetCode::ArgumentError, format!("{field}: {e}"))
            }),
    }
}

/// Internal failures (store, I/O) become retcode 100 with a short message and a
/// reference; the full error goes to the log line carrying the same reference.
pub fn internal(e: impl std::fmt::Display) -> Reply {
    let reference = error_reference();
    tracing::error!(reference = %reference, error = %e, "request failed");
    Reply::err(
        RetCode::ExceptionError,
        format!("internal error, reference {reference}"),
    )
}

/// 8 hex digits, unpredictable and unlikely to repeat: a per-process random hasher
/// over the time and a counter.
fn error_reference() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = KEYS.get_or_init(Default::default).build_hasher();
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    format!("{:08x}", h.finish() as u32)
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

#[cfg(test)]
mod internal_tests {
    use super::*;

    #[test]
    fn internal_errors_answer_a_reference_not_the_cause() {
        let a = internal("database disk image is malformed at /data/fateflow.db");
        let b = internal("database disk image is malformed at /data/fateflow.db");
        assert_eq!(a.0.retcode, 100);
        let reference =
            a.0.retmsg
                .strip_prefix("internal error, reference ")
                .unwrap();
        assert_eq!(reference.len(), 8, "{}", a.0.retmsg);
        assert!(reference.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!a.0.retmsg.contains("malformed"));
        assert_ne!(
            a.0.retmsg, b.0.retmsg,
            "each failure gets its own reference"
        );
    }
}

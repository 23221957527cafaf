//! The Board: a web UI for jobs, DAGs, tasks, logs and metric charts, served by the
//! site itself at `/`. Plain HTML, CSS and JavaScript checked in under
//! `assets/board/` (no JavaScript toolchain in the build); the pages read the same
//! `/v1` API as `flow`, plus `/v1/board/log` to follow task logs.

use crate::api::{AppState, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use fateflow_domain::retcode::RetCode;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};

const INDEX: &str = include_str!("../../assets/board/index.html");
const APP_JS: &str = include_str!("../../assets/board/app.js");
const APP_CSS: &str = include_str!("../../assets/board/app.css");

/// Largest log chunk returned by one call.
const LOG_CHUNK: u64 = 256 << 10;

/// The Board's routes.
pub fn router(state: AppState) -> Router {
    // The Board's data routes pass the same checks as the API's client routes.
    let api = |r: axum::routing::MethodRouter<AppState>| {
        r.layer(axum::middleware::from_fn(crate::api::guard)).layer(
            axum::middleware::from_fn_with_state(state.clone(), crate::api::client_auth),
        )
    };
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route(
            "/board/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/board/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/v1/board/log", api(post(log).get(log)))
        .route("/v1/board/models", api(post(models)))
        .route("/v1/board/table/preview", api(post(table_preview)))
        .route("/v1/board/login", post(login))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Only the Board's own files may run or style its pages (no inline script or style),
/// it may not be framed, and browsers must not guess content types.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// The newest component models with their deploy status. Model deployment does
/// not exist yet, so every model is reported `not deployed`.
async fn models(State(s): State<AppState>) -> Response {
    match s.store.list_component_models(200).await {
        Ok(list) => {
            let rows: Vec<Value> = list
                .iter()
                .map(|m| {
                    json!({
                        "job_id": m.owner.job_id, "component_name": m.owner.component_name,
                        "role": m.owner.role, "party_id": m.owner.party_id, "task_version": m.owner.task_version,
                        "module": m.module, "model_alias": m.model_alias, "create_time": m.create_time,
                        "deploy_status": "not deployed",
                    })
                })
                .collect();
            Reply::ok(Value::Array(rows)).into_response()
        }
        Err(e) => crate::api::internal(e).into_response(),
    }
}

/// The first rows of a table (`{namespace, name, limit}`).
async fn table_preview(State(s): State<AppState>, body: Bytes) -> Response {
    let body = crate::api::body_object(&body);
    let ns = crate::api::str_field(&body, "namespace").unwrap_or_default();
    let name = crate::api::str_field(&body, "name")
        .or_else(|| crate::api::str_field(&body, "table_name"))
        .unwrap_or_default();
    let limit = crate::api::int_field(&body, "limit")
        .filter(|l| *l > 0)
        .unwrap_or(20)
        .min(1000) as usize;
    let id = match fateflow_tables::TableId::new(&ns, &name) {
        Ok(id) => id,
        Err(e) => return Reply::err(RetCode::ArgumentError, e.to_string()).into_response(),
    };
    let tables = s.tables.clone();
    let frame =
        tokio::task::spawn_blocking(move || fateflow_tables::read_all(tables.as_ref(), &id)).await;
    match frame {
        Ok(Ok(f)) => {
            let mut header = vec![f.sid_name().to_string()];
            header.extend(f.columns().iter().cloned());
            let rows: Vec<Value> = (0..f.nrows().min(limit))
                .map(|i| {
                    let mut row = vec![json!(f.sids()[i])];
                    row.extend(f.row(i).iter().map(|v| json!(v)));
                    Value::Array(row)
                })
                .collect();
            Reply::ok(json!({"header": header, "rows": rows, "total": f.nrows()})).into_response()
        }
        Ok(Err(e)) => Reply::err(RetCode::ArgumentError, e.to_string()).into_response(),
        Err(e) => crate::api::internal(e).into_response(),
    }
}

/// Board login when client authentication is on: the app key and secret key give a
/// session cookie (HttpOnly, SameSite=Strict) that the API accepts in place of
/// signed headers. Failures are throttled per client address: after a few, each
/// further try must wait, twice as long after every failure (HTTP 429).
async fn login(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    if !s.auth.enabled() {
        return Reply::ok(json!({"required": false})).into_response();
    }
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = crate::api::now_ms();
    if let Some(wait) = s.auth.login_wait_ms(ip, now) {
        let secs = (wait + 999) / 1000;
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            Reply::err(
                RetCode::AuthenticationError,
                format!("too many failed logins from {ip}: try again in {secs} s"),
            ),
        )
            .into_response();
    }
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 << 10).await else {
        return Reply::err(RetCode::ArgumentError, "the login body exceeds 64 KiB").into_response();
    };
    let body = crate::api::body_object(&body);
    let key = crate::api::str_field(&body, "app_key").unwrap_or_default();
    let secret = crate::api::str_field(&body, "secret_key").unwrap_or_default();
    let token = s.auth.login(&key, &secret);
    s.auth.login_result(ip, token.is_some(), now);
    match token {
        Some(token) => {
            let cookie = format!(
                "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200",
                crate::api::SESSION_COOKIE
            );
            (
                [(header::SET_COOKIE, cookie)],
                Reply::ok(json!({"required": true})),
            )
                .into_response()
        }
        None => {
            Reply::err(RetCode::AuthenticationError, "wrong app key or secret key").into_response()
        }
    }
}

/// A task's log from byte `offset`: `{lines, offset (next), size}`. Paths are built
/// from validated parts only, under `<data_dir>/logs`.
async fn log(State(s): State<AppState>, body: Bytes) -> Response {
    let body = crate::api::body_object(&body);
    let part = |k: &str| crate::api::str_field(&body, k).unwrap_or_default();
    let (job, role, party, cpn) = (
        part("job_id"),
        part("role"),
        part("party_id"),
        part("component_name"),
    );
    use fateflow_domain::ident::{check, safe_join, IdKind};
    let checked = (|| {
        check(IdKind::JobId, &job)?;
        check(IdKind::Component, &cpn)?;
        Ok::<_, fateflow_domain::ident::InvalidId>(())
    })()
    .map_err(|e| e.to_string())
    .and_then(|()| {
        role.parse::<fateflow_domain::Role>().map_err(|_| {
            format!(
                "role `{}`: expected one of guest, host, arbiter, local",
                role.escape_debug()
            )
        })?;
        if party.is_empty() || !party.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "party_id `{}`: expected a non-negative integer",
                party.escape_debug()
            ));
        }
        Ok(())
    });
    if let Err(msg) = checked {
        return Reply::err(RetCode::ArgumentError, msg).into_response();
    }
    let offset = crate::api::int_field(&body, "offset")
        .and_then(|o| u64::try_from(o).ok())
        .unwrap_or(0);
    let path = match safe_join(
        &s.data_dir,
        &[
            "logs",
            job.as_str(),
            role.as_str(),
            party.as_str(),
            cpn.as_str(),
            fateflow_executor::launcher::LOG_FILE,
        ],
    ) {
        Ok(p) => p,
        Err(e) => return Reply::err(RetCode::ArgumentError, e.to_string()).into_response(),
    };
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64, u64)> {
        let mut f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), 0, 0)),
            Err(e) => return Err(e),
        };
        let size = f.metadata()?.len();
        let start = offset.min(size);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        f.take(LOG_CHUNK).read_to_end(&mut buf)?;
        // Stop at the last complete line.
        let end = buf
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        buf.truncate(end);
        Ok((
            String::from_utf8_lossy(&buf).into_owned(),
            start + end as u64,
            size,
        ))
    })
    .await;
    match read {
        Ok(Ok((text, next, size))) => {
            let lines: Vec<Value> = text.lines().map(|l| json!(l)).collect();
            Reply::ok(json!({"lines": lines, "offset": next, "size": size})).into_response()
        }
        Ok(Err(e)) => crate::api::internal(e).into_response(),
        Err(e) => crate::api::internal(e).into_response(),
    }
}

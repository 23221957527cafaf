//! Routes for this site's task processes: status reports, heartbeats and tracking.
//! Only loopback peers (and, with the Kubernetes launcher, the pod networks) may
//! call them, and only with the token the site gave the task at launch (`X-Fateflow-Task-Token`), for that task's own path, while it runs.

use super::{body_object, internal, now_ms, respond, typed, AppState, Reply};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use fateflow_api_types::worker::{
    tracker, ComponentModelSave, MetricSave, OutputDataInfoSave, SummarySave, WorkerReport,
};
use fateflow_domain::retcode::RetCode;
use fateflow_domain::Role;
use fateflow_scheduler::controller::TokenError;
use fateflow_scheduler::PartyController;
use fateflow_storage::{ComponentModelRecord, MetricRecord, OutputDataRecord, TaskKey, TaskUpdate};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

pub(super) fn routes() -> Router<AppState> {
    let task = "/{job_id}/{component}/{task_id}/{task_version}/{role}/{party_id}";
    Router::new()
        .route(&format!("/party{task}/report"), post(report))
        .route(&format!("/tracker{task}/{{*what}}"), post(tracker))
}

#[derive(Debug, Deserialize)]
struct TrackerPath {
    #[serde(flatten)]
    task: TaskPath,
    what: String,
}

#[derive(Debug, Deserialize)]
struct TaskPath {
    job_id: String,
    component: String,
    task_id: String,
    task_version: String,
    role: String,
    party_id: String,
}

fn key_of(p: &TaskPath) -> Result<TaskKey, Reply> {
    let role: Role = p.role.parse().map_err(|e: fateflow_domain::UnknownRole| {
        Reply::err(RetCode::ArgumentError, e.to_string())
    })?;
    let bad = |what: &str, v: &str| {
        Reply::err(
            RetCode::ArgumentError,
            format!("{what} `{v}` in the path is not a number"),
        )
    };
    let task_version = p
        .task_version
        .parse()
        .map_err(|_| bad("task_version", &p.task_version))?;
    let party_id = p
        .party_id
        .parse()
        .map_err(|_| bad("party_id", &p.party_id))?;
    Ok(TaskKey {
        job_id: p.job_id.clone(),
        task_id: p.task_id.clone(),
        task_version,
        role,
        party_id,
    })
}

/// The task token of a request, if any.
pub(crate) fn task_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(fateflow_federation::TASK_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A refused token as a response: 401 without one, 403 with a wrong or spent one;
/// `context` (such as `push: `) starts the message.
pub(crate) fn token_refusal(e: &TokenError, context: &str) -> Response {
    let header = fateflow_federation::TASK_TOKEN_HEADER;
    match e {
        TokenError::Missing => super::error_response(
            StatusCode::UNAUTHORIZED,
            RetCode::AuthenticationError,
            format!("{context}{e} (header {header})"),
        ),
        TokenError::Refused(_) => super::error_response(
            StatusCode::FORBIDDEN,
            RetCode::PermissionError,
            format!("{context}{header}: {e}"),
        ),
    }
}

/// Checks the task token for the task named by the path.
async fn authorize(s: &AppState, p: &TaskPath, headers: &HeaderMap) -> Result<TaskKey, Response> {
    let key = key_of(p).map_err(|r| super::respond(Err(r)))?;
    s.controller
        .authorize_task(&key, &p.component, task_token(headers))
        .await
        .map_err(|e| {
            tracing::warn!(job_id = %key.job_id, task_id = %key.task_id, role = %key.role, party_id = key.party_id, reason = %e, "worker route refused a request");
            token_refusal(&e, "")
        })?;
    Ok(key)
}

fn local_only(s: &AppState, peer: SocketAddr) -> Result<(), Reply> {
    if s.task_callers.allows(peer.ip()) {
        Ok(())
    } else {
        Err(Reply::err(
            RetCode::AuthenticationError,
            format!("worker routes accept {}", s.task_callers.describe()),
        ))
    }
}

async fn report(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(p): Path<TaskPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = local_only(&s, peer) {
        return respond(Err(r));
    }
    let key = match authorize(&s, &p, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let body = body_object(&body);
    respond(
        async {
            let report: WorkerReport = typed(&body)?;
            let status = report.party_status;
            let update = TaskUpdate {
                run_pid: report.run_pid,
                error_report: report.error_report,
                // The component's classification; retries depend on it.
                error_kind: report.error_kind,
                ..Default::default()
            };
            let changed = s
                .controller
                .report_task(&key, status, update)
                .await
                .map_err(|r| Reply::err(RetCode::ExceptionError, r.message))?;
            Ok(Reply::ok(json!({"changed": changed})))
        }
        .await,
    )
}

async fn tracker(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(TrackerPath { task: p, what }): Path<TrackerPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = local_only(&s, peer) {
        return respond(Err(r));
    }
    let key = match authorize(&s, &p, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let body = body_object(&body);
    respond(
        async {
            let owner = PartyController::owner_of(&key, &p.component);
            let now = now_ms();
            match what.as_str() {
                tracker::METRIC_DATA_SAVE => {
                    let body: MetricSave = typed(&body)?;
                    let m = MetricRecord {
                        owner,
                        metric_namespace: body.metric_namespace,
                        metric_name: body.metric_name,
                        data: body.data,
                        meta: body.meta,
                        create_time: now,
                    };
                    s.store.insert_metric(&m).await.map_err(internal)?;
                }
                tracker::OUTPUT_DATA_INFO_SAVE => {
                    let body: OutputDataInfoSave = typed(&body)?;
                    let (ns, name) = (body.table_namespace, body.table_name);
                    // Keep table metadata beside the output info so table APIs see it.
                    if let Ok(id) = fateflow_tables::TableId::new(&ns, &name) {
                        let tables = s.tables.clone();
                        if let Ok(Ok(meta)) = tokio::task::spawn_blocking(move || {
                            fateflow_tables::table_meta(tables.as_ref(), &id)
                        })
                        .await
                        {
                            let _ = s
                                .store
                                .put_table_meta(&super::data::table_record(&meta, "output", now))
                                .await;
                        }
                    }
                    let d = OutputDataRecord {
                        owner,
                        data_name: body.data_name,
                        table_namespace: ns,
                        table_name: name,
                        description: String::new(),
                        create_time: now,
                    };
                    s.store.insert_output_data(&d).await.map_err(internal)?;
                }
                tracker::COMPONENT_MODEL_SAVE => {
                    let body: ComponentModelSave = typed(&body)?;
                    let m = ComponentModelRecord {
                        owner,
                        model_alias: body.model_alias,
                        module: body.module,
                        model: body.model,
                        create_time: now,
                    };
                    s.store.put_component_model(&m).await.map_err(internal)?;
                }
                tracker::SUMMARY_SAVE => {
                    let body: SummarySave = typed(&body)?;
                    s.store
                        .put_summary(&owner, &body.summary, now)
                        .await
                        .map_err(internal)?;
                }
                other => {
                    return Err(Reply::err(
                        RetCode::ArgumentError,
                        format!("unknown tracker call `{other}`"),
                    ))
                }
            }
            Ok(Reply::ok(Value::Null))
        }
        .await,
    )
}

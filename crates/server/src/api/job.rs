//! `/v1/job/*`: submit, query, list, stop, rerun, config, log download.

use super::dicts::{job_human, job_raw, task_human, task_raw};
use super::{
    body_object, error_response, internal, parse_role, post_route, require, respond, str_field,
    typed, AppState, Handler, Reply,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use fateflow_api_types::requests::{self, JobRerun, JobStop, JobSubmit, Paging};
use fateflow_domain::retcode::RetCode;
use fateflow_domain::Status;
use fateflow_scheduler::SubmitError;
use fateflow_storage::{JobFilter, TaskFilter};
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/job/submit", post_route(submit))
        .route("/job/query", post_route(query))
        .route("/job/list/job", post_route(list_jobs))
        .route("/job/list/task", post_route(list_tasks))
        .route("/job/task/query", post_route(query_tasks))
        .route("/job/stop", post_route(stop))
        .route("/job/rerun", post_route(rerun))
        .route("/job/config", post_route(config))
        .route("/job/log/download", post_route(log_download))
        .route("/job/log/path", post_route(log_path))
}

async fn submit(State(s): State<AppState>, body: Bytes) -> Response {
    respond(submit_inner(&s, body_object(&body)).await)
}

async fn submit_inner(s: &AppState, body: Map<String, Value>) -> Handler {
    let JobSubmit {
        job_dsl: dsl,
        job_runtime_conf: conf,
    } = typed(&body)?;
    if conf.is_null() {
        return Err(Reply::err(
            RetCode::ArgumentError,
            "required argument are missing: job_runtime_conf",
        ));
    }
    let predict = fateflow_domain::predict::job_type_of(&conf) == fateflow_domain::JobType::Predict;
    if dsl.is_null() && !predict {
        return Err(Reply::err(
            RetCode::ArgumentError,
            "required argument are missing: job_dsl",
        ));
    }
    match s.scheduler.submit(&dsl, &conf).await {
        Ok(r) => {
            let job_dir = s.data_dir.join("jobs").join(&r.job_id);
            let retmsg = if r.warnings.is_empty() {
                "success".to_string()
            } else {
                r.warnings.join("\n")
            };
            let data = json!({
                "job_id": r.job_id,
                "code": 0,
                "message": "success",
                "model_info": r.model_info,
                "logs_directory": r.logs_directory,
                "board_url": format!("http://{}/#/job/{}", s.listen, r.job_id),
                "dsl_path": job_dir.join("job_dsl.json"),
                "runtime_conf_path": job_dir.join("job_runtime_conf.json"),
                "warnings": r.warnings,
            });
            Ok(Reply::ok(data).msg(retmsg).job(r.job_id))
        }
        Err(SubmitError::Refused {
            job_id,
            message,
            permission,
        }) => {
            let code = if permission {
                RetCode::PermissionError
            } else {
                RetCode::OperatingError
            };
            Err(Reply::err(code, message).job(job_id))
        }
        Err(e) => Err(Reply::err(RetCode::OperatingError, e.to_string())),
    }
}

fn job_filter(body: &Map<String, Value>) -> Result<JobFilter, Reply> {
    let q: requests::JobFilter = typed(body)?;
    Ok(JobFilter {
        job_id: q.party.job_id,
        role: parse_role("role", q.party.role.as_deref())?,
        party_id: q.party.party_id.and_then(|p| p.trim().parse().ok()),
        is_initiator: q.is_initiator,
        statuses: parse_statuses(&q.status)?,
        ..Default::default()
    })
}

fn parse_statuses(list: &[String]) -> Result<Vec<Status>, Reply> {
    list.iter()
        .map(|s| {
            s.parse::<Status>()
                .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))
        })
        .collect()
}

async fn query(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let f = job_filter(&body)?;
            let (jobs, _) = s.store.query_jobs(&f).await.map_err(internal)?;
            if jobs.is_empty() {
                return Ok(Reply::ok(json!([])).msg("no job could be found"));
            }
            Ok(Reply::ok(Value::Array(jobs.iter().map(job_raw).collect())))
        }
        .await,
    )
}

/// `(limit, page, (order_by, ascending))` of a list route.
type Page = (u64, u64, Option<(String, bool)>);

fn paging(body: &Map<String, Value>) -> Result<Page, Reply> {
    let p: Paging = typed(body)?;
    let limit = p.limit.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
    let page = p
        .page
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(1)
        .max(1);
    let ascending = p.order.is_some_and(|o| o.eq_ignore_ascii_case("asc"));
    Ok((limit, page, p.order_by.map(|c| (c, ascending))))
}

async fn list_jobs(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let mut f = job_filter(&body)?;
            if let Some(id) = f.job_id.take() {
                f.job_id_like = Some(id);
            }
            f.description_like = str_field(&body, "description");
            f.exclude_tag = Some("submit_failed".into());
            (f.limit, f.page, f.order_by) = paging(&body)?;
            let (jobs, count) = s.store.query_jobs(&f).await.map_err(internal)?;
            let list: Vec<Value> = jobs
                .iter()
                .map(|j| {
                    let mut m = job_human(j);
                    let partners: Vec<u64> = fateflow_scheduler::initiator::parties_of(j)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| p.party_id)
                        .filter(|p| *p != j.party_id)
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    m.insert("partners".into(), json!(partners));
                    Value::Object(m)
                })
                .collect();
            Ok(Reply::ok(json!({"jobs": list, "count": count})))
        }
        .await,
    )
}

fn task_filter(body: &Map<String, Value>) -> Result<TaskFilter, Reply> {
    let q: requests::TaskFilter = typed(body)?;
    Ok(TaskFilter {
        job_id: q.party.job_id,
        task_id: q.task_id,
        task_version: q.task_version,
        role: parse_role("role", q.party.role.as_deref())?,
        party_id: q.party.party_id.and_then(|p| p.trim().parse().ok()),
        component_name: q.component_name,
        statuses: parse_statuses(&q.status)?,
        party_statuses: parse_statuses(&q.party_status)?,
        latest_only: true,
        ..Default::default()
    })
}

async fn list_tasks(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let mut f = task_filter(&body)?;
            (f.limit, f.page, f.order_by) = paging(&body)?;
            let (tasks, count) = s.store.query_tasks(&f).await.map_err(internal)?;
            let list: Vec<Value> = tasks.iter().map(|t| Value::Object(task_human(t))).collect();
            Ok(Reply::ok(json!({"tasks": list, "count": count})))
        }
        .await,
    )
}

async fn query_tasks(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let f = task_filter(&body)?;
            let (tasks, _) = s.store.query_tasks(&f).await.map_err(internal)?;
            if tasks.is_empty() {
                return Err(Reply::err(RetCode::ArgumentError, "find task failed"));
            }
            Ok(Reply::ok(Value::Array(
                tasks.iter().map(task_raw).collect(),
            )))
        }
        .await,
    )
}

async fn initiated_here(s: &AppState, job_id: &str) -> Result<fateflow_storage::JobRecord, Reply> {
    let (jobs, _) = s
        .store
        .query_jobs(&JobFilter {
            job_id: Some(job_id.into()),
            ..Default::default()
        })
        .await
        .map_err(internal)?;
    if jobs.is_empty() {
        return Err(Reply::err(RetCode::DataError, "can not found job"));
    }
    jobs.into_iter().find(|j| j.is_initiator).ok_or_else(|| {
        Reply::err(
            RetCode::OperatingError,
            format!("job {job_id} was initiated by another site; stop it there"),
        )
    })
}

async fn stop(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    if let Some(r) = super::cluster::forward(&s, "/job/stop", &headers, &raw).await {
        return r;
    }
    let body = body_object(&raw);
    respond(
        async {
            require(&body, &["job_id"])?;
            let JobStop {
                job_id,
                stop_status,
            } = typed(&body)?;
            let status = match stop_status {
                None => Status::Canceled,
                Some(st) => match st.parse::<Status>() {
                    Ok(st @ (Status::Canceled | Status::Failed | Status::Timeout)) => st,
                    _ => {
                        return Err(Reply::err(
                            RetCode::ArgumentError,
                            format!("stop_status `{st}`: expected canceled, failed or timeout"),
                        ))
                    }
                },
            };
            let job = initiated_here(&s, &job_id).await?;
            if job.status.is_end() {
                return Ok(Reply::ok(Value::Null)
                    .msg(format!("job {job_id} already ended ({})", job.status))
                    .job(job_id));
            }
            let reason = if status == Status::Canceled {
                "canceled by user".to_string()
            } else {
                format!("stopped by user with status {status}")
            };
            match s.scheduler.request_stop(&job_id, status, &reason).await {
                Ok(()) => Ok(Reply::ok(Value::Null)
                    .msg("stop job on this party success; stop job on all party success")
                    .job(job_id)),
                Err(e) => Err(Reply::err(
                    e.retcode(),
                    format!("stop job on this party failed: {e}"),
                )
                .job(job_id)),
            }
        }
        .await,
    )
}

async fn rerun(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    if let Some(r) = super::cluster::forward(&s, "/job/rerun", &headers, &raw).await {
        return r;
    }
    let body = body_object(&raw);
    respond(
        async {
            require(&body, &["job_id"])?;
            let JobRerun {
                job_id,
                force,
                component_name,
            } = typed(&body)?;
            initiated_here(&s, &job_id).await?;
            match s
                .scheduler
                .request_rerun(&job_id, component_name, force)
                .await
            {
                Ok(cpns) => Ok(Reply::ok(json!({"components": cpns}))
                    .msg("rerun job success")
                    .job(job_id)),
                Err(e) => {
                    Err(Reply::err(e.retcode(), format!("rerun job failed:\n{e}")).job(job_id))
                }
            }
        }
        .await,
    )
}

async fn config(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let f = job_filter(&body)?;
            let (jobs, _) = s.store.query_jobs(&f).await.map_err(internal)?;
            let Some(j) = jobs.first() else {
                return Err(Reply::err(RetCode::ArgumentError, "find job failed"));
            };
            Ok(Reply::ok(json!({
                "job_id": j.job_id,
                "dsl": j.dsl,
                "runtime_conf": j.runtime_conf,
                "train_runtime_conf": j.train_runtime_conf,
                "model_info": {"model_id": j.model_id, "model_version": j.model_version},
            })))
        }
        .await,
    )
}

async fn log_path(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            require(&body, &["job_id"])?;
            let job_id = str_field(&body, "job_id").unwrap_or_default();
            let dir = log_dir(&s, &job_id)?;
            Ok(Reply::ok(json!({"logs_directory": dir})))
        }
        .await,
    )
}

/// `<data_dir>/logs/<job_id>`, the id checked against the identifier grammar.
fn log_dir(s: &AppState, job_id: &str) -> Result<std::path::PathBuf, Reply> {
    use fateflow_domain::ident::{check, safe_join, IdKind};
    let bad = |e: String| Reply::err(RetCode::ArgumentError, e);
    check(IdKind::JobId, job_id).map_err(|e| bad(e.to_string()))?;
    safe_join(&s.data_dir, &["logs", job_id]).map_err(|e| bad(e.to_string()))
}

/// `job_<id>_log.tar.gz` of `logs/<job_id>/`, paths relative to it.
async fn log_download(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let Some(job_id) = str_field(&body, "job_id") else {
        return Reply::err(
            RetCode::ArgumentError,
            "required argument are missing: job_id",
        )
        .into_response();
    };
    let dir = match log_dir(&s, &job_id) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    if !dir.is_dir() {
        return error_response(
            StatusCode::NOT_FOUND,
            RetCode::DataError,
            format!("no log directory for job {job_id}"),
        );
    }
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(enc);
        tar.append_dir_all(".", &dir)?;
        tar.into_inner()?.finish()
    })
    .await;
    match result {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/gzip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"job_{job_id}_log.tar.gz\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => internal(e).into_response(),
        Err(e) => internal(e).into_response(),
    }
}

//! `/v1/tracking/*`: components, metrics, parameters, output data, models, summary.

use super::output_archive;
use super::output_view::{Cell, OutputView};
use super::{
    body_object, error_response, int_field, internal, parse_role, post_route, require, respond,
    str_field, typed, AppState, Reply,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use fateflow_api_types::requests::{ComponentRef, MetricRef};
use fateflow_domain::retcode::RetCode;
use fateflow_domain::Role;
use fateflow_storage::{JobFilter, TaskFilter};
use fateflow_tables::{TableId, TableStore};
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tracking/component/list", post_route(component_list))
        .route("/tracking/component/metrics", post_route(metrics))
        .route("/tracking/component/metric/all", post_route(metric_all))
        .route("/tracking/component/metric_data", post_route(metric_data))
        .route("/tracking/component/parameters", post_route(parameters))
        .route("/tracking/component/output/data", post_route(output_data))
        .route(
            "/tracking/component/output/data/download",
            post_route(output_data_download),
        )
        .route(
            "/tracking/component/output/data/table",
            post_route(output_data_table),
        )
        .route("/tracking/component/output/model", post_route(output_model))
        .route("/tracking/component/summary/download", post_route(summary))
}

/// `(job_id, component, role, party_id)`; role and party default to the initiator's.
async fn target(
    s: &AppState,
    body: &Map<String, Value>,
) -> Result<(String, String, Role, u64), Reply> {
    require(body, &["job_id", "component_name"])?;
    let ComponentRef {
        job_id,
        role,
        party_id,
        component_name: cpn,
    } = typed(body)?;
    let role = parse_role("role", Some(&role))?;
    let party = party_id.trim().parse::<u64>().ok();
    if let (Some(r), Some(p)) = (role, party) {
        return Ok((job_id, cpn, r, p));
    }
    let (jobs, _) = s
        .store
        .query_jobs(&JobFilter {
            job_id: Some(job_id.clone()),
            is_initiator: Some(true),
            ..Default::default()
        })
        .await
        .map_err(internal)?;
    let j = jobs.first().ok_or_else(|| {
        Reply::err(
            RetCode::ArgumentError,
            format!("can not found job {job_id}"),
        )
    })?;
    Ok((
        job_id,
        cpn,
        role.unwrap_or(j.initiator_role),
        party.unwrap_or(j.initiator_party_id),
    ))
}

async fn component_list(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            require(&body, &["job_id"])?;
            let job_id = str_field(&body, "job_id").unwrap_or_default();
            let (jobs, _) = s
                .store
                .query_jobs(&JobFilter {
                    job_id: Some(job_id.clone()),
                    ..Default::default()
                })
                .await
                .map_err(internal)?;
            let j = jobs.first().ok_or_else(|| {
                Reply::err(RetCode::ExceptionError, format!("job {job_id} not found"))
            })?;
            let names: Vec<String> = j
                .dsl
                .get("components")
                .and_then(Value::as_object)
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            Ok(Reply::ok(json!({"components": names})))
        }
        .await,
    )
}

async fn metrics(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (job, cpn, role, party) = target(&s, &body).await?;
            let rows = s
                .store
                .query_metrics(&job, &cpn, role, party)
                .await
                .map_err(internal)?;
            if rows.is_empty() {
                return Ok(Reply::ok(json!({})).msg("no data"));
            }
            let mut out: Map<String, Value> = Map::new();
            for m in rows {
                let names = out
                    .entry(m.metric_namespace.clone())
                    .or_insert_with(|| json!([]));
                if let Value::Array(a) = names {
                    if !a.contains(&json!(m.metric_name)) {
                        a.push(json!(m.metric_name));
                    }
                }
            }
            Ok(Reply::ok(Value::Object(out)))
        }
        .await,
    )
}

/// The metrics of a task's latest run, one per namespace and name, in the order they
/// were first logged: the points of every save concatenated (a per-iteration metric is
/// saved once per iteration, and FATE answers the whole series), the meta of the last.
fn series(rows: Vec<fateflow_storage::MetricRecord>) -> Vec<fateflow_storage::MetricRecord> {
    let latest = rows.iter().map(|r| r.owner.task_version).max();
    let mut out: Vec<fateflow_storage::MetricRecord> = Vec::new();
    for r in rows
        .into_iter()
        .filter(|r| Some(r.owner.task_version) == latest)
    {
        let same = |m: &fateflow_storage::MetricRecord| {
            m.metric_namespace == r.metric_namespace && m.metric_name == r.metric_name
        };
        match out.iter_mut().find(|m| same(m)) {
            Some(m) => {
                match (&mut m.data, r.data) {
                    (Value::Array(points), Value::Array(more)) => points.extend(more),
                    (data, more) => *data = more,
                }
                m.meta = r.meta;
            }
            None => out.push(r),
        }
    }
    out
}

async fn metric_all(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (job, cpn, role, party) = target(&s, &body).await?;
            let rows = s
                .store
                .query_metrics(&job, &cpn, role, party)
                .await
                .map_err(internal)?;
            if rows.is_empty() {
                return Ok(Reply::ok(json!({})).msg("no data"));
            }
            let mut out: Map<String, Value> = Map::new();
            for m in series(rows) {
                let ns = out
                    .entry(m.metric_namespace.clone())
                    .or_insert_with(|| json!({}));
                ns[&m.metric_name] = json!({"data": m.data, "meta": m.meta});
            }
            Ok(Reply::ok(Value::Object(out)))
        }
        .await,
    )
}

async fn metric_data(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            require(&body, &["metric_namespace", "metric_name"])?;
            let (job, cpn, role, party) = target(&s, &body).await?;
            let MetricRef {
                metric_namespace: ns,
                metric_name: name,
                ..
            } = typed(&body)?;
            let rows = s
                .store
                .query_metrics(&job, &cpn, role, party)
                .await
                .map_err(internal)?;
            let Some(m) = series(rows)
                .into_iter()
                .find(|m| m.metric_namespace == ns && m.metric_name == name)
            else {
                return Ok(Reply::ok(json!([])).meta(json!({})));
            };
            let mut meta = m.meta;
            if let Value::Object(o) = &mut meta {
                o.entry("name").or_insert(json!(name));
            }
            Ok(Reply::ok(m.data).meta(meta))
        }
        .await,
    )
}

async fn parameters(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(async {
        let (job, cpn, role, party) = target(&s, &body).await?;
        let (tasks, _) = s
            .store
            .query_tasks(&TaskFilter { job_id: Some(job), component_name: Some(cpn), role: Some(role), party_id: Some(party), latest_only: true, ..Default::default() })
            .await
            .map_err(internal)?;
        let t = tasks.first().ok_or_else(|| Reply::err(RetCode::ArgumentError, "can not found this task"))?;
        Ok(Reply::ok(json!({"module": t.component_module, format!("{}Param", t.component_module): t.component_parameters})))
    }.await)
}

/// The output tables of the task's latest run, with the task's module.
async fn latest_outputs(
    s: &AppState,
    body: &Map<String, Value>,
) -> Result<(Vec<fateflow_storage::OutputDataRecord>, String), Reply> {
    let (job, cpn, role, party) = target(s, body).await?;
    let rows = s
        .store
        .query_output_data(&job, &cpn, role, party)
        .await
        .map_err(internal)?;
    let (tasks, _) = s
        .store
        .query_tasks(&TaskFilter {
            job_id: Some(job),
            component_name: Some(cpn),
            role: Some(role),
            party_id: Some(party),
            latest_only: true,
            ..Default::default()
        })
        .await
        .map_err(internal)?;
    let module = tasks
        .first()
        .map(|t| t.component_module.clone())
        .unwrap_or_default();
    let latest = rows.iter().map(|r| r.owner.task_version).max();
    let rows = rows
        .into_iter()
        .filter(|r| Some(r.owner.task_version) == latest)
        .collect();
    Ok((rows, module))
}

async fn output_data_table(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(async {
        let (rows, _) = latest_outputs(&s, &body).await?;
        let list: Vec<Value> = rows
            .iter()
            .map(|r| json!({"data_name": r.data_name, "table_name": r.table_name, "table_namespace": r.table_namespace}))
            .collect();
        Ok(Reply::ok(Value::Array(list)))
    }.await)
}

/// The first `limit` rows (default 100) of each output table, as FATE-Flow shows them.
async fn output_data(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (rows, module) = latest_outputs(&s, &body).await?;
            if rows.is_empty() {
                return Ok(Reply::ok(json!([])).msg("no data"));
            }
            let limit = int_field(&body, "limit").filter(|l| *l > 0).unwrap_or(100) as usize;
            let (mut data, mut headers, mut totals, mut names) = (vec![], vec![], vec![], vec![]);
            for r in rows {
                let id = TableId::new(&r.table_namespace, &r.table_name).map_err(internal)?;
                let tables = s.tables.clone();
                let module = module.clone();
                let (header, rows_out, total) = tokio::task::spawn_blocking(move || {
                    let info = tables.info(&id)?;
                    let view = OutputView::new(&info, &module);
                    let mut out = Vec::new();
                    fateflow_tables::for_each_row(tables.as_ref(), &id, Some(limit), |row| {
                        out.push(Value::Array(
                            view.row(row).iter().map(Cell::to_json).collect(),
                        ));
                        Ok(())
                    })?;
                    let total = fateflow_tables::table_meta(tables.as_ref(), &id)?.count;
                    Ok::<_, fateflow_tables::Error>((view.header().to_vec(), out, total))
                })
                .await
                .map_err(internal)?
                .map_err(internal)?;
                data.push(Value::Array(rows_out));
                headers.push(json!(header));
                totals.push(json!(total));
                names.push(json!(r.data_name));
            }
            Ok(Reply::ok(Value::Array(data))
                .meta(json!({"header": headers, "total": totals, "names": names})))
        }
        .await,
    )
}

/// `job_<job>_<cpn>_<role>_<party>_output_data.tar.gz` with `<data_name>.csv` and
/// `<data_name>.meta` per output, streamed as it is built (see [`output_archive`]).
/// A table that cannot be read fails the request before anything is sent; a failure
/// while sending cuts the response short, which the client sees as an error.
async fn output_data_download(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let (rows, module) = match latest_outputs(&s, &body).await {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if rows.is_empty() {
        return error_response(
            StatusCode::from_u16(210).unwrap_or(StatusCode::OK),
            RetCode::DataError,
            "no data",
        );
    }
    let job = str_field(&body, "job_id").unwrap_or_default();
    let cpn = str_field(&body, "component_name").unwrap_or_default();
    let owner = rows[0].owner.clone();
    let limit = int_field(&body, "limit")
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let outputs = match rows
        .iter()
        .map(|r| {
            Ok(output_archive::Output {
                data_name: r.data_name.clone(),
                table: TableId::new(&r.table_namespace, &r.table_name)
                    .map_err(|e| e.to_string())?,
            })
        })
        .collect::<Result<Vec<_>, String>>()
    {
        Ok(o) => o,
        Err(e) => return internal(e).into_response(),
    };
    let tables = s.tables.clone();
    let planned = {
        let tables = tables.clone();
        tokio::task::spawn_blocking(move || output_archive::plan(&tables, outputs, &module, limit))
            .await
    };
    let plan = match planned {
        Ok(Ok(plan)) => plan,
        Ok(Err(e)) => return internal(e).into_response(),
        Err(e) => return internal(e).into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = output_archive::stream(&tables, plan, &tx) {
            tracing::error!(error = %e, "output data archive cut short");
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"job_{job}_{cpn}_{}_{}_output_data.tar.gz\"",
                    owner.role, owner.party_id
                ),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

async fn output_model(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (job, cpn, role, party) = target(&s, &body).await?;
            let models = s
                .store
                .query_component_models(&job, &cpn, role, party)
                .await
                .map_err(internal)?;
            let Some(m) = models.first() else {
                return Ok(Reply::ok(json!({})).msg("no data"));
            };
            Ok(
                Reply::ok(m.model.get("param").cloned().unwrap_or(Value::Null)).meta(json!({
                    "meta_data": m.model.get("meta"),
                    "module_name": m.module,
                    "component_name": cpn,
                    "model_alias": m.model_alias,
                })),
            )
        }
        .await,
    )
}

async fn summary(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let r = async {
        let (job, cpn, role, party) = target(&s, &body).await?;
        s.store
            .get_summary(&job, &cpn, role, party)
            .await
            .map_err(internal)
    }
    .await;
    match r {
        Ok(Some(v)) => Reply::ok(v).into_response(),
        Ok(None) => error_response(
            StatusCode::from_u16(210).unwrap_or(StatusCode::OK),
            RetCode::DataError,
            "no summary",
        ),
        Err(r) => r.into_response(),
    }
}

//! FATE-Serving's routes (`/federation/v1/inference`, `/federation/v1/batchInference`)
//! and FATE-Flow's `/v1/model/bind`, plus `/v1/serving/list`.

use super::Failure;
use crate::api::{body_object, str_field, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use fateflow_api_types::serving::{code, BatchRequest, InferenceRequest, RowResult};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The `/v1` routes (`model/bind`, `serving/list`).
pub fn client_routes() -> Router<AppState> {
    Router::new()
        .route("/model/bind", post(bind))
        .route("/model/publish", post(publish))
        .route("/serving/list", post(list).get(list))
}

/// FATE-Serving's routes (the server adds client authentication, as for `/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/federation/v1/inference", post(single))
        .route("/federation/v1/batchInference", post(batch))
        .route("/metrics", axum::routing::get(metrics))
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.serving.metrics.render(),
    )
        .into_response()
}

fn answer(retcode: i32, retmsg: impl Into<String>, data: Value) -> Response {
    Json(json!({"retcode": retcode, "retmsg": retmsg.into(), "data": data, "flag": 0}))
        .into_response()
}

fn failure(f: Failure) -> Response {
    answer(f.retcode, f.retmsg, json!({}))
}

async fn single(State(s): State<AppState>, body: Bytes) -> Response {
    let t0 = std::time::Instant::now();
    let (service, retcode, r) = single_answer(&s, &body).await;
    s.serving
        .metrics
        .record(&service, "inference", 1, t0.elapsed(), retcode == code::OK);
    r
}

/// The answer of a single request: (service id, retcode, response).
async fn single_answer(s: &AppState, body: &Bytes) -> (String, i32, Response) {
    let req: InferenceRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return (
                String::new(),
                code::PARAM_ERROR,
                answer(code::PARAM_ERROR, format!("request JSON: {e}"), json!({})),
            )
        }
    };
    let service = req.head.service_id.clone();
    if service.trim().is_empty() {
        return (
            service,
            code::PARAM_ERROR,
            answer(code::PARAM_ERROR, "head.serviceId is missing", json!({})),
        );
    }
    let (retcode, r) = match s
        .serving
        .infer(&service, std::slice::from_ref(&req.body))
        .await
    {
        Err(f) => (f.retcode, failure(f)),
        Ok((mut data, mut rows)) => match rows.pop() {
            Some(Ok(outcome)) => {
                if let (Value::Object(d), Value::Object(o)) = (&mut data, outcome.to_json()) {
                    d.extend(o);
                }
                (code::OK, answer(code::OK, "", data))
            }
            Some(Err(f)) => (f.retcode, failure(f)),
            None => (
                code::SYSTEM_ERROR,
                answer(code::SYSTEM_ERROR, "no result", json!({})),
            ),
        },
    };
    (service, retcode, r)
}

async fn batch(State(s): State<AppState>, body: Bytes) -> Response {
    let t0 = std::time::Instant::now();
    let (service, rows, retcode, r) = batch_answer(&s, &body).await;
    s.serving.metrics.record(
        &service,
        "batchInference",
        rows,
        t0.elapsed(),
        retcode == code::OK,
    );
    r
}

/// The answer of a batch request: (service id, rows, retcode, response).
async fn batch_answer(s: &AppState, body: &Bytes) -> (String, usize, i32, Response) {
    let req: BatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return (
                String::new(),
                0,
                code::PARAM_ERROR,
                answer(code::PARAM_ERROR, format!("request JSON: {e}"), json!({})),
            )
        }
    };
    let service = req.head.service_id.clone();
    let rows = &req.body.batch_data_list;
    let refuse = |retcode: i32, msg: String| {
        (
            service.clone(),
            rows.len(),
            retcode,
            answer(retcode, msg, json!({})),
        )
    };
    if service.trim().is_empty() {
        return refuse(code::PARAM_ERROR, "head.serviceId is missing".into());
    }
    if rows.is_empty() {
        return refuse(
            code::REQUEST_PARAM_ERROR,
            "body.batchDataList is empty".into(),
        );
    }
    if rows.len() > s.serving.batch_limit {
        return refuse(
            code::REQUEST_PARAM_ERROR,
            format!(
                "batch of {} rows is over the limit of {} (--serving-batch-limit)",
                rows.len(),
                s.serving.batch_limit
            ),
        );
    }
    let mut seen = HashSet::new();
    if let Some(dup) = rows.iter().find(|r| !seen.insert(r.index)) {
        return refuse(
            code::REQUEST_PARAM_ERROR,
            format!("index {} appears twice in batchDataList", dup.index),
        );
    }
    match s.serving.infer(&service, rows).await {
        Err(f) => (service.clone(), rows.len(), f.retcode, failure(f)),
        Ok((data, outcomes)) => {
            let results: Vec<RowResult> = rows
                .iter()
                .zip(outcomes)
                .map(|(r, o)| match o {
                    Ok(outcome) => RowResult {
                        index: r.index,
                        retcode: code::OK,
                        retmsg: String::new(),
                        data: outcome.to_json(),
                    },
                    Err(f) => RowResult {
                        index: r.index,
                        retcode: f.retcode,
                        retmsg: f.retmsg,
                        data: json!({}),
                    },
                })
                .collect();
            let by_index: serde_json::Map<String, Value> = results
                .iter()
                .map(|r| (r.index.to_string(), json!(r)))
                .collect();
            let r = Json(
                json!({"retcode": code::OK, "retmsg": "", "flag": 0, "data": data,
                        "batchDataList": results, "singleInferenceResultMap": by_index}),
            )
            .into_response();
            (service.clone(), rows.len(), code::OK, r)
        }
    }
}

/// FATE's `/model/bind`: `service_id` and the model as `job_parameters` (or top-level
/// `model_id`/`model_version`).
async fn bind(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let params = crate::api::job_parameters(&body);
    let field = |k: &str| str_field(&params, k).or_else(|| str_field(&body, k));
    let Some(service_id) = str_field(&body, "service_id") else {
        return Json(json!({"retcode": 101, "retmsg": "no service id"})).into_response();
    };
    // `flow model bind -j <deployed version>` names the model by its version alone.
    let (model_id, model_version) = match (field("model_id"), field("model_version"), str_field(&body, "job_id")) {
        (Some(id), Some(v), _) => (Some(id), v),
        (_, _, Some(version)) => (None, version),
        _ => {
            return Json(json!({"retcode": 101, "retmsg": "required argument are missing: job_parameters.model_id and model_version (or job_id)"}))
                .into_response()
        }
    };
    match s
        .serving
        .bind(&service_id, model_id.as_deref(), &model_version)
    {
        Ok(guest) => Json(
            json!({"retcode": 0, "retmsg": format!("service id is {service_id}"),
                                 "data": {"service_id": service_id, "guest": guest}}),
        )
        .into_response(),
        Err(f) => Json(json!({"retcode": f.retcode, "retmsg": f.retmsg})).into_response(),
    }
}

/// Ours: deploy a trained model, load it at every guest and host and bind a service id,
/// in one step. A failed load unloads what loaded and binds nothing; the service id
/// keeps its old model.
async fn publish(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let refuse = |retcode: i32, retmsg: String, data: Value| {
        Json(json!({"retcode": retcode, "retmsg": retmsg, "data": data})).into_response()
    };
    let (Some(model_id), Some(model_version), Some(service_id)) = (
        str_field(&body, "model_id"),
        str_field(&body, "model_version"),
        str_field(&body, "service_id"),
    ) else {
        return refuse(101, "required argument are missing: model_id, model_version (the trained version), service_id".into(), json!({}));
    };
    if let Err(f) = super::check_service_id(&service_id) {
        return refuse(f.retcode, f.retmsg, json!({}));
    }
    let cpn_list = body.get("cpn_list").and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect::<Vec<_>>()
    });
    let req = fateflow_scheduler::model::DeployRequest {
        model_id: model_id.clone(),
        model_version: model_version.clone(),
        cpn_list: cpn_list.filter(|l| !l.is_empty()),
        dsl: None,
    };
    let deployed = match s.scheduler.deploy(&req).await {
        Ok(f) if f.ok() => f,
        Ok(f) => {
            return refuse(
                100,
                "publish failed at deploy; nothing was loaded or bound".into(),
                json!({"deploy": fan_out(&f)}),
            )
        }
        Err(e) => return refuse(100, format!("publish failed at deploy: {e}"), json!({})),
    };
    let child = deployed.version.clone();
    let loaded = match s.scheduler.load(&model_id, &child).await {
        Ok(f) => f,
        Err(e) => {
            return refuse(
                100,
                format!("publish failed at load of {child}: {e}"),
                json!({"model_version": child}),
            )
        }
    };
    if !loaded.ok() {
        let why = loaded
            .answers
            .iter()
            .filter(|a| a.retcode != 0)
            .map(|a| format!("{}: {}", a.party, a.retmsg))
            .collect::<Vec<_>>()
            .join("; ");
        return rollback(&s, &model_id, &child, why, fan_out(&loaded)).await;
    }
    match s.serving.bind(&service_id, Some(&model_id), &child) {
        Ok(guest) => Json(json!({"retcode": 0, "retmsg": format!("service id is {service_id}"),
                                 "data": {"service_id": service_id, "guest": guest, "model_id": model_id,
                                          "model_version": child, "deploy": fan_out(&deployed), "load": fan_out(&loaded)}}))
        .into_response(),
        Err(f) => rollback(&s, &model_id, &child, f.retmsg, fan_out(&loaded)).await,
    }
}

/// Unloads a failed publish everywhere and says why.
async fn rollback(
    s: &AppState,
    model_id: &str,
    child: &str,
    why: String,
    loaded: Value,
) -> Response {
    let undone = s
        .scheduler
        .unload(model_id, child)
        .await
        .ok()
        .map(|f| fan_out(&f));
    tracing::warn!(model_id, version = child, reason = %why, "publish rolled back");
    Json(json!({
        "retcode": 123,
        "retmsg": format!("publish of {model_id} {child} failed and was rolled back (unloaded everywhere, nothing bound): {why}"),
        "data": {"model_version": child, "load": loaded, "unload": undone},
    }))
    .into_response()
}

fn fan_out(f: &fateflow_scheduler::model::FanOut) -> Value {
    let parties: Vec<Value> = f
        .answers
        .iter()
        .map(|a| json!({"party": a.party.to_string(), "retcode": a.retcode, "retmsg": a.retmsg}))
        .collect();
    json!(parties)
}

async fn list(State(s): State<AppState>) -> Response {
    Json(json!({"retcode": 0, "retmsg": "success", "data": s.serving.describe()})).into_response()
}

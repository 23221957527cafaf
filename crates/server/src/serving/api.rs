//! FATE-Serving's routes (`/federation/v1/inference`, `/federation/v1/batchInference`)
//! and FATE-Flow's `/v1/model/bind`, plus `/v1/serving/list`.

use super::{Failure, BATCH_LIMIT};
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
        .route("/serving/list", post(list).get(list))
}

/// FATE-Serving's routes (the server adds client authentication, as for `/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/federation/v1/inference", post(single))
        .route("/federation/v1/batchInference", post(batch))
}

fn answer(retcode: i32, retmsg: impl Into<String>, data: Value) -> Response {
    Json(json!({"retcode": retcode, "retmsg": retmsg.into(), "data": data, "flag": 0}))
        .into_response()
}

fn failure(f: Failure) -> Response {
    answer(f.retcode, f.retmsg, json!({}))
}

async fn single(State(s): State<AppState>, body: Bytes) -> Response {
    let req: InferenceRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return answer(code::PARAM_ERROR, format!("request JSON: {e}"), json!({})),
    };
    if req.head.service_id.trim().is_empty() {
        return answer(code::PARAM_ERROR, "head.serviceId is missing", json!({}));
    }
    match s
        .serving
        .infer(&req.head.service_id, std::slice::from_ref(&req.body))
        .await
    {
        Err(f) => failure(f),
        Ok((mut data, mut rows)) => match rows.pop() {
            Some(Ok(score)) => {
                data["score"] = json!(score);
                answer(code::OK, "", data)
            }
            Some(Err(f)) => failure(f),
            None => answer(code::SYSTEM_ERROR, "no result", json!({})),
        },
    }
}

async fn batch(State(s): State<AppState>, body: Bytes) -> Response {
    let req: BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return answer(code::PARAM_ERROR, format!("request JSON: {e}"), json!({})),
    };
    if req.head.service_id.trim().is_empty() {
        return answer(code::PARAM_ERROR, "head.serviceId is missing", json!({}));
    }
    let rows = &req.body.batch_data_list;
    if rows.is_empty() {
        return answer(
            code::REQUEST_PARAM_ERROR,
            "body.batchDataList is empty",
            json!({}),
        );
    }
    if rows.len() > BATCH_LIMIT {
        return answer(
            code::REQUEST_PARAM_ERROR,
            format!(
                "batch of {} rows is over the limit of {BATCH_LIMIT}",
                rows.len()
            ),
            json!({}),
        );
    }
    let mut seen = HashSet::new();
    if let Some(dup) = rows.iter().find(|r| !seen.insert(r.index)) {
        return answer(
            code::REQUEST_PARAM_ERROR,
            format!("index {} appears twice in batchDataList", dup.index),
            json!({}),
        );
    }
    match s.serving.infer(&req.head.service_id, rows).await {
        Err(f) => failure(f),
        Ok((data, outcomes)) => {
            let results: Vec<RowResult> = rows
                .iter()
                .zip(outcomes)
                .map(|(r, o)| match o {
                    Ok(score) => RowResult {
                        index: r.index,
                        retcode: code::OK,
                        retmsg: String::new(),
                        data: json!({"score": score}),
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
            Json(
                json!({"retcode": code::OK, "retmsg": "", "flag": 0, "data": data,
                        "batchDataList": results, "singleInferenceResultMap": by_index}),
            )
            .into_response()
        }
    }
}

/// FATE's `/model/bind`: `service_id` and the model as `job_parameters` (or top-level
/// `model_id`/`model_version`).
async fn bind(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let params = body
        .get("job_parameters")
        .and_then(Value::as_object)
        .map(|p| {
            p.get("common")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| p.clone())
        })
        .unwrap_or_default();
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

async fn list(State(s): State<AppState>) -> Response {
    Json(json!({"retcode": 0, "retmsg": "success", "data": s.serving.describe()})).into_response()
}

//! `/v1/table/*`: info, list, delete.

use super::{body_object, internal, post_route, respond, str_field, typed, AppState, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::Router;
use fateflow_api_types::requests::TableRef;
use fateflow_domain::retcode::RetCode;
use fateflow_storage::TableMetaRecord;
use fateflow_tables::{TableId, TableStore};
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/table/table_info", post_route(info))
        .route("/table/delete", post_route(delete))
        .route("/table/list", post_route(list))
}

/// The table a body names, or FATE's message for the missing parts.
fn name_of(body: &Map<String, Value>) -> Result<(String, String), Reply> {
    let TableRef {
        table_name,
        namespace,
    } = typed(body)?;
    if table_name.is_empty() || namespace.is_empty() {
        return Err(Reply::err(
            RetCode::ArgumentError,
            "required argument are missing: table_name,namespace",
        ));
    }
    Ok((table_name, namespace))
}

fn describe(m: &TableMetaRecord) -> Value {
    json!({
        "table_name": m.name,
        "namespace": m.namespace,
        "exist": 1,
        "count": m.count,
        "partition": m.partitions,
        "schema": m.schema,
        "enable": !m.disable,
        "origin": m.origin,
        "extend_sid": m.extend_sid,
        "address": m.address,
        "create_time": m.create_time,
    })
}

async fn info(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (name, namespace) = name_of(&body)?;
            match s
                .store
                .get_table_meta(&namespace, &name)
                .await
                .map_err(internal)?
            {
                Some(m) => Ok(Reply::ok(describe(&m))),
                None => Ok(Reply::ok(
                    json!({"table_name": name, "namespace": namespace, "exist": 0, "count": 0}),
                )),
            }
        }
        .await,
    )
}

async fn delete(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            let (name, namespace) = name_of(&body)?;
            let had_meta = s
                .store
                .get_table_meta(&namespace, &name)
                .await
                .map_err(internal)?
                .is_some();
            let id = TableId::new(&namespace, &name)
                .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))?;
            let tables = s.tables.clone();
            let id2 = id.clone();
            let had_files = tokio::task::spawn_blocking(move || tables.delete(&id2))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            s.store
                .delete_table_meta(&namespace, &name)
                .await
                .map_err(internal)?;
            if !had_meta && !had_files {
                return Err(Reply::err(RetCode::ArgumentError, "no find table"));
            }
            Ok(Reply::ok(
                json!({"table_name": name, "namespace": namespace}),
            ))
        }
        .await,
    )
}

/// With `job_id`: each component's input and output tables (FATE's behaviour).
/// Without: every table of a namespace (or all).
async fn list(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            if let Some(job_id) = str_field(&body, "job_id") {
                let role = super::role_field(&body, "role")?;
                let party = super::int_field(&body, "party_id").and_then(|p| u64::try_from(p).ok());
                let (tasks, _) = s
                    .store
                    .query_tasks(&fateflow_storage::TaskFilter {
                        job_id: Some(job_id.clone()),
                        role,
                        party_id: party,
                        latest_only: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(internal)?;
                let mut out = Map::new();
                for t in tasks {
                    let outputs = s
                        .store
                        .query_output_data(&job_id, &t.component_name, t.role, t.party_id)
                        .await
                        .map_err(internal)?;
                    let data: Map<String, Value> = outputs
                        .iter()
                        .filter(|o| o.owner.task_version == t.task_version)
                        .map(|o| {
                            (
                                o.data_name.clone(),
                                json!({"name": o.table_name, "namespace": o.table_namespace}),
                            )
                        })
                        .collect();
                    out.insert(
                        format!("{}:{}:{}", t.component_name, t.role, t.party_id),
                        json!({"output": data}),
                    );
                }
                return Ok(Reply::ok(Value::Object(out)));
            }
            let ns = str_field(&body, "namespace");
            let tables = s
                .store
                .list_table_meta(ns.as_deref())
                .await
                .map_err(internal)?;
            Ok(Reply::ok(Value::Array(
                tables.iter().map(describe).collect(),
            )))
        }
        .await,
    )
}

//! `/v1/model/*`: deploy, load, query, export, import, and the predict DSL and conf of
//! a model (reference §2.6).
//!
//! There is no FATE-Serving behind this server: `load` checks that the deployed model
//! is at every non-arbiter party and counts the load, and says that predictions are
//! made by predict jobs (`job_parameters.common.job_type = "predict"`).

use super::{
    body_object, bool_field, int_field, internal, post_route, require, respond, role_field,
    str_field, AppState, Reply,
};
use crate::model_archive;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fateflow_domain::retcode::RetCode;
use fateflow_domain::Role;
use fateflow_scheduler::clock::format_date;
use fateflow_scheduler::model::{DeployRequest, FanOut, ImportError, ModelError, ModelImport};
use fateflow_storage::{ModelFilter, ModelInfoRecord, ModelKey};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// The largest model archive `import` takes.
pub(crate) const MAX_IMPORT_BYTES: usize = 256 << 20;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/model/deploy", post_route(deploy))
        .route("/model/load", post_route(load))
        .route("/model/query", post_route(query))
        .route("/model/query/detail", post_route(query_detail))
        .route("/model/export", post_route(export))
        .route("/model/transfer", post_route(transfer))
        .route(
            "/model/transfer/{party_model_id}/{model_version}",
            post_route(transfer_path),
        )
        .route(
            "/model/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(
                MAX_IMPORT_BYTES + (1 << 20),
            )),
        )
        .route("/model/get/predict/dsl", post_route(predict_dsl))
        .route("/model/get/predict/conf", post_route(predict_conf))
}

/// FATE's `error_response`: the HTTP status and the body's retcode are the same code.
fn http_error(code: u16, msg: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json({
            let msg = msg.into();
            json!({"retcode": code, "retmsg": msg, "data": msg})
        }),
    )
        .into_response()
}

/// A refusal also carries its message as `data`: FATE's pipeline SDK reports a failed
/// deploy by printing `result["data"]`.
fn model_error(e: ModelError) -> Response {
    match e {
        ModelError::NotFound(m) => http_error(404, m),
        ModelError::Invalid(m) => Reply::err(RetCode::ArgumentError, m.clone())
            .data(json!(m))
            .into_response(),
        ModelError::Store(m) => internal(m).into_response(),
    }
}

fn fan_out_data(f: &FanOut) -> Map<String, Value> {
    f.status_info()
}

/// A request body given as JSON, else as a form (`request.json or request.form`).
fn json_or_form(bytes: &Bytes) -> Map<String, Value> {
    let m = body_object(bytes);
    if !m.is_empty() {
        return m;
    }
    let text = String::from_utf8_lossy(bytes);
    text.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((form_decode(k)?, Value::String(form_decode(v)?)))
        })
        .collect()
}

fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, Reply> {
    let bad = || {
        Reply::err(
            RetCode::ArgumentError,
            format!(
                "{field}: expected a list of component names, e.g. [\"reader_0\", \"hetero_lr_0\"]"
            ),
        )
    };
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(|s| s.trim().to_string()).ok_or_else(bad))
            .filter(|r| r.as_ref().map_or(true, |s| !s.is_empty()))
            .collect(),
        Value::String(s) => Ok(s
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|x| x.trim().trim_matches('"').to_string())
            .filter(|x| !x.is_empty())
            .collect()),
        _ => Err(bad()),
    }
}

async fn deploy(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    if let Err(r) = require(&body, &["model_id", "model_version"]) {
        return r.into_response();
    }
    if let Some(cp) = body.get("components_checkpoint") {
        let empty = cp.is_null() || cp.as_object().is_some_and(Map::is_empty);
        if !empty {
            return Reply::err(
                RetCode::ArgumentError,
                "components_checkpoint: deploying a checkpoint (--cpn-step-index / --cpn-step-name) is not supported: \
                 this server keeps no per-step checkpoints; deploy without it to use each component's final model",
            )
            .into_response();
        }
    }
    let cpn_list = match body.get("cpn_list").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match string_list(v, "cpn_list") {
            Ok(l) if l.is_empty() => None,
            Ok(l) => Some(l),
            Err(r) => return r.into_response(),
        },
    };
    let dsl = body
        .get("dsl")
        .or_else(|| body.get("predict_dsl"))
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned();
    let req = DeployRequest {
        model_id: str_field(&body, "model_id").unwrap_or_default(),
        model_version: str_field(&body, "model_version").unwrap_or_default(),
        cpn_list,
        dsl,
    };
    match s.scheduler.deploy(&req).await {
        Ok(f) => {
            let mut data = fan_out_data(&f);
            data.insert("model_id".into(), json!(req.model_id));
            data.insert("model_version".into(), json!(f.version));
            let r = if f.ok() {
                Reply::ok(Value::Object(data))
            } else {
                Reply::err(RetCode::ArgumentError, "failed").data(Value::Object(data))
            };
            r.into_response()
        }
        Err(e) => model_error(e),
    }
}

/// The model a load names: `job_parameters.{model_id, model_version}`, or a `job_id`
/// taken as the model version.
async fn load(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    let params = super::job_parameters(&body);
    let (model_id, model_version) =
        match (str_field(&params, "model_id"), str_field(&params, "model_version")) {
            (Some(id), Some(v)) => (id, v),
            _ => match str_field(&body, "job_id") {
                Some(job_id) => {
                    let rows = match s
                        .store
                        .query_models(&ModelFilter {
                            model_version: Some(job_id.clone()),
                            ..Default::default()
                        })
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => return internal(e).into_response(),
                    };
                    match rows.first() {
                        Some(m) => (m.model_id.clone(), job_id),
                        None => {
                            return Reply::err(
                                RetCode::ArgumentError,
                                format!("Model with version {job_id} can not be found in database. Please check if the model version is valid."),
                            )
                            .into_response()
                        }
                    }
                }
                None => {
                    return Reply::err(
                        RetCode::ArgumentError,
                        "required argument are missing: job_parameters.model_id,job_parameters.model_version (or job_id)",
                    )
                    .into_response()
                }
            },
        };
    match s.scheduler.load(&model_id, &model_version).await {
        Ok(f) => {
            let data = Value::Object(fan_out_data(&f));
            let r = if f.ok() {
                Reply::ok(data).msg(
                    "success: the deployed model is loaded at every guest and host party (loaded_times counted); \
                     bind a service id at the guest (flow model bind) to serve it online at /federation/v1/inference, \
                     or score tables with predict jobs (job_parameters.common.job_type = \"predict\", \
                     with this model_id and model_version)",
                )
            } else {
                Reply::err(RetCode::ArgumentError, "failed").data(data)
            };
            r.job(f.version).into_response()
        }
        Err(e) => model_error(e),
    }
}

fn model_filter(body: &Map<String, Value>) -> Result<ModelFilter, Reply> {
    Ok(ModelFilter {
        model_id: str_field(body, "model_id"),
        model_version: str_field(body, "model_version"),
        role: role_field(body, "role")?,
        party_id: int_field(body, "party_id").and_then(|p| u64::try_from(p).ok()),
        job_id: str_field(body, "job_id"),
        initiator_role: role_field(body, "initiator_role")?,
        initiator_party_id: int_field(body, "initiator_party_id")
            .and_then(|p| u64::try_from(p).ok()),
        parent: bool_field(body, "parent"),
        imported: bool_field(body, "imported"),
    })
}

/// A model row as FATE's raw dict (`f_` prefixed; party ids as strings, flags as FATE
/// stores them).
pub(crate) fn model_raw(m: &ModelInfoRecord) -> Map<String, Value> {
    let mut r = Map::new();
    let mut put = |k: &str, v: Value| {
        r.insert(format!("f_{k}"), v);
    };
    put("model_id", json!(m.model_id));
    put("model_version", json!(m.model_version));
    put("role", json!(m.role));
    put("party_id", json!(m.party_id.to_string()));
    put("job_id", json!(m.job_id));
    put("roles", m.roles.clone());
    put("initiator_role", json!(m.initiator_role));
    put(
        "initiator_party_id",
        json!(m.initiator_party_id.to_string()),
    );
    put("train_dsl", m.train_dsl.clone());
    put("train_runtime_conf", m.train_runtime_conf.clone());
    put("runtime_conf", m.train_runtime_conf.clone());
    put("runtime_conf_on_party", m.runtime_conf_on_party.clone());
    put("inference_dsl", m.inference_dsl.clone());
    put("fate_version", json!(m.fate_version));
    put("parent", json!(m.parent));
    put("parent_info", m.parent_info.clone());
    put("loaded_times", json!(m.loaded_times));
    put("imported", json!(i64::from(m.imported)));
    put("size", json!(m.size));
    put("description", json!(m.description));
    put("archive_sha256", json!(m.archive_sha256));
    put("archive_from_ip", json!(m.archive_from_ip));
    put("create_time", json!(m.create_time));
    put("create_date", json!(format_date(m.create_time)));
    put("update_time", json!(m.update_time));
    put("update_date", json!(format_date(m.update_time)));
    r
}

fn query_filters(body: &Map<String, Value>) -> Vec<String> {
    match body.get("query_filters") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| format!("f_{}", s.trim_start_matches("f_")))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| format!("f_{}", x.trim().trim_start_matches("f_")))
            .collect(),
        _ => Vec::new(),
    }
}

const NO_MODEL: &str = "Query model info failed, cannot find model from db and local model files. \
     Try use both model id and model version to query model info from local models.";

async fn matching_models(
    s: &AppState,
    body: &Map<String, Value>,
) -> Result<Vec<ModelInfoRecord>, Reply> {
    let f = model_filter(body)?;
    s.store.query_models(&f).await.map_err(internal)
}

async fn query(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    respond(
        async {
            let models = matching_models(&s, &body).await?;
            if models.is_empty() {
                return Err(Reply::err(RetCode::ExceptionError, NO_MODEL).data(json!([])));
            }
            let filters = query_filters(&body);
            let rows: Vec<Value> = models
                .iter()
                .map(|m| {
                    let mut r = model_raw(m);
                    if !filters.is_empty() {
                        r.retain(|k, _| filters.contains(k));
                    }
                    Value::Object(r)
                })
                .collect();
            Ok(Reply::ok(Value::Array(rows)).msg("Query model info from db success."))
        }
        .await,
    )
}

async fn query_detail(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    respond(
        async {
            let models = matching_models(&s, &body).await?;
            if models.is_empty() {
                return Err(Reply::err(RetCode::ExceptionError, NO_MODEL).data(json!([])));
            }
            let mut rows = Vec::new();
            for m in &models {
                let comps = s.store.model_components(&m.key()).await.map_err(internal)?;
                let mut r = model_raw(m);
                r.insert(
                    "components".into(),
                    Value::Array(
                        comps
                            .iter()
                            .map(|c| {
                                json!({
                                    "component_name": c.component_name,
                                    "module": c.module,
                                    "model_alias": c.model_alias,
                                    "size": c.model.to_string().len(),
                                })
                            })
                            .collect(),
                    ),
                );
                rows.push(Value::Object(r));
            }
            Ok(Reply::ok(Value::Array(rows)))
        }
        .await,
    )
}

fn model_key(body: &Map<String, Value>) -> Result<ModelKey, Reply> {
    require(body, &["model_id", "model_version", "role", "party_id"])?;
    let role = role_field(body, "role")?.unwrap_or(Role::Guest);
    let party_id = int_field(body, "party_id")
        .and_then(|p| u64::try_from(p).ok())
        .ok_or_else(|| {
            Reply::err(
                RetCode::ArgumentError,
                "party_id: expected a party id number",
            )
        })?;
    Ok(ModelKey {
        model_id: str_field(body, "model_id").unwrap_or_default(),
        model_version: str_field(body, "model_version").unwrap_or_default(),
        role,
        party_id,
    })
}

fn archive_name(key: &ModelKey) -> String {
    format!(
        "{}_{}.zip",
        fateflow_domain::ids::party_model_id(&key.model_id, key.role, key.party_id),
        key.model_version
    )
}

async fn export(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    let key = match model_key(&body) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let party_model_id =
        fateflow_domain::ids::party_model_id(&key.model_id, key.role, key.party_id);
    let info = match s.store.get_model(&key).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return http_error(
                404,
                format!(
                    "Model {party_model_id} {} does not exist.",
                    key.model_version
                ),
            )
        }
        Err(e) => return internal(e).into_response(),
    };
    let comps = match s.store.model_components(&key).await {
        Ok(c) => c,
        Err(e) => return internal(e).into_response(),
    };
    let bytes = match tokio::task::spawn_blocking(move || model_archive::pack(&info, &comps)).await
    {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return internal(e).into_response(),
        Err(e) => return internal(e).into_response(),
    };
    // Unquoted, as Flask sends it: FATE's client takes everything after `filename=`.
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={}", archive_name(&key)),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `/v1/model/transfer`, FATE-Flow's model download for serving: the body names the
/// model as `{"namespace": party model id, "name": version}`.
async fn transfer(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    let (Some(namespace), Some(name)) = (str_field(&body, "namespace"), str_field(&body, "name"))
    else {
        return http_error(
            400,
            "expected `namespace` (the party model id) and `name` (the model version)",
        );
    };
    transfer_model(&s, &namespace, &name).await
}

/// `/v1/model/transfer/<party model id, `#` written `~`>/<version>`.
async fn transfer_path(
    State(s): State<AppState>,
    axum::extract::Path((party_model_id, version)): axum::extract::Path<(String, String)>,
) -> Response {
    transfer_model(&s, &party_model_id.replace('~', "#"), &version).await
}

/// One party's model as FATE-Flow's transfer gives it: `data` maps
/// `pipeline.pipeline:Pipeline` and `<component>.<alias>:<module>` to base64. Our
/// models are JSON (as in `flow model export`), so each value is the base64 of a JSON
/// document, not of a protobuf: `format` says so.
async fn transfer_model(s: &AppState, party_model_id: &str, version: &str) -> Response {
    let Some((role, party_id, model_id)) =
        fateflow_domain::ids::parse_party_model_id(party_model_id)
    else {
        return http_error(
            400,
            format!("namespace `{party_model_id}`: expected a party model id `<role>#<party id>#<model id>`"),
        );
    };
    let key = ModelKey {
        model_id: model_id.to_string(),
        model_version: version.to_string(),
        role,
        party_id,
    };
    let info = match s.store.get_model(&key).await {
        Ok(Some(i)) => i,
        Ok(None) => return http_error(404, "model not found"),
        Err(e) => return internal(e).into_response(),
    };
    let comps = match s.store.model_components(&key).await {
        Ok(c) => c,
        Err(e) => return internal(e).into_response(),
    };
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
    let mut data = Map::new();
    let pipeline = json!({
        "inference_dsl": info.inference_dsl, "train_dsl": info.train_dsl,
        "train_runtime_conf": info.train_runtime_conf, "model_id": info.model_id,
        "model_version": info.model_version, "parent": info.parent, "roles": info.roles,
        "initiator_role": info.initiator_role.as_str(), "initiator_party_id": info.initiator_party_id,
        "fate_version": info.fate_version,
    });
    data.insert("pipeline.pipeline:Pipeline".into(), json!(b64(&pipeline)));
    for c in &comps {
        data.insert(
            format!("{}.{}:{}", c.component_name, c.model_alias, c.module),
            json!(b64(&c.model)),
        );
    }
    axum::Json(json!({"retcode": 0, "retmsg": "success", "format": "json", "data": data}))
        .into_response()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads fate-client's import: form fields (the conf, including its own `file` path as
/// text) and the archive as the part `file` with a file name.
async fn read_import(req: Request) -> Result<(Map<String, Value>, Option<Vec<u8>>), Response> {
    let mut mp = Multipart::from_request(req, &()).await.map_err(|e| {
        http_error(
            400,
            format!("expected a multipart/form-data body with the model archive as `file`: {e}"),
        )
    })?;
    let mut fields = Map::new();
    let mut archive = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(http_error(400, format!("reading the multipart body: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_string();
        if field.file_name().is_some() {
            if name != "file" {
                continue;
            }
            let mut field = field;
            let mut buf = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => {
                        if buf.len() + c.len() > MAX_IMPORT_BYTES {
                            return Err(http_error(
                                413,
                                format!("the model archive exceeds {MAX_IMPORT_BYTES} bytes"),
                            ));
                        }
                        buf.extend_from_slice(&c);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(http_error(400, format!("reading the archive: {e}"))),
                }
            }
            archive = Some(buf);
        } else if archive.is_some() {
            // The signature covers the text fields read before the archive only.
            return Err(http_error(
                400,
                format!("form field `{name}` comes after the archive: send the text fields first"),
            ));
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| http_error(400, format!("form field `{name}`: {e}")))?;
            fields.insert(name, Value::String(text));
        }
    }
    Ok((fields, archive))
}

async fn import(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (fields, archive) = match read_import(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The multipart text fields bypass the JSON guard: the same identifier checks.
    if let Err(msg) = super::check_identifiers(&fields) {
        return http_error(400, msg);
    }
    let key = match model_key(&fields) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let Some(archive) = archive else {
        return http_error(
            400,
            "no model archive: send it as the multipart file part `file`",
        );
    };
    let sha = sha256_hex(&archive);
    if let Some(h) = str_field(&fields, "hash") {
        if !h.eq_ignore_ascii_case(&sha) {
            return http_error(
                400,
                format!("hash: the archive's SHA-256 is {sha}, not {h}"),
            );
        }
    }
    if let Err(e) = s.scheduler.import_target(&key) {
        return import_error(e);
    }
    let unpacked = match tokio::task::spawn_blocking(move || model_archive::unpack(&archive)).await
    {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => return http_error(400, format!("Import model failed: {e}")),
        Err(e) => return internal(e).into_response(),
    };
    let import = ModelImport {
        key: key.clone(),
        info: unpacked.info,
        components: unpacked.components,
        force_update: bool_field(&fields, "force_update").unwrap_or(false),
        sha256: sha,
        from_ip: peer.ip().to_string(),
    };
    match s.scheduler.import_model(import).await {
        Ok(job_id) => Reply::ok(json!({
            "job_id": job_id,
            "role": key.role,
            "party_id": key.party_id.to_string(),
            "model_id": key.model_id,
            "model_version": key.model_version,
        }))
        .into_response(),
        Err(e) => import_error(e),
    }
}

/// FATE's answers to a refused import: 400, 409 (exists), or an internal error.
fn import_error(e: ImportError) -> Response {
    match e {
        ImportError::NotHosted { .. } | ImportError::NotInRoles(_) => {
            http_error(400, e.to_string())
        }
        ImportError::Exists => http_error(409, e.to_string()),
        ImportError::Store(e) => internal(e).into_response(),
    }
}

/// A JSON document as a download named `filename` (what `flow` asks for), or as
/// `data` without one.
fn document(body: &Map<String, Value>, doc: Value) -> Response {
    match str_field(body, "filename") {
        Some(name) => {
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename={name}"),
                    ),
                ],
                serde_json::to_vec_pretty(&doc).unwrap_or_default(),
            )
                .into_response()
        }
        None => Reply::ok(doc).into_response(),
    }
}

const NO_MODEL_210: &str = "No model found, please check if arguments are specified correctly.";

async fn predict_dsl(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    let models = match matching_models(&s, &body).await {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    if models.is_empty() {
        return http_error(210, NO_MODEL_210);
    }
    match models
        .iter()
        .find(|m| matches!(m.role, Role::Guest | Role::Host))
    {
        Some(m) => document(&body, m.inference_dsl.clone()),
        None => http_error(
            210,
            "can not found guest or host model, please get predict dsl on guest or host.",
        ),
    }
}

async fn predict_conf(State(s): State<AppState>, body: Bytes) -> Response {
    let body = json_or_form(&body);
    if let Err(r) = require(&body, &["model_id", "model_version"]) {
        return r.into_response();
    }
    let filter = ModelFilter {
        model_id: str_field(&body, "model_id"),
        model_version: str_field(&body, "model_version"),
        role: Some(Role::Guest),
        ..Default::default()
    };
    let models = match s.store.query_models(&filter).await {
        Ok(m) => m,
        Err(e) => return internal(e).into_response(),
    };
    let Some(m) = models.first() else {
        return http_error(210, NO_MODEL_210);
    };
    let inference = match fateflow_domain::dsl::parse_dsl_value(&m.inference_dsl) {
        Ok(d) => d,
        Err(e) => return internal(format!("the model's inference DSL: {e}")).into_response(),
    };
    match fateflow_domain::predict::predict_conf_template(
        &inference,
        &m.train_runtime_conf,
        &m.model_id,
        &m.model_version,
    ) {
        Ok(conf) => document(&body, conf),
        Err(e) => http_error(210, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_lists_split() {
        let m = json_or_form(&Bytes::from_static(b"model_id=a%23b&role=guest&x=1+2"));
        assert_eq!(m["model_id"], "a#b");
        assert_eq!(m["x"], "1 2");
        assert_eq!(
            string_list(&json!("[reader_0, hetero_lr_0]"), "cpn_list").unwrap(),
            ["reader_0", "hetero_lr_0"]
        );
        assert!(string_list(&json!([1]), "cpn_list").is_err());
    }

    #[test]
    fn archive_is_named_like_fate() {
        let key = ModelKey {
            model_id: "guest-9999#host-10000#model".into(),
            model_version: "2024".into(),
            role: Role::Host,
            party_id: 10000,
        };
        assert_eq!(
            archive_name(&key),
            "host#10000#guest-9999#host-10000#model_2024.zip"
        );
    }
}

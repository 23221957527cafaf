//! `/v1/data/*`: upload (multipart from the client, or a server-side file from the
//! allowed directory), download, upload history.

use super::{
    body_object, int_field, internal, now_ms, post_route, require, respond, str_field, typed,
    AppState, Handler, Reply,
};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::Router;
use fateflow_api_types::requests::UploadParams;
use fateflow_domain::retcode::RetCode;
use fateflow_domain::Status;
use fateflow_scheduler::upload::{UploadDone, UPLOAD_COMPONENT};
use fateflow_storage::{TableMetaRecord, TaskFilter};
use fateflow_tables::{TableId, UploadOptions};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/data/upload", post_route(upload))
        .route("/data/download", post_route(download))
        .route("/data/upload/history", post_route(history))
}

/// The upload conf: plain query parameters, or the whole query string as one JSON
/// document (what fate-client sends), or a JSON body.
fn upload_conf(query: Option<&str>, body: Option<&Bytes>) -> Map<String, Value> {
    use fateflow_api_types::signing::percent_decode;
    let mut conf = Map::new();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let decoded = percent_decode(q);
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&decoded) {
            conf = m;
        } else {
            for pair in q.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let (k, v) = (percent_decode(k), percent_decode(v));
                if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&k) {
                    conf.extend(m);
                } else {
                    conf.insert(k, Value::String(v));
                }
            }
        }
    }
    if let Some(b) = body {
        conf.extend(body_object(b));
    }
    conf
}

async fn upload(State(s): State<AppState>, req: Request) -> Response {
    respond(upload_inner(&s, req).await)
}

async fn upload_inner(s: &AppState, req: Request) -> Handler {
    let query = req.uri().query().map(String::from);
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/"));
    if !is_multipart {
        let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
            .await
            .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))?;
        let conf = upload_conf(query.as_deref(), Some(&bytes));
        require(&conf, &["file"])?;
        let params: UploadParams = typed(&conf)?;
        let file = server_file(s, &params.file.unwrap_or_default())?;
        let _claim = UploadClaim::take(&conf)?;
        return upload_file(s, &conf, &file).await;
    }
    let conf = upload_conf(query.as_deref(), None);
    // Check the conf before receiving the file, so a bad request costs no disk.
    let _claim = UploadClaim::take(&conf)?;
    let tmp_dir = s.data_dir.join("tmp");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(internal)?;
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| Reply::err(RetCode::ArgumentError, format!("bad multipart body: {e}")))?;
    let mut saved: Option<tempfile::TempPath> = None;
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| Reply::err(RetCode::ArgumentError, format!("bad multipart body: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        if saved.is_some() {
            return Err(Reply::err(
                RetCode::ArgumentError,
                "file: the multipart body has more than one part named `file`",
            ));
        }
        // A fresh file of our own (random name, exclusive create, owner-only) that is
        // removed when this handler ends by any path, a client hang-up included.
        let (file, path) = tempfile::Builder::new()
            .prefix("upload_")
            .tempfile_in(&tmp_dir)
            .map_err(internal)?
            .into_parts();
        let mut out = tokio::fs::File::from_std(file);
        saved = Some(path);
        while let Some(chunk) = field.chunk().await.map_err(|e| {
            Reply::err(
                RetCode::ArgumentError,
                format!("upload interrupted, nothing was written: {e}"),
            )
        })? {
            out.write_all(&chunk).await.map_err(internal)?;
        }
        out.flush().await.map_err(internal)?;
    }
    let file = saved.ok_or_else(|| {
        Reply::err(
            RetCode::ArgumentError,
            "required argument are missing: file (the multipart part named `file`)",
        )
    })?;
    upload_file(s, &conf, &file).await
}

/// The tables being uploaded right now: a second upload of the same table waits for
/// no one and is refused, so a table and its metadata always come from one upload.
static UPLOADING: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The claim of one upload on its table, released when dropped.
struct UploadClaim(Option<(String, String)>);

impl UploadClaim {
    fn take(conf: &Map<String, Value>) -> Result<Self, Reply> {
        require(conf, &["namespace", "table_name"])?;
        let key = (
            str_field(conf, "namespace").unwrap_or_default(),
            str_field(conf, "table_name").unwrap_or_default(),
        );
        TableId::new(&key.0, &key.1)
            .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))?;
        let mut busy = UPLOADING.lock().unwrap_or_else(|e| e.into_inner());
        if !busy.insert(key.clone()) {
            return Err(Reply::err(
                RetCode::OperatingError,
                format!(
                    "table {}.{} is being uploaded by another request; try again when it ends",
                    key.0, key.1
                ),
            ));
        }
        Ok(Self(Some(key)))
    }
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        if let Some(key) = self.0.take() {
            UPLOADING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }
}

/// A server-side path, allowed only under `--file-root`.
fn server_file(s: &AppState, file: &str) -> Result<PathBuf, Reply> {
    let Some(root) = &s.file_root else {
        return Err(Reply::err(
            RetCode::ArgumentError,
            "reading files on the server is disabled; upload from the client (use_local_data: 1) or start the server with --file-root",
        ));
    };
    let root = root.canonicalize().map_err(|e| {
        Reply::err(
            RetCode::ArgumentError,
            format!("file root {}: {e}", root.display()),
        )
    })?;
    let path = Path::new(file);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let canon = path
        .canonicalize()
        .map_err(|e| Reply::err(RetCode::ArgumentError, format!("file {file}: {e}")))?;
    if !canon.starts_with(&root) {
        return Err(Reply::err(
            RetCode::ArgumentError,
            format!(
                "file {file} is outside the server's file root {}",
                root.display()
            ),
        ));
    }
    Ok(canon)
}

async fn upload_file(s: &AppState, conf: &Map<String, Value>, file: &Path) -> Handler {
    require(conf, &["namespace", "table_name", "head", "partition"])?;
    let params: UploadParams = typed(conf)?;
    let namespace = params.namespace;
    let name = params.table_name;
    let head = match params.head {
        Some(1) => true,
        Some(0) => false,
        _ => {
            return Err(Reply::err(
                RetCode::ArgumentError,
                "head: expected 1 (first line is a header) or 0",
            ))
        }
    };
    let partitions = params
        .partition
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| (1..=1023).contains(p))
        .ok_or_else(|| {
            Reply::err(
                RetCode::ArgumentError,
                "partition: expected an integer from 1 to 1023",
            )
        })?;
    let drop = params.drop.unwrap_or(0) > 0;
    let id = TableId::new(&namespace, &name)
        .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))?;
    let exists = s
        .store
        .get_table_meta(&namespace, &name)
        .await
        .map_err(internal)?
        .is_some()
        || fateflow_tables::TableStore::exists(s.tables.as_ref(), &id).unwrap_or(false);
    if exists && !drop {
        return Err(Reply::err(
            RetCode::ExceptionError,
            "The data table already exists.If you still want to continue uploading, please add the parameter --drop",
        ));
    }
    let mut opts = UploadOptions::new(&namespace, &name);
    opts.head = head;
    opts.partitions = partitions;
    opts.drop = drop;
    opts.extend_sid = params.extend_sid;
    if let Some(d) = params.id_delimiter {
        opts.id_delimiter = d;
    }
    opts.id_column = params.id_column.or(params.id_name);
    let tables = s.tables.clone();
    let path = file.to_path_buf();
    let started = now_ms();
    let meta = tokio::task::spawn_blocking(move || {
        fateflow_tables::upload_csv_file(tables.as_ref(), &path, &opts)
    })
    .await
    .map_err(internal)?
    .map_err(|e| {
        Reply::err(
            RetCode::ExceptionError,
            format!("upload failed, nothing was written: {e}"),
        )
    })?;
    let now = now_ms();
    let record = table_record(&meta, "upload", now);
    s.store.put_table_meta(&record).await.map_err(internal)?;
    let done = UploadDone {
        party_id: params
            .party_id
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(0),
        conf: conf.clone(),
        count: record.count,
        started,
        ended: now,
    };
    let job_id = s.scheduler.record_upload(&done).await.map_err(internal)?;
    tracing::info!(namespace, name, count = meta.count, "table uploaded");
    Ok(Reply::ok(json!({
        "table_name": name,
        "namespace": namespace,
        "count": meta.count,
        "partition": meta.partitions,
        "job_id": job_id,
        "code": 0,
        "message": "success",
        "board_url": format!("http://{}/#/job/{}", s.listen, job_id),
    }))
    .job(job_id))
}

/// The metadata row of a stored table.
pub(crate) fn table_record(
    meta: &fateflow_tables::TableMeta,
    origin: &str,
    now: i64,
) -> TableMetaRecord {
    TableMetaRecord {
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        address: serde_json::to_value(&meta.address).unwrap_or(Value::Null),
        engine: "STANDALONE".into(),
        store_type: "PARQUET".into(),
        partitions: i64::from(meta.partitions),
        id_delimiter: meta.id_delimiter.clone(),
        have_head: meta.have_head,
        extend_sid: meta.extend_sid,
        schema: meta.schema.to_fate_json(&meta.id_delimiter),
        count: i64::try_from(meta.count).unwrap_or(i64::MAX),
        part_of_data: serde_json::to_value(&meta.part_of_data).unwrap_or(Value::Null),
        origin: origin.into(),
        disable: false,
        description: String::new(),
        create_time: now,
        update_time: now,
    }
}

async fn download(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(
        async {
            require(&body, &["table_name", "namespace", "output_path"])?;
            let namespace = str_field(&body, "namespace").unwrap_or_default();
            let name = str_field(&body, "table_name").unwrap_or_default();
            let id = TableId::new(&namespace, &name)
                .map_err(|e| Reply::err(RetCode::ArgumentError, e.to_string()))?;
            if s.store
                .get_table_meta(&namespace, &name)
                .await
                .map_err(internal)?
                .is_none()
            {
                return Err(Reply::err(
                    RetCode::ArgumentError,
                    format!("can not found table name: {name} namespace: {namespace}"),
                ));
            }
            let Some(root) = &s.file_root else {
                return Err(Reply::err(
                    RetCode::ArgumentError,
                    "writing files on the server is disabled; start the server with --file-root",
                ));
            };
            let out = str_field(&body, "output_path").unwrap_or_default();
            let out = if Path::new(&out).is_absolute() {
                PathBuf::from(&out)
            } else {
                root.join(&out)
            };
            let parent = out
                .parent()
                .and_then(|p| p.canonicalize().ok())
                .ok_or_else(|| {
                    Reply::err(
                        RetCode::ArgumentError,
                        "output_path: its directory does not exist",
                    )
                })?;
            let root = root.canonicalize().map_err(internal)?;
            if !parent.starts_with(&root) {
                return Err(Reply::err(
                    RetCode::ArgumentError,
                    format!(
                        "output_path is outside the server's file root {}",
                        root.display()
                    ),
                ));
            }
            let delimiter = str_field(&body, "delimiter");
            let tables = s.tables.clone();
            let out2 = out.clone();
            let n = tokio::task::spawn_blocking(move || {
                fateflow_tables::download_csv_file(
                    tables.as_ref(),
                    &id,
                    &out2,
                    delimiter.as_deref(),
                )
            })
            .await
            .map_err(internal)?
            .map_err(|e| Reply::err(RetCode::ExceptionError, e.to_string()))?;
            Ok(Reply::ok(
                json!({"table_name": name, "namespace": namespace, "output_path": out, "count": n}),
            ))
        }
        .await,
    )
}

async fn history(State(s): State<AppState>, body: Bytes) -> Response {
    let body = body_object(&body);
    respond(async {
        let limit = int_field(&body, "limit").and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        let (tasks, _) = s
            .store
            .query_tasks(&TaskFilter {
                job_id: str_field(&body, "job_id"),
                component_name: Some(UPLOAD_COMPONENT.into()),
                party_statuses: vec![Status::Success],
                order_by: Some(("create_time".into(), false)),
                limit,
                page: 1,
                ..Default::default()
            })
            .await
            .map_err(internal)?;
        let mut out = Vec::new();
        for t in tasks {
            let p = &t.component_parameters;
            let ns = p.get("namespace").and_then(Value::as_str).unwrap_or_default();
            let name = p.get("table_name").and_then(Value::as_str).unwrap_or_default();
            let schema = s.store.get_table_meta(ns, name).await.map_err(internal)?.map(|m| m.schema);
            out.push(json!({ t.job_id.clone(): {
                "upload_info": {"table_name": name, "namespace": ns, "partition": p.get("partition"), "upload_count": p.get("upload_count")},
                "notes": "",
                "schema": schema,
            }}));
        }
        Ok(Reply::ok(Value::Array(out)))
    }.await)
}

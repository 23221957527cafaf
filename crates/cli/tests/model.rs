//! `flow model ...` against a scripted fake server: the routes, bodies, multipart
//! fields and signatures fate-client 1.11 sends, and where downloads are saved.

mod common;

use std::fs;
use std::path::Path;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use common::*;

const MODEL_ID: &str = "arbiter-10000#guest-9999#host-10000#model";

fn run(server: &FakeServer, cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = vec![
        "--ip".into(),
        "127.0.0.1".into(),
        "--port".into(),
        server.port_arg(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    flow(cwd, &cwd.join("no-settings.json"), &all)
}

fn ok() -> Reply {
    Reply::json(json!({"retcode": 0, "retmsg": "success", "data": {}}))
}

#[test]
fn deploy_and_get_model_info_send_fate_clients_bodies() {
    let server = FakeServer::start(|_| ok());
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &[
            "model",
            "deploy",
            "--model-id",
            MODEL_ID,
            "--model-version",
            "1",
            "--cpn-list",
            "reader_0,hetero_lr_0",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &server,
        tmp.path(),
        &[
            "model",
            "get-model-info",
            "--model-id",
            MODEL_ID,
            "--model-version",
            "2",
            "-r",
            "guest",
            "-p",
            "9999",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&server, tmp.path(), &["model", "load", "-j", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/v1/model/deploy");
    assert_eq!(
        reqs[0].json(),
        json!({"model_id": MODEL_ID, "model_version": "1", "cpn_list": ["reader_0", "hetero_lr_0"], "components_checkpoint": {}})
    );
    assert_eq!(reqs[1].path, "/v1/model/query");
    let q = reqs[1].json();
    assert_eq!(
        (q["role"].clone(), q["party_id"].clone()),
        (json!("guest"), json!("9999"))
    );
    assert!(
        q["query_filters"]
            .as_array()
            .unwrap()
            .contains(&json!("parent_info")),
        "{q}"
    );
    assert_eq!(reqs[2].path, "/v1/model/load");
    assert_eq!(reqs[2].json(), json!({"job_id": "2"}));
}

#[test]
fn import_sends_the_conf_as_signed_form_fields_and_the_archive_as_file() {
    let server = FakeServer::start(|_| ok());
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("m.zip"), b"PK-archive-bytes").unwrap();
    fs::write(
        tmp.path().join("import.json"),
        r#"{"model_id": "m#1", "model_version": "2", "role": "guest", "party_id": 9999, "file": "m.zip", "force_update": true}"#,
    )
    .unwrap();
    let out = flow(
        tmp.path(),
        &tmp.path().join("none.json"),
        &[
            "--ip",
            "127.0.0.1",
            "--port",
            &server.port_arg(),
            "--app-key",
            "k",
            "--secret-key",
            "s",
            "model",
            "import",
            "-c",
            "import.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/model/import")
    );
    let boundary = req
        .header("content-type")
        .unwrap()
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap()
        .to_string();
    let body = req.body_text();
    let part = |name: &str| -> Option<String> {
        let head = format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n");
        let start = body.find(&head)? + head.len();
        let end = body[start..].find(&format!("\r\n--{boundary}"))? + start;
        Some(body[start..end].to_string())
    };
    assert_eq!(part("model_id").as_deref(), Some("m#1"));
    assert_eq!(part("party_id").as_deref(), Some("9999"));
    assert_eq!(part("force_update").as_deref(), Some("1"));
    assert_eq!(
        part("file").as_deref(),
        Some("m.zip"),
        "the conf's own path, as text"
    );
    assert!(
        body.contains("name=\"file\"; filename=\"m.zip\"\r\n\r\nPK-archive-bytes\r\n"),
        "{body}"
    );
    // The signature covers the sorted, quoted text fields (FATE signs request.form).
    let conf_path = fs::canonicalize(tmp.path().join("import.json")).unwrap();
    let quote = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut fields = [
        ("conf_path".to_string(), conf_path.display().to_string()),
        ("file".into(), "m.zip".into()),
        ("force_update".into(), "1".into()),
        ("model_id".into(), "m#1".into()),
        ("model_version".into(), "2".into()),
        ("party_id".into(), "9999".into()),
        ("role".into(), "guest".into()),
    ];
    fields.sort();
    let form: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    let message = format!(
        "{}\n{}\nk\n/v1/model/import\n\n{}",
        req.header("timestamp").unwrap(),
        req.header("nonce").unwrap(),
        form.join("&")
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(b"s").unwrap();
    mac.update(message.as_bytes());
    assert_eq!(
        req.header("signature").unwrap(),
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
}

#[test]
fn export_saves_the_archive_under_the_servers_name() {
    let server = FakeServer::start(|_| {
        Reply::bytes("application/zip", b"PKzip".to_vec()).with_header(
            "Content-Disposition",
            "attachment; filename=guest#9999#m_2.zip",
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("export.json"),
        r#"{"model_id": "m", "model_version": "2", "role": "guest", "party_id": 9999, "output_path": "out"}"#,
    )
    .unwrap();
    let out = run(
        &server,
        tmp.path(),
        &["model", "export", "-c", "export.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved = tmp.path().join("out/guest#9999#m_2.zip");
    assert_eq!(fs::read(&saved).unwrap(), b"PKzip");
    let printed: Value = stdout_json(&out);
    assert_eq!(
        printed["file"],
        json!(fs::canonicalize(&saved).unwrap().display().to_string())
    );
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/v1/model/export")
    );
    assert_eq!(req.json()["party_id"], 9999);

    // An error answer is printed, nothing is saved.
    let server = FakeServer::start(|_| Reply {
        status: 404,
        content_type: "application/json".into(),
        body: br#"{"retcode": 404, "retmsg": "Model x does not exist."}"#.to_vec(),
        headers: Vec::new(),
    });
    let out = run(
        &server,
        tmp.path(),
        &["model", "export", "-c", "export.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["retcode"], 404);
}

#[test]
fn get_predict_dsl_saves_the_attachment() {
    let server = FakeServer::start(|_| {
        Reply::bytes(
            "application/octet-stream",
            br#"{"components": {}}"#.to_vec(),
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &[
            "model",
            "get-predict-dsl",
            "--model-id",
            "m",
            "--model-version",
            "2",
            "-o",
            "dsl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files: Vec<_> = fs::read_dir(tmp.path().join("dsl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("predict_dsl_") && name.ends_with(".json"),
        "{name}"
    );
    assert_eq!(fs::read(&files[0]).unwrap(), br#"{"components": {}}"#);
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/model/get/predict/dsl");
    assert_eq!(req.json()["filename"], json!(name));
}

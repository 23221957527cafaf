//! Model archives crafted to mislead the importer.

use crate::common::Server;
use serde_json::{json, Value};
use std::io::{Cursor, Write};
use std::time::Duration;

/// `POST /model/import` as fate-client sends it.
fn import(s: &Server, fields: &[(&str, &str)], archive: &[u8]) -> (u16, Value) {
    let boundary = "archivetestboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model.zip\"\r\n\r\n").as_bytes());
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .post(format!("{}/model/import", s.base))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().unwrap()).unwrap())
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Renames an entry in the raw bytes (local header and central directory alike): the
/// `zip` writer refuses duplicate names, so a duplicate is made this way.
fn rename_entry(mut bytes: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    let (f, t) = (from.as_bytes(), to.as_bytes());
    assert_eq!(f.len(), t.len());
    let mut hits = 0;
    let mut i = 0;
    while i + f.len() <= bytes.len() {
        if &bytes[i..i + f.len()] == f {
            bytes[i..i + f.len()].copy_from_slice(t);
            hits += 1;
            i += f.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(hits, 2, "local header and central directory");
    bytes
}

fn pipeline() -> Vec<u8> {
    json!({
        "format": "fateflow-rs/pipeline-model/1",
        "model_id": "guest-9999#host-10000#model",
        "model_version": "202601010000000000001",
        "role": "guest",
        "party_id": 9999,
        "job_id": "202601010000000000001",
        "roles": {"guest": [9999], "host": [10000]},
        "initiator_role": "guest",
        "initiator_party_id": 9999,
        "train_dsl": {"components": {}},
        "train_runtime_conf": {"dsl_version": 2},
        "runtime_conf_on_party": {},
        "inference_dsl": {"components": {}},
        "fate_version": "1.11.4",
        "parent": false,
        "parent_info": {},
        "components": [{
            "component_name": "hetero_lr_0",
            "model_alias": "model",
            "module": "HeteroLR",
            "file": "components/hetero_lr_0/model.json"
        }]
    })
    .to_string()
    .into_bytes()
}

#[test]
fn duplicate_entry_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let fields = [
        ("model_id", "guest-9999#host-10000#model"),
        ("model_version", "202601010000000000001"),
        ("role", "guest"),
        ("party_id", "9999"),
    ];
    let p = pipeline();
    // The honest archive imports: the crafted one differs only by the duplicate.
    let honest = zip_of(&[
        ("pipeline.json", &p),
        ("components/hetero_lr_0/model.json", b"{\"weight\": 1}"),
    ]);
    let (status, r) = import(&s, &fields, &honest);
    assert_eq!((status, r["retcode"].clone()), (200, json!(0)), "{r}");

    // Two copies of the listed model: a reviewer unzipping it sees one, the importer
    // would take the other.
    let two = zip_of(&[
        ("pipeline.json", &p),
        ("components/hetero_lr_0/model.json", b"{\"weight\": 1}"),
        ("components/hetero_lr_0/modeX.json", b"{\"weight\": 666}"),
    ]);
    let dup = rename_entry(
        two,
        "components/hetero_lr_0/modeX.json",
        "components/hetero_lr_0/model.json",
    );
    let other = [
        ("model_id", "other"),
        ("model_version", "1"),
        ("role", "guest"),
        ("party_id", "9999"),
    ];
    let (status, r) = import(&s, &other, &dup);
    assert_eq!(status, 400, "{r}");
    let msg = r["retmsg"].as_str().unwrap_or("");
    assert!(
        msg.contains("components/hetero_lr_0/model.json") && msg.contains("appears twice"),
        "{r}"
    );
    let none = s.post("model/query", json!({"model_id": "other"}));
    assert_eq!(none["retcode"], 100, "nothing imported: {none}");
}

//! Model archives crafted to mislead the importer.

use crate::common::Server;
use serde_json::json;

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
    let honest = crate::common::zip_of(&[
        ("pipeline.json", &p),
        ("components/hetero_lr_0/model.json", b"{\"weight\": 1}"),
    ]);
    let (status, r) = s.import_model(&fields, &honest);
    assert_eq!((status, r["retcode"].clone()), (200, json!(0)), "{r}");

    // Two copies of the listed model: a reviewer unzipping it sees one, the importer
    // would take the other.
    let two = crate::common::zip_of(&[
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
    let (status, r) = s.import_model(&other, &dup);
    assert_eq!(status, 400, "{r}");
    let msg = r["retmsg"].as_str().unwrap_or("");
    assert!(
        msg.contains("components/hetero_lr_0/model.json") && msg.contains("appears twice"),
        "{r}"
    );
    let none = s.post("model/query", json!({"model_id": "other"}));
    assert_eq!(none["retcode"], 100, "nothing imported: {none}");
}

//! End-to-end model management with real server processes: train the example hetero
//! LR job on breast, save the pipeline model at every party, deploy it, predict on the
//! same data (the guest's scores must equal the training job's), load, export the
//! guest's model and import it into a second fresh site; FATE's answers for unknown
//! models, and hostile archives refused.

mod common;
mod modelkit;

use common::Server;
use modelkit::{example_job, guest_scores, predict_conf};
use serde_json::{json, Value};
use std::io::{Cursor, Read};
use std::time::{Duration, Instant};

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `GET /model/export` with a JSON body, as fate-client sends it.
fn export(s: &Server, body: Value) -> (u16, String, Vec<u8>) {
    let r = http()
        .get(format!("{}/model/export", s.base))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let disposition = r
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, disposition, r.bytes().unwrap().to_vec())
}

fn rows_of(r: &Value) -> Vec<Value> {
    r["data"].as_array().cloned().unwrap_or_default()
}

#[test]
fn train_deploy_predict_load_export_import() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("a"), &[], &[]);
    s.upload_breast();
    let (dsl, conf) = example_job(&s, "hetero_lr");
    assert_eq!(
        conf["component_parameters"]["common"]["hetero_lr_0"]["encrypt_param"]["key_length"], 1024,
        "the example keeps test time low with 1024-bit keys"
    );
    let t0 = Instant::now();
    let train = s.submit(dsl.clone(), conf);
    let job = s.wait_end(&train, Duration::from_secs(900));
    assert_eq!(job["f_status"], "success", "{job}");
    println!("training job: {:.1} s", t0.elapsed().as_secs_f64());
    let model_id = job["f_model_id"].as_str().unwrap().to_string();
    assert_eq!(model_id, "arbiter-10000#guest-9999#host-10000#model");

    // Every party saved its pipeline model, a parent, referencing its component models.
    let q = s.post(
        "model/query",
        json!({"model_id": model_id, "model_version": train}),
    );
    assert_eq!(q["retcode"], 0, "{q}");
    let mut parties: Vec<(String, String)> = rows_of(&q)
        .iter()
        .map(|m| {
            assert_eq!(m["f_parent"], true, "{m}");
            assert_eq!(m["f_model_version"], json!(train));
            assert_eq!(m["f_job_id"], json!(train));
            assert_eq!(m["f_train_dsl"], dsl);
            assert_eq!(m["f_initiator_role"], "guest");
            assert_eq!(m["f_loaded_times"], 0);
            assert!(
                m["f_inference_dsl"]["components"]["hetero_lr_0"].is_object(),
                "{m}"
            );
            assert_eq!(
                m["f_train_runtime_conf"]["job_parameters"]["common"]["model_version"],
                json!(train)
            );
            (
                m["f_role"].as_str().unwrap().into(),
                m["f_party_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    parties.sort();
    assert_eq!(
        parties,
        [
            ("arbiter".into(), "10000".into()),
            ("guest".into(), "9999".into()),
            ("host".into(), "10000".into())
        ]
    );
    let detail = s.post(
        "model/query/detail",
        json!({"model_id": model_id, "model_version": train, "role": "guest"}),
    );
    let names: Vec<&str> = detail["data"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"hetero_lr_0") && names.contains(&"data_transform_0"),
        "{detail}"
    );
    let short = s.post(
        "model/query",
        json!({"model_version": train, "role": "host", "query_filters": ["role", "party_id"]}),
    );
    assert_eq!(
        rows_of(&short),
        [json!({"f_role": "host", "f_party_id": "10000"})]
    );

    // A trained version cannot be predicted with; unknown models get FATE's answers.
    let r = s.post(
        "job/submit",
        json!({"job_dsl": {}, "job_runtime_conf": predict_conf(&model_id, &train, true)}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    assert!(
        r["retmsg"]
            .as_str()
            .unwrap()
            .contains("model has not been deployed yet"),
        "{r}"
    );
    let r = s.post(
        "model/query",
        json!({"model_id": "nope", "model_version": "1"}),
    );
    assert_eq!(
        (r["retcode"].clone(), r["data"].clone()),
        (json!(100), json!([])),
        "{r}"
    );
    let r = s.post(
        "model/deploy",
        json!({"model_id": "nope", "model_version": "1"}),
    );
    assert_eq!(r["retcode"], 404, "{r}");
    let (status, _, body) = export(
        &s,
        json!({"model_id": "nope", "model_version": "1", "role": "guest", "party_id": 9999}),
    );
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let r = s.post(
        "model/get/predict/dsl",
        json!({"model_id": "nope", "model_version": "1"}),
    );
    assert_eq!(r["retcode"], 210, "{r}");
    let r = s.post("model/deploy", json!({"model_version": "1"}));
    assert_eq!(r["retcode"], 101, "{r}");
    let r = s.post(
        "job/submit",
        json!({"job_dsl": {}, "job_runtime_conf": predict_conf("nope", "1", true)}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("not found"), "{r}");
    let r = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train, "components_checkpoint": {"hetero_lr_0": {"step_index": 2}}}),
    );
    assert_eq!(r["retcode"], 101, "{r}");
    assert!(
        r["retmsg"]
            .as_str()
            .unwrap()
            .contains("components_checkpoint"),
        "{r}"
    );

    // Deploy every trained component but the evaluation.
    let cpn_list: Vec<&str> = dsl["components"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|c| *c != "evaluation_0")
        .collect();
    let d = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train, "cpn_list": cpn_list, "components_checkpoint": {}}),
    );
    assert_eq!(d["retcode"], 0, "{d}");
    let child = d["data"]["model_version"].as_str().unwrap().to_string();
    assert_ne!(child, train);
    assert_eq!(d["data"]["model_id"], json!(model_id));
    for (role, party) in [("guest", "9999"), ("host", "10000"), ("arbiter", "10000")] {
        assert_eq!(d["data"][role][party], 0, "{d}");
        assert_eq!(d["data"]["detail"][role][party]["retcode"], 0, "{d}");
    }
    let c = s.post(
        "model/query",
        json!({"model_id": model_id, "model_version": child, "role": "guest"}),
    );
    let m = &c["data"][0];
    assert_eq!(m["f_parent"], false, "{c}");
    assert_eq!(
        m["f_parent_info"],
        json!({"parent_model_id": model_id, "parent_model_version": train})
    );
    let inference = m["f_inference_dsl"].clone();
    assert!(
        inference["components"].get("evaluation_0").is_none(),
        "{inference}"
    );
    assert_eq!(
        inference["components"]["hetero_lr_0"]["input"]["model"],
        json!(["pipeline.hetero_lr_0.model"])
    );
    let p = s.post(
        "model/get/predict/dsl",
        json!({"model_id": model_id, "model_version": child}),
    );
    assert_eq!(p["data"], inference, "{p}");
    let p = s.post(
        "model/get/predict/conf",
        json!({"model_id": model_id, "model_version": child}),
    );
    assert_eq!(
        p["data"]["job_parameters"]["common"]["job_type"], "predict",
        "{p}"
    );
    assert_eq!(
        p["data"]["job_parameters"]["common"]["model_version"],
        json!(child)
    );
    assert!(
        p["data"]["component_parameters"]["role"]["host"]["0"]["reader_0"]["table"].is_object(),
        "{p}"
    );
    let r = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": child}),
    );
    assert_eq!(
        r["retcode"], 101,
        "a deployed version is not deployed again: {r}"
    );
    // A user's inference DSL (as `flow model deploy --dsl-path` sends it: JSON text).
    let d2 = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train, "dsl": inference.to_string()}),
    );
    assert_eq!(d2["retcode"], 0, "{d2}");
    let c2 = s.post(
        "model/query",
        json!({"model_version": d2["data"]["model_version"], "role": "host"}),
    );
    assert_eq!(c2["data"][0]["f_inference_dsl"], inference, "{c2}");
    let mut bad = inference.clone();
    bad["components"]["hetero_lr_0"]["module"] = json!("HeteroLinR");
    let d3 = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train, "predict_dsl": bad}),
    );
    assert_eq!(d3["retcode"], 101, "{d3}");
    let why = d3["data"]["detail"]["guest"]["9999"]["retmsg"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("HeteroLinR") && why.contains("hetero_lr_0"),
        "{d3}"
    );

    // Load: counted at guest and host, refused for the trained version.
    let l = s.post(
        "model/load",
        json!({"job_parameters": {"model_id": model_id, "model_version": child}}),
    );
    assert_eq!(l["retcode"], 0, "{l}");
    assert!(
        l["retmsg"].as_str().unwrap().contains("predict jobs"),
        "{l}"
    );
    assert!(l["jobId"].is_string(), "{l}");
    assert_eq!(l["data"]["guest"]["9999"], 0, "{l}");
    assert!(l["data"].get("arbiter").is_none(), "{l}");
    let loaded = s.post(
        "model/query",
        json!({"model_version": child, "query_filters": ["role", "loaded_times"]}),
    );
    for row in rows_of(&loaded) {
        let want = if row["f_role"] == "arbiter" { 0 } else { 1 };
        assert_eq!(row["f_loaded_times"], want, "{loaded}");
    }
    let l = s.post("model/load", json!({"job_id": train}));
    assert_eq!(l["retcode"], 101, "{l}");

    // Predict on the same data: the guest's scores are the training job's.
    let t0 = Instant::now();
    let r = s.post(
        "job/submit",
        json!({"job_dsl": {}, "job_runtime_conf": predict_conf(&model_id, &child, true)}),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    assert_eq!(
        r["data"]["model_info"]["model_version"],
        json!(child),
        "{r}"
    );
    let predict = r["jobId"].as_str().unwrap().to_string();
    let pj = s.wait_end(&predict, Duration::from_secs(600));
    assert_eq!(pj["f_status"], "success", "{pj}");
    println!("predict job: {:.1} s", t0.elapsed().as_secs_f64());
    let listed = s.post("job/list/job", json!({"job_id": predict}));
    assert!(
        listed["data"]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["job_type"] == "predict"),
        "{listed}"
    );
    let tasks = s.tasks(&predict);
    let lr_arbiter = tasks
        .iter()
        .find(|t| t["component_name"] == "hetero_lr_0" && t["role"] == "arbiter")
        .unwrap();
    // The arbiter's LR model is empty (FATE's too): its predict task has nothing to do.
    let arbiter_model = s.post(
        "model/query/detail",
        json!({"model_id": model_id, "model_version": child, "role": "arbiter"}),
    );
    assert!(
        arbiter_model["data"][0]["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["component_name"] == "hetero_lr_0"),
        "{arbiter_model}"
    );
    assert_eq!(lr_arbiter["party_status"], "success", "{lr_arbiter}");
    assert!(
        tasks.iter().all(|t| t["component_name"] != "evaluation_0"),
        "{tasks:?}"
    );
    let trained = guest_scores(&s, &train, "hetero_lr_0");
    let predicted = guest_scores(&s, &predict, "hetero_lr_0");
    assert_eq!(trained.len(), 569);
    assert_eq!(
        trained.keys().collect::<Vec<_>>(),
        predicted.keys().collect::<Vec<_>>()
    );
    let mut worst = 0f64;
    for (id, (score, kind)) in &predicted {
        // The `type` column reads as FATE names the data sets.
        assert_eq!(kind, "predict", "{id}");
        assert_eq!(trained[id].1, "train", "{id}");
        worst = worst.max((score - trained[id].0).abs());
    }
    assert!(worst < 1e-6, "largest score difference {worst}");
    let none = s.post("model/query", json!({"model_version": predict}));
    assert_eq!(none["retcode"], 100, "predict jobs save no model: {none}");

    // Export the guest's deployed model and import it into a fresh site.
    let (status, disposition, archive) = export(
        &s,
        json!({"model_id": model_id, "model_version": child, "role": "guest", "party_id": 9999, "output_path": "/tmp"}),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&archive));
    assert_eq!(
        disposition,
        format!("attachment; filename=guest#9999#{model_id}_{child}.zip")
    );
    assert!(archive.starts_with(b"PK"));
    let b = Server::start(&dir.path().join("b"), &[], &[]);
    let fields = [
        ("model_id", model_id.as_str()),
        ("model_version", child.as_str()),
        ("role", "guest"),
        ("party_id", "9999"),
        ("file", "/somewhere/on/the/client.zip"),
        ("force_update", "0"),
    ];
    let (status, r) = b.import_model(&fields, &archive);
    assert_eq!((status, r["retcode"].clone()), (200, json!(0)), "{r}");
    assert_eq!(r["data"]["model_version"], json!(child), "{r}");
    let q = b.post(
        "model/query",
        json!({"model_id": model_id, "model_version": child}),
    );
    let rows = rows_of(&q);
    assert_eq!(rows.len(), 1, "{q}");
    assert_eq!(rows[0]["f_imported"], 1);
    assert_eq!(rows[0]["f_parent"], false);
    assert_eq!(rows[0]["f_inference_dsl"], inference);
    let a_detail = s.post(
        "model/query/detail",
        json!({"model_id": model_id, "model_version": child, "role": "guest"}),
    );
    let b_detail = b.post(
        "model/query/detail",
        json!({"model_id": model_id, "model_version": child, "role": "guest"}),
    );
    assert_eq!(
        a_detail["data"][0]["components"],
        b_detail["data"][0]["components"]
    );
    let (status, r) = b.import_model(&fields, &archive);
    assert_eq!((status, r["retcode"].clone()), (409, json!(409)), "{r}");
    let mut forced = fields;
    forced[5] = ("force_update", "1");
    let (status, r) = b.import_model(&forced, &archive);
    assert_eq!((status, r["retcode"].clone()), (200, json!(0)), "{r}");
    let mut wrong_party = fields;
    wrong_party[2] = ("role", "host");
    let (status, r) = b.import_model(&wrong_party, &archive);
    assert_eq!(status, 400, "guest 9999 is not a host of the model: {r}");
    // The host's model is not at site b: a predict job there names it.
    let r = b.post(
        "job/submit",
        json!({"job_dsl": {}, "job_runtime_conf": predict_conf(&model_id, &child, true)}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("host 10000"), "{r}");

    // Hostile or broken archives are refused and leave nothing.
    let mut z = zip::ZipArchive::new(Cursor::new(&archive[..])).unwrap();
    let mut pipeline = Vec::new();
    z.by_name("pipeline.json")
        .unwrap()
        .read_to_end(&mut pipeline)
        .unwrap();
    let other = [
        ("model_id", "other"),
        ("model_version", "1"),
        ("role", "guest"),
        ("party_id", "9999"),
    ];
    for (bytes, needle) in [
        (b"this is not a zip".to_vec(), "zip"),
        (
            common::zip_of(&[("pipeline.json", &pipeline), ("../evil.json", b"{}")]),
            "../evil.json",
        ),
        (
            common::zip_of(&[
                ("pipeline.json", &pipeline),
                ("components/x/../../../evil.json", b"{}"),
            ]),
            "evil.json",
        ),
        (
            common::zip_of(&[("components/hetero_lr_0/model.json", b"{}")]),
            "pipeline.json",
        ),
    ] {
        let (status, r) = b.import_model(&other, &bytes);
        assert_eq!(status, 400, "{r}");
        assert!(
            r["retmsg"].as_str().unwrap().contains(needle),
            "{needle}: {r}"
        );
    }
    let none = b.post("model/query", json!({"model_id": "other"}));
    assert_eq!(none["retcode"], 100, "{none}");
    assert!(!dir.path().join("evil.json").exists() && !dir.path().join("b/evil.json").exists());
}

/// A job's `ModelLoader` hands an earlier job's binning model (each party its own copy)
/// to `HeteroFeatureSelection` as its isometric model, as FATE-Flow's ModelLoader; an
/// unknown component is refused naming what the model holds.
#[test]
fn model_loader_reuses_an_earlier_jobs_component_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("a"), &[], &[]);
    s.upload_breast();
    let head = json!({
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {"module": "DataTransform", "input": {"data": {"data": ["reader_0.data"]}},
                             "output": {"data": ["data"], "model": ["model"]}},
        "intersection_0": {"module": "Intersection", "input": {"data": {"data": ["data_transform_0.data"]}},
                           "output": {"data": ["data"]}}
    });
    let conf = |common: Value| {
        json!({
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999], "host": [10000]},
            "component_parameters": {
                "common": common,
                "role": {
                    "guest": {"0": {"reader_0": {"table": {"name": "breast_hetero_guest", "namespace": "experiment"}},
                                    "data_transform_0": {"with_label": true}}},
                    "host": {"0": {"reader_0": {"table": {"name": "breast_hetero_host", "namespace": "experiment"}},
                                   "data_transform_0": {"with_label": false}}}
                }
            }
        })
    };
    let mut train = head.clone();
    train["hetero_feature_binning_0"] = json!({"module": "HeteroFeatureBinning",
        "input": {"data": {"data": ["intersection_0.data"]}}, "output": {"data": ["data"], "model": ["model"]}});
    let job = s.wait_end(
        &s.submit(json!({"components": train}), conf(json!({}))),
        Duration::from_secs(300),
    );
    assert_eq!(job["f_status"], "success", "{job}");
    let (model_id, model_version) = (
        job["f_model_id"].as_str().unwrap().to_string(),
        job["f_model_version"].as_str().unwrap().to_string(),
    );
    let mut use_it = head;
    use_it["model_loader_0"] = json!({"module": "ModelLoader", "output": {"model": ["model"]}});
    use_it["hetero_feature_selection_0"] = json!({"module": "HeteroFeatureSelection",
        "input": {"data": {"data": ["intersection_0.data"]}, "isometric_model": ["model_loader_0.model"]},
        "output": {"data": ["data"], "model": ["model"]}});
    let loader = |component: &str| {
        conf(json!({
            "model_loader_0": {"model_id": model_id, "model_version": model_version,
                               "component_name": component},
            "hetero_feature_selection_0": {"filter_methods": ["iv_filter"],
                "iv_param": {"metrics": ["iv"], "filter_type": ["top_k"], "threshold": [3]}}
        }))
    };
    let job = s.wait_end(
        &s.submit(
            json!({"components": use_it.clone()}),
            loader("hetero_feature_binning_0"),
        ),
        Duration::from_secs(300),
    );
    assert_eq!(job["f_status"], "success", "{job}");
    let r = s.post(
        "tracking/component/output/model",
        json!({"job_id": job["f_job_id"], "role": "guest", "party_id": 9999,
               "component_name": "hetero_feature_selection_0"}),
    );
    // The IV values come from the loaded binning model.
    let iv = &r["data"]["results"][0]["feature_values"];
    assert!(iv["x0"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    let kept = r["data"]["final_left_cols"]["left_cols"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| **v == json!(true))
        .count();
    assert_eq!(kept, 3, "{r}");
    let job = s.wait_end(
        &s.submit(json!({"components": use_it}), loader("no_such_component")),
        Duration::from_secs(300),
    );
    assert_eq!(job["f_status"], "failed", "{job}");
    let reasons = s.tasks(job["f_job_id"].as_str().unwrap()).to_vec();
    assert!(
        format!("{reasons:?}").contains("hetero_feature_binning_0"),
        "the refusal names what the model holds: {reasons:?}"
    );
}

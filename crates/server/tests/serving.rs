//! Online inference on one site hosting guest 9999 and host 10000: a trained HeteroLR
//! model deployed, loaded and bound answers FATE-Serving's single and batch requests
//! with the scores the batch predict job gives for the same ids, and bad requests get
//! FATE-Serving's codes.

mod common;
mod modelkit;

use common::{examples, Server};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Trains the hetero LR example briefly, deploys it without its evaluation, predicts
/// the breast tables with it and loads it. Returns (model id, deployed version, the
/// predict job's guest scores by id).
pub fn trained_and_loaded(
    s: &Server,
) -> (
    String,
    String,
    std::collections::BTreeMap<String, (f64, String)>,
) {
    example_trained_and_loaded(s, "hetero_lr", "hetero_lr_0", &json!({"max_iter": 5}), true)
}

/// [`trained_and_loaded`] for an example job whose `component` takes `params` on top
/// of the example's.
fn example_trained_and_loaded(
    s: &Server,
    example: &str,
    component: &str,
    params: &Value,
    arbiter: bool,
) -> (
    String,
    String,
    std::collections::BTreeMap<String, (f64, String)>,
) {
    let (dsl, mut conf) = modelkit::example_job(s, example);
    for (k, v) in params.as_object().unwrap() {
        conf["component_parameters"]["common"][component][k] = v.clone();
    }
    let train = s.submit(dsl.clone(), conf);
    let job = s.wait_end(&train, Duration::from_secs(600));
    assert_eq!(job["f_status"], "success", "{job}");
    let model_id = job["f_model_id"].as_str().unwrap().to_string();
    let cpn_list: Vec<&str> = dsl["components"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|c| *c != "evaluation_0")
        .collect();
    let d = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train, "cpn_list": cpn_list}),
    );
    assert_eq!(d["retcode"], 0, "{d}");
    let child = d["data"]["model_version"].as_str().unwrap().to_string();
    let r = s.post(
        "job/submit",
        json!({"job_dsl": {}, "job_runtime_conf": modelkit::predict_conf(&model_id, &child, arbiter)}),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let predict = r["jobId"].as_str().unwrap().to_string();
    let pj = s.wait_end(&predict, Duration::from_secs(600));
    assert_eq!(pj["f_status"], "success", "{pj}");
    let scores = modelkit::guest_scores(s, &predict, component);
    let l = s.post(
        "model/load",
        json!({"job_parameters": {"model_id": model_id, "model_version": child}}),
    );
    assert_eq!(l["retcode"], 0, "{l}");
    (model_id, child, scores)
}

#[test]
fn a_bound_secureboost_model_answers_with_the_predict_jobs_scores_plainly_and_under_eini() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("site"), &[], &[]);
    s.upload_breast();
    let rows = modelkit::guest_rows();
    for (service, eini) in [("sbt-plain", false), ("sbt-eini", true)] {
        let params = json!({"num_trees": 3, "tree_param": {"max_depth": 4},
                            "encrypt_param": {"method": "Paillier", "key_length": 1024},
                            "EINI_inference": eini, "EINI_random_mask": false});
        let (model_id, child, scores) = example_trained_and_loaded(
            &s,
            "hetero_secureboost",
            "hetero_secure_boost_0",
            &params,
            false,
        );
        let b = s.post(
            "model/bind",
            json!({"service_id": service, "job_parameters": {"model_id": model_id, "model_version": child}}),
        );
        assert_eq!(b["retcode"], 0, "{b}");
        let listed = s.post("serving/list", json!({}));
        let kind = if eini { "trees (EINI)" } else { "trees" };
        assert!(listed.to_string().contains(kind), "{listed}");
        let ids: Vec<&(String, Map<String, Value>)> = rows.iter().step_by(7).collect();
        let mut worst: f64 = 0.0;
        for (id, features) in &ids {
            let r = serve(&s, "inference", single(service, features, id));
            assert_eq!(r["retcode"], 0, "{id}: {r}");
            let got = r["data"]["score"].as_f64().unwrap();
            let label = r["data"]["label"].as_f64().unwrap();
            assert_eq!(label, if got > 0.5 { 1.0 } else { 0.0 }, "{r}");
            worst = worst.max((got - scores[id.as_str()].0).abs());
        }
        assert!(worst < 1e-9, "{service}: largest difference {worst}");
        println!(
            "{service}: {} single requests, max |online - batch| = {worst:.2e}",
            ids.len()
        );
        // A batch answers the same.
        let r = serve(
            &s,
            "batchInference",
            batch(service, ids.iter().copied().take(20)),
        );
        assert_eq!(r["retcode"], 0, "{r}");
        for (i, item) in r["batchDataList"].as_array().unwrap().iter().enumerate() {
            let got = item["data"]["score"].as_f64().unwrap();
            assert!((got - scores[ids[i].0.as_str()].0).abs() < 1e-9, "{item}");
        }
    }
}

fn serve(s: &Server, path: &str, body: Value) -> Value {
    let url = s.base.replace("/v1", &format!("/federation/v1/{path}"));
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

fn single(service: &str, features: &Map<String, Value>, id: &str) -> Value {
    json!({"head": {"serviceId": service}, "body": {"featureData": features, "sendToRemoteFeatureData": {"id": id}}})
}

/// A batch request of `rows` (id, features), indexed 0, 1, ...
fn batch<'a>(service: &str, rows: impl Iterator<Item = &'a (String, Map<String, Value>)>) -> Value {
    let list: Vec<Value> = rows
        .enumerate()
        .map(|(i, (id, f))| json!({"index": i, "featureData": f, "sendToRemoteFeatureData": {"id": id}}))
        .collect();
    json!({"head": {"serviceId": service}, "body": {"batchDataList": list}})
}

#[test]
fn a_bound_lr_model_answers_single_and_batch_requests_with_the_predict_jobs_scores() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("site"), &[], &[]);
    s.upload_breast();
    let (model_id, child, scores) = trained_and_loaded(&s);
    let rows = modelkit::guest_rows();

    // Not bound yet: FATE-Serving's 104.
    let r = serve(&s, "inference", single("lr-breast", &rows[0].1, &rows[0].0));
    assert_eq!(r["retcode"], 104, "{r}");
    let b = s.post(
        "model/bind",
        json!({"service_id": "lr-breast", "job_parameters": {"model_id": model_id, "model_version": child}}),
    );
    assert_eq!(b["retcode"], 0, "{b}");
    assert_eq!(b["retmsg"], "service id is lr-breast", "{b}");

    // Every id, one request each: the predict job's score to 1e-9.
    let t0 = Instant::now();
    let mut worst: f64 = 0.0;
    for (id, features) in &rows {
        let r = serve(&s, "inference", single("lr-breast", features, id));
        assert_eq!(r["retcode"], 0, "{id}: {r}");
        let got = r["data"]["score"].as_f64().unwrap();
        let want = scores[id].0;
        worst = worst.max((got - want).abs());
        assert_eq!(r["data"]["modelVersion"], json!(child));
    }
    assert!(worst < 1e-9, "largest difference {worst}");
    println!(
        "{} single requests over HTTP: {:.2} ms each on average (debug build), max |online - batch| = {worst:.2e}",
        rows.len(),
        t0.elapsed().as_secs_f64() * 1000.0 / rows.len() as f64
    );

    // A batch: scores by index, equal to the predict job's.
    let r = serve(
        &s,
        "batchInference",
        batch("lr-breast", rows.iter().take(100)),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let list = r["batchDataList"].as_array().unwrap();
    assert_eq!(list.len(), 100);
    for (i, item) in list.iter().enumerate() {
        assert_eq!(item["index"], i);
        let got = item["data"]["score"].as_f64().unwrap();
        assert!((got - scores[&rows[i].0].0).abs() < 1e-9, "{item}");
    }
    assert_eq!(r["singleInferenceResultMap"]["7"]["index"], 7, "{r}");

    // Bad requests: each its code, and the server keeps answering.
    let mut partial = rows[0].1.clone();
    partial.remove("x3");
    let r = serve(&s, "inference", single("lr-breast", &partial, &rows[0].0));
    if r["retcode"] != 0 {
        // x3 is weighted unless the selection dropped it.
        assert_eq!(r["retcode"], 102, "{r}");
        assert!(r["retmsg"].as_str().unwrap().contains("x3"), "{r}");
    }
    let r = serve(
        &s,
        "inference",
        single("lr-breast", &rows[0].1, "no-such-id"),
    );
    assert_eq!(r["retcode"], 2113, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("no-such-id"), "{r}");
    let r = serve(
        &s,
        "inference",
        json!({"head": {"serviceId": "lr-breast"}, "body": {}}),
    );
    assert_eq!(r["retcode"], 100, "{r}");
    let r = serve(&s, "inference", json!({"head": {}, "body": {}}));
    assert_eq!(r["retcode"], 100, "{r}");
    let url = s.base.replace("/v1", "/federation/v1/inference");
    let text = reqwest::blocking::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["retcode"], 100, "{r}");
    let big = batch("lr-breast", std::iter::repeat_n(&rows[0], 1001));
    let r = serve(&s, "batchInference", big);
    assert_eq!(r["retcode"], 120, "{r}");
    let dup = json!([{"index": 1, "featureData": rows[0].1, "sendToRemoteFeatureData": {"id": rows[0].0}},
                     {"index": 1, "featureData": rows[1].1, "sendToRemoteFeatureData": {"id": rows[1].0}}]);
    let r = serve(
        &s,
        "batchInference",
        json!({"head": {"serviceId": "lr-breast"}, "body": {"batchDataList": dup}}),
    );
    assert_eq!(r["retcode"], 120, "{r}");
    let r = serve(&s, "inference", single("lr-breast", &rows[3].1, &rows[3].0));
    assert_eq!(r["retcode"], 0, "{r}");

    // A trained (not deployed) version cannot be bound; a service id with `/` neither.
    let b = s.post(
        "model/bind",
        json!({"service_id": "x", "model_id": model_id, "model_version": "nope"}),
    );
    assert_eq!(b["retcode"], 104, "{b}");
    let b = s.post(
        "model/bind",
        json!({"service_id": "a/b", "model_id": model_id, "model_version": child}),
    );
    assert_eq!(b["retcode"], 120, "{b}");
    let list = s.post("serving/list", json!({}));
    assert_eq!(
        list["data"]["bindings"][0]["service_id"], "lr-breast",
        "{list}"
    );
    assert!(
        list["data"]["bindings"][0]["requests"].as_u64().unwrap() > 569,
        "{list}"
    );

    // Prometheus text: the service's counter and histogram.
    let text = reqwest::blocking::get(s.base.replace("/v1", "/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("fateflow_inference_requests_total{service_id=\"lr-breast\",route=\"inference\"}")
            && text.contains("fateflow_inference_seconds_bucket{service_id=\"lr-breast\",route=\"batchInference\",le=\"+Inf\"}"),
        "{text}"
    );

    // A new bind replaces the old one: the same service id answers from another
    // deployed version.
    let d = s.post(
        "model/deploy",
        json!({"model_id": model_id, "model_version": train_of(&s, &model_id, &child)}),
    );
    assert_eq!(d["retcode"], 0, "{d}");
    let child2 = d["data"]["model_version"].as_str().unwrap().to_string();
    let l = s.post("model/load", json!({"job_id": child2}));
    assert_eq!(l["retcode"], 0, "{l}");
    let b = s.post(
        "model/bind",
        json!({"service_id": "lr-breast", "job_id": child2}),
    );
    assert_eq!(b["retcode"], 0, "{b}");
    let r = serve(&s, "inference", single("lr-breast", &rows[5].1, &rows[5].0));
    assert_eq!(
        (r["retcode"].clone(), r["data"]["modelVersion"].clone()),
        (json!(0), json!(child2)),
        "{r}"
    );

    // A restarted site serves what it served: loaded parts and bindings come back.
    let mut s = s;
    s.kill9();
    let s = Server::start(&dir.path().join("site"), &[], &[]);
    let again = serve(&s, "inference", single("lr-breast", &rows[5].1, &rows[5].0));
    assert_eq!(again["retcode"], 0, "{again}");
    assert_eq!(again["data"]["score"], r["data"]["score"], "{again}");
    assert_eq!(again["data"]["modelVersion"], json!(child2), "{again}");

    // FATE-Flow's transfer: the party's model by (party model id, version), both forms.
    let pmid = format!("host#10000#{model_id}");
    let t = s.post("model/transfer", json!({"namespace": pmid, "name": child}));
    assert_eq!(t["retcode"], 0, "{t}");
    let data = t["data"].as_object().unwrap();
    assert!(data.contains_key("pipeline.pipeline:Pipeline"), "{t}");
    use base64::Engine as _;
    let lr = data["hetero_lr_0.model:HeteroLR"].as_str().unwrap();
    let lr: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(lr)
            .unwrap(),
    )
    .unwrap();
    assert!(
        lr["param"]["weight"].as_object().unwrap().len() >= 10,
        "{lr}"
    );
    let t2 = s.post(
        &format!("model/transfer/{}/{child}", pmid.replace('#', "~")),
        json!({}),
    );
    assert_eq!(t2["data"], t["data"]);
    let missing = s.post("model/transfer", json!({"namespace": pmid, "name": "1"}));
    assert_eq!(missing["retcode"], 404, "{missing}");
    let bad = s.post(
        "model/transfer",
        json!({"namespace": "nope", "name": child}),
    );
    assert_eq!(bad["retcode"], 400, "{bad}");

    // Publish in one step: deploy + load + bind.
    let train = train_of(&s, &model_id, &child);
    let p = s.post(
        "model/publish",
        json!({"model_id": model_id, "model_version": train, "service_id": "lr-published",
               "cpn_list": ["reader_0", "data_transform_0", "intersection_0", "hetero_feature_binning_0", "hetero_feature_selection_0", "hetero_lr_0"]}),
    );
    assert_eq!(p["retcode"], 0, "{p}");
    let r = serve(
        &s,
        "inference",
        single("lr-published", &rows[9].1, &rows[9].0),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    assert!(
        (r["data"]["score"].as_f64().unwrap() - scores[&rows[9].0].0).abs() < 1e-9,
        "{r}"
    );

    // A publish that fails at one party (the host's feature table is gone) is rolled
    // back: nothing stays loaded for the new version and the service id is not bound.
    let d = s.post(
        "table/delete",
        json!({"namespace": "experiment", "table_name": "breast_hetero_host"}),
    );
    assert_eq!(d["retcode"], 0, "{d}");
    let p = s.post(
        "model/publish",
        json!({"model_id": model_id, "model_version": train, "service_id": "lr-rolled-back"}),
    );
    assert_eq!(p["retcode"], 123, "{p}");
    let msg = p["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("rolled back") && msg.contains("breast_hetero_host"),
        "{msg}"
    );
    let version = p["data"]["model_version"].as_str().unwrap();
    let list = s.post("serving/list", json!({}));
    assert!(
        list["data"]["loaded"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["model_version"] != version),
        "{list}"
    );
    let r = serve(
        &s,
        "inference",
        single("lr-rolled-back", &rows[0].1, &rows[0].0),
    );
    assert_eq!(r["retcode"], 104, "{r}");
}

/// The trained version a deployed child came from.
fn train_of(s: &Server, model_id: &str, child: &str) -> String {
    let q = s.post(
        "model/query",
        json!({"model_id": model_id, "model_version": child, "role": "guest"}),
    );
    q["data"][0]["f_parent_info"]["parent_model_version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A FATE-Serving HTTP feature adapter on loopback serving the host's breast rows:
/// `{"id": ...}` in, `{"code": 200, "data": {...}}` out (`code` 500 for id "broken").
fn feature_adapter() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let text = std::fs::read_to_string(examples().join("data/breast_hetero_host.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows: std::collections::HashMap<String, Value> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let data: Map<String, Value> = header[1..]
                .iter()
                .zip(&cells[1..])
                .map(|(h, v)| (h.clone(), json!(v.parse::<f64>().unwrap())))
                .collect();
            (cells[0].to_string(), Value::Object(data))
        })
        .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/features", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let keys: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = keys["id"].as_str().unwrap_or_default().to_string();
            let answer = if id == "broken" {
                json!({"code": 500, "data": {}})
            } else {
                json!({"code": 200, "data": rows.get(&id).cloned().unwrap_or(json!({}))})
            };
            let text = answer.to_string();
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    url
}

#[test]
fn hosts_can_read_features_from_an_http_adapter() {
    let url = feature_adapter();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("site"),
        &[],
        &["--serving-feature-url", &url],
    );
    s.upload_breast();
    let (model_id, child, scores) = trained_and_loaded(&s);
    let b = s.post(
        "model/bind",
        json!({"service_id": "lr-http", "model_id": model_id, "model_version": child}),
    );
    assert_eq!(b["retcode"], 0, "{b}");
    let rows = modelkit::guest_rows();
    for (id, features) in rows.iter().take(50) {
        let r = serve(&s, "inference", single("lr-http", features, id));
        assert_eq!(r["retcode"], 0, "{id}: {r}");
        assert!(
            (r["data"]["score"].as_f64().unwrap() - scores[id].0).abs() < 1e-9,
            "{id}: {r}"
        );
    }
    let r = serve(&s, "inference", single("lr-http", &rows[0].1, "no-such-id"));
    assert_eq!(r["retcode"], 2113, "{r}");
    let r = serve(&s, "inference", single("lr-http", &rows[0].1, "broken"));
    assert_eq!(r["retcode"], 2102, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("code 500"), "{r}");
}

/// One RESP command over a plain connection; returns the reply's first line.
fn redis_cmd(conn: &mut std::io::BufReader<std::net::TcpStream>, args: &[&str]) -> String {
    use std::io::{BufRead, Write};
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.get_mut().write_all(out.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    line
}

/// The test's own keys, removed however the test ends.
struct RedisKeys {
    addr: String,
    keys: Vec<String>,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        if let Ok(s) = std::net::TcpStream::connect(&self.addr) {
            let mut conn = std::io::BufReader::new(s);
            for chunk in self.keys.chunks(200) {
                let mut args = vec!["DEL"];
                args.extend(chunk.iter().map(String::as_str));
                redis_cmd(&mut conn, &args);
            }
        }
    }
}

#[test]
fn hosts_can_read_features_from_redis() {
    let Ok(addr) = std::env::var("FATEFLOW_TEST_REDIS") else {
        eprintln!("SKIP hosts_can_read_features_from_redis: FATEFLOW_TEST_REDIS (host:port of a Redis server) is not set");
        return;
    };
    let prefix = format!(
        "fateflow-test-{}-{}:",
        std::process::id(),
        tempfile::tempdir()
            .unwrap()
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    let text = std::fs::read_to_string(examples().join("data/breast_hetero_host.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut conn = std::io::BufReader::new(
        std::net::TcpStream::connect(&addr).expect("connect to FATEFLOW_TEST_REDIS"),
    );
    let mut keys = RedisKeys {
        addr: addr.clone(),
        keys: Vec::new(),
    };
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let key = format!("{prefix}{}", cells[0]);
        let mut args = vec!["HSET", key.as_str()];
        for (h, v) in header[1..].iter().zip(&cells[1..]) {
            args.push(h);
            args.push(v);
        }
        let reply = redis_cmd(&mut conn, &args);
        assert!(reply.starts_with(':'), "HSET: {reply}");
        keys.keys.push(key);
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("site"),
        &[],
        &[
            "--serving-feature-redis",
            &addr,
            "--serving-feature-redis-prefix",
            &prefix,
        ],
    );
    s.upload_breast();
    let (model_id, child, scores) = trained_and_loaded(&s);
    let b = s.post(
        "model/bind",
        json!({"service_id": "lr-redis", "model_id": model_id, "model_version": child}),
    );
    assert_eq!(b["retcode"], 0, "{b}");
    let rows = modelkit::guest_rows();
    for (id, features) in &rows {
        let r = serve(&s, "inference", single("lr-redis", features, id));
        assert_eq!(r["retcode"], 0, "{id}: {r}");
        assert!(
            (r["data"]["score"].as_f64().unwrap() - scores[id].0).abs() < 1e-9,
            "{id}: {r}"
        );
    }
    let r = serve(
        &s,
        "inference",
        single("lr-redis", &rows[0].1, "no-such-id"),
    );
    assert_eq!(r["retcode"], 2113, "{r}");
    drop(keys);
}

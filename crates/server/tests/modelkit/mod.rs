//! Shared by the model tests: the example jobs this build can run, the guest's
//! scores of a job, and a predict conf for the breast tables.

#![allow(dead_code, unreachable_pub)]

use crate::common::{examples, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The example job `examples/jobs/<name>` without the components whose modules this
/// build does not implement: their data consumers read their data input instead.
pub fn example_job(s: &Server, name: &str) -> (Value, Value) {
    let dir = examples().join("jobs").join(name);
    let mut dsl: Value =
        serde_json::from_slice(&std::fs::read(dir.join("dsl.json")).unwrap()).unwrap();
    let mut conf: Value =
        serde_json::from_slice(&std::fs::read(dir.join("conf.json")).unwrap()).unwrap();
    let registered = s.post("component/get", json!({}));
    let implemented: Vec<String> = registered["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["implemented"] == true)
        .map(|c| c["module"].as_str().unwrap().to_string())
        .collect();
    let comps = dsl["components"].as_object().unwrap().clone();
    let mut replaced: BTreeMap<String, Value> = BTreeMap::new();
    for (name, c) in &comps {
        if !implemented.contains(&c["module"].as_str().unwrap().to_string()) {
            let input = c["input"]["data"]["data"][0].clone();
            replaced.insert(name.clone(), input);
        }
    }
    // Follow chains of removed components back to a kept one.
    let resolve = |r: &str| -> Value {
        let mut cur = r.to_string();
        while let Some(next) = replaced.get(cur.split('.').next().unwrap()) {
            cur = next.as_str().unwrap().to_string();
        }
        json!(cur)
    };
    let out = dsl["components"].as_object_mut().unwrap();
    out.retain(|n, _| !replaced.contains_key(n));
    for c in out.values_mut() {
        // `get_mut`, not indexing: indexing would add `input: null` to readers.
        let Some(input) = c.get_mut("input").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(data) = input.get_mut("data").and_then(Value::as_object_mut) {
            for refs in data.values_mut() {
                for r in refs.as_array_mut().unwrap() {
                    *r = resolve(r.as_str().unwrap());
                }
            }
        }
        if let Some(iso) = input
            .get_mut("isometric_model")
            .and_then(Value::as_array_mut)
        {
            iso.retain(|r| !replaced.contains_key(r.as_str().unwrap().split('.').next().unwrap()));
            if iso.is_empty() {
                input.remove("isometric_model");
            }
        }
    }
    let prune = |block: &mut Value| {
        if let Some(m) = block.as_object_mut() {
            m.retain(|n, _| !replaced.contains_key(n));
        }
    };
    prune(&mut conf["component_parameters"]["common"]);
    for (_, sels) in conf["component_parameters"]["role"]
        .as_object_mut()
        .unwrap()
        .iter_mut()
    {
        for (_, block) in sels.as_object_mut().unwrap().iter_mut() {
            prune(block);
        }
    }
    (dsl, conf)
}

/// The guest's predict scores of a job's component, by sample id.
pub fn guest_scores(s: &Server, job_id: &str, component: &str) -> BTreeMap<String, (f64, String)> {
    let out = s.post(
        "tracking/component/output/data",
        json!({"job_id": job_id, "component_name": component, "role": "guest", "party_id": 9999, "limit": 100000}),
    );
    assert_eq!(out["retcode"], 0, "{out}");
    let header: Vec<&str> = out["meta"]["header"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let score = header.iter().position(|h| *h == "predict_score").unwrap();
    let kind = header.iter().position(|h| *h == "type").unwrap();
    let num = |v: &Value| v.as_f64().or_else(|| v.as_str()?.parse().ok()).unwrap();
    out["data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let id = match &row[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let t = match &row[kind] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (id, (num(&row[score]), t))
        })
        .collect()
}

/// A predict conf for the breast tables.
pub fn predict_conf(model_id: &str, model_version: &str, host: bool) -> Value {
    let mut role = json!({"guest": [9999], "host": [10000], "arbiter": [10000]});
    if !host {
        role = json!({"guest": [9999], "host": [10000]});
    }
    json!({
        "dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": role,
        "job_parameters": {"common": {"job_type": "predict", "model_id": model_id, "model_version": model_version}},
        "component_parameters": {"role": {
            "guest": {"0": {"reader_0": {"table": {"name": "breast_hetero_guest", "namespace": "experiment"}}}},
            "host": {"0": {"reader_0": {"table": {"name": "breast_hetero_host", "namespace": "experiment"}}}}
        }}
    })
}

/// The guest's breast rows as FATE-Serving's `featureData` (`x0`..`x9`), by id.
pub fn guest_rows() -> Vec<(String, serde_json::Map<String, Value>)> {
    let text = std::fs::read_to_string(examples().join("data/breast_hetero_guest.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let features = header
                .iter()
                .zip(&cells)
                .filter(|(h, _)| h.starts_with('x'))
                .map(|(h, v)| ((*h).to_string(), json!(v.parse::<f64>().unwrap())))
                .collect();
            (cells[0].to_string(), features)
        })
        .collect()
}

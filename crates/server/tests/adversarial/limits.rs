//! Limits on what one job may ask for: retries, their pace, the size of its DSL.

use crate::common::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn reader_job(table: &str, job_params: Value) -> (Value, Value) {
    let dsl =
        json!({"components": {"reader_0": {"module": "Reader", "output": {"data": ["data"]}}}});
    let conf = json!({
        "dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999]},
        "job_parameters": {"common": job_params},
        "component_parameters": {"role": {"guest": {"0": {"reader_0":
            {"table": {"name": table, "namespace": "nowhere"}}}}}},
    });
    (dsl, conf)
}

#[test]
fn auto_retries_are_capped_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("site"), &[], &[]);
    for retries in [json!(1_000_000_000u64), json!(11)] {
        let (dsl, conf) = reader_job("missing", json!({"auto_retries": retries}));
        let r = server.post(
            "job/submit",
            json!({"job_dsl": dsl, "job_runtime_conf": conf}),
        );
        assert_ne!(r["retcode"], 0, "auto_retries {retries} accepted: {r}");
        let msg = r["retmsg"].as_str().unwrap_or_default();
        assert!(
            msg.contains("auto_retries") && msg.contains("at most 10"),
            "{msg}"
        );
    }
    let (dsl, conf) = reader_job("missing", json!({"auto_retry_delay": 10_000_000u64}));
    let r = server.post(
        "job/submit",
        json!({"job_dsl": dsl, "job_runtime_conf": conf}),
    );
    assert!(
        r["retmsg"]
            .as_str()
            .unwrap_or_default()
            .contains("auto_retry_delay"),
        "{r}"
    );
}

#[test]
fn a_failing_task_is_retried_with_backoff_not_in_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let server = Server::start(&site, &[], &[]);
    // A damaged table (a file where its directory should be) fails the reader with an
    // internal error, which is retried; a missing table would be a user error, never retried.
    std::fs::create_dir_all(site.join("tables/nowhere")).unwrap();
    std::fs::write(site.join("tables/nowhere/damaged"), b"not a table").unwrap();
    let (dsl, conf) = reader_job("damaged", json!({"auto_retries": 3, "auto_retry_delay": 1}));
    let started = Instant::now();
    let job_id = server.submit(dsl, conf);
    // Delays of 1, 2 and 4 s between the four attempts: at least 7 s in all.
    std::thread::sleep(Duration::from_secs(3));
    let versions = server
        .tasks(&job_id)
        .iter()
        .filter_map(|t| t["task_version"].as_i64())
        .max()
        .unwrap_or(0);
    assert!(
        versions <= 2,
        "{versions} retries within 3 s: the delay is not honoured"
    );
    let job = server.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "four attempts ended after {:?}",
        started.elapsed()
    );
    let max = server
        .tasks(&job_id)
        .iter()
        .filter_map(|t| t["task_version"].as_i64())
        .max();
    assert_eq!(max, Some(3), "every retry ran");
}

#[test]
fn a_dsl_with_too_many_components_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("site"), &[], &[]);
    let (_, conf) = reader_job("t", json!({}));
    let mut components = serde_json::Map::new();
    for i in 0..600 {
        components.insert(
            format!("reader_{i}"),
            json!({"module": "Reader", "output": {"data": ["data"]}}),
        );
    }
    let dsl = json!({ "components": components });
    let t = Instant::now();
    let r = server.post(
        "job/submit",
        json!({"job_dsl": dsl, "job_runtime_conf": conf}),
    );
    assert_ne!(r["retcode"], 0, "{r}");
    let msg = r["retmsg"].as_str().unwrap_or_default();
    assert!(msg.contains("at most 500"), "{msg}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

//! End-to-end: a real site process, real task processes, SQLite, parquet tables.

mod common;

use common::{alive, examples, Server};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[test]
fn upload_and_reader_transform_job_succeed_in_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    assert_eq!(job["f_progress"], 100);

    let tasks = s.tasks(&job_id);
    assert_eq!(tasks.len(), 4, "2 components × 2 parties: {tasks:?}");
    let server_pid = i64::from(s.child.id());
    let mut pids = HashSet::new();
    for t in &tasks {
        assert_eq!(t["party_status"], "success", "{t}");
        assert_eq!(t["status"], "success", "{t}");
        let pid = t["run_pid"]
            .as_i64()
            .expect("each task records its process id");
        assert_ne!(pid, server_pid, "tasks run outside the server process");
        assert!(pids.insert(pid), "each task has its own process: {tasks:?}");
    }
    for (role, party, cols) in [("guest", 9999, 12), ("host", 10000, 21)] {
        let out = s.post(
            "tracking/component/output/data",
            json!({"job_id": job_id, "component_name": "data_transform_0", "role": role, "party_id": party}),
        );
        assert_eq!(out["meta"]["total"][0], 569, "{out}");
        assert_eq!(
            out["meta"]["header"][0].as_array().unwrap().len(),
            cols,
            "{out}"
        );
    }
    // Logs exist per task, and the log archive downloads.
    let log = dir
        .path()
        .join(format!("logs/{job_id}/guest/9999/reader_0/INFO.log"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("task succeeded"), "{text}");
    assert!(
        text.contains(&format!(
            "scratch dir {}",
            log.with_file_name("scratch_v0").display()
        )),
        "{text}"
    );
    let metrics = s.post(
        "tracking/component/metric/all",
        json!({"job_id": job_id, "component_name": "reader_0", "role": "guest", "party_id": 9999}),
    );
    assert_eq!(metrics["retcode"], 0, "{metrics}");
    assert!(metrics["data"]["reader_namespace"].is_object(), "{metrics}");
    // Each task had a scratch dir (its TMPDIR) in its log dir, removed once it ended.
    let scratch_dirs = || {
        let mut found = Vec::new();
        let mut stack = vec![dir.path().join(format!("logs/{job_id}"))];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    if e.file_name().to_string_lossy().starts_with("scratch_v") {
                        found.push(e.path());
                    }
                    stack.push(e.path());
                }
            }
        }
        found
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !scratch_dirs().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(scratch_dirs(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn malformed_csv_gives_line_and_column_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let cases = [
        ("ragged", "id,x0,x1\n1,0.1,0.2\n2,0.3\n", "line 3"),
        ("not_a_number", "id,x0,x1\n1,0.1,0.2\n2,0.3,abc\n", "`x1`"),
        (
            "duplicate_id",
            "id,x0\n1,0.1\n2,0.2\n1,0.3\n",
            "duplicate id",
        ),
    ];
    for (name, csv, needle) in cases {
        let path = dir.path().join(format!("{name}.csv"));
        std::fs::write(&path, csv).unwrap();
        let r = s.upload(&path, "bad", name, false);
        assert_eq!(r["retcode"], 100, "{name}: {r}");
        let msg = r["retmsg"].as_str().unwrap();
        assert!(
            msg.contains(needle) && msg.contains("line"),
            "{name}: {msg}"
        );
        let info = s.post(
            "table/table_info",
            json!({"table_name": name, "namespace": "bad"}),
        );
        assert_eq!(info["data"]["exist"], 0, "{name}: {info}");
        assert!(
            !dir.path().join("tables/bad").join(name).exists(),
            "{name}: files left behind"
        );
    }
    // A missing id column named in the conf.
    let path = dir.path().join("noid.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let r = s.upload_with(
        &path,
        json!({"namespace": "bad", "table_name": "noid", "id_column": "uid"}),
    );
    assert_eq!(r["retcode"], 100, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(msg.contains("uid") && msg.contains("line 1"), "{msg}");
    assert_eq!(
        s.post(
            "table/table_info",
            json!({"table_name": "noid", "namespace": "bad"})
        )["data"]["exist"],
        0
    );
    let r = s.post(
        "data/upload",
        json!({"file": path, "head": 1, "partition": 1, "namespace": "bad", "table_name": "noid", "use_local_data": 0}),
    );
    assert_eq!(r["retcode"], 101, "server-side files need --file-root: {r}");
    // Missing required fields are named.
    let r = s.post("data/upload", json!({"file": "x.csv", "use_local_data": 0}));
    assert!(
        r["retmsg"].as_str().unwrap().contains("namespace") || r["retcode"] == 101,
        "{r}"
    );
    // An existing table without drop is refused with FATE's message.
    s.upload_breast();
    let r = s.upload(
        &examples().join("data/breast_hetero_guest.csv"),
        "experiment",
        "breast_hetero_guest",
        false,
    );
    assert_eq!(r["retcode"], 100, "{r}");
    assert!(
        r["retmsg"].as_str().unwrap().contains("already exists"),
        "{r}"
    );
}

#[test]
fn job_that_cannot_fit_is_refused_with_each_partys_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &["--cores", "4"]);
    let dsl: Value = serde_json::from_slice(
        &std::fs::read(examples().join("jobs/reader_transform/dsl.json")).unwrap(),
    )
    .unwrap();
    let mut conf: Value = serde_json::from_slice(
        &std::fs::read(examples().join("jobs/reader_transform/conf.json")).unwrap(),
    )
    .unwrap();
    conf["job_parameters"]["common"]["task_cores"] = json!(8);
    let r = s.post(
        "job/submit",
        json!({"job_dsl": dsl, "job_runtime_conf": conf}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("guest:9999") && msg.contains("host:10000"),
        "{msg}"
    );
    assert!(msg.contains("max cores per job is 4"), "{msg}");
    // It never waits: the job is recorded as failed at submit.
    let job_id = r["jobId"].as_str().unwrap();
    assert_eq!(s.job(job_id)["f_status"], "failed");
}

#[test]
fn invalid_job_lists_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let dsl =
        json!({"components": {"reader_0": {"module": "Readr", "output": {"data": ["data"]}}}});
    let conf = json!({"initiator": {"role": "guest", "party_id": 1}, "role": {"guest": [9999]}});
    let r = s.post(
        "job/submit",
        json!({"job_dsl": dsl, "job_runtime_conf": conf}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("unknown module `Readr`") && msg.contains("initiator party id 1"),
        "{msg}"
    );
    let r = s.post("job/submit", json!({"job_dsl": dsl}));
    assert_eq!(r["retcode"], 101, "{r}");
    assert!(
        r["retmsg"].as_str().unwrap().contains("job_runtime_conf"),
        "{r}"
    );
}

#[test]
fn stop_kills_running_tasks_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "30000")], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let tasks = s.wait_tasks(&job_id, Duration::from_secs(30), |t| {
        t.iter()
            .filter(|t| t["party_status"] == "running" && t["run_pid"].is_i64())
            .count()
            == 2
    });
    let pids: Vec<i64> = tasks.iter().filter_map(|t| t["run_pid"].as_i64()).collect();
    let r = s.post("job/stop", json!({"job_id": job_id}));
    assert_eq!(r["retcode"], 0, "{r}");
    let job = s.wait_end(&job_id, Duration::from_secs(10));
    assert_eq!(job["f_status"], "canceled", "{job}");
    std::thread::sleep(Duration::from_millis(300));
    for pid in pids {
        assert!(!alive(pid), "task process {pid} survived the stop");
    }
    let tasks = s.tasks(&job_id);
    let reader = tasks
        .iter()
        .find(|t| t["component_name"] == "reader_0")
        .unwrap();
    assert_eq!(reader["party_status"], "canceled", "{reader}");
}

#[test]
fn failure_reason_reaches_the_job_and_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    // Only the guest's table exists: the host's reader fails.
    let r = s.upload(
        &examples().join("data/breast_hetero_guest.csv"),
        "experiment",
        "breast_hetero_guest",
        true,
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("host:10000")
            && reason.contains("can not found table name: breast_hetero_host"),
        "{reason}"
    );

    let r = s.upload(
        &examples().join("data/breast_hetero_host.csv"),
        "experiment",
        "breast_hetero_host",
        true,
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let r = s.post("job/rerun", json!({"job_id": job_id}));
    assert_eq!(r["retcode"], 0, "{r}");
    let job = s.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "success", "{job}");
    let reader_host = s
        .tasks(&job_id)
        .into_iter()
        .find(|t| t["component_name"] == "reader_0" && t["role"] == "host")
        .unwrap();
    assert_eq!(reader_host["task_version"], 1, "{reader_host}");
}

#[test]
fn a_task_over_its_memory_budget_fails_with_a_reason_instead_of_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let read = |f: &str| -> Value {
        serde_json::from_slice(
            &std::fs::read(examples().join("jobs/reader_transform").join(f)).unwrap(),
        )
        .unwrap()
    };
    let mut conf = read("conf.json");
    // 1 MB: less than any process needs, so the first task goes over it.
    conf["job_parameters"]["common"]["task_memory"] = json!(1);
    let job_id = s.submit(read("dsl.json"), conf);
    let job = s.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("Reader went over the task's memory budget")
            && reason.contains("budget 1 MB")
            && reason.contains("task_memory"),
        "{reason}"
    );
}

#[test]
fn kill9_mid_job_then_restart_ends_the_job_with_a_reason_and_no_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "60000")], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let tasks = s.wait_tasks(&job_id, Duration::from_secs(30), |t| {
        t.iter()
            .filter(|t| t["party_status"] == "running" && t["run_pid"].is_i64())
            .count()
            == 2
    });
    let pids: Vec<i64> = tasks.iter().filter_map(|t| t["run_pid"].as_i64()).collect();
    s.kill9();
    for t in tasks.iter().filter(|t| t["run_pid"].is_i64()) {
        let pid = t["run_pid"].as_i64().unwrap();
        let log = dir.path().join(format!(
            "logs/{job_id}/{}/{}/reader_0/INFO.log",
            t["role"].as_str().unwrap(),
            t["party_id"].as_str().unwrap()
        ));
        assert!(
            alive(pid),
            "task {pid} died with the server; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    let s2 = Server::start(dir.path(), &[], &[]);
    let job = s2.wait_end(&job_id, Duration::from_secs(30));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(reason.contains("restarted"), "{reason}");
    std::thread::sleep(Duration::from_millis(300));
    for pid in &pids {
        assert!(!alive(*pid), "orphaned task process {pid}");
    }
    // What was written before the crash is still there.
    let info = s2.post(
        "table/table_info",
        json!({"table_name": "breast_hetero_host", "namespace": "experiment"}),
    );
    assert_eq!(info["data"]["count"], 569, "{info}");
    // And the job can be rerun to success.
    let r = s2.post("job/rerun", json!({"job_id": job_id}));
    assert_eq!(r["retcode"], 0, "{r}");
    let job = s2.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "success", "{job}");
}

#[test]
fn signed_requests_pass_client_authentication() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &["--app-key", "ak", "--secret-key", "sk"]);
    let body = r#"{"job_id": "none"}"#;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let sign = |path: &str, secret: &str| {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{ts}\nnonce1\nak\n{path}\n{body}\n").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let client = reqwest::blocking::Client::new();
    let send = |sig: String| -> Value {
        let r = client
            .post(format!("{}/job/query", s.base))
            .header("TIMESTAMP", &ts)
            .header("NONCE", "nonce1")
            .header("APP_KEY", "ak")
            .header("SIGNATURE", sig)
            .body(body)
            .send()
            .unwrap();
        serde_json::from_str(&r.text().unwrap()).unwrap()
    };
    let ok = send(sign("/v1/job/query", "sk"));
    assert_eq!(ok["retcode"], 0, "a correctly signed request passes: {ok}");
    let bad = send(sign("/v1/job/query", "wrong"));
    assert_eq!(bad["retcode"], 109, "{bad}");
    assert!(
        bad["retmsg"].as_str().unwrap().contains("signature"),
        "{bad}"
    );
}

#[test]
fn client_authentication_is_enforced_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &["--app-key", "ak", "--secret-key", "sk"]);
    let r = s.post("job/query", json!({}));
    assert_eq!(r["retcode"], 109, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("TIMESTAMP"), "{r}");
    // The Board: the page loads, its data needs a login with the site's keys.
    let client = reqwest::blocking::Client::new();
    let page = client.get(s.base.trim_end_matches("/v1")).send().unwrap();
    assert!(page.text().unwrap().contains("fateflow Board"));
    let r = s.post(
        "board/log",
        json!({"job_id": "x", "role": "guest", "party_id": "9999", "component_name": "reader_0"}),
    );
    assert_eq!(
        r["retcode"], 109,
        "the log route is behind the same rule: {r}"
    );
    let r = s.post(
        "board/login",
        json!({"app_key": "ak", "secret_key": "wrong"}),
    );
    assert_eq!(r["retcode"], 109, "{r}");
    let resp = client
        .post(format!("{}/board/login", s.base))
        .body(json!({"app_key": "ak", "secret_key": "sk"}).to_string())
        .send()
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("fateflow_session="));
    let r: Value = serde_json::from_str(
        &client
            .post(format!("{}/job/query", s.base))
            .header("Cookie", &cookie)
            .body("{}")
            .send()
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(r["retcode"], 0, "a logged-in Board may read: {r}");
    let forged = format!("{}0", cookie);
    let r: Value = serde_json::from_str(
        &client
            .post(format!("{}/job/query", s.base))
            .header("Cookie", &forged)
            .body("{}")
            .send()
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(r["retcode"], 109, "{r}");
}

#[test]
fn job_timeout_stops_the_job_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "60000")], &[]);
    s.upload_breast();
    let dsl: Value = serde_json::from_slice(
        &std::fs::read(examples().join("jobs/reader_transform/dsl.json")).unwrap(),
    )
    .unwrap();
    let mut conf: Value = serde_json::from_slice(
        &std::fs::read(examples().join("jobs/reader_transform/conf.json")).unwrap(),
    )
    .unwrap();
    conf["job_parameters"]["common"]["timeout"] = json!(2);
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(30));
    assert_eq!(job["f_status"], "timeout", "{job}");
    assert!(
        job["f_error_report"]
            .as_str()
            .unwrap_or("")
            .contains("timeout of 2 s"),
        "{job}"
    );
    std::thread::sleep(Duration::from_millis(300));
    for t in s.tasks(&job_id) {
        if let Some(pid) = t["run_pid"].as_i64() {
            assert!(!alive(pid), "task {pid} outlived the timeout");
        }
    }
}

#[test]
fn raw_intersection_exchanges_ids_between_task_processes() {
    intersection_with_half_host("intersect_raw");
}

#[test]
fn ecdh_intersection_finds_the_same_rows() {
    intersection_with_half_host("psi_ecdh");
}

#[test]
fn rsa_intersection_finds_the_same_rows() {
    intersection_with_half_host("psi_rsa");
}

fn intersection_with_half_host(example: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let r = s.upload(
        &examples().join("data/breast_hetero_guest.csv"),
        "experiment",
        "breast_hetero_guest",
        true,
    );
    assert_eq!(r["retcode"], 0, "{r}");
    // The host holds every other row only.
    let full = std::fs::read_to_string(examples().join("data/breast_hetero_host.csv")).unwrap();
    let mut lines = full.lines();
    let mut subset = vec![lines.next().unwrap().to_string()];
    subset.extend(lines.step_by(2).map(String::from));
    let path = dir.path().join("host_half.csv");
    std::fs::write(&path, subset.join("\n") + "\n").unwrap();
    let r = s.upload(&path, "experiment", "breast_hetero_host", true);
    assert_eq!(r["retcode"], 0, "{r}");
    let expected = subset.len() - 1;

    let job_id = s.submit_example(example);
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    for (role, party) in [("guest", 9999), ("host", 10000)] {
        let m = s.post("tracking/component/metric/all", json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party}));
        assert_eq!(
            m["data"]["train"]["intersection"]["data"][0][1], expected,
            "{role}: {m}"
        );
        let out = s.post("tracking/component/output/data", json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party}));
        assert_eq!(out["meta"]["total"][0], expected, "{role}: {out}");
    }
    // Guest and host keep exactly the same ids.
    let ids = |role: &str, party: u64| -> Vec<String> {
        let out = s.post("tracking/component/output/data", json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party, "limit": 1000}));
        let mut v: Vec<String> = out["data"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("guest", 9999), ids("host", 10000));
}

#[test]
fn data_split_sends_the_guests_split_to_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let mut dsl: Value =
        serde_json::from_slice(&std::fs::read(examples().join("jobs/psi_ecdh/dsl.json")).unwrap())
            .unwrap();
    let mut conf: Value =
        serde_json::from_slice(&std::fs::read(examples().join("jobs/psi_ecdh/conf.json")).unwrap())
            .unwrap();
    dsl["components"]
        .as_object_mut()
        .unwrap()
        .remove("feature_scale_0");
    conf["component_parameters"]["common"]
        .as_object_mut()
        .unwrap()
        .remove("feature_scale_0");
    dsl["components"]["data_split_0"] = json!({
        "module": "HeteroDataSplit",
        "input": {"data": {"data": ["intersection_0.data"]}},
        "output": {"data": ["train_data", "validate_data", "test_data"]}
    });
    conf["component_parameters"]["common"]["data_split_0"] = json!({"train_size": 0.7, "validate_size": 0.2, "test_size": 0.1, "stratified": true, "random_state": 7});
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let ids = |role: &str, party: u64, set: usize| -> Vec<String> {
        let out = s.post(
            "tracking/component/output/data",
            json!({"job_id": job_id, "component_name": "data_split_0", "role": role, "party_id": party, "limit": 1000}),
        );
        let mut v: Vec<String> = out["data"][set]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sizes: Vec<usize> = (0..3).map(|k| ids("guest", 9999, k).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 569, "{sizes:?}");
    assert_eq!(sizes, vec![398, 114, 57], "0.7 / 0.2 / 0.1 of 569, rounded");
    for k in 0..3 {
        assert_eq!(
            ids("guest", 9999, k),
            ids("host", 10000, k),
            "set {k} has the same ids at both parties"
        );
    }
}

#[test]
fn federated_sample_gives_the_host_the_guests_draw() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let mut dsl: Value =
        serde_json::from_slice(&std::fs::read(examples().join("jobs/psi_ecdh/dsl.json")).unwrap())
            .unwrap();
    let mut conf: Value =
        serde_json::from_slice(&std::fs::read(examples().join("jobs/psi_ecdh/conf.json")).unwrap())
            .unwrap();
    dsl["components"]
        .as_object_mut()
        .unwrap()
        .remove("feature_scale_0");
    conf["component_parameters"]["common"]
        .as_object_mut()
        .unwrap()
        .remove("feature_scale_0");
    dsl["components"]["sample_0"] = json!({
        "module": "FederatedSample",
        "input": {"data": {"data": ["intersection_0.data"]}},
        "output": {"data": ["data"]}
    });
    conf["component_parameters"]["common"]["sample_0"] = json!({"mode": "stratified", "method": "upsample", "fractions": [[0, 2.0], [1, 0.5]], "random_state": 3});
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let ids = |role: &str, party: u64| -> Vec<String> {
        let out = s.post(
            "tracking/component/output/data",
            json!({"job_id": job_id, "component_name": "sample_0", "role": role, "party_id": party, "limit": 2000}),
        );
        let mut v: Vec<String> = out["data"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let guest = ids("guest", 9999);
    // breast: 212 rows of label 0 (×2) and 357 of label 1 (×0.5, rounded).
    assert_eq!(guest.len(), 424 + 179, "{}", guest.len());
    assert_eq!(
        guest,
        ids("host", 10000),
        "host rows follow the guest's draw, renamed repeats included"
    );
}

#[test]
fn rsa_and_ecdh_intersections_keep_all_30000_default_credit_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    for (file, table) in [
        ("default_credit_hetero_guest", "breast_hetero_guest"),
        ("default_credit_hetero_host", "breast_hetero_host"),
    ] {
        // The example jobs read the breast table names; load default_credit under them.
        let r = s.upload(
            &examples().join(format!("data/{file}.csv")),
            "experiment",
            table,
            true,
        );
        assert_eq!(r["data"]["count"], 30000, "{r}");
    }
    for example in ["psi_ecdh", "psi_rsa"] {
        let job_id = s.submit_example(example);
        let job = s.wait_end(&job_id, Duration::from_secs(300));
        assert_eq!(job["f_status"], "success", "{example}: {job}");
        for (role, party) in [("guest", 9999), ("host", 10000)] {
            let m = s.post(
                "tracking/component/metric/all",
                json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party}),
            );
            assert_eq!(
                m["data"]["train"]["intersection"]["data"][0][1], 30000,
                "{example} {role}: {m}"
            );
        }
    }
}

/// Generated ids: the guest holds 0..2000, host 10000 holds 1000..3000 and host 10001
/// holds 500..1500 and 1800..2300 (each half shared with the guest). Both methods keep
/// exactly the ids all three hold, at every party.
#[test]
fn rsa_and_ecdh_intersections_with_two_hosts_keep_exactly_the_common_ids() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_parties(dir.path(), "9999,10000,10001", &[], &[]);
    let sets: [(&str, Vec<u32>); 3] = [
        ("psi_guest", (0..2000).collect()),
        ("psi_host_a", (1000..3000).collect()),
        ("psi_host_b", (500..1500).chain(1800..2300).collect()),
    ];
    for (table, ids) in &sets {
        let mut csv = String::from("id,x0\n");
        for (i, id) in ids.iter().enumerate() {
            csv.push_str(&format!("id{id},{}\n", i % 7));
        }
        let path = dir.path().join(format!("{table}.csv"));
        std::fs::write(&path, csv).unwrap();
        let r = s.upload(&path, "experiment", table, true);
        assert_eq!(r["data"]["count"], ids.len(), "{r}");
    }
    let mut expected: Vec<String> = sets[0]
        .1
        .iter()
        .filter(|id| sets[1].1.contains(id) && sets[2].1.contains(id))
        .map(|id| format!("id{id}"))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 500 + 200);
    let dsl = json!({"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {"module": "DataTransform", "input": {"data": {"data": ["reader_0.data"]}}, "output": {"data": ["data"], "model": ["model"]}},
        "intersection_0": {"module": "Intersection", "input": {"data": {"data": ["data_transform_0.data"]}}, "output": {"data": ["data"]}}
    }});
    for method in ["rsa", "ecdh"] {
        let conf = json!({
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999], "host": [10000, 10001]},
            "job_parameters": {"common": {"task_cores": 1}},
            "component_parameters": {
                "common": {
                    "data_transform_0": {"with_label": false},
                    "intersection_0": {"intersect_method": method, "rsa_params": {"key_length": 1024}}
                },
                "role": {
                    "guest": {"0": {"reader_0": {"table": {"name": "psi_guest", "namespace": "experiment"}}}},
                    "host": {
                        "0": {"reader_0": {"table": {"name": "psi_host_a", "namespace": "experiment"}}},
                        "1": {"reader_0": {"table": {"name": "psi_host_b", "namespace": "experiment"}}}
                    }
                }
            }
        });
        let job_id = s.submit(dsl.clone(), conf);
        let job = s.wait_end(&job_id, Duration::from_secs(180));
        assert_eq!(job["f_status"], "success", "{method}: {job}");
        for (role, party) in [("guest", 9999), ("host", 10000), ("host", 10001)] {
            let out = s.post("tracking/component/output/data", json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party, "limit": 5000}));
            let mut ids: Vec<String> = out["data"][0]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {role} {party}: {out}"))
                .iter()
                .map(|r| r[0].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            assert_eq!(ids, expected, "{method} at {role} {party}");
        }
    }
}

#[test]
fn submit_refuses_a_module_without_implementation_and_warns_of_conf_for_absent_components() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let read = |job: &str, f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(examples().join("jobs").join(job).join(f)).unwrap())
            .unwrap()
    };
    // HomoLR is known by name only: refused at submit, not at run time.
    let r = s.post(
        "job/submit",
        json!({"job_dsl": read("homo_lr", "dsl.json"), "job_runtime_conf": read("homo_lr", "conf.json")}),
    );
    assert_eq!(r["retcode"], 103, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("homo_lr_0") && msg.contains("HomoLR") && msg.contains("not supported yet"),
        "{msg}"
    );
    // Parameters for a component the DSL lacks: accepted, as FATE 1.11, with a warning.
    let mut conf = read("reader_transform", "conf.json");
    conf["component_parameters"]["common"]["intersection_0"] = json!({"intersect_method": "rsa"});
    let r = s.post(
        "job/submit",
        json!({"job_dsl": read("reader_transform", "dsl.json"), "job_runtime_conf": conf}),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("intersection_0") && msg.contains("not in the DSL"),
        "{msg}"
    );
    let about: Vec<&Value> = r["data"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w.as_str().unwrap().contains("intersection_0"))
        .collect();
    assert_eq!(about.len(), 1, "said once: {r}");
}

#[test]
fn a_component_that_does_not_run_at_a_party_passes_its_input_on() {
    // The host's LabelTransform has `need_run: false`: the host's DataStatistics reads
    // the intersection's table through it, as FATE's pass_data gives it.
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(examples().join("jobs/psi_ecdh").join(f)).unwrap())
            .unwrap()
    };
    let (mut dsl, mut conf) = (read("dsl.json"), read("conf.json"));
    let components = dsl["components"].as_object_mut().unwrap();
    components.remove("feature_scale_0");
    components.insert(
        "label_transform_0".into(),
        json!({"module": "LabelTransform", "input": {"data": {"data": ["intersection_0.data"]}},
               "output": {"data": ["data"], "model": ["model"]}}),
    );
    components.insert(
        "statistic_0".into(),
        json!({"module": "DataStatistics", "input": {"data": {"data": ["label_transform_0.data"]}},
               "output": {"model": ["model"]}}),
    );
    let common = conf["component_parameters"]["common"]
        .as_object_mut()
        .unwrap();
    common.remove("feature_scale_0");
    common.insert(
        "label_transform_0".into(),
        json!({"label_encoder": {"0": 1, "1": 0}}),
    );
    common.insert(
        "statistic_0".into(),
        json!({"statistics": ["count"], "column_names": ["x11"], "column_indexes": [0]}),
    );
    conf["component_parameters"]["role"]["host"]["0"]["label_transform_0"] =
        json!({"need_run": false});
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let summary = |role: &str, party: u64| -> Value {
        let r = s.post(
            "tracking/component/summary/download",
            json!({"job_id": job_id, "component_name": "statistic_0", "role": role, "party_id": party}),
        );
        r["data"].clone()
    };
    // The host described its own x0 (x11 it has too); the guest its x0 (it has no x11).
    let host = summary("host", 10000);
    assert_eq!(host["x0"]["count"], json!(569.0), "{host}");
    assert_eq!(host["x11"]["count"], json!(569.0), "{host}");
    let guest = summary("guest", 9999);
    assert_eq!(guest["x0"]["count"], json!(569.0), "{guest}");
    assert!(guest.get("x11").is_none(), "{guest}");
}

//! Auto-retries follow the kind of a task's failure: a user error (bad parameter
//! value, bad input data) fails the job at once with the component's message; a task
//! process that dies is run again.

mod common;
mod twosite;

use common::{examples, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn reader_transform(auto_retries: u32) -> (Value, Value) {
    let dir = examples().join("jobs/reader_transform");
    let dsl: Value = serde_json::from_slice(&std::fs::read(dir.join("dsl.json")).unwrap()).unwrap();
    let mut conf: Value =
        serde_json::from_slice(&std::fs::read(dir.join("conf.json")).unwrap()).unwrap();
    conf["job_parameters"]["common"]["auto_retries"] = json!(auto_retries);
    (dsl, conf)
}

fn task<'a>(tasks: &'a [Value], cpn: &str, role: &str) -> &'a Value {
    tasks
        .iter()
        .find(|t| t["component_name"] == cpn && t["role"] == role)
        .unwrap_or_else(|| panic!("no task of {cpn} at {role}: {tasks:?}"))
}

#[test]
fn a_label_column_missing_from_the_data_fails_the_job_once_without_retries() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let (dsl, mut conf) = reader_transform(2);
    // Valid at submit (any string is a label name); only the data can tell.
    conf["component_parameters"]["role"]["guest"]["0"]["data_transform_0"]["label_name"] =
        json!("no_such_label");
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("guest:9999") && reason.contains("no_such_label"),
        "the component's message reaches the job: {reason}"
    );
    let tasks = s.tasks(&job_id);
    let t = task(&tasks, "data_transform_0", "guest");
    assert_eq!(t["task_version"], 0, "a user error is not retried: {t}");
    assert_eq!(t["error_kind"], "user", "{t}");
    assert_eq!(t["auto_retries"], 2, "no retry was spent: {t}");
}

#[test]
fn a_missing_input_table_fails_the_job_once_without_retries() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    // Only the guest's table exists: the host's reader fails with FATE's message.
    let r = s.upload(
        &examples().join("data/breast_hetero_guest.csv"),
        "experiment",
        "breast_hetero_guest",
        true,
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let (dsl, conf) = reader_transform(2);
    let job_id = s.submit(dsl, conf);
    let job = s.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("can not found table name: breast_hetero_host"),
        "{reason}"
    );
    let tasks = s.tasks(&job_id);
    let t = task(&tasks, "reader_0", "host");
    assert_eq!(t["task_version"], 0, "a user error is not retried: {t}");
    assert_eq!(t["error_kind"], "user", "{t}");
}

#[test]
fn a_killed_task_process_is_retried_and_the_job_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough to find and kill the first process, short enough for the retry to finish.
    let s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "6000")], &[]);
    s.upload_breast();
    let (dsl, conf) = reader_transform(2);
    let job_id = s.submit(dsl, conf);
    let tasks = s.wait_tasks(&job_id, Duration::from_secs(30), |t| {
        t.iter().any(|t| {
            t["component_name"] == "reader_0"
                && t["role"] == "guest"
                && t["party_status"] == "running"
                && t["run_pid"].is_i64()
        })
    });
    let pid = task(&tasks, "reader_0", "guest")["run_pid"]
        .as_i64()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let tasks = s.tasks(&job_id);
    let t = task(&tasks, "reader_0", "guest");
    assert_eq!(t["task_version"], 1, "the killed task ran again: {t}");
    assert_eq!(t["auto_retries"], 1, "one retry spent: {t}");
}

#[test]
fn a_user_error_at_a_remote_party_reaches_the_initiator_with_its_kind_and_is_not_retried() {
    let sites = twosite::TwoSites::start(&twosite::Options::default());
    // Only the guest's table exists: the host's reader, at the other site, fails.
    let r = sites.guest.upload(
        &examples().join("data/breast_hetero_guest.csv"),
        "experiment",
        "breast_hetero_guest",
        true,
    );
    assert_eq!(r["retcode"], 0, "{r}");
    let (dsl, conf) = reader_transform(2);
    let job_id = sites.guest.submit(dsl, conf);
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("can not found table name: breast_hetero_host"),
        "{reason}"
    );
    // The initiator's copy of the host's task carries the kind the host reported.
    let tasks = sites.guest.tasks(&job_id);
    let t = task(&tasks, "reader_0", "host");
    assert_eq!(t["run_on_this_party"], false, "{t}");
    assert_eq!(t["error_kind"], "user", "{t}");
    assert_eq!(t["task_version"], 0, "a user error is not retried: {t}");
}

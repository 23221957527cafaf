//! The site's life cycle as an operator lives it: SIGTERM drains like Ctrl-C, the data
//! dir is its owner's only, cut-off uploads and finished jobs do not pile up.

use crate::common::{alive, Server};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// Waits for the server process to exit; its exit code (None: killed by a signal).
fn wait_exit(s: &mut Server, limit: Duration) -> Option<i32> {
    let t0 = Instant::now();
    loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            return st.code();
        }
        assert!(t0.elapsed() < limit, "the server did not exit in {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a held job (tasks stay `running`) and returns its id and task pids.
fn held_job(s: &Server) -> (String, Vec<i64>) {
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let tasks = s.wait_tasks(&job_id, Duration::from_secs(30), |t| {
        t.iter()
            .filter(|t| t["party_status"] == "running" && t["run_pid"].is_i64())
            .count()
            == 2
    });
    let pids = tasks.iter().filter_map(|t| t["run_pid"].as_i64()).collect();
    (job_id, pids)
}

#[test]
fn sigterm_drains_running_tasks_and_a_restart_finds_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "60000")], &[]);
    let (job_id, pids) = held_job(&s);
    signal(s.child.id(), "-TERM");
    let code = wait_exit(&mut s, Duration::from_secs(15));
    assert_eq!(
        code,
        Some(0),
        "SIGTERM must drain and exit cleanly, not die"
    );
    // The drain killed the tasks: nothing waits for a restart to be cleaned up.
    let t0 = Instant::now();
    while pids.iter().any(|p| alive(*p)) && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in &pids {
        assert!(!alive(*pid), "task process {pid} outlived the server");
    }

    let s2 = Server::start(dir.path(), &[], &[]);
    let job = s2.job(&job_id);
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(reason.contains("shut down (SIGTERM)"), "{reason}");
    for t in s2.tasks(&job_id) {
        assert_ne!(t["party_status"], "running", "{t}");
    }
    // Its resources came back: the same job reruns at once.
    let r = s2.post("job/rerun", json!({"job_id": job_id}));
    assert_eq!(r["retcode"], 0, "{r}");
    let job = s2.wait_end(&job_id, Duration::from_secs(60));
    assert_eq!(job["f_status"], "success", "{job}");
}

#[test]
fn ctrl_c_drains_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[("FATEFLOW_TEST_TASK_DELAY_MS", "60000")], &[]);
    let (job_id, pids) = held_job(&s);
    signal(s.child.id(), "-INT");
    assert_eq!(wait_exit(&mut s, Duration::from_secs(15)), Some(0));
    std::thread::sleep(Duration::from_millis(300));
    for pid in &pids {
        assert!(!alive(*pid), "task process {pid} outlived the server");
    }
    let s2 = Server::start(dir.path(), &[], &[]);
    let reason = s2.job(&job_id)["f_error_report"].clone();
    assert!(
        reason
            .as_str()
            .unwrap_or("")
            .contains("shut down (interrupt)"),
        "{reason}"
    );
}

fn open_to_others(root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.permissions().mode() & 0o077 != 0 && !meta.file_type().is_symlink() {
            bad.push(format!(
                "{} {:o}",
                p.display(),
                meta.permissions().mode() & 0o777
            ));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    bad
}

#[test]
fn data_dir_is_owner_only_after_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An existing data dir open to everyone is tightened.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Server::start(&data, &[], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let bad = open_to_others(&data);
    assert!(
        bad.is_empty(),
        "readable by group or others:\n{}",
        bad.join("\n")
    );
}

#[test]
fn startup_removes_stale_upload_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let stale = tmp.join("upload_1_2");
    std::fs::write(&stale, b"half an upload").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let _s = Server::start(dir.path(), &[], &[]);
    assert!(
        !stale.exists(),
        "a cut-off upload's temp file survived start-up"
    );
}

fn gc(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fateflow"))
        .arg("gc")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn gc_removes_old_finished_jobs_but_keeps_models_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut s = Server::start(data, &[], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let outputs = || {
        std::fs::read_dir(data.join("tables"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("output_data_{job_id}_"))
            })
            .count()
    };
    assert!(outputs() > 0, "the job wrote output tables");

    // Not under a running server.
    let (ok, text) = gc(data, &["--older-than-days", "0"]);
    assert!(
        !ok && text.contains("in use by a running fateflow server"),
        "{text}"
    );
    signal(s.child.id(), "-TERM");
    assert_eq!(wait_exit(&mut s, Duration::from_secs(15)), Some(0));

    // Too young for a 1-day retention; a dry run removes nothing.
    let (ok, text) = gc(data, &["--older-than-days", "1"]);
    assert!(ok && text.contains("removed 0 jobs"), "{text}");
    let (ok, text) = gc(data, &["--older-than-days", "0", "--dry-run"]);
    assert!(
        ok && text.contains(&format!("would remove job {job_id}")),
        "{text}"
    );
    assert!(data.join("jobs").join(&job_id).exists());

    // A staging leftover (an empty one too) goes with the job.
    std::fs::create_dir_all(data.join("tmp/stage-1-2-3")).unwrap();
    let (ok, text) = gc(data, &["--older-than-days", "0"]);
    assert!(
        ok && text.contains(&format!("removed job {job_id}")),
        "{text}"
    );
    // The two upload jobs go too (their rows only: the uploaded tables stay).
    assert!(text.contains("removed 3 jobs"), "{text}");
    assert!(!data.join("jobs").join(&job_id).exists());
    assert!(!data.join("logs").join(&job_id).exists());
    assert_eq!(outputs(), 0, "output tables removed");
    assert!(data.join("tables/experiment/breast_hetero_guest").is_dir());
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0);

    let s = Server::start(data, &[], &[]);
    let r = s.post("job/query", json!({"job_id": job_id}));
    assert!(
        r["data"].as_array().is_none_or(|a| a.is_empty()),
        "job rows removed: {r}"
    );
    let m = s.post("model/query", json!({"model_version": job_id}));
    assert_eq!(m["retcode"], 0, "the pipeline model stays: {m}");
    let info = s.post(
        "table/table_info",
        json!({"table_name": "breast_hetero_host", "namespace": "experiment"}),
    );
    assert_eq!(info["data"]["count"], 569, "{info}");
}

/// Two sites, the host's tasks held running: the job id and the host reader's pid.
fn held_two_sites() -> (crate::twosite::TwoSites, String, i64) {
    let opts = crate::twosite::Options {
        host_env: vec![("FATEFLOW_TEST_TASK_DELAY_MS".into(), "600000".into())],
        ..Default::default()
    };
    let sites = crate::twosite::TwoSites::start(&opts);
    sites.upload_breast();
    let job_id = sites.guest.submit_example("psi_ecdh");
    let tasks = sites
        .host
        .wait_tasks(&job_id, Duration::from_secs(60), |t| {
            t.iter().any(|t| {
                t["component_name"] == "reader_0"
                    && t["party_status"] == "running"
                    && t["run_pid"].is_i64()
            })
        });
    let pid = tasks
        .iter()
        .find(|t| t["component_name"] == "reader_0")
        .and_then(|t| t["run_pid"].as_i64())
        .unwrap();
    (sites, job_id, pid)
}

fn gone_soon(pid: i64) -> bool {
    let t0 = Instant::now();
    while alive(pid) && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

#[test]
fn sigterm_at_the_initiator_ends_the_job_at_the_partner_too() {
    let (mut sites, job_id, host_pid) = held_two_sites();
    signal(sites.guest.child.id(), "-TERM");
    assert_eq!(
        wait_exit(&mut sites.guest, Duration::from_secs(20)),
        Some(0)
    );
    // The partner was told through the gateway: no job left running there.
    let j = sites.wait_host_job(&job_id, Duration::from_secs(5), |j| {
        j["f_status"] == "failed"
    });
    let reason = j["f_error_report"].as_str().unwrap_or("");
    assert!(reason.contains("shut down (SIGTERM)"), "{j}");
    assert!(gone_soon(host_pid), "the host's task {host_pid} survived");
}

#[test]
fn sigterm_at_a_partner_fails_the_job_at_the_initiator_with_its_reason() {
    let (mut sites, job_id, host_pid) = held_two_sites();
    signal(sites.host.child.id(), "-TERM");
    assert_eq!(wait_exit(&mut sites.host, Duration::from_secs(20)), Some(0));
    assert!(gone_soon(host_pid), "the host's task {host_pid} survived");
    // Well within the 60 s party timeout: the host reported before it left.
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(15));
    assert_eq!(job["f_status"], "failed", "{job}");
    let reason = job["f_error_report"].as_str().unwrap_or("");
    assert!(reason.contains("shut down (SIGTERM)"), "{reason}");
}

#[test]
fn retention_days_removes_old_jobs_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut s = Server::start(data, &[], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    s.kill9();
    // With a zero-day retention every finished job is old enough.
    let s = Server::start(data, &[], &["--retention-days", "0"]);
    // Files go first, rows after them: wait for both.
    let rows_gone = || {
        let r = s.post("job/query", json!({"job_id": job_id}));
        r["data"].as_array().is_none_or(|a| a.is_empty())
    };
    let t0 = Instant::now();
    while (data.join("jobs").join(&job_id).exists() || !rows_gone())
        && t0.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !data.join("jobs").join(&job_id).exists(),
        "job files removed"
    );
    assert!(!data.join("logs").join(&job_id).exists(), "logs removed");
    let r = s.post("job/query", json!({"job_id": job_id}));
    assert!(
        r["data"].as_array().is_none_or(|a| a.is_empty()),
        "job rows removed: {r}"
    );
    let m = s.post("model/query", json!({"model_version": job_id}));
    assert_eq!(m["retcode"], 0, "the pipeline model stays: {m}");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_fateflow"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("in use by a running fateflow server")
            && err.contains(&format!("pid {}", s.child.id())),
        "{err}"
    );
}

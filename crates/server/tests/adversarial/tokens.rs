//! Task tokens (issue 15, item 3; federation limits of item 6): a local process that
//! is not the task cannot report for it, write its models, or use the data plane; a
//! token acts only for its own task and only while it runs; a stop kills every process
//! of the job, whatever its row says; a partner cannot park messages for no job.

use crate::common::{alive, Server};
use crate::twosite::{self, Options, TwoSites};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HEADER: &str = "X-Fateflow-Task-Token";
const HOLD: (&str, &str) = ("FATEFLOW_TEST_TASK_DELAY_MS", "120000");

/// A task row's identity as the worker routes spell it.
struct Task {
    job_id: String,
    component: String,
    task_id: String,
    version: i64,
    role: String,
    party_id: String,
    pid: i64,
}

impl Task {
    fn of(row: &Value) -> Task {
        let text = |k: &str| match &row[k] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        Task {
            job_id: text("job_id"),
            component: text("component_name"),
            task_id: text("task_id"),
            version: text("task_version").parse().unwrap(),
            role: text("role"),
            party_id: text("party_id"),
            pid: row["run_pid"].as_i64().unwrap_or(0),
        }
    }

    fn path(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}/{}",
            self.job_id, self.component, self.task_id, self.version, self.role, self.party_id
        )
    }

    fn session(&self) -> String {
        format!("{}_{}", self.task_id, self.version)
    }

    /// The token the site gave the process, read from its environment as the test's
    /// own user can (the threat is other users and remote callers, not the task's
    /// own user). Empty when the process has none.
    fn token(&self) -> String {
        let env = std::fs::read(format!("/proc/{}/environ", self.pid)).unwrap_or_default();
        env.split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"FATEFLOW_TASK_TOKEN="))
            .map(|t| String::from_utf8_lossy(t).to_string())
            .unwrap_or_default()
    }
}

/// POSTs raw bytes with an optional task token; returns the HTTP status and the body.
fn send(s: &Server, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Vec<u8>) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut req = client.post(format!("{}/{path}", s.base)).body(body);
    if let Some(t) = token {
        req = req.header(HEADER, t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().unwrap().to_vec())
}

/// Like [`send`] with a JSON body and a JSON answer.
fn call(s: &Server, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let (status, bytes) = send(s, path, token, body.to_string().into_bytes());
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

fn refused(status: u16, v: &Value, want_status: u16, words: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_ne!(v["retcode"], 0, "{v}");
    let msg = v["retmsg"].as_str().unwrap_or("");
    assert!(msg.contains(words), "`{words}` not in: {msg}");
}

/// A site with the breast data and a reader_transform job whose two reader tasks
/// (guest 9999, host 10000) are held running.
fn held_job() -> (tempfile::TempDir, Server, Vec<Task>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[HOLD], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let rows = s.wait_tasks(&job_id, Duration::from_secs(60), |t| {
        t.iter()
            .filter(|t| t["party_status"] == "running" && t["run_pid"].is_i64())
            .count()
            == 2
    });
    let mut tasks: Vec<Task> = rows
        .iter()
        .filter(|t| t["party_status"] == "running")
        .map(Task::of)
        .collect();
    tasks.sort_by(|a, b| a.role.cmp(&b.role));
    assert_eq!(tasks[0].role, "guest");
    assert_eq!(tasks[1].role, "host");
    (dir, s, tasks)
}

fn party_status(s: &Server, t: &Task) -> String {
    s.tasks(&t.job_id)
        .iter()
        .find(|r| r["task_id"] == t.task_id.as_str() && r["role"] == t.role.as_str())
        .map(|r| r["party_status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn wait_dead(pid: i64, within: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    !alive(pid)
}

#[test]
fn a_forged_report_without_the_task_token_is_refused_and_the_task_keeps_running() {
    let (_dir, s, tasks) = held_job();
    let guest = &tasks[0];
    let report = format!("party/{}/report", guest.path());
    let (status, v) = call(&s, &report, None, json!({"party_status": "success"}));
    refused(status, &v, 401, "no task token");
    let forged = "0".repeat(64);
    let (status, v) = call(
        &s,
        &report,
        Some(&forged),
        json!({"party_status": "success"}),
    );
    refused(status, &v, 403, "not the one given to task");
    assert!(!v.to_string().contains(&guest.token()), "{v}");
    assert_eq!(party_status(&s, guest), "running");
    // The real process, with its token, is still heard.
    let (status, v) = call(
        &s,
        &report,
        Some(&guest.token()),
        json!({"heartbeat": true}),
    );
    assert_eq!((status, &v["retcode"]), (200, &json!(0)), "{v}");
}

#[test]
fn a_token_of_one_task_is_refused_for_another() {
    let (_dir, s, tasks) = held_job();
    let (guest, host) = (&tasks[0], &tasks[1]);
    let token = guest.token();
    let (status, v) = call(
        &s,
        &format!("party/{}/report", host.path()),
        Some(&token),
        json!({"party_status": "success"}),
    );
    refused(status, &v, 403, "a token acts only for its own task");
    // Its own task under another component name is refused too.
    let renamed = guest.path().replace("/reader_0/", "/data_transform_0/");
    let (status, v) = call(
        &s,
        &format!("tracker/{renamed}/metric_data/save"),
        Some(&token),
        json!({"metric_namespace": "x", "metric_name": "y", "data": []}),
    );
    refused(status, &v, 403, "runs component `reader_0`");
    // And as the host on the data plane.
    let q = format!(
        "federation/push?session={}&name=x&tag=t&src_role=host&src_party_id=10000&dst_role=guest&dst_party_id=9999",
        host.session()
    );
    let (status, body) = send(&s, &q, Some(&token), b"abc".to_vec());
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert_eq!(party_status(&s, host), "running");
}

#[test]
fn a_token_ends_with_its_task_and_the_process_stops_when_its_token_is_refused() {
    let (dir, s, tasks) = held_job();
    let guest = &tasks[0];
    let token = guest.token();
    let report = format!("party/{}/report", guest.path());
    // The task's own final report is taken...
    let (status, v) = call(
        &s,
        &report,
        Some(&token),
        json!({"party_status": "success"}),
    );
    assert_eq!((status, &v["retcode"]), (200, &json!(0)), "{v}");
    assert_eq!(party_status(&s, guest), "success");
    // ...and after it the token acts no more, on any route.
    let (status, v) = call(&s, &report, Some(&token), json!({"party_status": "failed"}));
    refused(status, &v, 403, "acted only while it ran");
    let (status, v) = call(
        &s,
        &format!("tracker/{}/component_model/save", guest.path()),
        Some(&token),
        json!({"model_alias": "model", "module": "Reader", "model": {}}),
    );
    refused(status, &v, 403, "acted only while it ran");
    assert_eq!(party_status(&s, guest), "success");
    // The process (held by the test delay) learns from its next heartbeat that its
    // token is refused, and stops itself.
    assert!(
        wait_dead(guest.pid, Duration::from_secs(9)),
        "task process {} outlived its token",
        guest.pid
    );
    let log = dir.path().join(format!(
        "logs/{}/guest/9999/reader_0/INFO.log",
        guest.job_id
    ));
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("the site refused this task's token; exiting"),
        "{log}"
    );
}

/// Stops a process (no heartbeat, no exit of its own); it is SIGKILLed when the
/// guard drops.
fn sigstop(pid: i64) -> KillOnDrop {
    let guard = KillOnDrop(pid);
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    guard
}

/// SIGKILLs a process when dropped (a stopped task must not outlive a failed test).
struct KillOnDrop(i64);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn a_process_that_outlives_its_final_status_is_killed() {
    let (_dir, s, tasks) = held_job();
    let guest = &tasks[0];
    let token = guest.token();
    // A process that can do nothing more (stopped: no heartbeat, no exit) after its
    // final status.
    let _guard = sigstop(guest.pid);
    let (status, v) = call(
        &s,
        &format!("party/{}/report", guest.path()),
        Some(&token),
        json!({"party_status": "success"}),
    );
    assert_eq!((status, &v["retcode"]), (200, &json!(0)), "{v}");
    assert!(alive(guest.pid));
    // Killed after the grace period (10 s).
    assert!(
        wait_dead(guest.pid, Duration::from_secs(25)),
        "task process {} outlived its final status",
        guest.pid
    );
}

#[test]
fn a_forged_component_model_save_is_refused_and_the_model_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let query = json!({"job_id": job_id, "component_name": "data_transform_0", "role": "guest", "party_id": 9999});
    let before = s.post("tracking/component/output/model", query.clone());
    assert_eq!(before["retcode"], 0, "{before}");
    let row = s
        .tasks(&job_id)
        .into_iter()
        .find(|t| t["component_name"] == "data_transform_0" && t["role"] == "guest")
        .unwrap();
    let t = Task::of(&row);
    let forged = json!({"model_alias": "model", "module": "DataTransform", "model": {"param": {"forged": true}, "meta": {}}});
    let save = format!("tracker/{}/component_model/save", t.path());
    let (status, v) = call(&s, &save, None, forged.clone());
    refused(status, &v, 401, "no task token");
    let (status, v) = call(&s, &save, Some(&"f".repeat(64)), forged);
    // Which refusal depends on whether the site has reaped the ended process yet.
    let msg = v["retmsg"].as_str().unwrap_or("");
    let words = if msg.contains("has ended") {
        "has ended"
    } else {
        "holds no token"
    };
    refused(status, &v, 403, words);
    let after = s.post("tracking/component/output/model", query);
    assert_eq!(before["data"], after["data"], "{after}");
}

#[test]
fn federation_push_and_pull_need_the_task_token_of_their_own_party_and_session() {
    let (_dir, s, tasks) = held_job();
    let (guest, host) = (&tasks[0], &tasks[1]);
    let key = |session: &str, src: (&str, &str), dst: (&str, &str)| {
        format!(
            "session={session}&name=probe&tag=t&src_role={}&src_party_id={}&dst_role={}&dst_party_id={}",
            src.0, src.1, dst.0, dst.1
        )
    };
    let g = ("guest", "9999");
    let h = ("host", "10000");
    let push = format!("federation/push?{}", key(&guest.session(), g, h));
    let pull = format!(
        "federation/pull?{}&wait_ms=2000",
        key(&guest.session(), g, h)
    );
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    // No token.
    let (status, body) = send(&s, &push, None, b"forged".to_vec());
    assert_eq!(status, 401, "{}", text(&body));
    assert!(text(&body).contains("no task token"), "{}", text(&body));
    let (status, body) = send(&s, &pull, None, Vec::new());
    assert_eq!(status, 401, "{}", text(&body));
    // The guest's token in another session, and for the host's messages.
    let other = format!("federation/push?{}", key("202601010000000000000_x_0", g, h));
    let (status, body) = send(&s, &other, Some(&guest.token()), b"x".to_vec());
    assert_eq!(status, 403, "{}", text(&body));
    assert!(
        text(&body).contains("no task of guest:9999 runs in session"),
        "{}",
        text(&body)
    );
    let (status, body) = send(&s, &pull, Some(&guest.token()), Vec::new());
    assert_eq!(status, 403, "{}", text(&body));
    // Each task with its own token: the message goes through.
    let (status, body) = send(&s, &push, Some(&guest.token()), b"hello".to_vec());
    assert_eq!(status, 200, "{}", text(&body));
    let (status, body) = send(&s, &pull, Some(&host.token()), Vec::new());
    assert_eq!((status, text(&body).as_str()), (200, "hello"));
}

#[test]
fn stop_kills_a_task_process_whose_row_already_ended() {
    let (_dir, s, tasks) = held_job();
    let guest = &tasks[0];
    // The row ends while the process lives on (a task that ignores its own final
    // status; before tokens, any local caller could do this to any task). Stopped,
    // it cannot end itself: only a kill ends it.
    let _guard = sigstop(guest.pid);
    let (status, v) = call(
        &s,
        &format!("party/{}/report", guest.path()),
        Some(&guest.token()),
        json!({"party_status": "success"}),
    );
    assert_eq!((status, &v["retcode"]), (200, &json!(0)), "{v}");
    assert_eq!(party_status(&s, guest), "success");
    let r = s.post("job/stop", json!({"job_id": guest.job_id}));
    assert_eq!(r["retcode"], 0, "{r}");
    // Well before the final-status grace period: the stop itself killed it.
    for t in &tasks {
        assert!(
            wait_dead(t.pid, Duration::from_secs(4)),
            "task process {} ({}) survived the stop",
            t.pid,
            t.role
        );
    }
}

#[test]
fn a_gateway_push_for_a_session_of_no_job_is_refused() {
    let sites = TwoSites::start(&Options::default());
    let peers = sites.guest_files.peers();
    let key = twosite::guest_to_host("202601010000000000000_intersection_0_0", 9999);
    let e = twosite::runtime()
        .block_on(peers.push(&key, 3, twosite::abc()))
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(
        e.message().contains("has no job at this site"),
        "{}",
        e.message()
    );
}

#[test]
fn a_gateway_push_from_a_party_outside_the_job_is_refused() {
    // The host routes the guest (9999) and a third party (9998); the guest creates a
    // job there with the host; the third party is routed but not in the job.
    let dir = tempfile::tempdir().unwrap();
    let (guest_cert, _) = twosite::make_cert(&dir.path().join("guest"));
    let (third_cert, _) = twosite::make_cert(&dir.path().join("third"));
    let (_host, port, host_cert) = twosite::start_routed_host(
        dir.path(),
        &dir.path().join("host"),
        &[(9999, &guest_cert), (9998, &third_cert)],
    );
    let guest = twosite::peers_to_host(&dir.path().join("guest"), port, &host_cert);
    let third = twosite::peers_to_host(&dir.path().join("third"), port, &host_cert);
    let job_id = "202601010000000000002";
    let read = |f: &str| -> Value {
        let path = crate::common::examples()
            .join("jobs/reader_transform")
            .join(f);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let create = twosite::command_to_host(
        job_id,
        "guest",
        9999,
        &json!({"command": "create_job", "dsl": read("dsl.json"), "runtime_conf": read("conf.json")}),
    );
    let session = format!("{job_id}_reader_0_0");
    twosite::runtime().block_on(async {
        let r = guest.command(create).await.unwrap();
        assert!(r.ok, "{}", r.message);
        let e = third
            .push(&twosite::guest_to_host(&session, 9998), 3, twosite::abc())
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(
            e.message()
                .contains(&format!("guest:9998 is not a party of job {job_id}")),
            "{}",
            e.message()
        );
        // The job's own guest is heard.
        let ok = guest
            .push(&twosite::guest_to_host(&session, 9999), 3, twosite::abc())
            .await
            .unwrap();
        assert!(ok.stored);
    });
}

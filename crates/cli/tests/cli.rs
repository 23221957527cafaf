//! Runs the real `flow` binary against a scripted fake server and checks what the
//! server received: method, path, query, headers and body.

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use common::*;

const JOB_ID: &str = "202601010000000000000";

fn hmac_sha1_b64(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn ok(data: Value) -> Reply {
    Reply::json(json!({"retcode": 0, "retmsg": "success", "data": data}))
}

fn addr_args(server: &FakeServer) -> Vec<String> {
    vec![
        "--ip".into(),
        "127.0.0.1".into(),
        "--port".into(),
        server.port_arg(),
    ]
}

fn run(server: &FakeServer, cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = addr_args(server);
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    flow(cwd, &cwd.join("no-settings.json"), &all)
}

#[test]
fn upload_sends_the_file_as_multipart_and_the_conf_as_the_query() {
    let reply = json!({"retcode": 0, "retmsg": "success", "jobId": JOB_ID,
        "data": {"table_name": "breast_hetero_guest", "namespace": "experiment"}});
    let answer = reply.clone();
    let server = FakeServer::start(move |_| Reply::json(answer.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("conf");
    fs::create_dir(&conf_dir).unwrap();
    let csv = "id,y,x0\n1,0,0.5\n2,1,-0.25\n";
    fs::write(conf_dir.join("breast.csv"), csv).unwrap();
    fs::write(
        conf_dir.join("upload.json"),
        r#"{"file": "breast.csv", "head": 1, "partition": 4,
            "namespace": "experiment", "table_name": "breast_hetero_guest"}"#,
    )
    .unwrap();

    let mut args = addr_args(&server);
    args.extend(
        [
            "--app-key",
            "fate-app",
            "--secret-key",
            "fate-secret",
            "data",
            "upload",
            "-c",
            "conf/upload.json",
            "--drop",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = flow(tmp.path(), &tmp.path().join("none.json"), &args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout_json(&out), reply);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/data/upload");

    // The whole query is the percent-encoded JSON conf, in Python's json.dumps shape.
    let conf_path = fs::canonicalize(conf_dir.join("upload.json")).unwrap();
    let query = req.query.clone().expect("a query string");
    assert!(
        query.starts_with("%7B%22file%22:%20%22breast.csv%22,%20%22head%22:%201,"),
        "{query}"
    );
    assert_eq!(
        percent_decode(&query),
        format!(
            r#"{{"file": "breast.csv", "head": 1, "partition": 4, "namespace": "experiment", "table_name": "breast_hetero_guest", "conf_path": "{}", "drop": 1, "verbose": 0}}"#,
            conf_path.display()
        )
    );

    // One multipart field `file` holding the file.
    let content_type = req.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("content type {content_type}"));
    let body = req.body_text();
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"breast.csv\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        )
    );
    assert_eq!(
        req.header("content-length").unwrap(),
        req.body.len().to_string()
    );

    // Signed with an empty body part.
    let ts = req.header("timestamp").unwrap();
    let nonce = req.header("nonce").unwrap();
    assert_eq!(req.header("app_key"), Some("fate-app"));
    let message = format!("{ts}\n{nonce}\nfate-app\n{}\n\n", req.path_and_query());
    assert_eq!(
        req.header("signature").unwrap(),
        hmac_sha1_b64("fate-secret", message.as_bytes())
    );
}

#[test]
fn upload_with_server_side_file_posts_json() {
    let server = FakeServer::start(|_| ok(json!({})));
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("up.json"),
        r#"{"file": "/srv/data/a.csv", "use_local_data": 0, "head": 1, "partition": 2,
            "namespace": "n", "table_name": "t"}"#,
    )
    .unwrap();
    let out = run(&server, tmp.path(), &["data", "upload", "-c", "up.json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/data/upload")
    );
    assert_eq!(req.query, None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(body["file"], "/srv/data/a.csv");
    assert_eq!(body["drop"], 0);
    assert_eq!(body["verbose"], 0);
    assert!(body["conf_path"].as_str().unwrap().ends_with("up.json"));
}

#[test]
fn upload_of_a_missing_file_is_a_usage_error() {
    let server = FakeServer::start(|_| ok(json!({})));
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("up.json"), r#"{"file": "nope.csv"}"#).unwrap();
    let out = run(&server, tmp.path(), &["data", "upload", "-c", "up.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.csv"), "{}", stderr(&out));
    assert!(server.requests().is_empty());
}

fn write_job_files(dir: &Path) -> (Value, Value) {
    let dsl = json!({"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "hetero_lr_0": {"module": "HeteroLR", "input": {"data": {"train_data": ["reader_0.data"]}}}
    }});
    let conf = json!({
        "dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999], "host": [10000]},
        "job_parameters": {"common": {"task_cores": 2}}
    });
    fs::write(
        dir.join("dsl.json"),
        serde_json::to_string_pretty(&dsl).unwrap(),
    )
    .unwrap();
    fs::write(
        dir.join("conf.json"),
        serde_json::to_string_pretty(&conf).unwrap(),
    )
    .unwrap();
    (dsl, conf)
}

fn submit_reply() -> Reply {
    Reply::json(json!({"retcode": 0, "retmsg": "success", "jobId": JOB_ID,
        "data": {"job_id": JOB_ID, "model_info": {"model_id": "m", "model_version": JOB_ID}}}))
}

#[test]
fn job_submit_sends_dsl_and_runtime_conf() {
    let server = FakeServer::start(|_| submit_reply());
    let tmp = tempfile::tempdir().unwrap();
    let (dsl, conf) = write_job_files(tmp.path());
    let out = run(
        &server,
        tmp.path(),
        &["job", "submit", "-c", "conf.json", "-d", "dsl.json"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout_json(&out)["jobId"], JOB_ID);
    assert!(
        stdout(&out).contains("\n    \"retcode\": 0"),
        "4-space indent"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/job/submit")
    );
    assert_eq!(req.query, None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("signature"), None, "no keys, no signature");
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let mut expected_conf = conf.clone();
    expected_conf["conf_path"] = json!(dir.join("conf.json").display().to_string());
    expected_conf["dsl_path"] = json!(dir.join("dsl.json").display().to_string());
    assert_eq!(
        req.json(),
        json!({"job_dsl": dsl, "job_runtime_conf": expected_conf})
    );
    assert!(req
        .body_text()
        .starts_with(r#"{"job_dsl": {"components": {"reader_0": "#));
}

#[test]
fn job_query_sends_filters_and_hides_confs() {
    let server = FakeServer::start(|_| {
        ok(
            json!([{"f_job_id": JOB_ID, "f_role": "guest", "f_party_id": "9999",
            "f_status": "running", "f_progress": 50, "f_dsl": {"components": {}},
            "f_runtime_conf": {"x": 1}, "f_roles": {"guest": [9999], "host": [10000]}}]),
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &["job", "query", "-j", JOB_ID, "-r", "guest", "-p", "9999"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let printed = stdout_json(&out);
    assert_eq!(printed["data"][0]["f_status"], "running");
    assert!(printed["data"][0].get("f_dsl").is_none());
    assert!(printed["data"][0].get("f_runtime_conf").is_none());

    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/job/query")
    );
    // Byte for byte what fate-client 1.11.3 sends (party_id is a string).
    assert_eq!(
        req.body_text(),
        format!(r#"{{"job_id": "{JOB_ID}", "role": "guest", "party_id": "9999"}}"#)
    );

    let out = run(
        &server,
        tmp.path(),
        &["job", "query", "-j", JOB_ID, "--table"],
    );
    assert_eq!(out.status.code(), Some(0));
    let table = stdout(&out);
    assert!(table.starts_with("JOB ID "), "{table}");
    assert!(table.contains("running  50%"), "{table}");
    assert!(table.contains("guest:9999 host:10000"), "{table}");
}

#[test]
fn job_stop_sends_the_job_id_and_fails_on_nonzero_retcode() {
    let server =
        FakeServer::start(|_| Reply::json(json!({"retcode": 102, "retmsg": "can not found job"})));
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&server, tmp.path(), &["job", "stop", "-j", JOB_ID]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["retmsg"], "can not found job");
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/job/stop")
    );
    assert_eq!(req.json(), json!({"job_id": JOB_ID}));
}

#[test]
fn other_verbs_hit_their_routes() {
    let server = FakeServer::start(|_| ok(json!({})));
    let tmp = tempfile::tempdir().unwrap();
    let cpn = [
        "-j",
        JOB_ID,
        "-r",
        "guest",
        "-p",
        "9999",
        "-cpn",
        "hetero_lr_0",
    ];
    let cases: Vec<(Vec<&str>, &str, Value)> = vec![
        (
            vec!["job", "list"],
            "/v1/job/list/job",
            json!({"limit": 10}),
        ),
        (
            vec!["job", "rerun", "-j", JOB_ID, "--cpn", "hetero_lr_0"],
            "/v1/job/rerun",
            json!({"job_id": JOB_ID, "force": false, "component_name": "hetero_lr_0"}),
        ),
        (
            vec!["task", "list", "-j", JOB_ID, "-l", "5"],
            "/v1/job/list/task",
            json!({"limit": 5, "job_id": JOB_ID}),
        ),
        (
            vec!["task", "query", "-j", JOB_ID, "-cpn", "reader_0"],
            "/v1/job/task/query",
            json!({"job_id": JOB_ID, "component_name": "reader_0"}),
        ),
        (
            vec!["table", "info", "-t", "t", "-n", "ns"],
            "/v1/table/table_info",
            json!({"table_name": "t", "namespace": "ns"}),
        ),
        (
            vec!["table", "delete", "-t", "t", "-n", "ns"],
            "/v1/table/delete",
            json!({"table_name": "t", "namespace": "ns"}),
        ),
        (
            [&["tracking", "metrics"][..], &cpn].concat(),
            "/v1/tracking/component/metrics",
            json!({"job_id": JOB_ID, "role": "guest", "party_id": "9999", "component_name": "hetero_lr_0"}),
        ),
        (
            [&["tracking", "metric-all"][..], &cpn].concat(),
            "/v1/tracking/component/metric/all",
            json!({"job_id": JOB_ID, "role": "guest", "party_id": "9999", "component_name": "hetero_lr_0"}),
        ),
        (
            [&["tracking", "parameters"][..], &cpn].concat(),
            "/v1/tracking/component/parameters",
            json!({"job_id": JOB_ID, "role": "guest", "party_id": "9999", "component_name": "hetero_lr_0"}),
        ),
        (
            [&["tracking", "summary"][..], &cpn].concat(),
            "/v1/tracking/component/summary/download",
            json!({"job_id": JOB_ID, "role": "guest", "party_id": "9999", "component_name": "hetero_lr_0"}),
        ),
        (
            vec!["component", "list", "-j", JOB_ID],
            "/v1/tracking/component/list",
            json!({"job_id": JOB_ID}),
        ),
        (vec!["component", "list"], "/v1/component/get", json!({})),
        (vec!["server", "version"], "/v1/version/get", json!({})),
        (
            vec!["server", "versions"],
            "/v1/server/version/get",
            json!({}),
        ),
    ];
    for (args, path, body) in &cases {
        let out = run(&server, tmp.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let req = server.requests().pop().unwrap();
        assert_eq!(req.method, "POST", "{args:?}");
        assert_eq!(&req.path, path, "{args:?}");
        assert_eq!(&req.json(), body, "{args:?}");
    }
}

fn tar_gz(entries: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, data.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn job_log_and_output_data_are_downloaded_and_extracted() {
    let server = FakeServer::start(|req| match req.path.as_str() {
        "/v1/job/log/download" => Reply::bytes(
            "application/gzip",
            tar_gz(&[("guest/9999/INFO.log", "started\n")]),
        ),
        _ => Reply::bytes(
            "application/octet-stream",
            tar_gz(&[
                ("data.csv", "id,y\n1,0\n"),
                ("data.meta", r#"{"header": ["id", "y"]}"#),
            ]),
        ),
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &["job", "log", "-j", JOB_ID, "-o", "logs"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let dir = tmp.path().join(format!("logs/job_{JOB_ID}_log"));
    assert_eq!(
        fs::read_to_string(dir.join("guest/9999/INFO.log")).unwrap(),
        "started\n"
    );
    assert!(!tmp
        .path()
        .join(format!("logs/job_{JOB_ID}_log.tar.gz"))
        .exists());
    assert!(stdout_json(&out)["directory"]
        .as_str()
        .unwrap()
        .ends_with(&format!("job_{JOB_ID}_log")));
    let req = server.requests().pop().unwrap();
    assert_eq!(req.json(), json!({"job_id": JOB_ID, "output_path": "logs"}));

    let out = run(
        &server,
        tmp.path(),
        &[
            "tracking",
            "output-data",
            "-j",
            JOB_ID,
            "-r",
            "guest",
            "-p",
            "9999",
            "-cpn",
            "reader_0",
            "-o",
            "out",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let dir = tmp
        .path()
        .join(format!("out/job_{JOB_ID}_reader_0_guest_9999_output_data"));
    assert_eq!(
        fs::read_to_string(dir.join("data.csv")).unwrap(),
        "id,y\n1,0\n"
    );
    let req = server.requests().pop().unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/v1/tracking/component/output/data/download");
    assert_eq!(req.json()["limit"], -1);
}

#[test]
fn download_errors_print_the_envelope() {
    let server = FakeServer::start(|_| Reply {
        status: 404,
        content_type: "application/json".into(),
        body: br#"{"retcode": 404, "retmsg": "log not found"}"#.to_vec(),
        headers: Vec::new(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &["job", "log", "-j", JOB_ID, "-o", "logs"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["retmsg"], "log not found");
}

/// A job whose `hetero_lr_0` fails at the host: job/query and job/task/query answer
/// from a script, one step per poll.
fn failing_job_server() -> FakeServer {
    let job_polls = Arc::new(AtomicUsize::new(0));
    let task_polls = Arc::new(AtomicUsize::new(0));
    FakeServer::start(move |req| match req.path.as_str() {
        "/v1/job/submit" => submit_reply(),
        "/v1/job/query" => {
            let n = job_polls.fetch_add(1, Ordering::SeqCst);
            let (status, progress) = match n {
                0 => ("waiting", 0),
                1 => ("running", 0),
                2 => ("running", 50),
                _ => ("failed", 50),
            };
            ok(json!([
                {"f_job_id": JOB_ID, "f_role": "host", "f_party_id": "10000",
                 "f_is_initiator": false, "f_status": "running", "f_progress": 0},
                {"f_job_id": JOB_ID, "f_role": "guest", "f_party_id": "9999",
                 "f_is_initiator": true, "f_status": status, "f_progress": progress}
            ]))
        }
        "/v1/job/task/query" => {
            let n = task_polls.fetch_add(1, Ordering::SeqCst);
            let row = |cpn: &str, role: &str, party: &str, status: &str, report: Value| {
                json!({"f_job_id": JOB_ID, "f_component_name": cpn, "f_role": role,
                    "f_party_id": party, "f_status": status, "f_party_status": status,
                    "f_error_report": report})
            };
            match n {
                0 => Reply::json(json!({"retcode": 101, "retmsg": "find task failed"})),
                1 | 2 => ok(json!([
                    row(
                        "reader_0",
                        "guest",
                        "9999",
                        if n == 1 { "running" } else { "success" },
                        Value::Null
                    ),
                    row(
                        "hetero_lr_0",
                        "guest",
                        "9999",
                        if n == 1 { "waiting" } else { "running" },
                        Value::Null
                    ),
                    row(
                        "hetero_lr_0",
                        "host",
                        "10000",
                        if n == 1 { "waiting" } else { "running" },
                        Value::Null
                    ),
                ])),
                _ => {
                    let mut guest = row("hetero_lr_0", "guest", "9999", "failed", Value::Null);
                    guest["f_party_status"] = json!("canceled");
                    ok(json!([
                        row("reader_0", "guest", "9999", "success", Value::Null),
                        guest,
                        row(
                            "hetero_lr_0",
                            "host",
                            "10000",
                            "failed",
                            json!(
                                "Traceback (most recent call last):\nValueError: gradient is NaN"
                            )
                        ),
                    ]))
                }
            }
        }
        other => panic!("unexpected request to {other}"),
    })
}

#[test]
fn submit_wait_follows_the_job_and_reports_the_failed_task() {
    let server = failing_job_server();
    let tmp = tempfile::tempdir().unwrap();
    write_job_files(tmp.path());
    let out = run(
        &server,
        tmp.path(),
        &[
            "job",
            "submit",
            "-c",
            "conf.json",
            "-d",
            "dsl.json",
            "--wait",
            "--poll-interval",
            "0.01",
            "--timeout",
            "60",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(stdout_json(&out)["jobId"], JOB_ID);

    // Live progress, one line per change.
    assert!(err.contains("reader_0     running\n"), "{err}");
    assert!(err.contains("reader_0     running → success"), "{err}");
    assert!(err.contains("hetero_lr_0  waiting → running"), "{err}");
    assert!(err.contains("hetero_lr_0  running → failed"), "{err}");
    assert!(
        err.contains(&format!("job {JOB_ID}  running  50%")),
        "{err}"
    );
    assert!(err.contains(&format!("job {JOB_ID}  failed  50%")), "{err}");
    assert_eq!(
        err.matches("reader_0     running → success").count(),
        1,
        "{err}"
    );

    // The failing task, its party and its error report.
    assert!(
        err.contains("hetero_lr_0 at role host party 10000: failed"),
        "{err}"
    );
    assert!(err.contains("ValueError: gradient is NaN"), "{err}");
    assert!(
        err.contains("hetero_lr_0 at role guest party 9999: canceled"),
        "{err}"
    );

    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/job/submit");
    let polls: Vec<_> = requests[1..].iter().collect();
    assert!(polls.len() >= 8, "{} polls", polls.len());
    for req in polls {
        assert!(
            req.path == "/v1/job/query" || req.path == "/v1/job/task/query",
            "{}",
            req.path
        );
        assert_eq!(req.json(), json!({"job_id": JOB_ID}));
    }
}

#[test]
fn wait_succeeds_with_exit_zero_and_times_out_with_exit_one() {
    let server = FakeServer::start(|req| match req.path.as_str() {
        "/v1/job/query" if req.json()["job_id"] == "done" => {
            ok(json!([{"f_status": "success", "f_progress": 100}]))
        }
        "/v1/job/query" => ok(json!([{"f_status": "running", "f_progress": 10}])),
        _ => ok(json!([{"f_component_name": "reader_0", "f_status": "success"}])),
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        tmp.path(),
        &["job", "wait", "-j", "done", "--poll-interval", "0.01"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("job done succeeded"),
        "{}",
        stderr(&out)
    );

    let out = run(
        &server,
        tmp.path(),
        &[
            "job",
            "wait",
            "-j",
            "slow",
            "--poll-interval",
            "0.05",
            "--timeout",
            "0.3",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("gave up waiting for job slow"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn non_json_answers_become_retcode_100() {
    let server = FakeServer::start(|_| Reply::text(500, "Internal Server Error"));
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&server, tmp.path(), &["server", "version"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_json(&out),
        json!({"retcode": 100, "retmsg": "Internal Server Error"})
    );
}

#[test]
fn connection_failure_names_the_address_and_suggests_init() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let port = port.to_string();
    let out = flow(
        tmp.path(),
        &tmp.path().join("none.json"),
        &[
            "--ip",
            "127.0.0.1",
            "--port",
            &port,
            "job",
            "stop",
            "-j",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("flow init"), "{err}");
}

#[test]
fn unconfigured_cli_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flow(tmp.path(), &tmp.path().join("none.json"), &["job", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("flow init"), "{}", stderr(&out));
}

#[test]
fn init_stores_settings_that_later_calls_use() {
    let server = FakeServer::start(|_| ok(json!({"FATE": "1.11.4", "API": "v1"})));
    let tmp = tempfile::tempdir().unwrap();
    let settings = tmp.path().join("cfg/flow.json");
    let port = server.port_arg();
    let out = flow(
        tmp.path(),
        &settings,
        &[
            "init",
            "--ip",
            "127.0.0.1",
            "--port",
            &port,
            "--app-key",
            "k1",
            "--secret-key",
            "s1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stored: Value = serde_json::from_str(&fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(stored["ip"], "127.0.0.1");
    assert_eq!(stored["port"], server.port());
    assert_eq!(stored["api_version"], "v1");
    assert!(!stdout(&out).contains("s1"), "the secret is not echoed");

    let out = flow(tmp.path(), &settings, &["server", "version"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let req = server.requests().pop().unwrap();
    assert_eq!(req.path, "/v1/version/get");
    assert_eq!(req.header("app_key"), Some("k1"));
    let message = format!(
        "{}\n{}\nk1\n/v1/version/get\n{{}}\n",
        req.header("timestamp").unwrap(),
        req.header("nonce").unwrap()
    );
    assert_eq!(
        req.header("signature").unwrap(),
        hmac_sha1_b64("s1", message.as_bytes())
    );

    // init -c reads a server's service_conf.yaml.
    let conf = tmp.path().join("service_conf.yaml");
    fs::write(
        &conf,
        format!(
            "authentication:\n  client:\n    switch: false\n    http_app_key:\n    http_secret_key:\n\
             fateflow:\n  host: 127.0.0.1\n  http_port: {port}\n  grpc_port: 9360\n"
        ),
    )
    .unwrap();
    let out = flow(
        tmp.path(),
        &settings,
        &["init", "-c", conf.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stored: Value = serde_json::from_str(&fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(stored["port"], server.port());
    assert!(stored.get("app_key").is_none());
    let out = flow(tmp.path(), &settings, &["server", "version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.requests().pop().unwrap().header("app_key"), None);
}

#[test]
fn fate_flow_addr_overrides_the_settings_file() {
    let server = FakeServer::start(|_| ok(json!({})));
    let tmp = tempfile::tempdir().unwrap();
    let settings = tmp.path().join("flow.json");
    fs::write(
        &settings,
        r#"{"ip": "10.255.255.1", "port": 1, "api_version": "v1"}"#,
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", server.port());
    let out = flow_with_env(
        tmp.path(),
        &settings,
        &["server", "version"],
        &[("FATE_FLOW_ADDR", &addr)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 1);
}

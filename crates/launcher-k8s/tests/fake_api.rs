//! The Kubernetes launcher against a fake API server: a real HTTP server on
//! 127.0.0.1 answering with the responses under `tests/fixtures/k8s/` and recording
//! every request, so the tests check what the launcher sends and what it makes of
//! the answers.

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use fateflow_launcher_k8s::names::{job_name, secret_name};
use fateflow_launcher_k8s::{K8sConfig, KubernetesLauncher};
use fateflow_scheduler::launcher::{worker_id, TaskToken, TASK_TOKEN_ENV};
use fateflow_scheduler::{ProcessExit, TaskHandle, TaskLauncher, TaskSpec};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the fake API server received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    content_type: String,
    body: String,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// An answer: status, body, and whether the body stays open after it (a watch).
struct Answer {
    status: u16,
    body: String,
    stream: bool,
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/k8s")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

fn answer(status: u16, file: &str) -> Answer {
    Answer {
        status,
        body: fixture(file),
        stream: false,
    }
}

type Script = dyn Fn(&Seen) -> Answer + Send + Sync;

/// A fake API server; `script` picks the answer to each request.
struct FakeApi {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    async fn start(script: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let record = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: axum::http::HeaderMap, body: Bytes| {
                let (record, script) = (record.clone(), script.clone());
                async move {
                    let req = Seen {
                        method,
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or_default().to_string(),
                        content_type: headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let a = script(&req);
                    record.lock().unwrap().push(req);
                    let body = if a.stream {
                        // The events, then a watch that stays open.
                        let events =
                            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(a.body)]);
                        let open =
                            futures_util::stream::pending::<Result<String, std::io::Error>>();
                        Body::from_stream(futures_util::StreamExt::chain(events, open))
                    } else {
                        Body::from(a.body)
                    };
                    Response::builder()
                        .status(StatusCode::from_u16(a.status).unwrap())
                        .header("content-type", "application/json")
                        .body(body)
                        .unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url.parse().unwrap());
        config.default_namespace = "fateflow".into();
        kube::Client::try_from(config).unwrap()
    }
}

const WORKER: &str = "202601011200000000001_reader_0_0_guest_9999";

fn config() -> K8sConfig {
    K8sConfig {
        namespace: "fateflow".into(),
        image: "fateflow:test".into(),
        program: "fateflow".into(),
        image_pull_policy: Some("IfNotPresent".into()),
        server_url: "http://10.244.0.5:9380".into(),
        data_claim: "fateflow-data".into(),
        data_mount: None,
        site: "site-a".into(),
        run_as: Some((1000, 1000)),
        ttl_after_finished_s: 3600,
    }
}

fn spec(data_dir: &Path) -> TaskSpec {
    let mut spec: TaskSpec = serde_json::from_value(json!({
        "job_id": "202601011200000000001",
        "component": "reader_0",
        "module": "Reader",
        "task_id": "202601011200000000001_reader_0",
        "task_version": 0,
        "role": "guest",
        "party_id": 9999,
        "parameters": {},
        "data_inputs": {},
        "model_inputs": [],
        "isometric_model_inputs": [],
        "output_data": ["data"],
        "output_model": [],
        "data_dir": data_dir,
        "log_dir": data_dir.join("logs/202601011200000000001/guest/9999/reader_0"),
        "server": "http://127.0.0.1:9380",
        "task_cores": 2,
        "task_memory_mb": 2048,
        "computing_partitions": 4,
    }))
    .unwrap();
    spec.token = TaskToken::from_secret("ab".repeat(32));
    spec
}

fn handle(worker: Option<&str>) -> TaskHandle {
    TaskHandle {
        task_id: "202601011200000000001_reader_0".into(),
        worker_id: worker.map(str::to_string),
        pid: None,
    }
}

fn launcher(api: &FakeApi) -> KubernetesLauncher {
    KubernetesLauncher::new(api.client(), config()).unwrap()
}

#[tokio::test]
async fn launch_creates_a_suspended_job_then_its_secret_then_resumes_it() {
    let api = FakeApi::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/apis/batch/v1/namespaces/fateflow/jobs") => answer(201, "job_create.json"),
        ("POST", "/api/v1/namespaces/fateflow/secrets") => answer(201, "secret_create.json"),
        ("PATCH", p) if p.starts_with("/apis/batch/v1/namespaces/fateflow/jobs/") => {
            answer(200, "job_resumed.json")
        }
        _ => answer(404, "status_404.json"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path());
    let launched = launcher(&api).launch(&spec).await.unwrap();
    assert_eq!(launched.pid, None);
    assert_eq!(launched.worker_id, WORKER);
    assert_eq!(worker_id(&spec), WORKER);
    let name = job_name(WORKER);
    assert!(
        launched.cmd.contains(&format!("job/{name}")),
        "{}",
        launched.cmd
    );

    let seen = api.seen();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.to_string(), s.path.clone()))
        .collect();
    assert_eq!(
        calls,
        vec![
            (
                "POST".into(),
                "/apis/batch/v1/namespaces/fateflow/jobs".into()
            ),
            ("POST".into(), "/api/v1/namespaces/fateflow/secrets".into()),
            (
                "PATCH".into(),
                format!("/apis/batch/v1/namespaces/fateflow/jobs/{name}")
            ),
        ]
    );

    // The Job.
    let job = seen[0].json();
    assert_eq!(job["metadata"]["name"], name);
    assert_eq!(job["metadata"]["namespace"], "fateflow");
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["fateflow/job-id"], "202601011200000000001");
    assert_eq!(labels["fateflow/role"], "guest");
    assert_eq!(labels["fateflow/party-id"], "9999");
    assert_eq!(labels["fateflow/task-id"], "202601011200000000001_reader_0");
    assert_eq!(labels["fateflow/task-version"], "0");
    assert_eq!(labels["fateflow/site"], "site-a");
    assert_eq!(job["metadata"]["annotations"]["fateflow/worker-id"], WORKER);
    assert_eq!(job["spec"]["suspend"], true);
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    let template = &job["spec"]["template"];
    assert_eq!(&template["metadata"]["labels"], labels);
    let pod = &template["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(pod["securityContext"]["runAsGroup"], 1000);
    let c = &pod["containers"][0];
    assert_eq!(c["name"], "task");
    assert_eq!(c["image"], "fateflow:test");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    let spec_path = spec.log_dir.join("202601011200000000001_reader_0_v0.json");
    assert_eq!(
        c["command"],
        json!(["fateflow", "task", "run", "--spec", spec_path])
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "2", "memory": "2048Mi"})
    );
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "2", "memory": "2560Mi"})
    );
    let env = c["env"].as_array().unwrap();
    let token_env = env.iter().find(|e| e["name"] == TASK_TOKEN_ENV).unwrap();
    assert_eq!(
        token_env["valueFrom"]["secretKeyRef"],
        json!({"name": secret_name(WORKER), "key": "token"})
    );
    assert!(
        token_env.get("value").is_none(),
        "the token is never in the Job"
    );
    assert!(!seen[0].body.contains(spec.token.secret()));
    assert!(env
        .iter()
        .any(|e| e["name"] == "TMPDIR" && e["value"] == "/scratch"));
    assert_eq!(
        c["volumeMounts"][0],
        json!({"name": "data", "mountPath": dir.path()})
    );
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "fateflow-data"}})
    );
    assert_eq!(
        pod["volumes"][1],
        json!({"name": "scratch", "emptyDir": {}})
    );

    // The Secret: the token, owned by the Job the API created (its uid).
    let secret = seen[1].json();
    assert_eq!(secret["metadata"]["name"], secret_name(WORKER));
    assert_eq!(secret["stringData"]["token"], spec.token.secret());
    assert_eq!(
        secret["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                "uid": "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"}])
    );
    assert_eq!(secret["metadata"]["labels"]["fateflow/site"], "site-a");

    // Resumed by a merge patch.
    assert_eq!(seen[2].json(), json!({"spec": {"suspend": false}}));
    assert_eq!(seen[2].content_type, "application/merge-patch+json");

    // The spec file the pod reads: this server's pod-network URL, no token.
    let written = std::fs::read_to_string(&spec_path).unwrap();
    let written: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written["server"], "http://10.244.0.5:9380");
    assert!(!written.to_string().contains(spec.token.secret()));
}

#[tokio::test]
async fn a_refused_job_create_names_the_namespace_and_resource() {
    let api = FakeApi::start(|_| answer(403, "status_403.json")).await;
    let dir = tempfile::tempdir().unwrap();
    let err = launcher(&api)
        .launch(&spec(dir.path()))
        .await
        .unwrap_err()
        .to_string();
    let name = job_name(WORKER);
    assert!(
        err.starts_with(&format!("creating Job {name} in namespace fateflow: ")),
        "{err}"
    );
    assert!(err.contains("403 Forbidden"), "{err}");
    assert!(err.contains("cannot create resource \"jobs\""), "{err}");
    // Nothing after the refusal.
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test]
async fn a_failed_secret_create_removes_the_job_and_says_why() {
    let api = FakeApi::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/apis/batch/v1/namespaces/fateflow/jobs") => answer(201, "job_create.json"),
        ("POST", "/api/v1/namespaces/fateflow/secrets") => answer(500, "status_500.json"),
        ("DELETE", _) => answer(200, "delete_job.json"),
        _ => answer(404, "status_404.json"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let err = launcher(&api)
        .launch(&spec(dir.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "creating Secret {} in namespace fateflow: the API server answered 500 InternalError",
            secret_name(WORKER)
        )),
        "{err}"
    );
    let seen = api.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.method, Method::DELETE);
    assert_eq!(
        last.path,
        format!(
            "/apis/batch/v1/namespaces/fateflow/jobs/{}",
            job_name(WORKER)
        )
    );
    assert!(
        seen.iter().all(|s| s.method != Method::PATCH),
        "never resumed"
    );
}

#[tokio::test]
async fn a_log_dir_outside_the_data_dir_is_refused_before_any_call() {
    let api = FakeApi::start(|_| answer(404, "status_404.json")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&dir.path().join("data"));
    spec.log_dir = dir.path().join("elsewhere");
    let err = launcher(&api).launch(&spec).await.unwrap_err().to_string();
    assert!(err.contains("outside the data dir"), "{err}");
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn kill_deletes_the_job_by_its_name_with_background_propagation() {
    let api = FakeApi::start(|r| match r.method.as_str() {
        "DELETE" if r.path.ends_with(&job_name(WORKER)) => answer(200, "delete_job.json"),
        _ => answer(404, "status_404.json"),
    })
    .await;
    let l = launcher(&api);
    assert!(l.kill(&handle(Some(WORKER))).await.unwrap());
    let seen = api.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::DELETE);
    assert_eq!(
        seen[0].path,
        format!(
            "/apis/batch/v1/namespaces/fateflow/jobs/{}",
            job_name(WORKER)
        )
    );
    assert_eq!(seen[0].json()["propagationPolicy"], "Background");

    // Gone already: nothing killed.
    assert!(!l
        .kill(&handle(Some("202601011200000000001_reader_0_1_guest_9999")))
        .await
        .unwrap());
    // Never launched: no call at all.
    let before = api.seen().len();
    assert!(!l.kill(&handle(None)).await.unwrap());
    assert_eq!(api.seen().len(), before);
}

#[tokio::test]
async fn a_failed_kill_names_the_job_and_namespace() {
    let api = FakeApi::start(|_| answer(500, "status_500.json")).await;
    let err = launcher(&api)
        .kill(&handle(Some(WORKER)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "deleting Job {} in namespace fateflow: the API server answered 500",
            job_name(WORKER)
        )),
        "{err}"
    );
    assert!(err.contains("etcdserver: request timed out"), "{err}");
}

#[tokio::test]
async fn is_alive_follows_the_job() {
    let answer_with = Arc::new(Mutex::new("job_running.json"));
    let pick = answer_with.clone();
    let api = FakeApi::start(move |r| {
        let file = *pick.lock().unwrap();
        assert_eq!(r.method, Method::GET);
        match file {
            "status_404.json" => answer(404, file),
            "status_500.json" => answer(500, file),
            f => answer(200, f),
        }
    })
    .await;
    let l = launcher(&api);
    let h = handle(Some(WORKER));
    assert!(l.is_alive(&h).await, "an active Job runs");
    *answer_with.lock().unwrap() = "job_complete.json";
    assert!(!l.is_alive(&h).await, "a complete Job does not");
    *answer_with.lock().unwrap() = "status_404.json";
    assert!(!l.is_alive(&h).await, "a missing Job does not");
    *answer_with.lock().unwrap() = "status_500.json";
    assert!(l.is_alive(&h).await, "unknown is not dead");
    assert!(!l.is_alive(&handle(None)).await);
    let seen = api.seen();
    assert_eq!(seen.len(), 4, "no call for a handle without a worker id");
    assert!(seen.iter().all(|s| s.path
        == format!(
            "/apis/batch/v1/namespaces/fateflow/jobs/{}",
            job_name(WORKER)
        )));
}

async fn next_exit(rx: &mut tokio::sync::mpsc::UnboundedReceiver<ProcessExit>) -> ProcessExit {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an exit within 10 s")
        .expect("the watch is running")
}

#[tokio::test]
async fn the_watch_reports_each_ended_pod_once_with_its_code_and_log_tail() {
    let api = FakeApi::start(|r| {
        let watching = r.query.split('&').any(|p| p == "watch=true");
        match r.path.as_str() {
            "/api/v1/namespaces/fateflow/pods" if watching => Answer {
                status: 200,
                body: fixture("pod_watch.jsonl"),
                stream: true,
            },
            "/api/v1/namespaces/fateflow/pods" => answer(200, "pod_list.json"),
            p if p.ends_with("/log") => answer(200, "pod_log.txt"),
            _ => answer(404, "status_404.json"),
        }
    })
    .await;
    let l = launcher(&api);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = l.spawn_watch(tx);

    // Succeeded with 0, reported once although the watch repeats it.
    let a = next_exit(&mut rx).await;
    assert_eq!(a.task_id, "202601011200000000001_reader_0");
    assert_eq!(
        (a.role.to_string(), a.party_id, a.task_version),
        ("guest".into(), 9999, 0)
    );
    assert_eq!(a.job_id, "202601011200000000001");
    assert_eq!(a.code, Some(0));
    assert!(a
        .log_tail
        .contains("table experiment/breast_hetero_guest not found"));

    // Failed with 3: the exit code, the log, and what Kubernetes says.
    let b = next_exit(&mut rx).await;
    assert_eq!(b.task_id, "202601011200000000001_intersection_0");
    assert_eq!(
        (b.role.to_string(), b.party_id, b.task_version),
        ("host".into(), 10000, 1)
    );
    assert_eq!(b.code, Some(3));
    assert!(
        b.log_tail.starts_with("2026-01-01T12:00:03Z  INFO"),
        "{}",
        b.log_tail
    );
    assert!(
        b.log_tail.ends_with(
            "[pod ff-202601011200000000001-intersection-0-1-host-10000-1b2c3d4e5f-m3n4b Failed; container task: Error]"
        ),
        "{}",
        b.log_tail
    );

    // Deleted while running (a kill): no exit code, no log to read.
    let c = next_exit(&mut rx).await;
    assert_eq!(c.task_id, "202601011200000000001_hetero_lr_0");
    assert_eq!(c.code, None);
    assert!(
        c.log_tail.contains("deleted while Running"),
        "{}",
        c.log_tail
    );

    // Nothing more: the repeated Succeeded event was not reported again.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "one exit per pod"
    );
    watch.abort();

    let seen = api.seen();
    let list = seen
        .iter()
        .find(|s| s.path == "/api/v1/namespaces/fateflow/pods" && !s.query.contains("watch=true"))
        .expect("an initial list");
    assert!(
        list.query
            .contains("labelSelector=fateflow%2Fsite%3Dsite-a"),
        "{}",
        list.query
    );
    let logs: Vec<&Seen> = seen.iter().filter(|s| s.path.ends_with("/log")).collect();
    assert_eq!(logs.len(), 2, "logs of the two finished pods only");
    assert!(logs[1]
        .path
        .contains("ff-202601011200000000001-intersection-0-1-host-10000-1b2c3d4e5f-m3n4b"));
    assert!(logs[1].query.contains("container=task"));
    assert!(logs[1].query.contains("tailLines=20"));
}

#[test]
fn an_empty_or_malformed_config_is_refused_naming_the_field() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let api = FakeApi::start(|_| answer(404, "status_404.json")).await;
        let mut c = config();
        c.image = " ".into();
        let err = KubernetesLauncher::new(api.client(), c).err().unwrap();
        assert_eq!(
            err.to_string(),
            "Kubernetes launcher: the image is empty; expected a value"
        );
        let mut c = config();
        c.server_url = "10.0.0.1:9380".into();
        let err = KubernetesLauncher::new(api.client(), c).err().unwrap();
        assert!(
            err.to_string().contains("expected http://HOST:PORT"),
            "{err}"
        );
    });
}

#[tokio::test]
async fn the_claim_is_mounted_where_the_server_mounts_it() {
    let api = FakeApi::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/apis/batch/v1/namespaces/fateflow/jobs") => answer(201, "job_create.json"),
        ("POST", "/api/v1/namespaces/fateflow/secrets") => answer(201, "secret_create.json"),
        ("PATCH", _) => answer(200, "job_resumed.json"),
        _ => answer(404, "status_404.json"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.data_mount = Some(dir.path().to_path_buf());
    let l = KubernetesLauncher::new(api.client(), c).unwrap();
    l.launch(&spec(&dir.path().join("fateflow"))).await.unwrap();
    let job = api.seen()[0].json();
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
        json!(dir.path())
    );

    // A data dir outside the mount is refused before any call.
    let mut c = config();
    c.data_mount = Some(dir.path().join("mnt"));
    let l = KubernetesLauncher::new(api.client(), c).unwrap();
    let before = api.seen().len();
    let err = l
        .launch(&spec(&dir.path().join("fateflow")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not under the data claim's mount"), "{err}");
    assert_eq!(api.seen().len(), before);
}

//! A real `fateflow server` process on a free port, and a small client for it.

#![allow(dead_code, unreachable_pub)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shipped example data and jobs.
pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A server process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    client: reqwest::blocking::Client,
}

impl Server {
    /// Starts `fateflow server` on 127.0.0.1:0 over `data_dir`.
    pub fn start(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        Self::start_parties(data_dir, "9999,10000", env, args)
    }

    /// Starts `fateflow server` hosting `parties` (comma separated).
    pub fn start_parties(
        data_dir: &Path,
        parties: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fateflow"));
        cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args([
                "--parties",
                parties,
                "--tick-seconds",
                "1",
                "--detect-seconds",
                "1",
            ])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start fateflow server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("fateflow listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server {
            child,
            base: format!("{addr}/v1"),
            data_dir: data_dir.to_path_buf(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// POSTs JSON and returns the envelope.
    pub fn post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let text = resp.text().unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("POST {path}: not JSON: {text}"))
    }

    /// Uploads a CSV as fate-client does: multipart, conf JSON in the query string.
    pub fn upload(&self, file: &Path, namespace: &str, table: &str, drop: bool) -> Value {
        self.upload_with(
            file,
            json!({"namespace": namespace, "table_name": table, "drop": i32::from(drop)}),
        )
    }

    /// Uploads with extra conf fields over the defaults (head 1, partition 4).
    pub fn upload_with(&self, file: &Path, extra: Value) -> Value {
        let (route, content_type, body) = upload_request(file, extra);
        let resp = self
            .client
            .post(format!("{}/{route}", self.base))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .unwrap();
        serde_json::from_str(&resp.text().unwrap()).unwrap()
    }

    /// `POST /model/import` as fate-client sends it: the conf as text fields (its own
    /// `file` path among them) and the archive as the file part `file`.
    pub fn import_model(&self, fields: &[(&str, &str)], archive: &[u8]) -> (u16, Value) {
        let boundary = "modeltestboundary";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model.zip\"\r\n\r\n").as_bytes());
        body.extend_from_slice(archive);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .client
            .post(format!("{}/model/import", self.base))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().unwrap()).unwrap())
    }

    /// Uploads guest and host breast data.
    pub fn upload_breast(&self) {
        for t in ["breast_hetero_guest", "breast_hetero_host"] {
            let r = self.upload(
                &examples().join(format!("data/{t}.csv")),
                "experiment",
                t,
                true,
            );
            assert_eq!(r["retcode"], 0, "{r}");
            assert_eq!(r["data"]["count"], 569, "{r}");
        }
    }

    /// Submits an example job; returns its id.
    pub fn submit_example(&self, name: &str) -> String {
        let dir = examples().join("jobs").join(name);
        let dsl: Value =
            serde_json::from_slice(&std::fs::read(dir.join("dsl.json")).unwrap()).unwrap();
        let conf: Value =
            serde_json::from_slice(&std::fs::read(dir.join("conf.json")).unwrap()).unwrap();
        self.submit(dsl, conf)
    }

    /// Submits a job; returns its id.
    pub fn submit(&self, dsl: Value, conf: Value) -> String {
        let r = self.post(
            "job/submit",
            json!({"job_dsl": dsl, "job_runtime_conf": conf}),
        );
        assert_eq!(r["retcode"], 0, "{r}");
        r["jobId"].as_str().unwrap().to_string()
    }

    /// The initiator's job row.
    pub fn job(&self, job_id: &str) -> Value {
        let r = self.post(
            "job/query",
            json!({"job_id": job_id, "role": "guest", "party_id": "9999"}),
        );
        assert_eq!(r["retcode"], 0, "{r}");
        r["data"][0].clone()
    }

    /// Latest task rows of a job.
    pub fn tasks(&self, job_id: &str) -> Vec<Value> {
        let r = self.post("job/list/task", json!({"job_id": job_id}));
        r["data"]["tasks"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for a job to reach an end status.
    pub fn wait_end(&self, job_id: &str, timeout: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let j = self.job(job_id);
            if ["success", "failed", "canceled", "timeout"]
                .contains(&j["f_status"].as_str().unwrap_or(""))
            {
                return j;
            }
            assert!(
                t0.elapsed() < timeout,
                "job {job_id} did not end in {timeout:?}: {j}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `pred` holds for the job's tasks.
    pub fn wait_tasks(
        &self,
        job_id: &str,
        timeout: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let tasks = self.tasks(job_id);
            if pred(&tasks) {
                return tasks;
            }
            assert!(
                t0.elapsed() < timeout,
                "tasks of {job_id} never matched: {tasks:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i64) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// A zip archive of `(name, bytes)` entries.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Numbers the scratch databases of one test process.
static NEXT_SCRATCH: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A database of its own on the server `FATEFLOW_TEST_*` names, dropped at the end.
pub struct Scratch {
    admin: String,
    name: String,
    postgres: bool,
}

impl Scratch {
    pub fn create(var: &str, product: &str) -> Option<Scratch> {
        let Ok(admin) = std::env::var(var) else {
            println!("skipped: set {var} to run on {product}");
            return None;
        };
        let name = format!(
            "fateflow_server_test_{}_{}",
            std::process::id(),
            NEXT_SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let s = Scratch {
            postgres: admin.starts_with("postgres"),
            admin,
            name,
        };
        s.admin(&format!("CREATE DATABASE {}", s.name));
        Some(s)
    }

    pub fn url(&self) -> String {
        let (scheme, rest) = self.admin.split_once("://").unwrap();
        let host = rest.split(['/', '?']).next().unwrap();
        format!("{scheme}://{host}/{}", self.name)
    }

    /// The first column of the first row of `sql` on the scratch database, as a number.
    pub fn count(&self, sql: &str) -> i64 {
        on_database(&self.url(), sql, true)
    }

    pub fn admin(&self, sql: &str) {
        on_database(&self.admin, sql, false);
    }
}

/// Runs `sql` on a fresh connection to `url`: with `count`, the first column of its
/// first row (a number), else 0.
fn on_database(url: &str, sql: &str, count: bool) -> i64 {
    use sqlx::{Connection, Row};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let n = if count {
            let row = sqlx::query(sql).fetch_one(&mut c).await.unwrap();
            row.try_get::<i64, _>(0).unwrap()
        } else {
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            0
        };
        let _ = c.close().await;
        n
    })
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let force = if self.postgres { " WITH (FORCE)" } else { "" };
        self.admin(&format!("DROP DATABASE IF EXISTS {}{force}", self.name));
    }
}

/// An upload as fate-client sends it: the route with the conf in its query string
/// (defaults head 1, partition 4, overlaid with `extra`), the content type, and the
/// multipart body carrying `file`.
pub fn upload_request(file: &Path, extra: Value) -> (String, String, Vec<u8>) {
    let mut conf = json!({"file": file, "head": 1, "partition": 4});
    for (k, v) in extra.as_object().unwrap() {
        conf[k] = v.clone();
    }
    let query: String = conf
        .to_string()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let content = std::fs::read(file).unwrap();
    let boundary = "fateflowtestboundary";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n", file.file_name().unwrap().to_string_lossy()).as_bytes());
    body.extend_from_slice(&content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("data/upload?{query}"),
        format!("multipart/form-data; boundary={boundary}"),
        body,
    )
}

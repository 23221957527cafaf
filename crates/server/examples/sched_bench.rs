//! Scheduling overhead of a standalone site: time from submit to the first task's
//! start, and the gap the scheduler adds per component on a chain of components.
//!
//! Run with: `bash bench/scheduling.sh [DATABASE_URL]` (builds release binaries
//! first). The metadata database is the data dir's SQLite file, or the server's
//! `--database` URL given as the argument (or `BENCH_DATABASE`): an empty
//! PostgreSQL or MySQL/MariaDB database, to compare backends.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn post(client: &reqwest::blocking::Client, base: &str, path: &str, body: &Value) -> Value {
    let text = client
        .post(format!("{base}/{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .text()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("fateflow");
    assert!(
        bin.exists(),
        "build the server first: cargo build --release -p fateflow-server ({})",
        bin.display()
    );
    let chain: usize = std::env::var("CHAIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let database = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_DATABASE").ok());
    let data = std::env::temp_dir().join(format!("fateflow-bench-{}", std::process::id()));
    let mut cmd = Command::new(&bin);
    cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--file-root"])
        .arg(root.join("examples/data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    if let Some(url) = &database {
        cmd.args(["--database", url]);
    }
    let mut server = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = format!(
        "{}/v1",
        line.trim().trim_start_matches("fateflow listening on ")
    );
    let client = reqwest::blocking::Client::new();
    for t in ["breast_hetero_guest", "breast_hetero_host"] {
        let r = post(
            &client,
            &base,
            "data/upload",
            &json!({"file": format!("{t}.csv"), "head": 1, "partition": 4, "namespace": "experiment", "table_name": t, "drop": 1, "use_local_data": 0}),
        );
        assert_eq!(r["retcode"], 0, "{r}");
    }
    // reader_0 → data_transform_0 → data_transform_1 → ... (chain - 1 transforms)
    let mut comps = serde_json::Map::new();
    comps.insert(
        "reader_0".into(),
        json!({"module": "Reader", "output": {"data": ["data"]}}),
    );
    let mut prev = "reader_0".to_string();
    let mut guest = serde_json::Map::new();
    let mut host = serde_json::Map::new();
    guest.insert(
        "reader_0".into(),
        json!({"table": {"name": "breast_hetero_guest", "namespace": "experiment"}}),
    );
    host.insert(
        "reader_0".into(),
        json!({"table": {"name": "breast_hetero_host", "namespace": "experiment"}}),
    );
    for i in 0..chain - 1 {
        let name = format!("data_transform_{i}");
        comps.insert(name.clone(), json!({"module": "DataTransform", "input": {"data": {"data": [format!("{prev}.data")]}}, "output": {"data": ["data"], "model": ["model"]}}));
        guest.insert(name.clone(), json!({"with_label": true, "label_name": "y"}));
        host.insert(name.clone(), json!({"with_label": false}));
        prev = name;
    }
    let dsl = json!({"components": comps});
    let conf = json!({
        "dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999], "host": [10000]},
        "job_parameters": {"common": {"task_cores": 1}},
        "component_parameters": {"role": {"guest": {"0": guest}, "host": {"0": host}}},
    });
    let mut first_starts = Vec::new();
    let mut overheads = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..runs {
        let t0 = now_ms();
        let r = post(
            &client,
            &base,
            "job/submit",
            &json!({"job_dsl": dsl, "job_runtime_conf": conf}),
        );
        let job_id = r["jobId"].as_str().unwrap().to_string();
        let clock = Instant::now();
        loop {
            let q = post(
                &client,
                &base,
                "job/query",
                &json!({"job_id": job_id, "role": "guest", "party_id": 9999}),
            );
            let st = q["data"][0]["f_status"].as_str().unwrap_or("").to_string();
            if st == "success" {
                break;
            }
            assert!(
                !["failed", "canceled", "timeout"].contains(&st.as_str()),
                "{q}"
            );
            assert!(clock.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(5));
        }
        let end = now_ms();
        let tasks = post(&client, &base, "job/list/task", &json!({"job_id": job_id}));
        let tasks = tasks["data"]["tasks"].as_array().unwrap().clone();
        let first = tasks
            .iter()
            .filter_map(|t| t["start_time"].as_i64())
            .min()
            .unwrap();
        // Time tasks were running, per component (the slowest party), summed.
        let mut busy = 0;
        for c in 0..chain {
            let name = if c == 0 {
                "reader_0".to_string()
            } else {
                format!("data_transform_{}", c - 1)
            };
            busy += tasks
                .iter()
                .filter(|t| t["component_name"] == name.as_str())
                .filter_map(|t| t["elapsed"].as_i64())
                .max()
                .unwrap_or(0);
        }
        first_starts.push(first - t0);
        overheads.push((end - t0 - busy) as f64 / chain as f64);
        totals.push(end - t0);
    }
    first_starts.sort();
    overheads.sort_by(|a, b| a.partial_cmp(b).unwrap());
    totals.sort();
    let m = runs / 2;
    let backend = database
        .as_deref()
        .and_then(|u| u.split(':').next())
        .unwrap_or("sqlite");
    println!(
        "chain of {chain} components × 2 parties, {runs} runs (median), metadata on {backend}:"
    );
    println!("  submit → first task start : {} ms", first_starts[m]);
    println!("  job wall time             : {} ms", totals[m]);
    println!("  scheduling overhead       : {:.1} ms per component (wall time − task run time, / components)", overheads[m]);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
}

//! `fateflow demo`: a standalone site on embedded defaults, the shipped breast data
//! uploaded for guest 9999 and host 10000, and the richest example job this build can
//! run, with progress.

use crate::cli::ServerOptions;
use crate::site::Site;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The job the demo runs today: reader → data transform → intersection (ECDH PSI) →
/// feature scale, at guest and host.
const DEMO_JOB: &str = "jobs/psi_ecdh";

pub(crate) fn run(
    examples: &Path,
    data_dir: Option<PathBuf>,
    keep: bool,
) -> anyhow::Result<ExitCode> {
    let examples = examples.canonicalize().with_context(|| {
        format!(
            "examples directory {} (run from the repository root)",
            examples.display()
        )
    })?;
    let tmp;
    let data_dir = match data_dir {
        Some(d) => d,
        None => {
            tmp = std::env::temp_dir().join(format!("fateflow-demo-{}", std::process::id()));
            tmp
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(demo(&examples, &data_dir, keep))
}

async fn demo(examples: &Path, data_dir: &Path, keep: bool) -> anyhow::Result<ExitCode> {
    let opts = ServerOptions {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.to_path_buf(),
        parties: vec![9999, 10000],
        cores: None,
        memory_mb: None,
        file_root: Some(examples.join("data")),
        app_key: None,
        secret_key: None,
        insecure_no_auth: false,
        tick_seconds: 2.0,
        detect_seconds: 5.0,
        heartbeat_timeout: 60,
    };
    let site = Site::start(opts).await?;
    let base = format!("http://{}/v1", site.addr());
    println!(
        "site started at http://{} hosting guest 9999 and host/arbiter 10000",
        site.addr()
    );
    println!("data dir: {}", data_dir.display());
    let client = reqwest::Client::new();

    for table in ["breast_hetero_guest", "breast_hetero_host"] {
        let conf = json!({
            "file": format!("{table}.csv"), "head": 1, "partition": 4, "id_delimiter": ",",
            "namespace": "experiment", "table_name": table, "drop": 1, "use_local_data": 0,
        });
        let r = post(&client, &base, "data/upload", &conf).await?;
        println!("uploaded {table}: {} rows", r["data"]["count"]);
    }

    let job_dir = examples.join(DEMO_JOB);
    let dsl: Value = serde_json::from_slice(&std::fs::read(job_dir.join("dsl.json"))?)?;
    let conf: Value = serde_json::from_slice(&std::fs::read(job_dir.join("conf.json"))?)?;
    let r = post(
        &client,
        &base,
        "job/submit",
        &json!({"job_dsl": dsl, "job_runtime_conf": conf}),
    )
    .await?;
    let job_id = r["jobId"].as_str().unwrap_or_default().to_string();
    println!("submitted job {job_id} ({DEMO_JOB})");

    let started = Instant::now();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let status = loop {
        let tasks = post(&client, &base, "job/list/task", &json!({"job_id": job_id})).await?;
        for t in tasks["data"]["tasks"].as_array().into_iter().flatten() {
            let key = format!(
                "{} {}:{}",
                t["component_name"].as_str().unwrap_or(""),
                t["role"].as_str().unwrap_or(""),
                t["party_id"].as_str().unwrap_or("")
            );
            let st = t["party_status"].as_str().unwrap_or("").to_string();
            if seen.get(&key) != Some(&st) {
                println!("[{:>6.1}s] {key:<36} {st}", started.elapsed().as_secs_f64());
                seen.insert(key, st);
            }
        }
        let job = post(
            &client,
            &base,
            "job/query",
            &json!({"job_id": job_id, "role": "guest", "party_id": 9999}),
        )
        .await?;
        let j = &job["data"][0];
        let st = j["f_status"].as_str().unwrap_or("").to_string();
        if ["success", "failed", "canceled", "timeout"].contains(&st.as_str()) {
            if st != "success" {
                println!(
                    "job {st}: {}",
                    j["f_error_report"].as_str().unwrap_or("no reason recorded")
                );
            }
            break st;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the demo job did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "job {job_id} {status} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    for (role, party) in [("guest", 9999), ("host", 10000)] {
        let key = |cpn: &str| json!({"job_id": job_id, "component_name": cpn, "role": role, "party_id": party});
        let m = post(
            &client,
            &base,
            "tracking/component/metric/all",
            &key("intersection_0"),
        )
        .await?;
        let points = &m["data"]["train"]["intersection"]["data"];
        let out = post(
            &client,
            &base,
            "tracking/component/output/data",
            &key("feature_scale_0"),
        )
        .await?;
        let columns = out["meta"]["header"][0]
            .as_array()
            .map(|h| h.len().saturating_sub(1))
            .unwrap_or(0);
        println!(
            "{role} {party}: intersection kept {} rows (rate {}); scaled output: {} rows x {columns} columns",
            points[0][1], points[1][1], out["meta"]["total"][0]
        );
    }
    println!("\nBoard: http://{}/#/job/{job_id}", site.addr());
    println!("next: logs in {}/logs/{job_id}", data_dir.display());
    println!(
        "      the API is at {base} (try `flow --ip 127.0.0.1 --port {} job query -j {job_id}`)",
        site.addr().port()
    );
    println!("      binning, selection, hetero LR and the evaluation of its scores arrive with their components.");
    if keep {
        println!("site keeps running; Ctrl-C to stop");
        site.wait().await?;
    }
    Ok(if status == "success" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let resp = client
        .post(format!("{base}/{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("POST /v1/{path}"))?;
    let v: Value = serde_json::from_str(&resp.text().await?)
        .with_context(|| format!("POST /v1/{path}: not JSON"))?;
    if v["retcode"].as_i64() != Some(0) {
        bail!(
            "POST /v1/{path} failed: {}",
            v["retmsg"].as_str().unwrap_or("?")
        );
    }
    Ok(v)
}

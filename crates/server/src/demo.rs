//! `fateflow demo`: a standalone site on embedded defaults, the shipped breast data
//! uploaded for guest 9999 and host 10000, and the demo job, with progress; then the
//! evaluation's AUC and KS and where to look next.

use crate::cli::ServerOptions;
use crate::output::outln;
use crate::run_job::{metric_values, read_json, Api, Upload};
use crate::site::Site;
use anyhow::Context;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The jobs the demo runs, one after the other: reader → data transform → intersection
/// (RSA PSI) → feature binning (IV through Paillier) → feature selection → hetero LR
/// (guest, host, arbiter) → evaluation; then reader → data transform → intersection
/// (ECDH) → SecureBoost (guest and host) → evaluation.
const DEMO_JOBS: &[&str] = &["jobs/hetero_lr", "jobs/hetero_secureboost"];

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
    let data_dir = data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("fateflow-demo-{}", std::process::id()))
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(demo(&examples, &data_dir, keep))
}

async fn demo(examples: &Path, data_dir: &Path, keep: bool) -> anyhow::Result<ExitCode> {
    let site = Site::start(ServerOptions::standalone(data_dir, &examples.join("data"))).await?;
    let api = Api::new(&site);
    outln!(
        "site started at http://{} hosting guest 9999 and host/arbiter 10000",
        site.addr()
    )?;
    outln!("data dir: {}", data_dir.display())?;
    for table in ["breast_hetero_guest", "breast_hetero_host"] {
        let rows = api
            .upload(&Upload {
                namespace: "experiment".into(),
                name: table.into(),
                file: format!("{table}.csv"),
                partitions: 4,
            })
            .await?;
        outln!("uploaded {table}: {rows} rows")?;
    }
    let mut failed = false;
    let mut last_job = String::new();
    for demo_job in DEMO_JOBS {
        let (status, job_id, evaluated) = run_one(&api, examples, demo_job).await?;
        if status == "success" && !evaluated {
            outln!("{demo_job} succeeded but its evaluation recorded no AUC/KS")?;
        }
        failed |= status != "success" || !evaluated;
        last_job = job_id;
    }
    let job_id = &last_job;
    let port = site.addr().port();
    outln!("\nlogs: {}/logs/", data_dir.display())?;
    if keep {
        outln!("Board: http://{}/#/job/{job_id}", site.addr())?;
        outln!(
            "API: {} (try `flow --ip 127.0.0.1 --port {port} job query -j {job_id}`)",
            api.base()
        )?;
        outln!("the site keeps running; Ctrl-C to stop it")?;
        site.wait().await?;
    } else {
        // The site stops with this process: say how to reopen its data, not a dead URL.
        outln!(
            "the demo site has stopped. To look at this job on the Board, reopen its data dir:\n  \
             cargo run --release -p fateflow-server -- server --data-dir {} --parties 9999,10000\n  \
             then open http://127.0.0.1:9380/#/job/{job_id}\n\
             (or run `bash scripts/demo.sh --keep` to keep the site up after the job)",
            data_dir.display()
        )?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one demo job and prints its intersection counts and AUC/KS: its status, id,
/// and whether an evaluation recorded them.
async fn run_one(
    api: &Api,
    examples: &Path,
    demo_job: &str,
) -> anyhow::Result<(String, String, bool)> {
    let job_dir = examples.join(demo_job);
    let dsl = read_json(&job_dir.join("dsl.json"))?;
    let conf = read_json(&job_dir.join("conf.json"))?;
    outln!(
        "running {demo_job} ({} components)",
        dsl["components"].as_object().map_or(0, |c| c.len())
    )?;
    let run = api.run(&dsl, &conf, Duration::from_secs(1800)).await?;
    let job_id = &run.job_id;
    for (role, party) in [("guest", 9999), ("host", 10000)] {
        let m = api
            .post_raw(
                "tracking/component/metric/all",
                &json!({"job_id": job_id, "component_name": "intersection_0", "role": role, "party_id": party}),
            )
            .await?;
        // FATE's intersection metric: [[key, value], ...], read by key.
        let point = |key: &str| {
            m["data"]["train"]["intersection"]["data"]
                .as_array()
                .and_then(|pts| pts.iter().find(|p| p[0] == key))
                .map(|p| p[1].clone())
        };
        if let (Some(count), Some(rate)) = (point("intersect_count"), point("intersect_rate")) {
            outln!("{role} {party}: intersection kept {count} rows (rate {rate})")?;
        }
    }
    let mut evaluated = false;
    for (component, summary) in api.evaluations(job_id, &dsl, &json!(9999)).await? {
        for (set, ty, metric, value) in metric_values(&summary) {
            if ["auc", "ks"].contains(&metric.as_str()) {
                evaluated = true;
                outln!(
                    "{component}: {set} ({ty} set) {}: {value:.4}",
                    metric.to_uppercase()
                )?;
            }
        }
    }
    outln!(
        "{demo_job}: {} in {:.1} s",
        run.status,
        run.wall.as_secs_f64()
    )?;
    Ok((run.status.clone(), run.job_id.clone(), evaluated))
}

//! `fateflow run`: one job on a throwaway standalone site. Uploads the given tables,
//! submits the job, shows each task's progress, and prints what the job produced:
//! each component's run time and every `Evaluation` summary. The demo and the benches
//! are built on it.

use crate::cli::ServerOptions;
use crate::output::outln;
use crate::site::Site;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A table to upload before the job: `namespace.name=file[:partitions]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The table's namespace.
    pub namespace: String,
    /// The table's name.
    pub name: String,
    /// The CSV file, relative to the site's file root.
    pub file: String,
    /// Partitions of the stored table.
    pub partitions: u32,
}

/// What an `--upload` value looks like.
const UPLOAD_SPEC: &str = "expected `namespace.name=file.csv[:partitions]`";

/// Why an `--upload` value was refused; each names the whole value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadSpecError {
    /// No `=`, or no file after it.
    #[error("upload `{spec}`: {}", UPLOAD_SPEC)]
    Shape {
        /// The value given.
        spec: String,
    },
    /// The table is not `namespace.name` with both parts non-empty.
    #[error("upload `{spec}`: table `{table}`: {}", UPLOAD_SPEC)]
    Table {
        /// The value given.
        spec: String,
        /// The part before `=`.
        table: String,
    },
    /// The partition count is not a positive integer.
    #[error("upload `{spec}`: partitions `{partitions}`: expected a positive integer")]
    Partitions {
        /// The value given.
        spec: String,
        /// The part after the last `:`.
        partitions: String,
    },
}

impl std::str::FromStr for Upload {
    type Err = UploadSpecError;

    fn from_str(s: &str) -> Result<Self, UploadSpecError> {
        let shape = || UploadSpecError::Shape { spec: s.into() };
        let (table, file) = s.split_once('=').ok_or_else(shape)?;
        let (namespace, name) = table
            .split_once('.')
            .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
            .ok_or_else(|| UploadSpecError::Table {
                spec: s.into(),
                table: table.into(),
            })?;
        let (file, partitions) = match file.rsplit_once(':') {
            Some((f, p)) => (
                f,
                p.parse::<u32>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    UploadSpecError::Partitions {
                        spec: s.into(),
                        partitions: p.into(),
                    }
                })?,
            ),
            None => (file, 4),
        };
        if file.is_empty() {
            return Err(shape());
        }
        Ok(Upload {
            namespace: namespace.into(),
            name: name.into(),
            file: file.into(),
            partitions,
        })
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub(crate) struct JobRun {
    pub(crate) job_id: String,
    pub(crate) status: String,
    pub(crate) wall: Duration,
}

/// A client of one site's `/v1` API.
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub(crate) fn new(site: &Site) -> Self {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{}/v1", site.addr()),
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// POSTs `body` to `path`; a non-zero `retcode` is an error with its message.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let v = self.post_raw(path, body).await?;
        if v["retcode"].as_i64() != Some(0) {
            bail!(
                "POST /v1/{path} failed: {}",
                v["retmsg"].as_str().unwrap_or("?")
            );
        }
        Ok(v)
    }

    /// POSTs `body` to `path` and returns the reply whatever its `retcode`.
    pub(crate) async fn post_raw(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .client
            .post(format!("{}/{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("POST /v1/{path}"))?;
        serde_json::from_str(&resp.text().await?)
            .with_context(|| format!("POST /v1/{path}: not JSON"))
    }

    /// Uploads a table; returns its row count.
    pub(crate) async fn upload(&self, u: &Upload) -> anyhow::Result<u64> {
        let conf = json!({
            "file": u.file, "head": 1, "partition": u.partitions, "id_delimiter": ",",
            "namespace": u.namespace, "table_name": u.name, "drop": 1, "use_local_data": 0,
        });
        let r = self.post("data/upload", &conf).await?;
        Ok(r["data"]["count"].as_u64().unwrap_or_default())
    }

    /// Submits a job, prints every task status change, and waits for its end.
    pub(crate) async fn run(
        &self,
        dsl: &Value,
        conf: &Value,
        timeout: Duration,
    ) -> anyhow::Result<JobRun> {
        let r = self
            .post(
                "job/submit",
                &json!({"job_dsl": dsl, "job_runtime_conf": conf}),
            )
            .await?;
        let job_id = r["jobId"].as_str().unwrap_or_default().to_string();
        outln!("submitted job {job_id}")?;
        let started = Instant::now();
        let mut seen: BTreeMap<String, (String, i64)> = BTreeMap::new();
        let status = loop {
            let tasks = self
                .post("job/list/task", &json!({"job_id": job_id}))
                .await?;
            for t in tasks["data"]["tasks"].as_array().into_iter().flatten() {
                let key = format!(
                    "{} {}:{}",
                    t["component_name"].as_str().unwrap_or(""),
                    t["role"].as_str().unwrap_or(""),
                    t["party_id"].as_str().unwrap_or("")
                );
                let st = t["party_status"].as_str().unwrap_or("").to_string();
                let progress = t["progress"].as_i64().unwrap_or(0);
                let changed = seen
                    .get(&key)
                    .is_none_or(|(s, p)| *s != st || (st == "running" && progress >= p + 25));
                if changed {
                    let shown = if st == "running" && progress > 0 {
                        format!("{st} {progress}%")
                    } else {
                        st.clone()
                    };
                    outln!(
                        "[{:>6.1}s] {key:<40} {shown}",
                        started.elapsed().as_secs_f64()
                    )?;
                    seen.insert(key, (st, progress));
                }
            }
            let job = self
                .post(
                    "job/query",
                    &json!({"job_id": job_id, "role": "guest", "party_id": conf["initiator"]["party_id"]}),
                )
                .await?;
            let j = &job["data"][0];
            let st = j["f_status"].as_str().unwrap_or("").to_string();
            if ["success", "failed", "canceled", "timeout"].contains(&st.as_str()) {
                if st != "success" {
                    outln!(
                        "job {st}: {}",
                        j["f_error_report"].as_str().unwrap_or("no reason recorded")
                    )?;
                }
                break st;
            }
            if started.elapsed() > timeout {
                bail!(
                    "job {job_id} did not finish within {} s (still {st})",
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let wall = started.elapsed();
        outln!("job {job_id} {status} in {:.1}s", wall.as_secs_f64())?;
        Ok(JobRun {
            job_id,
            status,
            wall,
        })
    }

    /// Run time of each component in ms: the slowest of its parties.
    pub(crate) async fn component_elapsed(
        &self,
        job_id: &str,
    ) -> anyhow::Result<BTreeMap<String, i64>> {
        let tasks = self
            .post("job/list/task", &json!({"job_id": job_id}))
            .await?;
        let mut out: BTreeMap<String, i64> = BTreeMap::new();
        for t in tasks["data"]["tasks"].as_array().into_iter().flatten() {
            let name = t["component_name"].as_str().unwrap_or("").to_string();
            let e = t["elapsed"].as_i64().unwrap_or(0);
            let slot = out.entry(name).or_default();
            *slot = (*slot).max(e);
        }
        Ok(out)
    }

    /// The guest's summary of every component of `dsl` that has one, by component.
    pub(crate) async fn summaries(
        &self,
        job_id: &str,
        dsl: &Value,
        guest: &Value,
    ) -> anyhow::Result<BTreeMap<String, Value>> {
        self.summaries_where(job_id, dsl, guest, |_| true).await
    }

    /// The guest's summary of every `Evaluation` component:
    /// `{component: {data set: {train: {auc: ..}}}}`.
    pub(crate) async fn evaluations(
        &self,
        job_id: &str,
        dsl: &Value,
        guest: &Value,
    ) -> anyhow::Result<BTreeMap<String, Value>> {
        self.summaries_where(job_id, dsl, guest, is_evaluation)
            .await
    }

    /// The guest's summaries of the components of `dsl` that `keep` accepts.
    async fn summaries_where(
        &self,
        job_id: &str,
        dsl: &Value,
        guest: &Value,
        keep: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        for (name, component) in dsl["components"].as_object().into_iter().flatten() {
            if !keep(component) {
                continue;
            }
            let r = self
                .post_raw(
                    "tracking/component/summary/download",
                    &json!({"job_id": job_id, "component_name": name, "role": "guest", "party_id": guest}),
                )
                .await?;
            if r["retcode"].as_i64() == Some(0) {
                out.insert(name.clone(), r["data"].clone());
            }
        }
        Ok(out)
    }
}

/// Whether a DSL component is an `Evaluation`.
fn is_evaluation(component: &Value) -> bool {
    component["module"] == "Evaluation"
}

/// Reads a JSON file, naming it in errors.
pub(crate) fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Every `(data set, type, metric, value)` of an evaluation summary, in order.
pub(crate) fn metric_values(summary: &Value) -> Vec<(String, String, String, f64)> {
    let mut out = Vec::new();
    for (set, types) in summary.as_object().into_iter().flatten() {
        for (ty, metrics) in types.as_object().into_iter().flatten() {
            for (m, v) in metrics.as_object().into_iter().flatten() {
                if let Some(v) = v.as_f64() {
                    out.push((set.clone(), ty.clone(), m.clone(), v));
                }
            }
        }
    }
    out
}

/// The options of `fateflow run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The DSL file.
    pub dsl: PathBuf,
    /// The runtime conf file.
    pub conf: PathBuf,
    /// Tables to upload first.
    pub uploads: Vec<Upload>,
    /// Where upload files are read from.
    pub file_root: PathBuf,
    /// The site's data dir (default: a fresh temporary dir, removed afterwards).
    pub data_dir: Option<PathBuf>,
    /// Seconds to wait for the job.
    pub timeout: u64,
    /// Print a final `RUN_RESULT {json}` line.
    pub json: bool,
}

/// Runs `fateflow run`.
pub(crate) fn run(opts: RunOptions) -> anyhow::Result<std::process::ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(opts))
}

async fn run_async(opts: RunOptions) -> anyhow::Result<std::process::ExitCode> {
    let dsl = read_json(&opts.dsl)?;
    let conf = read_json(&opts.conf)?;
    let file_root = opts
        .file_root
        .canonicalize()
        .with_context(|| format!("file root {}", opts.file_root.display()))?;
    let (data_dir, temporary) = match &opts.data_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("fateflow-run-{}", std::process::id())),
            true,
        ),
    };
    let site = Site::start(ServerOptions::standalone(&data_dir, &file_root)).await?;
    let api = Api::new(&site);
    outln!(
        "site at http://{} (data dir {})",
        site.addr(),
        data_dir.display()
    )?;
    for u in &opts.uploads {
        let t = Instant::now();
        let rows = api.upload(u).await?;
        outln!(
            "uploaded {}.{}: {rows} rows in {:.1}s",
            u.namespace,
            u.name,
            t.elapsed().as_secs_f64()
        )?;
    }
    let run = api
        .run(&dsl, &conf, Duration::from_secs(opts.timeout))
        .await?;
    let elapsed = api.component_elapsed(&run.job_id).await?;
    for (c, ms) in &elapsed {
        outln!("  {c:<32} {:>9.2} s", *ms as f64 / 1000.0)?;
    }
    let summaries = api
        .summaries(&run.job_id, &dsl, &conf["initiator"]["party_id"])
        .await?;
    let evaluations = summaries
        .iter()
        .filter(|(c, _)| is_evaluation(&dsl["components"][c.as_str()]));
    for (c, summary) in evaluations {
        for (set, ty, m, v) in metric_values(summary) {
            outln!("  {c} {set} {ty} {m}: {v:.6}")?;
        }
    }
    if opts.json {
        let result = json!({
            "job_id": run.job_id,
            "status": run.status,
            "wall_ms": run.wall.as_millis() as u64,
            "component_ms": elapsed,
            "guest_summary": summaries,
            "log_dir": data_dir.join("logs").join(&run.job_id),
        });
        outln!("RUN_RESULT {result}")?;
    }
    drop(site);
    if temporary && !opts.json {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(if run.status == "success" {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_specs_parse_or_name_the_problem() {
        let u: Upload = "experiment.t=a/b.csv:8".parse().unwrap();
        assert_eq!(
            (
                u.namespace.as_str(),
                u.name.as_str(),
                u.file.as_str(),
                u.partitions
            ),
            ("experiment", "t", "a/b.csv", 8)
        );
        let u: Upload = "ns.t=x.csv".parse().unwrap();
        assert_eq!(u.partitions, 4);
        for bad in [
            "t=x.csv",
            "ns.t",
            ".t=x.csv",
            "ns.t=x.csv:0",
            "ns.t=x.csv:many",
            "ns.t=",
        ] {
            let e = bad.parse::<Upload>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn metric_values_flatten_an_evaluation_summary() {
        let s = json!({"hetero_lr_0": {"train": {"auc": 0.98, "ks": 0.9, "note": "x"}}});
        assert_eq!(
            metric_values(&s),
            vec![
                ("hetero_lr_0".into(), "train".into(), "auc".into(), 0.98),
                ("hetero_lr_0".into(), "train".into(), "ks".into(), 0.9)
            ]
        );
    }
}

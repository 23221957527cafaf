//! The task process: `fateflow task run --spec <file>`.

use crate::report::Reporter;
use crate::Error;
use fateflow_api_types::task::{ModelSpec, TaskSpec, TaskToken, TASK_TOKEN_ENV};
use fateflow_api_types::worker::{
    tracker, ComponentModelSave, MetricSave, OutputDataInfoSave, SummarySave, WorkerReport,
};
use fateflow_components::{
    ComponentModel, MemoryBudget, Metric, ModelInput, TableRef, TaskContext, TaskInputs, Tracker,
};
use fateflow_domain::Status;
use fateflow_tables::LocalTableStore;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the task tells its site it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// After this long without reaching its site, the task gives up and exits.
const SITE_LOST_AFTER: Duration = Duration::from_secs(60);

/// Runs the task described by the spec file. Returns the process exit code.
pub fn run_task(spec_path: &Path) -> i32 {
    let mut spec: TaskSpec = match std::fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read task spec {}: {e}", spec_path.display());
            return 2;
        }
    };
    // The site gives the token in the environment, never in the spec file.
    match std::env::var(TASK_TOKEN_ENV) {
        Ok(t) if !t.is_empty() => spec.token = TaskToken::from_secret(t),
        _ => {
            eprintln!(
                "no task token in {TASK_TOKEN_ENV}: task processes are started by their site"
            );
            return 2;
        }
    }
    let reporter = match Reporter::new(&spec) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    log(&format!(
        "task {} v{} ({}) at {}:{} starting, pid {}, scratch dir {}",
        spec.task_id,
        spec.task_version,
        spec.module,
        spec.role,
        spec.party_id,
        std::process::id(),
        std::env::temp_dir().display()
    ));
    let running = WorkerReport {
        party_status: Some(Status::Running),
        run_pid: Some(i64::from(std::process::id())),
        ..Default::default()
    };
    if let Err(e) = reporter.report(&running) {
        log(&format!("cannot report to the site, giving up: {e}"));
        return 3;
    }
    let done = Arc::new(AtomicBool::new(false));
    let budget = MemoryBudget::from_mb(spec.task_memory_mb);
    enforce_budget(&reporter, budget, &spec.module);
    let heartbeat = spawn_heartbeat(reporter.clone(), done.clone(), budget, spec.module.clone());

    // Test hook: hold the task in `running` so stop, timeout and crash paths can be
    // exercised deterministically. Off unless the site's environment sets it.
    if let Some(ms) = std::env::var("FATEFLOW_TEST_TASK_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        log(&format!("test delay: holding the task for {ms} ms"));
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1000).min(until - Instant::now()));
            log(&format!(
                "test delay: {} ms left",
                until.saturating_duration_since(Instant::now()).as_millis()
            ));
        }
    }
    let started = Instant::now();
    let outcome = run_component(&spec, &reporter);
    done.store(true, Ordering::SeqCst);
    log(&format!(
        "component ran {:.2} s; peak memory (RSS) {}",
        started.elapsed().as_secs_f64(),
        rss_mb("VmHWM:").map_or_else(|| "unknown".into(), |mb| format!("{mb} MB")),
    ));
    let (status, body) = match &outcome {
        Ok(()) => {
            log("task succeeded");
            let body = WorkerReport {
                party_status: Some(Status::Success),
                ..Default::default()
            };
            ("success", body)
        }
        Err(e) => {
            log(&format!("task failed ({} error): {e}", e.kind()));
            let body = WorkerReport {
                party_status: Some(Status::Failed),
                error_report: Some(e.to_string()),
                error_kind: Some(e.kind()),
                ..Default::default()
            };
            ("failed", body)
        }
    };
    let mut reported = false;
    for attempt in 0..5 {
        match reporter.report(&body) {
            Ok(_) => {
                reported = true;
                break;
            }
            Err(e) => {
                log(&format!(
                    "final report failed (attempt {}): {e}",
                    attempt + 1
                ));
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
        }
    }
    let _ = heartbeat.join();
    match (reported, status) {
        (true, "success") => 0,
        (true, _) => 1,
        (false, _) => 3,
    }
}

fn log(line: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    println!("[{now}] {line}");
}

/// The process's resident set (`VmRSS`) and peak (`VmHWM`), in MB.
fn rss_mb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

/// Ends the task with a user error, before the operating system kills it, when its
/// resident memory goes over its budget.
fn enforce_budget(reporter: &Reporter, budget: MemoryBudget, module: &str) {
    let Some(rss) = rss_mb("VmRSS:") else {
        return;
    };
    if rss <= budget.mb() {
        return;
    }
    let message = format!(
        "{module} went over the task's memory budget: {rss} MB resident, budget {} MB; \
         raise the job's `task_memory` (job_parameters.common.task_memory, in MB) or the site's --task-memory-mb",
        budget.mb()
    );
    log(&format!("task failed (user error): {message}"));
    let body = WorkerReport {
        party_status: Some(Status::Failed),
        error_report: Some(message),
        error_kind: Some(fateflow_domain::ErrorKind::User),
        ..Default::default()
    };
    if let Err(e) = reporter.report(&body) {
        log(&format!("final report failed: {e}"));
    }
    std::process::exit(6);
}

fn spawn_heartbeat(
    reporter: Reporter,
    done: Arc<AtomicBool>,
    budget: MemoryBudget,
    module: String,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last_ok = Instant::now();
        while !done.load(Ordering::SeqCst) {
            let step = Duration::from_millis(200);
            let mut waited = Duration::ZERO;
            while waited < HEARTBEAT && !done.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                waited += step;
                enforce_budget(&reporter, budget, &module);
            }
            if done.load(Ordering::SeqCst) {
                break;
            }
            match reporter.heartbeat() {
                Ok(()) => last_ok = Instant::now(),
                // The site no longer takes this task's token: nothing it computes
                // would be accepted, so it stops now. (A refusal caused by its own
                // final report comes after `done` was set.)
                Err(e @ Error::Site { refused: true, .. }) if !done.load(Ordering::SeqCst) => {
                    log(&format!("the site refused this task's token; exiting: {e}"));
                    std::process::exit(5);
                }
                Err(e) => {
                    log(&format!("heartbeat failed: {e}"));
                    if last_ok.elapsed() > SITE_LOST_AFTER {
                        log("the site has been unreachable for too long; exiting");
                        std::process::exit(4);
                    }
                }
            }
        }
    })
}

struct HttpTracker {
    reporter: Reporter,
}

impl Tracker for HttpTracker {
    fn log_metric(&self, metric: Metric) -> fateflow_components::Result<()> {
        let data: Vec<Value> = metric.data.iter().map(|(k, v)| json!([k, v])).collect();
        let body = MetricSave {
            metric_namespace: metric.namespace,
            metric_name: metric.name,
            data: Value::Array(data),
            meta: metric.meta,
        };
        self.reporter
            .tracker(tracker::METRIC_DATA_SAVE, &body)
            .map(|_| ())
            .map_err(|e| fateflow_components::Error::tracker("log_metric", e))
    }

    fn save_output_data(
        &self,
        data_name: &str,
        table: &TableRef,
    ) -> fateflow_components::Result<()> {
        let body = OutputDataInfoSave {
            data_name: data_name.to_string(),
            table_namespace: table.namespace.clone(),
            table_name: table.name.clone(),
        };
        self.reporter
            .tracker(tracker::OUTPUT_DATA_INFO_SAVE, &body)
            .map(|_| ())
            .map_err(|e| fateflow_components::Error::tracker("save_output_data", e))
    }

    fn save_model(&self, alias: &str, model: &ComponentModel) -> fateflow_components::Result<()> {
        let body = ComponentModelSave {
            model_alias: alias.to_string(),
            module: model.module.clone(),
            model: json!({"param": model.param, "meta": model.meta}),
        };
        self.reporter
            .tracker(tracker::COMPONENT_MODEL_SAVE, &body)
            .map(|_| ())
            .map_err(|e| fateflow_components::Error::tracker("save_model", e))
    }

    fn set_summary(&self, summary: Value) -> fateflow_components::Result<()> {
        self.reporter
            .tracker(tracker::SUMMARY_SAVE, &SummarySave { summary })
            .map(|_| ())
            .map_err(|e| fateflow_components::Error::tracker("set_summary", e))
    }

    fn progress(&self, percent: u8) {
        log(&format!("progress {percent}%"));
    }

    fn info(&self, line: &str) {
        log(line);
    }
}

fn model_input(m: &ModelSpec) -> ModelInput {
    let part = |k: &str| m.model.get(k).cloned().unwrap_or(Value::Null);
    ModelInput {
        component: m.component.clone(),
        alias: m.alias.clone(),
        model: ComponentModel {
            module: m.module.clone(),
            param: part("param"),
            meta: part("meta"),
        },
    }
}

fn run_component(spec: &TaskSpec, reporter: &Reporter) -> Result<(), Error> {
    let component = fateflow_components::registry()
        .get(&spec.module)
        .ok_or_else(|| Error::UnknownModule(spec.module.clone()))?;
    let tables = LocalTableStore::open(&spec.data_dir).map_err(Error::Tables)?;
    let tracker = HttpTracker {
        reporter: reporter.clone(),
    };
    let me = fateflow_domain::Party {
        role: spec.role,
        party_id: spec.party_id,
    };
    let session = format!("{}_{}", spec.task_id, spec.task_version);
    let federation = fateflow_federation::SiteFederation::new(
        &spec.server,
        &session,
        me,
        Duration::from_secs(spec.federation_timeout_s),
        spec.token.secret(),
    )
    .map_err(Error::Federation)?;
    let inputs = TaskInputs {
        data: spec
            .data_inputs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.iter()
                        .map(|t| TableRef::new(&t.namespace, &t.name))
                        .collect(),
                )
            })
            .collect(),
        model: spec.model_inputs.iter().map(model_input).collect(),
        isometric_model: spec
            .isometric_model_inputs
            .iter()
            .map(model_input)
            .collect(),
    };
    let ctx = TaskContext {
        job_id: spec.job_id.clone(),
        component: spec.component.clone(),
        module: spec.module.clone(),
        task_id: spec.task_id.clone(),
        task_version: u32::try_from(spec.task_version).unwrap_or_default(),
        role: spec.role,
        party_id: spec.party_id,
        parameters: spec.parameters.clone(),
        inputs,
        output_data_names: spec.output_data.clone(),
        output_model_names: spec.output_model.clone(),
        output_cache_names: spec.output_cache.clone(),
        tables: &tables,
        tracker: &tracker,
        roles: spec.roles.clone(),
        federation: Some(&federation),
        memory: MemoryBudget::from_mb(spec.task_memory_mb),
    };
    component.run(&ctx).map_err(|e| Error::component(&e))
}

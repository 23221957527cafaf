//! Following a job until it ends: `flow job wait -j ID` and `flow job submit --wait`.
//!
//! Every poll interval we ask `/v1/job/query` for the job and `/v1/job/task/query`
//! for its tasks, print one line per component whose status changed and one line when
//! the job's status or progress changed, and stop at an end status.
//! On failure the failing tasks are listed with their role, party and `error_report`.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::clients::requests::{JobFilter, JobParty, TaskFilter};
use crate::clients::FlowClient;
use crate::commands::Context;
use crate::output::{field, format_elapsed_ms, int, text};
use crate::Exit;

/// Consecutive transport failures tolerated while following a job.
const MAX_ERRORS: u32 = 20;
/// Consecutive polls that may not find the job before giving up.
const MAX_NOT_FOUND: u32 = 60;
/// Time limit of one poll request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `flow job wait -j ID`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: String,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// How to follow a job.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Give up waiting after this many seconds (the job keeps running).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Seconds between two polls.
    #[arg(long, value_name = "SECS", default_value_t = 0.5)]
    pub poll_interval: f64,
}

impl WaitArgs {
    /// Checks the numbers and converts them to durations.
    pub fn options(&self) -> Result<WaitOptions> {
        let secs = |v: f64, what: &str| {
            Duration::try_from_secs_f64(v).map_err(|_| {
                crate::UsageError::new(format!("{what} must be a non-negative number of seconds"))
            })
        };
        Ok(WaitOptions {
            timeout: self.timeout.map(|t| secs(t, "--timeout")).transpose()?,
            interval: secs(self.poll_interval, "--poll-interval")?,
        })
    }
}

/// Follow settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Stop waiting after this long.
    pub timeout: Option<Duration>,
    /// Pause between polls.
    pub interval: Duration,
}

/// The party whose rows describe the job best: the initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiator {
    /// Role of the initiator.
    pub role: String,
    /// Party id of the initiator.
    pub party_id: String,
}

impl Initiator {
    /// Reads `initiator.role` / `initiator.party_id` from a runtime conf.
    pub fn from_conf(conf: &Value) -> Option<Self> {
        let init = conf.get("initiator")?;
        Some(Self {
            role: init.get("role")?.as_str()?.to_string(),
            party_id: match init.get("party_id")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
    }

    fn matches(&self, row: &Value) -> bool {
        text(row, "role") == self.role && text(row, "party_id") == self.party_id
    }
}

/// Runs `flow job wait`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let options = args.wait.options()?;
    let client = ctx.client()?;
    follow(
        &client,
        &args.job_id,
        None,
        &options,
        &mut std::io::stderr(),
    )
}

/// Polls the job until it ends (or `options.timeout` passes), writing progress to `out`.
pub fn follow(
    client: &FlowClient,
    job_id: &str,
    initiator: Option<&Initiator>,
    options: &WaitOptions,
    out: &mut dyn Write,
) -> Result<Exit> {
    let started = Instant::now();
    let mut tracker = Tracker::default();
    let mut errors = 0;
    let mut not_found = 0;
    loop {
        match poll(client, job_id, initiator) {
            Ok(snapshot) => {
                errors = 0;
                if snapshot.job.is_none() {
                    not_found += 1;
                    anyhow::ensure!(
                        not_found <= MAX_NOT_FOUND,
                        "job {job_id} is not known to the server at {}",
                        client.endpoint().address()
                    );
                } else {
                    not_found = 0;
                }
                let stamp = started.elapsed().as_secs_f64();
                for line in tracker.update(job_id, &snapshot, initiator) {
                    writeln!(out, "[{stamp:>7.1}s] {line}")?;
                }
                if let Some(status) = tracker.end_status() {
                    let elapsed = started.elapsed();
                    return report_end(out, job_id, &status, &snapshot.tasks, elapsed);
                }
            }
            Err(err) => {
                errors += 1;
                if errors >= MAX_ERRORS {
                    return Err(err.context(format!("lost contact while following job {job_id}")));
                }
                if errors == 1 {
                    writeln!(out, "warning: {err:#}; retrying")?;
                }
            }
        }
        if let Some(timeout) = options.timeout {
            if started.elapsed() >= timeout {
                writeln!(
                    out,
                    "gave up waiting for job {job_id} after {:.1}s (last status: {}); \
                     it keeps running on the server: `flow job query -j {job_id}` shows it, \
                     `flow job stop -j {job_id}` stops it",
                    started.elapsed().as_secs_f64(),
                    tracker.job_status.as_deref().unwrap_or("unknown"),
                )?;
                return Ok(Exit::Failure);
            }
        }
        thread::sleep(options.interval);
    }
}

/// What one poll saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The job row that represents the job (the initiator's, when known).
    pub job: Option<Value>,
    /// Task rows of every party visible to this server.
    pub tasks: Vec<Value>,
}

fn poll(client: &FlowClient, job_id: &str, initiator: Option<&Initiator>) -> Result<Snapshot> {
    let party = JobParty {
        job_id: Some(job_id.to_string()),
        ..JobParty::default()
    };
    let job_filter = JobFilter {
        party: party.clone(),
        ..JobFilter::default()
    };
    let jobs = client
        .post_with_timeout("job/query", &job_filter, REQUEST_TIMEOUT)
        .context("querying the job")?;
    let job = match jobs.data() {
        Value::Array(rows) if jobs.is_success() => pick_job_row(rows, initiator).cloned(),
        _ => None,
    };
    let task_filter = TaskFilter {
        party,
        ..TaskFilter::default()
    };
    let tasks = client
        .post_with_timeout("job/task/query", &task_filter, REQUEST_TIMEOUT)
        .context("querying the tasks")?;
    // Before any task exists the server answers retcode 101 "find task failed".
    let tasks = match tasks.data() {
        Value::Array(rows) if tasks.is_success() => rows.clone(),
        _ => Vec::new(),
    };
    Ok(Snapshot { job, tasks })
}

/// The initiator's row if it can be told, else the first row.
pub fn pick_job_row<'a>(rows: &'a [Value], initiator: Option<&Initiator>) -> Option<&'a Value> {
    rows.iter()
        .find(|r| field(r, "is_initiator").is_some_and(truthy))
        .or_else(|| initiator.and_then(|i| rows.iter().find(|r| i.matches(r))))
        .or_else(|| rows.first())
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() != Some(0),
        Value::String(s) => matches!(s.as_str(), "1" | "true" | "True"),
        _ => false,
    }
}

const INTERRUPTED: [&str; 3] = ["failed", "timeout", "canceled"];

/// Combines the statuses of one component at several parties into one, like the
/// initiator does (§5.4 of the reference): the most severe interruption wins, then
/// `running`, and a mix of `waiting` and `success` counts as `running`.
pub fn combine_statuses<'a>(statuses: impl IntoIterator<Item = &'a str>) -> String {
    let mut set: Vec<&str> = statuses
        .into_iter()
        .map(|s| if s == "pass" { "success" } else { s })
        .collect();
    set.sort_unstable();
    set.dedup();
    match set.as_slice() {
        [] => "unknown".to_string(),
        [one] => (*one).to_string(),
        _ => {
            if let Some(worst) = INTERRUPTED.iter().find(|s| set.contains(s)) {
                (*worst).to_string()
            } else if set.contains(&"running") || set.contains(&"success") {
                "running".to_string()
            } else {
                set[0].to_string()
            }
        }
    }
}

/// One status per component, in the order components first appear in `tasks`.
///
/// The initiator's rows are used when present, since they carry the federated status.
pub fn component_statuses(tasks: &[Value], initiator: Option<&Initiator>) -> Vec<(String, String)> {
    let mut names: Vec<String> = Vec::new();
    for task in tasks {
        let name = text(task, "component_name");
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let rows: Vec<&Value> = tasks
                .iter()
                .filter(|t| text(t, "component_name") == name)
                .collect();
            let own: Vec<&Value> = match initiator {
                Some(i) => rows.iter().copied().filter(|r| i.matches(r)).collect(),
                None => Vec::new(),
            };
            let chosen = if own.is_empty() { rows } else { own };
            let statuses: Vec<String> = chosen.iter().map(|r| text(r, "status")).collect();
            let status = combine_statuses(statuses.iter().map(String::as_str));
            (name, status)
        })
        .collect()
}

/// The tasks to blame for a failed job: those whose own party status is an
/// interruption, or else those whose federated status is; the most severe
/// (failed, then timeout, then canceled) first.
pub fn failing_tasks(tasks: &[Value]) -> Vec<&Value> {
    let severity = |t: &Value, key: &str| INTERRUPTED.iter().position(|s| *s == text(t, key));
    let by = |key: &str| -> Vec<&Value> {
        let mut rows: Vec<&Value> = tasks
            .iter()
            .filter(|t| severity(t, key).is_some())
            .collect();
        rows.sort_by_key(|t| severity(t, key));
        rows
    };
    let own = by("party_status");
    if own.is_empty() {
        by("status")
    } else {
        own
    }
}

/// Remembers what was printed, to print only changes.
#[derive(Debug, Default)]
pub struct Tracker {
    components: Vec<(String, String)>,
    job_status: Option<String>,
    progress: Option<i64>,
}

impl Tracker {
    /// Lines describing what changed since the previous snapshot.
    pub fn update(
        &mut self,
        job_id: &str,
        snapshot: &Snapshot,
        initiator: Option<&Initiator>,
    ) -> Vec<String> {
        let mut changes = Vec::new();
        for (name, status) in component_statuses(&snapshot.tasks, initiator) {
            match self.components.iter_mut().find(|(n, _)| *n == name) {
                None => {
                    changes.push((name.clone(), status.clone()));
                    self.components.push((name, status));
                }
                Some((_, old)) if *old != status => {
                    changes.push((name, format!("{old} → {status}")));
                    *old = status;
                }
                Some(_) => {}
            }
        }
        let width = self.components.iter().map(|(n, _)| n.chars().count()).max();
        let mut lines: Vec<String> = changes
            .into_iter()
            .map(|(name, change)| format!("{name:<w$}  {change}", w = width.unwrap_or(0)))
            .collect();
        if let Some(job) = &snapshot.job {
            let status = text(job, "status");
            let progress = int(job, "progress");
            if self.job_status.as_deref() != Some(status.as_str()) || self.progress != progress {
                let pct = progress.map(|p| format!("  {p}%")).unwrap_or_default();
                lines.push(format!("job {job_id}  {status}{pct}"));
                self.job_status = Some(status);
                self.progress = progress;
            }
        }
        lines
    }

    /// The job's status when it is an end status.
    pub fn end_status(&self) -> Option<String> {
        self.job_status
            .as_deref()
            .filter(|s| matches!(*s, "success" | "pass" | "failed" | "canceled" | "timeout"))
            .map(str::to_string)
    }
}

fn report_end(
    out: &mut dyn Write,
    job_id: &str,
    status: &str,
    tasks: &[Value],
    elapsed: Duration,
) -> Result<Exit> {
    let took = format_elapsed_ms(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX));
    if matches!(status, "success" | "pass") {
        writeln!(out, "job {job_id} succeeded (followed for {took})")?;
        return Ok(Exit::Success);
    }
    writeln!(
        out,
        "job {job_id} ended with status {status} (followed for {took})"
    )?;
    let failing = failing_tasks(tasks);
    if failing.is_empty() {
        writeln!(out, "  no task reported a failure")?;
    }
    for task in failing {
        let own = text(task, "party_status");
        let state = if own == "-" {
            text(task, "status")
        } else {
            own
        };
        writeln!(
            out,
            "  {} at role {} party {}: {state}",
            text(task, "component_name"),
            text(task, "role"),
            text(task, "party_id"),
        )?;
        match field(task, "error_report") {
            Some(Value::String(report)) if !report.trim().is_empty() => {
                writeln!(out, "    error_report:")?;
                for line in report.trim_end().lines() {
                    writeln!(out, "      {line}")?;
                }
            }
            Some(other) if !other.is_string() => writeln!(out, "    error_report: {other}")?,
            _ => writeln!(out, "    error_report: (none)")?,
        }
    }
    writeln!(out, "  logs: flow job log -j {job_id} -o DIR")?;
    Ok(Exit::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(cpn: &str, role: &str, party: &str, status: &str) -> Value {
        json!({"f_component_name": cpn, "f_role": role, "f_party_id": party,
               "f_status": status, "f_party_status": status})
    }

    #[test]
    fn combine_follows_the_initiator_rules() {
        assert_eq!(combine_statuses(["success", "pass"]), "success");
        assert_eq!(
            combine_statuses(["running", "failed", "canceled"]),
            "failed"
        );
        assert_eq!(
            combine_statuses(["timeout", "canceled", "success"]),
            "timeout"
        );
        assert_eq!(combine_statuses(["waiting", "success"]), "running");
        assert_eq!(combine_statuses(["waiting", "running"]), "running");
        assert_eq!(combine_statuses(["waiting"]), "waiting");
    }

    #[test]
    fn statuses_prefer_the_initiator_rows() {
        let tasks = [
            task("reader_0", "guest", "9999", "success"),
            task("reader_0", "host", "10000", "running"),
            task("lr_0", "host", "10000", "waiting"),
        ];
        let guest = Initiator {
            role: "guest".into(),
            party_id: "9999".into(),
        };
        assert_eq!(
            component_statuses(&tasks, Some(&guest)),
            [
                ("reader_0".to_string(), "success".to_string()),
                ("lr_0".to_string(), "waiting".to_string())
            ]
        );
        assert_eq!(component_statuses(&tasks, None)[0].1, "running");
    }

    #[test]
    fn tracker_prints_only_changes() {
        let mut tracker = Tracker::default();
        let snap = |statuses: [&str; 2], job: &str, progress: i64| Snapshot {
            job: Some(json!({"f_status": job, "f_progress": progress})),
            tasks: vec![
                task("reader_0", "guest", "9999", statuses[0]),
                task("hetero_lr_0", "guest", "9999", statuses[1]),
            ],
        };
        let lines = tracker.update("j", &snap(["running", "waiting"], "running", 0), None);
        assert_eq!(
            lines,
            [
                "reader_0     running",
                "hetero_lr_0  waiting",
                "job j  running  0%"
            ]
        );
        assert!(tracker
            .update("j", &snap(["running", "waiting"], "running", 0), None)
            .is_empty());
        let lines = tracker.update("j", &snap(["success", "running"], "running", 50), None);
        assert_eq!(
            lines,
            [
                "reader_0     running → success",
                "hetero_lr_0  waiting → running",
                "job j  running  50%"
            ]
        );
        assert_eq!(tracker.end_status(), None);
        tracker.update("j", &snap(["success", "failed"], "failed", 50), None);
        assert_eq!(tracker.end_status().as_deref(), Some("failed"));
    }

    #[test]
    fn failure_report_names_the_party_and_error() {
        let mut bad = task("hetero_lr_0", "host", "10000", "failed");
        bad["f_error_report"] = json!("Traceback:\nValueError: boom");
        let mut mirrored = task("hetero_lr_0", "guest", "9999", "failed");
        mirrored["f_party_status"] = json!("canceled");
        let tasks = [task("reader_0", "guest", "9999", "success"), mirrored, bad];
        let mut out = Vec::new();
        let exit = report_end(&mut out, "j", "failed", &tasks, Duration::from_secs(3)).unwrap();
        assert_eq!(exit, Exit::Failure);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("hetero_lr_0 at role host party 10000: failed"),
            "{out}"
        );
        assert!(out.contains("      ValueError: boom"), "{out}");
        assert!(
            out.contains("hetero_lr_0 at role guest party 9999: canceled"),
            "{out}"
        );
        assert!(out.contains("error_report: (none)"), "{out}");
    }

    #[test]
    fn human_dicts_work_too() {
        let tasks = [
            json!({"component_name": "a", "role": "guest", "party_id": 9999,
            "status": "failed", "party_status": "failed", "error_report": "oops"}),
        ];
        let mut out = Vec::new();
        report_end(&mut out, "j", "failed", &tasks, Duration::ZERO).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("oops"));
    }

    #[test]
    fn picks_initiator_row() {
        let rows = [
            json!({"f_role": "host", "f_party_id": "10000", "f_is_initiator": false}),
            json!({"f_role": "guest", "f_party_id": "9999", "f_is_initiator": true}),
        ];
        assert_eq!(pick_job_row(&rows, None), Some(&rows[1]));
        let rows = [
            json!({"role": "host", "party_id": 1}),
            json!({"role": "guest", "party_id": 2}),
        ];
        let init = Initiator {
            role: "guest".into(),
            party_id: "2".into(),
        };
        assert_eq!(pick_job_row(&rows, Some(&init)), Some(&rows[1]));
        assert_eq!(pick_job_row(&rows, None), Some(&rows[0]));
    }

    #[test]
    fn initiator_from_conf() {
        let conf = json!({"initiator": {"role": "guest", "party_id": 9999}});
        assert_eq!(
            Initiator::from_conf(&conf),
            Some(Initiator {
                role: "guest".into(),
                party_id: "9999".into()
            })
        );
        assert_eq!(Initiator::from_conf(&json!({})), None);
    }

    #[test]
    fn negative_timeouts_are_usage_errors() {
        let args = WaitArgs {
            timeout: Some(-1.0),
            poll_interval: 0.5,
        };
        assert!(args.options().is_err());
    }
}

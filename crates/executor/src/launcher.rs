//! Task processes on this machine.

use async_trait::async_trait;
use fateflow_scheduler::launcher::worker_id;
use fateflow_scheduler::{LaunchError, Launched, ProcessExit, TaskHandle, TaskLauncher, TaskSpec};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::sync::mpsc::UnboundedSender;

/// The name of a task's log file inside its log dir.
pub const LOG_FILE: &str = "INFO.log";

/// A task's scratch directory inside its log dir (its `TMPDIR`): components spill
/// there, on the site's disk rather than a `/tmp` that may live in memory, and the
/// launcher removes it when the process ends, however it ends.
pub fn scratch_dir(log_dir: &Path, task_version: i64) -> PathBuf {
    log_dir.join(format!("scratch_v{task_version}"))
}

/// Starts each task as `<program> task run --spec <log_dir>/task.json`.
pub struct LocalLauncher {
    program: PathBuf,
    exits: UnboundedSender<ProcessExit>,
}

impl LocalLauncher {
    /// A launcher running `program` (the `fateflow` binary) and reporting exits.
    pub fn new(program: PathBuf, exits: UnboundedSender<ProcessExit>) -> Self {
        Self { program, exits }
    }
}

/// The last `n` lines of a file, for failure reasons.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[async_trait]
impl TaskLauncher for LocalLauncher {
    async fn launch(&self, spec: &TaskSpec) -> Result<Launched, LaunchError> {
        let io = |what: &str, e: std::io::Error| LaunchError(format!("{what}: {e}"));
        std::fs::create_dir_all(&spec.log_dir).map_err(|e| io("creating the log dir", e))?;
        let spec_path = spec
            .log_dir
            .join(format!("{}_v{}.json", spec.task_id, spec.task_version));
        let body = serde_json::to_vec_pretty(spec).map_err(|e| LaunchError(e.to_string()))?;
        std::fs::write(&spec_path, body).map_err(|e| io("writing the task spec", e))?;
        let log_path = spec.log_dir.join(LOG_FILE);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io("opening the task log", e))?;
        let err_log = log.try_clone().map_err(|e| io("opening the task log", e))?;
        let scratch = scratch_dir(&spec.log_dir, spec.task_version);
        std::fs::create_dir_all(&scratch).map_err(|e| io("creating the task's scratch dir", e))?;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.arg("task")
            .arg("run")
            .arg("--spec")
            .arg(&spec_path)
            .env("FATE_JOB_ID", &spec.job_id)
            .env("FATEFLOW_TASK_ID", &spec.task_id)
            .env("TMPDIR", &scratch)
            .env(
                fateflow_scheduler::launcher::TASK_TOKEN_ENV,
                spec.token.secret(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| io(&format!("starting {}", self.program.display()), e))?;
        let pid = child
            .id()
            .map(i64::from)
            .ok_or_else(|| LaunchError("the task process exited at once".into()))?;
        let cmdline = format!(
            "{} task run --spec {}",
            self.program.display(),
            spec_path.display()
        );
        let exits = self.exits.clone();
        let exit_info = ProcessExit {
            job_id: spec.job_id.clone(),
            task_id: spec.task_id.clone(),
            task_version: spec.task_version,
            role: spec.role,
            party_id: spec.party_id,
            code: None,
            log_tail: String::new(),
        };
        tokio::spawn(async move {
            let status = child.wait().await;
            let code = status.ok().and_then(|s| s.code());
            if let Err(e) = tokio::fs::remove_dir_all(&scratch).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %scratch.display(), "removing a task's scratch dir: {e}");
                }
            }
            let _ = exits.send(ProcessExit {
                code,
                log_tail: tail(&log_path, 20),
                ..exit_info
            });
        });
        tracing::info!(task_id = %spec.task_id, role = %spec.role, party_id = spec.party_id, pid, "task process started");
        Ok(Launched {
            pid: Some(pid),
            cmd: cmdline,
            worker_id: worker_id(spec),
        })
    }

    async fn kill(&self, task: &TaskHandle) -> Result<bool, LaunchError> {
        // Only a process of this machine, and only while it still runs the task.
        let (Some(pid), task_id) = (task.pid, task.task_id.as_str()) else {
            return Ok(false);
        };
        if !process_runs_task(pid, task_id) {
            return Ok(false);
        }
        let Some(p) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return Ok(false);
        };
        // Tasks lead their own process group (`process_group(0)`): kill all of it.
        let killed = rustix::process::kill_process_group(p, rustix::process::Signal::KILL)
            .or_else(|_| rustix::process::kill_process(p, rustix::process::Signal::KILL));
        match killed {
            Ok(()) => {
                tracing::info!(task_id, pid, "task process group killed");
                Ok(true)
            }
            Err(e) => Err(LaunchError(format!("killing task process {pid}: {e}"))),
        }
    }

    async fn is_alive(&self, task: &TaskHandle) -> bool {
        task.pid
            .is_some_and(|pid| process_runs_task(pid, &task.task_id))
    }
}

/// Whether `pid` is a live process whose command line names `task_id`'s spec (so a
/// reused pid is never mistaken for the task).
pub fn process_runs_task(pid: i64, task_id: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // A zombie has an empty command line.
    let cmdline = String::from_utf8_lossy(&raw);
    !cmdline.is_empty() && cmdline.contains(task_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(task_id: &str, pid: Option<i64>) -> TaskHandle {
        TaskHandle {
            task_id: task_id.into(),
            worker_id: Some(format!("{task_id}_0_guest_9999")),
            pid,
        }
    }

    #[tokio::test]
    async fn kills_only_a_live_process_whose_command_line_names_the_task() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let launcher = LocalLauncher::new(PathBuf::from("unused"), tx);
        let mut child = tokio::process::Command::new("sleep")
            .arg("30.25")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id().map(i64::from);
        // On a loaded machine the exec may not have replaced the command line yet.
        for _ in 0..200 {
            if process_runs_task(pid.unwrap_or(0), "30.25") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Another task's handle with this pid (a reused pid): left alone.
        assert!(!launcher.is_alive(&handle("other_task", pid)).await);
        assert!(!launcher.kill(&handle("other_task", pid)).await.unwrap());
        // No pid (a launch elsewhere): nothing to do here.
        assert!(!launcher.is_alive(&handle("30.25", None)).await);
        assert!(!launcher.kill(&handle("30.25", None)).await.unwrap());
        assert!(child.try_wait().unwrap().is_none(), "still running");
        // Its own handle: alive, then killed.
        assert!(launcher.is_alive(&handle("30.25", pid)).await);
        assert!(launcher.kill(&handle("30.25", pid)).await.unwrap());
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), None, "ended by a signal");
    }
}

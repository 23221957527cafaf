//! Task exits from a watch on the site's pods.

use crate::objects::{keys, CONTAINER};
use fateflow_domain::Role;
use fateflow_scheduler::ProcessExit;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use std::collections::HashSet;
use tokio::sync::mpsc::UnboundedSender;

/// Log lines a failure reason carries.
pub const LOG_TAIL_LINES: i64 = 20;
/// Pods remembered as reported; past this the memory starts over (a repeated exit
/// report is harmless: the controller ignores exits of ended tasks).
const REPORTED_MAX: usize = 50_000;

/// How a pod ended, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnd {
    /// The task container's exit code, when it ran and terminated.
    pub code: Option<i32>,
    /// What Kubernetes says about the end (phase, reason, message).
    pub note: String,
}

/// The end of `pod`: `Some` once it succeeded or failed, or when it was deleted
/// (`deleted`) before that (a kill).
pub fn pod_end(pod: &Pod, deleted: bool) -> Option<PodEnd> {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown");
    let finished = matches!(phase, "Succeeded" | "Failed");
    if !finished && !deleted {
        return None;
    }
    let terminated = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref());
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let mut note = if finished {
        format!("pod {name} {phase}")
    } else {
        format!("pod {name} deleted while {phase}")
    };
    if let Some(t) = terminated {
        if let Some(r) = &t.reason {
            note.push_str(&format!("; container {CONTAINER}: {r}"));
        }
        if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
            note.push_str(&format!(" ({m})"));
        }
    } else if let Some(r) = status.and_then(|s| s.reason.as_deref()) {
        note.push_str(&format!("; {r}"));
        if let Some(m) = status.and_then(|s| s.message.as_deref()) {
            note.push_str(&format!(" ({m})"));
        }
    }
    Some(PodEnd {
        code: terminated.map(|t| t.exit_code),
        note,
    })
}

/// The task a pod runs, from its annotations (exact values); `None` for a pod
/// without them or with malformed ones.
pub fn task_of(pod: &Pod) -> Option<ProcessExit> {
    let ann = pod.metadata.annotations.as_ref()?;
    let get = |k: &str| ann.get(k).map(String::as_str);
    Some(ProcessExit {
        job_id: get(keys::JOB_ID)?.to_string(),
        task_id: get(keys::TASK_ID)?.to_string(),
        task_version: get(keys::TASK_VERSION)?.parse().ok()?,
        role: get(keys::ROLE)?.parse::<Role>().ok()?,
        party_id: get(keys::PARTY_ID)?.parse().ok()?,
        code: None,
        log_tail: String::new(),
    })
}

/// The label selector of a site's task pods.
pub fn selector(site_label: &str) -> String {
    format!("{}={site_label}", keys::SITE)
}

/// Watches the site's task pods and sends a [`ProcessExit`] for each pod that ends,
/// once per pod: the task container's exit code and its last log lines. Runs until
/// `exits` is closed; API errors are logged and the watch restarts with back-off.
pub async fn run(pods: Api<Pod>, site_label: String, exits: UnboundedSender<ProcessExit>) {
    let config = watcher::Config::default().labels(&selector(&site_label));
    let stream = watcher::watcher(pods.clone(), config).default_backoff();
    futures_util::pin_mut!(stream);
    let mut reported: HashSet<String> = HashSet::new();
    while let Some(event) = stream.next().await {
        let (pod, deleted) = match event {
            Ok(Event::Apply(p)) | Ok(Event::InitApply(p)) => (p, false),
            Ok(Event::Delete(p)) => (p, true),
            Ok(Event::Init) | Ok(Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!(selector = %selector(&site_label), error = %e, "watching task pods");
                continue;
            }
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let Some(end) = pod_end(&pod, deleted) else {
            continue;
        };
        let first = reported.insert(uid.clone());
        if deleted {
            reported.remove(&uid);
        }
        if !first {
            continue;
        }
        if reported.len() > REPORTED_MAX {
            reported.clear();
        }
        let Some(exit) = task_of(&pod) else {
            tracing::warn!(pod = ?pod.metadata.name, "a task pod without readable fateflow annotations ended");
            continue;
        };
        let log = if deleted {
            String::new()
        } else {
            log_tail(&pods, pod.metadata.name.as_deref().unwrap_or_default()).await
        };
        let log_tail = if log.is_empty() {
            end.note
        } else {
            format!("{log}\n[{}]", end.note)
        };
        let exit = ProcessExit {
            code: end.code,
            log_tail,
            ..exit
        };
        if exits.send(exit).is_err() {
            return;
        }
    }
}

/// The task container's last log lines, or a line saying why there are none.
async fn log_tail(pods: &Api<Pod>, name: &str) -> String {
    let params = LogParams {
        container: Some(CONTAINER.into()),
        tail_lines: Some(LOG_TAIL_LINES),
        ..LogParams::default()
    };
    match pods.logs(name, &params).await {
        Ok(text) => text.trim_end().to_string(),
        Err(e) => format!("(no log: reading the log of pod {name}: {e})"),
    }
}

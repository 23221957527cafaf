//! The Kubernetes task launcher: each task a batch/v1 Job in the site's namespace.
//!
//! - launch: the spec file is written under the shared data dir (a
//!   PersistentVolumeClaim mounted at the same path in the server and in every task
//!   pod), then a suspended Job is created, then a Secret with the task's token owned
//!   by the Job, then the Job is resumed; the pod reads the token from the Secret.
//! - status: [`watch::run`] watches the site's pods (label `fateflow/site`) and sends
//!   a `ProcessExit` with the exit code and the log tail when a pod ends.
//! - kill and is_alive work by the Job's name, derived from the worker id stored in
//!   the task row, so any server of the site can stop a task another one launched.
//!
//! A Job rather than a bare Pod: `ttlSecondsAfterFinished` removes finished Jobs,
//! their pods and (through the owner reference) their Secrets, and deleting the Job
//! with background propagation takes the pod with it.

pub mod names;
pub mod objects;
pub mod watch;

use async_trait::async_trait;
use fateflow_scheduler::launcher::worker_id;
use fateflow_scheduler::{LaunchError, Launched, ProcessExit, TaskHandle, TaskLauncher, TaskSpec};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
pub use kube::Client;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Where and how task pods run.
#[derive(Debug, Clone)]
pub struct K8sConfig {
    /// The namespace of the Jobs, pods and Secrets.
    pub namespace: String,
    /// The task container's image (holding the `fateflow` binary).
    pub image: String,
    /// The `fateflow` binary inside the image.
    pub program: String,
    /// The image pull policy (`Always`, `IfNotPresent`, `Never`); Kubernetes'
    /// default when `None`.
    pub image_pull_policy: Option<String>,
    /// The URL task pods report to, instead of the server's loopback address: this
    /// server's own address on the pod network (its task tokens live in its memory).
    pub server_url: String,
    /// The PersistentVolumeClaim holding the data dir.
    pub data_claim: String,
    /// Where the claim is mounted in the server, and so in task pods: the data dir
    /// or one of its parents (`None`: the data dir itself).
    pub data_mount: Option<PathBuf>,
    /// The site's name in the `fateflow/site` label, which this server's watch selects.
    pub site: String,
    /// The user and group tasks run as (the server's own, since the data dir is
    /// owner-only).
    pub run_as: Option<(u32, u32)>,
    /// How long a finished Job (pod, Secret) stays for inspection.
    pub ttl_after_finished_s: i32,
}

/// Launches tasks as Kubernetes Jobs.
pub struct KubernetesLauncher {
    client: Client,
    config: K8sConfig,
    /// The site label's value, sanitised once.
    site_label: String,
}

impl KubernetesLauncher {
    /// A launcher using `client` (from `kube::Client::try_default()`: in-cluster
    /// service account or `KUBECONFIG`). Refuses a config with an empty field.
    pub fn new(client: Client, config: K8sConfig) -> Result<Self, LaunchError> {
        for (field, value) in [
            ("namespace", &config.namespace),
            ("image", &config.image),
            ("program", &config.program),
            ("server URL", &config.server_url),
            ("data claim", &config.data_claim),
            ("site", &config.site),
        ] {
            if value.trim().is_empty() {
                return Err(LaunchError(format!(
                    "Kubernetes launcher: the {field} is empty; expected a value"
                )));
            }
        }
        if !(config.server_url.starts_with("http://") || config.server_url.starts_with("https://"))
        {
            return Err(LaunchError(format!(
                "Kubernetes launcher: server URL `{}`: expected http://HOST:PORT",
                config.server_url
            )));
        }
        let site_label = names::label_value(&config.site);
        Ok(Self {
            client,
            config,
            site_label,
        })
    }

    /// Starts the watch that reports task pods' ends to `exits`.
    pub fn spawn_watch(&self, exits: UnboundedSender<ProcessExit>) -> JoinHandle<()> {
        tokio::spawn(watch::run(self.pods(), self.site_label.clone(), exits))
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    /// `what` failed: the message names the action, the resource and the namespace.
    fn api_error(&self, what: &str, e: &kube::Error) -> LaunchError {
        LaunchError(format!(
            "{what} in namespace {}: {}",
            self.config.namespace,
            describe(e)
        ))
    }

    /// Best-effort removal of a Job whose launch could not finish.
    async fn undo(&self, name: &str) {
        if let Err(e) = self.jobs().delete(name, &DeleteParams::background()).await {
            if !is_not_found(&e) {
                tracing::warn!(job = name, error = %describe(&e), "removing a half-launched Job");
            }
        }
    }

    /// Writes the spec the pod reads, with the server URL it reports to.
    fn write_spec(&self, spec: &TaskSpec) -> Result<PathBuf, LaunchError> {
        let mount = self.config.data_mount.as_ref().unwrap_or(&spec.data_dir);
        if !spec.data_dir.starts_with(mount) {
            return Err(LaunchError(format!(
                "the data dir {} is not under the data claim's mount {}; a pod would not see it",
                spec.data_dir.display(),
                mount.display()
            )));
        }
        if !spec.log_dir.starts_with(&spec.data_dir) {
            return Err(LaunchError(format!(
                "the task's log dir {} is outside the data dir {}; a pod sees only the data dir",
                spec.log_dir.display(),
                spec.data_dir.display()
            )));
        }
        let io = |what: &str, p: &Path, e: std::io::Error| {
            LaunchError(format!("{what} {}: {e}", p.display()))
        };
        std::fs::create_dir_all(&spec.log_dir)
            .map_err(|e| io("creating the log dir", &spec.log_dir, e))?;
        let path = spec
            .log_dir
            .join(format!("{}_v{}.json", spec.task_id, spec.task_version));
        let mut for_pod = spec.clone();
        for_pod.server = self.config.server_url.trim_end_matches('/').to_string();
        let body = serde_json::to_vec_pretty(&for_pod)
            .map_err(|e| LaunchError(format!("encoding the task spec: {e}")))?;
        std::fs::write(&path, body).map_err(|e| io("writing the task spec", &path, e))?;
        Ok(path)
    }
}

/// A client configured from the environment: the pod's service account inside a
/// cluster, else `KUBECONFIG` (or `~/.kube/config`).
pub async fn client_from_env() -> Result<Client, LaunchError> {
    Client::try_default().await.map_err(|e| {
        LaunchError(format!(
            "no Kubernetes client configuration: expected an in-cluster service account or a KUBECONFIG ({e})"
        ))
    })
}

/// An API error in words: the status code, reason and message for an API refusal.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let mut out = format!("the API server answered {}", s.code);
            if !s.reason.is_empty() {
                out.push_str(&format!(" {}", s.reason));
            }
            if !s.message.is_empty() {
                out.push_str(&format!(": {}", s.message));
            }
            out
        }
        other => format!("the API server could not be reached or understood: {other}"),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether a Job has finished (or is being deleted): its pod no longer runs the task.
pub fn job_finished(job: &Job) -> bool {
    if job.metadata.deletion_timestamp.is_some() {
        return true;
    }
    let Some(status) = &job.status else {
        return false;
    };
    if status.succeeded.unwrap_or(0) > 0 || status.failed.unwrap_or(0) > 0 {
        return true;
    }
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
}

#[async_trait]
impl TaskLauncher for KubernetesLauncher {
    async fn launch(&self, spec: &TaskSpec) -> Result<Launched, LaunchError> {
        let wid = worker_id(spec);
        let name = names::job_name(&wid);
        let spec_path = self.write_spec(spec)?;
        let job = objects::job(spec, &spec_path, &self.config)?;
        let created = self
            .jobs()
            .create(&PostParams::default(), &job)
            .await
            .map_err(|e| self.api_error(&format!("creating Job {name}"), &e))?;
        let Some(uid) = created.metadata.uid.clone() else {
            self.undo(&name).await;
            return Err(LaunchError(format!(
                "creating Job {name} in namespace {}: the answer has no metadata.uid",
                self.config.namespace
            )));
        };
        let secret = match objects::secret(spec, &self.config, &uid) {
            Ok(s) => s,
            Err(e) => {
                self.undo(&name).await;
                return Err(e);
            }
        };
        let secret_name = names::secret_name(&wid);
        if let Err(e) = self.secrets().create(&PostParams::default(), &secret).await {
            self.undo(&name).await;
            return Err(self.api_error(&format!("creating Secret {secret_name}"), &e));
        }
        let resume = Patch::Merge(serde_json::json!({"spec": {"suspend": false}}));
        if let Err(e) = self
            .jobs()
            .patch(&name, &PatchParams::default(), &resume)
            .await
        {
            self.undo(&name).await;
            return Err(self.api_error(&format!("resuming Job {name}"), &e));
        }
        tracing::info!(task_id = %spec.task_id, role = %spec.role, party_id = spec.party_id, job = %name, namespace = %self.config.namespace, "task Job started");
        Ok(Launched {
            pid: None,
            cmd: format!(
                "job/{name} (namespace {}): {} task run --spec {}",
                self.config.namespace,
                self.config.program,
                spec_path.display()
            ),
            worker_id: wid,
        })
    }

    async fn kill(&self, task: &TaskHandle) -> Result<bool, LaunchError> {
        let Some(wid) = &task.worker_id else {
            return Ok(false);
        };
        let name = names::job_name(wid);
        match self.jobs().delete(&name, &DeleteParams::background()).await {
            Ok(_) => {
                tracing::info!(task_id = %task.task_id, job = %name, "task Job deleted");
                Ok(true)
            }
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.api_error(&format!("deleting Job {name}"), &e)),
        }
    }

    async fn is_alive(&self, task: &TaskHandle) -> bool {
        let Some(wid) = &task.worker_id else {
            return false;
        };
        let name = names::job_name(wid);
        match self.jobs().get_opt(&name).await {
            Ok(Some(job)) => !job_finished(&job),
            Ok(None) => false,
            Err(e) => {
                // Unknown is not dead: a task is never failed for an API hiccup (its
                // heartbeat timeout still applies).
                tracing::warn!(task_id = %task.task_id, job = %name, namespace = %self.config.namespace, error = %describe(&e), "checking a task Job");
                true
            }
        }
    }
}

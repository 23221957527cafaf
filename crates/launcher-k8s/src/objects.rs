//! The objects one launch creates: a suspended batch/v1 Job running the task, and a
//! Secret holding its token, owned by the Job.

use crate::names::{job_name, label_value, secret_name};
use crate::K8sConfig;
use fateflow_scheduler::launcher::{worker_id, TASK_TOKEN_ENV};
use fateflow_scheduler::{LaunchError, TaskSpec};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The task container's name.
pub const CONTAINER: &str = "task";
/// The key of the token in its Secret.
pub const TOKEN_KEY: &str = "token";
/// Where the task's scratch space (`TMPDIR`, an emptyDir) is mounted.
pub const SCRATCH: &str = "/scratch";

/// Label and annotation keys.
pub mod keys {
    /// The job id.
    pub const JOB_ID: &str = "fateflow/job-id";
    /// The party's role.
    pub const ROLE: &str = "fateflow/role";
    /// The party id.
    pub const PARTY_ID: &str = "fateflow/party-id";
    /// The task id.
    pub const TASK_ID: &str = "fateflow/task-id";
    /// The task version.
    pub const TASK_VERSION: &str = "fateflow/task-version";
    /// The site (what a server's watch selects).
    pub const SITE: &str = "fateflow/site";
    /// The launch's worker id (annotation only).
    pub const WORKER_ID: &str = "fateflow/worker-id";
}

/// Labels (sanitised, for selection) and annotations (exact, to read back).
pub fn labels_and_annotations(
    spec: &TaskSpec,
    site: &str,
) -> (Map<String, Value>, Map<String, Value>) {
    let exact = [
        (keys::JOB_ID, spec.job_id.clone()),
        (keys::ROLE, spec.role.to_string()),
        (keys::PARTY_ID, spec.party_id.to_string()),
        (keys::TASK_ID, spec.task_id.clone()),
        (keys::TASK_VERSION, spec.task_version.to_string()),
        (keys::SITE, site.to_string()),
    ];
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (k, v) in exact {
        labels.insert(k.into(), Value::String(label_value(&v)));
        annotations.insert(k.into(), Value::String(v));
    }
    annotations.insert(keys::WORKER_ID.into(), Value::String(worker_id(spec)));
    (labels, annotations)
}

/// The container's resources: the task's cores as CPU request and limit, its memory
/// budget as memory request, and a limit a quarter above it (at least 256 MiB more),
/// so the task's own budget check ends it with a clear error before the kernel's OOM
/// killer does. A budget of 0 (the executor's default) sets no memory figures.
pub fn resources(spec: &TaskSpec) -> Value {
    let mut requests = Map::new();
    let mut limits = Map::new();
    if spec.task_cores > 0 {
        requests.insert("cpu".into(), json!(spec.task_cores.to_string()));
        limits.insert("cpu".into(), json!(spec.task_cores.to_string()));
    }
    if spec.task_memory_mb > 0 {
        let mb = spec.task_memory_mb;
        let limit = mb.saturating_add((mb / 4).max(256));
        requests.insert("memory".into(), json!(format!("{mb}Mi")));
        limits.insert("memory".into(), json!(format!("{limit}Mi")));
    }
    json!({"requests": requests, "limits": limits})
}

/// The Job of a launch, created suspended: it starts once its Secret exists.
pub fn job(spec: &TaskSpec, spec_path: &Path, cfg: &K8sConfig) -> Result<Job, LaunchError> {
    let wid = worker_id(spec);
    let name = job_name(&wid);
    let (labels, annotations) = labels_and_annotations(spec, &cfg.site);
    let mount = cfg.data_mount.as_ref().unwrap_or(&spec.data_dir);
    let mount = mount.to_str().ok_or_else(|| {
        LaunchError(format!(
            "the data mount {} is not UTF-8; a pod cannot mount it",
            mount.display()
        ))
    })?;
    let spec_file = spec_path.to_str().ok_or_else(|| {
        LaunchError(format!(
            "the spec path {} is not UTF-8",
            spec_path.display()
        ))
    })?;
    let mut container = json!({
        "name": CONTAINER,
        "image": cfg.image,
        "command": [cfg.program, "task", "run", "--spec", spec_file],
        "env": [
            {"name": "FATE_JOB_ID", "value": spec.job_id},
            {"name": "FATEFLOW_TASK_ID", "value": spec.task_id},
            {"name": "TMPDIR", "value": SCRATCH},
            {"name": TASK_TOKEN_ENV, "valueFrom": {"secretKeyRef": {
                "name": secret_name(&wid), "key": TOKEN_KEY}}},
        ],
        "resources": resources(spec),
        "volumeMounts": [
            {"name": "data", "mountPath": mount},
            {"name": "scratch", "mountPath": SCRATCH},
        ],
    });
    if let Some(policy) = &cfg.image_pull_policy {
        container["imagePullPolicy"] = json!(policy);
    }
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        // Tasks talk to their site over HTTP, never to the Kubernetes API.
        "automountServiceAccountToken": false,
        "containers": [container],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": cfg.data_claim}},
            {"name": "scratch", "emptyDir": {}},
        ],
    });
    if let Some((uid, gid)) = cfg.run_as {
        // The data dir is the server's, owner-only: tasks run as the same user.
        pod_spec["securityContext"] = json!({
            "runAsUser": uid,
            "runAsGroup": gid,
            "runAsNonRoot": uid != 0,
        });
    }
    let body = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cfg.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            // The scheduler retries tasks, not Kubernetes.
            "backoffLimit": 0,
            "suspend": true,
            "ttlSecondsAfterFinished": cfg.ttl_after_finished_s,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": pod_spec,
            },
        },
    });
    serde_json::from_value(body).map_err(|e| LaunchError(format!("building Job {name}: {e}")))
}

/// The Secret holding the task's token, owned by its Job so that deleting the Job
/// (or its TTL) removes it.
pub fn secret(spec: &TaskSpec, cfg: &K8sConfig, job_uid: &str) -> Result<Secret, LaunchError> {
    let wid = worker_id(spec);
    let name = secret_name(&wid);
    let (labels, _) = labels_and_annotations(spec, &cfg.site);
    let body = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": cfg.namespace,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job_name(&wid),
                "uid": job_uid,
            }],
        },
        "type": "Opaque",
        "stringData": {TOKEN_KEY: spec.token.secret()},
    });
    serde_json::from_value(body).map_err(|e| LaunchError(format!("building Secret {name}: {e}")))
}

//! Which launcher runs the site's tasks (`--launcher local|kubernetes`), and which
//! callers the task routes (worker and federation) accept as a consequence.

use crate::cli::ServerOptions;
use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};
use fateflow_executor::LocalLauncher;
use fateflow_scheduler::{ProcessExit, TaskLauncher};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Where tasks run.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LauncherKind {
    /// One process per task on this machine.
    #[default]
    Local,
    /// One Kubernetes Job per task, in `--k8s-namespace`.
    Kubernetes,
}

/// The launcher's options (part of `fateflow server`'s).
#[derive(ClapArgs, Debug, Clone)]
pub struct LauncherOptions {
    /// Where tasks run: `local` (processes of this server's machine) or `kubernetes`
    /// (a Job per task; the client is configured from the pod's service account, or
    /// from KUBECONFIG outside a cluster).
    #[arg(long, env = "FATEFLOW_LAUNCHER", value_enum, default_value_t = LauncherKind::Local)]
    pub launcher: LauncherKind,
    /// Kubernetes: the namespace of task Jobs (default: the client's namespace, the
    /// server pod's own in a cluster).
    #[arg(long, env = "FATEFLOW_K8S_NAMESPACE")]
    pub k8s_namespace: Option<String>,
    /// Kubernetes: the task image (it must hold the `fateflow` binary).
    #[arg(long, env = "FATEFLOW_K8S_IMAGE")]
    pub k8s_image: Option<String>,
    /// Kubernetes: the task image's pull policy (Always, IfNotPresent, Never).
    #[arg(long, env = "FATEFLOW_K8S_IMAGE_PULL_POLICY")]
    pub k8s_image_pull_policy: Option<String>,
    /// Kubernetes: the `fateflow` binary in the task image.
    #[arg(long, env = "FATEFLOW_K8S_PROGRAM", default_value = "fateflow")]
    pub k8s_program: String,
    /// Kubernetes: the URL task pods report to, this server's own address on the pod
    /// network (`http://POD_IP:9380`), not a Service shared by several servers: a
    /// task's token and federation mailbox live in the server that launched it.
    /// Default: `--advertise`.
    #[arg(long, env = "FATEFLOW_K8S_SERVER_URL", value_name = "URL")]
    pub k8s_server_url: Option<String>,
    /// Kubernetes: the PersistentVolumeClaim holding the data dir, mounted in task
    /// pods at the data dir's path (ReadWriteMany with several servers).
    #[arg(long, env = "FATEFLOW_K8S_DATA_CLAIM")]
    pub k8s_data_claim: Option<String>,
    /// Kubernetes: where the data claim is mounted in this server's container (and so
    /// in task pods): the data dir or one of its parents (default: the data dir).
    #[arg(long, env = "FATEFLOW_K8S_DATA_MOUNT")]
    pub k8s_data_mount: Option<std::path::PathBuf>,
    /// Kubernetes: the site's name in the `fateflow/site` label, which selects the
    /// pods this site watches (default: `fateflow-<party ids joined by ->`).
    #[arg(long, env = "FATEFLOW_K8S_SITE")]
    pub k8s_site: Option<String>,
    /// Kubernetes: seconds a finished task Job (its pod and token Secret) is kept.
    #[arg(long, env = "FATEFLOW_K8S_JOB_TTL_SECONDS", default_value_t = 3600)]
    pub k8s_job_ttl_seconds: i32,
    /// Kubernetes: the networks (CIDR, comma separated) task pods call the worker and
    /// federation routes from; each call still needs the task's own token.
    #[arg(
        long,
        env = "FATEFLOW_K8S_POD_CIDRS",
        value_delimiter = ',',
        default_value = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"
    )]
    pub k8s_pod_cidrs: Vec<String>,
}

impl Default for LauncherOptions {
    fn default() -> Self {
        Self {
            launcher: LauncherKind::Local,
            k8s_namespace: None,
            k8s_image: None,
            k8s_image_pull_policy: None,
            k8s_program: "fateflow".into(),
            k8s_server_url: None,
            k8s_data_claim: None,
            k8s_data_mount: None,
            k8s_site: None,
            k8s_job_ttl_seconds: 3600,
            k8s_pod_cidrs: Vec::new(),
        }
    }
}

/// A network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDRESS/PREFIX`; the error names what was expected.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected ADDRESS/PREFIX, e.g. 10.0.0.0/8"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}`: `{addr}` is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("`{s}`: the prefix must be a number from 0 to {max}"))?;
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - u32::from(prefix))
            }
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), 32, self.prefix)
                    == masked(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Which callers the task routes (worker reports, federation push/pull) accept;
/// every call also needs the task's own token.
#[derive(Debug, Clone, Default)]
pub enum TaskCallers {
    /// Task processes of this machine only (the local launcher).
    #[default]
    Loopback,
    /// Also the given networks: task pods (the Kubernetes launcher).
    Networks(Vec<IpNet>),
}

impl TaskCallers {
    /// Whether a call from `ip` may go on to the token check.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if ip.to_canonical().is_loopback() {
            return true;
        }
        match self {
            TaskCallers::Loopback => false,
            TaskCallers::Networks(nets) => nets.iter().any(|n| n.contains(ip)),
        }
    }

    /// Where task routes' callers must be, for refusals.
    pub fn describe(&self) -> &'static str {
        match self {
            TaskCallers::Loopback => "only this machine's task processes",
            TaskCallers::Networks(_) => "only this site's task processes and pods",
        }
    }
}

/// The site's launcher, and the callers its tasks' routes accept.
pub async fn build(
    opts: &ServerOptions,
    exits: UnboundedSender<ProcessExit>,
) -> anyhow::Result<(Arc<dyn TaskLauncher>, TaskCallers)> {
    let l = &opts.launcher;
    match l.launcher {
        LauncherKind::Local => {
            let program = std::env::current_exe().context("locating the fateflow binary")?;
            Ok((
                Arc::new(LocalLauncher::new(program, exits)),
                TaskCallers::Loopback,
            ))
        }
        LauncherKind::Kubernetes => {
            let need = |v: &Option<String>, flag: &str, what: &str| {
                v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                    anyhow::anyhow!("{flag}: required with --launcher kubernetes; expected {what}")
                })
            };
            let image = need(
                &l.k8s_image,
                "--k8s-image",
                "the task image, e.g. registry.example/fateflow:0.1",
            )?;
            let data_claim = need(
                &l.k8s_data_claim,
                "--k8s-data-claim",
                "the name of the PersistentVolumeClaim holding the data dir",
            )?;
            let server_url = need(
                &l.k8s_server_url.clone().or_else(|| opts.advertise.clone()),
                "--k8s-server-url",
                "this server's URL on the pod network, e.g. http://$(POD_IP):9380 (or --advertise)",
            )?;
            if l.k8s_job_ttl_seconds < 0 {
                anyhow::bail!("--k8s-job-ttl-seconds: expected 0 or more seconds");
            }
            let nets = l
                .k8s_pod_cidrs
                .iter()
                .map(|s| IpNet::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--k8s-pod-cidrs: {e}"))?;
            let client = fateflow_launcher_k8s::client_from_env()
                .await
                .map_err(|e| anyhow::anyhow!("--launcher kubernetes: {e}"))?;
            let namespace = l
                .k8s_namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_string());
            let site = l.k8s_site.clone().unwrap_or_else(|| {
                let ids: Vec<String> = opts.parties.iter().map(u64::to_string).collect();
                format!("fateflow-{}", ids.join("-"))
            });
            let config = fateflow_launcher_k8s::K8sConfig {
                namespace,
                image,
                program: l.k8s_program.clone(),
                image_pull_policy: l.k8s_image_pull_policy.clone(),
                server_url,
                data_claim,
                data_mount: l.k8s_data_mount.clone(),
                site,
                run_as: Some((
                    rustix::process::getuid().as_raw(),
                    rustix::process::getgid().as_raw(),
                )),
                ttl_after_finished_s: l.k8s_job_ttl_seconds,
            };
            tracing::info!(namespace = %config.namespace, image = %config.image, site = %config.site, server_url = %config.server_url, "tasks run as Kubernetes Jobs");
            let launcher = fateflow_launcher_k8s::KubernetesLauncher::new(client, config)
                .map_err(|e| anyhow::anyhow!("--launcher kubernetes: {e}"))?;
            launcher.spawn_watch(exits);
            Ok((Arc::new(launcher), TaskCallers::Networks(nets)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let n = IpNet::parse("10.244.0.0/16").unwrap();
        assert!(n.contains(ip("10.244.3.7")));
        assert!(n.contains(ip("::ffff:10.244.3.7")), "v4-mapped callers");
        assert!(!n.contains(ip("10.245.0.1")));
        assert!(!n.contains(ip("fd00::1")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpNet::parse("fc00::/7").unwrap().contains(ip("fd12::1")));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "x/8",
            "fc00::/129",
            "10.0.0.0/-1",
        ] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            IpNet::parse("10.0.0.0").unwrap_err(),
            "`10.0.0.0`: expected ADDRESS/PREFIX, e.g. 10.0.0.0/8"
        );
    }

    #[test]
    fn task_callers_follow_the_launcher() {
        let local = TaskCallers::Loopback;
        assert!(local.allows(ip("127.0.0.1")) && local.allows(ip("::1")));
        assert!(!local.allows(ip("10.244.3.7")));
        let pods = TaskCallers::Networks(vec![IpNet::parse("10.244.0.0/16").unwrap()]);
        assert!(pods.allows(ip("127.0.0.1")));
        assert!(pods.allows(ip("10.244.3.7")));
        assert!(!pods.allows(ip("192.168.1.1")));
    }
}

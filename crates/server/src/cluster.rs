//! `--cluster`: this server registers in the database, runs the scheduler lease loop
//! (`fateflow_scheduler::cluster`), and at shutdown hands the lease over.

use crate::api::AppState;
use crate::cli::ServerOptions;
use anyhow::Context;
use fateflow_scheduler::cluster::{Cluster, LeaderGate, LeaseTimes};
use fateflow_scheduler::{PartyController, Scheduler};
use fateflow_storage::{InstanceRecord, MetadataStore};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A clustered server's lease loop, running.
pub struct Running {
    /// This server's instance id.
    pub instance_id: String,
    /// Shared with the scheduler and the API.
    pub gate: Arc<LeaderGate>,
    stop: Arc<Notify>,
    lease_loop: JoinHandle<()>,
}

/// Registers this server and starts its lease loop.
pub async fn start(
    opts: &ServerOptions,
    addr: SocketAddr,
    store: &Arc<dyn MetadataStore>,
    controller: &Arc<PartyController>,
    scheduler: &Arc<Scheduler>,
) -> anyhow::Result<Running> {
    if !opts.lease_seconds.is_finite() || opts.lease_seconds < 3.0 {
        anyhow::bail!("--lease-seconds: at least 3 seconds");
    }
    let host = host_name();
    let address = match &opts.advertise {
        Some(a) if a.starts_with("http://") || a.starts_with("https://") => {
            a.trim_end_matches('/').to_string()
        }
        Some(a) => anyhow::bail!("--advertise `{a}`: expected http://HOST:PORT"),
        None if addr.ip().is_unspecified() => format!("http://{host}:{}", addr.port()),
        None => format!("http://{addr}"),
    };
    let instance_id = format!("{host}-{}-{}", std::process::id(), random_hex(4)?);
    let gate = LeaderGate::clustered(instance_id.clone());
    controller.set_gate(gate.clone());
    let mut cluster = Cluster {
        store: store.clone(),
        controller: controller.clone(),
        scheduler: scheduler.clone(),
        gate: gate.clone(),
        instance: InstanceRecord {
            instance_id: instance_id.clone(),
            slot: 0,
            host,
            address: address.clone(),
            pid: i64::from(std::process::id()),
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: 0,
            heartbeat_at: 0,
        },
        times: LeaseTimes {
            ttl: Duration::from_secs_f64(opts.lease_seconds),
            ..LeaseTimes::default()
        },
    };
    let slot = cluster
        .register()
        .await
        .context("--cluster: registering this server in the database")?;
    scheduler.set_id_tag(slot);
    tracing::info!(%instance_id, slot, %address, "registered as one of the site's servers; waiting for the scheduler lease");
    let stop = Arc::new(Notify::new());
    let lease_loop = tokio::spawn(cluster.run(stop.clone()));
    Ok(Running {
        instance_id,
        gate,
        stop,
        lease_loop,
    })
}

impl Running {
    /// Releases the lease (another server takes it at once and retries this server's
    /// tasks), kills this server's task processes and removes the instance.
    pub async fn stop(self, state: &AppState) {
        let leading = self.gate.is_leading();
        // The lease first: from then on this server writes no task row, and the next
        // holder finds its tasks running and retries them.
        self.stop.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.lease_loop).await;
        let killed = state.controller.kill_all_launched().await;
        tracing::info!(
            tasks_killed = killed,
            was_leading = leading,
            "left the cluster"
        );
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom for the instance id")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

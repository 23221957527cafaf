//! One site: metadata store, party controller, scheduler, detector, HTTP API.

use crate::api::{self, AppState, Auth};
use crate::cli::{GatewayOptions, ServerOptions};
use anyhow::Context;
use fateflow_domain::{Party, Status};
use fateflow_scheduler::local::LocalPartner;
use fateflow_scheduler::PartyCommand;
use fateflow_scheduler::{event_channel, PartyController, Scheduler, SiteConfig};
use fateflow_storage::{DatabaseUrl, JobFilter, MetadataStore, SqlStore, TaskFilter};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a shutdown may spend stopping jobs before the process exits anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);
/// How long a shutdown waits for its reports to partners' initiators to be sent.
const REPORT_GRACE: Duration = Duration::from_secs(2);

/// A running site.
pub struct Site {
    addr: SocketAddr,
    gateway_addr: Option<SocketAddr>,
    server: JoinHandle<std::io::Result<()>>,
    gateway: Option<JoinHandle<()>>,
    /// Held while the site runs: `fateflow gc` and a second server refuse the dir.
    _lock: crate::gc::DataDirLock,
    /// The lease loop of a `--cluster` server.
    cluster: Option<crate::cluster::Running>,
    /// The shared state, for in-process callers (demo, tests).
    pub state: AppState,
}

/// The host's cores and memory (MB).
pub fn discover_resources() -> (i64, i64) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(4096);
    (cores, memory)
}

impl Site {
    /// Opens the data dir, recovers from a previous run, and starts serving.
    pub async fn start(opts: ServerOptions) -> anyhow::Result<Site> {
        Self::start_with_gateway(opts, GatewayOptions::default()).await
    }

    /// Like [`Site::start`]; with routes the site also runs its gateway and schedules
    /// parties hosted by other sites through it.
    pub async fn start_with_gateway(
        opts: ServerOptions,
        gopts: GatewayOptions,
    ) -> anyhow::Result<Site> {
        if opts.parties.is_empty() {
            anyhow::bail!("--parties: a site hosts at least one party id");
        }
        let database = opts
            .database
            .as_ref()
            .map(|u| DatabaseUrl::parse(u.expose()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--database: {e}"))?;
        let auth = Auth::from_options(&opts)?;
        crate::owner_only_umask();
        owner_only_dir(&opts.data_dir)?;
        let lock = if opts.cluster {
            crate::gc::lock_data_dir_shared(&opts.data_dir)?
        } else {
            crate::gc::lock_data_dir(&opts.data_dir)?
        };
        let data_dir = opts
            .data_dir
            .canonicalize()
            .context("resolving the data dir")?;
        let database =
            database.unwrap_or_else(|| DatabaseUrl::sqlite_file(&data_dir.join("fateflow.db")));
        let store = SqlStore::connect(&database).await.with_context(|| {
            format!(
                "--database: expected a reachable {} database at {database}",
                database.backend().name()
            )
        })?;
        tracing::info!(%database, "metadata database");
        let store: Arc<dyn MetadataStore> = Arc::new(store);
        let tables = Arc::new(
            fateflow_tables::LocalTableStore::open(&data_dir).context("opening the table store")?,
        );
        // Alone, whatever is staged belongs to a dead writer; in a cluster, another
        // server may be writing it.
        let _ = tables.sweep_tmp(if opts.cluster {
            STALE_STAGING
        } else {
            Duration::from_secs(0)
        });
        sweep_stale_uploads(&data_dir.join("tmp"), STALE_UPLOAD);
        // A site runs for months: what killed writers leave in the staging area goes
        // while it runs, not only at the next start.
        let sweeper = tables.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            every.tick().await;
            loop {
                every.tick().await;
                let t = sweeper.clone();
                let swept = tokio::task::spawn_blocking(move || {
                    sweep_stale_uploads(&t.root().join("tmp"), STALE_UPLOAD);
                    t.sweep_tmp(STALE_STAGING)
                })
                .await;
                match swept {
                    Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "staging leftovers removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "sweeping the staging area"),
                    _ => {}
                }
            }
        });
        let (host_cores, host_memory) = discover_resources();
        // Tasks spend much of their time waiting on other parties: two per core.
        let cores = opts.cores.unwrap_or(host_cores * 2);
        let memory = opts.memory_mb.unwrap_or(host_memory);
        let config = Arc::new(SiteConfig {
            parties: opts.parties.clone(),
            data_dir: data_dir.clone(),
            cores,
            memory,
            max_cores_percent_per_job: 1.0,
            heartbeat_timeout_s: opts.heartbeat_timeout,
            task_memory_mb: opts.task_memory_mb.unwrap_or_else(|| {
                (u64::try_from(host_memory).unwrap_or(0) / 4)
                    .max(fateflow_components::memory::DEFAULT_TASK_MEMORY_MB)
            }),
        });
        let (exit_tx, mut exit_rx) = tokio::sync::mpsc::unbounded_channel();
        let (launcher, task_callers) = crate::launchers::build(&opts, exit_tx).await?;
        let (events, events_rx) = event_channel();
        let controller = Arc::new(PartyController::new(
            store.clone(),
            launcher,
            config.clone(),
            events.clone(),
            fateflow_components::CATALOG,
        ));
        controller
            .register_engines()
            .await
            .context("registering resources")?;
        // In a cluster, the tasks other servers run are theirs: the lease's next holder
        // recovers what a dead one left.
        let recovered = if opts.cluster {
            0
        } else {
            controller
                .recover()
                .await
                .map_err(|r| anyhow::anyhow!(r.message))?
        };
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "tasks left running by a previous server process were failed"
            );
        }
        let gateway = match &gopts.routes {
            None => None,
            Some(routes_path) => Some(GatewayParts::load(&opts, &gopts, routes_path, &data_dir)?),
        };
        let peers = gateway.as_ref().map(|g| g.peers.clone());
        let queue = gateway.as_ref().and_then(|g| g.queue.clone());
        let partner: Arc<dyn fateflow_scheduler::Partner> = match &peers {
            None => Arc::new(LocalPartner::new(controller.clone())),
            Some(p) => {
                let site_partner = Arc::new(fateflow_gateway::SitePartner::new(
                    controller.clone(),
                    store.clone(),
                    p.clone(),
                ));
                tokio::spawn(fateflow_gateway::partner::rereport(
                    site_partner.clone(),
                    Duration::from_secs_f64((gopts.health_seconds * 5.0).max(1.0)),
                ));
                tokio::spawn(fateflow_scheduler::reconcile::run(
                    store.clone(),
                    controller.clone(),
                    site_partner.clone(),
                    fateflow_scheduler::reconcile::ReconcileConfig {
                        resource_hold_timeout: Duration::from_secs_f64(
                            gopts.resource_hold_timeout.max(0.0),
                        ),
                        initiator_check: Duration::from_secs_f64(
                            gopts.initiator_check_seconds.max(1.0),
                        ),
                    },
                ));
                site_partner
            }
        };
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            partner,
            controller.clone(),
            events.clone(),
        ));

        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("binding {}", opts.listen))?;
        let addr = listener.local_addr()?;
        controller.set_server_address(format!("http://{}", loopback_of(addr)));
        let (gate, cluster) = if opts.cluster {
            let c = crate::cluster::start(&opts, addr, &store, &controller, &scheduler).await?;
            (c.gate.clone(), Some(c))
        } else {
            (fateflow_scheduler::cluster::LeaderGate::standalone(), None)
        };

        tokio::spawn(scheduler.clone().run(
            events_rx,
            Duration::from_secs_f64(opts.tick_seconds.max(0.1)),
        ));
        tokio::spawn(fateflow_scheduler::detector::run(
            store.clone(),
            controller.clone(),
            scheduler.clone(),
            Duration::from_secs_f64(opts.detect_seconds.max(0.1)),
        ));
        let exit_controller = controller.clone();
        tokio::spawn(async move {
            while let Some(exit) = exit_rx.recv().await {
                if let Err(e) = exit_controller.on_process_exit(exit).await {
                    tracing::error!(error = %e.message, "handling a task exit failed");
                }
            }
        });
        let _ = events.send(fateflow_scheduler::Event::ScheduleAll);

        if let Some(days) = opts.retention_days {
            if !days.is_finite() || days < 0.0 {
                anyhow::bail!("--retention-days: a number of days, 0 or more");
            }
            tokio::spawn(retention(
                store.clone(),
                controller.clone(),
                tables.clone(),
                crate::gc::GcOptions {
                    data_dir: data_dir.clone(),
                    older_than_days: days,
                    dry_run: false,
                },
            ));
        }
        let permissions = Arc::new(fateflow_scheduler::permission::PermissionGate::new(
            store.clone(),
            opts.permission == crate::cli::Switch::On,
        ));
        if gopts.routes.is_some() {
            if permissions.enabled() {
                tracing::info!("permission checks are on: partner sites may use only the components and tables granted to them (flow privilege grant)");
            } else {
                tracing::warn!("permission checks are OFF (--permission off): any routed partner may create jobs here with any component on any table");
            }
        }
        let serving = Arc::new(crate::serving::Serving::new(
            tables.clone(),
            data_dir.join("serving"),
            opts.parties.clone(),
            peers.clone(),
            crate::serving::ServingOptions {
                host_timeout: Duration::from_millis(opts.serving_host_timeout_ms.max(1)),
                batch_limit: opts.serving_batch_limit.max(1),
                feature_url: opts.serving_feature_url.clone(),
                redis: opts
                    .serving_feature_redis
                    .clone()
                    .map(|addr| (addr, opts.serving_feature_redis_prefix.clone())),
            },
        ));
        controller.set_online_loader(serving.clone());
        serving.restore(store.as_ref()).await;
        let data_dir_for_mailbox = data_dir.clone();
        let gateway_store = store.clone();
        let state = AppState {
            store,
            scheduler,
            controller,
            tables,
            data_dir,
            file_root: opts.file_root.clone(),
            auth: Arc::new(auth),
            started: std::time::Instant::now(),
            listen: addr,
            permissions: permissions.clone(),
            serving: serving.clone(),
            gate,
            http: reqwest::Client::new(),
            task_callers,
        };
        let mailbox = Arc::new(fateflow_federation::Mailbox::new(
            fateflow_federation::MailboxConfig {
                memory_limit: 256 << 20,
                // Each server of a cluster clears its own spill dir at start.
                spill_dir: match &cluster {
                    Some(c) => data_dir_for_mailbox.join("mailbox").join(&c.instance_id),
                    None => data_dir_for_mailbox.join("mailbox"),
                },
                ttl: Duration::from_secs(2 * 3600),
                max_message: fateflow_federation::MAX_MESSAGE_BYTES,
            },
        ));
        let sweeper = mailbox.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                sweeper.sweep();
            }
        });
        let mut gateway_addr = None;
        let mut gateway_task = None;
        let mut queue_stats = None;
        if let Some(g) = gateway {
            let listener = tokio::net::TcpListener::bind(gopts.gateway_listen)
                .await
                .with_context(|| format!("binding the gateway to {}", gopts.gateway_listen))?;
            let gaddr = listener.local_addr()?;
            gateway_addr = Some(gaddr);
            let service = Arc::new(fateflow_gateway::GatewayService {
                controller: state.controller.clone(),
                store: gateway_store,
                mailbox: mailbox.clone(),
                routes: Arc::new(g.peers.routes().clone()),
                events: events.clone(),
                permissions,
                inference: serving.clone(),
            });
            gateway_task = Some(tokio::spawn(async move {
                if let Err(e) = fateflow_gateway::server::serve(listener, g.tls, service).await {
                    tracing::error!(error = %e, "the site gateway stopped");
                }
            }));
            let src = opts.parties.first().copied().unwrap_or(0);
            tokio::spawn(fateflow_gateway::health::run(
                g.peers.clone(),
                src,
                state.controller.clone(),
                Duration::from_secs_f64(gopts.health_seconds.max(0.2)),
                Duration::from_secs_f64(gopts.party_timeout.max(0.0)),
            ));
            tracing::info!(address = %gaddr, certificate = %g.fingerprint, routes = g.peers.routes().parties.len(), "site gateway listening (mutual TLS, pinned certificates)");
            if let Some(conf) = g.peers.routes().rabbitmq.clone() {
                tracing::info!(broker = %conf.describe(), "RabbitMQ federation: this site's parties receive through the broker too");
                queue_stats = Some(fateflow_gateway::queue::spawn_consumer(
                    conf,
                    opts.parties.clone(),
                    g.peers.routes().clone(),
                    mailbox.clone(),
                ));
            }
        }
        let app = api::router(state.clone())
            .merge(crate::board::router(state.clone()))
            .merge(crate::federation::router(
                crate::federation::FederationState {
                    app: state.clone(),
                    mailbox,
                    peers,
                    queue,
                    queue_stats,
                },
            ));
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        tracing::info!(%addr, parties = ?opts.parties, cores, memory_mb = memory, task_memory_mb = config.task_memory_mb, "site started");
        Ok(Site {
            addr,
            gateway_addr,
            server,
            gateway: gateway_task,
            _lock: lock,
            cluster,
            state,
        })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the gateway listens on, when the site has routes.
    pub fn gateway_addr(&self) -> Option<SocketAddr> {
        self.gateway_addr
    }

    /// Serves until the server stops, or until Ctrl-C or SIGTERM: then drains
    /// ([`Site::shutdown`]) and returns. A second signal cuts the drain short.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let name = tokio::select! {
            r = &mut self.server => { r??; return Ok(()); }
            _ = tokio::signal::ctrl_c() => "interrupt",
            _ = term.recv() => "SIGTERM",
        };
        if let Some(c) = self.cluster.take() {
            tracing::info!(
                signal = name,
                "shutting down one server of the cluster: the others go on; its tasks are killed and the next lease holder retries them"
            );
            self.server.abort();
            if let Some(g) = &self.gateway {
                g.abort();
            }
            c.stop(&self.state).await;
            return Ok(());
        }
        tracing::info!(
            signal = name,
            "shutting down: no new requests; running jobs and tasks are stopped"
        );
        let reason = format!(
            "the site shut down ({name}) while this job was running; rerun the job to continue"
        );
        tokio::select! {
            r = tokio::time::timeout(DRAIN_LIMIT, self.shutdown(&reason)) => match r {
                Ok(n) => tracing::info!(stopped = n, "drained; exiting"),
                Err(_) => tracing::error!(
                    "the drain took over {} s; exiting, the next start fails what is left",
                    DRAIN_LIMIT.as_secs()
                ),
            },
            _ = term.recv() => tracing::warn!("second SIGTERM: exiting before the drain ended"),
            _ = tokio::signal::ctrl_c() => tracing::warn!("second interrupt: exiting before the drain ended"),
        }
        Ok(())
    }

    /// Drains the site: stops serving the API and the gateway, ends every running job
    /// initiated here at all its parties (`failed` with `reason`; tasks killed,
    /// resources returned), ends this site's copies of running jobs initiated
    /// elsewhere (the initiator is told), and stops any task still running. Queued
    /// jobs stay queued for the next start. Returns how many jobs and tasks it ended.
    pub async fn shutdown(&self, reason: &str) -> usize {
        self.server.abort();
        if let Some(g) = &self.gateway {
            g.abort();
        }
        let st = &self.state;
        let mut ended = 0;
        // A stop frees resources, so a queued job may start meanwhile: a few passes.
        for _ in 0..3 {
            let jobs = running_jobs(st, true).await;
            if jobs.is_empty() {
                break;
            }
            for j in jobs {
                match st
                    .scheduler
                    .request_stop(&j.job_id, Status::Failed, reason)
                    .await
                {
                    Ok(()) => ended += 1,
                    Err(e) => {
                        tracing::warn!(job_id = %j.job_id, error = %e, "stopping a job at shutdown")
                    }
                }
            }
        }
        let mut partner_jobs = 0;
        for j in running_jobs(st, false).await {
            if !st.controller.hosts(j.party_id) {
                continue;
            }
            let party = Party {
                role: j.role,
                party_id: j.party_id,
            };
            let cmd = PartyCommand::StopJob {
                status: Status::Failed,
                reason: reason.to_string(),
            };
            match st.controller.handle(&j.job_id, party, cmd).await {
                Ok(_) => ended += 1,
                Err(e) => {
                    tracing::warn!(job_id = %j.job_id, error = %e.message, "ending a partner's job at shutdown")
                }
            }
            // Not initiated here: this reports our task states to the initiator.
            let _ = st.scheduler.schedule(&j.job_id).await;
            partner_jobs += 1;
        }
        if partner_jobs > 0 {
            // The reports go out on their own tasks: give them a moment to leave.
            tokio::time::sleep(REPORT_GRACE).await;
        }
        // Whatever still runs (a job row ended earlier, a task started meanwhile).
        let filter = TaskFilter {
            party_statuses: vec![Status::Running],
            run_on_this_party: Some(true),
            ..Default::default()
        };
        let tasks = st.store.query_tasks(&filter).await.map(|(t, _)| t);
        for t in tasks.unwrap_or_default() {
            if !st.controller.hosts(t.party_id) {
                continue;
            }
            let party = Party {
                role: t.role,
                party_id: t.party_id,
            };
            let cmd = PartyCommand::StopTask {
                component: t.component_name.clone(),
                task_version: t.task_version,
                status: Status::Failed,
                reason: reason.to_string(),
            };
            match st.controller.handle(&t.job_id, party, cmd).await {
                Ok(_) => ended += 1,
                Err(e) => {
                    tracing::warn!(task_id = %t.task_id, error = %e.message, "stopping a task at shutdown")
                }
            }
        }
        ended
    }
}

/// `--retention-days`: removes old finished jobs at start-up and every hour (in a
/// cluster, on the scheduler lease's holder only).
async fn retention(
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    tables: Arc<fateflow_tables::LocalTableStore>,
    opts: crate::gc::GcOptions,
) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        if !controller.leading() {
            continue;
        }
        match crate::gc::remove_old_jobs(store.as_ref(), &tables, &opts).await {
            Ok(r) if !r.jobs.is_empty() => tracing::info!(
                jobs = r.jobs.len(),
                bytes = r.total_bytes(),
                rows = r.rows,
                days = opts.older_than_days,
                "retention: removed finished jobs"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention: removing old jobs failed"),
        }
    }
}

/// Running job rows of this site, initiated here or elsewhere.
async fn running_jobs(st: &AppState, initiated_here: bool) -> Vec<fateflow_storage::JobRecord> {
    let filter = JobFilter {
        statuses: vec![Status::Running],
        is_initiator: Some(initiated_here),
        ..Default::default()
    };
    match st.store.query_jobs(&filter).await {
        Ok((jobs, _)) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "listing running jobs at shutdown");
            Vec::new()
        }
    }
}

/// Creates the data dir owner-only (0700), and takes group and other access away
/// from an existing one.
fn owner_only_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data dir {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading data dir {}", dir.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making data dir {} owner-only", dir.display()))?;
        tracing::warn!(
            dir = %dir.display(),
            was = format!("{mode:o}"),
            "the data dir was open to other local users; it is now owner-only (0700)"
        );
    }
    Ok(())
}

/// Upload temp files older than this are leftovers of cut-off uploads.
const STALE_UPLOAD: Duration = Duration::from_secs(3600);
/// A staging entry untouched this long while the site runs belongs to no live writer.
const STALE_STAGING: Duration = Duration::from_secs(6 * 3600);

/// Removes `upload_*` temp files in `tmp` older than `older_than`; how many.
fn sweep_stale_uploads(tmp: &Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with("upload_")
            && e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|age| age >= older_than)
            });
        if stale && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed upload temp files of cut-off uploads");
    }
    removed
}

/// The gateway's TLS identity and peers, loaded before anything listens.
struct GatewayParts {
    peers: Arc<fateflow_gateway::Peers>,
    tls: Arc<fateflow_gateway::tls::ServerConfig>,
    fingerprint: String,
    /// Publishes federation messages to the parties routed through RabbitMQ.
    queue: Option<Arc<fateflow_gateway::queue::QueueSender>>,
}

impl GatewayParts {
    fn load(
        opts: &ServerOptions,
        gopts: &GatewayOptions,
        routes_path: &std::path::Path,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let routes = fateflow_gateway::Routes::load(routes_path)?;
        let dir = data_dir.join("gateway");
        let cert = gopts
            .gateway_cert
            .clone()
            .unwrap_or_else(|| dir.join("site.crt"));
        let key = gopts
            .gateway_key
            .clone()
            .unwrap_or_else(|| dir.join("site.key"));
        let identity = fateflow_gateway::Identity::load(&cert, &key)?;
        for p in &opts.parties {
            if routes.parties.contains_key(p) {
                tracing::warn!(party_id = p, "the routes file routes party {p}, which this site hosts; commands for it stay local");
            }
        }
        let tls = fateflow_gateway::tls::server_config(&identity, &routes)?;
        let queue = if routes.parties.values().any(|r| r.rabbitmq.is_some()) {
            let signer = fateflow_gateway::queue::Signer::new(&identity)?;
            Some(Arc::new(fateflow_gateway::queue::QueueSender::new(signer)))
        } else {
            None
        };
        let peers = Arc::new(fateflow_gateway::Peers::new(&identity, routes)?);
        Ok(Self {
            peers,
            tls,
            fingerprint: identity.fingerprint(),
            queue,
        })
    }
}

/// The address task processes use to reach the site.
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

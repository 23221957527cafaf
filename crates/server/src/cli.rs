//! Command-line arguments.

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "fateflow",
    version,
    about = "One FATE-Flow site: API, scheduler and task runner"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// A `fateflow` subcommand.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a site: the /v1 API, the scheduler, the task runner and (with `--routes`)
    /// the site gateway.
    Server(Box<ServerArgs>),
    /// Validate a DSL and runtime conf and print the per-party task plan.
    Validate {
        /// The DSL file.
        #[arg(short = 'd', long)]
        dsl: PathBuf,
        /// The runtime conf file.
        #[arg(short = 'c', long)]
        conf: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the standalone demo on the shipped example data.
    Demo {
        /// The examples directory (jobs and data).
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
        /// Data dir of the demo site (default: a fresh temporary dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Keep the site running after the job, until Ctrl-C.
        #[arg(long)]
        keep: bool,
    },
    /// Run one job on a throwaway standalone site: upload the tables, submit, show
    /// progress, print each component's run time and every evaluation.
    Run {
        /// The DSL file.
        #[arg(short = 'd', long)]
        dsl: PathBuf,
        /// The runtime conf file.
        #[arg(short = 'c', long)]
        conf: PathBuf,
        /// A table to upload first, `namespace.name=file.csv[:partitions]` (repeatable;
        /// files relative to `--file-root`).
        #[arg(long = "upload")]
        uploads: Vec<crate::run_job::Upload>,
        /// Where upload files are read from.
        #[arg(long, default_value = "examples/data")]
        file_root: PathBuf,
        /// Data dir of the site (default: a fresh temporary dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seconds to wait for the job.
        #[arg(long, default_value_t = 7200)]
        timeout: u64,
        /// Print a final `RUN_RESULT {json}` line (and keep the temporary data dir).
        #[arg(long)]
        json: bool,
    },
    /// Generate this site's gateway key and self-signed certificate, and print the
    /// certificate's SHA-256 fingerprint for the other parties' routes files.
    Cert {
        /// Directory for `site.key` and `site.crt` (the server's default is
        /// `<data-dir>/gateway`).
        #[arg(long)]
        out: PathBuf,
        /// Name written into the certificate.
        #[arg(long, default_value = "fateflow-gateway")]
        name: String,
    },
    /// Remove finished jobs older than N days from a stopped site's data dir: their
    /// job files, logs, output tables no other job names, and metadata rows (pipeline
    /// models and uploaded tables stay); and staging leftovers. Refused while a server
    /// runs on the data dir.
    Gc {
        /// The site's data dir.
        #[arg(long, env = "FATEFLOW_DATA_DIR", default_value = "fateflow-data")]
        data_dir: PathBuf,
        /// Remove jobs that ended more than this many days ago.
        #[arg(long)]
        older_than_days: f64,
        /// Print what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Internal: the task processes a site starts.
    Task {
        #[command(subcommand)]
        action: TaskAction,
    },
}

/// `fateflow task ...`.
#[derive(Subcommand, Debug)]
pub enum TaskAction {
    /// Run one task from its spec file.
    Run {
        /// The task spec written by the site.
        #[arg(long)]
        spec: PathBuf,
    },
}

/// Options of `fateflow server`; each can also come from a `FATEFLOW_*` variable.
#[derive(ClapArgs, Debug, Clone)]
pub struct ServerOptions {
    /// Address of the HTTP API (port 0 picks a free port).
    #[arg(long, env = "FATEFLOW_LISTEN", default_value = "127.0.0.1:9380")]
    pub listen: SocketAddr,
    /// Data dir: metadata database, tables, job files, logs.
    #[arg(long, env = "FATEFLOW_DATA_DIR", default_value = "fateflow-data")]
    pub data_dir: PathBuf,
    /// The metadata database: `sqlite://PATH`, `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// or `mysql://USER[:PASSWORD]@HOST[:PORT]/DB` (MySQL 8 or MariaDB); a server's
    /// database must exist, its tables are created. Default: `fateflow.db` (SQLite)
    /// in the data dir.
    #[arg(long, env = "FATEFLOW_DATABASE", hide_env_values = true)]
    pub database: Option<SecretUrl>,
    /// Party ids this site hosts (comma separated).
    #[arg(
        long,
        env = "FATEFLOW_PARTIES",
        value_delimiter = ',',
        default_value = "9999,10000"
    )]
    pub parties: Vec<u64>,
    /// Cores offered to jobs per party (default: the host's cores × 2).
    #[arg(long, env = "FATEFLOW_CORES")]
    pub cores: Option<i64>,
    /// Memory offered to jobs per party in MB (default: the host's memory).
    #[arg(long, env = "FATEFLOW_MEMORY_MB")]
    pub memory_mb: Option<i64>,
    /// A task's memory budget in MB when its job sets no `task_memory` (default: a
    /// quarter of the host's memory, at least 1536): components size their row blocks
    /// from it, and a task that goes over it fails with an error saying so instead of
    /// being killed by the system.
    #[arg(long, env = "FATEFLOW_TASK_MEMORY_MB")]
    pub task_memory_mb: Option<u64>,
    /// A directory the server may read upload files from (`use_local_data: 0`) and
    /// write downloads to; without it, server-side paths are refused.
    #[arg(long, env = "FATEFLOW_FILE_ROOT")]
    pub file_root: Option<PathBuf>,
    /// Client authentication app key (FATE 1.9+ HMAC headers).
    #[arg(long, env = "FATEFLOW_APP_KEY")]
    pub app_key: Option<String>,
    /// Client authentication secret key.
    #[arg(long, env = "FATEFLOW_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Serve beyond loopback without client authentication (not recommended).
    #[arg(long, env = "FATEFLOW_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Seconds between safety-net scheduling rounds (events drive the rest).
    #[arg(long, env = "FATEFLOW_TICK_SECONDS", default_value_t = 2.0)]
    pub tick_seconds: f64,
    /// Seconds between detector rounds.
    #[arg(long, env = "FATEFLOW_DETECT_SECONDS", default_value_t = 5.0)]
    pub detect_seconds: f64,
    /// Seconds without a heartbeat after which a running task is declared dead.
    #[arg(long, env = "FATEFLOW_HEARTBEAT_TIMEOUT", default_value_t = 60)]
    pub heartbeat_timeout: i64,
    /// Remove finished jobs that ended more than this many days ago, at start-up and
    /// hourly (as `fateflow gc` does: job files, logs, output tables no other job names,
    /// metadata rows; pipeline models stay). Off unless given.
    #[arg(long, env = "FATEFLOW_RETENTION_DAYS")]
    pub retention_days: Option<f64>,
    /// Permission checks on what partner sites ask of this one: `on` (a partner may
    /// use only the components and tables this site's operator granted it with `flow
    /// privilege grant`) or `off` (FATE's default: any routed partner may use any
    /// component on any table). Parties hosted by this site are never checked.
    #[arg(long, env = "FATEFLOW_PERMISSION", value_enum, default_value_t = Switch::On)]
    pub permission: Switch,
    /// Online inference: how long the guest waits for a host's partial score (ms)
    /// before answering the request with FATE-Serving's network error naming the host.
    #[arg(long, env = "FATEFLOW_SERVING_HOST_TIMEOUT_MS", default_value_t = 3000)]
    pub serving_host_timeout_ms: u64,
    /// Online inference: the most rows a batch request may carry (FATE-Serving's
    /// `batch.inference.max` is 300); a larger batch is refused with retcode 120.
    #[arg(long, env = "FATEFLOW_SERVING_BATCH_LIMIT", default_value_t = 1000)]
    pub serving_batch_limit: usize,
    /// Online inference: hosts of this site read each request's features from this
    /// FATE-Serving HTTP feature adapter (the request's `sendToRemoteFeatureData` is
    /// posted as JSON; the answer is `{"code": 200, "data": {feature: value}}`)
    /// instead of from the table their training job read.
    #[arg(long, env = "FATEFLOW_SERVING_FEATURE_URL")]
    pub serving_feature_url: Option<String>,
    /// Online inference: hosts of this site read each request's features from Redis
    /// at HOST:PORT, one hash per sample id (`HGETALL <prefix><id>`: feature name →
    /// value), instead of from their training tables.
    #[arg(long, env = "FATEFLOW_SERVING_FEATURE_REDIS", value_name = "HOST:PORT")]
    pub serving_feature_redis: Option<String>,
    /// The key prefix of `--serving-feature-redis`.
    #[arg(
        long,
        env = "FATEFLOW_SERVING_FEATURE_REDIS_PREFIX",
        default_value = "fateflow:features:"
    )]
    pub serving_feature_redis_prefix: String,
    /// This server is one of several sharing one `--database` (PostgreSQL or MySQL)
    /// and one `--data-dir` (a shared directory): every one answers the API; the one
    /// holding the scheduler lease in the database schedules and runs tasks, and
    /// another takes over within 15 s when it dies.
    #[arg(long, env = "FATEFLOW_CLUSTER")]
    pub cluster: bool,
    /// With `--cluster`: the API address the other servers forward stops and reruns
    /// to (`http://HOST:PORT`). Default: `--listen`'s address (the host name when it
    /// listens on every interface).
    #[arg(long, env = "FATEFLOW_ADVERTISE", value_name = "URL")]
    pub advertise: Option<String>,
    /// With `--cluster`: how long the scheduler lease holds without a renewal
    /// (seconds). The holder renews it every second and stops scheduling 2 s before
    /// it could expire; a dead holder is replaced this long after its last renewal.
    #[arg(long, env = "FATEFLOW_LEASE_SECONDS", default_value_t = 14.0)]
    pub lease_seconds: f64,
    /// Where tasks run (`--launcher`, `--k8s-*`).
    #[command(flatten)]
    pub launcher: crate::launchers::LauncherOptions,
}

/// A URL that may hold a password: kept as given, printed only without it.
#[derive(Clone)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretUrl(s.to_string()))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fateflow_storage::redact(&self.0))
    }
}

/// A feature switch.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl ServerOptions {
    /// A standalone site on loopback (free port) hosting guest 9999 and host/arbiter
    /// 10000, reading uploads from `file_root`.
    pub fn standalone(data_dir: &std::path::Path, file_root: &std::path::Path) -> Self {
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            database: None,
            parties: vec![9999, 10000],
            cores: None,
            memory_mb: None,
            task_memory_mb: None,
            file_root: Some(file_root.to_path_buf()),
            app_key: None,
            secret_key: None,
            insecure_no_auth: false,
            tick_seconds: 2.0,
            detect_seconds: 5.0,
            heartbeat_timeout: 60,
            retention_days: None,
            permission: Switch::On,
            serving_host_timeout_ms: 3000,
            serving_batch_limit: 1000,
            serving_feature_url: None,
            serving_feature_redis: None,
            serving_feature_redis_prefix: "fateflow:features:".into(),
            cluster: false,
            advertise: None,
            lease_seconds: 14.0,
            launcher: crate::launchers::LauncherOptions::default(),
        }
    }
}

/// `fateflow server`'s arguments: the site's and its gateway's.
#[derive(ClapArgs, Debug, Clone)]
pub struct ServerArgs {
    /// The site.
    #[command(flatten)]
    pub site: ServerOptions,
    /// The site gateway.
    #[command(flatten)]
    pub gateway: GatewayOptions,
}

/// Options of the site gateway (`fateflow server --routes ...`).
#[derive(ClapArgs, Debug, Clone)]
pub struct GatewayOptions {
    /// Routes file (JSON): party id → gateway address and pinned certificate. With
    /// it the site starts its gateway and schedules parties of other sites; without
    /// it the site is standalone.
    #[arg(long, env = "FATEFLOW_ROUTES")]
    pub routes: Option<PathBuf>,
    /// Address of the site gateway (gRPC over mutual TLS).
    #[arg(long, env = "FATEFLOW_GATEWAY_LISTEN", default_value = "0.0.0.0:9360")]
    pub gateway_listen: SocketAddr,
    /// The gateway's certificate (PEM; default `<data-dir>/gateway/site.crt`).
    #[arg(long, env = "FATEFLOW_GATEWAY_CERT")]
    pub gateway_cert: Option<PathBuf>,
    /// The gateway's private key (PEM; default `<data-dir>/gateway/site.key`).
    #[arg(long, env = "FATEFLOW_GATEWAY_KEY")]
    pub gateway_key: Option<PathBuf>,
    /// Seconds between the gateway's health probes of every routed party.
    #[arg(long, env = "FATEFLOW_HEALTH_SECONDS", default_value_t = 15.0)]
    pub health_seconds: f64,
    /// Seconds a routed party may stay unreachable before its running tasks in jobs
    /// initiated here fail (naming it).
    #[arg(long, env = "FATEFLOW_PARTY_TIMEOUT", default_value_t = 60.0)]
    pub party_timeout: f64,
    /// Seconds a job initiated by another site may hold resources here without being
    /// started before it is ended and its resources returned.
    #[arg(long, env = "FATEFLOW_RESOURCE_HOLD_TIMEOUT", default_value_t = 300.0)]
    pub resource_hold_timeout: f64,
    /// Seconds without change after which a job initiated by another site asks its
    /// initiator for the job's status (ended or unknown there: ended here).
    #[arg(
        long,
        env = "FATEFLOW_INITIATOR_CHECK_SECONDS",
        default_value_t = 600.0
    )]
    pub initiator_check_seconds: f64,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            routes: None,
            gateway_listen: SocketAddr::from(([0, 0, 0, 0], 9360)),
            gateway_cert: None,
            gateway_key: None,
            health_seconds: 15.0,
            party_timeout: 60.0,
            resource_hold_timeout: 300.0,
            initiator_check_seconds: 600.0,
        }
    }
}

/// Parses the process arguments.
pub fn parse() -> Command {
    Args::parse().command
}

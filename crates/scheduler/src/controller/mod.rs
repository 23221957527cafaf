//! The party side: what a party does when the initiator sends it a command, and
//! when its own task processes report.

use crate::clock::now_ms;
use crate::launcher::{
    GenerateToken, ModelSpec, ProcessExit, TableRefSpec, TaskHandle, TaskLauncher, TaskSpec,
    TaskToken,
};
use crate::parsed::ParsedJobs;
use crate::partner::PartyCommand;
use crate::{Error, Event, EventSender};
use fateflow_domain::dsl::DataRef;
use fateflow_domain::ident::{check, safe_join, IdKind, UnsafePath};
use fateflow_domain::{ErrorKind, Job, Party, PartyId, Role, Status};
use fateflow_storage::{
    JobFilter, JobRecord, JobUpdate, MetadataStore, TaskFilter, TaskKey, TaskOwner, TaskRecord,
    TaskUpdate,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod auth;
mod commands;
mod ids;
mod tasks;

pub(crate) use ids::new_task;
use ids::*;
pub use ids::{job_params_of, latest_party_tasks, session_of, task_key, task_resource_need};

/// How long a task process may live on after reporting its final status before it is
/// killed.
pub const FINAL_EXIT_GRACE: Duration = Duration::from_secs(10);
/// How long a federation session found valid for a sender is trusted without a lookup.
const PEER_CACHE_TTL: Duration = Duration::from_secs(30);

/// A task launched here: its token while it may act, and its process until it exits.
struct LiveTask {
    component: String,
    /// `None` once the task ended or was stopped.
    token: Option<TaskToken>,
    /// What finds the launched task again (its pid, its worker id).
    handle: Option<TaskHandle>,
    /// When its row was last read as `running` (worker calls in a burst read it once).
    running_seen: Option<Instant>,
}

/// How long a task row read as `running` is trusted for the task's next calls. Every
/// end of a task through this server also takes its token at once.
const RUNNING_TRUSTED: std::time::Duration = std::time::Duration::from_millis(500);

type LiveTasks = Arc<Mutex<HashMap<TaskKey, LiveTask>>>;

/// When a federation session was found valid for a sender, and its job.
type SeenSession = (Instant, String);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a request presented as a task's was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token at all (HTTP 401).
    #[error("no task token: these routes serve only task processes launched by this site, which send their token in the task token header")]
    Missing,
    /// A token that does not act for this task now (HTTP 403).
    #[error("{0}")]
    Refused(String),
}

/// The site settings a party controller needs.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Party ids hosted by this site.
    pub parties: Vec<PartyId>,
    /// Data dir: tables, job files, logs.
    pub data_dir: PathBuf,
    /// Cores this site offers to jobs, per hosted party.
    pub cores: i64,
    /// Memory (MB) this site offers to jobs, per hosted party.
    pub memory: i64,
    /// Share of the capacity one job may take (FATE's `max_cores_percent_per_job`).
    pub max_cores_percent_per_job: f64,
    /// Seconds without a heartbeat after which a running task is declared dead.
    pub heartbeat_timeout_s: i64,
    /// A task's memory budget (MB) when its job sets no `task_memory`; 0 leaves it to
    /// the executor's default.
    pub task_memory_mb: u64,
}

impl SiteConfig {
    /// The engine row holding a party's capacity.
    pub fn engine_name(party_id: PartyId) -> String {
        format!("STANDALONE_{party_id}")
    }

    /// Where a job's files go; refuses a job id that is not one plain name.
    pub fn job_dir(&self, job_id: &str) -> Result<PathBuf, UnsafePath> {
        safe_join(&self.data_dir, &["jobs", job_id])
    }

    /// Where a task's log goes: `logs/<job>/<role>/<party>/<component>/`.
    pub fn task_log_dir(
        &self,
        job_id: &str,
        role: Role,
        party_id: PartyId,
        component: &str,
    ) -> Result<PathBuf, UnsafePath> {
        safe_join(
            &self.data_dir,
            &[
                "logs",
                job_id,
                role.as_str(),
                &party_id.to_string(),
                component,
            ],
        )
    }
}

/// A command's failure at a party: FATE's retcode and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// FATE return code.
    pub retcode: i32,
    /// Why.
    pub message: String,
}

impl Refusal {
    fn new(retcode: i32, message: impl Into<String>) -> Self {
        Self {
            retcode,
            message: message.into(),
        }
    }
}

impl From<fateflow_storage::Error> for Refusal {
    fn from(e: fateflow_storage::Error) -> Self {
        Refusal::new(100, e.to_string())
    }
}

type CmdResult = Result<Value, Refusal>;

/// Executes commands for the parties hosted by this site.
pub struct PartyController {
    pub(crate) store: Arc<dyn MetadataStore>,
    launcher: Arc<dyn TaskLauncher>,
    config: Arc<SiteConfig>,
    pub(crate) events: EventSender,
    server: OnceLock<String>,
    /// Where `LoadModel` puts a model for online inference (the server's registry).
    online: OnceLock<Arc<dyn crate::model::OnlineLoader>>,
    /// Tasks launched by this site, by key: tokens and processes.
    live: LiveTasks,
    /// Federation sessions recently found to belong to a job with the sender in it.
    peers_seen: Mutex<HashMap<(String, Party, Party), SeenSession>>,
    /// Running tasks whose process the detector found gone, and since when: failed
    /// after [`EXIT_REPORT_GRACE`], so the exit report (code and log tail) lands first.
    seen_gone: Mutex<HashMap<String, Instant>>,
    /// Parsed jobs, shared with the initiator.
    pub(crate) parsed: ParsedJobs,
    /// Held while a job's resources are applied or returned at a party, so two role
    /// rows of one party never both take the party's share.
    resources: tokio::sync::Mutex<()>,
    /// Tasks started although their job's share at their party had no room left.
    beyond_share: AtomicU64,
    /// Whether this server holds the scheduler lease (absent: alone, always).
    gate: OnceLock<Arc<crate::cluster::LeaderGate>>,
}

/// Cores and memory a party must hold for a job.
pub fn job_resource_need(role: Role, params: &fateflow_domain::JobParameters) -> (i64, i64) {
    if role == Role::Arbiter {
        return (0, 0);
    }
    let p = i64::from(params.task_parallelism.max(1));
    (
        i64::from(params.task_cores) * p,
        i64::try_from(params.task_memory)
            .unwrap_or(i64::MAX)
            .saturating_mul(p),
    )
}

impl PartyController {
    /// A controller over a store and a launcher, validating jobs against `catalog`
    /// (a site passes the components' catalog; scheduler tests `Catalog::NAMES_ONLY`).
    pub fn new(
        store: Arc<dyn MetadataStore>,
        launcher: Arc<dyn TaskLauncher>,
        config: Arc<SiteConfig>,
        events: EventSender,
        catalog: fateflow_domain::Catalog,
    ) -> Self {
        Self {
            store,
            launcher,
            config,
            events,
            server: OnceLock::new(),
            online: OnceLock::new(),
            live: Arc::default(),
            peers_seen: Mutex::default(),
            seen_gone: Mutex::default(),
            parsed: ParsedJobs::new(catalog),
            resources: tokio::sync::Mutex::new(()),
            beyond_share: AtomicU64::new(0),
            gate: OnceLock::new(),
        }
    }

    /// Shares the scheduler lease's gate (once, at start-up of a clustered server).
    pub fn set_gate(&self, gate: Arc<crate::cluster::LeaderGate>) {
        let _ = self.gate.set(gate);
    }

    /// Whether this server runs the scheduler, detector and tasks now.
    pub fn leading(&self) -> bool {
        self.gate.get().is_none_or(|g| g.is_leading())
    }

    /// Sets the HTTP address task processes report to (known once the server bound).
    pub fn set_server_address(&self, addr: String) {
        let _ = self.server.set(addr);
    }

    /// Sets where loaded models go for online inference (once, at start-up).
    pub fn set_online_loader(&self, loader: Arc<dyn crate::model::OnlineLoader>) {
        let _ = self.online.set(loader);
    }

    pub(crate) fn online_loader(&self) -> Option<&Arc<dyn crate::model::OnlineLoader>> {
        self.online.get()
    }

    /// Tasks started since start although their job's share at their party had no room
    /// left (each also logged as a warning).
    pub fn tasks_beyond_share(&self) -> u64 {
        self.beyond_share.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Parsed jobs (shared with the initiator); its counters measure the parses.
    pub fn parsed_jobs(&self) -> &ParsedJobs {
        &self.parsed
    }

    /// The site configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// Whether a party is hosted here.
    pub fn hosts(&self, party_id: PartyId) -> bool {
        self.config.parties.contains(&party_id)
    }

    /// Registers each hosted party's capacity.
    pub async fn register_engines(&self) -> Result<(), fateflow_storage::Error> {
        for p in &self.config.parties {
            self.store
                .register_engine(
                    &SiteConfig::engine_name(*p),
                    self.config.cores,
                    self.config.memory,
                    now_ms(),
                )
                .await?;
        }
        Ok(())
    }

    /// Handles one command for `party` about `job_id`.
    pub async fn handle(&self, job_id: &str, party: Party, cmd: PartyCommand) -> CmdResult {
        if !self.hosts(party.party_id) {
            return Err(Refusal::new(
                101,
                format!("party {} is not hosted by this site", party.party_id),
            ));
        }
        check_command_ids(job_id, &cmd)?;
        match cmd {
            PartyCommand::CreateJob {
                dsl,
                runtime_conf,
                train_runtime_conf,
            } => {
                self.create_job(job_id, party, dsl, runtime_conf, train_runtime_conf)
                    .await
            }
            PartyCommand::SaveModel => self.save_model(job_id, party).await,
            PartyCommand::DeployModel {
                model_id,
                model_version,
                child_model_version,
                initiator: _,
                cpn_list,
                dsl,
            } => {
                self.deploy_model(
                    party,
                    &model_id,
                    &model_version,
                    &child_model_version,
                    cpn_list.as_deref(),
                    dsl.as_ref(),
                )
                .await
            }
            PartyCommand::LoadModel {
                model_id,
                model_version,
                initiator: _,
            } => self.load_model(party, &model_id, &model_version).await,
            PartyCommand::UnloadModel {
                model_id,
                model_version,
                initiator: _,
            } => {
                let removed = self
                    .online_loader()
                    .is_some_and(|l| l.unload(party, &model_id, &model_version));
                Ok(json!({"unloaded": removed}))
            }
            PartyCommand::ApplyResource => self.apply_resource(job_id, party).await,
            PartyCommand::ReturnResource => {
                let _guard = self.resources.lock().await;
                let returned = self
                    .store
                    .return_job_resource(
                        &SiteConfig::engine_name(party.party_id),
                        job_id,
                        party.role,
                        party.party_id,
                        now_ms(),
                    )
                    .await?;
                Ok(json!({"returned": returned}))
            }
            PartyCommand::StartJob => {
                self.refuse_start_of_ended(job_id, party).await?;
                let now = now_ms();
                self.store
                    .update_job_status(job_id, party.role, party.party_id, Status::Running, now)
                    .await?;
                self.store
                    .update_job(
                        job_id,
                        party.role,
                        party.party_id,
                        &JobUpdate {
                            start_time: Some(now),
                            ..Default::default()
                        },
                        now,
                    )
                    .await?;
                Ok(Value::Null)
            }
            PartyCommand::SyncJobStatus { status, reason } => {
                self.sync_job_status(job_id, party, status, reason).await
            }
            PartyCommand::SyncProgress { progress } => {
                self.store
                    .update_job(
                        job_id,
                        party.role,
                        party.party_id,
                        &JobUpdate {
                            progress: Some(progress),
                            ..Default::default()
                        },
                        now_ms(),
                    )
                    .await?;
                Ok(Value::Null)
            }
            PartyCommand::CreateTask {
                component,
                task_version,
                auto_retries,
            } => {
                self.create_task_version(job_id, party, &component, task_version, auto_retries)
                    .await
            }
            PartyCommand::StartTask {
                component,
                task_version,
            } => {
                self.start_task(job_id, party, &component, task_version)
                    .await
            }
            PartyCommand::SyncTaskStatus {
                component,
                task_version,
                status,
            } => {
                let key = task_key(job_id, &component, task_version, party);
                let changed = self
                    .store
                    .update_task_status(&key, status, now_ms())
                    .await?;
                if changed && status.is_end() {
                    self.return_task_resource(job_id, party).await?;
                }
                Ok(json!({"changed": changed}))
            }
            PartyCommand::StopTask {
                component,
                task_version,
                status,
                reason,
            } => {
                let key = task_key(job_id, &component, task_version, party);
                self.stop_task(&key, status, &reason).await
            }
            PartyCommand::StopJob { status, reason } => {
                self.stop_job(job_id, party, status, &reason).await
            }
            PartyCommand::PrepareRerun => {
                let now = now_ms();
                let changed = self
                    .store
                    .update_job_status(job_id, party.role, party.party_id, Status::Waiting, now)
                    .await?;
                let update = JobUpdate {
                    progress: Some(0),
                    clear_end: true,
                    tag: Some("rerun".into()),
                    cancel_signal: Some(false),
                    ..Default::default()
                };
                self.store
                    .update_job(job_id, party.role, party.party_id, &update, now)
                    .await?;
                Ok(json!({"changed": changed}))
            }
        }
    }
}

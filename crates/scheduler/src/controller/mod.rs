//! The party side: what a party does when the initiator sends it a command, and
//! when its own task processes report.

use crate::clock::now_ms;
use crate::launcher::{
    GenerateToken, ModelSpec, ProcessExit, TableRefSpec, TaskLauncher, TaskSpec, TaskToken,
};
use crate::parsed::ParsedJobs;
use crate::partner::PartyCommand;
use crate::{Error, Event, EventSender};
use fateflow_domain::dsl::DataRef;
use fateflow_domain::ident::{check, safe_join, IdKind, UnsafePath};
use fateflow_domain::{ErrorKind, Job, Party, PartyId, Role, Status};
use fateflow_storage::{
    JobRecord, JobUpdate, MetadataStore, TaskFilter, TaskKey, TaskOwner, TaskRecord, TaskUpdate,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    /// The launched process (its group has the same id).
    pid: Option<i64>,
}

type LiveTasks = Arc<Mutex<HashMap<TaskKey, LiveTask>>>;

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
    /// Tasks launched by this site, by key: tokens and processes.
    live: LiveTasks,
    /// Federation sessions recently found to belong to a job with the sender in it.
    peers_seen: Mutex<HashMap<(String, Party, Party), Instant>>,
    /// Running tasks whose process the detector found gone, and since when: failed
    /// after [`EXIT_REPORT_GRACE`], so the exit report (code and log tail) lands first.
    seen_gone: Mutex<HashMap<String, Instant>>,
    /// Parsed jobs, shared with the initiator.
    pub(crate) parsed: ParsedJobs,
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
    /// A controller over a store and a launcher.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        launcher: Arc<dyn TaskLauncher>,
        config: Arc<SiteConfig>,
        events: EventSender,
    ) -> Self {
        Self {
            store,
            launcher,
            config,
            events,
            server: OnceLock::new(),
            live: Arc::default(),
            peers_seen: Mutex::default(),
            seen_gone: Mutex::default(),
            parsed: ParsedJobs::default(),
        }
    }

    /// Sets the HTTP address task processes report to (known once the server bound).
    pub fn set_server_address(&self, addr: String) {
        let _ = self.server.set(addr);
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
            PartyCommand::ApplyResource => self.apply_resource(job_id, party).await,
            PartyCommand::ReturnResource => {
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

    async fn create_job(
        &self,
        job_id: &str,
        party: Party,
        dsl: Value,
        runtime_conf: Value,
        train_runtime_conf: Option<Value>,
    ) -> CmdResult {
        let job = self
            .parsed
            .get(job_id, &dsl, &runtime_conf)
            .map_err(|e| Refusal::new(103, e.to_string()))?;
        let predict = job.conf.common_job_parameters.job_type == fateflow_domain::JobType::Predict;
        // A predict job's model must be deployed here; components whose models this
        // party does not hold (an arbiter's) have nothing to predict with and pass.
        let mut idle = Vec::new();
        if predict {
            let (Some(model_id), Some(model_version)) = (
                job.conf.common_job_parameters.model_id.clone(),
                job.conf.common_job_parameters.model_version.clone(),
            ) else {
                return Err(Refusal::new(
                    103,
                    "a predict job needs job_parameters.common.model_id and model_version",
                ));
            };
            idle = self
                .predict_model_check(party, &job, &model_id, &model_version)
                .await?;
        }
        let params = job.conf.job_parameters_for(party);
        let (need_cores, need_memory) = job_resource_need(party.role, &params);
        let limit_cores =
            (self.config.cores as f64 * self.config.max_cores_percent_per_job).floor() as i64;
        if need_cores > limit_cores {
            return Err(Refusal::new(
                103,
                format!(
                    "max cores per job is {limit_cores} base on (cores {} * max_cores_percent_per_job {}), expect {need_cores} cores \
                     (task_cores {} * task_parallelism {}); lower task_cores or raise the site's cores",
                    self.config.cores, self.config.max_cores_percent_per_job, params.task_cores, params.task_parallelism
                ),
            ));
        }
        if need_memory > self.config.memory {
            return Err(Refusal::new(
                103,
                format!(
                    "max memory per job is {} MB, expect {need_memory} MB",
                    self.config.memory
                ),
            ));
        }
        let now = now_ms();
        let mut record = JobRecord::new(
            job_id,
            party.role,
            party.party_id,
            job.conf.initiator,
            dsl,
            runtime_conf.clone(),
            json!({"job_parameters": params, "role": party.role, "party_id": party.party_id}),
            json!(job.conf.roles),
            now,
        );
        if predict {
            record.model_id = job
                .conf
                .common_job_parameters
                .model_id
                .clone()
                .unwrap_or_default();
            record.model_version = job
                .conf
                .common_job_parameters
                .model_version
                .clone()
                .unwrap_or_default();
        } else {
            let parties: Vec<Party> = job.parties();
            record.model_id = fateflow_domain::ids::model_id(&parties);
            record.model_version = job_id.to_string();
        }
        record.train_runtime_conf = train_runtime_conf.unwrap_or(runtime_conf);
        match self.store.insert_job(&record).await {
            Ok(()) => {}
            Err(fateflow_storage::Error::AlreadyExists(_)) => return Ok(json!({"created": false})),
            Err(e) => return Err(e.into()),
        }
        let dir = self
            .config
            .job_dir(job_id)
            .map_err(|e| Refusal::new(101, format!("job_id: {e}")))?;
        if let Err(e) = write_job_files(&dir, &record) {
            tracing::warn!(job_id, error = %e, "could not write job files");
        }
        let mut components = serde_json::Map::new();
        for plan in job.plan() {
            for pt in plan.parties.iter().filter(|p| p.party == party) {
                let mut pt = pt.clone();
                if idle.contains(&plan.component) {
                    pt.need_run = false;
                }
                let pt = &pt;
                let task = new_task(
                    job_id,
                    &plan.component,
                    &plan.module,
                    0,
                    party,
                    &job,
                    pt,
                    params.auto_retries,
                    now,
                );
                match self.store.insert_task(&task).await {
                    Ok(()) | Err(fateflow_storage::Error::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                components.insert(plan.component.clone(), json!({"need_run": pt.need_run}));
            }
        }
        Ok(json!({"components": components}))
    }

    async fn apply_resource(&self, job_id: &str, party: Party) -> CmdResult {
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
            .ok_or_else(|| Refusal::new(102, format!("job {job_id} not found at {party}")))?;
        let params = job_params_of(&job);
        let (cores, memory) = job_resource_need(party.role, &params);
        let engine = SiteConfig::engine_name(party.party_id);
        if job.resource_in_use {
            return Ok(json!({"applied": true}));
        }
        if self
            .store
            .apply_job_resource(
                &engine,
                job_id,
                party.role,
                party.party_id,
                cores,
                memory,
                now_ms(),
            )
            .await?
        {
            Ok(json!({"applied": true}))
        } else {
            let left = self
                .store
                .get_engine(&engine)
                .await?
                .map(|e| e.remaining_cores)
                .unwrap_or(0);
            Err(Refusal::new(
                103,
                format!("not enough resources at {party}: need {cores} cores, {left} free"),
            ))
        }
    }

    async fn sync_job_status(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: Option<String>,
    ) -> CmdResult {
        let now = now_ms();
        let changed = if status.is_end() {
            self.end_job_row(job_id, party, status, reason, now).await?
        } else {
            self.store
                .update_job_status(job_id, party.role, party.party_id, status, now)
                .await?
        };
        Ok(json!({"changed": changed}))
    }

    /// Moves a job row to its final status with its end time, elapsed time, progress
    /// and reason in the same update, so nobody reads an ended job without them; the
    /// job's resources come back. Returns whether the row changed.
    async fn end_job_row(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: Option<String>,
        now: i64,
    ) -> Result<bool, Refusal> {
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?;
        let update = end_update(job.as_ref(), status, reason, now);
        let changed = self
            .store
            .update_job_status_with(job_id, party.role, party.party_id, status, &update, now)
            .await?;
        if changed {
            self.return_job_resource(job_id, party, now).await?;
        }
        Ok(changed)
    }

    async fn return_job_resource(
        &self,
        job_id: &str,
        party: Party,
        now: i64,
    ) -> Result<(), Refusal> {
        self.store
            .return_job_resource(
                &SiteConfig::engine_name(party.party_id),
                job_id,
                party.role,
                party.party_id,
                now,
            )
            .await?;
        Ok(())
    }

    async fn create_task_version(
        &self,
        job_id: &str,
        party: Party,
        component: &str,
        version: i64,
        auto_retries: i64,
    ) -> CmdResult {
        let (tasks, _) = self
            .store
            .query_tasks(&TaskFilter {
                job_id: Some(job_id.into()),
                component_name: Some(component.into()),
                role: Some(party.role),
                party_id: Some(party.party_id),
                latest_only: true,
                ..Default::default()
            })
            .await?;
        let Some(prev) = tasks.into_iter().next() else {
            return Err(Refusal::new(
                101,
                format!("no task of {component} at {party}"),
            ));
        };
        if prev.task_version >= version {
            return Ok(json!({"created": false}));
        }
        let now = now_ms();
        let task = TaskRecord {
            task_version: version,
            status: Status::Waiting,
            party_status: Status::Waiting,
            status_code: None,
            auto_retries,
            worker_id: None,
            cmd: None,
            run_ip: None,
            run_port: None,
            run_pid: None,
            kill_status: false,
            error_report: None,
            error_kind: None,
            heartbeat_time: None,
            create_time: now,
            update_time: now,
            start_time: None,
            end_time: None,
            elapsed: None,
            ..prev
        };
        match self.store.insert_task(&task).await {
            Ok(()) | Err(fateflow_storage::Error::AlreadyExists(_)) => Ok(json!({"created": true})),
            Err(e) => Err(e.into()),
        }
    }

    async fn start_task(
        &self,
        job_id: &str,
        party: Party,
        component: &str,
        version: i64,
    ) -> CmdResult {
        let key = task_key(job_id, component, version, party);
        let task = self.store.get_task(&key).await?.ok_or_else(|| {
            Refusal::new(
                101,
                format!("task {} v{version} not found at {party}", key.task_id),
            )
        })?;
        if task.party_status != Status::Waiting {
            return Ok(json!({"started": false, "party_status": task.party_status}));
        }
        // A copy that ended (reconciled, timed out) launches nothing, whoever asks.
        self.refuse_start_of_ended(job_id, party).await?;
        let need_run = task
            .component_parameters
            .get("need_run")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let now = now_ms();
        if !need_run {
            self.store
                .update_task_party_status(&key, Status::Pass, now)
                .await?;
            self.store
                .update_task(
                    &key,
                    &TaskUpdate {
                        start_time: Some(now),
                        end_time: Some(now),
                        elapsed: Some(0),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
            self.notify_initiator(job_id);
            return Ok(json!({"started": false, "party_status": "pass"}));
        }
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
            .ok_or_else(|| Refusal::new(102, format!("job {job_id} not found at {party}")))?;
        let params = job_params_of(&job);
        let (task_cores, task_memory) = task_resource_need(party.role, &params);
        if !self
            .store
            .apply_task_resource(job_id, party.role, party.party_id, task_cores, task_memory)
            .await?
        {
            tracing::warn!(job_id, component, %party, "task started beyond the job's resource share");
        }
        let mut spec = match self.task_spec(&job, &task, &params).await {
            Ok(spec) => spec,
            Err(e) => {
                // A spec the job's own DSL and conf cannot make is the user's to fix
                // (no retry); a store or damaged job is ours.
                let message = e.to_string();
                self.fail_task_as(&key, &message, Some(e.kind())).await?;
                return Ok(json!({"started": false, "party_status": "failed", "error": message}));
            }
        };
        spec.token = match TaskToken::generate() {
            Ok(t) => t,
            Err(e) => {
                let message = format!("could not start the task process: {e}");
                self.fail_task_as(&key, &message, Some(ErrorKind::Internal))
                    .await?;
                return Ok(json!({"started": false, "party_status": "failed", "error": message}));
            }
        };
        // The token acts from before the process starts, so its first report is taken.
        lock(&self.live).insert(
            key.clone(),
            LiveTask {
                component: task.component_name.clone(),
                token: Some(spec.token.clone()),
                pid: None,
            },
        );
        // Running first, so a fast task's own reports find the row in `running`.
        self.store
            .update_task_party_status(&key, Status::Running, now)
            .await?;
        self.store
            .update_task(
                &key,
                &TaskUpdate {
                    start_time: Some(now),
                    heartbeat_time: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
        match self.launcher.launch(&spec).await {
            Ok(launched) => {
                // Unless the process already exited (and its entry went with it).
                if let Some(live) = lock(&self.live).get_mut(&key) {
                    live.pid = Some(launched.pid);
                }
                let update = TaskUpdate {
                    run_pid: Some(launched.pid),
                    cmd: Some(launched.cmd),
                    worker_id: Some(launched.worker_id),
                    run_ip: Some("127.0.0.1".into()),
                    ..Default::default()
                };
                self.store.update_task(&key, &update, now_ms()).await?;
                Ok(json!({"started": true, "pid": launched.pid}))
            }
            Err(e) => {
                lock(&self.live).remove(&key);
                // No binary, no fork: this site's trouble, retried.
                let message = format!("could not start the task process: {e}");
                self.fail_task_as(&key, &message, Some(ErrorKind::Internal))
                    .await?;
                Ok(json!({"started": false, "party_status": "failed", "error": message}))
            }
        }
    }

    async fn task_spec(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        params: &fateflow_domain::JobParameters,
    ) -> Result<TaskSpec, Error> {
        let parsed = self
            .parsed
            .get(&job.job_id, &job.dsl, &job.runtime_conf)
            .map_err(|e| {
                Error::Corrupt(format!("stored job {} no longer parses: {e}", job.job_id))
            })?;
        let spec = parsed.dsl.component(&task.component_name).ok_or_else(|| {
            Error::Corrupt(format!("component {} not in the DSL", task.component_name))
        })?;
        let party = Party {
            role: task.role,
            party_id: task.party_id,
        };
        let index = parsed.conf.index_of(party).unwrap_or(0);
        let plan = parsed.plan();
        let args = plan
            .iter()
            .find(|p| p.component == task.component_name)
            .and_then(|p| p.parties.iter().find(|pt| pt.party == party))
            .map(|pt| pt.args_tables.clone())
            .unwrap_or_default();
        let mut data_inputs: BTreeMap<String, Vec<TableRefSpec>> = BTreeMap::new();
        for (key, refs) in &spec.input.data {
            let mut tables = Vec::new();
            for r in refs {
                match r {
                    DataRef::Output(o) => {
                        // An upstream that does not run at this party (an arbiter's
                        // intersection) gives it no data, as in FATE.
                        let runs_here = plan.iter().any(|p| {
                            p.component == o.component
                                && p.parties.iter().any(|pt| pt.party == party)
                        });
                        if !runs_here {
                            continue;
                        }
                        let outputs = self
                            .store
                            .query_output_data(&job.job_id, &o.component, task.role, task.party_id)
                            .await?;
                        // An upstream that wrote no data here at all (an arbiter's
                        // HeteroLR) gives none; one that wrote others but not this
                        // name is an error.
                        if outputs.is_empty() {
                            continue;
                        }
                        let found = outputs.iter().find(|d| d.data_name == o.name).ok_or_else(|| {
                            Error::Invalid(format!("input `{r}` of {}: component {} left no output `{}` at {party}", task.component_name, o.component, o.name))
                        })?;
                        tables.push(TableRefSpec {
                            namespace: found.table_namespace.clone(),
                            name: found.table_name.clone(),
                        });
                    }
                    DataRef::Args(a) => {
                        let t = args.get(a).ok_or_else(|| {
                            Error::Invalid(format!(
                                "no table given for args.{a} at {party} (party index {index})"
                            ))
                        })?;
                        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
                        let namespace = t
                            .get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        tables.push(TableRefSpec {
                            namespace: namespace.into(),
                            name: name.into(),
                        });
                    }
                    DataRef::Pipeline(_) => {
                        return Err(Error::Invalid(format!(
                        "input `{r}` of {}: `pipeline.*` names a model; it belongs in input.model",
                        task.component_name
                    )))
                    }
                }
            }
            if !tables.is_empty() {
                data_inputs.insert(key.clone(), tables);
            }
        }
        let mut model_inputs = Vec::new();
        let mut isometric_model_inputs = Vec::new();
        for (list, out) in [
            (&spec.input.model, &mut model_inputs),
            (&spec.input.isometric_model, &mut isometric_model_inputs),
        ] {
            for r in list.iter() {
                let o = match r {
                    DataRef::Output(o) => o,
                    DataRef::Pipeline(o) => {
                        out.push(self.pipeline_model_input(job, task, o, r).await?);
                        continue;
                    }
                    DataRef::Args(_) => {
                        return Err(Error::Invalid(format!("model input `{r}`: a model input names a component's model, not `args`")));
                    }
                };
                let models = self
                    .store
                    .query_component_models(&job.job_id, &o.component, task.role, task.party_id)
                    .await?;
                // Some parties (a host without labels) legitimately have no model.
                if let Some(m) = models.iter().find(|m| m.model_alias == o.name) {
                    out.push(ModelSpec {
                        component: o.component.clone(),
                        alias: o.name.clone(),
                        module: m.module.clone(),
                        model: m.model.clone(),
                    });
                }
            }
        }
        let parameters = task
            .component_parameters
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(TaskSpec {
            job_id: job.job_id.clone(),
            component: task.component_name.clone(),
            module: task.component_module.clone(),
            task_id: task.task_id.clone(),
            task_version: task.task_version,
            role: task.role,
            party_id: task.party_id,
            parameters,
            data_inputs,
            model_inputs,
            isometric_model_inputs,
            output_data: spec.output.data.clone(),
            output_model: spec.output.model.clone(),
            data_dir: self.config.data_dir.clone(),
            log_dir: self
                .config
                .task_log_dir(&job.job_id, task.role, task.party_id, &task.component_name)
                .map_err(|e| Error::Corrupt(format!("task log dir: {e}")))?,
            server: self.server.get().cloned().unwrap_or_default(),
            task_cores: params.task_cores,
            computing_partitions: params.computing_partitions.unwrap_or(params.task_cores),
            roles: parsed.conf.roles.clone(),
            federation_timeout_s: params.timeout.clamp(1, 600),
            token: TaskToken::default(),
        })
    }

    /// A predict task's `pipeline.<component>.<model>` input: this party's copy of the
    /// component model in the job's deployed model.
    async fn pipeline_model_input(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        o: &fateflow_domain::dsl::OutputRef,
        r: &DataRef,
    ) -> Result<ModelSpec, Error> {
        let key = fateflow_storage::ModelKey {
            model_id: job.model_id.clone(),
            model_version: job.model_version.clone(),
            role: task.role,
            party_id: task.party_id,
        };
        let held = self.store.model_components(&key).await?;
        let m = held
            .into_iter()
            .find(|m| m.component_name == o.component && m.model_alias == o.name)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "model input `{r}` of {}: {key} holds no model `{}` of component {}",
                    task.component_name, o.name, o.component
                ))
            })?;
        Ok(ModelSpec {
            component: o.component.clone(),
            alias: o.name.clone(),
            module: m.module,
            model: m.model,
        })
    }

    async fn fail_task(&self, key: &TaskKey, message: &str) -> Result<(), Refusal> {
        self.fail_task_as(key, message, None).await
    }

    /// Fails a task with `message` and, when known, the kind of its error (auto-retry
    /// skips a `user` error).
    async fn fail_task_as(
        &self,
        key: &TaskKey,
        message: &str,
        kind: Option<ErrorKind>,
    ) -> Result<(), Refusal> {
        let now = now_ms();
        let task = self.store.get_task(key).await?;
        let start = task.as_ref().and_then(|t| t.start_time).unwrap_or(now);
        // The reason before the status, so no round sees a failure without its cause.
        self.store
            .update_task(
                key,
                &TaskUpdate {
                    error_report: Some(message.to_string()),
                    error_kind: kind,
                    end_time: Some(now),
                    elapsed: Some(now - start),
                    ..Default::default()
                },
                now,
            )
            .await?;
        if task
            .as_ref()
            .is_some_and(|t| t.party_status == Status::Waiting)
        {
            self.store
                .update_task_party_status(key, Status::Running, now)
                .await?;
        }
        self.store
            .update_task_party_status(key, Status::Failed, now)
            .await?;
        self.notify_initiator(&key.job_id);
        Ok(())
    }

    async fn stop_task(&self, key: &TaskKey, status: Status, reason: &str) -> CmdResult {
        let Some(task) = self.store.get_task(key).await? else {
            return Ok(json!({"stopped": false}));
        };
        let now = now_ms();
        // Record the stop before killing: the exit watcher must find the task ended,
        // not mistake the kill for a crash.
        let error_report = (task.error_report.is_none() && !task.party_status.is_end())
            .then(|| reason.to_string());
        self.store
            .update_task(
                key,
                &TaskUpdate {
                    kill_status: Some(true),
                    error_report,
                    ..Default::default()
                },
                now,
            )
            .await?;
        let mut changed = false;
        // waiting -> canceled is not a task transition: a task that never ran stays
        // waiting and the job's status says why.
        if !task.party_status.is_end() && task.party_status != Status::Waiting {
            changed = self
                .store
                .update_task_party_status(key, status, now)
                .await?;
        }
        if changed {
            let update = TaskUpdate {
                end_time: Some(now),
                elapsed: task.start_time.map(|s| now - s),
                ..Default::default()
            };
            self.store.update_task(key, &update, now).await?;
        }
        let mut killed = false;
        if let Some(pid) = task.run_pid {
            if task.party_status == Status::Running {
                killed = self
                    .launcher
                    .kill(pid, &task.task_id)
                    .await
                    .map_err(|e| Refusal::new(100, e.to_string()))?;
            }
        }
        // The process launched for it dies too, whatever its row says.
        killed |= self.kill_launched(key).await;
        Ok(json!({"killed": killed, "changed": changed}))
    }

    async fn stop_job(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: &str,
    ) -> CmdResult {
        let tasks = latest_party_tasks(self.store.as_ref(), job_id, party).await?;
        let mut details = serde_json::Map::new();
        for t in tasks.iter().filter(|t| !t.party_status.is_end()) {
            let r = self.stop_task(&t.key(), status, reason).await?;
            details.insert(t.component_name.clone(), r);
        }
        // Every process launched for the job at this party dies, whatever its task row
        // says: a row can be ended (or forged) while its process lives on.
        let launched: Vec<TaskKey> = lock(&self.live)
            .keys()
            .filter(|k| k.job_id == job_id && k.role == party.role && k.party_id == party.party_id)
            .cloned()
            .collect();
        for k in &launched {
            if self.kill_launched(k).await {
                tracing::warn!(job_id, task_id = %k.task_id, %party, "stop killed a task process whose row was already ended");
            }
        }
        let now = now_ms();
        if !self
            .end_job_row(job_id, party, status, Some(reason.to_string()), now)
            .await?
        {
            self.return_job_resource(job_id, party, now).await?;
        }
        Ok(Value::Object(details))
    }

    async fn return_task_resource(&self, job_id: &str, party: Party) -> Result<(), Refusal> {
        if let Some(job) = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
        {
            let (c, m) = task_resource_need(party.role, &job_params_of(&job));
            self.store
                .return_task_resource(job_id, party.role, party.party_id, c, m)
                .await?;
        }
        Ok(())
    }

    /// A task process reported (status, pid, error) through the worker routes.
    pub async fn report_task(
        &self,
        key: &TaskKey,
        party_status: Option<Status>,
        update: TaskUpdate,
    ) -> Result<bool, Refusal> {
        let now = now_ms();
        // Fields first, status last: a scheduling round that sees the new status
        // must also see the error report that explains it.
        let mut update = update;
        let current = self.store.get_task(key).await?;
        let ending = party_status.is_some_and(Status::is_end)
            && current.as_ref().is_some_and(|t| !t.party_status.is_end());
        if ending {
            update.end_time = Some(now);
            update.elapsed = current.as_ref().and_then(|t| t.start_time).map(|s| now - s);
        }
        update.heartbeat_time = Some(now);
        self.store.update_task(key, &update, now).await?;
        let mut changed = false;
        if let Some(s) = party_status {
            changed = self.store.update_task_party_status(key, s, now).await?;
        }
        if party_status.is_some_and(Status::is_end) {
            self.reap_after_final(key);
        }
        if changed {
            self.notify_initiator(&key.job_id);
        }
        Ok(changed)
    }

    /// A task process ended; if it never reported a final status, it failed.
    pub async fn on_process_exit(&self, exit: ProcessExit) -> Result<(), Refusal> {
        let key = TaskKey {
            job_id: exit.job_id.clone(),
            task_id: exit.task_id.clone(),
            task_version: exit.task_version,
            role: exit.role,
            party_id: exit.party_id,
        };
        // The process is gone: its token and pid go with it.
        lock(&self.live).remove(&key);
        lock(&self.seen_gone).remove(&gone_key(
            &key.task_id,
            key.task_version,
            key.role,
            key.party_id,
        ));
        let Some(task) = self.store.get_task(&key).await? else {
            return Ok(());
        };
        if task.party_status.is_end() {
            return Ok(());
        }
        let code = exit
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "killed by a signal".into());
        let message = format!(
            "task process {} exited without a final status (exit code {code}); last log lines:\n{}",
            task.run_pid.unwrap_or_default(),
            exit.log_tail
        );
        tracing::warn!(job_id = %key.job_id, task_id = %key.task_id, %code, "task process exited without a final status");
        self.fail_task(&key, &message).await
    }

    /// Whether a running task's process is gone or silent; marks it failed if so.
    pub async fn check_running_task(&self, task: &TaskRecord, now: i64) -> Result<bool, Refusal> {
        let key = task.key();
        if let Some(pid) = task.run_pid {
            if !self.launcher.is_alive(pid, &task.task_id) {
                // Give a just-finished process's final report, and its exit report with
                // the code and log tail, a detector round to land.
                let fresh = self.store.get_task(&key).await?;
                let running = fresh
                    .as_ref()
                    .is_some_and(|t| t.party_status == Status::Running);
                let gone_key = gone_key(&key.task_id, key.task_version, key.role, key.party_id);
                let overdue = {
                    let mut seen = lock(&self.seen_gone);
                    if running {
                        let since = *seen.entry(gone_key.clone()).or_insert_with(Instant::now);
                        since.elapsed() >= EXIT_REPORT_GRACE
                    } else {
                        seen.remove(&gone_key);
                        false
                    }
                };
                if overdue {
                    lock(&self.seen_gone).remove(&gone_key);
                    self.fail_task(
                        &key,
                        &format!("task executor process {pid} is gone without a final status"),
                    )
                    .await?;
                    return Ok(true);
                }
                return Ok(false);
            }
        }
        let last = task.heartbeat_time.or(task.start_time).unwrap_or(now);
        if now - last > self.config.heartbeat_timeout_s * 1000 {
            // The reason is recorded before the kill, so the kill's exit report cannot
            // replace it.
            self.fail_task(
                &key,
                &format!(
                    "no heartbeat from the task process for {} s",
                    (now - last) / 1000
                ),
            )
            .await?;
            if let Some(pid) = task.run_pid {
                let _ = self.launcher.kill(pid, &task.task_id).await;
            }
            self.kill_launched(&key).await;
            return Ok(true);
        }
        Ok(false)
    }

    /// At start-up: tasks left `running` by a previous server process are killed and
    /// failed with a clear reason, so nothing is orphaned and no job waits forever.
    pub async fn recover(&self) -> Result<usize, Refusal> {
        let (tasks, _) = self
            .store
            .query_tasks(&TaskFilter {
                party_statuses: vec![Status::Running],
                ..Default::default()
            })
            .await?;
        let mut n = 0;
        for t in tasks.iter().filter(|t| self.hosts(t.party_id)) {
            if let Some(pid) = t.run_pid {
                if self.launcher.is_alive(pid, &t.task_id) {
                    let _ = self.launcher.kill(pid, &t.task_id).await;
                }
            }
            self.fail_task(
                &t.key(),
                "the site restarted while this task was running; rerun the job to continue",
            )
            .await?;
            n += 1;
        }
        Ok(n)
    }

    /// Checks a request made as task `key` of `component` (the worker routes): the
    /// token must be the one given to that very task at launch, and the task running.
    pub async fn authorize_task(
        &self,
        key: &TaskKey,
        component: &str,
        presented: Option<&str>,
    ) -> Result<(), TokenError> {
        let presented = presented
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        let who = describe_task(key);
        {
            let live = lock(&self.live);
            let Some(t) = live.get(key) else {
                return Err(TokenError::Refused(format!(
                    "task {who} holds no token at this site: it was not launched here, or its process has exited"
                )));
            };
            let Some(token) = &t.token else {
                return Err(TokenError::Refused(format!(
                    "task {who} has ended; its token acted only while it ran"
                )));
            };
            if !token.matches(presented) {
                return Err(TokenError::Refused(format!(
                    "the token presented is not the one given to task {who}: a token acts only for its own task"
                )));
            }
            if t.component != component {
                return Err(TokenError::Refused(format!(
                    "task {who} runs component `{}`, not `{component}`",
                    t.component
                )));
            }
        }
        self.check_still_running(key).await
    }

    /// Checks a federation push as `party` (its source) or pull as `party` (its
    /// destination) in `session`: the token must be that of `party`'s task whose
    /// session (`<task_id>_<version>`) it is, and the task running.
    pub async fn authorize_federation(
        &self,
        session: &str,
        party: Party,
        presented: Option<&str>,
    ) -> Result<(), TokenError> {
        let presented = presented
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        let key = {
            let live = lock(&self.live);
            let mut found = false;
            let mut mine = None;
            for (k, t) in live.iter().filter(|(k, _)| {
                k.role == party.role && k.party_id == party.party_id && session_of(k) == session
            }) {
                found = true;
                if t.token.as_ref().is_some_and(|tok| tok.matches(presented)) {
                    mine = Some(k.clone());
                }
            }
            match (found, mine) {
                (_, Some(k)) => k,
                (false, None) => {
                    return Err(TokenError::Refused(format!(
                        "no task of {party} runs in session `{session}` at this site: a task sends only as its own party, receives only its own messages, and only in its own session"
                    )))
                }
                (true, None) => {
                    return Err(TokenError::Refused(format!(
                        "the token presented is not that of {party}'s task in session `{session}`, or that task has ended"
                    )))
                }
            }
        };
        self.check_still_running(&key).await
    }

    /// Whether a federation message from `src` to `dst` (hosted here) in `session`
    /// belongs to a job of `dst` at this site whose parties include `src`. Sessions are
    /// `<task_id>_<version>`, task ids `<job_id>_<component>`.
    pub async fn check_federation_sender(
        &self,
        session: &str,
        src: Party,
        dst: Party,
    ) -> Result<(), Error> {
        let cache_key = (session.to_string(), src, dst);
        if lock(&self.peers_seen)
            .get(&cache_key)
            .is_some_and(|t| t.elapsed() < PEER_CACHE_TTL)
        {
            return Ok(());
        }
        let bad = || Error::Invalid(format!("session `{session}` is not `<task_id>_<version>`"));
        let (task_id, version) = session.rsplit_once('_').ok_or_else(bad)?;
        version.parse::<u64>().map_err(|_| bad())?;
        // Job ids may hold `_` too: try each split, shortest job id first.
        let mut job = None;
        for (i, _) in task_id.match_indices('_').take(16) {
            let job_id = &task_id[..i];
            if let Some(j) = self.store.get_job(job_id, dst.role, dst.party_id).await? {
                job = Some(j);
                break;
            }
        }
        let Some(job) = job else {
            return Err(Error::Invalid(format!(
                "session `{session}`: {dst} has no job at this site with task `{task_id}`; messages are taken only for jobs that exist here"
            )));
        };
        if !crate::initiator::parties_of(&job)?.contains(&src) {
            return Err(Error::Invalid(format!(
                "{src} is not a party of job {}, so it cannot send messages for it",
                job.job_id
            )));
        }
        let mut seen = lock(&self.peers_seen);
        if seen.len() > 10_000 {
            seen.retain(|_, t| t.elapsed() < PEER_CACHE_TTL);
        }
        seen.insert(cache_key, Instant::now());
        Ok(())
    }

    /// The task's row must still say `running`; otherwise its token is done.
    async fn check_still_running(&self, key: &TaskKey) -> Result<(), TokenError> {
        let who = describe_task(key);
        let row = self
            .store
            .get_task(key)
            .await
            .map_err(|e| TokenError::Refused(format!("reading task {who}: {e}")))?;
        match row {
            Some(t) if t.party_status == Status::Running => Ok(()),
            Some(t) => {
                if let Some(live) = lock(&self.live).get_mut(key) {
                    live.token = None;
                }
                Err(TokenError::Refused(format!(
                    "task {who} is {}; its token acted only while it ran",
                    t.party_status
                )))
            }
            None => Err(TokenError::Refused(format!(
                "task {who} is not in this site's records"
            ))),
        }
    }

    /// Ends the task's token and kills its launched process group if it still runs.
    async fn kill_launched(&self, key: &TaskKey) -> bool {
        let pid = {
            let mut live = lock(&self.live);
            let Some(t) = live.get_mut(key) else {
                return false;
            };
            t.token = None;
            t.pid
        };
        let Some(pid) = pid else {
            return false;
        };
        match self.launcher.kill(pid, &key.task_id).await {
            Ok(killed) => killed,
            Err(e) => {
                tracing::warn!(task_id = %key.task_id, pid, error = %e, "could not kill a task process");
                false
            }
        }
    }

    /// A task reported its final status: its token ends now, and its process must
    /// exit within [`FINAL_EXIT_GRACE`] or it is killed.
    fn reap_after_final(&self, key: &TaskKey) {
        let pid = {
            let mut live = lock(&self.live);
            let Some(t) = live.get_mut(key) else {
                return;
            };
            t.token = None;
            t.pid
        };
        let Some(pid) = pid else {
            return;
        };
        let (live, launcher, key) = (self.live.clone(), self.launcher.clone(), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(FINAL_EXIT_GRACE).await;
            // Still tracked means its exit was not seen.
            let tracked = lock(&live).get(&key).and_then(|t| t.pid) == Some(pid);
            if tracked && launcher.is_alive(pid, &key.task_id) {
                tracing::warn!(task_id = %key.task_id, pid, grace_s = FINAL_EXIT_GRACE.as_secs(), "task process still alive after its final status; killing it");
                let _ = launcher.kill(pid, &key.task_id).await;
            }
        });
    }

    fn notify_initiator(&self, job_id: &str) {
        let _ = self.events.send(Event::Schedule(job_id.to_string()));
    }

    /// The owner triple used by tracking rows of a task.
    pub fn owner_of(key: &TaskKey, component: &str) -> TaskOwner {
        TaskOwner {
            job_id: key.job_id.clone(),
            component_name: component.to_string(),
            task_id: key.task_id.clone(),
            task_version: key.task_version,
            role: key.role,
            party_id: key.party_id,
        }
    }
}

/// The columns a job row gets with its final status.
fn end_update(
    job: Option<&JobRecord>,
    status: Status,
    reason: Option<String>,
    now: i64,
) -> JobUpdate {
    let start = job.map(|j| j.start_time.unwrap_or(j.create_time));
    let success = status == Status::Success;
    JobUpdate {
        end_time: Some(now),
        elapsed: start.map(|s| now - s),
        tag: Some("job_end".into()),
        error_report: if success { None } else { reason },
        progress: success.then_some(100),
        ..Default::default()
    }
}

/// `<task_id> v<version> of <role>:<party>`, for messages.
fn describe_task(key: &TaskKey) -> String {
    format!(
        "{} v{} of {}:{}",
        key.task_id, key.task_version, key.role, key.party_id
    )
}

/// A task's federation session: `<task_id>_<version>`.
pub fn session_of(key: &TaskKey) -> String {
    format!("{}_{}", key.task_id, key.task_version)
}

/// Cores and memory one task takes from its job's share.
pub fn task_resource_need(role: Role, params: &fateflow_domain::JobParameters) -> (i64, i64) {
    if role == Role::Arbiter {
        return (0, 0);
    }
    (
        i64::from(params.task_cores),
        i64::try_from(params.task_memory).unwrap_or(i64::MAX),
    )
}

/// The typed job parameters stored at a party.
pub fn job_params_of(job: &JobRecord) -> fateflow_domain::JobParameters {
    job.runtime_conf_on_party
        .get("job_parameters")
        .and_then(|v| serde_json::from_value::<JobParamsRow>(v.clone()).ok())
        .map(JobParamsRow::into_params)
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct JobParamsRow {
    task_cores: u32,
    task_memory: u64,
    task_parallelism: u32,
    computing_partitions: Option<u32>,
    timeout: u64,
    auto_retries: u32,
}

impl JobParamsRow {
    fn into_params(self) -> fateflow_domain::JobParameters {
        fateflow_domain::JobParameters {
            task_cores: self.task_cores,
            task_memory: self.task_memory,
            task_parallelism: self.task_parallelism,
            computing_partitions: self.computing_partitions,
            timeout: self.timeout,
            auto_retries: self.auto_retries,
            ..Default::default()
        }
    }
}

/// The key of a component's task at a party.
pub fn task_key(job_id: &str, component: &str, version: i64, party: Party) -> TaskKey {
    TaskKey {
        job_id: job_id.to_string(),
        task_id: fateflow_domain::ids::task_id(job_id, component),
        task_version: version,
        role: party.role,
        party_id: party.party_id,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_task(
    job_id: &str,
    component: &str,
    module: &str,
    version: i64,
    party: Party,
    job: &Job,
    pt: &fateflow_domain::PartyTask,
    auto_retries: u32,
    now: i64,
) -> TaskRecord {
    let mut params = pt.parameters.clone();
    params.insert("need_run".into(), Value::Bool(pt.need_run));
    TaskRecord {
        job_id: job_id.to_string(),
        task_id: fateflow_domain::ids::task_id(job_id, component),
        task_version: version,
        role: party.role,
        party_id: party.party_id,
        component_name: component.to_string(),
        component_module: module.to_string(),
        initiator_role: job.conf.initiator.role,
        initiator_party_id: job.conf.initiator.party_id,
        federated_mode: if job
            .parties()
            .iter()
            .map(|p| p.party_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
        {
            "MULTIPLE".into()
        } else {
            "SINGLE".into()
        },
        federated_status_collect_type: "PUSH".into(),
        status: Status::Waiting,
        party_status: Status::Waiting,
        status_code: None,
        auto_retries: i64::from(auto_retries),
        auto_retry_delay: i64::try_from(job.conf.common_job_parameters.auto_retry_delay)
            .unwrap_or(i64::MAX),
        run_on_this_party: true,
        worker_id: None,
        cmd: None,
        run_ip: None,
        run_port: None,
        run_pid: None,
        provider_info: json!({"name": "fateflow-rs", "version": env!("CARGO_PKG_VERSION")}),
        component_parameters: Value::Object(params),
        engine_conf: json!({"computing_engine": "STANDALONE"}),
        kill_status: false,
        error_report: None,
        error_kind: None,
        heartbeat_time: None,
        create_time: now,
        update_time: now,
        start_time: None,
        end_time: None,
        elapsed: None,
    }
}

/// The latest version of each of a party's tasks in a job.
pub async fn latest_party_tasks(
    store: &dyn MetadataStore,
    job_id: &str,
    party: Party,
) -> Result<Vec<TaskRecord>, fateflow_storage::Error> {
    let (tasks, _) = store
        .query_tasks(&TaskFilter {
            job_id: Some(job_id.into()),
            role: Some(party.role),
            party_id: Some(party.party_id),
            latest_only: true,
            ..Default::default()
        })
        .await?;
    Ok(tasks)
}

/// How long a task whose process is gone may wait for its exit report.
const EXIT_REPORT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The key of a task in `seen_gone`.
fn gone_key(task_id: &str, version: i64, role: Role, party_id: PartyId) -> String {
    format!("{task_id}/{version}/{role}/{party_id}")
}

/// Every identifier of a command that can become a path, checked against the one
/// grammar before anything is stored or written (a partner chooses them).
fn check_command_ids(job_id: &str, cmd: &PartyCommand) -> Result<(), Refusal> {
    let bad = |e: fateflow_domain::ident::InvalidId| Refusal::new(101, e.to_string());
    let model = |id: &str, version: &str| -> Result<(), Refusal> {
        check(IdKind::ModelId, id).map_err(bad)?;
        check(IdKind::ModelVersion, version).map_err(bad)
    };
    match cmd {
        PartyCommand::DeployModel {
            model_id,
            model_version,
            child_model_version,
            cpn_list,
            ..
        } => {
            model(model_id, model_version)?;
            check(IdKind::ModelVersion, child_model_version).map_err(bad)?;
            for c in cpn_list.iter().flatten() {
                check(IdKind::Component, c).map_err(bad)?;
            }
            Ok(())
        }
        PartyCommand::LoadModel {
            model_id,
            model_version,
            ..
        } => model(model_id, model_version),
        PartyCommand::CreateTask { component, .. }
        | PartyCommand::StartTask { component, .. }
        | PartyCommand::SyncTaskStatus { component, .. }
        | PartyCommand::StopTask { component, .. } => {
            check(IdKind::JobId, job_id).map_err(bad)?;
            check(IdKind::Component, component).map_err(bad)
        }
        _ => check(IdKind::JobId, job_id).map_err(bad),
    }
}

fn write_job_files(dir: &std::path::Path, job: &JobRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, v: &Value| {
        std::fs::write(
            dir.join(name),
            serde_json::to_vec_pretty(v).unwrap_or_default(),
        )
    };
    write("job_dsl.json", &job.dsl)?;
    write("job_runtime_conf.json", &job.runtime_conf)?;
    let party_dir = dir.join(job.role.as_str()).join(job.party_id.to_string());
    std::fs::create_dir_all(&party_dir)?;
    std::fs::write(
        party_dir.join("job_runtime_on_party_conf.json"),
        serde_json::to_vec_pretty(&job.runtime_conf_on_party).unwrap_or_default(),
    )
}

/// Copies of jobs initiated by another site (see [`crate::reconcile`]).
impl PartyController {
    /// Refuses to start a job whose copy here already ended (its resource hold timed
    /// out, or it was ended after its initiator ended or lost it).
    async fn refuse_start_of_ended(&self, job_id: &str, party: Party) -> Result<(), Refusal> {
        match self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
        {
            Some(job) if job.status.is_end() => Err(Refusal::new(
                100,
                format!(
                    "job {job_id} at {party} already ended ({}): {}",
                    job.status,
                    job.error_report.as_deref().unwrap_or("no reason recorded")
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Ends this site's copy of a job with `status`, provided its row is still as the
    /// caller read it (`seen`): a start, rerun or any other command that came in
    /// between wins. Unfinished tasks are stopped, the reason recorded and the job's
    /// resources returned. Returns whether the copy ended.
    pub async fn end_copy(
        &self,
        seen: &JobRecord,
        status: Status,
        reason: &str,
    ) -> Result<bool, Refusal> {
        let job_id = seen.job_id.as_str();
        let party = Party {
            role: seen.role,
            party_id: seen.party_id,
        };
        let now = now_ms();
        // Status, reason and end time in one update: nobody reads the ended copy
        // without them.
        let update = end_update(Some(seen), status, Some(reason.to_string()), now);
        if !self
            .store
            .update_job_status_from(seen, status, &update, now)
            .await?
        {
            return Ok(false);
        }
        let tasks = latest_party_tasks(self.store.as_ref(), job_id, party).await?;
        for t in tasks.iter().filter(|t| !t.party_status.is_end()) {
            if let Err(e) = self.stop_task(&t.key(), status, reason).await {
                tracing::warn!(job_id, task_id = %t.task_id, error = %e.message, "stopping a task of an ended copy failed");
            }
        }
        self.return_job_resource(job_id, party, now).await?;
        self.notify_initiator(job_id);
        Ok(true)
    }
}

//! In-process scheduler harness: one site wired as `crates/server/src/site.rs` does
//! (in-memory SQLite store, `PartyController`, `LocalPartner`, `Scheduler` loop,
//! detector), without HTTP and without processes. A [`VirtualLauncher`] plays each
//! launched task from a script and reports through the controller's task paths with
//! the task's own token, so the whole state machine runs for real with fake tasks.
//!
//! Everything that touches the scheduler's API is in this file, so adapting to an API
//! change is one edit.

#![allow(dead_code, unreachable_pub)]

use async_trait::async_trait;
use fateflow_domain::{ErrorKind, Party, PartyId, Role, Status};
use fateflow_scheduler::local::LocalPartner;
use fateflow_scheduler::{
    event_channel, LaunchError, Launched, PartyController, ProcessExit, Scheduler, SiteConfig,
    TaskHandle, TaskLauncher, TaskSpec,
};
use fateflow_storage::{JobRecord, MetadataStore, SqliteStore, TaskFilter, TaskKey, TaskRecord};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Scheduler tick and detector period: short, so every test is fast.
pub const TICK: Duration = Duration::from_millis(30);
/// How long a test waits for a state before failing with a dump.
pub const WAIT: Duration = Duration::from_secs(10);

pub const GUEST: Party = Party {
    role: Role::Guest,
    party_id: 9999,
};
pub const HOST: Party = Party {
    role: Role::Host,
    party_id: 10000,
};
pub const ARBITER: Party = Party {
    role: Role::Arbiter,
    party_id: 10000,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a fake task does once started (after its delay and gate).
#[derive(Debug, Clone)]
pub enum Act {
    /// Reports `success`, then exits 0.
    Succeed,
    /// Reports `failed` with this error (no kind given), then exits 1.
    Fail(String),
    /// Reports `failed` with this error and kind, then exits 1.
    FailAs(String, ErrorKind),
    /// Runs until killed; never reports.
    Hang,
    /// Exits without a final status; the exit watcher reports it at once.
    Die { code: Option<i32>, log_tail: String },
    /// Exits without a final status, and the exit watcher reports it only after
    /// `seen_after_ms` (the detector may find the pid gone first).
    DieSeenLate {
        code: Option<i32>,
        log_tail: String,
        seen_after_ms: u64,
    },
    /// The launch itself fails with this message (no process).
    LaunchFails(String),
}

/// A gate a test opens to let scripted tasks go on.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    pub fn new() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
    pub fn open(&self) {
        self.0.send_replace(true);
    }
    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// One scripted behaviour and the tasks it applies to (unset fields match all).
#[derive(Clone)]
pub struct Rule {
    pub job_id: Option<String>,
    pub component: Option<String>,
    pub role: Option<Role>,
    pub version: Option<i64>,
    pub after: Duration,
    pub gate: Option<Gate>,
    pub act: Act,
    /// How many more launches it applies to (`None`: all).
    pub times: Option<usize>,
}

impl Rule {
    /// `act` for every task of `component`.
    pub fn on(component: &str, act: Act) -> Self {
        Self {
            component: Some(component.into()),
            ..Self::all(act)
        }
    }
    /// `act` for every task.
    pub fn all(act: Act) -> Self {
        Self {
            job_id: None,
            component: None,
            role: None,
            version: None,
            after: Duration::from_millis(5),
            gate: None,
            act,
            times: None,
        }
    }
    pub fn job(mut self, job_id: &str) -> Self {
        self.job_id = Some(job_id.into());
        self
    }
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = Some(v);
        self
    }
    pub fn after_ms(mut self, ms: u64) -> Self {
        self.after = Duration::from_millis(ms);
        self
    }
    /// Only for the first matching launch.
    pub fn once(mut self) -> Self {
        self.times = Some(1);
        self
    }
    pub fn gate(mut self, gate: &Gate) -> Self {
        self.gate = Some(gate.clone());
        self
    }
    fn matches(&self, s: &TaskSpec) -> bool {
        self.job_id.as_ref().is_none_or(|j| *j == s.job_id)
            && self.component.as_ref().is_none_or(|c| *c == s.component)
            && self.role.is_none_or(|r| r == s.role)
            && self.version.is_none_or(|v| v == s.task_version)
            && self.times != Some(0)
    }
}

/// A task the virtual launcher started.
#[derive(Debug, Clone)]
pub struct Launch {
    pub spec: TaskSpec,
    pub pid: i64,
    pub at: Instant,
}

/// What happened to a fake task's reports and process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its final report was taken (`report_task` answered `changed`).
    Reported { pid: i64, changed: bool },
    /// The controller refused its token.
    TokenRefused { pid: i64, reason: String },
    /// It was killed.
    Killed { pid: i64 },
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    launches: Vec<Launch>,
    alive: HashMap<i64, TaskKey>,
    exiting: std::collections::HashSet<i64>,
    outcomes: Vec<Outcome>,
}

/// A [`TaskLauncher`] that starts no process: each launch plays a scripted [`Rule`]
/// (the first that matches; by default: succeed after 5 ms).
pub struct VirtualLauncher {
    me: Weak<VirtualLauncher>,
    controller: OnceLock<Weak<PartyController>>,
    next_pid: AtomicI64,
    state: Mutex<State>,
}

impl VirtualLauncher {
    fn new() -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            controller: OnceLock::new(),
            next_pid: AtomicI64::new(40_000),
            state: Mutex::default(),
        })
    }

    fn controller(&self) -> Option<Arc<PartyController>> {
        self.controller.get().and_then(Weak::upgrade)
    }

    /// Adds a rule; earlier rules win.
    pub fn script(&self, rule: Rule) {
        lock(&self.state).rules.push(rule);
    }

    pub fn launches(&self) -> Vec<Launch> {
        lock(&self.state).launches.clone()
    }

    /// Launches of one component's tasks, in order.
    pub fn launches_of(&self, job_id: &str, component: &str) -> Vec<Launch> {
        self.launches()
            .into_iter()
            .filter(|l| l.spec.job_id == job_id && l.spec.component == component)
            .collect()
    }

    pub fn outcomes(&self) -> Vec<Outcome> {
        lock(&self.state).outcomes.clone()
    }

    /// Pids of fake processes still running.
    pub fn alive(&self) -> Vec<i64> {
        lock(&self.state).alive.keys().copied().collect()
    }

    fn is_running(&self, pid: i64) -> bool {
        lock(&self.state).alive.contains_key(&pid)
    }

    /// The process ends. The exit watcher tells the controller at once (before the
    /// pid is gone, so the detector cannot get in between), or after `seen_after`
    /// with the pid already gone.
    async fn exit(
        &self,
        pid: i64,
        code: Option<i32>,
        log_tail: &str,
        seen_after: Option<Duration>,
    ) {
        let key = {
            let mut st = lock(&self.state);
            let Some(key) = st.alive.get(&pid).cloned() else {
                return;
            };
            if !st.exiting.insert(pid) {
                return;
            }
            key
        };
        if let Some(d) = seen_after {
            lock(&self.state).alive.remove(&pid);
            tokio::time::sleep(d).await;
        }
        if let Some(ctl) = self.controller() {
            let exit = ProcessExit {
                job_id: key.job_id.clone(),
                task_id: key.task_id.clone(),
                task_version: key.task_version,
                role: key.role,
                party_id: key.party_id,
                code,
                log_tail: log_tail.into(),
            };
            if let Err(e) = ctl.on_process_exit(exit).await {
                panic!("on_process_exit refused: {e:?}");
            }
        }
        lock(&self.state).alive.remove(&pid);
    }

    async fn play(self: Arc<Self>, spec: TaskSpec, pid: i64, rule: Rule) {
        tokio::time::sleep(rule.after).await;
        if let Some(g) = &rule.gate {
            g.wait().await;
        }
        if !self.is_running(pid) {
            return;
        }
        let (status, error) = match rule.act {
            Act::Hang | Act::LaunchFails(_) => return,
            Act::Die { code, log_tail } => return self.exit(pid, code, &log_tail, None).await,
            Act::DieSeenLate {
                code,
                log_tail,
                seen_after_ms,
            } => {
                let late = Some(Duration::from_millis(seen_after_ms));
                return self.exit(pid, code, &log_tail, late).await;
            }
            Act::Succeed => (Status::Success, None),
            Act::Fail(m) => (Status::Failed, Some((m, None))),
            Act::FailAs(m, kind) => (Status::Failed, Some((m, Some(kind)))),
        };
        let Some(ctl) = self.controller() else {
            return;
        };
        let key = key_of(&spec);
        // As the worker routes do: the token first, then the report.
        let outcome = match ctl
            .authorize_task(&key, &spec.component, Some(spec.token.secret()))
            .await
        {
            Err(e) => Outcome::TokenRefused {
                pid,
                reason: e.to_string(),
            },
            Ok(()) => {
                let changed = report_final(&ctl, &key, status, error)
                    .await
                    .unwrap_or_else(|e| panic!("report_task refused: {e:?}"));
                Outcome::Reported { pid, changed }
            }
        };
        lock(&self.state).outcomes.push(outcome);
        let code = if status == Status::Success { 0 } else { 1 };
        self.exit(pid, Some(code), "", None).await;
    }
}

/// A task's final report, as the worker route passes it on: status, error and kind.
async fn report_final(
    ctl: &PartyController,
    key: &TaskKey,
    status: Status,
    error: Option<(String, Option<ErrorKind>)>,
) -> Result<bool, fateflow_scheduler::controller::Refusal> {
    let (error_report, error_kind) = error.map_or((None, None), |(m, k)| (Some(m), k));
    let update = fateflow_storage::TaskUpdate {
        error_report,
        error_kind,
        ..Default::default()
    };
    ctl.report_task(key, Some(status), update).await
}

fn key_of(spec: &TaskSpec) -> TaskKey {
    TaskKey {
        job_id: spec.job_id.clone(),
        task_id: spec.task_id.clone(),
        task_version: spec.task_version,
        role: spec.role,
        party_id: spec.party_id,
    }
}

#[async_trait]
impl TaskLauncher for VirtualLauncher {
    async fn launch(&self, spec: &TaskSpec) -> Result<Launched, LaunchError> {
        let pid = self.next_pid.fetch_add(1, Ordering::SeqCst);
        let rule = {
            let mut st = lock(&self.state);
            let rule = match st.rules.iter_mut().find(|r| r.matches(spec)) {
                Some(r) => {
                    if let Some(n) = &mut r.times {
                        *n -= 1;
                    }
                    r.clone()
                }
                None => Rule::all(Act::Succeed),
            };
            if let Act::LaunchFails(m) = &rule.act {
                return Err(LaunchError(m.clone()));
            }
            st.launches.push(Launch {
                spec: spec.clone(),
                pid,
                at: Instant::now(),
            });
            st.alive.insert(pid, key_of(spec));
            rule
        };
        let me = self.me.upgrade().expect("launcher alive");
        tokio::spawn(me.play(spec.clone(), pid, rule));
        Ok(Launched {
            pid: Some(pid),
            cmd: format!("virtual {}", spec.task_id),
            worker_id: format!("virtual-{pid}"),
        })
    }

    async fn kill(&self, task: &TaskHandle) -> Result<bool, LaunchError> {
        let Some(pid) = task.pid else {
            return Ok(false);
        };
        if !self.is_alive(task).await {
            return Ok(false);
        }
        // A SIGKILL sent twice is harmless; record the first.
        let mut st = lock(&self.state);
        if !st.outcomes.contains(&Outcome::Killed { pid }) {
            st.outcomes.push(Outcome::Killed { pid });
        }
        drop(st);
        // The exit comes later, through the watcher, as for a signalled process.
        let me = self.me.upgrade().expect("launcher alive");
        tokio::spawn(async move { me.exit(pid, None, "killed", None).await });
        Ok(true)
    }

    async fn is_alive(&self, task: &TaskHandle) -> bool {
        let Some(pid) = task.pid else {
            return false;
        };
        lock(&self.state)
            .alive
            .get(&pid)
            .is_some_and(|k| k.task_id == task.task_id)
    }
}

/// Refuses to write a finished job row without its end time, so every harness test
/// checks that a job's final status and end time are written together.
const FINISHED_JOB_HAS_END_TIME: &str = "
CREATE TRIGGER finished_job_has_end_time BEFORE UPDATE OF status ON job
WHEN NEW.status IN ('success', 'failed', 'canceled', 'timeout') AND NEW.end_time IS NULL
BEGIN SELECT RAISE(ABORT, 'a finished job without an end time'); END;
";

/// Site options.
pub struct SiteOptions {
    pub parties: Vec<PartyId>,
    /// Cores per hosted party.
    pub cores: i64,
    pub heartbeat_timeout_s: i64,
}

impl Default for SiteOptions {
    fn default() -> Self {
        Self {
            parties: vec![GUEST.party_id, HOST.party_id],
            cores: 4,
            heartbeat_timeout_s: 60,
        }
    }
}

/// One site in-process: store, controller, scheduler loop and detector running.
pub struct Site {
    pub store: Arc<dyn MetadataStore>,
    pub controller: Arc<PartyController>,
    pub scheduler: Arc<Scheduler>,
    pub launcher: Arc<VirtualLauncher>,
    loops: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        for l in &self.loops {
            l.abort();
        }
    }
}

impl Site {
    pub async fn start() -> Self {
        Self::start_with(SiteOptions::default()).await
    }

    /// A site hosting the guest alone, with the default options.
    pub async fn guest_only() -> Self {
        Self::start_with(SiteOptions {
            parties: vec![GUEST.party_id],
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(opts: SiteOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::memory().await.unwrap();
        sqlite
            .execute_script(FINISHED_JOB_HAS_END_TIME)
            .await
            .unwrap();
        let store: Arc<dyn MetadataStore> = Arc::new(sqlite);
        let config = Arc::new(SiteConfig {
            parties: opts.parties,
            data_dir: dir.path().into(),
            cores: opts.cores,
            memory: 1 << 20,
            max_cores_percent_per_job: 1.0,
            heartbeat_timeout_s: opts.heartbeat_timeout_s,
            task_memory_mb: 0,
        });
        let launcher = VirtualLauncher::new();
        let (events, events_rx) = event_channel();
        let controller = Arc::new(PartyController::new(
            store.clone(),
            launcher.clone(),
            config,
            events.clone(),
            fateflow_domain::Catalog::NAMES_ONLY,
        ));
        let _ = launcher.controller.set(Arc::downgrade(&controller));
        controller.register_engines().await.unwrap();
        controller.set_server_address("http://127.0.0.1:1".into());
        let partner = Arc::new(LocalPartner::new(controller.clone()));
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            partner,
            controller.clone(),
            events,
        ));
        let loops = vec![
            tokio::spawn(scheduler.clone().run(events_rx, TICK)),
            tokio::spawn(fateflow_scheduler::detector::run(
                store.clone(),
                controller.clone(),
                scheduler.clone(),
                TICK,
            )),
        ];
        Self {
            store,
            controller,
            scheduler,
            launcher,
            loops,
            _dir: dir,
        }
    }

    /// Submits a job; panics with the reason if refused.
    pub async fn submit(&self, dsl: &Value, conf: &Value) -> String {
        match self.scheduler.submit(dsl, conf).await {
            Ok(r) => r.job_id,
            Err(e) => panic!("submit refused: {e}"),
        }
    }

    pub async fn stop(&self, job_id: &str, reason: &str) {
        self.scheduler
            .request_stop(job_id, Status::Canceled, reason)
            .await
            .unwrap_or_else(|e| panic!("stop: {e}"));
    }

    /// Reruns a job (every unfinished component, or from `component`).
    pub async fn rerun(&self, job_id: &str, component: Option<&str>) -> Vec<String> {
        self.try_rerun(job_id, component)
            .await
            .unwrap_or_else(|e| panic!("rerun: {e}"))
    }

    /// A rerun, its refusal as text.
    pub async fn try_rerun(
        &self,
        job_id: &str,
        component: Option<&str>,
    ) -> Result<Vec<String>, String> {
        self.scheduler
            .request_rerun(job_id, component.map(String::from), false)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn job(&self, job_id: &str, party: Party) -> JobRecord {
        self.store
            .get_job(job_id, party.role, party.party_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no job {job_id} at {party}"))
    }

    /// Every task row (every version) of a job.
    pub async fn tasks(&self, job_id: &str) -> Vec<TaskRecord> {
        self.store
            .query_tasks(&TaskFilter {
                job_id: Some(job_id.into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .0
    }

    /// The rows of one component at one party, by version.
    pub async fn task_versions(
        &self,
        job_id: &str,
        component: &str,
        party: Party,
    ) -> Vec<TaskRecord> {
        let mut rows: Vec<TaskRecord> = self
            .tasks(job_id)
            .await
            .into_iter()
            .filter(|t| {
                t.component_name == component
                    && t.role == party.role
                    && t.party_id == party.party_id
            })
            .collect();
        rows.sort_by_key(|t| t.task_version);
        rows
    }

    /// The latest row of one component at one party.
    pub async fn task(&self, job_id: &str, component: &str, party: Party) -> TaskRecord {
        self.task_versions(job_id, component, party)
            .await
            .pop()
            .unwrap_or_else(|| panic!("no task {component} at {party} in {job_id}"))
    }

    pub async fn free_cores(&self, party_id: PartyId) -> i64 {
        self.store
            .get_engine(&SiteConfig::engine_name(party_id))
            .await
            .unwrap()
            .unwrap()
            .remaining_cores
    }

    /// Waits until the job at `party` satisfies `done`; panics with a dump after
    /// [`WAIT`].
    pub async fn wait_job(
        &self,
        job_id: &str,
        party: Party,
        done: impl Fn(&JobRecord) -> bool,
    ) -> JobRecord {
        let deadline = Instant::now() + WAIT;
        loop {
            let job = self.job(job_id, party).await;
            if done(&job) {
                return job;
            }
            if Instant::now() > deadline {
                panic!(
                    "job {job_id} at {party} stuck: status {} reason {:?}\n{}",
                    job.status,
                    job.error_report,
                    self.dump(job_id).await
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for the initiator's job row to end.
    pub async fn wait_end(&self, job_id: &str) -> JobRecord {
        self.wait_job(job_id, GUEST, ended).await
    }

    /// Waits until `cond` holds on the site; panics with `what` after [`WAIT`].
    pub async fn wait_until<F, Fut>(&self, what: &str, cond: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + WAIT;
        while !cond().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Task rows as lines, for failure messages.
    pub async fn dump(&self, job_id: &str) -> String {
        self.tasks(job_id)
            .await
            .iter()
            .map(|t| {
                format!(
                    "  {} v{} {}:{} status={} party_status={} err={:?}",
                    t.component_name,
                    t.task_version,
                    t.role,
                    t.party_id,
                    t.status,
                    t.party_status,
                    t.error_report
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A job row that ended. The controller writes `end_time` just after the status, so
/// both are waited for.
pub fn ended(j: &JobRecord) -> bool {
    j.status.is_end() && j.end_time.is_some()
}

/// An example job from `examples/jobs/<name>`: (dsl, conf).
pub fn example(name: &str) -> (Value, Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/jobs")
        .join(name);
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    (read("dsl.json"), read("conf.json"))
}

/// Reader + DataTransform at the guest only.
pub fn one_party_job() -> (Value, Value) {
    let (dsl, mut conf) = example("reader_transform");
    conf["role"] = serde_json::json!({"guest": [GUEST.party_id]});
    conf["component_parameters"]["role"]
        .as_object_mut()
        .unwrap()
        .remove("host");
    (dsl, conf)
}

/// The hetero LR example: guest 9999, host and arbiter 10000, seven components.
pub fn three_party_job() -> (Value, Value) {
    example("hetero_lr")
}

/// Sets `job_parameters.common.<key>`.
pub fn set_job_param(conf: &mut Value, key: &str, value: Value) {
    conf["job_parameters"]["common"][key] = value;
}

/// Sets the job's `auto_retries` and `auto_retry_delay` (seconds).
pub fn set_retries(conf: &mut Value, retries: u32, delay_s: u64) {
    set_job_param(conf, "auto_retries", retries.into());
    set_job_param(conf, "auto_retry_delay", delay_s.into());
}

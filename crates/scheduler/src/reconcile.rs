//! Copies of jobs initiated by another site ("partner copies"): this site runs its
//! parties' share, but only the initiator decides when the job ends. When the
//! initiator's commands never come (it crashed, lost the job, ended it while this
//! site was down, or never meant to start it), the copy would hold its resources
//! forever. This loop bounds that:
//!
//! - a copy that holds resources without being started ends after the resource hold
//!   timeout, its resources returned, with a reason naming the initiator;
//! - at start-up (the first round) every unfinished copy asks its initiator for the
//!   job's status; later, a copy whose row has not changed for the check interval
//!   asks again, and one whose initiator could not be reached asks again soon (so a
//!   reconnect is noticed). A copy the initiator ended, or does not know, is ended
//!   here with a reason, its tasks stopped and its resources returned. A copy still
//!   running at the initiator is left alone: the tasks failed by `recover()` reach
//!   the initiator through the reports. A copy whose initiator stayed unreachable for
//!   the whole check interval, with no task running here, ends too (by then the
//!   initiator, if alive, has failed the job on its side after its party timeout).

use crate::clock::now_ms;
use crate::controller::PartyController;
use crate::partner::{CommandError, InitiatorView, Partner};
use fateflow_domain::{Party, Status};
use fateflow_storage::{JobFilter, JobRecord, MetadataStore, TaskFilter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long partner copies may wait on their initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// A copy holding resources this long without being started is ended.
    pub resource_hold_timeout: Duration,
    /// A copy whose row has not changed this long asks its initiator for the job's
    /// status.
    pub initiator_check: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            resource_hold_timeout: Duration::from_secs(300),
            initiator_check: Duration::from_secs(600),
        }
    }
}

/// An initiator that says it does not know a job is believed only for copies older
/// than this (or the check interval, if shorter): a job is created at every party
/// one after the other.
const UNKNOWN_GRACE_MS: i64 = 30_000;
/// The longest wait before asking an unreachable initiator again.
const RETRY_MAX_MS: i64 = 30_000;

/// Runs reconciliation rounds until the process ends; the first round runs at once.
pub async fn run(
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    partner: Arc<dyn Partner>,
    config: ReconcileConfig,
) {
    let period = config
        .resource_hold_timeout
        .min(config.initiator_check)
        .div_f64(5.0)
        .clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut r = Reconciler::new(store, controller.clone(), partner, config);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !controller.leading() {
            continue;
        }
        if let Err(e) = r.round(now_ms()).await {
            tracing::error!(error = %e, "reconciling jobs initiated by other sites failed");
        }
    }
}

/// When a copy last asked its initiator, and whether it got an answer.
#[derive(Debug, Clone, Copy)]
struct Asked {
    at: i64,
    answered: bool,
    /// Since when every ask found the initiator unreachable.
    unreachable_since: Option<i64>,
}

/// The state of the reconciliation loop.
pub struct Reconciler {
    store: Arc<dyn MetadataStore>,
    controller: Arc<PartyController>,
    partner: Arc<dyn Partner>,
    config: ReconcileConfig,
    asked: HashMap<(String, Party), Asked>,
    first_round: bool,
}

impl Reconciler {
    /// A reconciler whose first round asks about every unfinished copy.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        controller: Arc<PartyController>,
        partner: Arc<dyn Partner>,
        config: ReconcileConfig,
    ) -> Self {
        Self {
            store,
            controller,
            partner,
            config,
            asked: HashMap::new(),
            first_round: true,
        }
    }

    /// Unfinished copies here of jobs whose initiator is another site.
    async fn partner_copies(&self) -> Result<Vec<JobRecord>, crate::Error> {
        let (jobs, _) = self
            .store
            .query_jobs(&JobFilter {
                is_initiator: Some(false),
                statuses: vec![Status::Ready, Status::Waiting, Status::Running],
                ..Default::default()
            })
            .await?;
        Ok(jobs
            .into_iter()
            .filter(|j| {
                self.controller.hosts(j.party_id) && !self.controller.hosts(j.initiator_party_id)
            })
            .collect())
    }

    /// One round: expired resource holds, then the copies due to ask their initiator.
    pub async fn round(&mut self, now: i64) -> Result<(), crate::Error> {
        let copies = self.partner_copies().await?;
        let first = std::mem::take(&mut self.first_round);
        self.asked.retain(|k, _| {
            copies
                .iter()
                .any(|j| (&j.job_id, party_of(j)) == (&k.0, k.1))
        });
        for job in copies {
            if self.hold_expired(&job, now) {
                self.expire_hold(&job, now).await;
                continue;
            }
            if first || self.due(&job, now) {
                self.ask(&job, now).await;
            }
        }
        Ok(())
    }

    fn hold_expired(&self, job: &JobRecord, now: i64) -> bool {
        let hold_ms =
            i64::try_from(self.config.resource_hold_timeout.as_millis()).unwrap_or(i64::MAX);
        job.resource_in_use
            && matches!(job.status, Status::Ready | Status::Waiting)
            && job
                .apply_resource_time
                .is_some_and(|t| now.saturating_sub(t) >= hold_ms)
    }

    fn due(&self, job: &JobRecord, now: i64) -> bool {
        let check_ms = i64::try_from(self.config.initiator_check.as_millis()).unwrap_or(i64::MAX);
        match self.asked.get(&(job.job_id.clone(), party_of(job))) {
            Some(a) if !a.answered => now.saturating_sub(a.at) >= check_ms.min(RETRY_MAX_MS),
            Some(a) => now.saturating_sub(a.at.max(job.update_time)) >= check_ms,
            None => now.saturating_sub(job.update_time) >= check_ms,
        }
    }

    async fn expire_hold(&self, job: &JobRecord, now: i64) {
        let party = party_of(job);
        let held_s = job.apply_resource_time.map_or(0, |t| (now - t) / 1000);
        let reason = format!(
            "job {} held {} cores at {party} for {held_s} s without its initiator {} starting it \
             (resource hold timeout {} s); its resources were returned",
            job.job_id,
            job.cores,
            initiator_of(job),
            self.config.resource_hold_timeout.as_secs()
        );
        match self.controller.end_copy(job, Status::Failed, &reason).await {
            Ok(true) => {
                tracing::warn!(job_id = %job.job_id, %party, initiator = %initiator_of(job), "{reason}")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(job_id = %job.job_id, %party, error = %e.message, "ending a copy whose resource hold expired failed")
            }
        }
    }

    async fn ask(&mut self, job: &JobRecord, now: i64) {
        let party = party_of(job);
        let initiator = initiator_of(job);
        let answer = self
            .partner
            .ask_initiator(&job.job_id, party, initiator)
            .await;
        let key = (job.job_id.clone(), party);
        let check_ms = i64::try_from(self.config.initiator_check.as_millis()).unwrap_or(i64::MAX);
        let view = match answer {
            Ok(v) => {
                self.asked.insert(
                    key,
                    Asked {
                        at: now,
                        answered: true,
                        unreachable_since: None,
                    },
                );
                v
            }
            Err(e) => {
                let unreachable = matches!(e, CommandError::Unreachable { .. });
                let since = unreachable.then(|| {
                    self.asked
                        .get(&key)
                        .and_then(|a| a.unreachable_since)
                        .unwrap_or(now)
                });
                self.asked.insert(
                    key,
                    Asked {
                        at: now,
                        answered: false,
                        unreachable_since: since,
                    },
                );
                if unreachable {
                    tracing::info!(job_id = %job.job_id, %party, %initiator, error = %e.message(), "the job's initiator could not be asked for its status; asking again later");
                } else {
                    tracing::warn!(job_id = %job.job_id, %party, %initiator, error = %e.message(), "the job's initiator refused to give its status");
                }
                // An initiator gone for the whole check interval has failed the job on
                // its side (its party timeout); a copy with nothing running ends too.
                let Some(since) = since else { return };
                if now.saturating_sub(since) < check_ms || self.has_running_task(job).await {
                    return;
                }
                let reason = format!(
                    "the initiator {initiator} of job {} could not be reached for {} s ({}) and \
                     no task of the job runs at {party}; this site's copy was ended and its \
                     resources returned",
                    job.job_id,
                    (now - since) / 1000,
                    e.message()
                );
                self.end(job, Status::Failed, &reason, now).await;
                return;
            }
        };
        let (status, reason) = match view {
            InitiatorView::Known { status, .. } if !status.is_end() => return,
            InitiatorView::Known { status, reason } => {
                let why = reason
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                // A success with tasks still running here is no success of this copy.
                let local = if status == Status::Success && self.has_running_task(job).await {
                    Status::Canceled
                } else {
                    status
                };
                (
                    local,
                    format!(
                        "the initiator {initiator} ended job {} ({status}{why}) and this site's \
                         copy at {party} had missed it; ended here and its resources returned",
                        job.job_id
                    ),
                )
            }
            InitiatorView::Unknown => {
                if now.saturating_sub(job.create_time) < UNKNOWN_GRACE_MS.min(check_ms) {
                    return;
                }
                (
                    Status::Failed,
                    format!(
                        "the initiator {initiator} does not know job {} (its site holds no such \
                         job initiated by it); this site's copy at {party} was ended and its \
                         resources returned",
                        job.job_id
                    ),
                )
            }
        };
        self.end(job, status, &reason, now).await;
    }

    /// Ends a copy after asking its initiator.
    async fn end(&mut self, job: &JobRecord, status: Status, reason: &str, now: i64) {
        let party = party_of(job);
        match self.controller.end_copy(job, status, reason).await {
            Ok(true) => {
                tracing::warn!(job_id = %job.job_id, %party, initiator = %initiator_of(job), %status, "{reason}")
            }
            Ok(false) => {
                // The copy changed while asking: look again soon.
                let since = self
                    .asked
                    .get(&(job.job_id.clone(), party))
                    .and_then(|a| a.unreachable_since);
                self.asked.insert(
                    (job.job_id.clone(), party),
                    Asked {
                        at: now,
                        answered: false,
                        unreachable_since: since,
                    },
                );
            }
            Err(e) => {
                tracing::error!(job_id = %job.job_id, %party, error = %e.message, "ending a copy of a job initiated elsewhere failed")
            }
        }
    }

    async fn has_running_task(&self, job: &JobRecord) -> bool {
        self.store
            .query_tasks(&TaskFilter {
                job_id: Some(job.job_id.clone()),
                role: Some(job.role),
                party_id: Some(job.party_id),
                party_statuses: vec![Status::Running],
                latest_only: true,
                ..Default::default()
            })
            .await
            .map_or(true, |(t, _)| !t.is_empty())
    }
}

fn party_of(job: &JobRecord) -> Party {
    Party {
        role: job.role,
        party_id: job.party_id,
    }
}

fn initiator_of(job: &JobRecord) -> Party {
    Party {
        role: job.initiator_role,
        party_id: job.initiator_party_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::SiteConfig;
    use crate::launcher::NoLauncher;
    use crate::partner::PartyCommand;
    use fateflow_domain::Role;
    use fateflow_storage::SqliteStore;
    use serde_json::Value;
    use std::sync::Mutex;

    /// An initiator whose answer the test sets; counts the questions.
    struct Initiator {
        answer: Mutex<Result<InitiatorView, CommandError>>,
        asked: Mutex<usize>,
    }

    #[async_trait::async_trait]
    impl Partner for Initiator {
        async fn send(
            &self,
            _: &str,
            party: Party,
            _: PartyCommand,
        ) -> Result<Value, CommandError> {
            Err(CommandError::Unreachable {
                party,
                command: "any".into(),
                message: "not in this test".into(),
            })
        }
        async fn ask_initiator(
            &self,
            _: &str,
            _: Party,
            _: Party,
        ) -> Result<InitiatorView, CommandError> {
            *self.asked.lock().unwrap() += 1;
            self.answer.lock().unwrap().clone()
        }
    }

    const HOST: Party = Party {
        role: Role::Host,
        party_id: 10000,
    };

    struct Fixture {
        store: Arc<dyn MetadataStore>,
        controller: Arc<PartyController>,
        initiator: Arc<Initiator>,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        /// A host-only site (the initiator guest 9999 is elsewhere) with 2 cores.
        async fn new() -> Self {
            let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::memory().await.unwrap());
            let (events, _rx) = crate::event_channel();
            let dir = tempfile::tempdir().unwrap();
            let controller = Arc::new(PartyController::new(
                store.clone(),
                Arc::new(NoLauncher),
                Arc::new(SiteConfig {
                    parties: vec![10000],
                    data_dir: dir.path().into(),
                    cores: 2,
                    memory: 0,
                    max_cores_percent_per_job: 1.0,
                    heartbeat_timeout_s: 60,
                    task_memory_mb: 0,
                }),
                events,
                fateflow_domain::Catalog::NAMES_ONLY,
            ));
            controller.register_engines().await.unwrap();
            let initiator = Arc::new(Initiator {
                answer: Mutex::new(Ok(InitiatorView::Known {
                    status: Status::Running,
                    reason: None,
                })),
                asked: Mutex::new(0),
            });
            Self {
                store,
                controller,
                initiator,
                _dir: dir,
            }
        }

        fn reconciler(&self, config: ReconcileConfig) -> Reconciler {
            Reconciler::new(
                self.store.clone(),
                self.controller.clone(),
                self.initiator.clone(),
                config,
            )
        }

        /// The psi_ecdh example created at the host and its resources applied.
        async fn create_and_apply(&self, job_id: &str) {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/jobs/psi_ecdh");
            let read = |f: &str| -> Value {
                serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
            };
            let cmd = PartyCommand::CreateJob {
                dsl: read("dsl.json"),
                runtime_conf: read("conf.json"),
                train_runtime_conf: None,
            };
            self.controller.handle(job_id, HOST, cmd).await.unwrap();
            self.controller
                .handle(job_id, HOST, PartyCommand::ApplyResource)
                .await
                .unwrap();
        }

        /// `waiting`, then started, as the initiator does.
        async fn start(&self, job_id: &str) {
            let waiting = PartyCommand::SyncJobStatus {
                status: Status::Waiting,
                reason: None,
            };
            self.controller.handle(job_id, HOST, waiting).await.unwrap();
            self.controller
                .handle(job_id, HOST, PartyCommand::StartJob)
                .await
                .unwrap();
            assert_eq!(self.job(job_id).await.status, Status::Running);
        }

        async fn job(&self, job_id: &str) -> JobRecord {
            self.store
                .get_job(job_id, HOST.role, HOST.party_id)
                .await
                .unwrap()
                .unwrap()
        }

        async fn free_cores(&self) -> i64 {
            self.store
                .get_engine(&SiteConfig::engine_name(10000))
                .await
                .unwrap()
                .unwrap()
                .remaining_cores
        }

        fn set_answer(&self, a: Result<InitiatorView, CommandError>) {
            *self.initiator.answer.lock().unwrap() = a;
        }

        fn asked(&self) -> usize {
            *self.initiator.asked.lock().unwrap()
        }
    }

    const CONFIG: ReconcileConfig = ReconcileConfig {
        resource_hold_timeout: Duration::from_secs(60),
        initiator_check: Duration::from_secs(600),
    };

    #[tokio::test]
    async fn a_hold_without_start_ends_after_the_timeout_and_returns_the_cores() {
        let f = Fixture::new().await;
        f.create_and_apply("j1").await;
        assert_eq!(f.free_cores().await, 0);
        let applied = f.job("j1").await.apply_resource_time.unwrap();
        let mut r = f.reconciler(CONFIG);
        r.round(applied + 59_000).await.unwrap();
        assert_eq!(
            f.job("j1").await.status,
            Status::Ready,
            "not before the timeout"
        );
        r.round(applied + 61_000).await.unwrap();
        let job = f.job("j1").await;
        assert_eq!(job.status, Status::Failed);
        assert!(!job.resource_in_use);
        let why = job.error_report.unwrap();
        assert!(
            why.contains("guest:9999") && why.contains("resource hold timeout 60 s"),
            "{why}"
        );
        assert_eq!(f.free_cores().await, 2);
        // A late start is refused, naming why.
        let e = f
            .controller
            .handle("j1", HOST, PartyCommand::StartJob)
            .await
            .unwrap_err();
        assert!(e.message.contains("already ended"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_first_round_asks_every_copy_and_ends_what_the_initiator_ended() {
        let f = Fixture::new().await;
        f.create_and_apply("j2").await;
        f.start("j2").await;
        let now = f.job("j2").await.update_time;
        // Still running at the initiator: left alone, and not asked again soon.
        let mut r = f.reconciler(CONFIG);
        r.round(now).await.unwrap();
        assert_eq!(f.asked(), 1);
        r.round(now + 1000).await.unwrap();
        assert_eq!(f.asked(), 1);
        assert_eq!(f.job("j2").await.status, Status::Running);
        // Ended there: a new process (restart) asks at once and ends its copy.
        f.set_answer(Ok(InitiatorView::Known {
            status: Status::Failed,
            reason: Some("component reader_0 failed at host:10000".into()),
        }));
        let mut r = f.reconciler(CONFIG);
        r.round(now + 2000).await.unwrap();
        let job = f.job("j2").await;
        assert_eq!(job.status, Status::Failed);
        assert!(!job.resource_in_use);
        let why = job.error_report.unwrap();
        assert!(
            why.contains("initiator guest:9999 ended job j2 (failed"),
            "{why}"
        );
        assert_eq!(f.free_cores().await, 2);
    }

    #[tokio::test]
    async fn an_unknown_job_ends_after_the_grace_and_an_unreachable_initiator_is_asked_again() {
        let f = Fixture::new().await;
        f.create_and_apply("j3").await;
        f.start("j3").await;
        let created = f.job("j3").await.create_time;
        // Just created: an initiator that does not know it yet is not believed.
        f.set_answer(Ok(InitiatorView::Unknown));
        let mut r = f.reconciler(CONFIG);
        r.round(created + 1000).await.unwrap();
        assert_eq!(f.asked(), 1);
        assert_eq!(f.job("j3").await.status, Status::Running);
        // Silent for the check interval: asked again; unreachable, so asked again soon.
        f.set_answer(Err(CommandError::Unreachable {
            party: Party {
                role: Role::Guest,
                party_id: 9999,
            },
            command: "job/status".into(),
            message: "connection refused".into(),
        }));
        let t = created + 1000 + 600_000;
        r.round(t).await.unwrap();
        assert_eq!(f.asked(), 2);
        r.round(t + 10_000).await.unwrap();
        assert_eq!(f.asked(), 2, "not before the retry interval");
        // Back, and it does not know the job: the copy ends.
        f.set_answer(Ok(InitiatorView::Unknown));
        r.round(t + RETRY_MAX_MS).await.unwrap();
        assert_eq!(f.asked(), 3);
        let job = f.job("j3").await;
        assert_eq!(job.status, Status::Failed);
        assert!(job.error_report.unwrap().contains("does not know job j3"));
        assert_eq!(f.free_cores().await, 2);
    }

    #[tokio::test]
    async fn an_initiator_unreachable_for_the_check_interval_ends_an_idle_copy() {
        let f = Fixture::new().await;
        f.create_and_apply("j5").await;
        f.start("j5").await;
        let t = f.job("j5").await.update_time;
        let down = || {
            Err(CommandError::Unreachable {
                party: Party {
                    role: Role::Guest,
                    party_id: 9999,
                },
                command: "job/status".into(),
                message: "connection refused".into(),
            })
        };
        f.set_answer(down());
        let mut r = f.reconciler(CONFIG);
        r.round(t).await.unwrap();
        // Down for less than the check interval: kept.
        r.round(t + 590_000).await.unwrap();
        assert_eq!(f.job("j5").await.status, Status::Running);
        // An answer in between starts the count again.
        f.set_answer(Ok(InitiatorView::Known {
            status: Status::Running,
            reason: None,
        }));
        r.round(t + 620_000).await.unwrap();
        f.set_answer(down());
        r.round(t + 1_300_000).await.unwrap();
        assert_eq!(f.job("j5").await.status, Status::Running);
        // Down for the whole interval since: ended, naming the initiator.
        r.round(t + 1_300_000 + 600_000).await.unwrap();
        let job = f.job("j5").await;
        assert_eq!(job.status, Status::Failed);
        let why = job.error_report.unwrap();
        assert!(
            why.contains("guest:9999") && why.contains("could not be reached"),
            "{why}"
        );
        assert_eq!(f.free_cores().await, 2);
    }

    #[tokio::test]
    async fn a_copy_changed_since_it_was_read_is_not_ended() {
        let f = Fixture::new().await;
        f.create_and_apply("j4").await;
        let seen = f.job("j4").await;
        // The initiator starts it meanwhile.
        f.start("j4").await;
        let ended = f
            .controller
            .end_copy(&seen, Status::Failed, "stale decision")
            .await
            .unwrap();
        assert!(!ended);
        let job = f.job("j4").await;
        assert_eq!(job.status, Status::Running);
        assert_eq!(job.error_report, None);
        assert!(job.resource_in_use);
    }
}

//! Several servers per site on one database: the holder of the scheduler lease runs
//! the scheduling rounds, the detector and the reconciler; the others answer the API
//! and wait. Every server registers and heartbeats in the database (no ZooKeeper).
//!
//! The lease lives [`LeaseTimes::ttl`] from its last renewal (the database's clock).
//! The holder renews it every [`LeaseTimes::beat`]; when it cannot renew before
//! `ttl - margin` from its last successful attempt (a database outage, a pause), it
//! stops scheduling and kills its task processes. Another server takes the lease once
//! it expires, with an epoch one more than before, and the store is fenced at that
//! epoch: the writes of a paused ex-holder that wakes up change nothing. The new
//! holder fails the tasks it finds running (their server and its processes are gone)
//! and gives each one more automatic retry, so the jobs go on.

use crate::controller::PartyController;
use crate::initiator::Scheduler;
use crate::Event;
use fateflow_storage::{InstanceRecord, LeaseState, MetadataStore, SCHEDULER_LEASE};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease's timing.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTimes {
    /// How long a renewal holds the lease.
    pub ttl: Duration,
    /// How often the holder renews and the others try to take it.
    pub beat: Duration,
    /// The holder stops this long before its lease could have expired.
    pub margin: Duration,
}

impl Default for LeaseTimes {
    /// A 14 s lease renewed every second: a dead holder is replaced within 15 s, and a
    /// holder rides out a 10 s database outage (it steps down after 12 s without a
    /// renewal).
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(14),
            beat: Duration::from_secs(1),
            margin: Duration::from_secs(2),
        }
    }
}

/// Whether this server schedules, and where the one that does is.
#[derive(Debug)]
pub struct LeaderGate {
    instance_id: String,
    clustered: bool,
    leading: AtomicBool,
    /// Until when the last renewal lets this server act as the holder (clustered).
    valid_until: Mutex<Option<Instant>>,
    epoch: AtomicI64,
    leader: Mutex<Option<LeaderInfo>>,
}

/// The current lease holder as this server last saw it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeaderInfo {
    /// Its instance id.
    pub instance_id: String,
    /// Its API address (`http://host:port`), when registered.
    pub address: Option<String>,
    /// The lease's epoch.
    pub epoch: i64,
}

impl LeaderGate {
    /// A server alone with its data dir: it always schedules.
    pub fn standalone() -> Arc<Self> {
        Arc::new(Self {
            instance_id: String::new(),
            clustered: false,
            leading: AtomicBool::new(true),
            valid_until: Mutex::new(None),
            epoch: AtomicI64::new(0),
            leader: Mutex::new(None),
        })
    }

    /// One of several servers: it schedules only while it holds the lease.
    pub fn clustered(instance_id: String) -> Arc<Self> {
        Arc::new(Self {
            instance_id,
            clustered: true,
            leading: AtomicBool::new(false),
            valid_until: Mutex::new(None),
            epoch: AtomicI64::new(0),
            leader: Mutex::new(None),
        })
    }

    /// Whether this server runs the scheduler now: it took the lease and its last
    /// renewal still covers this instant (a server paused past its lease stops acting
    /// as the holder the moment it wakes, before its loop notices).
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Acquire) && (!self.clustered || self.renewal_covers_now())
    }

    /// Whether the last successful renewal (or the takeover) still covers this instant.
    fn renewal_covers_now(&self) -> bool {
        lock(&self.valid_until).is_some_and(|until| Instant::now() < until)
    }

    fn renewed(&self, sent: Instant, times: &LeaseTimes) {
        *lock(&self.valid_until) = Some(sent + times.ttl.saturating_sub(times.margin));
    }

    /// Whether several servers share the site.
    pub fn is_clustered(&self) -> bool {
        self.clustered
    }

    /// This server's instance id ('' standalone).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The epoch this server holds the lease at (0: not holding, or standalone).
    pub fn epoch(&self) -> i64 {
        if self.is_leading() {
            self.epoch.load(Ordering::Acquire)
        } else {
            0
        }
    }

    /// The holder as last seen (None: standalone, or no holder yet).
    pub fn leader(&self) -> Option<LeaderInfo> {
        lock(&self.leader).clone()
    }

    /// Where a request that needs the scheduler goes: `None` when this server
    /// schedules, else the holder's address (`Err` when none is known yet).
    pub fn forward_to(&self) -> Option<Result<String, String>> {
        if self.is_leading() {
            return None;
        }
        Some(match self.leader() {
            Some(LeaderInfo {
                address: Some(a), ..
            }) => Ok(a),
            _ => Err("no server of this site holds the scheduler lease right now (a takeover takes up to 15 s); try again".into()),
        })
    }

    fn set_leader(&self, info: Option<LeaderInfo>) {
        *lock(&self.leader) = info;
    }
}

/// What the lease loop works with.
pub struct Cluster {
    /// The metadata store (its fence is set at each takeover).
    pub store: Arc<dyn MetadataStore>,
    /// This server's party side (its task processes).
    pub controller: Arc<PartyController>,
    /// This server's scheduler (woken at a takeover).
    pub scheduler: Arc<Scheduler>,
    /// Shared with the scheduler, the detector, the reconciler and the API.
    pub gate: Arc<LeaderGate>,
    /// This instance as registered.
    pub instance: InstanceRecord,
    /// The lease's timing.
    pub times: LeaseTimes,
}

/// A database call of the lease loop may take this long before it counts as failed.
const CALL_LIMIT: Duration = Duration::from_secs(3);

async fn bounded<T>(
    f: impl std::future::Future<Output = fateflow_storage::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL_LIMIT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CALL_LIMIT.as_secs())),
    }
}

impl Cluster {
    /// Registers this instance; its slot (unique among the site's servers).
    pub async fn register(&mut self) -> fateflow_storage::Result<i64> {
        let slot = self.store.register_instance(&self.instance).await?;
        self.instance.slot = slot;
        Ok(slot)
    }

    /// Runs the lease loop until `stop` is set; then releases the lease (if held) so
    /// another server takes over at once, and removes this instance.
    pub async fn run(self, stop: Arc<tokio::sync::Notify>) {
        let mut tick = tokio::time::interval(self.times.beat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let id = self.instance.instance_id.clone();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.notified() => break,
            }
            match bounded(self.store.heartbeat_instance(&id)).await {
                Ok(true) => {}
                Ok(false) => {
                    // Forgotten after a long silence: register again (a new slot).
                    if let Err(e) = bounded(self.store.register_instance(&self.instance)).await {
                        tracing::warn!(error = %e, "registering this server again");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "instance heartbeat failed"),
            }
            if self.gate.leading.load(Ordering::Acquire) {
                let epoch = self.gate.epoch.load(Ordering::Acquire);
                let mut sent = Instant::now();
                let ttl = ms(self.times.ttl);
                let mut renewed =
                    bounded(self.store.renew_lease(SCHEDULER_LEASE, &id, epoch, ttl)).await;
                if renewed.is_err() && self.gate.renewal_covers_now() {
                    // After an outage the pool's first connection is often a dead one.
                    sent = Instant::now();
                    renewed =
                        bounded(self.store.renew_lease(SCHEDULER_LEASE, &id, epoch, ttl)).await;
                }
                match renewed {
                    Ok(true) => self.gate.renewed(sent, &self.times),
                    Ok(false) => {
                        self.step_down("another server holds the scheduler lease now")
                            .await;
                    }
                    Err(e) => {
                        if self.gate.renewal_covers_now() {
                            tracing::warn!(error = %e, "renewing the scheduler lease failed; still holding it");
                        } else {
                            self.step_down(&format!(
                                "the lease could not be renewed for {:.1} s ({e})",
                                self.times
                                    .ttl
                                    .saturating_sub(self.times.margin)
                                    .as_secs_f64()
                            ))
                            .await;
                        }
                    }
                }
            } else {
                let seen = bounded(self.store.lease_state(SCHEDULER_LEASE)).await;
                match seen {
                    Ok(Some(s)) if s.held() => self.see_leader(&s).await,
                    Ok(before) => {
                        let sent = Instant::now();
                        match bounded(self.store.acquire_lease(
                            SCHEDULER_LEASE,
                            &id,
                            ms(self.times.ttl),
                        ))
                        .await
                        {
                            Ok(Some(epoch)) => {
                                self.gate.renewed(sent, &self.times);
                                self.take_over(epoch, before).await;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "taking the scheduler lease failed")
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the scheduler lease failed"),
                }
            }
        }
        if self.gate.leading.load(Ordering::Acquire) {
            let epoch = self.gate.epoch.load(Ordering::Acquire);
            self.gate.leading.store(false, Ordering::Release);
            let _ = bounded(self.store.release_lease(SCHEDULER_LEASE, &id, epoch)).await;
            tracing::info!(epoch, "released the scheduler lease");
        }
        let _ = bounded(self.store.remove_instance(&id)).await;
    }

    async fn see_leader(&self, s: &LeaseState) {
        let known = self.gate.leader();
        if known
            .as_ref()
            .is_some_and(|k| k.instance_id == s.holder && k.epoch == s.epoch)
        {
            return;
        }
        let address = self.address_of(&s.holder).await;
        tracing::info!(holder = %s.holder, epoch = s.epoch, address = ?address, "the scheduler runs on another server");
        self.gate.set_leader(Some(LeaderInfo {
            instance_id: s.holder.clone(),
            address,
            epoch: s.epoch,
        }));
    }

    async fn address_of(&self, instance_id: &str) -> Option<String> {
        let (list, _) = bounded(self.store.list_instances()).await.ok()?;
        list.into_iter()
            .find(|i| i.instance_id == instance_id)
            .map(|i| i.address)
    }

    async fn describe(&self, instance_id: &str) -> String {
        if instance_id.is_empty() {
            return "none".into();
        }
        match bounded(self.store.list_instances()).await {
            Ok((list, _)) => match list.into_iter().find(|i| i.instance_id == instance_id) {
                Some(i) => format!(
                    "{} ({}, pid {} on {})",
                    i.instance_id, i.address, i.pid, i.host
                ),
                None => instance_id.to_string(),
            },
            Err(_) => instance_id.to_string(),
        }
    }

    async fn take_over(&self, epoch: i64, before: Option<LeaseState>) {
        let started = Instant::now();
        self.store.set_fence(epoch);
        self.gate.epoch.store(epoch, Ordering::Release);
        let previous = match before.as_ref() {
            Some(s) => self.describe(&s.holder).await,
            None => "none".into(),
        };
        let expired_ms = before
            .as_ref()
            .filter(|s| !s.holder.is_empty() && s.expires_at > 0)
            .map(|s| s.now - s.expires_at);
        let reason = format!(
            "the server running this task, {previous}, stopped holding the scheduler lease; \
             server {} took over (epoch {epoch}) and retries the task",
            self.instance.instance_id
        );
        let recovered = match self.controller.recover_after_takeover(&reason).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e.message, "failing the previous holder's tasks");
                0
            }
        };
        self.gate.set_leader(Some(LeaderInfo {
            instance_id: self.instance.instance_id.clone(),
            address: Some(self.instance.address.clone()),
            epoch,
        }));
        self.gate.leading.store(true, Ordering::Release);
        let _ = self.scheduler.events().send(Event::ScheduleAll);
        tracing::warn!(
            epoch,
            previous = %previous,
            lease_expired_ms_ago = ?expired_ms,
            tasks_retried = recovered,
            took_ms = started.elapsed().as_millis() as u64,
            "took the scheduler lease: this server now schedules"
        );
    }

    async fn step_down(&self, why: &str) {
        self.gate.leading.store(false, Ordering::Release);
        self.gate.set_leader(None);
        let killed = self.controller.kill_all_launched().await;
        tracing::error!(reason = why, tasks_killed = killed, "stopped scheduling: this server no longer holds the scheduler lease; the next holder retries its tasks");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_gate_always_leads_and_never_forwards() {
        let g = LeaderGate::standalone();
        assert!(g.is_leading());
        assert!(g.forward_to().is_none());
    }

    #[test]
    fn a_clustered_gate_leads_only_while_its_last_renewal_covers_the_moment() {
        let times = LeaseTimes {
            ttl: Duration::from_millis(300),
            beat: Duration::from_millis(50),
            margin: Duration::from_millis(100),
        };
        let g = LeaderGate::clustered("a".into());
        assert!(!g.is_leading());
        assert!(
            matches!(g.forward_to(), Some(Err(_))),
            "no holder known yet"
        );
        g.leading.store(true, Ordering::Release);
        assert!(!g.is_leading(), "taken but never renewed");
        g.renewed(Instant::now(), &times);
        g.epoch.store(4, Ordering::Release);
        assert!(g.is_leading());
        assert_eq!(g.epoch(), 4);
        std::thread::sleep(Duration::from_millis(250));
        // Paused past ttl − margin: no longer the holder, before any loop noticed.
        assert!(!g.is_leading());
        assert_eq!(g.epoch(), 0);
        g.set_leader(Some(LeaderInfo {
            instance_id: "b".into(),
            address: Some("http://10.0.0.2:9380".into()),
            epoch: 5,
        }));
        assert_eq!(g.forward_to(), Some(Ok("http://10.0.0.2:9380".to_string())));
    }
}

//! A party's own task processes: their reports, exits without a final status, the
//! detector's checks, start-up recovery, and killing what was launched.

use super::*;

impl PartyController {
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
        // A server that lost the scheduler lease leaves its tasks' rows to the holder,
        // which fails them and retries them.
        if !self.leading() {
            return Ok(());
        }
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
            handle_of(&task)
                .map(|h| describe_launch(&h))
                .unwrap_or_else(|| "0".into()),
            exit.log_tail
        );
        tracing::warn!(job_id = %key.job_id, task_id = %key.task_id, %code, "task process exited without a final status");
        self.fail_task(&key, &message).await
    }

    /// Whether a running task's process is gone or silent; marks it failed if so.
    pub async fn check_running_task(&self, task: &TaskRecord, now: i64) -> Result<bool, Refusal> {
        let key = task.key();
        if let Some(handle) = handle_of(task) {
            if !self.launcher.is_alive(&handle).await {
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
                        &format!(
                            "task executor process {} is gone without a final status",
                            describe_launch(&handle)
                        ),
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
            if let Some(handle) = handle_of(task) {
                let _ = self.launcher.kill(&handle).await;
            }
            self.kill_launched(&key).await;
            return Ok(true);
        }
        Ok(false)
    }

    /// At start-up: tasks left `running` by a previous server process are killed and
    /// failed with a clear reason, so nothing is orphaned and no job waits forever.
    pub async fn recover(&self) -> Result<usize, Refusal> {
        let failed = self
            .fail_orphans(
                "the site restarted while this task was running; rerun the job to continue",
                None,
            )
            .await?;
        Ok(failed.len())
    }

    /// After a takeover of the scheduler lease: every task of this site's parties still
    /// running was started by the previous holder, whose reports can no longer arrive.
    /// Each is killed if its process still runs on this machine, failed with `reason`
    /// (an external error), and its component gets one more automatic retry at every
    /// party, so the job goes on without spending the user's `auto_retries`.
    pub async fn recover_after_takeover(&self, reason: &str) -> Result<usize, Refusal> {
        let failed = self.fail_orphans(reason, Some(ErrorKind::External)).await?;
        let components: std::collections::BTreeSet<_> = failed
            .iter()
            .map(|t| (t.job_id.clone(), t.component_name.clone(), t.task_version))
            .collect();
        for (job_id, component, version) in components {
            let (rows, _) = self
                .store
                .query_tasks(&TaskFilter {
                    job_id: Some(job_id),
                    component_name: Some(component),
                    task_version: Some(version),
                    ..Default::default()
                })
                .await?;
            for r in rows {
                let more = TaskUpdate {
                    auto_retries: Some(r.auto_retries.saturating_add(1)),
                    ..Default::default()
                };
                self.store.update_task(&r.key(), &more, now_ms()).await?;
            }
        }
        Ok(failed.len())
    }

    /// Fails every running task of this site's parties that this server did not launch
    /// (killing its process first if it still runs here); the tasks failed.
    async fn fail_orphans(
        &self,
        reason: &str,
        kind: Option<ErrorKind>,
    ) -> Result<Vec<TaskRecord>, Refusal> {
        let (tasks, _) = self
            .store
            .query_tasks(&TaskFilter {
                party_statuses: vec![Status::Running],
                ..Default::default()
            })
            .await?;
        let mut failed = Vec::new();
        for t in tasks.into_iter().filter(|t| self.hosts(t.party_id)) {
            if lock(&self.live).contains_key(&t.key()) {
                continue;
            }
            if let Some(handle) = handle_of(&t) {
                if self.launcher.is_alive(&handle).await {
                    let _ = self.launcher.kill(&handle).await;
                }
            }
            self.fail_task_as(&t.key(), reason, kind).await?;
            failed.push(t);
        }
        Ok(failed)
    }

    /// Kills every task process this server launched that still runs, writing nothing
    /// (a server that lost the scheduler lease; the holder fails and retries them).
    pub async fn kill_all_launched(&self) -> usize {
        let launched: Vec<TaskHandle> = lock(&self.live)
            .values_mut()
            .filter_map(|t| {
                t.token = None;
                t.handle.clone()
            })
            .collect();
        let mut killed = 0;
        for handle in launched {
            if matches!(self.launcher.kill(&handle).await, Ok(true)) {
                killed += 1;
            }
        }
        killed
    }

    /// Ends the task's token and kills its launched process group if it still runs.
    pub(super) async fn kill_launched(&self, key: &TaskKey) -> bool {
        let handle = {
            let mut live = lock(&self.live);
            let Some(t) = live.get_mut(key) else {
                return false;
            };
            t.token = None;
            t.handle.clone()
        };
        let Some(handle) = handle else {
            return false;
        };
        match self.launcher.kill(&handle).await {
            Ok(killed) => killed,
            Err(e) => {
                tracing::warn!(task_id = %key.task_id, launch = %describe_launch(&handle), error = %e, "could not kill a task process");
                false
            }
        }
    }

    /// A task reported its final status: its token ends now, and its process must
    /// exit within [`FINAL_EXIT_GRACE`] or it is killed.
    pub(super) fn reap_after_final(&self, key: &TaskKey) {
        let handle = {
            let mut live = lock(&self.live);
            let Some(t) = live.get_mut(key) else {
                return;
            };
            t.token = None;
            t.handle.clone()
        };
        let Some(handle) = handle else {
            return;
        };
        let (live, launcher, key) = (self.live.clone(), self.launcher.clone(), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(FINAL_EXIT_GRACE).await;
            // Still tracked means its exit was not seen.
            let tracked = lock(&live).get(&key).and_then(|t| t.handle.as_ref()) == Some(&handle);
            if tracked && launcher.is_alive(&handle).await {
                tracing::warn!(task_id = %key.task_id, launch = %describe_launch(&handle), grace_s = FINAL_EXIT_GRACE.as_secs(), "task process still alive after its final status; killing it");
                let _ = launcher.kill(&handle).await;
            }
        });
    }

    pub(super) fn notify_initiator(&self, job_id: &str) {
        let _ = self.events.send(Event::Schedule(job_id.to_string()));
    }
}

/// How long a task whose process is gone may wait for its exit report.
const EXIT_REPORT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The key of a task in `seen_gone`.
pub(super) fn gone_key(task_id: &str, version: i64, role: Role, party_id: PartyId) -> String {
    format!("{task_id}/{version}/{role}/{party_id}")
}

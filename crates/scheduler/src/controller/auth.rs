//! Which requests act for a task: task tokens for the worker routes, and the
//! federation's senders and sessions.

use super::*;

impl PartyController {
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
    /// `<task_id>_<version>`, task ids `<job_id>_<component>`. Returns the job id.
    pub async fn check_federation_sender(
        &self,
        session: &str,
        src: Party,
        dst: Party,
    ) -> Result<String, Error> {
        let cache_key = (session.to_string(), src, dst);
        if let Some((_, job_id)) = lock(&self.peers_seen)
            .get(&cache_key)
            .filter(|(t, _)| t.elapsed() < PEER_CACHE_TTL)
        {
            return Ok(job_id.clone());
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
            seen.retain(|_, (t, _)| t.elapsed() < PEER_CACHE_TTL);
        }
        seen.insert(cache_key, (Instant::now(), job.job_id.clone()));
        Ok(job.job_id)
    }

    /// The task's row must still say `running`; otherwise its token is done.
    pub(super) async fn check_still_running(&self, key: &TaskKey) -> Result<(), TokenError> {
        let who = describe_task(key);
        if !self.leading() {
            return Err(TokenError::Refused(format!(
                "task {who}: this server no longer holds the scheduler lease; the holder runs the task again"
            )));
        }
        let trusted = lock(&self.live)
            .get(key)
            .and_then(|t| t.running_seen)
            .is_some_and(|at| at.elapsed() < RUNNING_TRUSTED);
        if trusted {
            return Ok(());
        }
        let status = self
            .store
            .task_party_status(key)
            .await
            .map_err(|e| TokenError::Refused(format!("reading task {who}: {e}")))?;
        match status {
            Some(Status::Running) => {
                if let Some(live) = lock(&self.live).get_mut(key) {
                    live.running_seen = Some(Instant::now());
                }
                Ok(())
            }
            Some(s) => {
                if let Some(live) = lock(&self.live).get_mut(key) {
                    live.token = None;
                }
                Err(TokenError::Refused(format!(
                    "task {who} is {s}; its token acted only while it ran"
                )))
            }
            None => Err(TokenError::Refused(format!(
                "task {who} is not in this site's records"
            ))),
        }
    }
}

//! [`Federation`] for task processes: through their own site's HTTP routes.

use crate::{Error, Federation, Key, Result, MAX_MESSAGE_BYTES};
use fateflow_domain::Party;
use std::time::{Duration, Instant};

/// How often a long wait for another party is noted in the task's log.
const WAIT_NOTE_EVERY: Duration = Duration::from_secs(300);

/// A task's federation through its site (`/v1/federation/push` and `/pull`).
pub struct SiteFederation {
    client: reqwest::blocking::Client,
    server: String,
    session: String,
    me: Party,
    timeout: Duration,
    token: String,
}

impl SiteFederation {
    /// A client for `me` in `session`, talking to the site at `server`
    /// (`http://127.0.0.1:9380`) with the task's `token`; `get` gives up after `timeout`.
    pub fn new(
        server: &str,
        session: &str,
        me: Party,
        timeout: Duration,
        token: &str,
    ) -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .map_err(|e| Error::Site(e.to_string()))?;
        Ok(Self {
            client,
            server: server.trim_end_matches('/').to_string(),
            session: session.to_string(),
            me,
            timeout,
            token: token.to_string(),
        })
    }

    fn key(&self, name: &str, tag: &str, src: Party, dst: Party) -> Key {
        Key {
            session: self.session.clone(),
            name: name.into(),
            tag: tag.into(),
            src,
            dst,
        }
    }

    /// The key as a query string. Every part is validated to URL-safe characters
    /// (`[A-Za-z0-9_.:-]`, role names, numbers), so no escaping is needed.
    fn query(key: &Key, extra: &[(&str, String)]) -> String {
        let mut parts = vec![
            ("session", key.session.clone()),
            ("name", key.name.clone()),
            ("tag", key.tag.clone()),
            ("src_role", key.src.role.to_string()),
            ("src_party_id", key.src.party_id.to_string()),
            ("dst_role", key.dst.role.to_string()),
            ("dst_party_id", key.dst.party_id.to_string()),
        ];
        parts.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
        parts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl Federation for SiteFederation {
    fn me(&self) -> Party {
        self.me
    }

    fn remote_bytes(&self, name: &str, tag: &str, value: &[u8], to: &[Party]) -> Result<()> {
        if value.len() > MAX_MESSAGE_BYTES {
            return Err(Error::TooLarge {
                size: value.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        for dst in to {
            let key = self.key(name, tag, self.me, *dst);
            key.validate()?;
            let resp = self
                .client
                .post(format!(
                    "{}/v1/federation/push?{}",
                    self.server,
                    Self::query(&key, &[])
                ))
                .header(crate::TASK_TOKEN_HEADER, &self.token)
                .body(value.to_vec())
                .send()
                .map_err(|e| Error::Site(format!("sending `{name}` to {dst}: {e}")))?;
            if !resp.status().is_success() {
                let text = resp.text().unwrap_or_default();
                return Err(Error::Site(format!("sending `{name}` to {dst}: {text}")));
            }
        }
        Ok(())
    }

    fn get_bytes(&self, name: &str, tag: &str, from: Party) -> Result<Vec<u8>> {
        let key = self.key(name, tag, from, self.me);
        key.validate()?;
        let started = Instant::now();
        // Long-poll in slices so a dead site is noticed and progress can be logged.
        let mut next_note = WAIT_NOTE_EVERY;
        loop {
            let waited = started.elapsed();
            if waited >= next_note {
                // The task's log is its stderr; the same stamp as the worker's lines.
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                eprintln!(
                    "[{ms}] still waiting for `{name}` (tag `{tag}`) from {from} after {} min",
                    waited.as_secs() / 60
                );
                next_note += WAIT_NOTE_EVERY;
            }
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout {
                    name: name.into(),
                    tag: tag.into(),
                    from,
                    waited: self.timeout,
                });
            }
            let slice = left.min(Duration::from_secs(30));
            let q = Self::query(&key, &[("wait_ms", slice.as_millis().to_string())]);
            let resp = self
                .client
                .post(format!("{}/v1/federation/pull?{q}", self.server))
                .header(crate::TASK_TOKEN_HEADER, &self.token)
                .send()
                .map_err(|e| Error::Site(format!("waiting for `{name}` from {from}: {e}")))?;
            match resp.status().as_u16() {
                200 => {
                    return resp
                        .bytes()
                        .map(|b| b.to_vec())
                        .map_err(|e| Error::Site(e.to_string()))
                }
                408 => continue,
                _ => {
                    let text = resp.text().unwrap_or_default();
                    return Err(Error::Site(format!(
                        "waiting for `{name}` from {from}: {text}"
                    )));
                }
            }
        }
    }
}

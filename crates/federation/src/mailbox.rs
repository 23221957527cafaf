//! The receiving side of the data plane.

use crate::{Error, Key, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Mailbox limits.
#[derive(Debug, Clone)]
pub struct MailboxConfig {
    /// Bytes kept in memory before messages spill to disk.
    pub memory_limit: usize,
    /// Where spilled messages go.
    pub spill_dir: PathBuf,
    /// How long an unclaimed message is kept.
    pub ttl: Duration,
    /// The largest single message.
    pub max_message: usize,
}

/// Counters for health and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStats {
    /// Messages waiting.
    pub messages: usize,
    /// Bytes of waiting messages held in memory.
    pub memory_bytes: usize,
    /// Messages that went to disk.
    pub spilled: usize,
    /// Messages dropped after their TTL.
    pub expired: usize,
}

enum Body {
    Memory(Vec<u8>),
    Disk(PathBuf),
}

struct Entry {
    body: Body,
    arrived: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Keys already delivered: a second send of the same key is ignored.
    delivered: HashMap<Key, Instant>,
    memory: usize,
    spilled: usize,
    expired: usize,
    seq: u64,
}

/// Store-and-forward storage for messages addressed to parties of this site.
pub struct Mailbox {
    config: MailboxConfig,
    inner: Mutex<Inner>,
    arrivals: Notify,
}

impl Mailbox {
    /// An empty mailbox.
    pub fn new(config: MailboxConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            arrivals: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a message. Sending a key that is waiting or was already delivered is
    /// harmless: the first copy wins. Returns whether it was stored.
    pub fn put(&self, key: Key, value: Vec<u8>) -> Result<bool> {
        key.validate()?;
        if value.len() > self.config.max_message {
            return Err(Error::TooLarge {
                size: value.len(),
                limit: self.config.max_message,
            });
        }
        let mut inner = self.lock();
        if inner.entries.contains_key(&key) || inner.delivered.contains_key(&key) {
            return Ok(false);
        }
        let size = value.len();
        let body = if inner.memory + size > self.config.memory_limit {
            std::fs::create_dir_all(&self.config.spill_dir)?;
            inner.seq += 1;
            let path =
                self.config
                    .spill_dir
                    .join(format!("msg-{}-{}", std::process::id(), inner.seq));
            std::fs::write(&path, &value)?;
            inner.spilled += 1;
            Body::Disk(path)
        } else {
            inner.memory += size;
            Body::Memory(value)
        };
        inner.entries.insert(
            key,
            Entry {
                body,
                arrived: Instant::now(),
            },
        );
        drop(inner);
        self.arrivals.notify_waiters();
        Ok(true)
    }

    fn take(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.remove(key) else {
            return Ok(None);
        };
        inner.delivered.insert(key.clone(), Instant::now());
        match entry.body {
            Body::Memory(v) => {
                inner.memory -= v.len();
                Ok(Some(v))
            }
            Body::Disk(path) => {
                drop(inner);
                let v = std::fs::read(&path)?;
                let _ = std::fs::remove_file(&path);
                Ok(Some(v))
            }
        }
    }

    /// Waits up to `timeout` for the message with this key and removes it.
    pub async fn get(&self, key: &Key, timeout: Duration) -> Result<Vec<u8>> {
        key.validate()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrivals.notified();
            if let Some(v) = self.take(key)? {
                return Ok(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                if let Some(v) = self.take(key)? {
                    return Ok(v);
                }
                return Err(Error::Timeout {
                    name: key.name.clone(),
                    tag: key.tag.clone(),
                    from: key.src,
                    waited: timeout,
                });
            }
        }
    }

    /// Drops messages older than the TTL, and forgets delivered keys after it.
    pub fn sweep(&self) -> usize {
        let ttl = self.config.ttl;
        let mut inner = self.lock();
        let old: Vec<Key> = inner
            .entries
            .iter()
            .filter(|(_, e)| e.arrived.elapsed() > ttl)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            if let Some(e) = inner.entries.remove(k) {
                match e.body {
                    Body::Memory(v) => inner.memory -= v.len(),
                    Body::Disk(path) => {
                        let _ = std::fs::remove_file(path);
                    }
                }
                tracing::warn!(session = %k.session, name = %k.name, tag = %k.tag, src = %k.src, dst = %k.dst, "unclaimed federation message expired");
            }
        }
        inner.expired += old.len();
        inner.delivered.retain(|_, t| t.elapsed() <= ttl);
        old.len()
    }

    /// Current counters.
    pub fn stats(&self) -> MailboxStats {
        let inner = self.lock();
        MailboxStats {
            messages: inner.entries.len(),
            memory_bytes: inner.memory,
            spilled: inner.spilled,
            expired: inner.expired,
        }
    }
}

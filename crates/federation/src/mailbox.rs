//! The receiving side of the data plane.

use crate::{Error, Key, Result};
use fateflow_domain::PartyId;
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

/// Bytes kept in memory by a [`MessageWriter`] before it switches to a spill file.
pub const STREAM_MEMORY_BYTES: usize = 4 << 20;

/// Default bytes of unclaimed messages (memory and disk) one source party may hold in
/// a mailbox; see [`Mailbox::with_party_quota`].
pub const PARTY_QUOTA_BYTES: u64 = 2 << 30;

/// Bytes counted against a source party's quota; given back when dropped unless kept.
struct Reservation<'a> {
    mailbox: &'a Mailbox,
    party: PartyId,
    bytes: u64,
}

impl Reservation<'_> {
    fn grow(&mut self, n: u64) -> Result<()> {
        self.mailbox.reserve(self.party, n)?;
        self.bytes += n;
        Ok(())
    }

    /// The bytes now belong to a stored entry.
    fn keep(mut self) -> u64 {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            release(&mut self.mailbox.lock(), self.party, self.bytes);
        }
    }
}

fn release(inner: &mut Inner, party: PartyId, bytes: u64) {
    if let Some(used) = inner.usage.get_mut(&party) {
        *used = used.saturating_sub(bytes);
        if *used == 0 {
            inner.usage.remove(&party);
        }
    }
}

/// A message taken from the mailbox.
#[derive(Debug)]
pub enum Delivered {
    /// Held in memory.
    Memory(Vec<u8>),
    /// Spilled: the file is the caller's to read and remove.
    File(PathBuf),
}

/// Receives one message in pieces (see [`Mailbox::writer`]). Dropping it without
/// [`MessageWriter::finish`] discards what was written.
pub struct MessageWriter<'a> {
    mailbox: &'a Mailbox,
    reservation: Reservation<'a>,
    key: Key,
    memory: Vec<u8>,
    file: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    size: usize,
}

impl MessageWriter<'_> {
    /// Appends a piece; fails once the message grows past the mailbox's limit.
    pub fn write(&mut self, piece: &[u8]) -> Result<()> {
        use std::io::Write;
        let limit = self.mailbox.config.max_message;
        self.size = self.size.saturating_add(piece.len());
        if self.size > limit {
            return Err(Error::TooLarge {
                size: self.size,
                limit,
            });
        }
        self.reservation.grow(piece.len() as u64)?;
        if self.file.is_none() && self.memory.len() + piece.len() > STREAM_MEMORY_BYTES {
            let path = self.mailbox.new_spill_path()?;
            let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            f.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some((path, f));
        }
        match &mut self.file {
            Some((_, f)) => f.write_all(piece)?,
            None => self.memory.extend_from_slice(piece),
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Stores the message; `false` when its key was already seen (first copy wins).
    pub fn finish(mut self) -> Result<bool> {
        use std::io::Write;
        let reservation = Reservation {
            mailbox: self.mailbox,
            party: self.key.src.party_id,
            bytes: std::mem::take(&mut self.reservation.bytes),
        };
        match self.file.take() {
            None => {
                let memory = std::mem::take(&mut self.memory);
                self.mailbox
                    .put_reserved(self.key.clone(), memory, reservation)
            }
            Some((path, mut f)) => {
                if let Err(e) = f.flush() {
                    let _ = std::fs::remove_file(&path);
                    return Err(e.into());
                }
                drop(f);
                self.mailbox.put_file(self.key.clone(), path, reservation)
            }
        }
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum Body {
    Memory(Vec<u8>),
    Disk(PathBuf),
}

struct Entry {
    body: Body,
    arrived: Instant,
    /// Bytes counted against the source party's quota.
    size: u64,
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
    /// Bytes held per source party (memory and disk, writers in progress included).
    usage: HashMap<PartyId, u64>,
}

/// Store-and-forward storage for messages addressed to parties of this site.
pub struct Mailbox {
    config: MailboxConfig,
    party_quota: u64,
    inner: Mutex<Inner>,
    arrivals: Notify,
}

impl Mailbox {
    /// An empty mailbox. Spill files left by an earlier process are removed: the index
    /// that named them is gone with it.
    pub fn new(config: MailboxConfig) -> Self {
        if let Ok(dir) = std::fs::read_dir(&config.spill_dir) {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with("msg-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Self {
            config,
            party_quota: PARTY_QUOTA_BYTES,
            inner: Mutex::new(Inner::default()),
            arrivals: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a message with this key is waiting or was already delivered (a new
    /// copy would be ignored).
    pub fn has_seen(&self, key: &Key) -> bool {
        let inner = self.lock();
        inner.entries.contains_key(key) || inner.delivered.contains_key(key)
    }

    /// Sets the bytes of unclaimed messages one source party may hold here.
    pub fn with_party_quota(mut self, bytes: u64) -> Self {
        self.party_quota = bytes;
        self
    }

    /// Bytes of `party`'s messages held now (waiting, or being received).
    pub fn party_usage(&self, party: PartyId) -> u64 {
        self.lock().usage.get(&party).copied().unwrap_or(0)
    }

    /// Whether `size` more bytes from `party` fit its quota now (nothing reserved).
    pub fn check_quota(&self, party: PartyId, size: u64) -> Result<()> {
        self.fits(party, self.party_usage(party), size)
    }

    /// Whether `size` more bytes fit `party`'s quota on top of `used`.
    fn fits(&self, party: PartyId, used: u64, size: u64) -> Result<()> {
        if used.saturating_add(size) > self.party_quota {
            return Err(Error::Quota {
                party,
                used,
                size,
                quota: self.party_quota,
            });
        }
        Ok(())
    }

    fn reserve(&self, party: PartyId, size: u64) -> Result<()> {
        let mut inner = self.lock();
        let used = inner.usage.get(&party).copied().unwrap_or(0);
        self.fits(party, used, size)?;
        *inner.usage.entry(party).or_default() += size;
        Ok(())
    }

    /// The largest message this mailbox accepts.
    pub fn max_message(&self) -> usize {
        self.config.max_message
    }

    /// A writer that receives one message piece by piece: the first
    /// [`STREAM_MEMORY_BYTES`] stay in memory, anything longer goes to a spill file as
    /// it arrives, so a large message never sits whole in memory.
    pub fn writer(&self, key: Key) -> Result<MessageWriter<'_>> {
        key.validate()?;
        Ok(MessageWriter {
            mailbox: self,
            reservation: Reservation {
                mailbox: self,
                party: key.src.party_id,
                bytes: 0,
            },
            key,
            memory: Vec::new(),
            file: None,
            size: 0,
        })
    }

    fn new_spill_path(&self) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.config.spill_dir)?;
        let seq = {
            let mut inner = self.lock();
            inner.seq += 1;
            inner.seq
        };
        Ok(self
            .config
            .spill_dir
            .join(format!("msg-{}-{}", std::process::id(), seq)))
    }

    /// Stores a message already written to a spill file (see [`Mailbox::writer`]).
    fn put_file(&self, key: Key, path: PathBuf, reservation: Reservation<'_>) -> Result<bool> {
        let mut inner = self.lock();
        if inner.entries.contains_key(&key) || inner.delivered.contains_key(&key) {
            drop(inner);
            let _ = std::fs::remove_file(&path);
            return Ok(false);
        }
        inner.spilled += 1;
        inner.entries.insert(
            key,
            Entry {
                body: Body::Disk(path),
                arrived: Instant::now(),
                size: reservation.keep(),
            },
        );
        drop(inner);
        self.arrivals.notify_waiters();
        Ok(true)
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
        let mut reservation = Reservation {
            mailbox: self,
            party: key.src.party_id,
            bytes: 0,
        };
        reservation.grow(value.len() as u64)?;
        self.put_reserved(key, value, reservation)
    }

    /// Stores a message whose bytes are already counted against its source's quota.
    fn put_reserved(&self, key: Key, value: Vec<u8>, reservation: Reservation<'_>) -> Result<bool> {
        let mut inner = self.lock();
        if inner.entries.contains_key(&key) || inner.delivered.contains_key(&key) {
            // Unlock before the reservation is given back.
            drop(inner);
            return Ok(false);
        }
        let size = value.len();
        let body = if inner.memory + size > self.config.memory_limit {
            drop(inner);
            let path = self.new_spill_path()?;
            std::fs::write(&path, &value)?;
            inner = self.lock();
            if inner.entries.contains_key(&key) || inner.delivered.contains_key(&key) {
                drop(inner);
                let _ = std::fs::remove_file(&path);
                return Ok(false);
            }
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
                size: reservation.keep(),
            },
        );
        drop(inner);
        self.arrivals.notify_waiters();
        Ok(true)
    }

    fn take(&self, key: &Key) -> Option<Delivered> {
        let mut inner = self.lock();
        let entry = inner.entries.remove(key)?;
        inner.delivered.insert(key.clone(), Instant::now());
        release(&mut inner, key.src.party_id, entry.size);
        match entry.body {
            Body::Memory(v) => {
                inner.memory -= v.len();
                Some(Delivered::Memory(v))
            }
            Body::Disk(path) => Some(Delivered::File(path)),
        }
    }

    /// Waits up to `timeout` for the message with this key and removes it.
    pub async fn get(&self, key: &Key, timeout: Duration) -> Result<Vec<u8>> {
        match self.get_delivered(key, timeout).await? {
            Delivered::Memory(v) => Ok(v),
            Delivered::File(path) => {
                let v = std::fs::read(&path)?;
                let _ = std::fs::remove_file(&path);
                Ok(v)
            }
        }
    }

    /// Like [`Mailbox::get`], but a spilled message comes back as its file (which the
    /// caller streams and then removes) instead of being read into memory.
    pub async fn get_delivered(&self, key: &Key, timeout: Duration) -> Result<Delivered> {
        key.validate()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrivals.notified();
            if let Some(v) = self.take(key) {
                return Ok(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                if let Some(v) = self.take(key) {
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
                release(&mut inner, k.src.party_id, e.size);
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

//! A pool of obfuscators precomputed by a background thread.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::{Encryptor, Obfuscator, PublicKey};
use crate::{Error, Result};

/// Obfuscators for one public key, computed ahead of time by one background thread that
/// keeps a bounded queue full.
///
/// [`Encryptor::obfuscator`] takes one from the queue, or computes one on the calling thread
/// when the queue is empty, so encryption never waits for the pool. The thread stops when
/// the pool is dropped. The pool is worth it when encryption comes in bursts with idle time
/// in between (for example while waiting for the other party); under sustained parallel
/// load it only adds one more worker.
pub struct ObfuscatorPool {
    key: PublicKey,
    queue: Mutex<Option<Receiver<Obfuscator>>>,
    worker: Option<JoinHandle<()>>,
}

impl ObfuscatorPool {
    /// Starts the background thread for `key`, keeping up to `capacity` obfuscators ready.
    pub fn new(key: PublicKey, capacity: usize) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let worker_key = key.clone();
        let worker = std::thread::Builder::new()
            .name("paillier-obfuscators".into())
            .spawn(move || fill(&worker_key, &tx))
            .map_err(Error::PoolStart)?;
        Ok(Self {
            key,
            queue: Mutex::new(Some(rx)),
            worker: Some(worker),
        })
    }

    /// Takes a ready obfuscator, if the queue has one.
    pub fn try_take(&self) -> Option<Obfuscator> {
        let guard = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().and_then(|rx| rx.try_recv().ok())
    }
}

fn fill(key: &PublicKey, tx: &SyncSender<Obfuscator>) {
    // `send` blocks while the queue is full and fails once the pool (the receiver) is gone.
    while tx.send(key.obfuscator()).is_ok() {}
}

impl Encryptor for ObfuscatorPool {
    fn public_key(&self) -> &PublicKey {
        &self.key
    }

    fn obfuscator(&self) -> Obfuscator {
        self.try_take().unwrap_or_else(|| self.key.obfuscator())
    }
}

impl Drop for ObfuscatorPool {
    fn drop(&mut self) {
        // Dropping the receiver makes the worker's next send fail, which ends it.
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for ObfuscatorPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObfuscatorPool")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

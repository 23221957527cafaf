//! Parsed jobs, shared by the initiator and the party controller: a job's DSL and
//! conf are parsed once per content, not at every scheduling round, task start and
//! model save.

use fateflow_domain::{Catalog, Errors, Job};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many parsed jobs are kept; the least recently used goes first.
const CAPACITY: usize = 512;

struct Entry {
    dsl: Value,
    conf: Value,
    job: Arc<Job>,
    used: u64,
}

/// Parsed jobs by job id and a hash of their DSL and conf; a hit also compares the
/// documents, so a changed job is parsed again. Parameters are checked against the
/// catalog given at construction (a site gives the components' catalog; scheduler tests
/// give [`Catalog::NAMES_ONLY`] explicitly): there is no default to forget.
pub struct ParsedJobs {
    catalog: Catalog,
    entries: Mutex<HashMap<(String, u64), Entry>>,
    clock: AtomicU64,
    lookups: AtomicU64,
    parses: AtomicU64,
}

impl std::fmt::Debug for ParsedJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedJobs")
            .field("parses", &self.parses())
            .finish_non_exhaustive()
    }
}

/// A hasher fed by serde_json's writer, so hashing allocates nothing.
struct HashWriter<'a>(&'a mut std::collections::hash_map::DefaultHasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn content_hash(dsl: &Value, conf: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in [dsl, conf] {
        // Writing into a hasher cannot fail.
        let _ = serde_json::to_writer(HashWriter(&mut h), v);
        0xffu8.hash(&mut h);
    }
    h.finish()
}

impl ParsedJobs {
    /// An empty cache validating jobs against `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            entries: Mutex::default(),
            clock: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            parses: AtomicU64::new(0),
        }
    }

    /// The parameter schemas jobs are validated against.
    pub fn catalog(&self) -> Catalog {
        self.catalog
    }

    /// Parses a job not cached yet (at submit, before it has an id).
    pub fn parse(&self, dsl: &Value, conf: &Value) -> Result<Job, Errors> {
        Job::parse(dsl, conf, self.catalog())
    }

    /// The job `job_id` with this DSL and conf, parsed now only if not cached.
    pub fn get(&self, job_id: &str, dsl: &Value, conf: &Value) -> Result<Arc<Job>, Errors> {
        let key = (job_id.to_string(), content_hash(dsl, conf));
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = self.lock().get_mut(&key) {
            if e.dsl == *dsl && e.conf == *conf {
                e.used = tick;
                return Ok(e.job.clone());
            }
        }
        self.parses.fetch_add(1, Ordering::Relaxed);
        let job = Arc::new(self.parse(dsl, conf)?);
        self.insert_keyed(key, dsl, conf, job.clone(), tick);
        Ok(job)
    }

    /// Caches a job parsed elsewhere (at submit, before it had an id).
    pub fn insert(&self, job_id: &str, dsl: &Value, conf: &Value, job: Arc<Job>) {
        let key = (job_id.to_string(), content_hash(dsl, conf));
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        self.insert_keyed(key, dsl, conf, job, tick);
    }

    /// Parses done through [`ParsedJobs::get`] since start (cache misses).
    pub fn parses(&self) -> u64 {
        self.parses.load(Ordering::Relaxed)
    }

    /// Calls of [`ParsedJobs::get`] since start: the parses there would be without
    /// the cache.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    fn insert_keyed(
        &self,
        key: (String, u64),
        dsl: &Value,
        conf: &Value,
        job: Arc<Job>,
        tick: u64,
    ) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            key,
            Entry {
                dsl: dsl.clone(),
                conf: conf.clone(),
                job,
                used: tick,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> (Value, Value) {
        let dsl =
            json!({"components": {"reader_0": {"module": "Reader", "output": {"data": ["data"]}}}});
        let conf = json!({
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999]},
            "component_parameters": {"role": {"guest": {"0": {"reader_0": {"table": {"name": "t", "namespace": "n"}}}}}}
        });
        (dsl, conf)
    }

    #[test]
    fn parses_once_per_content_and_evicts_the_least_used() {
        let cache = ParsedJobs::new(Catalog::NAMES_ONLY);
        let (dsl, mut conf) = job();
        let a = cache.get("j1", &dsl, &conf).unwrap();
        let b = cache.get("j1", &dsl, &conf).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((cache.parses(), cache.lookups()), (1, 2));
        // Another job with the same documents is its own entry.
        cache.get("j2", &dsl, &conf).unwrap();
        assert_eq!(cache.parses(), 2);
        // Changed content is parsed again.
        conf["job_parameters"] = json!({"common": {"task_parallelism": 2}});
        let c = cache.get("j1", &dsl, &conf).unwrap();
        assert_eq!(cache.parses(), 3);
        assert_eq!(c.conf.common_job_parameters.task_parallelism, 2);
        // Errors are not cached.
        assert!(cache.get("j3", &json!({}), &conf).is_err());
        assert!(cache.get("j3", &json!({}), &conf).is_err());
        assert_eq!(cache.parses(), 5);
        // Bounded.
        for i in 0..CAPACITY + 10 {
            cache.insert(&format!("x{i}"), &dsl, &conf, c.clone());
        }
        assert_eq!(cache.lock().len(), CAPACITY);
    }
}

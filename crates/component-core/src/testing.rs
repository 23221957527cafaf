//! Test helpers: a [`Tracker`] that records every call, a context builder, an
//! in-memory federation, and table helpers for tests (temporary stores, uploads, reads).
//!
//! Used by the component crates' tests and reusable by the executor's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use fateflow_domain::module::ModuleSchema;
use fateflow_domain::Role;
use fateflow_tables::{
    read_all, upload_csv, Frame, LocalTableStore, TableId, TableStore, UploadOptions,
};
use serde_json::Value;

use crate::context::{
    canonical_module, Component, ComponentModel, Metric, TableRef, TaskContext, TaskInputs, Tracker,
};
use crate::error::Result;
use crate::Components;

/// One call made on a [`RecordingTracker`].
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// [`Tracker::log_metric`].
    Metric(Metric),
    /// [`Tracker::save_output_data`].
    OutputData {
        /// The data name.
        data_name: String,
        /// The table.
        table: TableRef,
    },
    /// [`Tracker::save_model`].
    Model {
        /// The alias.
        alias: String,
        /// The model.
        model: ComponentModel,
    },
    /// [`Tracker::set_summary`].
    Summary(Value),
    /// [`Tracker::progress`].
    Progress(u8),
    /// [`Tracker::info`].
    Info(String),
}

/// A [`Tracker`] that records every call in order and never fails.
#[derive(Debug, Default)]
pub struct RecordingTracker {
    calls: Mutex<Vec<Call>>,
}

impl RecordingTracker {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        // A panicking test thread must not hide the calls from the others.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, call: Call) {
        self.lock().push(call);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
    }

    /// The metrics logged, in order.
    pub fn metrics(&self) -> Vec<Metric> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Metric(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// The metric `namespace`/`name`, if logged.
    pub fn metric(&self, namespace: &str, name: &str) -> Option<Metric> {
        self.metrics()
            .into_iter()
            .find(|m| m.namespace == namespace && m.name == name)
    }

    /// The output data recorded, as `(data name, table)`.
    pub fn output_data(&self) -> Vec<(String, TableRef)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::OutputData { data_name, table } => Some((data_name, table)),
                _ => None,
            })
            .collect()
    }

    /// The models saved, as `(alias, model)`.
    pub fn models(&self) -> Vec<(String, ComponentModel)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Model { alias, model } => Some((alias, model)),
                _ => None,
            })
            .collect()
    }

    /// The last summary set.
    pub fn summary(&self) -> Option<Value> {
        self.calls().into_iter().rev().find_map(|c| match c {
            Call::Summary(s) => Some(s),
            _ => None,
        })
    }

    /// The progress values reported, in order.
    pub fn progress_values(&self) -> Vec<u8> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Progress(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The info lines, in order.
    pub fn info_lines(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Info(l) => Some(l),
                _ => None,
            })
            .collect()
    }
}

impl Tracker for RecordingTracker {
    fn log_metric(&self, metric: Metric) -> Result<()> {
        self.push(Call::Metric(metric));
        Ok(())
    }

    fn save_output_data(&self, data_name: &str, table: &TableRef) -> Result<()> {
        self.push(Call::OutputData {
            data_name: data_name.to_owned(),
            table: table.clone(),
        });
        Ok(())
    }

    fn save_model(&self, alias: &str, model: &ComponentModel) -> Result<()> {
        self.push(Call::Model {
            alias: alias.to_owned(),
            model: model.clone(),
        });
        Ok(())
    }

    fn set_summary(&self, summary: Value) -> Result<()> {
        self.push(Call::Summary(summary));
        Ok(())
    }

    fn progress(&self, percent: u8) {
        self.push(Call::Progress(percent));
    }

    fn info(&self, line: &str) {
        self.push(Call::Info(line.to_owned()));
    }
}

/// A [`TaskContext`] for tests: job `test_job`, task `<component>_task`, version 0,
/// guest 9999, output data `["data"]` and output model `["model"]`. Adjust the public
/// fields as needed.
pub fn context<'a>(
    component: &str,
    module: &str,
    parameters: Value,
    tables: &'a dyn TableStore,
    tracker: &'a dyn Tracker,
) -> TaskContext<'a> {
    let parameters = match parameters {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => panic!("parameters must be a JSON object, got {other}"),
    };
    TaskContext {
        job_id: "test_job".into(),
        component: component.into(),
        module: module.into(),
        task_id: format!("test_job_{component}"),
        task_version: 0,
        role: Role::Guest,
        party_id: 9999,
        parameters,
        inputs: TaskInputs::default(),
        output_data_names: vec!["data".into()],
        output_model_names: vec!["model".into()],
        output_cache_names: Vec::new(),
        tables,
        tracker,
        roles: BTreeMap::from([(Role::Guest, vec![9999])]),
        federation: None,
        memory: crate::memory::MemoryBudget::default(),
    }
}

/// An in-memory data plane for running several parties of a component on threads of
/// one test process (the real one goes through the site's mailbox).
#[derive(Debug, Default)]
pub struct MemoryHub {
    timeout: std::time::Duration,
    messages: Mutex<std::collections::HashMap<MessageKey, Vec<u8>>>,
    arrived: std::sync::Condvar,
}

type Party = fateflow_domain::Party;

/// (name, tag, source, destination).
type MessageKey = (String, String, Party, Party);

impl MemoryHub {
    /// A new, empty hub whose `get`s wait up to two minutes.
    pub fn new() -> std::sync::Arc<Self> {
        Self::with_timeout(std::time::Duration::from_secs(120))
    }

    /// A new, empty hub whose `get`s wait up to `timeout`.
    pub fn with_timeout(timeout: std::time::Duration) -> std::sync::Arc<Self> {
        std::sync::Arc::new(MemoryHub {
            timeout,
            ..Self::default()
        })
    }

    /// The data plane of `party`.
    pub fn party(self: &std::sync::Arc<Self>, role: Role, party_id: u64) -> MemoryFederation {
        MemoryFederation {
            hub: self.clone(),
            me: Party { role, party_id },
            timeout: self.timeout,
        }
    }
}

/// One party's view of a [`MemoryHub`].
#[derive(Debug, Clone)]
pub struct MemoryFederation {
    hub: std::sync::Arc<MemoryHub>,
    me: Party,
    timeout: std::time::Duration,
}

impl fateflow_federation::Federation for MemoryFederation {
    fn me(&self) -> Party {
        self.me
    }

    fn remote_bytes(
        &self,
        name: &str,
        tag: &str,
        value: &[u8],
        to: &[Party],
    ) -> fateflow_federation::Result<()> {
        let mut m = self.hub.messages.lock().unwrap_or_else(|e| e.into_inner());
        for dst in to {
            m.entry((name.into(), tag.into(), self.me, *dst))
                .or_insert_with(|| value.to_vec());
        }
        self.hub.arrived.notify_all();
        Ok(())
    }

    fn get_bytes(
        &self,
        name: &str,
        tag: &str,
        from: Party,
    ) -> fateflow_federation::Result<Vec<u8>> {
        let key = (name.to_owned(), tag.to_owned(), from, self.me);
        let deadline = std::time::Instant::now() + self.timeout;
        let mut m = self.hub.messages.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(v) = m.remove(&key) {
                return Ok(v);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(fateflow_federation::Error::Timeout {
                    name: name.into(),
                    tag: tag.into(),
                    from,
                    waited: self.timeout,
                });
            }
            m = self
                .hub
                .arrived
                .wait_timeout(m, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Path of a shipped example data set.
pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, LocalTableStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalTableStore::open(dir.path()).expect("open store");
    (dir, store)
}

/// Uploads CSV text as `experiment.<name>`.
pub fn upload(store: &LocalTableStore, name: &str, csv: &str) -> TableRef {
    upload_csv(
        store,
        csv.as_bytes(),
        &UploadOptions::new("experiment", name),
    )
    .expect("upload");
    TableRef::new("experiment", name)
}

/// Uploads an example data file as `experiment.<file stem>`.
pub fn upload_example(store: &LocalTableStore, file: &str) -> TableRef {
    let text = std::fs::read_to_string(data_file(file)).expect("read example");
    upload(store, file.trim_end_matches(".csv"), &text)
}

/// A task context for `component` running `module`.
pub fn ctx<'a>(
    store: &'a LocalTableStore,
    tracker: &'a RecordingTracker,
    component: &str,
    module: &str,
    params: Value,
) -> TaskContext<'a> {
    context(component, module, params, store, tracker)
}

/// Reads a whole table.
pub fn frame(store: &LocalTableStore, table: &TableRef) -> Frame {
    let id = TableId::new(&table.namespace, &table.name).expect("table id");
    read_all(store, &id).expect("read table")
}

/// Rows by sid.
pub fn rows(frame: &Frame) -> BTreeMap<String, Vec<f64>> {
    frame
        .sids()
        .iter()
        .cloned()
        .zip(frame.rows().map(<[f64]>::to_vec))
        .collect()
}

/// Rows by sid with values as bit patterns, for exact comparisons (NaN included).
pub fn bits(frame: &Frame) -> BTreeMap<String, Vec<u64>> {
    rows(frame)
        .into_iter()
        .map(|(sid, row)| (sid, row.into_iter().map(f64::to_bits).collect()))
        .collect()
}

/// A naive CSV parser for expectations: header (sid name first) and rows by sid.
pub fn parse_csv(text: &str) -> (Vec<String>, BTreeMap<String, Vec<f64>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|line| {
            let mut fields = line.split(',');
            let sid = fields.next().expect("sid").to_owned();
            let values = fields.map(|f| f.parse::<f64>().expect("number")).collect();
            (sid, values)
        })
        .collect();
    (header, rows)
}

/// `x0`, `x1`, ... `x<n-1>`.
pub fn xs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("x{i}")).collect()
}

/// Some family crates' components, looked up by module name or alias: what a family's
/// tests use in place of the facade's registry.
#[derive(Clone, Copy)]
pub struct Families(pub &'static [Components]);

impl Families {
    /// The component for `module` (aliases resolved).
    pub fn get(&self, module: &str) -> Option<&'static dyn Component> {
        let module = canonical_module(module);
        self.0
            .iter()
            .flat_map(|f| f.iter())
            .find(|(name, _)| *name == module)
            .map(|(_, c)| *c)
    }

    /// Runs the context's module.
    pub fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        self.get(&ctx.module)
            .unwrap_or_else(|| panic!("{} is not in these families", ctx.module))
            .run(ctx)
    }
}

/// The keys of `schema` marked implemented that `parse` never looks up through
/// [`Params`](crate::params::Params), over runs on a conf holding every implemented key
/// at FATE's default, then that conf with each of `overlays` merged in (for keys read
/// only under another key's value). `need_run` is the scheduler's and is skipped.
pub fn unread_implemented_keys(
    schema: &ModuleSchema,
    overlays: &[Value],
    parse: &dyn Fn(&serde_json::Map<String, Value>),
) -> Vec<&'static str> {
    let mut defaults = serde_json::Map::new();
    for p in schema.params().filter(|p| p.implemented && !p.is_object()) {
        let value = serde_json::from_str(p.default).unwrap_or(Value::Null);
        set_path(&mut defaults, p.path, value);
    }
    let mut read = std::collections::BTreeSet::new();
    for overlay in std::iter::once(&Value::Null).chain(overlays) {
        let mut conf = defaults.clone();
        if let Value::Object(extra) = overlay {
            for (k, v) in extra {
                set_path(&mut conf, k, v.clone());
            }
        }
        read.extend(crate::params::record_reads(|| parse(&conf)).1);
    }
    schema
        .params()
        .filter(|p| p.implemented && !p.is_object() && p.path != "need_run")
        .filter(|p| !read.contains(p.path))
        .map(|p| p.path)
        .collect()
}

fn set_path(map: &mut serde_json::Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(inner) = inner {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Where `parse` and the schema disagree on a default: `parse` run on a conf without
/// any key and on one holding every implemented key of `schema` at FATE's default must
/// give the same value. Each of `overlays` (keys set away from their defaults, so keys
/// read only under another key's value are reached) is merged into both confs for one
/// more comparison. When the two differ, each key is tried alone to name it. Returns
/// one line per problem, naming the module and key; empty when they agree. A conf
/// refused both with and without the keys (a key with no default) is passed over.
pub fn default_drift<T: std::fmt::Debug + PartialEq>(
    schema: &ModuleSchema,
    overlays: &[Value],
    parse: &dyn Fn(&serde_json::Map<String, Value>) -> Result<T>,
) -> Vec<String> {
    default_drift_except(schema, overlays, &[], parse)
}

/// [`default_drift`] leaving out the keys of `except` (and keys inside them): keys
/// whose mere presence FATE reads, as its deprecated keys that it moves into another
/// parameter object when given, even at their default.
pub fn default_drift_except<T: std::fmt::Debug + PartialEq>(
    schema: &ModuleSchema,
    overlays: &[Value],
    except: &[&str],
    parse: &dyn Fn(&serde_json::Map<String, Value>) -> Result<T>,
) -> Vec<String> {
    let excepted = |path: &str| {
        except.iter().any(|e| {
            path == *e
                || path
                    .strip_prefix(e)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    let keys: Vec<_> = schema
        .params()
        .filter(|p| p.implemented && !p.is_object() && p.path != "need_run")
        .filter(|p| !excepted(p.path))
        .collect();
    let with = |base: &serde_json::Map<String, Value>, path: &str, text: &str| {
        let mut conf = base.clone();
        set_path(
            &mut conf,
            path,
            serde_json::from_str(text).unwrap_or(Value::Null),
        );
        conf
    };
    let mut problems = Vec::new();
    for overlay in std::iter::once(&Value::Null).chain(overlays) {
        let mut base = serde_json::Map::new();
        if let Value::Object(extra) = overlay {
            for (k, v) in extra {
                set_path(&mut base, k, v.clone());
            }
        }
        // Keys the overlay sets, or sets inside of or around, keep the overlay's value.
        let covered = |path: &str| match overlay {
            Value::Object(o) => o.keys().any(|k| {
                k == path
                    || k.strip_prefix(path).is_some_and(|r| r.starts_with('.'))
                    || path
                        .strip_prefix(k.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            }),
            _ => false,
        };
        let own: Vec<_> = keys.iter().filter(|p| !covered(p.path)).collect();
        let mut full = base.clone();
        for p in &own {
            full = with(&full, p.path, p.default);
        }
        let (without, with_defaults) = (parse(&base), parse(&full));
        let mut refused = false;
        let without = match (without, with_defaults) {
            (Ok(a), Ok(b)) if a == b => continue,
            (Ok(a), Ok(_)) => a,
            // Refused either way: a key FATE has no default for (the Reader's table); the
            // overlays set it.
            (Err(_), Err(_)) => continue,
            (Err(e), _) => {
                problems.push(format!("{}: conf {overlay} refused: {e}", schema.name));
                continue;
            }
            // Still try each key alone, to name what else drifts.
            (Ok(a), Err(e)) => {
                problems.push(format!(
                    "{}: conf {overlay} with every key at FATE's default refused: {e}",
                    schema.name
                ));
                refused = true;
                a
            }
        };
        let before = problems.len();
        for p in &own {
            match parse(&with(&base, p.path, p.default)) {
                Ok(v) if v == without => {}
                Ok(v) => problems.push(format!(
                    "{}: `{}` absent parses as\n  {without:?}\nbut set to FATE's default {} as\n  {v:?}",
                    schema.name, p.path, p.default
                )),
                Err(e) => problems.push(format!(
                    "{}: `{}` at FATE's default {} refused: {e}",
                    schema.name, p.path, p.default
                )),
            }
        }
        if problems.len() == before && !refused {
            problems.push(format!(
                "{}: conf {overlay} parses differently with every key at FATE's default, though no key alone does",
                schema.name
            ));
        }
    }
    problems
}

/// A data plane between parties running as separate processes on one machine, for
/// benches that measure each party's own memory: each message is a file in a shared
/// directory, written under a temporary name and renamed, read by polling and removed.
#[derive(Debug, Clone)]
pub struct FileHub {
    dir: PathBuf,
    me: fateflow_domain::Party,
}

impl FileHub {
    /// The party `me`'s end of the hub in `dir` (which every party must share).
    pub fn new(dir: impl Into<PathBuf>, me: fateflow_domain::Party) -> Self {
        FileHub {
            dir: dir.into(),
            me,
        }
    }

    fn path(
        &self,
        name: &str,
        tag: &str,
        from: fateflow_domain::Party,
        to: fateflow_domain::Party,
    ) -> PathBuf {
        self.dir.join(format!(
            "{name}~{tag}~{}-{}~{}-{}",
            from.role, from.party_id, to.role, to.party_id
        ))
    }
}

impl fateflow_federation::Federation for FileHub {
    fn me(&self) -> fateflow_domain::Party {
        self.me
    }

    fn remote_bytes(
        &self,
        name: &str,
        tag: &str,
        value: &[u8],
        to: &[fateflow_domain::Party],
    ) -> fateflow_federation::Result<()> {
        for &party in to {
            let path = self.path(name, tag, self.me, party);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, value)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(())
    }

    fn get_bytes(
        &self,
        name: &str,
        tag: &str,
        from: fateflow_domain::Party,
    ) -> fateflow_federation::Result<Vec<u8>> {
        use std::time::{Duration, Instant};
        let path = self.path(name, tag, from, self.me);
        let started = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    std::fs::remove_file(&path)?;
                    return Ok(bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if started.elapsed() > Duration::from_secs(3600) {
                        return Err(fateflow_federation::Error::Site(format!(
                            "no `{name}` ({tag}) from {from} within an hour"
                        )));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// This process's peak resident set (`VmHWM`) in MB, where `/proc` has it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

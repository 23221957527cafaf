//! `fateflow gc`: retention for a stopped site's data dir.
//!
//! Finished jobs (every row of the job at this site `success`, `failed`, `canceled` or
//! `timeout`) that ended more than N days ago lose their job files, their logs, the
//! output tables they wrote (`output_data_<job>_...` namespaces only, and only when no
//! kept job's DSL or conf names them) and their metadata rows. Pipeline models are
//! kept whole (they hold copies of their component models), and so are uploaded
//! tables. Leftovers of the table store's staging area go too.
//!
//! It works offline: a running server holds an exclusive lock on `<data_dir>/server.lock`
//! and gc refuses to run while it does (and holds the lock itself meanwhile, so no server
//! starts under it).

use crate::output::outln;
use anyhow::{bail, Context};
use fateflow_domain::ident::safe_join;
use fateflow_storage::{JobFilter, JobRecord, MetadataStore, SqliteStore};
use fateflow_tables::{LocalTableStore, TableId, TableStore};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The lock file a running server holds.
pub const LOCK_FILE: &str = "server.lock";

/// A lock on a data dir (exclusive, or shared by the servers of a cluster), released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data dir's lock shared with the other `--cluster` servers: a server
/// without `--cluster` and `fateflow gc` are refused while one runs.
pub fn lock_data_dir_shared(dir: &Path) -> anyhow::Result<DataDirLock> {
    take_lock(dir, true)
}

/// Takes the data dir's lock for one server alone (or for `fateflow gc`), or says
/// which process holds it.
pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DataDirLock> {
    take_lock(dir, false)
}

fn take_lock(dir: &Path, shared: bool) -> anyhow::Result<DataDirLock> {
    use rustix::fs::{flock, FlockOperation};
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let op = if shared {
        FlockOperation::NonBlockingLockShared
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    match flock(&file, op) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            if shared {
                bail!(
                    "data dir {} is in use by a fateflow server without --cluster, or by fateflow gc (pid {holder}); servers share a data dir only when every one runs with --cluster",
                    dir.display()
                );
            }
            bail!(
                "data dir {} is in use by a running fateflow server (pid {holder})",
                dir.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("locking {}", path.display())),
    }
    // The pid of the one holder; shared holders leave the file alone.
    if !shared {
        file.set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(DataDirLock { _file: file })
}

/// Options of `fateflow gc`.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// The site's data dir.
    pub data_dir: PathBuf,
    /// Jobs that ended longer ago than this are removed.
    pub older_than_days: f64,
    /// Only print what would be removed.
    pub dry_run: bool,
}

/// What was (or would be) removed.
#[derive(Debug, Default)]
pub struct GcReport {
    /// One line per removed job, with its bytes.
    pub jobs: Vec<(String, u64)>,
    /// Output tables kept because another job names them.
    pub kept_tables: Vec<String>,
    /// Entries of the staging area, and their bytes.
    pub tmp_entries: usize,
    /// Bytes of those entries.
    pub tmp_bytes: u64,
    /// Metadata rows deleted.
    pub rows: u64,
}

impl GcReport {
    /// Bytes in all.
    pub fn total_bytes(&self) -> u64 {
        self.jobs.iter().map(|(_, b)| b).sum::<u64>() + self.tmp_bytes
    }
}

/// Runs `fateflow gc` and prints its report.
pub fn run(opts: &GcOptions) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(collect(opts))?;
    let verb = if opts.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (line, bytes) in &report.jobs {
        outln!("{verb} {line}: {}", human(*bytes))?;
    }
    for t in &report.kept_tables {
        outln!("kept {t}")?;
    }
    outln!(
        "{verb} {} staging entries: {}",
        report.tmp_entries,
        human(report.tmp_bytes)
    )?;
    outln!(
        "{verb} {} jobs older than {} days ({} metadata rows), {} in all",
        report.jobs.len(),
        opts.older_than_days,
        report.rows,
        human(report.total_bytes())
    )?;
    Ok(ExitCode::SUCCESS)
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Bytes under a path (0 when it does not exist); links are not followed.
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn remove(path: &Path) -> anyhow::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.with_context(|| format!("removing {}", path.display()))
}

/// Finds what to remove and, unless a dry run, removes it.
pub async fn collect(opts: &GcOptions) -> anyhow::Result<GcReport> {
    if !opts.older_than_days.is_finite() || opts.older_than_days < 0.0 {
        bail!("--older-than-days: a number of days, 0 or more");
    }
    let dir = &opts.data_dir;
    let db = dir.join("fateflow.db");
    if !db.is_file() {
        bail!(
            "{} is not a fateflow data dir (no fateflow.db)",
            dir.display()
        );
    }
    let _lock = lock_data_dir(dir)?;
    let store = SqliteStore::open(&db)
        .await
        .context("opening the metadata database")?;
    let tables = LocalTableStore::open(dir).context("opening the table store")?;
    let mut report = remove_old_jobs(&store, &tables, opts).await?;

    // No server runs (the lock says so): everything in the staging area is a leftover.
    let tmp = dir.join("tmp");
    if let Ok(rd) = std::fs::read_dir(&tmp) {
        for e in rd.flatten() {
            report.tmp_entries += 1;
            report.tmp_bytes += size_of(&e.path());
        }
    }
    if !opts.dry_run {
        tables
            .sweep_tmp(Duration::ZERO)
            .context("sweeping the staging area")?;
    }
    store.close().await;
    Ok(report)
}

/// The job part of gc, also run by a server started with `--retention-days`: finished
/// jobs older than `opts.older_than_days` (all their rows at this site ended).
pub async fn remove_old_jobs(
    store: &dyn MetadataStore,
    tables: &LocalTableStore,
    opts: &GcOptions,
) -> anyhow::Result<GcReport> {
    let dir = &opts.data_dir;
    let cutoff = now_ms() - (opts.older_than_days * 86_400_000.0) as i64;
    let (rows, _) = store.query_jobs(&JobFilter::default()).await?;
    let mut jobs: BTreeMap<String, Vec<JobRecord>> = BTreeMap::new();
    for r in rows {
        jobs.entry(r.job_id.clone()).or_default().push(r);
    }
    let old = |rows: &[JobRecord]| {
        rows.iter().all(|r| {
            r.status.is_end() && r.end_time.unwrap_or(r.update_time).max(r.update_time) < cutoff
        })
    };
    let (gone, kept): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|(_, rows)| old(rows));
    // What kept jobs name: an output table named there is still in use.
    let named: Vec<String> = kept
        .iter()
        .flat_map(|(_, rows)| rows)
        .map(|r| format!("{} {}", r.dsl, r.runtime_conf))
        .collect();

    let mut report = GcReport::default();
    for (job_id, rows) in gone {
        let (Ok(job_dir), Ok(log_dir)) = (
            safe_join(&dir.join("jobs"), &[&job_id]),
            safe_join(&dir.join("logs"), &[&job_id]),
        ) else {
            eprintln!("skipping job `{job_id}`: its id cannot be a path");
            continue;
        };
        let mut bytes = size_of(&job_dir) + size_of(&log_dir);
        let mut outputs = Vec::new();
        let prefix = format!("output_data_{job_id}_");
        for o in store.job_output_data(&job_id).await? {
            if !o.table_namespace.starts_with(&prefix) {
                continue;
            }
            let shown = format!("{}.{}", o.table_namespace, o.table_name);
            if named
                .iter()
                .any(|t| t.contains(&o.table_namespace) && t.contains(&o.table_name))
            {
                report
                    .kept_tables
                    .push(format!("table {shown}: another job names it"));
                continue;
            }
            let Ok(id) = TableId::new(&o.table_namespace, &o.table_name) else {
                continue;
            };
            bytes += size_of(&tables.table_dir(&id));
            outputs.push(id);
        }
        let status = rows.first().map(|r| r.status.as_str()).unwrap_or_default();
        report.jobs.push((
            format!("job {job_id} ({status}, {} output tables)", outputs.len()),
            bytes,
        ));
        if opts.dry_run {
            continue;
        }
        // A running server may have rerun it since it was listed.
        let (now_rows, _) = store
            .query_jobs(&JobFilter {
                job_id: Some(job_id.clone()),
                ..Default::default()
            })
            .await?;
        if !old(&now_rows) {
            report.jobs.pop();
            continue;
        }
        for id in &outputs {
            tables
                .delete(id)
                .with_context(|| format!("deleting table {id}"))?;
            store.delete_table_meta(id.namespace(), id.name()).await?;
        }
        remove(&job_dir)?;
        remove(&log_dir)?;
        report.rows += store.delete_job_records(&job_id).await?;
    }
    Ok(report)
}

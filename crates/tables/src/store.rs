//! The [`TableStore`] trait and its local-file-system implementation.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::{KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::id::TableId;
use crate::schema::{TableAddress, TableInfo, INFO_KEY};
use crate::MAX_PARTITIONS;

/// Rows per record batch when reading a partition.
pub const READ_BATCH_ROWS: usize = 8192;

/// A stream of record batches of one partition.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// What to do when the target table already exists at commit time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`Error::TableExists`].
    Create,
    /// Replace it. The old table stays intact if the new one cannot be published.
    Replace,
}

/// A table being written. Nothing is visible under its name until [`commit`](Self::commit)
/// succeeds; dropping it without committing discards everything written.
pub trait StagedTable: Send {
    /// Appends `batch` to `partition`. The batch must have the table's Arrow schema.
    /// Each call ends at least one row group, so callers should batch rows.
    fn write(&mut self, partition: u32, batch: &RecordBatch) -> Result<()>;

    /// Appends each batch to its partition, the partitions all different; an
    /// implementation may encode them at the same time. Same effect as calling
    /// [`write`](Self::write) for each in order.
    fn write_many(&mut self, batches: &[(u32, RecordBatch)]) -> Result<()> {
        batches.iter().try_for_each(|(p, b)| self.write(*p, b))
    }

    /// Finishes every partition, checks that the stored footers hold `expected_rows` rows
    /// (and as many as were written), and publishes the table atomically. Returns the
    /// verified row count. On error nothing is published.
    fn commit(self: Box<Self>, mode: WriteMode, expected_rows: u64) -> Result<u64>;
}

/// Storage of partitioned tables. Implementations must make writes atomic: a table is
/// either completely there, with a verified row count, or not there at all.
///
/// The local implementation is [`LocalTableStore`]; an object-storage one can be added
/// behind the same trait.
pub trait TableStore: Send + Sync + fmt::Debug {
    /// Whether the table exists.
    fn exists(&self, id: &TableId) -> Result<bool>;

    /// The table's schema and layout as written.
    fn info(&self, id: &TableId) -> Result<TableInfo>;

    /// Number of rows, from the stored footers (no data is read).
    fn count(&self, id: &TableId) -> Result<u64>;

    /// Streams the record batches of one partition, in bounded memory.
    fn read_partition(&self, id: &TableId, partition: u32) -> Result<BatchIter>;

    /// Starts writing a table. See [`StagedTable`].
    fn begin_write(&self, id: &TableId, info: &TableInfo) -> Result<Box<dyn StagedTable>>;

    /// Deletes the table. Returns `false` when it did not exist.
    fn delete(&self, id: &TableId) -> Result<bool>;

    /// Where the table lives (or would live).
    fn address(&self, id: &TableId) -> TableAddress;
}

/// Stores each table as `<root>/tables/<namespace>/<name>/part-<NNNNN>.parquet`.
///
/// Writes go to a fresh directory under `<root>/tmp/` that is renamed into place once
/// every partition is written and its row count checked. The root is canonicalised when
/// the store is opened, and every existing table path is canonicalised and checked to be
/// under it before use, so symbolic links cannot lead outside.
#[derive(Debug, Clone)]
pub struct LocalTableStore {
    root: PathBuf,
    tables: PathBuf,
    tmp: PathBuf,
}

impl LocalTableStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| Error::io("create directory", root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("canonicalize", root, e))?;
        let tables = root.join("tables");
        let tmp = root.join("tmp");
        for dir in [&tables, &tmp] {
            fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            let canonical = dir
                .canonicalize()
                .map_err(|e| Error::io("canonicalize", dir, e))?;
            if canonical != *dir {
                return Err(Error::OutsideRoot { path: dir.clone() });
            }
        }
        Ok(LocalTableStore { root, tables, tmp })
    }

    /// The canonical data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory a table lives in (whether or not it exists).
    pub fn table_dir(&self, id: &TableId) -> PathBuf {
        self.tables.join(id.namespace()).join(id.name())
    }

    /// Path of one partition file inside a table directory.
    pub fn partition_file(table_dir: &Path, partition: u32) -> PathBuf {
        table_dir.join(format!("part-{partition:05}.parquet"))
    }

    /// Removes leftovers under `<root>/tmp/` (a crashed or killed writer's staging dir,
    /// empty or not) untouched for `older_than`: a directory's age is that of the
    /// newest of it and its files, so a write still in progress is left alone. Returns
    /// how many entries were removed.
    ///
    /// Pass an age longer than any write may pause, or call it at start-up before any
    /// write begins (then `Duration::ZERO` is safe).
    pub fn sweep_tmp(&self, older_than: Duration) -> Result<usize> {
        let entries =
            fs::read_dir(&self.tmp).map_err(|e| Error::io("list directory", &self.tmp, e))?;
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list directory", &self.tmp, e))?;
            let path = entry.path();
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("stat", &path, e)),
            };
            let mut newest = meta.modified().ok();
            if meta.is_dir() && !older_than.is_zero() {
                for inner in fs::read_dir(&path).into_iter().flatten().flatten() {
                    let m = inner.metadata().ok().and_then(|m| m.modified().ok());
                    newest = newest.max(m);
                }
            }
            let age = newest
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age < older_than {
                continue;
            }
            let result = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Ok(()) => removed += 1,
                // Gone meanwhile (published or dropped by its writer).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &path, e)),
            }
        }
        Ok(removed)
    }

    /// The canonical table directory if the table exists.
    fn existing_dir(&self, id: &TableId) -> Result<Option<PathBuf>> {
        let dir = self.table_dir(id);
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("stat", &dir, e)),
            Ok(_) => {}
        }
        let canonical = match dir.canonicalize() {
            Ok(c) => c,
            // A dangling symbolic link: not a table.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("canonicalize", &dir, e)),
        };
        if !canonical.starts_with(&self.tables) {
            return Err(Error::OutsideRoot { path: dir });
        }
        if !canonical.is_dir() {
            return Err(Error::Corrupt {
                path: dir,
                reason: "not a directory".into(),
            });
        }
        Ok(Some(canonical))
    }

    fn require_dir(&self, id: &TableId) -> Result<PathBuf> {
        self.existing_dir(id)?.ok_or_else(|| not_found(id))
    }

    fn temp_path(&self, prefix: &str) -> PathBuf {
        self.tmp.join(unique_name(prefix))
    }
}

fn not_found(id: &TableId) -> Error {
    Error::TableNotFound {
        namespace: id.namespace().to_owned(),
        name: id.name().to_owned(),
    }
}

fn already_exists(id: &TableId) -> Error {
    Error::TableExists {
        namespace: id.namespace().to_owned(),
        name: id.name().to_owned(),
    }
}

/// A name that no other write of this or another process uses at the same time.
pub(crate) fn unique_name(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{seq}", std::process::id())
}

fn read_footer(path: &Path) -> Result<ParquetMetaData> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| Error::parquet(path, e))
}

fn info_from_kv(path: &Path, kv: Option<&Vec<KeyValue>>) -> Result<TableInfo> {
    let json = kv
        .and_then(|kv| kv.iter().find(|e| e.key == INFO_KEY))
        .and_then(|e| e.value.as_deref())
        .ok_or_else(|| Error::Corrupt {
            path: path.to_owned(),
            reason: format!("no `{INFO_KEY}` entry in the footer"),
        })?;
    TableInfo::from_footer_json(path, json)
}

fn file_rows(path: &Path, meta: &ParquetMetaData) -> Result<u64> {
    u64::try_from(meta.file_metadata().num_rows()).map_err(|_| Error::Corrupt {
        path: path.to_owned(),
        reason: "negative row count".into(),
    })
}

impl TableStore for LocalTableStore {
    fn exists(&self, id: &TableId) -> Result<bool> {
        Ok(self.existing_dir(id)?.is_some())
    }

    fn info(&self, id: &TableId) -> Result<TableInfo> {
        let dir = self.require_dir(id)?;
        let path = Self::partition_file(&dir, 0);
        let meta = read_footer(&path)?;
        info_from_kv(&path, meta.file_metadata().key_value_metadata())
    }

    fn count(&self, id: &TableId) -> Result<u64> {
        let dir = self.require_dir(id)?;
        let first = Self::partition_file(&dir, 0);
        let meta = read_footer(&first)?;
        let info = info_from_kv(&first, meta.file_metadata().key_value_metadata())?;
        let mut total = file_rows(&first, &meta)?;
        for p in 1..info.partitions {
            let path = Self::partition_file(&dir, p);
            total += file_rows(&path, &read_footer(&path)?)?;
        }
        Ok(total)
    }

    fn read_partition(&self, id: &TableId, partition: u32) -> Result<BatchIter> {
        let dir = self.require_dir(id)?;
        let path = Self::partition_file(&dir, partition);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Distinguish a bad partition number from a missing file.
                let info = self.info(id)?;
                if partition >= info.partitions {
                    return Err(Error::PartitionOutOfRange {
                        table: id.to_string(),
                        partition,
                        partitions: info.partitions,
                    });
                }
                return Err(Error::io("open", &path, e));
            }
            Err(e) => return Err(Error::io("open", &path, e)),
        };
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(&path, e))?;
        let info = info_from_kv(
            &path,
            builder.metadata().file_metadata().key_value_metadata(),
        )?;
        if !info.matches_arrow(builder.schema()) {
            return Err(Error::Corrupt {
                path,
                reason: "column names or types differ from the stored schema".into(),
            });
        }
        let reader = builder
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| Error::parquet(&path, e))?;
        Ok(Box::new(reader.map(|batch| batch.map_err(Error::from))))
    }

    fn begin_write(&self, id: &TableId, info: &TableInfo) -> Result<Box<dyn StagedTable>> {
        if info.partitions == 0 || info.partitions > MAX_PARTITIONS {
            return Err(Error::InvalidPartitions(info.partitions));
        }
        info.validate()?;
        let dir = self.temp_path("stage");
        fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        // From here on `stage` owns the directory and removes it when dropped.
        let mut stage = LocalStagedTable {
            store: self.clone(),
            id: id.clone(),
            dir,
            writers: Vec::with_capacity(info.partitions as usize),
            rows: vec![0; info.partitions as usize],
            published: false,
        };
        let schema = info.arrow_schema();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Sids are unique and float features nearly so: dictionaries cost about a
            // quarter of an upload's CPU and made the files larger.
            .set_dictionary_enabled(false)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                INFO_KEY.to_owned(),
                info.to_footer_json(),
            )]))
            .build();
        for p in 0..info.partitions {
            let path = Self::partition_file(&stage.dir, p);
            let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
            let writer = ArrowWriter::try_new(
                BufWriter::with_capacity(64 * 1024, file),
                schema.clone(),
                Some(props.clone()),
            )
            .map_err(|e| Error::parquet(&path, e))?;
            stage.writers.push(writer);
        }
        Ok(Box::new(stage))
    }

    fn delete(&self, id: &TableId) -> Result<bool> {
        let Some(dir) = self.existing_dir(id)? else {
            return Ok(false);
        };
        // Move it out of sight in one step, then remove it at leisure.
        let trash = self.temp_path("delete");
        fs::rename(&dir, &trash).map_err(|e| Error::io("move away", &dir, e))?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io("remove", &trash, e))?;
        if let Some(ns) = dir.parent() {
            // Only succeeds when the namespace has no other table.
            let _ = fs::remove_dir(ns);
        }
        Ok(true)
    }

    fn address(&self, id: &TableId) -> TableAddress {
        TableAddress::Local {
            path: self.table_dir(id),
        }
    }
}

struct LocalStagedTable {
    store: LocalTableStore,
    id: TableId,
    dir: PathBuf,
    writers: Vec<ArrowWriter<BufWriter<File>>>,
    rows: Vec<u64>,
    published: bool,
}

impl LocalStagedTable {
    /// Closes every file, syncs it, and checks the footers' row counts against the rows
    /// written and against `expected`.
    fn finish_files(&mut self, expected: u64) -> Result<u64> {
        let mut files = Vec::with_capacity(self.writers.len());
        for (p, writer) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            let path = LocalTableStore::partition_file(&self.dir, p as u32);
            let buffered = writer.into_inner().map_err(|e| Error::parquet(&path, e))?;
            let file = buffered
                .into_inner()
                .map_err(|e| Error::io("write", &path, e.into_error()))?;
            files.push((path, file));
        }
        sync_all_parallel(&files)?;
        drop(files);

        let mut found = 0;
        for p in 0..self.rows.len() {
            let path = LocalTableStore::partition_file(&self.dir, p as u32);
            found += file_rows(&path, &read_footer(&path)?)?;
        }
        let written: u64 = self.rows.iter().sum();
        if found != written || found != expected {
            return Err(Error::CountMismatch {
                namespace: self.id.namespace().to_owned(),
                name: self.id.name().to_owned(),
                expected,
                found,
            });
        }
        Ok(found)
    }

    fn publish(&mut self, mode: WriteMode) -> Result<()> {
        let store = &self.store;
        let target = store.table_dir(&self.id);
        let ns_dir = target
            .parent()
            .expect("a table directory has a namespace parent");
        fs::create_dir_all(ns_dir).map_err(|e| Error::io("create directory", ns_dir, e))?;
        let ns_canonical = ns_dir
            .canonicalize()
            .map_err(|e| Error::io("canonicalize", ns_dir, e))?;
        if !ns_canonical.starts_with(&store.tables) {
            return Err(Error::OutsideRoot {
                path: ns_dir.to_owned(),
            });
        }
        match mode {
            WriteMode::Create => {
                if store.existing_dir(&self.id)?.is_some() {
                    return Err(already_exists(&self.id));
                }
                // Renaming onto an existing, non-empty directory fails, so a concurrent
                // writer that won the race is reported, not overwritten.
                fs::rename(&self.dir, &target).map_err(|e| {
                    if target.exists() {
                        already_exists(&self.id)
                    } else {
                        Error::io("publish", &target, e)
                    }
                })?;
            }
            WriteMode::Replace => {
                let old = match store.existing_dir(&self.id)? {
                    Some(_) => {
                        let old = store.temp_path("replaced");
                        fs::rename(&target, &old)
                            .map_err(|e| Error::io("move away", &target, e))?;
                        Some(old)
                    }
                    None => None,
                };
                if let Err(e) = fs::rename(&self.dir, &target) {
                    if let Some(old) = &old {
                        // Put the previous table back.
                        let _ = fs::rename(old, &target);
                    }
                    return Err(Error::io("publish", &target, e));
                }
                if let Some(old) = old {
                    // A failure here only leaves garbage for `sweep_tmp`.
                    let _ = fs::remove_dir_all(old);
                }
            }
        }
        self.published = true;
        // Make the rename durable; not every platform can sync a directory.
        if let Ok(dir) = File::open(ns_dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Syncs files to disk, several at a time: one after the other, the syncs of a
/// 16-partition table take longer than writing it.
fn sync_all_parallel(files: &[(PathBuf, File)]) -> Result<()> {
    const THREADS: usize = 8;
    if files.len() <= 1 {
        for (path, file) in files {
            file.sync_all().map_err(|e| Error::io("sync", path, e))?;
        }
        return Ok(());
    }
    let chunk = files.len().div_ceil(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    for (path, file) in chunk {
                        file.sync_all().map_err(|e| Error::io("sync", path, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        // The scope joins every thread even when this stops at the first error.
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a sync thread panicked"))
    })
}

/// Appends `batch` to partition `partition`'s file as one row group.
fn write_partition(
    writer: &mut ArrowWriter<BufWriter<File>>,
    dir: &Path,
    partition: u32,
    batch: &RecordBatch,
) -> Result<()> {
    let path = || LocalTableStore::partition_file(dir, partition);
    writer.write(batch).map_err(|e| Error::parquet(path(), e))?;
    writer.flush().map_err(|e| Error::parquet(path(), e))
}

impl StagedTable for LocalStagedTable {
    fn write(&mut self, partition: u32, batch: &RecordBatch) -> Result<()> {
        let partitions = self.rows.len() as u32;
        let writer =
            self.writers
                .get_mut(partition as usize)
                .ok_or_else(|| Error::PartitionOutOfRange {
                    table: self.id.to_string(),
                    partition,
                    partitions,
                })?;
        write_partition(writer, &self.dir, partition, batch)?;
        self.rows[partition as usize] += batch.num_rows() as u64;
        Ok(())
    }

    fn write_many(&mut self, batches: &[(u32, RecordBatch)]) -> Result<()> {
        if batches.len() < 2 {
            return batches.iter().try_for_each(|(p, b)| self.write(*p, b));
        }
        let partitions = self.rows.len() as u32;
        let dir = self.dir.clone();
        let table = self.id.to_string();
        // One writer per batch, each borrowed once: the partitions must differ.
        let mut slots: Vec<Option<&mut ArrowWriter<BufWriter<File>>>> =
            self.writers.iter_mut().map(Some).collect();
        let mut jobs = Vec::with_capacity(batches.len());
        for (p, batch) in batches {
            let writer = slots
                .get_mut(*p as usize)
                .ok_or_else(|| Error::PartitionOutOfRange {
                    table: table.clone(),
                    partition: *p,
                    partitions,
                })?
                .take()
                .ok_or_else(|| Error::InvalidFrame {
                    reason: format!("partition {p} given twice in one write"),
                })?;
            jobs.push((*p, writer, batch));
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(p, writer, batch)| {
                    let dir = &dir;
                    scope.spawn(move || write_partition(writer, dir, p, batch))
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("a partition writer panicked"))
        })?;
        for (p, batch) in batches {
            self.rows[*p as usize] += batch.num_rows() as u64;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>, mode: WriteMode, expected_rows: u64) -> Result<u64> {
        let count = self.finish_files(expected_rows)?;
        self.publish(mode)?;
        Ok(count)
    }
}

impl Drop for LocalStagedTable {
    fn drop(&mut self) {
        if !self.published {
            // Close the files first; errors do not matter, the directory goes away.
            self.writers.clear();
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("x"), unique_name("x"));
    }

    #[test]
    fn partition_file_names() {
        let p = LocalTableStore::partition_file(Path::new("/t"), 7);
        assert_eq!(p, Path::new("/t/part-00007.parquet"));
    }
}

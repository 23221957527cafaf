//! The bounded-memory pieces of Intersection: a bitmap of kept rows over an input's scan
//! order, a task scratch directory removed on drop, protocol values hash-partitioned into
//! buckets (in memory when they fit the budget, else in files) and matched bucket by
//! bucket, and the aligned writer: the kept rows re-read in blocks and written sorted by
//! sid (an external merge sort when they exceed the budget) with the partition count the
//! guest chose, so that every party's output lists the same sids in the same scan order.

use crate::context::TaskContext;
use crate::error::{Error, Result};
use fateflow_tables::{read_blocks, FrameWriter, TableId, TableSchema, WriteMode};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An I/O failure on a scratch file, reported against the input table.
pub(crate) fn io(input: &TableId, op: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::table(
        input,
        fateflow_tables::Error::Io {
            op,
            path: path.to_path_buf(),
            source: e,
        },
    )
}

/// One bit per row of an input, in its scan order (10 M rows: 1.25 MB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    /// `len` cleared bits.
    pub(crate) fn new(len: usize) -> Self {
        Bitmap {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// `len` set bits.
    pub(crate) fn full(len: usize) -> Self {
        let mut b = Bitmap {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        b.clear_tail();
        b
    }

    fn clear_tail(&mut self) {
        if !self.len.is_multiple_of(64) {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << (self.len % 64)) - 1;
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Keeps only the bits also set in `other` (of the same length).
    pub(crate) fn and(&mut self, other: &Bitmap) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// The wire form: little-endian words.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// From [`to_bytes`](Self::to_bytes); `None` when `bytes` is not a bitmap of `len`
    /// bits.
    pub(crate) fn from_bytes(bytes: &[u8], len: usize) -> Option<Self> {
        if bytes.len() != len.div_ceil(64) * 8 {
            return None;
        }
        let words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let b = Bitmap { words, len };
        let mut clean = b.clone();
        clean.clear_tail();
        (clean == b).then_some(b)
    }

    /// From positions (each below `len`).
    pub(crate) fn from_positions(len: usize, positions: impl IntoIterator<Item = usize>) -> Self {
        let mut b = Bitmap::new(len);
        for p in positions {
            if p < len {
                b.set(p);
            }
        }
        b
    }
}

static SCRATCH_SEQ: AtomicU64 = AtomicU64::new(0);

/// The task's scratch directory, created on first use and removed with everything in it
/// when dropped (on success and on failure alike).
pub(crate) struct Scratch {
    dir: PathBuf,
    input: TableId,
    created: bool,
    files: u64,
}

impl Scratch {
    /// A scratch directory for this task under the system temp dir (the task process's
    /// `TMPDIR`), named after the job, component, role and party.
    pub(crate) fn new(ctx: &TaskContext<'_>, input: &TableId) -> Self {
        let seq = SCRATCH_SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "fateflow-intersection-{}-{}-{}-{}-{}-{seq}",
            ctx.job_id,
            ctx.component,
            ctx.role,
            ctx.party_id,
            std::process::id()
        ));
        Scratch {
            dir,
            input: input.clone(),
            created: false,
            files: 0,
        }
    }

    /// A new file in the directory.
    pub(crate) fn create(&mut self, what: &str) -> Result<(PathBuf, File)> {
        if !self.created {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| io(&self.input, "create directory", &self.dir, e))?;
            self.created = true;
        }
        self.files += 1;
        let path = self.dir.join(format!("{what}-{}", self.files));
        let file = File::create(&path).map_err(|e| io(&self.input, "create file", &path, e))?;
        Ok((path, file))
    }

    pub(crate) fn input(&self) -> &TableId {
        &self.input
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Bytes one record takes in a bucket's hash map when matched: the key, its position,
/// and the map's overhead.
fn map_bytes(key_len: usize) -> u64 {
    key_len as u64 + 8 + 24 + 32
}

/// How many buckets keep one bucket's hash map of `rows` values of `key_len` bytes
/// within `limit` bytes (1: everything in memory, no file; then both sides' records are
/// held too, which the estimate counts).
pub(crate) fn bucket_count(rows: u64, key_len: usize, limit: u64) -> usize {
    let record = key_len as u64 + 10;
    let limit = limit.max(1);
    if rows.saturating_mul(map_bytes(key_len) + 2 * record) <= limit {
        return 1;
    }
    rows.saturating_mul(map_bytes(key_len))
        .div_ceil(limit)
        .max(2) as usize
}

fn bucket_of(key: &[u8], buckets: usize) -> usize {
    if buckets <= 1 {
        return 0;
    }
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    // Values are pseudo-random (points, group elements, hashes): a few bytes suffice.
    let h = key
        .iter()
        .take(16)
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (h % buckets as u64) as usize
}

enum Sink {
    Memory(Vec<u8>),
    File(PathBuf, BufWriter<File>),
}

/// Protocol values with their positions, hash-partitioned by value: records
/// `(u16 key length, key, u64 position)`.
pub(crate) struct Buckets {
    sinks: Vec<Sink>,
    records: u64,
}

impl Buckets {
    /// `buckets` buckets; one is kept in memory, several go to files in `scratch`.
    pub(crate) fn new(scratch: &mut Scratch, what: &str, buckets: usize) -> Result<Self> {
        let sinks = if buckets <= 1 {
            vec![Sink::Memory(Vec::new())]
        } else {
            (0..buckets)
                .map(|_| {
                    let (path, file) = scratch.create(what)?;
                    Ok(Sink::File(path, BufWriter::with_capacity(1 << 16, file)))
                })
                .collect::<Result<_>>()?
        };
        Ok(Buckets { sinks, records: 0 })
    }

    /// How many buckets (1: in memory).
    pub(crate) fn buckets(&self) -> usize {
        self.sinks.len()
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Adds `key` at `position`.
    pub(crate) fn push(&mut self, input: &TableId, key: &[u8], position: u64) -> Result<()> {
        let n = self.sinks.len();
        let len = u16::try_from(key.len())
            .map_err(|_| Error::param("intersection", format!("a {}-byte value", key.len())))?;
        let mut rec = Vec::with_capacity(key.len() + 10);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(key);
        rec.extend_from_slice(&position.to_le_bytes());
        match &mut self.sinks[bucket_of(key, n)] {
            Sink::Memory(buf) => buf.extend_from_slice(&rec),
            Sink::File(path, w) => w
                .write_all(&rec)
                .map_err(|e| io(input, "write scratch file", path, e))?,
        }
        self.records += 1;
        Ok(())
    }

    fn finish(self, input: &TableId) -> Result<Vec<BucketData>> {
        self.sinks
            .into_iter()
            .map(|s| match s {
                Sink::Memory(buf) => Ok(BucketData::Memory(buf)),
                Sink::File(path, w) => {
                    let file = w
                        .into_inner()
                        .map_err(|e| io(input, "write scratch file", &path, e.into_error()))?;
                    drop(file);
                    Ok(BucketData::File(path))
                }
            })
            .collect()
    }
}

enum BucketData {
    Memory(Vec<u8>),
    File(PathBuf),
}

impl BucketData {
    /// Calls `f(key, position)` for every record.
    fn for_each(&self, input: &TableId, mut f: impl FnMut(&[u8], u64)) -> Result<()> {
        match self {
            BucketData::Memory(buf) => {
                let mut rest = buf.as_slice();
                while rest.len() >= 2 {
                    let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
                    let key = &rest[2..2 + len];
                    let pos =
                        u64::from_le_bytes(rest[2 + len..10 + len].try_into().unwrap_or([0; 8]));
                    f(key, pos);
                    rest = &rest[10 + len..];
                }
                Ok(())
            }
            BucketData::File(path) => {
                let file = File::open(path).map_err(|e| io(input, "open scratch file", path, e))?;
                let mut r = BufReader::with_capacity(1 << 16, file);
                let mut key = Vec::new();
                loop {
                    let mut len = [0u8; 2];
                    match r.read_exact(&mut len) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(io(input, "read scratch file", path, e)),
                    }
                    key.resize(u16::from_le_bytes(len) as usize, 0);
                    let mut pos = [0u8; 8];
                    r.read_exact(&mut key)
                        .and_then(|()| r.read_exact(&mut pos))
                        .map_err(|e| io(input, "read scratch file", path, e))?;
                    f(&key, u64::from_le_bytes(pos));
                }
                let _ = std::fs::remove_file(path);
                Ok(())
            }
        }
    }
}

/// Matches two sides' values bucket by bucket (both made with the same bucket count):
/// `on_pair(our position, their position)` for every value both hold. Holds one
/// bucket's map of `ours` at a time.
pub(crate) fn match_buckets(
    input: &TableId,
    ours: Buckets,
    theirs: Buckets,
    mut on_pair: impl FnMut(u64, u64) -> Result<()>,
) -> Result<()> {
    if ours.sinks.len() != theirs.sinks.len() {
        return Err(Error::param(
            "intersection",
            "the two sides' values were split into different bucket counts",
        ));
    }
    let ours = ours.finish(input)?;
    let theirs = theirs.finish(input)?;
    for (o, t) in ours.iter().zip(&theirs) {
        let mut map: HashMap<Vec<u8>, u64> = HashMap::new();
        o.for_each(input, |k, p| {
            map.insert(k.to_vec(), p);
        })?;
        let mut failed = None;
        t.for_each(input, |k, p| {
            if failed.is_none() {
                if let Some(&q) = map.get(k) {
                    if let Err(e) = on_pair(q, p) {
                        failed = Some(e);
                    }
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Pairs of positions kept on disk (or in memory when few), read back in order.
pub(crate) struct PairLog {
    sink: Sink,
    count: u64,
}

impl PairLog {
    pub(crate) fn new(scratch: &mut Scratch, in_memory: bool) -> Result<Self> {
        let sink = if in_memory {
            Sink::Memory(Vec::new())
        } else {
            let (path, file) = scratch.create("pairs")?;
            Sink::File(path, BufWriter::with_capacity(1 << 16, file))
        };
        Ok(PairLog { sink, count: 0 })
    }

    pub(crate) fn push(&mut self, input: &TableId, a: u64, b: u64) -> Result<()> {
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&a.to_le_bytes());
        rec[8..].copy_from_slice(&b.to_le_bytes());
        match &mut self.sink {
            Sink::Memory(buf) => buf.extend_from_slice(&rec),
            Sink::File(path, w) => w
                .write_all(&rec)
                .map_err(|e| io(input, "write scratch file", path, e))?,
        }
        self.count += 1;
        Ok(())
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// Calls `f(a, b)` for every pair, in push order.
    pub(crate) fn for_each(self, input: &TableId, mut f: impl FnMut(u64, u64)) -> Result<()> {
        let data = match self.sink {
            Sink::Memory(buf) => BucketData::Memory(buf),
            Sink::File(path, w) => {
                w.into_inner()
                    .map_err(|e| io(input, "write scratch file", &path, e.into_error()))?;
                BucketData::File(path)
            }
        };
        let mut each = |rec: &[u8]| {
            let a = u64::from_le_bytes(rec[..8].try_into().unwrap_or([0; 8]));
            let b = u64::from_le_bytes(rec[8..16].try_into().unwrap_or([0; 8]));
            f(a, b);
        };
        match &data {
            BucketData::Memory(buf) => buf.chunks_exact(16).for_each(&mut each),
            BucketData::File(path) => {
                let file = File::open(path).map_err(|e| io(input, "open scratch file", path, e))?;
                let mut r = BufReader::with_capacity(1 << 16, file);
                let mut rec = [0u8; 16];
                loop {
                    match r.read_exact(&mut rec) {
                        Ok(()) => each(&rec),
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(io(input, "read scratch file", path, e)),
                    }
                }
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }
}

/// Rows per block when re-reading an input of `ncols` columns.
pub(crate) fn scan_block_rows(ctx: &TaskContext<'_>, ncols: usize) -> usize {
    ctx.memory.block_rows(64 + 8 * ncols, 16)
}

/// Bytes one row takes in the sorter's memory.
fn row_bytes(sid: &str, ncols: usize) -> u64 {
    (sid.len() + 24 + 8 * ncols + 16) as u64
}

/// A sorted run on disk: `(u32 sid length, sid, ncols × f64)` records.
struct Run {
    path: PathBuf,
    reader: BufReader<File>,
}

impl Run {
    fn next(&mut self, input: &TableId, ncols: usize) -> Result<Option<(String, Vec<f64>)>> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(input, "read scratch file", &self.path, e)),
        }
        let mut sid = vec![0u8; u32::from_le_bytes(len) as usize];
        let mut vals = vec![0u8; 8 * ncols];
        self.reader
            .read_exact(&mut sid)
            .and_then(|()| self.reader.read_exact(&mut vals))
            .map_err(|e| io(input, "read scratch file", &self.path, e))?;
        let sid = String::from_utf8(sid).map_err(|_| {
            io(
                input,
                "read scratch file",
                &self.path,
                std::io::Error::from(std::io::ErrorKind::InvalidData),
            )
        })?;
        let values = vals
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Ok(Some((sid, values)))
    }
}

/// Rows sorted by sid within `limit` bytes: sorted runs spilled to scratch files when
/// the rows exceed it, merged at the end.
pub(crate) struct RowSorter {
    ncols: usize,
    limit: u64,
    held: u64,
    rows: Vec<(String, Vec<f64>)>,
    runs: Vec<PathBuf>,
}

impl RowSorter {
    pub(crate) fn new(ncols: usize, limit: u64) -> Self {
        RowSorter {
            ncols,
            limit: limit.max(1),
            held: 0,
            rows: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, scratch: &mut Scratch, sid: &str, values: &[f64]) -> Result<()> {
        self.held += row_bytes(sid, self.ncols);
        self.rows.push((sid.to_owned(), values.to_vec()));
        if self.held >= self.limit {
            self.spill(scratch)?;
        }
        Ok(())
    }

    fn spill(&mut self, scratch: &mut Scratch) -> Result<()> {
        self.rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (path, file) = scratch.create("run")?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        let input = scratch.input().clone();
        for (sid, values) in self.rows.drain(..) {
            let len = u32::try_from(sid.len()).unwrap_or(u32::MAX);
            w.write_all(&len.to_le_bytes())
                .and_then(|()| w.write_all(sid.as_bytes()))
                .and_then(|()| {
                    values
                        .iter()
                        .try_for_each(|v| w.write_all(&v.to_le_bytes()))
                })
                .map_err(|e| io(&input, "write scratch file", &path, e))?;
        }
        w.into_inner()
            .map_err(|e| io(&input, "write scratch file", &path, e.into_error()))?;
        self.runs.push(path);
        self.held = 0;
        Ok(())
    }

    /// How many runs went to disk so far.
    pub(crate) fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    /// Hands every row to `f` in sid order.
    pub(crate) fn drain(
        mut self,
        scratch: &mut Scratch,
        mut f: impl FnMut(&str, &[f64]) -> Result<()>,
    ) -> Result<()> {
        if self.runs.is_empty() {
            self.rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (sid, values) in &self.rows {
                f(sid, values)?;
            }
            return Ok(());
        }
        if !self.rows.is_empty() {
            self.spill(scratch)?;
        }
        let input = scratch.input().clone();
        let mut runs = self
            .runs
            .iter()
            .map(|path| {
                let file =
                    File::open(path).map_err(|e| io(&input, "open scratch file", path, e))?;
                Ok(Run {
                    path: path.clone(),
                    reader: BufReader::with_capacity(1 << 16, file),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut heap = BinaryHeap::new();
        let mut heads: Vec<Option<Vec<f64>>> = Vec::with_capacity(runs.len());
        for (i, run) in runs.iter_mut().enumerate() {
            match run.next(&input, self.ncols)? {
                Some((sid, values)) => {
                    heap.push(Reverse((sid, i)));
                    heads.push(Some(values));
                }
                None => heads.push(None),
            }
        }
        while let Some(Reverse((sid, i))) = heap.pop() {
            let values = heads[i].take().unwrap_or_default();
            f(&sid, &values)?;
            if let Some((next, values)) = runs[i].next(&input, self.ncols)? {
                heap.push(Reverse((next, i)));
                heads[i] = Some(values);
            }
        }
        for run in runs {
            let _ = std::fs::remove_file(&run.path);
        }
        Ok(())
    }
}

/// The most the matching and the output sort hold in memory, whatever the budget: past
/// that they go to disk, which costs a write and a read of each value (seconds, against
/// minutes of curve arithmetic), so a task's memory is the same at 1M or 100M ids.
pub(crate) const IN_MEMORY_CAP: u64 = 96 << 20;

/// Writes the rows of `input` whose bits are set in `kept` (over its scan order) as the
/// task's output `name`, sorted by sid over `partitions` partitions (the ids alone with
/// `only_key`). Every party doing this with the same sids and partition count writes
/// aligned tables. Returns the rows written and how many sorted runs went to disk.
pub(crate) fn write_aligned(
    ctx: &TaskContext<'_>,
    scratch: &mut Scratch,
    input: &TableId,
    kept: &Bitmap,
    only_key: bool,
    partitions: u32,
    name: &str,
) -> Result<(u64, usize)> {
    let info = ctx.tables.info(input).map_err(|e| Error::table(input, e))?;
    let source = info.schema;
    let ncols_in = source.header.len();
    let ncols = if only_key { 0 } else { ncols_in };
    let mut sorter = RowSorter::new(ncols, (ctx.memory.bytes() / 4).min(IN_MEMORY_CAP));
    let blocks = read_blocks(ctx.tables, input, scan_block_rows(ctx, ncols_in))
        .map_err(|e| Error::table(input, e))?;
    let mut pos = 0usize;
    for block in blocks {
        let block = block.map_err(|e| Error::table(input, e))?;
        for (sid, row) in block.sids().iter().zip(block.rows()) {
            if kept.get(pos) {
                sorter.push(scratch, sid, if only_key { &[] } else { row })?;
            }
            pos += 1;
        }
    }
    if pos != kept.len() {
        return Err(Error::param(
            "intersection",
            format!(
                "table {input} has {pos} rows, {} when the intersection started",
                kept.len()
            ),
        ));
    }
    let schema = if only_key {
        TableSchema::new(source.sid.clone(), Vec::new())
    } else {
        source
    };
    let target = ctx.output_table(name);
    let target_id = target.to_id("output")?;
    let mut writer = FrameWriter::create(
        ctx.tables,
        &target_id,
        schema,
        partitions,
        WriteMode::Replace,
    )
    .map_err(|e| Error::table(&target_id, e))?;
    let runs = sorter.spilled_runs();
    sorter.drain(scratch, |sid, values| {
        writer
            .push(sid, values)
            .map_err(|e| Error::table(&target_id, e))
    })?;
    let meta = writer.finish().map_err(|e| Error::table(&target_id, e))?;
    ctx.tracker.save_output_data(name, &target)?;
    Ok((meta.count, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_round_trips_and_refuses_wrong_lengths() {
        let mut b = Bitmap::new(130);
        for i in [0, 63, 64, 129] {
            b.set(i);
        }
        assert_eq!(b.count(), 4);
        assert!(b.get(129) && !b.get(128) && !b.get(500));
        let bytes = b.to_bytes();
        assert_eq!(Bitmap::from_bytes(&bytes, 130), Some(b.clone()));
        assert_eq!(Bitmap::from_bytes(&bytes, 200), None);
        // A bit beyond the length is refused.
        assert_eq!(Bitmap::from_bytes(&bytes, 129), None);
        let mut all = Bitmap::full(130);
        assert_eq!(all.count(), 130);
        all.and(&b);
        assert_eq!(all, b);
    }

    fn scratch_for(dir: &Path) -> (Scratch, PathBuf) {
        let input = TableId::new("t", "in").unwrap();
        let path = dir.join("scratch");
        let s = Scratch {
            dir: path.clone(),
            input,
            created: false,
            files: 0,
        };
        (s, path)
    }

    #[test]
    fn buckets_on_disk_match_like_a_hash_join_and_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut scratch, path) = scratch_for(dir.path());
        let input = scratch.input().clone();
        let n = bucket_count(1000, 32, 10_000);
        assert!(n > 1, "{n}");
        let mut ours = Buckets::new(&mut scratch, "ours", n).unwrap();
        let mut theirs = Buckets::new(&mut scratch, "theirs", n).unwrap();
        let key = |i: u64| fateflow_crypto::psi::HashMethod::Sha256.digest(&i.to_le_bytes(), b"");
        for i in 0..1000u64 {
            ours.push(&input, &key(i), i).unwrap();
        }
        for j in 0..1000u64 {
            theirs.push(&input, &key(j + 300), j).unwrap();
        }
        assert!(path.exists());
        let mut pairs = Vec::new();
        match_buckets(&input, ours, theirs, |a, b| {
            pairs.push((a, b));
            Ok(())
        })
        .unwrap();
        pairs.sort_unstable();
        let expected: Vec<(u64, u64)> = (300..1000).map(|i| (i, i - 300)).collect();
        assert_eq!(pairs, expected);
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn the_sorter_merges_spilled_runs_in_sid_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut scratch, _) = scratch_for(dir.path());
        let mut sorter = RowSorter::new(2, 500);
        let sids: Vec<String> = (0..300u32)
            .map(|i| format!("id{}", (i * 7919) % 300))
            .collect();
        for (i, sid) in sids.iter().enumerate() {
            sorter.push(&mut scratch, sid, &[i as f64, -1.0]).unwrap();
        }
        assert!(sorter.spilled_runs() > 3);
        let mut out = Vec::new();
        sorter
            .drain(&mut scratch, |sid, v| {
                let at = sids.iter().position(|s| s == sid).unwrap();
                assert_eq!(v, &[at as f64, -1.0]);
                out.push(sid.to_owned());
                Ok(())
            })
            .unwrap();
        let mut expected = sids.clone();
        expected.sort();
        assert_eq!(out, expected);
    }
}

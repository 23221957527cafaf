//! The duplicate-id check of an upload, in bounded memory.
//!
//! The first [`MEMORY_SIDS`] sids are kept in a map, so a repeated id among them is
//! reported at once, at its line. Past that, every `(sid, line)` is appended to one of
//! [`BUCKETS`] spill files chosen by a hash of the sid, and the check runs when the
//! input ends (or fails): a repeated id always lands in one bucket, and each bucket is
//! read back on its own (split again by another hash when it is too large), so memory
//! stays bounded whatever the row count. The answer is the one a map of every id gives:
//! the repeat with the smallest line, named with the line of its first occurrence.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::unique_name;

/// Sids held in memory before the check spills to disk (about 10 MB of short ids).
pub(crate) const MEMORY_SIDS: usize = 1 << 17;
/// Spill files per level.
const BUCKETS: usize = 64;
/// A bucket file larger than this is split again, with another hash, before it is read.
const MAX_BUCKET_BYTES: u64 = 32 << 20;
/// How many times a bucket may be split again.
const MAX_DEPTH: u32 = 3;
/// Buffer of each bucket file while writing.
const WRITE_BUFFER: usize = 64 * 1024;

/// A repeated id: `line` repeats the id first seen at `first_line`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Repeat {
    line: u64,
    first_line: u64,
    sid: String,
}

/// Checks that the sids of an upload are unique, holding a bounded amount of memory.
pub(crate) struct SidCheck {
    /// Name of the id column, for the error.
    column: String,
    memory: HashMap<String, u64>,
    memory_limit: usize,
    /// Where the spill directory is created.
    spill_root: PathBuf,
    spill: Option<Spill>,
}

impl SidCheck {
    /// A check naming `column` in its error, spilling under `spill_root` when needed.
    pub(crate) fn new(column: impl Into<String>, spill_root: PathBuf) -> Self {
        Self::with_limit(column, spill_root, MEMORY_SIDS)
    }

    pub(crate) fn with_limit(
        column: impl Into<String>,
        spill_root: PathBuf,
        memory_limit: usize,
    ) -> Self {
        SidCheck {
            column: column.into(),
            memory: HashMap::new(),
            memory_limit,
            spill_root,
            spill: None,
        }
    }

    /// Records `sid` at `line` (lines must come in increasing order). While the sids are
    /// held in memory a repeat is reported here; once spilled, by [`finish`](Self::finish).
    pub(crate) fn add(&mut self, sid: &str, line: u64) -> Result<()> {
        if let Some(spill) = &mut self.spill {
            return spill.add(sid.as_bytes(), line);
        }
        if let Some(&first_line) = self.memory.get(sid) {
            return Err(self.error(Repeat {
                line,
                first_line,
                sid: sid.to_owned(),
            }));
        }
        self.memory.insert(sid.to_owned(), line);
        if self.memory.len() > self.memory_limit {
            self.start_spill()?;
        }
        Ok(())
    }

    /// Moves the sids held in memory to spill files, in line order.
    fn start_spill(&mut self) -> Result<()> {
        let mut spill = Spill::create(&self.spill_root)?;
        let mut held: Vec<(String, u64)> = std::mem::take(&mut self.memory).into_iter().collect();
        held.sort_unstable_by_key(|(_, line)| *line);
        for (sid, line) in held {
            spill.add(sid.as_bytes(), line)?;
        }
        self.spill = Some(spill);
        Ok(())
    }

    /// Ends the check: the first repeated id (by line) when there is one.
    pub(crate) fn finish(self) -> Result<()> {
        let Some(mut spill) = self.spill else {
            return Ok(());
        };
        match spill.first_repeat()? {
            Some(repeat) => Err(Error::DuplicateId {
                line: repeat.line,
                first_line: repeat.first_line,
                column: self.column,
                sid: repeat.sid,
            }),
            None => Ok(()),
        }
    }

    /// The error to report when the input failed with `e` at a line after every sid
    /// added: a repeated id among them comes first in the file, so it wins, as it does
    /// when every id is held in memory.
    pub(crate) fn or_repeat(&mut self, e: Error) -> Error {
        let Some(spill) = &mut self.spill else {
            return e;
        };
        match spill.first_repeat() {
            Ok(Some(repeat)) => self.error(repeat),
            // The spill cannot be read back: the input's own error is still true.
            Ok(None) | Err(_) => e,
        }
    }

    fn error(&self, repeat: Repeat) -> Error {
        Error::DuplicateId {
            line: repeat.line,
            first_line: repeat.first_line,
            column: self.column.clone(),
            sid: repeat.sid,
        }
    }
}

/// Spill files of `(sid, line)` records, one per bucket, in line order within a file.
struct Spill {
    /// A directory of our own, removed when the spill is dropped.
    dir: PathBuf,
    writers: Vec<BufWriter<File>>,
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.writers.clear();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn bucket_path(dir: &Path, bucket: usize) -> PathBuf {
    dir.join(format!("ids-{bucket:03}"))
}

/// FNV-1a of the sid, mixed with `seed` (SplitMix64's finaliser), modulo [`BUCKETS`].
fn bucket_of(sid: &[u8], seed: u64) -> usize {
    let mut h = sid.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h ^= seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % BUCKETS as u64) as usize
}

fn create_buckets(dir: &Path) -> Result<Vec<BufWriter<File>>> {
    (0..BUCKETS)
        .map(|b| {
            let path = bucket_path(dir, b);
            File::create(&path)
                .map(|f| BufWriter::with_capacity(WRITE_BUFFER, f))
                .map_err(|e| Error::io("create", &path, e))
        })
        .collect()
}

fn write_record(w: &mut impl Write, sid: &[u8], line: u64) -> io::Result<()> {
    let len = u32::try_from(sid.len()).map_err(|_| io::Error::other("sid too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(sid)?;
    w.write_all(&line.to_le_bytes())
}

/// Reads the next record into `sid`; `None` at the end of the file.
fn read_record(r: &mut impl Read, sid: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    sid.resize(u32::from_le_bytes(len) as usize, 0);
    r.read_exact(sid)?;
    let mut line = [0u8; 8];
    r.read_exact(&mut line)?;
    Ok(Some(u64::from_le_bytes(line)))
}

fn open_reader(path: &Path) -> Result<BufReader<File>> {
    File::open(path)
        .map(|f| BufReader::with_capacity(256 * 1024, f))
        .map_err(|e| Error::io("open", path, e))
}

impl Spill {
    fn create(root: &Path) -> Result<Spill> {
        fs::create_dir_all(root).map_err(|e| Error::io("create directory", root, e))?;
        let dir = root.join(unique_name("upload-ids"));
        fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        // From here on the spill owns the directory and removes it when dropped.
        let mut spill = Spill {
            dir,
            writers: Vec::new(),
        };
        spill.writers = create_buckets(&spill.dir)?;
        Ok(spill)
    }

    fn add(&mut self, sid: &[u8], line: u64) -> Result<()> {
        let bucket = bucket_of(sid, 0);
        write_record(&mut self.writers[bucket], sid, line)
            .map_err(|e| Error::io("write", bucket_path(&self.dir, bucket), e))
    }

    /// The repeat with the smallest line over every bucket, if any. Records stay in
    /// place, so more can be added and the check run again.
    fn first_repeat(&mut self) -> Result<Option<Repeat>> {
        for (bucket, w) in self.writers.iter_mut().enumerate() {
            w.flush()
                .map_err(|e| Error::io("write", bucket_path(&self.dir, bucket), e))?;
        }
        let mut best = None;
        for bucket in 0..BUCKETS {
            first_repeat_in(&bucket_path(&self.dir, bucket), 0, &mut best)?;
        }
        Ok(best)
    }
}

/// Updates `best` with the first repeat of the bucket file at `path` when it comes
/// before `best`. A file too large to check in memory is split into sub-buckets by the
/// hash of the next `depth`, each checked the same way, then removed.
fn first_repeat_in(path: &Path, depth: u32, best: &mut Option<Repeat>) -> Result<()> {
    let size = fs::metadata(path)
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    if size > MAX_BUCKET_BYTES && depth < MAX_DEPTH {
        let dir = path.with_extension(format!("split{depth}"));
        fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let result = (|| {
            let mut writers = create_buckets(&dir)?;
            let mut reader = open_reader(path)?;
            let mut sid = Vec::new();
            while let Some(line) =
                read_record(&mut reader, &mut sid).map_err(|e| Error::io("read", path, e))?
            {
                let bucket = bucket_of(&sid, u64::from(depth) + 1);
                write_record(&mut writers[bucket], &sid, line)
                    .map_err(|e| Error::io("write", bucket_path(&dir, bucket), e))?;
            }
            for (bucket, mut w) in writers.into_iter().enumerate() {
                w.flush()
                    .map_err(|e| Error::io("write", bucket_path(&dir, bucket), e))?;
            }
            for bucket in 0..BUCKETS {
                first_repeat_in(&bucket_path(&dir, bucket), depth + 1, best)?;
            }
            Ok(())
        })();
        let _ = fs::remove_dir_all(&dir);
        return result;
    }
    // Records are in line order: the first repeat met is the bucket's smallest, and
    // nothing past `best` can beat it. Sized for ids of about 4 bytes (a record takes
    // 12 bytes more), so that the map rarely grows.
    let records = usize::try_from(size / 16).unwrap_or(usize::MAX);
    let mut seen: HashMap<Box<[u8]>, u64> = HashMap::with_capacity(records.min(1 << 22));
    let mut reader = open_reader(path)?;
    let mut sid = Vec::new();
    while let Some(line) =
        read_record(&mut reader, &mut sid).map_err(|e| Error::io("read", path, e))?
    {
        if best.as_ref().is_some_and(|b| line >= b.line) {
            break;
        }
        if let Some(&first_line) = seen.get(sid.as_slice()) {
            *best = Some(Repeat {
                line,
                first_line,
                sid: String::from_utf8_lossy(&sid).into_owned(),
            });
            break;
        }
        seen.insert(sid.as_slice().into(), line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(limit: usize, dir: &Path, sids: &[&str]) -> Result<()> {
        let mut c = SidCheck::with_limit("id", dir.to_owned(), limit);
        for (i, sid) in sids.iter().enumerate() {
            c.add(sid, i as u64 + 2)?;
        }
        c.finish()
    }

    fn repeat(e: Error) -> (u64, u64, String) {
        match e {
            Error::DuplicateId {
                line,
                first_line,
                sid,
                ..
            } => (line, first_line, sid),
            other => panic!("not a duplicate: {other}"),
        }
    }

    #[test]
    fn spilled_and_in_memory_checks_agree() {
        let dir = tempfile::tempdir().unwrap();
        let mut sids: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
        sids[3000] = "s1234".into();
        sids[4000] = "s17".into();
        sids[4500] = "s3000".into();
        let sids: Vec<&str> = sids.iter().map(String::as_str).collect();
        for limit in [0, 1, 100, 2999, 3001, 1 << 20] {
            let got = repeat(check(limit, dir.path(), &sids).unwrap_err());
            assert_eq!(got, (3002, 1236, "s1234".into()), "limit {limit}");
        }
        // Nothing is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let unique: Vec<String> = (0..5000).map(|i| format!("u{i}")).collect();
        let unique: Vec<&str> = unique.iter().map(String::as_str).collect();
        for limit in [0, 10, 1 << 20] {
            check(limit, dir.path(), &unique).unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_repeat_before_a_failing_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SidCheck::with_limit("id", dir.path().to_owned(), 2);
        for (line, sid) in [(2, "a"), (3, "b"), (4, "c"), (5, "b")] {
            c.add(sid, line).unwrap();
        }
        let e = c.or_repeat(Error::EmptySid {
            line: 9,
            column: "id".into(),
        });
        assert_eq!(repeat(e), (5, 3, "b".into()));
        let mut c = SidCheck::with_limit("id", dir.path().to_owned(), 2);
        for (line, sid) in [(2, "a"), (3, "b"), (4, "c")] {
            c.add(sid, line).unwrap();
        }
        let e = c.or_repeat(Error::EmptySid {
            line: 9,
            column: "id".into(),
        });
        assert!(matches!(e, Error::EmptySid { line: 9, .. }));
    }

    #[test]
    fn large_buckets_are_split_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut w = BufWriter::new(File::create(&path).unwrap());
        // Long sids so that the file exceeds MAX_BUCKET_BYTES with few records.
        let pad = "x".repeat(4096);
        let n = (MAX_BUCKET_BYTES as usize / 4096) + 100;
        for i in 0..n {
            write_record(&mut w, format!("{i}{pad}").as_bytes(), i as u64 + 2).unwrap();
        }
        write_record(&mut w, format!("77{pad}").as_bytes(), n as u64 + 2).unwrap();
        drop(w);
        let mut best = None;
        first_repeat_in(&path, 0, &mut best).unwrap();
        let best = best.unwrap();
        assert_eq!((best.line, best.first_line), (n as u64 + 2, 79));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

//! A party's training or scoring rows, kept on disk, read block by block.
//!
//! [`Dataset::read`] streams the input table once into a scratch directory of the task
//! (removed when the last view of it is dropped): every row's values as f64 in one
//! file, its sid's bytes in another and the sids' end offsets in a third. Training and
//! scoring then read the rows they need with positioned reads, a block at a time, so a
//! task holds a few blocks whatever the table's size; the page cache, which the kernel
//! can reclaim and the task's memory budget does not count, keeps repeated epochs fast.
//!
//! A `Dataset` is a view of such a file: all its rows or a subset (cross-validation
//! folds, validation rows), its feature columns or a selection (predict mode), and its
//! label as stored or relabelled one-vs-rest.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fateflow_tables::Frame;
use serde::{Deserialize, Serialize};

use crate::context::TaskContext;
use crate::error::{Error, Result};

/// Rows per block when reading an input table.
pub(crate) const READ_BLOCK_ROWS: usize = 65_536;

/// The spilled rows of one input table.
#[derive(Debug)]
struct RowFile {
    /// Removed (with the files) when the last view is dropped.
    dir: tempfile::TempDir,
    /// Per row: every column of the table, in its header order, f64 little-endian.
    values: File,
    /// The sids' bytes, one after the other.
    sid_bytes: File,
    /// Per row: the end of its sid in `sid_bytes`, u64 little-endian.
    sid_ends: File,
    /// Values per row.
    width: usize,
    rows: usize,
}

const VALUES: &str = "values.f64";
const SID_BYTES: &str = "sids.bytes";
const SID_ENDS: &str = "sids.ends";

fn io_error(path: &Path, op: &'static str, source: std::io::Error) -> Error {
    Error::Table {
        table: "(the task's scratch copy of its input)".into(),
        source: fateflow_tables::Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        },
    }
}

impl RowFile {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Rows `start..start + count`, every column.
    fn read_values(&self, start: usize, count: usize, out: &mut Vec<f64>) -> Result<()> {
        let mut bytes = vec![0u8; count * self.width * 8];
        self.values
            .read_exact_at(&mut bytes, (start * self.width * 8) as u64)
            .map_err(|e| io_error(&self.path(VALUES), "read", e))?;
        out.extend(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        );
        Ok(())
    }

    /// The sids of rows `start..start + count`.
    fn read_sids(&self, start: usize, count: usize, out: &mut Vec<String>) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        // The end of the row before `start` (0 for the first row) and each row's end.
        let first = start.saturating_sub(1);
        let n_ends = count + usize::from(start > 0);
        let mut raw = vec![0u8; n_ends * 8];
        self.sid_ends
            .read_exact_at(&mut raw, (first * 8) as u64)
            .map_err(|e| io_error(&self.path(SID_ENDS), "read", e))?;
        let mut ends: Vec<u64> = raw
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        if start == 0 {
            ends.insert(0, 0);
        }
        let (from, to) = (ends[0], ends[count]);
        let mut bytes = vec![0u8; (to - from) as usize];
        self.sid_bytes
            .read_exact_at(&mut bytes, from)
            .map_err(|e| io_error(&self.path(SID_BYTES), "read", e))?;
        for w in ends.windows(2) {
            let s = &bytes[(w[0] - from) as usize..(w[1] - from) as usize];
            // Written from `String`s: valid UTF-8 unless the scratch file was damaged.
            out.push(String::from_utf8_lossy(s).into_owned());
        }
        Ok(())
    }
}

/// Writes the rows of a [`RowFile`] as they come.
struct RowFileWriter {
    dir: tempfile::TempDir,
    values: BufWriter<File>,
    sid_bytes: BufWriter<File>,
    sid_ends: BufWriter<File>,
    end: u64,
    width: usize,
    rows: usize,
}

impl RowFileWriter {
    fn create(width: usize) -> Result<RowFileWriter> {
        let dir = tempfile::Builder::new()
            .prefix("fateflow-linear-")
            .tempdir()
            .map_err(|e| io_error(&std::env::temp_dir(), "create a directory in", e))?;
        let open = |name: &str| {
            let path = dir.path().join(name);
            File::create(&path)
                .map(|f| BufWriter::with_capacity(1 << 20, f))
                .map_err(|e| io_error(&path, "create", e))
        };
        Ok(RowFileWriter {
            values: open(VALUES)?,
            sid_bytes: open(SID_BYTES)?,
            sid_ends: open(SID_ENDS)?,
            dir,
            end: 0,
            width,
            rows: 0,
        })
    }

    fn push(&mut self, sid: &str, row: &[f64]) -> Result<()> {
        debug_assert_eq!(row.len(), self.width);
        let path = |name| self.dir.path().join(name);
        for v in row {
            self.values
                .write_all(&v.to_le_bytes())
                .map_err(|e| io_error(&path(VALUES), "write", e))?;
        }
        self.sid_bytes
            .write_all(sid.as_bytes())
            .map_err(|e| io_error(&path(SID_BYTES), "write", e))?;
        self.end += sid.len() as u64;
        self.sid_ends
            .write_all(&self.end.to_le_bytes())
            .map_err(|e| io_error(&path(SID_ENDS), "write", e))?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<RowFile> {
        let reopen = |w: BufWriter<File>, name: &str| -> Result<File> {
            let path = self.dir.path().join(name);
            let file = w
                .into_inner()
                .map_err(|e| io_error(&path, "write", e.into_error()))?;
            drop(file);
            File::open(&path).map_err(|e| io_error(&path, "open", e))
        };
        Ok(RowFile {
            values: reopen(self.values, VALUES)?,
            sid_bytes: reopen(self.sid_bytes, SID_BYTES)?,
            sid_ends: reopen(self.sid_ends, SID_ENDS)?,
            dir: self.dir,
            width: self.width,
            rows: self.rows,
        })
    }
}

/// The features (and labels, where there are some) of some rows of a [`Dataset`], in
/// the order asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Block {
    k: usize,
    rows: usize,
    x: Vec<f64>,
    /// The label of each row, when the data has one.
    pub(crate) y: Option<Vec<f64>>,
    /// The sample weight of each row, when the data has them (`SampleWeight`).
    pub(crate) w: Option<Vec<f64>>,
    /// The exposure of each row (HeteroPoisson's `exposure_colname`), when set.
    pub(crate) e: Option<Vec<f64>>,
}

impl Block {
    /// The features of the block's row `p`.
    pub(crate) fn x(&self, p: usize) -> &[f64] {
        &self.x[p * self.k..(p + 1) * self.k]
    }

    /// Features per row.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }
}

/// A party's numeric data: rows of features and, at the guest, labels.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub(crate) table: String,
    pub(crate) sid_name: String,
    pub(crate) header: Vec<String>,
    pub(crate) k: usize,
    file: Arc<RowFile>,
    /// The file row of each row of this view (`None`: every file row, in order).
    rows: Option<Arc<Vec<usize>>>,
    /// The file column of each feature of `header`.
    cols: Arc<Vec<usize>>,
    /// The file column of the label.
    label_col: Option<usize>,
    /// The label column's name, when there is one.
    label_name: Option<String>,
    /// The file column of the sample weight (`SampleWeight`), when there is one.
    weight_col: Option<usize>,
    /// The file column of the exposure (HeteroPoisson), when one is set.
    exposure_col: Option<usize>,
    /// One-vs-rest: labels read as 1 for this class and 0 otherwise.
    relabel: Option<f64>,
    /// Rows in this view.
    n: usize,
    /// The view's [`Dataset::digest`], once computed.
    digest: Arc<OnceLock<u64>>,
}

impl Dataset {
    /// The first table under the first of `keys` that has one, copied block by block
    /// into the task's scratch space. Features are every column but the label; a
    /// missing or non-finite value is refused, naming its row and column.
    pub(crate) fn read(ctx: &TaskContext<'_>, keys: &[&str]) -> Result<Option<Dataset>> {
        let Some(input) = ctx.inputs.first_table(keys) else {
            return Ok(None);
        };
        let id = input.to_id("input.data")?;
        let table = id.to_string();
        let mut blocks = fateflow_tables::read_blocks(ctx.tables, &id, READ_BLOCK_ROWS)
            .map_err(|e| Error::table(&id, e))?;
        let schema = blocks.schema().clone();
        let mut writer = RowFileWriter::create(schema.header.len())?;
        let label_col = schema
            .label_name
            .as_ref()
            .and_then(|l| schema.header.iter().position(|c| c == l));
        let weight_col = schema.weight_index();
        for block in blocks.by_ref() {
            let block = block.map_err(|e| Error::table(&id, e))?;
            check_finite(&table, &block, label_col)?;
            for (sid, row) in block.sids().iter().zip(block.rows()) {
                writer.push(sid, row)?;
            }
        }
        let file = writer.finish()?;
        let cols: Vec<usize> = (0..schema.header.len())
            .filter(|c| Some(*c) != label_col && Some(*c) != weight_col)
            .collect();
        Ok(Some(Dataset {
            table,
            sid_name: schema.sid.clone(),
            header: cols.iter().map(|&c| schema.header[c].clone()).collect(),
            k: cols.len(),
            n: file.rows,
            file: Arc::new(file),
            rows: None,
            cols: Arc::new(cols),
            label_col,
            label_name: label_col.map(|c| schema.header[c].clone()),
            weight_col,
            exposure_col: None,
            relabel: None,
            digest: Arc::default(),
        }))
    }

    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Whether the rows have a label.
    pub(crate) fn has_label(&self) -> bool {
        self.label_col.is_some()
    }

    /// Whether the rows carry sample weights.
    pub(crate) fn has_weights(&self) -> bool {
        self.weight_col.is_some()
    }

    /// The sum of the view's sample weights (its row count without weights), read block
    /// by block.
    pub(crate) fn weight_sum(&self) -> Result<f64> {
        if !self.has_weights() {
            return Ok(self.n as f64);
        }
        let mut sum = 0.0;
        for (a, b) in self.spans(READ_BLOCK_ROWS) {
            sum += self.range(a, b)?.w.iter().flatten().sum::<f64>();
        }
        Ok(sum)
    }

    /// The file rows of this view's rows `rows`, as runs `(start, len)` of consecutive
    /// file rows, in order.
    fn runs(&self, rows: impl Iterator<Item = usize>) -> Result<Vec<(usize, usize)>> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for r in rows {
            let f = match &self.rows {
                None if r < self.n => r,
                Some(map) if r < map.len() => map[r],
                _ => {
                    return Err(Error::param(
                        "rows",
                        format!(
                            "row {r} of table {} asked; it has {} rows",
                            self.table, self.n
                        ),
                    ))
                }
            };
            match runs.last_mut() {
                Some((start, len)) if *start + *len == f => *len += 1,
                _ => runs.push((f, 1)),
            }
        }
        Ok(runs)
    }

    /// The rows at `rows` (positions in this view), in that order.
    pub(crate) fn block(&self, rows: &[usize]) -> Result<Block> {
        self.block_of(self.runs(rows.iter().copied())?)
    }

    /// Rows `start..end` of this view.
    pub(crate) fn range(&self, start: usize, end: usize) -> Result<Block> {
        self.block_of(self.runs(start..end)?)
    }

    fn block_of(&self, runs: Vec<(usize, usize)>) -> Result<Block> {
        let total: usize = runs.iter().map(|r| r.1).sum();
        let width = self.file.width;
        let mut x = Vec::with_capacity(total * self.k);
        let mut y = self.label_col.map(|_| Vec::with_capacity(total));
        let mut w = self.weight_col.map(|_| Vec::with_capacity(total));
        let mut e = self.exposure_col.map(|_| Vec::with_capacity(total));
        let mut raw = Vec::new();
        for (start, len) in runs {
            raw.clear();
            self.file.read_values(start, len, &mut raw)?;
            for row in raw.chunks_exact(width.max(1)).take(len) {
                x.extend(self.cols.iter().map(|&c| row[c]));
                if let (Some(y), Some(l)) = (y.as_mut(), self.label_col) {
                    y.push(match self.relabel {
                        Some(class) => f64::from(u8::from(row[l] == class)),
                        None => row[l],
                    });
                }
                if let (Some(w), Some(c)) = (w.as_mut(), self.weight_col) {
                    w.push(row[c]);
                }
                if let (Some(e), Some(c)) = (e.as_mut(), self.exposure_col) {
                    e.push(row[c]);
                }
            }
        }
        Ok(Block {
            k: self.k,
            rows: total,
            x,
            y,
            w,
            e,
        })
    }

    /// The sids of `rows` (positions in this view), in that order.
    pub(crate) fn sids(&self, rows: &[usize]) -> Result<Vec<String>> {
        self.sids_of(self.runs(rows.iter().copied())?)
    }

    /// The sids of rows `start..end` of this view.
    pub(crate) fn sid_range(&self, start: usize, end: usize) -> Result<Vec<String>> {
        self.sids_of(self.runs(start..end)?)
    }

    fn sids_of(&self, runs: Vec<(usize, usize)>) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(runs.iter().map(|r| r.1).sum());
        for (start, len) in runs {
            self.file.read_sids(start, len, &mut out)?;
        }
        Ok(out)
    }

    /// The sid of one row, for messages.
    pub(crate) fn sid(&self, row: usize) -> String {
        self.sids(&[row])
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_else(|| format!("#{row}"))
    }

    /// Row ranges of at most `size` rows covering the view, in order.
    pub(crate) fn spans(&self, size: usize) -> impl Iterator<Item = (usize, usize)> {
        let (n, size) = (self.n, size.max(1));
        (0..n.div_ceil(size)).map(move |b| (b * size, ((b + 1) * size).min(n)))
    }

    /// The [`fateflow_tables::sid_digest`] of the view's sids in order, read block by
    /// block.
    pub(crate) fn digest(&self) -> Result<u64> {
        if let Some(&d) = self.digest.get() {
            return Ok(d);
        }
        let mut ids = Vec::new();
        let mut digest = fateflow_tables::SidDigest::default();
        for (a, b) in self.spans(READ_BLOCK_ROWS) {
            ids.clear();
            ids.extend(self.sid_range(a, b)?);
            digest.add(&ids);
        }
        let _ = self.digest.set(digest.value());
        Ok(digest.value())
    }

    /// The labels of every row (0 rows without a label), read block by block into `f`.
    pub(crate) fn for_each_label(&self, mut f: impl FnMut(usize, f64) -> Result<()>) -> Result<()> {
        if !self.has_label() {
            return Ok(());
        }
        for (a, b) in self.spans(READ_BLOCK_ROWS) {
            let block = self.range(a, b)?;
            for (p, &v) in block.y.iter().flatten().enumerate() {
                f(a + p, v)?;
            }
        }
        Ok(())
    }

    /// The same rows with feature `name` taken out of the features as the exposure
    /// (HeteroPoisson); `None` when the table has no such feature (FATE then uses an
    /// exposure of 1 for every row; the caller says so in the task log).
    pub(crate) fn with_exposure(&self, name: &str) -> Option<Dataset> {
        let p = self.header.iter().position(|h| h == name)?;
        let mut header = self.header.clone();
        let mut cols = self.cols.as_ref().clone();
        header.remove(p);
        let file_col = cols.remove(p);
        Some(Dataset {
            k: cols.len(),
            header,
            cols: Arc::new(cols),
            exposure_col: Some(file_col),
            ..self.clone()
        })
    }

    /// The same rows with the features where `mask` is true (stepwise).
    pub(crate) fn masked(&self, mask: &[bool]) -> Dataset {
        let keep: Vec<usize> = (0..self.k)
            .filter(|&j| mask.get(j) == Some(&true))
            .collect();
        Dataset {
            header: keep.iter().map(|&j| self.header[j].clone()).collect(),
            k: keep.len(),
            cols: Arc::new(keep.iter().map(|&j| self.cols[j]).collect()),
            ..self.clone()
        }
    }

    /// The same rows with the columns of `header`, in its order (predict mode).
    pub(crate) fn select(&self, header: &[String]) -> Result<Dataset> {
        let cols: Vec<usize> = crate::table_io::model_columns(&self.table, &self.header, header)?
            .into_iter()
            .map(|p| self.cols[p])
            .collect();
        Ok(Dataset {
            header: header.to_vec(),
            k: cols.len(),
            cols: Arc::new(cols),
            ..self.clone()
        })
    }

    /// The same rows labelled 1 where the label is `class` and 0 elsewhere (one-vs-rest;
    /// the rows are shared, not copied).
    pub(crate) fn relabelled(&self, class: f64) -> Dataset {
        Dataset {
            relabel: Some(class),
            ..self.clone()
        }
    }

    /// The rows at `rows` (positions in this view), in that order.
    pub(crate) fn subset(&self, rows: &[usize]) -> Dataset {
        let map: Vec<usize> = match &self.rows {
            None => rows.to_vec(),
            Some(m) => rows.iter().map(|&r| m[r]).collect(),
        };
        Dataset {
            n: map.len(),
            rows: Some(Arc::new(map)),
            digest: Arc::default(),
            ..self.clone()
        }
    }

    /// The rows as a table: the label (when there is one) then the features.
    pub(crate) fn to_frame(&self) -> Result<Frame> {
        self.to_frame_with(|s| s)
    }

    /// [`to_frame`](Self::to_frame) with every sid passed through `rename`.
    pub(crate) fn to_frame_with(&self, rename: impl Fn(String) -> String) -> Result<Frame> {
        let mut columns: Vec<String> = self.label_name.iter().cloned().collect();
        columns.extend(self.header.iter().cloned());
        let mut sids = Vec::with_capacity(self.n);
        let mut values = Vec::with_capacity(self.n * columns.len());
        for (a, b) in self.spans(READ_BLOCK_ROWS) {
            let block = self.range(a, b)?;
            sids.extend(self.sid_range(a, b)?.into_iter().map(&rename));
            for p in 0..block.len() {
                if let Some(y) = &block.y {
                    values.push(y[p]);
                }
                values.extend_from_slice(block.x(p));
            }
        }
        let invalid = |e: fateflow_tables::Error| Error::InvalidValue {
            table: self.table.clone(),
            sid: String::new(),
            column: String::new(),
            reason: format!("the rows could not be written: {e}"),
        };
        let frame = Frame::new(&self.sid_name, columns, sids, values).map_err(invalid)?;
        match &self.label_name {
            Some(l) => frame.with_label(l.clone()).map_err(invalid),
            None => Ok(frame),
        }
    }
}

/// What a party tells another of its table so that both can tell whether the two are
/// aligned (the same ids in the same scan order): its row count and the
/// [`fateflow_tables::sid_digest`] of its ids in that order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Layout {
    pub(crate) rows: usize,
    digest: u64,
}

impl Layout {
    pub(crate) fn of(data: &Dataset) -> Result<Layout> {
        Ok(Layout {
            rows: data.n(),
            digest: data.digest()?,
        })
    }

    /// Whether `data` (ours) is aligned with the table this layout describes.
    pub(crate) fn matches(&self, data: &Dataset) -> Result<bool> {
        Ok(self.rows == data.n() && self.digest == data.digest()?)
    }
}

/// Refuses a missing or non-finite feature (the label may be missing: it is checked
/// where it is used).
fn check_finite(table: &str, block: &Frame, label_col: Option<usize>) -> Result<()> {
    for (i, row) in block.rows().enumerate() {
        if let Some(c) = row
            .iter()
            .enumerate()
            .position(|(c, v)| Some(c) != label_col && !v.is_finite())
        {
            return Err(Error::InvalidValue {
                table: table.into(),
                sid: block.sids()[i].clone(),
                column: block.columns()[c].clone(),
                reason: "missing or non-finite value; fill it first (DataTransform missing_fill)"
                    .into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rows: &[(&str, [f64; 3])]) -> Dataset {
        let mut w = RowFileWriter::create(3).unwrap();
        for (sid, row) in rows {
            w.push(sid, row).unwrap();
        }
        let file = w.finish().unwrap();
        Dataset {
            table: "t.t".into(),
            sid_name: "id".into(),
            header: vec!["a".into(), "b".into()],
            k: 2,
            n: file.rows,
            file: Arc::new(file),
            rows: None,
            cols: Arc::new(vec![0, 2]),
            label_col: Some(1),
            label_name: Some("y".into()),
            weight_col: None,
            exposure_col: None,
            relabel: None,
            digest: Arc::default(),
        }
    }

    #[test]
    fn views_read_the_rows_and_sids_asked() {
        let rows: Vec<(String, [f64; 3])> = (0..10)
            .map(|i| {
                (
                    format!("id{}", "x".repeat(i)),
                    [i as f64, (i % 3) as f64, -(i as f64)],
                )
            })
            .collect();
        let refs: Vec<(&str, [f64; 3])> = rows.iter().map(|(s, r)| (s.as_str(), *r)).collect();
        let d = file(&refs);
        assert_eq!(d.n(), 10);
        let b = d.block(&[7, 2, 3, 4, 0]).unwrap();
        assert_eq!(b.len(), 5);
        assert_eq!(b.x(0), &[7.0, -7.0]);
        assert_eq!(b.x(4), &[0.0, -0.0]);
        assert_eq!(b.y.as_deref(), Some(&[1.0, 2.0, 0.0, 1.0, 0.0][..]));
        assert_eq!(
            d.sids(&[7, 0, 1]).unwrap(),
            vec!["idxxxxxxx".to_string(), "id".into(), "idx".into()]
        );
        assert_eq!(d.sid_range(8, 10).unwrap().len(), 2);
        let sub = d.subset(&[9, 1, 5]).relabelled(0.0);
        assert_eq!(sub.n(), 3);
        assert_eq!(sub.range(0, 3).unwrap().y, Some(vec![1.0, 0.0, 0.0]));
        assert_eq!(sub.sids(&[2]).unwrap(), vec!["idxxxxx".to_string()]);
        let sel = sub.select(&["b".to_string()]).unwrap();
        assert_eq!(sel.range(0, 2).unwrap().x, vec![-9.0, -1.0]);
        assert!(d.block(&[10]).is_err());
        let all: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        assert_eq!(d.digest().unwrap(), fateflow_tables::sid_digest(&all));
        let mut digest = fateflow_tables::SidDigest::default();
        digest.add(&all[..4]);
        digest.add(&all[4..]);
        assert_eq!(digest.value(), fateflow_tables::sid_digest(&all));
        let frame = sub.to_frame().unwrap();
        assert_eq!(frame.columns(), &["y".to_string(), "a".into(), "b".into()]);
        assert_eq!(frame.sids()[0], "idxxxxxxxxx");
    }
}

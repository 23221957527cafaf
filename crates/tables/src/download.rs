//! Download: write a table back to delimiter-separated text (FATE's `Download`).
//!
//! Formatting numbers is most of a download's time, so rows are formatted a record
//! batch at a time on several threads ([`map_row_chunks`]) and written in scan order:
//! memory holds a few batches, whatever the table's size.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::error::{Error, Result};
use crate::id::TableId;
use crate::read::{batch_columns, scan, text_columns, RowView};
use crate::schema::{RowLayout, TableInfo};
use crate::store::{unique_name, TableStore};
use crate::RecordBatch;

/// Batches queued or being formatted per worker thread.
const PER_THREAD: usize = 2;

/// Threads [`download_csv`] formats rows on: the machine's cores, at most 4.
pub fn download_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

/// Some consecutive rows of a table, in scan order, as [`map_row_chunks`] hands them to
/// its function.
#[derive(Debug)]
pub struct RowChunk<'a> {
    info: &'a TableInfo,
    batch: RecordBatch,
    first_row: u64,
    rows: usize,
}

impl RowChunk<'_> {
    /// Index (0-based, in scan order) of the chunk's first row.
    pub fn first_row(&self) -> u64 {
        self.first_row
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the chunk has no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Calls `f` with each row's index (in scan order) and view, in order.
    pub fn for_each<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(u64, RowView<'_>) -> Result<()>,
    {
        if self.info.layout == RowLayout::Text {
            let (sids, lines) = text_columns(&self.batch)?;
            for r in 0..self.rows {
                f(
                    self.first_row + r as u64,
                    RowView::Text(sids.value(r), lines.value(r)),
                )?;
            }
            return Ok(());
        }
        let (sids, columns) = batch_columns(&self.info.schema, &self.batch)?;
        let mut values = Vec::with_capacity(columns.len());
        for r in 0..self.rows {
            values.clear();
            values.extend(columns.iter().map(|c| c[r]));
            f(
                self.first_row + r as u64,
                RowView::Values(sids.value(r), &values),
            )?;
        }
        Ok(())
    }
}

/// Runs `work` on the first `limit` rows of the table (all when `None`), one record
/// batch at a time on `threads` threads, and hands the results to `emit` in scan
/// order, on the calling thread (which also reads the table). At most a few batches
/// per thread are read ahead. Stops at the first error of `work` or `emit` (in scan
/// order). Returns the number of rows handed to `work`.
pub fn map_row_chunks<S, T, F, E>(
    store: &S,
    id: &TableId,
    limit: Option<u64>,
    threads: usize,
    work: F,
    mut emit: E,
) -> Result<u64>
where
    S: TableStore + ?Sized,
    T: Send,
    F: Fn(RowChunk<'_>) -> Result<T> + Sync,
    E: FnMut(T) -> Result<()>,
{
    let info = store.info(id)?;
    let limit = limit.unwrap_or(u64::MAX);
    let mut batches = scan(store, id)?;
    let mut rows = 0u64;
    // The next chunk of at most `limit` rows in all.
    let mut next = |rows: &mut u64| -> Option<Result<(RecordBatch, u64, usize)>> {
        if *rows >= limit {
            return None;
        }
        let batch = match batches.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let take = (batch.num_rows() as u64).min(limit - *rows) as usize;
        let first = *rows;
        *rows += take as u64;
        Some(Ok((batch, first, take)))
    };
    let chunk = |(batch, first_row, rows): (RecordBatch, u64, usize)| RowChunk {
        info: &info,
        batch,
        first_row,
        rows,
    };

    if threads <= 1 {
        while let Some(item) = next(&mut rows) {
            emit(work(chunk(item?))?)?;
        }
        return Ok(rows);
    }

    std::thread::scope(|scope| {
        let mut jobs: Vec<SyncSender<(RecordBatch, u64, usize)>> = Vec::with_capacity(threads);
        let mut results: Vec<Receiver<Result<T>>> = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (job_tx, job_rx) = sync_channel::<(RecordBatch, u64, usize)>(PER_THREAD);
            let (result_tx, result_rx) = sync_channel(PER_THREAD);
            let (work, chunk) = (&work, &chunk);
            scope.spawn(move || {
                for job in job_rx {
                    if result_tx.send(work(chunk(job))).is_err() {
                        break;
                    }
                }
            });
            jobs.push(job_tx);
            results.push(result_rx);
        }
        // Chunk `n` goes to thread `n % threads`, and results are taken back in the
        // same round, so they come in scan order. Returning drops the channels, which
        // ends the threads.
        let (mut sent, mut received) = (0usize, 0usize);
        let mut done = false;
        loop {
            while !done && sent - received < threads * PER_THREAD {
                match next(&mut rows) {
                    None => done = true,
                    Some(item) => {
                        if jobs[sent % threads].send(item?).is_err() {
                            break;
                        }
                        sent += 1;
                    }
                }
            }
            if received == sent {
                return Ok(rows);
            }
            let result = results[received % threads]
                .recv()
                .map_err(|_| Error::InvalidFrame {
                    reason: "a formatting thread stopped".into(),
                })?;
            received += 1;
            emit(result?)?;
        }
    })
}

/// How [`download_csv`] writes a table: the header line and each row as text.
#[derive(Debug, Clone)]
pub struct CsvFormat {
    info: TableInfo,
    delimiter: String,
}

impl CsvFormat {
    /// The format of the stored table `id`; `delimiter` defaults to the table's
    /// `id_delimiter`.
    pub fn new<S>(store: &S, id: &TableId, delimiter: Option<&str>) -> Result<CsvFormat>
    where
        S: TableStore + ?Sized,
    {
        let info = store.info(id)?;
        let delimiter = delimiter.unwrap_or(&info.id_delimiter).to_owned();
        if delimiter.is_empty() || delimiter.contains(['\n', '\r']) {
            return Err(Error::InvalidOption {
                option: "delimiter",
                reason: "it must be non-empty and contain no line break",
            });
        }
        Ok(CsvFormat { info, delimiter })
    }

    /// The table's info.
    pub fn info(&self) -> &TableInfo {
        &self.info
    }

    /// Lines before the first row: 1 with a header line (`have_head`), else 0.
    pub fn header_lines(&self) -> u64 {
        u64::from(self.info.have_head)
    }

    fn check(&self, line: u64, column: &str, value: &str) -> Result<()> {
        if value.contains(self.delimiter.as_str()) {
            Err(Error::DelimiterInValue {
                line,
                column: column.to_owned(),
                value: value.chars().take(64).collect(),
                delimiter: self.delimiter.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// The header line (`\n` included) when the table has one: the sid name, then the
    /// header.
    pub fn header_line(&self) -> Result<Option<String>> {
        if !self.info.have_head {
            return Ok(None);
        }
        let mut line = String::new();
        let schema = &self.info.schema;
        for (i, name) in std::iter::once(&schema.sid)
            .chain(&schema.header)
            .enumerate()
        {
            self.check(1, name, name)?;
            if i > 0 {
                line.push_str(&self.delimiter);
            }
            line.push_str(name);
        }
        line.push('\n');
        Ok(Some(line))
    }

    /// Appends the line (`\n` included) of the row at `index` (0-based, scan order).
    /// Values are printed with Rust's shortest round-trip formatting; a value holding
    /// the delimiter is an [`Error::DelimiterInValue`] naming its output line.
    pub fn write_row(&self, index: u64, row: RowView<'_>, out: &mut String) -> Result<()> {
        let line = index + 1 + self.header_lines();
        match row {
            // As stored: the sid, then the rest of the source line.
            RowView::Text(sid, rest) => {
                out.push_str(sid);
                if !rest.is_empty() {
                    out.push_str(&self.delimiter);
                    out.push_str(rest);
                }
            }
            RowView::Values(sid, values) => {
                self.check(line, &self.info.schema.sid, sid)?;
                out.push_str(sid);
                for (column, value) in self.info.schema.header.iter().zip(values) {
                    out.push_str(&self.delimiter);
                    let start = out.len();
                    write!(out, "{value}").expect("writing to a String cannot fail");
                    self.check(line, column, &out[start..])?;
                }
            }
        }
        out.push('\n');
        Ok(())
    }

    /// The text of every row of `chunk`.
    pub fn chunk_text(&self, chunk: &RowChunk<'_>) -> Result<String> {
        let mut text = String::with_capacity(chunk.len() * (16 + 12 * self.width()));
        chunk.for_each(|index, row| self.write_row(index, row, &mut text))?;
        Ok(text)
    }

    fn width(&self) -> usize {
        match self.info.layout {
            RowLayout::Text => 8,
            RowLayout::Columns => self.info.schema.header.len(),
        }
    }
}

/// Writes the table as text to `out` and returns the number of data rows written.
///
/// The first line is the sid name followed by the header when the table was uploaded
/// with one (`have_head`). Values are printed with Rust's shortest round-trip
/// formatting, so uploading the output again yields bit-identical values (the text may
/// differ from the original file: `1.50` becomes `1.5`). Rows come in partition order.
/// `delimiter` defaults to the table's `id_delimiter`. Rows are formatted on
/// [`download_threads`] threads and written in order, in bounded memory.
///
/// A value that contains the delimiter is an error rather than silently corrupt output.
pub fn download_csv<S, W>(store: &S, id: &TableId, out: W, delimiter: Option<&str>) -> Result<u64>
where
    S: TableStore + ?Sized,
    W: Write,
{
    let format = CsvFormat::new(store, id, delimiter)?;
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut line_no = 0u64;
    if let Some(header) = format.header_line()? {
        line_no = 1;
        out.write_all(header.as_bytes())
            .map_err(|source| Error::WriteOutput {
                line: line_no,
                source,
            })?;
    }
    let rows = map_row_chunks(
        store,
        id,
        None,
        download_threads(),
        |chunk| Ok((format.chunk_text(&chunk)?, chunk.len() as u64)),
        |(text, rows)| {
            out.write_all(text.as_bytes())
                .map_err(|source| Error::WriteOutput {
                    line: line_no + 1,
                    source,
                })?;
            line_no += rows;
            Ok(())
        },
    )?;
    out.flush().map_err(|source| Error::WriteOutput {
        line: line_no,
        source,
    })?;
    Ok(rows)
}

/// Downloads the table into the file at `path`, atomically: the text goes to a hidden
/// temporary file in the same directory, which replaces `path` only when complete.
pub fn download_csv_file<S>(
    store: &S,
    id: &TableId,
    path: &Path,
    delimiter: Option<&str>,
) -> Result<u64>
where
    S: TableStore + ?Sized,
{
    let file_name = path
        .file_name()
        .ok_or(Error::InvalidOption {
            option: "output_path",
            reason: "it must name a file",
        })?
        .to_string_lossy();
    let temp = path.with_file_name(unique_name(&format!(".{file_name}.partial")));
    let result = (|| {
        let file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
        let rows = download_csv(store, id, &file, delimiter)?;
        file.sync_all().map_err(|e| Error::io("sync", &temp, e))?;
        fs::rename(&temp, path).map_err(|e| Error::io("rename into", path, e))?;
        Ok(rows)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::store::{LocalTableStore, WriteMode};

    #[test]
    fn chunks_come_back_in_scan_order_with_any_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let id = TableId::new("t", "chunks").unwrap();
        let n = 50_000;
        let sids = (0..n).map(|i| format!("s{i}")).collect();
        let values = (0..n).map(|i| i as f64).collect();
        let frame = Frame::new("id", vec!["x".into()], sids, values).unwrap();
        crate::write_frame(&store, &id, &frame, 3, WriteMode::Create).unwrap();
        let whole = crate::read_all(&store, &id).unwrap();
        for threads in [1, 2, 3, 8] {
            for limit in [None, Some(0), Some(1), Some(12_345)] {
                let mut seen = Vec::new();
                let rows = map_row_chunks(
                    &store,
                    &id,
                    limit,
                    threads,
                    |chunk| {
                        let mut out = Vec::new();
                        chunk.for_each(|i, row| {
                            let RowView::Values(sid, _) = row else {
                                unreachable!()
                            };
                            out.push((i, sid.to_owned()));
                            Ok(())
                        })?;
                        Ok(out)
                    },
                    |part| {
                        seen.extend(part);
                        Ok(())
                    },
                )
                .unwrap();
                let expect = limit.unwrap_or(n as u64).min(n as u64) as usize;
                assert_eq!(rows as usize, expect);
                assert_eq!(seen.len(), expect);
                for (k, (i, sid)) in seen.iter().enumerate() {
                    assert_eq!(*i as usize, k);
                    assert_eq!(sid, &whole.sids()[k]);
                }
            }
        }
        // The first error in scan order wins.
        let err = map_row_chunks(
            &store,
            &id,
            None,
            2,
            |chunk| {
                if chunk.first_row() > 20_000 {
                    Err(Error::InvalidFrame {
                        reason: format!("at {}", chunk.first_row()),
                    })
                } else {
                    Ok(chunk.first_row())
                }
            },
            |_| Ok(()),
        )
        .unwrap_err();
        let text = err.to_string();
        let first_failing = {
            let mut first = 0u64;
            map_row_chunks(
                &store,
                &id,
                None,
                1,
                |c| Ok(c.first_row()),
                |f| {
                    if first == 0 && f > 20_000 {
                        first = f;
                    }
                    Ok(())
                },
            )
            .unwrap();
            first
        };
        assert!(text.contains(&format!("at {first_failing}")), "{text}");
    }
}

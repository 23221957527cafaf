//! The archive of `flow tracking output-data`
//! (`/tracking/component/output/data/download`), streamed.
//!
//! The archive is `<data_name>.csv` and `<data_name>.meta` per output table, in a tar
//! compressed with gzip: the same bytes inside as when it was built whole in memory,
//! but produced in bounded memory while the response is sent. A tar header needs its
//! file's size first, so [`plan`] formats every row once to count the bytes (and to
//! find the first line, which the `.meta` header repeats), then [`stream`] formats them
//! again and sends the archive chunk by chunk. Both passes format record batches on
//! several threads ([`fateflow_tables::map_row_chunks`]); in the second, each thread
//! also compresses its rows into a deflate segment ending on a byte boundary (a sync
//! flush), so the segments, the tar framing between them and a final empty block
//! concatenate into one gzip member, whose CRC is combined from the segments' CRCs.
//! The level is the fastest ([`LEVEL`]): the bytes inside are what counts.

use super::output_view::OutputView;
use axum::body::Bytes;
use fateflow_tables::{
    download_threads, map_row_chunks, CsvFormat, LocalTableStore, RowChunk, RowView, TableId,
    TableStore,
};
use flate2::{Compress, Compression, Crc, FlushCompress};
use serde_json::json;
use std::fmt::Write as _;
use tokio::sync::mpsc::Sender;

/// One output table of the task.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// The output's data name: the archive holds `<data_name>.csv` and `.meta`.
    pub(crate) data_name: String,
    pub(crate) table: TableId,
}

/// How the rows of one table are written.
#[derive(Debug)]
enum Rows {
    /// As `flow data download` writes them (the table's delimiter, its header line
    /// when it has one).
    Stored(CsvFormat),
    /// FATE's prediction columns, `,`-separated, after the view's header line.
    Prediction(OutputView),
}

impl Rows {
    /// The text of the rows of `chunk`.
    fn text(&self, chunk: &RowChunk<'_>) -> fateflow_tables::Result<String> {
        match self {
            Rows::Stored(format) => format.chunk_text(chunk),
            Rows::Prediction(view) => {
                let mut text = String::with_capacity(chunk.len() * 64);
                chunk.for_each(|_, row: RowView<'_>| {
                    for (i, cell) in view.row(row).iter().enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        let _ = write!(text, "{cell}");
                    }
                    text.push('\n');
                    Ok(())
                })?;
                Ok(text)
            }
        }
    }
}

/// One output table, measured: what its `.csv` and `.meta` entries hold.
#[derive(Debug)]
struct Entry {
    data_name: String,
    table: TableId,
    rows: Rows,
    /// Lines before the rows.
    head: String,
    /// Data rows written (the limit applied).
    limit: Option<u64>,
    /// Bytes of the `.csv` entry.
    size: u64,
    meta: Vec<u8>,
}

/// The archive to send: every entry measured.
#[derive(Debug)]
pub(crate) struct Plan {
    entries: Vec<Entry>,
}

/// Measures every output (formatting each row once): fails before anything is sent
/// when a table cannot be read or written as CSV.
pub(crate) fn plan(
    tables: &LocalTableStore,
    outputs: Vec<Output>,
    module: &str,
    limit: Option<usize>,
) -> Result<Plan, String> {
    let threads = download_threads();
    let mut entries = Vec::with_capacity(outputs.len());
    for output in outputs {
        let id = output.table;
        let info = tables.info(&id).map_err(|e| e.to_string())?;
        let view = OutputView::new(&info, module);
        let limit = limit.map(|l| l as u64);
        let (rows, head, limit) = if view.is_prediction() {
            let head = format!("{}\n", view.header().join(","));
            (Rows::Prediction(view), head, limit)
        } else {
            let format = CsvFormat::new(tables, &id, None).map_err(|e| e.to_string())?;
            let head = format.header_line().map_err(|e| e.to_string())?;
            // The limit counts lines, the header's included (as the whole text cut
            // to `limit + 1` lines did).
            let limit = limit.map(|l| l + 1 - format.header_lines());
            (Rows::Stored(format), head.unwrap_or_default(), limit)
        };
        let mut size = head.len() as u64;
        let mut first_row = None;
        map_row_chunks(
            tables,
            &id,
            limit,
            threads,
            |chunk| {
                let text = rows.text(&chunk)?;
                let first = (chunk.first_row() == 0)
                    .then(|| text.lines().next().unwrap_or_default().to_owned());
                Ok((text.len() as u64, first))
            },
            |(len, first)| {
                size += len;
                if first.is_some() {
                    first_row = first;
                }
                Ok(())
            },
        )
        .map_err(|e| e.to_string())?;
        let header: Vec<String> = match &rows {
            Rows::Prediction(view) => view.header().to_vec(),
            // The first line of the text, split on `,`.
            Rows::Stored(_) => head
                .lines()
                .next()
                .map(str::to_owned)
                .or(first_row)
                .unwrap_or_default()
                .split(',')
                .map(String::from)
                .collect(),
        };
        let meta = serde_json::to_vec(&json!({ "header": header })).map_err(|e| e.to_string())?;
        entries.push(Entry {
            data_name: output.data_name,
            table: id,
            rows,
            head,
            limit,
            size,
            meta,
        });
    }
    Ok(Plan { entries })
}

/// The gzip member being sent: deflate segments that each end on a byte boundary.
struct Gzip<'a> {
    tx: &'a Sender<Result<Bytes, std::io::Error>>,
    crc: Crc,
}

/// The archive's compression level: the fastest. Rows of numbers compress to about
/// half their size whatever the level, and level 6 (the default) costs about seven
/// times the CPU of level 1 for 10 % fewer bytes (100 MB of a DataTransform output:
/// 48 MB in 1.5 s at level 1, 43 MB in 10.5 s at level 6, on one core).
const LEVEL: Compression = Compression::new(1);

/// Raw deflate of `input`, ended by `flush` (a sync flush, or the final block).
fn deflate(input: &[u8], flush: FlushCompress) -> Result<Vec<u8>, String> {
    let mut c = Compress::new(LEVEL, false);
    let mut out = Vec::with_capacity(input.len() / 3 + 64);
    loop {
        let consumed = c.total_in() as usize;
        c.compress_vec(&input[consumed..], &mut out, flush)
            .map_err(|e| e.to_string())?;
        // Done when all the input is in and the flush did not fill the buffer.
        if c.total_in() as usize == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// Rows compressed by a formatting thread.
struct Segment {
    bytes: Vec<u8>,
    crc: Crc,
}

fn segment(text: &[u8]) -> Result<Segment, String> {
    let mut crc = Crc::new();
    crc.update(text);
    Ok(Segment {
        bytes: deflate(text, FlushCompress::Sync)?,
        crc,
    })
}

impl<'a> Gzip<'a> {
    fn start(tx: &'a Sender<Result<Bytes, std::io::Error>>) -> Result<Self, String> {
        let gzip = Gzip {
            tx,
            crc: Crc::new(),
        };
        // No name, no time, unknown OS (as flate2 writes it).
        gzip.send(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
        Ok(gzip)
    }

    fn send(&self, bytes: Vec<u8>) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.tx
            .blocking_send(Ok(Bytes::from(bytes)))
            .map_err(|_| "the client went away".to_owned())
    }

    /// Compresses and sends `bytes` (tar framing, small entries).
    fn plain(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        let s = segment(bytes)?;
        self.segment(s)
    }

    fn segment(&mut self, s: Segment) -> Result<(), String> {
        self.crc.combine(&s.crc);
        self.send(s.bytes)
    }

    /// The final block and the gzip trailer (CRC-32 and length mod 2^32).
    fn finish(self) -> Result<(), String> {
        let mut end = deflate(&[], FlushCompress::Finish)?;
        end.extend_from_slice(&self.crc.sum().to_le_bytes());
        end.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.send(end)
    }
}

/// The tar framing of the archive: each header written by the `tar` crate (long names
/// included) with an empty body, the body sent apart, then the padding.
struct Framing(tar::Builder<Vec<u8>>);

impl Framing {
    fn header(&mut self, name: &str, size: u64) -> Result<Vec<u8>, String> {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        self.0
            .append_data(&mut h, name, std::io::empty())
            .map_err(|e| e.to_string())?;
        Ok(std::mem::take(self.0.get_mut()))
    }

    fn padding(size: u64) -> Vec<u8> {
        vec![0; ((512 - size % 512) % 512) as usize]
    }
}

/// Sends the archive through `tx`, chunk by chunk. Fails when a table changed since
/// [`plan`] measured it (the archive would be corrupt) or the client went away.
pub(crate) fn stream(
    tables: &LocalTableStore,
    plan: Plan,
    tx: &Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), String> {
    let threads = download_threads();
    let mut gzip = Gzip::start(tx)?;
    let mut framing = Framing(tar::Builder::new(Vec::new()));
    for entry in &plan.entries {
        let csv_name = format!("{}.csv", entry.data_name);
        gzip.plain(&framing.header(&csv_name, entry.size)?)?;
        gzip.plain(entry.head.as_bytes())?;
        let mut written = entry.head.len() as u64;
        map_row_chunks(
            tables,
            &entry.table,
            entry.limit,
            threads,
            |chunk| {
                let text = entry.rows.text(&chunk)?;
                let len = text.len() as u64;
                segment(text.as_bytes())
                    .map(|s| (s, len))
                    .map_err(|reason| fateflow_tables::Error::InvalidFrame { reason })
            },
            |(s, len)| {
                written += len;
                if written > entry.size {
                    return Err(fateflow_tables::Error::InvalidFrame {
                        reason: format!("table {} changed while it was sent", entry.table),
                    });
                }
                gzip.segment(s)
                    .map_err(|reason| fateflow_tables::Error::InvalidFrame { reason })
            },
        )
        .map_err(|e| e.to_string())?;
        if written != entry.size {
            return Err(format!(
                "table {} changed while it was sent ({written} bytes, {} expected)",
                entry.table, entry.size
            ));
        }
        gzip.plain(&Framing::padding(entry.size))?;
        let meta_name = format!("{}.meta", entry.data_name);
        gzip.plain(&framing.header(&meta_name, entry.meta.len() as u64)?)?;
        gzip.plain(&entry.meta)?;
        gzip.plain(&Framing::padding(entry.meta.len() as u64))?;
    }
    let end = framing.0.into_inner().map_err(|e| e.to_string())?;
    gzip.plain(&end)?;
    gzip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// What the archive was before it streamed: the whole CSV and tar.gz in memory.
    fn archive_in_memory(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let enc = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        let mut tar = tar::Builder::new(enc);
        for (name, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// The CSV of one output as it was built in memory before it streamed.
    #[allow(clippy::type_complexity)]
    fn old_output_csv(
        tables: &fateflow_tables::LocalTableStore,
        id: &TableId,
        module: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<u8>, Vec<String>), String> {
        let info = tables.info(id).map_err(|e| e.to_string())?;
        let view = OutputView::new(&info, module);
        let mut csv = Vec::new();
        if view.is_prediction() {
            let mut line = view.header().join(",");
            line.push('\n');
            csv.extend_from_slice(line.as_bytes());
            fateflow_tables::for_each_row(tables, id, limit, |row| {
                line.clear();
                for (i, cell) in view.row(row).iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    let _ = write!(line, "{cell}");
                }
                line.push('\n');
                csv.extend_from_slice(line.as_bytes());
                Ok(())
            })
            .map_err(|e| e.to_string())?;
            return Ok((csv, view.header().to_vec()));
        }
        old_download(tables, id, &mut csv);
        if let Some(l) = limit {
            let text = String::from_utf8_lossy(&csv).into_owned();
            csv = text
                .lines()
                .take(l + 1)
                .map(|x| format!("{x}\n"))
                .collect::<String>()
                .into_bytes();
        }
        let header = String::from_utf8_lossy(&csv)
            .lines()
            .next()
            .unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect();
        Ok((csv, header))
    }

    /// `download_csv` as it was (one thread, row after row), with the table's delimiter.
    fn old_download(tables: &LocalTableStore, id: &TableId, csv: &mut Vec<u8>) {
        let info = tables.info(id).unwrap();
        let d = info.id_delimiter.as_str();
        if info.have_head {
            let names: Vec<&str> = std::iter::once(&info.schema.sid)
                .chain(&info.schema.header)
                .map(String::as_str)
                .collect();
            csv.extend_from_slice(format!("{}\n", names.join(d)).as_bytes());
        }
        fateflow_tables::for_each_row(tables, id, None, |row| {
            let mut line = String::new();
            match row {
                RowView::Values(sid, values) => {
                    line.push_str(sid);
                    for v in values {
                        let _ = write!(line, "{d}{v}");
                    }
                }
                RowView::Text(sid, rest) => {
                    line.push_str(sid);
                    if !rest.is_empty() {
                        line.push_str(d);
                        line.push_str(rest);
                    }
                }
            }
            line.push('\n');
            csv.extend_from_slice(line.as_bytes());
            Ok(())
        })
        .unwrap();
    }

    /// The archive as it was built before: whole, in memory.
    fn old_archive(
        tables: &LocalTableStore,
        outputs: &[Output],
        module: &str,
        limit: Option<usize>,
    ) -> Vec<u8> {
        let mut entries = Vec::new();
        for o in outputs {
            let (csv, header) = old_output_csv(tables, &o.table, module, limit).unwrap();
            let meta = serde_json::to_vec(&json!({ "header": header })).unwrap();
            entries.push((format!("{}.csv", o.data_name), csv));
            entries.push((format!("{}.meta", o.data_name), meta));
        }
        let entries: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        archive_in_memory(&entries)
    }

    fn streamed(
        tables: &LocalTableStore,
        outputs: &[Output],
        module: &str,
        limit: Option<usize>,
    ) -> Vec<u8> {
        let plan = plan(tables, outputs.to_vec(), module, limit).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 20);
        stream(tables, plan, &tx).unwrap();
        drop(tx);
        let mut sent = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            sent.extend_from_slice(&chunk.unwrap());
        }
        sent
    }

    #[test]
    fn the_streamed_archive_holds_the_bytes_of_the_whole_one() {
        use fateflow_tables::{upload_csv, write_frame, Frame, UploadOptions, WriteMode};
        let dir = tempfile::tempdir().unwrap();
        let tables = LocalTableStore::open(dir.path()).unwrap();
        // A stored table of several record batches and partitions, with a header.
        let mut csv = String::from("id,y,x0\n");
        for i in 0..30_000 {
            csv.push_str(&format!("{i},{},{}\n", i % 2, i as f64 / 3.0));
        }
        let mut opts = UploadOptions::new("t", "plain");
        opts.partitions = 3;
        upload_csv(&tables, csv.as_bytes(), &opts).unwrap();
        // Without a header, another delimiter.
        let mut opts = UploadOptions::new("t", "nohead");
        opts.head = false;
        opts.id_delimiter = ";".into();
        upload_csv(&tables, "a;1;2\nb;3;4.5\nc;5;6\n".as_bytes(), &opts).unwrap();
        // A prediction table.
        let n = 10_000;
        let sids = (0..n).map(|i| format!("p{i}")).collect();
        let values = (0..n)
            .flat_map(|i| {
                [
                    (i % 2) as f64,
                    ((i + 1) % 2) as f64,
                    i as f64 / n as f64,
                    1.0,
                ]
            })
            .collect();
        let header = ["label", "predict_result", "predict_score", "type"].map(String::from);
        let frame = Frame::new("id", header.to_vec(), sids, values).unwrap();
        let predict = TableId::new("t", "predict").unwrap();
        write_frame(&tables, &predict, &frame, 2, WriteMode::Create).unwrap();
        let out = |name: &str, table: &str| Output {
            data_name: name.into(),
            table: TableId::new("t", table).unwrap(),
        };
        let cases = [
            (vec![out("data", "plain")], "DataTransform"),
            (vec![out("data", "nohead")], "Reader"),
            (
                vec![out("train", "predict"), out("validate", "plain")],
                "HeteroLR",
            ),
        ];
        for (outputs, module) in &cases {
            for limit in [None, Some(1), Some(2), Some(9_000), Some(100_000)] {
                let old = gunzip(&old_archive(&tables, outputs, module, limit));
                let new = gunzip(&streamed(&tables, outputs, module, limit));
                assert!(old == new, "{module} {limit:?}: the archives differ");
            }
        }
    }

    #[test]
    fn segments_make_one_gzip_member_with_the_same_tar_inside() {
        let csv: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i},{}\n", i as f64 / 7.0).into_bytes())
            .collect();
        let long_name = format!("{}.csv", "n".repeat(120));
        let entries: Vec<(&str, &[u8])> =
            vec![(&long_name, &csv), ("train.meta", b"{\"header\":[\"id\"]}")];
        let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 16);
        let mut gzip = Gzip::start(&tx).unwrap();
        let mut framing = Framing(tar::Builder::new(Vec::new()));
        for (name, bytes) in &entries {
            gzip.plain(&framing.header(name, bytes.len() as u64).unwrap())
                .unwrap();
            for part in bytes.chunks(7_777) {
                gzip.segment(segment(part).unwrap()).unwrap();
            }
            gzip.plain(&Framing::padding(bytes.len() as u64)).unwrap();
        }
        gzip.plain(&framing.0.into_inner().unwrap()).unwrap();
        gzip.finish().unwrap();
        drop(tx);
        let mut sent = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            sent.extend_from_slice(&chunk.unwrap());
        }
        // One member: a decoder that stops after the first member reads it all.
        assert_eq!(gunzip(&sent), gunzip(&archive_in_memory(&entries)));
    }
}

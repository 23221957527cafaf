//! CSV upload: FATE's `Upload` component, streaming and atomic.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::batcher::default_batch_rows;
use crate::dedup::SidCheck;
use crate::error::{Error, Result};
use crate::id::TableId;
use crate::pipeline::PipelinedWriter;
use crate::read::write_text_rows;
use crate::schema::{
    RowLayout, TableAddress, TableInfo, TableMeta, TableOrigin, TableSchema, PART_OF_DATA_ROWS,
};
use crate::store::{TableStore, WriteMode};
use crate::{check_partitions, DEFAULT_PARTITIONS, MAX_LINE_BYTES};

/// Name of the sid column when sids are generated (`extend_sid`), as in FATE.
pub const EXTEND_SID_NAME: &str = "extend_sid";

/// Options of an upload, named after FATE-Flow's `/v1/data/upload` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOptions {
    /// Destination namespace.
    pub namespace: String,
    /// Destination table name.
    pub table_name: String,
    /// The first (non-blank) line is a header. Without one, columns are named `id`,
    /// `x0`, `x1`, ... (`x0`, ... with `extend_sid`) and downloads write no header.
    pub head: bool,
    /// Field separator (FATE's `id_delimiter`), any non-empty string; default `","`.
    pub id_delimiter: String,
    /// The sid column by name (needs `head`). Default: the first column.
    pub id_column: Option<String>,
    /// Number of partitions, `1..=1023`.
    pub partitions: u32,
    /// Replace an existing table (FATE's `drop`). The old table survives a failed upload.
    pub drop: bool,
    /// Generate sids from the 0-based data-row index; every column becomes a feature.
    pub extend_sid: bool,
    /// Rows per partition per write (each becomes a row group). `None` picks a size that
    /// keeps the buffers of all partitions together around 32 MiB.
    pub batch_rows: Option<usize>,
}

impl UploadOptions {
    /// FATE's defaults: header line, `,` separator, first column as sid,
    /// [`DEFAULT_PARTITIONS`] partitions, no drop, no generated sids.
    pub fn new(namespace: impl Into<String>, table_name: impl Into<String>) -> Self {
        UploadOptions {
            namespace: namespace.into(),
            table_name: table_name.into(),
            head: true,
            id_delimiter: ",".into(),
            id_column: None,
            partitions: DEFAULT_PARTITIONS,
            drop: false,
            extend_sid: false,
            batch_rows: None,
        }
    }

    fn check(&self) -> Result<TableId> {
        let id = TableId::new(&self.namespace, &self.table_name)?;
        check_partitions(self.partitions)?;
        if self.id_delimiter.is_empty() {
            return Err(Error::InvalidOption {
                option: "id_delimiter",
                reason: "it must not be empty",
            });
        }
        if self.id_delimiter.contains(['\n', '\r']) {
            return Err(Error::InvalidOption {
                option: "id_delimiter",
                reason: "it must not contain a line break",
            });
        }
        if self.id_column.is_some() && !self.head {
            return Err(Error::InvalidOption {
                option: "id_column",
                reason: "a named id column needs a header line (head)",
            });
        }
        if self.id_column.is_some() && self.extend_sid {
            return Err(Error::InvalidOption {
                option: "id_column",
                reason: "it cannot be combined with extend_sid",
            });
        }
        if self.batch_rows == Some(0) {
            return Err(Error::InvalidOption {
                option: "batch_rows",
                reason: "it must be at least 1",
            });
        }
        Ok(id)
    }
}

/// Uploads the file at `path`: as numeric columns when it is dense numeric CSV (see
/// [`upload_csv`]), otherwise, as FATE's upload does with every file, as raw text lines
/// (see [`upload_text`]): sparse (svmlight), tag and tag:value files, or a header or
/// first row that is not numeric CSV. DataTransform parses a text table. A dense file
/// with a bad row further down is refused, naming the line and column.
pub fn upload_csv_file<S>(store: &S, path: &Path, options: &UploadOptions) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
{
    let open = || {
        File::open(path)
            .map(|f| BufReader::with_capacity(256 * 1024, f))
            .map_err(|e| Error::io("open", path, e))
    };
    match upload_csv(store, open()?, options) {
        Err(e) if not_dense(&e, options.head) => upload_text(store, open()?, options),
        other => other,
    }
}

/// Whether an upload error means the file is not dense numeric CSV at all (its header
/// or first data row is not), rather than a dense file with a bad row further down,
/// which keeps its error naming the line and column.
fn not_dense(e: &Error, head: bool) -> bool {
    let first_data_line = if head { 2 } else { 1 };
    match e {
        Error::NotANumber { line, .. } | Error::RaggedRow { line, .. } => *line <= first_data_line,
        Error::DuplicateColumn { .. } | Error::EmptyColumnName { .. } => true,
        _ => false,
    }
}

/// Uploads text as FATE's upload stores it: per line the sid (the first field) and the
/// rest of the line as text, nothing parsed (with `extend_sid`, a generated sid and the
/// whole line). With `head` the first line is the header: its first field names the
/// sid and the rest is kept as the header (every field with `extend_sid`). Atomic and
/// streaming like [`upload_csv`]; sids must be unique (a repeated one is named with
/// both its lines).
pub fn upload_text<S, R>(store: &S, input: R, options: &UploadOptions) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
    R: BufRead,
{
    let id = options.check()?;
    if options.id_column.is_some() {
        return Err(Error::InvalidOption {
            option: "id_column",
            reason: "a table of raw text lines takes its sid from the first field",
        });
    }
    let delimiter = options.id_delimiter.as_str();
    let mut lines = LineReader::new(input);
    let (sid_name, header) = match (options.head, options.extend_sid) {
        (false, true) => (EXTEND_SID_NAME.to_owned(), Vec::new()),
        (false, false) => ("id".to_owned(), Vec::new()),
        (true, extend) => {
            let (_, text) = lines.next_line()?.ok_or(Error::EmptyInput {
                expected: "a header line",
            })?;
            let mut fields = text.split(delimiter).map(|f| trim(f).to_owned());
            if extend {
                (EXTEND_SID_NAME.to_owned(), fields.collect())
            } else {
                let sid = fields.next().unwrap_or_default();
                (
                    if sid.is_empty() { "id".into() } else { sid },
                    fields.collect(),
                )
            }
        }
    };
    let info = TableInfo {
        schema: TableSchema::new(sid_name.clone(), header),
        partitions: options.partitions,
        id_delimiter: options.id_delimiter.clone(),
        have_head: options.head,
        extend_sid: options.extend_sid,
        origin: TableOrigin::Upload,
        layout: RowLayout::Text,
    };
    let mut seen = Some(SidCheck::new(sid_name.clone(), spill_root(store, &id)));
    let mut index = 0u64;
    let rows = std::iter::from_fn(|| {
        let check = seen.as_mut()?;
        let (line, text) = match lines.next_line() {
            Ok(Some(l)) => l,
            // The end of the input: the spilled ids are checked before the table is
            // written out.
            Ok(None) => return seen.take()?.finish().err().map(Err),
            Err(e) => return Some(Err(check.or_repeat(e))),
        };
        let (sid, rest) = if options.extend_sid {
            (index.to_string(), text.to_owned())
        } else {
            let (sid, rest) = text.split_once(delimiter).unwrap_or((text, ""));
            (trim(sid).to_owned(), rest.to_owned())
        };
        index += 1;
        if sid.is_empty() {
            return Some(Err(check.or_repeat(Error::EmptySid {
                line,
                column: sid_name.clone(),
            })));
        }
        // Generated sids are unique.
        if !options.extend_sid {
            if let Err(e) = check.add(&sid, line) {
                return Some(Err(e));
            }
        }
        Some(Ok((sid, rest)))
    });
    let mode = if options.drop {
        WriteMode::Replace
    } else {
        WriteMode::Create
    };
    write_text_rows(store, &id, &info, rows, mode)
}

/// Where an upload spills what it cannot hold in memory: the store's own staging area
/// for a local store (same disk as the table, swept at start-up), else the system's
/// temporary directory.
fn spill_root<S>(store: &S, id: &TableId) -> PathBuf
where
    S: TableStore + ?Sized,
{
    let TableAddress::Local { path } = store.address(id);
    // `<root>/tables/<namespace>/<name>` -> `<root>/tmp`
    path.ancestors()
        .nth(3)
        .map(|root| root.join("tmp"))
        .filter(|tmp| tmp.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// Uploads CSV text into a new table.
///
/// The input is read line by line; rows go to partitions by [`partition_of`] their sid
/// and are written in bounded batches by a second thread (Parquet encoding runs while
/// the next lines are parsed). Memory stays bounded whatever the row count: past the
/// first ~130k ids, the duplicate-id check spills the ids to disk (under the store's
/// `tmp/`) and checks them, bucket by bucket, when the input ends. Blank lines are
/// skipped, `\r\n` endings and a UTF-8 byte-order mark are accepted, and fields are
/// trimmed of ASCII whitespace. There is no quoting, as in FATE.
///
/// A repeated sid is an [`Error::DuplicateId`] naming the line of the first repeat in
/// the file and the line of the id's first occurrence.
///
/// A feature field that is a missing-value marker ([`MISSING_MARKERS`]: empty, `NA`,
/// `NULL`, `null`, `None`, `nan`, `NaN`) is stored as NaN; any other value that does not
/// parse as a 64-bit float is an [`Error::NotANumber`]. The sid is never missing: an
/// empty sid is an [`Error::EmptySid`].
///
/// The upload is atomic: on any error nothing is left under the table's name (and with
/// `drop` the previous table is untouched), and the row count is verified against the
/// written files before the table is published.
///
/// [`partition_of`]: crate::partition_of
pub fn upload_csv<S, R>(store: &S, input: R, options: &UploadOptions) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
    R: BufRead,
{
    let id = options.check()?;
    if !options.drop && store.exists(&id)? {
        return Err(Error::TableExists {
            namespace: id.namespace().to_owned(),
            name: id.name().to_owned(),
        });
    }
    let delimiter = options.id_delimiter.as_str();
    let mut lines = LineReader::new(input);

    // The first data line when there is no header: it fixes the field count.
    let mut first_row = None;
    let layout = if options.head {
        let (line, text) = lines.next_line()?.ok_or(Error::EmptyInput {
            expected: "a header line",
        })?;
        Layout::from_header(line, text, options)?
    } else {
        let (line, text) = lines.next_line()?.ok_or(Error::EmptyInput {
            expected: "a data line",
        })?;
        let layout = Layout::generated(text.split(delimiter).count(), options.extend_sid);
        first_row = Some((line, text.to_owned()));
        layout
    };

    let info = TableInfo {
        schema: layout.schema.clone(),
        partitions: options.partitions,
        id_delimiter: options.id_delimiter.clone(),
        have_head: options.head,
        extend_sid: options.extend_sid,
        origin: TableOrigin::Upload,
        layout: RowLayout::Columns,
    };
    let stage = store.begin_write(&id, &info)?;
    let batch_rows = options
        .batch_rows
        .unwrap_or_else(|| default_batch_rows(options.partitions, layout.schema.header.len()));
    let mut rows = RowParser {
        layout: &layout,
        delimiter,
        writer: PipelinedWriter::new(
            stage,
            layout.schema.arrow_schema(),
            options.partitions,
            batch_rows,
        )?,
        seen: SidCheck::new(layout.schema.sid.clone(), spill_root(store, &id)),
        fields: Vec::with_capacity(layout.fields.len()),
        values: Vec::with_capacity(layout.schema.header.len()),
        part_of_data: Vec::new(),
        data_rows: 0,
    };
    let parsed = (|| {
        if let Some((line, text)) = &first_row {
            rows.row(*line, text)?;
        }
        while let Some((line, text)) = lines.next_line()? {
            rows.row(line, text)?;
        }
        Ok(())
    })();
    // A repeated id before the failing line is the first error in the file.
    parsed.map_err(|e| rows.seen.or_repeat(e))?;

    let RowParser {
        writer,
        seen,
        part_of_data,
        data_rows,
        ..
    } = rows;
    seen.finish()?;
    let stage = writer.finish()?;
    let mode = if options.drop {
        WriteMode::Replace
    } else {
        WriteMode::Create
    };
    let count = stage.commit(mode, data_rows)?;
    Ok(TableMeta::from_parts(
        &id,
        info,
        count,
        part_of_data,
        store.address(&id),
    ))
}

/// How the fields of a line map to the table.
struct Layout {
    /// Name of every field of a line, in file order (for error messages).
    fields: Vec<String>,
    /// Field index of the sid, `None` when sids are generated.
    sid_index: Option<usize>,
    schema: TableSchema,
}

impl Layout {
    fn from_header(line: u64, text: &str, options: &UploadOptions) -> Result<Layout> {
        let fields: Vec<String> = text
            .split(options.id_delimiter.as_str())
            .map(|f| trim(f).to_owned())
            .collect();
        let mut seen = HashMap::with_capacity(fields.len());
        for (index, name) in fields.iter().enumerate() {
            if name.is_empty() {
                return Err(Error::EmptyColumnName {
                    line,
                    index: index + 1,
                });
            }
            if seen.insert(name.as_str(), index).is_some() {
                return Err(Error::DuplicateColumn {
                    line,
                    column: name.clone(),
                });
            }
        }
        if options.extend_sid {
            if seen.contains_key(EXTEND_SID_NAME) {
                return Err(Error::DuplicateColumn {
                    line,
                    column: EXTEND_SID_NAME.into(),
                });
            }
            let schema = TableSchema::new(EXTEND_SID_NAME, fields.clone());
            return Ok(Layout {
                fields,
                sid_index: None,
                schema,
            });
        }
        let sid_index = match &options.id_column {
            None => 0,
            Some(column) => *seen
                .get(column.as_str())
                .ok_or_else(|| Error::MissingIdColumn {
                    line,
                    column: column.clone(),
                })?,
        };
        let header = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != sid_index)
            .map(|(_, f)| f.clone())
            .collect();
        let schema = TableSchema::new(fields[sid_index].clone(), header);
        Ok(Layout {
            fields,
            sid_index: Some(sid_index),
            schema,
        })
    }

    fn generated(nfields: usize, extend_sid: bool) -> Layout {
        let features = if extend_sid { nfields } else { nfields - 1 };
        let header: Vec<String> = (0..features).map(|i| format!("x{i}")).collect();
        let (sid, sid_index) = if extend_sid {
            (EXTEND_SID_NAME, None)
        } else {
            ("id", Some(0))
        };
        let fields = sid_index
            .map(|_| sid.to_owned())
            .into_iter()
            .chain(header.iter().cloned())
            .collect();
        Layout {
            fields,
            sid_index,
            schema: TableSchema::new(sid, header),
        }
    }
}

struct RowParser<'a> {
    layout: &'a Layout,
    delimiter: &'a str,
    writer: PipelinedWriter,
    seen: SidCheck,
    /// The byte ranges of the current line's fields.
    fields: Vec<(usize, usize)>,
    values: Vec<f64>,
    part_of_data: Vec<Vec<String>>,
    data_rows: u64,
}

/// Fills `out` with the byte ranges of the fields of `text` separated by `delimiter`.
fn split_fields(text: &str, delimiter: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start = 0;
    if let &[d] = delimiter.as_bytes() {
        for (i, &b) in text.as_bytes().iter().enumerate() {
            if b == d {
                out.push((start, i));
                start = i + 1;
            }
        }
    } else {
        for (i, _) in text.match_indices(delimiter) {
            out.push((start, i));
            start = i + delimiter.len();
        }
    }
    out.push((start, text.len()));
}

impl RowParser<'_> {
    fn row(&mut self, line: u64, text: &str) -> Result<()> {
        let layout = self.layout;
        let expected = layout.fields.len();
        split_fields(text, self.delimiter, &mut self.fields);
        let found = self.fields.len();
        if found != expected {
            // The first missing column, or the last one that was expected.
            let index = if found < expected {
                found
            } else {
                expected - 1
            };
            let column = layout.fields[index].clone();
            return Err(Error::RaggedRow {
                line,
                expected,
                found,
                column,
            });
        }

        self.values.clear();
        let mut sid = None;
        for (index, &(start, end)) in self.fields.iter().enumerate() {
            let field = trim(&text[start..end]);
            if Some(index) == layout.sid_index {
                sid = Some(field);
                continue;
            }
            let value = match field.parse::<f64>() {
                Ok(value) => value,
                Err(_) if is_missing(field) => f64::NAN,
                Err(_) => {
                    return Err(Error::NotANumber {
                        line,
                        column: layout.fields[index].clone(),
                        value: field.chars().take(64).collect(),
                    })
                }
            };
            self.values.push(value);
        }
        let generated;
        let sid = match (layout.sid_index, sid) {
            (None, _) => {
                generated = self.data_rows.to_string();
                generated.as_str()
            }
            (Some(index), Some("")) | (Some(index), None) => {
                return Err(Error::EmptySid {
                    line,
                    column: layout.fields[index].clone(),
                })
            }
            (Some(_), Some(sid)) => sid,
        };
        if layout.sid_index.is_some() {
            // Generated sids are unique; read ones are checked.
            self.seen.add(sid, line)?;
        }
        if self.part_of_data.len() < PART_OF_DATA_ROWS {
            let mut row = Vec::with_capacity(expected + 1);
            row.push(sid.to_owned());
            row.extend(
                self.fields
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != layout.sid_index)
                    .map(|(_, &(start, end))| trim(&text[start..end]).to_owned()),
            );
            self.part_of_data.push(row);
        }
        self.writer.push(sid, &self.values)?;
        self.data_rows += 1;
        Ok(())
    }
}

/// Feature values that mean "missing" and are stored as NaN: FATE's DataTransform
/// defaults (`''`, `NA`, `NULL`, `null`; an empty field is one that is empty after
/// trimming) plus `None`, `nan` and `NaN`. The match is exact (case-sensitive).
pub const MISSING_MARKERS: &[&str] = &["", "NA", "NULL", "null", "None", "nan", "NaN"];

/// Whether a trimmed feature field is a missing-value marker ([`MISSING_MARKERS`]).
fn is_missing(field: &str) -> bool {
    MISSING_MARKERS.contains(&field)
}

fn trim(field: &str) -> &str {
    field.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// Reads lines of at most [`MAX_LINE_BYTES`], counting physical lines from 1 and
/// skipping blank ones.
struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    fn new(input: R) -> Self {
        LineReader {
            input,
            buf: Vec::new(),
            line: 0,
        }
    }

    fn next_line(&mut self) -> Result<Option<(u64, &str)>> {
        loop {
            self.buf.clear();
            let read = (&mut self.input)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| Error::ReadInput {
                    line: self.line + 1,
                    source,
                })?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.last() == Some(&b'\n') {
                self.buf.pop();
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(Error::LineTooLong {
                    line: self.line,
                    limit: MAX_LINE_BYTES,
                });
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let line = self.line;
        std::str::from_utf8(&self.buf)
            .map(|text| Some((line, text)))
            .map_err(|_| Error::InvalidUtf8 { line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(u64, String)> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some((n, text)) = reader.next_line().unwrap() {
            out.push((n, text.to_owned()));
        }
        out
    }

    #[test]
    fn line_reader_counts_physical_lines() {
        let got = lines(b"\xEF\xBB\xBFid,x\r\n\n1,2\n  \n3,4");
        assert_eq!(
            got,
            vec![(1, "id,x".into()), (3, "1,2".into()), (5, "3,4".into())]
        );
    }

    #[test]
    fn line_reader_limits_and_utf8() {
        let mut reader = LineReader::new(&b"ok\n\xff\n"[..]);
        assert!(reader.next_line().unwrap().is_some());
        assert!(matches!(
            reader.next_line(),
            Err(Error::InvalidUtf8 { line: 2 })
        ));

        let long = vec![b'a'; MAX_LINE_BYTES + 1];
        let mut reader = LineReader::new(&long[..]);
        assert!(matches!(
            reader.next_line(),
            Err(Error::LineTooLong { line: 1, .. })
        ));
        let mut exact = vec![b'a'; MAX_LINE_BYTES];
        exact.push(b'\n');
        let mut reader = LineReader::new(&exact[..]);
        assert_eq!(reader.next_line().unwrap().unwrap().1.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn generated_layouts() {
        let l = Layout::generated(3, false);
        assert_eq!(l.fields, ["id", "x0", "x1"]);
        assert_eq!(
            l.schema,
            TableSchema::new("id", vec!["x0".into(), "x1".into()])
        );
        let l = Layout::generated(2, true);
        assert_eq!(l.fields, ["x0", "x1"]);
        assert_eq!(l.schema.sid, EXTEND_SID_NAME);
    }
}

#[cfg(test)]
mod spill_tests {
    use super::*;
    use crate::dedup::MEMORY_SIDS;
    use crate::store::LocalTableStore;

    fn csv(rows: usize, edit: impl Fn(usize, &mut String)) -> String {
        let mut text = String::from("id,x\n");
        for i in 0..rows {
            let mut line = format!("{i},{}", i % 7);
            edit(i, &mut line);
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn repeats_past_the_ids_held_in_memory_are_found_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let rows = MEMORY_SIDS + 5000;
        // Row `rows - 10` repeats the id of row 3 (file lines 5 and rows - 8); a
        // later repeat and a later bad value do not hide it.
        let text = csv(rows, |i, line| {
            if i == rows - 10 {
                *line = "3,1".into();
            } else if i == rows - 5 {
                *line = "4,1".into();
            } else if i == rows - 2 {
                *line = format!("{i},oops");
            }
        });
        for text in [text.clone(), text.replace(",oops", ",1")] {
            let e =
                upload_csv(&store, text.as_bytes(), &UploadOptions::new("t", "dup")).unwrap_err();
            match e {
                Error::DuplicateId {
                    line,
                    first_line,
                    ref sid,
                    ..
                } => {
                    assert_eq!((line, first_line, sid.as_str()), (rows as u64 - 8, 5, "3"));
                }
                other => panic!("{other}"),
            }
        }
        // A bad value with no repeat before it keeps its own error.
        let text = csv(rows, |i, line| {
            if i == rows - 2 {
                *line = format!("{i},oops");
            } else if i == rows - 1 {
                *line = "1,1".into();
            }
        });
        let e = upload_csv(&store, text.as_bytes(), &UploadOptions::new("t", "bad")).unwrap_err();
        assert!(matches!(e, Error::NotANumber { .. }), "{e}");
        // Without a repeat the table is written; nothing is left in the staging area.
        let meta = upload_csv(
            &store,
            csv(rows, |_, _| {}).as_bytes(),
            &UploadOptions::new("t", "ok"),
        )
        .unwrap();
        assert_eq!(meta.count, rows as u64);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert!(!store.exists(&TableId::new("t", "dup").unwrap()).unwrap());
        // The same for text tables.
        let text = csv(rows, |i, line| {
            if i == 0 {
                *line = "0,a:1".into();
            } else if i == rows - 3 {
                *line = "17,b:2".into();
            }
        });
        let e = upload_text(&store, text.as_bytes(), &UploadOptions::new("t", "text")).unwrap_err();
        assert!(
            matches!(e, Error::DuplicateId { line, first_line: 19, .. } if line == rows as u64 - 1),
            "{e}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}

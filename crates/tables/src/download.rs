//! Download: write a table back to delimiter-separated text (FATE's `Download`).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::id::TableId;
use crate::read::{scan, split_batch, text_columns};
use crate::schema::RowLayout;
use crate::store::{unique_name, TableStore};

/// Writes the table as text to `out` and returns the number of data rows written.
///
/// The first line is the sid name followed by the header when the table was uploaded
/// with one (`have_head`). Values are printed with Rust's shortest round-trip
/// formatting, so uploading the output again yields bit-identical values (the text may
/// differ from the original file: `1.50` becomes `1.5`). Rows come in partition order.
/// `delimiter` defaults to the table's `id_delimiter`.
///
/// A value that contains the delimiter is an error rather than silently corrupt output.
pub fn download_csv<S, W>(store: &S, id: &TableId, out: W, delimiter: Option<&str>) -> Result<u64>
where
    S: TableStore + ?Sized,
    W: Write,
{
    let info = store.info(id)?;
    let delimiter = delimiter.unwrap_or(&info.id_delimiter);
    if delimiter.is_empty() || delimiter.contains(['\n', '\r']) {
        return Err(Error::InvalidOption {
            option: "delimiter",
            reason: "it must be non-empty and contain no line break",
        });
    }
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut line_no = 0u64;
    let mut line = String::new();
    let check = |line_no: u64, column: &str, value: &str| {
        if value.contains(delimiter) {
            Err(Error::DelimiterInValue {
                line: line_no,
                column: column.to_owned(),
                value: value.chars().take(64).collect(),
                delimiter: delimiter.to_owned(),
            })
        } else {
            Ok(())
        }
    };

    if info.have_head {
        line_no += 1;
        let names = std::iter::once(&info.schema.sid).chain(&info.schema.header);
        for (i, name) in names.enumerate() {
            check(line_no, name, name)?;
            if i > 0 {
                line.push_str(delimiter);
            }
            line.push_str(name);
        }
        line.push('\n');
        out.write_all(line.as_bytes())
            .map_err(|source| Error::WriteOutput {
                line: line_no,
                source,
            })?;
    }

    let mut rows = 0u64;
    if info.layout == RowLayout::Text {
        // As stored: the sid, then the rest of the source line.
        for batch in scan(store, id)? {
            let batch = batch?;
            let (sids, lines) = text_columns(&batch)?;
            for row in 0..batch.num_rows() {
                line_no += 1;
                line.clear();
                line.push_str(sids.value(row));
                if !lines.value(row).is_empty() {
                    line.push_str(delimiter);
                    line.push_str(lines.value(row));
                }
                line.push('\n');
                out.write_all(line.as_bytes())
                    .map_err(|source| Error::WriteOutput {
                        line: line_no,
                        source,
                    })?;
                rows += 1;
            }
        }
        out.flush().map_err(|source| Error::WriteOutput {
            line: line_no,
            source,
        })?;
        return Ok(rows);
    }
    for batch in scan(store, id)? {
        let batch = batch?;
        let (sids, columns) = split_batch(&info.schema, &batch)?;
        for row in 0..batch.num_rows() {
            line_no += 1;
            line.clear();
            let sid = sids.value(row);
            check(line_no, &info.schema.sid, sid)?;
            line.push_str(sid);
            for (column, values) in info.schema.header.iter().zip(&columns) {
                line.push_str(delimiter);
                let start = line.len();
                write!(line, "{}", values[row]).expect("writing to a String cannot fail");
                check(line_no, column, &line[start..])?;
            }
            line.push('\n');
            out.write_all(line.as_bytes())
                .map_err(|source| Error::WriteOutput {
                    line: line_no,
                    source,
                })?;
            rows += 1;
        }
    }
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

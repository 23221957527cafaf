//! Reading tables back (as record batches or a [`Frame`]) and writing frames.

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};

use crate::batcher::{default_batch_rows, Batcher};
use crate::check_partitions;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::id::TableId;
use crate::schema::{RowLayout, TableInfo, TableMeta, TableSchema, PART_OF_DATA_ROWS};
use crate::store::{BatchIter, TableStore, WriteMode};
use crate::stream::FrameWriter;

/// Streams every record batch of a table, partition after partition, holding at most
/// one batch (and one partition's open file) at a time.
///
/// Each batch has the table's Arrow schema: the sid as Utf8, then one Float64 column per
/// header column.
pub struct TableScan<'a, S: ?Sized> {
    store: &'a S,
    id: TableId,
    partitions: u32,
    next_partition: u32,
    current: Option<BatchIter>,
}

impl<S: ?Sized> std::fmt::Debug for TableScan<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableScan")
            .field("id", &self.id)
            .field("partitions", &self.partitions)
            .field("next_partition", &self.next_partition)
            .finish_non_exhaustive()
    }
}

/// Starts a [`TableScan`] of the table.
pub fn scan<'a, S>(store: &'a S, id: &TableId) -> Result<TableScan<'a, S>>
where
    S: TableStore + ?Sized,
{
    let info = store.info(id)?;
    Ok(TableScan {
        store,
        id: id.clone(),
        partitions: info.partitions,
        next_partition: 0,
        current: None,
    })
}

impl<S: TableStore + ?Sized> Iterator for TableScan<'_, S> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batches) = &mut self.current {
                match batches.next() {
                    Some(item) => return Some(item),
                    None => self.current = None,
                }
            }
            if self.next_partition >= self.partitions {
                return None;
            }
            let partition = self.next_partition;
            self.next_partition += 1;
            match self.store.read_partition(&self.id, partition) {
                Ok(batches) => self.current = Some(batches),
                Err(e) => {
                    // Stop after an error.
                    self.next_partition = self.partitions;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The table's info, refusing a text table where numeric columns are needed.
fn columns_info<S>(store: &S, id: &TableId) -> Result<TableInfo>
where
    S: TableStore + ?Sized,
{
    let info = store.info(id)?;
    if info.layout == RowLayout::Text {
        return Err(Error::TextTable {
            table: id.to_string(),
        });
    }
    Ok(info)
}

/// Reads the whole table into a [`Frame`] (rows in partition order). A
/// [`RowLayout::Text`] table is an [`Error::TextTable`].
pub fn read_all<S>(store: &S, id: &TableId) -> Result<Frame>
where
    S: TableStore + ?Sized,
{
    let info = columns_info(store, id)?;
    let mut sink = FrameBuilder::new(info.schema);
    for batch in scan(store, id)? {
        sink.append(&batch?)?;
    }
    Ok(sink.finish())
}

/// One row as [`for_each_row`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowView<'r> {
    /// A row of a numeric table: the sid and the values, in header order.
    Values(&'r str, &'r [f64]),
    /// A row of a [`RowLayout::Text`] table: the sid and the rest of its line.
    Text(&'r str, &'r str),
}

/// Calls `f` on the first `limit` rows of the table (all when `None`), in partition
/// order, holding one batch at a time; stops at the first error `f` returns.
pub fn for_each_row<S, F>(store: &S, id: &TableId, limit: Option<usize>, mut f: F) -> Result<u64>
where
    S: TableStore + ?Sized,
    F: FnMut(RowView<'_>) -> Result<()>,
{
    let info = store.info(id)?;
    let limit = limit.unwrap_or(usize::MAX);
    let mut seen = 0usize;
    let mut values = Vec::with_capacity(info.schema.header.len());
    for batch in scan(store, id)? {
        if seen >= limit {
            break;
        }
        let batch = batch?;
        let rows = batch.num_rows().min(limit - seen);
        if info.layout == RowLayout::Text {
            let (sids, lines) = text_columns(&batch)?;
            for r in 0..rows {
                f(RowView::Text(sids.value(r), lines.value(r)))?;
            }
        } else {
            let (sids, columns) = batch_columns(&info.schema, &batch)?;
            for r in 0..rows {
                values.clear();
                values.extend(columns.iter().map(|c| c[r]));
                f(RowView::Values(sids.value(r), &values))?;
            }
        }
        seen += rows;
    }
    Ok(seen as u64)
}

/// Reads one partition into a [`Frame`], for partition-parallel work.
pub fn read_partition_frame<S>(store: &S, id: &TableId, partition: u32) -> Result<Frame>
where
    S: TableStore + ?Sized,
{
    let info = columns_info(store, id)?;
    let mut sink = FrameBuilder::new(info.schema);
    for batch in store.read_partition(id, partition)? {
        sink.append(&batch?)?;
    }
    Ok(sink.finish())
}

struct FrameBuilder {
    schema: TableSchema,
    sids: Vec<String>,
    values: Vec<f64>,
}

impl FrameBuilder {
    fn new(schema: TableSchema) -> Self {
        FrameBuilder {
            schema,
            sids: Vec::new(),
            values: Vec::new(),
        }
    }

    fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let (sids, columns) = batch_columns(&self.schema, batch)?;
        self.sids
            .extend((0..batch.num_rows()).map(|row| sids.value(row).to_owned()));
        self.values.reserve(batch.num_rows() * columns.len());
        for row in 0..batch.num_rows() {
            self.values.extend(columns.iter().map(|c| c[row]));
        }
        Ok(())
    }

    fn finish(self) -> Frame {
        Frame::from_parts_unchecked(self.schema, self.sids, self.values)
    }
}

/// Checks a batch against the schema and returns its sid array and value slices.
pub fn batch_columns<'b>(
    schema: &TableSchema,
    batch: &'b RecordBatch,
) -> Result<(&'b arrow_array::StringArray, Vec<&'b [f64]>)> {
    let corrupt = |reason: &str| Error::InvalidSchema {
        reason: format!("record batch does not match the table schema: {reason}"),
    };
    if !schema.matches_arrow(batch.schema_ref()) {
        return Err(corrupt("columns differ"));
    }
    if batch.columns().iter().any(|c| c.null_count() > 0) {
        return Err(corrupt("null values"));
    }
    let sids = batch
        .column(0)
        .as_string_opt::<i32>()
        .ok_or_else(|| corrupt("sid column is not Utf8"))?;
    let columns = batch.columns()[1..]
        .iter()
        .map(|c| {
            c.as_primitive_opt::<Float64Type>()
                .map(|a| a.values().as_ref())
                .ok_or_else(|| corrupt("value column is not Float64"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((sids, columns))
}

/// Writes a frame as a table (a component's output), atomically.
///
/// The table records origin `output`, a `,` delimiter and a header line, and keeps the
/// frame's label name in its schema.
pub fn write_frame<S>(
    store: &S,
    id: &TableId,
    frame: &Frame,
    partitions: u32,
    mode: WriteMode,
) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
{
    let mut writer = FrameWriter::create(store, id, frame.schema(), partitions, mode)?;
    writer.push_frame(frame)?;
    writer.finish()
}

fn preview_row(sid: &str, values: impl Iterator<Item = f64>) -> Vec<String> {
    std::iter::once(sid.to_owned())
        .chain(values.map(|v| v.to_string()))
        .collect()
}

/// Describes a stored table: its layout, verified count, first rows and address.
pub fn table_meta<S>(store: &S, id: &TableId) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
{
    let info = store.info(id)?;
    let count = store.count(id)?;
    let mut part_of_data = Vec::new();
    if info.layout == RowLayout::Text {
        'text: for rows in scan_text(store, id)? {
            for (sid, line) in rows? {
                if part_of_data.len() >= PART_OF_DATA_ROWS {
                    break 'text;
                }
                part_of_data.push(vec![sid, line]);
            }
        }
        return Ok(TableMeta::from_parts(
            id,
            info,
            count,
            part_of_data,
            store.address(id),
        ));
    }
    'scan: for batch in scan(store, id)? {
        let batch = batch?;
        let (sids, columns) = batch_columns(&info.schema, &batch)?;
        for row in 0..batch.num_rows() {
            if part_of_data.len() >= PART_OF_DATA_ROWS {
                break 'scan;
            }
            part_of_data.push(preview_row(sids.value(row), columns.iter().map(|c| c[row])));
        }
    }
    Ok(TableMeta::from_parts(
        id,
        info,
        count,
        part_of_data,
        store.address(id),
    ))
}

/// The sid and line arrays of a batch of a [`RowLayout::Text`] table.
pub(crate) fn text_columns(
    batch: &RecordBatch,
) -> Result<(&arrow_array::StringArray, &arrow_array::StringArray)> {
    let corrupt = || Error::InvalidSchema {
        reason: "record batch is not (sid, line) text".into(),
    };
    if batch.num_columns() != 2 || batch.columns().iter().any(|c| c.null_count() > 0) {
        return Err(corrupt());
    }
    let sids = batch.column(0).as_string_opt::<i32>().ok_or_else(corrupt)?;
    let lines = batch.column(1).as_string_opt::<i32>().ok_or_else(corrupt)?;
    Ok((sids, lines))
}

/// Streams a [`RowLayout::Text`] table as batches of `(sid, line)`, partition after
/// partition; a numeric table is an [`Error::InvalidSchema`].
pub fn scan_text<'a, S>(
    store: &'a S,
    id: &TableId,
) -> Result<impl Iterator<Item = Result<Vec<(String, String)>>> + 'a>
where
    S: TableStore + ?Sized,
{
    let info = store.info(id)?;
    if info.layout != RowLayout::Text {
        return Err(Error::InvalidSchema {
            reason: format!("table {id} holds numeric columns, not text lines"),
        });
    }
    Ok(scan(store, id)?.map(|batch| {
        let batch = batch?;
        let (sids, lines) = text_columns(&batch)?;
        Ok((0..batch.num_rows())
            .map(|r| (sids.value(r).to_owned(), lines.value(r).to_owned()))
            .collect())
    }))
}

/// Reads one partition of a [`RowLayout::Text`] table as `(sid, line)` rows.
pub fn read_text_partition<S>(
    store: &S,
    id: &TableId,
    partition: u32,
) -> Result<Vec<(String, String)>>
where
    S: TableStore + ?Sized,
{
    let mut rows = Vec::new();
    for batch in store.read_partition(id, partition)? {
        let batch = batch?;
        let (sids, lines) = text_columns(&batch)?;
        rows.extend(
            (0..batch.num_rows()).map(|r| (sids.value(r).to_owned(), lines.value(r).to_owned())),
        );
    }
    Ok(rows)
}

/// Writes `(sid, line)` rows as a [`RowLayout::Text`] table, atomically. `info` gives
/// the schema (sid name, header as FATE keeps it), partitions and origin; its layout
/// is set to text. Sids must be unique.
pub fn write_text<S, I>(
    store: &S,
    id: &TableId,
    info: &TableInfo,
    rows: I,
    mode: WriteMode,
) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
    I: IntoIterator<Item = Result<(String, String)>>,
{
    let mut seen = std::collections::HashSet::new();
    let unique = rows.into_iter().map(|row| {
        let (sid, line) = row?;
        if !seen.insert(sid.clone()) {
            return Err(Error::InvalidFrame {
                reason: format!("duplicate sid `{sid}`"),
            });
        }
        Ok((sid, line))
    });
    write_text_rows(store, id, info, unique, mode)
}

/// [`write_text`] for rows whose sids the caller has already checked to be unique
/// (an upload, which names the lines of a repeated id).
pub(crate) fn write_text_rows<S, I>(
    store: &S,
    id: &TableId,
    info: &TableInfo,
    rows: I,
    mode: WriteMode,
) -> Result<TableMeta>
where
    S: TableStore + ?Sized,
    I: IntoIterator<Item = Result<(String, String)>>,
{
    check_partitions(info.partitions)?;
    if mode == WriteMode::Create && store.exists(id)? {
        return Err(Error::TableExists {
            namespace: id.namespace().to_owned(),
            name: id.name().to_owned(),
        });
    }
    let info = TableInfo {
        layout: RowLayout::Text,
        ..info.clone()
    };
    let stage = store.begin_write(id, &info)?;
    let mut batcher = Batcher::new(
        stage,
        info.arrow_schema(),
        info.partitions,
        default_batch_rows(info.partitions, 8),
    );
    let mut count = 0u64;
    let mut part_of_data = Vec::new();
    for row in rows {
        let (sid, line) = row?;
        if part_of_data.len() < PART_OF_DATA_ROWS {
            part_of_data.push(vec![sid.clone(), line.clone()]);
        }
        batcher.push_text(sid, line)?;
        count += 1;
    }
    let count = batcher.finish()?.commit(mode, count)?;
    Ok(TableMeta::from_parts(
        id,
        info,
        count,
        part_of_data,
        store.address(id),
    ))
}

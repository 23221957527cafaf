//! Small helpers between components and the tables crate.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use fateflow_tables::{TableId, TableInfo, TableSchema};

use crate::error::{Error, Result};

/// The feature columns of a schema written by `DataTransform`: the header without the
/// label and sample-weight columns.
pub fn feature_header(schema: &TableSchema) -> Vec<String> {
    schema
        .header
        .iter()
        .filter(|c| schema.is_feature(c))
        .cloned()
        .collect()
}

/// `done` of `total` as a whole percentage.
pub fn percent(done: u32, total: u32) -> u8 {
    if total == 0 {
        return 100;
    }
    (u64::from(done.min(total)) * 100 / u64::from(total)) as u8
}

/// Builds a record batch with `schema`'s Arrow schema from sids and row-major values.
pub fn batch_from_rows(
    table: &TableId,
    schema: &TableSchema,
    sids: Vec<String>,
    values: &[f64],
) -> Result<RecordBatch> {
    let ncols = schema.header.len();
    debug_assert_eq!(values.len(), sids.len() * ncols);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(ncols + 1);
    columns.push(Arc::new(StringArray::from(sids)));
    for col in 0..ncols {
        let column: Float64Array = values.iter().skip(col).step_by(ncols).copied().collect();
        columns.push(Arc::new(column));
    }
    RecordBatch::try_new(schema.arrow_schema(), columns)
        .map_err(|e| Error::table(table, fateflow_tables::Error::from(e)))
}

/// Gives `batch` exactly `info`'s Arrow schema (same columns, no file metadata).
pub fn with_schema(table: &TableId, info: &TableInfo, batch: RecordBatch) -> Result<RecordBatch> {
    RecordBatch::try_new(info.arrow_schema(), batch.columns().to_vec())
        .map_err(|e| Error::table(table, fateflow_tables::Error::from(e)))
}

/// The id of the first input table under the first of `keys` that has one (`what` names
/// it in a malformed-reference error); a missing input is an error naming `component`.
fn first_input_id(
    ctx: &crate::TaskContext<'_>,
    component: &str,
    keys: &[&str],
    what: &str,
) -> Result<TableId> {
    let input = ctx
        .inputs
        .first_table(keys)
        .ok_or_else(|| Error::MissingInput {
            component: component.into(),
            what: format!("an input data table (input key `{}`)", keys[0]),
        })?;
    input.to_id(what)
}

/// The first input table under the first of `keys` that has one: its id, info and row
/// count. A missing input, an unknown table and an empty table are errors naming
/// `component`.
pub fn open_first_input(
    ctx: &crate::TaskContext<'_>,
    component: &str,
    keys: &[&str],
) -> Result<(TableId, fateflow_tables::TableInfo, u64)> {
    let id = first_input_id(ctx, component, keys, "input data")?;
    let info = ctx.tables.info(&id).map_err(|e| Error::table(&id, e))?;
    let rows = ctx.tables.count(&id).map_err(|e| Error::table(&id, e))?;
    if rows == 0 {
        return Err(Error::EmptyTable {
            table: id.to_string(),
            component: component.into(),
        });
    }
    Ok((id, info, rows))
}

/// The first input table under the first of `keys` that has one, read whole.
pub fn read_first_input(
    ctx: &crate::TaskContext<'_>,
    component: &str,
    keys: &[&str],
) -> Result<(TableId, fateflow_tables::Frame)> {
    let id = first_input_id(ctx, component, keys, "input.data")?;
    let frame = fateflow_tables::read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
    Ok((id, frame))
}

/// Writes the rows of `frame` at `rows`, each under its output id, as this task's
/// output `name`: the same columns and label (or the ids alone with `only_key`), with
/// `source`'s partition count. Records the output with the tracker.
pub fn write_rows(
    ctx: &crate::TaskContext<'_>,
    source: &TableId,
    frame: &fateflow_tables::Frame,
    rows: &[(usize, String)],
    only_key: bool,
    name: &str,
) -> Result<()> {
    let ncols = if only_key { 0 } else { frame.ncols() };
    let mut sids = Vec::with_capacity(rows.len());
    let mut values = Vec::with_capacity(rows.len() * ncols);
    for (i, sid) in rows {
        sids.push(sid.clone());
        if !only_key {
            values.extend_from_slice(frame.row(*i));
        }
    }
    let columns = if only_key {
        Vec::new()
    } else {
        frame.columns().to_vec()
    };
    let mut out = fateflow_tables::Frame::new(frame.sid_name(), columns, sids, values)
        .map_err(|e| Error::table(source, e))?;
    if !only_key {
        out = out
            .with_roles_of(&frame.schema())
            .map_err(|e| Error::table(source, e))?;
    }
    let target = ctx.output_table(name);
    let target_id = target.to_id("output")?;
    let partitions = ctx.tables.info(source).map(|i| i.partitions).unwrap_or(4);
    fateflow_tables::write_frame(
        ctx.tables,
        &target_id,
        &out,
        partitions,
        fateflow_tables::WriteMode::Replace,
    )
    .map_err(|e| Error::table(&target_id, e))?;
    ctx.tracker.save_output_data(name, &target)
}

/// The first input table under the first of `keys` that has one, read whole, or `None`
/// when the task has no such input.
pub fn read_input(
    ctx: &crate::TaskContext<'_>,
    _component: &str,
    keys: &[&str],
) -> Result<Option<(TableId, fateflow_tables::Frame)>> {
    let Some(input) = ctx.inputs.first_table(keys) else {
        return Ok(None);
    };
    let id = input.to_id("input.data")?;
    let frame = fateflow_tables::read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
    Ok(Some((id, frame)))
}

/// Writes `frame` (4 partitions, replacing) as the task's first output data and records
/// it with the tracker.
pub fn write_output_frame(
    ctx: &crate::TaskContext<'_>,
    frame: &fateflow_tables::Frame,
) -> Result<()> {
    let name = ctx.first_output_data_name("data").to_owned();
    let target = ctx.output_table(&name);
    let id = target.to_id("output")?;
    fateflow_tables::write_frame(
        ctx.tables,
        &id,
        frame,
        4,
        fateflow_tables::WriteMode::Replace,
    )
    .map_err(|e| Error::table(&id, e))?;
    ctx.tracker.save_output_data(&name, &target)
}

/// Calls `f` with every record batch of `table`, partition after partition, each in
/// write order: the batch's partition, sids and value columns in header order. Progress
/// is reported per partition.
pub fn scan_columns(
    ctx: &crate::TaskContext<'_>,
    table: &TableId,
    info: &TableInfo,
    mut f: impl FnMut(u32, &StringArray, &[&[f64]]) -> Result<()>,
) -> Result<()> {
    for partition in 0..info.partitions {
        let batches = ctx
            .tables
            .read_partition(table, partition)
            .map_err(|e| Error::table(table, e))?;
        for batch in batches {
            let batch = batch.map_err(|e| Error::table(table, e))?;
            let (sids, columns) = fateflow_tables::batch_columns(&info.schema, &batch)
                .map_err(|e| Error::table(table, e))?;
            f(partition, sids, &columns)?;
        }
        ctx.tracker
            .progress(percent(partition + 1, info.partitions));
    }
    Ok(())
}

/// Writes `table` with its value columns changed by `f` as the task's first output data
/// (default name `data`): [`write_derived_columns`] where `f` gets a batch's sids and
/// its columns copied in `schema`'s order (`schema` is the output's: the input's, or the
/// input's with columns added at the end, whose slots start as NaN for `f` to fill).
pub fn write_mapped_columns(
    ctx: &crate::TaskContext<'_>,
    table: &TableId,
    info: &TableInfo,
    rows: u64,
    schema: &TableSchema,
    mut f: impl FnMut(&StringArray, &mut [Vec<f64>]) -> Result<()>,
) -> Result<crate::TableRef> {
    let width = schema.header.len();
    write_derived_columns(ctx, table, info, rows, schema, |sids, columns| {
        let n = sids.len();
        let mut values: Vec<Vec<f64>> = (0..width)
            .map(|c| match columns.get(c) {
                Some(col) => col.to_vec(),
                None => vec![f64::NAN; n],
            })
            .collect();
        f(sids, &mut values)?;
        Ok(values)
    })
}

/// Writes `table` unchanged as the task's first output data (a party or mode that passes
/// its input on), record batch by record batch.
pub fn copy_as_output(
    ctx: &crate::TaskContext<'_>,
    table: &TableId,
    info: &TableInfo,
    rows: u64,
) -> Result<crate::TableRef> {
    write_derived_columns(ctx, table, info, rows, &info.schema, |_, columns| {
        Ok(columns.iter().map(|c| c.to_vec()).collect())
    })
}

/// What [`write_derived_columns`] calls per record batch.
type DeriveFn<'f> = dyn FnMut(&StringArray, &[&[f64]]) -> Result<Vec<Vec<f64>>> + 'f;

/// Writes the task's first output data (default name `data`) with `schema`, record batch
/// by record batch of `table`, keeping each row's sid and partition, so memory holds one
/// batch: `f` gets a batch's sids and value columns (in `table`'s header order) and
/// returns the output's columns in `schema`'s order. Progress is reported per
/// partition. Returns the output and records it with the tracker.
pub fn write_derived_columns(
    ctx: &crate::TaskContext<'_>,
    table: &TableId,
    info: &TableInfo,
    rows: u64,
    schema: &TableSchema,
    mut f: impl FnMut(&StringArray, &[&[f64]]) -> Result<Vec<Vec<f64>>>,
) -> Result<crate::TableRef> {
    let data_name = ctx.first_output_data_name("data").to_owned();
    let output = ctx.output_table(&data_name);
    let dest = output.to_id("output table")?;
    let out_info = TableInfo {
        schema: schema.clone(),
        origin: fateflow_tables::TableOrigin::Output,
        layout: fateflow_tables::RowLayout::Columns,
        ..info.clone()
    };
    let mut stage = ctx
        .tables
        .begin_write(&dest, &out_info)
        .map_err(|e| Error::table(&dest, e))?;
    let width = schema.header.len();
    let derive = |f: &mut DeriveFn<'_>, batch: RecordBatch| -> Result<RecordBatch> {
        let (sids, columns) = fateflow_tables::batch_columns(&info.schema, &batch)
            .map_err(|e| Error::table(table, e))?;
        let values = f(sids, &columns)?;
        if values.len() != width || values.iter().any(|v| v.len() != sids.len()) {
            return Err(Error::table(
                &dest,
                fateflow_tables::Error::InvalidFrame {
                    reason: format!(
                        "a derived batch does not have {width} columns of {} rows",
                        sids.len()
                    ),
                },
            ));
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(width + 1);
        arrays.push(batch.column(0).clone());
        arrays.extend(
            values
                .into_iter()
                .map(|v| Arc::new(Float64Array::from(v)) as ArrayRef),
        );
        RecordBatch::try_new(schema.arrow_schema(), arrays)
            .map_err(|e| Error::table(&dest, fateflow_tables::Error::from(e)))
    };
    // Partitions in groups, one batch of each at a time, so that the store can encode
    // them at the same time; rows stay in their partition and order.
    let group = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4) as u32;
    let mut first = 0;
    while first < info.partitions {
        let last = (first + group).min(info.partitions);
        let mut readers = (first..last)
            .map(|p| {
                ctx.tables
                    .read_partition(table, p)
                    .map(|it| (p, it))
                    .map_err(|e| Error::table(table, e))
            })
            .collect::<Result<Vec<_>>>()?;
        loop {
            let mut out = Vec::with_capacity(readers.len());
            for (p, it) in readers.iter_mut() {
                if let Some(batch) = it.next() {
                    let batch = batch.map_err(|e| Error::table(table, e))?;
                    out.push((*p, derive(&mut f, batch)?));
                }
            }
            if out.is_empty() {
                break;
            }
            stage.write_many(&out).map_err(|e| Error::table(&dest, e))?;
        }
        first = last;
        ctx.tracker.progress(percent(first, info.partitions));
    }
    stage
        .commit(fateflow_tables::WriteMode::Replace, rows)
        .map_err(|e| Error::table(&dest, e))?;
    ctx.tracker.save_output_data(&data_name, &output)?;
    Ok(output)
}

/// The position in `header` (the columns of `table`) of each column of `model_header`
/// (the columns a model was trained with), in that order; a column `table` lacks is
/// refused by name.
pub fn model_columns(
    table: &str,
    header: &[String],
    model_header: &[String],
) -> Result<Vec<usize>> {
    model_header
        .iter()
        .map(|h| {
            header
                .iter()
                .position(|c| c == h)
                .ok_or_else(|| Error::MissingColumn {
                    table: table.into(),
                    column: h.clone(),
                    why: "the model was trained with it".into(),
                })
        })
        .collect()
}

/// The host row of each of the guest's ids, in the guest's order. Fails unless both
/// parties hold exactly the same ids.
pub fn match_rows(
    table: &str,
    sid_name: &str,
    host_sids: &[&str],
    guest_sids: &[String],
) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = host_sids.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let mut seen = vec![false; host_sids.len()];
    let mut rows = Vec::with_capacity(guest_sids.len());
    for sid in guest_sids {
        let Some(&row) = index.get(sid.as_str()) else {
            return Err(Error::InvalidValue {
                table: table.into(),
                sid: sid.clone(),
                column: sid_name.into(),
                reason: format!(
                    "the guest has this sample but this host does not ({} guest ids, {} host rows); run Intersection first so that both hold the same ids",
                    guest_sids.len(),
                    host_sids.len()
                ),
            });
        };
        if std::mem::replace(&mut seen[row], true) {
            return Err(Error::InvalidValue {
                table: table.into(),
                sid: sid.clone(),
                column: sid_name.into(),
                reason: "the guest sent this id twice".into(),
            });
        }
        rows.push(row);
    }
    if let Some(row) = seen.iter().position(|&s| !s) {
        return Err(Error::InvalidValue {
            table: table.into(),
            sid: host_sids[row].into(),
            column: sid_name.into(),
            reason: format!(
                "this host has the sample but the guest does not ({} guest ids, {} host rows); run Intersection first so that both hold the same ids",
                guest_sids.len(),
                host_sids.len()
            ),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(percent(0, 4), 0);
        assert_eq!(percent(1, 4), 25);
        assert_eq!(percent(4, 4), 100);
        assert_eq!(percent(5, 4), 100);
        assert_eq!(percent(0, 0), 100);
    }

    #[test]
    fn feature_header_drops_the_label() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut schema = TableSchema::new("id", names(&["y", "x0", "x1"]));
        assert_eq!(feature_header(&schema), names(&["y", "x0", "x1"]));
        schema.label_name = Some("y".into());
        assert_eq!(feature_header(&schema), names(&["x0", "x1"]));
    }
}

//! Small helpers between components and the tables crate.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use fateflow_tables::{TableId, TableSchema};

use crate::error::{Error, Result};

/// Builds a record batch with `schema`'s Arrow schema from sids and row-major values.
pub(crate) fn batch_from_rows(
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

/// Gives `batch` exactly `schema`'s Arrow schema (same columns, no file metadata).
pub(crate) fn with_schema(
    table: &TableId,
    schema: &TableSchema,
    batch: RecordBatch,
) -> Result<RecordBatch> {
    RecordBatch::try_new(schema.arrow_schema(), batch.columns().to_vec())
        .map_err(|e| Error::table(table, fateflow_tables::Error::from(e)))
}

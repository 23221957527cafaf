//! Routes rows to partitions and hands them to a [`StagedTable`] in bounded batches.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;

use crate::error::Result;
use crate::store::StagedTable;

/// Upper bound on the values (sids included) buffered across all partitions while
/// writing; about 32 MiB of `f64`.
const MAX_BUFFERED_VALUES: usize = 4 << 20;
const MIN_BATCH_ROWS: usize = 64;
const MAX_BATCH_ROWS: usize = 64 * 1024;

/// The partition a sid belongs to: FNV-1a (64-bit) of its UTF-8 bytes, modulo the
/// partition count. Stable across runs, platforms and versions.
pub fn partition_of(sid: &str, partitions: u32) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = sid
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (hash % u64::from(partitions.max(1))) as u32
}

/// Rows per batch so that all partitions' buffers together stay under
/// `MAX_BUFFERED_VALUES` (but never fewer than `MIN_BATCH_ROWS` rows).
pub(crate) fn default_batch_rows(partitions: u32, columns: usize) -> usize {
    let per_row = columns + 1;
    (MAX_BUFFERED_VALUES / (partitions.max(1) as usize * per_row))
        .clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS)
}

struct PartitionBuffer {
    sids: Vec<String>,
    columns: Vec<Vec<f64>>,
    /// The text column of a [`RowLayout::Text`](crate::RowLayout::Text) table.
    lines: Vec<String>,
}

pub(crate) struct Batcher {
    stage: Box<dyn StagedTable>,
    schema: SchemaRef,
    buffers: Vec<PartitionBuffer>,
    batch_rows: usize,
}

impl Batcher {
    pub(crate) fn new(
        stage: Box<dyn StagedTable>,
        schema: SchemaRef,
        partitions: u32,
        batch_rows: usize,
    ) -> Self {
        // A text table's second column is Utf8; every other value column is Float64.
        let text = schema.fields().len() == 2
            && schema.field(1).data_type() == &arrow_schema::DataType::Utf8;
        let ncols = if text { 0 } else { schema.fields().len() - 1 };
        let buffers = (0..partitions)
            .map(|_| PartitionBuffer {
                sids: Vec::new(),
                columns: vec![Vec::new(); ncols],
                lines: Vec::new(),
            })
            .collect();
        Batcher {
            stage,
            schema,
            buffers,
            batch_rows: batch_rows.max(1),
        }
    }

    /// Buffers one row; `values` are in header order.
    pub(crate) fn push(&mut self, sid: String, values: &[f64]) -> Result<()> {
        let p = partition_of(&sid, self.buffers.len() as u32);
        let buffer = &mut self.buffers[p as usize];
        debug_assert_eq!(values.len(), buffer.columns.len());
        buffer.sids.push(sid);
        for (column, v) in buffer.columns.iter_mut().zip(values) {
            column.push(*v);
        }
        if buffer.sids.len() >= self.batch_rows {
            self.flush(p)?;
        }
        Ok(())
    }

    /// Buffers one row of a text table.
    pub(crate) fn push_text(&mut self, sid: String, line: String) -> Result<()> {
        let p = partition_of(&sid, self.buffers.len() as u32);
        let buffer = &mut self.buffers[p as usize];
        buffer.sids.push(sid);
        buffer.lines.push(line);
        if buffer.sids.len() >= self.batch_rows {
            self.flush(p)?;
        }
        Ok(())
    }

    fn flush(&mut self, partition: u32) -> Result<()> {
        let buffer = &mut self.buffers[partition as usize];
        if buffer.sids.is_empty() {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(buffer.columns.len() + 1);
        arrays.push(Arc::new(StringArray::from(std::mem::take(
            &mut buffer.sids,
        ))));
        for column in &mut buffer.columns {
            arrays.push(Arc::new(Float64Array::from(std::mem::take(column))));
        }
        if !buffer.lines.is_empty() {
            arrays.push(Arc::new(StringArray::from(std::mem::take(
                &mut buffer.lines,
            ))));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.stage.write(partition, &batch)
    }

    /// Writes what is still buffered and returns the stage.
    pub(crate) fn finish(mut self) -> Result<Box<dyn StagedTable>> {
        for p in 0..self.buffers.len() as u32 {
            self.flush(p)?;
        }
        Ok(self.stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_hash_is_stable() {
        // FNV-1a test vectors: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c.
        assert_eq!(
            partition_of("", u32::MAX),
            (0xcbf2_9ce4_8422_2325u64 % 0xffff_ffff) as u32
        );
        assert_eq!(
            partition_of("a", 1000),
            (0xaf63_dc4c_8601_ec8cu64 % 1000) as u32
        );
        for sid in ["1", "2", "abc", "133"] {
            assert!(partition_of(sid, 16) < 16);
            assert_eq!(partition_of(sid, 1), 0);
        }
    }

    #[test]
    fn batch_rows_bounded() {
        assert_eq!(default_batch_rows(1, 0), MAX_BATCH_ROWS);
        assert_eq!(default_batch_rows(1023, 10_000), MIN_BATCH_ROWS);
        let rows = default_batch_rows(16, 14);
        assert!(rows * 16 * 15 <= MAX_BUFFERED_VALUES);
    }
}

//! DataTransform's output table, written row by row as the input is read.
//!
//! Rows go to the partition their sid hashes to ([`partition_of`], the partition every
//! table here keeps a sid in, so the input's own) and keep their order within it: the
//! output lists the input's rows in the input's scan order, which keeps two parties'
//! aligned tables aligned. Each partition buffers a bounded number of rows before they
//! are written as one record batch. The table keeps the `info` it is created with (the
//! input's delimiter among it), as the output always has.

use fateflow_tables::{partition_of, StagedTable, TableId, TableInfo, TableSchema, WriteMode};

use crate::error::{Error, Result};
use crate::table_io::batch_from_rows;

/// Values (sids counted as one) buffered over all partitions: about 32 MB.
const MAX_BUFFERED_VALUES: usize = 4 << 20;
/// Bounds of the rows per partition per write.
const MIN_FLUSH_ROWS: usize = 64;
const MAX_FLUSH_ROWS: usize = 64 * 1024;

struct Buffer {
    sids: Vec<String>,
    values: Vec<f64>,
}

/// Writes the output table through bounded per-partition buffers; nothing is visible
/// until [`finish`](Self::finish), and dropping it discards what was written.
pub(crate) struct OutputWriter<'a> {
    dest: &'a TableId,
    schema: TableSchema,
    stage: Box<dyn StagedTable>,
    buffers: Vec<Buffer>,
    flush_rows: usize,
    rows: u64,
}

impl<'a> OutputWriter<'a> {
    pub(crate) fn create(
        tables: &dyn fateflow_tables::TableStore,
        dest: &'a TableId,
        info: &TableInfo,
    ) -> Result<Self> {
        let stage = tables
            .begin_write(dest, info)
            .map_err(|e| Error::table(dest, e))?;
        let partitions = info.partitions.max(1) as usize;
        let flush_rows = (MAX_BUFFERED_VALUES / (partitions * (info.schema.header.len() + 1)))
            .clamp(MIN_FLUSH_ROWS, MAX_FLUSH_ROWS);
        Ok(OutputWriter {
            dest,
            schema: info.schema.clone(),
            stage,
            buffers: (0..partitions)
                .map(|_| Buffer {
                    sids: Vec::new(),
                    values: Vec::new(),
                })
                .collect(),
            flush_rows,
            rows: 0,
        })
    }

    /// Appends one row; `values` are in the output header's order.
    pub(crate) fn push(&mut self, sid: String, values: &[f64]) -> Result<()> {
        debug_assert_eq!(values.len(), self.schema.header.len());
        let p = partition_of(&sid, self.buffers.len() as u32) as usize;
        let buffer = &mut self.buffers[p];
        buffer.sids.push(sid);
        buffer.values.extend_from_slice(values);
        self.rows += 1;
        if buffer.sids.len() >= self.flush_rows {
            self.flush(p)?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    fn flush(&mut self, partition: usize) -> Result<()> {
        let buffer = &mut self.buffers[partition];
        if buffer.sids.is_empty() {
            return Ok(());
        }
        let sids = std::mem::take(&mut buffer.sids);
        let batch = batch_from_rows(self.dest, &self.schema, sids, &buffer.values)?;
        buffer.values.clear();
        self.stage
            .write(partition as u32, &batch)
            .map_err(|e| Error::table(self.dest, e))
    }

    /// Writes what is buffered, checks that `expected` rows were written and
    /// publishes the table, replacing a leftover of an earlier attempt.
    pub(crate) fn finish(mut self, expected: u64) -> Result<()> {
        for p in 0..self.buffers.len() {
            self.flush(p)?;
        }
        self.stage
            .commit(WriteMode::Replace, expected)
            .map_err(|e| Error::table(self.dest, e))?;
        Ok(())
    }
}

//! The upload's writer: rows are routed to partitions by [`partition_of`] in the parsing
//! thread, and each partition's full batch is handed to a second thread that encodes and
//! writes it, so parsing and Parquet encoding run at the same time. Memory is bounded:
//! the per-partition buffers (as [`Batcher`](crate::batcher)'s) and a few batches in
//! flight.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::SchemaRef;

use crate::batcher::partition_of;
use crate::error::{Error, Result};
use crate::store::StagedTable;

/// What the writing thread is called in errors.
const WRITER: &str = "the upload writer thread";

fn stopped(what: &str) -> Error {
    Error::io(
        "write through",
        WRITER,
        std::io::Error::other(what.to_owned()),
    )
}

/// Batches queued for the writing thread.
const IN_FLIGHT: usize = 2;

struct Buffer {
    sids: StringBuilder,
    columns: Vec<Vec<f64>>,
    rows: usize,
}

/// Writes rows to a [`StagedTable`] through a writing thread.
pub(crate) struct PipelinedWriter {
    schema: SchemaRef,
    buffers: Vec<Buffer>,
    batch_rows: usize,
    tx: Option<SyncSender<(u32, RecordBatch)>>,
    thread: Option<JoinHandle<Result<Box<dyn StagedTable>>>>,
}

fn write_all(
    mut stage: Box<dyn StagedTable>,
    rx: Receiver<(u32, RecordBatch)>,
) -> Result<Box<dyn StagedTable>> {
    for (partition, batch) in rx {
        stage.write(partition, &batch)?;
    }
    Ok(stage)
}

impl PipelinedWriter {
    /// A writer of numeric rows (`schema`: the sid, then one Float64 column per value)
    /// over `partitions` partitions, `batch_rows` rows per partition per write.
    pub(crate) fn new(
        stage: Box<dyn StagedTable>,
        schema: SchemaRef,
        partitions: u32,
        batch_rows: usize,
    ) -> Result<Self> {
        let ncols = schema.fields().len() - 1;
        let batch_rows = batch_rows.max(1);
        let buffers = (0..partitions)
            .map(|_| Buffer {
                sids: StringBuilder::new(),
                columns: vec![Vec::new(); ncols],
                rows: 0,
            })
            .collect();
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name("upload-writer".into())
            .spawn(move || write_all(stage, rx))
            .map_err(|e| Error::io("start", WRITER, e))?;
        Ok(PipelinedWriter {
            schema,
            buffers,
            batch_rows,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Buffers one row; `values` are in header order.
    pub(crate) fn push(&mut self, sid: &str, values: &[f64]) -> Result<()> {
        let p = partition_of(sid, self.buffers.len() as u32);
        let buffer = &mut self.buffers[p as usize];
        debug_assert_eq!(values.len(), buffer.columns.len());
        if buffer.rows == 0 {
            for column in &mut buffer.columns {
                column.reserve(self.batch_rows);
            }
        }
        buffer.sids.append_value(sid);
        for (column, v) in buffer.columns.iter_mut().zip(values) {
            column.push(*v);
        }
        buffer.rows += 1;
        if buffer.rows >= self.batch_rows {
            self.flush(p)?;
        }
        Ok(())
    }

    fn flush(&mut self, partition: u32) -> Result<()> {
        let buffer = &mut self.buffers[partition as usize];
        if buffer.rows == 0 {
            return Ok(());
        }
        buffer.rows = 0;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(buffer.columns.len() + 1);
        arrays.push(Arc::new(buffer.sids.finish()));
        for column in &mut buffer.columns {
            arrays.push(Arc::new(Float64Array::from(std::mem::take(column))));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send((partition, batch)).is_ok());
        if sent {
            return Ok(());
        }
        // The writing thread stopped: its error says why.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(stopped("stopped early")),
        }
    }

    fn join(&mut self) -> Result<Box<dyn StagedTable>> {
        self.tx = None;
        let thread = self
            .thread
            .take()
            .ok_or_else(|| stopped("already stopped"))?;
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Writes what is still buffered and returns the stage.
    pub(crate) fn finish(mut self) -> Result<Box<dyn StagedTable>> {
        for p in 0..self.buffers.len() as u32 {
            self.flush(p)?;
        }
        self.join()
    }
}

impl Drop for PipelinedWriter {
    fn drop(&mut self) {
        // Stop the thread; the stage it returns is dropped, which discards the writes.
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

//! Bounded-memory reading and writing: a table as a sequence of fixed-size row blocks,
//! and a writer that takes rows as they come.
//!
//! **Scan order** is the order [`scan`](crate::scan) yields rows: partition after
//! partition, each in the order its rows were written. Two parties whose tables list the
//! same sids in the same scan order ("aligned" tables, which Intersection writes) can
//! stream them block by block in lockstep, with no map of ids; [`sid_digest`] lets them
//! check that a block holds the same ids on both sides without sending the ids.

use crate::batcher::{default_batch_rows, Batcher};
use crate::check_partitions;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::id::TableId;
use crate::read::{batch_columns, scan, TableScan};
use crate::schema::{RowLayout, TableInfo, TableMeta, TableOrigin, TableSchema, PART_OF_DATA_ROWS};
use crate::store::{TableStore, WriteMode};
use crate::RecordBatch;

/// Rows of a table in blocks of at most `rows_per_block` rows, in scan order, each as a
/// [`Frame`] with the table's schema (label included). Holds one block and one record
/// batch at a time. Block boundaries depend only on the row count, never on how the
/// rows were batched in the files, so two aligned tables give blocks of the same sids.
pub struct FrameBlocks<'a, S: ?Sized> {
    scan: TableScan<'a, S>,
    schema: TableSchema,
    rows_per_block: usize,
    pending: Option<(RecordBatch, usize)>,
    done: bool,
}

impl<S: ?Sized> std::fmt::Debug for FrameBlocks<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBlocks")
            .field("rows_per_block", &self.rows_per_block)
            .finish_non_exhaustive()
    }
}

/// Starts reading `id` in blocks of `rows_per_block` rows (at least 1). A
/// [`RowLayout::Text`] table is an [`Error::TextTable`].
pub fn read_blocks<'a, S>(
    store: &'a S,
    id: &TableId,
    rows_per_block: usize,
) -> Result<FrameBlocks<'a, S>>
where
    S: TableStore + ?Sized,
{
    let info = store.info(id)?;
    if info.layout == RowLayout::Text {
        return Err(Error::TextTable {
            table: id.to_string(),
        });
    }
    Ok(FrameBlocks {
        scan: scan(store, id)?,
        schema: info.schema,
        rows_per_block: rows_per_block.max(1),
        pending: None,
        done: false,
    })
}

impl<S: TableStore + ?Sized> FrameBlocks<'_, S> {
    /// The table's schema, which every block has.
    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    fn fill(&mut self) -> Result<Option<Frame>> {
        let ncols = self.schema.header.len();
        let mut sids = Vec::with_capacity(self.rows_per_block.min(1 << 16));
        let mut values = Vec::with_capacity(sids.capacity() * ncols);
        while sids.len() < self.rows_per_block {
            let (batch, start) = match self.pending.take() {
                Some(p) => p,
                None => match self.scan.next() {
                    Some(batch) => (batch?, 0),
                    None => break,
                },
            };
            let (sid_array, columns) = batch_columns(&self.schema, &batch)?;
            let take = (batch.num_rows() - start).min(self.rows_per_block - sids.len());
            for row in start..start + take {
                sids.push(sid_array.value(row).to_owned());
                values.extend(columns.iter().map(|c| c[row]));
            }
            if start + take < batch.num_rows() {
                self.pending = Some((batch, start + take));
            }
        }
        if sids.is_empty() {
            return Ok(None);
        }
        Ok(Some(Frame::from_parts_unchecked(
            self.schema.clone(),
            sids,
            values,
        )))
    }
}

impl<S: TableStore + ?Sized> Iterator for FrameBlocks<'_, S> {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.fill().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// A 64-bit FNV-1a digest of a block's sids in order (each followed by a 0 byte). Equal
/// digests mean, for any practical purpose, the same ids in the same order; it is a
/// consistency check between parties that already share these ids, not a secret.
pub fn sid_digest<I, T>(sids: I) -> u64
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut digest = SidDigest::default();
    digest.add(sids);
    digest.value()
}

/// [`sid_digest`] fed piece by piece: the same value as over all the sids at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidDigest(u64);

impl Default for SidDigest {
    fn default() -> Self {
        SidDigest(0xcbf2_9ce4_8422_2325)
    }
}

impl SidDigest {
    /// Adds `sids`, in order, after those already added.
    pub fn add<I, T>(&mut self, sids: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        for sid in sids {
            for b in sid.as_ref().bytes().chain(std::iter::once(0)) {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
            }
        }
    }

    /// The digest of everything added so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// Writes a numeric table row by row or block by block, holding only bounded
/// per-partition buffers; nothing is visible until [`finish`](Self::finish) commits it.
/// Dropping the writer discards what was written.
///
/// Rows are routed to partitions by [`partition_of`](crate::partition_of) and keep their
/// push order within a partition, so two parties pushing the same sids in the same order
/// with the same partition count write aligned tables.
pub struct FrameWriter<'a, S: ?Sized> {
    store: &'a S,
    id: TableId,
    info: TableInfo,
    mode: WriteMode,
    batcher: Batcher,
    rows: u64,
    preview: Vec<Vec<String>>,
}

impl<S: ?Sized> std::fmt::Debug for FrameWriter<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("id", &self.id)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<'a, S: TableStore + ?Sized> FrameWriter<'a, S> {
    /// Starts writing `id` with `schema` (label name kept) over `partitions` partitions,
    /// as a component output (origin `output`, `,` delimiter, header line).
    pub fn create(
        store: &'a S,
        id: &TableId,
        schema: TableSchema,
        partitions: u32,
        mode: WriteMode,
    ) -> Result<Self> {
        check_partitions(partitions)?;
        schema.validate()?;
        if mode == WriteMode::Create && store.exists(id)? {
            return Err(Error::TableExists {
                namespace: id.namespace().to_owned(),
                name: id.name().to_owned(),
            });
        }
        let ncols = schema.header.len();
        let info = TableInfo {
            schema,
            partitions,
            id_delimiter: ",".into(),
            have_head: true,
            extend_sid: false,
            origin: TableOrigin::Output,
            layout: RowLayout::Columns,
        };
        let stage = store.begin_write(id, &info)?;
        let batcher = Batcher::new(
            stage,
            info.schema.arrow_schema(),
            partitions,
            default_batch_rows(partitions, ncols),
        );
        Ok(FrameWriter {
            store,
            id: id.clone(),
            info,
            mode,
            batcher,
            rows: 0,
            preview: Vec::new(),
        })
    }

    /// Appends one row; `values` are in header order.
    pub fn push(&mut self, sid: &str, values: &[f64]) -> Result<()> {
        let ncols = self.info.schema.header.len();
        if values.len() != ncols {
            return Err(Error::InvalidFrame {
                reason: format!(
                    "row `{sid}` has {} values for {ncols} columns",
                    values.len()
                ),
            });
        }
        if sid.is_empty() {
            return Err(Error::InvalidFrame {
                reason: format!("row {}: the sid is empty", self.rows),
            });
        }
        if self.preview.len() < PART_OF_DATA_ROWS {
            self.preview.push(
                std::iter::once(sid.to_owned())
                    .chain(values.iter().map(|v| v.to_string()))
                    .collect(),
            );
        }
        self.batcher.push(sid.to_owned(), values)?;
        self.rows += 1;
        Ok(())
    }

    /// Appends every row of `block`, whose columns must be the writer's header.
    pub fn push_frame(&mut self, block: &Frame) -> Result<()> {
        if block.columns() != self.info.schema.header.as_slice() {
            return Err(Error::InvalidFrame {
                reason: "the block's columns differ from the table being written".into(),
            });
        }
        for (sid, row) in block.sids().iter().zip(block.rows()) {
            self.push(sid, row)?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes what is buffered, verifies the row count and publishes the table.
    pub fn finish(self) -> Result<TableMeta> {
        let count = self.batcher.finish()?.commit(self.mode, self.rows)?;
        Ok(TableMeta::from_parts(
            &self.id,
            self.info,
            count,
            self.preview,
            self.store.address(&self.id),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalTableStore;

    fn frame(n: usize) -> Frame {
        let sids = (0..n).map(|i| format!("s{i}")).collect();
        let values = (0..n).flat_map(|i| [i as f64, -(i as f64)]).collect();
        Frame::new("id", vec!["y".into(), "x".into()], sids, values)
            .unwrap()
            .with_label("y")
            .unwrap()
    }

    #[test]
    fn blocks_cover_the_table_in_scan_order_whatever_the_block_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let id = TableId::new("t", "blocks").unwrap();
        let mut writer =
            FrameWriter::create(&store, &id, frame(0).schema(), 3, WriteMode::Create).unwrap();
        writer.push_frame(&frame(1000)).unwrap();
        assert_eq!(writer.finish().unwrap().count, 1000);
        let whole = crate::read_all(&store, &id).unwrap();
        assert_eq!(whole.label_name(), Some("y"));
        for size in [1, 7, 333, 1000, 5000] {
            let blocks: Vec<Frame> = read_blocks(&store, &id, size)
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            assert!(blocks.iter().all(|b| b.nrows() <= size && b.nrows() > 0));
            assert_eq!(blocks.len(), 1000usize.div_ceil(size));
            let sids: Vec<&String> = blocks.iter().flat_map(|b| b.sids()).collect();
            assert_eq!(sids, whole.sids().iter().collect::<Vec<_>>());
            let values: Vec<f64> = blocks.iter().flat_map(|b| b.values().to_vec()).collect();
            assert_eq!(values, whole.values());
            assert_eq!(blocks[0].label_name(), Some("y"));
        }
    }

    #[test]
    fn same_sids_in_the_same_push_order_give_the_same_scan_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let a = TableId::new("t", "a").unwrap();
        let b = TableId::new("t", "b").unwrap();
        let f = frame(500);
        for (id, cols) in [(&a, 2usize), (&b, 1)] {
            let schema = TableSchema::new("id", f.columns()[..cols].to_vec());
            let mut w = FrameWriter::create(&store, id, schema, 5, WriteMode::Create).unwrap();
            for (sid, row) in f.sids().iter().zip(f.rows()) {
                w.push(sid, &row[..cols]).unwrap();
            }
            w.finish().unwrap();
        }
        let digests = |id| {
            read_blocks(&store, id, 64)
                .unwrap()
                .map(|b| sid_digest(b.unwrap().sids()))
                .collect::<Vec<_>>()
        };
        assert_eq!(digests(&a), digests(&b));
        assert_ne!(sid_digest(["a", "bc"]), sid_digest(["ab", "c"]));
    }

    #[test]
    fn a_dropped_writer_publishes_nothing_and_a_bad_row_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let id = TableId::new("t", "dropped").unwrap();
        let schema = TableSchema::new("id", vec!["x".into()]);
        let mut w = FrameWriter::create(&store, &id, schema, 2, WriteMode::Create).unwrap();
        w.push("1", &[1.0]).unwrap();
        assert!(w.push("2", &[1.0, 2.0]).is_err());
        assert!(w.push("", &[1.0]).is_err());
        drop(w);
        assert!(!store.exists(&id).unwrap());
    }
}

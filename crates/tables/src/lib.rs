//! Table storage for FATE-Flow: partitioned Parquet files under a data root.
//!
//! A table is identified by a [`TableId`] (`namespace`, `name`). Its rows live in
//! `partitions` Parquet files; a row's partition is a stable hash of its sample id
//! ([`partition_of`]). In the files the sid column is Utf8 and every other column is
//! Float64. Each file's footer also carries the table's [`TableInfo`] as JSON, so a
//! table can be described without the metadata database.
//!
//! The pieces:
//!
//! - [`TableStore`] is the storage trait, with [`LocalTableStore`] storing
//!   `<root>/tables/<namespace>/<name>/part-<NNNNN>.parquet`. Writes go through a
//!   [`StagedTable`] that publishes the table atomically after checking its row count.
//! - [`upload_csv`] / [`upload_csv_file`] implement `flow data upload` (see
//!   [`UploadOptions`]): streaming, bounded memory, atomic, with errors that name the line
//!   and column.
//! - [`scan`] streams record batches; [`read_all`] and [`read_partition_frame`] load a
//!   [`Frame`]; [`write_frame`] stores a component's output; [`table_meta`] describes a
//!   table.
//! - [`read_blocks`] streams a table in fixed-size row blocks and [`FrameWriter`]
//!   writes one row by row: the bounded-memory path every component takes at scale.
//! - [`download_csv`] / [`download_csv_file`] implement `flow data download`.
//!
//! Everything is synchronous; async callers should use `spawn_blocking`.
//!
//! ```
//! use fateflow_tables::{read_all, upload_csv, LocalTableStore, TableId, UploadOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = LocalTableStore::open(dir.path())?;
//!
//! let csv = "id,y,x0\n1,0,0.5\n2,1,-1.25\n";
//! let meta = upload_csv(&store, csv.as_bytes(), &UploadOptions::new("experiment", "demo"))?;
//! assert_eq!(meta.count, 2);
//! assert_eq!(meta.schema.header, ["y", "x0"]);
//!
//! let frame = read_all(&store, &TableId::new("experiment", "demo")?)?;
//! let row = frame.sids().iter().position(|s| s == "2").unwrap();
//! assert_eq!(frame.row(row), &[1.0, -1.25]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod batcher;
mod dedup;
mod download;
mod error;
mod frame;
mod id;
mod pipeline;
mod read;
mod schema;
mod store;
mod stream;
mod upload;

pub use batcher::partition_of;
pub use download::{
    download_csv, download_csv_file, download_threads, map_row_chunks, CsvFormat, RowChunk,
};
pub use error::{Error, ErrorKind, Result};
pub use frame::Frame;
pub use id::{TableId, MAX_NAME_LEN};
pub use read::{
    batch_columns, for_each_row, read_all, read_partition_frame, read_text_partition, scan,
    scan_text, table_meta, write_frame, write_text, RowView, TableScan,
};
pub use schema::{
    RowLayout, TableAddress, TableInfo, TableMeta, TableOrigin, TableSchema, PART_OF_DATA_ROWS,
    TEXT_COLUMN,
};
pub use store::{BatchIter, LocalTableStore, StagedTable, TableStore, WriteMode, READ_BATCH_ROWS};
pub use stream::{read_blocks, sid_digest, FrameBlocks, FrameWriter, SidDigest};
pub use upload::{
    upload_csv, upload_csv_file, upload_text, UploadOptions, EXTEND_SID_NAME, MISSING_MARKERS,
};

/// Re-exported so callers of [`scan`] need not depend on `arrow-array` themselves.
pub use arrow_array::RecordBatch;

/// Partition count of an upload when none is given.
pub const DEFAULT_PARTITIONS: u32 = 4;

/// Largest partition count (FATE: `0 < partition < 1024`).
pub const MAX_PARTITIONS: u32 = 1023;

/// Longest accepted input line, in bytes (16 MiB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

fn check_partitions(partitions: u32) -> Result<()> {
    if (1..=MAX_PARTITIONS).contains(&partitions) {
        Ok(())
    } else {
        Err(Error::InvalidPartitions(partitions))
    }
}

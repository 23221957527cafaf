//! Component outputs (`write_frame`), and the row-count check of the store.

mod common;

use common::{assert_no_leftovers, temp_store};
use fateflow_tables::{
    read_all, upload_csv, write_frame, BatchIter, Error, Frame, LocalTableStore, RecordBatch,
    StagedTable, TableAddress, TableId, TableInfo, TableOrigin, TableStore, UploadOptions,
    WriteMode,
};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn sample_frame() -> Frame {
    let sids: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let values = (0..100).map(|i| f64::from(i) / 3.0).collect();
    Frame::new("id", strings(&["y", "x0"]), sids, values)
        .unwrap()
        .with_label("y")
        .unwrap()
}

fn sorted_rows(frame: &Frame) -> Vec<(String, Vec<u64>)> {
    let mut rows: Vec<_> = frame
        .sids()
        .iter()
        .cloned()
        .zip(
            frame
                .rows()
                .map(|r| r.iter().map(|v| v.to_bits()).collect()),
        )
        .collect();
    rows.sort();
    rows
}

#[test]
fn write_frame_round_trips_with_label() {
    let (_dir, store) = temp_store();
    let id = TableId::new("output_data_job_reader_0_0", "abc123").unwrap();
    let frame = sample_frame();
    let meta = write_frame(&store, &id, &frame, 4, WriteMode::Create).unwrap();
    assert_eq!(meta.count, 50);
    assert_eq!(meta.origin, TableOrigin::Output);
    assert_eq!(meta.schema.label_name.as_deref(), Some("y"));
    assert_eq!(meta.part_of_data.len(), 50);
    assert_eq!(
        meta.part_of_data[1],
        strings(&["s1", "0.6666666666666666", "1"])
    );

    let back = read_all(&store, &id).unwrap();
    assert_eq!(back.label_name(), Some("y"));
    assert_eq!(back.columns(), frame.columns());
    assert_eq!(sorted_rows(&back), sorted_rows(&frame));

    let err = write_frame(&store, &id, &frame, 4, WriteMode::Create).unwrap_err();
    assert!(matches!(err, Error::TableExists { .. }));
    let small = Frame::new("id", strings(&["z"]), strings(&["a"]), vec![1.0]).unwrap();
    write_frame(&store, &id, &small, 1, WriteMode::Replace).unwrap();
    assert_eq!(read_all(&store, &id).unwrap(), small);
}

#[test]
fn write_frame_checks_partitions() {
    let (_dir, store) = temp_store();
    let id = TableId::new("ns", "t").unwrap();
    let err = write_frame(&store, &id, &sample_frame(), 0, WriteMode::Create).unwrap_err();
    assert!(matches!(err, Error::InvalidPartitions(0)));
    assert_no_leftovers(store.root(), "ns", "t");
}

#[test]
fn empty_frame_writes_an_empty_table() {
    let (_dir, store) = temp_store();
    let id = TableId::new("ns", "empty").unwrap();
    let frame = Frame::empty("sid", strings(&["a", "b"])).unwrap();
    let meta = write_frame(&store, &id, &frame, 3, WriteMode::Create).unwrap();
    assert_eq!(meta.count, 0);
    assert_eq!(read_all(&store, &id).unwrap(), frame);
}

/// A store whose staged tables silently lose their first batch.
#[derive(Debug)]
struct LossyStore(LocalTableStore);

struct LossyStage {
    inner: Box<dyn StagedTable>,
    dropped: bool,
}

impl StagedTable for LossyStage {
    fn write(&mut self, partition: u32, batch: &RecordBatch) -> fateflow_tables::Result<()> {
        if !self.dropped {
            self.dropped = true;
            return Ok(());
        }
        self.inner.write(partition, batch)
    }

    fn commit(self: Box<Self>, mode: WriteMode, expected: u64) -> fateflow_tables::Result<u64> {
        self.inner.commit(mode, expected)
    }
}

impl TableStore for LossyStore {
    fn exists(&self, id: &TableId) -> fateflow_tables::Result<bool> {
        self.0.exists(id)
    }
    fn info(&self, id: &TableId) -> fateflow_tables::Result<TableInfo> {
        self.0.info(id)
    }
    fn count(&self, id: &TableId) -> fateflow_tables::Result<u64> {
        self.0.count(id)
    }
    fn read_partition(&self, id: &TableId, partition: u32) -> fateflow_tables::Result<BatchIter> {
        self.0.read_partition(id, partition)
    }
    fn begin_write(
        &self,
        id: &TableId,
        info: &TableInfo,
    ) -> fateflow_tables::Result<Box<dyn StagedTable>> {
        Ok(Box::new(LossyStage {
            inner: self.0.begin_write(id, info)?,
            dropped: false,
        }))
    }
    fn delete(&self, id: &TableId) -> fateflow_tables::Result<bool> {
        self.0.delete(id)
    }
    fn address(&self, id: &TableId) -> TableAddress {
        self.0.address(id)
    }
}

#[test]
fn lost_rows_are_caught_and_nothing_is_kept() {
    let (_dir, local) = temp_store();
    let root = local.root().to_owned();
    let store = LossyStore(local);
    let csv = "id,a\n1,1\n2,2\n3,3\n4,4\n5,5\n";
    let mut opts = UploadOptions::new("ns", "lossy");
    opts.partitions = 2;
    opts.batch_rows = Some(1);
    let err = upload_csv(&store, csv.as_bytes(), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                expected: 5,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_no_leftovers(&root, "ns", "lossy");

    // Through a trait object as well.
    let dyn_store: &dyn TableStore = &store;
    let err = write_frame(
        dyn_store,
        &TableId::new("ns", "lossy").unwrap(),
        &sample_frame(),
        2,
        WriteMode::Create,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::CountMismatch { expected: 50, .. }),
        "{err}"
    );
    assert_no_leftovers(&root, "ns", "lossy");
}

#[test]
fn batches_written_to_several_partitions_at_once_land_in_their_partitions() {
    let (_dir, store) = temp_store();
    let frame = sample_frame();
    let id = TableId::new("ns", "many").unwrap();
    let info = TableInfo {
        schema: frame.schema(),
        partitions: 3,
        id_delimiter: ",".into(),
        have_head: true,
        extend_sid: false,
        origin: TableOrigin::Output,
        layout: fateflow_tables::RowLayout::Columns,
    };
    let part = |range: std::ops::Range<usize>| -> RecordBatch {
        let sids: Vec<String> = frame.sids()[range.clone()].to_vec();
        let col = |c: usize| -> arrow_array::ArrayRef {
            std::sync::Arc::new(arrow_array::Float64Array::from(
                range.clone().map(|r| frame.get(r, c)).collect::<Vec<f64>>(),
            ))
        };
        RecordBatch::try_new(
            info.arrow_schema(),
            vec![
                std::sync::Arc::new(arrow_array::StringArray::from(sids)),
                col(0),
                col(1),
            ],
        )
        .unwrap()
    };
    let mut stage = store.begin_write(&id, &info).unwrap();
    stage
        .write_many(&[(0, part(0..10)), (2, part(10..30))])
        .unwrap();
    stage.write_many(&[(1, part(30..50))]).unwrap();
    // The same partition twice in one call is refused.
    assert!(stage
        .write_many(&[(0, part(0..1)), (0, part(1..2))])
        .is_err());
    drop(stage);

    let mut stage = store.begin_write(&id, &info).unwrap();
    stage
        .write_many(&[(0, part(0..10)), (2, part(10..30)), (1, part(30..50))])
        .unwrap();
    assert_eq!(stage.commit(WriteMode::Create, 50).unwrap(), 50);
    let sids_of = |p: u32| -> Vec<String> {
        let mut out = Vec::new();
        for b in store.read_partition(&id, p).unwrap() {
            let b = b.unwrap();
            let a = arrow_array::Array::as_any(b.column(0).as_ref())
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            out.extend((0..b.num_rows()).map(|i| a.value(i).to_owned()));
        }
        out
    };
    assert_eq!(sids_of(0), frame.sids()[0..10]);
    assert_eq!(sids_of(2), frame.sids()[10..30]);
    assert_eq!(sids_of(1), frame.sids()[30..50]);
    assert_eq!(
        sorted_rows(&read_all(&store, &id).unwrap()),
        sorted_rows(&frame)
    );
}

//! Property: any valid table survives upload → read_all, and download → upload, exactly.

mod common;

use std::collections::HashSet;

use common::temp_store;
use fateflow_tables::{download_csv, read_all, upload_csv, TableId, UploadOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Table {
    columns: Vec<String>,
    sids: Vec<String>,
    /// Row-major.
    values: Vec<f64>,
    delimiter: &'static str,
    partitions: u32,
    batch_rows: Option<usize>,
}

impl Table {
    fn csv(&self) -> String {
        let d = self.delimiter;
        let mut text = std::iter::once("id")
            .chain(self.columns.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(d);
        text.push('\n');
        let n = self.columns.len();
        for (r, sid) in self.sids.iter().enumerate() {
            text.push_str(sid);
            for v in &self.values[r * n..(r + 1) * n] {
                text.push_str(d);
                text.push_str(&v.to_string());
            }
            text.push('\n');
        }
        text
    }
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => -1e6f64..1e6,
        1 => (-1000i32..1000).prop_map(f64::from),
        1 => Just(0.0),
        1 => Just(-0.0),
    ]
}

fn table() -> impl Strategy<Value = Table> {
    let shape = (0usize..5, 0usize..40);
    shape.prop_flat_map(|(ncols, nrows)| {
        (
            proptest::collection::hash_set("[A-Za-z0-9_.:-]{1,10}", nrows),
            proptest::collection::vec(value(), ncols * nrows),
            prop::sample::select(vec![",", "\t", ";", "||"]),
            1u32..9,
            prop::option::of(1usize..8),
        )
            .prop_map(
                move |(sids, values, delimiter, partitions, batch_rows)| Table {
                    columns: (0..ncols).map(|i| format!("c{i}")).collect(),
                    sids: sids.into_iter().collect(),
                    values,
                    delimiter,
                    partitions,
                    batch_rows,
                },
            )
    })
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check_frame(table: &Table, frame: &fateflow_tables::Frame) -> Result<(), TestCaseError> {
    prop_assert_eq!(frame.columns(), &table.columns[..]);
    prop_assert_eq!(frame.nrows(), table.sids.len());
    let got: HashSet<&String> = frame.sids().iter().collect();
    let want: HashSet<&String> = table.sids.iter().collect();
    prop_assert_eq!(got, want);
    let n = table.columns.len();
    for (r, sid) in table.sids.iter().enumerate() {
        let i = frame.sids().iter().position(|s| s == sid).unwrap();
        let row = frame.row(i);
        for (j, want) in table.values[r * n..(r + 1) * n].iter().enumerate() {
            prop_assert!(same(row[j], *want), "{sid} col {j}: {} != {want}", row[j]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn upload_read_download_round_trip(table in table()) {
        let (_dir, store) = temp_store();
        let mut opts = UploadOptions::new("prop", "t");
        opts.id_delimiter = table.delimiter.to_owned();
        opts.partitions = table.partitions;
        opts.batch_rows = table.batch_rows;
        let meta = upload_csv(&store, table.csv().as_bytes(), &opts).unwrap();
        prop_assert_eq!(meta.count, table.sids.len() as u64);

        let id = TableId::new("prop", "t").unwrap();
        check_frame(&table, &read_all(&store, &id).unwrap())?;

        let mut text = Vec::new();
        download_csv(&store, &id, &mut text, None).unwrap();
        let mut again = UploadOptions::new("prop", "again");
        again.id_delimiter = table.delimiter.to_owned();
        upload_csv(&store, &text[..], &again).unwrap();
        let id = TableId::new("prop", "again").unwrap();
        check_frame(&table, &read_all(&store, &id).unwrap())?;
    }
}

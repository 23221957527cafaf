//! Tables of raw text lines: FATE's sparse, tag and tag:value files, which upload
//! keeps as the sid plus the rest of the line for DataTransform to parse.

mod common;

use std::fs;

use common::{assert_no_leftovers, temp_store};
use fateflow_tables::{
    download_csv, read_all, scan_text, table_meta, upload_csv_file, Error, RowLayout, TableId,
    UploadOptions, EXTEND_SID_NAME,
};

fn upload(
    text: &str,
    opts: &UploadOptions,
) -> (
    tempfile::TempDir,
    fateflow_tables::LocalTableStore,
    fateflow_tables::Result<fateflow_tables::TableMeta>,
) {
    let (dir, store) = temp_store();
    let path = dir.path().join("input.csv");
    fs::write(&path, text).unwrap();
    let meta = upload_csv_file(&store, &path, opts);
    (dir, store, meta)
}

fn rows(store: &fateflow_tables::LocalTableStore, name: &str) -> Vec<(String, String)> {
    let mut all: Vec<_> = scan_text(store, &TableId::new("experiment", name).unwrap())
        .unwrap()
        .flat_map(|batch| batch.unwrap())
        .collect();
    all.sort();
    all
}

const SVMLIGHT: &str = "1,1,0:-0.5,1:0.25,3:2\n2,0,0:1.5,2:-1\n3,1,1:0.75\n";

#[test]
fn svmlight_without_header_is_stored_as_lines() {
    let mut opts = UploadOptions::new("experiment", "svm");
    opts.head = false;
    opts.partitions = 3;
    let (_dir, store, meta) = upload(SVMLIGHT, &opts);
    let meta = meta.unwrap();
    assert_eq!(meta.layout, RowLayout::Text);
    assert_eq!(meta.count, 3);
    assert_eq!(meta.schema.sid, "id");
    assert!(meta.schema.header.is_empty());
    assert_eq!(
        rows(&store, "svm"),
        [
            ("1".to_string(), "1,0:-0.5,1:0.25,3:2".to_string()),
            ("2".into(), "0,0:1.5,2:-1".into()),
            ("3".into(), "1,1:0.75".into()),
        ]
    );
    // The numeric readers refuse it, naming the table and what to do.
    let e = read_all(&store, &TableId::new("experiment", "svm").unwrap()).unwrap_err();
    assert!(matches!(e, Error::TextTable { .. }), "{e}");
    assert!(e.to_string().contains("experiment.svm"), "{e}");
    assert!(e.to_string().contains("DataTransform"), "{e}");
}

#[test]
fn svmlight_with_head_consumes_the_first_row_as_header_as_fate_does() {
    // FATE's testsuite uploads svmlight files with head: 1.
    let (_dir, store, meta) = upload(SVMLIGHT, &UploadOptions::new("experiment", "svm"));
    let meta = meta.unwrap();
    assert_eq!(meta.layout, RowLayout::Text);
    assert_eq!(meta.count, 2);
    assert_eq!(meta.schema.sid, "1");
    assert_eq!(meta.schema.header, ["1", "0:-0.5", "1:0.25", "3:2"]);
    assert_eq!(rows(&store, "svm").len(), 2);
}

#[test]
fn tag_value_rows_and_preview_and_download_round_trip() {
    let text = "id,tags\n10,a:1;b:2\n11,c:0.5\n12,\n";
    let (dir, store, meta) = upload(text, &UploadOptions::new("experiment", "tags"));
    let meta = meta.unwrap();
    assert_eq!(meta.layout, RowLayout::Text);
    assert_eq!(meta.schema.sid, "id");
    assert_eq!(meta.schema.header, ["tags"]);
    let id = TableId::new("experiment", "tags").unwrap();
    let described = table_meta(&store, &id).unwrap();
    assert_eq!(described.layout, RowLayout::Text);
    assert_eq!(described.count, 3);
    let mut preview = described.part_of_data.clone();
    preview.sort();
    assert_eq!(preview[0], ["10", "a:1;b:2"]);
    assert_eq!(preview[2], ["12", ""]);

    let mut out = Vec::new();
    assert_eq!(download_csv(&store, &id, &mut out, None).unwrap(), 3);
    let out = String::from_utf8(out).unwrap();
    let mut lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.remove(0), "id,tags");
    lines.sort();
    assert_eq!(lines, ["10,a:1;b:2", "11,c:0.5", "12"]);
    drop(dir);
}

#[test]
fn a_file_whose_first_row_is_not_numeric_is_stored_as_lines() {
    let text = "id,y,x0\n1,0,oops\n2,1,0.5\n";
    let (_dir, store, meta) = upload(text, &UploadOptions::new("experiment", "mixed"));
    let meta = meta.unwrap();
    assert_eq!(meta.layout, RowLayout::Text);
    assert_eq!(meta.schema.header, ["y", "x0"]);
    assert_eq!(
        rows(&store, "mixed"),
        [
            ("1".to_string(), "0,oops".to_string()),
            ("2".into(), "1,0.5".into())
        ]
    );
}

#[test]
fn a_dense_file_with_a_bad_row_further_down_is_refused() {
    let (_d, _s, meta) = upload(
        "id,y,x0\n1,0,0.5\n2,1,oops\n",
        &UploadOptions::new("experiment", "bad"),
    );
    assert!(
        matches!(meta, Err(Error::NotANumber { line: 3, .. })),
        "{meta:?}"
    );
    let (_d, _s, meta) = upload(
        "id,y,x0\n1,0,0.5\n2,1\n",
        &UploadOptions::new("experiment", "bad"),
    );
    assert!(
        matches!(meta, Err(Error::RaggedRow { line: 3, .. })),
        "{meta:?}"
    );
}

#[test]
fn dense_numeric_files_keep_columns() {
    let (_dir, _store, meta) = upload("id,y\n1,0\n2,1\n", &UploadOptions::new("experiment", "d"));
    assert_eq!(meta.unwrap().layout, RowLayout::Columns);
}

#[test]
fn extend_sid_keeps_the_whole_line() {
    let mut opts = UploadOptions::new("experiment", "ext");
    opts.head = false;
    opts.extend_sid = true;
    let (_dir, store, meta) = upload("a:1,b\nc,d:2\n", &opts);
    let meta = meta.unwrap();
    assert_eq!(meta.schema.sid, EXTEND_SID_NAME);
    assert_eq!(
        rows(&store, "ext"),
        [
            ("0".to_string(), "a:1,b".to_string()),
            ("1".into(), "c,d:2".into())
        ]
    );
}

#[test]
fn duplicate_ids_in_text_are_refused_and_nothing_is_left() {
    let (dir, store, meta) = upload(
        "id,t\n1,a:1\n2,b\n1,c\n",
        &UploadOptions::new("experiment", "dup"),
    );
    let e = meta.unwrap_err();
    assert!(
        matches!(
            e,
            Error::DuplicateId {
                line: 4,
                first_line: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(!fateflow_tables::TableStore::exists(
        &store,
        &TableId::new("experiment", "dup").unwrap()
    )
    .unwrap());
    assert_no_leftovers(dir.path(), "experiment", "dup");
}

#[test]
fn write_text_refuses_a_repeated_sid_and_leaves_nothing() {
    let (dir, store) = temp_store();
    let info = fateflow_tables::TableInfo {
        schema: fateflow_tables::TableSchema::new("id", Vec::new()),
        partitions: 2,
        id_delimiter: ",".into(),
        have_head: false,
        extend_sid: false,
        origin: fateflow_tables::TableOrigin::Output,
        layout: RowLayout::Columns,
    };
    let id = TableId::new("experiment", "w").unwrap();
    let rows =
        [("1", "a"), ("2", "b"), ("1", "c")].map(|(s, l)| Ok((s.to_string(), l.to_string())));
    let e =
        fateflow_tables::write_text(&store, &id, &info, rows, fateflow_tables::WriteMode::Create)
            .unwrap_err();
    assert!(e.to_string().contains("duplicate sid `1`"), "{e}");
    assert_no_leftovers(dir.path(), "experiment", "w");
}

#[test]
fn for_each_row_stops_at_the_limit_for_text_and_numeric_tables() {
    use fateflow_tables::{for_each_row, RowView};
    let mut opts = UploadOptions::new("experiment", "svm");
    opts.head = false;
    let (dir, store, meta) = upload(SVMLIGHT, &opts);
    meta.unwrap();
    let svm = TableId::new("experiment", "svm").unwrap();
    let mut seen = Vec::new();
    let n = for_each_row(&store, &svm, Some(2), |row| {
        match row {
            RowView::Text(sid, line) => seen.push(format!("{sid}|{line}")),
            RowView::Values(..) => panic!("a text table gives text rows"),
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| SVMLIGHT.contains(&r.replace('|', ","))));

    let path = dir.path().join("dense.csv");
    fs::write(&path, "id,a,b\n1,0.5,2\n2,1.5,nan\n3,-1,4\n").unwrap();
    upload_csv_file(&store, &path, &UploadOptions::new("experiment", "dense")).unwrap();
    let dense = TableId::new("experiment", "dense").unwrap();
    let mut values = Vec::new();
    let n = for_each_row(&store, &dense, None, |row| {
        if let RowView::Values(sid, v) = row {
            values.push((sid.to_string(), v.to_vec()));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3);
    values.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(values[0], ("1".to_string(), vec![0.5, 2.0]));
    assert!(values[1].1[1].is_nan());
    // An error from the callback stops the walk and comes back.
    let e = for_each_row(&store, &dense, None, |_| {
        Err(Error::InvalidOption {
            option: "stop",
            reason: "test",
        })
    })
    .unwrap_err();
    assert!(matches!(e, Error::InvalidOption { option: "stop", .. }));
}

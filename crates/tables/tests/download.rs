//! Download (table → CSV) and the upload → download → upload round trip.

mod common;

use std::fs;

use common::{assert_frame_eq, data_file, parse_csv, temp_store};
use fateflow_tables::{
    download_csv, download_csv_file, read_all, upload_csv, upload_csv_file, write_frame, Error,
    Frame, TableId, UploadOptions, WriteMode,
};

#[test]
fn breast_round_trips_through_download() {
    let (dir, store) = temp_store();
    let source = data_file("breast_hetero_guest.csv");
    upload_csv_file(&store, &source, &UploadOptions::new("experiment", "breast")).unwrap();
    let id = TableId::new("experiment", "breast").unwrap();

    let out = dir.path().join("breast_out.csv");
    assert_eq!(download_csv_file(&store, &id, &out, None).unwrap(), 569);
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "id,y,x0,x1,x2,x3,x4,x5,x6,x7,x8,x9"
    );
    // Values in the examples already have a shortest form, except for trailing zeros.
    assert!(text.contains("133,1,0.254879,-1.046633,0.209656,0.074214,"));
    let original = parse_csv(&fs::read_to_string(&source).unwrap(), ",");
    let downloaded = parse_csv(&text, ",");
    assert_eq!(downloaded.header, original.header);
    assert_eq!(downloaded.rows, original.rows);

    // Upload the download again: same values.
    upload_csv_file(&store, &out, &UploadOptions::new("experiment", "again")).unwrap();
    let again = read_all(&store, &TableId::new("experiment", "again").unwrap()).unwrap();
    assert_frame_eq(&again, &original);
    // No temporary file next to the output.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names
        .iter()
        .all(|n| !n.to_string_lossy().contains("partial")));
}

#[test]
fn delimiter_and_no_header() {
    let (_dir, store) = temp_store();
    let mut opts = UploadOptions::new("ns", "t");
    opts.head = false;
    opts.id_delimiter = ";".into();
    opts.partitions = 1;
    upload_csv(&store, "a;1.50;-0\nb;1e3;NaN\n".as_bytes(), &opts).unwrap();
    let id = TableId::new("ns", "t").unwrap();

    let mut out = Vec::new();
    download_csv(&store, &id, &mut out, None).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines: Vec<_> = text.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a;1.5;-0", "b;1000;NaN"]);

    let mut out = Vec::new();
    download_csv(&store, &id, &mut out, Some("\t")).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("a\t1.5\t-0\n"));
}

#[test]
fn delimiter_inside_a_value_is_an_error() {
    let (_dir, store) = temp_store();
    let id = TableId::new("ns", "t").unwrap();
    let frame = Frame::new("id", vec!["x".into()], vec!["a,b".into()], vec![1.5]).unwrap();
    write_frame(&store, &id, &frame, 1, WriteMode::Create).unwrap();
    let err = download_csv(&store, &id, Vec::new(), None).unwrap_err();
    assert!(
        matches!(err, Error::DelimiterInValue { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`id`"));

    // A failed download to a file leaves neither the file nor a temporary one.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    assert!(download_csv_file(&store, &id, &out, None).is_err());
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());

    // A delimiter that occurs in formatted numbers is caught too.
    let err = download_csv(&store, &id, Vec::new(), Some(".")).unwrap_err();
    assert!(matches!(err, Error::DelimiterInValue { .. }), "{err}");
}

#[test]
fn missing_table_is_not_found() {
    let (_dir, store) = temp_store();
    let id = TableId::new("ns", "none").unwrap();
    let err = download_csv(&store, &id, Vec::new(), None).unwrap_err();
    assert!(matches!(err, Error::TableNotFound { .. }));
}

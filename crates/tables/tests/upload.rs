//! Uploads of the shipped data sets and of malformed CSV.

mod common;

use std::fs;

use common::{assert_frame_eq, assert_no_leftovers, data_file, parse_csv, temp_store};
use fateflow_tables::{
    download_csv, read_all, scan, table_meta, upload_csv, upload_csv_file, Error, ErrorKind,
    LocalTableStore, TableId, TableOrigin, TableStore, UploadOptions, EXTEND_SID_NAME,
    MISSING_MARKERS,
};

fn options(name: &str) -> UploadOptions {
    UploadOptions::new("experiment", name)
}

#[test]
fn breast_hetero_guest_uploads_and_reads_back() {
    let (_dir, store) = temp_store();
    let path = data_file("breast_hetero_guest.csv");
    let mut opts = options("breast_hetero_guest");
    opts.partitions = 16;
    let meta = upload_csv_file(&store, &path, &opts).unwrap();

    assert_eq!(meta.count, 569);
    assert_eq!(meta.partitions, 16);
    assert_eq!(meta.schema.sid, "id");
    assert_eq!(meta.schema.header.len(), 11);
    assert_eq!(meta.schema.header[0], "y");
    assert_eq!(meta.schema.label_name, None);
    assert!(meta.have_head);
    assert!(!meta.extend_sid);
    assert_eq!(meta.origin, TableOrigin::Upload);
    assert_eq!(meta.part_of_data.len(), 100);
    assert_eq!(
        meta.part_of_data[0][..3],
        ["133".to_string(), "1".into(), "0.254879".into()]
    );

    let id = TableId::new("experiment", "breast_hetero_guest").unwrap();
    assert!(store.exists(&id).unwrap());
    assert_eq!(store.count(&id).unwrap(), 569);
    for p in 0..16 {
        let file = store.table_dir(&id).join(format!("part-{p:05}.parquet"));
        assert!(file.is_file(), "{}", file.display());
    }

    let text = fs::read_to_string(&path).unwrap();
    let frame = read_all(&store, &id).unwrap();
    assert_frame_eq(&frame, &parse_csv(&text, ","));

    let described = table_meta(&store, &id).unwrap();
    assert_eq!(described.count, 569);
    assert_eq!(described.schema, meta.schema);
    assert_eq!(described.part_of_data.len(), 100);
    assert_eq!(described.address, meta.address);
}

#[test]
fn default_credit_uploads_and_reads_back() {
    let (_dir, store) = temp_store();
    let path = data_file("default_credit_hetero_guest.csv");
    let meta = upload_csv_file(&store, &path, &options("default_credit_hetero_guest")).unwrap();
    assert_eq!(meta.count, 30_000);
    assert_eq!(meta.schema.header.len(), 14);

    let id = TableId::new("experiment", "default_credit_hetero_guest").unwrap();
    assert_eq!(store.count(&id).unwrap(), 30_000);
    let text = fs::read_to_string(&path).unwrap();
    assert_frame_eq(&read_all(&store, &id).unwrap(), &parse_csv(&text, ","));

    // The scan is bounded: no batch is larger than the read batch size.
    let mut rows = 0;
    for batch in scan(&store, &id).unwrap() {
        let batch = batch.unwrap();
        assert!(batch.num_rows() <= fateflow_tables::READ_BATCH_ROWS);
        rows += batch.num_rows();
    }
    assert_eq!(rows, 30_000);
}

#[test]
fn small_batches_make_many_row_groups_and_same_data() {
    let (_dir, store) = temp_store();
    let path = data_file("breast_hetero_host.csv");
    let mut opts = options("breast_hetero_host");
    opts.partitions = 3;
    opts.batch_rows = Some(7);
    upload_csv_file(&store, &path, &opts).unwrap();
    let id = TableId::new("experiment", "breast_hetero_host").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_frame_eq(&read_all(&store, &id).unwrap(), &parse_csv(&text, ","));
    assert_eq!(store.count(&id).unwrap(), 569);

    // Each batch became a row group of at most 7 rows.
    let file = fs::File::open(store.table_dir(&id).join("part-00000.parquet")).unwrap();
    let footer = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .unwrap();
    assert!(footer.num_row_groups() > 10);
    assert!(footer.row_groups().iter().all(|rg| rg.num_rows() <= 7));
}

#[test]
fn every_partition_is_used_and_rows_are_not_duplicated() {
    let (_dir, store) = temp_store();
    let mut opts = options("t");
    opts.partitions = 4;
    upload_csv_file(&store, &data_file("vehicle_scale_hetero_guest.csv"), &opts).unwrap();
    let id = TableId::new("experiment", "t").unwrap();
    let mut total = 0;
    for p in 0..4 {
        let part = fateflow_tables::read_partition_frame(&store, &id, p).unwrap();
        assert!(part.nrows() > 0, "partition {p} is empty");
        for sid in part.sids() {
            assert_eq!(fateflow_tables::partition_of(sid, 4), p);
        }
        total += part.nrows();
    }
    assert_eq!(total, 846);
    let err = fateflow_tables::read_partition_frame(&store, &id, 4).unwrap_err();
    assert!(
        matches!(err, Error::PartitionOutOfRange { partition: 4, .. }),
        "{err}"
    );
}

#[test]
fn named_id_column_tab_delimiter_and_whitespace() {
    let (_dir, store) = temp_store();
    let csv = "\u{feff}y\tuid\tx0\r\n1\t a \t0.5\r\n\r\n0\tb\t-2e-3\r\n";
    let mut opts = options("named");
    opts.id_delimiter = "\t".into();
    opts.id_column = Some("uid".into());
    let meta = upload_csv(&store, csv.as_bytes(), &opts).unwrap();
    assert_eq!(meta.count, 2);
    assert_eq!(meta.schema.sid, "uid");
    assert_eq!(meta.schema.header, ["y", "x0"]);
    assert_eq!(meta.id_delimiter, "\t");
    let frame = read_all(&store, &TableId::new("experiment", "named").unwrap()).unwrap();
    let a = frame.sids().iter().position(|s| s == "a").unwrap();
    let b = frame.sids().iter().position(|s| s == "b").unwrap();
    assert_eq!(frame.row(a), &[1.0, 0.5]);
    assert_eq!(frame.row(b), &[0.0, -0.002]);
}

#[test]
fn extend_sid_generates_line_index_ids_and_keeps_all_columns() {
    let (_dir, store) = temp_store();
    let csv = "id,x0\n10,0.5\n11,0.25\n12,1\n";
    let mut opts = options("ext");
    opts.extend_sid = true;
    let meta = upload_csv(&store, csv.as_bytes(), &opts).unwrap();
    assert!(meta.extend_sid);
    assert_eq!(meta.schema.sid, EXTEND_SID_NAME);
    assert_eq!(meta.schema.header, ["id", "x0"]);
    let frame = read_all(&store, &TableId::new("experiment", "ext").unwrap()).unwrap();
    let mut rows: Vec<(String, Vec<f64>)> = frame
        .sids()
        .iter()
        .cloned()
        .zip(frame.rows().map(<[f64]>::to_vec))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rows,
        vec![
            ("0".to_string(), vec![10.0, 0.5]),
            ("1".to_string(), vec![11.0, 0.25]),
            ("2".to_string(), vec![12.0, 1.0]),
        ]
    );
}

#[test]
fn no_header_names_columns() {
    let (_dir, store) = temp_store();
    let mut opts = options("nohead");
    opts.head = false;
    let meta = upload_csv(&store, "a,1,2\nb,3,4\n".as_bytes(), &opts).unwrap();
    assert!(!meta.have_head);
    assert_eq!(meta.schema.sid, "id");
    assert_eq!(meta.schema.header, ["x0", "x1"]);
    assert_eq!(meta.count, 2);

    // A ragged row is measured against the first row.
    let err = upload_csv(&store, "a,1,2\nb,3\n".as_bytes(), &options_nohead("r")).unwrap_err();
    assert!(
        err.to_string().contains("line 2") && err.to_string().contains("`x1`"),
        "{err}"
    );
}

fn options_nohead(name: &str) -> UploadOptions {
    let mut o = options(name);
    o.head = false;
    o
}

#[test]
fn header_only_is_an_empty_table() {
    let (_dir, store) = temp_store();
    let meta = upload_csv(&store, "id,a,b\n".as_bytes(), &options("empty")).unwrap();
    assert_eq!(meta.count, 0);
    let id = TableId::new("experiment", "empty").unwrap();
    assert_eq!(store.count(&id).unwrap(), 0);
    let frame = read_all(&store, &id).unwrap();
    assert_eq!((frame.nrows(), frame.ncols()), (0, 2));
}

/// Sorts a frame's rows by sid.
fn sorted_rows(frame: &fateflow_tables::Frame) -> Vec<(String, Vec<f64>)> {
    let mut rows: Vec<(String, Vec<f64>)> = frame
        .sids()
        .iter()
        .cloned()
        .zip(frame.rows().map(<[f64]>::to_vec))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[test]
fn missing_markers_become_nan() {
    let (_dir, store) = temp_store();
    // One marker per row in `a` (with surrounding whitespace on some), a number in `b`.
    let markers = ["", "   ", "NA", " NULL", "null ", "None", "nan", "NaN"];
    assert!(MISSING_MARKERS
        .iter()
        .all(|m| markers.iter().any(|x| x.trim() == *m)));
    let mut csv = String::from("id,a,b\n");
    for (i, marker) in markers.iter().enumerate() {
        csv.push_str(&format!("{i},{marker},{i}.5\n"));
    }
    csv.push_str("99,1.25,NA\n");
    let meta = upload_csv(&store, csv.as_bytes(), &options("missing")).unwrap();
    assert_eq!(meta.count, markers.len() as u64 + 1);
    // The preview keeps the text as uploaded (trimmed).
    let preview = meta.part_of_data.iter().find(|r| r[0] == "2").unwrap();
    assert_eq!(preview, &["2", "NA", "2.5"]);

    let frame = read_all(&store, &TableId::new("experiment", "missing").unwrap()).unwrap();
    let rows = sorted_rows(&frame);
    assert_eq!(rows.len(), markers.len() + 1);
    for (sid, row) in &rows {
        if sid == "99" {
            assert_eq!(row[0], 1.25);
            assert!(row[1].is_nan(), "row 99: {row:?}");
            continue;
        }
        let i: usize = sid.parse().unwrap();
        assert!(
            row[0].is_nan(),
            "marker {:?} read back as {}",
            markers[i],
            row[0]
        );
        assert_eq!(row[1], i as f64 + 0.5, "row {sid}");
    }
}

#[test]
fn rows_of_only_missing_features_are_accepted() {
    let (_dir, store) = temp_store();
    let csv = "id,a,b,c\n1,,NA,null\n2, , , \n3,1,2,3\n";
    let meta = upload_csv(&store, csv.as_bytes(), &options("allmissing")).unwrap();
    assert_eq!(meta.count, 3);
    let id = TableId::new("experiment", "allmissing").unwrap();
    let rows = sorted_rows(&read_all(&store, &id).unwrap());
    assert_eq!(rows[0].0, "1");
    assert!(rows[0].1.iter().all(|v| v.is_nan()), "{rows:?}");
    assert_eq!(rows[1].0, "2");
    assert!(rows[1].1.iter().all(|v| v.is_nan()), "{rows:?}");
    assert_eq!(rows[2], ("3".to_string(), vec![1.0, 2.0, 3.0]));

    // Missing cells download as `NaN`, which uploads again as missing.
    let mut out = Vec::new();
    download_csv(&store, &id, &mut out, None).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().any(|l| l == "1,NaN,NaN,NaN"), "{text}");

    // Without a header, and with generated sids, too.
    let mut opts = options("nohead_missing");
    opts.head = false;
    opts.extend_sid = true;
    let meta = upload_csv(&store, ",NA\n1,2\n".as_bytes(), &opts).unwrap();
    assert_eq!(meta.count, 2);
    let id = TableId::new("experiment", "nohead_missing").unwrap();
    let rows = sorted_rows(&read_all(&store, &id).unwrap());
    assert_eq!(rows[0].0, "0");
    assert!(rows[0].1.iter().all(|v| v.is_nan()), "{rows:?}");
    assert_eq!(rows[1], ("1".to_string(), vec![1.0, 2.0]));
}

#[test]
fn non_numeric_values_that_are_not_markers_still_fail() {
    // Near misses of the markers are not markers: the match is exact.
    for value in [
        "abc", "N/A", "na", "Na", "Null", "NONE", "none", "?", "-", "inff",
    ] {
        let (_dir, store) = temp_store();
        let csv = format!("id,a,b\n1,NA,2\n2,3,{value}\n");
        let err = upload_csv(&store, csv.as_bytes(), &options("bad")).unwrap_err();
        assert!(
            matches!(&err, Error::NotANumber { line: 3, column, value: v } if column == "b" && v == value),
            "{value}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let message = err.to_string();
        for needle in [
            "line 3",
            "column `b`",
            &format!("`{value}`"),
            "not a number",
        ] {
            assert!(message.contains(needle), "`{message}` lacks `{needle}`");
        }
        assert_no_leftovers(store.root(), "experiment", "bad");
    }
}

/// Each malformed input: the error, the line and column its message must name.
#[test]
fn malformed_inputs_fail_with_line_and_column_and_leave_nothing() {
    struct Case {
        csv: &'static [u8],
        id_column: Option<&'static str>,
        expect: fn(&Error) -> bool,
        needles: &'static [&'static str],
    }
    let cases = [
        Case {
            csv: b"id,a,b\n1,1,2\n2,3\n",
            id_column: None,
            expect: |e| {
                matches!(
                    e,
                    Error::RaggedRow {
                        line: 3,
                        expected: 3,
                        found: 2,
                        ..
                    }
                )
            },
            needles: &["line 3", "`b`", "expected 3 fields, found 2"],
        },
        Case {
            csv: b"id,a,b\n1,1,2,9\n",
            id_column: None,
            expect: |e| {
                matches!(
                    e,
                    Error::RaggedRow {
                        line: 2,
                        found: 4,
                        ..
                    }
                )
            },
            needles: &["line 2", "`b`", "found 4"],
        },
        Case {
            csv: b"id,a,b\n1,1,2\n2,abc,3\n",
            id_column: None,
            expect: |e| matches!(e, Error::NotANumber { line: 3, .. }),
            needles: &["line 3", "`a`", "`abc`"],
        },
        Case {
            csv: b"id,a,b\n1,1,\n2,N/A,3\n",
            id_column: None,
            expect: |e| matches!(e, Error::NotANumber { line: 3, .. }),
            needles: &["line 3", "`a`", "`N/A`", "not a number"],
        },
        Case {
            csv: b"id,a\n1,1\n  ,NA\n",
            id_column: None,
            expect: |e| matches!(e, Error::EmptySid { line: 3, .. }),
            needles: &["line 3", "`id`"],
        },
        Case {
            csv: b"id,a\n1,1\n2,2\n\n1,3\n",
            id_column: None,
            expect: |e| {
                matches!(
                    e,
                    Error::DuplicateId {
                        line: 5,
                        first_line: 2,
                        ..
                    }
                )
            },
            needles: &["line 5", "line 2", "`id`", "`1`"],
        },
        Case {
            csv: b"id,a\n1,1\n,2\n",
            id_column: None,
            expect: |e| matches!(e, Error::EmptySid { line: 3, .. }),
            needles: &["line 3", "`id`"],
        },
        Case {
            csv: b"id,a\n1,1\n",
            id_column: Some("uid"),
            expect: |e| matches!(e, Error::MissingIdColumn { line: 1, .. }),
            needles: &["line 1", "`uid`"],
        },
        Case {
            csv: b"",
            id_column: None,
            expect: |e| matches!(e, Error::EmptyInput { .. }),
            needles: &["line 1", "empty", "header"],
        },
        Case {
            csv: b"\n \r\n",
            id_column: None,
            expect: |e| matches!(e, Error::EmptyInput { .. }),
            needles: &["line 1", "header"],
        },
        Case {
            csv: b"id,a,a\n1,1,2\n",
            id_column: None,
            expect: |e| matches!(e, Error::DuplicateColumn { line: 1, .. }),
            needles: &["line 1", "`a`"],
        },
        Case {
            csv: b"id,,b\n1,1,2\n",
            id_column: None,
            expect: |e| matches!(e, Error::EmptyColumnName { line: 1, index: 2 }),
            needles: &["line 1", "column 2"],
        },
        Case {
            csv: b"id,a\n1,1\n2,\xff\n",
            id_column: None,
            expect: |e| matches!(e, Error::InvalidUtf8 { line: 3 }),
            needles: &["line 3"],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let (_dir, store) = temp_store();
        let mut opts = options("bad");
        opts.id_column = case.id_column.map(str::to_owned);
        let err = upload_csv(&store, case.csv, &opts).unwrap_err();
        assert!((case.expect)(&err), "case {i}: unexpected error {err:?}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "case {i}");
        let message = err.to_string();
        for needle in case.needles {
            assert!(
                message.contains(needle),
                "case {i}: `{message}` lacks `{needle}`"
            );
        }
        assert_no_leftovers(store.root(), "experiment", "bad");
    }
}

#[test]
fn error_late_in_a_big_file_leaves_nothing() {
    let (_dir, store) = temp_store();
    let mut text = fs::read_to_string(data_file("breast_hetero_guest.csv")).unwrap();
    text.push_str("9999,1,0.1,0.2,0.3,oops,0.5,0.6,0.7,0.8,0.9,1.0\n");
    let mut opts = options("late");
    opts.batch_rows = Some(16);
    let err = upload_csv(&store, text.as_bytes(), &opts).unwrap_err();
    assert!(matches!(err, Error::NotANumber { line: 571, .. }), "{err}");
    assert!(err.to_string().contains("`x3`"), "{err}");
    assert_no_leftovers(store.root(), "experiment", "late");
}

#[test]
fn existing_table_needs_drop() {
    let (_dir, store) = temp_store();
    let id = TableId::new("experiment", "t").unwrap();
    upload_csv(&store, "id,a\n1,1\n2,2\n".as_bytes(), &options("t")).unwrap();

    let err = upload_csv(&store, "id,a\n3,3\n".as_bytes(), &options("t")).unwrap_err();
    assert!(matches!(err, Error::TableExists { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("already exists"));
    assert_eq!(store.count(&id).unwrap(), 2);

    // A failed upload with drop leaves the old table intact.
    let mut drop = options("t");
    drop.drop = true;
    let err = upload_csv(&store, "id,a\n3,3\n4,x\n".as_bytes(), &drop).unwrap_err();
    assert!(matches!(err, Error::NotANumber { line: 3, .. }), "{err}");
    assert_eq!(store.count(&id).unwrap(), 2);
    assert!(fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .next()
        .is_none());

    // A good upload with drop replaces it.
    let meta = upload_csv(&store, "id,b,c\n3,3,4\n".as_bytes(), &drop).unwrap();
    assert_eq!(meta.count, 1);
    assert_eq!(store.count(&id).unwrap(), 1);
    assert_eq!(store.info(&id).unwrap().schema.header, ["b", "c"]);
    assert!(fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .next()
        .is_none());

    // drop on a table that does not exist just creates it.
    let mut fresh = options("fresh");
    fresh.drop = true;
    assert_eq!(
        upload_csv(&store, "id\n1\n".as_bytes(), &fresh)
            .unwrap()
            .count,
        1
    );
}

#[test]
fn delete_and_exists() {
    let (_dir, store) = temp_store();
    let id = TableId::new("experiment", "t").unwrap();
    assert!(!store.exists(&id).unwrap());
    assert!(!store.delete(&id).unwrap());
    upload_csv(&store, "id,a\n1,1\n".as_bytes(), &options("t")).unwrap();
    assert!(store.exists(&id).unwrap());
    assert!(store.delete(&id).unwrap());
    assert!(!store.exists(&id).unwrap());
    assert_no_leftovers(store.root(), "experiment", "t");
    let err = store.count(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(matches!(
        read_all(&store, &id),
        Err(Error::TableNotFound { .. })
    ));
}

#[test]
fn bad_names_and_options_are_refused() {
    let (_dir, store) = temp_store();
    for (ns, name) in [
        ("../escape", "t"),
        ("experiment", ".."),
        ("experiment", "../../etc"),
        ("experiment", "a/b"),
        ("/abs", "t"),
        ("", "t"),
        ("experiment", ""),
    ] {
        let err =
            upload_csv(&store, "id\n1\n".as_bytes(), &UploadOptions::new(ns, name)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { .. }),
            "{ns}/{name}: {err}"
        );
        assert!(TableId::new(ns, name).is_err());
    }
    let entries: Vec<_> = fs::read_dir(store.root().join("tables")).unwrap().collect();
    assert!(entries.is_empty());
    assert!(!store.root().parent().unwrap().join("escape").exists());

    for partitions in [0, 1024] {
        let mut opts = options("t");
        opts.partitions = partitions;
        let err = upload_csv(&store, "id\n1\n".as_bytes(), &opts).unwrap_err();
        assert!(matches!(err, Error::InvalidPartitions(p) if p == partitions));
    }
    let mut opts = options("t");
    opts.id_delimiter = String::new();
    assert!(matches!(
        upload_csv(&store, "id\n1\n".as_bytes(), &opts),
        Err(Error::InvalidOption {
            option: "id_delimiter",
            ..
        })
    ));
    let mut opts = options("t");
    opts.head = false;
    opts.id_column = Some("id".into());
    assert!(matches!(
        upload_csv(&store, "1\n".as_bytes(), &opts),
        Err(Error::InvalidOption {
            option: "id_column",
            ..
        })
    ));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let (_dir, store) = temp_store();
    std::os::unix::fs::symlink(outside.path(), store.root().join("tables/evil")).unwrap();
    let id = TableId::new("evil", "t").unwrap();
    let err = upload_csv(
        &store,
        "id\n1\n".as_bytes(),
        &UploadOptions::new("evil", "t"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err}");
    assert!(fs::read_dir(outside.path()).unwrap().next().is_none());

    fs::create_dir(outside.path().join("t")).unwrap();
    assert!(matches!(store.exists(&id), Err(Error::OutsideRoot { .. })));
    assert!(matches!(store.delete(&id), Err(Error::OutsideRoot { .. })));
    assert!(outside.path().join("t").exists());
}

#[test]
fn sweep_removes_stale_temp_entries() {
    let (_dir, store) = temp_store();
    fs::create_dir(store.root().join("tmp/stage-crashed")).unwrap();
    fs::write(
        store.root().join("tmp/stage-crashed/part-00000.parquet"),
        b"x",
    )
    .unwrap();
    assert_eq!(
        store
            .sweep_tmp(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert_eq!(store.sweep_tmp(std::time::Duration::ZERO).unwrap(), 1);
    assert!(fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn store_reopens_on_the_same_root() {
    let (dir, store) = temp_store();
    upload_csv(&store, "id,a\n1,1\n".as_bytes(), &options("t")).unwrap();
    let again = LocalTableStore::open(dir.path()).unwrap();
    assert_eq!(
        again
            .count(&TableId::new("experiment", "t").unwrap())
            .unwrap(),
        1
    );
}

#[test]
fn sweep_keeps_a_staging_dir_being_written_and_removes_stale_empty_ones() {
    let (_dir, store) = temp_store();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    let age = |p: &std::path::Path| {
        fs::File::open(p).unwrap().set_modified(old).unwrap();
    };
    // An empty staging dir nobody touched for two hours.
    let empty = store.root().join("tmp/stage-empty");
    fs::create_dir(&empty).unwrap();
    age(&empty);
    // An old staging dir whose file is still being written.
    let busy = store.root().join("tmp/stage-busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("part-00000.parquet"), b"x").unwrap();
    age(&busy);
    let n = store
        .sweep_tmp(std::time::Duration::from_secs(3600))
        .unwrap();
    assert_eq!(n, 1);
    assert!(!empty.exists() && busy.exists());
}

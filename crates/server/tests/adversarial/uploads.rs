//! Uploads under pressure: many at once must never swap data; a cut-off upload leaves
//! no file and no table.

use crate::common::Server;
use fateflow_tables::{LocalTableStore, TableId};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A CSV whose every row carries `mark` (ids are unique per upload too).
fn csv(dir: &Path, mark: usize, rows: usize) -> std::path::PathBuf {
    let path = dir.join(format!("u{mark}.csv"));
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "id,x0,x1").unwrap();
    for r in 0..rows {
        writeln!(f, "{mark}_{r},{mark},{}", mark * 1000 + r).unwrap();
    }
    path
}

fn tmp_files(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("tmp"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("upload"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_hundred_concurrent_uploads_each_keep_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let server = Server::start(&data, &[], &[]);
    let files: Vec<_> = (0..200).map(|i| csv(dir.path(), i, 40 + i % 7)).collect();
    let server = &server;
    let replies: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                s.spawn(move || {
                    server.upload_with(
                        f,
                        json!({"namespace": "conc", "table_name": format!("t{i}"), "partition": 2}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let store = LocalTableStore::open(&data).unwrap();
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r["retcode"], 0, "upload {i}: {r}");
        let rows = 40 + i % 7;
        assert_eq!(r["data"]["count"], rows, "upload {i}: {r}");
        let frame =
            fateflow_tables::read_all(&store, &TableId::new("conc", format!("t{i}")).unwrap())
                .unwrap();
        assert_eq!(frame.nrows(), rows, "table t{i}");
        let x0 = frame.column_index("x0").unwrap();
        for (r, sid) in frame.sids().iter().enumerate() {
            assert!(sid.starts_with(&format!("{i}_")), "t{i} holds row {sid}");
            assert_eq!(frame.get(r, x0), i as f64, "t{i} row {sid}");
        }
    }
    assert_eq!(tmp_files(&data), Vec::<String>::new(), "temp files left");
}

#[test]
fn a_cut_off_upload_leaves_no_temp_file_and_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let server = Server::start(&data, &[], &[]);
    let addr = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches("/v1");
    // Announce a large body, send part of the file, and hang up.
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let boundary = "cutoff";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nid,x0\n"
    );
    let query = "%7B%22namespace%22%3A%22cut%22%2C%22table_name%22%3A%22t%22%2C%22head%22%3A1%2C%22partition%22%3A1%7D";
    write!(
        conn,
        "POST /v1/data/upload?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 10000000\r\n\r\n{head}"
    )
    .unwrap();
    for i in 0..2000 {
        writeln!(conn, "{i},1.5").unwrap();
    }
    conn.flush().unwrap();
    // The temp file exists while the body streams in.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tmp_files(&data).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tmp_files(&data).len(), 1, "the upload is being received");
    drop(conn);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !tmp_files(&data).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tmp_files(&data), Vec::<String>::new(), "temp file left");
    let info = server.post("table/info", json!({"namespace": "cut", "table_name": "t"}));
    assert_ne!(info["data"]["count"], json!(2000), "{info}");
    assert!(
        !data.join("tables/cut/t").exists(),
        "a cut-off upload made a table"
    );
    // The table can be uploaded afterwards (no claim left behind).
    let f = csv(dir.path(), 7, 10);
    let r = server.upload_with(&f, json!({"namespace": "cut", "table_name": "t"}));
    assert_eq!(r["retcode"], 0, "{r}");
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fateflow_tables::{Frame, LocalTableStore};

/// Path of a shipped example data set.
pub(crate) fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub(crate) fn temp_store() -> (tempfile::TempDir, LocalTableStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalTableStore::open(dir.path()).expect("open store");
    (dir, store)
}

/// A parsed CSV: header (sid name first) and rows keyed by sid.
pub(crate) struct Parsed {
    pub(crate) header: Vec<String>,
    pub(crate) rows: HashMap<String, Vec<f64>>,
    pub(crate) order: Vec<String>,
}

/// An independent, deliberately naive CSV parser: header line, first column is the sid,
/// everything else parsed with `str::parse::<f64>`.
pub(crate) fn parse_csv(text: &str, delimiter: &str) -> Parsed {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(delimiter)
        .map(str::to_owned)
        .collect();
    let mut rows = HashMap::new();
    let mut order = Vec::new();
    for line in lines {
        let mut fields = line.split(delimiter);
        let sid = fields.next().expect("sid").to_owned();
        let values = fields.map(|f| f.parse::<f64>().expect("number")).collect();
        assert!(
            rows.insert(sid.clone(), values).is_none(),
            "duplicate {sid}"
        );
        order.push(sid);
    }
    Parsed {
        header,
        rows,
        order,
    }
}

/// Asserts that `frame` holds exactly the rows of `parsed` (in any order), bit for bit
/// (any NaN equals any NaN).
pub(crate) fn assert_frame_eq(frame: &Frame, parsed: &Parsed) {
    assert_eq!(frame.sid_name(), parsed.header[0]);
    assert_eq!(frame.columns(), &parsed.header[1..]);
    assert_eq!(frame.nrows(), parsed.rows.len());
    for (i, sid) in frame.sids().iter().enumerate() {
        let expected = parsed
            .rows
            .get(sid)
            .unwrap_or_else(|| panic!("unexpected sid {sid}"));
        let got = frame.row(i);
        assert_eq!(got.len(), expected.len(), "row {sid}");
        for (g, e) in got.iter().zip(expected) {
            assert!(
                g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                "row {sid}: {g} != {e}"
            );
        }
    }
}

/// Asserts that a table's directory is absent and that no temporary files remain.
pub(crate) fn assert_no_leftovers(root: &Path, namespace: &str, name: &str) {
    let table = root.join("tables").join(namespace).join(name);
    assert!(!table.exists(), "table dir {} exists", table.display());
    let tmp: Vec<_> = std::fs::read_dir(root.join("tmp"))
        .expect("tmp dir")
        .collect();
    assert!(tmp.is_empty(), "tmp not empty: {tmp:?}");
}

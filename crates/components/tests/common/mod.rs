//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fateflow_components::testing::{context, RecordingTracker};
use fateflow_components::{registry, ModelInput, Result, TableRef, TaskContext};
use fateflow_tables::{read_all, upload_csv, Frame, LocalTableStore, TableId, UploadOptions};
use serde_json::Value;

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

/// Uploads CSV text as `experiment.<name>`.
pub(crate) fn upload(store: &LocalTableStore, name: &str, csv: &str) -> TableRef {
    upload_csv(
        store,
        csv.as_bytes(),
        &UploadOptions::new("experiment", name),
    )
    .expect("upload");
    TableRef::new("experiment", name)
}

/// Uploads an example data file as `experiment.<file stem>`.
pub(crate) fn upload_example(store: &LocalTableStore, file: &str) -> TableRef {
    let text = std::fs::read_to_string(data_file(file)).expect("read example");
    upload(store, file.trim_end_matches(".csv"), &text)
}

/// A task context for `component` running `module`.
pub(crate) fn ctx<'a>(
    store: &'a LocalTableStore,
    tracker: &'a RecordingTracker,
    component: &str,
    module: &str,
    params: Value,
) -> TaskContext<'a> {
    context(component, module, params, store, tracker)
}

/// Runs `module` through the registry.
pub(crate) fn run(ctx: &TaskContext<'_>) -> Result<()> {
    registry()
        .get(&ctx.module)
        .unwrap_or_else(|| panic!("{} is not registered", ctx.module))
        .run(ctx)
}

/// Runs a Reader on `table` and returns its output table.
pub(crate) fn read(store: &LocalTableStore, table: &TableRef) -> TableRef {
    let tracker = RecordingTracker::new();
    let params = serde_json::json!({"table": {"name": table.name, "namespace": table.namespace}});
    let c = ctx(store, &tracker, "reader_0", "Reader", params);
    run(&c).expect("reader");
    tracker.output_data().pop().expect("reader output").1
}

/// Runs DataTransform as `component` on `input` (with `model` for predict mode) and
/// returns the tracker.
pub(crate) fn transform(
    store: &LocalTableStore,
    component: &str,
    input: &TableRef,
    params: Value,
    model: Option<ModelInput>,
) -> (RecordingTracker, Result<()>) {
    let tracker = RecordingTracker::new();
    let result = {
        let mut c = ctx(store, &tracker, component, "DataTransform", params);
        c.inputs.data.insert("data".into(), vec![input.clone()]);
        c.inputs.model.extend(model);
        run(&c)
    };
    (tracker, result)
}

/// Reads a whole table.
pub(crate) fn frame(store: &LocalTableStore, table: &TableRef) -> Frame {
    let id = TableId::new(&table.namespace, &table.name).expect("table id");
    read_all(store, &id).expect("read table")
}

/// Rows by sid.
pub(crate) fn rows(frame: &Frame) -> BTreeMap<String, Vec<f64>> {
    frame
        .sids()
        .iter()
        .cloned()
        .zip(frame.rows().map(<[f64]>::to_vec))
        .collect()
}

/// Rows by sid with values as bit patterns, for exact comparisons (NaN included).
pub(crate) fn bits(frame: &Frame) -> BTreeMap<String, Vec<u64>> {
    rows(frame)
        .into_iter()
        .map(|(sid, row)| (sid, row.into_iter().map(f64::to_bits).collect()))
        .collect()
}

/// A naive CSV parser for expectations: header (sid name first) and rows by sid.
pub(crate) fn parse_csv(text: &str) -> (Vec<String>, BTreeMap<String, Vec<f64>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|line| {
            let mut fields = line.split(',');
            let sid = fields.next().expect("sid").to_owned();
            let values = fields.map(|f| f.parse::<f64>().expect("number")).collect();
            (sid, values)
        })
        .collect();
    (header, rows)
}

/// `x0`, `x1`, ... `x<n-1>`.
pub(crate) fn xs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("x{i}")).collect()
}

//! Test helpers for every component family: the core's, plus running a `Reader` or a
//! `DataTransform`, which most pipelines start with.

use fateflow_tables::LocalTableStore;
use serde_json::Value;

pub use fateflow_component_core::testing::*;

use crate::context::{Component, ModelInput, TableRef};
use crate::error::Result;
use crate::{DataTransform, Reader};

/// Runs a Reader on `table` and returns its output table.
pub fn read(store: &LocalTableStore, table: &TableRef) -> TableRef {
    let tracker = RecordingTracker::new();
    let params = serde_json::json!({"table": {"name": table.name, "namespace": table.namespace}});
    let c = ctx(store, &tracker, "reader_0", "Reader", params);
    Reader.run(&c).expect("reader");
    tracker.output_data().pop().expect("reader output").1
}

/// Runs DataTransform as `component` on `input` (with `model` for predict mode) and
/// returns the tracker.
pub fn transform(
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
        DataTransform.run(&c)
    };
    (tracker, result)
}

//! Rows as FATE's "raw dicts" (`f_` prefixed) and "human dicts" (no prefix).

use fateflow_storage::{JobRecord, TaskRecord};
use serde_json::{Map, Value};

fn to_map<T: serde::Serialize>(row: &T) -> Map<String, Value> {
    match serde_json::to_value(row) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// FATE stores party ids in character columns: show them as strings.
fn stringify_party_ids(m: &mut Map<String, Value>) {
    for key in ["party_id", "initiator_party_id"] {
        if let Some(v) = m.get_mut(key) {
            if let Value::Number(n) = v {
                *v = Value::String(n.to_string());
            }
        }
    }
}

fn with_prefix(m: Map<String, Value>) -> Value {
    Value::Object(m.into_iter().map(|(k, v)| (format!("f_{k}"), v)).collect())
}

/// A job row as FATE's human dict, plus `job_type` (`train` or `predict`, from the
/// runtime conf) for the job list.
pub(crate) fn job_human(j: &JobRecord) -> Map<String, Value> {
    let mut m = to_map(j);
    stringify_party_ids(&mut m);
    let job_type = match fateflow_domain::predict::job_type_of(&j.runtime_conf) {
        fateflow_domain::JobType::Predict => "predict",
        fateflow_domain::JobType::Train => "train",
    };
    m.insert("job_type".into(), Value::from(job_type));
    m
}

/// A job row as FATE's raw dict.
pub(crate) fn job_raw(j: &JobRecord) -> Value {
    with_prefix(job_human(j))
}

/// A task row as FATE's human dict.
pub(crate) fn task_human(t: &TaskRecord) -> Map<String, Value> {
    let mut m = to_map(t);
    stringify_party_ids(&mut m);
    m
}

/// A task row as FATE's raw dict.
pub(crate) fn task_raw(t: &TaskRecord) -> Value {
    with_prefix(task_human(t))
}

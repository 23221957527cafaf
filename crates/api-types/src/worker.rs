//! What a task process posts to its own site: status reports and heartbeats to
//! `/v1/party/<task>/report`, tracking to `/v1/tracker/<task>/<call>`.

use crate::lenient;
use fateflow_domain::{ErrorKind, Status};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `report`: the task's party status and fields, or a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// The task's new party status, if it changed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_status"
    )]
    pub party_status: Option<Status>,
    /// The task process's pid, with its first report.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub run_pid: Option<i64>,
    /// Why it failed: the component's error chain.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub error_report: Option<String>,
    /// The kind of the component's error; an unknown name reads as `internal`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_error_kind"
    )]
    pub error_kind: Option<ErrorKind>,
    /// A heartbeat only.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::bool"
    )]
    pub heartbeat: bool,
}

fn opt_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
    lenient::opt_string(d)?
        .map(|s| s.parse::<Status>().map_err(D::Error::custom))
        .transpose()
}

fn opt_error_kind<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorKind>, D::Error> {
    Ok(lenient::opt_string(d)?.map(|k| ErrorKind::from_name(&k)))
}

/// The tracker calls, by the last part of their route.
pub mod tracker {
    /// [`super::MetricSave`].
    pub const METRIC_DATA_SAVE: &str = "metric_data/save";
    /// [`super::OutputDataInfoSave`].
    pub const OUTPUT_DATA_INFO_SAVE: &str = "output_data_info/save";
    /// [`super::ComponentModelSave`].
    pub const COMPONENT_MODEL_SAVE: &str = "component_model/save";
    /// [`super::SummarySave`].
    pub const SUMMARY_SAVE: &str = "summary/save";
}

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// `metric_data/save`: points of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSave {
    /// The metric's namespace (`train`, `validate`, ...).
    #[serde(default, deserialize_with = "lenient::string")]
    pub metric_namespace: String,
    /// The metric's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub metric_name: String,
    /// `[[key, value], ...]`.
    #[serde(default = "empty_list")]
    pub data: Value,
    /// The metric's meta (its type, curve names, ...).
    #[serde(default = "empty_object")]
    pub meta: Value,
}

/// `output_data_info/save`: an output table of the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDataInfoSave {
    /// The output's name (`data`, `train`, ...).
    #[serde(default = "default_data_name", deserialize_with = "string_or_data")]
    pub data_name: String,
    /// The table's namespace.
    #[serde(default, deserialize_with = "lenient::string")]
    pub table_namespace: String,
    /// The table's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub table_name: String,
}

fn default_data_name() -> String {
    "data".into()
}

fn string_or_data<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient::opt_string(d)?.unwrap_or_else(default_data_name))
}

/// `component_model/save`: the task's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentModelSave {
    /// The model's alias.
    #[serde(default = "default_model_alias", deserialize_with = "string_or_model")]
    pub model_alias: String,
    /// The module that made it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub module: String,
    /// `{"param": ..., "meta": ...}`.
    #[serde(default)]
    pub model: Value,
}

fn default_model_alias() -> String {
    "model".into()
}

fn string_or_model<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient::opt_string(d)?.unwrap_or_else(default_model_alias))
}

/// `summary/save`: the task's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummarySave {
    /// Any JSON.
    #[serde(default)]
    pub summary: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_read_what_task_processes_send() {
        let r: WorkerReport = serde_json::from_value(json!({"heartbeat": true})).unwrap();
        assert_eq!(
            r,
            WorkerReport {
                heartbeat: true,
                ..Default::default()
            }
        );
        let r = WorkerReport {
            party_status: Some(Status::Failed),
            error_report: Some("boom".into()),
            error_kind: Some(ErrorKind::User),
            ..Default::default()
        };
        let text = serde_json::to_value(&r).unwrap();
        assert_eq!(
            text,
            json!({"party_status": "failed", "error_report": "boom", "error_kind": "user"})
        );
        assert_eq!(serde_json::from_value::<WorkerReport>(text).unwrap(), r);
        let bad = crate::lenient::from_value::<WorkerReport>(json!({"party_status": "done"}));
        assert!(bad.unwrap_err().to_string().starts_with("party_status: "));
    }

    #[test]
    fn tracker_bodies_default_like_the_site() {
        let m: MetricSave = serde_json::from_value(json!({"metric_name": "loss"})).unwrap();
        assert_eq!((m.data, m.meta), (json!([]), json!({})));
        let o: OutputDataInfoSave =
            serde_json::from_value(json!({"table_namespace": "ns", "table_name": "t"})).unwrap();
        assert_eq!(o.data_name, "data");
        let c: ComponentModelSave = serde_json::from_value(json!({"module": "HeteroLR"})).unwrap();
        assert_eq!((c.model_alias.as_str(), c.model), ("model", Value::Null));
    }
}

//! Request bodies of the `/v1` client routes.
//!
//! Each type is written field for field (and in the same order) as FATE's Python
//! `flow` sends it, so our CLI sends the same bytes, and read by the server with
//! FATE's leniency ([`crate::lenient`]): numbers given as strings and strings given
//! as numbers are accepted, an empty string counts as absent, unknown fields are
//! ignored. Party ids are strings because FATE's client takes `-p` as a string option.
//! Checking values (a role, a status) is the server's job, so its messages stay FATE's.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /job/submit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSubmit {
    /// The DSL document (`dsl` accepted too); a predict job may leave it out.
    #[serde(default, alias = "dsl")]
    pub job_dsl: Value,
    /// The runtime conf (`runtime_conf` accepted too), with `conf_path`/`dsl_path`
    /// appended like FATE's client does.
    #[serde(default, alias = "runtime_conf")]
    pub job_runtime_conf: Value,
}

/// The job, role and party a filter names, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParty {
    /// Job id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub job_id: Option<String>,
    /// Role.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub role: Option<String>,
    /// Party id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub party_id: Option<String>,
}

/// Filters for `POST /job/query` (and the job list and config routes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Which job, at which party.
    #[serde(flatten)]
    pub party: JobParty,
    /// Job statuses: one is sent as a string, several as a list.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::one_or_many",
        serialize_with = "lenient::one_or_many_out"
    )]
    pub status: Vec<String>,
    /// Only the initiator's copy (`true`) or only the others.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub is_initiator: Option<bool>,
}

/// `POST /job/list/job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobList {
    /// Maximum number of jobs (0 = all).
    pub limit: i64,
}

/// A body carrying only a job id (`/tracking/component/list`, `/job/log/path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobId {
    /// Job id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_id: String,
}

/// `POST /job/stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStop {
    /// Job id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_id: String,
    /// `canceled` (the default), `failed` or `timeout`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub stop_status: Option<String>,
}

/// `POST /job/rerun`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRerun {
    /// Job id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_id: String,
    /// Rerun even successful components.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub force: bool,
    /// Rerun from this component.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub component_name: Option<String>,
}

/// `POST /job/log/download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLog {
    /// Job id.
    pub job_id: String,
    /// The output directory given on the command line (FATE's client leaks it too).
    pub output_path: String,
}

/// Filters for `POST /job/task/query` (and the task list route).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFilter {
    /// Which job, at which party.
    #[serde(flatten)]
    pub party: JobParty,
    /// Component name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub component_name: Option<String>,
    /// Task statuses: one is sent as a string, several as a list.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::one_or_many",
        serialize_with = "lenient::one_or_many_out"
    )]
    pub status: Vec<String>,
    /// Task id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub task_id: Option<String>,
    /// Task version.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub task_version: Option<i64>,
    /// Party statuses, like `status`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::one_or_many",
        serialize_with = "lenient::one_or_many_out"
    )]
    pub party_status: Vec<String>,
}

/// `POST /job/list/task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskList {
    /// Maximum number of tasks (0 = all).
    pub limit: i64,
    /// Only tasks of this job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// A table reference (`/table/table_info`, `/table/delete`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRef {
    /// Table name (`name` accepted too).
    #[serde(default, alias = "name", deserialize_with = "lenient::string")]
    pub table_name: String,
    /// Namespace.
    #[serde(default, deserialize_with = "lenient::string")]
    pub namespace: String,
}

/// One component of one job at one party (the `/tracking/component/*` routes). The
/// server takes any party of the job when `role` or `party_id` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRef {
    /// Job id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_id: String,
    /// Role.
    #[serde(default, deserialize_with = "lenient::string")]
    pub role: String,
    /// Party id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub party_id: String,
    /// Component name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub component_name: String,
}

/// `/tracking/component/metric_data`: one metric of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRef {
    /// The component.
    #[serde(flatten)]
    pub component: ComponentRef,
    /// The metric's namespace.
    #[serde(default, deserialize_with = "lenient::string")]
    pub metric_namespace: String,
    /// The metric's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub metric_name: String,
}

/// `GET /tracking/component/output/data/download` (with a JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputDataDownload {
    /// The component.
    #[serde(flatten)]
    pub component: ComponentRef,
    /// Output directory given on the command line.
    pub output_path: String,
    /// Number of rows, -1 for all.
    pub limit: i64,
}

/// The conf of `/data/upload`: query parameters, the query string as one JSON
/// document (what fate-client sends), or a JSON body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadParams {
    /// A file on the server (under its `--file-root`) instead of a multipart part.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub file: Option<String>,
    /// The table's namespace.
    #[serde(default, deserialize_with = "lenient::string")]
    pub namespace: String,
    /// The table's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub table_name: String,
    /// 1 when the first line is a header, 0 when not.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub head: Option<i64>,
    /// Partitions of the stored table.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub partition: Option<i64>,
    /// Above 0: replace an existing table.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub drop: Option<i64>,
    /// Add a sample id column.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub extend_sid: bool,
    /// The id column's delimiter.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id_delimiter: Option<String>,
    /// The id column.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id_column: Option<String>,
    /// The id column, FATE's older name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id_name: Option<String>,
    /// The uploading party.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub party_id: Option<i64>,
}

/// Paging of the list routes (`/job/list/job`, `/job/list/task`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    /// Rows per page; 0 or absent for all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub limit: Option<i64>,
    /// The page, from 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub page: Option<i64>,
    /// The column to sort by.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub order_by: Option<String>,
    /// `asc`, else descending.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub order: Option<String>,
}

/// `POST /version/get`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VersionGet {
    /// Module name (server default: `FATE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// An empty JSON object, for endpoints without parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lenient::from_value;
    use serde_json::json;

    #[test]
    fn server_reads_what_fate_clients_send() {
        let f: JobFilter =
            from_value(json!({"job_id": 202601010000000000000_u128.to_string(), "party_id": 9999, "status": ["running", "waiting"], "x": 1}))
                .unwrap();
        assert_eq!(f.party.party_id.as_deref(), Some("9999"));
        assert_eq!(f.status, ["running", "waiting"]);
        let r: JobRerun = from_value(json!({"job_id": "j", "force": "true"})).unwrap();
        assert!(r.force);
        let t: TableRef = from_value(json!({"name": "t", "namespace": "ns"})).unwrap();
        assert_eq!(t.table_name, "t");
        let u: UploadParams =
            from_value(json!({"namespace": "ns", "table_name": "t", "head": "1", "partition": 4, "drop": true}))
                .unwrap();
        assert_eq!((u.head, u.partition, u.drop), (Some(1), Some(4), Some(1)));
        let err = from_value::<UploadParams>(json!({"partition": "four"})).unwrap_err();
        assert_eq!(err.field, "partition");
        let s: JobSubmit = from_value(json!({"dsl": {"components": {}}})).unwrap();
        assert_eq!(s.job_runtime_conf, Value::Null);
        let m: MetricRef =
            from_value(json!({"job_id": "j", "component_name": "c", "metric_namespace": "train", "metric_name": "loss"}))
                .unwrap();
        assert_eq!(
            (m.component.role.as_str(), m.metric_name.as_str()),
            ("", "loss")
        );
    }

    #[test]
    fn one_status_is_sent_as_a_string() {
        let f = JobFilter {
            status: vec!["running".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"status":"running"}"#
        );
    }
}

/// `POST /permission/grant`, `/permission/delete` and `/permission/query` (`flow
/// privilege grant -c`, `delete -c`, `query -p`): what one source party may use here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PermissionChange {
    /// The partner party the grant is for (a number or a string of digits).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub party_id: Option<String>,
    /// Component modules, comma-separated, or `*` for every module.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub component: Option<String>,
    /// Tables: a list of `{namespace, name}`, one such object, or `*` for every table.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub dataset: Value,
}

/// `POST /audit/query`: the site's audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// One job.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub job_id: Option<String>,
    /// One partner party.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub party_id: Option<String>,
    /// One command (`create`, `task/start`, `permission/grant`, ...).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub command: Option<String>,
    /// Only refusals.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub refused: Option<bool>,
    /// Page size (default 100, at most 1000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub limit: Option<i64>,
    /// Entries to skip.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_int"
    )]
    pub offset: Option<i64>,
}

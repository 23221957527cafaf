//! Request bodies, field for field (and in the same order) as FATE's Python `flow`
//! sends them.
//!
//! Party ids are strings because FATE's client takes `-p` as a string option.
//! These types belong in a shared `api-types` crate once one exists.

use serde::Serialize;
use serde_json::Value;

/// `POST /job/submit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSubmit {
    /// The DSL document.
    pub job_dsl: Value,
    /// The runtime conf, with `conf_path`/`dsl_path` appended like FATE's client does.
    pub job_runtime_conf: Value,
}

/// Filters for `POST /job/query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobFilter {
    /// Job id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Party id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    /// Job status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `POST /job/list/job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobList {
    /// Maximum number of jobs (0 = all).
    pub limit: i64,
}

/// A body carrying only a job id (`/job/stop`, `/tracking/component/list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobId {
    /// Job id.
    pub job_id: String,
}

/// `POST /job/rerun`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRerun {
    /// Job id.
    pub job_id: String,
    /// Rerun even successful components.
    pub force: bool,
    /// Rerun from this component.
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// Filters for `POST /job/task/query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskFilter {
    /// Job id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Party id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    /// Component name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_name: Option<String>,
    /// Task status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRef {
    /// Table name.
    pub table_name: String,
    /// Namespace.
    pub namespace: String,
}

/// One component of one job at one party (the `/tracking/component/*` endpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentRef {
    /// Job id.
    pub job_id: String,
    /// Role.
    pub role: String,
    /// Party id.
    pub party_id: String,
    /// Component name.
    pub component_name: String,
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
    use crate::pyjson::to_string;

    #[test]
    fn bodies_match_fate_client_shapes() {
        let q = JobFilter {
            job_id: Some("202601010000000000000".into()),
            role: Some("guest".into()),
            party_id: Some("9999".into()),
            status: None,
        };
        // Captured from fate-client 1.11.3 (see spec/fate-client-1x-wire.md).
        assert_eq!(
            to_string(&q).unwrap(),
            r#"{"job_id": "202601010000000000000", "role": "guest", "party_id": "9999"}"#
        );
        let rerun = JobRerun {
            job_id: "j".into(),
            force: false,
            component_name: None,
        };
        assert_eq!(
            to_string(&rerun).unwrap(),
            r#"{"job_id": "j", "force": false}"#
        );
        let out = OutputDataDownload {
            component: ComponentRef {
                job_id: "j".into(),
                role: "guest".into(),
                party_id: "9999".into(),
                component_name: "reader_0".into(),
            },
            output_path: "out".into(),
            limit: -1,
        };
        assert_eq!(
            to_string(&out).unwrap(),
            r#"{"job_id": "j", "role": "guest", "party_id": "9999", "component_name": "reader_0", "output_path": "out", "limit": -1}"#
        );
        assert_eq!(to_string(&Empty {}).unwrap(), "{}");
    }
}

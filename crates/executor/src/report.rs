//! The task process's HTTP client to its own site: status reports, heartbeats and
//! tracking (metrics, output data, models, summary).

use crate::Error;
use fateflow_api_types::worker::WorkerReport;
use fateflow_api_types::{Envelope, TaskSpec};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Posts JSON to the site's worker routes for one task.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    client: reqwest::blocking::Client,
    party_base: String,
    tracker_base: String,
    token: String,
}

impl Reporter {
    pub(crate) fn new(spec: &TaskSpec) -> Result<Self, Error> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Site {
                url: spec.server.clone(),
                reason: format!("http client: {e}"),
                refused: false,
            })?;
        let path = format!(
            "{}/{}/{}/{}/{}/{}",
            spec.job_id, spec.component, spec.task_id, spec.task_version, spec.role, spec.party_id
        );
        Ok(Self {
            client,
            party_base: format!("{}/v1/party/{path}", spec.server),
            tracker_base: format!("{}/v1/tracker/{path}", spec.server),
            token: spec.token.secret().to_string(),
        })
    }

    fn post(&self, url: &str, body: &impl Serialize) -> Result<Value, Error> {
        let fail = |refused: bool, reason: String| Error::Site {
            url: url.to_string(),
            reason,
            refused,
        };
        let resp = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header(fateflow_federation::TASK_TOKEN_HEADER, &self.token)
            .body(serde_json::to_string(body).map_err(|e| fail(false, e.to_string()))?)
            .send()
            .map_err(|e| fail(false, e.to_string()))?;
        let status = resp.status();
        let refused = matches!(status.as_u16(), 401 | 403);
        let text = resp.text().map_err(|e| fail(refused, e.to_string()))?;
        let reply: Envelope = serde_json::from_str(&text)
            .map_err(|_| fail(refused, format!("HTTP {status}: {text}")))?;
        if reply.is_success() {
            Ok(reply.data.unwrap_or(Value::Null))
        } else if reply.retmsg.is_empty() {
            Err(fail(refused, text))
        } else {
            Err(fail(refused, reply.retmsg))
        }
    }

    /// A heartbeat; a failure says whether the site refused the task's token (the
    /// task was stopped or ended elsewhere, or the site restarted).
    pub(crate) fn heartbeat(&self) -> Result<(), Error> {
        self.post(
            &format!("{}/report", self.party_base),
            &WorkerReport {
                heartbeat: true,
                ..Default::default()
            },
        )
        .map(|_| ())
    }

    /// `report`: party status and task fields.
    pub(crate) fn report(&self, body: &WorkerReport) -> Result<Value, Error> {
        self.post(&format!("{}/report", self.party_base), body)
    }

    /// A tracker call: `metric_data/save`, `output_data_info/save`, ...
    pub(crate) fn tracker(&self, what: &str, body: &impl Serialize) -> Result<Value, Error> {
        self.post(&format!("{}/{what}", self.tracker_base), body)
    }
}

//! Online inference: FATE-Serving's request and response JSON (what a client sends to
//! the guest site) and the guest's request for a host's partial scores (what crosses
//! the gateway).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// FATE-Serving's return codes this server answers with (`StatusCode.java`). A host's
/// code reaches the client prefixed with `2` (host 104 → 2104).
pub mod code {
    /// Success.
    pub const OK: i32 = 0;
    /// The request does not parse.
    pub const PARAM_ERROR: i32 = 100;
    /// The features could not be read (adapter).
    pub const FEATURE_ERROR: i32 = 102;
    /// No model: the service id is not bound, or the host has not loaded the model.
    pub const MODEL_NOT_FOUND: i32 = 104;
    /// A host could not be reached, or did not answer in time.
    pub const NETWORK_ERROR: i32 = 105;
    /// Guest and host results could not be combined.
    pub const MERGE_ERROR: i32 = 108;
    /// Anything else.
    pub const SYSTEM_ERROR: i32 = 110;
    /// The host has no features for the id sent.
    pub const HOST_FEATURE_NOT_EXIST: i32 = 113;
    /// A request field is missing or wrong (batch over the limit, duplicate index).
    pub const REQUEST_PARAM_ERROR: i32 = 120;
    /// A model that cannot be served (a component without an online implementation).
    pub const MODEL_INIT_ERROR: i32 = 123;

    /// A host's code as the guest reports it.
    pub fn from_host(code: i32) -> i32 {
        format!("2{code}").parse().unwrap_or(2000 + code)
    }
}

/// `head` of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// The service id bound at the guest.
    #[serde(rename = "serviceId", default)]
    pub service_id: String,
}

/// One row to score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The batch's key of this row (ignored for single requests).
    #[serde(default)]
    pub index: i64,
    /// The guest's features by name.
    #[serde(rename = "featureData", default)]
    pub feature_data: Option<Map<String, Value>>,
    /// What the hosts look their features up by (usually `{"id": ...}`).
    #[serde(rename = "sendToRemoteFeatureData", default)]
    pub send_to_remote: Option<Map<String, Value>>,
}

/// `POST /federation/v1/inference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InferenceRequest {
    /// Which service.
    #[serde(default)]
    pub head: Head,
    /// The row.
    #[serde(default)]
    pub body: Row,
}

/// `body` of a batch request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchBody {
    /// The rows, each with a unique `index`.
    #[serde(rename = "batchDataList", default)]
    pub batch_data_list: Vec<Row>,
}

/// `POST /federation/v1/batchInference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// Which service.
    #[serde(default)]
    pub head: Head,
    /// The rows.
    #[serde(default)]
    pub body: BatchBody,
}

/// One row of a batch answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowResult {
    /// The row's index.
    pub index: i64,
    /// 0 or FATE-Serving's code.
    pub retcode: i32,
    /// Why, when not 0.
    pub retmsg: String,
    /// `{"score": ...}` when scored.
    pub data: Value,
}

/// The guest's request to a host: partial scores of a loaded model for some rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostScoreRequest {
    /// The model (its id and deployed version).
    pub model_id: String,
    /// The deployed version.
    pub model_version: String,
    /// The host party asked.
    pub host_party_id: u64,
    /// The guest asking.
    pub guest_party_id: u64,
    /// Each row's index and lookup keys.
    pub rows: Vec<HostRow>,
    /// What the model's scorer needs with every row (SecureBoost EINI: the guest's
    /// public key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

/// One row a host scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    /// The row's index.
    pub index: i64,
    /// `sendToRemoteFeatureData`.
    pub keys: Map<String, Value>,
    /// The guest's part for this row, base64 (SecureBoost EINI: its encrypted vector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A host's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostScoreReply {
    /// A code for the whole request (0, or why nothing was scored).
    pub retcode: i32,
    /// Why, when not 0.
    pub retmsg: String,
    /// One result per row, in the request's order.
    pub rows: Vec<HostRowResult>,
}

/// One row's partial score at a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRowResult {
    /// The row's index.
    pub index: i64,
    /// 0 or FATE-Serving's code.
    pub retcode: i32,
    /// Why, when not 0.
    pub retmsg: String,
    /// `w_h · x_h` for a linear model.
    pub score: f64,
    /// Features the host did not have for the row and filled with DataTransform's
    /// value.
    #[serde(default)]
    pub filled: usize,
    /// A tree model's answer, base64 (leaf sets, or EINI sums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

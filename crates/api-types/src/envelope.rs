//! FATE-Flow 1.x's answer to every `/v1` request: `{retcode, retmsg, data, jobId}`.
//!
//! The return codes stay in `fateflow-domain` (its `ErrorKind` maps to them) and are
//! re-exported here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use fateflow_domain::retcode::RetCode;

/// The envelope. `data` and `meta` are left out when absent or null, `jobId` when
/// absent, as FATE does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// 0 on success, else a [`RetCode`] (a client may meet codes it does not know).
    pub retcode: i64,
    /// `success`, or why not.
    #[serde(default)]
    pub retmsg: String,
    /// The answer.
    #[serde(default, skip_serializing_if = "is_absent")]
    pub data: Option<Value>,
    /// The job the request concerned.
    #[serde(rename = "jobId", default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Paging and other side information.
    #[serde(default, skip_serializing_if = "is_absent")]
    pub meta: Option<Value>,
}

fn is_absent(v: &Option<Value>) -> bool {
    v.as_ref().is_none_or(Value::is_null)
}

impl Envelope {
    /// `retcode 0, retmsg "success"` with data.
    pub fn ok(data: Value) -> Self {
        Self {
            retcode: 0,
            retmsg: "success".into(),
            data: Some(data),
            ..Default::default()
        }
    }

    /// A failure with a FATE code.
    pub fn err(code: RetCode, msg: impl Into<String>) -> Self {
        Self {
            retcode: code.code().into(),
            retmsg: msg.into(),
            ..Default::default()
        }
    }

    /// Whether the request succeeded.
    pub fn is_success(&self) -> bool {
        self.retcode == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_and_null_parts_are_left_out_in_fate_order() {
        let mut e = Envelope::ok(Value::Null);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"retcode":0,"retmsg":"success"}"#
        );
        e.data = Some(json!({"a": 1}));
        e.job_id = Some("j".into());
        e.meta = Some(json!({"total": 1}));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"retcode":0,"retmsg":"success","data":{"a":1},"jobId":"j","meta":{"total":1}}"#
        );
        let back: Envelope = serde_json::from_str(r#"{"retcode": 101}"#).unwrap();
        assert_eq!(back.retcode, 101);
        assert_eq!(back.retmsg, "");
    }
}

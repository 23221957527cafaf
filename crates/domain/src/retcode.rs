//! FATE-Flow's return codes (reference §1.4).

use serde::{Deserialize, Serialize};

/// A `retcode` of the `/v1` API envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "i32", try_from = "i32")]
pub enum RetCode {
    /// 0.
    Success,
    /// 10: a status update refused by the transition rules.
    NotEffective,
    /// 100: an unexpected error.
    ExceptionError,
    /// 101: a missing or bad argument, or nothing found.
    ArgumentError,
    /// 102: the job was not found (stop, rerun).
    DataError,
    /// 103: submit or resource application failed.
    OperatingError,
    /// 104: a federated command failed.
    FederatedError,
    /// 105: a connection failed.
    ConnectionError,
    /// 106: still running (dependencies being installed).
    Running,
    /// 107: the remote party is too old.
    IncompatibleFateVer,
    /// 108: a permission check failed.
    PermissionError,
    /// 109: authentication failed.
    AuthenticationError,
    /// 500.
    ServerError,
}

impl RetCode {
    /// The numeric code.
    pub fn code(self) -> i32 {
        match self {
            RetCode::Success => 0,
            RetCode::NotEffective => 10,
            RetCode::ExceptionError => 100,
            RetCode::ArgumentError => 101,
            RetCode::DataError => 102,
            RetCode::OperatingError => 103,
            RetCode::FederatedError => 104,
            RetCode::ConnectionError => 105,
            RetCode::Running => 106,
            RetCode::IncompatibleFateVer => 107,
            RetCode::PermissionError => 108,
            RetCode::AuthenticationError => 109,
            RetCode::ServerError => 500,
        }
    }
}

impl From<RetCode> for i32 {
    fn from(c: RetCode) -> i32 {
        c.code()
    }
}

/// A number that is not one of FATE-Flow's return codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown retcode {0} (expected 0, 10, 100 to 109 or 500)")]
pub struct UnknownRetCode(pub i32);

impl TryFrom<i32> for RetCode {
    type Error = UnknownRetCode;
    fn try_from(v: i32) -> Result<Self, UnknownRetCode> {
        use RetCode::*;
        [
            Success,
            NotEffective,
            ExceptionError,
            ArgumentError,
            DataError,
            OperatingError,
            FederatedError,
            ConnectionError,
            Running,
            IncompatibleFateVer,
            PermissionError,
            AuthenticationError,
            ServerError,
        ]
        .into_iter()
        .find(|c| c.code() == v)
        .ok_or(UnknownRetCode(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for v in [0, 10, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 500] {
            assert_eq!(RetCode::try_from(v).unwrap().code(), v);
        }
        assert_eq!(RetCode::try_from(7), Err(UnknownRetCode(7)));
        assert!(UnknownRetCode(7)
            .to_string()
            .starts_with("unknown retcode 7"));
    }
}

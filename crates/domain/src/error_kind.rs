//! Who has to act on a failure: the classification a task's error carries from the
//! component to the scheduler, and that every crate's error type reports.

use crate::retcode::RetCode;
use serde::{Deserialize, Serialize};

/// The kind of an error. Only [`User`](ErrorKind::User) errors are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The job's parameters, input tables or input models are wrong. Retrying the same
    /// task fails the same way; the user has to fix the job or the data.
    User,
    /// Something outside failed (file system, tracking service, another party, the
    /// network). A retry may succeed.
    External,
    /// A broken invariant or corrupt stored data: a bug or damage, not the user's input.
    Internal,
}

impl ErrorKind {
    /// `user`, `external` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::User => "user",
            ErrorKind::External => "external",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind named by [`as_str`](Self::as_str); anything else is internal.
    pub fn from_name(name: &str) -> Self {
        match name {
            "user" => ErrorKind::User,
            "external" => ErrorKind::External,
            _ => ErrorKind::Internal,
        }
    }

    /// Whether running the same thing again may succeed (everything but user errors).
    pub fn is_retryable(self) -> bool {
        self != ErrorKind::User
    }

    /// The API's return code for an error of this kind when nothing more precise is known.
    pub fn retcode(self) -> RetCode {
        match self {
            ErrorKind::User => RetCode::ArgumentError,
            ErrorKind::External => RetCode::FederatedError,
            ErrorKind::Internal => RetCode::ExceptionError,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_user_errors_are_final() {
        for k in [ErrorKind::User, ErrorKind::External, ErrorKind::Internal] {
            assert_eq!(ErrorKind::from_name(k.as_str()), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ErrorKind::from_name("bogus"), ErrorKind::Internal);
        assert!(!ErrorKind::User.is_retryable());
        assert!(ErrorKind::External.is_retryable() && ErrorKind::Internal.is_retryable());
    }
}

//! What the scheduler's rounds, stops, reruns and checks fail with.

use crate::partner::CommandError;
use fateflow_domain::retcode::RetCode;
use fateflow_domain::ErrorKind;

/// The scheduler's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metadata store failed.
    #[error("metadata store: {0}")]
    Store(#[from] fateflow_storage::Error),
    /// A party refused a command or could not be reached.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// No such job initiated here (stop, rerun).
    #[error("can not found job {0} initiated here")]
    JobNotFound(String),
    /// A request the caller can fix (a component not in the job, a rerun of a running
    /// job, a federation message outside any job here).
    #[error("{0}")]
    Invalid(String),
    /// A party spoke for another party (a remote report of a task not its own).
    #[error("{0}")]
    Refused(String),
    /// Parties failed to do what was asked (stop, save models); each one is named.
    #[error("{0}")]
    Parties(String),
    /// Stored data no longer makes sense (a DSL that no longer parses, bad roles, a
    /// status the rules cannot aggregate): a bug or damage.
    #[error("{0}")]
    Corrupt(String),
    /// The scheduler loop is gone.
    #[error("the scheduler {0}")]
    Stopped(&'static str),
}

impl Error {
    /// Who has to act on it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::JobNotFound(_) | Error::Invalid(_) => ErrorKind::User,
            Error::Command(_) | Error::Parties(_) | Error::Refused(_) => ErrorKind::External,
            Error::Store(_) | Error::Corrupt(_) | Error::Stopped(_) => ErrorKind::Internal,
        }
    }

    /// FATE's return code.
    pub fn retcode(&self) -> RetCode {
        match self {
            Error::Store(_) | Error::Corrupt(_) => RetCode::ExceptionError,
            Error::Command(e) => RetCode::try_from(e.retcode()).unwrap_or(RetCode::FederatedError),
            Error::JobNotFound(_) => RetCode::DataError,
            Error::Invalid(_) => RetCode::ArgumentError,
            Error::Parties(_) => RetCode::FederatedError,
            Error::Refused(_) => RetCode::PermissionError,
            Error::Stopped(_) => RetCode::ServerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retcodes() {
        let e = Error::JobNotFound("j1".into());
        assert_eq!(e.to_string(), "can not found job j1 initiated here");
        assert_eq!(
            (e.kind(), e.retcode()),
            (ErrorKind::User, RetCode::DataError)
        );
        let unreachable = Error::from(CommandError::Unreachable {
            party: fateflow_domain::Party {
                role: fateflow_domain::Role::Host,
                party_id: 10000,
            },
            command: "start_job".into(),
            message: "connection refused".into(),
        });
        assert_eq!(unreachable.kind(), ErrorKind::External);
        assert_eq!(unreachable.retcode(), RetCode::FederatedError);
        assert_eq!(Error::Stopped("stopped").kind(), ErrorKind::Internal);
    }
}

//! What a task process fails with, classified for the scheduler.

use fateflow_domain::retcode::RetCode;
use fateflow_domain::ErrorKind;

/// A task process's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec names a module this build has no implementation of.
    #[error("module {0} has no implementation in this build of fateflow")]
    UnknownModule(String),
    /// The table store under the data dir could not be opened.
    #[error("opening the table store: {0}")]
    Tables(#[source] fateflow_tables::Error),
    /// The federation client could not be built.
    #[error("federation client: {0}")]
    Federation(#[source] fateflow_federation::Error),
    /// The component failed; the message carries its chain of causes.
    #[error("{message}")]
    Component {
        /// The component's classification.
        kind: ErrorKind,
        /// The error and its causes, each once.
        message: String,
    },
    /// A call to the task's own site failed.
    #[error("POST {url}: {reason}")]
    Site {
        /// The route called.
        url: String,
        /// What went wrong (transport error, HTTP status, the site's `retmsg`).
        reason: String,
        /// The site refused the task's token (stopped, ended elsewhere, restarted).
        refused: bool,
    },
}

impl Error {
    /// Who has to act on it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnknownModule(_) => ErrorKind::User,
            Error::Tables(_) | Error::Site { .. } => ErrorKind::External,
            Error::Federation(_) => ErrorKind::Internal,
            Error::Component { kind, .. } => *kind,
        }
    }

    /// The API's return code.
    pub fn retcode(&self) -> RetCode {
        match self {
            Error::Site { .. } => RetCode::ConnectionError,
            e => e.kind().retcode(),
        }
    }

    /// A component's error with its causes appended, each once.
    pub(crate) fn component(e: &fateflow_components::Error) -> Self {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            let part = s.to_string();
            if !message.contains(&part) {
                message.push_str(&format!(": {part}"));
            }
            src = s.source();
        }
        Error::Component {
            kind: e.kind(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_errors_keep_their_kind_and_causes() {
        let e = fateflow_components::Error::tracker("save model `model`", "database is locked");
        let e = Error::component(&e);
        assert_eq!(e.kind(), ErrorKind::External);
        assert_eq!(
            e.to_string(),
            "tracker failed to save model `model`: database is locked"
        );
        let user = Error::component(&fateflow_components::Error::TableNotFound {
            namespace: "ns".into(),
            name: "t".into(),
        });
        assert_eq!(user.kind(), ErrorKind::User);
        assert_eq!(user.retcode(), RetCode::ArgumentError);
        assert_eq!(Error::UnknownModule("X".into()).kind(), ErrorKind::User);
    }
}

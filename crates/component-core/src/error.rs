//! The crate's error type and its classification.

/// Result alias used throughout the crate (and by [`Tracker`](crate::Tracker) implementations).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who has to act on an [`Error`]: this is what the executor reports to the scheduler.
pub use fateflow_domain::ErrorKind;

/// Everything that can make a component fail.
///
/// Messages name the parameter, table, column or row involved so that a user reading
/// the task log can fix the job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input table does not exist. The message is FATE's Reader message, word for word.
    #[error("can not found table name: {name} namespace: {namespace}")]
    TableNotFound {
        /// Namespace of the missing table.
        namespace: String,
        /// Name of the missing table.
        name: String,
    },

    /// A parameter has the wrong type or a value outside its domain.
    #[error("invalid parameter `{parameter}`: {reason}")]
    InvalidParameter {
        /// The parameter, dotted for nested ones (`table.name`).
        parameter: String,
        /// What is wrong, naming the value found.
        reason: String,
    },

    /// A parameter value that FATE knows but this implementation does not support yet.
    #[error("parameter `{parameter}`: `{value}` is not supported yet (supported: {supported})")]
    Unsupported {
        /// The parameter.
        parameter: String,
        /// The value given.
        value: String,
        /// The values that are supported, for the message.
        supported: String,
    },

    /// The task got no input of a kind the component needs.
    #[error("component {component} needs {what}, but the task has none")]
    MissingInput {
        /// The component's module name.
        component: String,
        /// What is missing ("an input data table (input key `data`)").
        what: String,
    },

    /// An input table has no rows.
    #[error("table {table} is empty; {component} needs at least one row")]
    EmptyTable {
        /// The table as `namespace.name`.
        table: String,
        /// The component's module name.
        component: String,
    },

    /// A column the component needs is not in the table.
    #[error("table {table} has no column `{column}` ({why})")]
    MissingColumn {
        /// The table as `namespace.name`.
        table: String,
        /// The missing column.
        column: String,
        /// Why the column was expected ("`label_name`", "header of the model").
        why: String,
    },

    /// A value in an input table cannot be used.
    #[error("table {table}, row `{sid}`, column `{column}`: {reason}")]
    InvalidValue {
        /// The table as `namespace.name`.
        table: String,
        /// The row's sample id.
        sid: String,
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },

    /// A column has no usable value to compute a statistic from.
    #[error("column `{column}` of table {table} has no value to compute the {statistic} from ({parameter})")]
    NoStatistic {
        /// The table as `namespace.name`.
        table: String,
        /// The column.
        column: String,
        /// `min`, `max` or `mean`.
        statistic: &'static str,
        /// The parameter that asked for it.
        parameter: &'static str,
    },

    /// An input model is not what the component expects.
    #[error("input model `{alias}` of component `{component}` (module {module}): {reason}")]
    InvalidModel {
        /// The upstream component that produced the model.
        component: String,
        /// The model's alias.
        alias: String,
        /// The module recorded in the model.
        module: String,
        /// What is wrong.
        reason: String,
    },

    /// The table store failed.
    #[error("table {table}: {source}")]
    Table {
        /// The table as `namespace.name`.
        table: String,
        /// The cause; its [`kind`](fateflow_tables::Error::kind) decides the classification.
        #[source]
        source: fateflow_tables::Error,
    },

    /// Talking to another party failed (timeout naming the party, site unreachable).
    #[error("federation: {0}")]
    Federation(#[from] fateflow_federation::Error),

    /// A cryptographic operation failed (a bad ciphertext or key from another party,
    /// a value too large to encode).
    #[error("crypto: {0}")]
    Crypto(#[from] fateflow_crypto::Error),

    /// Another party of the task failed and said so. It tells only the kind of its error,
    /// never the cause (which may name its columns or tables): that is in its task log.
    #[error("{party} failed with a {} error; the cause is in its own task log", .kind.as_str())]
    PartyFailed {
        /// The party (`host 10000`).
        party: String,
        /// The kind of its error.
        kind: ErrorKind,
    },

    /// The task would need more memory than its budget allows.
    #[error("{component} needs about {need_mb} MB for {what}, more than the task's memory budget of {budget_mb} MB; raise the job's `task_memory` (job_parameters.common.task_memory, in MB) or the site's --task-memory-mb")]
    MemoryBudget {
        /// The component's module name.
        component: String,
        /// What it would hold.
        what: String,
        /// The estimate, in MB.
        need_mb: u64,
        /// The budget, in MB.
        budget_mb: u64,
    },

    /// The tracker (the executor's metrics, output and model bookkeeping) failed.
    #[error("tracker failed to {operation}: {source}")]
    Tracker {
        /// What was being recorded ("save model `model`").
        operation: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Classifies the error for the scheduler.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TableNotFound { .. }
            | Error::InvalidParameter { .. }
            | Error::Unsupported { .. }
            | Error::MissingInput { .. }
            | Error::EmptyTable { .. }
            | Error::MissingColumn { .. }
            | Error::InvalidValue { .. }
            | Error::NoStatistic { .. }
            | Error::InvalidModel { .. }
            | Error::MemoryBudget { .. } => ErrorKind::User,
            Error::Table { source, .. } => match source.kind() {
                fateflow_tables::ErrorKind::Io => ErrorKind::External,
                fateflow_tables::ErrorKind::InvalidInput
                | fateflow_tables::ErrorKind::NotFound
                | fateflow_tables::ErrorKind::AlreadyExists => ErrorKind::User,
                _ => ErrorKind::Internal,
            },
            Error::Tracker { .. } | Error::Federation(_) => ErrorKind::External,
            Error::PartyFailed { kind, .. } => *kind,
            Error::Crypto(_) => ErrorKind::Internal,
        }
    }

    /// Whether running the task again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::External
    }

    /// The API's return code for this error.
    pub fn retcode(&self) -> fateflow_domain::retcode::RetCode {
        self.kind().retcode()
    }

    /// Wraps a [`Tracker`](crate::Tracker) implementation's failure.
    pub fn tracker(
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Tracker {
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// Wraps a table-store failure on `table`, turning "not found" into
    /// [`Error::TableNotFound`] with FATE's message.
    pub fn table(table: &fateflow_tables::TableId, source: fateflow_tables::Error) -> Self {
        match source {
            fateflow_tables::Error::TableNotFound { namespace, name } => {
                Error::TableNotFound { namespace, name }
            }
            source => Error::Table {
                table: table.to_string(),
                source,
            },
        }
    }

    /// A bad parameter value, naming the parameter.
    pub fn param(parameter: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_message_is_fates() {
        let e = Error::TableNotFound {
            namespace: "experiment".into(),
            name: "breast".into(),
        };
        assert_eq!(
            e.to_string(),
            "can not found table name: breast namespace: experiment"
        );
        assert_eq!(e.kind(), ErrorKind::User);
    }

    #[test]
    fn table_errors_are_classified_by_their_cause() {
        let id = fateflow_tables::TableId::new("ns", "t").unwrap();
        let not_found = Error::table(
            &id,
            fateflow_tables::Error::TableNotFound {
                namespace: "ns".into(),
                name: "t".into(),
            },
        );
        assert!(matches!(not_found, Error::TableNotFound { .. }));
        let io = Error::table(
            &id,
            fateflow_tables::Error::Io {
                op: "open",
                path: "/x".into(),
                source: std::io::Error::other("boom"),
            },
        );
        assert_eq!(io.kind(), ErrorKind::External);
        assert!(io.is_retryable());
        let corrupt = Error::table(
            &id,
            fateflow_tables::Error::Corrupt {
                path: "/x".into(),
                reason: "bad".into(),
            },
        );
        assert_eq!(corrupt.kind(), ErrorKind::Internal);
        assert!(!corrupt.is_retryable());
    }

    #[test]
    fn tracker_errors_keep_their_cause() {
        let e = Error::tracker("save model `model`", "database is locked");
        assert_eq!(
            e.to_string(),
            "tracker failed to save model `model`: database is locked"
        );
        assert_eq!(e.kind(), ErrorKind::External);
    }
}

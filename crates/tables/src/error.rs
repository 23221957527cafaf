//! The crate's error type.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a caller (the HTTP layer, the scheduler) should treat an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request or its data is wrong; retrying the same input fails the same way.
    InvalidInput,
    /// The target table already exists (FATE return code 100).
    AlreadyExists,
    /// The table does not exist (FATE return code 101).
    NotFound,
    /// The file system failed; retrying may help.
    Io,
    /// Stored data is not what this crate wrote, or an invariant broke.
    Internal,
}

/// Everything that can go wrong while storing, reading or converting tables.
///
/// Errors about input data name the 1-based physical line number of the input and the
/// column the problem was found in, so that a user can fix the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace or table name breaks the naming rules.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// `"namespace"` or `"table name"`.
        what: &'static str,
        /// The rejected value.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The partition count is outside `1..=1023`.
    #[error("invalid partition count {0}: it must be between 1 and {max}", max = crate::MAX_PARTITIONS)]
    InvalidPartitions(u32),

    /// An option, or a combination of options, is not allowed.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The table exists and the write did not ask to replace it.
    #[error(
        "table {namespace}.{name} already exists; if you still want to upload it, \
         add the parameter --drop"
    )]
    TableExists {
        /// Namespace of the table.
        namespace: String,
        /// Name of the table.
        name: String,
    },

    /// The table does not exist.
    #[error("table {namespace}.{name} not found")]
    TableNotFound {
        /// Namespace of the table.
        namespace: String,
        /// Name of the table.
        name: String,
    },

    /// The input has no line at all (with `head`, no header line).
    #[error("line 1: the input is empty; expected {expected}")]
    EmptyInput {
        /// What the first line should have been.
        expected: &'static str,
    },

    /// A row has more or fewer fields than the header (or the first row).
    #[error(
        "line {line}: expected {expected} fields, found {found} ({})",
        ragged_hint(*.expected, *.found, .column)
    )]
    RaggedRow {
        /// Line number in the input.
        line: u64,
        /// Number of fields of the header (or the first row).
        expected: usize,
        /// Number of fields on this line.
        found: usize,
        /// The first missing column, or the last expected column when there are extra fields.
        column: String,
    },

    /// A feature value does not parse as a 64-bit float and is not a missing-value marker
    /// ([`MISSING_MARKERS`](crate::MISSING_MARKERS)).
    #[error("line {line}, column `{column}`: value `{value}` is not a number")]
    NotANumber {
        /// Line number in the input.
        line: u64,
        /// Column name.
        column: String,
        /// The offending text (truncated to 64 characters).
        value: String,
    },

    /// Two rows carry the same sample id.
    #[error(
        "line {line}, column `{column}`: duplicate id `{sid}`, first seen on line {first_line}"
    )]
    DuplicateId {
        /// Line of the second occurrence.
        line: u64,
        /// Line of the first occurrence.
        first_line: u64,
        /// Name of the id column.
        column: String,
        /// The repeated id.
        sid: String,
    },

    /// A row's sample id is empty.
    #[error("line {line}, column `{column}`: the id is empty")]
    EmptySid {
        /// Line number in the input.
        line: u64,
        /// Name of the id column.
        column: String,
    },

    /// The requested id column is not in the header.
    #[error("line {line}: id column `{column}` is not in the header")]
    MissingIdColumn {
        /// Line number of the header.
        line: u64,
        /// The requested column.
        column: String,
    },

    /// A column name appears twice (the id column included).
    #[error("line {line}: column `{column}` appears more than once")]
    DuplicateColumn {
        /// Line number of the header.
        line: u64,
        /// The repeated name.
        column: String,
    },

    /// A column name is empty.
    #[error("line {line}: the name of column {index} (1-based) is empty")]
    EmptyColumnName {
        /// Line number of the header.
        line: u64,
        /// 1-based position of the column.
        index: usize,
    },

    /// A line is longer than [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES).
    #[error("line {line}: longer than {limit} bytes")]
    LineTooLong {
        /// Line number in the input.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },

    /// A line is not valid UTF-8.
    #[error("line {line}: not valid UTF-8")]
    InvalidUtf8 {
        /// Line number in the input.
        line: u64,
    },

    /// Reading the input failed.
    #[error("line {line}: reading the input failed: {source}")]
    ReadInput {
        /// The line being read.
        line: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A partition number is not below the table's partition count.
    #[error("table {table}: partition {partition} does not exist (the table has {partitions})")]
    PartitionOutOfRange {
        /// The table, as `namespace.name`.
        table: String,
        /// The requested partition.
        partition: u32,
        /// The table's partition count.
        partitions: u32,
    },

    /// Writing the CSV output failed.
    #[error("output line {line}: writing failed: {source}")]
    WriteOutput {
        /// The line being written.
        line: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A value to be written as CSV contains the delimiter.
    #[error("output line {line}, column `{column}`: value `{value}` contains the delimiter `{delimiter}`")]
    DelimiterInValue {
        /// Line number in the output.
        line: u64,
        /// Column name.
        column: String,
        /// The value.
        value: String,
        /// The delimiter.
        delimiter: String,
    },

    /// A [`TableSchema`](crate::TableSchema) breaks the naming rules (empty or repeated
    /// column names, a label that is not a column).
    #[error("invalid schema: {reason}")]
    InvalidSchema {
        /// What is wrong.
        reason: String,
    },

    /// A table of raw text lines was read as numeric columns.
    #[error(
        "table {table} holds raw text lines (sparse, tag or other non-dense data, as FATE's \
         upload stores it): read it through a DataTransform component, which parses it"
    )]
    TextTable {
        /// `namespace.name`.
        table: String,
    },

    /// A [`Frame`](crate::Frame) is malformed.
    #[error("invalid frame: {reason}")]
    InvalidFrame {
        /// What is wrong.
        reason: String,
    },

    /// The rows found in the written files differ from the rows written.
    #[error("table {namespace}.{name}: wrote {expected} rows but the files hold {found}; nothing was kept")]
    CountMismatch {
        /// Namespace of the table.
        namespace: String,
        /// Name of the table.
        name: String,
        /// Rows handed to the writer.
        expected: u64,
        /// Rows counted in the footers.
        found: u64,
    },

    /// A stored file is not a table written by this crate.
    #[error("corrupt table file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A path resolved outside the data root (for example through a symbolic link).
    #[error("path {path} resolves outside the data root")]
    OutsideRoot {
        /// The offending path.
        path: PathBuf,
    },

    /// A file-system operation failed.
    #[error("failed to {op} {path}: {source}")]
    Io {
        /// What was being done, as a verb phrase ("create directory").
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Parquet encoding or decoding failed.
    #[error("parquet error on {path}: {source}")]
    Parquet {
        /// The file involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Building or reading an Arrow record batch failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

fn ragged_hint(expected: usize, found: usize, column: &str) -> String {
    if found < expected {
        format!("column `{column}` is missing")
    } else {
        format!("unexpected field after column `{column}`")
    }
}

impl Error {
    /// Classifies the error for callers that map it to a status or a retry decision.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TableExists { .. } => ErrorKind::AlreadyExists,
            Error::TableNotFound { .. } => ErrorKind::NotFound,
            Error::Io { .. } | Error::ReadInput { .. } | Error::WriteOutput { .. } => ErrorKind::Io,
            Error::CountMismatch { .. }
            | Error::Corrupt { .. }
            | Error::OutsideRoot { .. }
            | Error::Parquet { .. }
            | Error::Arrow(_) => ErrorKind::Internal,
            Error::InvalidName { .. }
            | Error::InvalidPartitions(_)
            | Error::InvalidOption { .. }
            | Error::EmptyInput { .. }
            | Error::RaggedRow { .. }
            | Error::NotANumber { .. }
            | Error::DuplicateId { .. }
            | Error::EmptySid { .. }
            | Error::MissingIdColumn { .. }
            | Error::DuplicateColumn { .. }
            | Error::EmptyColumnName { .. }
            | Error::LineTooLong { .. }
            | Error::InvalidUtf8 { .. }
            | Error::DelimiterInValue { .. }
            | Error::PartitionOutOfRange { .. }
            | Error::InvalidSchema { .. }
            | Error::TextTable { .. }
            | Error::InvalidFrame { .. } => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_message_names_line_and_column() {
        let short = Error::RaggedRow {
            line: 7,
            expected: 3,
            found: 2,
            column: "x1".into(),
        };
        assert_eq!(
            short.to_string(),
            "line 7: expected 3 fields, found 2 (column `x1` is missing)"
        );
        let long = Error::RaggedRow {
            line: 8,
            expected: 3,
            found: 4,
            column: "x1".into(),
        };
        assert_eq!(
            long.to_string(),
            "line 8: expected 3 fields, found 4 (unexpected field after column `x1`)"
        );
    }

    #[test]
    fn error_stays_small() {
        // Keeps `Result<T>` cheap to move around.
        assert!(std::mem::size_of::<Error>() <= 128);
    }
}

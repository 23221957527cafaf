//! Table identifiers and the naming rules that keep every path under the data root.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use fateflow_domain::ident::{self, IdKind};

/// Longest namespace or table name accepted, in bytes.
pub const MAX_NAME_LEN: usize = ident::MAX_LEN;

/// A validated `(namespace, name)` pair.
///
/// Both parts are non-empty, at most [`MAX_NAME_LEN`] bytes, made of ASCII letters,
/// digits, `_`, `.` and `-`, start with a letter, a digit or `_`, and never contain
/// `..`. They can therefore be used as single path components without escaping the
/// directory they are joined to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawTableId")]
pub struct TableId {
    namespace: String,
    name: String,
}

#[derive(Deserialize)]
struct RawTableId {
    namespace: String,
    name: String,
}

impl TryFrom<RawTableId> for TableId {
    type Error = Error;

    fn try_from(raw: RawTableId) -> Result<Self> {
        TableId::new(raw.namespace, raw.name)
    }
}

impl TableId {
    /// Validates both parts and builds the identifier.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Result<Self> {
        let namespace = namespace.into();
        let name = name.into();
        validate_part("namespace", &namespace)?;
        validate_part("table name", &name)?;
        Ok(TableId { namespace, name })
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

fn validate_part(what: &'static str, value: &str) -> Result<()> {
    let kind = if what == "namespace" {
        IdKind::Namespace
    } else {
        IdKind::TableName
    };
    // One grammar for every identifier that becomes a path (the domain's).
    ident::check(kind, value).map_err(|e| Error::InvalidName {
        what,
        value: value.chars().take(2 * MAX_NAME_LEN).collect(),
        reason: e.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_fate_style_names() {
        for (ns, name) in [
            ("experiment", "breast_hetero_guest"),
            (
                "output_data_202211221523123456789_reader_0_0",
                "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            ),
            ("ns-1.v2", "t.csv"),
            ("_x", "0"),
        ] {
            let id = TableId::new(ns, name).unwrap();
            assert_eq!(id.namespace(), ns);
            assert_eq!(id.name(), name);
        }
    }

    #[test]
    fn refuses_bad_names() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            ".",
            "..",
            "a..b",
            "../etc",
            "a/b",
            "a\\b",
            "/abs",
            ".hidden",
            "-flag",
            "sp ace",
            "nul\0",
            "é",
            long.as_str(),
        ] {
            let err = TableId::new("ok", bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidName {
                        what: "table name",
                        ..
                    }
                ),
                "{bad:?}"
            );
            let err = TableId::new(bad, "ok").unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidName {
                        what: "namespace",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        assert!(TableId::new("a".repeat(MAX_NAME_LEN), "b").is_ok());
    }

    #[test]
    fn deserialization_validates() {
        let ok: TableId = serde_json::from_str(r#"{"namespace":"n","name":"t"}"#).unwrap();
        assert_eq!(ok.to_string(), "n.t");
        let bad = serde_json::from_str::<TableId>(r#"{"namespace":"..","name":"t"}"#);
        assert!(bad.is_err());
    }
}

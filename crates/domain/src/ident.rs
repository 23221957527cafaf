//! The one grammar for identifiers that become file paths or URL segments (job ids,
//! component names, task ids, namespaces, table names, model ids and versions), and
//! the one way to build a path from them.
//!
//! Every edge that receives such an identifier (REST API, gateway command, task spec)
//! checks it with [`check`]; every path made of them is built with [`safe_join`], which
//! refuses anything but plain single components even if a check was forgotten.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The longest identifier accepted.
pub const MAX_LEN: usize = 128;

/// What an identifier names; decides the extra characters allowed and the error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A job id (FATE's 20 digits and a counter; user-chosen ids are allowed).
    JobId,
    /// A component name from a DSL.
    Component,
    /// A task id (`<job id>_<component>`).
    TaskId,
    /// A table namespace.
    Namespace,
    /// A table name.
    TableName,
    /// A model id (`arbiter-10000#guest-9999#host-10000#model`): `#` allowed.
    ModelId,
    /// A model version (a job id).
    ModelVersion,
    /// A federation session or variable name.
    Session,
}

impl IdKind {
    /// The field name used in error messages.
    pub fn field(self) -> &'static str {
        match self {
            IdKind::JobId => "job_id",
            IdKind::Component => "component_name",
            IdKind::TaskId => "task_id",
            IdKind::Namespace => "namespace",
            IdKind::TableName => "table_name",
            IdKind::ModelId => "model_id",
            IdKind::ModelVersion => "model_version",
            IdKind::Session => "session",
        }
    }

    fn extra(self) -> &'static [u8] {
        match self {
            IdKind::ModelId => b"_.-#",
            _ => b"_.-",
        }
    }
}

/// An identifier outside the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    /// Which field.
    pub kind: IdKind,
    /// The value, cut to a printable length with control characters escaped.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` is not a valid identifier: {}",
            self.kind.field(),
            self.value,
            self.reason
        )
    }
}

impl std::error::Error for InvalidId {}

fn shown(value: &str) -> String {
    value
        .chars()
        .take(MAX_LEN + 8)
        .flat_map(char::escape_debug)
        .collect()
}

/// Checks an identifier: 1 to 128 bytes of ASCII letters, digits, `_`, `.` and `-`
/// (and `#` in model ids), starting with a letter, a digit or `_`, with no `..`.
pub fn check(kind: IdKind, value: &str) -> Result<(), InvalidId> {
    let fail = |reason| {
        Err(InvalidId {
            kind,
            value: shown(value),
            reason,
        })
    };
    if value.is_empty() {
        return fail("it is empty");
    }
    if value.len() > MAX_LEN {
        return fail("it is longer than 128 bytes");
    }
    let extra = kind.extra();
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    {
        return fail(if extra.contains(&b'#') {
            "only ASCII letters, digits, `_`, `.`, `-` and `#` are allowed"
        } else {
            "only ASCII letters, digits, `_`, `.` and `-` are allowed"
        });
    }
    if !value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return fail("it must start with a letter, a digit or `_`");
    }
    if value.contains("..") {
        return fail("it must not contain `..`");
    }
    Ok(())
}

/// A path component that is not a plain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafePath {
    /// The offending part.
    pub part: String,
}

impl fmt::Display for UnsafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` cannot be part of a path: only a single plain name is allowed (no `/`, `..`, absolute path or NUL)",
            shown(&self.part)
        )
    }
}

impl std::error::Error for UnsafePath {}

/// `base` joined with each part, each of which must be exactly one plain path
/// component: not empty, not `.` or `..`, no separator, not absolute, no NUL.
pub fn safe_join<S: AsRef<str>>(base: &Path, parts: &[S]) -> Result<PathBuf, UnsafePath> {
    let mut out = base.to_path_buf();
    for part in parts {
        let part = part.as_ref();
        let bad = || UnsafePath { part: part.into() };
        if part.is_empty() || part.contains(['/', '\\', '\0']) {
            return Err(bad());
        }
        let mut comps = Path::new(part).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(_)), None) => out.push(part),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_table() {
        let ok = [
            (IdKind::JobId, "202612051941430123450"),
            (IdKind::JobId, "my_job-1.a"),
            (IdKind::Component, "hetero_lr_0"),
            (IdKind::ModelId, "arbiter-10000#guest-9999#host-10000#model"),
            (IdKind::TableName, "_t"),
        ];
        for (k, v) in ok {
            assert_eq!(check(k, v), Ok(()), "{v}");
        }
        let bad = [
            (IdKind::JobId, ""),
            (IdKind::JobId, "."),
            (IdKind::JobId, ".."),
            (IdKind::JobId, "../../../x"),
            (IdKind::JobId, "/etc/passwd"),
            (IdKind::JobId, "a/b"),
            (IdKind::JobId, "a\\b"),
            (IdKind::JobId, "a..b"),
            (IdKind::JobId, "-rf"),
            (IdKind::JobId, "a\0"),
            (IdKind::JobId, "a b"),
            (IdKind::JobId, "é"),
            (IdKind::Component, "a#b"),
            (IdKind::ModelId, "#x"),
        ];
        for (k, v) in bad {
            assert!(check(k, v).is_err(), "{v:?} accepted as {k:?}");
        }
        assert!(check(IdKind::JobId, &"a".repeat(129)).is_err());
        assert!(check(IdKind::JobId, &"a".repeat(128)).is_ok());
    }

    #[test]
    fn error_names_the_field() {
        let e = check(IdKind::JobId, "../x").unwrap_err().to_string();
        assert!(e.starts_with("job_id `../x`"), "{e}");
    }

    #[test]
    fn safe_join_refuses_everything_but_plain_names() {
        let base = Path::new("/data");
        assert_eq!(
            safe_join(base, &["jobs", "123"]).unwrap(),
            PathBuf::from("/data/jobs/123")
        );
        for bad in ["", ".", "..", "/abs", "a/b", "a\\b", "a\0", "../x"] {
            assert!(safe_join(base, &["jobs", bad]).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn accepted_ids_stay_under_the_base(s in "\\PC{0,40}") {
            let base = Path::new("/base/dir");
            if check(IdKind::JobId, &s).is_ok() {
                let p = safe_join(base, &[s.as_str()]).unwrap();
                proptest::prop_assert!(p.starts_with(base));
                proptest::prop_assert_eq!(p.components().count(), base.components().count() + 1);
            }
            if let Ok(p) = safe_join(base, &[s.as_str()]) {
                proptest::prop_assert_eq!(p.parent(), Some(base));
            }
        }
    }
}

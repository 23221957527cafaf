//! The metadata database's URL (`fateflow server --database`): which backend, where,
//! and a form that is safe to print (no password).

use crate::Backend;
use std::path::{Path, PathBuf};

/// What `--database` expects, for error messages.
pub const URL_FORMS: &str = "sqlite://PATH, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
                            or mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE";

/// A checked database URL. `Display` and `Debug` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// The URL as given (a server's), or the SQLite file.
    target: Target,
}

#[derive(Clone, PartialEq, Eq)]
enum Target {
    File(PathBuf),
    Server(String),
}

/// A URL `--database` cannot use.
#[derive(Debug, thiserror::Error)]
#[error("expected {URL_FORMS}, got `{shown}`: {reason}")]
pub struct UrlError {
    shown: String,
    reason: String,
}

impl DatabaseUrl {
    /// Parses and checks a URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let fail = |reason: &str| UrlError {
            shown: redact(url),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| fail("no scheme (sqlite, postgres or mysql)"))?;
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::MySql,
            other => return Err(fail(&format!("unknown scheme `{other}`"))),
        };
        if backend == Backend::Sqlite {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.contains('?') {
                return Err(fail(
                    "a SQLite URL is sqlite:// and a file path, without options",
                ));
            }
            return Ok(Self::sqlite_file(Path::new(path)));
        }
        let opts: sqlx::any::AnyConnectOptions =
            url.parse().map_err(|_| fail("not a valid URL"))?;
        let parsed = &opts.database_url;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(fail("no host"));
        }
        if parsed.username().is_empty() {
            return Err(fail("no user"));
        }
        if parsed.path().trim_start_matches('/').is_empty() {
            return Err(fail("no database name"));
        }
        Ok(DatabaseUrl {
            backend,
            target: Target::Server(url.to_string()),
        })
    }

    /// The SQLite file at `path` (created when missing).
    pub fn sqlite_file(path: &Path) -> Self {
        DatabaseUrl {
            backend: Backend::Sqlite,
            target: Target::File(path.to_path_buf()),
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file, for a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.target {
            Target::File(p) => Some(p),
            Target::Server(_) => None,
        }
    }

    /// The full URL of a database server, password included: for connecting only.
    pub(crate) fn server_url(&self) -> Option<&str> {
        match &self.target {
            Target::Server(u) => Some(u),
            Target::File(_) => None,
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::parse(s)
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Target::File(p) => write!(f, "sqlite://{}", p.display()),
            Target::Server(u) => f.write_str(&redact(u)),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `url` with the password of its user part and any `password=` option replaced
/// by `***`; works on text that is not a valid URL too.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i) {
            if let Some(colon) = out[start..at].find(':').map(|i| start + i) {
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_by_scheme() {
        for (u, b) in [
            ("sqlite://data/fateflow.db", Backend::Sqlite),
            ("sqlite:///abs/x.db", Backend::Sqlite),
            ("postgres://u:p@127.0.0.1:5432/ff", Backend::Postgres),
            ("postgresql://u@h/ff", Backend::Postgres),
            ("mysql://root@127.0.0.1:3306/ff", Backend::MySql),
            ("mariadb://root:x@h/ff", Backend::MySql),
        ] {
            assert_eq!(DatabaseUrl::parse(u).unwrap().backend(), b, "{u}");
        }
        assert_eq!(
            DatabaseUrl::parse("sqlite:///abs/x.db")
                .unwrap()
                .sqlite_path()
                .unwrap(),
            Path::new("/abs/x.db")
        );
    }

    #[test]
    fn bad_urls_say_what_was_expected_without_the_password() {
        for (u, why) in [
            ("redis://u:s3cret@h/0", "unknown scheme"),
            ("postgres://u:s3cret@h", "no database name"),
            ("mysql://:s3cret@h/db", "no user"),
            ("fateflow.db", "no scheme"),
            ("sqlite://", "SQLite URL"),
        ] {
            let e = DatabaseUrl::parse(u).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
            assert!(e.contains("expected sqlite://PATH"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn passwords_never_print() {
        let u = DatabaseUrl::parse("postgres://ff:s3cret@db:5432/ff?sslmode=disable").unwrap();
        assert_eq!(
            u.to_string(),
            "postgres://ff:***@db:5432/ff?sslmode=disable"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        assert_eq!(
            redact("mysql://a:b:c@h/db?password=x&k=v"),
            "mysql://a:***@h/db?password=***&k=v"
        );
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
    }
}

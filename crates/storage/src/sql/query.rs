//! What differs between SQLite, PostgreSQL and MySQL/MariaDB, and the one query
//! builder every statement goes through (sqlx's `Any` driver leaves placeholders to
//! the caller: `?` on SQLite and MySQL, `$n` on PostgreSQL).

use crate::{Error, Result};
use sqlx::any::{AnyArguments, AnyRow, AnyTypeInfoKind};
use sqlx::{Any, Arguments, Column, Executor, Row};
use std::fmt::Write;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: a file under the data dir, one server.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL 8 or MariaDB.
    MySql,
}

impl Backend {
    /// The product name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        }
    }

    /// The scalar minimum of two values.
    pub(crate) fn least(self) -> &'static str {
        match self {
            Backend::Sqlite => "MIN",
            Backend::Postgres | Backend::MySql => "LEAST",
        }
    }

    /// `INSERT` of `columns` that does nothing when the row's key exists.
    pub(crate) fn insert_ignore(self, table: &str, columns: &[&str]) -> String {
        let (verb, tail) = match self {
            Backend::Sqlite => ("INSERT OR IGNORE", ""),
            Backend::Postgres => ("INSERT", " ON CONFLICT DO NOTHING"),
            Backend::MySql => ("INSERT IGNORE", ""),
        };
        format!("{verb} INTO {table} {}{tail}", values(columns))
    }

    /// `INSERT` of `columns` that replaces the row with the same `key`.
    pub(crate) fn insert_replace(self, table: &str, columns: &[&str], key: &[&str]) -> String {
        match self {
            Backend::Sqlite => format!("INSERT OR REPLACE INTO {table} {}", values(columns)),
            Backend::MySql => format!("REPLACE INTO {table} {}", values(columns)),
            Backend::Postgres => {
                let set: Vec<String> = columns
                    .iter()
                    .filter(|c| !key.contains(c))
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect();
                format!(
                    "INSERT INTO {table} {} ON CONFLICT ({}) DO UPDATE SET {}",
                    values(columns),
                    key.join(", "),
                    set.join(", ")
                )
            }
        }
    }
}

/// A plain `INSERT` of `columns`.
pub(crate) fn insert(table: &str, columns: &[&str]) -> String {
    format!("INSERT INTO {table} {}", values(columns))
}

/// `(a, b) VALUES (?, ?)`.
fn values(columns: &[&str]) -> String {
    format!(
        "({}) VALUES ({})",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    )
}

/// A value a statement can bind. Flags are bound as 0/1 integers: every backend
/// stores them as integers.
pub(crate) trait Arg<'a> {
    fn add_to(
        self,
        args: &mut AnyArguments<'a>,
    ) -> std::result::Result<(), sqlx::error::BoxDynError>;
}

macro_rules! arg_as_is {
    ($($t:ty),*) => {$(
        impl<'a> Arg<'a> for $t {
            fn add_to(self, args: &mut AnyArguments<'a>) -> std::result::Result<(), sqlx::error::BoxDynError> {
                args.add(self)
            }
        }
    )*};
}
arg_as_is!(
    i64,
    Option<i64>,
    &'a str,
    Option<&'a str>,
    String,
    Option<String>
);

impl<'a> Arg<'a> for &'a String {
    fn add_to(
        self,
        args: &mut AnyArguments<'a>,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        args.add(self.as_str())
    }
}

impl<'a> Arg<'a> for &'a Option<String> {
    fn add_to(
        self,
        args: &mut AnyArguments<'a>,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        args.add(self.as_deref())
    }
}

impl<'a> Arg<'a> for bool {
    fn add_to(
        self,
        args: &mut AnyArguments<'a>,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        args.add(i64::from(self))
    }
}

impl<'a> Arg<'a> for Option<bool> {
    fn add_to(
        self,
        args: &mut AnyArguments<'a>,
    ) -> std::result::Result<(), sqlx::error::BoxDynError> {
        args.add(self.map(i64::from))
    }
}

/// A statement and its arguments. Every `?` pushed becomes the backend's next
/// placeholder, so SQL is written once with `?` for all three.
pub(crate) struct Sql<'a> {
    backend: Backend,
    text: String,
    placeholders: usize,
    args: AnyArguments<'a>,
    bad_arg: Option<sqlx::error::BoxDynError>,
}

impl<'a> Sql<'a> {
    /// A statement starting with `text`.
    pub(crate) fn new(backend: Backend, text: &str) -> Self {
        let mut s = Sql {
            backend,
            text: String::with_capacity(text.len() + 64),
            placeholders: 0,
            args: AnyArguments::default(),
            bad_arg: None,
        };
        s.push(text);
        s
    }

    /// Appends SQL; each `?` in it is a placeholder (so no SQL literal may hold one:
    /// values are bound).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        for (i, part) in text.split('?').enumerate() {
            if i > 0 {
                self.placeholder();
            }
            self.text.push_str(part);
        }
        self
    }

    fn placeholder(&mut self) {
        self.placeholders += 1;
        match self.backend {
            Backend::Postgres => {
                let _ = write!(self.text, "${}", self.placeholders);
            }
            Backend::Sqlite | Backend::MySql => self.text.push('?'),
        }
    }

    /// Binds the next placeholder already written.
    pub(crate) fn bind(mut self, v: impl Arg<'a>) -> Self {
        self.add(v);
        self
    }

    /// Writes a placeholder and binds it.
    pub(crate) fn push_bind(&mut self, v: impl Arg<'a>) -> &mut Self {
        self.placeholder();
        self.add(v);
        self
    }

    /// ` IN (?, ?, …)` of `list`, or a false condition when it is empty.
    pub(crate) fn push_in(&mut self, column: &str, list: &[&'a str]) -> &mut Self {
        if list.is_empty() {
            return self.push(" 1 = 0");
        }
        self.push(&format!(" {column} IN ("));
        for (i, v) in list.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(*v);
        }
        self.push(")")
    }

    fn add(&mut self, v: impl Arg<'a>) {
        if let Err(e) = v.add_to(&mut self.args) {
            self.bad_arg.get_or_insert(e);
        }
    }

    fn into_parts(self) -> Result<(String, AnyArguments<'a>)> {
        if let Some(e) = self.bad_arg {
            return Err(Error::Database(sqlx::Error::Encode(e)));
        }
        debug_assert_eq!(self.placeholders, self.args.len(), "{}", self.text);
        Ok((self.text, self.args))
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute<'e>(self, ex: impl Executor<'e, Database = Any>) -> Result<u64> {
        let (text, args) = self.into_parts()?;
        Ok(sqlx::query_with(&text, args)
            .execute(ex)
            .await?
            .rows_affected())
    }

    /// Every row.
    pub(crate) async fn fetch_all<'e>(
        self,
        ex: impl Executor<'e, Database = Any>,
    ) -> Result<Vec<AnyRow>> {
        let (text, args) = self.into_parts()?;
        Ok(sqlx::query_with(&text, args).fetch_all(ex).await?)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'e>(
        self,
        ex: impl Executor<'e, Database = Any>,
    ) -> Result<Option<AnyRow>> {
        let (text, args) = self.into_parts()?;
        Ok(sqlx::query_with(&text, args).fetch_optional(ex).await?)
    }

    /// The first column of the one row (`COUNT(*)`).
    pub(crate) async fn fetch_count<'e>(
        self,
        ex: impl Executor<'e, Database = Any>,
    ) -> Result<u64> {
        let (text, args) = self.into_parts()?;
        let row = sqlx::query_with(&text, args).fetch_one(ex).await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or_default())
    }
}

/// Typed column reads that hide how each backend reports its types (MySQL's TEXT
/// columns come as bytes through `Any`, flags are integers everywhere).
pub(crate) trait Cols {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;
}

impl Cols for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| {
            Error::Database(sqlx::Error::ColumnDecode {
                index: col.to_string(),
                source: "unexpected NULL".into(),
            })
        })
    }

    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        let column = self.try_column(col)?;
        if column.type_info().kind() == AnyTypeInfoKind::Blob {
            let bytes: Option<Vec<u8>> = self.try_get(col)?;
            return bytes
                .map(|b| {
                    String::from_utf8(b).map_err(|e| {
                        Error::Database(sqlx::Error::ColumnDecode {
                            index: col.to_string(),
                            source: e.into(),
                        })
                    })
                })
                .transpose();
        }
        Ok(self.try_get(col)?)
    }

    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }

    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut q = Sql::new(Backend::Postgres, "UPDATE t SET a = ? WHERE b = ?");
        q.push(" AND c = ").push_bind(3i64);
        assert_eq!(q.text, "UPDATE t SET a = $1 WHERE b = $2 AND c = $3");
        let mut q = Sql::new(Backend::MySql, "SELECT ?");
        q.push_in("s", &["a", "b"]);
        assert_eq!(q.text, "SELECT ? s IN (?, ?)");
    }

    #[test]
    fn upserts_per_backend() {
        let cols = ["k", "v"];
        assert_eq!(
            Backend::Postgres.insert_replace("t", &cols, &["k"]),
            "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
        );
        assert_eq!(
            Backend::MySql.insert_replace("t", &cols, &["k"]),
            "REPLACE INTO t (k, v) VALUES (?, ?)"
        );
        assert_eq!(
            Backend::Sqlite.insert_ignore("t", &cols),
            "INSERT OR IGNORE INTO t (k, v) VALUES (?, ?)"
        );
    }
}

//! One storage test suite for every backend: each case runs on SQLite (a temp file),
//! on PostgreSQL when `FATEFLOW_TEST_POSTGRES` is set and on MySQL/MariaDB when
//! `FATEFLOW_TEST_MYSQL` is set, each run in a database of its own that is dropped
//! afterwards.

use fateflow_storage::{Backend, DatabaseUrl, SqlStore};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

/// A database made for one test.
pub(crate) struct TestDb {
    pub(crate) backend: Backend,
    url: DatabaseUrl,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// The server's admin URL and the database name, to drop it.
    server: Option<(String, String)>,
}

impl TestDb {
    async fn create(backend: Backend) -> Option<TestDb> {
        let (var, name) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = DatabaseUrl::sqlite_file(&dir.path().join("meta.db"));
                return Some(TestDb {
                    backend,
                    url,
                    _dir: Some(dir),
                    server: None,
                });
            }
            Backend::Postgres => ("FATEFLOW_TEST_POSTGRES", "PostgreSQL"),
            Backend::MySql => ("FATEFLOW_TEST_MYSQL", "MySQL"),
        };
        let Ok(admin) = std::env::var(var) else {
            println!("skipped: set {var} to run on {name}");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let db = format!(
            "fateflow_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_micros()
        );
        admin_execute(&admin, &format!("CREATE DATABASE {db}")).await;
        Some(TestDb {
            backend,
            url: DatabaseUrl::parse(&with_database(&admin, &db)).unwrap(),
            _dir: None,
            server: Some((admin, db)),
        })
    }

    /// A new store (its own pool) on this database, as another server would open.
    pub(crate) async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.url).await.unwrap()
    }

    async fn drop_database(&self) {
        if let Some((admin, db)) = &self.server {
            let sql = match self.backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {db}"),
            };
            admin_execute(admin, &sql).await;
        }
    }
}

async fn admin_execute(admin: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "test database server {}: {e}",
                fateflow_storage::redact(admin)
            )
        });
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    let _ = conn.close().await;
}

/// `url` with its database (path) replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").unwrap();
    let host = rest.split('/').next().unwrap();
    format!("{scheme}://{host}/{db}{query}")
}

/// Runs `case` on a fresh database of `backend`, or skips with a message; the
/// database is dropped whether the case passes or not.
pub(crate) async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(std::sync::Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let db = std::sync::Arc::new(db);
    let outcome = tokio::spawn(case(db.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// For each case `name(db: Arc<TestDb>)`, a module `name` with one test per backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use fateflow_storage::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run(Backend::Sqlite, super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run(Backend::Postgres, super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                $crate::common::run(Backend::MySql, super::$name).await;
            }
        }
    )*};
}

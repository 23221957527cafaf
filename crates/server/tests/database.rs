//! `fateflow server --database`: a job on PostgreSQL and on MySQL/MariaDB (when
//! `FATEFLOW_TEST_POSTGRES` / `FATEFLOW_TEST_MYSQL` name a server, each run in a
//! database of its own), and clear refusals of bad or unreachable URLs that never
//! print the password.

mod common;

use common::{Scratch, Server};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `fateflow server --database <url>` and returns its stderr; it must fail.
fn refused(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fateflow"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--database", url])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with {url}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("--database"), "{text}");
    text
}

#[test]
fn bad_or_unreachable_database_urls_are_refused_without_the_password() {
    let text = refused("postgres://ff:s3cret@127.0.0.1:5432");
    assert!(text.contains("expected sqlite://PATH"), "{text}");
    assert!(text.contains("no database name"), "{text}");
    let text = refused("oracle://ff:s3cret@db/ff");
    assert!(text.contains("unknown scheme"), "{text}");
    // Nothing listens on port 1.
    let text = refused("postgres://ff:s3cret@127.0.0.1:1/ff");
    assert!(
        text.contains(
            "expected a reachable PostgreSQL database at postgres://ff:***@127.0.0.1:1/ff"
        ),
        "{text}"
    );
    let text = refused("mysql://ff:s3cret@127.0.0.1:1/ff");
    assert!(text.contains("reachable MySQL database"), "{text}");
}

fn job_runs_on(var: &str, product: &str) {
    let Some(db) = Scratch::create(var, product) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[], &["--database", &db.url()]);
    s.upload_breast();
    let job_id = s.submit_example("reader_transform");
    let job = s.wait_end(&job_id, Duration::from_secs(120));
    assert_eq!(job["f_status"], "success", "{job}");
    let tasks = s.tasks(&job_id);
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    assert!(
        tasks.iter().all(|t| t["party_status"] == "success"),
        "{tasks:?}"
    );
    assert!(
        !dir.path().join("fateflow.db").exists(),
        "the metadata went to {product}, not to a SQLite file"
    );
    s.kill9();
}

#[test]
fn a_job_runs_with_its_metadata_on_postgres() {
    job_runs_on("FATEFLOW_TEST_POSTGRES", "PostgreSQL");
}

#[test]
fn a_job_runs_with_its_metadata_on_mysql() {
    job_runs_on("FATEFLOW_TEST_MYSQL", "MySQL");
}

//! `fateflow` exits quietly, with status 0 as ripgrep does, when its stdout's reader
//! has gone (`fateflow validate ... | head -3`): no panic, no backtrace.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `fateflow` from the repository root with stdout on a pipe whose read end is
/// already closed, so its first line meets EPIPE.
fn run_with_closed_stdout(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_fateflow"))
        .args(args)
        .current_dir(root)
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .output()
        .unwrap()
}

fn assert_quiet(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

const DSL: &str = "examples/jobs/hetero_lr/dsl.json";
const CONF: &str = "examples/jobs/hetero_lr/conf.json";

#[test]
fn validate_exits_quietly() {
    assert_quiet(&run_with_closed_stdout(&[
        "validate", "-d", DSL, "-c", CONF,
    ]));
    assert_quiet(&run_with_closed_stdout(&[
        "validate", "-d", DSL, "-c", CONF, "--json",
    ]));
}

#[test]
fn cert_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_quiet(&run_with_closed_stdout(&["cert", "--out", out]));
}

#[test]
fn run_and_demo_exit_quietly() {
    // Both stop at their first line, right after the site starts.
    let dir = tempfile::tempdir().unwrap();
    let data = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run_dir = data("run");
    assert_quiet(&run_with_closed_stdout(&[
        "run",
        "-d",
        DSL,
        "-c",
        CONF,
        "--data-dir",
        &run_dir,
    ]));
    let demo_dir = data("demo");
    assert_quiet(&run_with_closed_stdout(&["demo", "--data-dir", &demo_dir]));
}

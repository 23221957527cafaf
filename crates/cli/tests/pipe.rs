//! `flow` exits quietly, with status 0 as ripgrep does, when its stdout's reader has
//! gone (`flow job list | head`): no panic, no error line.

mod common;

use std::process::{Command, Output};

use serde_json::json;

use common::*;

/// Runs `flow` against `server`, with stdout on a pipe whose read end is already
/// closed (so its first write meets EPIPE) or, `closed == false`, captured.
fn flow_to(server: &FakeServer, args: &[&str], closed: bool) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    if closed {
        drop(reader);
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
    cmd.args(["--ip", "127.0.0.1", "--port", &server.port_arg()])
        .args(args)
        .current_dir(tmp.path())
        .env("FATEFLOW_CLI_CONFIG", tmp.path().join("no-settings.json"))
        .env_remove("FATE_FLOW_ADDR")
        .env("NO_PROXY", "127.0.0.1")
        .env("RUST_BACKTRACE", "1");
    if closed {
        cmd.stdout(writer).output().unwrap()
    } else {
        cmd.output().unwrap()
    }
}

#[test]
fn json_and_table_output_exit_quietly() {
    let server = FakeServer::start(|_| {
        Reply::json(json!({"retcode": 0, "retmsg": "success",
            "data": {"jobs": [{"f_job_id": "j1", "f_status": "success"}], "count": 1}}))
    });
    for args in [
        &["job", "list"][..],
        &["job", "list", "--table"],
        &["server", "version"],
    ] {
        // The verb does print when someone reads.
        assert!(!flow_to(&server, args, false).stdout.is_empty(), "{args:?}");
        let out = flow_to(&server, args, true);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

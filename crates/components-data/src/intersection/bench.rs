//! The intersection bench: guest and host as two processes (this test binary run twice),
//! talking through files in a shared directory, each on its own table store, so that
//! each party's time and peak RSS (`VmHWM`) are its own.
//!
//! ```text
//! FATEFLOW_BENCH_SIZES=100000,1000000 FATEFLOW_BENCH_METHODS=ecdh,rsa \
//!   cargo test --release -p fateflow-components-data --lib bench_intersection_two_processes -- --ignored --nocapture
//! ```
//!
//! Guest ids `id0..idN` with 10 features and a label, host ids shifted by N/5 (80 %
//! overlap) with 20 features; the task budget is the default (1536 MB).

use super::Intersection;
use crate::context::{Component, TableRef};
use crate::testing::{context, peak_rss_mb, FileHub, RecordingTracker};
use fateflow_domain::{Party, PartyId, Role};
use fateflow_federation::Federation;
use fateflow_tables::{
    read_blocks, sid_digest, FrameWriter, LocalTableStore, TableId, TableSchema, WriteMode,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const GUEST: PartyId = 9999;
const HOST: PartyId = 10000;

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("{key} is not set: this test is one party of bench_intersection_two_processes")
    })
}

/// One party (a child process of the driver below).
#[test]
#[ignore = "a child process of bench_intersection_two_processes"]
fn bench_intersection_party() {
    let role = env("FATEFLOW_BENCH_ROLE");
    let rows: usize = env("FATEFLOW_BENCH_ROWS").parse().expect("rows");
    let method = env("FATEFLOW_BENCH_METHOD");
    let dir = PathBuf::from(env("FATEFLOW_BENCH_DIR"));
    let (role, pid, offset, ncols, label) = match role.as_str() {
        "guest" => (Role::Guest, GUEST, 0, 11, true),
        _ => (Role::Host, HOST, rows / 5, 20, false),
    };
    let store = LocalTableStore::open(dir.join(format!("{role}_store"))).expect("store");
    let mut schema = TableSchema::new("id", (0..ncols).map(|c| format!("x{c}")).collect());
    if label {
        schema.label_name = Some("x0".into());
    }
    let input = TableId::new("bench", "input").expect("id");
    let mut w = FrameWriter::create(&store, &input, schema, 4, WriteMode::Replace).expect("w");
    let mut row = vec![0.0; ncols];
    for i in offset..offset + rows {
        for (c, v) in row.iter_mut().enumerate() {
            *v = ((i * 31 + c * 7) % 1000) as f64 / 100.0;
        }
        w.push(&format!("id{i}"), &row).expect("push");
    }
    w.finish().expect("finish");
    let tracker = RecordingTracker::new();
    let fed = FileHub::new(
        dir.join("messages"),
        Party {
            role,
            party_id: pid,
        },
    );
    let mut params = json!({"intersect_method": method});
    if method == "rsa" {
        params["rsa_params"] = json!({"key_length": 1024});
    }
    let mut ctx = context("intersection_0", "Intersection", params, &store, &tracker);
    ctx.role = role;
    ctx.party_id = pid;
    ctx.roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    ctx.federation = Some(&fed);
    ctx.inputs
        .data
        .insert("data".into(), vec![TableRef::new("bench", "input")]);
    // Both tables written: start together.
    let other = match role {
        Role::Guest => Party {
            role: Role::Host,
            party_id: HOST,
        },
        _ => Party {
            role: Role::Guest,
            party_id: GUEST,
        },
    };
    fed.remote_bytes("ready", "bench", b"1", &[other])
        .expect("ready");
    fed.get_bytes("ready", "bench", other).expect("ready");
    let started = Instant::now();
    Intersection.run(&ctx).expect("intersection");
    let secs = started.elapsed().as_secs_f64();
    let (_, out) = tracker.output_data().pop().expect("output");
    let phases = tracker
        .info_lines()
        .into_iter()
        .find(|l| l.starts_with("phases:"))
        .unwrap_or_default();
    println!(
        "BENCH role={role} rows={rows} secs={secs:.2} vmhwm_mb={:.0} out={}.{} {phases}",
        peak_rss_mb().unwrap_or(-1.0),
        out.namespace,
        out.name
    );
}

fn field<'l>(line: &'l str, key: &str) -> &'l str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("?")
}

fn digests(store: &Path, table: &str) -> Vec<u64> {
    let store = LocalTableStore::open(store).expect("store");
    let (ns, name) = table.split_once('.').expect("ns.name");
    let id = TableId::new(ns, name).expect("id");
    read_blocks(&store, &id, 1 << 16)
        .expect("read")
        .map(|b| sid_digest(b.expect("block").sids()))
        .collect()
}

/// The driver: both parties as processes per size and method; prints a table, and
/// checks that their outputs are aligned and hold 80 % of the rows.
#[test]
#[ignore = "a bench: run in release with --ignored --nocapture"]
fn bench_intersection_two_processes() {
    let sizes = std::env::var("FATEFLOW_BENCH_SIZES").unwrap_or_else(|_| "100000".into());
    let methods = std::env::var("FATEFLOW_BENCH_METHODS").unwrap_or_else(|_| "ecdh".into());
    let exe = std::env::current_exe().expect("exe");
    let mut table = vec![
        "| method | rows per party | guest time | guest peak RSS | host time | host peak RSS |"
            .to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for method in methods.split(',') {
        for rows in sizes.split(',') {
            let dir = tempfile::tempdir().expect("dir");
            std::fs::create_dir_all(dir.path().join("messages")).expect("messages");
            let children: Vec<_> = ["guest", "host"]
                .iter()
                .map(|role| {
                    std::process::Command::new(&exe)
                        .args([
                            "--exact",
                            "intersection::bench::bench_intersection_party",
                            "--ignored",
                            "--nocapture",
                        ])
                        .env("FATEFLOW_BENCH_ROLE", role)
                        .env("FATEFLOW_BENCH_ROWS", rows)
                        .env("FATEFLOW_BENCH_METHOD", method)
                        .env("FATEFLOW_BENCH_DIR", dir.path())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .expect("spawn")
                })
                .collect();
            let lines: Vec<String> = children
                .into_iter()
                .map(|c| {
                    let out = c.wait_with_output().expect("wait");
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    assert!(out.status.success(), "{text}");
                    let line = text
                        .lines()
                        .find(|l| l.starts_with("BENCH"))
                        .expect("BENCH line")
                        .to_owned();
                    eprintln!("{method} {line}");
                    line
                })
                .collect();
            let n: usize = rows.parse().expect("rows");
            let (g, h) = (&lines[0], &lines[1]);
            let gd = digests(&dir.path().join("guest_store"), field(g, "out"));
            let hd = digests(&dir.path().join("host_store"), field(h, "out"));
            // FATEFLOW_BENCH_BEFORE: measuring the code before aligned outputs.
            if std::env::var_os("FATEFLOW_BENCH_BEFORE").is_none() {
                assert_eq!(gd, hd, "the outputs are aligned block by block");
            }
            assert_eq!(gd.len(), (n - n / 5).div_ceil(1 << 16));
            table.push(format!(
                "| {method} | {n} | {} s | {} MB | {} s | {} MB |",
                field(g, "secs"),
                field(g, "vmhwm_mb"),
                field(h, "secs"),
                field(h, "vmhwm_mb")
            ));
        }
    }
    println!("{}", table.join("\n"));
}

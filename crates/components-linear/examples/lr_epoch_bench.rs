//! Times full-batch HeteroLR epochs on generated data, each party in its own process.
//!
//! ```text
//! cargo run --release -p fateflow-components-linear --example lr_epoch_bench -- \
//!     --rows 100000 [--epochs 2] [--key 1024] [--task-memory-mb 1536] [--dir /tmp/lrbench]
//! ```
//!
//! The guest has `id`, `y` and 10 features, the host 20 features, both the same ids in
//! the same order (what Intersection outputs). The bench writes both tables to a local
//! table store under `--dir`, then starts itself three times (guest, host, arbiter)
//! talking through files in `<dir>/fed` (written to a temporary name, then renamed), and
//! prints each party's epoch log lines (seconds per epoch, idle and overlapped shares)
//! and its peak RSS (`VmHWM`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use fateflow_component_core::context::{Component, ComponentModel, Metric, TableRef, Tracker};
use fateflow_component_core::memory::MemoryBudget;
use fateflow_component_core::testing::{context, peak_rss_mb, FileHub};
use fateflow_component_core::Result;
use fateflow_domain::{Party, Role};
use fateflow_tables::{write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;
const ARBITER: u64 = 10000;

struct Args {
    rows: usize,
    epochs: usize,
    key: u32,
    memory_mb: u64,
    dir: PathBuf,
    role: Option<Role>,
}

fn args() -> Args {
    let mut a = Args {
        rows: 100_000,
        epochs: 2,
        key: 1024,
        memory_mb: 1536,
        dir: std::env::temp_dir().join("lr_epoch_bench"),
        role: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--rows" => a.rows = v.parse().expect("--rows"),
            "--epochs" => a.epochs = v.parse().expect("--epochs"),
            "--key" => a.key = v.parse().expect("--key"),
            "--task-memory-mb" => a.memory_mb = v.parse().expect("--task-memory-mb"),
            "--dir" => a.dir = PathBuf::from(v),
            "--role" => {
                a.role = Some(match v.as_str() {
                    "guest" => Role::Guest,
                    "host" => Role::Host,
                    "arbiter" => Role::Arbiter,
                    other => panic!("unknown role {other}"),
                })
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let a = args();
    match a.role {
        Some(role) => party(&a, role),
        None => lead(&a),
    }
}

/// Generates the tables, runs the three parties and reports.
fn lead(a: &Args) {
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(a.dir.join("fed")).unwrap();
    let started = Instant::now();
    generate(&a.dir.join("store"), a.rows);
    eprintln!(
        "generated {} rows per party in {:.1} s",
        a.rows,
        started.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let children: Vec<(&str, std::process::Child)> = ["guest", "host", "arbiter"]
        .into_iter()
        .map(|role| {
            let child = Command::new(&exe)
                .args([
                    "--rows",
                    &a.rows.to_string(),
                    "--epochs",
                    &a.epochs.to_string(),
                    "--key",
                    &a.key.to_string(),
                    "--task-memory-mb",
                    &a.memory_mb.to_string(),
                    "--dir",
                    a.dir.to_str().unwrap(),
                    "--role",
                    role,
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            (role, child)
        })
        .collect();
    for (role, child) in children {
        let out = child.wait_with_output().unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("{role}: {line}");
        }
        assert!(out.status.success(), "{role} failed");
    }
    println!(
        "rows {} epochs {} key {}: {:.1} s for the whole task",
        a.rows,
        a.epochs,
        a.key,
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&a.dir);
}

/// A SplitMix64 stream, for reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn generate(store: &Path, rows: usize) {
    let store = LocalTableStore::open(store).unwrap();
    let mut rng = Rng(7);
    let sids: Vec<String> = (0..rows).map(|i| format!("id{i:09}")).collect();
    let mut guest = Vec::with_capacity(rows * 11);
    let mut host = Vec::with_capacity(rows * 20);
    for _ in 0..rows {
        let xg: Vec<f64> = (0..10).map(|_| rng.unit()).collect();
        let xh: Vec<f64> = (0..20).map(|_| rng.unit()).collect();
        let score: f64 = xg
            .iter()
            .enumerate()
            .map(|(j, x)| x * (j as f64 - 4.5) / 5.0)
            .sum::<f64>()
            + xh.iter()
                .enumerate()
                .map(|(j, x)| x * (9.5 - j as f64) / 10.0)
                .sum::<f64>()
            + rng.unit();
        guest.push(if score > 0.0 { 1.0 } else { 0.0 });
        guest.extend(xg);
        host.extend(xh);
    }
    let mut gcols = vec!["y".to_string()];
    gcols.extend((0..10).map(|j| format!("x{j}")));
    let hcols: Vec<String> = (0..20).map(|j| format!("x{}", j + 10)).collect();
    let g = Frame::new("id", gcols, sids.clone(), guest)
        .unwrap()
        .with_label("y")
        .unwrap();
    let h = Frame::new("id", hcols, sids, host).unwrap();
    for (name, frame) in [("guest", &g), ("host", &h)] {
        let id = TableId::new("bench", name).unwrap();
        write_frame(&store, &id, frame, 4, WriteMode::Replace).unwrap();
    }
}

/// Prints the component's log lines with the time since the party started.
struct Printer(Instant);

impl Tracker for Printer {
    fn log_metric(&self, _: Metric) -> Result<()> {
        Ok(())
    }
    fn save_output_data(&self, _: &str, _: &TableRef) -> Result<()> {
        Ok(())
    }
    fn save_model(&self, _: &str, _: &ComponentModel) -> Result<()> {
        Ok(())
    }
    fn set_summary(&self, _: Value) -> Result<()> {
        Ok(())
    }
    fn progress(&self, _: u8) {}
    fn info(&self, line: &str) {
        println!("[{:7.1} s] {line}", self.0.elapsed().as_secs_f64());
    }
}

fn party(a: &Args, role: Role) {
    let started = Instant::now();
    let store = LocalTableStore::open(a.dir.join("store")).unwrap();
    let tracker = Printer(started);
    let party_id = match role {
        Role::Guest => GUEST,
        Role::Host => HOST,
        _ => ARBITER,
    };
    let fed = FileHub::new(a.dir.join("fed"), Party { role, party_id });
    let params = json!({
        "max_iter": a.epochs, "batch_size": -1, "tol": 0.0, "early_stop": "diff",
        "optimizer": "rmsprop", "learning_rate": 0.15, "alpha": 0.01, "penalty": "L2",
        "init_param": {"init_method": "zeros"},
        "encrypt_param": {"key_length": a.key}
    });
    let mut c = context("hetero_lr_0", "HeteroLR", params, &store, &tracker);
    c.role = role;
    c.party_id = party_id;
    c.roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, vec![HOST]),
        (Role::Arbiter, vec![ARBITER]),
    ]);
    c.federation = Some(&fed);
    c.memory = MemoryBudget::from_mb(a.memory_mb);
    let table = match role {
        Role::Guest => Some("guest"),
        Role::Host => Some("host"),
        _ => None,
    };
    if let Some(t) = table {
        c.inputs
            .data
            .insert("train_data".into(), vec![TableRef::new("bench", t)]);
    }
    fateflow_components_linear::HeteroLR.run(&c).unwrap();
    println!(
        "done in {:.1} s; peak RSS {:.0} MB",
        started.elapsed().as_secs_f64(),
        peak_rss_mb().unwrap_or(f64::NAN)
    );
}

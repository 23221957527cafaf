//! HeteroFeatureBinning at scale: a guest (id, y, 10 features) and a host (id, 20
//! features) with the same ids in the same order (as Intersection writes them), each
//! party a separate process talking through message files, `quantile`, `bin_num` 10,
//! FATE's default 2048-bit key. Prints each party's wall time and peak RSS (VmHWM).
//!
//! `cargo run --release -p fateflow-components-feature --example binning_scale -- <dir> <rows>...`
//!
//! (`<dir>` is created and emptied; `gen`, `party` are the sub-steps it runs itself.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fateflow_component_core::testing::{context, peak_rss_mb, FileHub, RecordingTracker};
use fateflow_component_core::TableRef;
use fateflow_domain::{Party, Role};
use fateflow_tables::{FrameWriter, LocalTableStore, TableId, TableSchema, WriteMode};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;
const PARTITIONS: u32 = 4;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn generate(store: &LocalTableStore, rows: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let write = |name: &str, label: bool, features: usize, rng: &mut Rng| {
        let mut header: Vec<String> = Vec::new();
        if label {
            header.push("y".into());
        }
        header.extend((0..features).map(|i| format!("x{i}")));
        let mut schema = TableSchema::new("id", header);
        if label {
            schema.label_name = Some("y".into());
        }
        let id = TableId::new("scale", name).unwrap();
        let mut w =
            FrameWriter::create(store, &id, schema, PARTITIONS, WriteMode::Replace).unwrap();
        let mut row = Vec::with_capacity(features + 1);
        for i in 0..rows {
            row.clear();
            let score = (i % 97) as f64 / 97.0;
            if label {
                row.push(if rng.unit() < 0.2 + 0.6 * score {
                    1.0
                } else {
                    0.0
                });
            }
            for f in 0..features {
                row.push(((score + rng.unit()) * (f + 1) as f64 * 1000.0).round() / 1000.0);
            }
            w.push(&format!("id{i:09}"), &row).unwrap();
        }
        w.finish().unwrap();
    };
    write("guest", true, 10, &mut rng);
    write("host", false, 20, &mut rng);
}

/// User + system CPU seconds of this process (from /proc/self/stat, 100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (tick(11) + tick(12)) / 100.0
}

fn party(dir: &Path, role: Role) {
    let store = LocalTableStore::open(dir.join("store")).unwrap();
    let (id, table) = match role {
        Role::Guest => (GUEST, "guest"),
        _ => (HOST, "host"),
    };
    let fed = FileHub::new(dir.join("messages"), Party { role, party_id: id });
    let tracker = RecordingTracker::new();
    let mut c = context(
        "hetero_feature_binning_0",
        "HeteroFeatureBinning",
        serde_json::json!({"method": "quantile", "bin_num": 10}),
        &store,
        &tracker,
    );
    c.role = role;
    c.party_id = id;
    c.roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    c.federation = Some(&fed);
    c.inputs
        .data
        .insert("data".into(), vec![TableRef::new("scale", table)]);
    let start = Instant::now();
    let result = fateflow_components_feature::HeteroFeatureBinning.run(&c);
    let wall = start.elapsed().as_secs_f64();
    for line in tracker.info_lines() {
        eprintln!("{role}: {line}");
    }
    if let Err(e) = result {
        eprintln!("{role}: failed: {e}");
        std::process::exit(1);
    }
    println!(
        "{wall:.2} {:.0} {:.1}",
        peak_rss_mb().unwrap_or(f64::NAN),
        cpu_seconds()
    );
}

use fateflow_component_core::Component;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let store = LocalTableStore::open(Path::new(&args[1]).join("store")).unwrap();
            generate(&store, args[2].parse().unwrap());
        }
        Some("party") => party(
            Path::new(&args[1]),
            if args[2] == "guest" {
                Role::Guest
            } else {
                Role::Host
            },
        ),
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let exe = std::env::current_exe().unwrap();
            println!(
                "| rows per party | guest wall | guest CPU | guest peak RSS | host wall | host CPU | host peak RSS |"
            );
            println!("|---|---|---|---|---|---|---|");
            for rows in &args[1..] {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(dir.join("messages")).unwrap();
                let status = Command::new(&exe)
                    .args(["gen", dir.to_str().unwrap(), rows])
                    .status()
                    .unwrap();
                assert!(status.success());
                let spawn = |role: &str| {
                    Command::new(&exe)
                        .args(["party", dir.to_str().unwrap(), role])
                        .stderr(std::fs::File::create(dir.join(format!("{role}.log"))).unwrap())
                        .output()
                };
                let (guest, host) = std::thread::scope(|s| {
                    let g = s.spawn(|| spawn("guest"));
                    let h = s.spawn(|| spawn("host"));
                    (g.join().unwrap().unwrap(), h.join().unwrap().unwrap())
                });
                let parse = |o: &std::process::Output, role: &str| -> (String, String, String) {
                    if !o.status.success() {
                        let log = std::fs::read_to_string(dir.join(format!("{role}.log")));
                        panic!("{role} failed: {log:?}");
                    }
                    let text = String::from_utf8_lossy(&o.stdout).to_string();
                    let mut it = text.split_whitespace();
                    let mut next = || it.next().unwrap_or("?").to_owned();
                    (next(), next(), next())
                };
                let (gt, gm, gc) = parse(&guest, "guest");
                let (ht, hm, hc) = parse(&host, "host");
                println!("| {rows} | {gt} s | {gc} s | {gm} MB | {ht} s | {hc} s | {hm} MB |");
                for role in ["guest", "host"] {
                    let _ = std::fs::copy(
                        dir.join(format!("{role}.log")),
                        std::env::temp_dir().join(format!("binning_scale_{rows}_{role}.log")),
                    );
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        None => eprintln!("usage: binning_scale <dir> <rows>..."),
    }
}

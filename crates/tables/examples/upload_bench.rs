//! Measures upload, read and download throughput on `default_credit_hetero_guest.csv`
//! (30,000 rows, 15 columns).
//!
//! Run with: `cargo run --release -p fateflow-tables --example upload_bench [ROUNDS] [PARTITIONS]`

use std::path::Path;
use std::time::{Duration, Instant};

use fateflow_tables::{
    download_csv, read_all, upload_csv_file, LocalTableStore, TableId, UploadOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let partitions: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/default_credit_hetero_guest.csv");
    let bytes = std::fs::metadata(&source)?.len();
    let dir = tempfile::tempdir()?;
    let store = LocalTableStore::open(dir.path())?;

    let mut upload = Duration::MAX;
    let mut read = Duration::MAX;
    let mut download = Duration::MAX;
    let mut rows = 0;
    for round in 0..rounds {
        let mut options = UploadOptions::new("bench", "default_credit");
        options.partitions = partitions;
        options.drop = round > 0;

        let start = Instant::now();
        rows = upload_csv_file(&store, &source, &options)?.count;
        upload = upload.min(start.elapsed());

        let id = TableId::new("bench", "default_credit")?;
        let start = Instant::now();
        let frame = read_all(&store, &id)?;
        read = read.min(start.elapsed());
        assert_eq!(frame.nrows() as u64, rows);

        let start = Instant::now();
        download_csv(&store, &id, std::io::sink(), None)?;
        download = download.min(start.elapsed());
    }

    let per_sec = |d: Duration| rows as f64 / d.as_secs_f64();
    println!("{rows} rows, {bytes} bytes, {partitions} partitions, best of {rounds}");
    println!(
        "upload:   {:>8.1} ms  {:>10.0} rows/s  {:>6.1} MB/s",
        upload.as_secs_f64() * 1e3,
        per_sec(upload),
        bytes as f64 / upload.as_secs_f64() / 1e6
    );
    println!(
        "read_all: {:>8.1} ms  {:>10.0} rows/s",
        read.as_secs_f64() * 1e3,
        per_sec(read)
    );
    println!(
        "download: {:>8.1} ms  {:>10.0} rows/s",
        download.as_secs_f64() * 1e3,
        per_sec(download)
    );
    Ok(())
}

//! Load generator for online inference (`bench/serving.sh`): FATE-Serving requests to
//! a guest site on loopback, bounded in count and time, from several threads with
//! keep-alive connections. Prints latency percentiles and throughput.
//!
//! serving_load --url http://127.0.0.1:9380 --service lr --rows guest.csv
//!              [--threads 8] [--requests 20000] [--seconds 30] [--batch N] [--warmup 200]

use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    service: String,
    rows: String,
    threads: usize,
    requests: u64,
    seconds: f64,
    batch: usize,
    warmup: u64,
}

fn parse() -> Args {
    let mut a = Args {
        url: String::new(),
        service: String::new(),
        rows: String::new(),
        threads: 8,
        requests: 20_000,
        seconds: 30.0,
        batch: 0,
        warmup: 200,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].as_str() {
            "--url" => a.url = v,
            "--service" => a.service = v,
            "--rows" => a.rows = v,
            "--threads" => a.threads = v.parse().expect("--threads"),
            "--requests" => a.requests = v.parse().expect("--requests"),
            "--seconds" => a.seconds = v.parse().expect("--seconds"),
            "--batch" => a.batch = v.parse().expect("--batch"),
            "--warmup" => a.warmup = v.parse().expect("--warmup"),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    assert!(
        !a.url.is_empty() && !a.service.is_empty() && !a.rows.is_empty(),
        "--url, --service and --rows are needed"
    );
    a
}

/// The guest CSV's rows as (id, featureData), label left out.
fn rows(path: &str) -> Vec<(String, Map<String, Value>)> {
    let text = std::fs::read_to_string(path).expect("read --rows");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let f = header
                .iter()
                .zip(&cells)
                .skip(1)
                .filter(|(h, _)| **h != "y")
                .map(|(h, v)| {
                    (
                        (*h).to_string(),
                        json!(v.parse::<f64>().unwrap_or(f64::NAN)),
                    )
                })
                .collect();
            (cells[0].to_string(), f)
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let a = Arc::new(parse());
    let data = Arc::new(rows(&a.rows));
    let (route, unit) = if a.batch > 0 {
        ("batchInference", "batches")
    } else {
        ("inference", "requests")
    };
    let endpoint = format!("{}/federation/v1/{route}", a.url.trim_end_matches('/'));
    let body_of = move |data: &[(String, Map<String, Value>)], k: u64, a: &Args| -> String {
        if a.batch == 0 {
            let (id, f) = &data[(k as usize) % data.len()];
            json!({"head": {"serviceId": a.service}, "body": {"featureData": f, "sendToRemoteFeatureData": {"id": id}}}).to_string()
        } else {
            let list: Vec<Value> = (0..a.batch)
                .map(|j| {
                    let (id, f) = &data[(k as usize * a.batch + j) % data.len()];
                    json!({"index": j, "featureData": f, "sendToRemoteFeatureData": {"id": id}})
                })
                .collect();
            json!({"head": {"serviceId": a.service}, "body": {"batchDataList": list}}).to_string()
        }
    };
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    // Warm-up: connections, caches.
    {
        let client = reqwest::blocking::Client::new();
        for k in 0..a.warmup {
            let _ = client
                .post(&endpoint)
                .header("Content-Type", "application/json")
                .body(body_of(&data, k, &a))
                .send()
                .and_then(|r| r.text());
        }
    }
    let t0 = Instant::now();
    let handles: Vec<_> = (0..a.threads.max(1))
        .map(|_| {
            let (a, data, next, errors, endpoint) = (
                a.clone(),
                data.clone(),
                next.clone(),
                errors.clone(),
                endpoint.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut lat = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= a.requests || Instant::now() > deadline {
                        break;
                    }
                    let body = body_of(&data, k, &a);
                    let t = Instant::now();
                    let ok = client
                        .post(&endpoint)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .and_then(|r| r.text())
                        .ok()
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        .is_some_and(|v| v["retcode"] == 0);
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = t0.elapsed().as_secs_f64();
    lat.sort_by(|x, y| x.total_cmp(y));
    let n = lat.len();
    println!(
        "SERVING_RESULT {}",
        json!({
            "route": route, "threads": a.threads, "batch": a.batch, unit: n,
            "errors": errors.load(Ordering::Relaxed), "seconds": wall,
            "per_second": n as f64 / wall, "rows_per_second": (n * a.batch.max(1)) as f64 / wall,
            "p50_ms": percentile(&lat, 50.0), "p90_ms": percentile(&lat, 90.0),
            "p99_ms": percentile(&lat, 99.0), "max_ms": lat.last().copied().unwrap_or(f64::NAN),
        })
    );
}

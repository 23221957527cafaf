use std::time::Instant;

use fateflow_component_core::rng::SplitMix;
use fateflow_component_core::testing::{
    ctx, temp_store, upload, upload_example, MemoryHub, RecordingTracker,
};
use fateflow_component_core::TableRef;
use fateflow_tables::LocalTableStore;
use serde_json::{json, Value};

use super::*;

fn unit(rng: &mut SplitMix) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Plain Pearson correlation of two columns (two passes).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va.sqrt() * vb.sqrt())
}

/// The diagonal of the inverse by Gauss–Jordan elimination with partial pivoting.
fn inverse_diagonal(m: &[f64], k: usize) -> Vec<f64> {
    let mut a = m.to_vec();
    let mut inv: Vec<f64> = (0..k * k)
        .map(|i| if i % (k + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    for c in 0..k {
        let p = (c..k)
            .max_by(|&x, &y| a[x * k + c].abs().total_cmp(&a[y * k + c].abs()))
            .unwrap();
        for j in 0..k {
            a.swap(c * k + j, p * k + j);
            inv.swap(c * k + j, p * k + j);
        }
        let d = a[c * k + c];
        for j in 0..k {
            a[c * k + j] /= d;
            inv[c * k + j] /= d;
        }
        for r in 0..k {
            if r != c {
                let f = a[r * k + c];
                for j in 0..k {
                    a[r * k + j] -= f * a[c * k + j];
                    inv[r * k + j] -= f * inv[c * k + j];
                }
            }
        }
    }
    (0..k).map(|i| inv[i * k + i]).collect()
}

#[test]
fn vif_equals_the_inverse_diagonal() {
    let mut rng = SplitMix(3);
    for k in [1usize, 2, 5, 9] {
        let n = 400;
        let base: Vec<f64> = (0..n).map(|_| unit(&mut rng)).collect();
        let cols: Vec<Vec<f64>> = (0..k)
            .map(|j| {
                (0..n)
                    .map(|i| base[i] * (j as f64 * 0.3) + unit(&mut rng))
                    .collect()
            })
            .collect();
        let (_, std) = standardize(&cols);
        let corr = correlation(&std, n as f64);
        let vif = vif_from_correlation(&corr, k);
        let want = inverse_diagonal(&corr, k);
        for (v, w) in vif.iter().zip(&want) {
            assert!((v - w).abs() < 1e-9 * w.abs().max(1.0), "k={k}: {v} vs {w}");
        }
    }
}

#[test]
fn eigenvalues_of_a_known_matrix() {
    // [[2,1],[1,2]] has eigenvalues 1 and 3.
    let mut e = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
    e.sort_by(f64::total_cmp);
    assert!(
        (e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12,
        "{e:?}"
    );
}

fn upload_columns(store: &LocalTableStore, name: &str, columns: &[Vec<f64>]) -> TableRef {
    let n = columns[0].len();
    let mut csv = String::from("id");
    for j in 0..columns.len() {
        csv.push_str(&format!(",x{j}"));
    }
    csv.push('\n');
    for i in 0..n {
        csv.push_str(&format!("r{i}"));
        for c in columns {
            csv.push_str(&format!(",{}", c[i]));
        }
        csv.push('\n');
    }
    upload(store, name, &csv)
}

fn run_one(
    store: &LocalTableStore,
    table: &TableRef,
    params: Value,
) -> Result<(PearsonModel, Value)> {
    let tracker = RecordingTracker::new();
    let mut c = ctx(store, &tracker, "hetero_pearson_0", MODULE, params);
    c.inputs
        .data
        .insert("train_data".into(), vec![table.clone()]);
    HeteroPearson.run(&c)?;
    let (_, model) = tracker.models().pop().expect("a model");
    let metric = tracker
        .metric("statistic", "correlation")
        .expect("the metric");
    assert_eq!(metric.meta["metric_type"], "CORRELATION_GRAPH");
    Ok((
        PearsonModel::from_component_model(&model).expect("model parses"),
        tracker.summary().expect("a summary"),
    ))
}

#[test]
fn local_only_matches_plain_pearson_and_drops_constant_columns() {
    let (_dir, store) = temp_store();
    let mut rng = SplitMix(9);
    let n = 300;
    let a: Vec<f64> = (0..n).map(|_| unit(&mut rng)).collect();
    let b: Vec<f64> = a.iter().map(|x| x * 2.0 + unit(&mut rng)).collect();
    let constant = vec![0.1; n];
    let t = upload_columns(&store, "t", &[a.clone(), constant, b.clone()]);
    let (model, summary) = run_one(
        &store,
        &t,
        json!({"column_indexes": -1, "cross_parties": false}),
    )
    .unwrap();
    let p = &model.param;
    assert_eq!(p.shape, 3);
    assert!((p.local_corr[2] - pearson(&a, &b)).abs() < 1e-12);
    assert!(p.local_corr[1].is_nan() && p.local_corr[4].is_nan());
    assert!((p.local_corr[0] - 1.0).abs() < 1e-12);
    assert!(p.local_vif[1].is_nan());
    let r2 = pearson(&a, &b).powi(2);
    assert!((p.local_vif[0] - 1.0 / (1.0 - r2)).abs() < 1e-9);
    assert_eq!(summary["num_local_features"], 3);
    assert!(summary.get("corr").is_none());
    assert_eq!(p.parties, vec!["(guest,9999)"]);

    // A subset by name and index.
    let (model, _) = run_one(
        &store,
        &t,
        json!({"column_indexes": [2], "column_names": ["x0"], "cross_parties": false, "calc_local_vif": false}),
    )
    .unwrap();
    assert_eq!(model.param.names, vec!["x0", "x2"]);
    assert!(model.param.local_vif.is_empty());
    let e = run_one(
        &store,
        &t,
        json!({"column_indexes": [7], "cross_parties": false}),
    )
    .unwrap_err();
    assert!(e.to_string().contains("column_indexes"), "{e}");
    let e = run_one(
        &store,
        &t,
        json!({"column_names": ["nope"], "cross_parties": false}),
    )
    .unwrap_err();
    assert!(e.to_string().contains("column_names"), "{e}");
}

/// Runs guest and host on threads; returns both models and the elapsed time.
fn run_pair(
    store: &LocalTableStore,
    guest_table: &TableRef,
    host_table: &TableRef,
    params: Value,
) -> (PearsonModel, PearsonModel, std::time::Duration) {
    let hub = MemoryHub::new();
    let roles =
        std::collections::BTreeMap::from([(Role::Guest, vec![9999]), (Role::Host, vec![10000])]);
    let run = |role: Role, party_id: u64, table: &TableRef| {
        let fed = hub.party(role, party_id);
        let tracker = RecordingTracker::new();
        let mut c = ctx(store, &tracker, "hetero_pearson_0", MODULE, params.clone());
        c.role = role;
        c.party_id = party_id;
        c.roles = roles.clone();
        c.federation = Some(&fed);
        c.inputs
            .data
            .insert("train_data".into(), vec![table.clone()]);
        HeteroPearson.run(&c).expect("run");
        for line in tracker.info_lines() {
            eprintln!("{role}: {line}");
        }
        let (_, model) = tracker.models().pop().expect("a model");
        PearsonModel::from_component_model(&model).expect("model parses")
    };
    let start = Instant::now();
    let (g, h) = std::thread::scope(|s| {
        let run = &run;
        let g = s.spawn(move || run(Role::Guest, 9999, guest_table));
        let h = s.spawn(move || run(Role::Host, 10000, host_table));
        (g.join().unwrap(), h.join().unwrap())
    });
    (g, h, start.elapsed())
}

fn columns_of(csv_file: &str, skip: usize) -> Vec<Vec<f64>> {
    let text =
        std::fs::read_to_string(fateflow_component_core::testing::data_file(csv_file)).unwrap();
    let mut lines = text.lines();
    let ncols = lines.next().unwrap().split(',').count() - 1 - skip;
    let mut cols = vec![Vec::new(); ncols];
    for line in lines {
        for (j, v) in line.split(',').skip(1 + skip).enumerate() {
            cols[j].push(v.parse::<f64>().unwrap());
        }
    }
    cols
}

#[test]
fn cross_parties_match_plain_pearson_on_default_credit() {
    let (_dir, store) = temp_store();
    let g = upload_example(&store, "default_credit_hetero_guest.csv");
    let h = upload_example(&store, "default_credit_hetero_host.csv");
    // The raw upload has no label: the guest's `y` is a feature column here.
    let gc = columns_of("default_credit_hetero_guest.csv", 0);
    let hc = columns_of("default_credit_hetero_host.csv", 0);
    let (gm, hm, elapsed) = run_pair(
        &store,
        &g,
        &h,
        json!({"column_indexes": -1, "fixpoint_bit_length": 1024}),
    );
    let (m1, m2) = (gc.len(), hc.len());
    assert_eq!(gm.param.shapes, vec![m1, m2]);
    assert_eq!(gm.param.corr.len(), m1 * m2);
    let mut max_diff = 0f64;
    for (i, g) in gc.iter().enumerate() {
        for (j, h) in hc.iter().enumerate() {
            let want = pearson(g, h);
            let (a, b) = (gm.param.corr[i * m2 + j], hm.param.corr[i * m2 + j]);
            assert_eq!(a, b, "both parties learn the same matrix");
            max_diff = max_diff.max((a - want).abs());
        }
    }
    for (i, a) in hc.iter().enumerate() {
        for (j, b) in hc.iter().enumerate() {
            let want = pearson(a, b);
            assert!((hm.param.local_corr[i * m2 + j] - want).abs() < 1e-9);
        }
    }
    eprintln!(
        "HeteroPearson default_credit ({} rows, guest {m1} × host {m2}, key 1024): {elapsed:.2?}, max |corr − plain| = {max_diff:.3e}",
        gc[0].len()
    );
    assert!(max_diff < 1e-6, "max difference {max_diff}");
    assert_eq!(gm.param.all_names[1].names[0], "host_10000_x0");
    assert_eq!(hm.param.all_names[0].names[0], "guest_9999_x0");
    assert_eq!(hm.param.parties, vec!["(guest,9999)", "(host,10000)"]);
}

#[test]
fn a_constant_column_is_nan_across_parties() {
    let (_dir, store) = temp_store();
    let mut rng = SplitMix(5);
    let n = 200;
    let a: Vec<f64> = (0..n).map(|_| unit(&mut rng) * 10.0 - 5.0).collect();
    let b: Vec<f64> = a.iter().map(|x| -x + unit(&mut rng)).collect();
    let g = upload_columns(&store, "g", &[a.clone(), vec![3.0; n]]);
    let h = upload_columns(&store, "h", &[vec![1.0; n], b.clone()]);
    let (gm, _, _) = run_pair(
        &store,
        &g,
        &h,
        json!({"column_indexes": -1, "fixpoint_bit_length": 1024}),
    );
    let c = &gm.param.corr;
    assert!(c[0].is_nan() && c[2].is_nan() && c[3].is_nan());
    assert!((c[1] - pearson(&a, &b)).abs() < 1e-6);
}

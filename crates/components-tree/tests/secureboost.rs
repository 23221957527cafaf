//! HeteroSecureBoost with guest and hosts on threads over an in-memory data plane:
//! the federated, encrypted model against an independent plaintext implementation of
//! the same tree growth, quality on FATE's data sets, predict mode, and bad input.

use std::collections::BTreeMap;

use fateflow_component_core::testing::{
    context, temp_store, upload_example, MemoryHub, RecordingTracker,
};
use fateflow_component_core::{Component, ComponentModel, ModelInput, Result, TableRef};
use fateflow_components_eval::evaluation::metrics;
use fateflow_components_feature::binning::quantile::{
    bin_of, quantile_split_points, QuantileSummary,
};
use fateflow_components_tree::HeteroSecureBoost;
use fateflow_domain::Role;
use fateflow_tables::{read_all, write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOSTS: [u64; 2] = [10000, 10001];

/// `frame` stored as `experiment.<name>`, with `label` as its label column.
fn store_frame(store: &LocalTableStore, name: &str, frame: Frame, label: Option<&str>) -> TableRef {
    let frame = match label {
        Some(l) => frame.with_label(l).unwrap(),
        None => frame,
    };
    let id = TableId::new("experiment", name).unwrap();
    write_frame(store, &id, &frame, 4, WriteMode::Replace).unwrap();
    TableRef::new("experiment", name)
}

fn labeled(store: &LocalTableStore, file: &str, label: Option<&str>) -> TableRef {
    let raw = upload_example(store, file);
    let frame = read_all(store, &TableId::new(&raw.namespace, &raw.name).unwrap()).unwrap();
    store_frame(store, &format!("{}_l", raw.name), frame, label)
}

struct Party<'a> {
    role: Role,
    id: u64,
    data: Vec<(&'static str, TableRef)>,
    model: Option<ComponentModel>,
    tracker: &'a RecordingTracker,
}

fn run_parties(
    store: &LocalTableStore,
    params: &Value,
    parties: Vec<Party<'_>>,
) -> Vec<Result<()>> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(60));
    let mut roles: BTreeMap<Role, Vec<u64>> = BTreeMap::new();
    for p in &parties {
        roles.entry(p.role).or_default().push(p.id);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .into_iter()
            .map(|p| {
                let fed = hub.party(p.role, p.id);
                let roles = roles.clone();
                let params = params.clone();
                s.spawn(move || {
                    let mut c = context(
                        "hetero_secure_boost_0",
                        "HeteroSecureBoost",
                        params,
                        store,
                        p.tracker,
                    );
                    c.role = p.role;
                    c.party_id = p.id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    for (key, t) in p.data {
                        c.inputs.data.insert(key.into(), vec![t]);
                    }
                    c.inputs.model.extend(p.model.map(|model| ModelInput {
                        component: "hetero_secure_boost_0".into(),
                        alias: "model".into(),
                        model,
                    }));
                    HeteroSecureBoost.run(&c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Trains with one guest table and one table per host; returns the trackers.
fn train(
    store: &LocalTableStore,
    params: &Value,
    guest: &TableRef,
    hosts: &[TableRef],
) -> (RecordingTracker, Vec<RecordingTracker>, Vec<Result<()>>) {
    let g = RecordingTracker::new();
    let hs: Vec<RecordingTracker> = hosts.iter().map(|_| RecordingTracker::new()).collect();
    let mut parties = vec![Party {
        role: Role::Guest,
        id: GUEST,
        data: vec![("train_data", guest.clone())],
        model: None,
        tracker: &g,
    }];
    for (i, t) in hosts.iter().enumerate() {
        parties.push(Party {
            role: Role::Host,
            id: HOSTS[i],
            data: vec![("train_data", t.clone())],
            model: None,
            tracker: &hs[i],
        });
    }
    let results = run_parties(store, params, parties);
    (g, hs, results)
}

/// `(sid → (label, predict_result, predict_score, detail...))` of the guest's output.
fn output(
    store: &LocalTableStore,
    tracker: &RecordingTracker,
) -> (Vec<String>, BTreeMap<String, Vec<f64>>) {
    let (_, t) = tracker.output_data().pop().expect("guest output");
    let frame = read_all(store, &TableId::new(&t.namespace, &t.name).unwrap()).unwrap();
    let rows = frame
        .sids()
        .iter()
        .cloned()
        .zip(frame.rows().map(<[f64]>::to_vec))
        .collect();
    (frame.columns().to_vec(), rows)
}

fn auc(rows: &BTreeMap<String, Vec<f64>>) -> f64 {
    let labels: Vec<bool> = rows.values().map(|r| r[0] == 1.0).collect();
    let scores: Vec<f64> = rows.values().map(|r| r[2]).collect();
    metrics::auc(&labels, &scores).unwrap()
}

// ---------------------------------------------------------------------------------
// An independent plaintext implementation: all parties' features in one process, f64
// sums, FATE's gain, truncation and tie rules.

fn trunc(x: f64) -> f64 {
    (x * 1e10).floor() / 1e10
}

struct PlainTree {
    /// (party, feature, split value, missing_dir, left, right) or leaf weight.
    nodes: Vec<Result2>,
}

enum Result2 {
    Split {
        party: usize,
        f: usize,
        value: f64,
        missing_left: bool,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

/// Binary cross-entropy boosting over `parties` (column-major features per party, the
/// guest first), `rounds` trees of `depth`, learning rate `lr`, λ = 0.1, 32 bins.
fn plain_boost(
    parties: &[Vec<Vec<f64>>],
    y: &[f64],
    rounds: usize,
    depth: usize,
    lr: f64,
) -> Vec<f64> {
    let n = y.len();
    let lambda = 0.1;
    // Bins as FATE's quantile binning.
    let binned: Vec<Vec<(Vec<f64>, Vec<usize>)>> = parties
        .iter()
        .map(|cols| {
            cols.iter()
                .map(|c| {
                    let mut s = QuantileSummary::new(10_000, 10_000, 1e-4);
                    for &v in c.iter().filter(|v| !v.is_nan()) {
                        s.insert(v);
                    }
                    let sp = quantile_split_points(&mut s, 32);
                    let b = c.iter().map(|&v| bin_of(&sp, v)).collect();
                    (sp, b)
                })
                .collect()
        })
        .collect();
    let mut score: Vec<f64> = vec![0.0; n];
    for _ in 0..rounds {
        let g: Vec<f64> = (0..n)
            .map(|i| 1.0 / (1.0 + (-score[i]).exp()) - y[i])
            .collect();
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let p = 1.0 / (1.0 + (-score[i]).exp());
                p * (1.0 - p)
            })
            .collect();
        let node_gain = |gs: f64, hs: f64| trunc(trunc(gs).powi(2) / (trunc(hs) + lambda));
        let mut tree = PlainTree {
            nodes: vec![Result2::Leaf(0.0)],
        };
        let mut open: Vec<(usize, Vec<usize>)> = vec![(0, (0..n).collect())];
        for d in 0..=depth {
            let mut next = Vec::new();
            for (id, rows) in open {
                let gs: f64 = rows.iter().map(|&i| g[i]).sum();
                let hs: f64 = rows.iter().map(|&i| h[i]).sum();
                let mut chosen: Option<(f64, usize, usize, usize)> = None; // gain, party, f, bin
                let mut party_best: Vec<Option<(f64, usize, usize)>> = vec![None; binned.len()];
                if d < depth && rows.len() >= 2 {
                    for (p, feats) in binned.iter().enumerate() {
                        for (f, (sp, bins)) in feats.iter().enumerate() {
                            for b in 0..sp.len() {
                                let left: Vec<usize> =
                                    rows.iter().copied().filter(|&i| bins[i] <= b).collect();
                                let lc = left.len();
                                if lc == 0 || lc == rows.len() {
                                    continue;
                                }
                                let gl: f64 = left.iter().map(|&i| g[i]).sum();
                                let hl: f64 = left.iter().map(|&i| h[i]).sum();
                                let gain = trunc(
                                    node_gain(gl, hl) + node_gain(gs - gl, hs - hl)
                                        - node_gain(gs, hs),
                                );
                                let floor = party_best[p].map_or(1e-3 - 1e-8, |x| x.0);
                                if gain > 1e-3 && gain > floor + 1e-8 {
                                    party_best[p] = Some((gain, f, b));
                                }
                            }
                        }
                    }
                    let mut host: Option<(f64, usize, usize, usize)> = None;
                    for (p, b) in party_best.iter().enumerate().skip(1) {
                        if let Some((gain, f, bin)) = b {
                            if host.is_none_or(|x| *gain > x.0 + 1e-8) {
                                host = Some((*gain, p, *f, *bin));
                            }
                        }
                    }
                    let guest = party_best[0].map(|(gain, f, b)| (gain, 0, f, b));
                    chosen = match (guest, host) {
                        (Some(g), Some(h)) if g.0 >= h.0 - 1e-8 => Some(g),
                        (g, None) => g,
                        (_, h) => h,
                    };
                    chosen = chosen.filter(|c| c.0 > 1e-3 + 1e-8);
                }
                match chosen {
                    Some((_, p, f, bin)) => {
                        let (sp, bins) = &binned[p][f];
                        let l = tree.nodes.len();
                        tree.nodes.push(Result2::Leaf(0.0));
                        tree.nodes.push(Result2::Leaf(0.0));
                        tree.nodes[id] = Result2::Split {
                            party: p,
                            f,
                            value: sp[bin],
                            missing_left: false,
                            left: l,
                            right: l + 1,
                        };
                        let (lr_, rr): (Vec<usize>, Vec<usize>) =
                            rows.iter().partition(|&&i| bins[i] <= bin);
                        next.push((l, lr_));
                        next.push((l + 1, rr));
                    }
                    None => {
                        let w = trunc(-gs / (hs + lambda));
                        tree.nodes[id] = Result2::Leaf((w * 1e10).round() / 1e10);
                    }
                }
            }
            open = next;
        }
        for i in 0..n {
            let mut id = 0;
            loop {
                match &tree.nodes[id] {
                    Result2::Leaf(w) => {
                        score[i] += lr * w;
                        break;
                    }
                    Result2::Split {
                        party,
                        f,
                        value,
                        missing_left,
                        left,
                        right,
                    } => {
                        let x = parties[*party][*f][i];
                        let go_left = if x.is_nan() {
                            *missing_left
                        } else {
                            x <= *value
                        };
                        id = if go_left { *left } else { *right };
                    }
                }
            }
        }
    }
    score.iter().map(|s| 1.0 / (1.0 + (-s).exp())).collect()
}

fn columns(frame: &Frame, skip: &[&str]) -> Vec<Vec<f64>> {
    frame
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| !skip.contains(&c.as_str()))
        .map(|(j, _)| frame.column(j))
        .collect()
}

fn binary_params(trees: usize) -> Value {
    json!({
        "task_type": "classification",
        "objective_param": {"objective": "cross_entropy"},
        "num_trees": trees,
        "learning_rate": 0.3,
        "n_iter_no_change": false,
        "encrypt_param": {"key_length": 1024},
        "tree_param": {"max_depth": 3},
    })
}

/// The encrypted, federated model scores every training row as the plaintext
/// implementation does (to 1e-9), on breast with one host and with the host's features
/// split over two hosts.
#[test]
fn encryption_does_not_change_the_model() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let gframe = read_all(&store, &TableId::new("experiment", &guest.name).unwrap()).unwrap();
    let hframe = read_all(&store, &TableId::new("experiment", &host.name).unwrap()).unwrap();
    // The host's table in another row order: rows are matched by id.
    let mut order: Vec<usize> = (0..hframe.nrows()).collect();
    order.reverse();
    let sids: Vec<String> = order.iter().map(|&i| hframe.sids()[i].clone()).collect();
    let values: Vec<f64> = order
        .iter()
        .flat_map(|&i| hframe.rows().nth(i).unwrap().to_vec())
        .collect();
    let host_rev = store_frame(
        &store,
        "breast_host_rev",
        Frame::new(hframe.sid_name(), hframe.columns().to_vec(), sids, values).unwrap(),
        None,
    );
    let gy = gframe.column(gframe.column_index("y").unwrap());
    let gcols = columns(&gframe, &["y"]);
    let hcols = columns(&hframe, &[]);
    let expected = plain_boost(&[gcols.clone(), hcols.clone()], &gy, 3, 3, 0.3);

    let (g, _, results) = train(&store, &binary_params(3), &guest, &[host_rev]);
    for r in &results {
        r.as_ref().unwrap();
    }
    let (_, rows) = output(&store, &g);
    let mut worst = 0.0f64;
    for (i, sid) in gframe.sids().iter().enumerate() {
        worst = worst.max((rows[sid][2] - expected[i]).abs());
    }
    assert!(worst < 1e-9, "largest score difference {worst}");
    let a = auc(&rows);
    assert!((a - 0.9954).abs() < 0.005, "breast 3 trees AUC {a}");

    // Two hosts holding ten host features each.
    let split = |range: std::ops::Range<usize>, name: &str| {
        let cols: Vec<String> = hframe.columns()[range.clone()].to_vec();
        let values: Vec<f64> = hframe
            .rows()
            .flat_map(|r| r[range.clone()].to_vec())
            .collect();
        store_frame(
            &store,
            name,
            Frame::new(hframe.sid_name(), cols, hframe.sids().to_vec(), values).unwrap(),
            None,
        )
    };
    let h1 = split(0..10, "breast_h1");
    let h2 = split(10..20, "breast_h2");
    let expected2 = plain_boost(
        &[gcols, hcols[..10].to_vec(), hcols[10..].to_vec()],
        &gy,
        3,
        3,
        0.3,
    );
    let (g, _, results) = train(&store, &binary_params(3), &guest, &[h1, h2]);
    for r in &results {
        r.as_ref().unwrap();
    }
    let (_, rows) = output(&store, &g);
    let worst = gframe
        .sids()
        .iter()
        .enumerate()
        .map(|(i, sid)| (rows[sid][2] - expected2[i]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-9, "two hosts: largest score difference {worst}");
}

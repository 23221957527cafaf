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
    run_parties_within(store, params, parties, 60)
}

/// As [`run_parties`], a party waiting at most `seconds` for a message.
fn run_parties_within(
    store: &LocalTableStore,
    params: &Value,
    parties: Vec<Party<'_>>,
    seconds: u64,
) -> Vec<Result<()>> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(seconds));
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
    train_within(store, params, guest, hosts, 60)
}

/// As [`train`], a party waiting at most `seconds` for a message (tests where one party
/// fails and the other waits).
fn train_within(
    store: &LocalTableStore,
    params: &Value,
    guest: &TableRef,
    hosts: &[TableRef],
    seconds: u64,
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
    let results = run_parties_within(store, params, parties, seconds);
    (g, hs, results)
}

/// [`train`], every party succeeding.
fn train_ok(
    store: &LocalTableStore,
    params: &Value,
    guest: &TableRef,
    hosts: &[TableRef],
) -> (RecordingTracker, Vec<RecordingTracker>) {
    let (g, hs, results) = train(store, params, guest, hosts);
    for (i, r) in results.iter().enumerate() {
        r.as_ref().unwrap_or_else(|e| panic!("party {i}: {e}"));
    }
    (g, hs)
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

#[derive(Clone, Copy, PartialEq)]
enum Obj {
    Binary,
    /// One tree per class per round.
    Softmax(usize),
    Lse,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softmax(s: &[f64]) -> Vec<f64> {
    let m = s.iter().copied().fold(f64::MIN, f64::max);
    let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
    let t: f64 = e.iter().sum();
    e.iter().map(|v| v / t).collect()
}

/// Binary cross-entropy boosting over `parties` (column-major features per party, the
/// guest first), `rounds` trees of `depth`, learning rate `lr`, λ = 0.1, 32 bins; returns
/// the probability of class 1.
fn plain_boost(
    parties: &[Vec<Vec<f64>>],
    y: &[f64],
    rounds: usize,
    depth: usize,
    lr: f64,
) -> Vec<f64> {
    plain(parties, y, Obj::Binary, rounds, depth, lr)
        .iter()
        .map(|s| sigmoid(s[0]))
        .collect()
}

/// Raw scores per row (one per class for softmax) of plaintext boosting.
fn plain(
    parties: &[Vec<Vec<f64>>],
    y: &[f64],
    obj: Obj,
    rounds: usize,
    depth: usize,
    lr: f64,
) -> Vec<Vec<f64>> {
    plain_weighted(parties, y, None, obj, rounds, depth, lr)
}

/// [`plain`] with sample weights: each row's g and h times its weight.
fn plain_weighted(
    parties: &[Vec<Vec<f64>>],
    y: &[f64],
    weights: Option<&[f64]>,
    obj: Obj,
    rounds: usize,
    depth: usize,
    lr: f64,
) -> Vec<Vec<f64>> {
    let dims = match obj {
        Obj::Softmax(k) => k,
        _ => 1,
    };
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
    let init = if obj == Obj::Lse {
        y.iter().sum::<f64>() / n as f64
    } else {
        0.0
    };
    let mut scores: Vec<Vec<f64>> = vec![vec![init; dims]; n];
    for _ in 0..rounds {
        let start: Vec<Vec<f64>> = scores.clone();
        for k in 0..dims {
            let (g, h): (Vec<f64>, Vec<f64>) = (0..n)
                .map(|i| match obj {
                    Obj::Binary => {
                        let p = sigmoid(start[i][0]);
                        (p - y[i], p * (1.0 - p))
                    }
                    Obj::Softmax(_) => {
                        let p = softmax(&start[i])[k];
                        (
                            p - if y[i] as usize == k { 1.0 } else { 0.0 },
                            p * (1.0 - p),
                        )
                    }
                    Obj::Lse => (2.0 * (start[i][0] - y[i]), 2.0),
                })
                .zip(0..n)
                .map(|((g, h), i)| {
                    let w = weights.map_or(1.0, |w| w[i]);
                    (g * w, h * w)
                })
                .unzip();
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
            for (i, score) in scores.iter_mut().enumerate() {
                let mut id = 0;
                loop {
                    match &tree.nodes[id] {
                        Result2::Leaf(w) => {
                            score[k] += lr * w;
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
    }
    scores
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

    let (g, _) = train_ok(&store, &binary_params(3), &guest, &[host_rev]);
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
    let (g, _) = train_ok(&store, &binary_params(3), &guest, &[h1, h2]);
    let (_, rows) = output(&store, &g);
    let worst = gframe
        .sids()
        .iter()
        .enumerate()
        .map(|(i, sid)| (rows[sid][2] - expected2[i]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-9, "two hosts: largest score difference {worst}");
}

/// Sample weights (a `SampleWeight` column) weight every row's gradient and hessian:
/// the model equals plaintext boosting on weighted g and h, and differs from the
/// unweighted one.
#[test]
fn sample_weights_weight_gradients_and_hessians() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let gframe = read_all(&store, &TableId::new("experiment", &guest.name).unwrap()).unwrap();
    let hframe = read_all(&store, &TableId::new("experiment", &host.name).unwrap()).unwrap();
    let weights: Vec<f64> = (0..gframe.nrows()).map(|i| 0.5 + (i % 3) as f64).collect();
    let (schema, sids, values) = gframe.clone().into_parts();
    let k = schema.header.len();
    let mut with_w = Vec::new();
    for (i, row) in values.chunks(k).enumerate() {
        with_w.extend_from_slice(row);
        with_w.push(weights[i]);
    }
    let mut header = schema.header.clone();
    header.push("w".into());
    let framew = Frame::new(&schema.sid, header, sids, with_w)
        .unwrap()
        .with_label("y")
        .unwrap()
        .with_weight("w")
        .unwrap();
    let weighted = store_frame(&store, "breast_guest_w", framew, Some("y"));
    let gy = gframe.column(gframe.column_index("y").unwrap());
    let parties = [columns(&gframe, &["y"]), columns(&hframe, &[])];
    let expected: Vec<f64> = plain_weighted(&parties, &gy, Some(&weights), Obj::Binary, 3, 3, 0.3)
        .iter()
        .map(|s| sigmoid(s[0]))
        .collect();
    let unweighted = plain_boost(&parties, &gy, 3, 3, 0.3);
    let (g, _) = train_ok(&store, &binary_params(3), &weighted, &[host]);
    let (_, rows) = output(&store, &g);
    let (mut worst, mut moved) = (0.0f64, 0.0f64);
    for (i, sid) in gframe.sids().iter().enumerate() {
        worst = worst.max((rows[sid][2] - expected[i]).abs());
        moved = moved.max((rows[sid][2] - unweighted[i]).abs());
    }
    assert!(worst < 1e-9, "largest score difference {worst}");
    assert!(
        moved > 1e-3,
        "the weights did not change the model ({moved})"
    );
}

fn params(task: &str, objective: &str, trees: usize) -> Value {
    json!({
        "task_type": task,
        "objective_param": {"objective": objective},
        "num_trees": trees,
        "learning_rate": 0.3,
        "n_iter_no_change": false,
        "encrypt_param": {"key_length": 1024},
        "tree_param": {"max_depth": 3},
    })
}

fn frames(store: &LocalTableStore, guest: &TableRef, host: &TableRef) -> (Frame, Frame) {
    let read =
        |t: &TableRef| read_all(store, &TableId::new(&t.namespace, &t.name).unwrap()).unwrap();
    (read(guest), read(host))
}

fn model(t: &RecordingTracker) -> ComponentModel {
    t.models().pop().expect("a model").1
}

/// Runs predict mode with the models of a training run.
fn predict(
    store: &LocalTableStore,
    p: &Value,
    guest: (&TableRef, ComponentModel),
    host: (&TableRef, ComponentModel),
) -> BTreeMap<String, Vec<f64>> {
    let (gp, hp) = (RecordingTracker::new(), RecordingTracker::new());
    let results = run_parties(
        store,
        p,
        vec![
            Party {
                role: Role::Guest,
                id: GUEST,
                data: vec![("test_data", guest.0.clone())],
                model: Some(guest.1),
                tracker: &gp,
            },
            Party {
                role: Role::Host,
                id: HOSTS[0],
                data: vec![("test_data", host.0.clone())],
                model: Some(host.1),
                tracker: &hp,
            },
        ],
    );
    for r in &results {
        r.as_ref().unwrap_or_else(|e| panic!("{p} predict: {e}"));
    }
    output(store, &gp).1
}

/// Multi-class (one tree per class per round, softmax) on vehicle: every class
/// probability equals the plaintext implementation's.
#[test]
fn multi_class_matches_plaintext() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "vehicle_scale_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "vehicle_scale_hetero_host.csv", None);
    let (gf, hf) = frames(&store, &guest, &host);
    let y = gf.column(gf.column_index("y").unwrap());
    // The labels are 1..4; the model maps them to classes 0..3 in ascending order.
    let mut classes = y.clone();
    classes.sort_by(f64::total_cmp);
    classes.dedup();
    let mapped: Vec<f64> = y
        .iter()
        .map(|v| classes.iter().position(|c| c == v).unwrap() as f64)
        .collect();
    let expected = plain(
        &[columns(&gf, &["y"]), columns(&hf, &[])],
        &mapped,
        Obj::Softmax(classes.len()),
        2,
        3,
        0.3,
    );
    let (g, _) = train_ok(
        &store,
        &params("classification", "cross_entropy", 2),
        &guest,
        &[host],
    );
    let (cols, rows) = output(&store, &g);
    let detail: Vec<usize> = (0..cols.len())
        .filter(|&c| cols[c].starts_with("predict_detail."))
        .collect();
    assert_eq!(detail.len(), classes.len(), "{cols:?}");
    let mut worst = 0.0f64;
    let mut correct = 0;
    for (i, sid) in gf.sids().iter().enumerate() {
        let p = softmax(&expected[i]);
        for (k, &c) in detail.iter().enumerate() {
            worst = worst.max((rows[sid][c] - p[k]).abs());
        }
        if rows[sid][1] == rows[sid][0] {
            correct += 1;
        }
    }
    assert!(worst < 1e-9, "largest probability difference {worst}");
    let accuracy = correct as f64 / gf.nrows() as f64;
    assert!(accuracy > 0.6, "vehicle accuracy {accuracy}");
}

/// Least-squares regression on student: predictions equal the plaintext implementation's.
#[test]
fn regression_matches_plaintext() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "student_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "student_hetero_host.csv", None);
    let (gf, hf) = frames(&store, &guest, &host);
    let y = gf.column(gf.column_index("y").unwrap());
    let expected = plain(
        &[columns(&gf, &["y"]), columns(&hf, &[])],
        &y,
        Obj::Lse,
        3,
        3,
        0.3,
    );
    let (g, _) = train_ok(&store, &params("regression", "lse", 3), &guest, &[host]);
    let (_, rows) = output(&store, &g);
    let worst = gf
        .sids()
        .iter()
        .enumerate()
        .map(|(i, sid)| (rows[sid][1] - expected[i][0]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-9, "largest prediction difference {worst}");
}

/// A predict job with the trained models scores the training rows as training did, and
/// a warm start from 2 trees to 3 equals 3 trees trained at once.
#[test]
fn predict_mode_and_warm_start_reproduce_training() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let (g3, h3) = train_ok(
        &store,
        &binary_params(3),
        &guest,
        std::slice::from_ref(&host),
    );
    let (_, trained) = output(&store, &g3);
    let predicted = predict(
        &store,
        &binary_params(3),
        (&guest, model(&g3)),
        (&host, model(&h3[0])),
    );
    assert_eq!(predicted.len(), trained.len());
    for (sid, row) in &trained {
        assert!((predicted[sid][2] - row[2]).abs() < 1e-12, "{sid}");
        assert_eq!(predicted[sid][3], 2.0, "type predict");
    }
    // Warm start: 2 trees, then one more.
    let (g2, h2) = train_ok(
        &store,
        &binary_params(2),
        &guest,
        std::slice::from_ref(&host),
    );
    let (gw, hw) = (RecordingTracker::new(), RecordingTracker::new());
    let results = run_parties(
        &store,
        &binary_params(1),
        vec![
            Party {
                role: Role::Guest,
                id: GUEST,
                data: vec![("train_data", guest.clone())],
                model: Some(model(&g2)),
                tracker: &gw,
            },
            Party {
                role: Role::Host,
                id: HOSTS[0],
                data: vec![("train_data", host.clone())],
                model: Some(model(&h2[0])),
                tracker: &hw,
            },
        ],
    );
    for r in &results {
        r.as_ref().unwrap();
    }
    let (_, warm) = output(&store, &gw);
    for (sid, row) in &trained {
        assert!(
            (warm[sid][2] - row[2]).abs() < 1e-9,
            "{sid}: {} vs {}",
            warm[sid][2],
            row[2]
        );
    }
    let wm: Value = model(&gw).param;
    assert_eq!(wm["tree_num"], 3);
    assert_eq!(wm["losses"].as_array().unwrap().len(), 3);
}

/// Missing values with `use_missing`, GOSS, feature subsampling, complete_secure, mix
/// and layered strategies and uncompressed ciphers all train, and predict mode scores
/// as training did.
#[test]
fn variants_train_and_predict() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let (_, hf) = frames(&store, &guest, &host);
    // Every 7th host value missing.
    let mut values: Vec<f64> = hf.rows().flatten().copied().collect();
    for (i, v) in values.iter_mut().enumerate() {
        if i % 7 == 3 {
            *v = f64::NAN;
        }
    }
    let host_missing = store_frame(
        &store,
        "breast_host_missing",
        Frame::new(
            hf.sid_name(),
            hf.columns().to_vec(),
            hf.sids().to_vec(),
            values,
        )
        .unwrap(),
        None,
    );
    let cases: Vec<(Value, &TableRef, f64)> = vec![
        (json!({"use_missing": true}), &host_missing, 0.98),
        (
            json!({"run_goss": true, "top_rate": 0.3, "other_rate": 0.2}),
            &host,
            0.97,
        ),
        (json!({"subsample_feature_rate": 0.5}), &host, 0.97),
        (json!({"complete_secure": 2}), &host, 0.97),
        (json!({"boosting_strategy": "mix"}), &host, 0.95),
        (
            json!({"boosting_strategy": "layered", "guest_depth": 1, "host_depth": 2}),
            &host,
            0.97,
        ),
        (json!({"cipher_compress": false}), &host, 0.98),
    ];
    for (extra, host_table, min_auc) in cases {
        let mut p = binary_params(3);
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        let (g, h, results) = train(&store, &p, &guest, std::slice::from_ref(host_table));
        for r in &results {
            r.as_ref().unwrap_or_else(|e| panic!("{extra}: {e}"));
        }
        let (_, rows) = output(&store, &g);
        let a = auc(&rows);
        assert!(a > min_auc, "{extra}: AUC {a}");
        let predicted = predict(&store, &p, (&guest, model(&g)), (host_table, model(&h[0])));
        for (sid, row) in &rows {
            assert!((predicted[sid][2] - row[2]).abs() < 1e-12, "{extra}: {sid}");
        }
    }
}

/// Multi-output trees on vehicle: one tree per round with a leaf per class.
#[test]
fn multi_output_trees() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "vehicle_scale_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "vehicle_scale_hetero_host.csv", None);
    let mut p = params("classification", "cross_entropy", 3);
    p["multi_mode"] = json!("multi_output");
    let (g, _) = train_ok(&store, &p, &guest, &[host]);
    let m = model(&g);
    assert_eq!(m.param["tree_num"], 3);
    assert_eq!(m.param["tree_dim"], 1);
    let leaf = m.param["trees_"][0]["tree_"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["is_leaf"] == true)
        .unwrap()
        .clone();
    assert_eq!(leaf["weight"].as_array().unwrap().len(), 4);
    let (_, rows) = output(&store, &g);
    let correct = rows.values().filter(|r| r[0] == r[1]).count();
    assert!(correct as f64 / rows.len() as f64 > 0.6);
}

/// Bad input is refused with the field named, and no output is written.
#[test]
fn bad_input_is_refused() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "student_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "student_hetero_host.csv", None);
    let (gf, hf) = frames(&store, &guest, &host);
    // A float label for classification.
    let mut values: Vec<f64> = gf.rows().flatten().copied().collect();
    values[0] += 0.5;
    let float_label = store_frame(
        &store,
        "student_float",
        Frame::new(
            gf.sid_name(),
            gf.columns().to_vec(),
            gf.sids().to_vec(),
            values,
        )
        .unwrap(),
        Some("y"),
    );
    let (g, _, results) = train_within(
        &store,
        &binary_params(2),
        &float_label,
        std::slice::from_ref(&host),
        2,
    );
    let e = results[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("column `y`") && e.contains("not a class"), "{e}");
    assert!(g.output_data().is_empty());
    // A host with none of the guest's ids.
    let other: Vec<String> = gf.sids().iter().map(|s| format!("x{s}")).collect();
    let stranger = store_frame(
        &store,
        "student_host_stranger",
        Frame::new(
            hf.sid_name(),
            hf.columns().to_vec(),
            other,
            hf.rows().flatten().copied().collect(),
        )
        .unwrap(),
        None,
    );
    let (_, _, results) = train_within(
        &store,
        &params("regression", "lse", 2),
        &guest,
        &[stranger],
        2,
    );
    let e = results[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("run Intersection first"), "{e}");
    // Parameters refused before any work.
    for (p, key) in [
        (json!({"num_trees": 0}), "num_trees"),
        (json!({"tree_param": {"max_depth": 0}}), "max_depth"),
        (
            json!({"objective_param": {"objective": "hinge"}}),
            "objective",
        ),
    ] {
        let (_, _, results) = train_within(&store, &p, &guest, std::slice::from_ref(&host), 2);
        let e = results[0].as_ref().unwrap_err().to_string();
        assert!(e.contains(key), "{p}: {e}");
    }
}

/// Validation data scored every round, metrics recorded per round, and early stopping
/// keeping the best round's trees at every party.
#[test]
fn validation_and_early_stopping() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let mut p = binary_params(8);
    p["validation_freqs"] = json!(1);
    p["early_stopping_rounds"] = json!(2);
    p["learning_rate"] = json!(0.9);
    let (g, h) = (RecordingTracker::new(), RecordingTracker::new());
    let results = run_parties(
        &store,
        &p,
        vec![
            Party {
                role: Role::Guest,
                id: GUEST,
                data: vec![
                    ("train_data", guest.clone()),
                    ("validate_data", guest.clone()),
                ],
                model: None,
                tracker: &g,
            },
            Party {
                role: Role::Host,
                id: HOSTS[0],
                data: vec![
                    ("train_data", host.clone()),
                    ("validate_data", host.clone()),
                ],
                model: None,
                tracker: &h,
            },
        ],
    );
    for r in &results {
        r.as_ref().unwrap();
    }
    let summary = g.summary().unwrap();
    let validate_auc = summary["validation_metrics"]["validate"]["auc"]
        .as_array()
        .unwrap()
        .len();
    assert!(validate_auc >= 1, "{summary}");
    assert!(g.metric("validate", "iteration_0").is_some());
    let gm = model(&g).param;
    let hm = model(&h).param;
    assert_eq!(
        gm["tree_num"], hm["tree_num"],
        "guest and host keep the same trees"
    );
    let best = summary["best_iteration"].as_i64().unwrap();
    assert!(best >= 0);
    assert_eq!(gm["tree_num"].as_i64().unwrap(), best + 1, "{summary}");
    // The validation rows (the same ids) are not output twice.
    let (_, rows) = output(&store, &g);
    assert_eq!(rows.len(), 569);
}

/// EINI prediction (FATE's `EINI_inference`): the same scores as the plain protocol,
/// and with `EINI_random_mask` the same labels (a positive factor scales the raw score),
/// (one host; more hosts pass the vector along in job order).
#[test]
fn eini_prediction() {
    let (_dir, store) = temp_store();
    let guest = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let host = labeled(&store, "breast_hetero_host.csv", None);
    let (g, h) = train_ok(
        &store,
        &binary_params(3),
        &guest,
        std::slice::from_ref(&host),
    );
    let (_, trained) = output(&store, &g);
    let mut p = binary_params(3);
    p["EINI_inference"] = json!(true);
    let eini = predict(&store, &p, (&guest, model(&g)), (&host, model(&h[0])));
    for (sid, row) in &trained {
        assert!(
            (eini[sid][2] - row[2]).abs() < 1e-9,
            "{sid}: {} vs {}",
            eini[sid][2],
            row[2]
        );
    }
    p["EINI_random_mask"] = json!(true);
    let masked = predict(&store, &p, (&guest, model(&g)), (&host, model(&h[0])));
    let mut changed = 0;
    for (sid, row) in &trained {
        assert_eq!(masked[sid][1], row[1], "{sid}: the label survives the mask");
        if (masked[sid][2] - row[2]).abs() > 1e-6 {
            changed += 1;
        }
    }
    assert!(changed > trained.len() / 2, "the mask changes the scores");
}

//! HeteroFeatureSelection: every filter against column sets computed here from the data
//! (or from the IVs the test puts in the binning models), filter order, ties, guest and
//! two hosts on threads with a tapped data plane, predict mode, errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use common::registry;
use common::{bits, frame, temp_store};
use common::{context, MemoryFederation, MemoryHub, RecordingTracker};
use fateflow_component_core::{ComponentModel, ErrorKind, ModelInput, Result, TableRef};
use fateflow_domain::{Party, Role};
use fateflow_federation::Federation;
use fateflow_tables::{write_frame, Frame, LocalTableStore, TableId, TableStore, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOSTS: [u64; 2] = [10000, 10001];

/// A deterministic generator of uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes `columns` (name → values, one per row) as `experiment.<name>` with ids `r<i>`,
/// in 3 partitions; `label` names the label column, if any.
fn table(
    store: &LocalTableStore,
    name: &str,
    columns: &[(&str, Vec<f64>)],
    label: Option<&str>,
) -> TableRef {
    let rows = columns[0].1.len();
    let sids: Vec<String> = (0..rows).map(|i| format!("r{i}")).collect();
    let mut values = Vec::with_capacity(rows * columns.len());
    for r in 0..rows {
        values.extend(columns.iter().map(|(_, v)| v[r]));
    }
    let names = columns.iter().map(|(n, _)| n.to_string()).collect();
    let mut f = Frame::new("id", names, sids, values).unwrap();
    if let Some(l) = label {
        f = f.with_label(l).unwrap();
    }
    let id = TableId::new("experiment", name).unwrap();
    write_frame(store, &id, &f, 3, WriteMode::Replace).unwrap();
    TableRef::new("experiment", name)
}

/// A binning model per the contract: `ivs` for this party's columns (`None` at a host),
/// and at the guest `host_results` by host id and anonymous name.
fn binning(
    role: &str,
    party: u64,
    header: &[&str],
    ivs: Option<&[f64]>,
    hosts: &[(u64, Vec<f64>)],
) -> ComponentModel {
    let bin = |iv: Value| {
        json!({"split_points": [0.5, 1.0], "bin_nums": 2, "event_count_array": [],
               "non_event_count_array": [], "event_rate_array": [], "non_event_rate_array": [],
               "woe_array": [], "iv_array": [], "iv": iv, "is_woe_monotonic": false})
    };
    let binning_result: serde_json::Map<String, Value> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), bin(ivs.map_or(Value::Null, |v| json!(v[i])))))
        .collect();
    let host_results: serde_json::Map<String, Value> = hosts
        .iter()
        .map(|(id, ivs)| {
            let cols: serde_json::Map<String, Value> = ivs
                .iter()
                .enumerate()
                .map(|(i, iv)| (format!("host_{id}_x{i}"), bin(json!(iv))))
                .collect();
            (id.to_string(), Value::Object(cols))
        })
        .collect();
    ComponentModel {
        module: "HeteroFeatureBinning".into(),
        param: json!({
            "header": header,
            "header_anonymous": (0..header.len()).map(|i| format!("{role}_{party}_x{i}")).collect::<Vec<_>>(),
            "binning_result": binning_result,
            "host_results": host_results,
        }),
        meta: json!({}),
    }
}

fn model_input(component: &str, model: ComponentModel) -> ModelInput {
    ModelInput {
        component: component.into(),
        alias: "model".into(),
        model,
    }
}

/// One party's task.
#[derive(Clone)]
struct Task {
    data: TableRef,
    params: Value,
    isometric: Vec<ComponentModel>,
    model: Option<ComponentModel>,
}

impl Task {
    fn new(data: &TableRef, params: Value) -> Self {
        Task {
            data: data.clone(),
            params,
            isometric: Vec::new(),
            model: None,
        }
    }

    fn iso(mut self, m: ComponentModel) -> Self {
        self.isometric.push(m);
        self
    }
}

/// Every message a party sent: (name, tag, destination, bytes).
type Log = Arc<Mutex<Vec<(String, String, Party, Vec<u8>)>>>;

/// A data plane that records what its party sends.
struct Tap {
    inner: MemoryFederation,
    log: Log,
}

impl Federation for Tap {
    fn me(&self) -> Party {
        self.inner.me()
    }

    fn remote_bytes(
        &self,
        name: &str,
        tag: &str,
        value: &[u8],
        to: &[Party],
    ) -> fateflow_federation::Result<()> {
        for p in to {
            self.log
                .lock()
                .unwrap()
                .push((name.into(), tag.into(), *p, value.to_vec()));
        }
        self.inner.remote_bytes(name, tag, value, to)
    }

    fn get_bytes(
        &self,
        name: &str,
        tag: &str,
        from: Party,
    ) -> fateflow_federation::Result<Vec<u8>> {
        self.inner.get_bytes(name, tag, from)
    }
}

struct Run {
    trackers: Vec<RecordingTracker>,
    results: Vec<Result<()>>,
    /// What the guest sent.
    guest_sent: Log,
}

/// Runs the guest (`tasks[0]`) and `tasks.len() - 1` hosts on threads.
fn run_parties(store: &LocalTableStore, tasks: &[Task]) -> Run {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
    let hosts = &HOSTS[..tasks.len() - 1];
    let roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, hosts.to_vec())]);
    let trackers: Vec<RecordingTracker> = tasks.iter().map(|_| RecordingTracker::new()).collect();
    let guest_sent: Log = Arc::default();
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let (role, id) = if i == 0 {
                    (Role::Guest, GUEST)
                } else {
                    (Role::Host, hosts[i - 1])
                };
                let tap = Tap {
                    inner: hub.party(role, id),
                    log: if i == 0 {
                        guest_sent.clone()
                    } else {
                        Arc::default()
                    },
                };
                let roles = roles.clone();
                let tracker = &trackers[i];
                s.spawn(move || {
                    let mut c = context(
                        "hetero_feature_selection_0",
                        "HeteroFeatureSelection",
                        task.params.clone(),
                        store,
                        tracker,
                    );
                    c.role = role;
                    c.party_id = id;
                    c.roles = roles;
                    c.federation = Some(&tap);
                    c.inputs.data.insert("data".into(), vec![task.data.clone()]);
                    c.inputs.isometric_model.extend(
                        task.isometric
                            .iter()
                            .map(|m| model_input("hetero_feature_binning_0", m.clone())),
                    );
                    c.inputs.model.extend(
                        task.model
                            .clone()
                            .map(|m| model_input("hetero_feature_selection_0", m)),
                    );
                    registry().get("HeteroFeatureSelection").unwrap().run(&c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Run {
        trackers,
        results,
        guest_sent,
    }
}

/// Runs a guest alone (no hosts in the job).
fn run_guest(store: &LocalTableStore, task: &Task) -> (RecordingTracker, Result<()>) {
    let tracker = RecordingTracker::new();
    let result = {
        let mut c = context(
            "hetero_feature_selection_0",
            "HeteroFeatureSelection",
            task.params.clone(),
            store,
            &tracker,
        );
        c.inputs.data.insert("data".into(), vec![task.data.clone()]);
        c.inputs.isometric_model.extend(
            task.isometric
                .iter()
                .map(|m| model_input("hetero_feature_binning_0", m.clone())),
        );
        c.inputs.model.extend(
            task.model
                .clone()
                .map(|m| model_input("hetero_feature_selection_0", m)),
        );
        registry().get("HeteroFeatureSelection").unwrap().run(&c)
    };
    (tracker, result)
}

fn ok(tracker: RecordingTracker, result: Result<()>) -> RecordingTracker {
    if let Err(e) = result {
        panic!("selection failed: {e}");
    }
    tracker
}

/// The output table's header (label included) of a finished task.
fn out_header(store: &LocalTableStore, t: &RecordingTracker) -> Vec<String> {
    let (_, table) = t.output_data().pop().expect("output data");
    frame(store, &table).columns().to_vec()
}

fn model(t: &RecordingTracker) -> ComponentModel {
    t.models().pop().expect("a model").1
}

/// The model's final kept columns.
fn kept(t: &RecordingTracker) -> Vec<String> {
    let m = model(t);
    let f = &m.param["final_left_cols"];
    f["original_cols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .filter(|c| f["left_cols"][c] == json!(true))
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Population mean and standard deviation, two-pass.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Names of `columns` whose values pass `keep`, in order.
fn expected(columns: &[(&str, Vec<f64>)], keep: impl Fn(&[f64]) -> bool) -> Vec<String> {
    columns
        .iter()
        .filter(|(_, v)| keep(v))
        .map(|(n, _)| n.to_string())
        .collect()
}

/// Guest data: a label and x0..x7 with known shapes (200 rows).
fn shaped_columns() -> Vec<(&'static str, Vec<f64>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n = 200;
    let mut col = |f: &mut dyn FnMut(usize, f64) -> f64| -> Vec<f64> {
        (0..n).map(|i| f(i, rng.next())).collect()
    };
    vec![
        ("y", col(&mut |i, _| (i % 3 == 0) as u8 as f64)),
        ("x0", col(&mut |_, _| 4.0)),              // constant
        ("x1", col(&mut |_, u| 7.0 + u * 1e-7)),   // range < 1e-5
        ("x2", col(&mut |_, u| u * 10.0)),         // wide, cv ~ 0.58
        ("x3", col(&mut |_, u| 100.0 + u)),        // cv ~ 0.003
        ("x4", col(&mut |_, u| (u - 0.5) * 50.0)), // mean ~ 0, cv huge
        ("x5", col(&mut |i, u| if i % 10 < 7 { 0.0 } else { u })), // 70% zeros
        (
            "x6",
            col(&mut |i, u| if i % 10 < 4 { 1.0 } else { 2.0 + u }),
        ), // 40% ones
        ("x7", col(&mut |_, u| u.powi(3) * 3.0)),  // skewed
    ]
}

fn features(columns: &[(&'static str, Vec<f64>)]) -> Vec<(&'static str, Vec<f64>)> {
    columns.iter().filter(|(n, _)| *n != "y").cloned().collect()
}

#[test]
fn unique_value_and_coefficient_of_variation_drop_what_the_data_says() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let feats = features(&cols);

    let params = json!({"filter_methods": ["unique_value"]});
    let (t, r) = run_guest(&store, &Task::new(&data, params));
    let t = ok(t, r);
    let max_min = |v: &[f64]| {
        v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
    };
    let want = expected(&feats, |v| max_min(v) >= 1e-5);
    assert_eq!(want.len(), 6, "x0 and x1 are the constant ones: {want:?}");
    assert_eq!(kept(&t), want);
    let mut header = vec!["y".to_string()];
    header.extend(want.iter().cloned());
    assert_eq!(out_header(&store, &t), header, "the label stays, in place");

    let params = json!({"filter_methods": ["coefficient_of_variation_value_thres"],
                        "variance_coe_param": {"value_threshold": 0.5}});
    let (t, r) = run_guest(&store, &Task::new(&data, params));
    let t = ok(t, r);
    let want = expected(&feats, |v| {
        let (m, s) = mean_std(v);
        (s / if m.abs() < 1e-8 { 1e-8 } else { m }).abs() >= 0.5
    });
    assert!(want.contains(&"x4".to_string()) && !want.contains(&"x3".to_string()));
    assert_eq!(kept(&t), want);
    // The values judged are in the model.
    let m = model(&t);
    let (mean, std) = mean_std(&feats[2].1);
    let cv = m.param["results"][0]["feature_values"]["x2"]
        .as_f64()
        .unwrap();
    assert!((cv - std / mean).abs() < 1e-9, "{cv} vs {}", std / mean);
}

#[test]
fn statistic_filter_metrics_match_direct_computations() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let feats = features(&cols);
    // Quantile of rank ceil(q·n).
    fn quantile(v: &[f64], q: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]
    }
    type Stat = Box<dyn Fn(&[f64]) -> f64>;
    let cases: Vec<(Value, Stat, &str, f64, bool)> = vec![
        (
            json!("variance"),
            Box::new(|v: &[f64]| mean_std(v).1.powi(2)),
            "threshold",
            1.0,
            true,
        ),
        (
            json!("std"),
            Box::new(|v: &[f64]| mean_std(v).1),
            "threshold",
            0.5,
            false,
        ),
        (
            json!("mean"),
            Box::new(|v: &[f64]| mean_std(v).0),
            "top_k",
            3.0,
            true,
        ),
        (
            json!("median"),
            Box::new(|v: &[f64]| quantile(v, 0.5)),
            "top_percentile",
            0.5,
            false,
        ),
        (
            json!("90%"),
            Box::new(|v: &[f64]| quantile(v, 0.9)),
            "threshold",
            3.0,
            false,
        ),
        (
            json!("max"),
            Box::new(|v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max)),
            "top_k",
            2.0,
            false,
        ),
        (
            json!("skewness"),
            Box::new(|v: &[f64]| {
                let (m, s) = mean_std(v);
                if s == 0.0 {
                    0.0
                } else {
                    v.iter().map(|x| ((x - m) / s).powi(3)).sum::<f64>() / v.len() as f64
                }
            }),
            "top_k",
            1.0,
            true,
        ),
    ];
    for (metric, stat, filter_type, threshold, take_high) in cases {
        // k is an integer (FATE refuses 3.0).
        let t = if filter_type == "top_k" {
            json!(threshold as u64)
        } else {
            json!(threshold)
        };
        let params = json!({"filter_methods": ["statistic_filter"],
            "statistic_param": {"metrics": metric, "filter_type": filter_type,
                                "threshold": t, "take_high": take_high}});
        let (t, r) = run_guest(&store, &Task::new(&data, params));
        let t = ok(t, r);
        let values: Vec<(String, f64)> = feats
            .iter()
            .map(|(n, v)| (n.to_string(), stat(v)))
            .collect();
        let better = |a: f64, b: f64| if take_high { a > b } else { a < b };
        let want: BTreeSet<String> = match filter_type {
            "threshold" => values
                .iter()
                .filter(|(_, v)| {
                    if take_high {
                        *v >= threshold
                    } else {
                        *v <= threshold
                    }
                })
                .map(|(n, _)| n.clone())
                .collect(),
            _ => {
                let k = if filter_type == "top_k" {
                    threshold as usize
                } else {
                    (threshold * values.len() as f64).ceil() as usize
                };
                // Rank: how many are strictly better, earlier columns first among ties.
                values
                    .iter()
                    .enumerate()
                    .filter(|(i, (_, v))| {
                        let ahead = values
                            .iter()
                            .enumerate()
                            .filter(|(j, (_, w))| better(*w, *v) || (*w == *v && j < i))
                            .count();
                        ahead < k
                    })
                    .map(|(_, (n, _))| n.clone())
                    .collect()
            }
        };
        let got: BTreeSet<String> = kept(&t).into_iter().collect();
        assert_eq!(
            got, want,
            "metric {metric} {filter_type} {threshold} take_high {take_high}"
        );
        assert!(!got.is_empty());
    }
}

#[test]
fn percentage_value_and_outlier_cols() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let feats = features(&cols);
    for upper_pct in [0.5, 0.65, 0.75, 1.0] {
        let params = json!({"filter_methods": ["percentage_value"],
                            "percentage_value_param": {"upper_pct": upper_pct}});
        let (t, r) = run_guest(&store, &Task::new(&data, params));
        let t = ok(t, r);
        let want = expected(&feats, |v| {
            let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
            for x in v {
                *counts.entry(x.to_bits()).or_default() += 1;
            }
            let top = counts.values().max().copied().unwrap();
            top as f64 <= (v.len() as f64 * upper_pct).ceil()
        });
        assert_eq!(kept(&t), want, "upper_pct {upper_pct}");
    }
    let params = json!({"filter_methods": ["outlier_cols"],
                        "outlier_param": {"percentile": 0.9, "upper_threshold": 5.0}});
    let (t, r) = run_guest(&store, &Task::new(&data, params));
    let t = ok(t, r);
    let want = expected(&feats, |v| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[(0.9 * s.len() as f64).ceil() as usize - 1] <= 5.0
    });
    assert!(!want.contains(&"x3".to_string()) && want.contains(&"x0".to_string()));
    assert_eq!(kept(&t), want);
}

#[test]
fn manually_and_column_selection() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let all = strings(&["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"]);
    let without = |drop: &[&str]| -> Vec<String> {
        all.iter()
            .filter(|c| !drop.contains(&c.as_str()))
            .cloned()
            .collect()
    };
    // Default: manually with nothing to filter keeps everything.
    let (t, r) = run_guest(&store, &Task::new(&data, json!({})));
    assert_eq!(kept(&ok(t, r)), all);
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"manually_param": {"filter_out_indexes": [0, 7], "filter_out_names": ["x3"]}}),
        ),
    );
    assert_eq!(kept(&ok(t, r)), without(&["x0", "x3", "x7"]));
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"manually_param": {"left_col_indexes": [1], "left_col_names": ["x5"]}}),
        ),
    );
    assert_eq!(kept(&ok(t, r)), strings(&["x1", "x5"]));
    // Unselected columns are never judged: the constant x0 survives unique_value.
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"select_col_indexes": [1, 2], "select_names": ["x3"],
                                 "filter_methods": ["unique_value"]}),
        ),
    );
    let t = ok(t, r);
    assert_eq!(kept(&t), without(&["x1"]));
    assert_eq!(model(&t).meta["cols"], json!(["x1", "x2", "x3"]));
    // left_col_names only applies to judged columns; an unselected column stays.
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"select_col_indexes": [0, 1, 2],
                                 "manually_param": {"left_col_names": ["x2"]}}),
        ),
    );
    assert_eq!(kept(&ok(t, r)), without(&["x0", "x1"]));
    // Filtering every judged column out keeps the first (FATE keeps one).
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"select_col_indexes": [4, 5],
                                 "manually_param": {"filter_out_names": ["x4", "x5"]}}),
        ),
    );
    assert_eq!(kept(&ok(t, r)), without(&["x5"]));
}

#[test]
fn filters_apply_in_order_to_what_is_left() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let feats = features(&cols);
    let variance = |n: &str| {
        mean_std(&feats.iter().find(|(c, _)| *c == n).unwrap().1)
            .1
            .powi(2)
    };
    // The 3 lowest variances of 8, then unique_value: x0 and x1 are among them and go.
    let stat =
        json!({"metrics": "variance", "filter_type": "top_k", "threshold": 3, "take_high": false});
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"filter_methods": ["statistic_filter", "unique_value"], "statistic_param": stat}),
        ),
    );
    let first = kept(&ok(t, r));
    let mut by_variance: Vec<&str> = feats.iter().map(|(n, _)| *n).collect();
    by_variance.sort_by(|a, b| variance(a).total_cmp(&variance(b)));
    let lowest3: BTreeSet<&str> = by_variance[..3].iter().copied().collect();
    assert!(
        lowest3.contains("x0") && lowest3.contains("x1"),
        "{lowest3:?}"
    );
    let want: Vec<String> = feats
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| lowest3.contains(n) && !["x0", "x1"].contains(n))
        .map(String::from)
        .collect();
    assert_eq!(want.len(), 1);
    assert_eq!(first, want);
    // Reversed: unique_value first, then the 3 lowest variances of the 6 left.
    let (t, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"filter_methods": ["unique_value", "statistic_filter"], "statistic_param": stat}),
        ),
    );
    let t = ok(t, r);
    let rest: Vec<&str> = by_variance
        .iter()
        .copied()
        .filter(|n| !["x0", "x1"].contains(n))
        .collect();
    let want: BTreeSet<String> = rest[..3].iter().map(|s| s.to_string()).collect();
    assert_eq!(kept(&t).into_iter().collect::<BTreeSet<_>>(), want);
    let summary = t.summary().unwrap();
    assert_eq!(
        summary["unique_value"]["removed_col_names"],
        json!(["x0", "x1"])
    );
    assert_eq!(summary["variance"]["last_col_nums"], json!(6));
    assert_eq!(summary["variance"]["left_col_nums"], json!(3));
    assert_eq!(summary["all"]["left_col_nums"], json!(3));
    let m = model(&t);
    assert_eq!(
        m.param["results"][1]["select_cols"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        m.meta["filter_methods"],
        json!(["unique_value", "statistic_filter"])
    );
    let metric = t.metric("train", "feature_selection").unwrap();
    assert_eq!(
        metric.data,
        vec![
            (json!("unique_value"), json!(6)),
            (json!("variance"), json!(3))
        ]
    );
    assert_eq!(*t.progress_values().last().unwrap(), 100);
}

/// Guest-only IV filters: threshold, top k and both percentiles, ties included.
#[test]
fn iv_filters_on_the_guest_columns() {
    let (_dir, store) = temp_store();
    let mut rng = Rng(7);
    let names = ["a", "b", "c", "d", "e", "f"];
    let cols: Vec<(&str, Vec<f64>)> = names
        .iter()
        .map(|n| (*n, (0..50).map(|_| rng.next()).collect()))
        .collect();
    let data = table(&store, "iv", &cols, None);
    // Ties: b = c = e.
    let ivs = [0.9, 0.3, 0.3, 0.05, 0.3, 0.6];
    let bin = binning("guest", GUEST, &names, Some(&ivs), &[]);
    let run = |params: Value| {
        let (t, r) = run_guest(&store, &Task::new(&data, params).iso(bin.clone()));
        kept(&ok(t, r))
    };
    // Ranked by IV, earlier columns first among ties: a f b c e d.
    let ranked = ["a", "f", "b", "c", "e", "d"];
    let top = |k: usize| -> Vec<String> {
        names
            .iter()
            .filter(|n| ranked[..k].contains(n))
            .map(|s| s.to_string())
            .collect()
    };
    let at_least = |t: f64| -> Vec<String> {
        names
            .iter()
            .zip(ivs)
            .filter(|(_, iv)| *iv >= t)
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(
        run(json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": 0.3}})),
        at_least(0.3)
    );
    assert_eq!(
        run(
            json!({"filter_methods": ["iv_value_thres"], "iv_value_param": {"value_threshold": 0.31}})
        ),
        at_least(0.31)
    );
    assert_eq!(
        run(
            json!({"filter_methods": ["iv_filter"], "iv_param": {"filter_type": "top_k", "threshold": 3}})
        ),
        top(3)
    );
    assert_eq!(
        run(json!({"filter_methods": ["iv_top_k"], "iv_top_k_param": {"k": 4}})),
        top(4)
    );
    // ceil(0.5 · 6) = 3 exactly, ties by position...
    assert_eq!(
        run(
            json!({"filter_methods": ["iv_filter"], "iv_param": {"filter_type": "top_percentile", "threshold": 0.5}})
        ),
        top(3)
    );
    // ...while the deprecated percentile keeps every column tied with the 3rd best.
    assert_eq!(
        run(
            json!({"filter_methods": ["iv_percentile"], "iv_percentile_param": {"percentile_threshold": 0.5}})
        ),
        at_least(0.3)
    );
    // A threshold nothing passes keeps the best column.
    assert_eq!(
        run(json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": 5}})),
        strings(&["a"])
    );
    // Percentile of the remaining columns: after manually drops a and f, ceil(0.5 · 4) = 2.
    assert_eq!(
        run(json!({"filter_methods": ["manually", "iv_filter"],
                   "manually_param": {"filter_out_names": ["a", "f"]},
                   "iv_param": {"filter_type": "top_percentile", "threshold": 0.5}})),
        strings(&["b", "c"])
    );
    // Two metrics, two runs: top 4, then IV >= 0.5 among them.
    assert_eq!(
        run(json!({"filter_methods": ["iv_filter"],
                   "iv_param": {"metrics": ["iv", "iv"], "filter_type": ["top_k", "threshold"], "threshold": [4, 0.5]}})),
        strings(&["a", "f"])
    );
}

/// Guest and hosts 10000 (4 columns) and 10001 (3 columns).
struct Federated {
    _dir: tempfile::TempDir,
    store: LocalTableStore,
    guest: TableRef,
    hosts: Vec<TableRef>,
    guest_ivs: Vec<f64>,
    host_ivs: Vec<Vec<f64>>,
    host_headers: Vec<Vec<&'static str>>,
}

fn federated() -> Federated {
    let (dir, store) = temp_store();
    let mut rng = Rng(99);
    let mut cols = |names: &[&'static str], label: bool| -> Vec<(&'static str, Vec<f64>)> {
        let mut out = Vec::new();
        if label {
            out.push(("y", (0..40).map(|i| (i % 2) as f64).collect()));
        }
        for n in names {
            out.push((*n, (0..40).map(|_| rng.next()).collect()));
        }
        out
    };
    let g = cols(&["g0", "g1", "g2"], true);
    // The hosts' real names differ from their anonymous ones on purpose.
    let h0 = cols(&["age", "income", "debt", "zip"], false);
    let h1 = cols(&["p", "q", "r"], false);
    Federated {
        guest: table(&store, "guest", &g, Some("y")),
        hosts: vec![
            table(&store, "host0", &h0, None),
            table(&store, "host1", &h1, None),
        ],
        guest_ivs: vec![0.4, 0.02, 0.25],
        host_ivs: vec![vec![0.5, 0.01, 0.25, 0.12], vec![0.3, 0.25, 0.05]],
        host_headers: vec![vec!["age", "income", "debt", "zip"], vec!["p", "q", "r"]],
        _dir: dir,
        store,
    }
}

impl Federated {
    fn tasks(&self, params: Value) -> Vec<Task> {
        let host_results: Vec<(u64, Vec<f64>)> = HOSTS
            .iter()
            .copied()
            .zip(self.host_ivs.iter().cloned())
            .collect();
        let mut tasks = vec![Task::new(&self.guest, params.clone()).iso(binning(
            "guest",
            GUEST,
            &["g0", "g1", "g2"],
            Some(&self.guest_ivs),
            &host_results,
        ))];
        for (i, h) in self.hosts.iter().enumerate() {
            tasks.push(Task::new(h, params.clone()).iso(binning(
                "host",
                HOSTS[i],
                &self.host_headers[i],
                None,
                &[],
            )));
        }
        tasks
    }

    fn run(&self, params: Value) -> Run {
        let run = run_parties(&self.store, &self.tasks(params));
        for (i, r) in run.results.iter().enumerate() {
            assert!(r.is_ok(), "party {i}: {r:?}");
        }
        run
    }
}

/// Every number anywhere in a JSON value.
fn numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.push(n.as_f64().unwrap()),
        Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        Value::Object(m) => m.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

#[test]
fn two_hosts_guest_decides_with_host_thresholds_and_hosts_learn_no_iv() {
    let f = federated();
    let run = f.run(json!({"filter_methods": ["iv_filter"],
                           "iv_param": {"threshold": 0.2, "host_thresholds": [0.1, 0.28]}}));
    let pass = |ivs: &[f64], names: &[&str], t: f64| -> Vec<String> {
        names
            .iter()
            .zip(ivs)
            .filter(|(_, iv)| **iv >= t)
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(
        kept(&run.trackers[0]),
        pass(&f.guest_ivs, &["g0", "g1", "g2"], 0.2)
    );
    let want0 = pass(&f.host_ivs[0], &f.host_headers[0], 0.1);
    let want1 = pass(&f.host_ivs[1], &f.host_headers[1], 0.28);
    assert_eq!(want0, strings(&["age", "debt", "zip"]));
    assert_eq!(want1, strings(&["p"]));
    assert_eq!(kept(&run.trackers[1]), want0);
    assert_eq!(kept(&run.trackers[2]), want1);
    assert_eq!(out_header(&f.store, &run.trackers[1]), want0);
    assert_eq!(out_header(&f.store, &run.trackers[2]), want1);

    // The guest's model has the host decisions by anonymous name; a host's has no IVs.
    let gm = model(&run.trackers[0]);
    let r = &gm.param["results"][0];
    assert_eq!(r["host_left_cols"][1]["party_id"], json!("10001"));
    assert_eq!(
        r["host_left_cols"][1]["left_cols"]["host_10001_x0"],
        json!(true)
    );
    assert_eq!(
        r["host_left_cols"][1]["left_cols"]["host_10001_x1"],
        json!(false)
    );
    assert_eq!(
        r["host_feature_values"][0]["feature_values"]["host_10000_x3"],
        json!(0.12)
    );
    let hm = model(&run.trackers[1]);
    assert_eq!(hm.param["results"][0]["feature_values"], json!({}));
    assert_eq!(hm.param["results"][0]["host_feature_values"], json!([]));
    let mut host_model_numbers = Vec::new();
    numbers(&hm.param, &mut host_model_numbers);
    assert!(host_model_numbers.is_empty(), "{host_model_numbers:?}");

    // What the guest sent the hosts: names only, never a number.
    let sent = run.guest_sent.lock().unwrap();
    assert!(
        sent.len() >= 4,
        "plan acks and results to two hosts: {}",
        sent.len()
    );
    for (name, tag, to, bytes) in sent.iter() {
        let v: Value = serde_json::from_slice(bytes).unwrap();
        let mut found = Vec::new();
        numbers(&v, &mut found);
        assert!(
            found.is_empty(),
            "{name}/{tag} to {to} carries numbers: {v}"
        );
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("iv\""), "{text}");
    }
    let to_10001: Vec<Value> = sent
        .iter()
        .filter(|(n, _, to, _)| n == "result_left_cols" && to.party_id == 10001)
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(
        to_10001,
        vec![json!({"ok": ["host_10001_x0"]})],
        "only its own kept names"
    );
}

#[test]
fn federated_top_k_pools_every_party_and_keeps_one_per_party() {
    let f = federated();
    // IVs: g 0.4 0.02 0.25 | h0 0.5 0.01 0.25 0.12 | h1 0.3 0.25 0.05. Top 3 pooled:
    // host_10000_x0 (0.5), g0 (0.4), host_10001_x0 (0.3).
    let run = f.run(json!({"filter_methods": ["iv_top_k"], "iv_top_k_param": {"k": 3}}));
    let mut pooled: Vec<(String, f64, usize)> = Vec::new();
    for (n, iv) in ["g0", "g1", "g2"].iter().zip(&f.guest_ivs) {
        pooled.push((n.to_string(), *iv, 0));
    }
    for (h, (names, ivs)) in f.host_headers.iter().zip(&f.host_ivs).enumerate() {
        for (n, iv) in names.iter().zip(ivs) {
            pooled.push((n.to_string(), *iv, h + 1));
        }
    }
    // Stable sort: ties stay in pool order (guest, then hosts in order).
    let mut ranked = pooled.clone();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    for party in 0..3 {
        let want: Vec<String> = pooled
            .iter()
            .filter(|(n, _, p)| {
                *p == party && ranked[..3].iter().any(|r| &r.0 == n && r.2 == party)
            })
            .map(|(n, _, _)| n.clone())
            .collect();
        assert_eq!(kept(&run.trackers[party]), want, "party {party}");
    }
    // Top 1: only host 10000's best wins the pool; every party keeps its best anyway.
    let run = f.run(json!({"filter_methods": ["iv_filter"],
                           "iv_param": {"filter_type": "top_k", "threshold": 1}}));
    assert_eq!(kept(&run.trackers[0]), strings(&["g0"]));
    assert_eq!(kept(&run.trackers[1]), strings(&["age"]));
    assert_eq!(kept(&run.trackers[2]), strings(&["p"]));
    assert!(run.trackers[0].info_lines().iter().any(|l| l.contains(
        "host 10001: kept 1 of 3 judged columns (host_10001_x0 kept so that one is left)"
    )));
}

#[test]
fn local_filters_at_hosts_then_iv_on_what_is_left() {
    let f = federated();
    // Host 10000 drops `age` manually before the IV filter; the guest only judges what
    // each host has left, and hosts without a manual list keep theirs.
    let mut tasks = f.tasks(json!({"filter_methods": ["manually", "iv_filter"],
                                   "iv_param": {"threshold": 0.2}}));
    tasks[1].params["manually_param"] = json!({"filter_out_names": ["age"]});
    let run = run_parties(&f.store, &tasks);
    for r in &run.results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(kept(&run.trackers[1]), strings(&["debt"]));
    let gm = model(&run.trackers[0]);
    assert_eq!(
        gm.param["results"][1]["host_left_cols"][0]["original_cols"],
        json!(["host_10000_x1", "host_10000_x2", "host_10000_x3"])
    );
}

#[test]
fn parties_may_expand_local_filters_differently() {
    let f = federated();
    // The guest's statistic_filter runs two metrics, host 10000's one: the IV run after
    // it still meets at the same place.
    let mut tasks = f.tasks(json!({"filter_methods": ["statistic_filter", "iv_filter"],
        "statistic_param": {"metrics": ["min", "max"], "threshold": [-1, -1]},
        "iv_param": {"threshold": 0.2}}));
    tasks[1].params["statistic_param"] = json!({"metrics": "count", "threshold": 1});
    let run = run_parties(&f.store, &tasks);
    for r in &run.results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(kept(&run.trackers[1]), strings(&["age", "debt"]));
    assert_eq!(
        model(&run.trackers[0]).param["results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        model(&run.trackers[1]).param["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn without_select_federated_hosts_keep_every_column() {
    let f = federated();
    for params in [
        json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": 0.2, "select_federated": false}}),
        json!({"filter_methods": ["iv_value_thres"], "iv_value_param": {"value_threshold": 0.2, "local_only": true}}),
    ] {
        let run = f.run(params);
        assert_eq!(kept(&run.trackers[0]), strings(&["g0", "g2"]));
        assert_eq!(kept(&run.trackers[1]), strings(&f.host_headers[0]));
        assert_eq!(kept(&run.trackers[2]), strings(&f.host_headers[1]));
        assert_eq!(
            model(&run.trackers[0]).param["results"][0]["host_left_cols"],
            json!([])
        );
    }
}

#[test]
fn predict_reproduces_the_fit_output_without_federation() {
    let f = federated();
    let params = json!({"filter_methods": ["unique_value", "iv_filter", "statistic_filter"],
                        "iv_param": {"threshold": 0.2},
                        "statistic_param": {"metrics": "max", "filter_type": "top_k", "threshold": 2}});
    let run = f.run(params);
    let data = [&f.guest, &f.hosts[0], &f.hosts[1]];
    for (i, t) in run.trackers.iter().enumerate() {
        let (_, fit_out) = t.output_data().pop().unwrap();
        let fit_model = model(t);
        // Predict: each party alone with its model; no isometric model, no federation.
        let tracker = RecordingTracker::new();
        let mut c = context(
            "hetero_feature_selection_1",
            "HeteroFeatureSelection",
            json!({"filter_methods": ["iv_filter"]}),
            &f.store,
            &tracker,
        );
        if i > 0 {
            c.role = Role::Host;
            c.party_id = HOSTS[i - 1];
        }
        c.roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, HOSTS.to_vec())]);
        c.inputs.data.insert("data".into(), vec![data[i].clone()]);
        c.inputs
            .model
            .push(model_input("hetero_feature_selection_0", fit_model.clone()));
        registry()
            .get("HeteroFeatureSelection")
            .unwrap()
            .run(&c)
            .unwrap();
        let (_, out) = tracker.output_data().pop().unwrap();
        assert_ne!(out, fit_out);
        let (a, b) = (frame(&f.store, &fit_out), frame(&f.store, &out));
        assert_eq!(a.columns(), b.columns());
        assert_eq!(a.label_name(), b.label_name());
        assert_eq!(a.sid_name(), b.sid_name());
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(tracker.models().pop().unwrap().1, fit_model);
        let id = |t: &TableRef| TableId::new(&t.namespace, &t.name).unwrap();
        assert_eq!(
            f.store.info(&id(&out)).unwrap().partitions,
            f.store.info(&id(data[i])).unwrap().partitions
        );
    }
    // The guest's fit output is the input restricted to the kept columns.
    let input = frame(&f.store, &f.guest);
    let (_, out) = run.trackers[0].output_data().pop().unwrap();
    let out = frame(&f.store, &out);
    let kept_cols: Vec<usize> = out
        .columns()
        .iter()
        .map(|c| input.column_index(c).unwrap())
        .collect();
    for (r, sid) in out.sids().iter().enumerate() {
        let i = input.sids().iter().position(|s| s == sid).unwrap();
        let want: Vec<u64> = kept_cols
            .iter()
            .map(|&c| input.get(i, c).to_bits())
            .collect();
        let got: Vec<u64> = out.row(r).iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn predict_fails_naming_a_missing_column() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let (t, r) = run_guest(
        &store,
        &Task::new(&data, json!({"filter_methods": ["unique_value"]})),
    );
    let m = model(&ok(t, r));
    let other = table(
        &store,
        "other",
        &[("y", vec![0.0, 1.0]), ("x2", vec![1.0, 2.0])],
        Some("y"),
    );
    let mut task = Task::new(&other, json!({}));
    task.model = Some(m);
    let (_, r) = run_guest(&store, &task);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("table experiment.other has no column `x3` (kept by model `model` of component `hetero_feature_selection_0`)"),
        "{e}"
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let (_dir, store) = temp_store();
    let cols = shaped_columns();
    let data = table(&store, "shaped", &cols, Some("y"));
    let fail = |params: Value| {
        let (_, r) = run_guest(&store, &Task::new(&data, params));
        r.unwrap_err()
    };
    let e = fail(json!({"filter_methods": ["unique_value", "homo_sbt_filter"]}));
    assert!(
        e.to_string()
            .starts_with("parameter `filter_methods[1]`: `homo_sbt_filter` is not supported"),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::User);
    // The VIF filter needs a HeteroPearson model among the isometric inputs.
    let e = fail(json!({"filter_methods": ["vif_filter"]})).to_string();
    assert!(e.contains("HeteroPearson model"), "{e}");
    let e = fail(json!({"filter_methods": ["unique", "manually"]})).to_string();
    assert!(
        e.starts_with(
            "invalid parameter `filter_methods[0]`: `unique` is not a FATE filter method"
        ),
        "{e}"
    );
    let e = fail(json!({"filter_methods": ["manually", "iv_top_k"]})).to_string();
    assert_eq!(
        e,
        "component HeteroFeatureSelection needs a HeteroFeatureBinning model among its \
         `isometric_model` inputs for filter_methods[1] (iv_top_k), but the task has none"
    );
    let e = fail(json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": "high"}}))
        .to_string();
    assert_eq!(
        e,
        "invalid parameter `iv_param.threshold`: expected a number, found the string \"high\""
    );
    let e = fail(json!({"filter_methods": ["statistic_filter"],
                        "statistic_param": {"filter_type": "top_k", "threshold": 0.5}}))
    .to_string();
    assert!(
        e.contains("`statistic_param.threshold`: with filter_type top_k the threshold is k"),
        "{e}"
    );
    let e = fail(json!({"manually_param": {"left_col_names": ["x2", "nope"]}})).to_string();
    assert!(
        e.contains("`manually_param.left_col_names`: `nope` is not a feature column"),
        "{e}"
    );
    let e = fail(json!({"select_names": ["y"], "select_col_indexes": []})).to_string();
    assert!(
        e.contains("`select_names`: `y` is not a feature column"),
        "the label is not a feature: {e}"
    );
    // A guest column the binning model did not bin.
    let bin = binning("guest", GUEST, &["x2", "x3"], Some(&[0.1, 0.2]), &[]);
    let (_, r) = run_guest(
        &store,
        &Task::new(&data, json!({"filter_methods": ["iv_filter"]})).iso(bin.clone()),
    );
    let e = r.unwrap_err().to_string();
    assert!(e.contains("column `x0` has no binning_result"), "{e}");
    let (_, r) = run_guest(
        &store,
        &Task::new(
            &data,
            json!({"filter_methods": ["iv_filter"], "select_col_indexes": [2, 3]}),
        )
        .iso(bin.clone()),
    );
    assert!(r.is_ok(), "{r:?}");
    // A binning model given as `model` gets a hint.
    let mut task = Task::new(&data, json!({"filter_methods": ["iv_filter"]}));
    task.model = Some(bin);
    let (_, r) = run_guest(&store, &task);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("give it as `isometric_model`"));
    // A statistic of a column without values.
    let empty = table(
        &store,
        "nan",
        &[("a", vec![f64::NAN, f64::NAN]), ("b", vec![1.0, 2.0])],
        None,
    );
    let (_, r) = run_guest(
        &store,
        &Task::new(&empty, json!({"filter_methods": ["statistic_filter"]})),
    );
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("column `a` of table experiment.nan has no value to compute the mean from"),
        "{e}"
    );
    // unique_value counts such a column as constant.
    let (t, r) = run_guest(
        &store,
        &Task::new(&empty, json!({"filter_methods": ["unique_value"]})),
    );
    assert_eq!(kept(&ok(t, r)), strings(&["b"]));
}

#[test]
fn a_failing_host_stops_the_guest_and_the_other_host_quickly() {
    let f = federated();
    // Host 10001 has no binning model: it fails before the IV filter and says so.
    let mut tasks = f.tasks(json!({"filter_methods": ["iv_filter"]}));
    tasks[2].isometric.clear();
    let started = std::time::Instant::now();
    let run = run_parties(&f.store, &tasks);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "nobody waited for a timeout"
    );
    let e = run.results[2].as_ref().unwrap_err();
    assert!(
        e.to_string().contains("needs a HeteroFeatureBinning model"),
        "{e}"
    );
    let e = run.results[0].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "host 10001 failed with a user error; the cause is in its own task log"
    );
    assert_eq!(e.kind(), ErrorKind::User);
    let e = run.results[1].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "guest 9999 failed with a user error; the cause is in its own task log"
    );

    // A host whose local filter fails mid-run (a statistic without values) stops the
    // guest at the next IV filter.
    let mut tasks = f.tasks(json!({"filter_methods": ["statistic_filter", "iv_filter"],
                                   "statistic_param": {"metrics": "min", "threshold": -1}}));
    let nan = table(
        &f.store,
        "host_nan",
        &[
            ("age", vec![f64::NAN; 40]),
            ("income", vec![1.0; 40]),
            ("debt", vec![2.0; 40]),
            ("zip", vec![3.0; 40]),
        ],
        None,
    );
    tasks[1].data = nan;
    let run = run_parties(&f.store, &tasks);
    assert!(run.results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("no value to compute the min"));
    assert!(run.results[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("host 10000 failed"));
    assert!(run.results[2]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("guest 9999 failed"));

    // One threshold for two hosts: the guest names the parameter, the hosts stop.
    let run = run_parties(
        &f.store,
        &f.tasks(json!({"filter_methods": ["iv_value_thres"],
        "iv_value_param": {"host_thresholds": [0.1]}})),
    );
    let e = run.results[0].as_ref().unwrap_err().to_string();
    assert_eq!(
        e,
        "invalid parameter `iv_value_param.host_thresholds`: 1 thresholds given for 2 hosts: give one per host"
    );
    for r in &run.results[1..] {
        assert!(r
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("guest 9999 failed with a user error"));
    }

    // Parties that disagree on where the IV filters are.
    let mut tasks = f.tasks(json!({"filter_methods": ["iv_filter"]}));
    tasks[1].params = json!({"filter_methods": ["manually", "iv_filter"]});
    let run = run_parties(&f.store, &tasks);
    let e = run.results[0].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("host 10000 runs IV filters at [filter_methods[1]] but the guest at [filter_methods[0]]"),
        "{e}"
    );
    assert!(run.results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("guest 9999 failed"));
    assert!(run.results[2]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("guest 9999 failed"));
}

#[test]
fn default_credit_guest_local_filters_and_predict() {
    let (_dir, store) = temp_store();
    let raw = common::upload_example(&store, "default_credit_hetero_guest.csv");
    let id = TableId::new(&raw.namespace, &raw.name).unwrap();
    let f = fateflow_tables::read_all(&store, &id)
        .unwrap()
        .with_label("y")
        .unwrap();
    let labeled = TableId::new("experiment", "credit").unwrap();
    write_frame(&store, &labeled, &f, 4, WriteMode::Replace).unwrap();
    let data = TableRef::new("experiment", "credit");
    let names: Vec<String> = f.columns().iter().filter(|c| *c != "y").cloned().collect();
    let column = |n: &str| f.column(f.column_index(n).unwrap());

    let params = json!({"filter_methods": ["percentage_value", "statistic_filter"],
                        "percentage_value_param": {"upper_pct": 0.5},
                        "statistic_param": {"metrics": "stddev", "filter_type": "top_percentile",
                                            "threshold": 0.5}});
    let started = std::time::Instant::now();
    let (t, r) = run_guest(&store, &Task::new(&data, params));
    let fit_time = started.elapsed();
    let t = ok(t, r);
    // Independently: drop columns whose most frequent value fills more than half the rows…
    let rows = f.nrows() as f64;
    let after_pct: Vec<&String> = names
        .iter()
        .filter(|n| {
            let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
            for v in column(n) {
                *counts.entry(v.to_bits()).or_default() += 1;
            }
            *counts.values().max().unwrap() as f64 <= (rows * 0.5).ceil()
        })
        .collect();
    assert!(
        after_pct.len() < names.len(),
        "default_credit has dominated columns"
    );
    // …then keep the ceil(half) with the largest deviation, earlier first among ties.
    let mut by_std: Vec<(&String, f64)> = after_pct
        .iter()
        .map(|n| (*n, mean_std(&column(n)).1))
        .collect();
    by_std.sort_by(|a, b| b.1.total_cmp(&a.1));
    let k = (after_pct.len() as f64 * 0.5).ceil() as usize;
    let top: BTreeSet<&String> = by_std[..k].iter().map(|(n, _)| *n).collect();
    let want: Vec<String> = names.iter().filter(|n| top.contains(n)).cloned().collect();
    assert_eq!(kept(&t), want);

    let mut task = Task::new(&data, json!({}));
    task.model = Some(model(&t));
    let started = std::time::Instant::now();
    let (p, r) = run_guest(&store, &task);
    let predict_time = started.elapsed();
    let p = ok(p, r);
    let out = |t: &RecordingTracker| frame(&store, &t.output_data().pop().unwrap().1);
    assert_eq!(bits(&out(&t)), bits(&out(&p)));
    eprintln!(
        "default_credit guest ({} rows, {} features): fit {fit_time:?}, transform {predict_time:?}",
        f.nrows(),
        names.len()
    );
}

/// IV of each column of `frame` against `labels` (by sid), binned as spec §4.2–4.3 say:
/// quantile split points of rank ceil(i/10 · n), a value goes to the first bin whose
/// split point it does not exceed, WOE with 0.5 added to both counts of a bin with an
/// empty side.
fn quantile_ivs(frame: &Frame, labels: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let y: Vec<f64> = frame.sids().iter().map(|s| labels[s]).collect();
    let events = y.iter().filter(|&&v| v == 1.0).count() as f64;
    let non_events = y.len() as f64 - events;
    frame
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| Some(c.as_str()) != frame.label_name())
        .map(|(j, c)| {
            let x = frame.column(j);
            let mut sorted = x.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let mut splits: Vec<f64> = (1..=10)
                .map(|i| sorted[((i as f64 / 10.0 * n as f64).ceil() as usize).clamp(1, n) - 1])
                .collect();
            splits.dedup();
            let mut counts = vec![(0.0, 0.0); splits.len()];
            for (v, label) in x.iter().zip(&y) {
                let bin = splits[..splits.len() - 1].partition_point(|s| s < v);
                if *label == 1.0 {
                    counts[bin].0 += 1.0;
                } else {
                    counts[bin].1 += 1.0;
                }
            }
            let iv = counts
                .iter()
                .map(|&(e, ne)| {
                    let (er, ner) = if e == 0.0 || ne == 0.0 {
                        ((e + 0.5) / events, (ne + 0.5) / non_events)
                    } else {
                        (e / events, ne / non_events)
                    };
                    (er - ner) * (er / ner).ln()
                })
                .sum();
            (c.clone(), iv)
        })
        .collect()
}

#[test]
fn breast_with_the_example_job_parameters_and_a_pooled_top_k() {
    let (_dir, store) = temp_store();
    let g_raw = common::upload_example(&store, "breast_hetero_guest.csv");
    let h_raw = common::upload_example(&store, "breast_hetero_host.csv");
    let g_frame = frame(&store, &g_raw).with_label("y").unwrap();
    write_frame(
        &store,
        &TableId::new("experiment", "breast_g").unwrap(),
        &g_frame,
        4,
        WriteMode::Replace,
    )
    .unwrap();
    let guest = TableRef::new("experiment", "breast_g");
    let h_frame = frame(&store, &h_raw);
    let labels: BTreeMap<String, f64> = g_frame
        .sids()
        .iter()
        .cloned()
        .zip(g_frame.column(g_frame.column_index("y").unwrap()))
        .collect();
    let g_ivs = quantile_ivs(&g_frame, &labels);
    let h_ivs = quantile_ivs(&h_frame, &labels);
    let g_names: Vec<&str> = g_ivs.iter().map(|(n, _)| n.as_str()).collect();
    let h_names: Vec<&str> = h_ivs.iter().map(|(n, _)| n.as_str()).collect();
    let tasks = |params: Value| {
        vec![
            Task::new(&guest, params.clone()).iso(binning(
                "guest",
                GUEST,
                &g_names,
                Some(&g_ivs.iter().map(|(_, v)| *v).collect::<Vec<_>>()),
                &[(HOSTS[0], h_ivs.iter().map(|(_, v)| *v).collect())],
            )),
            Task::new(&h_raw, params).iso(binning("host", HOSTS[0], &h_names, None, &[])),
        ]
    };
    let run = |params: Value| {
        let run = run_parties(&store, &tasks(params));
        for r in &run.results {
            assert!(r.is_ok(), "{r:?}");
        }
        run
    };
    // The selection of examples/jobs/hetero_lr, as its conf gives it.
    let conf: Value = serde_json::from_str(
        &std::fs::read_to_string(common::data_file("../jobs/hetero_lr/conf.json")).unwrap(),
    )
    .unwrap();
    let params = conf["component_parameters"]["common"]["hetero_feature_selection_0"].clone();
    let r = run(params.clone());
    let at_least = |ivs: &[(String, f64)], t: f64| -> Vec<String> {
        ivs.iter()
            .filter(|(_, v)| *v >= t)
            .map(|(n, _)| n.clone())
            .collect()
    };
    let threshold = params["iv_value_param"]["value_threshold"]
        .as_f64()
        .unwrap();
    assert_eq!(kept(&r.trackers[0]), at_least(&g_ivs, threshold));
    assert_eq!(kept(&r.trackers[1]), at_least(&h_ivs, threshold));

    // Top 8 of the 30 columns of both parties.
    let r = run(
        json!({"filter_methods": ["iv_filter"], "iv_param": {"filter_type": "top_k", "threshold": 8}}),
    );
    let mut pooled: Vec<(usize, &String, f64)> = g_ivs.iter().map(|(n, v)| (0, n, *v)).collect();
    pooled.extend(h_ivs.iter().map(|(n, v)| (1, n, *v)));
    let mut ranked = pooled.clone();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (party, ivs) in [&g_ivs, &h_ivs].iter().enumerate() {
        let mut want: Vec<String> = ivs
            .iter()
            .filter(|(n, _)| ranked[..8].iter().any(|(p, m, _)| *p == party && *m == n))
            .map(|(n, _)| n.clone())
            .collect();
        if want.is_empty() {
            // The party keeps its best column anyway.
            let best = ivs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            want.push(best.0.clone());
        }
        assert_eq!(kept(&r.trackers[party]), want, "party {party}");
    }
    let total = kept(&r.trackers[0]).len() + kept(&r.trackers[1]).len();
    assert!((8..=9).contains(&total), "{total}");
}

/// A multi-class binning model: per class, the guest's IVs and one host's.
fn multi_class_binning(header: &[&str], classes: &[(Vec<f64>, Vec<f64>)]) -> ComponentModel {
    let bin = |iv: f64| json!({"split_points": [0.5, 1.0], "bin_nums": 2, "iv": iv});
    let own = |ivs: &[f64]| -> Value {
        Value::Object(
            header
                .iter()
                .zip(ivs)
                .map(|(c, &iv)| (c.to_string(), bin(iv)))
                .collect(),
        )
    };
    let host = |ivs: &[f64]| -> Value {
        Value::Object(
            ivs.iter()
                .enumerate()
                .map(|(i, &iv)| (format!("host_{}_x{i}", HOSTS[0]), bin(iv)))
                .collect(),
        )
    };
    let labels: Vec<String> = (0..classes.len()).rev().map(|l| l.to_string()).collect();
    ComponentModel {
        module: "HeteroFeatureBinning".into(),
        param: json!({
            "header": header,
            "header_anonymous": (0..header.len()).map(|i| format!("guest_{GUEST}_x{i}")).collect::<Vec<_>>(),
            "binning_result": own(&classes[0].0),
            "host_results": {HOSTS[0].to_string(): host(&classes[0].1)},
            "labels": labels,
            "multi_class_result": {
                "labels": labels,
                "results": classes.iter().map(|c| own(&c.0)).collect::<Vec<_>>(),
                "host_results": {HOSTS[0].to_string(): classes.iter().map(|c| host(&c.1)).collect::<Vec<_>>()},
            },
        }),
        meta: json!({}),
    }
}

#[test]
fn iv_filters_merge_the_classes_of_a_multi_class_binning_model_as_fate() {
    let (_dir, store) = temp_store();
    let mut rng = Rng(5);
    let mut cols = |names: &[&'static str], label: bool| -> Vec<(&'static str, Vec<f64>)> {
        let mut out = Vec::new();
        if label {
            out.push(("y", (0..30).map(|i| (i % 3) as f64).collect()));
        }
        for n in names {
            out.push((*n, (0..30).map(|_| rng.next()).collect()));
        }
        out
    };
    let g = table(
        &store,
        "mc_guest",
        &cols(&["g0", "g1", "g2"], true),
        Some("y"),
    );
    let h = table(&store, "mc_host", &cols(&["a", "b", "c"], false), None);
    // Per class (labels 2, 1, 0): guest IVs and host IVs.
    let classes = vec![
        (vec![0.9, 0.1, 0.2], vec![0.05, 0.6, 0.1]),
        (vec![0.1, 0.1, 0.3], vec![0.05, 0.1, 0.1]),
        (vec![0.2, 0.15, 0.1], vec![0.4, 0.2, 0.1]),
    ];
    let model = multi_class_binning(&["g0", "g1", "g2"], &classes);
    let run = |iv_param: Value| {
        let params = json!({"filter_methods": ["iv_filter"], "iv_param": iv_param});
        let tasks = vec![
            Task::new(&g, params.clone()).iso(model.clone()),
            Task::new(&h, params).iso(binning("host", HOSTS[0], &["a", "b", "c"], None, &[])),
        ];
        let r = run_parties(&store, &tasks);
        for (i, x) in r.results.iter().enumerate() {
            assert!(x.is_ok(), "party {i}: {x:?}");
        }
        (kept(&r.trackers[0]), kept(&r.trackers[1]))
    };
    // max: g0 0.9, g1 0.15, g2 0.3 | a 0.4, b 0.6, c 0.1.
    assert_eq!(
        run(json!({"threshold": 0.3, "mul_class_merge_type": "max"})),
        (strings(&["g0", "g2"]), strings(&["a", "b"]))
    );
    // FATE 1.11's `min` takes the maximum too.
    assert_eq!(
        run(json!({"threshold": 0.3, "mul_class_merge_type": "min"})),
        (strings(&["g0", "g2"]), strings(&["a", "b"]))
    );
    // average: g0 0.4, g1 0.11667, g2 0.2 | a 0.16667, b 0.3, c 0.1.
    assert_eq!(
        run(json!({"threshold": 0.19, "mul_class_merge_type": "average"})),
        (strings(&["g0", "g2"]), strings(&["b"]))
    );
    // A list of metrics, as FATE's multiclass example: one run per entry.
    let (gk, hk) = run(
        json!({"metrics": ["iv", "iv"], "filter_type": ["threshold", "top_k"],
                              "threshold": [0.15, 2], "mul_class_merge_type": ["average", "max"]}),
    );
    // average ≥ 0.15: g0, g2 | a, b; then top 2 by max over what is left: g0 0.9, b 0.6.
    assert_eq!((gk, hk), (strings(&["g0"]), strings(&["b"])));
}

/// A `HeteroSecureBoost` model param as the tree crate writes it: `entries` are
/// (sitename, fid, importance, fullname); `header` is this party's columns.
fn secureboost(
    module: &str,
    model_name: &str,
    header: &[&str],
    entries: &[(&str, i64, f64, &str)],
) -> ComponentModel {
    let importances: Vec<Value> = entries
        .iter()
        .map(|(site, fid, imp, name)| {
            json!({"sitename": site, "fid": fid, "importance": imp, "fullname": name,
                   "importance2": 0.0, "main": "split"})
        })
        .collect();
    let mapping: serde_json::Map<String, Value> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (i.to_string(), json!(c)))
        .collect();
    ComponentModel {
        module: module.into(),
        param: json!({
            "tree_num": 0, "trees_": [], "init_score": [0.0], "losses": [], "tree_dim": 1,
            "num_classes": 2, "classes_": ["0", "1"], "feature_importances": importances,
            "feature_name_fid_mapping": mapping, "best_iteration": -1, "tree_plan": [],
            "model_name": model_name, "multi_output": false,
        }),
        meta: json!({"module": "HeteroSecureBoost"}),
    }
}

/// Guest x0..x4 and host h0..h3 with their SecureBoost models' importances: guest
/// x0 1, x1 5, x3 2 (x2, x4 never split on; the host's features are listed on its copy
/// under anonymous names and must be skipped), host h0 1, h2 4.
fn sbt_tasks(store: &LocalTableStore, model_name: &str, params: Value) -> Vec<Task> {
    let mut rng = Rng(7);
    let mut cols = |names: &[&'static str], label: bool| {
        let mut out: Vec<(&str, Vec<f64>)> = Vec::new();
        if label {
            out.push(("y", (0..30).map(|i| (i % 2) as f64).collect()));
        }
        for n in names {
            out.push((*n, (0..30).map(|_| rng.next()).collect()));
        }
        out
    };
    let guest_header = ["x0", "x1", "x2", "x3", "x4"];
    let host_header = ["h0", "h1", "h2", "h3"];
    let g = table(store, "sbt_guest", &cols(&guest_header, true), Some("y"));
    let h = table(store, "sbt_host", &cols(&host_header, false), None);
    let guest_model = secureboost(
        "HeteroSecureBoost",
        model_name,
        &guest_header,
        &[
            ("host:10000", 0, 9.0, "host_10000_x1"),
            ("guest:9999", 1, 5.0, "x1"),
            ("host:10000", 0, 4.0, "host_10000_x2"),
            ("guest:9999", 3, 2.0, "x3"),
            ("guest:9999", 0, 1.0, "x0"),
        ],
    );
    let host_model = secureboost(
        "HeteroFastSecureBoost",
        model_name,
        &host_header,
        &[("hostLocal", 2, 4.0, "h2"), ("hostLocal", 0, 1.0, "h0")],
    );
    vec![
        Task::new(&g, params.clone()).iso(guest_model),
        Task::new(&h, params).iso(host_model),
    ]
}

#[test]
fn sbt_filters_judge_each_party_by_its_own_importances() {
    let (_dir, store) = temp_store();
    let params = json!({"filter_methods": ["hetero_fast_sbt_filter"],
                        "sbt_param": {"metrics": "feature_importance", "filter_type": "threshold",
                                      "take_high": true, "threshold": 2}});
    let run = run_parties(
        &store,
        &sbt_tasks(&store, "hetero_fast_sbt_layered", params),
    );
    for (i, r) in run.results.iter().enumerate() {
        assert!(r.is_ok(), "party {i}: {r:?}");
    }
    let (guest, host) = (&run.trackers[0], &run.trackers[1]);
    assert_eq!(kept(guest), strings(&["x1", "x3"]));
    assert_eq!(out_header(&store, guest), strings(&["y", "x1", "x3"]));
    assert_eq!(kept(host), strings(&["h2"]));
    assert_eq!(out_header(&store, host), strings(&["h2"]));
    let g = model(guest);
    let r = &g.param["results"][0];
    assert_eq!(r["filter_name"], json!("hetero_fast_sbt_filter"));
    assert_eq!(
        r["feature_values"],
        json!({"x0": 1.0, "x1": 5.0, "x2": 0.0, "x3": 2.0, "x4": 0.0})
    );
    assert_eq!(r["host_left_cols"], json!([]), "not federated, as in FATE");
    assert_eq!(
        g.meta["filter_metas"][0],
        json!({"metrics": "feature_importance", "filter_type": "threshold", "take_high": true,
               "threshold": 2.0, "select_federated": true,
               "filter_name": "hetero_fast_sbt_filter", "filter_method": "hetero_fast_sbt_filter"})
    );
    assert_eq!(
        model(host).param["results"][0]["feature_values"],
        json!({"h0": 1.0, "h1": 0.0, "h2": 4.0, "h3": 0.0})
    );
    // Besides the plan handshake, nothing crosses: no column names, no importances.
    let sent = run.guest_sent.lock().unwrap();
    assert!(
        sent.iter().all(|(name, ..)| name == "selection_plan_ack"),
        "{sent:?}"
    );
}

#[test]
fn sbt_top_k_and_top_percentile_on_what_earlier_filters_left() {
    let (_dir, store) = temp_store();
    let params = json!({"filter_methods": ["manually", "hetero_sbt_filter"],
                        "manually_param": {"filter_out_names": []},
                        "sbt_param": {"metrics": ["feature_importance", "feature_importance"],
                                      "filter_type": ["top_k", "top_percentile"],
                                      "threshold": [3, 0.5]}});
    let mut tasks = sbt_tasks(&store, "hetero_sbt", params);
    // The guest drops x1 by hand first.
    tasks[0].params["manually_param"]["filter_out_names"] = json!(["x1"]);
    let run = run_parties(&store, &tasks);
    for (i, r) in run.results.iter().enumerate() {
        assert!(r.is_ok(), "party {i}: {r:?}");
    }
    // Guest: x0 1, x2 0, x3 2, x4 0 → top 3 x0, x2, x3 (ties in column order) → the
    // better ceil(0.5 · 3) = 2: x0, x3.
    assert_eq!(kept(&run.trackers[0]), strings(&["x0", "x3"]));
    // Host: h0 1, h1 0, h2 4, h3 0 → h0, h1, h2 → h0, h2.
    assert_eq!(kept(&run.trackers[1]), strings(&["h0", "h2"]));
    let summary = run.trackers[1].summary().unwrap();
    assert_eq!(
        summary["hetero_sbt_filter"]["left_col_names"],
        json!(["h0", "h1", "h2"])
    );
    assert_eq!(
        summary["hetero_sbt_filter_1"]["left_col_names"],
        json!(["h0", "h2"])
    );
}

#[test]
fn sbt_filters_fail_naming_the_model_they_need() {
    let (_dir, store) = temp_store();
    let run = run_parties(
        &store,
        &sbt_tasks(
            &store,
            "hetero_sbt",
            json!({"filter_methods": ["hetero_fast_sbt_filter"]}),
        ),
    );
    let e = run.results[0].as_ref().unwrap_err().to_string();
    assert!(
        e.contains(
            "a SecureBoost model with model_name hetero_fast_sbt_layered or \
             hetero_fast_sbt_mix among its `isometric_model` inputs for filter_methods[0]"
        ),
        "{e}"
    );
    assert!(run.results[1].is_err());

    let tasks = sbt_tasks(
        &store,
        "hetero_sbt",
        json!({"filter_methods": ["hetero_sbt_filter"], "select_col_indexes": [0, 4]}),
    );
    let mut guest = tasks[0].clone();
    guest.isometric[0].param["feature_name_fid_mapping"]
        .as_object_mut()
        .unwrap()
        .remove("4");
    let (_, r) = run_guest(&store, &guest);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("column `x4` is not in feature_name_fid_mapping"),
        "{e}"
    );
}

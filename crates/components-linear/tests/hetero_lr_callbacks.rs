//! HeteroLR / HeteroLinR with validation data and FATE 1.11's callbacks
//! (`callback_param`: validation frequency, early stopping, performance evaluation), every
//! party on a thread and an in-memory data plane.

mod common;

use std::collections::BTreeMap;

use common::registry;
use common::{context, MemoryHub, RecordingTracker};
use common::{temp_store, upload_example};
use fateflow_component_core::context::Metric;
use fateflow_component_core::predict_output::DataType;
use fateflow_component_core::{ComponentModel, Result, TableRef};
use fateflow_domain::Role;
use fateflow_tables::{read_all, write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;

/// `experiment.<file>` with `label` as the label column, and (when `split` is given) its
/// rows before and from that row as two more tables.
fn tables(
    store: &LocalTableStore,
    file: &str,
    label: Option<&str>,
    split: usize,
) -> (TableRef, TableRef, TableRef) {
    let raw = upload_example(store, file);
    let id = TableId::new(&raw.namespace, &raw.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if let Some(l) = label {
        frame = frame.with_label(l).unwrap();
    }
    let write = |suffix: &str, rows: std::ops::Range<usize>| {
        let k = frame.ncols();
        let sids = frame.sids()[rows.clone()].to_vec();
        let values = frame.values()[rows.start * k..rows.end * k].to_vec();
        let mut part =
            Frame::new(frame.sid_name(), frame.columns().to_vec(), sids, values).unwrap();
        if let Some(l) = label {
            part = part.with_label(l).unwrap();
        }
        let name = format!("{}_{suffix}", raw.name);
        let out = TableId::new("experiment", &name).unwrap();
        write_frame(store, &out, &part, 4, WriteMode::Replace).unwrap();
        TableRef::new("experiment", name)
    };
    let n = frame.nrows();
    (
        write("all", 0..n),
        write("fit", 0..split),
        write("val", split..n),
    )
}

/// Runs `module` at guest, host and arbiter, each party with its `(input key, table)`s.
fn run_parties(
    module: &str,
    store: &LocalTableStore,
    params: Value,
    guest: &[(&str, &TableRef)],
    host: &[(&str, &TableRef)],
) -> ([RecordingTracker; 3], Vec<Result<()>>) {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
    let roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, vec![HOST]),
        (Role::Arbiter, vec![HOST]),
    ]);
    let trackers = [
        RecordingTracker::new(),
        RecordingTracker::new(),
        RecordingTracker::new(),
    ];
    let parties = [
        (Role::Guest, GUEST, &trackers[0], guest),
        (Role::Host, HOST, &trackers[1], host),
        (Role::Arbiter, HOST, &trackers[2], &[][..]),
    ];
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .into_iter()
            .map(|(role, id, tracker, data)| {
                let fed = hub.party(role, id);
                let roles = roles.clone();
                let params = params.clone();
                s.spawn(move || {
                    let mut c = context("hetero_lr_0", module, params, store, tracker);
                    c.role = role;
                    c.party_id = id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    for (key, t) in data {
                        c.inputs.data.insert((*key).into(), vec![(*t).clone()]);
                    }
                    registry().get(module).unwrap().run(&c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (trackers, results)
}

fn all_ok(results: &[Result<()>]) {
    for r in results {
        assert!(r.is_ok(), "{r:?}");
    }
}

/// The guest's output table: sids and `type` codes.
fn output(store: &LocalTableStore, tracker: &RecordingTracker) -> (Vec<String>, Vec<f64>) {
    let (_, t) = tracker.output_data().pop().expect("guest output");
    let frame = read_all(store, &TableId::new(&t.namespace, &t.name).unwrap()).unwrap();
    let ty = frame.column_index("type").unwrap();
    (frame.sids().to_vec(), frame.column(ty))
}

/// The validation points the guest recorded: namespace → `[(epoch, metric, value)]`.
fn validation_points(tracker: &RecordingTracker) -> BTreeMap<String, Vec<(usize, String, f64)>> {
    let mut out: BTreeMap<String, Vec<(usize, String, f64)>> = BTreeMap::new();
    for Metric {
        namespace,
        name,
        data,
        meta,
    } in tracker.metrics()
    {
        let Some(epoch) = name.strip_prefix("iteration_") else {
            continue;
        };
        assert_eq!(meta["metric_type"], "EVALUATION_SUMMARY");
        for (k, v) in data {
            out.entry(namespace.clone()).or_default().push((
                epoch.parse().unwrap(),
                k.as_str().unwrap().to_string(),
                v.as_f64().unwrap(),
            ));
        }
    }
    out
}

fn model_param(tracker: &RecordingTracker) -> Value {
    let (_, m): (String, ComponentModel) = tracker.models().pop().expect("model");
    m.param
}

fn breast(extra: Value) -> Value {
    let mut p = json!({
        "penalty": "L2", "optimizer": "rmsprop", "alpha": 0.01, "learning_rate": 0.15,
        "batch_size": -1, "tol": 0.0, "early_stop": "weight_diff",
        "init_param": {"init_method": "zeros"},
        "encrypt_param": {"key_length": 1024}
    });
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p
}

#[test]
fn validate_data_equal_to_train_data_gives_each_sid_once_as_train() {
    let (_dir, store) = temp_store();
    let (g, _, _) = tables(&store, "breast_hetero_guest.csv", Some("y"), 0);
    let (h, _, _) = tables(&store, "breast_hetero_host.csv", None, 0);
    let params = breast(json!({
        "max_iter": 3,
        "callback_param": {"callbacks": ["PerformanceEvaluate"], "validation_freqs": 1}
    }));
    let (t, results) = run_parties(
        "HeteroLR",
        &store,
        params,
        &[("train_data", &g), ("validate_data", &g)],
        &[("train_data", &h), ("validate_data", &h)],
    );
    all_ok(&results);
    let (sids, types) = output(&store, &t[0]);
    assert_eq!(sids.len(), 569);
    let unique: std::collections::HashSet<&String> = sids.iter().collect();
    assert_eq!(unique.len(), 569, "each sid once");
    assert!(types
        .iter()
        .all(|&c| DataType::from_code(c) == Some(DataType::Train)));
    // Every validate row repeats a train row: FATE's union keeps the train rows, so
    // only train metrics exist, at each epoch, with FATE's default auc and ks.
    let points = validation_points(&t[0]);
    assert_eq!(points.keys().collect::<Vec<_>>(), ["train"]);
    let train = &points["train"];
    let expected: Vec<(usize, &str)> = (0..3).flat_map(|e| [(e, "auc"), (e, "ks")]).collect();
    let got: Vec<(usize, &str)> = train.iter().map(|(e, m, _)| (*e, m.as_str())).collect();
    assert_eq!(got, expected);
    assert!(train.iter().all(|(_, _, v)| *v > 0.8 && *v <= 1.0));
    let summary = t[0].summary().unwrap();
    assert_eq!(
        summary["validation_metrics"]["train"]["auc"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn validation_metrics_at_the_requested_frequency() {
    let (_dir, store) = temp_store();
    let (_, gf, gv) = tables(&store, "breast_hetero_guest.csv", Some("y"), 400);
    let (_, hf, hv) = tables(&store, "breast_hetero_host.csv", None, 400);
    let data_g = [("train_data", &gf), ("validate_data", &gv)];
    let data_h = [("train_data", &hf), ("validate_data", &hv)];
    // Deprecated top-level key: every 2 epochs, i.e. after epochs 1, 3 (0-based).
    let (t, results) = run_parties(
        "HeteroLR",
        &store,
        breast(json!({"max_iter": 5, "validation_freqs": 2, "metrics": ["auc"]})),
        &data_g,
        &data_h,
    );
    all_ok(&results);
    let points = validation_points(&t[0]);
    for ns in ["train", "validate"] {
        let got: Vec<(usize, &str)> = points[ns]
            .iter()
            .map(|(e, m, _)| (*e, m.as_str()))
            .collect();
        assert_eq!(got, [(1, "auc"), (3, "auc")], "{ns}");
    }
    // The output: 400 train rows then 169 validate rows.
    let (sids, types) = output(&store, &t[0]);
    assert_eq!(sids.len(), 569);
    let n_val = types
        .iter()
        .filter(|&&c| DataType::from_code(c) == Some(DataType::Validate))
        .count();
    assert_eq!(n_val, 169);
    // A list of epochs, in callback_param; no early stopping: the last model is kept.
    let (t, results) = run_parties(
        "HeteroLR",
        &store,
        breast(json!({"max_iter": 4, "callback_param": {
            "callbacks": ["PerformanceEvaluate"], "validation_freqs": [0, 2], "metrics": ["ks"]}})),
        &data_g,
        &data_h,
    );
    all_ok(&results);
    let points = validation_points(&t[0]);
    let got: Vec<(usize, &str)> = points["validate"]
        .iter()
        .map(|(e, m, _)| (*e, m.as_str()))
        .collect();
    assert_eq!(got, [(0, "ks"), (2, "ks")]);
    let p = model_param(&t[0]);
    assert_eq!(p["iters"], 4);
    assert!(p["best_iteration"].is_null());
}

/// FATE's `PerformanceRecorder` over one metric sequence per validation round (every
/// epoch): the epoch training stops at, and the best epoch of the metric that stopped
/// it (or of the first metric when none did).
fn expected_stop(rounds_seq: &[Vec<(String, f64)>], rounds: usize) -> (Option<usize>, usize) {
    let larger = |m: &str| matches!(m, "auc" | "ks" | "r2_score" | "explained_variance");
    let mut best: Vec<(String, f64, usize, usize)> = Vec::new(); // name, best, stale, best epoch
    for (epoch, round) in rounds_seq.iter().enumerate() {
        for (m, v) in round {
            match best.iter_mut().find(|b| &b.0 == m) {
                None => best.push((m.clone(), *v, 0, epoch)),
                Some(b) => {
                    let improved = if larger(m) { *v > b.1 } else { *v < b.1 };
                    if improved {
                        b.1 = *v;
                        b.2 = 0;
                        b.3 = epoch;
                    } else {
                        b.2 += 1;
                    }
                }
            }
        }
        if let Some(b) = best.iter().find(|b| b.2 >= rounds) {
            return (Some(epoch), b.3);
        }
    }
    (None, best[0].3)
}

#[test]
fn early_stopping_stops_where_the_metric_sequence_says() {
    let (_dir, store) = temp_store();
    let (_, gf, gv) = tables(&store, "breast_hetero_guest.csv", Some("y"), 400);
    let (_, hf, hv) = tables(&store, "breast_hetero_host.csv", None, 400);
    let data_g = [("train_data", &gf), ("validate_data", &gv)];
    let data_h = [("train_data", &hf), ("validate_data", &hv)];
    let max_iter = 12;
    // The reference: every epoch validated, no early stopping (training is
    // deterministic: zero init, full batch).
    let (t, results) = run_parties(
        "HeteroLR",
        &store,
        breast(json!({"max_iter": max_iter, "callback_param": {
            "callbacks": ["PerformanceEvaluate"], "validation_freqs": 1}})),
        &data_g,
        &data_h,
    );
    all_ok(&results);
    let points = validation_points(&t[0]);
    let mut seq: Vec<Vec<(String, f64)>> = vec![Vec::new(); max_iter];
    for (e, m, v) in &points["validate"] {
        seq[*e].push((m.clone(), *v));
    }
    let rounds = 2;
    for first_only in [false, true] {
        let watched: Vec<Vec<(String, f64)>> = seq
            .iter()
            .map(|r| r[..if first_only { 1 } else { r.len() }].to_vec())
            .collect();
        let (stop, best_epoch) = expected_stop(&watched, rounds);
        eprintln!(
            "validate metrics per epoch: {watched:?}; stop {stop:?}, best epoch {best_epoch}"
        );
        let stop = stop.unwrap_or_else(|| panic!("the case must stop early: {seq:?}"));
        assert!(stop + 1 < max_iter, "{seq:?}");
        check_early_stop(
            &store, &data_g, &data_h, max_iter, rounds, first_only, stop, best_epoch,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn check_early_stop(
    store: &LocalTableStore,
    data_g: &[(&str, &TableRef)],
    data_h: &[(&str, &TableRef)],
    max_iter: usize,
    rounds: usize,
    first_only: bool,
    stop: usize,
    best_epoch: usize,
) {
    let (t, results) = run_parties(
        "HeteroLR",
        store,
        breast(json!({"max_iter": max_iter, "callback_param": {
            "callbacks": ["EarlyStopping", "PerformanceEvaluate"], "validation_freqs": 1,
            "early_stopping_rounds": rounds, "use_first_metric_only": first_only}})),
        data_g,
        data_h,
    );
    all_ok(&results);
    let points = validation_points(&t[0]);
    let last = points["validate"].iter().map(|p| p.0).max().unwrap();
    assert_eq!(
        last, stop,
        "validations run through the stopping epoch only"
    );
    // Every party keeps the model of the best epoch, as FATE reloads it.
    for (i, tr) in t.iter().enumerate() {
        let p = model_param(tr);
        assert_eq!(p["best_iteration"], best_epoch, "party {i}");
        assert_eq!(p["iters"], best_epoch, "party {i}");
        assert_eq!(p["is_converged"], false, "party {i}");
    }
    // That model equals a plain run of best_epoch + 1 epochs.
    let (r, results) = run_parties(
        "HeteroLR",
        store,
        breast(json!({"max_iter": best_epoch + 1})),
        data_g,
        data_h,
    );
    all_ok(&results);
    for party in 0..2 {
        let (a, b) = (model_param(&t[party]), model_param(&r[party]));
        assert_eq!(a["weight"], b["weight"], "party {party}");
        assert_eq!(a["intercept"], b["intercept"], "party {party}");
    }
}

#[test]
fn early_stopping_needs_validate_data_and_linr_watches_regression_metrics() {
    let (_dir, store) = temp_store();
    let (g, _, _) = tables(&store, "breast_hetero_guest.csv", Some("y"), 0);
    let (h, _, _) = tables(&store, "breast_hetero_host.csv", None, 0);
    let params = breast(json!({"max_iter": 3, "validation_freqs": 1, "early_stopping_rounds": 1}));
    let (_, results) = run_parties(
        "HeteroLR",
        &store,
        params,
        &[("train_data", &g)],
        &[("train_data", &h)],
    );
    let e = results[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("validate_data"), "{e}");

    let (_, gf, gv) = tables(&store, "student_hetero_guest.csv", Some("y"), 300);
    let (_, hf, hv) = tables(&store, "student_hetero_host.csv", None, 300);
    let (t, results) = run_parties(
        "HeteroLinR",
        &store,
        json!({"optimizer": "sgd", "learning_rate": 0.15, "alpha": 0.01, "max_iter": 4,
            "init_param": {"init_method": "zeros"}, "encrypt_param": {"key_length": 1024},
            "callback_param": {"callbacks": ["PerformanceEvaluate"], "validation_freqs": 1,
                "metrics": ["r2", "mse"]}}),
        &[("train_data", &gf), ("validate_data", &gv)],
        &[("train_data", &hf), ("validate_data", &hv)],
    );
    all_ok(&results);
    let points = validation_points(&t[0]);
    let got: Vec<(usize, &str)> = points["validate"]
        .iter()
        .map(|(e, m, _)| (*e, m.as_str()))
        .collect();
    let expected: Vec<(usize, &str)> = (0..4)
        .flat_map(|e| [(e, "r2_score"), (e, "mean_squared_error")])
        .collect();
    assert_eq!(got, expected);
}

/// FATE's own `hetero_lr_warm_start` job lists `ModelCheckpoint` at its default
/// `save_freq`: accepted at submit as far as HeteroLR goes; another `save_freq` is
/// refused at submit, naming the key.
#[test]
fn model_checkpoint_is_accepted_only_at_fates_default_save_freq() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fate-examples");
    if !root.is_dir() {
        eprintln!("SKIPPED: ../shared/fate-examples is not next to the repository");
        return;
    }
    let catalog = fateflow_domain::Catalog::new(&[
        fateflow_components_data::SCHEMAS,
        fateflow_components_linear::SCHEMAS,
        fateflow_components_eval::SCHEMAS,
    ]);
    let folder = root.join("dsl/v2/hetero_logistic_regression");
    let dsl = std::fs::read_to_string(folder.join("hetero_lr_warm_start_dsl.json")).unwrap();
    let conf: Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("hetero_lr_warm_start_conf.json")).unwrap(),
    )
    .unwrap();
    let lr_errors = |conf: &Value| -> Vec<String> {
        match fateflow_domain::Job::parse_str(&dsl, &conf.to_string(), catalog) {
            Ok(_) => Vec::new(),
            Err(errs) => errs
                .iter()
                .filter(|e| e.component.as_deref() == Some("hetero_lr_0"))
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect(),
        }
    };
    assert_eq!(lr_errors(&conf), Vec::<String>::new());
    let mut changed = conf.clone();
    changed["component_parameters"]["common"]["hetero_lr_0"]["callback_param"]["save_freq"] =
        json!(2);
    let errs = lr_errors(&changed);
    assert!(
        errs.len() == 1 && errs[0].starts_with("callback_param.save_freq: "),
        "{errs:?}"
    );
}

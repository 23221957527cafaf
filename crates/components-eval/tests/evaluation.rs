//! Evaluation: metrics against scikit-learn (and a numpy replica of FATE's own curves)
//! from `fixtures/eval_fixtures.json`, a hand-computed case for FATE's definitions, the
//! metric names and namespaces, and input errors.

mod common;

use common::RecordingTracker;
use common::*;
use fateflow_component_core::predict_output::{self, DataType, PredictRow};
use fateflow_component_core::{ErrorKind, Metric, TableRef};
use fateflow_components_eval::evaluation::metrics::{self, Curve, Ranked};
use fateflow_tables::{write_frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const TOL: f64 = 1e-9;

fn fixtures() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval_fixtures.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read fixtures")).expect("parse")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= TOL
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(close(got, want), "{what}: got {got}, want {want}");
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w), "{what}[{i}]: got {g}, want {w}");
    }
}

fn assert_curve(what: &str, got: &Curve, want: &Value) {
    assert_all_close(&format!("{what}.x"), &got.x, &floats(&want["x"]));
    assert_all_close(&format!("{what}.y"), &got.y, &floats(&want["y"]));
    assert_all_close(
        &format!("{what}.thresholds"),
        &got.thresholds,
        &floats(&want["thresholds"]),
    );
}

/// Labels as the binary metrics take them.
fn positives(case: &Value) -> Vec<bool> {
    let pos = case["pos_label"].as_f64().unwrap();
    floats(&case["labels"]).iter().map(|&l| l == pos).collect()
}

#[test]
fn binary_metrics_match_scikit_learn() {
    let fx = fixtures();
    for case in fx["binary"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels = positives(case);
        let scores = floats(&case["scores"]);

        match case["auc"].as_f64() {
            Some(want) => assert_close(
                &format!("{name} auc"),
                metrics::auc(&labels, &scores).unwrap(),
                want,
            ),
            None => assert_eq!(metrics::auc(&labels, &scores), None, "{name}"),
        }
        match metrics::roc_curve(&labels, &scores) {
            Some(roc) => {
                let want = &case["roc"];
                assert_all_close(&format!("{name} fpr"), &roc.fpr, &floats(&want["fpr"]));
                assert_all_close(&format!("{name} tpr"), &roc.tpr, &floats(&want["tpr"]));
                assert_all_close(
                    &format!("{name} roc thresholds"),
                    &roc.thresholds,
                    &floats(&want["thresholds"]),
                );
                let ks_exact = roc
                    .tpr
                    .iter()
                    .zip(&roc.fpr)
                    .map(|(t, f)| t - f)
                    .fold(f64::NEG_INFINITY, f64::max);
                assert_close(
                    &format!("{name} exact ks"),
                    ks_exact,
                    case["ks_exact"].as_f64().unwrap(),
                );
                // FATE's KS looks at 100 cuts only: equal with at most 100 samples,
                // never above the exact value.
                let fate_ks = metrics::ks(&labels, &scores).unwrap().ks;
                assert!(fate_ks <= ks_exact + 1e-15, "{name}");
                if labels.len() <= 100 {
                    assert_close(&format!("{name} ks"), fate_ks, ks_exact);
                }
            }
            None => assert!(case["roc"].is_null(), "{name}"),
        }

        let at = Ranked::new(&labels, &scores).confusion(0.5);
        let want = &case["at_0_5"];
        assert_close(
            &format!("{name} accuracy"),
            at.accuracy(),
            want["accuracy"].as_f64().unwrap(),
        );
        assert_close(
            &format!("{name} precision"),
            at.precision(0.0),
            want["precision"].as_f64().unwrap(),
        );
        assert_close(
            &format!("{name} recall"),
            at.recall(0.0),
            want["recall"].as_f64().unwrap(),
        );
        let c = &want["confusion"];
        assert_eq!(
            [at.tp, at.fp, at.tn, at.fn_],
            ["tp", "fp", "tn", "fn"].map(|k| c[k].as_u64().unwrap()),
            "{name} confusion"
        );
    }
}

#[test]
fn binary_curves_match_the_fate_replica() {
    let fx = fixtures();
    for case in fx["binary"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels = positives(case);
        let scores = floats(&case["scores"]);
        let fate = &case["fate"];
        let ranked = Ranked::new(&labels, &scores);

        match metrics::ks(&labels, &scores) {
            Some(ks) => {
                assert_close(&format!("{name} ks"), ks.ks, fate["ks"].as_f64().unwrap());
                assert_all_close(
                    &format!("{name} ks cuts"),
                    &ks.cuts,
                    &floats(&fate["ks_cuts"]),
                );
                assert_all_close(&format!("{name} ks tpr"), &ks.tpr, &floats(&fate["ks_tpr"]));
                assert_all_close(&format!("{name} ks fpr"), &ks.fpr, &floats(&fate["ks_fpr"]));
                assert_all_close(
                    &format!("{name} ks thresholds"),
                    &ks.thresholds,
                    &floats(&fate["ks_thresholds"]),
                );
                let roc = metrics::roc_curve(&labels, &scores).unwrap();
                assert_curve(
                    &format!("{name} roc"),
                    &metrics::fate_roc(&roc),
                    &fate["roc"],
                );
            }
            None => assert!(fate.get("ks").is_none(), "{name}"),
        }
        assert_curve(
            &format!("{name} lift"),
            &metrics::lift(&ranked),
            &fate["lift"],
        );
        assert_curve(
            &format!("{name} gain"),
            &metrics::gain(&ranked),
            &fate["gain"],
        );
        let (precision, recall) = metrics::precision_recall(&ranked);
        assert_curve(&format!("{name} precision"), &precision, &fate["precision"]);
        assert_curve(&format!("{name} recall"), &recall, &fate["recall"]);
        assert_curve(
            &format!("{name} accuracy"),
            &metrics::accuracy_curve(&ranked),
            &fate["accuracy"],
        );
        let (thresholds, counts) = metrics::confusion_table(&ranked);
        let want = &fate["confusion"];
        assert_all_close(
            &format!("{name} confusion thresholds"),
            &thresholds,
            &floats(&want["thresholds"]),
        );
        for (key, get) in [
            (
                "tp",
                (|m: &metrics::Confusion| m.tp) as fn(&metrics::Confusion) -> u64,
            ),
            ("fp", |m| m.fp),
            ("tn", |m| m.tn),
            ("fn", |m| m.fn_),
        ] {
            let got: Vec<f64> = counts.iter().map(|m| get(m) as f64).collect();
            assert_all_close(
                &format!("{name} confusion {key}"),
                &got,
                &floats(&want[key]),
            );
        }
        let (_, f1) = metrics::f1_table(&ranked);
        assert_all_close(&format!("{name} f1"), &f1, &floats(&fate["f1"]));
    }
}

#[test]
fn multi_class_metrics_match_scikit_learn() {
    let fx = fixtures();
    for case in fx["multi"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let m = metrics::multi_class(&floats(&case["labels"]), &floats(&case["predicted"]));
        assert_close(
            &format!("{name} accuracy"),
            m.accuracy,
            case["accuracy"].as_f64().unwrap(),
        );
        assert_eq!(m.classes, floats(&case["classes"]), "{name}");
        assert_all_close(
            &format!("{name} precision"),
            &m.precision,
            &floats(&case["precision"]),
        );
        assert_all_close(
            &format!("{name} recall"),
            &m.recall,
            &floats(&case["recall"]),
        );
    }
}

type RegressionFn = fn(&[f64], &[f64]) -> f64;

const REGRESSION: [(&str, RegressionFn); 6] = [
    ("mean_squared_error", metrics::mean_squared_error),
    ("root_mean_squared_error", metrics::root_mean_squared_error),
    ("mean_absolute_error", metrics::mean_absolute_error),
    ("median_absolute_error", metrics::median_absolute_error),
    ("r2_score", metrics::r2_score),
    ("explained_variance", metrics::explained_variance),
];

#[test]
fn regression_metrics_match_scikit_learn() {
    let fx = fixtures();
    for case in fx["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (y, p) = (floats(&case["labels"]), floats(&case["predicted"]));
        for (metric, f) in REGRESSION {
            assert_close(
                &format!("{name} {metric}"),
                f(&y, &p),
                case[metric].as_f64().unwrap(),
            );
        }
    }
}

// ------------------------------------------------------------- through the component

/// The namespace of the upstream `hetero_lr_0` task output in the test job.
const UPSTREAM_NS: &str = "output_data_test_job_hetero_lr_0_0";

/// Stores prediction rows as the output of `hetero_lr_0`.
fn store_predictions(store: &LocalTableStore, name: &str, rows: Vec<PredictRow>) -> TableRef {
    let frame = predict_output::to_frame::<&str>("id", &[], rows).unwrap();
    let id = TableId::new(UPSTREAM_NS, name).unwrap();
    write_frame(store, &id, &frame, 3, WriteMode::Create).unwrap();
    TableRef::new(UPSTREAM_NS, name)
}

fn rows_of(
    labels: &[f64],
    values: &[f64],
    data_type: impl Fn(usize) -> DataType,
) -> Vec<PredictRow> {
    labels
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (&label, &value))| PredictRow {
            sid: format!("s{i}"),
            label,
            predict_result: value,
            predict_score: value,
            data_type: data_type(i),
            detail: Vec::new(),
        })
        .collect()
}

fn evaluate(
    store: &LocalTableStore,
    tables: &[TableRef],
    params: Value,
) -> (RecordingTracker, fateflow_component_core::Result<()>) {
    let tracker = RecordingTracker::new();
    let result = {
        let mut c = ctx(store, &tracker, "evaluation_0", "Evaluation", params);
        c.inputs.data.insert("data".into(), tables.to_vec());
        run(&c)
    };
    (tracker, result)
}

fn metric(tracker: &RecordingTracker, namespace: &str, name: &str) -> Metric {
    tracker
        .metric(namespace, name)
        .unwrap_or_else(|| panic!("no metric {namespace}/{name}; have {:?}", names(tracker)))
}

fn names(tracker: &RecordingTracker) -> Vec<(String, String)> {
    tracker
        .metrics()
        .into_iter()
        .map(|m| (m.namespace, m.name))
        .collect()
}

fn points(m: &Metric) -> (Vec<f64>, Vec<f64>) {
    m.data
        .iter()
        .map(|(x, y)| (x.as_f64().unwrap(), y.as_f64().unwrap_or(f64::NAN)))
        .unzip()
}

fn single_values(m: &Metric) -> Vec<(String, f64)> {
    m.data
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_f64().unwrap()))
        .collect()
}

fn assert_logged_curve(what: &str, m: &Metric, want: &Value) {
    let (x, y) = points(m);
    assert_all_close(&format!("{what}.x"), &x, &floats(&want["x"]));
    assert_all_close(&format!("{what}.y"), &y, &floats(&want["y"]));
    assert_all_close(
        &format!("{what}.thresholds"),
        &floats(&m.meta["thresholds"]),
        &floats(&want["thresholds"]),
    );
}

#[test]
fn binary_component_logs_the_reference_values() {
    let fx = fixtures();
    for case in fx["binary"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (_dir, store) = temp_store();
        let table = store_predictions(
            &store,
            "data_guest_9999",
            rows_of(&floats(&case["labels"]), &floats(&case["scores"]), |_| {
                DataType::Train
            }),
        );
        let (tracker, result) = evaluate(&store, &[table], json!({"pos_label": case["pos_label"]}));
        result.unwrap();
        let n = "hetero_lr_0";
        let fate = &case["fate"];
        let summary = tracker.summary().expect("summary");
        let s = &summary[n]["train"];

        if let Some(auc) = case["auc"].as_f64() {
            let m = metric(&tracker, "train", n);
            assert_eq!(
                m.meta,
                json!({"name": n, "metric_type": "EVALUATION_SUMMARY"})
            );
            let singles = single_values(&m);
            assert_eq!(singles[0].0, "auc");
            assert_eq!(singles[1].0, "ks");
            assert_close(&format!("{name} auc"), singles[0].1, auc);
            assert_close(
                &format!("{name} ks"),
                singles[1].1,
                fate["ks"].as_f64().unwrap(),
            );
            assert_close(
                &format!("{name} summary auc"),
                s["auc"].as_f64().unwrap(),
                auc,
            );

            let roc = metric(&tracker, "train", &format!("{n}_roc"));
            assert_eq!(roc.meta["metric_type"], "ROC_EVALUATION");
            assert_eq!(roc.meta["unit_name"], "fpr");
            assert_eq!(roc.meta["ordinate_name"], "tpr");
            assert_logged_curve(&format!("{name} roc"), &roc, &fate["roc"]);
            for curve in ["fpr", "tpr"] {
                let m = metric(&tracker, "train", &format!("{n}_ks_{curve}"));
                assert_eq!(m.meta["metric_type"], "KS_EVALUATION");
                assert_eq!(m.meta["curve_name"], format!("{n}_{curve}"));
                assert_eq!(m.meta["pair_type"], n);
                let (x, y) = points(&m);
                assert_all_close(&format!("{name} ks cuts"), &x, &floats(&fate["ks_cuts"]));
                assert_all_close(
                    &format!("{name} ks {curve}"),
                    &y,
                    &floats(&fate[format!("ks_{curve}")]),
                );
            }
        } else {
            // One class: no single values at all.
            assert!(tracker.metric("train", n).is_none(), "{name}");
            assert!(
                tracker.metric("train", &format!("{n}_roc")).is_none(),
                "{name}"
            );
            assert!(s.get("auc").is_none(), "{name}");
            assert!(
                tracker
                    .info_lines()
                    .iter()
                    .any(|l| l.contains("auc is undefined")),
                "{name}"
            );
        }
        for (curve, metric_type) in [
            ("lift", "LIFT_EVALUATION"),
            ("gain", "GAIN_EVALUATION"),
            ("accuracy", "ACCURACY_EVALUATION"),
            ("precision", "PRECISION_BINARY_EVALUATION"),
            ("recall", "RECALL_BINARY_EVALUATION"),
        ] {
            let m = metric(&tracker, "train", &format!("{n}_{curve}"));
            assert_eq!(m.meta["metric_type"], metric_type, "{name} {curve}");
            assert_eq!(m.meta["curve_name"], n);
            assert_logged_curve(&format!("{name} {curve}"), &m, &fate[curve]);
        }
        let cm = metric(&tracker, "train", &format!("{n}_confusion_mat"));
        assert_eq!(cm.meta["metric_type"], "CONFUSION_MAT");
        assert!(cm.data.is_empty());
        for key in ["tp", "fp", "tn", "fn", "thresholds"] {
            assert_all_close(
                &format!("{name} cm {key}"),
                &floats(&cm.meta[key]),
                &floats(&fate["confusion"][key]),
            );
        }
        let f1 = metric(&tracker, "train", &format!("{n}_f1_score"));
        assert_eq!(f1.meta["metric_type"], "F1_SCORE");
        assert_all_close(
            &format!("{name} f1"),
            &floats(&f1.meta["f1_scores"]),
            &floats(&fate["f1"]),
        );

        let at = &case["at_0_5"];
        assert_eq!(s["threshold"], 0.5);
        for key in ["accuracy", "precision", "recall"] {
            assert_close(
                &format!("{name} summary {key}"),
                s[key].as_f64().unwrap(),
                at[key].as_f64().unwrap(),
            );
        }
        assert_eq!(s["confusion_matrix"], at["confusion"], "{name}");
        // Evaluation writes no data and no model.
        assert!(tracker.output_data().is_empty());
        assert!(tracker.models().is_empty());
    }
}

#[test]
fn multi_and_regression_components_log_the_reference_values() {
    let fx = fixtures();
    for case in fx["multi"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (_dir, store) = temp_store();
        let table = store_predictions(
            &store,
            "data_guest_9999",
            rows_of(
                &floats(&case["labels"]),
                &floats(&case["predicted"]),
                |_| DataType::Validate,
            ),
        );
        let (tracker, result) = evaluate(&store, &[table], json!({"eval_type": "multi"}));
        result.unwrap();
        let n = "hetero_lr_0";
        let m = metric(&tracker, "validate", n);
        let singles = single_values(&m);
        let keys: Vec<&str> = singles.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["accuracy", "precision", "recall"]);
        assert_close(
            &format!("{name} accuracy"),
            singles[0].1,
            case["accuracy"].as_f64().unwrap(),
        );
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
        assert_close(
            &format!("{name} precision"),
            singles[1].1,
            mean(floats(&case["precision"])),
        );
        assert_close(
            &format!("{name} recall"),
            singles[2].1,
            mean(floats(&case["recall"])),
        );
        // Per-class curves over class indexes 0..=max, 0 for absent classes.
        let classes = floats(&case["classes"]);
        let max = *classes.last().unwrap() as usize;
        for (key, metric_type) in [
            ("precision", "PRECISION_MULTI_EVALUATION"),
            ("recall", "RECALL_MULTI_EVALUATION"),
        ] {
            let curve = metric(&tracker, "validate", &format!("{n}_{key}"));
            assert_eq!(curve.meta["metric_type"], metric_type);
            let (x, y) = points(&curve);
            assert_eq!(x, (0..=max).map(|c| c as f64).collect::<Vec<_>>(), "{name}");
            let mut want = vec![0.0; max + 1];
            for (c, v) in classes.iter().zip(floats(&case[key])) {
                want[*c as usize] = v;
            }
            assert_all_close(&format!("{name} {key} per class"), &y, &want);
        }
        assert!(tracker
            .metric("validate", &format!("{n}_accuracy"))
            .is_none());
        assert!(tracker.metric("train", n).is_none());
    }
    for case in fx["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (_dir, store) = temp_store();
        let table = store_predictions(
            &store,
            "data_guest_9999",
            rows_of(
                &floats(&case["labels"]),
                &floats(&case["predicted"]),
                |_| DataType::Train,
            ),
        );
        let (tracker, result) = evaluate(&store, &[table], json!({"eval_type": "regression"}));
        result.unwrap();
        let singles = single_values(&metric(&tracker, "train", "hetero_lr_0"));
        let keys: Vec<&str> = singles.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "explained_variance",
                "mean_absolute_error",
                "mean_squared_error",
                "median_absolute_error",
                "r2_score",
                "root_mean_squared_error"
            ]
        );
        let summary = tracker.summary().unwrap();
        for (key, value) in singles {
            let want = case[&key].as_f64().unwrap();
            assert_close(&format!("{name} {key}"), value, want);
            assert_close(
                &format!("{name} summary {key}"),
                summary["hetero_lr_0"]["train"][&key].as_f64().unwrap(),
                want,
            );
        }
    }
}

// ------------------------------------------------- FATE's definitions, by hand

/// Eight samples, four of each class, scores all distinct:
///
/// | score | 0.9 | 0.8 | 0.7 | 0.6 | 0.55 | 0.4 | 0.3 | 0.2 |
/// |-------|-----|-----|-----|-----|------|-----|-----|-----|
/// | label |  1  |  1  |  0  |  1  |  0   |  1  |  0  |  0  |
///
/// Predicting the top k as positive (k = 0..7) gives tp = 0 1 2 2 3 3 4 4 and
/// fp = 0 0 0 1 1 2 2 3; 13 of the 16 (positive, negative) pairs are ordered right (AUC
/// 0.8125).
const HAND_SCORES: [f64; 8] = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2];
const HAND_LABELS: [f64; 8] = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];

fn hand_tracker() -> RecordingTracker {
    let (_dir, store) = temp_store();
    let table = store_predictions(
        &store,
        "data_guest_9999",
        rows_of(&HAND_LABELS, &HAND_SCORES, |_| DataType::Train),
    );
    let (tracker, result) = evaluate(&store, &[table], json!({}));
    result.unwrap();
    tracker
}

#[test]
fn ks_by_hand() {
    let tracker = hand_tracker();
    let n = "hetero_lr_0";
    // tpr − fpr over k: 0, .25, .5, .25, .5, .25, .5, .25.
    let singles = single_values(&metric(&tracker, "train", n));
    assert_eq!(
        singles,
        [("auc".to_string(), 0.8125), ("ks".to_string(), 0.5)]
    );
    let (cuts, tpr) = points(&metric(&tracker, "train", &format!("{n}_ks_tpr")));
    let (_, fpr) = points(&metric(&tracker, "train", &format!("{n}_ks_fpr")));
    assert_eq!(cuts.len(), 101);
    // Cut c/100 takes the score at index int(8 · c / 100): c = 12 is still k = 0,
    // c = 13 is k = 1, c = 50 is k = 4.
    assert_eq!((tpr[12], fpr[12]), (0.0, 0.0));
    assert_eq!((tpr[13], fpr[13]), (0.25, 0.0));
    assert_eq!((cuts[50], tpr[50], fpr[50]), (0.5, 0.75, 0.25));
    assert_eq!((cuts[100], tpr[100], fpr[100]), (1.0, 1.0, 1.0));
    let thresholds = floats(&metric(&tracker, "train", &format!("{n}_ks_tpr")).meta["thresholds"]);
    assert_eq!(thresholds.len(), 100);
    assert_eq!(
        (thresholds[0], thresholds[50], thresholds[99]),
        (0.9, 0.55, 0.2)
    );
}

#[test]
fn lift_and_gain_by_hand() {
    let tracker = hand_tracker();
    let n = "hetero_lr_0";
    let gain = metric(&tracker, "train", &format!("{n}_gain"));
    let (x, y) = points(&gain);
    let eighths: Vec<f64> = (0..8).map(|k| k as f64 / 8.0).chain([1.0]).collect();
    assert_eq!(x, eighths);
    assert_eq!(y, [0.0, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0, 1.0]);
    assert_eq!(
        floats(&gain.meta["thresholds"]),
        [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2, 0.0]
    );
    // Lift = precision / (4 / 8); precision is 1 when nothing is predicted positive.
    let (x, y) = points(&metric(&tracker, "train", &format!("{n}_lift")));
    assert_eq!(x, eighths);
    let want = [
        2.0,
        2.0,
        2.0,
        4.0 / 3.0,
        1.5,
        1.2,
        4.0 / 3.0,
        8.0 / 7.0,
        1.0,
    ];
    assert_all_close("lift", &y, &want);
}

#[test]
fn precision_recall_accuracy_by_hand() {
    let tracker = hand_tracker();
    let n = "hetero_lr_0";
    // One point per recall, the best precision, at the first cut reaching it:
    // k = 0 (cut 0), 1 (cut .13), 2 (cut .25), 4 (cut .5), 6 (cut .75).
    let precision = metric(&tracker, "train", &format!("{n}_precision"));
    let (x, y) = points(&precision);
    assert_all_close("precision cuts", &x, &[0.0, 0.13, 0.25, 0.5, 0.75]);
    assert_all_close("precision", &y, &[1.0, 1.0, 1.0, 0.75, 4.0 / 6.0]);
    assert_eq!(
        floats(&precision.meta["thresholds"]),
        [0.9, 0.8, 0.7, 0.55, 0.3]
    );
    assert_eq!(precision.meta["ordinate_name"], "Precision");
    assert_eq!(precision.meta["pair_type"], n);
    let (x, y) = points(&metric(&tracker, "train", &format!("{n}_recall")));
    assert_all_close("recall cuts", &x, &[0.0, 0.13, 0.25, 0.5, 0.75]);
    assert_eq!(y, [0.0, 0.25, 0.5, 0.75, 1.0]);
    // Accuracy at the 100 step cuts: k = 4 at cut .5 → (3 + 3) / 8.
    let (x, y) = points(&metric(&tracker, "train", &format!("{n}_accuracy")));
    assert_eq!(x.len(), 100);
    assert_eq!((x[0], y[0]), (0.0, 0.5));
    assert_eq!((x[50], y[50]), (0.5, 0.75));
    assert_eq!(y[99], 0.625);
}

#[test]
fn confusion_f1_and_summary_by_hand() {
    let tracker = hand_tracker();
    let n = "hetero_lr_0";
    let cm = metric(&tracker, "train", &format!("{n}_confusion_mat"));
    let at = |key: &str, i: usize| cm.meta[key][i].as_u64().unwrap();
    // Threshold .5: scores .9 .8 .7 .6 .55 above → tp 3, fp 2.
    assert_eq!(cm.meta["thresholds"][50], 0.5);
    assert_eq!(
        [at("tp", 50), at("fp", 50), at("tn", 50), at("fn", 50)],
        [3, 2, 2, 1]
    );
    // Threshold .55 is not strictly below the score .55.
    assert_eq!([at("tp", 55), at("fp", 55)], [3, 1]);
    // Threshold 0: everything positive.
    assert_eq!([at("tp", 0), at("fp", 0)], [4, 4]);
    let f1 = metric(&tracker, "train", &format!("{n}_f1_score"));
    let f1_at_half = f1.meta["f1_scores"][50].as_f64().unwrap();
    assert_close("f1", f1_at_half, 2.0 * (0.6 * 0.75) / (0.6 + 0.75));
    let summary = tracker.summary().unwrap();
    assert_eq!(
        summary,
        json!({n: {"train": {
            "auc": 0.8125, "ks": 0.5, "threshold": 0.5,
            "accuracy": 0.625, "precision": 0.6, "recall": 0.75,
            "confusion_matrix": {"tp": 3, "fp": 2, "tn": 2, "fn": 1},
        }}})
    );
}

#[test]
fn type_column_splits_namespaces_and_names_follow_the_inputs() {
    let (_dir, store) = temp_store();
    // Train rows: the hand case; validate rows: perfectly separated.
    let mut rows = rows_of(&HAND_LABELS, &HAND_SCORES, |_| DataType::Train);
    rows.extend(
        rows_of(&[0.0, 1.0], &[0.1, 0.9], |_| DataType::Validate)
            .into_iter()
            .map(|mut r| {
                r.sid = format!("v{}", r.sid);
                r
            }),
    );
    let lr = store_predictions(&store, "data_guest_9999", rows);
    // A table that is not a task output of this job is named after itself.
    let other = TableRef::new("experiment", "scored");
    let frame = predict_output::to_frame::<&str>(
        "id",
        &[],
        rows_of(&[1.0, 0.0], &[0.7, 0.2], |_| DataType::Test),
    )
    .unwrap();
    write_frame(
        &store,
        &TableId::new("experiment", "scored").unwrap(),
        &frame,
        1,
        WriteMode::Create,
    )
    .unwrap();
    let (tracker, result) = evaluate(&store, &[lr, other], json!({"metrics": ["auc", "KS"]}));
    result.unwrap();
    let mut got = names(&tracker);
    got.sort();
    let want: Vec<(String, String)> = [
        ("predict", "scored"),
        ("predict", "scored_ks_fpr"),
        ("predict", "scored_ks_tpr"),
        ("train", "hetero_lr_0"),
        ("train", "hetero_lr_0_ks_fpr"),
        ("train", "hetero_lr_0_ks_tpr"),
        ("validate", "hetero_lr_0"),
        ("validate", "hetero_lr_0_ks_fpr"),
        ("validate", "hetero_lr_0_ks_tpr"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        single_values(&metric(&tracker, "validate", "hetero_lr_0")),
        [("auc".to_string(), 1.0), ("ks".to_string(), 1.0)]
    );
    let summary = tracker.summary().unwrap();
    assert_eq!(summary["hetero_lr_0"]["train"]["auc"], 0.8125);
    assert_eq!(summary["hetero_lr_0"]["validate"]["auc"], 1.0);
    assert_eq!(summary["scored"]["predict"]["auc"], 1.0);
}

#[test]
fn without_type_column_every_row_is_train() {
    let (_dir, store) = temp_store();
    let frame = fateflow_tables::Frame::new(
        "id",
        vec!["label".into(), "predict_score".into()],
        vec!["a".into(), "b".into()],
        vec![1.0, 0.8, 0.0, 0.3],
    )
    .unwrap();
    write_frame(
        &store,
        &TableId::new("experiment", "plain").unwrap(),
        &frame,
        1,
        WriteMode::Create,
    )
    .unwrap();
    let (tracker, result) = evaluate(
        &store,
        &[TableRef::new("experiment", "plain")],
        json!({"metrics": ["auc"]}),
    );
    result.unwrap();
    assert_eq!(
        single_values(&metric(&tracker, "train", "plain")),
        [("auc".to_string(), 1.0)]
    );
}

#[test]
fn input_errors_name_the_column_or_parameter() {
    let (_dir, store) = temp_store();
    let write = |name: &str, columns: &[&str], values: Vec<f64>| {
        let frame = fateflow_tables::Frame::new(
            "id",
            columns.iter().map(|c| c.to_string()).collect(),
            vec!["a".into(), "b".into()],
            values,
        )
        .unwrap();
        write_frame(
            &store,
            &TableId::new("experiment", name).unwrap(),
            &frame,
            1,
            WriteMode::Create,
        )
        .unwrap();
        TableRef::new("experiment", name)
    };
    let no_label = write(
        "no_label",
        &["y", "predict_score"],
        vec![1.0, 0.8, 0.0, 0.3],
    );
    let no_score = write("no_score", &["label", "score"], vec![1.0, 0.8, 0.0, 0.3]);
    let nan_score = write(
        "nan_score",
        &["label", "predict_score"],
        vec![1.0, f64::NAN, 0.0, 0.3],
    );
    let bad_type = write(
        "bad_type",
        &["label", "predict_score", "type"],
        vec![1.0, 0.8, 0.0, 0.0, 0.3, 7.0],
    );

    let (_, r) = evaluate(&store, std::slice::from_ref(&no_label), json!({}));
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::User);
    assert!(
        e.to_string()
            .starts_with("table experiment.no_label has no column `label`"),
        "{e}"
    );
    let (_, r) = evaluate(&store, std::slice::from_ref(&no_score), json!({}));
    let e = r.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("table experiment.no_score has no column `predict_score`"),
        "{e}"
    );
    let (_, r) = evaluate(&store, &[no_score], json!({"eval_type": "multi"}));
    let e = r.unwrap_err();
    assert!(
        e.to_string().contains("has no column `predict_result`"),
        "{e}"
    );
    let (_, r) = evaluate(&store, std::slice::from_ref(&nan_score), json!({}));
    let e = r.unwrap_err();
    assert_eq!(
        e.to_string(),
        "table experiment.nan_score, row `a`, column `predict_score`: the value is missing"
    );
    let (_, r) = evaluate(&store, &[bad_type], json!({}));
    let e = r.unwrap_err();
    assert!(
        e.to_string()
            .contains("row `b`, column `type`: 7 is not a data type code"),
        "{e}"
    );
    let (_, r) = evaluate(
        &store,
        std::slice::from_ref(&nan_score),
        json!({"eval_type": "ranking"}),
    );
    let e = r.unwrap_err();
    assert!(
        e.to_string().starts_with("invalid parameter `eval_type`"),
        "{e}"
    );
    let (_, r) = evaluate(
        &store,
        &[nan_score],
        json!({"eval_type": "regression", "metrics": ["auc"]}),
    );
    let e = r.unwrap_err();
    assert!(
        e.to_string().starts_with("invalid parameter `metrics`"),
        "{e}"
    );
    let (_, r) = evaluate(&store, &[], json!({}));
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("needs an input data table"));

    // Every input is checked before anything is logged.
    let good = write(
        "good",
        &["label", "predict_score"],
        vec![1.0, 0.8, 0.0, 0.3],
    );
    let (tracker, r) = evaluate(&store, &[good, no_label], json!({}));
    assert!(r.is_err());
    assert!(tracker.metrics().is_empty());
    assert_eq!(tracker.summary(), None);
}

#[test]
fn host_without_data_does_nothing() {
    let (_dir, store) = temp_store();
    let tracker = RecordingTracker::new();
    let mut c = ctx(&store, &tracker, "evaluation_0", "Evaluation", json!({}));
    c.role = fateflow_domain::Role::Host;
    run(&c).unwrap();
    assert!(tracker.metrics().is_empty());
    assert_eq!(tracker.summary(), None);
}

/// A one-vs-rest HeteroLR output (predicted class, its score, and one
/// `predict_detail.<class>` column per class) evaluates as multi-class on
/// `predict_result`: accuracy and per-class precision and recall counted by hand.
#[test]
fn one_vs_rest_predictions_with_detail_columns_evaluate_as_multi_class() {
    let (_dir, store) = temp_store();
    let classes = [0.0, 1.0, 2.0];
    // (label, per-class scores): predicted = argmax.
    let samples = [
        (0.0, [0.9, 0.1, 0.2]),
        (0.0, [0.3, 0.6, 0.1]),
        (1.0, [0.2, 0.7, 0.1]),
        (1.0, [0.1, 0.4, 0.5]),
        (2.0, [0.1, 0.2, 0.8]),
        (2.0, [0.1, 0.3, 0.9]),
    ];
    let rows: Vec<PredictRow> = samples
        .iter()
        .enumerate()
        .map(|(i, (label, scores))| {
            predict_output::multi_class_row(
                format!("s{i}"),
                *label,
                &classes,
                scores,
                DataType::Train,
            )
        })
        .collect();
    let keys: Vec<String> = classes
        .iter()
        .map(|&c| predict_output::class_key(c))
        .collect();
    let frame = predict_output::to_frame("id", &keys, rows).unwrap();
    let id = TableId::new(UPSTREAM_NS, "ovr").unwrap();
    write_frame(&store, &id, &frame, 3, WriteMode::Create).unwrap();
    let table = TableRef::new(UPSTREAM_NS, "ovr");
    let (tracker, result) = evaluate(&store, &[table], json!({"eval_type": "multi"}));
    result.unwrap();
    let singles = single_values(&metric(&tracker, "train", "hetero_lr_0"));
    // Predicted: 0, 1, 1, 2, 2, 2 → 4 of 6 right.
    assert_close("accuracy", singles[0].1, 4.0 / 6.0);
    // Precision per class: 1/1, 1/2, 2/3; recall: 1/2, 1/2, 2/2.
    assert_close("precision", singles[1].1, (1.0 + 0.5 + 2.0 / 3.0) / 3.0);
    assert_close("recall", singles[2].1, (0.5 + 0.5 + 1.0) / 3.0);
}

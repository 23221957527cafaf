//! FeatureScale: both methods by hand, cap mode, bounds, column selection, transform
//! reproducing the fit, the label left alone, errors.

mod common;

use std::collections::BTreeMap;

use common::RecordingTracker;
use common::*;
use fateflow_component_core::{ErrorKind, ModelInput, Result, TableRef};
use fateflow_components_data::FeatureScaleModel;
use fateflow_tables::{write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const FIT: &str = "feature_scale_0";
const PREDICT: &str = "feature_scale_1";

/// Four rows, label `y`, features `a`, `b`, `c`:
///
/// | id | y | a | b  | c  |
/// |----|---|---|----|----|
/// | r1 | 0 | 1 | 10 | -1 |
/// | r2 | 1 | 2 | 20 | 0  |
/// | r3 | 0 | 3 | 30 | 1  |
/// | r4 | 1 | 6 | 40 | 4  |
fn table(store: &LocalTableStore, name: &str, rows: &[[f64; 4]]) -> TableRef {
    let frame = Frame::new(
        "id",
        ["y", "a", "b", "c"].map(String::from).to_vec(),
        (1..=rows.len()).map(|i| format!("r{i}")).collect(),
        rows.iter().flatten().copied().collect(),
    )
    .unwrap()
    .with_label("y")
    .unwrap();
    let id = TableId::new("experiment", name).unwrap();
    write_frame(store, &id, &frame, 2, WriteMode::Create).unwrap();
    TableRef::new("experiment", name)
}

const ROWS: [[f64; 4]; 4] = [
    [0.0, 1.0, 10.0, -1.0],
    [1.0, 2.0, 20.0, 0.0],
    [0.0, 3.0, 30.0, 1.0],
    [1.0, 6.0, 40.0, 4.0],
];

fn output_of(component: &str) -> TableRef {
    TableRef::new(
        format!("output_data_test_job_{component}_0"),
        "data_guest_9999",
    )
}

fn scale(
    store: &LocalTableStore,
    component: &str,
    input: &TableRef,
    params: Value,
    model: Option<ModelInput>,
) -> (RecordingTracker, Result<()>) {
    let tracker = RecordingTracker::new();
    let result = {
        let mut c = ctx(store, &tracker, component, "FeatureScale", params);
        c.inputs.data.insert("data".into(), vec![input.clone()]);
        c.inputs.model.extend(model);
        run(&c)
    };
    (tracker, result)
}

/// Fits on [`ROWS`] and returns the tracker and the output rows by sid.
fn fit(params: Value) -> (RecordingTracker, BTreeMap<String, Vec<f64>>) {
    let (_dir, store) = temp_store();
    let input = table(&store, "scale_in", &ROWS);
    let (tracker, result) = scale(&store, FIT, &input, params, None);
    result.unwrap();
    let out = frame(&store, &output_of(FIT));
    assert_eq!(out.schema().label_name.as_deref(), Some("y"));
    assert_eq!(out.columns(), ["y", "a", "b", "c"]);
    (tracker, rows(&out))
}

fn model_of(tracker: &RecordingTracker) -> FeatureScaleModel {
    let models = tracker.models();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].0, "model");
    assert_eq!(models[0].1.module, "FeatureScale");
    FeatureScaleModel::from_component_model(&models[0].1).unwrap()
}

/// The column `col` (0 = label) of the output rows r1..r4.
fn column(rows: &BTreeMap<String, Vec<f64>>, col: usize) -> Vec<f64> {
    (1..=4).map(|i| rows[&format!("r{i}")][col]).collect()
}

fn assert_labels_untouched(rows: &BTreeMap<String, Vec<f64>>) {
    assert_eq!(column(rows, 0), [0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn min_max_by_hand() {
    let (tracker, rows) = fit(json!({"method": "min_max_scale"}));
    assert_labels_untouched(&rows);
    // a: [1, 6], b: [10, 40], c: [-1, 4].
    assert_eq!(column(&rows, 1), [0.0, 1.0 / 5.0, 2.0 / 5.0, 1.0]);
    assert_eq!(column(&rows, 2), [0.0, 10.0 / 30.0, 20.0 / 30.0, 1.0]);
    assert_eq!(column(&rows, 3), [0.0, 1.0 / 5.0, 2.0 / 5.0, 1.0]);
    let model = model_of(&tracker);
    assert_eq!(model.param.header, ["a", "b", "c"]);
    let b = model.param.col_scale_param["b"];
    assert_eq!(
        (b.column_lower, b.column_upper, b.mean, b.std),
        (10.0, 40.0, 0.0, 0.0)
    );
    assert_eq!(model.meta.method, "min_max_scale");
    assert_eq!(model.meta.mode, "normal");
    assert_eq!(model.meta.scale_column, ["a", "b", "c"]);
    assert!(!model.meta.with_mean && !model.meta.with_std);
    let metric = tracker.metric("train", "scale").unwrap();
    assert!(metric.data.is_empty());
    assert_eq!(
        metric.meta,
        json!({"name": "scale", "metric_type": "SCALE", "method": "min_max_scale"})
    );
    assert_eq!(
        tracker.summary().unwrap()["c"],
        json!({"column_upper": 4.0, "column_lower": -1.0, "mean": 0.0, "std": 0.0})
    );
    assert_eq!(tracker.output_data(), [("data".into(), output_of(FIT))]);
}

#[test]
fn standard_by_hand() {
    let (tracker, rows) = fit(json!({}));
    assert_labels_untouched(&rows);
    // a: mean 3, E[a²] = 12.5, variance 3.5. b: mean 25, E[b²] = 750, variance 125.
    // c: mean 1, E[c²] = 4.5, variance 3.5.
    let (sa, sb) = (3.5f64.sqrt(), 125f64.sqrt());
    assert_eq!(column(&rows, 1), [-2.0 / sa, -1.0 / sa, 0.0, 3.0 / sa]);
    assert_eq!(
        column(&rows, 2),
        [-15.0 / sb, -5.0 / sb, 5.0 / sb, 15.0 / sb]
    );
    assert_eq!(column(&rows, 3), [-2.0 / sa, -1.0 / sa, 0.0, 3.0 / sa]);
    let model = model_of(&tracker);
    let a = model.param.col_scale_param["a"];
    assert_eq!(
        (a.column_lower, a.column_upper, a.mean, a.std),
        (1.0, 6.0, 3.0, sa)
    );
    assert_eq!(model.meta.method, "standard_scale");
    assert!(model.meta.with_mean && model.meta.with_std);
    assert_eq!(
        tracker.summary().unwrap()["b"],
        json!({"column_upper": 40.0, "column_lower": 10.0, "mean": 25.0, "std": sb})
    );
}

#[test]
fn standard_without_mean_or_std() {
    let (_, rows) = fit(json!({"method": "standard", "with_mean": false}));
    let sa = 3.5f64.sqrt();
    assert_eq!(column(&rows, 1), [1.0 / sa, 2.0 / sa, 3.0 / sa, 6.0 / sa]);
    let (tracker, rows) = fit(json!({"with_std": false}));
    assert_eq!(column(&rows, 1), [-2.0, -1.0, 0.0, 3.0]);
    assert_eq!(model_of(&tracker).param.col_scale_param["a"].std, 1.0);
    let (_, rows) = fit(json!({"with_mean": false, "with_std": false}));
    assert_eq!(column(&rows, 2), [10.0, 20.0, 30.0, 40.0]);
}

#[test]
fn normal_bounds_clip_before_statistics() {
    // Bounds [2, 5] for every column: a [1, 6] → [2, 5]; b [10, 40] → both ends 5 (range
    // 0, replaced by 1); c [-1, 4] → [2, 4].
    let (tracker, rows) = fit(json!({"method": "min_max", "feat_upper": 5, "feat_lower": "2"}));
    assert_eq!(column(&rows, 1), [0.0, 0.0, 1.0 / 3.0, 1.0]);
    assert_eq!(column(&rows, 2), [0.0; 4]);
    assert_eq!(column(&rows, 3), [0.0, 0.0, 0.0, 1.0]);
    let model = model_of(&tracker);
    assert_eq!(model.meta.feat_upper, json!(5.0));
    let b = model.param.col_scale_param["b"];
    assert_eq!((b.column_lower, b.column_upper), (5.0, 5.0));

    // Per-column upper bounds; standard scale computes the mean and deviation of the
    // clipped values: a clipped to ≤ 5 is [1, 2, 3, 5], mean 2.75, E[a²] = 9.75.
    let (tracker, rows) = fit(json!({"feat_upper": [5, 100, 100]}));
    let sa = (9.75f64 - 2.75 * 2.75).sqrt();
    assert_eq!(
        column(&rows, 1),
        [
            (1.0 - 2.75) / sa,
            (2.0 - 2.75) / sa,
            (3.0 - 2.75) / sa,
            (5.0 - 2.75) / sa
        ]
    );
    let a = model_of(&tracker).param.col_scale_param["a"];
    assert_eq!((a.column_upper, a.mean, a.std), (5.0, 2.75, sa));
}

#[test]
fn cap_mode_uses_quantiles() {
    // a sorted [1, 2, 3, 6]: quantile .25 → rank ceil(1) = 1 → 1, quantile .75 → rank 3
    // → 3. b: 10 and 30. c: -1 and 1.
    let (tracker, rows) = fit(json!({
        "method": "min_max_scale", "mode": "cap", "feat_upper": 0.75, "feat_lower": 0.25,
    }));
    assert_eq!(column(&rows, 1), [0.0, 0.5, 1.0, 1.0]);
    assert_eq!(column(&rows, 2), [0.0, 0.5, 1.0, 1.0]);
    assert_eq!(column(&rows, 3), [0.0, 0.5, 1.0, 1.0]);
    let model = model_of(&tracker);
    assert_eq!(model.meta.mode, "cap");
    assert_eq!(
        (model.meta.feat_upper.clone(), model.meta.feat_lower.clone()),
        (json!(0.75), json!(0.25))
    );
    let a = model.param.col_scale_param["a"];
    assert_eq!((a.column_lower, a.column_upper), (1.0, 3.0));
    // Default quantiles 0 and 1: the plain minimum and maximum.
    let (_, rows) = fit(json!({"method": "min_max_scale", "mode": "cap"}));
    assert_eq!(column(&rows, 1), [0.0, 1.0 / 5.0, 2.0 / 5.0, 1.0]);
}

#[test]
fn columns_by_index_and_by_name() {
    let (tracker, rows) = fit(json!({"method": "min_max_scale", "scale_col_indexes": [1]}));
    assert_eq!(column(&rows, 1), [1.0, 2.0, 3.0, 6.0]);
    assert_eq!(column(&rows, 2), [0.0, 10.0 / 30.0, 20.0 / 30.0, 1.0]);
    assert_eq!(column(&rows, 3), [-1.0, 0.0, 1.0, 4.0]);
    let model = model_of(&tracker);
    assert_eq!(model.meta.scale_column, ["b"]);
    assert_eq!(
        model.param.col_scale_param.keys().collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(model.param.header, ["a", "b", "c"]);

    let (tracker, rows) = fit(json!({
        "method": "min_max_scale", "scale_col_indexes": [], "scale_names": ["c"],
    }));
    assert_eq!(column(&rows, 1), [1.0, 2.0, 3.0, 6.0]);
    assert_eq!(column(&rows, 2), [10.0, 20.0, 30.0, 40.0]);
    assert_eq!(column(&rows, 3), [0.0, 1.0 / 5.0, 2.0 / 5.0, 1.0]);
    assert_eq!(model_of(&tracker).meta.scale_column, ["c"]);

    // Indexes and names together; -1 ignores the names (FATE).
    let (tracker, _) = fit(json!({"scale_col_indexes": [0], "scale_names": ["c"]}));
    assert_eq!(model_of(&tracker).meta.scale_column, ["a", "c"]);
    let (tracker, _) = fit(json!({"scale_col_indexes": -1, "scale_names": ["c"]}));
    assert_eq!(model_of(&tracker).meta.scale_column, ["a", "b", "c"]);
    assert_labels_untouched(&rows);
}

#[test]
fn transform_reproduces_the_fit_bit_for_bit() {
    for params in [
        json!({}),
        json!({"method": "min_max_scale"}),
        json!({"method": "min_max_scale", "mode": "cap", "feat_upper": 0.6, "feat_lower": 0.3}),
        json!({"feat_upper": [5, 33.3, 2], "feat_lower": 0.7, "scale_col_indexes": [0, 2]}),
    ] {
        let (_dir, store) = temp_store();
        // Values that are not exact in binary, so rounding would show.
        let rows: Vec<[f64; 4]> = (0..40)
            .map(|i| {
                let x = i as f64;
                [
                    f64::from(i % 2),
                    0.1 * x - 1.3,
                    (x * 0.37).sin() * 7.1,
                    1.0 / (x + 0.3),
                ]
            })
            .collect();
        let input = table(&store, "scale_in", &rows);
        let (fit_tracker, result) = scale(&store, FIT, &input, params.clone(), None);
        result.unwrap();
        let (alias, model) = fit_tracker.models().pop().unwrap();
        // Through JSON text, as the executor stores models.
        let model = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        let model_input = ModelInput {
            component: FIT.into(),
            alias,
            model,
        };
        let (tracker, result) = scale(
            &store,
            PREDICT,
            &input,
            json!({"method": "min_max"}),
            Some(model_input.clone()),
        );
        result.unwrap();
        let fitted = bits(&frame(&store, &output_of(FIT)));
        let transformed = bits(&frame(&store, &output_of(PREDICT)));
        assert_eq!(fitted, transformed, "{params}");
        // The input model is passed on; the metric is logged again, no summary.
        assert_eq!(tracker.models(), [("model".into(), model_input.model)]);
        assert!(tracker.metric("train", "scale").is_some());
        assert_eq!(tracker.summary(), None);
        // Labels are the input's.
        let labels: Vec<u64> = frame(&store, &output_of(PREDICT))
            .column(0)
            .into_iter()
            .map(f64::to_bits)
            .collect();
        let input_labels: Vec<u64> = frame(&store, &input)
            .column(0)
            .into_iter()
            .map(f64::to_bits)
            .collect();
        assert_eq!(labels, input_labels);
    }
}

#[test]
fn transform_clips_new_data_to_the_fitted_range() {
    let (_dir, store) = temp_store();
    let input = table(&store, "scale_in", &ROWS);
    let (fit_tracker, result) = scale(
        &store,
        FIT,
        &input,
        json!({"method": "min_max_scale"}),
        None,
    );
    result.unwrap();
    let (alias, model) = fit_tracker.models().pop().unwrap();
    let new = table(
        &store,
        "scale_new",
        &[[1.0, 0.0, 100.0, 1.5], [0.0, 3.5, 25.0, -3.0]],
    );
    let (_, result) = scale(
        &store,
        PREDICT,
        &new,
        json!({}),
        Some(ModelInput {
            component: FIT.into(),
            alias,
            model,
        }),
    );
    result.unwrap();
    let out = rows(&frame(&store, &output_of(PREDICT)));
    assert_eq!(out["r1"], [1.0, 0.0, 1.0, 2.5 / 5.0]);
    assert_eq!(out["r2"], [0.0, 2.5 / 5.0, 15.0 / 30.0, 0.0]);
}

#[test]
fn missing_cells_stay_missing_and_are_left_out() {
    let (_dir, store) = temp_store();
    let input = table(
        &store,
        "scale_nan",
        &[
            [0.0, 1.0, f64::NAN, 2.0],
            [1.0, f64::NAN, 4.0, 2.0],
            [0.0, 3.0, 8.0, 2.0],
        ],
    );
    let (tracker, result) = scale(&store, FIT, &input, json!({}), None);
    result.unwrap();
    let out = rows(&frame(&store, &output_of(FIT)));
    // a: values 1, 3 → mean 2, deviation 1. b: 4, 8 → mean 6, deviation 2. c constant:
    // deviation 0 → 1.
    assert_eq!(out["r1"][1], -1.0);
    assert!(out["r1"][2].is_nan());
    assert!(out["r2"][1].is_nan());
    assert_eq!(out["r3"][2], 1.0);
    assert_eq!(out["r3"][3], 0.0);
    let c = model_of(&tracker).param.col_scale_param["c"];
    assert_eq!((c.mean, c.std), (2.0, 1.0));
}

#[test]
fn errors_name_the_parameter_or_column() {
    let (_dir, store) = temp_store();
    let input = table(&store, "scale_in", &ROWS);
    let err = |params: Value| {
        let (_, result) = scale(&store, FIT, &input, params, None);
        result.unwrap_err()
    };
    let e = err(json!({"method": "log_scale"}));
    assert!(
        e.to_string().starts_with("invalid parameter `method`"),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::User);
    let e = err(json!({"scale_col_indexes": [], "scale_names": ["y"]}));
    assert!(
        e.to_string()
            .contains("`scale_names`: `y` is not a feature column"),
        "{e}"
    );
    let e = err(json!({"scale_col_indexes": [3]}));
    assert!(
        e.to_string()
            .contains("`scale_col_indexes`: index 3 is out of range"),
        "{e}"
    );
    let e = err(json!({"feat_upper": [1, 2]}));
    assert!(
        e.to_string().contains("`feat_upper`: 2 values given"),
        "{e}"
    );
    let e = err(json!({"mode": "cap", "feat_lower": 1.5}));
    assert!(e.to_string().contains("`feat_lower`"), "{e}");

    // A model column missing from the data.
    let (fit_tracker, result) = scale(&store, FIT, &input, json!({}), None);
    result.unwrap();
    let (alias, model) = fit_tracker.models().pop().unwrap();
    let frame = Frame::new(
        "id",
        vec!["a".into(), "b".into()],
        vec!["x".into()],
        vec![1.0, 2.0],
    )
    .unwrap();
    write_frame(
        &store,
        &TableId::new("experiment", "narrow").unwrap(),
        &frame,
        1,
        WriteMode::Create,
    )
    .unwrap();
    let (_, result) = scale(
        &store,
        PREDICT,
        &TableRef::new("experiment", "narrow"),
        json!({}),
        Some(ModelInput {
            component: FIT.into(),
            alias,
            model,
        }),
    );
    let e = result.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("table experiment.narrow has no column `c`"),
        "{e}"
    );
}

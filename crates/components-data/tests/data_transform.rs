//! DataTransform: labels, missing fill, outlier replace, fit then predict.

mod common;

use std::collections::BTreeMap;

use common::RecordingTracker;
use common::*;
use fateflow_component_core::{feature_header, ErrorKind, ModelInput, TableRef};
use fateflow_components_data::DataTransformModel;
use fateflow_tables::{TableId, TableStore};
use serde_json::{json, Value};

const GUEST: &str = "data_transform_0";

fn output_of(component: &str) -> TableRef {
    TableRef::new(
        format!("output_data_test_job_{component}_0"),
        "data_guest_9999",
    )
}

fn model_of(tracker: &RecordingTracker) -> DataTransformModel {
    let models = tracker.models();
    assert_eq!(models.len(), 1, "one model saved");
    assert_eq!(models[0].0, "model");
    DataTransformModel::from_component_model(&models[0].1).unwrap()
}

/// Rows by sid of the output, with the label column first when there is one.
fn output_rows(
    store: &fateflow_tables::LocalTableStore,
    component: &str,
) -> BTreeMap<String, Vec<f64>> {
    rows(&frame(store, &output_of(component)))
}

#[test]
fn guest_with_label_after_reader() {
    let (_dir, store) = temp_store();
    let uploaded = upload_example(&store, "breast_hetero_guest.csv");
    let table = read(&store, &uploaded);
    let (tracker, result) = transform(&store, GUEST, &table, json!({"with_label": true}), None);
    result.unwrap();

    let output = output_of(GUEST);
    assert_eq!(
        tracker.output_data(),
        vec![("data".to_string(), output.clone())]
    );
    let out = frame(&store, &output);
    assert_eq!(out.nrows(), 569);
    let schema = out.schema();
    assert_eq!(schema.sid, "id");
    assert_eq!(schema.label_name.as_deref(), Some("y"));
    assert_eq!(feature_header(&schema), xs(10));
    assert_eq!(schema.header[0], "y");

    // Labels and features are the CSV's, row by row.
    let csv = std::fs::read_to_string(data_file("breast_hetero_guest.csv")).unwrap();
    let (header, expected) = parse_csv(&csv);
    assert_eq!(header[1], "y");
    assert_eq!(rows(&out), expected);
    let labels: BTreeMap<_, _> = rows(&out).into_iter().map(|(s, r)| (s, r[0])).collect();
    let csv_labels: BTreeMap<_, _> = expected.iter().map(|(s, r)| (s.clone(), r[0])).collect();
    assert_eq!(labels, csv_labels);
    assert!(labels.values().any(|&y| y == 1.0) && labels.values().any(|&y| y == 0.0));

    let model = model_of(&tracker);
    assert_eq!(model.param.header, xs(10));
    assert_eq!(model.param.sid_name, "id");
    assert_eq!(model.param.label_name.as_deref(), Some("y"));
    assert!(model.param.with_label);
    assert!(model.param.imputer_param.missing_replace_value.is_empty());
    assert_eq!(model.meta.input_format, "dense");
    assert_eq!(model.meta.label_type.as_deref(), Some("int"));
    assert!(!model.meta.imputer_meta.is_imputer);
    assert!(!model.meta.outlier_meta.is_outlier);
    assert_eq!(tracker.models()[0].1.module, "DataTransform");
    // Nothing to report without missing fill or outlier replace.
    assert!(tracker.metrics().is_empty());
    assert_eq!(tracker.summary(), None);
}

#[test]
fn host_without_label_through_the_dataio_alias() {
    let (_dir, store) = temp_store();
    let table = read(&store, &upload_example(&store, "breast_hetero_host.csv"));
    let tracker = RecordingTracker::new();
    let mut c = ctx(&store, &tracker, "dataio_0", "DataIO", json!({}));
    c.inputs.data.insert("data".into(), vec![table]);
    run(&c).unwrap();

    let out = frame(&store, &output_of("dataio_0"));
    assert_eq!(out.nrows(), 569);
    assert_eq!(out.schema().label_name, None);
    assert_eq!(out.columns(), xs(20).as_slice());
    let csv = std::fs::read_to_string(data_file("breast_hetero_host.csv")).unwrap();
    assert_eq!(rows(&out), parse_csv(&csv).1);
    let model = model_of(&tracker);
    assert_eq!(model.param.header, xs(20));
    assert!(!model.param.with_label);
    assert_eq!(model.param.label_name, None);
    assert_eq!(model.meta.label_type, None);
}

/// Four rows, three features with one missing cell each, and `d` with the marker -999.
///
/// | id | y | a   | b   | c   | d    |
/// |----|---|-----|-----|-----|------|
/// | r1 | 0 | 1   | 10  | NaN | -999 |
/// | r2 | 1 | NaN | 20  | 2   | 1    |
/// | r3 | 0 | 3   | NaN | 5   | 2    |
/// | r4 | 1 | 4   | 40  | 8   | NaN  |
const MISSING_CSV: &str = "id,y,a,b,c,d\n\
    r1,0,1,10,nan,-999\n\
    r2,1,nan,20,2,1\n\
    r3,0,3,nan,5,2\n\
    r4,1,4,40,8,nan\n";

/// Fits with `params` on [`MISSING_CSV`] and returns the tracker and the output rows
/// (label first).
fn fill(params: Value) -> (RecordingTracker, BTreeMap<String, Vec<f64>>) {
    let (_dir, store) = temp_store();
    let table = upload(&store, "missing", MISSING_CSV);
    let mut params = params;
    params["with_label"] = json!(true);
    params["missing_fill"] = json!(true);
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    let rows = output_rows(&store, GUEST);
    (tracker, rows)
}

/// The expected output of [`MISSING_CSV`] when the missing cells of a, b, c, d get
/// `fa`, `fb`, `fc`, `fd` (d's -999 counts as missing only with `missing_impute`).
fn filled(fa: f64, fb: f64, fc: f64, fd: f64, d_marker: f64) -> BTreeMap<String, Vec<f64>> {
    BTreeMap::from([
        ("r1".to_string(), vec![0.0, 1.0, 10.0, fc, d_marker]),
        ("r2".to_string(), vec![1.0, fa, 20.0, 2.0, 1.0]),
        ("r3".to_string(), vec![0.0, 3.0, fb, 5.0, 2.0]),
        ("r4".to_string(), vec![1.0, 4.0, 40.0, 8.0, fd]),
    ])
}

#[test]
fn missing_fill_min() {
    // Non-missing a: 1 3 4; b: 10 20 40; c: 2 5 8; d: -999 1 2.
    let (_, rows) = fill(json!({"missing_fill_method": "min"}));
    assert_eq!(rows, filled(1.0, 10.0, 2.0, -999.0, -999.0));
}

#[test]
fn missing_fill_max() {
    let (_, rows) = fill(json!({"missing_fill_method": "max"}));
    assert_eq!(rows, filled(4.0, 40.0, 8.0, 2.0, -999.0));
}

#[test]
fn missing_fill_mean_with_metrics_and_summary() {
    let (tracker, rows) = fill(json!({"missing_fill_method": "mean"}));
    // a: (1+3+4)/3, b: (10+20+40)/3, c: (2+5+8)/3 = 5, d: (-999+1+2)/3 = -332.
    assert_eq!(rows, filled(8.0 / 3.0, 70.0 / 3.0, 5.0, -332.0, -999.0));

    let metric = tracker.metric("train", "missing_fill").unwrap();
    assert_eq!(
        metric.data,
        vec![
            (json!("a"), json!(1)),
            (json!("b"), json!(1)),
            (json!("c"), json!(1)),
            (json!("d"), json!(1)),
        ]
    );
    assert_eq!(metric.meta["metric_type"], "DATA_TRANSFORM");
    assert_eq!(metric.meta["method"], "mean");
    assert_eq!(metric.meta["rate"]["a"], 0.25);
    assert_eq!(metric.meta["replace_value"]["c"], 5.0);

    let summary = tracker.summary().unwrap();
    let info = &summary["missing_fill_info"];
    assert_eq!(info["missing_impute_value"]["b"], 70.0 / 3.0);
    assert_eq!(info["missing_impute_rate"]["d"], 0.25);
    assert_eq!(
        info["missing_value"],
        json!(["", "none", "null", "na", "None", "nan"])
    );

    let model = model_of(&tracker);
    assert!(model.meta.imputer_meta.is_imputer);
    assert_eq!(model.meta.imputer_meta.strategy.as_deref(), Some("mean"));
    assert_eq!(
        model.param.imputer_param.missing_replace_value,
        BTreeMap::from([
            ("a".to_string(), 8.0 / 3.0),
            ("b".to_string(), 70.0 / 3.0),
            ("c".to_string(), 5.0),
            ("d".to_string(), -332.0),
        ])
    );
    assert_eq!(model.param.imputer_param.missing_value_ratio["a"], 0.25);
}

#[test]
fn missing_fill_designated_scalar_list_and_default() {
    let (_, rows) = fill(json!({"missing_fill_method": "designated", "default_value": 0.5}));
    assert_eq!(rows, filled(0.5, 0.5, 0.5, 0.5, -999.0));

    let (_, rows) = fill(json!({
        "missing_fill_method": "designated", "default_value": [-1, -2, "-3", -4]
    }));
    assert_eq!(rows, filled(-1.0, -2.0, -3.0, -4.0, -999.0));

    // No method: FATE fills with default_value, which defaults to 0.
    let (_, rows) = fill(json!({}));
    assert_eq!(rows, filled(0.0, 0.0, 0.0, 0.0, -999.0));
}

#[test]
fn missing_impute_adds_markers() {
    // -999 is missing too: d's non-missing values are 1 and 2.
    let (tracker, rows) = fill(json!({"missing_fill_method": "mean", "missing_impute": [-999]}));
    assert_eq!(rows, filled(8.0 / 3.0, 70.0 / 3.0, 5.0, 1.5, 1.5));
    let metric = tracker.metric("train", "missing_fill").unwrap();
    assert_eq!(metric.data[3], (json!("d"), json!(2)));
    assert_eq!(
        model_of(&tracker).meta.imputer_meta.missing_value,
        vec![json!(-999)]
    );
}

#[test]
fn default_value_list_of_the_wrong_length_is_named() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "missing", MISSING_CSV);
    let params = json!({"with_label": true, "missing_fill": true, "default_value": [1, 2]});
    let (_, result) = transform(&store, GUEST, &table, params, None);
    let e = result.unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `default_value`: 2 values given, but the header has 4 feature columns (a, b, c, d)"
    );
}

#[test]
fn a_column_without_values_fills_as_fate_does() {
    // FATE's statistics of an empty column: mean 0/0 = NaN, min +inf, max -inf.
    for (method, want) in [
        ("max", f64::NEG_INFINITY),
        ("min", f64::INFINITY),
        ("mean", f64::NAN),
    ] {
        let (_dir, store) = temp_store();
        let table = upload(&store, "empty_col", "id,a,b\n1,1,nan\n2,2,nan\n");
        let params = json!({"missing_fill": true, "missing_fill_method": method});
        let (tracker, result) = transform(&store, GUEST, &table, params, None);
        result.unwrap();
        let rows = output_rows(&store, GUEST);
        assert_eq!(
            rows["1"][0], 1.0,
            "{method}: the other column keeps its values"
        );
        for r in rows.values() {
            let b = r[1];
            assert!(b == want || (want.is_nan() && b.is_nan()), "{method}: {b}");
        }
        assert!(
            tracker
                .info_lines()
                .iter()
                .any(|l| l.contains("column `b`") && l.contains("no value")),
            "{method}: the log says why"
        );
    }
}

/// | id | x   | z   |
/// |----|-----|-----|
/// | 1  | 1   | 100 |
/// | 2  | 2   | 5   |
/// | 3  | 100 | 6   |
/// | 4  | 4   | NaN |
const OUTLIER_CSV: &str = "id,x,z\n1,1,100\n2,2,5\n3,100,6\n4,4,nan\n";

fn outlier(params: Value) -> (RecordingTracker, BTreeMap<String, Vec<f64>>) {
    let (_dir, store) = temp_store();
    let table = upload(&store, "outliers", OUTLIER_CSV);
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    let rows = output_rows(&store, GUEST);
    (tracker, rows)
}

fn replaced(x3: f64, z1: f64, z4: f64) -> BTreeMap<String, Vec<f64>> {
    BTreeMap::from([
        ("1".to_string(), vec![1.0, z1]),
        ("2".to_string(), vec![2.0, 5.0]),
        ("3".to_string(), vec![x3, 6.0]),
        ("4".to_string(), vec![4.0, z4]),
    ])
}

#[test]
fn outlier_replace_methods() {
    let base = json!({"outlier_replace": true, "outlier_impute": [100]});
    let with = |extra: Value| {
        let mut p = base.clone();
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    // Non-outlier, non-NaN x: 1 2 4; z: 5 6. The NaN stays: it is not an outlier here.
    let (tracker, rows) = outlier(with(json!({"outlier_replace_method": "max"})));
    let nan_bits = |r: &BTreeMap<String, Vec<f64>>| r["4"][1].is_nan();
    assert!(nan_bits(&rows));
    let mut rows = rows;
    rows.get_mut("4").unwrap()[1] = 0.0;
    assert_eq!(rows, replaced(4.0, 6.0, 0.0));
    let metric = tracker.metric("train", "outlier_replace").unwrap();
    assert_eq!(
        metric.data,
        vec![(json!("x"), json!(1)), (json!("z"), json!(1))]
    );
    assert_eq!(
        tracker.summary().unwrap()["outlier_replace_rate"]["outlier_replace_rate"]["x"],
        0.25
    );

    let (_, mut rows) = outlier(with(json!({"outlier_replace_method": "min"})));
    rows.get_mut("4").unwrap()[1] = 0.0;
    assert_eq!(rows, replaced(1.0, 5.0, 0.0));

    let (_, mut rows) = outlier(with(json!({"outlier_replace_method": "mean"})));
    rows.get_mut("4").unwrap()[1] = 0.0;
    assert_eq!(rows, replaced(7.0 / 3.0, 5.5, 0.0));

    let (tracker, mut rows) = outlier(with(json!({
        "outlier_replace_method": "designated", "outlier_replace_value": [-1, -2]
    })));
    rows.get_mut("4").unwrap()[1] = 0.0;
    assert_eq!(rows, replaced(-1.0, -2.0, 0.0));
    let model = model_of(&tracker);
    assert!(model.meta.outlier_meta.is_outlier);
    assert_eq!(model.meta.outlier_meta.outlier_value, vec![json!(100)]);
    assert_eq!(model.param.outlier_param.outlier_replace_value["z"], -2.0);
}

#[test]
fn outliers_are_replaced_after_missing_fill() {
    // Missing cells are filled with 100, which is then an outlier replaced by -7; the
    // mean of z is taken over the filled column without outliers: (5 + 6) / 2.
    let (_, rows) = outlier(json!({
        "missing_fill": true, "missing_fill_method": "designated", "default_value": 100,
        "outlier_replace": true, "outlier_impute": ["100"], "outlier_replace_method": "mean",
    }));
    assert_eq!(rows, replaced(7.0 / 3.0, 5.5, 5.5));

    // Without outlier_impute, outliers are the missing cells (FATE's default list).
    let (_, rows) = outlier(json!({"outlier_replace": true, "outlier_replace_value": 9}));
    assert_eq!(rows, replaced(100.0, 100.0, 9.0));
}

#[test]
fn labels_are_checked_against_label_type() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "labels", "id,y,x\n5,1,0.1\n7,0.5,0.2\n");
    let (_, result) = transform(&store, GUEST, &table, json!({"with_label": true}), None);
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::User);
    assert_eq!(
        e.to_string(),
        "table experiment.labels, row `7`, column `y`: label 0.5 is not an integer (label_type `int`)"
    );

    let params = json!({"with_label": true, "label_type": "float"});
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    assert_eq!(output_rows(&store, GUEST)["7"], vec![0.5, 0.2]);
    assert_eq!(model_of(&tracker).meta.label_type.as_deref(), Some("float"));

    let table = upload(&store, "no_label", "id,y,x\n5,nan,0.1\n");
    let params = json!({"with_label": true, "label_type": "float"});
    let (_, result) = transform(&store, "dt_1", &table, params, None);
    assert_eq!(
        result.unwrap_err().to_string(),
        "table experiment.no_label, row `5`, column `y`: the label is missing"
    );
}

#[test]
fn label_and_parameter_errors_name_what_is_wrong() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "t", "id,y,x\n1,1,0.1\n");
    let cases = [
        (
            json!({"with_label": true, "label_name": "label"}),
            "table experiment.t has no column `label` (`label_name`, with `with_label` true)",
        ),
        (
            json!({"input_format": "tag"}),
            "invalid parameter `input_format`: `tag` needs a table of text lines, but table experiment.t was uploaded as dense numeric columns",
        ),
        (
            json!({"with_label": "yes"}),
            "invalid parameter `with_label`: expected true or false, found the string \"yes\"",
        ),
        (
            json!({"missing_fill": true, "missing_fill_method": "median"}),
            "invalid parameter `missing_fill_method`: `median` is not one of min, max, mean, designated",
        ),
    ];
    for (params, message) in cases {
        let (_, result) = transform(&store, GUEST, &table, params, None);
        let e = result.unwrap_err();
        assert_eq!(e.to_string(), message);
        assert_eq!(e.kind(), ErrorKind::User);
    }

    // A label name is matched case-insensitively, like FATE's lower-cased one.
    let (tracker, result) = transform(
        &store,
        GUEST,
        &table,
        json!({"with_label": true, "label_name": "Y"}),
        None,
    );
    result.unwrap();
    assert_eq!(model_of(&tracker).param.label_name.as_deref(), Some("y"));

    // No input at all.
    let tracker = RecordingTracker::new();
    let c = ctx(&store, &tracker, GUEST, "DataTransform", json!({}));
    let e = run(&c).unwrap_err();
    assert!(e.to_string().contains("needs an input data table"), "{e}");
}

#[test]
fn match_id_column_is_left_out_of_the_features() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "m", "id,y,phone,x\n1,1,555,0.1\n2,0,556,0.2\n");
    let params = json!({"with_label": true, "with_match_id": true, "match_id_name": "phone"});
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    assert_eq!(model_of(&tracker).param.header, vec!["x".to_string()]);
    assert_eq!(output_rows(&store, GUEST)["2"], vec![0.0, 0.2]);
}

/// Fits on `table`, then transforms `predict` with the saved model (after a JSON text
/// round trip, as the executor stores it) and returns both trackers' outputs.
fn fit_then_predict(
    store: &fateflow_tables::LocalTableStore,
    table: &TableRef,
    predict: &TableRef,
    params: Value,
) -> (RecordingTracker, fateflow_component_core::Result<()>) {
    let (fit_tracker, result) = transform(store, GUEST, table, params, None);
    result.unwrap();
    let (_, model) = fit_tracker.models().pop().unwrap();
    let text = serde_json::to_string(&model).unwrap();
    let model = serde_json::from_str(&text).unwrap();
    let input = ModelInput {
        component: GUEST.into(),
        alias: "model".into(),
        model,
    };
    // The predict task's own parameters are ignored in favour of the model.
    let ignored = json!({"with_label": false, "missing_fill": false, "input_format": "dense"});
    transform(store, "data_transform_1", predict, ignored, Some(input))
}

#[test]
fn predict_reproduces_training_output_exactly() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "missing", MISSING_CSV);
    let params = json!({
        "with_label": true, "missing_fill": true, "missing_fill_method": "mean",
        "outlier_replace": true, "outlier_impute": [40], "outlier_replace_method": "mean",
    });
    let (tracker, result) = fit_then_predict(&store, &table, &table, params);
    result.unwrap();
    let trained = frame(&store, &output_of(GUEST));
    let predicted = frame(&store, &output_of("data_transform_1"));
    assert_eq!(predicted.schema(), trained.schema());
    assert_eq!(bits(&predicted), bits(&trained));
    // The mean of a is 8/3, a value whose JSON text must round-trip exactly.
    assert_eq!(rows(&predicted)["r2"][1], 8.0 / 3.0);
    // Predict mode saves the model it applied and reports under `predict`.
    assert_eq!(tracker.models().len(), 1);
    assert!(tracker.metric("predict", "missing_fill").is_some());
    assert!(tracker.metric("predict", "outlier_replace").is_some());

    // The same on the example data, after a Reader.
    let breast = read(&store, &upload_example(&store, "breast_hetero_guest.csv"));
    let (_, result) = fit_then_predict(&store, &breast, &breast, json!({"with_label": true}));
    result.unwrap();
    assert_eq!(
        bits(&frame(&store, &output_of("data_transform_1"))),
        bits(&frame(&store, &output_of(GUEST)))
    );
}

#[test]
fn predict_aligns_columns_and_tolerates_a_missing_label() {
    let (_dir, store) = temp_store();
    let train = upload(&store, "train", "id,y,a,b\n1,1,0.5,nan\n2,0,1.5,2\n");
    // Columns in another order, an extra column, no label.
    let test = upload(&store, "test", "id,extra,b,a\n9,7,nan,3\n");
    let params = json!({"with_label": true, "missing_fill": true, "missing_fill_method": "max"});
    let (tracker, result) = fit_then_predict(&store, &train, &test, params);
    result.unwrap();
    let out = frame(&store, &output_of("data_transform_1"));
    assert_eq!(out.schema().label_name, None);
    assert_eq!(out.columns(), ["a".to_string(), "b".to_string()]);
    assert_eq!(rows(&out)["9"], vec![3.0, 2.0]);
    assert!(tracker
        .info_lines()
        .iter()
        .any(|l| l.contains("no label column `y`")));

    // A header column missing from the new data is an error naming it.
    let bad = upload(&store, "bad", "id,y,a\n9,1,3\n");
    let (_, result) = fit_then_predict(&store, &train, &bad, json!({"with_label": true}));
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::User);
    assert_eq!(
        e.to_string(),
        "table experiment.bad has no column `b` (a feature of model `model` from component `data_transform_0`)"
    );
}

#[test]
fn empty_tables_and_store_layout() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "empty", "id,x\n");
    let (_, result) = transform(&store, GUEST, &table, json!({}), None);
    assert_eq!(
        result.unwrap_err().to_string(),
        "table experiment.empty is empty; DataTransform needs at least one row"
    );

    // The output keeps the input's partitioning.
    let table = upload(&store, "small", "id,x\na,1\nb,2\nc,3\n");
    let (_, result) = transform(&store, GUEST, &table, json!({}), None);
    result.unwrap();
    let info = |t: &TableRef| {
        store
            .info(&TableId::new(&t.namespace, &t.name).unwrap())
            .unwrap()
    };
    assert_eq!(info(&output_of(GUEST)).partitions, info(&table).partitions);
}

#[test]
fn textual_missing_cells_from_an_upload_are_filled() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "text", "id,a\n1,\n2,NA\n3,NULL\n4,null\n5,2\n");
    let params = json!({"missing_fill": true, "default_value": 7});
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    let rows = output_rows(&store, GUEST);
    let values: Vec<f64> = rows.values().map(|r| r[0]).collect();
    assert_eq!(values, [7.0, 7.0, 7.0, 7.0, 2.0]);
    let metric = tracker.metric("train", "missing_fill").unwrap();
    assert_eq!(metric.data, vec![(json!("a"), json!(4))]);
}

/// Uploads `text` as FATE does with a sparse or tag file: as raw text lines.
fn upload_lines(
    store: &fateflow_tables::LocalTableStore,
    name: &str,
    text: &str,
    head: bool,
) -> TableRef {
    let mut opts = fateflow_tables::UploadOptions::new("experiment", name);
    opts.head = head;
    opts.partitions = 2;
    let meta = fateflow_tables::upload_text(store, text.as_bytes(), &opts).unwrap();
    assert_eq!(meta.layout, fateflow_tables::RowLayout::Text);
    TableRef::new("experiment", name)
}

#[test]
fn svmlight_lines_parse_into_dense_features_and_predict_reuses_the_dimension() {
    let (_dir, store) = temp_store();
    let table = upload_lines(
        &store,
        "svm",
        "1,1,0:-0.5,3:2\n2,0,1:0.25\n3,1,2:1.5\n",
        false,
    );
    let table = read(&store, &table);
    let params = json!({"input_format": "sparse", "with_label": true});
    let (tracker, result) = transform(&store, GUEST, &table, params.clone(), None);
    result.unwrap();
    let out = frame(&store, &output_of(GUEST));
    assert_eq!(out.schema().label_name.as_deref(), Some("y"));
    assert_eq!(feature_header(&out.schema()), xs(4));
    let got = rows(&out);
    assert_eq!(got["1"], vec![1.0, -0.5, 0.0, 0.0, 2.0]);
    assert_eq!(got["2"], vec![0.0, 0.0, 0.25, 0.0, 0.0]);
    assert_eq!(got["3"], vec![1.0, 0.0, 0.0, 1.5, 0.0]);
    let model = model_of(&tracker);
    assert_eq!(model.meta.input_format, "sparse");
    assert_eq!(model.param.header, xs(4));

    // Predict data with a smaller largest index keeps the fitted four features; an index
    // beyond them is an error naming the row.
    let predict = upload_lines(&store, "svm_p", "7,0,1:3\n", false);
    let (_, result) = fit_then_predict(&store, &table, &predict, params.clone());
    result.unwrap();
    assert_eq!(
        rows(&frame(&store, &output_of("data_transform_1")))["7"],
        vec![0.0, 0.0, 3.0, 0.0, 0.0]
    );
    let beyond = upload_lines(&store, "svm_b", "8,0,9:1\n", false);
    let (_, result) = fit_then_predict(&store, &table, &beyond, params);
    let e = result.unwrap_err();
    assert!(
        e.to_string().contains("feature index 9") && e.to_string().contains('8'),
        "{e}"
    );
}

#[test]
fn tag_value_lines_with_match_id() {
    let (_dir, store) = temp_store();
    // sid, then (split on `;`) the match id and tag:value pairs.
    let table = upload_lines(&store, "tv", "a,m1;b:2;a:1\nb,m2;c:0.5\n", false);
    let params = json!({"input_format": "tag", "tag_with_value": true, "delimitor": ";", "with_match_id": true});
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    let out = frame(&store, &output_of(GUEST));
    assert_eq!(out.columns(), ["a", "b", "c"]);
    let got = rows(&out);
    assert_eq!(got["a"], vec![1.0, 2.0, 0.0]);
    assert_eq!(got["b"], vec![0.0, 0.0, 0.5]);
    assert_eq!(model_of(&tracker).param.header, ["a", "b", "c"]);
}

#[test]
fn plain_tags_are_one_when_present() {
    let (_dir, store) = temp_store();
    let table = upload_lines(&store, "tags", "0, x, y,\n1, y\n", false);
    let (_, result) = transform(&store, GUEST, &table, json!({"input_format": "tag"}), None);
    result.unwrap();
    let out = frame(&store, &output_of(GUEST));
    assert_eq!(out.columns(), [" x", " y"]);
    assert_eq!(rows(&out)["0"], vec![1.0, 1.0]);
    assert_eq!(rows(&out)["1"], vec![0.0, 1.0]);
}

#[test]
fn dense_text_lines_parse_with_the_header_and_name_bad_values() {
    let (_dir, store) = temp_store();
    let table = upload_lines(&store, "dt", "id,mid,y,x0\n1,abc,1,0.5\n2,def,0,NA\n", true);
    let params = json!({"with_label": true, "with_match_id": true});
    let (tracker, result) = transform(&store, GUEST, &table, params, None);
    result.unwrap();
    let out = frame(&store, &output_of(GUEST));
    // FATE's rule: with_match_id and no match_id_name makes the first column the match id.
    assert_eq!(feature_header(&out.schema()), ["x0"]);
    assert_eq!(rows(&out)["1"], vec![1.0, 0.5]);
    assert!(rows(&out)["2"][1].is_nan());
    assert_eq!(model_of(&tracker).param.header, ["x0"]);

    let bad = upload_lines(&store, "dt_bad", "id,y,x0\n1,1,oops\n", true);
    let (_, result) = transform(&store, GUEST, &bad, json!({"with_label": true}), None);
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains("`oops` is not a number") && e.contains("x0"),
        "{e}"
    );

    // A sparse format on a numeric table says what is wrong.
    let dense = upload(&store, "num", "id,y,x0\n1,1,0.5\n");
    let (_, result) = transform(
        &store,
        GUEST,
        &dense,
        json!({"input_format": "sparse"}),
        None,
    );
    let e = result.unwrap_err().to_string();
    assert!(e.contains("needs a table of text lines"), "{e}");
}

use fateflow_component_core::testing::{ctx, frame, rows, temp_store, upload, RecordingTracker};
use fateflow_component_core::{ModelInput, TableRef};
use fateflow_tables::LocalTableStore;
use serde_json::{json, Value};

use super::*;

const CSV: &str = "id,a,b,c\n\
r0,1,0,5\n\
r1,,2,5\n\
r2,3,0,\n\
r3,0,4,7\n\
r4,8,,9\n";

fn run(
    store: &LocalTableStore,
    table: &TableRef,
    params: Value,
    model: Option<ModelInput>,
) -> Result<(RecordingTracker, TableRef)> {
    let tracker = RecordingTracker::new();
    {
        let mut c = ctx(store, &tracker, "imputation_0", MODULE, params);
        c.inputs.data.insert("data".into(), vec![table.clone()]);
        c.inputs.model.extend(model);
        FeatureImputation.run(&c)?;
    }
    let out = tracker.output_data().pop().expect("output").1;
    Ok((tracker, out))
}

#[test]
fn each_method_fills_the_missing_cells_with_its_value() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "imp", CSV);
    let (tracker, out) = run(
        &store,
        &table,
        json!({"missing_fill_method": "mean", "col_missing_fill_method": {"b": "max", "c": "designated"}, "default_value": 42}),
        None,
    )
    .unwrap();
    let got = rows(&frame(&store, &out));
    // a: mean of 1, 3, 0, 8 = 3; b: max of 0, 2, 0, 4 = 4; c: 42.
    assert_eq!(got["r1"], [3.0, 2.0, 5.0]);
    assert_eq!(got["r2"], [3.0, 0.0, 42.0]);
    assert_eq!(got["r4"], [8.0, 4.0, 9.0]);
    assert_eq!(got["r0"], [1.0, 0.0, 5.0]);
    let summary = tracker.summary().unwrap();
    assert_eq!(
        summary["missing_impute_value"],
        json!({"a": 3.0, "b": 4.0, "c": 42.0})
    );
    assert_eq!(summary["missing_impute_rate"]["a"], json!(0.2));
    assert_eq!(summary["skip_cols"], json!([]));
    let (_, model) = tracker.models().pop().unwrap();
    let m = ImputationModel::from_component_model(&model).unwrap();
    assert_eq!(m.param.imputer_param.missing_replace_value["c"], "42");
    assert_eq!(m.param.imputer_param.missing_replace_value["a"], "3.0");
    assert_eq!(m.param.imputer_param.cols_replace_method["b"], "max");
}

#[test]
fn listed_values_are_missing_and_nan_is_not() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "imp0", CSV);
    let (tracker, out) = run(
        &store,
        &table,
        json!({"missing_fill_method": "min", "missing_impute": [0], "col_missing_fill_method": {"c": "median"}}),
        None,
    )
    .unwrap();
    let got = rows(&frame(&store, &out));
    // a: min of the non-zero values 1, 3, 8 = 1; b: min of 2, 4 = 2; NaN cells stay.
    assert_eq!(got["r3"][0], 1.0);
    assert_eq!(got["r0"][1], 2.0);
    assert_eq!(got["r2"][1], 2.0);
    assert!(got["r1"][0].is_nan() && got["r4"][1].is_nan() && got["r2"][2].is_nan());
    let summary = tracker.summary().unwrap();
    assert_eq!(summary["missing_value"], json!(["0"]));
    assert_eq!(summary["missing_impute_rate"]["b"], json!(0.4));
    // c: median of 5, 5, 7, 9 is the value of rank 2.
    assert_eq!(summary["missing_impute_value"]["c"], json!(5.0));
}

#[test]
fn no_method_changes_nothing_and_a_model_transforms_alike() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "imp1", CSV);
    let (tracker, out) = run(&store, &table, json!({}), None).unwrap();
    assert_eq!(
        format!("{:?}", rows(&frame(&store, &out))),
        format!("{:?}", rows(&frame(&store, &table)))
    );
    assert_eq!(
        tracker.summary().unwrap()["skip_cols"],
        json!(["a", "b", "c"])
    );

    let params = json!({"missing_fill_method": "max", "missing_impute": [0, "NA"]});
    let (fitted, fit_out) = run(&store, &table, params, None).unwrap();
    let (_, model) = fitted.models().pop().unwrap();
    let input = ModelInput {
        component: "imputation_0".into(),
        alias: "model".into(),
        model,
    };
    let (_, again) = run(&store, &table, json!({}), Some(input)).unwrap();
    assert_eq!(
        format!("{:?}", rows(&frame(&store, &fit_out))),
        format!("{:?}", rows(&frame(&store, &again)))
    );
}

#[test]
fn a_column_without_values_is_named() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "imp2", "id,a,b\nr0,,1\nr1,,2\n");
    let e = run(&store, &table, json!({"missing_fill_method": "mean"}), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a`") && e.contains("mean"), "{e}");
}

use fateflow_component_core::testing::{ctx, temp_store, RecordingTracker};
use fateflow_component_core::TableRef;
use fateflow_tables::{upload_csv, LocalTableStore, UploadOptions};
use serde_json::{json, Value};

use super::*;
use fateflow_component_core::rng::SplitMix;

fn unit(rng: &mut SplitMix) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Uploads `columns` (NaN written as an empty cell) as `experiment.<name>` in
/// `partitions` partitions.
fn upload(store: &LocalTableStore, name: &str, columns: &[Vec<f64>], partitions: u32) -> TableRef {
    let n = columns[0].len();
    let mut csv = String::from("id");
    for j in 0..columns.len() {
        csv.push_str(&format!(",x{j}"));
    }
    csv.push('\n');
    for i in 0..n {
        csv.push_str(&format!("r{i}"));
        for c in columns {
            if c[i].is_nan() {
                csv.push(',');
            } else {
                csv.push_str(&format!(",{}", c[i]));
            }
        }
        csv.push('\n');
    }
    let mut options = UploadOptions::new("experiment", name);
    options.partitions = partitions;
    upload_csv(store, csv.as_bytes(), &options).expect("upload");
    TableRef::new("experiment", name)
}

fn run(
    store: &LocalTableStore,
    table: &TableRef,
    params: Value,
) -> Result<(StatisticsModel, Value)> {
    let tracker = RecordingTracker::new();
    let mut c = ctx(store, &tracker, "statistic_0", MODULE, params);
    c.inputs.data.insert("data".into(), vec![table.clone()]);
    DataStatistics.run(&c)?;
    let (_, model) = tracker.models().pop().expect("a model");
    let model = StatisticsModel::from_component_model(&model).expect("model parses");
    Ok((model, tracker.summary().expect("a summary")))
}

/// The statistics by a plain two-pass computation over the non-missing values.
struct Direct {
    n: f64,
    mean: f64,
    var: f64,
    m3: f64,
    m4: f64,
    sorted: Vec<f64>,
}

fn direct(values: &[f64], abnormal: &[f64]) -> Direct {
    let mut v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| !x.is_nan() && !abnormal.contains(x))
        .collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let central = |k: i32| v.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
    let (var, m3, m4) = (central(2), central(3), central(4));
    v.sort_by(f64::total_cmp);
    Direct {
        n,
        mean,
        var,
        m3,
        m4,
        sorted: v,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn statistics_equal_a_two_pass_computation() {
    let (_dir, store) = temp_store();
    let mut rng = SplitMix::seeded(Some(20));
    let n = 1500;
    let columns: Vec<Vec<f64>> = (0..4)
        .map(|j| {
            (0..n)
                .map(|_| {
                    let u = unit(&mut rng);
                    if u < 0.05 * j as f64 {
                        f64::NAN
                    } else {
                        // skewed values on a shifted scale, rounded to 3 decimals
                        ((unit(&mut rng).powi(3) * 50.0 + 100.0 * j as f64) * 1000.0).round()
                            / 1000.0
                    }
                })
                .collect()
        })
        .collect();
    let table = upload(&store, "stats", &columns, 3);
    for bias in [true, false] {
        let (model, summary) = run(
            &store,
            &table,
            json!({"statistics": ["count", "variance", "95%", "5%", "0%", "100%"], "bias": bias}),
        )
        .unwrap();
        for (j, col) in columns.iter().enumerate() {
            let name = format!("x{j}");
            let d = direct(col, &[]);
            let got = |s: &str| {
                model
                    .value(s, &name)
                    .unwrap_or_else(|| panic!("{s} of {name}"))
            };
            let (g1, g2) = (d.m3 / d.var.powf(1.5), d.m4 / (d.var * d.var));
            let (skew, kurt) = if bias {
                (g1, g2 - 3.0)
            } else {
                let n = d.n;
                (
                    (n * (n - 1.0)).sqrt() / (n - 2.0) * g1,
                    ((n * n - 1.0) * g2 - 3.0 * (n - 1.0).powi(2)) / ((n - 2.0) * (n - 3.0)),
                )
            };
            let missing = col.iter().filter(|x| x.is_nan()).count() as f64;
            let rank = |q: f64| d.sorted[((q * d.n).ceil() as usize).clamp(1, d.sorted.len()) - 1];
            for (stat, want) in [
                ("count", d.n),
                ("sum", d.mean * d.n),
                ("mean", d.mean),
                ("variance", d.var),
                ("stddev", d.var.sqrt()),
                ("coefficient_of_variance", (d.var.sqrt() / d.mean).abs()),
                ("skewness", skew),
                ("kurtosis", kurt),
                ("min", d.sorted[0]),
                ("max", *d.sorted.last().unwrap()),
                ("missing_count", missing),
                ("missing_ratio", missing / n as f64),
                ("median", rank(0.5)),
                ("95%", rank(0.95)),
                ("5%", rank(0.05)),
                ("0%", d.sorted[0]),
                ("100%", *d.sorted.last().unwrap()),
            ] {
                assert!(
                    close(got(stat), want),
                    "{name} {stat} (bias {bias}): {} vs {want}",
                    got(stat)
                );
                assert_eq!(summary[&name][stat], json!(got(stat)), "{name} {stat}");
            }
        }
        // The basic set first, in FATE's order, then the extras, quantiles last.
        let order: Vec<&str> = model
            .param
            .self_values
            .results
            .iter()
            .map(|r| r.value_name.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "sum",
                "mean",
                "stddev",
                "median",
                "min",
                "max",
                "missing_ratio",
                "missing_count",
                "skewness",
                "kurtosis",
                "coefficient_of_variance",
                "count",
                "variance",
                "95%",
                "5%",
                "0%",
                "100%"
            ]
        );
        assert_eq!(model.meta.static_columns, ["x0", "x1", "x2", "x3"]);
    }
}

#[test]
fn abnormal_values_are_left_out_but_not_counted_missing() {
    let (_dir, store) = temp_store();
    let col = vec![0.0, 1.0, 2.0, f64::NAN, 0.0, 5.0, 7.0];
    let table = upload(&store, "abnormal", std::slice::from_ref(&col), 1);
    let (model, _) = run(
        &store,
        &table,
        json!({"abnormal_list": [0, "NA"], "statistics": "count"}),
    )
    .unwrap();
    let d = direct(&col, &[0.0]);
    assert_eq!(model.value("count", "x0"), Some(4.0));
    assert!(close(model.value("mean", "x0").unwrap(), d.mean));
    assert_eq!(model.value("min", "x0"), Some(1.0));
    assert_eq!(model.value("missing_count", "x0"), Some(1.0));
    assert_eq!(model.value("median", "x0"), Some(2.0));
}

#[test]
fn constant_and_empty_columns_follow_fate() {
    let (_dir, store) = temp_store();
    let table = upload(
        &store,
        "degenerate",
        &[
            vec![3.0, 3.0, 3.0],
            vec![f64::NAN, f64::NAN, f64::NAN],
            vec![1.0, 2.0, 3.0],
        ],
        2,
    );
    let (model, summary) = run(&store, &table, json!({"column_indexes": [0, 1]})).unwrap();
    assert_eq!(model.meta.static_columns, ["x0", "x1"]);
    assert_eq!(model.value("stddev", "x0"), Some(0.0));
    assert_eq!(model.value("skewness", "x0"), Some(0.0));
    assert_eq!(model.value("kurtosis", "x0"), Some(-3.0));
    assert_eq!(model.value("coefficient_of_variance", "x0"), Some(0.0));
    assert_eq!(model.value("mean", "x1"), None);
    assert_eq!(summary["x1"]["mean"], Value::Null);
    assert_eq!(summary["x1"]["missing_ratio"], json!(1.0));
    assert_eq!(summary["x1"]["sum"], json!(0.0));
}

#[test]
fn bad_columns_and_values_are_named() {
    let (_dir, store) = temp_store();
    let table = upload(&store, "inf", &[vec![1.0, f64::INFINITY, 2.0]], 1);
    let e = run(&store, &table, json!({})).unwrap_err().to_string();
    assert!(
        e.contains("`r1`") && e.contains("x0") && e.contains("inf"),
        "{e}"
    );
    let e = run(
        &store,
        &table,
        json!({"column_indexes": [], "column_names": ["x9"]}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no column") && e.contains("x0"), "{e}");
}

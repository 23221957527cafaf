use fateflow_component_core::rng::SplitMix;
use fateflow_component_core::testing::{ctx, frame, rows, temp_store, upload, RecordingTracker};
use fateflow_component_core::{ModelInput, TableRef};
use fateflow_tables::LocalTableStore;

use super::*;

fn unit(rng: &mut SplitMix) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `n` rows of 3 features and a label with `classes` classes, as a labelled table.
fn data(
    store: &LocalTableStore,
    name: &str,
    n: usize,
    classes: usize,
) -> (TableRef, Vec<(Vec<f64>, f64)>) {
    let mut rng = SplitMix::seeded(Some(7));
    let mut csv = String::from("id,y,x0,x1,x2\n");
    let mut rows = Vec::new();
    for i in 0..n {
        let x: Vec<f64> = (0..3)
            .map(|_| ((unit(&mut rng) * 4.0 - 2.0) * 1000.0).round() / 1000.0)
            .collect();
        let s = x[0] - 0.5 * x[1] + 0.3 * x[2] + (unit(&mut rng) - 0.5) * 1.5;
        let y = if classes == 2 {
            f64::from(s > 0.0)
        } else {
            ((s + 2.0).clamp(0.0, 3.99) * classes as f64 / 4.0).floor()
        };
        csv.push_str(&format!("r{i},{y},{},{},{}\n", x[0], x[1], x[2]));
        rows.push((x, y));
    }
    let raw = upload(store, name, &csv);
    let (tracker, result) = fateflow_components_data::testing::transform(
        store,
        "data_transform_0",
        &raw,
        json!({"with_label": true, "label_name": "y"}),
        None,
    );
    result.expect("data transform");
    (tracker.output_data().pop().unwrap().1, rows)
}

fn run(
    store: &LocalTableStore,
    key: &str,
    table: &TableRef,
    params: Value,
    model: Option<ModelInput>,
) -> Result<RecordingTracker> {
    let tracker = RecordingTracker::new();
    {
        let mut c = ctx(store, &tracker, "local_baseline_0", MODULE, params);
        c.inputs.data.insert(key.into(), vec![table.clone()]);
        c.inputs.model.extend(model);
        LocalBaseline.run(&c)?;
    }
    Ok(tracker)
}

/// Solves `C·Σ logloss + ½‖w‖²` (intercept unpenalised) by Newton's method.
fn newton(rows: &[(Vec<f64>, f64)], c: f64) -> Vec<f64> {
    let d = 4;
    let mut w = vec![0.0; d];
    for _ in 0..50 {
        let mut g = vec![0.0; d];
        let mut h = vec![vec![0.0; d]; d];
        for (x, y) in rows {
            let xi: Vec<f64> = x.iter().copied().chain([1.0]).collect();
            let z: f64 = xi.iter().zip(&w).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for a in 0..d {
                g[a] += c * (p - y) * xi[a];
                for b in 0..d {
                    h[a][b] += c * p * (1.0 - p) * xi[a] * xi[b];
                }
            }
        }
        for a in 0..3 {
            g[a] += w[a];
            h[a][a] += 1.0;
        }
        // Solve h · step = g by Gaussian elimination.
        let mut m: Vec<Vec<f64>> = h
            .iter()
            .zip(&g)
            .map(|(r, &gi)| r.iter().copied().chain([gi]).collect())
            .collect();
        for col in 0..d {
            let piv = (col..d)
                .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
                .unwrap();
            m.swap(col, piv);
            let pivot = m[col].clone();
            for (r, row) in m.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot[col];
                    for (cell, p) in row[col..].iter_mut().zip(&pivot[col..]) {
                        *cell -= f * p;
                    }
                }
            }
        }
        for a in 0..d {
            w[a] -= m[a][d] / m[a][a];
        }
    }
    w
}

#[test]
fn binary_weights_equal_an_independent_newton_solve() {
    let (_dir, store) = temp_store();
    let (table, samples) = data(&store, "lb", 300, 2);
    let tracker = run(
        &store,
        "train_data",
        &table,
        json!({"model_opts": {"C": 0.5, "max_iter": 500, "tol": 1e-9}}),
        None,
    )
    .unwrap();
    let want = newton(&samples, 0.5);
    let summary = tracker.summary().unwrap();
    for (j, name) in ["x0", "x1", "x2"].iter().enumerate() {
        let got = summary["coef"][name].as_f64().unwrap();
        assert!((got - want[j]).abs() < 1e-5, "{name}: {got} vs {}", want[j]);
    }
    assert!((summary["intercept"].as_f64().unwrap() - want[3]).abs() < 1e-5);
    assert_eq!(summary["is_converged"], json!(true));
    // The training predictions are the model's probabilities.
    let out = tracker.output_data().pop().unwrap().1;
    let f = frame(&store, &out);
    let got = rows(&f);
    let (x, y) = &samples[5];
    let z = want[0] * x[0] + want[1] * x[1] + want[2] * x[2] + want[3];
    let p = 1.0 / (1.0 + (-z).exp());
    assert_eq!(got["r5"][0], *y);
    assert!((got["r5"][2] - p).abs() < 1e-5);
    assert_eq!(got["r5"][1], f64::from(p > 0.5));
}

#[test]
fn a_small_max_iter_is_reported_as_not_converged() {
    let (_dir, store) = temp_store();
    let (table, _) = data(&store, "lb2", 200, 2);
    let tracker = run(
        &store,
        "train_data",
        &table,
        json!({"model_opts": {"max_iter": 2}}),
        None,
    )
    .unwrap();
    let s = tracker.summary().unwrap();
    assert_eq!(s["iters"], json!(2));
    assert_eq!(s["is_converged"], json!(false));
}

#[test]
fn several_classes_fit_softmax_or_one_vs_rest_and_predict_alike_from_the_model() {
    let (_dir, store) = temp_store();
    let (table, _) = data(&store, "lb3", 400, 3);
    for multi in ["multinomial", "ovr"] {
        let tracker = run(
            &store,
            "train_data",
            &table,
            json!({"model_opts": {"multi_class": multi, "max_iter": 200}}),
            None,
        )
        .unwrap();
        let s = tracker.summary().unwrap();
        assert_eq!(s["one_vs_rest"], json!(true));
        assert!(s["0"]["coef"]["x0"].is_number() && s["2"]["intercept"].is_number());
        let trained = rows(&frame(&store, &tracker.output_data().pop().unwrap().1));
        // predict_detail (columns 4..) sums to 1; the score is its largest entry.
        for r in trained.values() {
            let detail = &r[4..];
            assert!((detail.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert_eq!(r[2], detail.iter().copied().fold(f64::MIN, f64::max));
        }
        let accuracy = trained.values().filter(|r| r[0] == r[1]).count() as f64 / 400.0;
        assert!(accuracy > 0.6, "{multi}: accuracy {accuracy}");
        let (_, model) = tracker.models().pop().unwrap();
        let input = ModelInput {
            component: "local_baseline_0".into(),
            alias: "model".into(),
            model,
        };
        let again = run(&store, "test_data", &table, json!({}), Some(input)).unwrap();
        let predicted = rows(&frame(&store, &again.output_data().pop().unwrap().1));
        for (sid, r) in &trained {
            assert!((predicted[sid][2] - r[2]).abs() < 1e-12, "{multi} {sid}");
            assert_eq!(predicted[sid][3], 2.0, "predict rows are test rows");
        }
    }
}

#[test]
fn the_softmax_gradient_matches_finite_differences() {
    let (_dir, store) = temp_store();
    let (table, _) = data(&store, "lb4", 50, 3);
    let tracker = RecordingTracker::new();
    let mut c = ctx(&store, &tracker, "lb", MODULE, json!({}));
    c.inputs.data.insert("train_data".into(), vec![table]);
    let data = Dataset::read(&c, &["train_data"]).unwrap().unwrap();
    let classes = [0.0, 1.0, 2.0];
    let f = Softmax {
        data: &data,
        classes: &classes,
        c: 0.7,
        l2: true,
        intercept: true,
    };
    let w: Vec<f64> = (0..f.dim())
        .map(|i| (i as f64 * 0.37).sin() * 0.3)
        .collect();
    let mut g = vec![0.0; f.dim()];
    f.eval(&w, &mut g).unwrap();
    let mut scratch = vec![0.0; f.dim()];
    for i in 0..f.dim() {
        let (mut a, mut b) = (w.clone(), w.clone());
        a[i] += 1e-6;
        b[i] -= 1e-6;
        let numeric =
            (f.eval(&a, &mut scratch).unwrap() - f.eval(&b, &mut scratch).unwrap()) / 2e-6;
        assert!(
            (numeric - g[i]).abs() < 1e-4 * (1.0 + g[i].abs()),
            "{i}: {numeric} vs {}",
            g[i]
        );
    }
}

#[test]
fn unsupported_options_are_named() {
    for (opts, key) in [
        (json!({"penalty": "l1"}), "model_opts.penalty"),
        (
            json!({"class_weight": "balanced"}),
            "model_opts.class_weight",
        ),
        (json!({"max_iterations": 3}), "model_opts.max_iterations"),
        (json!({"C": -1}), "model_opts.C"),
    ] {
        let e = LocalBaselineParam::parse(json!({"model_opts": opts}).as_object().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{e}");
    }
    let e = LocalBaselineParam::parse(json!({"model_name": "SVM"}).as_object().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("model_name"), "{e}");
}

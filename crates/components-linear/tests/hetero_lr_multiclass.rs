//! HeteroLR on a label with more than two classes: one-vs-rest as FATE's
//! `HeteroOneVsRest`, checked against an independent plaintext one-vs-rest LR written
//! here (FATE's Taylor-approximated logistic loss, the same optimizer, epochs, learning
//! rate, full batch, initialisation and stop rule) on FATE's vehicle_scale data.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::registry;
use common::{context, MemoryHub, RecordingTracker};
use common::{temp_store, upload, upload_example};
use fateflow_component_core::{Component, ComponentModel, Error, ErrorKind, ModelInput};
use fateflow_component_core::{Result, TableRef};
use fateflow_components_eval::evaluation::Evaluation;
use fateflow_domain::{Catalog, Job, Role};
use fateflow_tables::{read_all, write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;

/// `table` with `label` as the label column, as DataTransform outputs it.
fn labeled(store: &LocalTableStore, table: &TableRef, label: Option<&str>) -> TableRef {
    let id = TableId::new(&table.namespace, &table.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if let Some(l) = label {
        frame = frame.with_label(l).unwrap();
    }
    let name = format!("{}_l", table.name);
    let out = TableId::new(&table.namespace, &name).unwrap();
    write_frame(store, &out, &frame, 4, WriteMode::Replace).unwrap();
    TableRef::new(&table.namespace, name)
}

struct Parties {
    guest: RecordingTracker,
    host: RecordingTracker,
    arbiter: RecordingTracker,
}

/// Runs HeteroLR at guest, host and arbiter on threads; `data` per role: input key and
/// tables (the second one, if any, is `validate_data`).
fn run_parties(
    store: &LocalTableStore,
    params: Value,
    guest: (&str, Vec<TableRef>),
    host: (&str, Vec<TableRef>),
    models: Option<(ComponentModel, ComponentModel, ComponentModel)>,
) -> (Parties, Vec<Result<()>>) {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(60));
    let roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, vec![HOST]),
        (Role::Arbiter, vec![HOST]),
    ]);
    let out = Parties {
        guest: RecordingTracker::new(),
        host: RecordingTracker::new(),
        arbiter: RecordingTracker::new(),
    };
    let parties = [
        (Role::Guest, GUEST, &out.guest),
        (Role::Host, HOST, &out.host),
        (Role::Arbiter, HOST, &out.arbiter),
    ];
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .into_iter()
            .map(|(role, id, tracker)| {
                let fed = hub.party(role, id);
                let (roles, params, models) = (roles.clone(), params.clone(), models.clone());
                let data = match role {
                    Role::Guest => Some(guest.clone()),
                    Role::Host => Some(host.clone()),
                    _ => None,
                };
                s.spawn(move || {
                    let mut c = context("hetero_lr_0", "HeteroLR", params, store, tracker);
                    c.role = role;
                    c.party_id = id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    if let Some((key, tables)) = data {
                        let mut tables = tables.into_iter();
                        c.inputs
                            .data
                            .insert(key.into(), tables.next().into_iter().collect());
                        if let Some(v) = tables.next() {
                            c.inputs.data.insert("validate_data".into(), vec![v]);
                        }
                    }
                    if let Some((g, h, a)) = models {
                        let model = match role {
                            Role::Guest => g,
                            Role::Host => h,
                            _ => a,
                        };
                        c.inputs.model.push(ModelInput {
                            component: "hetero_lr_0".into(),
                            alias: "model".into(),
                            model,
                        });
                    }
                    registry().get("HeteroLR").unwrap().run(&c)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    (out, results)
}

fn output(store: &LocalTableStore, tracker: &RecordingTracker) -> (TableRef, Frame) {
    let (_, t) = tracker.output_data().pop().expect("guest output");
    let frame = read_all(store, &TableId::new(&t.namespace, &t.name).unwrap()).unwrap();
    (t, frame)
}

fn col(frame: &Frame, name: &str) -> Vec<f64> {
    frame.column(
        frame
            .column_index(name)
            .unwrap_or_else(|| panic!("no column {name}")),
    )
}

fn accuracy(labels: &[f64], predicted: &[f64]) -> f64 {
    let right = labels.iter().zip(predicted).filter(|(a, b)| a == b).count();
    right as f64 / labels.len() as f64
}

/// FATE's ovr example's LR settings (hetero_lr_ovr_validate without its callbacks).
fn ovr_params() -> Value {
    json!({
        "penalty": "L2", "tol": 0.0001, "alpha": 0.01, "optimizer": "nesterov_momentum_sgd",
        "batch_size": -1, "learning_rate": 0.15, "encrypt_param": {"key_length": 1024},
        "init_param": {"init_method": "zeros"}, "max_iter": 10, "early_stop": "diff"
    })
}

/// The plaintext reference: rows joined by id, features guest then host.
struct Plain {
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    sids: Vec<String>,
}

fn plain_data() -> Plain {
    let read = |file: &str| {
        let text = std::fs::read_to_string(common::data_file(file)).unwrap();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows: BTreeMap<String, Vec<f64>> = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut f = l.split(',');
                let id = f.next().unwrap().to_string();
                (id, f.map(|v| v.trim().parse::<f64>().unwrap()).collect())
            })
            .collect();
        (header, rows)
    };
    let (gh, g) = read("vehicle_scale_hetero_guest.csv");
    let (_, h) = read("vehicle_scale_hetero_host.csv");
    assert_eq!(gh[1], "y");
    let mut out = Plain {
        x: Vec::new(),
        y: Vec::new(),
        sids: Vec::new(),
    };
    for (id, gv) in &g {
        let hv = &h[id];
        out.sids.push(id.clone());
        out.y.push(gv[0]);
        out.x
            .push(gv[1..].iter().chain(hv.iter()).copied().collect());
    }
    out
}

/// Full-batch binary LR as FATE's HeteroLR computes it, in plaintext: labels ±1,
/// gradient `mean((¼·wx − ½·y)·x) + α·w` (no penalty on the intercept), Nesterov
/// momentum (μ 0.9) with `lr / sqrt(1 + epoch)`, loss
/// `ln 2 − mean(y·wx)/2 + mean(wx²)/8 + α/2·‖w‖²` before each step, stop when two epochs'
/// losses differ by less than `tol`. Returns the weights, intercept last.
fn plain_binary_lr(
    data: &Plain,
    positive: f64,
    epochs: usize,
    lr: f64,
    alpha: f64,
    tol: f64,
) -> Vec<f64> {
    let k = data.x[0].len();
    let n = data.x.len() as f64;
    let y: Vec<f64> = data
        .y
        .iter()
        .map(|&v| if v == positive { 1.0 } else { -1.0 })
        .collect();
    let mut w = vec![0.0; k + 1];
    let mut m = vec![0.0; k + 1];
    let mut last_loss: Option<f64> = None;
    for epoch in 0..epochs {
        let wx: Vec<f64> = data
            .x
            .iter()
            .map(|x| x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + w[k])
            .collect();
        let reg: f64 = w[..k].iter().map(|v| v * v).sum::<f64>();
        let loss = std::f64::consts::LN_2
            - wx.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / (2.0 * n)
            + wx.iter().map(|a| a * a).sum::<f64>() / (8.0 * n)
            + 0.5 * alpha * reg;
        let mut g = vec![0.0; k + 1];
        for (i, x) in data.x.iter().enumerate() {
            let d = 0.25 * wx[i] - 0.5 * y[i];
            for j in 0..k {
                g[j] += d * x[j];
            }
            g[k] += d;
        }
        for j in 0..=k {
            g[j] /= n;
            if j < k {
                g[j] += alpha * w[j];
            }
        }
        let lr_t = lr / (1.0 + epoch as f64).sqrt();
        for j in 0..=k {
            let v = 0.9 * m[j] - lr_t * g[j];
            let step = 0.9 * m[j] - 1.9 * v;
            m[j] = v;
            w[j] -= step;
        }
        let converged = last_loss.is_some_and(|l| (loss - l).abs() < tol);
        last_loss = Some(loss);
        if converged {
            break;
        }
    }
    w
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn vehicle_one_vs_rest_matches_a_plaintext_one_vs_rest_and_predicts_and_evaluates() {
    let (_dir, store) = temp_store();
    let g = labeled(
        &store,
        &upload_example(&store, "vehicle_scale_hetero_guest.csv"),
        Some("y"),
    );
    let h = labeled(
        &store,
        &upload_example(&store, "vehicle_scale_hetero_host.csv"),
        None,
    );
    let (out, results) = run_parties(
        &store,
        ovr_params(),
        ("train_data", vec![g.clone()]),
        ("train_data", vec![h.clone()]),
        None,
    );
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let (_, frame) = output(&store, &out.guest);
    assert_eq!(
        &frame.columns()[4..],
        [
            "predict_detail.0",
            "predict_detail.1",
            "predict_detail.2",
            "predict_detail.3"
        ]
    );
    let labels = col(&frame, "label");
    let predicted = col(&frame, "predict_result");
    let fed_acc = accuracy(&labels, &predicted);

    // The plaintext one-vs-rest on the same rows.
    let plain = plain_data();
    assert_eq!(plain.sids.len(), frame.nrows());
    let classes = [0.0, 1.0, 2.0, 3.0];
    let models: Vec<Vec<f64>> = classes
        .iter()
        .map(|&c| plain_binary_lr(&plain, c, 10, 0.15, 0.01, 1e-4))
        .collect();
    let k = plain.x[0].len();
    let by_sid: BTreeMap<&str, usize> = frame
        .sids()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut plain_pred = Vec::new();
    let mut max_diff: f64 = 0.0;
    for (i, x) in plain.x.iter().enumerate() {
        let scores: Vec<f64> = models
            .iter()
            .map(|w| sigmoid(x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + w[k]))
            .collect();
        let mut best = 0;
        for c in 1..scores.len() {
            if scores[c] > scores[best] {
                best = c;
            }
        }
        plain_pred.push(classes[best]);
        let row = frame.row(by_sid[plain.sids[i].as_str()]);
        for (c, s) in scores.iter().enumerate() {
            max_diff = max_diff.max((row[4 + c] - s).abs());
        }
        assert_eq!(row[0], plain.y[i]);
    }
    let plain_acc = accuracy(&plain.y, &plain_pred);
    eprintln!(
        "vehicle one-vs-rest accuracy: federated {fed_acc:.4}, plaintext {plain_acc:.4}, \
         max score difference {max_diff:.2e}"
    );
    assert!(
        (fed_acc - plain_acc).abs() <= 0.01,
        "{fed_acc} vs {plain_acc}"
    );
    assert!(max_diff < 1e-4, "scores differ by {max_diff}");
    // Ten epochs from zeros leave the four models weak (FATE's example settings).
    assert!(fed_acc > 0.45, "accuracy {fed_acc}");
    // predict_score is the winning class's score.
    let scores = col(&frame, "predict_score");
    for (r, score) in scores.iter().enumerate() {
        let best = frame.row(r)[4..].iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(*score, best);
    }

    // The models: FATE's one-vs-rest shape at every party.
    let (_, gm) = out.guest.models().pop().unwrap();
    let (_, hm) = out.host.models().pop().unwrap();
    let (_, am) = out.arbiter.models().pop().unwrap();
    for (m, classes, weights) in [
        (&gm, ["0", "1", "2", "3"], 9),
        (&hm, ["0", "1", "2", "3"], 9),
    ] {
        assert_eq!(m.param["need_one_vs_rest"], true);
        assert_eq!(m.meta["need_one_vs_rest"], true);
        assert_eq!(m.param["weight"], json!({}));
        let ovr = &m.param["one_vs_rest_result"];
        assert_eq!(ovr["one_vs_rest_classes"], json!(classes));
        let completed = ovr["completed_models"].as_array().unwrap();
        assert_eq!(completed.len(), 4);
        for sm in completed {
            assert_eq!(sm["weight"].as_object().unwrap().len(), weights);
            assert!(sm["iters"].as_u64().unwrap() >= 2);
        }
    }
    // The guest's sub-model weights are the plaintext ones.
    let completed = gm.param["one_vs_rest_result"]["completed_models"]
        .as_array()
        .unwrap();
    for (c, sm) in completed.iter().enumerate() {
        let b = sm["intercept"].as_f64().unwrap();
        assert!(
            (b - models[c][k]).abs() < 1e-4,
            "class {c}: {b} vs {}",
            models[c][k]
        );
    }
    assert_eq!(
        am.param["one_vs_rest_result"]["completed_models"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let summary = out.guest.summary().unwrap();
    assert_eq!(summary["3"]["one_vs_rest"], true);
    // No loss curve for the sub-models (FATE's need_call_back_loss = false).
    assert!(out.arbiter.metrics().iter().all(|m| m.name != "loss"));
    // Progress covers the four models.
    let progress = out.guest.progress_values();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");

    // Evaluation (multi) of the output: accuracy as computed here.
    let tracker = RecordingTracker::new();
    let mut c = context(
        "evaluation_0",
        "Evaluation",
        json!({"eval_type": "multi"}),
        &store,
        &tracker,
    );
    let (t, _) = output(&store, &out.guest);
    c.inputs.data.insert("data".into(), vec![t]);
    Evaluation.run(&c).unwrap();
    let logged = tracker
        .metrics()
        .into_iter()
        .find(|m| m.namespace == "train" && m.meta["metric_type"] == "EVALUATION_SUMMARY")
        .expect("summary metric");
    let acc = logged
        .data
        .iter()
        .find(|(k, _)| k == "accuracy")
        .map(|(_, v)| v.as_f64().unwrap())
        .unwrap();
    assert!((acc - fed_acc).abs() < 1e-12, "{acc} vs {fed_acc}");

    // Predict mode with the three models reproduces the scores.
    let (pout, results) = run_parties(
        &store,
        json!({}),
        ("test_data", vec![g]),
        ("test_data", vec![h]),
        Some((gm, hm, am)),
    );
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let (_, pframe) = output(&store, &pout.guest);
    assert_eq!(pframe.columns(), frame.columns());
    assert_eq!(pframe.sids(), frame.sids());
    for r in 0..frame.nrows() {
        let (a, b) = (pframe.row(r), frame.row(r));
        assert_eq!(a[1], b[1]);
        assert_eq!(a[3], 2.0, "type test");
        for c in [2, 4, 5, 6, 7] {
            assert!((a[c] - b[c]).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }
}

/// Runs the guest's HeteroLR task alone (a host and an arbiter are in the job's roles;
/// the guest must refuse before it sends them anything).
fn run_guest(store: &LocalTableStore, params: Value, train: &TableRef) -> Result<()> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(2));
    let fed = hub.party(Role::Guest, GUEST);
    let tracker = RecordingTracker::new();
    let mut c = context("hetero_lr_0", "HeteroLR", params, store, &tracker);
    c.role = Role::Guest;
    c.party_id = GUEST;
    c.roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, vec![HOST]),
        (Role::Arbiter, vec![HOST]),
    ]);
    c.federation = Some(&fed);
    c.inputs
        .data
        .insert("train_data".into(), vec![train.clone()]);
    registry().get("HeteroLR").unwrap().run(&c)
}

#[test]
fn one_vs_rest_needs_integer_labels() {
    let (_dir, store) = temp_store();
    let mut csv = String::from("id,y,x0,x1\n");
    for i in 0..30 {
        let y = ["0", "1", "2.5"][i % 3];
        csv.push_str(&format!("{i},{y},{}.5,{}\n", i % 7, (i * 13) % 5));
    }
    let t = labeled(&store, &upload(&store, "fractional", &csv), Some("y"));
    let e = run_guest(&store, json!({"max_iter": 2}), &t).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::User, "{e}");
    assert!(matches!(e, Error::InvalidParameter { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("`label`") && msg.contains("label 2.5") && msg.contains("integer labels"),
        "{msg}"
    );
}

/// The schemas of the modules FATE's linear examples use.
fn catalog() -> Catalog {
    Catalog::new(&[
        fateflow_components_data::SCHEMAS,
        fateflow_components_linear::SCHEMAS,
        fateflow_components_eval::SCHEMAS,
    ])
}

fn fate_examples() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fate-examples");
    dir.is_dir().then_some(dir)
}

/// FATE's own `hetero_lr_ovr_validate` job (vehicle_scale, four classes, early stopping
/// on the same table as validate data): its parameters train four models, each with
/// its own validation metrics `model_<i>.iteration_<epoch>` (of the train rows only:
/// the validate rows repeat their ids, and FATE's union keeps the train rows).
#[test]
fn fates_hetero_lr_ovr_validate_trains_one_model_per_class_with_early_stopping() {
    let Some(root) = fate_examples() else {
        eprintln!(
            "SKIPPED: ../shared/fate-examples (FATE 1.11's example jobs) is not next to \
             the repository"
        );
        return;
    };
    let folder = root.join("dsl/v2/hetero_logistic_regression");
    let dsl = std::fs::read_to_string(folder.join("hetero_lr_ovr_validate_dsl.json")).unwrap();
    let conf_text =
        std::fs::read_to_string(folder.join("hetero_lr_ovr_validate_conf.json")).unwrap();
    let job = Job::parse_str(&dsl, &conf_text, catalog()).expect("accepted with its callbacks");
    let plan = job.plan();
    let lr_plan = plan.iter().find(|p| p.component == "hetero_lr_0").unwrap();
    let params_of = |role: Role| {
        Value::Object(
            lr_plan
                .parties
                .iter()
                .find(|p| p.party.role == role)
                .unwrap()
                .parameters
                .clone(),
        )
    };
    let params = params_of(Role::Guest);
    assert_eq!(params, params_of(Role::Host));

    let (_dir, store) = temp_store();
    let g = labeled(
        &store,
        &upload_example(&store, "vehicle_scale_hetero_guest.csv"),
        Some("y"),
    );
    let h = labeled(
        &store,
        &upload_example(&store, "vehicle_scale_hetero_host.csv"),
        None,
    );
    let (out, results) = run_parties(
        &store,
        params,
        ("train_data", vec![g.clone(), g]),
        ("train_data", vec![h.clone(), h]),
        None,
    );
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let names: Vec<String> = out
        .guest
        .metrics()
        .into_iter()
        .filter(|m| m.namespace == "train")
        .map(|m| m.name)
        .collect();
    for i in 0..4 {
        assert!(
            names.contains(&format!("model_{i}.iteration_0")),
            "{names:?}"
        );
    }
    let summary = out.guest.summary().unwrap();
    for c in ["0", "1", "2", "3"] {
        assert_eq!(summary[c]["one_vs_rest"], true, "{summary}");
        assert!(
            summary[c]["validation_metrics"]["train"]["auc"].is_array(),
            "{summary}"
        );
    }
    let (_, frame) = output(&store, &out.guest);
    assert_eq!(frame.nrows(), 846);
    // Early stopping keeps each model's best epoch (by auc or ks): above chance (0.25).
    let acc = accuracy(&col(&frame, "label"), &col(&frame, "predict_result"));
    assert!(acc > 0.3, "accuracy {acc}");
}

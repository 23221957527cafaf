//! Warm start (a model input together with `train_data`), as FATE 1.11.4: training
//! 5 epochs and continuing to N gives the model of N epochs straight (sgd, whose
//! learning-rate decay continues from the model's `iters`); what is refused.

mod common;

use std::collections::BTreeMap;

use common::parties::labeled;
use common::registry;
use common::temp_store;
use common::{context, MemoryHub, RecordingTracker};
use fateflow_component_core::{ComponentModel, ModelInput, Result, TableRef};
use fateflow_domain::Role;
use fateflow_tables::LocalTableStore;
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;

struct Outcome {
    guest: RecordingTracker,
    host: RecordingTracker,
    arbiter: RecordingTracker,
}

/// The models (guest, host, arbiter) given as model inputs.
type Models = (
    Option<ComponentModel>,
    Option<ComponentModel>,
    Option<ComponentModel>,
);

/// Runs `module` at guest, host and (optionally) arbiter on threads, every party with
/// `train_data`.
fn run_parties(
    store: &LocalTableStore,
    module: &str,
    params: Value,
    data: (&TableRef, &TableRef),
    arbiter: bool,
    models: Option<Models>,
) -> (Outcome, Vec<Result<()>>) {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
    let mut roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    if arbiter {
        roles.insert(Role::Arbiter, vec![HOST]);
    }
    let trackers = Outcome {
        guest: RecordingTracker::new(),
        host: RecordingTracker::new(),
        arbiter: RecordingTracker::new(),
    };
    let mut parties = vec![
        (Role::Guest, GUEST, &trackers.guest),
        (Role::Host, HOST, &trackers.host),
    ];
    if arbiter {
        parties.push((Role::Arbiter, HOST, &trackers.arbiter));
    }
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .into_iter()
            .map(|(role, id, tracker)| {
                let fed = hub.party(role, id);
                let roles = roles.clone();
                let params = params.clone();
                let models = models.clone();
                s.spawn(move || {
                    let mut c = context("hetero_lr_1", module, params, store, tracker);
                    c.role = role;
                    c.party_id = id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    let table = match role {
                        Role::Guest => Some(data.0),
                        Role::Host => Some(data.1),
                        _ => None,
                    };
                    if let Some(t) = table {
                        c.inputs.data.insert("train_data".into(), vec![t.clone()]);
                    }
                    if let Some((g, h, a)) = models {
                        let model = match role {
                            Role::Guest => g,
                            Role::Host => h,
                            _ => a,
                        };
                        c.inputs.model.extend(model.map(|model| ModelInput {
                            component: "hetero_lr_0".into(),
                            alias: "model".into(),
                            model,
                        }));
                    }
                    registry().get(module).unwrap().run(&c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (trackers, results)
}

fn model(tracker: &RecordingTracker) -> ComponentModel {
    tracker.models().pop().expect("a model").1
}

fn all_ok(results: &[Result<()>], what: &str) {
    for r in results {
        assert!(r.is_ok(), "{what}: {r:?}");
    }
}

/// Weights by feature name, the intercept under `"<intercept>"`.
fn weights(m: &ComponentModel) -> BTreeMap<String, f64> {
    let mut w: BTreeMap<String, f64> = serde_json::from_value(m.param["weight"].clone()).unwrap();
    w.insert("<intercept>".into(), m.param["intercept"].as_f64().unwrap());
    w
}

fn losses(m: &ComponentModel) -> Vec<f64> {
    serde_json::from_value(m.param["loss_history"].clone()).unwrap()
}

fn max_diff(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> f64 {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same features"
    );
    a.iter().map(|(k, v)| (v - b[k]).abs()).fold(0.0, f64::max)
}

/// Trains `first` epochs, continues to `max_iter` from that model, and trains
/// `max_iter` straight; returns the largest weight difference (guest and host) between
/// the continued and the straight models, after checking iters, losses and metrics.
fn continuity(
    module: &str,
    files: (&str, &str),
    params: Value,
    first: usize,
    max_iter: usize,
    arbiter: bool,
) -> f64 {
    let (_dir, store) = temp_store();
    let g = labeled(&store, files.0, Some("y"));
    let h = labeled(&store, files.1, None);
    let with_iters = |n: usize| {
        let mut p = params.clone();
        p["max_iter"] = json!(n);
        p
    };
    let (short, r) = run_parties(&store, module, with_iters(first), (&g, &h), arbiter, None);
    all_ok(&r, "first run");
    let models = (
        Some(model(&short.guest)),
        Some(model(&short.host)),
        arbiter.then(|| model(&short.arbiter)),
    );
    assert_eq!(models.0.as_ref().unwrap().param["iters"], json!(first));
    let (warm, r) = run_parties(
        &store,
        module,
        with_iters(max_iter),
        (&g, &h),
        arbiter,
        Some(models),
    );
    all_ok(&r, "warm start");
    let (straight, r) = run_parties(
        &store,
        module,
        with_iters(max_iter),
        (&g, &h),
        arbiter,
        None,
    );
    all_ok(&r, "straight run");

    let (wg, sg) = (model(&warm.guest), model(&straight.guest));
    let (wh, sh) = (model(&warm.host), model(&straight.host));
    assert_eq!(wg.param["iters"], json!(max_iter));
    assert_eq!(wh.param["iters"], json!(max_iter));
    // FATE starts the loss history afresh: only the epochs run now.
    let loss_owner = if arbiter {
        (model(&warm.arbiter), model(&straight.arbiter))
    } else {
        (wg.clone(), sg.clone())
    };
    let (wl, sl) = (losses(&loss_owner.0), losses(&loss_owner.1));
    assert_eq!(wl.len(), max_iter - first, "{wl:?}");
    assert_eq!(sl.len(), max_iter);
    for (a, b) in wl.iter().zip(&sl[first..]) {
        assert!((a - b).abs() < 1e-9, "loss {a} vs {b}");
    }
    // FATE's `train/init_iter` metric at every party.
    let mut trackers = vec![&warm.guest, &warm.host];
    if arbiter {
        trackers.push(&warm.arbiter);
    }
    for t in trackers {
        let m = t.metrics();
        let init: Vec<_> = m.iter().filter(|m| m.name == "init_iter").collect();
        assert_eq!(init.len(), 1);
        assert_eq!(init[0].data[0].1, json!(first));
    }
    // Continuing differs from restarting: the warm model is not a fresh
    // `max_iter - first` training.
    let (fresh, r) = run_parties(
        &store,
        module,
        with_iters(max_iter - first),
        (&g, &h),
        arbiter,
        None,
    );
    all_ok(&r, "fresh short run");
    assert!(max_diff(&weights(&model(&fresh.guest)), &weights(&wg)) > 1e-4);
    max_diff(&weights(&wg), &weights(&sg)).max(max_diff(&weights(&wh), &weights(&sh)))
}

#[test]
fn lr_warm_start_continues_as_a_straight_run() {
    let params = json!({
        "penalty": "L2", "optimizer": "sgd", "alpha": 0.01, "batch_size": -1,
        "learning_rate": 0.15, "decay": 0.5, "tol": 0.0,
        "init_param": {"init_method": "random_uniform", "random_seed": 103},
        "encrypt_param": {"key_length": 1024}
    });
    for arbiter in [true, false] {
        let d = continuity(
            "HeteroLR",
            ("breast_hetero_guest.csv", "breast_hetero_host.csv"),
            params.clone(),
            5,
            12,
            arbiter,
        );
        eprintln!("HeteroLR (arbiter {arbiter}): max |w_warm - w_straight| = {d:e}");
        assert!(d < 1e-9, "arbiter {arbiter}: {d}");
    }
}

#[test]
fn linr_warm_start_continues_as_a_straight_run() {
    // Mini-batches in a fixed order, decay without the square root.
    let params = json!({
        "penalty": "L2", "optimizer": "sgd", "alpha": 0.01, "batch_size": 100,
        "shuffle": false, "learning_rate": 0.01, "decay": 0.3, "decay_sqrt": false,
        "tol": 0.0, "init_param": {"init_method": "zeros"},
        "encrypt_param": {"key_length": 1024}
    });
    let d = continuity(
        "HeteroLinR",
        ("student_hetero_guest.csv", "student_hetero_host.csv"),
        params,
        5,
        10,
        true,
    );
    eprintln!("HeteroLinR: max |w_warm - w_straight| = {d:e}");
    assert!(d < 1e-9, "{d}");
}

fn err_text(r: &Result<()>) -> String {
    match r {
        Ok(()) => panic!("expected a refusal"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn warm_start_refusals_name_the_component_and_field() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let params = json!({"max_iter": 3, "optimizer": "sgd", "batch_size": -1,
        "encrypt_param": {"key_length": 1024}});
    let (first, r) = run_parties(&store, "HeteroLR", params.clone(), (&g, &h), true, None);
    all_ok(&r, "first run");
    let (gm, hm, am) = (
        model(&first.guest),
        model(&first.host),
        model(&first.arbiter),
    );

    // A model of another module.
    let relabel = |m: &ComponentModel| ComponentModel {
        module: "HeteroLinR".into(),
        ..m.clone()
    };
    let (_, r) = run_parties(
        &store,
        "HeteroLR",
        params.clone(),
        (&g, &h),
        true,
        Some((Some(relabel(&gm)), Some(relabel(&hm)), Some(relabel(&am)))),
    );
    let guest = err_text(&r[0]);
    assert!(guest.contains("input.model"), "{guest}");
    assert!(guest.contains("hetero_lr_1 (HeteroLR)"), "{guest}");
    assert!(guest.contains("is not a HeteroLR model"), "{guest}");
    for other in &r[1..] {
        let e = err_text(other);
        assert!(e.contains("the guest refused the warm start"), "{e}");
    }

    // A model trained on other features (one renamed).
    let mut renamed = gm.clone();
    let header: Vec<String> = serde_json::from_value(gm.param["header"].clone()).unwrap();
    let old = header[0].clone();
    let mut new_header = header.clone();
    new_header[0] = "not_a_column".into();
    renamed.param["header"] = json!(new_header);
    let mut w = renamed.param["weight"].as_object().unwrap().clone();
    let v = w.remove(&old).unwrap();
    w.insert("not_a_column".into(), v);
    renamed.param["weight"] = Value::Object(w);
    let (_, r) = run_parties(
        &store,
        "HeteroLR",
        params.clone(),
        (&g, &h),
        true,
        Some((Some(renamed), Some(hm.clone()), Some(am.clone()))),
    );
    let guest = err_text(&r[0]);
    assert!(guest.contains("input.model"), "{guest}");
    assert!(guest.contains("not_a_column"), "{guest}");
    assert!(guest.contains(&old), "{guest}");
    assert!(err_text(&r[1]).contains("the guest refused"));
    assert!(err_text(&r[2]).contains("the guest refused"));

    // Models of two trainings: the host's model ran other epochs than the guest's.
    let mut other_host = hm.clone();
    other_host.param["iters"] = json!(7);
    let (_, r) = run_parties(
        &store,
        "HeteroLR",
        params.clone(),
        (&g, &h),
        true,
        Some((Some(gm.clone()), Some(other_host), Some(am.clone()))),
    );
    let host = err_text(&r[1]);
    assert!(
        host.contains("ran 7 epochs but the guest's ran 3"),
        "{host}"
    );

    // Cross-validation with a model input.
    let mut cv = params.clone();
    cv["cv_param"] = json!({"need_cv": true, "n_splits": 2});
    let (_, r) = run_parties(
        &store,
        "HeteroLR",
        cv,
        (&g, &h),
        true,
        Some((Some(gm), Some(hm), Some(am))),
    );
    let guest = err_text(&r[0]);
    assert!(guest.contains("cv_param.need_cv"), "{guest}");
}

/// A model whose `iters` already reach `max_iter` is output unchanged (FATE's loop
/// does not run).
#[test]
fn warm_start_at_max_iter_keeps_the_model() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "student_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "student_hetero_host.csv", None);
    let params = json!({"max_iter": 3, "optimizer": "sgd", "learning_rate": 0.01,
        "encrypt_param": {"key_length": 1024}});
    let (first, r) = run_parties(&store, "HeteroLinR", params.clone(), (&g, &h), true, None);
    all_ok(&r, "first run");
    let (gm, hm, am) = (
        model(&first.guest),
        model(&first.host),
        model(&first.arbiter),
    );
    let (again, r) = run_parties(
        &store,
        "HeteroLinR",
        params,
        (&g, &h),
        true,
        Some((Some(gm.clone()), Some(hm.clone()), Some(am))),
    );
    all_ok(&r, "warm start at max_iter");
    assert!(max_diff(&weights(&model(&again.guest)), &weights(&gm)) < 1e-12);
    assert!(max_diff(&weights(&model(&again.host)), &weights(&hm)) < 1e-12);
    assert_eq!(model(&again.guest).param["iters"], json!(3));
}

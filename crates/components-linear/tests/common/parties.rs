//! Two or three parties of a linear model on threads, and plaintext references.

use std::collections::BTreeMap;

use super::{context, registry, temp_store, upload_example, MemoryHub, RecordingTracker};
use fateflow_component_core::memory::MemoryBudget;
use fateflow_component_core::{ComponentModel, ModelInput, Result, TableRef};
use fateflow_components_eval::evaluation::metrics;
use fateflow_domain::Role;
use fateflow_tables::{read_all, write_frame, LocalTableStore, TableId, WriteMode};
use serde_json::Value;

pub(crate) const GUEST: u64 = 9999;
pub(crate) const HOST: u64 = 10000;

/// `experiment.<file>` with `label` as the label column (what DataTransform outputs).
pub(crate) fn labeled(store: &LocalTableStore, file: &str, label: Option<&str>) -> TableRef {
    let raw = upload_example(store, file);
    let id = TableId::new(&raw.namespace, &raw.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if let Some(l) = label {
        frame = frame.with_label(l).unwrap();
    }
    let out = TableId::new("experiment", format!("{}_l", raw.name)).unwrap();
    write_frame(store, &out, &frame, 4, WriteMode::Replace).unwrap();
    TableRef::new("experiment", format!("{}_l", raw.name))
}

pub(crate) struct Outcome {
    pub(crate) guest: RecordingTracker,
    pub(crate) host: RecordingTracker,
    pub(crate) arbiter: Option<RecordingTracker>,
}

/// Runs `module` at guest, host and (optionally) arbiter on threads.
pub(crate) fn run_parties(
    store: &LocalTableStore,
    module: &str,
    params: Value,
    guest_data: (&str, &TableRef),
    host_data: (&str, &TableRef),
    arbiter: bool,
    models: Option<(ComponentModel, ComponentModel, ComponentModel)>,
) -> (Outcome, Vec<Result<()>>) {
    run_parties_in(
        MemoryBudget::default(),
        store,
        module,
        params,
        guest_data,
        host_data,
        arbiter,
        models,
    )
}

/// [`run_parties`] with every party's task memory budget at `memory` (a tiny budget
/// makes the encrypted pipeline cut each batch into blocks of 64 rows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_parties_in(
    memory: MemoryBudget,
    store: &LocalTableStore,
    module: &str,
    params: Value,
    guest_data: (&str, &TableRef),
    host_data: (&str, &TableRef),
    arbiter: bool,
    models: Option<(ComponentModel, ComponentModel, ComponentModel)>,
) -> (Outcome, Vec<Result<()>>) {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
    let mut roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    if arbiter {
        roles.insert(Role::Arbiter, vec![HOST]);
    }
    let trackers = (
        RecordingTracker::new(),
        RecordingTracker::new(),
        RecordingTracker::new(),
    );
    let mut parties = vec![
        (Role::Guest, GUEST, &trackers.0),
        (Role::Host, HOST, &trackers.1),
    ];
    if arbiter {
        parties.push((Role::Arbiter, HOST, &trackers.2));
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
                    let mut c = context("hetero_lr_0", module, params, store, tracker);
                    c.role = role;
                    c.party_id = id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    c.memory = memory;
                    let data = match role {
                        Role::Guest => Some(guest_data),
                        Role::Host => Some(host_data),
                        _ => None,
                    };
                    if let Some((key, t)) = data {
                        c.inputs.data.insert(key.into(), vec![t.clone()]);
                    }
                    if let Some((g, h, a)) = models {
                        let model = match role {
                            Role::Guest => Some(g),
                            Role::Host => Some(h),
                            _ => Some(a),
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
    (
        Outcome {
            guest: trackers.0,
            host: trackers.1,
            arbiter: arbiter.then_some(trackers.2),
        },
        results,
    )
}

pub(crate) fn predictions(
    store: &LocalTableStore,
    tracker: &RecordingTracker,
) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let (_, t) = tracker.output_data().pop().expect("guest output");
    let frame = read_all(store, &TableId::new(&t.namespace, &t.name).unwrap()).unwrap();
    let label = frame.column_index("label").unwrap();
    let score = frame.column_index("predict_score").unwrap();
    (
        frame.sids().to_vec(),
        frame.column(label),
        frame.column(score),
    )
}

pub(crate) fn auc_ks(labels: &[f64], scores: &[f64]) -> (f64, f64) {
    let l: Vec<bool> = labels.iter().map(|&y| y == 1.0).collect();
    (
        metrics::auc(&l, scores).unwrap(),
        metrics::ks(&l, scores).unwrap().ks,
    )
}

/// Which loss [`plain_descent`] minimises.
#[derive(Clone, Copy)]
pub(crate) enum Plain<'e> {
    /// Least squares, loss `Σ r² / 2n`.
    Linear,
    /// FATE's Taylor-approximated logistic loss (`¼·wx − ½·y`, y in ±1).
    Logistic,
    /// Poisson with a log link and these exposures: `mu = exp(wx + log e)`, residual
    /// `mu − y`, loss `(Σ mu − Σ y·(wx + log e)) / n`.
    Poisson(&'e [f64]),
}

/// Full-batch gradient descent with FATE's sgd decay (`lr / sqrt(1 + t)`) and L2 on
/// `model`'s loss. With `weights`, each row's residual is multiplied by its weight
/// rescaled to sum to the row count (FATE's `scale_sample_weight`); the loss stays
/// unweighted, as FATE's. Returns the guest's weights (intercept last), the host's and
/// the loss before each step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plain_descent(
    x_g: &[Vec<f64>],
    x_h: &[Vec<f64>],
    y: &[f64],
    weights: Option<&[f64]>,
    model: Plain<'_>,
    lr: f64,
    alpha: f64,
    iters: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = y.len() as f64;
    let scaled: Vec<f64> = match weights {
        Some(w) => {
            let s = n / w.iter().sum::<f64>();
            w.iter().map(|v| v * s).collect()
        }
        None => vec![1.0; y.len()],
    };
    let (kg, kh) = (x_g[0].len(), x_h[0].len());
    let mut wg = vec![0.0; kg + 1];
    let mut wh = vec![0.0; kh];
    let mut losses = Vec::new();
    for t in 0..iters {
        let lr_t = lr / (1.0 + t as f64).sqrt();
        let mut loss = 0.0;
        let d: Vec<f64> = (0..y.len())
            .map(|i| {
                let a: f64 = x_g[i].iter().zip(&wg).map(|(x, w)| x * w).sum::<f64>() + wg[kg];
                let b: f64 = x_h[i].iter().zip(&wh).map(|(x, w)| x * w).sum();
                let r = match model {
                    Plain::Logistic => {
                        let t = if y[i] == 1.0 { 1.0 } else { -1.0 };
                        let z = a + b;
                        loss += std::f64::consts::LN_2 - 0.5 * t * z + 0.125 * z * z;
                        0.25 * z - 0.5 * t
                    }
                    Plain::Linear => {
                        loss += (a + b - y[i]).powi(2) / 2.0;
                        a + b - y[i]
                    }
                    Plain::Poisson(exposure) => {
                        let z = a + b + exposure[i].ln();
                        let mu = z.exp();
                        loss += mu - y[i] * z;
                        mu - y[i]
                    }
                };
                r * scaled[i]
            })
            .collect();
        let penalty: f64 = wg[..kg].iter().chain(&wh).map(|w| w * w).sum::<f64>();
        losses.push(loss / n + 0.5 * alpha * penalty);
        let gg: Vec<f64> = (0..=kg)
            .map(|j| {
                let s: f64 = (0..y.len())
                    .map(|i| d[i] * if j < kg { x_g[i][j] } else { 1.0 })
                    .sum();
                s / n + if j < kg { alpha * wg[j] } else { 0.0 }
            })
            .collect();
        let gh: Vec<f64> = (0..kh)
            .map(|j| (0..y.len()).map(|i| d[i] * x_h[i][j]).sum::<f64>() / n + alpha * wh[j])
            .collect();
        for (w, g) in wg.iter_mut().zip(gg) {
            *w -= lr_t * g;
        }
        for (w, g) in wh.iter_mut().zip(gh) {
            *w -= lr_t * g;
        }
    }
    (wg, wh, losses)
}

/// The guest's features (label and weight left out), labels and weights, and the host's
/// features in the guest's row order.
#[allow(clippy::type_complexity)]
pub(crate) fn plain_rows(
    store: &LocalTableStore,
    g: &TableRef,
    h: &TableRef,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>, Option<Vec<f64>>) {
    let gf = read_all(store, &TableId::new(&g.namespace, &g.name).unwrap()).unwrap();
    let hf = read_all(store, &TableId::new(&h.namespace, &h.name).unwrap()).unwrap();
    let yi = gf.column_index(gf.label_name().unwrap()).unwrap();
    let wi = gf.weight_name().and_then(|w| gf.column_index(w));
    let x_g: Vec<Vec<f64>> = gf
        .rows()
        .map(|r| {
            r.iter()
                .enumerate()
                .filter(|(c, _)| *c != yi && Some(*c) != wi)
                .map(|(_, v)| *v)
                .collect()
        })
        .collect();
    let host_row: std::collections::HashMap<&str, usize> = hf
        .sids()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let x_h: Vec<Vec<f64>> = gf
        .sids()
        .iter()
        .map(|s| hf.row(host_row[s.as_str()]).to_vec())
        .collect();
    (x_g, x_h, gf.column(yi), wi.map(|c| gf.column(c)))
}

/// `table` with a sample-weight column `w` (as `SampleWeight` writes it) of `weight(i)`.
pub(crate) fn with_weights(
    store: &LocalTableStore,
    table: &TableRef,
    weight: impl Fn(usize) -> f64,
) -> TableRef {
    let frame = read_all(store, &TableId::new(&table.namespace, &table.name).unwrap()).unwrap();
    let (mut schema, sids, values) = frame.into_parts();
    let k = schema.header.len();
    let mut out = Vec::with_capacity(values.len() + sids.len());
    for (i, row) in values.chunks(k).enumerate() {
        out.extend_from_slice(row);
        out.push(weight(i));
    }
    schema.header.push("w".into());
    let label = schema.label_name.clone();
    let mut f = fateflow_tables::Frame::new(&schema.sid, schema.header, sids, out).unwrap();
    if let Some(l) = label {
        f = f.with_label(l).unwrap();
    }
    let f = f.with_weight("w").unwrap();
    let name = format!("{}_w", table.name);
    write_frame(
        store,
        &TableId::new("experiment", &name).unwrap(),
        &f,
        4,
        WriteMode::Replace,
    )
    .unwrap();
    TableRef::new("experiment", name)
}

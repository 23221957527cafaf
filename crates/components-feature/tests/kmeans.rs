//! HeteroKmeans with guest, host(s) and arbiter on threads over an in-memory data plane,
//! against an independent plaintext k-means on the joined features (same initial rows,
//! same iteration rules as FATE), predict mode, and errors.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::registry;
use common::{context, frame, temp_store, upload_example, MemoryHub, RecordingTracker};
use fateflow_component_core::{ComponentModel, ModelInput, Result, TableRef};
use fateflow_components_feature::kmeans::KmeansModel;
use fateflow_domain::Role;
use fateflow_tables::{read_all, write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;
const HOST2: u64 = 10001;
const ARBITER: u64 = 9998;
const MODULE: &str = "HeteroKmeans";

/// numpy 2.x: `np.random.seed(42); np.random.choice(569, 3, replace=False)`.
const SEED_42_PICKS_3: [usize; 3] = [204, 70, 131];

/// `experiment.<file>` with `y` as the label column when `label` (DataTransform's output).
fn table(store: &LocalTableStore, file: &str, label: bool) -> TableRef {
    let raw = upload_example(store, file);
    let id = TableId::new(&raw.namespace, &raw.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if label {
        frame = frame.with_label("y").unwrap();
    }
    let name = format!("{}_t", raw.name);
    write_frame(
        store,
        &TableId::new("experiment", &name).unwrap(),
        &frame,
        4,
        WriteMode::Replace,
    )
    .unwrap();
    TableRef::new("experiment", name)
}

struct Party {
    role: Role,
    id: u64,
    table: Option<TableRef>,
    model: Option<ComponentModel>,
}

fn party(role: Role, id: u64, table: Option<&TableRef>) -> Party {
    Party {
        role,
        id,
        table: table.cloned(),
        model: None,
    }
}

fn run(
    store: &LocalTableStore,
    parties: Vec<Party>,
    params: Value,
) -> Vec<(RecordingTracker, Result<()>)> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
    let mut roles: BTreeMap<Role, Vec<u64>> = BTreeMap::new();
    for p in &parties {
        roles.entry(p.role).or_default().push(p.id);
    }
    let trackers: Vec<RecordingTracker> = parties.iter().map(|_| RecordingTracker::new()).collect();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .into_iter()
            .zip(&trackers)
            .map(|(p, tracker)| {
                let fed = hub.party(p.role, p.id);
                let roles = roles.clone();
                let params = params.clone();
                s.spawn(move || {
                    let mut c = context("hetero_kmeans_0", MODULE, params, store, tracker);
                    c.role = p.role;
                    c.party_id = p.id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    c.output_data_names = vec!["data_0".into(), "data_1".into()];
                    let key = if p.model.is_some() {
                        "test_data"
                    } else {
                        "train_data"
                    };
                    if let Some(t) = p.table {
                        c.inputs.data.insert(key.into(), vec![t]);
                    }
                    c.inputs.model.extend(p.model.map(|model| ModelInput {
                        component: "hetero_kmeans_0".into(),
                        alias: "model".into(),
                        model,
                    }));
                    registry().get(MODULE).unwrap().run(&c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    trackers.into_iter().zip(results).collect()
}

fn ok(outcome: &[(RecordingTracker, Result<()>)]) {
    for (i, (_, r)) in outcome.iter().enumerate() {
        assert!(r.is_ok(), "party {i}: {r:?}");
    }
}

fn output(store: &LocalTableStore, tracker: &RecordingTracker, name: &str) -> Frame {
    let (_, t) = tracker
        .output_data()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("output {name}"));
    frame(store, &t)
}

fn model(tracker: &RecordingTracker) -> (ComponentModel, KmeansModel) {
    let (alias, m) = tracker.models().pop().expect("a model");
    assert_eq!(alias, "model");
    assert_eq!(m.module, MODULE);
    let typed = KmeansModel::from_component_model(&m).unwrap();
    (m, typed)
}

// ----- The plaintext reference ---------------------------------------------------------

fn sq(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn dist(x: &[Vec<f64>], c: &[Vec<f64>]) -> Vec<Vec<f64>> {
    x.iter()
        .map(|r| c.iter().map(|c| sq(r, c)).collect())
        .collect()
}

fn argmin(d: &[Vec<f64>]) -> Vec<usize> {
    d.iter()
        .map(|r| {
            let mut b = 0;
            for j in 1..r.len() {
                if r[j] < r[b] {
                    b = j;
                }
            }
            b
        })
        .collect()
}

fn recompute(x: &[Vec<f64>], a: &[usize], old: &[Vec<f64>]) -> Vec<Vec<f64>> {
    (0..old.len())
        .map(|c| {
            let members: Vec<&Vec<f64>> = x
                .iter()
                .zip(a)
                .filter(|(_, &k)| k == c)
                .map(|(r, _)| r)
                .collect();
            if members.is_empty() {
                return old[c].clone();
            }
            (0..old[c].len())
                .map(|f| members.iter().map(|r| r[f]).sum::<f64>() / members.len() as f64)
                .collect()
        })
        .collect()
}

/// Davies–Bouldin: mean Euclidean distance per cluster under `a`, centroid distances.
fn dbi(d: &[Vec<f64>], a: &[usize], c: &[Vec<f64>]) -> f64 {
    let k = c.len();
    let s: Vec<f64> = (0..k)
        .map(|j| {
            let v: Vec<f64> = d
                .iter()
                .zip(a)
                .filter(|(_, &x)| x == j)
                .map(|(r, _)| r[j].sqrt())
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect();
    (0..k)
        .map(|i| {
            (0..k)
                .filter(|&j| j != i)
                .map(|j| (s[i] + s[j]) / sq(&c[i], &c[j]).sqrt())
                .fold(f64::MIN, f64::max)
        })
        .sum::<f64>()
        / k as f64
}

struct Reference {
    iterations: usize,
    converged: bool,
    centroids: Vec<Vec<f64>>,
    dbis: Vec<f64>,
    predicted: Vec<usize>,
    nearest: Vec<f64>,
}

fn reference(x: &[Vec<f64>], picks: &[usize], max_iter: usize, tol: f64) -> Reference {
    let mut c: Vec<Vec<f64>> = picks.iter().map(|&p| x[p].clone()).collect();
    let mut dbis = Vec::new();
    let mut last: Option<Vec<usize>> = None;
    let mut t = 0;
    let mut converged = false;
    while t < max_iter {
        let d = dist(x, &c);
        if let Some(l) = &last {
            dbis.push(dbi(&d, l, &c));
        }
        let a = argmin(&d);
        let next = recompute(x, &a, &c);
        let moved: f64 = c.iter().zip(&next).map(|(a, b)| sq(a, b)).sum();
        converged = moved < tol;
        c = next;
        last = Some(a);
        t += 1;
        if converged {
            break;
        }
    }
    let d = dist(x, &c);
    let a = argmin(&d);
    dbis.push(dbi(&d, last.as_ref().unwrap(), &c));
    let next = recompute(x, &a, &c);
    dbis.push(dbi(&dist(x, &next), &a, &next));
    let d = dist(x, &c);
    let predicted = argmin(&d);
    let nearest = d.iter().zip(&predicted).map(|(r, &p)| r[p]).collect();
    Reference {
        iterations: t,
        converged,
        centroids: c,
        dbis,
        predicted,
        nearest,
    }
}

/// Features of the guest (without the label) then of each host, per guest sid, in the
/// guest's scan order.
fn joined(
    store: &LocalTableStore,
    guest: &TableRef,
    hosts: &[&TableRef],
) -> (Vec<String>, Vec<Vec<f64>>, usize) {
    let g = frame(store, guest);
    let label = g.column_index("y").unwrap();
    let host_rows: Vec<HashMap<String, Vec<f64>>> = hosts
        .iter()
        .map(|h| {
            let f = frame(store, h);
            f.sids()
                .iter()
                .cloned()
                .zip(f.rows().map(<[f64]>::to_vec))
                .collect()
        })
        .collect();
    let mut x = Vec::new();
    for (sid, row) in g.sids().iter().zip(g.rows()) {
        let mut r: Vec<f64> = row
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != label)
            .map(|(_, v)| *v)
            .collect();
        for h in &host_rows {
            r.extend_from_slice(&h[sid]);
        }
        x.push(r);
    }
    (g.sids().to_vec(), x, g.ncols() - 1)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-7 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn federated_kmeans_equals_plaintext_kmeans() {
    let (_d, store) = temp_store();
    let guest = table(&store, "breast_hetero_guest.csv", true);
    let host = table(&store, "breast_hetero_host.csv", false);
    let params = json!({"k": 3, "max_iter": 10, "random_stat": 42});
    let outcome = run(
        &store,
        vec![
            party(Role::Guest, GUEST, Some(&guest)),
            party(Role::Host, HOST, Some(&host)),
            party(Role::Arbiter, ARBITER, None),
        ],
        params,
    );
    ok(&outcome);
    let (sids, x, d_guest) = joined(&store, &guest, &[&host]);
    // The guest's scan order is the order numpy's positions refer to.
    let r = reference(&x, &SEED_42_PICKS_3, 10, 0.001);

    // Guest output: label, predicted_label, type.
    let out = output(&store, &outcome[0].0, "data_0");
    assert_eq!(out.columns(), ["label", "predicted_label", "type"]);
    let g = frame(&store, &guest);
    let labels: HashMap<&str, f64> = g
        .sids()
        .iter()
        .map(String::as_str)
        .zip(g.rows().map(|r| r[g.column_index("y").unwrap()]))
        .collect();
    let predicted: HashMap<&str, usize> = sids
        .iter()
        .map(String::as_str)
        .zip(r.predicted.iter().copied())
        .collect();
    assert_eq!(out.nrows(), 569);
    for (sid, row) in out.sids().iter().zip(out.rows()) {
        assert_eq!(row[0], labels[sid.as_str()], "{sid}");
        assert_eq!(row[1] as usize, predicted[sid.as_str()], "{sid}");
        assert_eq!(row[2], 0.0);
    }
    // Host output: no label.
    let host_out = output(&store, &outcome[1].0, "data_0");
    assert!(host_out.rows().all(|r| r[0].is_nan()));
    assert!(host_out
        .sids()
        .iter()
        .zip(host_out.rows())
        .all(|(s, r)| r[1] as usize == predicted[s.as_str()]));

    // Models: each party's centroid slice, the iteration count.
    let (_, gm) = model(&outcome[0].0);
    let (_, hm) = model(&outcome[1].0);
    assert_eq!(gm.meta.k, 3);
    assert_eq!(gm.param.max_interation as usize, r.iterations);
    assert_eq!(gm.param.converged, r.converged);
    assert_eq!(gm.param.header.len(), d_guest);
    for c in 0..3 {
        let full = &r.centroids[c];
        for (a, b) in gm.param.centroid_detail[c]
            .centroid
            .iter()
            .zip(&full[..d_guest])
        {
            assert!(close(*a, *b), "guest centroid {c}: {a} vs {b}");
        }
        for (a, b) in hm.param.centroid_detail[c]
            .centroid
            .iter()
            .zip(&full[d_guest..])
        {
            assert!(close(*a, *b), "host centroid {c}: {a} vs {b}");
        }
    }
    let counted: f64 = gm.param.cluster_detail.iter().map(|c| c.cluster[1]).sum();
    assert_eq!(counted, 569.0);
    let (_, am) = model(&outcome[2].0);
    assert!(am.param.centroid_detail.is_empty());

    // Arbiter: DBI per iteration, cluster table, per-sample table.
    let arbiter = &outcome[2].0;
    let dbis: Vec<(usize, f64)> = arbiter
        .metrics()
        .into_iter()
        .filter(|m| m.namespace == "train" && m.name == "DBI")
        .flat_map(|m| m.data)
        .map(|(k, v)| (k.as_u64().unwrap() as usize, v.as_f64().unwrap()))
        .collect();
    assert_eq!(dbis.len(), r.dbis.len());
    for (i, ((iter, got), want)) in dbis.iter().zip(&r.dbis).enumerate() {
        assert_eq!(*iter, i);
        assert!(close(*got, *want), "DBI {i}: {got} vs {want}");
    }
    let per_sample = output(&store, arbiter, "data_1");
    assert_eq!(
        per_sample.columns(),
        ["predicted_cluster_index", "distance", "type"]
    );
    let nearest: HashMap<&str, f64> = sids
        .iter()
        .map(String::as_str)
        .zip(r.nearest.iter().copied())
        .collect();
    for (sid, row) in per_sample.sids().iter().zip(per_sample.rows()) {
        assert_eq!(row[0] as usize, predicted[sid.as_str()]);
        assert!(close(row[1], nearest[sid.as_str()]), "{sid}");
    }
    let clusters = output(&store, arbiter, "data_0");
    assert_eq!(
        clusters.columns()[..3],
        ["cluster_sample_count", "cluster_inner_dist", "max_radius"]
    );
    let total: f64 = clusters.rows().map(|r| r[0]).sum();
    assert_eq!(total, 569.0);
    for (sid, row) in clusters.sids().iter().zip(clusters.rows()) {
        let c: usize = sid.parse().unwrap();
        let radius = r
            .nearest
            .iter()
            .zip(&r.predicted)
            .filter(|(_, &p)| p == c)
            .map(|(d, _)| *d)
            .fold(0.0, f64::max);
        assert!(close(row[2], radius), "radius {c}");
    }

    // Predict mode with the trained models gives the training output's assignment.
    let models = [
        gm.to_component_model(),
        hm.to_component_model(),
        am.to_component_model(),
    ];
    let mut parties = vec![
        party(Role::Guest, GUEST, Some(&guest)),
        party(Role::Host, HOST, Some(&host)),
        party(Role::Arbiter, ARBITER, None),
    ];
    for (p, m) in parties.iter_mut().zip(models) {
        p.model = Some(m);
    }
    let predicted_run = run(&store, parties, json!({}));
    ok(&predicted_run);
    let again = output(&store, &predicted_run[0].0, "data_0");
    for (sid, row) in again.sids().iter().zip(again.rows()) {
        assert_eq!(row[1] as usize, predicted[sid.as_str()]);
        assert_eq!(row[2], 2.0, "type predict");
    }
    assert!(
        predicted_run[0].0.models().is_empty(),
        "predict mode saves no model"
    );
}

#[test]
fn two_hosts_equal_plaintext_kmeans() {
    let (_d, store) = temp_store();
    let guest = table(&store, "breast_hetero_guest.csv", true);
    let host = table(&store, "breast_hetero_host.csv", false);
    let outcome = run(
        &store,
        vec![
            party(Role::Guest, GUEST, Some(&guest)),
            party(Role::Host, HOST, Some(&host)),
            party(Role::Host, HOST2, Some(&host)),
            party(Role::Arbiter, ARBITER, None),
        ],
        json!({"k": 3, "max_iter": 10, "random_stat": 42, "tol": 0.0}),
    );
    ok(&outcome);
    let (sids, x, _) = joined(&store, &guest, &[&host, &host]);
    let r = reference(&x, &SEED_42_PICKS_3, 10, 0.0);
    let predicted: HashMap<&str, usize> = sids
        .iter()
        .map(String::as_str)
        .zip(r.predicted.iter().copied())
        .collect();
    let out = output(&store, &outcome[0].0, "data_0");
    for (sid, row) in out.sids().iter().zip(out.rows()) {
        assert_eq!(row[1] as usize, predicted[sid.as_str()], "{sid}");
    }
    let (_, gm) = model(&outcome[0].0);
    assert_eq!(gm.param.max_interation as usize, r.iterations);
}

#[test]
fn errors_name_the_field_and_the_row() {
    let (_d, store) = temp_store();
    let guest = table(&store, "breast_hetero_guest.csv", true);
    let host = table(&store, "breast_hetero_host.csv", false);
    let outcome = run(
        &store,
        vec![
            party(Role::Guest, GUEST, Some(&guest)),
            party(Role::Host, HOST, Some(&host)),
            party(Role::Arbiter, ARBITER, None),
        ],
        json!({"k": 1}),
    );
    for (_, r) in &outcome {
        let e = r.as_ref().unwrap_err().to_string();
        assert!(e.contains("`k`"), "{e}");
    }
    // A host lacking a sample fails, and the guest and arbiter say which party failed.
    let h = frame(&store, &host);
    let mut values = h.values().to_vec();
    values.truncate((h.nrows() - 1) * h.ncols());
    let mut sids = h.sids().to_vec();
    sids.pop();
    let short = Frame::new(h.sid_name(), h.columns().to_vec(), sids, values).unwrap();
    write_frame(
        &store,
        &TableId::new("experiment", "short").unwrap(),
        &short,
        4,
        WriteMode::Replace,
    )
    .unwrap();
    let short = TableRef::new("experiment", "short");
    let outcome = run(
        &store,
        vec![
            party(Role::Guest, GUEST, Some(&guest)),
            party(Role::Host, HOST, Some(&short)),
            party(Role::Arbiter, ARBITER, None),
        ],
        json!({"k": 3, "random_stat": 1}),
    );
    let host_error = outcome[1].1.as_ref().unwrap_err().to_string();
    assert!(
        host_error.contains("the guest has this sample but this host does not"),
        "{host_error}"
    );
    for i in [0, 2] {
        let e = outcome[i].1.as_ref().unwrap_err().to_string();
        assert!(e.contains("host:10000") || e.contains("10000"), "{e}");
    }
}

//! HeteroFeatureBinning with every party on a thread and an in-memory data plane: split
//! points, WOE and IV (guest columns in plaintext, host columns through the encrypted
//! protocol) against an independent plaintext computation from both tables, transforms,
//! predict mode, and errors.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::registry;
use common::{context, MemoryHub, RecordingTracker};
use common::{frame, temp_store, upload_example};
use fateflow_component_core::memory::MemoryBudget;
use fateflow_component_core::{ComponentModel, ModelInput, Result, TableRef};
use fateflow_components_feature::binning::{ColumnBinResult, FeatureBinningModel};
use fateflow_domain::Role;
use fateflow_tables::{read_all, write_frame, Frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;
const HOST2: u64 = 10001;
const MODULE: &str = "HeteroFeatureBinning";

/// `experiment.<file>` with `label` as the label column (what DataTransform outputs).
fn labeled(store: &LocalTableStore, file: &str, label: Option<&str>) -> TableRef {
    let raw = upload_example(store, file);
    let id = TableId::new(&raw.namespace, &raw.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if let Some(l) = label {
        frame = frame.with_label(l).unwrap();
    }
    let name = format!("{}_l", raw.name);
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

/// Writes `frame` as `experiment.<name>` in `partitions` partitions.
fn store_frame(store: &LocalTableStore, name: &str, frame: &Frame, partitions: u32) -> TableRef {
    let id = TableId::new("experiment", name).unwrap();
    write_frame(store, &id, frame, partitions, WriteMode::Replace).unwrap();
    TableRef::new("experiment", name)
}

struct Party<'a> {
    role: Role,
    id: u64,
    table: &'a TableRef,
    params: Value,
    model: Option<ComponentModel>,
}

fn party(role: Role, id: u64, table: &TableRef, params: Value) -> Party<'_> {
    Party {
        role,
        id,
        table,
        params,
        model: None,
    }
}

/// Runs every party on its own thread; returns each party's tracker and result.
fn run_parties(
    store: &LocalTableStore,
    parties: Vec<Party<'_>>,
) -> Vec<(RecordingTracker, Result<()>)> {
    run_parties_waiting(store, parties, 30)
}

/// [`run_parties`] where a party waits at most `seconds` for a message.
fn run_parties_waiting(
    store: &LocalTableStore,
    parties: Vec<Party<'_>>,
    seconds: u64,
) -> Vec<(RecordingTracker, Result<()>)> {
    run_parties_with(store, parties, seconds, None)
}

/// [`run_parties_waiting`] with every party's task memory budget at `memory_mb`.
fn run_parties_with(
    store: &LocalTableStore,
    parties: Vec<Party<'_>>,
    seconds: u64,
    memory_mb: Option<u64>,
) -> Vec<(RecordingTracker, Result<()>)> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(seconds));
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
                s.spawn(move || {
                    let mut c =
                        context("hetero_feature_binning_0", MODULE, p.params, store, tracker);
                    c.role = p.role;
                    c.party_id = p.id;
                    c.roles = roles;
                    c.federation = Some(&fed);
                    if let Some(mb) = memory_mb {
                        c.memory = MemoryBudget::from_mb(mb);
                    }
                    c.inputs.data.insert("data".into(), vec![p.table.clone()]);
                    c.inputs.model.extend(p.model.map(|model| ModelInput {
                        component: "hetero_feature_binning_0".into(),
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

fn model_of(tracker: &RecordingTracker) -> (ComponentModel, FeatureBinningModel) {
    let (alias, m) = tracker.models().pop().expect("a model");
    assert_eq!(alias, "model");
    assert_eq!(m.module, MODULE);
    let typed = FeatureBinningModel::from_component_model(&m).unwrap();
    (m, typed)
}

fn output(store: &LocalTableStore, tracker: &RecordingTracker) -> Frame {
    let (name, t) = tracker.output_data().pop().expect("output data");
    assert_eq!(name, "data");
    frame(store, &t)
}

// ----- The independent plaintext computation ---------------------------------------

/// Exact quantile split points: the `ceil(q·n)`-th smallest non-missing value for FATE's
/// target quantiles, the maximum for the last, duplicates removed.
fn exact_split_points(values: &[f64], bin_num: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mut out = Vec::new();
    for i in 1..=bin_num {
        let x = if i == bin_num {
            v[n - 1]
        } else {
            let q = i as f64 * (1.0 / bin_num as f64);
            let rank = (q * n as f64).ceil() as usize;
            assert!(rank >= 2, "the test data is too small for exact ranks");
            v[rank - 1]
        };
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Equal-width split points.
fn bucket_points(values: &[f64], bin_num: usize) -> Vec<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut out: Vec<f64> = (1..bin_num)
        .map(|k| min + k as f64 * ((max - min) / bin_num as f64))
        .collect();
    out.push(max);
    out
}

/// The bin of `x`: how many split points but the last are below it; NaN → missing bin.
fn bin(split_points: &[f64], x: f64) -> usize {
    if x.is_nan() {
        return split_points.len();
    }
    split_points[..split_points.len() - 1]
        .iter()
        .filter(|&&s| s < x)
        .count()
}

/// Per-bin (event, non-event) counts of a column given the labels by sid.
fn truth_counts(
    sids: &[String],
    values: &[f64],
    labels: &HashMap<String, f64>,
    split_points: &[f64],
) -> Vec<(u64, u64)> {
    let missing = values.iter().any(|v| v.is_nan());
    let mut counts = vec![(0, 0); split_points.len() + usize::from(missing)];
    for (sid, &v) in sids.iter().zip(values) {
        let b = bin(split_points, v);
        if labels[sid] == 1.0 {
            counts[b].0 += 1;
        } else {
            counts[b].1 += 1;
        }
    }
    counts
}

/// WOE per bin and IV (spec §4.3).
fn truth_woe(counts: &[(u64, u64)], adjustment: f64) -> (Vec<f64>, f64) {
    let e_total = counts.iter().map(|c| c.0).sum::<u64>().max(1) as f64;
    let ne_total = counts.iter().map(|c| c.1).sum::<u64>().max(1) as f64;
    let mut woe = Vec::new();
    let mut iv = 0.0;
    for &(e, ne) in counts {
        let adj = if e == 0 || ne == 0 { adjustment } else { 0.0 };
        let er = (e as f64 + adj) / e_total;
        let ner = (ne as f64 + adj) / ne_total;
        woe.push((er / ner).ln());
        iv += (er - ner) * (er / ner).ln();
    }
    (woe, iv)
}

fn labels_of(f: &Frame) -> HashMap<String, f64> {
    let y = f.column(f.column_index(f.label_name().unwrap()).unwrap());
    f.sids().iter().cloned().zip(y).collect()
}

fn values_of(f: &Frame, column: &str) -> Vec<f64> {
    f.column(f.column_index(column).unwrap())
}

/// Checks one column's label statistics against the plaintext truth.
fn check_stats(
    what: &str,
    r: &ColumnBinResult,
    counts: &[(u64, u64)],
    bins: usize,
    adjustment: f64,
) {
    let (woe, iv) = truth_woe(counts, adjustment);
    assert_eq!(r.bin_nums, bins, "{what}: bin_nums");
    let got: Vec<(u64, u64)> = r
        .event_count_array
        .iter()
        .copied()
        .zip(r.non_event_count_array.iter().copied())
        .collect();
    assert_eq!(got, counts, "{what}: counts");
    assert_eq!(r.woe_array.len(), woe.len(), "{what}");
    for (a, b) in r.woe_array.iter().zip(&woe) {
        assert!((a - b).abs() < 1e-12, "{what}: woe {a} vs {b}");
    }
    let got_iv = r.iv.expect("an iv");
    assert!((got_iv - iv).abs() < 1e-12, "{what}: iv {got_iv} vs {iv}");
    assert_eq!(r.iv_array.len(), counts.len());
    assert!((r.iv_array.iter().sum::<f64>() - iv).abs() < 1e-12);
}

/// The fitted split points, bins and statistics of every column of `table` at a party,
/// compared with the truth. `stats` is where the label statistics are (guest binning
/// result, or the guest's host results), `points` where the split points are.
#[allow(clippy::too_many_arguments)]
fn check_table(
    what: &str,
    data: &Frame,
    labels: &HashMap<String, f64>,
    columns: &[String],
    split_points_of: impl Fn(&[f64]) -> Vec<f64>,
    points: &BTreeMap<String, ColumnBinResult>,
    stats: &BTreeMap<String, ColumnBinResult>,
    stat_name: impl Fn(usize, &str) -> String,
    adjustment: f64,
) -> BTreeMap<String, Vec<f64>> {
    let header: Vec<String> = data
        .columns()
        .iter()
        .filter(|c| Some(c.as_str()) != data.label_name())
        .cloned()
        .collect();
    let mut all = BTreeMap::new();
    for c in columns {
        let values = values_of(data, c);
        let sp = split_points_of(&values);
        assert_eq!(points[c].split_points, sp, "{what}: split points of {c}");
        let counts = truth_counts(data.sids(), &values, labels, &sp);
        let index = header.iter().position(|h| h == c).unwrap();
        let name = stat_name(index, c);
        check_stats(
            &format!("{what} {c}"),
            &stats[&name],
            &counts,
            sp.len(),
            adjustment,
        );
        all.insert(c.clone(), sp);
    }
    all
}

fn feature_columns(f: &Frame) -> Vec<String> {
    f.columns()
        .iter()
        .filter(|c| Some(c.as_str()) != f.label_name())
        .cloned()
        .collect()
}

/// Every transformed cell is its bin (or its bin's WOE); every other cell is unchanged.
fn check_transformed(
    input: &Frame,
    out: &Frame,
    transformed: &BTreeMap<String, Vec<f64>>,
    woe: Option<&BTreeMap<String, ColumnBinResult>>,
) {
    assert_eq!(out.columns(), input.columns());
    assert_eq!(out.label_name(), input.label_name());
    assert_eq!(out.sid_name(), input.sid_name());
    let rows: HashMap<&str, &[f64]> = out
        .sids()
        .iter()
        .map(String::as_str)
        .zip(out.rows())
        .collect();
    assert_eq!(rows.len(), input.nrows());
    for (sid, row) in input.sids().iter().zip(input.rows()) {
        let got = rows[sid.as_str()];
        for (j, c) in input.columns().iter().enumerate() {
            match transformed.get(c) {
                None => assert_eq!(got[j].to_bits(), row[j].to_bits(), "{sid} {c}"),
                Some(sp) => {
                    let b = bin(sp, row[j]);
                    let expected = match woe {
                        None => b as f64,
                        Some(results) => results[c].woe_array.get(b).copied().unwrap_or(f64::NAN),
                    };
                    assert_eq!(got[j].to_bits(), expected.to_bits(), "{sid} {c}");
                }
            }
        }
    }
}

// ----- Generated data ----------------------------------------------------------------

/// xorshift64*, for reproducible test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A frame of `n` rows with ids `s<i>` (rows in `order`), `columns` generated by `cell`
/// (column, row id, rng), and an optional label.
fn generated(
    columns: &[&str],
    order: &[usize],
    label: Option<&dyn Fn(usize) -> f64>,
    cell: &dyn Fn(usize, usize, &mut Rng) -> f64,
    seed: u64,
) -> Frame {
    let mut rng = Rng(seed);
    let mut names: Vec<String> = Vec::new();
    if label.is_some() {
        names.push("y".into());
    }
    names.extend(columns.iter().map(|c| c.to_string()));
    let mut values = Vec::new();
    let mut sids = Vec::new();
    for &i in order {
        sids.push(format!("s{i}"));
        if let Some(l) = label {
            values.push(l(i));
        }
        for c in 0..columns.len() {
            values.push(cell(c, i, &mut rng));
        }
    }
    let f = Frame::new("id", names, sids, values).unwrap();
    if label.is_some() {
        f.with_label("y").unwrap()
    } else {
        f
    }
}

/// Event with probability rising with the hidden score of sample `i`.
fn label_of(i: usize) -> f64 {
    let mut r = Rng(i as u64 * 7919 + 17);
    let score = (i % 97) as f64 / 97.0;
    if r.unit() < 0.2 + 0.6 * score {
        1.0
    } else {
        0.0
    }
}

/// A value correlated with the label's score, NaN with probability `missing`.
fn feature(i: usize, rng: &mut Rng, scale: f64, missing: f64) -> f64 {
    if rng.unit() < missing {
        return f64::NAN;
    }
    (((i % 97) as f64 / 97.0 + rng.unit()) * scale * 1000.0).round() / 1000.0
}

/// A permutation of `0..n`.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut rng = Rng(seed);
    for i in (1..n).rev() {
        v.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    v
}

// ----- Tests -------------------------------------------------------------------------

#[test]
fn breast_guest_and_host_statistics_match_plaintext() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, json!({})),
            party(Role::Host, HOST, &h, json!({})),
        ],
    );
    ok(&outcome);
    let (gt, ht) = (&outcome[0].0, &outcome[1].0);
    let gf = frame(&store, &g);
    let hf = frame(&store, &h);
    let labels = labels_of(&gf);
    let (_, gm) = model_of(gt);
    let (_, hm) = model_of(ht);

    // Guest columns, in plaintext at the guest.
    let gcols = feature_columns(&gf);
    assert_eq!(gm.param.header, gcols);
    assert_eq!(gm.param.header_anonymous[3], "guest_9999_x3");
    let exact = |v: &[f64]| exact_split_points(v, 10);
    let guest_points = check_table(
        "guest",
        &gf,
        &labels,
        &gcols,
        exact,
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.5,
    );
    // Host columns, through the encrypted protocol: statistics at the guest under the
    // anonymous names, split points only at the host.
    let hcols = feature_columns(&hf);
    assert_eq!(hm.param.header, hcols);
    assert_eq!(hm.param.header_anonymous[19], "host_10000_x19");
    let host_stats = &gm.param.host_results["10000"];
    assert_eq!(host_stats.len(), 20);
    let host_points = check_table(
        "host",
        &hf,
        &labels,
        &hcols,
        exact,
        &hm.param.binning_result,
        host_stats,
        |i, _| format!("host_10000_x{i}"),
        0.5,
    );
    for r in host_stats.values() {
        assert!(r.split_points.is_empty());
    }
    // The host learns nothing label-derived.
    for r in hm.param.binning_result.values() {
        assert!(r.event_count_array.is_empty() && r.woe_array.is_empty() && r.iv.is_none());
    }
    assert!(hm.param.host_results.is_empty());
    assert_eq!(ht.summary().unwrap().get("iv"), None);

    // By default (FATE's transform_param) both outputs hold bin indexes.
    check_transformed(&gf, &output(&store, gt), &guest_points, None);
    check_transformed(&hf, &output(&store, ht), &host_points, None);

    // Summary and metric: IV per column, host columns by anonymous name.
    let summary = gt.summary().unwrap();
    assert_eq!(
        summary["iv"]["x0"].as_f64(),
        gm.param.binning_result["x0"].iv
    );
    assert_eq!(
        summary["host_iv"]["10000"]["host_10000_x5"].as_f64(),
        host_stats["host_10000_x5"].iv
    );
    let metric = gt.metric("train", "iv").unwrap();
    assert_eq!(metric.data.len(), 30);
    assert_eq!(metric.data[10].0, json!("host_10000_x0"));
    assert_eq!(gt.progress_values().last(), Some(&100));
    assert!(gt
        .info_lines()
        .iter()
        .any(|l| l.contains("encrypted 569 packed labels")));
    assert!(ht
        .info_lines()
        .iter()
        .any(|l| l.contains("summed 569 encrypted labels")));
    // The meta records what was done.
    assert_eq!(gm.meta.method, "quantile");
    assert_eq!(gm.meta.bin_num, 10);
    assert_eq!(gm.meta.cols, gcols);
    assert_eq!(
        gm.meta.transform_param.transform_type.as_deref(),
        Some("bin_num")
    );
}

/// Guest 1200 rows with a label; host A (different row order) with missing values and a
/// categorical column; host B with a few columns. Three partitions each.
struct Generated {
    guest: TableRef,
    host_a: TableRef,
    host_b: TableRef,
}

fn generate(store: &LocalTableStore, n: usize) -> Generated {
    let order: Vec<usize> = (0..n).collect();
    let g = generated(
        &["a", "b", "c"],
        &order,
        Some(&label_of),
        &|c, i, rng| match c {
            0 => feature(i, rng, 1.0, 0.1),
            1 => feature(i, rng, 50.0, 0.0),
            // Few distinct values: many duplicate split points.
            _ => (feature(i, rng, 3.0, 0.05)).floor(),
        },
        1,
    );
    let a = generated(
        &["h0", "h1", "cat", "h3"],
        &shuffled(n, 5),
        None,
        &|c, i, rng| match c {
            0 => feature(i, rng, -2.0, 0.2),
            1 => feature(i, rng, 1e6, 0.0),
            2 => ((i * 31) % 4) as f64,
            _ => feature(i, rng, 1.0, 0.5),
        },
        2,
    );
    let b = generated(
        &["z0", "z1"],
        &shuffled(n, 9),
        None,
        &|c, i, rng| feature(i, rng, if c == 0 { 1.0 } else { 7.0 }, 0.02),
        3,
    );
    Generated {
        guest: store_frame(store, "gen_guest", &g, 3),
        host_a: store_frame(store, "gen_host_a", &a, 3),
        host_b: store_frame(store, "gen_host_b", &b, 2),
    }
}

#[test]
fn two_hosts_missing_values_and_categories_match_plaintext() {
    let (_dir, store) = temp_store();
    let data = generate(&store, 1200);
    let common =
        json!({"bin_num": 6, "adjustment_factor": 0.3, "encrypt_param": {"key_length": 1024}});
    let mut host_a = common.clone();
    host_a["category_names"] = json!(["cat"]);
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &data.guest, common.clone()),
            party(Role::Host, HOST, &data.host_a, host_a),
            party(Role::Host, HOST2, &data.host_b, common),
        ],
    );
    ok(&outcome);
    let gf = frame(&store, &data.guest);
    let af = frame(&store, &data.host_a);
    let bf = frame(&store, &data.host_b);
    let labels = labels_of(&gf);
    let (_, gm) = model_of(&outcome[0].0);
    let (_, am) = model_of(&outcome[1].0);
    let (_, bm) = model_of(&outcome[2].0);
    let exact = |v: &[f64]| exact_split_points(v, 6);

    let cols: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    check_table(
        "guest",
        &gf,
        &labels,
        &cols,
        exact,
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.3,
    );
    // Missing values: one more trailing entry, bin_nums counts value bins only.
    let a = &gm.param.binning_result["a"];
    assert_eq!(a.woe_array.len(), a.bin_nums + 1);
    assert_eq!(a.event_count_array.len(), a.split_points.len() + 1);
    assert_eq!(
        gm.param.binning_result["b"].woe_array.len(),
        gm.param.binning_result["b"].bin_nums
    );
    // Duplicated quantiles give fewer bins.
    assert!(gm.param.binning_result["c"].bin_nums < 6);

    let a_numeric: Vec<String> = ["h0", "h1", "h3"].map(String::from).to_vec();
    check_table(
        "host A",
        &af,
        &labels,
        &a_numeric,
        exact,
        &am.param.binning_result,
        &gm.param.host_results["10000"],
        |i, _| format!("host_10000_x{i}"),
        0.3,
    );
    // The categorical column: one bin per distinct value.
    let distinct = |v: &[f64]| {
        let mut v: Vec<f64> = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    check_table(
        "host A categories",
        &af,
        &labels,
        &["cat".to_string()],
        distinct,
        &am.param.binning_result,
        &gm.param.host_results["10000"],
        |i, _| format!("host_10000_x{i}"),
        0.3,
    );
    assert_eq!(
        am.param.binning_result["cat"].split_points,
        vec![0.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(am.meta.category_cols, vec!["cat".to_string()]);
    let b_cols: Vec<String> = ["z0", "z1"].map(String::from).to_vec();
    check_table(
        "host B",
        &bf,
        &labels,
        &b_cols,
        exact,
        &bm.param.binning_result,
        &gm.param.host_results["10001"],
        |i, _| format!("host_10001_x{i}"),
        0.3,
    );
    assert_eq!(gm.param.host_results.len(), 2);

    // Outputs: bin indexes, the missing bin's index for missing values.
    let mut guest_points = BTreeMap::new();
    for c in &cols {
        guest_points.insert(c.clone(), gm.param.binning_result[c].split_points.clone());
    }
    check_transformed(&gf, &output(&store, &outcome[0].0), &guest_points, None);
    let out = output(&store, &outcome[0].0);
    let a_col = out.column_index("a").unwrap();
    let missing_bin = gm.param.binning_result["a"].split_points.len() as f64;
    assert!(out.rows().any(|r| r[a_col] == missing_bin));
}

#[test]
fn a_bigger_table_stays_exact_through_compression_and_partitions() {
    // 9000 rows over 5 partitions: many ciphertexts per host bin sum, every row matched
    // by id although the host's rows are in another order.
    let (_dir, store) = temp_store();
    let n = 9000;
    let order: Vec<usize> = (0..n).collect();
    let g = generated(
        &["g0"],
        &order,
        Some(&label_of),
        &|_, i, rng| feature(i, rng, 1.0, 0.01),
        11,
    );
    let h = generated(
        &["k0", "k1"],
        &shuffled(n, 3),
        None,
        &|c, i, rng| feature(i, rng, 1.0 + c as f64, 0.03),
        12,
    );
    let g = store_frame(&store, "big_guest", &g, 5);
    let h = store_frame(&store, "big_host", &h, 5);
    let params = json!({"bin_num": 20});
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &h, params),
        ],
    );
    ok(&outcome);
    let gf = frame(&store, &g);
    let hf = frame(&store, &h);
    let labels = labels_of(&gf);
    let (_, gm) = model_of(&outcome[0].0);
    let (_, hm) = model_of(&outcome[1].0);
    let exact = |v: &[f64]| exact_split_points(v, 20);
    check_table(
        "guest",
        &gf,
        &labels,
        &["g0".into()],
        exact,
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.5,
    );
    check_table(
        "host",
        &hf,
        &labels,
        &["k0".into(), "k1".into()],
        exact,
        &hm.param.binning_result,
        &gm.param.host_results["10000"],
        |i, _| format!("host_10000_x{i}"),
        0.5,
    );
}

#[test]
fn aligned_tables_stream_block_by_block_and_match_plaintext() {
    // The guest and host A list the same ids in the same scan order (as Intersection
    // writes them): host A sums the encrypted labels block by block (5 blocks of 1024
    // rows under an 8 MB budget). Host B's rows are in another order: it gets every id
    // and ciphertext and matches them by id. Both must give the plaintext counts.
    let (_dir, store) = temp_store();
    let n = 4500;
    let order: Vec<usize> = (0..n).collect();
    let g = generated(
        &["g0", "g1"],
        &order,
        Some(&label_of),
        &|c, i, rng| feature(i, rng, 1.0 + c as f64, 0.05),
        21,
    );
    let a = generated(
        &["h0", "h1", "h2"],
        &order,
        None,
        &|c, i, rng| feature(i, rng, 3.0 - c as f64, 0.1 * c as f64),
        22,
    );
    let b = generated(
        &["z0"],
        &shuffled(n, 23),
        None,
        &|_, i, rng| feature(i, rng, 2.0, 0.0),
        24,
    );
    let g = store_frame(&store, "stream_guest", &g, 3);
    let a = store_frame(&store, "stream_host_a", &a, 3);
    let b = store_frame(&store, "stream_host_b", &b, 3);
    let params = json!({"bin_num": 8, "encrypt_param": {"key_length": 1024}});
    let outcome = run_parties_with(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &a, params.clone()),
            party(Role::Host, HOST2, &b, params),
        ],
        30,
        Some(8),
    );
    ok(&outcome);
    let logged = |i: usize, text: &str| outcome[i].0.info_lines().iter().any(|l| l.contains(text));
    assert!(logged(0, "in 5 blocks"), "{:?}", outcome[0].0.info_lines());
    assert!(logged(
        1,
        "aligned with the guest's: summing encrypted labels block by block (1024 rows per block)"
    ));
    assert!(logged(
        2,
        "not aligned with the guest's (the ids of the first block differ"
    ));
    let gf = frame(&store, &g);
    let af = frame(&store, &a);
    let bf = frame(&store, &b);
    let labels = labels_of(&gf);
    let (_, gm) = model_of(&outcome[0].0);
    let (_, am) = model_of(&outcome[1].0);
    let (_, bm) = model_of(&outcome[2].0);
    let exact = |v: &[f64]| exact_split_points(v, 8);
    check_table(
        "guest",
        &gf,
        &labels,
        &["g0".into(), "g1".into()],
        exact,
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.5,
    );
    let a_points = check_table(
        "host A (streamed)",
        &af,
        &labels,
        &["h0".into(), "h1".into(), "h2".into()],
        exact,
        &am.param.binning_result,
        &gm.param.host_results["10000"],
        |i, _| format!("host_10000_x{i}"),
        0.5,
    );
    check_table(
        "host B (by id)",
        &bf,
        &labels,
        &["z0".into()],
        exact,
        &bm.param.binning_result,
        &gm.param.host_results["10001"],
        |i, _| format!("host_10001_x{i}"),
        0.5,
    );
    // The output is written block by block in the input's scan order.
    let out = output(&store, &outcome[1].0);
    assert_eq!(out.sids(), af.sids());
    check_transformed(&af, &out, &a_points, None);
}

#[test]
fn tables_not_aligned_beyond_the_budget_are_refused_naming_intersection() {
    let (_dir, store) = temp_store();
    let n = 2000;
    let g = generated(
        &["g0"],
        &(0..n).collect::<Vec<_>>(),
        Some(&label_of),
        &|_, i, rng| feature(i, rng, 1.0, 0.0),
        31,
    );
    let h = generated(
        &["h0"],
        &shuffled(n, 32),
        None,
        &|_, i, rng| feature(i, rng, 1.0, 0.0),
        33,
    );
    let g = store_frame(&store, "refused_guest", &g, 2);
    let h = store_frame(&store, "refused_host", &h, 2);
    let params = json!({"encrypt_param": {"key_length": 1024}});
    let outcome = run_parties_with(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &h, params),
        ],
        5,
        Some(1),
    );
    let host_err = outcome[1].1.as_ref().unwrap_err().to_string();
    assert!(
        host_err.contains("HeteroFeatureBinning needs about")
            && host_err.contains("run Intersection first")
            && host_err.contains("task_memory"),
        "{host_err}"
    );
    let guest_err = outcome[0].1.as_ref().unwrap_err().to_string();
    assert!(
        guest_err.starts_with("host 10000 failed with a user error"),
        "{guest_err}"
    );
}

#[test]
fn bucket_binning_and_column_selection() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let params = json!({
        "method": "bucket", "bin_num": 5,
        "bin_indexes": [0, 2], "bin_names": ["x5"],
        "transform_param": {"transform_cols": [2], "transform_names": ["x5"]}
    });
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &h, params),
        ],
    );
    ok(&outcome);
    let gf = frame(&store, &g);
    let hf = frame(&store, &h);
    let labels = labels_of(&gf);
    let (_, gm) = model_of(&outcome[0].0);
    let (_, hm) = model_of(&outcome[1].0);
    let cols: Vec<String> = ["x0", "x2", "x5"].map(String::from).to_vec();
    let bucket = |v: &[f64]| bucket_points(v, 5);
    assert_eq!(
        gm.param.binning_result.keys().cloned().collect::<Vec<_>>(),
        cols
    );
    check_table(
        "guest",
        &gf,
        &labels,
        &cols,
        bucket,
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.5,
    );
    check_table(
        "host",
        &hf,
        &labels,
        &cols,
        bucket,
        &hm.param.binning_result,
        &gm.param.host_results["10000"],
        |i, _| format!("host_10000_x{i}"),
        0.5,
    );
    assert_eq!(gm.param.host_results["10000"].len(), 3);
    // Only x2 and x5 are transformed.
    let mut transformed = BTreeMap::new();
    for c in ["x2", "x5"] {
        transformed.insert(
            c.to_string(),
            gm.param.binning_result[c].split_points.clone(),
        );
    }
    check_transformed(&gf, &output(&store, &outcome[0].0), &transformed, None);
    assert_eq!(gm.meta.transform_param.transform_cols, vec![2, 5]);
    assert_eq!(gm.meta.method, "bucket");
}

#[test]
fn woe_transform_and_predict_mode_reproduce_the_fit_output() {
    let (_dir, store) = temp_store();
    let data = generate(&store, 600);
    let guest_params = json!({"bin_num": 5, "transform_param": {"transform_type": "woe"}});
    let host_params = json!({"bin_num": 5});
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &data.guest, guest_params.clone()),
            party(Role::Host, HOST, &data.host_b, host_params.clone()),
        ],
    );
    ok(&outcome);
    let gf = frame(&store, &data.guest);
    let (gm_raw, gm) = model_of(&outcome[0].0);
    let (hm_raw, _) = model_of(&outcome[1].0);
    let mut points = BTreeMap::new();
    for (c, r) in &gm.param.binning_result {
        points.insert(c.clone(), r.split_points.clone());
    }
    let fit_guest = output(&store, &outcome[0].0);
    let fit_host = output(&store, &outcome[1].0);
    check_transformed(&gf, &fit_guest, &points, Some(&gm.param.binning_result));
    // A missing value of a column with a missing bin takes that bin's WOE.
    let a = fit_guest.column_index("a").unwrap();
    let a_missing = *gm.param.binning_result["a"].woe_array.last().unwrap();
    let raw_a = gf.column_index("a").unwrap();
    let n_missing = gf.rows().filter(|r| r[raw_a].is_nan()).count();
    assert!(n_missing > 0);
    assert!(fit_guest.rows().filter(|r| r[a] == a_missing).count() >= n_missing);

    // Predict: the models alone, other parameters ignored, no federation needed.
    let mut guest = party(Role::Guest, GUEST, &data.guest, json!({"bin_num": 3}));
    guest.model = Some(gm_raw.clone());
    let mut host = party(Role::Host, HOST, &data.host_b, json!({}));
    host.model = Some(hm_raw.clone());
    let predicted = run_parties(&store, vec![guest, host]);
    ok(&predicted);
    assert_eq!(
        common::bits(&output(&store, &predicted[0].0)),
        common::bits(&fit_guest)
    );
    assert_eq!(
        common::bits(&output(&store, &predicted[1].0)),
        common::bits(&fit_host)
    );
    // The input model is passed on unchanged.
    assert_eq!(predicted[0].0.models().pop().unwrap().1, gm_raw);
    assert_eq!(predicted[1].0.models().pop().unwrap().1, hm_raw);
}

#[test]
fn local_only_and_skip_static() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    // local_only: the parties do not talk (the guest alone would also do).
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, json!({"local_only": true})),
            party(Role::Host, HOST, &h, json!({"local_only": true})),
        ],
    );
    ok(&outcome);
    let (_, gm) = model_of(&outcome[0].0);
    let (_, hm) = model_of(&outcome[1].0);
    assert!(gm.param.host_results.is_empty());
    assert_eq!(gm.param.binning_result.len(), 10);
    assert!(gm.param.binning_result["x0"].iv.is_some());
    assert_eq!(hm.param.binning_result.len(), 20);
    assert!(hm.param.binning_result["x0"].iv.is_none());
    assert!(!outcome[0]
        .0
        .info_lines()
        .iter()
        .any(|l| l.contains("encrypted")));
    let tracker = RecordingTracker::new();
    let mut c = context("b", MODULE, json!({"local_only": true}), &store, &tracker);
    c.roles = BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    c.inputs.data.insert("data".into(), vec![g.clone()]);
    registry().get(MODULE).unwrap().run(&c).unwrap();

    // skip_static: split points only, no label needed (the host table as a guest).
    let tracker = RecordingTracker::new();
    let mut c = context(
        "b",
        MODULE,
        json!({"skip_static": true, "transform_param": {"transform_type": null}}),
        &store,
        &tracker,
    );
    c.inputs.data.insert("data".into(), vec![h.clone()]);
    registry().get(MODULE).unwrap().run(&c).unwrap();
    let (_, m) = model_of(&tracker);
    let hf = frame(&store, &h);
    assert_eq!(
        m.param.binning_result["x3"].split_points,
        exact_split_points(&values_of(&hf, "x3"), 10)
    );
    assert!(m.param.binning_result["x3"].woe_array.is_empty());
    assert!(tracker.summary().unwrap().get("iv").is_none());
    // transform_type null: the data passes through.
    assert_eq!(common::bits(&output(&store, &tracker)), common::bits(&hf));
}

fn guest_alone(
    store: &LocalTableStore,
    table: &TableRef,
    params: Value,
    model: Option<ComponentModel>,
) -> String {
    let tracker = RecordingTracker::new();
    let mut c = context("b", MODULE, params, store, &tracker);
    c.inputs.data.insert("data".into(), vec![table.clone()]);
    c.inputs.model.extend(model.map(|model| ModelInput {
        component: "upstream_0".into(),
        alias: "model".into(),
        model,
    }));
    registry()
        .get(MODULE)
        .unwrap()
        .run(&c)
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_the_problem() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let cases = [
        (json!({"method": "optimal", "optimal_binning_param": {"max_bin_pct": 0.05}}), "invalid parameter `optimal_binning_param.max_bin_pct`: ceil(1 / max_bin_pct) = 20 bins"),
        (json!({"method": "chimerge"}), "invalid parameter `method`"),
        (json!({"bin_num": 1}), "invalid parameter `bin_num`: expected at least 2 bins, found 1"),
        (json!({"bin_names": ["x0", "nope"]}), "invalid parameter `bin_names`: `nope` is not a feature column"),
        (json!({"bin_indexes": [10]}), "invalid parameter `bin_indexes`: index 10 is out of range"),
        (json!({"transform_param": {"transform_names": ["y"]}}), "invalid parameter `transform_param.transform_names`: `y` is not a feature column"),
        (json!({"bin_indexes": [0], "transform_param": {"transform_cols": [1]}}), "invalid parameter `transform_param.transform_cols`: column `x1` is not binned"),
        (json!({"split_points_by_col_name": {"x0": [0.0]}}), "invalid parameter `split_points_by_col_name`: no split points for the binned column `x1`"),
    ];
    for (params, expected) in cases {
        let e = guest_alone(&store, &g, params.clone(), None);
        assert!(e.starts_with(expected), "{params}: {e}");
    }

    // A label that is not 0/1.
    let order: Vec<usize> = (0..50).collect();
    let three = generated(
        &["a"],
        &order,
        Some(&|i| (i % 3) as f64),
        &|_, i, _| i as f64,
        1,
    );
    let three = store_frame(&store, "three", &three, 2);
    let e = guest_alone(
        &store,
        &three,
        json!({"local_only": true, "method": "optimal"}),
        None,
    );
    assert!(
        e.starts_with("invalid parameter `method`: optimal binning needs a label of 0 and 1"),
        "{e}"
    );
    let e = guest_alone(
        &store,
        &three,
        json!({"local_only": true, "transform_param": {"transform_type": "woe"}}),
        None,
    );
    assert!(
        e.contains("WOE transform of multi-class-labeled data"),
        "{e}"
    );
    // Optimal binning refuses missing values.
    let missing = generated(
        &["a"],
        &order,
        Some(&label_of),
        &|_, i, _| if i == 7 { f64::NAN } else { i as f64 },
        1,
    );
    let missing = store_frame(&store, "missing_optimal", &missing, 2);
    let e = guest_alone(
        &store,
        &missing,
        json!({"local_only": true, "method": "optimal"}),
        None,
    );
    assert!(
        e.contains("optimal binning does not support missing values"),
        "{e}"
    );
    // No label at the guest.
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let e = guest_alone(&store, &h, json!({"local_only": true}), None);
    assert!(e.contains("needs a label column at the guest"), "{e}");

    // A model of another module.
    let other = ComponentModel {
        module: "FeatureScale".into(),
        param: json!({}),
        meta: json!({}),
    };
    let e = guest_alone(&store, &g, json!({}), Some(other));
    assert!(
        e.starts_with("input model `model` of component `upstream_0` (module FeatureScale): HeteroFeatureBinning transforms with a HeteroFeatureBinning model only"),
        "{e}"
    );
    // A binning model whose columns the data lacks.
    let tracker = RecordingTracker::new();
    let mut c = context("b", MODULE, json!({"local_only": true}), &store, &tracker);
    c.inputs.data.insert("data".into(), vec![h.clone()]);
    c.role = Role::Host;
    c.party_id = HOST;
    registry().get(MODULE).unwrap().run(&c).unwrap();
    let (host_model, _) = model_of(&tracker);
    let e = guest_alone(&store, &three, json!({}), Some(host_model));
    assert!(e.contains("has no column `x0`"), "{e}");

    // WOE at a host, in fit.
    let tracker = RecordingTracker::new();
    let mut c = context(
        "b",
        MODULE,
        json!({"transform_param": {"transform_type": "woe"}}),
        &store,
        &tracker,
    );
    c.inputs.data.insert("data".into(), vec![h.clone()]);
    c.role = Role::Host;
    let e = registry()
        .get(MODULE)
        .unwrap()
        .run(&c)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("invalid parameter `transform_param.transform_type`: `woe` is available at the guest only"), "{e}");

    // A host whose ids differ from the guest's.
    let order: Vec<usize> = (0..60).collect();
    let gl = generated(&["a"], &order, Some(&label_of), &|_, i, _| i as f64, 1);
    let hl = generated(
        &["b"],
        &(0..59).collect::<Vec<_>>(),
        None,
        &|_, i, _| i as f64,
        1,
    );
    let gl = store_frame(&store, "ids_guest", &gl, 2);
    let hl = store_frame(&store, "ids_host", &hl, 2);
    let outcome = run_parties_waiting(
        &store,
        vec![
            party(Role::Guest, GUEST, &gl, json!({})),
            party(Role::Host, HOST, &hl, json!({})),
        ],
        2,
    );
    let host_err = outcome[1].1.as_ref().unwrap_err().to_string();
    assert!(
        host_err.contains("row `s59`") && host_err.contains("run Intersection first"),
        "{host_err}"
    );
    assert!(outcome[0].1.is_err());
}

/// `cargo test --release -p fateflow-components --test feature_binning -- --ignored --nocapture`
#[test]
#[ignore = "a timing run on 30,000 rows; use --release"]
fn default_credit_timing() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "default_credit_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "default_credit_hetero_host.csv", None);
    let params = json!({"encrypt_param": {"key_length": 1024}});
    let start = std::time::Instant::now();
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &h, params),
        ],
    );
    let wall = start.elapsed();
    ok(&outcome);
    println!("guest + host wall time: {:.3} s", wall.as_secs_f64());
    for (who, (t, _)) in ["guest", "host"].iter().zip(&outcome) {
        for line in t.info_lines() {
            println!("{who}: {line}");
        }
    }
    let (_, gm) = model_of(&outcome[0].0);
    assert_eq!(gm.param.host_results["10000"].len(), 10);
    let (_, hm) = model_of(&outcome[1].0);
    // The host's statistics (approximate quantiles at 30,000 rows) are still exact
    // counts for the host's own split points.
    let gf = frame(&store, &g);
    let hf = frame(&store, &h);
    let labels = labels_of(&gf);
    for (i, c) in feature_columns(&hf).iter().enumerate() {
        let sp = &hm.param.binning_result[c].split_points;
        let counts = truth_counts(hf.sids(), &values_of(&hf, c), &labels, sp);
        check_stats(
            c,
            &gm.param.host_results["10000"][&format!("host_10000_x{i}")],
            &counts,
            sp.len(),
            0.5,
        );
    }
}

#[test]
fn manual_split_points_are_used_as_given() {
    let (_dir, store) = temp_store();
    let order: Vec<usize> = (0..300).collect();
    let g = generated(
        &["a", "b"],
        &order,
        Some(&label_of),
        &|c, i, rng| feature(i, rng, if c == 0 { 100.0 } else { 2.0 }, 0.1),
        21,
    );
    let g = store_frame(&store, "manual", &g, 3);
    let tracker = RecordingTracker::new();
    let params = json!({
        "local_only": true,
        "split_points_by_index": {"0": [10, 50, 200]},
        "split_points_by_col_name": {"b": [0.5, "1.5"]}
    });
    let mut c = context("b", MODULE, params, &store, &tracker);
    c.inputs.data.insert("data".into(), vec![g.clone()]);
    registry().get(MODULE).unwrap().run(&c).unwrap();
    let (_, m) = model_of(&tracker);
    let gf = frame(&store, &g);
    let labels = labels_of(&gf);
    for (column, given) in [("a", vec![10.0, 50.0, 200.0]), ("b", vec![0.5, 1.5])] {
        check_table(
            "manual",
            &gf,
            &labels,
            &[column.to_string()],
            |_: &[f64]| given.clone(),
            &m.param.binning_result,
            &m.param.binning_result,
            |_, c| c.to_owned(),
            0.5,
        );
    }
}

// ----- Multi-class labels --------------------------------------------------------------

/// Labels mapped to one-vs-rest: 1 for `class`, 0 for the others.
fn one_vs_rest(labels: &HashMap<String, f64>, class: f64) -> HashMap<String, f64> {
    labels
        .iter()
        .map(|(s, &y)| (s.clone(), if y == class { 1.0 } else { 0.0 }))
        .collect()
}

#[test]
fn multi_class_woe_and_iv_are_one_vs_rest_per_label_and_match_plaintext() {
    let (_dir, store) = temp_store();
    let n = 400;
    let label = |i: usize| ((i * 7919 + (i % 13)) % 3) as f64;
    let g = generated(
        &["a", "b"],
        &(0..n).collect::<Vec<_>>(),
        Some(&label),
        &|c, i, rng| feature(i, rng, 1.0 + c as f64, if c == 0 { 0.1 } else { 0.0 }),
        3,
    );
    let h = generated(
        &["c", "d", "e"],
        &shuffled(n, 5),
        None,
        &|c, i, rng| feature(i + c, rng, 2.0, if c == 1 { 0.05 } else { 0.0 }),
        4,
    );
    let g = store_frame(&store, "mc_guest", &g, 3);
    let h = store_frame(&store, "mc_host", &h, 2);
    let params = json!({"bin_num": 5, "encrypt_param": {"key_length": 1024}});
    let outcome = run_parties(
        &store,
        vec![
            party(Role::Guest, GUEST, &g, params.clone()),
            party(Role::Host, HOST, &h, params),
        ],
    );
    ok(&outcome);
    let (gt, ht) = (&outcome[0].0, &outcome[1].0);
    let (gf, hf) = (frame(&store, &g), frame(&store, &h));
    let labels = labels_of(&gf);
    let (_, gm) = model_of(gt);
    let (_, hm) = model_of(ht);
    assert_eq!(gm.param.labels, ["2", "1", "0"]);
    let multi = gm
        .param
        .multi_class_result
        .as_ref()
        .expect("per-class results");
    assert_eq!(multi.labels, ["2", "1", "0"]);
    assert_eq!(multi.results.len(), 3);
    assert_eq!(multi.host_results["10000"].len(), 3);
    assert_eq!(gm.param.binning_result, multi.results[0]);
    assert_eq!(
        gm.param.host_results["10000"],
        multi.host_results["10000"][0]
    );
    let exact = |v: &[f64]| exact_split_points(v, 5);
    let summary = gt.summary().unwrap();
    for (i, class) in [2.0, 1.0, 0.0].into_iter().enumerate() {
        let ovr = one_vs_rest(&labels, class);
        check_table(
            &format!("guest, label {class}"),
            &gf,
            &ovr,
            &feature_columns(&gf),
            exact,
            &gm.param.binning_result,
            &multi.results[i],
            |_, c| c.to_owned(),
            0.5,
        );
        check_table(
            &format!("host, label {class}"),
            &hf,
            &ovr,
            &feature_columns(&hf),
            exact,
            &hm.param.binning_result,
            &multi.host_results["10000"][i],
            |j, _| format!("host_10000_x{j}"),
            0.5,
        );
        let key = format!("{class}");
        assert_eq!(
            summary["multi_class"][&key]["iv"]["a"].as_f64(),
            multi.results[i]["a"].iv
        );
        assert_eq!(
            summary["multi_class"][&key]["host_iv"]["10000"]["host_10000_x2"].as_f64(),
            multi.host_results["10000"][i]["host_10000_x2"].iv
        );
        assert!(gt.metric("train", &format!("iv_label_{key}")).is_some());
    }
    assert!(hm.param.multi_class_result.is_none() && hm.param.labels.is_empty());
    assert!(gt.info_lines().iter().any(|l| l.contains("3 classes")));
}

#[test]
fn binary_labels_other_than_0_and_1_take_the_larger_as_event() {
    let (_dir, store) = temp_store();
    let n = 200;
    let g = generated(
        &["a"],
        &(0..n).collect::<Vec<_>>(),
        Some(&|i| if label_of(i) == 1.0 { 5.0 } else { 2.0 }),
        &|_, i, rng| feature(i, rng, 1.0, 0.0),
        7,
    );
    let g = store_frame(&store, "bin52", &g, 2);
    let outcome = run_parties(
        &store,
        vec![party(
            Role::Guest,
            GUEST,
            &g,
            json!({"bin_num": 4, "local_only": true}),
        )],
    );
    ok(&outcome);
    let (_, gm) = model_of(&outcome[0].0);
    assert_eq!(gm.param.labels, ["5", "2"]);
    assert!(gm.param.multi_class_result.is_none());
    let gf = frame(&store, &g);
    let ovr = one_vs_rest(&labels_of(&gf), 5.0);
    check_table(
        "guest",
        &gf,
        &ovr,
        &["a".to_string()],
        |v| exact_split_points(v, 4),
        &gm.param.binning_result,
        &gm.param.binning_result,
        |_, c| c.to_owned(),
        0.5,
    );
}

// ----- Optimal binning ------------------------------------------------------------------

/// The plaintext reference of FATE's optimal merge rule: passes of "merge the neighbouring
/// pair with the best score that the pass allows, while the pass's target is not met",
/// recounting after every merge. Returns the right bound of each final bucket.
#[allow(unreachable_pub)]
mod reference {
    #[derive(Clone, Copy, Debug)]
    pub struct B {
        pub right: f64,
        pub e: u64,
        pub n: u64,
    }

    impl B {
        fn t(&self) -> u64 {
            self.e + self.n
        }
        fn mixed(&self) -> bool {
            self.e > 0 && self.n > 0
        }
    }

    pub struct Setup {
        pub metric: &'static str,
        pub max_bin: usize,
        pub mixture: bool,
        pub min_pct: f64,
        pub max_pct: f64,
        pub events: u64,
        pub non_events: u64,
        pub count: usize,
    }

    fn iv_of(e: u64, n: u64, s: &Setup) -> f64 {
        let (et, nt) = (s.events.max(1) as f64, s.non_events.max(1) as f64);
        let (er, nr) = if e == 0 || n == 0 {
            ((e as f64 + 0.5) / et, (n as f64 + 0.5) / nt)
        } else {
            (e as f64 / et, n as f64 / nt)
        };
        (er - nr) * (er / nr).ln()
    }

    fn gini_of(e: u64, n: u64) -> f64 {
        let t = (e + n) as f64;
        if t == 0.0 {
            return 0.0;
        }
        1.0 - (e as f64 / t).powi(2) - (n as f64 / t).powi(2)
    }

    /// Lower is merged first.
    fn score(l: &B, r: &B, s: &Setup) -> f64 {
        let (e, n) = (l.e + r.e, l.n + r.n);
        match s.metric {
            "iv" => iv_of(l.e, l.n, s) + iv_of(r.e, r.n, s) - iv_of(e, n, s),
            "gini" => gini_of(e, n) - gini_of(l.e, l.n) - gini_of(r.e, r.n),
            "chi_square" => {
                if e == 0 || n == 0 {
                    return f64::NEG_INFINITY;
                }
                let t = (e + n) as f64;
                let mut chi = 0.0;
                for b in [l, r] {
                    for (a, c) in [(b.e, e), (b.n, n)] {
                        let expected = b.t() as f64 * c as f64 / t;
                        chi += (a as f64 - expected).powi(2) / expected;
                    }
                }
                chi
            }
            m => panic!("{m}"),
        }
    }

    /// `None` when two allowed pairs score the same at some step (the order FATE's heap
    /// takes them in is not this rule's).
    pub fn merge(mut b: Vec<B>, s: &Setup) -> Option<Vec<f64>> {
        let min = (s.min_pct * s.count as f64).ceil() as u64;
        let max = (s.max_pct * s.count as f64).floor() as u64;
        let mut passes = Vec::new();
        if s.mixture {
            passes.extend(["mixture", "single_mixture"]);
        }
        passes.extend(["small", "single_small", "any"]);
        for pass in passes {
            loop {
                let target = match pass {
                    "mixture" | "single_mixture" => b.iter().filter(|x| !x.mixed()).count() as i64,
                    "small" | "single_small" => b.iter().filter(|x| x.t() < min).count() as i64,
                    _ => b.len() as i64 - s.max_bin as i64,
                };
                if target <= 0 {
                    break;
                }
                let allowed = |l: &B, r: &B| {
                    l.t() + r.t() <= max
                        && match pass {
                            "mixture" => !l.mixed() && !r.mixed(),
                            "single_mixture" => !(l.mixed() && r.mixed()),
                            "small" => l.t() < min && r.t() < min,
                            "single_small" => l.t() < min || r.t() < min,
                            _ => true,
                        }
                };
                let best = (0..b.len().saturating_sub(1))
                    .filter(|&i| allowed(&b[i], &b[i + 1]))
                    .map(|i| (i, score(&b[i], &b[i + 1], s)))
                    .fold(None::<(usize, f64)>, |acc, (i, sc)| match acc {
                        Some((_, best)) if best <= sc => acc,
                        _ => Some((i, sc)),
                    });
                let Some((i, sc)) = best else { break };
                let ties = (0..b.len() - 1)
                    .filter(|&j| allowed(&b[j], &b[j + 1]) && score(&b[j], &b[j + 1], s) == sc)
                    .count();
                if ties > 1 {
                    return None;
                }
                let r = b.remove(i + 1);
                b[i] = B {
                    right: r.right,
                    e: b[i].e + r.e,
                    n: b[i].n + r.n,
                };
            }
        }
        Some(b.iter().map(|x| x.right).collect())
    }

    /// FATE's best-KS splitting.
    pub fn ks(b: &[B], s: &Setup) -> Option<Vec<f64>> {
        let min = (s.min_pct * s.count as f64).ceil() as u64;
        let mut splits: Vec<usize> = Vec::new();
        let mut queue = std::collections::VecDeque::from([(0usize, b.len())]);
        while splits.len() + 1 < s.max_bin {
            let Some((lo, hi)) = queue.pop_front() else {
                break;
            };
            if lo >= hi {
                continue;
            }
            let part = &b[lo..hi];
            let (te, tn): (u64, u64) = (
                part.iter().map(|x| x.e).sum(),
                part.iter().map(|x| x.n).sum(),
            );
            if te == 0 || tn == 0 {
                continue;
            }
            let mut ks = Vec::new();
            let (mut ce, mut cn) = (0, 0);
            for x in part {
                ce += x.e;
                cn += x.n;
                ks.push(((ce as f64 / te as f64) - (cn as f64 / tn as f64)).abs());
            }
            let top = ks.iter().cloned().fold(0.0, f64::max);
            let mut at = if top == 0.0 {
                ks.len() / 2
            } else {
                ks.iter().position(|&k| k == top).unwrap()
            };
            let sides = |at: usize| {
                let le: u64 = part[..=at].iter().map(|x| x.e).sum();
                let ln: u64 = part[..=at].iter().map(|x| x.n).sum();
                (le, ln, te - le, tn - ln)
            };
            let (mut le, mut ln, mut re, mut rn) = sides(at);
            if le + ln < min || re + rn < min {
                at = ks.len() / 2;
                (le, ln, re, rn) = sides(at);
            }
            if s.mixture && !(le > 0 && ln > 0 && re > 0 && rn > 0) {
                continue;
            }
            if le + ln < min || re + rn < min {
                continue;
            }
            let split = lo + at + 1;
            splits.push(split);
            if re + rn > le + ln {
                queue.push_back((split, hi));
                queue.push_back((lo, split));
            } else {
                queue.push_back((lo, split));
                queue.push_back((split, hi));
            }
        }
        if splits.is_empty() {
            splits.push(b.len() / 2);
        }
        splits.sort();
        splits.push(b.len());
        // Each range's bucket ends at its last bucket; FATE makes an empty range (a
        // split repeated, as a one-bucket range splits past its end when min_bin_pct is
        // 0) a copy of the bucket at its start. Then np.unique of the right bounds.
        let mut points = Vec::new();
        let mut start = 0;
        for &end in &splits {
            points.push(b[(end.max(start + 1) - 1).min(b.len() - 1)].right);
            start = end;
        }
        points.sort_by(f64::total_cmp);
        points.dedup();
        Some(points)
    }
}

/// Sorted distinct values: the initial split points when `init_bin_nums` is at least the
/// row count and every value appears at least twice.
fn distinct(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

#[test]
fn optimal_binning_follows_fates_merge_rule_for_every_metric() {
    let (_dir, store) = temp_store();
    // With mixture and sizes, the passes before the last decide much; without, the
    // metric alone merges down to bin_num.
    let configs: Vec<(&str, bool, f64, f64)> = ["iv", "gini", "chi_square", "ks"]
        .into_iter()
        .flat_map(|m| [(m, true, 0.1, 0.6), (m, false, 0.0, 0.35)])
        .collect();
    // Guest: 15 values with random (event, non-event) counts; host: values over the same
    // rows in another order, with random sizes. The first seed whose data never gives
    // two pairs the same score (where FATE's heap order would decide) is used.
    let make = |seed: u64| {
        let mut rng = Rng(seed);
        let mut rows: Vec<(f64, f64)> = Vec::new(); // (label, guest value)
        for j in 0..15 {
            let (e, ne) = (rng.next() % 7, rng.next() % 7);
            let (e, ne) = if e + ne < 2 { (e + 1, ne + 1) } else { (e, ne) };
            rows.extend(std::iter::repeat_n((1.0, j as f64 * 1.5), e as usize));
            rows.extend(std::iter::repeat_n((0.0, j as f64 * 1.5), ne as usize));
        }
        let n = rows.len();
        let order = shuffled(n, seed + 1);
        let mut host_value = vec![0.0; n];
        let (mut at, mut j) = (0, 0);
        while at < n {
            let size = (2 + rng.next() % 7) as usize;
            let size = if n - at < size + 2 { n - at } else { size };
            for &i in &order[at..at + size] {
                host_value[i] = j as f64 - 3.0;
            }
            at += size;
            j += 1;
        }
        (rows, host_value)
    };
    let expect = |rows: &[(f64, f64)],
                  host: &[f64],
                  metric: &'static str,
                  mixture: bool,
                  min_pct: f64,
                  max_pct: f64| {
        let labels: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let guest: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let events = labels.iter().filter(|&&y| y == 1.0).count() as u64;
        let setup = |max_bin| reference::Setup {
            metric,
            max_bin,
            mixture,
            min_pct,
            max_pct,
            events,
            non_events: rows.len() as u64 - events,
            count: rows.len(),
        };
        let run = |b: Vec<reference::B>, s: &reference::Setup| {
            if metric == "ks" {
                reference::ks(&b, s)
            } else {
                reference::merge(b, s)
            }
        };
        // Buckets by index: one per distinct value.
        let buckets_of = |values: &[f64]| -> Vec<reference::B> {
            distinct(values)
                .into_iter()
                .enumerate()
                .map(|(i, x)| {
                    let mut b = reference::B {
                        right: i as f64,
                        e: 0,
                        n: 0,
                    };
                    for (&v, &y) in values.iter().zip(&labels) {
                        if v == x {
                            if y == 1.0 {
                                b.e += 1;
                            } else {
                                b.n += 1;
                            }
                        }
                    }
                    b
                })
                .collect()
        };
        // The guest merges its own column down to bin_num; the host's is merged on
        // bucket indexes with the bin_num FATE's host announces (its init_bin_nums).
        let g = run(buckets_of(&guest), &setup(4))?;
        let h = run(buckets_of(host), &setup(1000))?;
        let (gp, hp) = (distinct(&guest), distinct(host));
        Some((
            g.iter().map(|&i| gp[i as usize]).collect::<Vec<f64>>(),
            h.iter().map(|&i| hp[i as usize]).collect::<Vec<f64>>(),
        ))
    };
    let (rows, host_value) = (1..500)
        .map(make)
        .find(|(rows, host)| {
            configs
                .iter()
                .all(|&(m, mix, lo, hi)| expect(rows, host, m, mix, lo, hi).is_some())
        })
        .expect("a seed without equal scores");
    let n = rows.len();
    let g = generated(
        &["a"],
        &(0..n).collect::<Vec<_>>(),
        Some(&|i| rows[i].0),
        &|_, i, _| rows[i].1,
        1,
    );
    let h = generated(&["b"], &shuffled(n, 11), None, &|_, i, _| host_value[i], 2);
    let g = store_frame(&store, "opt_guest", &g, 2);
    let h = store_frame(&store, "opt_host", &h, 3);
    let (gf, hf) = (frame(&store, &g), frame(&store, &h));
    let labels = labels_of(&gf);
    let host_values = values_of(&hf, "b");
    let host_points = distinct(&host_values);
    let mut seen = BTreeMap::new();
    for &(metric, mixture, min_pct, max_pct) in &configs {
        let optimal = json!({"metric_method": metric, "init_bin_nums": 1000, "mixture": mixture,
                             "min_bin_pct": min_pct, "max_bin_pct": max_pct});
        let params = json!({"method": "optimal", "bin_num": 4, "optimal_binning_param": optimal,
                            "encrypt_param": {"key_length": 1024}});
        let outcome = run_parties(
            &store,
            vec![
                party(Role::Guest, GUEST, &g, params.clone()),
                party(Role::Host, HOST, &h, params),
            ],
        );
        ok(&outcome);
        let (_, gm) = model_of(&outcome[0].0);
        let (_, hm) = model_of(&outcome[1].0);
        let (guest_expected, host_expected) =
            expect(&rows, &host_value, metric, mixture, min_pct, max_pct).unwrap();
        let what = format!("{metric}, mixture {mixture}");
        assert_eq!(
            gm.param.binning_result["a"].split_points, guest_expected,
            "{what}: guest"
        );
        assert_eq!(gm.meta.optimal_metric_method.as_deref(), Some(metric));
        assert_eq!(
            hm.param.binning_result["b"].split_points, host_expected,
            "{what}: host"
        );
        if mixture {
            assert!(
                host_expected.len() < host_points.len(),
                "{what}: the host's buckets merged"
            );
        }
        eprintln!("{what}: guest {guest_expected:?}, host {host_expected:?}");
        seen.insert((metric, mixture), guest_expected.clone());
        // Statistics on the final bins, against plaintext.
        let sp = &guest_expected;
        check_stats(
            &format!("{what} guest"),
            &gm.param.binning_result["a"],
            &truth_counts(gf.sids(), &values_of(&gf, "a"), &labels, sp),
            sp.len(),
            0.5,
        );
        check_stats(
            &format!("{what} host"),
            &gm.param.host_results["10000"]["host_10000_x0"],
            &truth_counts(hf.sids(), &host_values, &labels, &host_expected),
            host_expected.len(),
            0.5,
        );
        // The host's output data holds its final bins.
        let mut points = BTreeMap::new();
        points.insert("b".to_string(), host_expected.clone());
        check_transformed(&hf, &output(&store, &outcome[1].0), &points, None);
    }
    // The metrics choose differently on this data.
    let plain: std::collections::BTreeSet<_> = ["iv", "gini", "chi_square", "ks"]
        .iter()
        .map(|m| format!("{:?}", seen[&(*m, false)]))
        .collect();
    assert!(plain.len() >= 3, "{seen:?}");
}

#[test]
fn a_column_without_values_gets_fates_split_point_zero() {
    let (_dir, store) = temp_store();
    let n = 60;
    let g = generated(
        &["a", "empty"],
        &(0..n).collect::<Vec<_>>(),
        Some(&label_of),
        &|c, i, rng| {
            if c == 1 {
                f64::NAN
            } else {
                feature(i, rng, 1.0, 0.0)
            }
        },
        3,
    );
    let g = store_frame(&store, "empty_col", &g, 2);
    for method in ["quantile", "bucket"] {
        let outcome = run_parties(
            &store,
            vec![party(
                Role::Guest,
                GUEST,
                &g,
                json!({"method": method, "local_only": true}),
            )],
        );
        ok(&outcome);
        let (_, gm) = model_of(&outcome[0].0);
        let r = &gm.param.binning_result["empty"];
        assert_eq!(r.split_points, vec![0.0], "{method}");
        let gf = frame(&store, &g);
        let counts = truth_counts(gf.sids(), &values_of(&gf, "empty"), &labels_of(&gf), &[0.0]);
        assert_eq!(counts[0], (0, 0));
        check_stats(method, r, &counts, 1, 0.5);
    }
}

#[test]
fn a_host_binning_optimally_learns_why_a_multi_class_guest_cannot() {
    let (_dir, store) = temp_store();
    let n = 60;
    let order: Vec<usize> = (0..n).collect();
    let g = generated(
        &["a"],
        &order,
        Some(&|i| (i % 3) as f64),
        &|_, i, _| i as f64,
        1,
    );
    let h = generated(&["b"], &order, None, &|_, i, _| (i % 7) as f64, 2);
    let g = store_frame(&store, "mc_opt_guest", &g, 2);
    let h = store_frame(&store, "mc_opt_host", &h, 2);
    let start = std::time::Instant::now();
    let outcome = run_parties_waiting(
        &store,
        vec![
            party(
                Role::Guest,
                GUEST,
                &g,
                json!({"encrypt_param": {"key_length": 1024}}),
            ),
            party(
                Role::Host,
                HOST,
                &h,
                json!({"method": "optimal", "encrypt_param": {"key_length": 1024}}),
            ),
        ],
        20,
    );
    let guest_err = outcome[0].1.as_ref().unwrap_err().to_string();
    assert!(
        guest_err.contains("optimal binning needs labels 0 and 1"),
        "{guest_err}"
    );
    let host_err = outcome[1].1.as_ref().unwrap_err().to_string();
    assert!(
        host_err.contains("the guest could not run optimal binning of this host's columns"),
        "{host_err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
}

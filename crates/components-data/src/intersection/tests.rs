//! Every method against a plaintext set intersection, with the parties on threads over
//! an in-memory data plane.

use super::*;
use crate::testing::{ctx, frame, temp_store, upload, MemoryHub, RecordingTracker};
use fateflow_component_core::memory::MemoryBudget;
use fateflow_domain::PartyId;
use fateflow_tables::LocalTableStore;
use fateflow_tables::{read_blocks, sid_digest, FrameWriter, TableSchema, TableStore, WriteMode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const GUEST: PartyId = 9999;

/// One party's result: the ids it wrote (None without output) and its tracker.
struct Outcome {
    ids: Option<BTreeSet<String>>,
    tracker: RecordingTracker,
    result: Result<()>,
}

impl Outcome {
    fn count_metric(&self) -> Value {
        let m = self
            .tracker
            .metric("train", "intersection")
            .expect("metric");
        m.data
            .iter()
            .find(|(k, _)| k == "intersect_count")
            .map(|(_, v)| v.clone())
            .expect("intersect_count")
    }
}

fn csv(ids: &[String]) -> String {
    let mut s = String::from("id,x\n");
    for (i, id) in ids.iter().enumerate() {
        s.push_str(&format!("{id},{i}\n"));
    }
    s
}

/// Runs Intersection at a guest (`guest_ids`) and one host per entry of `host_ids`, each
/// with `params` overlaid by `per_party[position]` (guest first). Returns the guest's
/// outcome, then the hosts'.
fn run_all(
    params: Value,
    guest_ids: &[String],
    host_ids: &[Vec<String>],
    per_party: &[Value],
) -> Vec<Outcome> {
    let (_dir, store) = temp_store();
    run_in(
        &store,
        "intersection_0",
        params,
        guest_ids,
        host_ids,
        per_party,
        &[],
    )
}

/// [`run_all`] in `store`, as `component`, with each party's `cache` input.
fn run_in(
    store: &LocalTableStore,
    component: &str,
    params: Value,
    guest_ids: &[String],
    host_ids: &[Vec<String>],
    per_party: &[Value],
    caches: &[TableRef],
) -> Vec<Outcome> {
    // Parties left waiting by a refusal the test expects give up quickly.
    let wait = if component.ends_with("_quick") { 3 } else { 60 };
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(wait));
    let host_party_ids: Vec<PartyId> = (0..host_ids.len() as u64).map(|i| 10000 + i).collect();
    let roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, host_party_ids.clone()),
    ]);
    let mut parties = vec![(Role::Guest, GUEST, guest_ids.to_vec())];
    for (pid, ids) in host_party_ids.iter().zip(host_ids) {
        parties.push((Role::Host, *pid, ids.clone()));
    }
    let tables: Vec<TableRef> = parties
        .iter()
        .map(|(role, pid, ids)| upload(store, &format!("{component}_{role}_{pid}"), &csv(ids)))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .iter()
            .zip(&tables)
            .enumerate()
            .map(|(i, ((role, pid, _), table))| {
                let mut p = params.clone();
                if let Some(Value::Object(extra)) = per_party.get(i) {
                    for (k, v) in extra {
                        p[k] = v.clone();
                    }
                }
                let fed = hub.party(*role, *pid);
                let roles = roles.clone();
                let cache = caches.get(i).cloned();
                s.spawn(move || {
                    let memory = MemoryBudget::default();
                    run_one(
                        store,
                        component,
                        p,
                        (*role, *pid),
                        roles,
                        fed,
                        table,
                        cache,
                        memory,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    })
}

use crate::context::TableRef;

#[allow(clippy::too_many_arguments)]
fn run_one(
    store: &LocalTableStore,
    component: &str,
    params: Value,
    (role, pid): (Role, PartyId),
    roles: BTreeMap<Role, Vec<PartyId>>,
    fed: crate::testing::MemoryFederation,
    table: &TableRef,
    cache: Option<TableRef>,
    memory: MemoryBudget,
) -> Outcome {
    let tracker = RecordingTracker::new();
    let result = {
        let mut c = ctx(store, &tracker, component, "Intersection", params);
        c.role = role;
        c.party_id = pid;
        c.roles = roles;
        c.federation = Some(&fed);
        c.memory = memory;
        c.inputs.data.insert("data".into(), vec![table.clone()]);
        if let Some(cache) = cache {
            c.inputs.data.insert("cache".into(), vec![cache]);
        }
        Intersection.run(&c)
    };
    let ids = tracker
        .output_data()
        .into_iter()
        .rfind(|(name, _)| name == "data")
        .map(|(_, t)| frame(store, &t).sids().iter().cloned().collect());
    Outcome {
        ids,
        tracker,
        result,
    }
}

fn ids(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("id{i}")).collect()
}

fn plain(guest: &[String], hosts: &[Vec<String>]) -> BTreeSet<String> {
    guest
        .iter()
        .filter(|g| hosts.iter().all(|h| h.contains(g)))
        .cloned()
        .collect()
}

fn check_rows(params: Value, guest: Vec<String>, hosts: Vec<Vec<String>>) {
    let expected = plain(&guest, &hosts);
    let out = run_all(params.clone(), &guest, &hosts, &[]);
    for o in &out {
        o.result
            .as_ref()
            .unwrap_or_else(|e| panic!("{params}: {e}"));
    }
    assert_eq!(out[0].ids.as_ref(), Some(&expected), "{params}: guest");
    assert_eq!(out[0].count_metric(), json!(expected.len()));
    let sync = params["sync_intersect_ids"].as_bool().unwrap_or(true);
    for o in &out[1..] {
        if sync {
            assert_eq!(o.ids.as_ref(), Some(&expected), "{params}: host");
        } else {
            assert_eq!(o.ids, None, "{params}: host without sync writes nothing");
            assert_eq!(o.count_metric(), json!(-1));
        }
    }
}

#[test]
fn every_method_finds_the_plaintext_intersection() {
    let guest = ids(0..60);
    let host = ids(30..90);
    for params in [
        json!({"intersect_method": "ecdh"}),
        json!({"intersect_method": "raw"}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024, "salt": "12345"}}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024, "hash_method": "none"}}),
        json!({"intersect_method": "ecdh", "ecdh_params": {"hash_method": "sm3", "salt": "s"}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024}}),
        json!({"intersect_method": "rsa", "sync_intersect_ids": false,
               "rsa_params": {"key_length": 1024, "random_base_fraction": 0.5,
                              "hash_method": "sm3", "final_hash_method": "md5", "salt": "x"}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024, "split_calculation": true}}),
    ] {
        check_rows(params, guest.clone(), vec![host.clone()]);
    }
}

#[test]
fn multiple_hosts_keep_the_common_intersection() {
    let guest = ids(0..50);
    let hosts = vec![ids(10..60), ids(0..30)];
    for params in [
        json!({"intersect_method": "ecdh"}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024, "split_calculation": true}}),
    ] {
        check_rows(params, guest.clone(), hosts.clone());
    }
}

#[test]
fn preprocessing_keeps_the_intersection() {
    let guest = ids(0..80);
    let host = ids(50..200);
    for params in [
        json!({"intersect_method": "ecdh", "run_preprocess": true,
               "intersect_preprocess_params": {"false_positive_rate": 0.2}}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024}, "run_preprocess": true,
               "intersect_preprocess_params": {"filter_owner": "host", "preprocess_salt": "p",
                                               "random_state": 3, "false_positive_rate": 0.05}}),
    ] {
        check_rows(params, guest.clone(), vec![host.clone(), ids(60..70)]);
    }
}

#[test]
fn cardinality_counts_without_output() {
    let guest = ids(0..70);
    let hosts = vec![ids(20..100), ids(0..50)];
    let expected = plain(&guest, &hosts).len();
    for (params, sync) in [
        (
            json!({"cardinality_only": true, "cardinality_method": "ecdh"}),
            false,
        ),
        (
            json!({"cardinality_only": true, "cardinality_method": "dh", "sync_cardinality": true,
                "dh_params": {"key_length": 1024}}),
            true,
        ),
        (
            json!({"cardinality_only": true, "cardinality_method": "rsa", "sync_cardinality": true,
                "rsa_params": {"key_length": 1024},
                "intersect_preprocess_params": {"false_positive_rate": 0.0001}}),
            true,
        ),
    ] {
        let out = run_all(params.clone(), &guest, &hosts, &[]);
        for o in &out {
            o.result
                .as_ref()
                .unwrap_or_else(|e| panic!("{params}: {e}"));
            assert_eq!(o.ids, None, "{params}: no output in cardinality mode");
        }
        assert_eq!(out[0].count_metric(), json!(expected), "{params}");
        for o in &out[1..] {
            let want = if sync { json!(expected) } else { json!(-1) };
            assert_eq!(o.count_metric(), want, "{params}");
        }
        assert_eq!(
            out[0].tracker.summary().unwrap()["cardinality_only"],
            json!(true)
        );
    }
}

#[test]
fn mismatched_dh_key_lengths_fail_naming_the_parameter() {
    let guest = ids(0..5);
    let out = run_all(
        json!({"intersect_method": "dh"}),
        &guest,
        std::slice::from_ref(&guest),
        &[json!({"dh_params": {"key_length": 1024}}), json!({})],
    );
    let errors: Vec<String> = out
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("key_length")),
        "{errors:?}"
    );
}

#[test]
fn bad_parameters_are_refused_naming_the_key() {
    for (params, key) in [
        (
            json!({"rsa_params": {"hash_method": "md5"}}),
            "rsa_params.hash_method",
        ),
        (
            json!({"dh_params": {"key_length": 3072}, "intersect_method": "dh"}),
            "dh_params.key_length",
        ),
        (
            json!({"ecdh_params": {"curve": "p256"}}),
            "ecdh_params.curve",
        ),
        (
            json!({"cardinality_only": true, "cardinality_method": "rsa",
                "rsa_params": {"split_calculation": true}}),
            "rsa_params.split_calculation",
        ),
        (
            json!({"run_preprocess": true,
                "intersect_preprocess_params": {"false_positive_rate": 0.001}}),
            "intersect_preprocess_params.false_positive_rate",
        ),
        (
            json!({"random_bit": 100, "rsa_params": {"random_bit": 90}}),
            "random_bit",
        ),
        (
            json!({"rsa_params": {"random_bit": 16}}),
            "rsa_params.random_bit",
        ),
        (
            json!({"intersect_preprocess_params": {"filter_owner": "arbiter"}}),
            "intersect_preprocess_params.filter_owner",
        ),
    ] {
        let map = params.as_object().unwrap().clone();
        let err = IntersectParam::parse(&map).expect_err(&params.to_string());
        assert!(err.to_string().contains(key), "{params}: {err}");
    }
}

#[test]
fn fate_defaults() {
    let p = IntersectParam::parse(&serde_json::Map::new()).unwrap();
    assert_eq!(p.method, Method::Rsa);
    assert_eq!(p.rsa.key_length, 2048);
    assert_eq!(p.dh.key_length, 2048);
    assert_eq!(p.rsa.random_bit, 128);
    assert!(p.sync && !p.cardinality_only && !p.run_preprocess);
    assert_eq!(p.filter.false_positive_rate, 0.001);
    let card = json!({"cardinality_only": true})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(IntersectParam::parse(&card).unwrap().method, Method::Ecdh);
}

#[test]
fn a_cache_replaces_the_hosts_half_of_a_later_run() {
    let hosts = vec![ids(20..90), ids(0..60)];
    for params in [
        json!({"intersect_method": "ecdh", "ecdh_params": {"salt": "s"}}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024, "hash_method": "sm3"}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024, "final_hash_method": "sha1"}}),
    ] {
        let (_dir, store) = temp_store();
        let mut make = params.clone();
        make["run_cache"] = json!(true);
        let out = run_in(&store, "intersect_0", make, &ids(0..10), &hosts, &[], &[]);
        let mut caches = Vec::new();
        for o in &out {
            o.result
                .as_ref()
                .unwrap_or_else(|e| panic!("{params}: {e}"));
            assert_eq!(o.ids, None, "a cache run writes no data");
            let (name, table) = o.tracker.output_data().pop().expect("cache output");
            assert_eq!(name, "cache");
            caches.push(table);
        }
        // A later run: new guest ids, the hosts' data as cached.
        for sync in [true, false] {
            let guest = ids(10..80);
            let mut p = params.clone();
            p["sync_intersect_ids"] = json!(sync);
            let component = format!("intersect_sync_{sync}");
            let out = run_in(&store, &component, p, &guest, &hosts, &[], &caches);
            let expected = plain(&guest, &hosts);
            for o in &out {
                o.result
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{params}: {e}"));
            }
            assert_eq!(out[0].ids.as_ref(), Some(&expected), "{params}");
            for o in &out[1..] {
                let want = sync.then(|| expected.clone());
                assert_eq!(o.ids, want, "{params} sync {sync}");
            }
        }
    }
}

#[test]
fn cache_conflicts_are_refused_as_fate_does() {
    for (params, key) in [
        (
            json!({"run_cache": true, "intersect_method": "raw"}),
            "intersect_method",
        ),
        (
            json!({"run_cache": true, "rsa_params": {"split_calculation": true}}),
            "split_calculation",
        ),
        (
            json!({"run_cache": true, "cardinality_only": true}),
            "cardinality_only",
        ),
        (
            json!({"run_cache": true, "run_preprocess": true,
                "intersect_preprocess_params": {"false_positive_rate": 0.1}}),
            "run_preprocess",
        ),
    ] {
        let map = params.as_object().unwrap().clone();
        let err = IntersectParam::parse(&map).expect_err(&params.to_string());
        assert!(err.to_string().contains(key), "{params}: {err}");
    }
}

#[test]
fn caches_of_different_runs_are_refused() {
    let params = json!({"intersect_method": "ecdh"});
    let hosts = vec![ids(0..20), ids(0..20)];
    let (_dir, store) = temp_store();
    let mut make = params.clone();
    make["run_cache"] = json!(true);
    let caches: Vec<TableRef> = run_in(
        &store,
        "intersect_0",
        make.clone(),
        &ids(0..10),
        &hosts,
        &[],
        &[],
    )
    .iter()
    .map(|o| o.tracker.output_data().pop().expect("cache").1)
    .collect();
    let other = run_in(&store, "intersect_9", make, &ids(0..10), &hosts, &[], &[]);
    let mut mixed = caches.clone();
    mixed[1] = other[1].tracker.output_data().pop().unwrap().1;
    let out = run_in(
        &store,
        "intersect_quick",
        params,
        &ids(0..5),
        &hosts,
        &[],
        &mixed,
    );
    assert!(out.iter().any(|o| o
        .result
        .as_ref()
        .is_err_and(|e| e.to_string().contains("cache id"))));
}

#[test]
fn cache_loader_hands_each_party_its_copy_of_another_jobs_cache() {
    use super::cache_loader::CacheLoader;
    let hosts = vec![ids(0..30)];
    let (_dir, store) = temp_store();
    let make = json!({"intersect_method": "ecdh", "run_cache": true});
    let out = run_in(&store, "intersect_0", make, &ids(0..10), &hosts, &[], &[]);
    let caches: Vec<TableRef> = out
        .iter()
        .map(|o| o.tracker.output_data().pop().expect("cache").1)
        .collect();
    let params =
        json!({"job_id": "test_job", "component_name": "intersect_0", "cache_name": "cache"});
    for ((role, pid), cache) in [(Role::Guest, GUEST), (Role::Host, 10000)]
        .into_iter()
        .zip(&caches)
    {
        let tracker = RecordingTracker::new();
        let mut c = ctx(
            &store,
            &tracker,
            "cache_loader_0",
            "CacheLoader",
            params.clone(),
        );
        c.role = role;
        c.party_id = pid;
        CacheLoader.run(&c).unwrap();
        assert_eq!(
            tracker.output_data(),
            vec![("cache".to_owned(), cache.clone())]
        );
    }
    // The loaded caches work as input.cache.
    let guest = ids(5..25);
    let out = run_in(
        &store,
        "intersect_1",
        json!({"intersect_method": "ecdh"}),
        &guest,
        &hosts,
        &[],
        &caches,
    );
    assert_eq!(out[0].ids.as_ref(), Some(&plain(&guest, &hosts)));
    // FATE's example confs leave job_id empty: refused naming it.
    for bad in [
        json!({"job_id": "", "component_name": "intersect_0", "cache_name": "cache"}),
        json!({"job_id": "other_job", "component_name": "intersect_0", "cache_name": "cache"}),
    ] {
        let tracker = RecordingTracker::new();
        let c = ctx(
            &store,
            &tracker,
            "cache_loader_0",
            "CacheLoader",
            bad.clone(),
        );
        let err = CacheLoader.run(&c).expect_err(&bad.to_string());
        assert!(err.to_string().contains("job_id"), "{err}");
    }
}

/// A table of `ids` over `partitions` partitions with `ncols` columns `x<c>` (row `i`
/// holds `10 i + c`; `x0` the label with `label`), rows written in a scrambled order.
fn table_with(
    store: &LocalTableStore,
    name: &str,
    ids: &[String],
    partitions: u32,
    ncols: usize,
    label: bool,
) -> TableRef {
    let mut schema = TableSchema::new("id", (0..ncols).map(|c| format!("x{c}")).collect());
    if label {
        schema.label_name = Some("x0".into());
    }
    let id = TableId::new("experiment", name).unwrap();
    let mut w = FrameWriter::create(store, &id, schema, partitions, WriteMode::Create).unwrap();
    let n = ids.len();
    for k in 0..n {
        let i = (k * 7919) % n;
        let row: Vec<f64> = (0..ncols).map(|c| (10 * i + c) as f64).collect();
        w.push(&ids[i], &row).unwrap();
    }
    w.finish().unwrap();
    TableRef::new("experiment", name)
}

/// Runs every party of `parties` (guest first) on its table with the task budget
/// `memory`.
fn run_tables(
    store: &LocalTableStore,
    component: &str,
    params: &Value,
    parties: &[(Role, PartyId, TableRef)],
    memory: MemoryBudget,
) -> Vec<Outcome> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(120));
    let mut roles: BTreeMap<Role, Vec<PartyId>> = BTreeMap::new();
    for (role, pid, _) in parties {
        roles.entry(*role).or_default().push(*pid);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parties
            .iter()
            .map(|(role, pid, table)| {
                let fed = hub.party(*role, *pid);
                let (roles, p) = (roles.clone(), params.clone());
                s.spawn(move || {
                    run_one(
                        store,
                        component,
                        p,
                        (*role, *pid),
                        roles,
                        fed,
                        table,
                        None,
                        memory,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    })
}

/// The output of `o`: its table id.
fn output_id(o: &Outcome) -> TableId {
    let (_, t) = o
        .tracker
        .output_data()
        .into_iter()
        .rfind(|(name, _)| name == "data")
        .expect("output data");
    TableId::new(&t.namespace, &t.name).unwrap()
}

/// Block digests of a table read in blocks of `rows` rows.
fn digests(store: &LocalTableStore, id: &TableId, rows: usize) -> Vec<u64> {
    read_blocks(store, id, rows)
        .unwrap()
        .map(|b| sid_digest(b.unwrap().sids()))
        .collect()
}

/// Checks that every party wrote `expected` with its own input values, and that the
/// outputs are aligned: same partition count (the guest's), equal digests block by block.
fn check_aligned(
    store: &LocalTableStore,
    out: &[Outcome],
    expected: &BTreeSet<String>,
    what: &str,
) {
    for o in out {
        o.result.as_ref().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(o.ids.as_ref(), Some(expected), "{what}");
    }
    let guest = output_id(&out[0]);
    let partitions = store.info(&guest).unwrap().partitions;
    for rows in [1, 7, 64, 1000] {
        let reference = digests(store, &guest, rows);
        assert_eq!(reference.len(), expected.len().div_ceil(rows), "{what}");
        for o in &out[1..] {
            let host = output_id(o);
            assert_eq!(store.info(&host).unwrap().partitions, partitions, "{what}");
            assert_eq!(
                digests(store, &host, rows),
                reference,
                "{what}: blocks of {rows}"
            );
        }
    }
}

#[test]
fn every_party_writes_the_same_ids_in_the_same_scan_order() {
    let (_dir, store) = temp_store();
    let guest = ids(0..300);
    let hosts = [ids(100..400), ids(0..250)];
    let expected = plain(&guest, &hosts);
    let layouts = [(3u32, 2usize, true), (5, 3, false), (2, 1, false)];
    for (n, params) in [
        json!({"intersect_method": "ecdh"}),
        json!({"intersect_method": "ecdh", "only_output_key": true}),
        json!({"intersect_method": "dh", "dh_params": {"key_length": 1024}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024}}),
        json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024, "split_calculation": true}}),
        json!({"intersect_method": "ecdh", "run_preprocess": true,
               "intersect_preprocess_params": {"false_positive_rate": 0.05}}),
    ]
    .into_iter()
    .enumerate()
    {
        let all = [&guest, &hosts[0], &hosts[1]];
        let parties: Vec<(Role, PartyId, TableRef)> = all
            .iter()
            .zip(layouts)
            .enumerate()
            .map(|(i, (ids, (parts, ncols, label)))| {
                let (role, pid) = if i == 0 {
                    (Role::Guest, GUEST)
                } else {
                    (Role::Host, 10000 + i as u64 - 1)
                };
                let t = table_with(&store, &format!("aligned_{n}_{i}"), ids, parts, ncols, label);
                (role, pid, t)
            })
            .collect();
        let component = format!("intersection_{n}");
        let out = run_tables(&store, &component, &params, &parties, MemoryBudget::default());
        check_aligned(&store, &out, &expected, &params.to_string());
        let only_key = params["only_output_key"].as_bool().unwrap_or(false);
        // Each party's rows keep their own values (and the guest its label).
        for (o, (_, _, input)) in out.iter().zip(&parties) {
            let written = frame(&store, &TableRef::new(output_id(o).namespace(), output_id(o).name()));
            let whole = frame(&store, input);
            let source: BTreeMap<&String, &[f64]> = whole.sids().iter().zip(whole.rows()).collect();
            if only_key {
                assert_eq!(written.ncols(), 0);
                continue;
            }
            assert_eq!(written.label_name(), whole.label_name());
            for (sid, row) in written.sids().iter().zip(written.rows()) {
                assert_eq!(source[sid], row, "{params}: {sid}");
            }
        }
        assert!(
            out.iter().all(|o| o.tracker.info_lines().iter().any(|l| l.starts_with("phases: own ids"))),
            "{params}: every party logs its phases"
        );
        assert!(out[0].tracker.summary().unwrap()["phases"]["total_s"].is_number());
    }
}

#[test]
fn a_small_budget_spills_to_disk_matches_the_same_rows_and_cleans_up() {
    let (_dir, store) = temp_store();
    for (n, params, count) in [
        (0, json!({"intersect_method": "ecdh"}), 20_000u32),
        (
            1,
            json!({"intersect_method": "rsa", "rsa_params": {"key_length": 1024}}),
            2_500,
        ),
    ] {
        let guest = ids(0..count);
        let host = ids(count / 5..count + count / 5);
        let expected = plain(&guest, std::slice::from_ref(&host));
        let parties = vec![
            (
                Role::Guest,
                GUEST,
                table_with(&store, &format!("small_g{n}"), &guest, 4, 3, true),
            ),
            (
                Role::Host,
                10000,
                table_with(&store, &format!("small_h{n}"), &host, 2, 5, false),
            ),
        ];
        let component = format!("intersection_small_budget_{n}");
        let out = run_tables(
            &store,
            &component,
            &params,
            &parties,
            MemoryBudget::from_mb(1),
        );
        check_aligned(&store, &out, &expected, &params.to_string());
        let lines = out[0].tracker.info_lines();
        assert!(
            lines.iter().any(|l| l.contains("buckets on disk")),
            "{params}: the guest matched in buckets on disk: {lines:?}"
        );
        for o in &out {
            let lines = o.tracker.info_lines();
            // 20k rows of the ecdh run do not fit a quarter of 1 MB: sorted runs on disk.
            assert_eq!(
                lines
                    .iter()
                    .any(|l| l.contains("sorted runs merged from disk")),
                n == 0,
                "{params}: {lines:?}"
            );
        }
        let prefix = format!("fateflow-intersection-test_job-{component}-");
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "scratch left behind: {left:?}");
    }
}

#[test]
fn in_memory_runs_over_the_budget_are_refused_naming_the_component() {
    let (_dir, store) = temp_store();
    let parties = vec![
        (
            Role::Guest,
            GUEST,
            table_with(&store, "refused_g", &ids(0..5000), 2, 1, false),
        ),
        (
            Role::Host,
            10000,
            table_with(&store, "refused_h", &ids(0..5000), 2, 1, false),
        ),
    ];
    let params = json!({"intersect_method": "ecdh", "run_preprocess": true,
                        "intersect_preprocess_params": {"false_positive_rate": 0.05}});
    let out = run_tables(
        &store,
        "intersection_refused_quick",
        &params,
        &parties,
        MemoryBudget::from_mb(1),
    );
    for o in &out {
        let e = o.result.as_ref().unwrap_err().to_string();
        assert!(
            e.contains("Intersection") && e.contains("run_preprocess") && e.contains("task_memory"),
            "{e}"
        );
    }
}

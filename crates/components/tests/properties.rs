//! Property tests: topological order on random DAGs, and a parser that never panics.

use fateflow_components::CATALOG;
use fateflow_domain::dag::{edges, topological_order};
use fateflow_domain::Job;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A random DAG: `n` components in a shuffled written order, each reading from some
/// components with a lower rank.
fn random_dag() -> impl Strategy<Value = Value> {
    (1usize..25)
        .prop_flat_map(|n| {
            let deps = proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                n,
            );
            (
                Just(n),
                deps,
                Just(()).prop_perturb(move |_, mut rng| {
                    let mut order: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        let j = rng.random_range(0..=i);
                        order.swap(i, j);
                    }
                    order
                }),
            )
        })
        .prop_map(|(n, deps, order)| {
            let mut comps = Map::new();
            for &rank in &order {
                let name = format!("c{rank}_0");
                let mut refs: Vec<String> = Vec::new();
                if rank > 0 {
                    for d in &deps[rank] {
                        let up = d.index(rank);
                        let r = format!("c{up}_0.data");
                        if !refs.contains(&r) {
                            refs.push(r);
                        }
                    }
                }
                let module = if rank == 0 { "Reader" } else { "Union" };
                let mut c = json!({"module": module, "output": {"data": ["data"]}});
                if !refs.is_empty() {
                    c["input"] = json!({"data": {"data": refs}});
                }
                comps.insert(name, c);
            }
            let _ = n;
            json!({"components": comps})
        })
}

fn conf() -> Value {
    json!({"initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999]},
           "component_parameters": {"common": {"c0_0": {"table": {"name": "t", "namespace": "n"}}}}})
}

proptest! {
    #[test]
    fn topological_order_respects_every_edge(dsl in random_dag()) {
        let job = Job::parse(&dsl, &conf(), CATALOG).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let order = topological_order(&job.dsl).unwrap();
        prop_assert_eq!(order.len(), job.dsl.components.len());
        let mut pos = vec![0; order.len()];
        for (p, &i) in order.iter().enumerate() {
            pos[i] = p;
        }
        for (a, b) in edges(&job.dsl) {
            prop_assert!(pos[a] < pos[b], "edge {} -> {} violated", a, b);
        }
        let names = job.topological_order();
        let plan = job.plan();
        prop_assert_eq!(plan.iter().map(|t| t.component.as_str()).collect::<Vec<_>>(), names);
    }

    #[test]
    fn a_back_edge_is_reported_as_a_cycle(dsl in random_dag(), pick in any::<prop::sample::Index>()) {
        let mut dsl = dsl;
        let n = dsl["components"].as_object().unwrap().len();
        prop_assume!(n >= 2);
        let up = pick.index(n - 1) + 1; // a non-reader component
        // Make c1_0 (or the reader's first dependent) read from `up`'s output when up
        // depends on it transitively: simplest certain cycle is a self-loop via a twin.
        let name = format!("c{up}_0");
        dsl["components"][&name]["input"] = json!({"data": {"data": [format!("c{up}_0.data")]}});
        let err = Job::parse(&dsl, &conf(), CATALOG).unwrap_err();
        prop_assert!(err.iter().any(|e| e.component.as_deref() == Some(name.as_str())));
    }

    #[test]
    fn parser_never_panics_on_random_bytes(dsl in proptest::collection::vec(any::<u8>(), 0..256),
                                           conf in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Job::parse_str(&String::from_utf8_lossy(&dsl), &String::from_utf8_lossy(&conf), CATALOG);
    }

    #[test]
    fn parser_never_panics_on_random_json(dsl in arb_json(), conf in arb_json()) {
        let _ = Job::parse(&dsl, &conf, CATALOG);
        let _ = Job::parse_str(&dsl.to_string(), &conf.to_string(), CATALOG);
    }

    #[test]
    fn parser_never_panics_on_mutated_jobs(path in proptest::collection::vec(any::<prop::sample::Index>(), 1..5),
                                           replacement in arb_json()) {
        let dsl: Value = serde_json::from_str(include_str!("../../../examples/jobs/hetero_lr/dsl.json")).unwrap();
        let conf: Value = serde_json::from_str(include_str!("../../../examples/jobs/hetero_lr/conf.json")).unwrap();
        for mut target in [dsl.clone(), conf.clone()] {
            replace_at(&mut target, &path, replacement.clone());
            let (d, c) = if target.get("components").is_some() { (target, conf.clone()) } else { (dsl.clone(), target) };
            let _ = Job::parse(&d, &c, CATALOG).map(|j| j.plan());
        }
    }
}

fn replace_at(v: &mut Value, path: &[prop::sample::Index], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(first.index(m.len())).cloned().unwrap();
            replace_at(m.get_mut(&key).unwrap(), rest, new);
        }
        Value::Array(a) if !a.is_empty() => {
            let i = first.index(a.len());
            replace_at(&mut a[i], rest, new);
        }
        _ => *v = new,
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just("components".to_string()),
            Just("module".to_string()),
            Just("Reader".to_string()),
            Just("input".to_string()),
            Just("data".to_string()),
            Just("role".to_string()),
            Just("guest".to_string()),
            Just("a.b".to_string()),
            Just("args.x".to_string()),
            "[a-z_.|0-9]{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("components".to_string()),
                        Just("module".to_string()),
                        Just("input".to_string()),
                        Just("output".to_string()),
                        Just("data".to_string()),
                        Just("model".to_string()),
                        Just("role".to_string()),
                        Just("initiator".to_string()),
                        Just("guest".to_string()),
                        Just("host".to_string()),
                        Just("common".to_string()),
                        Just("0".to_string()),
                        Just("0|1".to_string()),
                        Just("all".to_string()),
                        Just("party_id".to_string()),
                        Just("component_parameters".to_string()),
                        Just("dsl_version".to_string()),
                        "[a-z_0-9]{1,6}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

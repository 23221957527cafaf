//! The catalog of parameter schemas against the components: every registered module has
//! a schema and every schema a component. That every key marked implemented is read, and
//! that the parsers default as the schemas say, the family crates test on their parsers
//! (`every_key_marked_implemented_is_read`, `parsers_default_as_the_schemas_say`).

use fateflow_components::{registry, CATALOG};
use fateflow_domain::module::MODULES;
use serde_json::{json, Value};

#[test]
fn schemas_match_the_registry() {
    let reg = registry();
    let mut problems = Vec::new();
    for m in registry().modules() {
        if CATALOG.schema(m).is_none() {
            problems.push(format!("{m}: registered without a schema"));
        }
    }
    for m in CATALOG.schemas() {
        if reg.get(m.name).is_none() {
            problems.push(format!("{}: a schema without a component", m.name));
        }
        if !MODULES.iter().any(|info| info.name == m.name) {
            problems.push(format!(
                "{}: not in fateflow_domain::module::MODULES",
                m.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn defaults_compare_as_fate_reads_them() {
    let lr = CATALOG.schema("HeteroLR").unwrap();
    let get = |path: &str| lr.params().find(|p| p.path == path).unwrap();
    assert!(get("batch_strategy").is_default(&json!("FULL")));
    assert!(!get("batch_strategy").is_default(&json!("random")));
    assert!(get("masked_rate").is_default(&json!(5.0)));
    assert!(get("callback_param.callbacks").is_default(&json!(null)));
    assert!(get("callback_param").is_default(&json!({})));
    assert!(!get("encrypt_param.key_length").is_default(&json!(1024)));
}

#[test]
fn conditions_follow_the_governing_key() {
    let binning = CATALOG.schema("HeteroFeatureBinning").unwrap();
    let optimal = json!({"method": "optimal"});
    let quantile = json!({"method": "quantile"});
    let path = "optimal_binning_param.metric_method";
    assert!(binning.applies(path, |k| optimal.get(k)));
    assert!(!binning.applies(path, |k| quantile.get(k)));
    // Absent: FATE's default (`quantile`).
    assert!(!binning.applies(path, |_| None));
    assert!(binning.applies("bin_num", |_| None));
    let selection = CATALOG.schema("HeteroFeatureSelection").unwrap();
    let with_psi = json!({"filter_methods": ["manually", "psi_filter"]});
    assert!(selection.applies("psi_param.threshold", |k| with_psi.get(k)));
    assert!(!selection.applies("psi_param.threshold", |_| None));
}

#[test]
fn every_schema_is_complete_with_need_run() {
    for m in CATALOG.schemas() {
        assert!(m.params().any(|p| p.path == "need_run"), "{}", m.name);
        for p in m.params() {
            if let Some((parent, _)) = p.path.rsplit_once('.') {
                assert!(
                    m.params().any(|q| q.path == parent),
                    "{}: `{}` has no parent entry",
                    m.name,
                    p.path
                );
            }
            if !p.is_object() {
                assert!(
                    serde_json::from_str::<Value>(p.default).is_ok(),
                    "{}: default of `{}`",
                    m.name,
                    p.path
                );
            }
        }
    }
}

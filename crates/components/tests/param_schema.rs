//! The catalog of parameter schemas against the components: every registered module has
//! a schema and every schema a component, and every key marked implemented is named in
//! its component's source (a coarse check kept for the modules that read parameters
//! outside `Params`; the family crates' `every_key_marked_implemented_is_read` tests
//! record the keys their parsers actually look up).

use std::path::Path;

use fateflow_components::{registry, CATALOG};
use fateflow_domain::module::MODULES;
use serde_json::{json, Value};

/// Where each implemented module's parameters are read (under `crates/`).
const SOURCES: &[(&str, &str)] = &[
    ("Reader", "components-data/src/reader.rs"),
    ("DataTransform", "components-data/src/data_transform"),
    ("Intersection", "components-data/src/intersection.rs"),
    ("FeatureScale", "components-data/src/feature_scale"),
    ("HeteroFeatureBinning", "components-feature/src/binning"),
    ("HeteroFeatureSelection", "components-feature/src/selection"),
    ("HeteroLR", "components-linear/src/linear"),
    ("HeteroLinR", "components-linear/src/linear"),
    ("Evaluation", "components-eval/src/evaluation"),
    ("HeteroDataSplit", "components-data/src/data_split.rs"),
    ("Union", "components-data/src/union.rs"),
    ("FederatedSample", "components-data/src/sample.rs"),
];

fn source_text(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    } else {
        std::fs::read_to_string(&path).unwrap()
    }
}

/// The source without its schema declarations, which name every key.
fn without_schema_tables(text: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("const ") && (line.ends_with("= &[") || line.ends_with('=')) {
            in_table = true;
        }
        if !in_table && !line.starts_with("const ") {
            out.push_str(line);
            out.push('\n');
        }
        if line.trim_end().ends_with("];") {
            in_table = false;
        }
    }
    out
}

#[test]
fn schemas_match_the_registry_and_implemented_keys_are_named() {
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
        let Some((_, rel)) = SOURCES.iter().find(|(n, _)| *n == m.name) else {
            problems.push(format!("{}: no source listed in SOURCES", m.name));
            continue;
        };
        let text = without_schema_tables(&source_text(rel));
        for p in m.params().filter(|p| p.implemented) {
            // `need_run` is the scheduler's (a party that does not run passes its task).
            if p.path == "need_run" {
                continue;
            }
            let leaf = p.path.rsplit('.').next().unwrap();
            if !text.contains(&format!("\"{leaf}\"")) {
                problems.push(format!(
                    "{}: `{}` is marked implemented but crates/{rel} never reads \"{leaf}\"",
                    m.name, p.path
                ));
            }
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

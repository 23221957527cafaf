//! The submit-time parameter tables (`fateflow_domain::module`) against the components:
//! every module whose table is complete is registered here, and every key marked
//! implemented is read by its component's source (its name appears there as a string),
//! so that no key passes submit as "implemented" while the component ignores it.

use std::path::Path;

use fateflow_components::registry;
use fateflow_domain::module::MODULES;

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

#[test]
fn complete_tables_match_the_registry_and_implemented_keys_are_read() {
    let reg = registry();
    let mut problems = Vec::new();
    for m in MODULES {
        if m.complete != reg.get(m.name).is_some() {
            problems.push(format!(
                "{}: complete table {}, registered {}",
                m.name,
                m.complete,
                reg.get(m.name).is_some()
            ));
        }
        if !m.complete {
            continue;
        }
        let Some((_, rel)) = SOURCES.iter().find(|(n, _)| *n == m.name) else {
            problems.push(format!("{}: no source listed in SOURCES", m.name));
            continue;
        };
        let text = source_text(rel);
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

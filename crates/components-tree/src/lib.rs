//! FATE's tree models: `HeteroSecureBoost` (see [`secureboost`]).
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod secureboost;

// Some are for the component, not written yet.
#[allow(unused_imports)]
use fateflow_component_core::{context, error, params, predict_output, rng, table_io, wire};
#[allow(unused_imports)]
use fateflow_components_eval::evaluation;

pub use secureboost::HeteroSecureBoost;

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[secureboost::param::SCHEMA];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components =
    &[("HeteroSecureBoost", &HeteroSecureBoost)];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{default_drift_except, unread_implemented_keys};
    use serde_json::{json, Value};

    use crate::secureboost::param::{SbtParam, SCHEMA};

    #[test]
    fn every_key_marked_implemented_is_read() {
        // Keys read only under another key's value.
        let overlays = [
            json!({"cv_param.need_cv": true}),
            json!({"early_stopping_rounds": 2, "validation_freqs": 1}),
            json!({"task_type": "regression", "objective_param.objective": "tweedie",
                "objective_param.params": [1.5]}),
            json!({"boosting_strategy": "layered"}),
            json!({"work_mode": "mix"}),
            json!({"use_missing": true, "run_goss": true}),
        ];
        let unread = unread_implemented_keys(&SCHEMA, &overlays, &|map| {
            let _ = SbtParam::parse(map);
        });
        assert!(unread.is_empty(), "{}: never read: {unread:?}", SCHEMA.name);
        assert_eq!(
            super::SCHEMAS.len(),
            1,
            "a schema of this family is not checked here"
        );
    }

    #[test]
    fn parsers_default_as_the_schemas_say() {
        let overlays = [
            json!({"cv_param.need_cv": true}),
            json!({"task_type": "regression", "objective_param.objective": "lse"}),
            json!({"boosting_strategy": "layered"}),
            json!({"boosting_strategy": "mix"}),
            json!({"use_missing": true}),
        ];
        // FATE treats these deprecated keys as given even at their default value.
        let given_at_default = [
            "metrics",
            "use_first_metric_only",
            "validation_freqs",
            "early_stopping_rounds",
        ];
        let problems = default_drift_except(&SCHEMA, &overlays, &given_at_default, &|map| {
            SbtParam::parse(map)
        });
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// FATE 1.11's own HeteroSecureBoost example confs parse (common parameters only).
    #[test]
    fn fates_example_confs_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fate-examples/dsl/v2/hetero_secureboost");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("SKIPPED: {} is absent", dir.display());
            return;
        };
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("conf.json"))
            .collect();
        files.sort();
        let mut checked = 0;
        let mut problems = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let conf: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let common = &conf["component_parameters"]["common"];
            for cpn in ["hetero_secure_boost_0", "hetero_secure_boost_1"] {
                let Some(map) = common.get(cpn).and_then(Value::as_object) else {
                    continue;
                };
                checked += 1;
                if let Err(e) = SbtParam::parse(map) {
                    problems.push(format!("{} {cpn}: {e}", file.display()));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(
            checked > 0,
            "no HeteroSecureBoost conf in {}",
            dir.display()
        );
    }
}

//! FATE's linear models: `HeteroLR`, `HeteroLinR` and `HeteroPoisson` (see [`linear`]), and
//! `LocalBaseline`, a plain logistic regression on one party's data.
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod linear;
pub mod local_baseline;

use fateflow_component_core::{
    context, error, memory, numpy_rng, params, predict_output, rng, table_io, wire,
};
use fateflow_components_eval::evaluation;

pub use linear::predict::sigmoid;
pub use linear::{
    HeteroLR, HeteroLinR, HeteroPoisson, HeteroSSHELR, HeteroSSHELinR, LinearModelParam,
};

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[
    linear::param::HETERO_LR_SCHEMA,
    linear::param::HETERO_LINR_SCHEMA,
    linear::param::HETERO_POISSON_SCHEMA,
    linear::param::HETERO_SSHE_LR_SCHEMA,
    linear::param::HETERO_SSHE_LINR_SCHEMA,
    local_baseline::SCHEMA,
];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("HeteroLR", &HeteroLR),
    ("HeteroLinR", &HeteroLinR),
    ("HeteroPoisson", &HeteroPoisson),
    ("HeteroSSHELR", &HeteroSSHELR),
    ("HeteroSSHELinR", &HeteroSSHELinR),
    ("LocalBaseline", &local_baseline::LocalBaseline),
];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{default_drift_except, unread_implemented_keys};
    use serde_json::json;

    use crate::linear::param::{
        LinearParam, Task, HETERO_LINR_SCHEMA, HETERO_LR_SCHEMA, HETERO_POISSON_SCHEMA,
        HETERO_SSHE_LINR_SCHEMA, HETERO_SSHE_LR_SCHEMA,
    };

    /// Each linear module's schema, its task and whether it is an SSHE module.
    const LINEAR_MODULES: [(super::ModuleSchema, Task, bool); 5] = [
        (HETERO_LR_SCHEMA, Task::Logistic, false),
        (HETERO_LINR_SCHEMA, Task::Linear, false),
        (HETERO_POISSON_SCHEMA, Task::Poisson, false),
        (HETERO_SSHE_LR_SCHEMA, Task::Logistic, true),
        (HETERO_SSHE_LINR_SCHEMA, Task::Linear, true),
    ];

    #[test]
    fn every_key_marked_implemented_is_read() {
        // Keys read only under another key's value.
        let overlays = [
            json!({"init_param.init_method": "const"}),
            json!({"cv_param.need_cv": true}),
            json!({"early_stopping_rounds": 2, "validation_freqs": 1}),
            json!({"stepwise_param.need_stepwise": true}),
        ];
        for (schema, task, sshe) in LINEAR_MODULES {
            let unread = unread_implemented_keys(&schema, &overlays, &|map| {
                let _ = LinearParam::parse_for(task, sshe, map);
            });
            assert!(unread.is_empty(), "{}: never read: {unread:?}", schema.name);
        }
        let unread = unread_implemented_keys(&crate::local_baseline::SCHEMA, &[], &|map| {
            let _ = crate::local_baseline::LocalBaselineParam::parse(map);
        });
        assert!(unread.is_empty(), "LocalBaseline: never read: {unread:?}");
        assert_eq!(
            super::SCHEMAS.len(),
            6,
            "a schema of this family is not checked here"
        );
    }

    #[test]
    fn parsers_default_as_the_schemas_say() {
        let overlays = [
            json!({"init_param.init_method": "const"}),
            json!({"cv_param.need_cv": true}),
        ];
        // FATE treats these deprecated keys as given even at their default value.
        let given_at_default = [
            "metrics",
            "use_first_metric_only",
            "validation_freqs",
            "early_stopping_rounds",
        ];
        let mut problems = Vec::new();
        for (schema, task, sshe) in LINEAR_MODULES {
            problems.extend(default_drift_except(
                &schema,
                &overlays,
                &given_at_default,
                &|map| LinearParam::parse_for(task, sshe, map),
            ));
        }
        problems.extend(fateflow_component_core::testing::default_drift(
            &crate::local_baseline::SCHEMA,
            &[],
            &crate::local_baseline::LocalBaselineParam::parse,
        ));
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

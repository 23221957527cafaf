//! FATE's `Evaluation` component: binary, multi-class and regression metrics of a model's
//! predictions, under FATE's metric names.
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod evaluation;

#[cfg(test)]
use fateflow_component_core::testing;
use fateflow_component_core::{context, error, params, predict_output, table_io};

pub use evaluation::Evaluation;

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[evaluation::param::SCHEMA];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[("Evaluation", &Evaluation)];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{default_drift, unread_implemented_keys};
    use serde_json::json;

    use crate::evaluation::param::{EvaluationParam, SCHEMA};

    #[test]
    fn every_key_marked_implemented_is_read() {
        let unread = unread_implemented_keys(&SCHEMA, &[], &|map| {
            let _ = EvaluationParam::parse(map);
        });
        assert!(unread.is_empty(), "Evaluation: never read: {unread:?}");
        assert_eq!(
            super::SCHEMAS.len(),
            1,
            "a schema of this family is not checked here"
        );
    }

    #[test]
    fn parser_defaults_as_the_schema_says() {
        let overlays = [
            json!({"eval_type": "multi"}),
            json!({"eval_type": "regression"}),
        ];
        let problems = default_drift(&SCHEMA, &overlays, &EvaluationParam::parse);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

//! FATE's components on a model's predictions: `Evaluation` (binary, multi-class and
//! regression metrics under FATE's metric names) and `Scorecard` (credit scores).
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod evaluation;
pub mod scorecard;

#[cfg(test)]
use fateflow_component_core::testing;
use fateflow_component_core::{context, error, params, predict_output, table_io};

pub use evaluation::Evaluation;
pub use scorecard::Scorecard;

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[evaluation::param::SCHEMA, scorecard::SCHEMA];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components =
    &[("Evaluation", &Evaluation), ("Scorecard", &Scorecard)];

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
        let unread = unread_implemented_keys(&crate::scorecard::SCHEMA, &[], &|map| {
            let _ = crate::scorecard::ScorecardParam::parse(map);
        });
        assert!(unread.is_empty(), "Scorecard: never read: {unread:?}");
        assert_eq!(
            super::SCHEMAS.len(),
            2,
            "a schema of this family is not checked here"
        );
    }

    #[test]
    fn parser_defaults_as_the_schema_says() {
        let overlays = [
            json!({"eval_type": "multi"}),
            json!({"eval_type": "regression"}),
        ];
        let mut problems = default_drift(&SCHEMA, &overlays, &EvaluationParam::parse);
        problems.extend(default_drift(
            &crate::scorecard::SCHEMA,
            &[],
            &crate::scorecard::ScorecardParam::parse,
        ));
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

//! FATE's `Evaluation` component: binary, multi-class and regression metrics of a model's
//! predictions, under FATE's metric names.
#![warn(missing_docs)]

pub mod evaluation;

#[cfg(test)]
use fateflow_component_core::testing;
use fateflow_component_core::{context, error, params, predict_output, table_io};

pub use evaluation::Evaluation;

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[("Evaluation", &Evaluation)];

//! Helpers shared by the integration tests: the core's and the data family's test
//! helpers, and the components these tests run.
#![allow(dead_code, unused_imports)]

use fateflow_component_core::{Result, TaskContext};
pub(crate) use fateflow_components_data::testing::*;

pub(crate) mod parties;

/// The components these tests run, by module name.
pub(crate) fn registry() -> Families {
    Families(&[
        fateflow_components_data::COMPONENTS,
        fateflow_components_linear::COMPONENTS,
    ])
}

/// Runs the context's module.
pub(crate) fn run(ctx: &TaskContext<'_>) -> Result<()> {
    registry().run(ctx)
}

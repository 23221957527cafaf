//! FATE's hetero linear models: `HeteroLR` and `HeteroLinR` (see [`linear`]).
#![warn(missing_docs)]

pub mod linear;

use fateflow_component_core::{context, error, params, predict_output, rng, table_io, wire};
use fateflow_components_eval::evaluation;

pub use linear::{HeteroLR, HeteroLinR, LinearModelParam};

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components =
    &[("HeteroLR", &HeteroLR), ("HeteroLinR", &HeteroLinR)];

//! FATE's feature engineering components: `HeteroFeatureBinning` and
//! `HeteroFeatureSelection` (whose IV filters read a binning model of this crate).
#![warn(missing_docs)]

pub mod binning;
pub mod selection;

use fateflow_component_core::{context, error, params, table_io, wire};

pub use binning::{FeatureBinningModel, HeteroFeatureBinning};
pub use selection::{FeatureSelectionModel, HeteroFeatureSelection};

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("HeteroFeatureBinning", &HeteroFeatureBinning),
    ("HeteroFeatureSelection", &HeteroFeatureSelection),
];

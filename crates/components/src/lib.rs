#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod registry;

pub use fateflow_component_core::memory::{self, MemoryBudget};
pub use fateflow_component_core::{
    canonical_module, feature_header, predict_output, testing, Component, ComponentModel, Error,
    ErrorKind, Metric, ModelError, ModelInput, Result, TableRef, TaskContext, TaskInputs, Tracker,
};
pub use fateflow_components_data::{
    data_split, data_transform, feature_scale, intersection, reader, sample, union, DataTransform,
    DataTransformModel, FeatureScale, FeatureScaleModel, Reader,
};
pub use fateflow_components_eval::{evaluation, Evaluation};
pub use fateflow_components_feature::{
    binning, selection, FeatureBinningModel, FeatureSelectionModel, HeteroFeatureBinning,
    HeteroFeatureSelection,
};
pub use fateflow_components_linear::{linear, HeteroLR, HeteroLinR, LinearModelParam};
pub use fateflow_components_tree::{secureboost, HeteroSecureBoost};
pub use registry::{registry, Registry};

/// Every implemented module's parameter schema, for submit-time validation.
pub const CATALOG: fateflow_domain::Catalog = fateflow_domain::Catalog::new(&[
    fateflow_components_data::SCHEMAS,
    fateflow_components_feature::SCHEMAS,
    fateflow_components_linear::SCHEMAS,
    fateflow_components_tree::SCHEMAS,
    fateflow_components_eval::SCHEMAS,
]);

#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod binning;
mod context;
pub mod data_split;
pub mod data_transform;
mod error;
pub mod evaluation;
pub mod feature_scale;
pub mod intersection;
pub mod linear;
mod params;
pub mod predict_output;
pub mod reader;
mod registry;
mod rng;
pub mod sample;
pub mod selection;
mod table_io;
pub mod testing;
pub mod union;

pub use binning::{FeatureBinningModel, HeteroFeatureBinning};
pub use context::{
    canonical_module, Component, ComponentModel, Metric, ModelError, ModelInput, TableRef,
    TaskContext, TaskInputs, Tracker,
};
pub use data_transform::{feature_header, DataTransform, DataTransformModel};
pub use error::{Error, ErrorKind, Result};
pub use evaluation::Evaluation;
pub use feature_scale::{FeatureScale, FeatureScaleModel};
pub use linear::{HeteroLR, HeteroLinR, LinearModelParam};
pub use reader::Reader;
pub use registry::{registry, Registry};
pub use selection::{FeatureSelectionModel, HeteroFeatureSelection};

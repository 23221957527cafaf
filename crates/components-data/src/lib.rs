//! FATE's data components: `Reader`, `DataTransform` (alias `DataIO`), `FeatureScale`,
//! `Union`, `FederatedSample`, `HeteroDataSplit` (alias `DataSplit`) and `Intersection`.
#![warn(missing_docs)]

pub mod data_split;
pub mod data_transform;
pub mod feature_scale;
pub mod intersection;
pub mod reader;
pub mod sample;
pub mod testing;
pub mod union;

use fateflow_component_core::{context, error, params, rng, table_io};

pub use data_transform::{DataTransform, DataTransformModel};
pub use feature_scale::{FeatureScale, FeatureScaleModel};
pub use reader::Reader;

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("Reader", &Reader),
    ("DataTransform", &DataTransform),
    ("FeatureScale", &FeatureScale),
    ("Intersection", &intersection::Intersection),
    ("HeteroDataSplit", &data_split::DataSplit),
    ("Union", &union::Union),
    ("FederatedSample", &sample::FederatedSample),
];

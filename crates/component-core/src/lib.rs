#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod callbacks;
pub mod context;
pub mod error;
pub mod memory;
pub mod numpy_rng;
pub mod params;
pub mod predict_output;
pub mod rng;
pub mod table_io;
pub mod testing;
pub mod wire;

pub use context::{
    canonical_module, Component, ComponentModel, Metric, ModelError, ModelInput, TableRef,
    TaskContext, TaskInputs, Tracker,
};
pub use error::{Error, ErrorKind, Result};
pub use table_io::feature_header;

/// A family crate's components, by canonical FATE module name.
pub type Components = &'static [(&'static str, &'static dyn Component)];

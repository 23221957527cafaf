//! The `FeatureScale` model, shaped like FATE's `ScaleParam` / `ScaleMeta` protobufs
//! (field names kept), stored as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "FeatureScale";

/// The fitted numbers of one scaled column (FATE's `ColumnScaleParam`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnScaleParam {
    /// Values above it are clipped to it (the column maximum, or the given bound).
    pub column_upper: f64,
    /// Values below it are clipped to it (the column minimum, or the given bound).
    pub column_lower: f64,
    /// The mean subtracted by `standard_scale` (0 for `min_max_scale`, and with
    /// `with_mean` false).
    #[serde(default)]
    pub mean: f64,
    /// The divisor of `standard_scale` (0 for `min_max_scale`, 1 with `with_std` false).
    #[serde(default)]
    pub std: f64,
}

/// Fitted values (FATE's `ScaleParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// The scaled columns.
    pub col_scale_param: BTreeMap<String, ColumnScaleParam>,
    /// Every feature column of the fitting data (the label excluded), in order.
    pub header: Vec<String>,
}

/// Settings (FATE's `ScaleMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `min_max_scale` or `standard_scale`.
    pub method: String,
    /// `normal` or `cap`.
    pub mode: String,
    /// Always `"null"`, as in FATE.
    #[serde(default)]
    pub area: String,
    /// The scaled columns, in header order.
    pub scale_column: Vec<String>,
    /// `feat_upper` as it was applied: `null`, a number, or one number per feature (in
    /// `cap` mode the upper quantile, 1 by default).
    #[serde(default)]
    pub feat_upper: Value,
    /// `feat_lower`, like `feat_upper` (in `cap` mode the lower quantile, 0 by default).
    #[serde(default)]
    pub feat_lower: Value,
    /// `with_mean` (false for `min_max_scale`).
    #[serde(default)]
    pub with_mean: bool,
    /// `with_std` (false for `min_max_scale`).
    #[serde(default)]
    pub with_std: bool,
    /// Always true: a task that does not run saves no model.
    #[serde(default)]
    pub need_run: bool,
}

/// A typed `FeatureScale` model.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureScaleModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl FeatureScaleModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(FeatureScaleModel { param, meta })
    }
}

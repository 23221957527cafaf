//! The `FeatureImputation` model, shaped like FATE's `FeatureImputationMeta` /
//! `FeatureImputationParam` protobufs (field names kept), stored as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "FeatureImputation";

/// FATE's `FeatureImputerMeta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImputerMeta {
    /// Always true.
    pub is_imputer: bool,
    /// Empty, as FATE leaves it once per-column methods are known.
    #[serde(default)]
    pub strategy: String,
    /// The values regarded as missing, as Python's `str()` writes them.
    pub missing_value: Vec<String>,
    /// Each missing value's Python type (`str`, `int`, `float`).
    pub missing_value_type: Vec<String>,
}

/// Settings (FATE's `FeatureImputationMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
    /// The imputer's settings.
    pub imputer_meta: ImputerMeta,
}

/// FATE's `FeatureImputerParam`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImputerParam {
    /// The fill value of each imputed column, as Python's `str()` writes it.
    pub missing_replace_value: BTreeMap<String, String>,
    /// Each fill value's Python type (`int`, `float`, `float64`).
    pub missing_replace_value_type: BTreeMap<String, String>,
    /// The share of the fitting rows filled, per column.
    pub missing_value_ratio: BTreeMap<String, f64>,
    /// The method of every column (`"None"` for a column not imputed).
    pub cols_replace_method: BTreeMap<String, String>,
    /// The columns not imputed.
    pub skip_cols: Vec<String>,
}

/// Fitted values (FATE's `FeatureImputationParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// The feature columns of the fitting data, in order.
    pub header: Vec<String>,
    /// The fill values.
    pub imputer_param: ImputerParam,
}

/// A typed `FeatureImputation` model.
#[derive(Debug, Clone, PartialEq)]
pub struct ImputationModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl ImputationModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(ImputationModel { param, meta })
    }
}

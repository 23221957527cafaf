//! The `DataTransform` model, shaped like FATE's `DataTransformParam` /
//! `DataTransformMeta` protobufs (field names kept), stored as JSON.
//!
//! Differences from FATE: replacement values and ratios are JSON numbers, not strings,
//! and `label_name` / `label_type` are `null` without a label.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "DataTransform";

/// Fitted values (FATE's `DataTransformParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// The feature columns, in output order (the label and match-id columns excluded).
    pub header: Vec<String>,
    /// Name of the sid column of the fitting data.
    pub sid_name: String,
    /// The label column, when the model was fitted with one.
    #[serde(default)]
    pub label_name: Option<String>,
    /// Whether the model was fitted with a label.
    #[serde(default)]
    pub with_label: bool,
    /// Missing-fill values and ratios.
    #[serde(default)]
    pub imputer_param: ImputerParam,
    /// Outlier-replace values and ratios.
    #[serde(default)]
    pub outlier_param: OutlierParam,
}

/// Missing-fill values per feature column (FATE's `DataTransformImputerParam`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImputerParam {
    /// Value that replaces a missing cell, per column.
    #[serde(default)]
    pub missing_replace_value: BTreeMap<String, f64>,
    /// Share of rows of the fitting data whose cell was missing, per column.
    #[serde(default)]
    pub missing_value_ratio: BTreeMap<String, f64>,
}

/// Outlier-replace values per feature column (FATE's `DataTransformOutlierParam`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutlierParam {
    /// Value that replaces an outlier, per column.
    #[serde(default)]
    pub outlier_replace_value: BTreeMap<String, f64>,
    /// Share of rows of the fitting data whose cell was an outlier, per column.
    #[serde(default)]
    pub outlier_value_ratio: BTreeMap<String, f64>,
}

/// Settings (FATE's `DataTransformMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `dense`, `sparse` (svmlight) or `tag`.
    pub input_format: String,
    /// The `delimitor` parameter: splits the lines of a text table.
    pub delimitor: String,
    /// Tag data: tags carry values (`t:v`).
    #[serde(default)]
    pub tag_with_value: bool,
    /// Tag data: what separates a tag from its value.
    #[serde(default = "colon")]
    pub tag_value_delimitor: String,
    /// `float64`.
    pub data_type: String,
    /// Whether the model was fitted with a label.
    pub with_label: bool,
    /// The `label_name` parameter as given, when `with_label`.
    #[serde(default)]
    pub label_name: Option<String>,
    /// The `label_type` parameter, when `with_label`.
    #[serde(default)]
    pub label_type: Option<String>,
    /// `dense`.
    pub output_format: String,
    /// The `with_match_id` parameter.
    #[serde(default)]
    pub with_match_id: bool,
    /// The `match_id_name` parameter.
    #[serde(default)]
    pub match_id_name: String,
    /// Always true: the executor does not run a component whose `need_run` is false.
    #[serde(default = "yes")]
    pub need_run: bool,
    /// Missing-fill settings.
    #[serde(default)]
    pub imputer_meta: ImputerMeta,
    /// Outlier-replace settings.
    #[serde(default)]
    pub outlier_meta: OutlierMeta,
}

fn yes() -> bool {
    true
}

fn colon() -> String {
    ":".into()
}

/// Missing-fill settings (FATE's `DataTransformImputerMeta`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImputerMeta {
    /// `missing_fill`.
    pub is_imputer: bool,
    /// `missing_fill_method` (`min`, `max`, `mean`, `designated`), `null` when not set.
    #[serde(default)]
    pub strategy: Option<String>,
    /// The values treated as missing (`missing_impute`, or FATE's default list).
    #[serde(default)]
    pub missing_value: Vec<Value>,
}

/// Outlier-replace settings (FATE's `DataTransformOutlierMeta`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutlierMeta {
    /// `outlier_replace`.
    pub is_outlier: bool,
    /// `outlier_replace_method`, `null` when not set.
    #[serde(default)]
    pub strategy: Option<String>,
    /// The values treated as outliers (`outlier_impute`, or FATE's default list).
    #[serde(default)]
    pub outlier_value: Vec<Value>,
}

/// A typed `DataTransform` model.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTransformModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl DataTransformModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(DataTransformModel { param, meta })
    }
}

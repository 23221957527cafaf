//! The `DataStatistics` model, shaped like FATE's `StatisticMeta` / `ModelParam`
//! protobufs (field names kept), stored as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "DataStatistics";

/// One statistic of every described column (FATE's `StatisticSingleFeatureValue`).
/// A value that does not exist (the mean of a column without a value) is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureValues {
    /// One value per column of `col_names`.
    pub values: Vec<Option<f64>>,
    /// The described columns.
    pub col_names: Vec<String>,
    /// The statistic (`"mean"`, `"95%"`).
    pub value_name: String,
}

/// One party's results (FATE's `StatisticOnePartyResult`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartyResult {
    /// One entry per statistic, in the order they were computed.
    pub results: Vec<FeatureValues>,
}

/// Fitted values (FATE's `ModelParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// This party's statistics.
    pub self_values: PartyResult,
    /// Always empty: each party describes its own columns only.
    #[serde(default)]
    pub host_values: BTreeMap<String, PartyResult>,
    /// `"statistic_model"`.
    pub model_name: String,
}

/// Settings (FATE's `StatisticMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The statistics computed: FATE's basic set, then the extra ones asked for.
    pub statistics: Vec<String>,
    /// The described columns.
    pub static_columns: Vec<String>,
    /// `quantile_error`.
    pub quantile_error: f64,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
}

/// A typed `DataStatistics` model.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl StatisticsModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(StatisticsModel { param, meta })
    }

    /// The value of statistic `name` for `column`, if computed.
    pub fn value(&self, name: &str, column: &str) -> Option<f64> {
        let r = self
            .param
            .self_values
            .results
            .iter()
            .find(|r| r.value_name == name)?;
        let i = r.col_names.iter().position(|c| c == column)?;
        r.values[i]
    }
}

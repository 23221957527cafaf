//! The `HeteroPearson` model, shaped like FATE's `PearsonModelMeta` / `PearsonModelParam`
//! protobufs (field names kept), stored as JSON. Matrices are row-major; a value of a
//! column without variance is NaN (stored as `null`).

use serde::{Deserialize, Serialize};

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "HeteroPearson";

/// A list of names (FATE's `Names`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Names {
    /// The names.
    pub names: Vec<String>,
}

/// A column's anonymous name (FATE's `AnonymousMap`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnonymousMap {
    /// `<role>_<party_id>_x<index>`.
    pub anonymous: String,
    /// The column's name.
    pub name: String,
}

/// `f64`s that may be NaN, stored as `null` in JSON.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opt: Vec<Option<f64>> = v
            .iter()
            .map(|x| if x.is_finite() { Some(*x) } else { None })
            .collect();
        opt.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let opt: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(opt.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

/// Fitted values (FATE's `PearsonModelParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// This party, `(role,party_id)`.
    pub party: String,
    /// The parties of the matrices: this one alone, or guest then host.
    pub parties: Vec<String>,
    /// Side of `local_corr`.
    pub shape: usize,
    /// Columns of each party in `parties`.
    pub shapes: Vec<usize>,
    /// This party's feature columns (all of them, selected or not).
    pub names: Vec<String>,
    /// The cross-party matrix, guest columns × host columns.
    #[serde(with = "nan_as_null")]
    pub corr: Vec<f64>,
    /// The local correlation matrix of the selected columns.
    #[serde(with = "nan_as_null")]
    pub local_corr: Vec<f64>,
    /// Per party of `parties`, its selected columns (the other party's anonymous).
    pub all_names: Vec<Names>,
    /// Anonymous names of this party's columns.
    pub anonymous_map: Vec<AnonymousMap>,
    /// `"HeteroPearson"`.
    pub model_name: String,
    /// The VIF of each selected column (empty without `calc_local_vif`).
    #[serde(with = "nan_as_null")]
    pub local_vif: Vec<f64>,
}

/// Settings (FATE's `PearsonModelMeta`; FATE leaves `shapes` empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Unused, as in FATE.
    pub shapes: Vec<usize>,
}

/// A typed `HeteroPearson` model.
#[derive(Debug, Clone, PartialEq)]
pub struct PearsonModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl PearsonModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(PearsonModel { param, meta })
    }

    /// The selected local columns (`all_names` of this party).
    pub fn local_names(&self) -> &[String] {
        let i = self
            .param
            .parties
            .iter()
            .position(|p| *p == self.param.party)
            .unwrap_or(0);
        self.param
            .all_names
            .get(i)
            .map_or(&[][..], |n| n.names.as_slice())
    }
}

//! Online inference of one party's part of a deployed model: the feature steps its
//! pipeline applies (DataTransform's fill values, FeatureScale) and its scorer (a linear
//! model's partial score, or SecureBoost's trees), for one row given as a feature map.
//!
//! A row is scored in three steps: the guest begins ([`PartModel::guest_begin`]), each
//! host answers ([`PartModel::host_answer`]) and the guest finishes with every host's
//! answer ([`PartModel::guest_finish`]).
//!
//! A pipeline holding a component with no online implementation is refused when the
//! model is built, naming the component (FATE-Serving drops such components silently
//! and answers without a score). Missing features are an error naming them, or, where
//! DataTransform has a fill value for the column, filled and counted; never a silent 0.

use fateflow_component_core::context::ComponentModel;
use fateflow_components_data::feature_scale::ColumnScaler;
use fateflow_components_data::{DataTransformModel, FeatureScaleModel};
use fateflow_components_linear::LinearModelParam;
use fateflow_components_tree::secureboost::online::{GuestRow, OnlineTrees, Side};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub use fateflow_components_linear::sigmoid;

/// Modules that have no effect on a single row's score (they run offline only, or
/// their effect is already in the model's weights: a selection leaves only the kept
/// features weighted).
const PASS_THROUGH: &[&str] = &[
    "Reader",
    "Intersection",
    "HeteroFeatureSelection",
    "Evaluation",
];

/// One component of a deployed model, as the party stores it.
#[derive(Debug, Clone, Copy)]
pub struct ComponentIn<'a> {
    /// Its name in the DSL.
    pub name: &'a str,
    /// Its canonical module.
    pub module: &'a str,
    /// `{"param": ..., "meta": ...}`.
    pub model: &'a Value,
    /// Its training parameters at this party.
    pub params: &'a Map<String, Value>,
}

/// Which party of the model this part belongs to.
#[derive(Debug, Clone)]
pub struct PartyOf {
    /// The model's host parties, in order.
    pub hosts: Vec<u64>,
    /// `None` at the guest, else this host's party id.
    pub host: Option<u64>,
}

/// Why a model cannot be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// A component without an online implementation.
    #[error("component `{component}` ({module}) has no online implementation; deploy a model without it (flow model deploy --cpn-list) to serve it")]
    Unsupported {
        /// The component.
        component: String,
        /// Its module.
        module: String,
    },
    /// A component model that does not read, or a setting not served online.
    #[error("component `{component}`: {reason}")]
    Model {
        /// The component.
        component: String,
        /// What is wrong.
        reason: String,
    },
    /// No model to score with in the pipeline.
    #[error("the model has no HeteroLR, HeteroLinR or HeteroSecureBoost component at this party; nothing to score with")]
    NoScorer,
}

/// Why a row cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// Features the model needs are absent (and have no fill value).
    #[error("missing feature(s) {}: the model reads {}", .missing.join(", "), .needed)]
    Missing {
        /// The absent features.
        missing: Vec<String>,
        /// How many features the model reads.
        needed: usize,
    },
    /// A value that is not a number.
    #[error("feature `{name}`: expected a number, got {value}")]
    NotANumber {
        /// The feature.
        name: String,
        /// What came.
        value: String,
    },
}

/// What a linear model's score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// HeteroLR: `sigmoid` of the linear predictor.
    Logistic,
    /// HeteroLinR: the linear predictor.
    Linear,
}

/// The model that scores.
#[derive(Debug)]
enum Scorer {
    Linear {
        task: Task,
        /// In [`PartModel::features`] order.
        weights: Vec<f64>,
        /// The guest's; 0 at hosts.
        intercept: f64,
    },
    Trees(Box<OnlineTrees>),
}

/// One party's servable part of a model.
#[derive(Debug)]
pub struct PartModel {
    /// The scoring component's name.
    pub scorer: String,
    model: Scorer,
    /// The features the scorer reads, in its order.
    features: Vec<String>,
    /// DataTransform's fill value per column, for absent features.
    fill: BTreeMap<String, f64>,
    /// FeatureScale's scalers per column, in pipeline order.
    scales: Vec<BTreeMap<String, ColumnScaler>>,
}

/// A row's feature values in the scorer's order, after the pipeline's steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    x: Vec<f64>,
    /// Features absent from the row and filled with DataTransform's value.
    pub filled: usize,
}

/// A host's answer for one row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostPart {
    /// `w_h · x_h` (linear models).
    pub score: f64,
    /// The scorer's answer (trees: leaf sets or EINI sums).
    pub payload: Option<Vec<u8>>,
}

/// What the guest holds of a row while its hosts answer.
#[derive(Debug, Clone)]
pub enum Begun {
    /// The guest's partial linear predictor, intercept included.
    Linear(f64),
    /// The guest's own leaf sets.
    Trees(GuestRow),
}

impl Begun {
    /// What each host needs from the guest for this row.
    pub fn to_hosts(&self) -> Option<&[u8]> {
        match self {
            Begun::Linear(_) => None,
            Begun::Trees(r) => r.to_hosts.as_deref(),
        }
    }
}

/// A row's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The score (FATE-Serving's `score`): probability of class 1, the prediction for
    /// regression, the predicted class's probability for multi-class.
    pub score: f64,
    /// The predicted class (classification trees).
    pub label: Option<f64>,
    /// Per class probabilities (multi-class trees).
    pub probabilities: Vec<f64>,
}

impl Outcome {
    /// FATE-Serving's `data` of a scored row: `score`, plus `label` for classification;
    /// multi-class gives every class's probability as `score`, as FATE-Serving does.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"score": self.score});
        if let Some(l) = self.label {
            v["label"] = json!(l);
        }
        if self.probabilities.len() > 2 {
            v["score"] = json!(self.probabilities);
        }
        v
    }
}

impl PartModel {
    /// Builds the part from a deployed model's components, in pipeline order.
    pub fn build(components: &[ComponentIn<'_>], party: &PartyOf) -> Result<Self, BuildError> {
        let mut fill = BTreeMap::new();
        let mut scales = Vec::new();
        let mut scorer: Option<(String, Vec<String>, Scorer)> = None;
        for c in components {
            let bad = |reason: String| BuildError::Model {
                component: c.name.to_string(),
                reason,
            };
            let model = ComponentModel {
                module: c.module.to_string(),
                param: c.model.get("param").cloned().unwrap_or(Value::Null),
                meta: c.model.get("meta").cloned().unwrap_or(Value::Null),
            };
            let is_scorer = matches!(
                c.module,
                "HeteroLR" | "HeteroLinR" | "HeteroSSHELR" | "HeteroSSHELinR" | "HeteroSecureBoost"
            );
            if is_scorer && scorer.is_some() {
                return Err(bad(
                    "a second model to score with; one is served per pipeline".into(),
                ));
            }
            match c.module {
                m if PASS_THROUGH.contains(&m) => {}
                "HeteroFeatureBinning" => {
                    // Binning changes the data only when it transforms it.
                    let t = model
                        .meta
                        .pointer("/transform_param/transform_type")
                        .cloned()
                        .unwrap_or(Value::Null);
                    if !t.is_null() {
                        return Err(bad(format!(
                            "transform_type {t} is not served online yet (only binning without a transform)"
                        )));
                    }
                }
                "DataTransform" => {
                    let dt = DataTransformModel::from_component_model(&model)
                        .map_err(|e| bad(e.to_string()))?;
                    if dt.meta.input_format != "dense" {
                        return Err(bad(format!(
                            "input_format `{}` is not served online yet (dense only)",
                            dt.meta.input_format
                        )));
                    }
                    if dt.meta.outlier_meta.is_outlier {
                        return Err(bad(
                            "outlier replacement is not served online yet".to_string()
                        ));
                    }
                    if dt.meta.imputer_meta.is_imputer {
                        fill.extend(dt.param.imputer_param.missing_replace_value.clone());
                    }
                }
                "FeatureScale" => {
                    let fs = FeatureScaleModel::from_component_model(&model)
                        .map_err(|e| bad(e.to_string()))?;
                    scales.push(fs.column_scalers().map_err(bad)?);
                }
                "HeteroSecureBoost" => {
                    let side = match party.host {
                        None => Side::Guest,
                        Some(id) => {
                            Side::Host(party.hosts.iter().position(|&h| h == id).ok_or_else(
                                || bad(format!("host {id} is not one of the model's hosts")),
                            )?)
                        }
                    };
                    let trees = OnlineTrees::from_model(c.model, &party.hosts, side, c.params)
                        .map_err(bad)?;
                    let features = trees.features().to_vec();
                    scorer = Some((c.name.to_string(), features, Scorer::Trees(Box::new(trees))));
                }
                "HeteroLR" | "HeteroLinR" | "HeteroSSHELR" | "HeteroSSHELinR" => {
                    let p: LinearModelParam = serde_json::from_value(model.param.clone())
                        .map_err(|e| bad(format!("param: {e}")))?;
                    if p.need_one_vs_rest {
                        return Err(bad(
                            "one-vs-rest (multi-class) models are not served online yet"
                                .to_string(),
                        ));
                    }
                    if p.encrypted_weight.is_some() || p.guest_key_table.is_some() {
                        return Err(bad(
                            "weights kept encrypted (encrypted_reveal_in_host) are not served online"
                                .to_string(),
                        ));
                    }
                    let task = if c.module.ends_with("LR") {
                        Task::Logistic
                    } else {
                        Task::Linear
                    };
                    let weights = p
                        .header
                        .iter()
                        .map(|h| p.weight.get(h).copied().unwrap_or(0.0))
                        .collect();
                    let linear = Scorer::Linear {
                        task,
                        weights,
                        intercept: p.intercept,
                    };
                    scorer = Some((c.name.to_string(), p.header.clone(), linear));
                }
                other => {
                    return Err(BuildError::Unsupported {
                        component: c.name.to_string(),
                        module: other.to_string(),
                    })
                }
            }
        }
        let (scorer, features, model) = scorer.ok_or(BuildError::NoScorer)?;
        Ok(PartModel {
            scorer,
            model,
            features,
            fill,
            scales,
        })
    }

    /// The features this part reads, in the model's order.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(String::as_str)
    }

    /// What kind of model scores: `linear`, `trees` or `trees (EINI)`.
    pub fn kind(&self) -> &'static str {
        match &self.model {
            Scorer::Linear { .. } => "linear",
            Scorer::Trees(t) if t.eini() => "trees (EINI)",
            Scorer::Trees(_) => "trees",
        }
    }

    /// A row's values, from `get` by feature name (NaN: a missing value, which only
    /// trees take).
    pub fn values(&self, get: impl Fn(&str) -> Option<f64>) -> Result<Values, FeatureError> {
        let mut x = Vec::with_capacity(self.features.len());
        let mut filled = 0;
        let mut missing = Vec::new();
        let takes_nan = matches!(self.model, Scorer::Trees(_));
        for name in &self.features {
            let v = match get(name).filter(|v| takes_nan || !v.is_nan()) {
                Some(v) => v,
                None => match self.fill.get(name) {
                    Some(v) => {
                        filled += 1;
                        *v
                    }
                    None => {
                        missing.push(name.clone());
                        continue;
                    }
                },
            };
            x.push(
                self.scales
                    .iter()
                    .fold(v, |v, s| s.get(name).map_or(v, |sc| sc.apply(v))),
            );
        }
        if !missing.is_empty() {
            return Err(FeatureError::Missing {
                missing,
                needed: self.features.len(),
            });
        }
        Ok(Values { x, filled })
    }

    /// A row's values from FATE-Serving's `featureData`: numbers as JSON numbers or
    /// numeric strings; `null` is a missing value; anything else is refused by name.
    pub fn values_of_map(&self, row: &Map<String, Value>) -> Result<Values, FeatureError> {
        for name in self.features() {
            if let Some(v) = row.get(name) {
                if number(v).is_none() {
                    return Err(FeatureError::NotANumber {
                        name: name.to_string(),
                        value: v.to_string(),
                    });
                }
            }
        }
        self.values(|n| row.get(n).and_then(number))
    }

    /// What the guest sends every host with a request (EINI: its public key).
    pub fn context(&self) -> Option<Value> {
        match &self.model {
            Scorer::Trees(t) => t.context(),
            Scorer::Linear { .. } => None,
        }
    }

    /// The guest's first step for a row.
    pub fn guest_begin(&self, v: &Values) -> Result<Begun, String> {
        match &self.model {
            Scorer::Linear {
                weights, intercept, ..
            } => Ok(Begun::Linear(dot(weights, &v.x) + intercept)),
            Scorer::Trees(t) => t.guest_begin(&v.x).map(Begun::Trees),
        }
    }

    /// A host's answer for a row, given what the guest sent with it.
    pub fn host_answer(
        &self,
        v: &Values,
        from_guest: Option<&[u8]>,
        context: Option<&Value>,
    ) -> Result<HostPart, String> {
        match &self.model {
            Scorer::Linear { weights, .. } => Ok(HostPart {
                score: dot(weights, &v.x),
                payload: None,
            }),
            Scorer::Trees(t) => Ok(HostPart {
                score: 0.0,
                payload: Some(t.host_answer(&v.x, from_guest, context)?),
            }),
        }
    }

    /// The guest's result for a row from every host's answer.
    pub fn guest_finish(&self, begun: Begun, hosts: &[HostPart]) -> Result<Outcome, String> {
        match (&self.model, begun) {
            (Scorer::Linear { task, .. }, Begun::Linear(z)) => {
                let z = z + hosts.iter().map(|h| h.score).sum::<f64>();
                Ok(Outcome {
                    score: match task {
                        Task::Logistic => sigmoid(z),
                        Task::Linear => z,
                    },
                    label: None,
                    probabilities: Vec::new(),
                })
            }
            (Scorer::Trees(t), Begun::Trees(row)) => {
                let answers: Vec<&[u8]> = hosts
                    .iter()
                    .map(|h| h.payload.as_deref().unwrap_or_default())
                    .collect();
                let o = t.guest_finish(row, &answers)?;
                Ok(Outcome {
                    score: o.score,
                    label: o.label,
                    probabilities: o.probabilities,
                })
            }
            _ => Err("a row begun for another model".into()),
        }
    }
}

fn dot(w: &[f64], x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(w, x)| w * x).sum()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => Some(f64::NAN),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn guest() -> PartyOf {
        PartyOf {
            hosts: vec![10000],
            host: None,
        }
    }

    fn dt(imputer: bool) -> Value {
        json!({
            "param": {"header": ["x0", "x1", "x2"], "sid_name": "id", "with_label": true, "label_name": "y",
                      "imputer_param": {"missing_replace_value": {"x2": 0.5}, "missing_value_ratio": {}}},
            "meta": {"input_format": "dense", "delimitor": ",", "data_type": "float64", "with_label": true,
                     "output_format": "dense", "imputer_meta": {"is_imputer": imputer, "missing_value": []},
                     "outlier_meta": {"is_outlier": false}}
        })
    }

    fn scale() -> Value {
        json!({
            "param": {"header": ["x0", "x1", "x2"], "col_scale_param": {
                "x0": {"column_upper": 10.0, "column_lower": 0.0, "mean": 0.0, "std": 0.0}}},
            "meta": {"method": "min_max_scale", "mode": "normal", "scale_column": ["x0"]}
        })
    }

    fn lr(module_weights: &[(&str, f64)], intercept: f64) -> Value {
        let header: Vec<&str> = module_weights.iter().map(|(n, _)| *n).collect();
        let weight: Map<String, Value> = module_weights
            .iter()
            .map(|(n, w)| ((*n).to_string(), json!(w)))
            .collect();
        json!({"param": {"iters": 3, "loss_history": [], "is_converged": false, "header": header, "weight": weight,
                         "intercept": intercept, "best_iteration": null, "need_one_vs_rest": false},
               "meta": {}})
    }

    #[test]
    fn a_guest_part_scales_fills_and_scores_like_the_hand_computation() {
        let no = Map::new();
        let (d, s, l) = (
            dt(true),
            scale(),
            lr(&[("x0", 0.5), ("x1", -2.0), ("x2", 4.0)], 0.25),
        );
        let m = PartModel::build(
            &[
                ComponentIn {
                    name: "reader_0",
                    module: "Reader",
                    model: &Value::Null,
                    params: &no,
                },
                ComponentIn {
                    name: "data_transform_0",
                    module: "DataTransform",
                    model: &d,
                    params: &no,
                },
                ComponentIn {
                    name: "scale_0",
                    module: "FeatureScale",
                    model: &s,
                    params: &no,
                },
                ComponentIn {
                    name: "hetero_lr_0",
                    module: "HeteroLR",
                    model: &l,
                    params: &no,
                },
            ],
            &guest(),
        )
        .unwrap();
        // x0 = 15 clips to 10 → 1.0; x1 as a string; x2 absent → filled with 0.5.
        let row = json!({"x0": 15, "x1": "0.5", "other": 3})
            .as_object()
            .unwrap()
            .clone();
        let v = m.values_of_map(&row).unwrap();
        assert_eq!(v.filled, 1);
        let want = 0.5 * 1.0 - 2.0 * 0.5 + 4.0 * 0.5;
        let begun = m.guest_begin(&v).unwrap();
        assert!(matches!(begun, Begun::Linear(z) if (z - want - 0.25).abs() < 1e-15));
        let host = HostPart {
            score: 0.75,
            payload: None,
        };
        let z: f64 = want + 0.25 + 0.75;
        let out = m.guest_finish(begun, &[host]).unwrap();
        assert!((out.score - 1.0 / (1.0 + (-z).exp())).abs() < 1e-15);
        assert_eq!(out.to_json(), json!({"score": out.score}));
    }

    #[test]
    fn missing_or_non_numeric_features_are_named() {
        let no = Map::new();
        let (d, l) = (dt(false), lr(&[("x0", 1.0), ("x1", 1.0)], 0.0));
        let m = PartModel::build(
            &[
                ComponentIn {
                    name: "data_transform_0",
                    module: "DataTransform",
                    model: &d,
                    params: &no,
                },
                ComponentIn {
                    name: "hetero_lr_0",
                    module: "HeteroLR",
                    model: &l,
                    params: &no,
                },
            ],
            &guest(),
        )
        .unwrap();
        let err = m
            .values_of_map(json!({"x0": 1}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.to_string(), "missing feature(s) x1: the model reads 2");
        let err = m
            .values_of_map(json!({"x0": 1, "x1": "abc"}).as_object().unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("feature `x1`: expected a number"),
            "{err}"
        );
        // A null is a missing value, which a linear model does not take.
        let err = m
            .values_of_map(json!({"x0": 1, "x1": null}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.to_string(), "missing feature(s) x1: the model reads 2");
    }

    #[test]
    fn components_without_an_online_implementation_are_refused_by_name() {
        let no = Map::new();
        let l = lr(&[("x0", 1.0)], 0.0);
        let err = PartModel::build(
            &[
                ComponentIn {
                    name: "one_hot_0",
                    module: "OneHotEncoder",
                    model: &Value::Null,
                    params: &no,
                },
                ComponentIn {
                    name: "hetero_lr_0",
                    module: "HeteroLR",
                    model: &l,
                    params: &no,
                },
            ],
            &guest(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`one_hot_0` (OneHotEncoder) has no online implementation"),
            "{err}"
        );
        let err = PartModel::build(
            &[ComponentIn {
                name: "reader_0",
                module: "Reader",
                model: &Value::Null,
                params: &no,
            }],
            &guest(),
        )
        .unwrap_err();
        assert_eq!(err, BuildError::NoScorer);
    }
}

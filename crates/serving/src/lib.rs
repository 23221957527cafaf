//! Online inference of one party's part of a deployed model: the feature steps its
//! pipeline applies (DataTransform's fill values, FeatureScale) and its linear model's
//! partial score, for one row given as a feature map.
//!
//! A pipeline holding a component with no online implementation is refused when the
//! model is built, naming the component (FATE-Serving drops such components silently
//! and answers without a score). Missing features are an error naming them, or, where
//! DataTransform has a fill value for the column, filled and counted; never a silent 0.

use fateflow_component_core::context::ComponentModel;
use fateflow_components_data::feature_scale::ColumnScaler;
use fateflow_components_data::{DataTransformModel, FeatureScaleModel};
use fateflow_components_linear::LinearModelParam;
use serde_json::{Map, Value};
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
    /// No HeteroLR or HeteroLinR in the pipeline.
    #[error("the model has no HeteroLR or HeteroLinR component at this party; only linear models are served online so far")]
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

/// What the score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// HeteroLR: `sigmoid` of the linear predictor.
    Logistic,
    /// HeteroLinR: the linear predictor.
    Linear,
}

/// One party's servable part of a model.
#[derive(Debug, Clone)]
pub struct PartModel {
    /// The linear model's component name.
    pub scorer: String,
    /// Logistic or linear.
    pub task: Task,
    /// Weight per feature, in the model's header order.
    weights: Vec<(String, f64)>,
    /// The intercept (the guest's; 0 at hosts).
    pub intercept: f64,
    /// DataTransform's fill value per column, for absent features.
    fill: BTreeMap<String, f64>,
    /// FeatureScale's scalers per column, in pipeline order.
    scales: Vec<BTreeMap<String, ColumnScaler>>,
}

/// A row's partial score and how many features were filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    /// `Σ w·x` over this party's features.
    pub score: f64,
    /// Features absent from the row and filled with DataTransform's value.
    pub filled: usize,
}

impl PartModel {
    /// Builds the part from a deployed model's components, in pipeline order.
    pub fn build(components: &[ComponentIn<'_>]) -> Result<Self, BuildError> {
        let mut fill = BTreeMap::new();
        let mut scales = Vec::new();
        let mut scorer = None;
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
                "HeteroLR" | "HeteroLinR" | "HeteroSSHELR" | "HeteroSSHELinR" => {
                    if scorer.is_some() {
                        return Err(bad(
                            "a second linear model; one is served per pipeline".to_string()
                        ));
                    }
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
                        .map(|h| (h.clone(), p.weight.get(h).copied().unwrap_or(0.0)))
                        .collect();
                    scorer = Some((c.name.to_string(), task, weights, p.intercept));
                }
                other => {
                    return Err(BuildError::Unsupported {
                        component: c.name.to_string(),
                        module: other.to_string(),
                    })
                }
            }
        }
        let (scorer, task, weights, intercept) = scorer.ok_or(BuildError::NoScorer)?;
        Ok(PartModel {
            scorer,
            task,
            weights,
            intercept,
            fill,
            scales,
        })
    }

    /// The features this part reads, in the model's order.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.weights.iter().map(|(n, _)| n.as_str())
    }

    /// `Σ w·x` for a row whose features `get` returns by name.
    pub fn partial(&self, get: impl Fn(&str) -> Option<f64>) -> Result<Partial, FeatureError> {
        let mut score = 0.0;
        let mut filled = 0;
        let mut missing = Vec::new();
        for (name, w) in &self.weights {
            let x = match get(name) {
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
            let x = self
                .scales
                .iter()
                .fold(x, |v, s| s.get(name).map_or(v, |sc| sc.apply(v)));
            score += w * x;
        }
        if !missing.is_empty() {
            return Err(FeatureError::Missing {
                missing,
                needed: self.weights.len(),
            });
        }
        Ok(Partial { score, filled })
    }

    /// The partial score of a row given as FATE-Serving's `featureData`.
    pub fn partial_of_map(&self, row: &Map<String, Value>) -> Result<Partial, FeatureError> {
        // Numbers as JSON numbers or numeric strings; anything else is refused by name.
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
        self.partial(|n| row.get(n).and_then(number))
    }

    /// The final score from the guest's linear predictor (its partial plus intercept
    /// plus every host's partial).
    pub fn finish(&self, linear_predictor: f64) -> f64 {
        match self.task {
            Task::Logistic => sigmoid(linear_predictor),
            Task::Linear => linear_predictor,
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let (d, s, l) = (
            dt(true),
            scale(),
            lr(&[("x0", 0.5), ("x1", -2.0), ("x2", 4.0)], 0.25),
        );
        let m = PartModel::build(&[
            ComponentIn {
                name: "reader_0",
                module: "Reader",
                model: &Value::Null,
            },
            ComponentIn {
                name: "data_transform_0",
                module: "DataTransform",
                model: &d,
            },
            ComponentIn {
                name: "scale_0",
                module: "FeatureScale",
                model: &s,
            },
            ComponentIn {
                name: "hetero_lr_0",
                module: "HeteroLR",
                model: &l,
            },
        ])
        .unwrap();
        // x0 = 15 clips to 10 → 1.0; x1 as a string; x2 absent → filled with 0.5.
        let row = json!({"x0": 15, "x1": "0.5", "other": 3})
            .as_object()
            .unwrap()
            .clone();
        let p = m.partial_of_map(&row).unwrap();
        assert_eq!(p.filled, 1);
        let want = 0.5 * 1.0 - 2.0 * 0.5 + 4.0 * 0.5;
        assert!((p.score - want).abs() < 1e-15, "{} vs {want}", p.score);
        let host = 0.75;
        let z: f64 = want + 0.25 + host;
        assert!((m.finish(p.score + m.intercept + host) - 1.0 / (1.0 + (-z).exp())).abs() < 1e-15);
    }

    #[test]
    fn missing_or_non_numeric_features_are_named() {
        let (d, l) = (dt(false), lr(&[("x0", 1.0), ("x1", 1.0)], 0.0));
        let m = PartModel::build(&[
            ComponentIn {
                name: "data_transform_0",
                module: "DataTransform",
                model: &d,
            },
            ComponentIn {
                name: "hetero_lr_0",
                module: "HeteroLR",
                model: &l,
            },
        ])
        .unwrap();
        let err = m
            .partial_of_map(json!({"x0": 1}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.to_string(), "missing feature(s) x1: the model reads 2");
        let err = m
            .partial_of_map(json!({"x0": 1, "x1": "abc"}).as_object().unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("feature `x1`: expected a number"),
            "{err}"
        );
    }

    #[test]
    fn components_without_an_online_implementation_are_refused_by_name() {
        let l = lr(&[("x0", 1.0)], 0.0);
        let err = PartModel::build(&[
            ComponentIn {
                name: "one_hot_0",
                module: "OneHotEncoder",
                model: &Value::Null,
            },
            ComponentIn {
                name: "hetero_lr_0",
                module: "HeteroLR",
                model: &l,
            },
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`one_hot_0` (OneHotEncoder) has no online implementation"),
            "{err}"
        );
        let err = PartModel::build(&[ComponentIn {
            name: "reader_0",
            module: "Reader",
            model: &Value::Null,
        }])
        .unwrap_err();
        assert_eq!(err, BuildError::NoScorer);
    }
}

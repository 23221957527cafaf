//! `Evaluation` parameters: FATE 1.x `EvaluateParam`, with its defaults and metric names.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, List, NumberOrStr, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};

/// FATE 1.11's `Evaluation` parameters.
const EVALUATION_PARAMS: &[Param] = &[
    param("eval_type", Str, "\"binary\"", true),
    param("pos_label", NumberOrStr, "1", true),
    param("need_run", Bool, "true", true),
    param("metrics", List, "null", true),
    param("unfold_multi_result", Bool, "false", true),
    param("run_clustering_arbiter_metric", Bool, "false", false),
    param("default_metrics", Any, "{\"binary\":[\"auc\",\"ks\",\"lift\",\"gain\",\"accuracy\",\"precision\",\"recall\",\"roc\",\"confusion_mat\",\"psi\",\"f1_score\",\"quantile_pr\"],\"multi\":[\"accuracy\",\"precision\",\"recall\"],\"regression\":[\"explained_variance\",\"mean_absolute_error\",\"mean_squared_error\",\"median_absolute_error\",\"r2_score\",\"root_mean_squared_error\"],\"clustering\":[\"jaccard_similarity_score\",\"fowlkes_mallows_score\",\"adjusted_rand_score\",\"davies_bouldin_index\",\"distance_measure\",\"contingency_matrix\"]}", false),
    param("allowed_metrics", Any, "{\"binary\":[\"auc\",\"ks\",\"lift\",\"gain\",\"accuracy\",\"precision\",\"recall\",\"roc\",\"confusion_mat\",\"psi\",\"f1_score\",\"quantile_pr\"],\"multi\":[\"accuracy\",\"precision\",\"recall\"],\"regression\":[\"explained_variance\",\"mean_absolute_error\",\"mean_squared_error\",\"median_absolute_error\",\"r2_score\",\"root_mean_squared_error\"],\"clustering\":[\"jaccard_similarity_score\",\"fowlkes_mallows_score\",\"adjusted_rand_score\",\"davies_bouldin_index\",\"distance_measure\",\"contingency_matrix\"]}", false),
];

const EVALUATION_SUPPORTED: &[(&str, &[&str])] = &[(
    "eval_type",
    &["binary", "multi", "regression", "clustering"],
)];

/// `Evaluation`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "Evaluation",
    params: &[EVALUATION_PARAMS],
    conditions: &[],
    supported: EVALUATION_SUPPORTED,
};

/// `eval_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvalType {
    Binary,
    Multi,
    Regression,
    Clustering,
}

impl EvalType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EvalType::Binary => "binary",
            EvalType::Multi => "multi",
            EvalType::Regression => "regression",
            EvalType::Clustering => "clustering",
        }
    }

    /// The metrics computed when `metrics` is not given: FATE's `ALL_*_METRICS` of the
    /// type, less the binary ones not implemented (`psi`, `quantile_pr`).
    fn default_metrics(self) -> &'static [MetricName] {
        use MetricName::*;
        match self {
            EvalType::Binary => &[
                Auc,
                Ks,
                Lift,
                Gain,
                Accuracy,
                Precision,
                Recall,
                Roc,
                ConfusionMat,
                F1Score,
            ],
            EvalType::Multi => &[Accuracy, Precision, Recall],
            EvalType::Regression => &[
                ExplainedVariance,
                MeanAbsoluteError,
                MeanSquaredError,
                MedianAbsoluteError,
                R2Score,
                RootMeanSquaredError,
            ],
            EvalType::Clustering => &[
                JaccardSimilarityScore,
                FowlkesMallowsScore,
                AdjustedRandScore,
                DaviesBouldinIndex,
                DistanceMeasure,
                ContingencyMatrix,
            ],
        }
    }
}

/// The metrics this implementation computes, by FATE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricName {
    Auc,
    Ks,
    Lift,
    Gain,
    Accuracy,
    Precision,
    Recall,
    Roc,
    ConfusionMat,
    F1Score,
    ExplainedVariance,
    MeanAbsoluteError,
    MeanSquaredError,
    MedianAbsoluteError,
    R2Score,
    RootMeanSquaredError,
    JaccardSimilarityScore,
    FowlkesMallowsScore,
    AdjustedRandScore,
    DaviesBouldinIndex,
    DistanceMeasure,
    ContingencyMatrix,
}

impl MetricName {
    const ALL: [MetricName; 22] = [
        MetricName::Auc,
        MetricName::Ks,
        MetricName::Lift,
        MetricName::Gain,
        MetricName::Accuracy,
        MetricName::Precision,
        MetricName::Recall,
        MetricName::Roc,
        MetricName::ConfusionMat,
        MetricName::F1Score,
        MetricName::ExplainedVariance,
        MetricName::MeanAbsoluteError,
        MetricName::MeanSquaredError,
        MetricName::MedianAbsoluteError,
        MetricName::R2Score,
        MetricName::RootMeanSquaredError,
        MetricName::JaccardSimilarityScore,
        MetricName::FowlkesMallowsScore,
        MetricName::AdjustedRandScore,
        MetricName::DaviesBouldinIndex,
        MetricName::DistanceMeasure,
        MetricName::ContingencyMatrix,
    ];

    /// FATE's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MetricName::Auc => "auc",
            MetricName::Ks => "ks",
            MetricName::Lift => "lift",
            MetricName::Gain => "gain",
            MetricName::Accuracy => "accuracy",
            MetricName::Precision => "precision",
            MetricName::Recall => "recall",
            MetricName::Roc => "roc",
            MetricName::ConfusionMat => "confusion_mat",
            MetricName::F1Score => "f1_score",
            MetricName::ExplainedVariance => "explained_variance",
            MetricName::MeanAbsoluteError => "mean_absolute_error",
            MetricName::MeanSquaredError => "mean_squared_error",
            MetricName::MedianAbsoluteError => "median_absolute_error",
            MetricName::R2Score => "r2_score",
            MetricName::RootMeanSquaredError => "root_mean_squared_error",
            MetricName::JaccardSimilarityScore => "jaccard_similarity_score",
            MetricName::FowlkesMallowsScore => "fowlkes_mallows_score",
            MetricName::AdjustedRandScore => "adjusted_rand_score",
            MetricName::DaviesBouldinIndex => "davies_bouldin_index",
            MetricName::DistanceMeasure => "distance_measure",
            MetricName::ContingencyMatrix => "contingency_matrix",
        }
    }

    /// Resolves a name or one of FATE's aliases (`rmse`, `mae`, `acc`, ...).
    fn lookup(name: &str) -> Lookup {
        let name = name.to_ascii_lowercase();
        if let Some(m) = MetricName::ALL.into_iter().find(|m| m.as_str() == name) {
            return Lookup::Known(m);
        }
        let alias = match name.as_str() {
            "l1" | "mae" | "regression_l1" => Some(MetricName::MeanAbsoluteError),
            "l2" | "mse" | "regression_l2" | "regression" => Some(MetricName::MeanSquaredError),
            "l2_root" | "rmse" => Some(MetricName::RootMeanSquaredError),
            "r2" => Some(MetricName::R2Score),
            "acc" => Some(MetricName::Accuracy),
            "dbi" => Some(MetricName::DaviesBouldinIndex),
            "fmi" => Some(MetricName::FowlkesMallowsScore),
            "ri" => Some(MetricName::AdjustedRandScore),
            "jaccard" => Some(MetricName::JaccardSimilarityScore),
            _ => None,
        };
        if let Some(m) = alias {
            return Lookup::Known(m);
        }
        match name.as_str() {
            "psi" | "quantile_pr" | "mean_squared_log_error" | "msle" => Lookup::NotImplemented,
            _ => Lookup::Unknown,
        }
    }
}

enum Lookup {
    Known(MetricName),
    NotImplemented,
    Unknown,
}

/// Every `Evaluation` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvaluationParam {
    pub(crate) eval_type: EvalType,
    /// `pos_label` (binary only).
    pub(crate) pos_label: f64,
    /// The metrics, in the order given (FATE adds `precision` after `recall` and the other
    /// way round, as they are logged as a pair).
    pub(crate) metrics: Vec<MetricName>,
}

impl EvaluationParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let eval_type = match p.get_choice(
            "eval_type",
            &["binary", "multi", "regression", "clustering"],
        )? {
            "binary" => EvalType::Binary,
            "multi" => EvalType::Multi,
            "regression" => EvalType::Regression,
            _ => EvalType::Clustering,
        };
        if p.get_bool("unfold_multi_result")? {
            return Err(Error::Unsupported {
                parameter: "unfold_multi_result".into(),
                value: "true".into(),
                supported: "false".into(),
            });
        }
        let pos_label = match p
            .value("pos_label")
            .cloned()
            .unwrap_or_else(|| p.schema_default("pos_label"))
        {
            Value::Bool(b) => f64::from(u8::from(b)),
            v => number("pos_label", &v)?,
        };
        let metrics = match p.list("metrics")? {
            None => eval_type.default_metrics().to_vec(),
            Some(items) if items.is_empty() => eval_type.default_metrics().to_vec(),
            Some(items) => metric_list(eval_type, items)?,
        };
        Ok(EvaluationParam {
            eval_type,
            pos_label,
            metrics,
        })
    }
}

fn metric_list(eval_type: EvalType, items: &[Value]) -> Result<Vec<MetricName>> {
    let allowed = eval_type.default_metrics();
    let allowed_names = || {
        allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut metrics = Vec::new();
    for item in items {
        let Value::String(name) = item else {
            return Err(Error::param(
                "metrics",
                format!(
                    "expected metric names, found {}",
                    fateflow_domain::module::describe_value(item)
                ),
            ));
        };
        let metric = match MetricName::lookup(name) {
            Lookup::Known(m) => m,
            Lookup::NotImplemented => {
                return Err(Error::Unsupported {
                    parameter: "metrics".into(),
                    value: name.clone(),
                    supported: allowed_names(),
                })
            }
            Lookup::Unknown => {
                return Err(Error::param(
                    "metrics",
                    format!("`{name}` is not a metric FATE knows"),
                ))
            }
        };
        if !allowed.contains(&metric) {
            return Err(Error::param(
                "metrics",
                format!(
                    "`{}` is not a metric of eval_type `{}` (allowed: {})",
                    metric.as_str(),
                    eval_type.as_str(),
                    allowed_names()
                ),
            ));
        }
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    for (a, b) in [
        (MetricName::Recall, MetricName::Precision),
        (MetricName::Precision, MetricName::Recall),
    ] {
        if metrics.contains(&a) && !metrics.contains(&b) {
            metrics.push(b);
        }
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<EvaluationParam> {
        EvaluationParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.eval_type, EvalType::Binary);
        assert_eq!(p.pos_label, 1.0);
        let names: Vec<_> = p.metrics.iter().map(|m| m.as_str()).collect();
        assert_eq!(
            names,
            [
                "auc",
                "ks",
                "lift",
                "gain",
                "accuracy",
                "precision",
                "recall",
                "roc",
                "confusion_mat",
                "f1_score"
            ]
        );
        let p = parse(json!({"eval_type": "regression", "metrics": []})).unwrap();
        assert_eq!(p.metrics.len(), 6);
        let p = parse(json!({"eval_type": "clustering"})).unwrap();
        let names: Vec<_> = p.metrics.iter().map(|m| m.as_str()).collect();
        assert_eq!(
            names,
            [
                "jaccard_similarity_score",
                "fowlkes_mallows_score",
                "adjusted_rand_score",
                "davies_bouldin_index",
                "distance_measure",
                "contingency_matrix"
            ]
        );
        let p = parse(json!({"eval_type": "clustering", "metrics": ["DBI", "ri"]})).unwrap();
        assert_eq!(
            p.metrics,
            [
                MetricName::DaviesBouldinIndex,
                MetricName::AdjustedRandScore
            ]
        );
    }

    #[test]
    fn aliases_and_pairs() {
        let p = parse(json!({"eval_type": "REGRESSION", "metrics": ["rmse", "MAE", "l2", "r2"]}))
            .unwrap();
        assert_eq!(
            p.metrics,
            [
                MetricName::RootMeanSquaredError,
                MetricName::MeanAbsoluteError,
                MetricName::MeanSquaredError,
                MetricName::R2Score
            ]
        );
        let p = parse(json!({"metrics": ["recall", "auc"], "pos_label": "0"})).unwrap();
        assert_eq!(
            p.metrics,
            [MetricName::Recall, MetricName::Auc, MetricName::Precision]
        );
        assert_eq!(p.pos_label, 0.0);
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = parse(json!({"eval_type": "ranking"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter `eval_type`: `ranking` is not one of binary, multi, regression, clustering"
        );
        let e = parse(json!({"eval_type": "clustering", "metrics": ["auc"]})).unwrap_err();
        assert!(e.to_string().contains("`metrics`"), "{e}");
        let e = parse(json!({"metrics": ["auc", "rmse"]})).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid parameter `metrics`: `root_mean_squared_error` is not a metric of eval_type `binary`"),
            "{e}"
        );
        let e = parse(json!({"metrics": ["psi"]})).unwrap_err();
        assert!(e.to_string().contains("`psi` is not supported yet"), "{e}");
        let e = parse(json!({"metrics": ["nope"]})).unwrap_err();
        assert!(e.to_string().contains("`metrics`"), "{e}");
        let e = parse(json!({"pos_label": "yes"})).unwrap_err();
        assert!(e.to_string().contains("`pos_label`"), "{e}");
    }
}

//! FATE 1.11's `callback_param` (with the deprecated top-level keys `validation_freqs`,
//! `early_stopping_rounds`, `metrics` and `use_first_metric_only` it replaces) and
//! `cv_param`, as the model families share them.

use fateflow_domain::module::Kind::{Any, Bool, Int, Object, Str};
use fateflow_domain::module::{param, when, Condition, Param, OBJ};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::params::Params;

/// `cv_param` (FATE's `CrossValidationParam`) with FATE's defaults; `mode` and `role`
/// are FATE's own business and not read.
pub const CV_PARAMS: &[Param] = &[
    param("cv_param", Object, OBJ, true),
    param("cv_param.n_splits", Int, "5", true),
    param("cv_param.mode", Any, "\"hetero\"", false),
    param("cv_param.role", Any, "\"guest\"", false),
    param("cv_param.shuffle", Bool, "true", true),
    param("cv_param.random_seed", Int, "1", true),
    param("cv_param.need_cv", Bool, "false", true),
    param("cv_param.output_fold_history", Bool, "true", true),
    param("cv_param.history_value_type", Str, "\"score\"", true),
];

/// `callback_param` (FATE's `CallbackParam`) with FATE's defaults.
pub const CALLBACK_PARAMS: &[Param] = &[
    param("callback_param", Object, OBJ, true),
    param("callback_param.callbacks", Any, "[]", true),
    param("callback_param.validation_freqs", Any, "null", true),
    param("callback_param.early_stopping_rounds", Any, "null", true),
    param("callback_param.metrics", Any, "[]", true),
    param("callback_param.use_first_metric_only", Any, "false", true),
    param("callback_param.save_freq", Any, "1", false),
];

/// `cv_param`'s keys are used only with `need_cv: true`.
pub const CV_CONDITION: Condition = when("cv_param", "cv_param.need_cv", &["true"]);

/// `save_freq` is used only by the `ModelCheckpoint` callback.
pub const SAVE_FREQ_CONDITION: Condition = when(
    "callback_param.save_freq",
    "callback_param.callbacks",
    &["ModelCheckpoint"],
);

/// The callbacks FATE 1.11 knows.
pub const CALLBACKS_SUPPORTED: (&str, &[&str]) = (
    "callback_param.callbacks",
    &["EarlyStopping", "PerformanceEvaluate", "ModelCheckpoint"],
);

/// The values of `cv_param.history_value_type`.
pub const HISTORY_VALUE_TYPE_SUPPORTED: (&str, &[&str]) =
    ("cv_param.history_value_type", &["score", "instance"]);

/// The deprecated top-level keys `callback_param` replaces.
pub const LEGACY_CALLBACK_KEYS: [&str; 4] = [
    "validation_freqs",
    "early_stopping_rounds",
    "metrics",
    "use_first_metric_only",
];

/// What a model is evaluated as: FATE's `eval_type` of its validation strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// `binary`.
    Binary,
    /// `multi`.
    MultiClass,
    /// `regression`.
    Regression,
}

impl TaskKind {
    /// FATE's `eval_type`.
    pub fn eval_type(self) -> &'static str {
        match self {
            TaskKind::Binary => "binary",
            TaskKind::MultiClass => "multi",
            TaskKind::Regression => "regression",
        }
    }

    /// FATE's metrics when none are given (`DEFAULT_*_METRIC`).
    pub fn default_metrics(self) -> &'static [&'static str] {
        match self {
            TaskKind::Binary => &["auc", "ks"],
            TaskKind::MultiClass => &["accuracy", "precision", "recall"],
            TaskKind::Regression => &["root_mean_squared_error", "mean_absolute_error"],
        }
    }

    /// Single-value metrics FATE's evaluation gives the validation strategy.
    fn single_value(self) -> &'static [&'static str] {
        match self {
            TaskKind::Binary => &["auc", "ks"],
            TaskKind::MultiClass => &["accuracy", "precision", "recall"],
            TaskKind::Regression => &[
                "explained_variance",
                "mean_absolute_error",
                "mean_squared_error",
                "median_absolute_error",
                "r2_score",
                "root_mean_squared_error",
            ],
        }
    }
}

/// FATE's metric aliases (`consts.ALIAS`) for the names the tasks above can use.
const METRIC_ALIASES: &[(&str, &str)] = &[
    ("l1", "mean_absolute_error"),
    ("mae", "mean_absolute_error"),
    ("regression_l1", "mean_absolute_error"),
    ("l2", "mean_squared_error"),
    ("mse", "mean_squared_error"),
    ("regression_l2", "mean_squared_error"),
    ("regression", "mean_squared_error"),
    ("l2_root", "root_mean_squared_error"),
    ("rmse", "root_mean_squared_error"),
    ("r2", "r2_score"),
    ("acc", "accuracy"),
];

/// Binary metrics FATE allows but records only as curves (not supported here).
const BINARY_CURVES: &[&str] = &["lift", "gain", "accuracy", "precision", "recall", "roc"];
/// Metrics FATE's validation drops (`check_single_value_default_metric`).
const BANNED: &[&str] = &["psi", "f1_score", "confusion_mat", "quantile_pr"];

/// When the validation strategy evaluates (`validation_freqs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationFreqs {
    /// Every `n` epochs: after epoch `e` (0-based) when `(e + 1) % n == 0`.
    Every(usize),
    /// After the epochs listed (0-based, as FATE compares `epoch in validation_freqs`).
    At(Vec<usize>),
}

impl ValidationFreqs {
    /// Whether FATE's `need_run_validation(epoch)` is true.
    pub fn due(&self, epoch: usize) -> bool {
        match self {
            ValidationFreqs::Every(n) => (epoch + 1).is_multiple_of(*n),
            ValidationFreqs::At(list) => list.contains(&epoch),
        }
    }
}

/// FATE 1.11's `CallbackParam`, the deprecated top-level keys folded in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Callbacks {
    /// `EarlyStopping` or `PerformanceEvaluate` is listed: FATE creates its
    /// `ValidationStrategy`, without which nothing below is used.
    pub strategy: bool,
    /// `validation_freqs`.
    pub validation_freqs: Option<ValidationFreqs>,
    /// `early_stopping_rounds`.
    pub early_stopping_rounds: Option<usize>,
    /// FATE's full metric names, task defaults filled in, in the given order: for the
    /// first of the task kinds given to [`Callbacks::parse`] that the names suit.
    pub metrics: Vec<&'static str>,
    /// The metric names as given (lower-cased), for [`Callbacks::metrics_for`].
    pub given_metrics: Vec<String>,
    /// The key they were given under (`metrics` or `callback_param.metrics`; empty when
    /// none were given).
    pub metrics_key: String,
    /// `use_first_metric_only`.
    pub use_first_metric_only: bool,
    /// `ModelCheckpoint` is listed (at its default `save_freq`): FATE saves the model
    /// of every epoch as a checkpoint besides the final model.
    pub checkpoint: bool,
}

impl Callbacks {
    /// Whether the validation strategy evaluates after `epoch`.
    pub fn validates_at(&self, epoch: usize) -> bool {
        self.strategy && self.validation_freqs.as_ref().is_some_and(|f| f.due(epoch))
    }

    /// Early stopping's rounds, when the strategy runs it.
    pub fn early_stopping(&self) -> Option<usize> {
        self.early_stopping_rounds.filter(|_| self.strategy)
    }

    /// Reads `callback_param` or the deprecated top-level keys of `p` (the component's
    /// top-level parameters), as FATE's model params' `check` does: the deprecated keys
    /// become `callback_param` with `callbacks: ["PerformanceEvaluate"]` and may not be
    /// combined with `callback_param`; then `CallbackParam.check`.
    ///
    /// `kinds` are what the model may be evaluated as (a classifier is binary or
    /// multi-class by its label, known only at run time): the metrics must suit one.
    pub fn parse(p: &Params<'_>, kinds: &[TaskKind]) -> Result<Callbacks> {
        let legacy: Vec<&str> = LEGACY_CALLBACK_KEYS
            .into_iter()
            .filter(|k| p.value(k).is_some())
            .collect();
        let cp = p.object("callback_param")?;
        if let Some(cp) = &cp {
            // Every key is looked at before any refusal (a refusal names one problem).
            for k in [
                "callbacks",
                "validation_freqs",
                "early_stopping_rounds",
                "metrics",
                "use_first_metric_only",
                "save_freq",
            ] {
                let _ = cp.raw(k);
            }
        }
        let (src, strategy, checkpoint, save_freq) = match (&cp, legacy.first()) {
            (Some(_), Some(key)) => {
                return Err(Error::param(
                    *key,
                    format!("`{key}` and `callback_param` may not be set together (FATE refuses it); put it in `callback_param`"),
                ))
            }
            (Some(cp), None) => {
                let mut strategy = false;
                let mut checkpoint = false;
                for v in cp.list("callbacks")?.into_iter().flatten() {
                    match v.as_str() {
                        Some("EarlyStopping" | "PerformanceEvaluate") => strategy = true,
                        Some("ModelCheckpoint") => checkpoint = true,
                        _ => {
                            return Err(Error::param(
                                cp.name("callbacks"),
                                format!("expected EarlyStopping, PerformanceEvaluate or ModelCheckpoint, found {v}"),
                            ))
                        }
                    }
                }
                let save_freq = cp.value("save_freq");
                (cp.clone(), strategy, checkpoint, save_freq)
            }
            (None, Some(_)) => (p.clone(), true, false, None),
            (None, None) => (p.clone(), false, false, None),
        };
        let validation_freqs = match src.value("validation_freqs") {
            None => None,
            Some(v) => Some(match v {
                Value::Array(items) => ValidationFreqs::At(
                    items
                        .iter()
                        .map(|i| {
                            i.as_u64().map(|n| n as usize).ok_or_else(|| {
                                Error::param(
                                    src.name("validation_freqs"),
                                    format!("expected a list of epochs (integers ≥ 0), found {i}"),
                                )
                            })
                        })
                        .collect::<Result<_>>()?,
                ),
                _ => match v.as_u64() {
                    Some(n) if n > 0 => ValidationFreqs::Every(n as usize),
                    _ => {
                        return Err(Error::param(
                            src.name("validation_freqs"),
                            format!("expected a positive number of iterations or a list of epochs, found {v}"),
                        ))
                    }
                },
            }),
        };
        let early_stopping_rounds = match src.value("early_stopping_rounds") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Some(n as usize),
                _ => {
                    return Err(Error::param(
                        src.name("early_stopping_rounds"),
                        format!("expected a positive number of validations, found {v}"),
                    ))
                }
            },
        };
        let use_first_metric_only = src.bool("use_first_metric_only", false)?;
        let given: Vec<String> = match src.list("metrics")? {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_ascii_lowercase).ok_or_else(|| {
                        Error::param(
                            src.name("metrics"),
                            format!("expected metric names, found {v}"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        if checkpoint {
            // FATE reads "epoch" as 1.
            let default = save_freq.is_none_or(|f| f.as_i64() == Some(1) || f == "epoch");
            if !default {
                return Err(Error::Unsupported {
                    parameter: "callback_param.save_freq".into(),
                    value: save_freq.map(Value::to_string).unwrap_or_default(),
                    supported: "1 (FATE's default): this server keeps no per-epoch checkpoints, \
                                only the final model"
                        .into(),
                });
            }
        }
        if early_stopping_rounds.is_some() && validation_freqs.is_none() {
            return Err(Error::param(
                src.name("early_stopping_rounds"),
                "needs `validation_freqs` (and a validate_data input) to know when to validate",
            ));
        }
        // Only named in errors, which need given metrics (empty either way otherwise).
        let metrics_key = if given.is_empty() {
            String::new()
        } else {
            src.name("metrics")
        };
        let mut first_error = None;
        let mut metrics = None;
        for kind in kinds {
            match resolve_metrics(*kind, &metrics_key, &given) {
                Ok(m) => {
                    metrics = Some(m);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let metrics = match (metrics, first_error) {
            (Some(m), _) => m,
            (None, Some(e)) => return Err(e),
            (None, None) => Vec::new(),
        };
        Ok(Callbacks {
            strategy,
            validation_freqs,
            early_stopping_rounds,
            metrics,
            given_metrics: given,
            metrics_key,
            use_first_metric_only,
            checkpoint,
        })
    }

    /// The metrics for the kind known at run time (a classifier's class count).
    pub fn metrics_for(&self, kind: TaskKind) -> Result<Vec<&'static str>> {
        resolve_metrics(kind, &self.metrics_key, &self.given_metrics)
    }
}

/// FATE's `EvaluateParam.check_single_value_default_metric`: banned metrics removed,
/// aliases resolved, duplicates dropped, the task's defaults when empty, and for
/// multi-class `precision` and `recall` only together.
fn resolve_metrics(kind: TaskKind, key: &str, given: &[String]) -> Result<Vec<&'static str>> {
    let single = kind.single_value();
    let mut out: Vec<&'static str> = Vec::new();
    for m in given {
        let full = METRIC_ALIASES
            .iter()
            .find(|(a, _)| a == m)
            .map_or(m.as_str(), |(_, f)| f);
        if BANNED.contains(&full) {
            continue;
        }
        match single.iter().find(|s| **s == full).copied() {
            Some(k) => {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
            None if kind == TaskKind::Binary && BINARY_CURVES.contains(&full) => {
                return Err(Error::Unsupported {
                    parameter: key.into(),
                    value: full.into(),
                    supported: "auc, ks (FATE records the others only as curves)".into(),
                })
            }
            None => {
                return Err(Error::param(
                    key,
                    format!(
                        "metric {m:?} is not a {} metric FATE evaluates (expected one of {})",
                        kind.eval_type(),
                        single.join(", ")
                    ),
                ))
            }
        }
    }
    if out.is_empty() {
        out = kind.default_metrics().to_vec();
    }
    if kind == TaskKind::MultiClass {
        for (a, b) in [("recall", "precision"), ("precision", "recall")] {
            if out.contains(&a) && !out.contains(&b) {
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// What cross-validation outputs (`output_fold_history`, `history_value_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldHistory {
    /// `output_fold_history: false`: the input data, as FATE returns it.
    Off,
    /// `score` (FATE's default): predictions (FATE lists every fold's train and validate
    /// predictions; a family may output less, and says so).
    Score,
    /// `instance`: each fold's train and validate rows themselves, ids
    /// `<id>#fold<n>#train` / `#validate`, as FATE.
    Instance,
}

/// `cv_param` with `need_cv: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CvParam {
    /// `n_splits` (at least 2).
    pub n_splits: usize,
    /// `shuffle`.
    pub shuffle: bool,
    /// `random_seed` (a positive integer; null or missing: FATE's default 1).
    pub random_seed: u64,
    /// `output_fold_history` and `history_value_type`.
    pub history: FoldHistory,
}

impl CvParam {
    /// Reads `cv_param` of `p` (the component's top-level parameters): `None` unless
    /// `need_cv` is true. Checks as FATE's `CrossValidationParam.check`, except that
    /// KFold needs at least 2 folds.
    pub fn parse(p: &Params<'_>) -> Result<Option<CvParam>> {
        let cp = match p.object("cv_param")? {
            None => return Ok(None),
            Some(cp) if !cp.bool("need_cv", false)? => return Ok(None),
            Some(cp) => cp,
        };
        let n_splits = cp.int("n_splits", 5)?;
        if n_splits < 2 {
            return Err(Error::param(
                cp.name("n_splits"),
                format!("expected at least 2 folds, found {n_splits}"),
            ));
        }
        let history = match (
            cp.bool("output_fold_history", true)?,
            cp.choice("history_value_type", Some("score"), &["score", "instance"])?,
        ) {
            (false, _) => FoldHistory::Off,
            (true, Some("instance")) => FoldHistory::Instance,
            _ => FoldHistory::Score,
        };
        let random_seed = match cp.value("random_seed") {
            None => 1,
            Some(v) => v.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                Error::param(
                    cp.name("random_seed"),
                    format!("expected a positive integer, found {v}"),
                )
            })?,
        };
        Ok(Some(CvParam {
            n_splits: n_splits as usize,
            shuffle: cp.bool("shuffle", true)?,
            random_seed,
            history,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn callbacks(v: Value, kinds: &[TaskKind]) -> Result<Callbacks> {
        let m: Map<String, Value> = v.as_object().unwrap().clone();
        Callbacks::parse(&Params::new(&m), kinds)
    }

    #[test]
    fn metrics_by_task_kind() {
        let c = callbacks(json!({"validation_freqs": 1}), &[TaskKind::MultiClass]).unwrap();
        assert_eq!(c.metrics, ["accuracy", "precision", "recall"]);
        let c = callbacks(
            json!({"validation_freqs": 1, "metrics": ["recall", "ACC"]}),
            &[TaskKind::MultiClass],
        )
        .unwrap();
        assert_eq!(c.metrics, ["recall", "accuracy", "precision"]);
        // A classifier: binary or multi-class, decided at run time.
        let both = [TaskKind::Binary, TaskKind::MultiClass];
        let c = callbacks(
            json!({"validation_freqs": 1, "metrics": ["accuracy"]}),
            &both,
        )
        .unwrap();
        assert_eq!(c.metrics, ["accuracy"]);
        assert!(c.metrics_for(TaskKind::Binary).is_err());
        let c = callbacks(json!({"validation_freqs": 1}), &both).unwrap();
        assert_eq!(c.metrics, ["auc", "ks"]);
        assert_eq!(
            c.metrics_for(TaskKind::MultiClass).unwrap(),
            ["accuracy", "precision", "recall"]
        );
        let e = callbacks(json!({"metrics": ["rmse"]}), &both)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`metrics`") && e.contains("binary"), "{e}");
    }

    #[test]
    fn cv_param_checks() {
        let cv = |v: Value| {
            let m: Map<String, Value> = v.as_object().unwrap().clone();
            CvParam::parse(&Params::new(&m))
        };
        assert_eq!(cv(json!({})).unwrap(), None);
        assert_eq!(cv(json!({"cv_param": {"n_splits": 1}})).unwrap(), None);
        let c = cv(json!({"cv_param": {"need_cv": true}})).unwrap().unwrap();
        assert_eq!(
            c,
            CvParam {
                n_splits: 5,
                shuffle: true,
                random_seed: 1,
                history: FoldHistory::Score
            }
        );
        let c = cv(json!({"cv_param": {"need_cv": true, "random_seed": null}}))
            .unwrap()
            .unwrap();
        assert_eq!(c.random_seed, 1);
        for bad in [
            json!({"need_cv": true, "random_seed": 0}),
            json!({"need_cv": true, "random_seed": "x"}),
            json!({"need_cv": true, "n_splits": 1}),
            json!({"need_cv": true, "history_value_type": "all"}),
        ] {
            let e = cv(json!({ "cv_param": bad })).unwrap_err().to_string();
            assert!(e.contains("`cv_param."), "{e}");
        }
    }
}

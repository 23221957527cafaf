//! `HeteroLR` / `HeteroLinR` parameters with FATE 1.x's names and defaults.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{Params, FATE_KEY_LENGTH};
use fateflow_domain::module::Kind::{Any, Bool, Int, List, Number, Object, Str};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};

/// FATE 1.11's parameters common to `HeteroLR` and `HeteroLinR`, with the same defaults.
const LINEAR_SHARED_PARAMS: &[Param] = &[
    param("penalty", Str, "\"L2\"", true),
    param("tol", Number, "0.0001", true),
    param("alpha", Number, "1.0", true),
    param("batch_size", Int, "-1", true),
    param("learning_rate", Number, "0.01", true),
    param("init_param", Object, OBJ, true),
    param("init_param.init_method", Str, "\"random_uniform\"", true),
    param("init_param.init_const", Number, "1", true),
    param("init_param.fit_intercept", Bool, "true", true),
    param("init_param.random_seed", Int, "null", true),
    param("early_stop", Str, "\"diff\"", true),
    param("encrypt_param", Object, OBJ, true),
    param("encrypt_param.method", Str, "\"Paillier\"", true),
    param("encrypt_param.key_length", Int, "2048", true),
    param("cv_param", Object, OBJ, true),
    param("cv_param.n_splits", Int, "5", true),
    param("cv_param.mode", Any, "\"hetero\"", false),
    param("cv_param.role", Any, "\"guest\"", false),
    param("cv_param.shuffle", Bool, "true", true),
    param("cv_param.random_seed", Int, "1", true),
    param("cv_param.need_cv", Bool, "false", true),
    param("cv_param.output_fold_history", Bool, "true", true),
    param("cv_param.history_value_type", Str, "\"score\"", true),
    param("decay", Number, "1", true),
    param("decay_sqrt", Bool, "true", true),
    param("validation_freqs", Any, "null", true),
    param("early_stopping_rounds", Int, "null", true),
    param("stepwise_param", Object, OBJ, false),
    param("stepwise_param.score_name", Any, "\"AIC\"", false),
    param("stepwise_param.mode", Any, "\"hetero\"", false),
    param("stepwise_param.role", Any, "\"guest\"", false),
    param("stepwise_param.direction", Any, "\"both\"", false),
    param("stepwise_param.max_step", Any, "10", false),
    param("stepwise_param.nvmin", Any, "2", false),
    param("stepwise_param.nvmax", Any, "null", false),
    param("stepwise_param.need_stepwise", Any, "false", false),
    param("use_first_metric_only", Bool, "false", true),
    param("floating_point_precision", Int, "23", true),
    param("callback_param", Object, OBJ, true),
    param("callback_param.callbacks", Any, "[]", true),
    param("callback_param.validation_freqs", Any, "null", true),
    param("callback_param.early_stopping_rounds", Any, "null", true),
    param("callback_param.metrics", Any, "[]", true),
    param("callback_param.use_first_metric_only", Any, "false", true),
    param("callback_param.save_freq", Any, "1", false),
    param("encrypted_mode_calculator_param", Object, OBJ, false),
    param(
        "encrypted_mode_calculator_param.mode",
        Any,
        "\"strict\"",
        false,
    ),
    param(
        "encrypted_mode_calculator_param.re_encrypted_rate",
        Any,
        "1",
        false,
    ),
    param("sqn_param", Object, OBJ, true),
    param("sqn_param.update_interval_L", Int, "3", true),
    param("sqn_param.memory_M", Int, "5", true),
    param("sqn_param.sample_size", Int, "5000", true),
    param("sqn_param.random_seed", Int, "null", true),
    param("need_run", Bool, "true", true),
];

/// `HeteroLR`'s own parameters (and its defaults where they differ from `HeteroLinR`'s).
const HETERO_LR_OWN_PARAMS: &[Param] = &[
    param("optimizer", Str, "\"rmsprop\"", true),
    param("max_iter", Int, "100", true),
    param("metrics", List, "[\"auc\",\"ks\"]", true),
    param("shuffle", Bool, "true", true),
    param("batch_strategy", Str, "\"full\"", true),
    param("masked_rate", Number, "5", false),
    param("predict_param", Object, OBJ, true),
    param("predict_param.threshold", Number, "0.5", true),
    param("multi_class", Str, "\"ovr\"", true),
];

/// `HeteroLinR`'s own defaults.
const HETERO_LINR_OWN_PARAMS: &[Param] = &[
    param("optimizer", Str, "\"sgd\"", true),
    param("max_iter", Int, "20", true),
    param("metrics", List, "[]", true),
];

const LINEAR_CONDITIONS: &[Condition] = &[
    when("stepwise_param", "stepwise_param.need_stepwise", &["true"]),
    when("cv_param", "cv_param.need_cv", &["true"]),
    when("sqn_param", "optimizer", &["sqn"]),
    when(
        "callback_param.save_freq",
        "callback_param.callbacks",
        &["ModelCheckpoint"],
    ),
];

const LINEAR_SUPPORTED: &[(&str, &[&str])] = &[
    ("penalty", &["L1", "L2", "None"]),
    (
        "optimizer",
        &[
            "sgd",
            "rmsprop",
            "adam",
            "adagrad",
            "nesterov_momentum_sgd",
            "sqn",
        ],
    ),
    (
        "init_param.init_method",
        &["random_uniform", "random_normal", "zeros", "ones", "const"],
    ),
    ("early_stop", &["diff", "abs", "weight_diff"]),
    ("batch_strategy", &["full", "random"]),
    ("cv_param.history_value_type", &["score", "instance"]),
    // HeteroLR only (FATE's `check_and_change_lower(multi_class, ["ovr"])`).
    ("multi_class", &["ovr"]),
    ("encrypt_param.method", &["paillier"]),
    // A list: checked at run time; at submit only once the domain checks list
    // elements too.
    (
        "callback_param.callbacks",
        &["EarlyStopping", "PerformanceEvaluate", "ModelCheckpoint"],
    ),
];

/// `HeteroLR`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const HETERO_LR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroLR",
    params: &[LINEAR_SHARED_PARAMS, HETERO_LR_OWN_PARAMS],
    conditions: LINEAR_CONDITIONS,
    supported: LINEAR_SUPPORTED,
};

/// `HeteroLinR`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const HETERO_LINR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroLinR",
    params: &[LINEAR_SHARED_PARAMS, HETERO_LINR_OWN_PARAMS],
    conditions: LINEAR_CONDITIONS,
    supported: LINEAR_SUPPORTED,
};

/// Which model: logistic (binary) or linear regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `HeteroLR`.
    Logistic,
    /// `HeteroLinR`.
    Linear,
}

impl Task {
    /// FATE's module name.
    pub fn module(self) -> &'static str {
        match self {
            Task::Logistic => "HeteroLR",
            Task::Linear => "HeteroLinR",
        }
    }
}

/// The regulariser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Penalty {
    None,
    L1,
    L2,
}

/// The arbiter's (or party's) update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptimizerKind {
    Sgd,
    RmsProp,
    Adam,
    AdaGrad,
    Nesterov,
    /// Stochastic quasi-Newton (with an arbiter only).
    Sqn,
}

/// When training stops before `max_iter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EarlyStop {
    Diff,
    Abs,
    WeightDiff,
}

/// How weights start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum InitMethod {
    RandomUniform,
    RandomNormal,
    Zeros,
    Ones,
    Const(f64),
}

/// FATE's `sqn_param` (`StochasticQuasiNewtonParam`), used with `optimizer: sqn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SqnParam {
    /// `update_interval_L`: iterations per Hessian update.
    pub(crate) interval: usize,
    /// `memory_M`: the `(y, s)` pairs kept.
    pub(crate) memory: usize,
    /// `sample_size`: rows of the batch the Hessian-vector product is taken on.
    pub(crate) sample_size: usize,
    /// `random_seed` of the sample (none: from the clock, as FATE's unseeded sample).
    pub(crate) random_seed: Option<u64>,
}

impl SqnParam {
    fn parse(p: &Params<'_>) -> Result<SqnParam> {
        let Some(sp) = p.object("sqn_param")? else {
            return Ok(SqnParam {
                interval: 3,
                memory: 5,
                sample_size: 5000,
                random_seed: None,
            });
        };
        let positive = |key: &str, default: i64| -> Result<usize> {
            match sp.int(key, default)? {
                n if n > 0 => Ok(n as usize),
                n => Err(Error::param(
                    sp.name(key),
                    format!("expected a positive integer, found {n}"),
                )),
            }
        };
        Ok(SqnParam {
            interval: positive("update_interval_L", 3)?,
            memory: positive("memory_M", 5)?,
            sample_size: positive("sample_size", 5000)?,
            random_seed: match sp.value("random_seed") {
                None => None,
                Some(v) => Some(v.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                    Error::param(
                        sp.name("random_seed"),
                        format!("expected a positive integer or null, found {v}"),
                    )
                })?),
            },
        })
    }
}

/// FATE's `batch_strategy` (HeteroLR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchStrategy {
    /// The data cut into batches (shuffled once with `shuffle`).
    Full,
    /// One batch of `batch_size` random rows per epoch.
    Random,
}

/// What cross-validation outputs (`output_fold_history`, `history_value_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldHistory {
    /// `output_fold_history: false`: the input data, as FATE returns it.
    Off,
    /// `score` (FATE's default): here each sample's prediction from the fold that left
    /// it out (FATE lists every fold's train and validate predictions).
    Score,
    /// `instance`: each fold's train and validate rows themselves, ids
    /// `<id>#fold<n>#train` / `#validate`, as FATE.
    Instance,
}

/// `cv_param`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CvParam {
    pub(crate) n_splits: usize,
    pub(crate) shuffle: bool,
    pub(crate) random_seed: Option<u64>,
    pub(crate) history: FoldHistory,
}

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinearParam {
    pub(crate) penalty: Penalty,
    pub(crate) alpha: f64,
    pub(crate) optimizer: OptimizerKind,
    pub(crate) learning_rate: f64,
    pub(crate) decay: f64,
    pub(crate) decay_sqrt: bool,
    /// `None`: the full batch (`batch_size` -1 or ≥ the row count).
    pub(crate) batch_size: Option<usize>,
    pub(crate) shuffle: bool,
    pub(crate) batch_strategy: BatchStrategy,
    pub(crate) max_iter: usize,
    pub(crate) early_stop: EarlyStop,
    pub(crate) tol: f64,
    pub(crate) init: InitMethod,
    pub(crate) fit_intercept: bool,
    pub(crate) random_seed: Option<u64>,
    pub(crate) key_length: u32,
    /// Fixed-point bits of plaintexts under encryption (`floating_point_precision`).
    pub(crate) precision_bits: u32,
    pub(crate) threshold: f64,
    pub(crate) sqn: SqnParam,
    /// `callback_param` (or the deprecated top-level keys it replaces).
    pub(crate) callbacks: Callbacks,
    pub(crate) cv: Option<CvParam>,
}

/// When the validation strategy evaluates (`validation_freqs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValidationFreqs {
    /// Every `n` epochs: after epoch `e` (0-based) when `(e + 1) % n == 0`.
    Every(usize),
    /// After the epochs listed (0-based, as FATE compares `epoch in validation_freqs`).
    At(Vec<usize>),
}

impl ValidationFreqs {
    /// Whether FATE's `need_run_validation(epoch)` is true.
    pub(crate) fn due(&self, epoch: usize) -> bool {
        match self {
            ValidationFreqs::Every(n) => (epoch + 1).is_multiple_of(*n),
            ValidationFreqs::At(list) => list.contains(&epoch),
        }
    }
}

/// FATE 1.11's `CallbackParam` as the linear models use it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Callbacks {
    /// `EarlyStopping` or `PerformanceEvaluate` is listed: FATE creates its
    /// `ValidationStrategy`, without which nothing below is used.
    pub(crate) strategy: bool,
    pub(crate) validation_freqs: Option<ValidationFreqs>,
    pub(crate) early_stopping_rounds: Option<usize>,
    /// FATE's full metric names, task defaults filled in, in the given order.
    pub(crate) metrics: Vec<&'static str>,
    pub(crate) use_first_metric_only: bool,
    /// `ModelCheckpoint` is listed (at its default `save_freq`): FATE saves the model
    /// of every epoch as a checkpoint besides the final model. No checkpoint is kept
    /// here (deploying one is refused by the server); the final model is the same.
    pub(crate) checkpoint: bool,
}

/// FATE's metric aliases (`consts.ALIAS`) for the names the linear models can use.
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

/// Single-value metrics FATE's evaluation returns to the validation strategy, per task.
const BINARY_SINGLE: &[&str] = &["auc", "ks"];
const REGRESSION_SINGLE: &[&str] = &[
    "explained_variance",
    "mean_absolute_error",
    "mean_squared_error",
    "median_absolute_error",
    "r2_score",
    "root_mean_squared_error",
];
/// Binary metrics FATE allows but records only as curves (not supported here).
const BINARY_CURVES: &[&str] = &["lift", "gain", "accuracy", "precision", "recall", "roc"];
/// Metrics FATE's validation drops (`check_single_value_default_metric`).
const BANNED: &[&str] = &["psi", "f1_score", "confusion_mat", "quantile_pr"];

impl Callbacks {
    /// Whether the validation strategy evaluates after `epoch`.
    pub(crate) fn validates_at(&self, epoch: usize) -> bool {
        self.strategy && self.validation_freqs.as_ref().is_some_and(|f| f.due(epoch))
    }

    /// Early stopping's rounds, when the strategy runs it.
    pub(crate) fn early_stopping(&self) -> Option<usize> {
        self.early_stopping_rounds.filter(|_| self.strategy)
    }

    /// FATE's `LinearModelParam.check`: the deprecated top-level keys
    /// (`validation_freqs`, `early_stopping_rounds`, `metrics`, `use_first_metric_only`)
    /// become `callback_param` with `callbacks: ["PerformanceEvaluate"]`, and may not be
    /// combined with `callback_param`; then `CallbackParam.check`.
    fn parse(task: Task, p: &Params<'_>) -> Result<Callbacks> {
        const LEGACY: [&str; 4] = [
            "validation_freqs",
            "early_stopping_rounds",
            "metrics",
            "use_first_metric_only",
        ];
        let legacy: Vec<&str> = LEGACY
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
        let metrics = Self::metrics(task, &src, &given)?;
        Ok(Callbacks {
            strategy,
            validation_freqs,
            early_stopping_rounds,
            metrics,
            use_first_metric_only,
            checkpoint,
        })
    }

    /// FATE's `EvaluateParam.check_single_value_default_metric`: aliases resolved,
    /// duplicates dropped, the task's defaults when empty, banned metrics removed.
    fn metrics(task: Task, src: &Params<'_>, given: &[String]) -> Result<Vec<&'static str>> {
        let (single, eval_type): (&[&'static str], &str) = match task {
            Task::Logistic => (BINARY_SINGLE, "binary"),
            Task::Linear => (REGRESSION_SINGLE, "regression"),
        };
        let mut out: Vec<&'static str> = Vec::new();
        for m in given {
            let full = METRIC_ALIASES
                .iter()
                .find(|(a, _)| a == m)
                .map_or(m.as_str(), |(_, f)| f);
            if BANNED.contains(&full) {
                continue;
            }
            let known = single.iter().find(|s| **s == full).copied();
            match known {
                Some(k) => {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
                None if task == Task::Logistic && BINARY_CURVES.contains(&full) => {
                    return Err(Error::Unsupported {
                        parameter: src.name("metrics"),
                        value: full.into(),
                        supported: "auc, ks (FATE records the others only as curves)".into(),
                    })
                }
                None => {
                    return Err(Error::param(
                        src.name("metrics"),
                        format!("metric {m:?} is not a {eval_type} metric FATE evaluates (expected one of {})", single.join(", ")),
                    ))
                }
            }
        }
        if out.is_empty() {
            out = match task {
                Task::Logistic => vec!["auc", "ks"],
                Task::Linear => vec!["root_mean_squared_error", "mean_absolute_error"],
            };
        }
        Ok(out)
    }
}

impl LinearParam {
    /// Parses `parameters` for `task`, naming the parameter in every error.
    pub(crate) fn parse(task: Task, parameters: &Map<String, Value>) -> Result<Self> {
        let p = Params::new(parameters);
        let penalty = match p
            .choice("penalty", Some("L2"), &["L1", "L2", "None"])?
            .unwrap_or("L2")
        {
            "L1" => Penalty::L1,
            "L2" => Penalty::L2,
            _ => Penalty::None,
        };
        let default_optimizer = match task {
            Task::Logistic => "rmsprop",
            Task::Linear => "sgd",
        };
        let optimizer = match p
            .choice(
                "optimizer",
                Some(default_optimizer),
                &[
                    "sgd",
                    "rmsprop",
                    "adam",
                    "adagrad",
                    "nesterov_momentum_sgd",
                    "sqn",
                ],
            )?
            .unwrap_or(default_optimizer)
        {
            "sgd" => OptimizerKind::Sgd,
            "rmsprop" => OptimizerKind::RmsProp,
            "adam" => OptimizerKind::Adam,
            "adagrad" => OptimizerKind::AdaGrad,
            "nesterov_momentum_sgd" => OptimizerKind::Nesterov,
            _ => OptimizerKind::Sqn,
        };
        let sqn = SqnParam::parse(&p)?;
        let alpha = non_negative(&p, "alpha", 1.0)?;
        let learning_rate = positive(&p, "learning_rate", 0.01)?;
        let decay = non_negative(&p, "decay", 1.0)?;
        let decay_sqrt = p.bool("decay_sqrt", true)?;
        let batch_size = match p.int("batch_size", -1)? {
            -1 => None,
            n if n > 0 => Some(n as usize),
            n => {
                return Err(Error::param(
                    "batch_size",
                    format!("expected -1 (full batch) or a positive size, found {n}"),
                ))
            }
        };
        let shuffle = p.bool("shuffle", true)?;
        // HeteroLR only; HeteroLinR has no such key (its schema refuses it at submit).
        let batch_strategy = match task {
            Task::Logistic => {
                match p.choice("batch_strategy", Some("full"), &["full", "random"])? {
                    Some("random") => BatchStrategy::Random,
                    _ => BatchStrategy::Full,
                }
            }
            Task::Linear => BatchStrategy::Full,
        };
        let default_iter = match task {
            Task::Logistic => 100,
            Task::Linear => 20,
        };
        let max_iter = match p.int("max_iter", default_iter)? {
            n if n > 0 => n as usize,
            n => {
                return Err(Error::param(
                    "max_iter",
                    format!("expected a positive number of iterations, found {n}"),
                ))
            }
        };
        let early_stop = match p
            .choice("early_stop", Some("diff"), &["diff", "abs", "weight_diff"])?
            .unwrap_or("diff")
        {
            "abs" => EarlyStop::Abs,
            "weight_diff" => EarlyStop::WeightDiff,
            _ => EarlyStop::Diff,
        };
        let tol = non_negative(&p, "tol", 1e-4)?;

        let (init, fit_intercept, random_seed) = match p.object("init_param")? {
            None => (InitMethod::RandomUniform, true, None),
            Some(ip) => {
                let method = ip
                    .choice(
                        "init_method",
                        Some("random_uniform"),
                        &["random_uniform", "random_normal", "zeros", "ones", "const"],
                    )?
                    .unwrap_or("random_uniform");
                let init = match method {
                    "random_normal" => InitMethod::RandomNormal,
                    "zeros" => InitMethod::Zeros,
                    "ones" => InitMethod::Ones,
                    "const" => InitMethod::Const(ip.float("init_const", 1.0)?),
                    _ => InitMethod::RandomUniform,
                };
                let seed = match ip.value("random_seed") {
                    None => None,
                    Some(v) => Some(v.as_u64().filter(|s| *s <= u32::MAX as u64).ok_or_else(
                        || {
                            Error::param(
                                ip.name("random_seed"),
                                format!("expected an integer between 0 and 2^32 - 1, found {v}"),
                            )
                        },
                    )?),
                };
                (init, ip.bool("fit_intercept", true)?, seed)
            }
        };

        let key_length = match p.object("encrypt_param")? {
            None => FATE_KEY_LENGTH,
            Some(ep) => {
                if let Some(method) = ep.opt_str("method")? {
                    if !method.eq_ignore_ascii_case("paillier") {
                        return Err(Error::Unsupported {
                            parameter: "encrypt_param.method".into(),
                            value: method.into(),
                            supported: "paillier".into(),
                        });
                    }
                }
                let bits = ep.int("key_length", i64::from(FATE_KEY_LENGTH))?;
                if !fateflow_crypto::paillier::SUPPORTED_KEY_SIZES.contains(&(bits as u32)) {
                    return Err(Error::param(
                        "encrypt_param.key_length",
                        format!(
                            "expected one of {:?} bits, found {bits}",
                            fateflow_crypto::paillier::SUPPORTED_KEY_SIZES
                        ),
                    ));
                }
                bits as u32
            }
        };
        let precision_bits = match p.int("floating_point_precision", 23)? {
            n @ 8..=40 => n as u32,
            n => {
                return Err(Error::param(
                    "floating_point_precision",
                    format!("expected a number of bits between 8 and 40, found {n}"),
                ))
            }
        };
        let threshold = match p.object("predict_param")? {
            None => 0.5,
            Some(pp) => pp.float("threshold", 0.5)?,
        };
        let cv = match p.object("cv_param")? {
            None => None,
            Some(cp) if !cp.bool("need_cv", false)? => None,
            Some(cp) => {
                let n_splits = cp.int("n_splits", 5)?;
                if n_splits < 2 {
                    return Err(Error::param(
                        "cv_param.n_splits",
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
                Some(CvParam {
                    history,
                    n_splits: n_splits as usize,
                    shuffle: cp.bool("shuffle", true)?,
                    // FATE's default seed is 1; an explicit null shuffles unseeded.
                    random_seed: match cp.value("random_seed") {
                        None => Some(1),
                        Some(v) => v.as_u64(),
                    },
                })
            }
        };
        if task == Task::Logistic {
            // FATE's only value; one-vs-rest is chosen by the label's class count.
            p.choice("multi_class", Some("ovr"), &["ovr"])?;
        }
        let callbacks = Callbacks::parse(task, &p)?;
        if cv.is_some() && callbacks.strategy && callbacks.validation_freqs.is_some() {
            return Err(Error::Unsupported {
                parameter: "validation_freqs".into(),
                value: "validation during cross-validation".into(),
                supported:
                    "validation (and early stopping) in a plain fit, not with `cv_param.need_cv`"
                        .into(),
            });
        }
        Ok(LinearParam {
            penalty,
            alpha,
            optimizer,
            learning_rate,
            decay,
            decay_sqrt,
            batch_size,
            shuffle,
            batch_strategy,
            max_iter,
            early_stop,
            tol,
            init,
            fit_intercept,
            random_seed,
            key_length,
            precision_bits,
            threshold,
            sqn,
            callbacks,
            cv,
        })
    }

    /// The settings as FATE's model meta shows them.
    pub(crate) fn meta(&self, task: Task) -> Value {
        serde_json::json!({
            "module": task.module(),
            "penalty": match self.penalty { Penalty::L1 => "L1", Penalty::L2 => "L2", Penalty::None => "None" },
            "alpha": self.alpha,
            "optimizer": match self.optimizer {
                OptimizerKind::Sgd => "sgd",
                OptimizerKind::RmsProp => "rmsprop",
                OptimizerKind::Adam => "adam",
                OptimizerKind::AdaGrad => "adagrad",
                OptimizerKind::Nesterov => "nesterov_momentum_sgd",
                OptimizerKind::Sqn => "sqn",
            },
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size.map_or(-1, |b| b as i64),
            "max_iter": self.max_iter,
            "early_stop": match self.early_stop { EarlyStop::Diff => "diff", EarlyStop::Abs => "abs", EarlyStop::WeightDiff => "weight_diff" },
            "tol": self.tol,
            "fit_intercept": self.fit_intercept,
            "need_one_vs_rest": false,
            "threshold": self.threshold,
        })
    }
}

fn non_negative(p: &Params<'_>, name: &str, default: f64) -> Result<f64> {
    let v = p.float(name, default)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::param(
            p.name(name),
            format!("expected a number ≥ 0, found {v}"),
        ))
    }
}

fn positive(p: &Params<'_>, name: &str, default: f64) -> Result<f64> {
    let v = p.float(name, default)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::param(
            p.name(name),
            format!("expected a number > 0, found {v}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(task: Task, v: Value) -> Result<LinearParam> {
        LinearParam::parse(task, v.as_object().unwrap())
    }

    #[test]
    fn fate_defaults() {
        let lr = parse(Task::Logistic, json!({})).unwrap();
        assert_eq!(lr.optimizer, OptimizerKind::RmsProp);
        assert_eq!(lr.max_iter, 100);
        assert_eq!(lr.penalty, Penalty::L2);
        assert_eq!(lr.alpha, 1.0);
        assert_eq!(lr.learning_rate, 0.01);
        assert_eq!(lr.batch_size, None);
        assert_eq!(lr.key_length, 2048);
        assert_eq!(lr.init, InitMethod::RandomUniform);
        // FATE lower-cases multi_class; "ovr" is its only value.
        parse(Task::Logistic, json!({"multi_class": "OVR"})).unwrap();
        let linr = parse(Task::Linear, json!({})).unwrap();
        assert_eq!(linr.optimizer, OptimizerKind::Sgd);
        assert_eq!(linr.max_iter, 20);
    }

    #[test]
    fn callbacks_follow_fates_callback_param() {
        // Nothing set: no validation strategy.
        let c = parse(Task::Logistic, json!({})).unwrap().callbacks;
        assert!(!c.strategy && !c.validates_at(0));
        // Deprecated top-level keys become PerformanceEvaluate.
        let c = parse(
            Task::Logistic,
            json!({"validation_freqs": 2, "early_stopping_rounds": 3}),
        )
        .unwrap()
        .callbacks;
        assert!(c.strategy);
        assert_eq!(c.early_stopping(), Some(3));
        assert_eq!(c.metrics, ["auc", "ks"]);
        assert!(!c.validates_at(0) && c.validates_at(1) && c.validates_at(3));
        // callback_param, a list of epochs, aliases and defaults by task.
        let c = parse(
            Task::Linear,
            json!({"callback_param": {"callbacks": ["EarlyStopping"], "validation_freqs": [0, 4],
                "early_stopping_rounds": 1, "metrics": ["MAE", "rmse", "l1"], "use_first_metric_only": true}}),
        )
        .unwrap()
        .callbacks;
        assert_eq!(
            c.metrics,
            ["mean_absolute_error", "root_mean_squared_error"]
        );
        assert!(c.use_first_metric_only);
        assert!(c.validates_at(0) && !c.validates_at(1) && c.validates_at(4));
        let c = parse(Task::Linear, json!({"callback_param": {"callbacks": ["PerformanceEvaluate"], "validation_freqs": 1}}))
            .unwrap()
            .callbacks;
        assert_eq!(
            c.metrics,
            ["root_mean_squared_error", "mean_absolute_error"]
        );
        assert_eq!(c.early_stopping(), None);
        // Without EarlyStopping or PerformanceEvaluate FATE runs no validation.
        let c = parse(
            Task::Logistic,
            json!({"callback_param": {"validation_freqs": 1, "early_stopping_rounds": 1}}),
        )
        .unwrap()
        .callbacks;
        assert!(!c.validates_at(0) && c.early_stopping().is_none());
    }

    #[test]
    fn callbacks_refused_as_fate_or_as_unsupported() {
        let e = |v: Value| parse(Task::Logistic, v).unwrap_err().to_string();
        let msg =
            e(json!({"validation_freqs": 1, "callback_param": {"callbacks": ["EarlyStopping"]}}));
        assert!(
            msg.contains("`validation_freqs`") && msg.contains("callback_param"),
            "{msg}"
        );
        let msg = e(json!({"callback_param": {"callbacks": ["ModelCheckpoint"], "save_freq": 2}}));
        assert!(
            msg.contains("not supported yet") && msg.contains("`callback_param.save_freq`"),
            "{msg}"
        );
        // At FATE's default save_freq, ModelCheckpoint is accepted (no checkpoint kept).
        let c = parse(
            Task::Logistic,
            json!({"callback_param": {"callbacks": ["ModelCheckpoint"], "save_freq": 1}}),
        )
        .unwrap()
        .callbacks;
        assert!(c.checkpoint && !c.strategy);
        // save_freq without ModelCheckpoint is not used by FATE: accepted.
        parse(
            Task::Logistic,
            json!({"callback_param": {"callbacks": ["PerformanceEvaluate"], "save_freq": 5}}),
        )
        .unwrap();
        // Banned metrics are dropped, as FATE does.
        let c = parse(
            Task::Logistic,
            json!({"validation_freqs": 1, "metrics": ["psi", "ks"]}),
        )
        .unwrap()
        .callbacks;
        assert_eq!(c.metrics, ["ks"]);
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            (json!({"optimizer": "lbfgs"}), "optimizer"),
            (json!({"batch_size": 0}), "batch_size"),
            (json!({"max_iter": -3}), "max_iter"),
            (json!({"learning_rate": "fast"}), "learning_rate"),
            (
                json!({"encrypt_param": {"key_length": 512}}),
                "encrypt_param.key_length",
            ),
            (
                json!({"init_param": {"init_method": "xavier"}}),
                "init_param.init_method",
            ),
            (
                json!({"cv_param": {"need_cv": true, "n_splits": 1}}),
                "cv_param.n_splits",
            ),
            (json!({"early_stopping_rounds": 3}), "early_stopping_rounds"),
            (
                json!({"optimizer": "sqn", "sqn_param": {"memory_M": 0}}),
                "sqn_param.memory_M",
            ),
            (json!({"multi_class": "ovo"}), "multi_class"),
        ];
        for (v, name) in cases {
            let e = parse(Task::Logistic, v.clone()).unwrap_err().to_string();
            assert!(e.contains(&format!("`{name}`")), "{v}: {e}");
        }
    }
}

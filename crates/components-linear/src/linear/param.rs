//! `HeteroLR` / `HeteroLinR` parameters with FATE 1.x's names and defaults.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{Params, FATE_KEY_LENGTH};
pub(crate) use fateflow_component_core::callbacks::{Callbacks, CvParam, FoldHistory};
use fateflow_component_core::callbacks::{
    TaskKind, CALLBACKS_SUPPORTED, CALLBACK_PARAMS, CV_CONDITION, CV_PARAMS,
    HISTORY_VALUE_TYPE_SUPPORTED, SAVE_FREQ_CONDITION,
};
use fateflow_domain::module::Kind::{Any, Bool, Int, List, Number, Object, Str};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};

/// FATE 1.11's parameters common to `HeteroLR` and `HeteroLinR`, with the same defaults
/// (with [`CV_PARAMS`] and [`CALLBACK_PARAMS`] between them, in FATE's order).
const LINEAR_HEAD_PARAMS: &[Param] = &[
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
];

const LINEAR_MID_PARAMS: &[Param] = &[
    param("decay", Number, "1", true),
    param("decay_sqrt", Bool, "true", true),
    param("validation_freqs", Any, "null", true),
    param("early_stopping_rounds", Int, "null", true),
    param("stepwise_param", Object, OBJ, true),
    param("stepwise_param.score_name", Str, "\"AIC\"", true),
    param("stepwise_param.mode", Str, "\"hetero\"", true),
    param("stepwise_param.role", Str, "\"guest\"", true),
    param("stepwise_param.direction", Str, "\"both\"", true),
    param("stepwise_param.max_step", Int, "10", true),
    param("stepwise_param.nvmin", Int, "2", true),
    param("stepwise_param.nvmax", Int, "null", true),
    param("stepwise_param.need_stepwise", Bool, "false", true),
    param("use_first_metric_only", Bool, "false", true),
    param("floating_point_precision", Int, "23", true),
];

/// FATE's `encrypted_mode_calculator_param` (only its default is accepted).
const ENCRYPTED_MODE_PARAMS: &[Param] = &[
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
];

/// `sqn_param` and `need_run` (HeteroLR, HeteroLinR).
const LINEAR_TAIL_PARAMS: &[Param] = &[
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

/// `HeteroPoisson`'s tail (no `sqn_param`) and own defaults (FATE's `PoissonParam`).
const HETERO_POISSON_OWN_PARAMS: &[Param] = &[
    param("need_run", Bool, "true", true),
    param("optimizer", Str, "\"rmsprop\"", true),
    param("max_iter", Int, "20", true),
    param("metrics", List, "[]", true),
    param("exposure_colname", Str, "null", true),
];

const LINEAR_CONDITIONS: &[Condition] = &[
    when("stepwise_param", "stepwise_param.need_stepwise", &["true"]),
    CV_CONDITION,
    when("sqn_param", "optimizer", &["sqn"]),
    SAVE_FREQ_CONDITION,
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
    HISTORY_VALUE_TYPE_SUPPORTED,
    // HeteroLR only (FATE's `check_and_change_lower(multi_class, ["ovr"])`).
    ("multi_class", &["ovr"]),
    ("encrypt_param.method", &["paillier"]),
    // A list: checked at run time; at submit only once the domain checks list
    // elements too.
    CALLBACKS_SUPPORTED,
];

/// `HeteroLR`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const HETERO_LR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroLR",
    params: &[
        LINEAR_HEAD_PARAMS,
        CV_PARAMS,
        LINEAR_MID_PARAMS,
        CALLBACK_PARAMS,
        ENCRYPTED_MODE_PARAMS,
        LINEAR_TAIL_PARAMS,
        HETERO_LR_OWN_PARAMS,
    ],
    conditions: LINEAR_CONDITIONS,
    supported: LINEAR_SUPPORTED,
};

/// `HeteroLinR`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const HETERO_LINR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroLinR",
    params: &[
        LINEAR_HEAD_PARAMS,
        CV_PARAMS,
        LINEAR_MID_PARAMS,
        CALLBACK_PARAMS,
        ENCRYPTED_MODE_PARAMS,
        LINEAR_TAIL_PARAMS,
        HETERO_LINR_OWN_PARAMS,
    ],
    conditions: LINEAR_CONDITIONS,
    supported: LINEAR_SUPPORTED,
};

/// `HeteroPoisson`'s parameter schema.
pub(crate) const HETERO_POISSON_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroPoisson",
    params: &[
        LINEAR_HEAD_PARAMS,
        CV_PARAMS,
        LINEAR_MID_PARAMS,
        CALLBACK_PARAMS,
        ENCRYPTED_MODE_PARAMS,
        HETERO_POISSON_OWN_PARAMS,
    ],
    conditions: LINEAR_CONDITIONS,
    supported: POISSON_SUPPORTED,
};

/// The SSHE models' own keys (FATE's `HeteroSSHELRParam` / `HeteroSSHELinRParam`).
const SSHE_OWN_PARAMS: &[Param] = &[
    param("use_mix_rand", Bool, "true", true),
    param("reveal_strategy", Str, "\"respectively\"", true),
    param("reveal_every_iter", Bool, "false", true),
];

/// What `HeteroSSHELR` inherits from FATE's `LogisticParam` and does not use: accepted at
/// FATE's defaults only.
const SSHE_LR_INHERITED: &[Param] = &[
    param("shuffle", Bool, "true", false),
    param("batch_strategy", Str, "\"full\"", false),
    param("masked_rate", Number, "5", false),
    param("validation_freqs", Any, "null", true),
    param("early_stopping_rounds", Int, "null", true),
    param("use_first_metric_only", Bool, "false", true),
    param("metrics", List, "null", true),
    param("floating_point_precision", Int, "23", false),
    param("stepwise_param", Object, OBJ, false),
    param("predict_param", Object, OBJ, true),
    param("predict_param.threshold", Number, "0.5", true),
    param("multi_class", Str, "\"ovr\"", true),
    param("optimizer", Str, "\"sgd\"", true),
    param("max_iter", Int, "100", true),
];

/// What `HeteroSSHELinR` inherits from FATE's `LinearParam`.
const SSHE_LINR_INHERITED: &[Param] = &[
    param("validation_freqs", Any, "null", true),
    param("early_stopping_rounds", Int, "null", true),
    param("use_first_metric_only", Bool, "false", true),
    param("metrics", List, "null", true),
    param("floating_point_precision", Int, "23", false),
    param("stepwise_param", Object, OBJ, false),
    param("sqn_param", Object, OBJ, false),
    param("optimizer", Str, "\"sgd\"", true),
    param("max_iter", Int, "20", true),
];

const SSHE_SUPPORTED: &[(&str, &[&str])] = &[
    ("penalty", &["L1", "L2", "None"]),
    (
        "optimizer",
        &["sgd", "rmsprop", "adam", "adagrad", "nesterov_momentum_sgd"],
    ),
    (
        "init_param.init_method",
        &["random_uniform", "random_normal", "zeros", "ones", "const"],
    ),
    ("early_stop", &["diff", "abs", "weight_diff"]),
    HISTORY_VALUE_TYPE_SUPPORTED,
    ("multi_class", &["ovr"]),
    ("encrypt_param.method", &["paillier"]),
    (
        "reveal_strategy",
        &["respectively", "encrypted_reveal_in_host"],
    ),
    CALLBACKS_SUPPORTED,
];

const SSHE_CONDITIONS: &[Condition] = &[CV_CONDITION, SAVE_FREQ_CONDITION];

/// The learning-rate decay and `need_run` of the SSHE models.
const SSHE_MID_PARAMS: &[Param] = &[
    param("decay", Number, "1", true),
    param("decay_sqrt", Bool, "true", true),
    param("need_run", Bool, "true", true),
];

/// `HeteroSSHELR`'s parameter schema (FATE's `HeteroSSHELRParam`).
pub(crate) const HETERO_SSHE_LR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroSSHELR",
    params: &[
        LINEAR_HEAD_PARAMS,
        CV_PARAMS,
        SSHE_MID_PARAMS,
        CALLBACK_PARAMS,
        ENCRYPTED_MODE_PARAMS,
        SSHE_LR_INHERITED,
        SSHE_OWN_PARAMS,
    ],
    conditions: SSHE_CONDITIONS,
    supported: SSHE_SUPPORTED,
};

/// `HeteroSSHELinR`'s parameter schema (FATE's `HeteroSSHELinRParam`).
pub(crate) const HETERO_SSHE_LINR_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroSSHELinR",
    params: &[
        LINEAR_HEAD_PARAMS,
        CV_PARAMS,
        SSHE_MID_PARAMS,
        CALLBACK_PARAMS,
        ENCRYPTED_MODE_PARAMS,
        SSHE_LINR_INHERITED,
        SSHE_OWN_PARAMS,
    ],
    conditions: SSHE_CONDITIONS,
    supported: SSHE_SUPPORTED,
};

const POISSON_SUPPORTED: &[(&str, &[&str])] = &[
    ("penalty", &["L1", "L2", "None"]),
    ("optimizer", &["sgd", "rmsprop", "adam", "adagrad"]),
    (
        "init_param.init_method",
        &["random_uniform", "random_normal", "zeros", "ones", "const"],
    ),
    ("early_stop", &["diff", "abs", "weight_diff"]),
    HISTORY_VALUE_TYPE_SUPPORTED,
    ("encrypt_param.method", &["paillier"]),
    CALLBACKS_SUPPORTED,
];

/// Which model: logistic (binary), linear or Poisson regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `HeteroLR`.
    Logistic,
    /// `HeteroLinR`.
    Linear,
    /// `HeteroPoisson`: log link, `exp(wx)` times the guest's exposure.
    Poisson,
}

impl Task {
    /// FATE's module name.
    pub fn module(self) -> &'static str {
        match self {
            Task::Logistic => "HeteroLR",
            Task::Linear => "HeteroLinR",
            Task::Poisson => "HeteroPoisson",
        }
    }

    /// How the validation strategy evaluates it (one-vs-rest models as binary).
    fn kind(self) -> TaskKind {
        match self {
            Task::Logistic => TaskKind::Binary,
            Task::Linear | Task::Poisson => TaskKind::Regression,
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
    /// `stepwise_param` with `need_stepwise`.
    pub(crate) stepwise: Option<super::stepwise::StepwiseParam>,
    /// `exposure_colname` (HeteroPoisson): the guest's column whose log is the offset.
    pub(crate) exposure_colname: Option<String>,
    /// `callback_param` (or the deprecated top-level keys it replaces).
    pub(crate) callbacks: Callbacks,
    pub(crate) cv: Option<CvParam>,
    /// The SSHE models' settings (`HeteroSSHELR`, `HeteroSSHELinR`): two parties, no
    /// arbiter, secret-shared training.
    pub(crate) sshe: Option<SsheParam>,
}

/// `reveal_every_iter`, `reveal_strategy` and `use_mix_rand` of the SSHE models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SsheParam {
    /// Each party learns its own weights after every batch (any optimizer); otherwise
    /// the weights stay secret-shared until training ends.
    pub(crate) reveal_every_iter: bool,
    /// `encrypted_reveal_in_host`: at the end the host gets its weights only encrypted
    /// under the guest's key (`respectively` otherwise: each its own in plaintext).
    pub(crate) encrypted_reveal_in_host: bool,
    /// FATE's faster, weaker random source for shares; ours always draws from the OS.
    pub(crate) use_mix_rand: bool,
}

impl LinearParam {
    /// Parses `parameters` for `task`, naming the parameter in every error.
    #[cfg(test)]
    pub(crate) fn parse(task: Task, parameters: &Map<String, Value>) -> Result<Self> {
        Self::parse_for(task, false, parameters)
    }

    /// FATE's module name of `task`, or of its SSHE variant.
    pub(crate) fn module(&self, task: Task) -> &'static str {
        match (self.sshe.is_some(), task) {
            (true, Task::Logistic) => "HeteroSSHELR",
            (true, _) => "HeteroSSHELinR",
            (false, t) => t.module(),
        }
    }

    /// Parses `parameters` of `task` or, with `sshe`, of its SSHE variant.
    pub(crate) fn parse_for(
        task: Task,
        sshe: bool,
        parameters: &Map<String, Value>,
    ) -> Result<Self> {
        let p = Params::new(parameters);
        // Read first, checked against the rest below (FATE's `check()` order).
        let sshe = if sshe {
            Some(SsheParam::read(&p)?)
        } else {
            None
        };
        let penalty = match p
            .choice("penalty", Some("L2"), &["L1", "L2", "None"])?
            .unwrap_or("L2")
        {
            "L1" => Penalty::L1,
            "L2" => Penalty::L2,
            _ => Penalty::None,
        };
        let default_optimizer = match task {
            _ if sshe.is_some() => "sgd",
            Task::Logistic | Task::Poisson => "rmsprop",
            Task::Linear => "sgd",
        };
        let optimizers: &[&'static str] = match task {
            Task::Logistic if sshe.is_some() => {
                &["sgd", "rmsprop", "adam", "adagrad", "nesterov_momentum_sgd"]
            }
            Task::Poisson => &["sgd", "rmsprop", "adam", "adagrad"],
            _ if sshe.is_some() => &["sgd", "rmsprop", "adam", "adagrad"],
            _ => &[
                "sgd",
                "rmsprop",
                "adam",
                "adagrad",
                "nesterov_momentum_sgd",
                "sqn",
            ],
        };
        let optimizer = match p
            .choice("optimizer", Some(default_optimizer), optimizers)?
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
        let stepwise = super::stepwise::StepwiseParam::parse(&p)?;
        let exposure_colname = match task {
            Task::Poisson => p
                .opt_str("exposure_colname")?
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            _ => None,
        };
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
            Task::Linear | Task::Poisson => BatchStrategy::Full,
        };
        let default_iter = match task {
            Task::Logistic => 100,
            Task::Linear | Task::Poisson => 20,
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
        let cv = CvParam::parse(&p)?;
        if task == Task::Logistic {
            // FATE's only value; one-vs-rest is chosen by the label's class count.
            p.choice("multi_class", Some("ovr"), &["ovr"])?;
        }
        let callbacks = Callbacks::parse(&p, &[task.kind()])?;
        if let Some(s) = &sshe {
            s.check(task, penalty, optimizer, &callbacks)?;
        }
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
            exposure_colname,
            stepwise,
            callbacks,
            cv,
            sshe,
        })
    }

    /// The settings as FATE's model meta shows them.
    pub(crate) fn meta(&self, task: Task) -> Value {
        let mut meta = serde_json::json!({
            "module": self.module(task),
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
        });
        if task == Task::Poisson {
            meta["exposure_colname"] = self.exposure_colname.clone().into();
        }
        if let Some(sshe) = &self.sshe {
            meta["reveal_strategy"] = sshe.strategy().into();
            meta["reveal_every_iter"] = sshe.reveal_every_iter.into();
        }
        meta
    }
}

impl SsheParam {
    /// Reads `reveal_every_iter`, `reveal_strategy` and `use_mix_rand`.
    fn read(p: &Params<'_>) -> Result<SsheParam> {
        let reveal_every_iter = p.bool("reveal_every_iter", false)?;
        let strategy = p
            .opt_str("reveal_strategy")?
            .unwrap_or("respectively")
            .to_ascii_lowercase();
        let encrypted_reveal_in_host = match strategy.as_str() {
            "respectively" => false,
            "encrypted_reveal_in_host" => true,
            other => {
                return Err(Error::Unsupported {
                    parameter: "reveal_strategy".into(),
                    value: other.into(),
                    supported: "respectively, encrypted_reveal_in_host".into(),
                })
            }
        };
        Ok(SsheParam {
            reveal_every_iter,
            encrypted_reveal_in_host,
            use_mix_rand: p.bool("use_mix_rand", true)?,
        })
    }

    /// FATE's `HeteroSSHELRParam.check` / `HeteroSSHELinRParam.check`.
    fn check(
        &self,
        task: Task,
        penalty: Penalty,
        optimizer: OptimizerKind,
        callbacks: &Callbacks,
    ) -> Result<()> {
        if self.encrypted_reveal_in_host && self.reveal_every_iter {
            return Err(Error::param(
                "reveal_strategy",
                "encrypted_reveal_in_host cannot reveal every iteration: set reveal_every_iter false (FATE refuses it too)",
            ));
        }
        if self.reveal_every_iter {
            return Ok(());
        }
        if penalty == Penalty::L1 {
            return Err(Error::param(
                "penalty",
                "with reveal_every_iter false the penalty must be L2 or none (as FATE): L1's soft threshold needs the weights in the clear",
            ));
        }
        let allowed = match task {
            Task::Logistic => matches!(optimizer, OptimizerKind::Sgd | OptimizerKind::Nesterov),
            _ => optimizer == OptimizerKind::Sgd,
        };
        if !allowed {
            return Err(Error::param(
                "optimizer",
                match task {
                    Task::Logistic => "with reveal_every_iter false the optimizer must be sgd or nesterov_momentum_sgd (as FATE)",
                    _ => "with reveal_every_iter false the optimizer must be sgd (as FATE)",
                },
            ));
        }
        if callbacks.validation_freqs.is_some() {
            return Err(Error::param(
                "callback_param.validation_freqs",
                "validation during training needs reveal_every_iter true (as FATE): the weights are secret-shared until the end",
            ));
        }
        Ok(())
    }

    /// FATE's `reveal_strategy` value.
    pub(crate) fn strategy(&self) -> &'static str {
        if self.encrypted_reveal_in_host {
            "encrypted_reveal_in_host"
        } else {
            "respectively"
        }
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

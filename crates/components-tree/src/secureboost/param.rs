//! `HeteroSecureBoost` parameters with FATE 1.11's names and defaults
//! (`HeteroSecureBoostParam`, `DecisionTreeParam`, `ObjectiveParam`, `EncryptParam`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::Params;
pub(crate) use fateflow_component_core::callbacks::{Callbacks, CvParam};
use fateflow_component_core::callbacks::{
    TaskKind, CALLBACKS_SUPPORTED, CALLBACK_PARAMS, CV_CONDITION, CV_PARAMS,
    HISTORY_VALUE_TYPE_SUPPORTED, SAVE_FREQ_CONDITION,
};
use fateflow_domain::module::Kind::{Any, Bool, Int, List, Number, Object, Str};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};

/// `HeteroSecureBoostParam`'s own keys and those of its base classes
/// (`HeteroBoostingParam`, `BoostingParam`), FATE 1.11.4's defaults.
const SBT_PARAMS: &[Param] = &[
    param("task_type", Str, "\"classification\"", true),
    param("learning_rate", Number, "0.3", true),
    param("num_trees", Int, "5", true),
    param("subsample_feature_rate", Number, "1.0", true),
    param("n_iter_no_change", Bool, "true", true),
    param("tol", Number, "0.0001", true),
    param("bin_num", Int, "32", true),
    param("validation_freqs", Any, "null", true),
    param("early_stopping_rounds", Int, "null", true),
    param("metrics", List, "null", true),
    param("use_first_metric_only", Bool, "false", true),
    param("use_missing", Bool, "false", true),
    param("zero_as_missing", Bool, "false", true),
    // An integer ≥ 0, or a boolean (true = 1).
    param("complete_secure", Any, "0", true),
    param("random_seed", Int, "100", true),
    param("binning_error", Number, "0.0001", true),
    // Abandoned since FATE 1.7.1: stored, never used.
    param("sparse_optimization", Any, "false", true),
    param("run_goss", Bool, "false", true),
    param("top_rate", Number, "0.2", true),
    param("other_rate", Number, "0.1", true),
    // Abandoned: never used.
    param("cipher_compress_error", Any, "null", true),
    param("cipher_compress", Bool, "true", true),
    // FATE 1.11.4 stores it but never passes it on to its trees.
    param("new_ver", Bool, "true", false),
    param("boosting_strategy", Str, "\"std\"", true),
    param("work_mode", Str, "null", true),
    param("tree_num_per_party", Int, "1", true),
    param("guest_depth", Int, "2", true),
    param("host_depth", Int, "3", true),
    param("multi_mode", Str, "\"single_output\"", true),
    param("EINI_inference", Bool, "false", true),
    param("EINI_random_mask", Bool, "false", true),
    param("EINI_complexity_check", Bool, "false", false),
    // Not a key of FATE's class (FATE refuses it as redundant); every schema here has it.
    param("need_run", Bool, "true", true),
];

/// `tree_param` (`DecisionTreeParam`).
const TREE_PARAMS: &[Param] = &[
    param("tree_param", Object, OBJ, true),
    param("tree_param.criterion_method", Str, "\"xgboost\"", true),
    // `[l2, l1]` or `{"l1": .., "l2": ..}`.
    param("tree_param.criterion_params", Any, "[0.1, 0]", true),
    param("tree_param.max_depth", Int, "3", true),
    param("tree_param.min_sample_split", Int, "2", true),
    param("tree_param.min_impurity_split", Number, "0.001", true),
    param("tree_param.min_leaf_node", Int, "1", true),
    param("tree_param.max_split_nodes", Int, "65536", true),
    // Hetero trees count splits whatever this says (FATE 1.8+).
    param("tree_param.feature_importance_type", Str, "\"split\"", true),
    // Stored by FATE's trees, never used.
    param("tree_param.n_iter_no_change", Bool, "true", true),
    param("tree_param.tol", Number, "0.001", true),
    param("tree_param.min_child_weight", Number, "0", true),
    // Overwritten by the top-level keys when `use_missing` is true; otherwise a tree
    // would use missing directions on data binned without them.
    param("tree_param.use_missing", Bool, "false", false),
    param("tree_param.zero_as_missing", Bool, "false", true),
    // Only the order of FATE's histogram sums.
    param("tree_param.deterministic", Bool, "false", true),
];

/// `objective_param`, `encrypt_param`, `encrypted_mode_calculator_param`, `predict_param`.
const OTHER_OBJECT_PARAMS: &[Param] = &[
    param("objective_param", Object, OBJ, true),
    param("objective_param.objective", Str, "\"cross_entropy\"", true),
    // A list for huber, fair and tweedie; FATE reads nothing else.
    param("objective_param.params", Any, "null", true),
    param("encrypt_param", Object, OBJ, true),
    param("encrypt_param.method", Str, "\"Paillier\"", true),
    param("encrypt_param.key_length", Int, "2048", true),
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
    param("predict_param", Object, OBJ, true),
    param("predict_param.threshold", Number, "0.5", true),
];

const SBT_CONDITIONS: &[Condition] = &[
    CV_CONDITION,
    SAVE_FREQ_CONDITION,
    when("top_rate", "run_goss", &["true"]),
    when("other_rate", "run_goss", &["true"]),
    // `work_mode`, when set, overrides `boosting_strategy`; these keys are read anyway.
    when("tree_num_per_party", "boosting_strategy", &["mix"]),
    when("guest_depth", "boosting_strategy", &["layered"]),
    when("host_depth", "boosting_strategy", &["layered"]),
    when("zero_as_missing", "use_missing", &["true"]),
    when("tree_param.use_missing", "use_missing", &["false"]),
    when("EINI_random_mask", "EINI_inference", &["true"]),
    when(
        "objective_param.params",
        "objective_param.objective",
        &["huber", "fair", "tweedie"],
    ),
    when(
        "encrypted_mode_calculator_param.re_encrypted_rate",
        "encrypted_mode_calculator_param.mode",
        &["balance"],
    ),
];

const OBJECTIVES: &[&str] = &[
    "cross_entropy",
    "lse",
    "lae",
    "huber",
    "fair",
    "log_cosh",
    "tweedie",
];
const STRATEGIES: &[&str] = &["std", "mix", "layered"];

const SBT_SUPPORTED: &[(&str, &[&str])] = &[
    ("task_type", &["classification", "regression"]),
    ("objective_param.objective", OBJECTIVES),
    ("boosting_strategy", STRATEGIES),
    ("work_mode", STRATEGIES),
    ("multi_mode", &["single_output", "multi_output"]),
    // FATE also takes IPCL, and IterativeAffine (which it turns into Paillier).
    ("encrypt_param.method", &["paillier"]),
    ("tree_param.criterion_method", &["xgboost"]),
    ("tree_param.feature_importance_type", &["split", "gain"]),
    HISTORY_VALUE_TYPE_SUPPORTED,
    CALLBACKS_SUPPORTED,
];

/// `HeteroSecureBoost`'s parameter schema: what submit-time validation checks and this
/// component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroSecureBoost",
    params: &[
        SBT_PARAMS,
        TREE_PARAMS,
        OTHER_OBJECT_PARAMS,
        CV_PARAMS,
        CALLBACK_PARAMS,
    ],
    conditions: SBT_CONDITIONS,
    supported: SBT_SUPPORTED,
};

/// The schema as a `'static` reference, for [`Params::with_schema`].
static SCHEMA_REF: ModuleSchema = SCHEMA;

/// Classification or regression (`task_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskType {
    Classification,
    Regression,
}

/// `objective_param.objective` with its parameter (`objective_param.params[0]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Objective {
    /// Binary sigmoid or multi-class softmax, by the number of label classes.
    CrossEntropy,
    Lse,
    Lae,
    /// `delta` > 0 (`params` is required).
    Huber(f64),
    /// `c` > 0 (`params` is required).
    Fair(f64),
    LogCosh,
    /// Variance power `rho` in [1, 2) (`params` is required).
    Tweedie(f64),
}

/// `boosting_strategy` (or the deprecated `work_mode`, which overrides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Std,
    /// Each party in turn builds `tree_num_per_party` trees from its own features.
    Mix {
        tree_num_per_party: usize,
    },
    /// The host builds the top `host_depth` layers, the guest the next `guest_depth`.
    Layered {
        host_depth: usize,
        guest_depth: usize,
    },
}

/// `tree_param`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeParam {
    /// In layered mode `guest_depth + host_depth`, as FATE 1.11.4 sets it.
    pub(crate) max_depth: usize,
    /// FATE takes any integer; a negative one constrains nothing, as 0.
    pub(crate) min_sample_split: usize,
    pub(crate) min_impurity_split: f64,
    /// As `min_sample_split`.
    pub(crate) min_leaf_node: usize,
    pub(crate) min_child_weight: f64,
    /// `criterion_params[0]` (or `{l2}`): λ.
    pub(crate) l2: f64,
    /// `criterion_params[1]` (or `{l1}`): α.
    pub(crate) l1: f64,
    pub(crate) max_split_nodes: usize,
}

/// Everything the component reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SbtParam {
    pub(crate) task_type: TaskType,
    pub(crate) objective: Objective,
    pub(crate) learning_rate: f64,
    pub(crate) num_trees: usize,
    /// In [0, 1]; FATE samples `max(1, ⌊rate × features⌋)` features per tree.
    pub(crate) subsample_feature_rate: f64,
    pub(crate) n_iter_no_change: bool,
    pub(crate) tol: f64,
    pub(crate) bin_num: usize,
    pub(crate) binning_error: f64,
    pub(crate) key_length: u32,
    pub(crate) tree: TreeParam,
    pub(crate) use_missing: bool,
    /// Only with `use_missing` (FATE's trees ignore it otherwise).
    pub(crate) zero_as_missing: bool,
    /// The first `complete_secure` trees use the guest's features only (`true` = 1).
    pub(crate) complete_secure: usize,
    pub(crate) random_seed: u64,
    /// `run_goss`: `Some((top_rate, other_rate))`.
    pub(crate) goss: Option<(f64, f64)>,
    pub(crate) cipher_compress: bool,
    pub(crate) strategy: Strategy,
    /// `multi_mode: multi_output`.
    pub(crate) multi_output: bool,
    /// False under mix, where FATE predicts its own way whatever this says.
    pub(crate) eini_inference: bool,
    pub(crate) eini_random_mask: bool,
    pub(crate) threshold: f64,
    /// `callback_param` (or the deprecated top-level keys it replaces).
    pub(crate) validation: Callbacks,
    pub(crate) cv: Option<CvParam>,
}

impl SbtParam {
    /// Parses the component's merged parameters as FATE's `HeteroSecureBoostParam.check`
    /// (and the checks of its base and nested classes); every error names the key.
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<SbtParam> {
        let p = Params::with_schema(map, &SCHEMA_REF);

        let task_type = match p.get_choice("task_type", &["classification", "regression"])? {
            "regression" => TaskType::Regression,
            _ => TaskType::Classification,
        };
        let objective = objective(&p.object_or_empty("objective_param")?, task_type)?;
        let learning_rate = p.get_float("learning_rate")?;
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(Error::param(
                "learning_rate",
                format!("expected a number > 0, found {learning_rate}"),
            ));
        }
        let num_trees = at_least(&p, "num_trees", 1)?;
        let subsample_feature_rate = unit_interval(&p, "subsample_feature_rate")?;
        let n_iter_no_change = p.get_bool("n_iter_no_change")?;
        let tol = finite(&p, "tol")?;
        let bin_num = at_least(&p, "bin_num", 2)?;
        let random_seed = match p.get_int("random_seed")? {
            n if n >= 0 => n as u64,
            n => {
                return Err(Error::param(
                    "random_seed",
                    format!("expected an integer ≥ 0, found {n}"),
                ))
            }
        };
        let binning_error = unit_interval(&p, "binning_error")?;
        let key_length = encrypt_param(&p.object_or_empty("encrypt_param")?)?;
        let threshold = p.object_or_empty("predict_param")?.get_float("threshold")?;
        let cv = CvParam::parse(&p)?;

        let use_missing = p.get_bool("use_missing")?;
        let zero_as_missing = p.get_bool("zero_as_missing")? && use_missing;
        let mut tree = tree_param(&p.object_or_empty("tree_param")?, use_missing)?;

        // Read and ignored, as FATE does.
        let _ = p.raw("sparse_optimization");
        let _ = p.raw("cipher_compress_error");

        let run_goss = p.get_bool("run_goss")?;
        // FATE checks the rates whether or not GOSS runs.
        let rate = |key: &str| -> Result<f64> {
            let v = unit_interval(&p, key)?;
            if v > 0.0 {
                Ok(v)
            } else {
                Err(Error::param(key, "expected a number in (0, 1], found 0"))
            }
        };
        let top_rate = rate("top_rate")?;
        let other_rate = rate("other_rate")?;
        if top_rate + other_rate >= 1.0 {
            return Err(Error::param(
                "top_rate",
                format!(
                    "`top_rate` + `other_rate` must be below 1, found {top_rate} + {other_rate}"
                ),
            ));
        }
        let cipher_compress = p.get_bool("cipher_compress")?;
        let eini_inference = p.get_bool("EINI_inference")?;
        let eini_random_mask = p.get_bool("EINI_random_mask")?;
        let complete_secure = match p.value("complete_secure") {
            None => 0,
            Some(Value::Bool(b)) => usize::from(*b),
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
                Error::param(
                    "complete_secure",
                    format!("expected an integer ≥ 0 (or true for 1), found {v}"),
                )
            })?,
        };

        // `work_mode`, when set, overrides `boosting_strategy`.
        let strategy_key = match p.value("work_mode") {
            Some(_) => "work_mode",
            None => "boosting_strategy",
        };
        let strategy_name = match strategy_key {
            "work_mode" => p.choice("work_mode", None, STRATEGIES)?.unwrap_or("std"),
            _ => p.get_choice("boosting_strategy", STRATEGIES)?,
        };
        // Read either way.
        let _ = p.raw("boosting_strategy");
        let tree_num_per_party = p.get_int("tree_num_per_party")?;
        let guest_depth = p.get_int("guest_depth")?;
        let host_depth = p.get_int("host_depth")?;
        let positive = |key: &str, v: i64| -> Result<usize> {
            if v >= 1 {
                Ok(v as usize)
            } else {
                Err(Error::param(
                    key,
                    format!(
                        "expected an integer ≥ 1 with `{strategy_key}: {strategy_name}`, found {v}"
                    ),
                ))
            }
        };
        let strategy = match strategy_name {
            "mix" => Strategy::Mix {
                tree_num_per_party: positive("tree_num_per_party", tree_num_per_party)?,
            },
            "layered" => {
                let strategy = Strategy::Layered {
                    host_depth: positive("host_depth", host_depth)?,
                    guest_depth: positive("guest_depth", guest_depth)?,
                };
                // FATE 1.11.4 builds layered trees exactly this deep.
                tree.max_depth = (guest_depth + host_depth) as usize;
                strategy
            }
            _ => Strategy::Std,
        };

        let multi_output =
            p.get_choice("multi_mode", &["single_output", "multi_output"])? == "multi_output";
        if multi_output && strategy != Strategy::Std {
            return Err(Error::param(
                "multi_mode",
                format!("multi_output trees need `boosting_strategy: std`, found `{strategy_key}: {strategy_name}`"),
            ));
        }
        if multi_output && !cipher_compress {
            return Err(Error::param(
                "multi_mode",
                "multi_output trees need `cipher_compress: true`",
            ));
        }

        let kinds: &[TaskKind] = match task_type {
            TaskType::Classification => &[TaskKind::Binary, TaskKind::MultiClass],
            TaskType::Regression => &[TaskKind::Regression],
        };
        let validation = Callbacks::parse(&p, kinds)?;

        Ok(SbtParam {
            task_type,
            objective,
            learning_rate,
            num_trees,
            subsample_feature_rate,
            n_iter_no_change,
            tol,
            bin_num,
            binning_error,
            key_length,
            tree,
            use_missing,
            zero_as_missing,
            complete_secure,
            random_seed,
            goss: run_goss.then_some((top_rate, other_rate)),
            cipher_compress,
            eini_inference: eini_inference && !matches!(strategy, Strategy::Mix { .. }),
            eini_random_mask,
            strategy,
            multi_output,
            threshold,
            validation,
            cv,
        })
    }
}

/// `ObjectiveParam.check(task_type)`.
fn objective(op: &Params<'_>, task_type: TaskType) -> Result<Objective> {
    let name = op.get_choice("objective", OBJECTIVES)?;
    let key = op.name("objective");
    // Read whatever the objective; used by huber, fair and tweedie only.
    let params = op.value("params");
    match (task_type, name) {
        (TaskType::Classification, "cross_entropy") => return Ok(Objective::CrossEntropy),
        (TaskType::Classification, other) => {
            return Err(Error::param(
                key,
                format!("`{other}` is a regression objective; classification takes cross_entropy"),
            ))
        }
        (TaskType::Regression, "cross_entropy") => {
            return Err(Error::param(
                key,
                "cross_entropy is a classification objective; regression takes lse, lae, huber, fair, log_cosh or tweedie",
            ))
        }
        _ => {}
    }
    let params_key = op.name("params");
    let first = || -> Result<f64> {
        let v = match params {
            Some(Value::Array(items)) if !items.is_empty() => &items[0],
            other => {
                return Err(Error::param(
                    &params_key,
                    format!(
                    "{name} needs a non-empty list whose first element is its parameter, found {}",
                    other.map_or("nothing".into(), Value::to_string)
                ),
                ))
            }
        };
        let x = v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
            Error::param(&params_key, format!("expected a number first, found {v}"))
        })?;
        if x <= 0.0 {
            return Err(Error::param(
                &params_key,
                format!("{name}'s parameter must be > 0, found {x}"),
            ));
        }
        Ok(x)
    };
    Ok(match name {
        "lse" => Objective::Lse,
        "lae" => Objective::Lae,
        "log_cosh" => Objective::LogCosh,
        "huber" => Objective::Huber(first()?),
        "fair" => Objective::Fair(first()?),
        _ => {
            let rho = first()?;
            if !(1.0..2.0).contains(&rho) {
                return Err(Error::param(
                    &params_key,
                    format!("tweedie's variance power must be in [1, 2), found {rho}"),
                ));
            }
            Objective::Tweedie(rho)
        }
    })
}

/// `EncryptParam.check`, and the key sizes this build generates.
fn encrypt_param(ep: &Params<'_>) -> Result<u32> {
    let method = ep.get_str("method")?;
    if !method.eq_ignore_ascii_case("paillier") {
        let known = ["ipcl", "iterativeaffine"];
        if known.iter().any(|k| k.eq_ignore_ascii_case(method)) {
            return Err(Error::Unsupported {
                parameter: ep.name("method"),
                value: method.into(),
                supported: "paillier".into(),
            });
        }
        return Err(Error::param(
            ep.name("method"),
            format!("`{method}` is not an encryption FATE knows (expected paillier)"),
        ));
    }
    // FATE takes any length; we make any even one from 1024 to 4096 bits.
    let bits = ep.get_int("key_length")?;
    match u32::try_from(bits) {
        Ok(b) if fateflow_crypto::paillier::generatable(b) => Ok(b),
        _ => Err(Error::param(
            ep.name("key_length"),
            format!(
                "expected an even number of bits from {} to {} (usually 1024 or 2048), found {bits}",
                fateflow_crypto::paillier::MIN_KEY_BITS,
                fateflow_crypto::paillier::MAX_GENERATED_BITS
            ),
        )),
    }
}

/// `DecisionTreeParam.check`; `use_missing` is the top-level key.
fn tree_param(tp: &Params<'_>, use_missing: bool) -> Result<TreeParam> {
    tp.get_choice("criterion_method", &["xgboost"])?;
    let (l2, l1) = criterion_params(tp)?;
    let max_depth = at_least(tp, "max_depth", 1)?;
    let min_sample_split = tp.get_int("min_sample_split")?.max(0) as usize;
    let min_impurity_split = finite(tp, "min_impurity_split")?;
    let min_leaf_node = tp.get_int("min_leaf_node")?.max(0) as usize;
    let max_split_nodes = at_least(tp, "max_split_nodes", 1)?;
    tp.get_choice("feature_importance_type", &["split", "gain"])?;
    tp.get_bool("n_iter_no_change")?;
    finite(tp, "tol")?;
    let min_child_weight = finite(tp, "min_child_weight")?;
    if min_child_weight < 0.0 {
        return Err(Error::param(
            tp.name("min_child_weight"),
            format!("expected a number ≥ 0, found {min_child_weight}"),
        ));
    }
    tp.get_bool("deterministic")?;
    tp.get_bool("zero_as_missing")?;
    if tp.bool("use_missing", false)? && !use_missing {
        return Err(Error::Unsupported {
            parameter: tp.name("use_missing"),
            value: "true without the top-level `use_missing: true`".into(),
            supported: "the top-level `use_missing` (which sets this one)".into(),
        });
    }
    Ok(TreeParam {
        max_depth,
        min_sample_split,
        min_impurity_split,
        min_leaf_node,
        min_child_weight,
        l2,
        l1,
        max_split_nodes,
    })
}

/// `criterion_params`: `[l2, l1]` or `{"l1": .., "l2": ..}`, both ≥ 0.
fn criterion_params(tp: &Params<'_>) -> Result<(f64, f64)> {
    let key = tp.name("criterion_params");
    let reg = |v: Option<&Value>, what: &str| -> Result<f64> {
        match v.and_then(Value::as_f64) {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(Error::param(
                &key,
                format!(
                    "expected the {what} regularisation as a number ≥ 0, found {}",
                    v.map_or("nothing".into(), Value::to_string)
                ),
            )),
        }
    };
    match tp.value("criterion_params") {
        None => Ok((0.1, 0.0)),
        Some(Value::Array(items)) if items.len() == 2 => {
            Ok((reg(items.first(), "l2")?, reg(items.get(1), "l1")?))
        }
        Some(Value::Object(o)) => Ok((reg(o.get("l2"), "l2")?, reg(o.get("l1"), "l1")?)),
        Some(v) => Err(Error::param(
            key,
            format!("expected a list [l2, l1] or an object {{\"l1\", \"l2\"}}, found {v}"),
        )),
    }
}

/// An integer of at least `min`.
fn at_least(p: &Params<'_>, key: &str, min: i64) -> Result<usize> {
    match p.get_int(key)? {
        n if n >= min => Ok(n as usize),
        n => Err(Error::param(
            p.name(key),
            format!("expected an integer ≥ {min}, found {n}"),
        )),
    }
}

/// A number in [0, 1].
fn unit_interval(p: &Params<'_>, key: &str) -> Result<f64> {
    match p.get_float(key)? {
        v if (0.0..=1.0).contains(&v) => Ok(v),
        v => Err(Error::param(
            p.name(key),
            format!("expected a number in [0, 1], found {v}"),
        )),
    }
}

fn finite(p: &Params<'_>, key: &str) -> Result<f64> {
    match p.get_float(key)? {
        v if v.is_finite() => Ok(v),
        v => Err(Error::param(
            p.name(key),
            format!("expected a finite number, found {v}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<SbtParam> {
        SbtParam::parse(v.as_object().unwrap())
    }

    fn refused(v: Value) -> String {
        parse(v.clone())
            .expect_err(&format!("{v} should be refused"))
            .to_string()
    }

    #[test]
    fn an_empty_map_gives_fates_defaults() {
        let p = parse(json!({})).unwrap();
        assert_eq!(
            p,
            SbtParam {
                task_type: TaskType::Classification,
                objective: Objective::CrossEntropy,
                learning_rate: 0.3,
                num_trees: 5,
                subsample_feature_rate: 1.0,
                n_iter_no_change: true,
                tol: 1e-4,
                bin_num: 32,
                binning_error: 1e-4,
                key_length: crate::params::FATE_KEY_LENGTH,
                tree: TreeParam {
                    max_depth: 3,
                    min_sample_split: 2,
                    min_impurity_split: 1e-3,
                    min_leaf_node: 1,
                    min_child_weight: 0.0,
                    l2: 0.1,
                    l1: 0.0,
                    max_split_nodes: 65536,
                },
                use_missing: false,
                zero_as_missing: false,
                complete_secure: 0,
                random_seed: 100,
                goss: None,
                cipher_compress: true,
                strategy: Strategy::Std,
                multi_output: false,
                eini_inference: false,
                eini_random_mask: false,
                threshold: 0.5,
                validation: Callbacks {
                    metrics: vec!["auc", "ks"],
                    ..Callbacks::default()
                },
                cv: None,
            }
        );
        assert!(!p.validation.strategy);
    }

    #[test]
    fn the_schema_key_length_is_fates() {
        let key = SCHEMA
            .params()
            .find(|p| p.path == "encrypt_param.key_length")
            .unwrap();
        assert_eq!(
            key.default,
            crate::params::FATE_KEY_LENGTH.to_string().as_str()
        );
    }

    #[test]
    fn every_refusal_names_its_key() {
        let cases = [
            (json!({"num_trees": 0}), "num_trees"),
            (
                json!({"tree_param": {"max_depth": 0}}),
                "tree_param.max_depth",
            ),
            (
                json!({"objective_param": {"objective": "poisson"}}),
                "objective_param.objective",
            ),
            (json!({"task_type": "ranking"}), "task_type"),
            (json!({"learning_rate": 0}), "learning_rate"),
            (json!({"learning_rate": "fast"}), "learning_rate"),
            (json!({"bin_num": 1}), "bin_num"),
            (
                json!({"subsample_feature_rate": 1.5}),
                "subsample_feature_rate",
            ),
            (json!({"random_seed": -1}), "random_seed"),
            (json!({"binning_error": 2}), "binning_error"),
            (json!({"top_rate": 0.6, "other_rate": 0.4}), "top_rate"),
            (json!({"other_rate": 0}), "other_rate"),
            (json!({"top_rate": 1.2}), "top_rate"),
            (json!({"complete_secure": -1}), "complete_secure"),
            (json!({"complete_secure": 1.5}), "complete_secure"),
            (json!({"boosting_strategy": "deep"}), "boosting_strategy"),
            (json!({"work_mode": "deep"}), "work_mode"),
            (
                json!({"multi_mode": "multi_output", "boosting_strategy": "mix"}),
                "multi_mode",
            ),
            (
                json!({"multi_mode": "multi_output", "work_mode": "layered"}),
                "multi_mode",
            ),
            (
                json!({"multi_mode": "multi_output", "cipher_compress": false}),
                "multi_mode",
            ),
            (json!({"multi_mode": "multi"}), "multi_mode"),
            (
                json!({"boosting_strategy": "mix", "tree_num_per_party": 0}),
                "tree_num_per_party",
            ),
            (
                json!({"boosting_strategy": "layered", "guest_depth": 0}),
                "guest_depth",
            ),
            (
                json!({"work_mode": "layered", "host_depth": 0}),
                "host_depth",
            ),
            (
                json!({"task_type": "regression"}),
                "objective_param.objective",
            ),
            (
                json!({"objective_param": {"objective": "lse"}}),
                "objective_param.objective",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "tweedie", "params": [2]}}),
                "objective_param.params",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "tweedie", "params": [0.5]}}),
                "objective_param.params",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "huber"}}),
                "objective_param.params",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "huber", "params": []}}),
                "objective_param.params",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "fair", "params": [0]}}),
                "objective_param.params",
            ),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "huber", "params": ["a"]}}),
                "objective_param.params",
            ),
            (
                json!({"tree_param": {"criterion_params": [1]}}),
                "tree_param.criterion_params",
            ),
            (
                json!({"tree_param": {"criterion_params": []}}),
                "tree_param.criterion_params",
            ),
            (
                json!({"tree_param": {"criterion_params": [0.1, -1]}}),
                "tree_param.criterion_params",
            ),
            (
                json!({"tree_param": {"criterion_params": {"l2": 1}}}),
                "tree_param.criterion_params",
            ),
            (
                json!({"tree_param": {"criterion_params": 0.1}}),
                "tree_param.criterion_params",
            ),
            (
                json!({"tree_param": {"criterion_method": "gini"}}),
                "tree_param.criterion_method",
            ),
            (
                json!({"tree_param": {"min_child_weight": -1}}),
                "tree_param.min_child_weight",
            ),
            (
                json!({"tree_param": {"max_split_nodes": 0}}),
                "tree_param.max_split_nodes",
            ),
            (
                json!({"tree_param": {"feature_importance_type": "cover"}}),
                "tree_param.feature_importance_type",
            ),
            (
                json!({"tree_param": {"min_sample_split": 2.5}}),
                "tree_param.min_sample_split",
            ),
            (
                json!({"tree_param": {"use_missing": true}}),
                "tree_param.use_missing",
            ),
            (
                json!({"tree_param": {"deterministic": "yes"}}),
                "tree_param.deterministic",
            ),
            (
                json!({"encrypt_param": {"method": "IterativeAffine"}}),
                "encrypt_param.method",
            ),
            (
                json!({"encrypt_param": {"method": "rsa"}}),
                "encrypt_param.method",
            ),
            (
                json!({"encrypt_param": {"key_length": 512}}),
                "encrypt_param.key_length",
            ),
            (
                json!({"predict_param": {"threshold": "high"}}),
                "predict_param.threshold",
            ),
            (
                json!({"cv_param": {"need_cv": true, "n_splits": 1}}),
                "cv_param.n_splits",
            ),
            (
                json!({"validation_freqs": 1, "callback_param": {"callbacks": ["EarlyStopping"]}}),
                "validation_freqs",
            ),
            (
                json!({"metrics": ["auc"], "callback_param": {"validation_freqs": 1}}),
                "metrics",
            ),
            (json!({"early_stopping_rounds": 2}), "early_stopping_rounds"),
            (json!({"validation_freqs": 0}), "validation_freqs"),
            (
                json!({"task_type": "regression", "objective_param": {"objective": "lse"}, "metrics": ["auc"], "validation_freqs": 1}),
                "metrics",
            ),
            (
                json!({"callback_param": {"callbacks": ["Stop"]}}),
                "callback_param.callbacks",
            ),
            (json!({"use_missing": "yes"}), "use_missing"),
            (json!({"run_goss": 1}), "run_goss"),
            (json!({"EINI_inference": "true"}), "EINI_inference"),
        ];
        for (v, key) in cases {
            let e = refused(v.clone());
            assert!(e.contains(&format!("`{key}`")), "{v}: {e}");
        }
    }

    #[test]
    fn fates_accepted_variants() {
        // complete_secure: a boolean is 0 or 1, an integer any count.
        assert_eq!(
            parse(json!({"complete_secure": true}))
                .unwrap()
                .complete_secure,
            1
        );
        assert_eq!(
            parse(json!({"complete_secure": 4}))
                .unwrap()
                .complete_secure,
            4
        );
        // work_mode overrides boosting_strategy; layered forces max_depth.
        let p = parse(json!({"boosting_strategy": "mix", "work_mode": "layered", "guest_depth": 1, "host_depth": 2, "tree_param": {"max_depth": 7}})).unwrap();
        assert_eq!(
            p.strategy,
            Strategy::Layered {
                host_depth: 2,
                guest_depth: 1
            }
        );
        assert_eq!(p.tree.max_depth, 3);
        let p = parse(json!({"boosting_strategy": "layered"})).unwrap();
        assert_eq!(p.tree.max_depth, 5);
        // EINI is ignored under mix, as FATE does (with a warning).
        let p = parse(json!({"work_mode": "mix", "EINI_inference": true, "tree_num_per_party": 2}))
            .unwrap();
        assert_eq!(
            p.strategy,
            Strategy::Mix {
                tree_num_per_party: 2
            }
        );
        assert!(!p.eini_inference);
        assert!(
            parse(json!({"EINI_inference": true}))
                .unwrap()
                .eini_inference
        );
        // Regression objectives and their parameters; FATE lower-cases them.
        let reg = |o: Value| {
            parse(json!({"task_type": "regression", "objective_param": o}))
                .unwrap()
                .objective
        };
        assert_eq!(reg(json!({"objective": "LSE"})), Objective::Lse);
        assert_eq!(
            reg(json!({"objective": "lae", "params": "ignored"})),
            Objective::Lae
        );
        assert_eq!(
            reg(json!({"objective": "tweedie", "params": [1.0]})),
            Objective::Tweedie(1.0)
        );
        assert_eq!(
            reg(json!({"objective": "huber", "params": [0.5, 9]})),
            Objective::Huber(0.5)
        );
        assert_eq!(
            reg(json!({"objective": "fair", "params": [2]})),
            Objective::Fair(2.0)
        );
        // criterion_params as a dict; GOSS with its rates.
        let p = parse(
            json!({"tree_param": {"criterion_params": {"l1": 0.2, "l2": 0.5}}, "run_goss": true}),
        )
        .unwrap();
        assert_eq!((p.tree.l2, p.tree.l1), (0.5, 0.2));
        assert_eq!(p.goss, Some((0.2, 0.1)));
        // Keys FATE ignores are accepted at any valid value.
        parse(
            json!({"sparse_optimization": true, "cipher_compress_error": 8,
            "tree_param": {"n_iter_no_change": false, "tol": 5, "deterministic": true,
                "feature_importance_type": "gain", "max_split_nodes": 3, "zero_as_missing": true}}),
        )
        .unwrap();
        // The top-level use_missing overrides the tree's.
        let p = parse(json!({"use_missing": true, "zero_as_missing": true, "tree_param": {"use_missing": false}})).unwrap();
        assert!(p.use_missing && p.zero_as_missing);
        assert!(
            !parse(json!({"zero_as_missing": true}))
                .unwrap()
                .zero_as_missing
        );
        // Multi-output with std and cipher compression.
        assert!(
            parse(json!({"multi_mode": "multi_output"}))
                .unwrap()
                .multi_output
        );
        // 0 features sampled means one, as FATE.
        parse(json!({"subsample_feature_rate": 0})).unwrap();
    }

    #[test]
    fn validation_and_cv() {
        // The deprecated keys turn PerformanceEvaluate on.
        let p = parse(json!({"validation_freqs": 1, "early_stopping_rounds": 2})).unwrap();
        assert!(p.validation.strategy && p.validation.validates_at(0));
        assert_eq!(p.validation.early_stopping(), Some(2));
        let p = parse(json!({"callback_param": {"callbacks": ["PerformanceEvaluate"], "validation_freqs": 1}})).unwrap();
        assert!(p.validation.strategy);
        // A classifier's metrics suit binary or multi-class, known from the label.
        let p = parse(json!({"validation_freqs": 1, "metrics": ["accuracy"]})).unwrap();
        assert_eq!(p.validation.metrics, ["accuracy"]);
        let p = parse(json!({"task_type": "regression", "objective_param": {"objective": "lse"}, "validation_freqs": 1})).unwrap();
        assert_eq!(
            p.validation.metrics,
            ["root_mean_squared_error", "mean_absolute_error"]
        );
        // Validation during cross-validation is FATE's own example.
        let p = parse(json!({"cv_param": {"need_cv": true, "n_splits": 5, "shuffle": false, "random_seed": 103}, "validation_freqs": 1})).unwrap();
        let cv = p.cv.unwrap();
        assert_eq!((cv.n_splits, cv.shuffle, cv.random_seed), (5, false, 103));
    }
}

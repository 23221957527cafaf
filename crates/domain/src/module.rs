//! The FATE component modules this project knows, their aliases and parameter types.
//!
//! For every module we implement, the table lists every parameter of FATE 1.11's
//! parameter class (nested parameter objects as dotted paths), its FATE default and
//! whether we implement it. At submit (see `job.rs`): a key FATE's module does not have
//! is refused with a did-you-mean; a key we do not implement is refused unless its
//! value is FATE's default; implemented keys are type-checked. Modules we only know by
//! name (not in the component registry) keep a partial table: types are checked and
//! unknown keys are warnings.

use crate::Role;
use serde_json::Value;

/// The JSON kind a parameter expects. `null` is always accepted (FATE's `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer.
    Int,
    /// Any number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A string.
    Str,
    /// A JSON object.
    Object,
    /// A JSON array.
    List,
    /// An integer or a list (FATE's `-1` or `[0, 2]` column selectors).
    IntOrList,
    /// A number or a list.
    NumberOrList,
    /// A number or a string (`pos_label`, `validation_freqs`).
    NumberOrStr,
    /// Anything.
    Any,
}

impl Kind {
    /// Whether `v` has this kind.
    pub fn accepts(self, v: &Value) -> bool {
        if v.is_null() {
            return true;
        }
        match self {
            Kind::Int => v.as_i64().is_some() || v.as_u64().is_some(),
            Kind::Number => v.is_number(),
            Kind::Bool => v.is_boolean(),
            Kind::Str => v.is_string(),
            Kind::Object => v.is_object(),
            Kind::List => v.is_array(),
            Kind::IntOrList => Kind::Int.accepts(v) || v.is_array(),
            Kind::NumberOrList => v.is_number() || v.is_array(),
            Kind::NumberOrStr => v.is_number() || v.is_string(),
            Kind::Any => true,
        }
    }

    /// What to write in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Number => "a number",
            Kind::Bool => "true or false",
            Kind::Str => "a string",
            Kind::Object => "an object",
            Kind::List => "a list",
            Kind::IntOrList => "an integer or a list",
            Kind::NumberOrList => "a number or a list",
            Kind::NumberOrStr => "a number or a string",
            Kind::Any => "any value",
        }
    }
}

/// Describes a JSON value's kind for error messages.
pub fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// One parameter of a FATE module.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The key, dotted for a key of a nested parameter object (`encrypt_param.key_length`).
    pub path: &'static str,
    /// The JSON kind an implemented key must have.
    pub kind: Kind,
    /// FATE's default as JSON text, or [`OBJ`] for a nested parameter object (its keys
    /// are listed as their own entries).
    pub default: &'static str,
    /// Whether our component reads it. A key we do not implement is accepted only at
    /// FATE's default.
    pub implemented: bool,
}

/// The default of a nested parameter object (`init_param`, `encrypt_param`, ...).
pub const OBJ: &str = "{object}";

impl Param {
    /// Whether the key is a nested parameter object whose own keys are checked.
    pub fn is_object(&self) -> bool {
        self.default == OBJ
    }

    /// Whether `v` is FATE's default for this key: numbers compare by value, strings
    /// without regard to case (FATE lower-cases most of its string options).
    pub fn is_default(&self, v: &Value) -> bool {
        if self.is_object() {
            return v.is_null() || v.as_object().is_some_and(|o| o.is_empty());
        }
        let Ok(d) = serde_json::from_str::<Value>(self.default) else {
            return false;
        };
        // FATE reads `None` for an empty list (`metrics`, `callbacks`).
        if v.is_null() && d.as_array().is_some_and(|a| a.is_empty()) {
            return true;
        }
        same_value(&d, v)
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        _ => a == b,
    }
}

const fn p(path: &'static str, kind: Kind, default: &'static str, implemented: bool) -> Param {
    Param {
        path,
        kind,
        default,
        implemented,
    }
}

/// A parameter of a module we only know by name: type-checked, no default recorded.
const fn k(path: &'static str, kind: Kind) -> Param {
    p(path, kind, "null", true)
}

/// What this project knows about one FATE module.
#[derive(Debug)]
pub struct ModuleInfo {
    /// FATE's canonical module name.
    pub name: &'static str,
    /// Other names accepted in a DSL.
    pub aliases: &'static [&'static str],
    /// Whether the module reads a table named in its parameters and has no input.
    pub is_reader: bool,
    /// Whether predict DSLs keep this module even without a model (intersection).
    pub deploy_without_model: bool,
    /// Roles that run the module; parties in other roles get no task.
    pub roles: &'static [Role],
    /// Known parameters (dotted paths for nested ones): kind, FATE default, implemented;
    /// in groups, so modules sharing FATE's parameter classes share them. Empty means
    /// "not checked". [`ModuleInfo::params`] walks them all.
    pub params: &'static [&'static [Param]],
    /// Whether `params` is FATE's complete list for the module, so that an unknown key
    /// is an error (true for every module we implement).
    pub complete: bool,
    /// Parameters each party running the module must set.
    pub required: &'static [&'static str],
    /// Keys FATE uses only under a condition on another key.
    pub conditions: &'static [Condition],
    /// Implemented string keys and the values our component supports (compared without
    /// regard to case); another value is refused at submit as "not supported yet".
    pub supported: &'static [(&'static str, &'static [&'static str])],
}

/// Keys under `prefix` (a key, or a nested object and all its keys) are used by FATE only
/// when the parameter `key` is one of `values` (or is a list holding one of them).
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    /// The governed key or object.
    pub prefix: &'static str,
    /// The governing key.
    pub key: &'static str,
    /// The governing values (compared without regard to case).
    pub values: &'static [&'static str],
}

impl ModuleInfo {
    /// Every known parameter of the module.
    pub fn params(&self) -> impl Iterator<Item = &'static Param> {
        self.params.iter().flat_map(|group| group.iter())
    }

    /// Whether FATE uses the key `path` given the job's parameters (`get` reads a merged
    /// parameter by dotted path; an absent key has FATE's default).
    pub fn applies<'a>(&self, path: &str, get: impl Fn(&str) -> Option<&'a Value>) -> bool {
        self.conditions
            .iter()
            .filter(|c| {
                path == c.prefix
                    || path
                        .strip_prefix(c.prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .all(|c| {
                let default = self
                    .params()
                    .find(|p| p.path == c.key)
                    .and_then(|p| serde_json::from_str::<Value>(p.default).ok());
                let value = get(c.key).cloned().or(default).unwrap_or(Value::Null);
                let hit = |v: &Value| match v {
                    Value::String(s) => c.values.iter().any(|x| x.eq_ignore_ascii_case(s)),
                    Value::Bool(b) => c.values.contains(&if *b { "true" } else { "false" }),
                    _ => false,
                };
                match &value {
                    Value::Array(items) => items.iter().any(hit),
                    v => hit(v),
                }
            })
    }
}

const fn when(
    prefix: &'static str,
    key: &'static str,
    values: &'static [&'static str],
) -> Condition {
    Condition {
        prefix,
        key,
        values,
    }
}

use Kind::*;

const GH: &[Role] = &[Role::Guest, Role::Host];
const GH_L: &[Role] = &[Role::Guest, Role::Host, Role::Local];
const GHA: &[Role] = &[Role::Guest, Role::Host, Role::Arbiter];
const GHA_L: &[Role] = &[Role::Guest, Role::Host, Role::Arbiter, Role::Local];
const L: &[Role] = &[Role::Local];

/// The linear modules we know only by name (HeteroPoisson, HomoLR).
const LINEAR_PARAMS: &[Param] = &[
    k("penalty", Str),
    k("tol", Number),
    k("alpha", Number),
    k("optimizer", Str),
    k("batch_size", Int),
    k("shuffle", Bool),
    k("batch_strategy", Str),
    k("masked_rate", Number),
    k("learning_rate", Number),
    k("init_param", Object),
    k("init_param.init_method", Str),
    k("init_param.init_const", Number),
    k("init_param.fit_intercept", Bool),
    k("init_param.random_seed", Int),
    k("max_iter", Int),
    k("early_stop", Str),
    k("encrypt_param", Object),
    k("encrypt_param.method", Str),
    k("encrypt_param.key_length", Int),
    k("predict_param", Object),
    k("predict_param.threshold", Number),
    k("cv_param", Object),
    k("cv_param.n_splits", Int),
    k("cv_param.shuffle", Bool),
    k("cv_param.random_seed", Int),
    k("cv_param.need_cv", Bool),
    k("decay", Number),
    k("decay_sqrt", Bool),
    k("validation_freqs", Any),
    k("early_stopping_rounds", Int),
    k("metrics", List),
    k("use_first_metric_only", Bool),
    k("floating_point_precision", Int),
    k("multi_class", Str),
    k("callback_param", Object),
    k("stepwise_param", Object),
    k("sqn_param", Object),
    k("encrypted_mode_calculator_param", Object),
    k("reveal_strategy", Str),
    k("reveal_every_iter", Bool),
    k("aggregate_iters", Int),
    k("exposure_colname", Str),
    k("need_run", Bool),
];

/// FATE-Flow's `Reader`: the table to read.
const READER_PARAMS: &[Param] = &[
    p("table", Object, "null", true),
    p("table.name", Str, "null", true),
    p("table.namespace", Str, "null", true),
    p("need_run", Bool, "true", true),
];

/// FATE 1.11's parameters common to `HeteroLR` and `HeteroLinR`, with the same defaults.
const LINEAR_SHARED_PARAMS: &[Param] = &[
    p("penalty", Str, "\"L2\"", true),
    p("tol", Number, "0.0001", true),
    p("alpha", Number, "1.0", true),
    p("batch_size", Int, "-1", true),
    p("learning_rate", Number, "0.01", true),
    p("init_param", Object, OBJ, true),
    p("init_param.init_method", Str, "\"random_uniform\"", true),
    p("init_param.init_const", Number, "1", true),
    p("init_param.fit_intercept", Bool, "true", true),
    p("init_param.random_seed", Int, "null", true),
    p("early_stop", Str, "\"diff\"", true),
    p("encrypt_param", Object, OBJ, true),
    p("encrypt_param.method", Str, "\"Paillier\"", true),
    p("encrypt_param.key_length", Int, "2048", true),
    p("cv_param", Object, OBJ, true),
    p("cv_param.n_splits", Int, "5", true),
    p("cv_param.mode", Any, "\"hetero\"", false),
    p("cv_param.role", Any, "\"guest\"", false),
    p("cv_param.shuffle", Bool, "true", true),
    p("cv_param.random_seed", Int, "1", true),
    p("cv_param.need_cv", Bool, "false", true),
    p("cv_param.output_fold_history", Any, "true", false),
    p("cv_param.history_value_type", Any, "\"score\"", false),
    p("decay", Number, "1", true),
    p("decay_sqrt", Bool, "true", true),
    p("validation_freqs", Any, "null", true),
    p("early_stopping_rounds", Int, "null", true),
    p("stepwise_param", Object, OBJ, false),
    p("stepwise_param.score_name", Any, "\"AIC\"", false),
    p("stepwise_param.mode", Any, "\"hetero\"", false),
    p("stepwise_param.role", Any, "\"guest\"", false),
    p("stepwise_param.direction", Any, "\"both\"", false),
    p("stepwise_param.max_step", Any, "10", false),
    p("stepwise_param.nvmin", Any, "2", false),
    p("stepwise_param.nvmax", Any, "null", false),
    p("stepwise_param.need_stepwise", Any, "false", false),
    p("use_first_metric_only", Bool, "false", true),
    p("floating_point_precision", Int, "23", true),
    p("callback_param", Object, OBJ, false),
    p("callback_param.callbacks", Any, "[]", false),
    p("callback_param.validation_freqs", Any, "null", false),
    p("callback_param.early_stopping_rounds", Any, "null", false),
    p("callback_param.metrics", Any, "[]", false),
    p("callback_param.use_first_metric_only", Any, "false", false),
    p("callback_param.save_freq", Any, "1", false),
    p("encrypted_mode_calculator_param", Object, OBJ, false),
    p(
        "encrypted_mode_calculator_param.mode",
        Any,
        "\"strict\"",
        false,
    ),
    p(
        "encrypted_mode_calculator_param.re_encrypted_rate",
        Any,
        "1",
        false,
    ),
    p("sqn_param", Object, OBJ, false),
    p("sqn_param.update_interval_L", Any, "3", false),
    p("sqn_param.memory_M", Any, "5", false),
    p("sqn_param.sample_size", Any, "5000", false),
    p("sqn_param.random_seed", Any, "null", false),
    p("need_run", Bool, "true", true),
];

/// `HeteroLR`'s own parameters (and its defaults where they differ from `HeteroLinR`'s).
const HETERO_LR_OWN_PARAMS: &[Param] = &[
    p("optimizer", Str, "\"rmsprop\"", true),
    p("max_iter", Int, "100", true),
    p("metrics", List, "[\"auc\",\"ks\"]", true),
    p("shuffle", Bool, "true", true),
    p("batch_strategy", Str, "\"full\"", false),
    p("masked_rate", Number, "5", false),
    p("predict_param", Object, OBJ, true),
    p("predict_param.threshold", Number, "0.5", true),
    p("multi_class", Str, "\"ovr\"", false),
];

/// `HeteroLinR`'s own defaults.
const HETERO_LINR_OWN_PARAMS: &[Param] = &[
    p("optimizer", Str, "\"sgd\"", true),
    p("max_iter", Int, "20", true),
    p("metrics", List, "[]", true),
];

/// FATE 1.11's `Intersection` parameters.
const INTERSECTION_PARAMS: &[Param] = &[
    p("intersect_method", Str, "\"rsa\"", true),
    p("random_bit", Any, "128", false),
    p("sync_intersect_ids", Bool, "true", true),
    p("join_role", Str, "\"guest\"", true),
    p("with_encode", Any, "false", false),
    p("encode_params", Object, OBJ, false),
    p("encode_params.salt", Any, "\"\"", false),
    p("encode_params.encode_method", Any, "\"none\"", false),
    p("encode_params.base64", Any, "false", false),
    p("raw_params", Object, OBJ, true),
    p("raw_params.use_hash", Any, "false", true),
    p("raw_params.salt", Any, "\"\"", false),
    p("raw_params.hash_method", Any, "\"none\"", false),
    p("raw_params.base64", Any, "false", false),
    p("raw_params.join_role", Any, "\"guest\"", true),
    p("rsa_params", Object, OBJ, true),
    p("rsa_params.salt", Any, "\"\"", false),
    p("rsa_params.hash_method", Str, "\"sha256\"", false),
    p("rsa_params.final_hash_method", Str, "\"sha256\"", false),
    p("rsa_params.split_calculation", Any, "false", false),
    p("rsa_params.random_base_fraction", Any, "null", false),
    p("rsa_params.key_length", Int, "2048", true),
    p("rsa_params.random_bit", Any, "128", false),
    p("only_output_key", Bool, "false", true),
    p("sample_id_generator", Str, "\"guest\"", false),
    p("intersect_cache_param", Object, OBJ, false),
    p("intersect_cache_param.use_cache", Any, "false", false),
    p("intersect_cache_param.id_type", Any, "\"phone\"", false),
    p(
        "intersect_cache_param.encrypt_type",
        Any,
        "\"sha256\"",
        false,
    ),
    p("run_cache", Bool, "false", false),
    p("repeated_id_process", Any, "false", false),
    p("repeated_id_owner", Any, "\"guest\"", false),
    p("allow_info_share", Any, "false", false),
    p("info_owner", Any, "\"guest\"", false),
    p("with_sample_id", Any, "false", false),
    p("join_method", Str, "\"inner_join\"", false),
    p("new_sample_id", Bool, "false", false),
    p("dh_params", Object, OBJ, false),
    p("dh_params.salt", Any, "\"\"", false),
    p("dh_params.hash_method", Any, "\"sha256\"", false),
    p("dh_params.key_length", Any, "2048", false),
    p("cardinality_only", Bool, "false", false),
    p("sync_cardinality", Bool, "false", false),
    p("cardinality_method", Any, "\"ecdh\"", false),
    p("run_preprocess", Bool, "false", false),
    p("intersect_preprocess_params", Object, OBJ, false),
    p(
        "intersect_preprocess_params.false_positive_rate",
        Any,
        "0.001",
        false,
    ),
    p(
        "intersect_preprocess_params.encrypt_method",
        Any,
        "\"rsa\"",
        false,
    ),
    p(
        "intersect_preprocess_params.hash_method",
        Any,
        "\"sha256\"",
        false,
    ),
    p(
        "intersect_preprocess_params.preprocess_method",
        Any,
        "\"sha256\"",
        false,
    ),
    p(
        "intersect_preprocess_params.preprocess_salt",
        Any,
        "\"\"",
        false,
    ),
    p(
        "intersect_preprocess_params.random_state",
        Any,
        "null",
        false,
    ),
    p(
        "intersect_preprocess_params.filter_owner",
        Any,
        "\"guest\"",
        false,
    ),
    p("ecdh_params", Object, OBJ, false),
    p("ecdh_params.salt", Any, "\"\"", false),
    p("ecdh_params.hash_method", Str, "\"sha256\"", false),
    p("ecdh_params.curve", Str, "\"curve25519\"", false),
    p("need_run", Bool, "true", true),
];

/// FATE 1.11's `DataTransform` parameters.
const DATA_TRANSFORM_PARAMS: &[Param] = &[
    p("input_format", Str, "\"dense\"", true),
    p("delimitor", Str, "\",\"", true),
    p("data_type", Str, "\"float64\"", true),
    p("exclusive_data_type", Object, "null", true),
    p("tag_with_value", Bool, "false", true),
    p("tag_value_delimitor", Str, "\":\"", true),
    p("missing_fill", Bool, "false", true),
    p("default_value", Any, "0", true),
    p("missing_fill_method", Str, "null", true),
    p("missing_impute", List, "null", true),
    p("outlier_replace", Bool, "false", true),
    p("outlier_replace_method", Str, "null", true),
    p("outlier_impute", List, "null", true),
    p("outlier_replace_value", Any, "0", true),
    p("with_label", Bool, "false", true),
    p("label_name", Str, "\"y\"", true),
    p("label_type", Str, "\"int\"", true),
    p("output_format", Str, "\"dense\"", true),
    p("need_run", Bool, "true", true),
    p("with_match_id", Bool, "false", true),
    p("match_id_name", Str, "\"\"", true),
    p("match_id_index", Int, "0", true),
];

/// FATE 1.11's `FeatureScale` parameters.
const FEATURE_SCALE_PARAMS: &[Param] = &[
    p("scale_names", List, "[]", true),
    p("method", Str, "\"standard_scale\"", true),
    p("mode", Str, "\"normal\"", true),
    p("feat_upper", Any, "null", true),
    p("feat_lower", Any, "null", true),
    p("scale_col_indexes", IntOrList, "-1", true),
    p("with_mean", Bool, "true", true),
    p("with_std", Bool, "true", true),
    p("need_run", Bool, "true", true),
];

/// FATE 1.11's `Evaluation` parameters.
const EVALUATION_PARAMS: &[Param] = &[
    p("eval_type", Str, "\"binary\"", true),
    p("pos_label", NumberOrStr, "1", true),
    p("need_run", Bool, "true", true),
    p("metrics", List, "null", true),
    p("unfold_multi_result", Bool, "false", true),
    p("run_clustering_arbiter_metric", Bool, "false", false),
    p("default_metrics", Any, "{\"binary\":[\"auc\",\"ks\",\"lift\",\"gain\",\"accuracy\",\"precision\",\"recall\",\"roc\",\"confusion_mat\",\"psi\",\"f1_score\",\"quantile_pr\"],\"multi\":[\"accuracy\",\"precision\",\"recall\"],\"regression\":[\"explained_variance\",\"mean_absolute_error\",\"mean_squared_error\",\"median_absolute_error\",\"r2_score\",\"root_mean_squared_error\"],\"clustering\":[\"jaccard_similarity_score\",\"fowlkes_mallows_score\",\"adjusted_rand_score\",\"davies_bouldin_index\",\"distance_measure\",\"contingency_matrix\"]}", false),
    p("allowed_metrics", Any, "{\"binary\":[\"auc\",\"ks\",\"lift\",\"gain\",\"accuracy\",\"precision\",\"recall\",\"roc\",\"confusion_mat\",\"psi\",\"f1_score\",\"quantile_pr\"],\"multi\":[\"accuracy\",\"precision\",\"recall\"],\"regression\":[\"explained_variance\",\"mean_absolute_error\",\"mean_squared_error\",\"median_absolute_error\",\"r2_score\",\"root_mean_squared_error\"],\"clustering\":[\"jaccard_similarity_score\",\"fowlkes_mallows_score\",\"adjusted_rand_score\",\"davies_bouldin_index\",\"distance_measure\",\"contingency_matrix\"]}", false),
];

/// FATE 1.11's `HeteroDataSplit` parameters.
const HETERO_DATA_SPLIT_PARAMS: &[Param] = &[
    p("random_state", Int, "null", true),
    p("test_size", Number, "null", true),
    p("train_size", Number, "null", true),
    p("validate_size", Number, "null", true),
    p("stratified", Bool, "false", true),
    p("shuffle", Bool, "true", true),
    p("split_points", List, "null", false),
    p("need_run", Bool, "true", true),
];

/// FATE 1.11's `Union` parameters.
const UNION_PARAMS: &[Param] = &[
    p("need_run", Bool, "true", true),
    p("allow_missing", Bool, "false", true),
    p("keep_duplicate", Bool, "false", true),
];

/// FATE 1.11's `FederatedSample` parameters.
const FEDERATED_SAMPLE_PARAMS: &[Param] = &[
    p("mode", Str, "\"random\"", true),
    p("method", Str, "\"downsample\"", true),
    p("fractions", Any, "null", true),
    p("random_state", Int, "null", true),
    p("task_type", Str, "\"hetero\"", false),
    p("need_run", Bool, "true", true),
];

/// FATE 1.11's `HeteroFeatureBinning` parameters.
const HETERO_FEATURE_BINNING_PARAMS: &[Param] = &[
    p("method", Str, "\"quantile\"", true),
    p("compress_thres", Int, "10000", true),
    p("head_size", Int, "10000", true),
    p("error", Number, "0.0001", true),
    p("adjustment_factor", Number, "0.5", true),
    p("bin_num", Int, "10", true),
    p("bin_indexes", IntOrList, "-1", true),
    p("bin_names", List, "null", true),
    p("category_indexes", IntOrList, "null", true),
    p("category_names", List, "null", true),
    p("transform_param", Object, OBJ, true),
    p("transform_param.transform_cols", IntOrList, "-1", true),
    p("transform_param.transform_names", List, "null", true),
    p("transform_param.transform_type", Str, "\"bin_num\"", true),
    p("need_run", Bool, "true", true),
    p("skip_static", Bool, "false", true),
    p("local_only", Bool, "false", true),
    p("optimal_binning_param", Object, OBJ, false),
    p(
        "optimal_binning_param.init_bucket_method",
        Any,
        "\"quantile\"",
        false,
    ),
    p("optimal_binning_param.metric_method", Any, "\"iv\"", false),
    p("optimal_binning_param.max_bin", Any, "null", false),
    p("optimal_binning_param.mixture", Any, "true", false),
    p("optimal_binning_param.max_bin_pct", Any, "1.0", false),
    p("optimal_binning_param.min_bin_pct", Any, "0.05", false),
    p("optimal_binning_param.init_bin_nums", Any, "1000", false),
    p(
        "optimal_binning_param.adjustment_factor",
        Any,
        "null",
        false,
    ),
    p("encrypt_param", Object, OBJ, true),
    p("encrypt_param.method", Str, "\"Paillier\"", true),
    p("encrypt_param.key_length", Int, "2048", true),
    p("split_points_by_index", Any, "null", true),
    p("split_points_by_col_name", Any, "null", true),
];

/// FATE 1.11's `HeteroFeatureSelection` parameters.
const HETERO_FEATURE_SELECTION_PARAMS: &[Param] = &[
    p("correlation_param", Object, OBJ, false),
    p("correlation_param.sort_metric", Any, "\"iv\"", false),
    p("correlation_param.threshold", Any, "0.1", false),
    p("correlation_param.select_federated", Any, "true", false),
    p("vif_param", Object, OBJ, false),
    p("vif_param.metrics", Any, "\"vif\"", false),
    p("vif_param.filter_type", Any, "\"threshold\"", false),
    p("vif_param.take_high", Any, "false", false),
    p("vif_param.threshold", Any, "5.0", false),
    p("vif_param.host_thresholds", Any, "null", false),
    p("vif_param.select_federated", Any, "true", false),
    p("select_col_indexes", IntOrList, "-1", true),
    p("select_names", List, "[]", true),
    p("filter_methods", List, "[\"manually\"]", true),
    p("unique_param", Object, OBJ, true),
    p("unique_param.eps", Any, "1e-05", true),
    p("iv_value_param", Object, OBJ, true),
    p("iv_value_param.value_threshold", Any, "0.0", true),
    p("iv_value_param.host_thresholds", Any, "null", true),
    p("iv_value_param.local_only", Any, "false", true),
    p("iv_percentile_param", Object, OBJ, true),
    p("iv_percentile_param.percentile_threshold", Any, "1.0", true),
    p("iv_percentile_param.local_only", Any, "false", true),
    p("iv_top_k_param", Object, OBJ, true),
    p("iv_top_k_param.k", Any, "10", true),
    p("iv_top_k_param.local_only", Any, "false", true),
    p("variance_coe_param", Object, OBJ, true),
    p("variance_coe_param.value_threshold", Any, "1.0", true),
    p("outlier_param", Object, OBJ, true),
    p("outlier_param.percentile", Any, "1.0", true),
    p("outlier_param.upper_threshold", Any, "1.0", true),
    p("percentage_value_param", Object, OBJ, true),
    p("percentage_value_param.upper_pct", Any, "1.0", true),
    p("manually_param", Object, OBJ, true),
    p("manually_param.filter_out_indexes", Any, "null", true),
    p("manually_param.filter_out_names", Any, "null", true),
    p("manually_param.left_col_indexes", Any, "null", true),
    p("manually_param.left_col_names", Any, "null", true),
    p("iv_param", Object, OBJ, true),
    p("iv_param.metrics", Any, "\"iv\"", true),
    p("iv_param.filter_type", Any, "\"threshold\"", true),
    p("iv_param.take_high", Any, "true", true),
    p("iv_param.threshold", Any, "1", true),
    p("iv_param.host_thresholds", Any, "null", true),
    p("iv_param.select_federated", Any, "true", true),
    p("iv_param.mul_class_merge_type", Any, "\"average\"", true),
    p("statistic_param", Object, OBJ, true),
    p("statistic_param.metrics", Any, "\"mean\"", true),
    p("statistic_param.filter_type", Any, "\"threshold\"", true),
    p("statistic_param.take_high", Any, "true", true),
    p("statistic_param.threshold", Any, "1", true),
    p("statistic_param.host_thresholds", Any, "null", true),
    p("statistic_param.select_federated", Any, "true", true),
    p("psi_param", Object, OBJ, false),
    p("psi_param.metrics", Any, "\"psi\"", false),
    p("psi_param.filter_type", Any, "\"threshold\"", false),
    p("psi_param.take_high", Any, "false", false),
    p("psi_param.threshold", Any, "1", false),
    p("psi_param.host_thresholds", Any, "null", false),
    p("psi_param.select_federated", Any, "true", false),
    p("sbt_param", Object, OBJ, false),
    p("sbt_param.metrics", Any, "\"feature_importance\"", false),
    p("sbt_param.filter_type", Any, "\"threshold\"", false),
    p("sbt_param.take_high", Any, "true", false),
    p("sbt_param.threshold", Any, "1", false),
    p("sbt_param.host_thresholds", Any, "null", false),
    p("sbt_param.select_federated", Any, "true", false),
    p("need_run", Bool, "true", true),
    p("use_anonymous", Bool, "false", true),
];

const LINEAR_CONDITIONS: &[Condition] = &[
    when("stepwise_param", "stepwise_param.need_stepwise", &["true"]),
    when("cv_param", "cv_param.need_cv", &["true"]),
    when("sqn_param", "optimizer", &["sqn"]),
];

const INTERSECTION_CONDITIONS: &[Condition] = &[
    when("rsa_params", "intersect_method", &["rsa"]),
    when("dh_params", "intersect_method", &["dh"]),
    when("ecdh_params", "intersect_method", &["ecdh"]),
    when("raw_params", "intersect_method", &["raw"]),
    when("intersect_preprocess_params", "run_preprocess", &["true"]),
    when("cardinality_method", "cardinality_only", &["true"]),
    when("sync_cardinality", "cardinality_only", &["true"]),
];

const BINNING_CONDITIONS: &[Condition] = &[when("optimal_binning_param", "method", &["optimal"])];

const SELECTION_CONDITIONS: &[Condition] = &[
    when(
        "correlation_param",
        "filter_methods",
        &["correlation_filter"],
    ),
    when("vif_param", "filter_methods", &["vif_filter"]),
    when("psi_param", "filter_methods", &["psi_filter"]),
    when(
        "sbt_param",
        "filter_methods",
        &[
            "hetero_sbt_filter",
            "homo_sbt_filter",
            "hetero_fast_sbt_filter",
        ],
    ),
];

const LINEAR_SUPPORTED: &[(&str, &[&str])] = &[
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
    ("encrypt_param.method", &["paillier"]),
];

const INTERSECTION_SUPPORTED: &[(&str, &[&str])] = &[
    ("intersect_method", &["rsa", "ecdh", "raw"]),
    ("join_role", &["guest"]),
    ("raw_params.join_role", &["guest"]),
];

const DATA_TRANSFORM_SUPPORTED: &[(&str, &[&str])] = &[
    ("input_format", &["dense"]),
    ("output_format", &["dense"]),
    ("data_type", &["float64", "float", "double"]),
];

const BINNING_SUPPORTED: &[(&str, &[&str])] = &[
    ("method", &["quantile", "bucket"]),
    ("encrypt_param.method", &["paillier"]),
    ("transform_param.transform_type", &["bin_num", "woe"]),
];

const EVALUATION_SUPPORTED: &[(&str, &[&str])] =
    &[("eval_type", &["binary", "multi", "regression"])];

const FEATURE_SCALE_SUPPORTED: &[(&str, &[&str])] = &[
    (
        "method",
        &["standard_scale", "min_max_scale", "standard", "min_max"],
    ),
    ("mode", &["normal", "cap"]),
];

/// Every module this project knows, with FATE's names.
pub static MODULES: &[ModuleInfo] = &[
    ModuleInfo {
        name: "Reader",
        roles: GH_L,
        aliases: &[],
        is_reader: true,
        deploy_without_model: true,
        params: &[READER_PARAMS],
        complete: true,
        required: &["table"],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "DataTransform",
        roles: GH_L,
        aliases: &["DataIO"],
        is_reader: false,
        deploy_without_model: false,
        params: &[DATA_TRANSFORM_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: DATA_TRANSFORM_SUPPORTED,
    },
    ModuleInfo {
        name: "Intersection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: true,
        params: &[INTERSECTION_PARAMS],
        complete: true,
        required: &[],
        conditions: INTERSECTION_CONDITIONS,
        supported: INTERSECTION_SUPPORTED,
    },
    ModuleInfo {
        name: "FeatureScale",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[FEATURE_SCALE_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: FEATURE_SCALE_SUPPORTED,
    },
    ModuleInfo {
        name: "HeteroFeatureBinning",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[HETERO_FEATURE_BINNING_PARAMS],
        complete: true,
        required: &[],
        conditions: BINNING_CONDITIONS,
        supported: BINNING_SUPPORTED,
    },
    ModuleInfo {
        name: "HeteroFeatureSelection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[HETERO_FEATURE_SELECTION_PARAMS],
        complete: true,
        required: &[],
        conditions: SELECTION_CONDITIONS,
        supported: &[],
    },
    ModuleInfo {
        name: "HeteroLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[LINEAR_SHARED_PARAMS, HETERO_LR_OWN_PARAMS],
        complete: true,
        required: &[],
        conditions: LINEAR_CONDITIONS,
        supported: LINEAR_SUPPORTED,
    },
    ModuleInfo {
        name: "HeteroLinR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[LINEAR_SHARED_PARAMS, HETERO_LINR_OWN_PARAMS],
        complete: true,
        required: &[],
        conditions: LINEAR_CONDITIONS,
        supported: LINEAR_SUPPORTED,
    },
    ModuleInfo {
        name: "HeteroPoisson",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[LINEAR_PARAMS],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "HomoLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[LINEAR_PARAMS],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "HeteroSecureBoost",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[&[
            k("task_type", Str),
            k("objective_param", Object),
            k("learning_rate", Number),
            k("num_trees", Int),
            k("subsample_feature_rate", Number),
            k("n_iter_no_change", Bool),
            k("tol", Number),
            k("bin_num", Int),
            k("encrypt_param", Object),
            k("encrypt_param.key_length", Int),
            k("tree_param", Object),
            k("tree_param.max_depth", Int),
            k("tree_param.min_sample_split", Int),
            k("tree_param.min_leaf_node", Int),
            k("tree_param.criterion_method", Str),
            k("tree_param.criterion_params", List),
            k("use_missing", Bool),
            k("zero_as_missing", Bool),
            k("validation_freqs", Any),
            k("early_stopping_rounds", Int),
            k("metrics", List),
            k("use_first_metric_only", Bool),
            k("boosting_strategy", Str),
            k("work_mode", Str),
            k("complete_secure", Any),
            k("cv_param", Object),
            k("predict_param", Object),
            k("callback_param", Object),
            k("run_goss", Bool),
            k("top_rate", Number),
            k("other_rate", Number),
            k("cipher_compress", Bool),
            k("cipher_compress_error", Any),
            k("new_ver", Bool),
            k("EINI_inference", Bool),
            k("multi_mode", Str),
            k("need_run", Bool),
        ]],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "Evaluation",
        roles: GHA_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[EVALUATION_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: EVALUATION_SUPPORTED,
    },
    ModuleInfo {
        name: "HeteroDataSplit",
        roles: GH_L,
        aliases: &["DataSplit"],
        is_reader: false,
        deploy_without_model: false,
        params: &[HETERO_DATA_SPLIT_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "HomoDataSplit",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[&[
            k("random_state", Int),
            k("test_size", Number),
            k("train_size", Number),
            k("validate_size", Number),
            k("stratified", Bool),
            k("shuffle", Bool),
            k("split_points", List),
            k("need_run", Bool),
        ]],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "Union",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[UNION_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "FederatedSample",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[FEDERATED_SAMPLE_PARAMS],
        complete: true,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "Upload",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "Download",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
    ModuleInfo {
        name: "Writer",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        complete: false,
        required: &[],
        conditions: &[],
        supported: &[],
    },
];

/// Looks a module up by name or alias.
pub fn lookup(name: &str) -> Option<&'static ModuleInfo> {
    MODULES
        .iter()
        .find(|m| m.name == name || m.aliases.contains(&name))
}

/// The known module whose name is closest to `name`, for "did you mean" hints.
pub fn closest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    MODULES
        .iter()
        .flat_map(|m| std::iter::once(m.name).chain(m.aliases.iter().copied()))
        .map(|cand| (edit_distance(&lower, &cand.to_ascii_lowercase()), cand))
        .filter(|(d, cand)| *d <= cand.len() / 3 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, cand)| cand)
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_canonical_names() {
        assert_eq!(lookup("DataIO").map(|m| m.name), Some("DataTransform"));
        assert_eq!(lookup("HeteroLR").map(|m| m.name), Some("HeteroLR"));
        assert!(lookup("HeteroLr").is_none());
    }

    #[test]
    fn typo_gets_a_suggestion() {
        assert_eq!(closest("HeteroLr"), Some("HeteroLR"));
        assert_eq!(closest("Intersect"), Some("Intersection"));
        assert_eq!(closest("Completely"), None);
    }

    #[test]
    fn defaults_compare_as_fate_reads_them() {
        use serde_json::json;
        let lr = lookup("HeteroLR").unwrap();
        let get = |path: &str| lr.params().find(|p| p.path == path).unwrap();
        assert!(get("batch_strategy").is_default(&json!("FULL")));
        assert!(!get("batch_strategy").is_default(&json!("random")));
        assert!(get("masked_rate").is_default(&json!(5.0)));
        assert!(get("callback_param.callbacks").is_default(&json!(null)));
        assert!(get("callback_param").is_default(&json!({})));
        assert!(!get("encrypt_param.key_length").is_default(&json!(1024)));
    }

    #[test]
    fn conditions_follow_the_governing_key() {
        use serde_json::json;
        let binning = lookup("HeteroFeatureBinning").unwrap();
        let optimal = json!({"method": "optimal"});
        let quantile = json!({"method": "quantile"});
        let path = "optimal_binning_param.metric_method";
        assert!(binning.applies(path, |k| optimal.get(k)));
        assert!(!binning.applies(path, |k| quantile.get(k)));
        // Absent: FATE's default (`quantile`).
        assert!(!binning.applies(path, |_| None));
        assert!(binning.applies("bin_num", |_| None));
        let selection = lookup("HeteroFeatureSelection").unwrap();
        let with_psi = json!({"filter_methods": ["manually", "psi_filter"]});
        assert!(selection.applies("psi_param.threshold", |k| with_psi.get(k)));
        assert!(!selection.applies("psi_param.threshold", |_| None));
    }

    #[test]
    fn every_implemented_module_has_a_complete_table_with_need_run() {
        for m in MODULES.iter().filter(|m| m.complete) {
            assert!(m.params().any(|p| p.path == "need_run"), "{}", m.name);
            for p in m.params() {
                if let Some((parent, _)) = p.path.rsplit_once('.') {
                    assert!(
                        m.params().any(|q| q.path == parent),
                        "{}: `{}` has no parent entry",
                        m.name,
                        p.path
                    );
                }
                if !p.is_object() {
                    assert!(
                        serde_json::from_str::<Value>(p.default).is_ok(),
                        "{}: default of `{}`",
                        m.name,
                        p.path
                    );
                }
            }
        }
    }

    #[test]
    fn kinds() {
        use serde_json::json;
        assert!(Kind::Int.accepts(&json!(3)));
        assert!(!Kind::Int.accepts(&json!(3.5)));
        assert!(!Kind::Number.accepts(&json!("0.1")));
        assert!(Kind::Number.accepts(&json!(null)));
        assert!(Kind::IntOrList.accepts(&json!([1, 2])));
    }
}

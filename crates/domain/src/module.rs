//! The FATE component modules this project knows, their aliases and parameter types.
//!
//! Parameter types are checked at submit so that a string where a number is expected
//! is reported before any task starts. Unknown parameters give a warning, not an
//! error: FATE modules have many rarely used options and refusing a job because this
//! table misses one would be worse than ignoring it.

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
    /// Known parameters (dotted paths for nested ones) and their kinds.
    /// Empty means "not checked".
    pub params: &'static [(&'static str, Kind)],
    /// Parameters each party running the module must set.
    pub required: &'static [&'static str],
}

use Kind::*;

const GH: &[Role] = &[Role::Guest, Role::Host];
const GH_L: &[Role] = &[Role::Guest, Role::Host, Role::Local];
const GHA: &[Role] = &[Role::Guest, Role::Host, Role::Arbiter];
const GHA_L: &[Role] = &[Role::Guest, Role::Host, Role::Arbiter, Role::Local];
const L: &[Role] = &[Role::Local];

const LINEAR_PARAMS: &[(&str, Kind)] = &[
    ("penalty", Str),
    ("tol", Number),
    ("alpha", Number),
    ("optimizer", Str),
    ("batch_size", Int),
    ("shuffle", Bool),
    ("batch_strategy", Str),
    ("masked_rate", Number),
    ("learning_rate", Number),
    ("init_param", Object),
    ("init_param.init_method", Str),
    ("init_param.init_const", Number),
    ("init_param.fit_intercept", Bool),
    ("init_param.random_seed", Int),
    ("max_iter", Int),
    ("early_stop", Str),
    ("encrypt_param", Object),
    ("encrypt_param.method", Str),
    ("encrypt_param.key_length", Int),
    ("predict_param", Object),
    ("predict_param.threshold", Number),
    ("cv_param", Object),
    ("cv_param.n_splits", Int),
    ("cv_param.shuffle", Bool),
    ("cv_param.random_seed", Int),
    ("cv_param.need_cv", Bool),
    ("decay", Number),
    ("decay_sqrt", Bool),
    ("validation_freqs", Any),
    ("early_stopping_rounds", Int),
    ("metrics", List),
    ("use_first_metric_only", Bool),
    ("floating_point_precision", Int),
    ("multi_class", Str),
    ("callback_param", Object),
    ("stepwise_param", Object),
    ("sqn_param", Object),
    ("encrypted_mode_calculator_param", Object),
    ("reveal_strategy", Str),
    ("reveal_every_iter", Bool),
    ("aggregate_iters", Int),
    ("exposure_colname", Str),
    ("need_run", Bool),
];

/// Every module this project knows, with FATE's names.
pub static MODULES: &[ModuleInfo] = &[
    ModuleInfo {
        name: "Reader",
        roles: GH_L,
        aliases: &[],
        is_reader: true,
        deploy_without_model: true,
        params: &[
            ("table", Object),
            ("table.name", Str),
            ("table.namespace", Str),
        ],
        required: &["table"],
    },
    ModuleInfo {
        name: "DataTransform",
        roles: GH_L,
        aliases: &["DataIO"],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("input_format", Str),
            ("delimitor", Str),
            ("data_type", Str),
            ("exclusive_data_type", Object),
            ("tag_with_value", Bool),
            ("tag_value_delimitor", Str),
            ("missing_fill", Bool),
            ("default_value", Any),
            ("missing_fill_method", Str),
            ("missing_impute", List),
            ("outlier_replace", Bool),
            ("outlier_replace_method", Str),
            ("outlier_impute", List),
            ("outlier_replace_value", Any),
            ("with_label", Bool),
            ("label_name", Str),
            ("label_type", Str),
            ("output_format", Str),
            ("with_match_id", Bool),
            ("match_id_name", Str),
            ("match_id_index", Int),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "Intersection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: true,
        params: &[
            ("intersect_method", Str),
            ("sync_intersect_ids", Bool),
            ("only_output_key", Bool),
            ("join_role", Str),
            ("rsa_params", Object),
            ("rsa_params.key_length", Int),
            ("rsa_params.hash_method", Str),
            ("rsa_params.final_hash_method", Str),
            ("ecdh_params", Object),
            ("ecdh_params.hash_method", Str),
            ("ecdh_params.curve", Str),
            ("dh_params", Object),
            ("raw_params", Object),
            ("intersect_cache_param", Object),
            ("run_cache", Bool),
            ("cardinality_only", Bool),
            ("sync_cardinality", Bool),
            ("run_preprocess", Bool),
            ("intersect_preprocess_params", Object),
            ("join_method", Str),
            ("new_sample_id", Bool),
            ("sample_id_generator", Str),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "FeatureScale",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("method", Str),
            ("mode", Str),
            ("scale_col_indexes", IntOrList),
            ("scale_names", List),
            ("feat_upper", Any),
            ("feat_lower", Any),
            ("with_mean", Bool),
            ("with_std", Bool),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroFeatureBinning",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("method", Str),
            ("compress_thres", Int),
            ("head_size", Int),
            ("error", Number),
            ("bin_num", Int),
            ("bin_indexes", IntOrList),
            ("bin_names", List),
            ("adjustment_factor", Number),
            ("local_only", Bool),
            ("category_indexes", IntOrList),
            ("category_names", List),
            ("transform_param", Object),
            ("transform_param.transform_cols", IntOrList),
            ("transform_param.transform_names", List),
            ("transform_param.transform_type", Str),
            ("optimal_binning_param", Object),
            ("encrypt_param", Object),
            ("encrypt_param.method", Str),
            ("encrypt_param.key_length", Int),
            ("split_points_by_index", Any),
            ("split_points_by_col_name", Any),
            ("skip_static", Bool),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroFeatureSelection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("select_col_indexes", IntOrList),
            ("select_names", List),
            ("filter_methods", List),
            ("unique_param", Object),
            ("iv_value_param", Object),
            ("iv_percentile_param", Object),
            ("iv_top_k_param", Object),
            ("variance_coe_param", Object),
            ("outlier_param", Object),
            ("manually_param", Object),
            ("percentage_value_param", Object),
            ("iv_param", Object),
            ("statistic_param", Object),
            ("psi_param", Object),
            ("sbt_param", Object),
            ("correlation_param", Object),
            ("vif_param", Object),
            ("use_anonymous", Bool),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: LINEAR_PARAMS,
        required: &[],
    },
    ModuleInfo {
        name: "HeteroLinR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: LINEAR_PARAMS,
        required: &[],
    },
    ModuleInfo {
        name: "HeteroPoisson",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: LINEAR_PARAMS,
        required: &[],
    },
    ModuleInfo {
        name: "HomoLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: LINEAR_PARAMS,
        required: &[],
    },
    ModuleInfo {
        name: "HeteroSecureBoost",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("task_type", Str),
            ("objective_param", Object),
            ("learning_rate", Number),
            ("num_trees", Int),
            ("subsample_feature_rate", Number),
            ("n_iter_no_change", Bool),
            ("tol", Number),
            ("bin_num", Int),
            ("encrypt_param", Object),
            ("encrypt_param.key_length", Int),
            ("tree_param", Object),
            ("tree_param.max_depth", Int),
            ("tree_param.min_sample_split", Int),
            ("tree_param.min_leaf_node", Int),
            ("tree_param.criterion_method", Str),
            ("tree_param.criterion_params", List),
            ("use_missing", Bool),
            ("zero_as_missing", Bool),
            ("validation_freqs", Any),
            ("early_stopping_rounds", Int),
            ("metrics", List),
            ("use_first_metric_only", Bool),
            ("boosting_strategy", Str),
            ("work_mode", Str),
            ("complete_secure", Any),
            ("cv_param", Object),
            ("predict_param", Object),
            ("callback_param", Object),
            ("run_goss", Bool),
            ("top_rate", Number),
            ("other_rate", Number),
            ("cipher_compress", Bool),
            ("cipher_compress_error", Any),
            ("new_ver", Bool),
            ("EINI_inference", Bool),
            ("multi_mode", Str),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "Evaluation",
        roles: GHA_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("eval_type", Str),
            ("unfold_multi_result", Bool),
            ("pos_label", NumberOrStr),
            ("metrics", List),
            ("run_clustering_arbiter_metric", Bool),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroDataSplit",
        roles: GH_L,
        aliases: &["DataSplit"],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("random_state", Int),
            ("test_size", Number),
            ("train_size", Number),
            ("validate_size", Number),
            ("stratified", Bool),
            ("shuffle", Bool),
            ("split_points", List),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "HomoDataSplit",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("random_state", Int),
            ("test_size", Number),
            ("train_size", Number),
            ("validate_size", Number),
            ("stratified", Bool),
            ("shuffle", Bool),
            ("split_points", List),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "Union",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("allow_missing", Bool),
            ("keep_duplicate", Bool),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "FederatedSample",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[
            ("mode", Str),
            ("method", Str),
            ("fractions", Any),
            ("random_state", Int),
            ("task_type", Str),
            ("need_run", Bool),
        ],
        required: &[],
    },
    ModuleInfo {
        name: "Upload",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Download",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Writer",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        params: &[],
        required: &[],
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

fn edit_distance(a: &str, b: &str) -> usize {
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
    fn kinds() {
        use serde_json::json;
        assert!(Kind::Int.accepts(&json!(3)));
        assert!(!Kind::Int.accepts(&json!(3.5)));
        assert!(!Kind::Number.accepts(&json!("0.1")));
        assert!(Kind::Number.accepts(&json!(null)));
        assert!(Kind::IntOrList.accepts(&json!([1, 2])));
    }
}

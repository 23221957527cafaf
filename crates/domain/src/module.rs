//! The FATE component modules this project knows (names, aliases, roles; [`MODULES`]) and
//! the types of a module's parameter schema ([`ModuleSchema`], [`Catalog`]).
//!
//! The schema of a module we implement is declared next to its component, in its family
//! crate, and lists every parameter of FATE 1.11's parameter class (nested parameter
//! objects as dotted paths), its FATE default and whether we implement it; the
//! `fateflow-components` facade gathers them into a [`Catalog`], which submit-time
//! validation takes (see `job.rs`). There, a key FATE's module does not have is refused
//! with a did-you-mean; a key we do not implement is refused unless its value is FATE's
//! default; implemented keys are type-checked. Modules we only know by name keep a
//! partial table here ([`ModuleInfo::known_params`]): types are checked and unknown keys
//! are warnings.

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

/// A parameter of a module's schema: its dotted path, kind, FATE default as JSON text
/// ([`OBJ`] for a nested object) and whether our component reads it.
pub const fn param(
    path: &'static str,
    kind: Kind,
    default: &'static str,
    implemented: bool,
) -> Param {
    Param {
        path,
        kind,
        default,
        implemented,
    }
}

/// A parameter of a module we only know by name: type-checked, no default recorded.
const fn k(path: &'static str, kind: Kind) -> Param {
    param(path, kind, "null", true)
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
    /// For a module we know only by name (no schema in the catalog): the parameters we
    /// type-check; other keys are warnings. Empty means "not checked".
    pub known_params: &'static [Param],
    /// Parameters each party running the module must set.
    pub required: &'static [&'static str],
}

/// One module's parameter schema, declared next to its component: every parameter of
/// FATE's parameter class with its kind, FATE default and whether we implement it.
#[derive(Debug)]
pub struct ModuleSchema {
    /// FATE's canonical module name.
    pub name: &'static str,
    /// The parameters, in groups, so modules sharing FATE's parameter classes share them.
    /// [`ModuleSchema::params`] walks them all.
    pub params: &'static [&'static [Param]],
    /// Keys FATE uses only under a condition on another key.
    pub conditions: &'static [Condition],
    /// Implemented string keys and the values our component supports (compared without
    /// regard to case); another value is refused at submit as "not supported yet".
    pub supported: &'static [(&'static str, &'static [&'static str])],
}

/// The schemas of every implemented module, by family crate: what submit-time validation
/// checks parameters against. A module without a schema is one we know only by name.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    families: &'static [&'static [ModuleSchema]],
    /// Every module of [`MODULES`] counts as implemented (tests of the job model and
    /// the scheduler, which run no component).
    names_only: bool,
}

impl Catalog {
    /// No schema at all, and every module we know by name taken as implemented, its
    /// parameters checked by the partial tables only. For tests of the job model and
    /// the scheduler; a site validates against the components' catalog.
    pub const NAMES_ONLY: Catalog = Catalog {
        families: &[],
        names_only: true,
    };

    /// A catalog over the families' schemas: a module without a schema is not
    /// implemented, and a job using it is refused.
    pub const fn new(families: &'static [&'static [ModuleSchema]]) -> Self {
        Catalog {
            families,
            names_only: false,
        }
    }

    /// Whether `module` (a name or an alias) can run in this build.
    pub fn implements(&self, module: &str) -> bool {
        self.schema(module).is_some() || (self.names_only && lookup(module).is_some())
    }

    /// Every schema.
    pub fn schemas(&self) -> impl Iterator<Item = &'static ModuleSchema> {
        self.families.iter().flat_map(|f| f.iter())
    }

    /// The schema of `module` (a name or an alias).
    pub fn schema(&self, module: &str) -> Option<&'static ModuleSchema> {
        let name = lookup(module).map_or(module, |m| m.name);
        self.schemas().find(|s| s.name == name)
    }
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

impl ModuleSchema {
    /// Every parameter of the module.
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

/// A [`Condition`]: keys under `prefix` are used only when `key` is one of `values`.
pub const fn when(
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

/// The linear modules we know only by name (HomoLR).
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

/// Every module this project knows, with FATE's names.
pub static MODULES: &[ModuleInfo] = &[
    ModuleInfo {
        name: "Reader",
        roles: GH_L,
        aliases: &[],
        is_reader: true,
        deploy_without_model: true,
        known_params: &[],
        required: &["table"],
    },
    ModuleInfo {
        name: "DataTransform",
        roles: GH_L,
        aliases: &["DataIO"],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Intersection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: true,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        // FATE-Flow's loader of another job's cache (an Intersection's `run_cache`
        // output) for this job's `input.cache`.
        name: "CacheLoader",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[
            k("cache_key", Str),
            k("job_id", Str),
            k("component_name", Str),
            k("cache_name", Str),
        ],
        required: &["job_id", "component_name", "cache_name"],
    },
    ModuleInfo {
        name: "FeatureScale",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroFeatureBinning",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroFeatureSelection",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "DataStatistics",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "FeatureImputation",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "LabelTransform",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Scorecard",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: true,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "PSI",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "FeldmanVerifiableSum",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "SecureInformationRetrieval",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "ModelLoader",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "PositiveUnlabeled",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "SampleWeight",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "ColumnExpand",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "LocalBaseline",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "OneHotEncoder",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroPearson",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroKmeans",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroLinR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroSSHELR",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroSSHELinR",
        roles: GH,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroPoisson",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HomoLR",
        roles: GHA,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: LINEAR_PARAMS,
        required: &[],
    },
    ModuleInfo {
        name: "HeteroSecureBoost",
        roles: GH,
        aliases: &["HeteroFastSecureBoost"],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[
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
        ],
        required: &[],
    },
    ModuleInfo {
        name: "Evaluation",
        roles: GHA_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HeteroDataSplit",
        roles: GH_L,
        aliases: &["DataSplit"],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "HomoDataSplit",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Union",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "FederatedSample",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Upload",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Download",
        roles: L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
    ModuleInfo {
        name: "Writer",
        roles: GH_L,
        aliases: &[],
        is_reader: false,
        deploy_without_model: false,
        known_params: &[],
        required: &[],
    },
];

/// Looks a module up by name or alias.
pub fn lookup(name: &str) -> Option<&'static ModuleInfo> {
    MODULES
        .iter()
        .find(|m| m.name == name || m.aliases.contains(&name))
}

/// A module by its name or an alias, ignoring case (permission grants name modules in
/// lowercase, as FATE's do).
pub fn lookup_ignore_case(name: &str) -> Option<&'static ModuleInfo> {
    MODULES.iter().find(|m| {
        m.name.eq_ignore_ascii_case(name) || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
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
    fn kinds() {
        use serde_json::json;
        assert!(Kind::Int.accepts(&json!(3)));
        assert!(!Kind::Int.accepts(&json!(3.5)));
        assert!(!Kind::Number.accepts(&json!("0.1")));
        assert!(Kind::Number.accepts(&json!(null)));
        assert!(Kind::IntOrList.accepts(&json!([1, 2])));
    }
}

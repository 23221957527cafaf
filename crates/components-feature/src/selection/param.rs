//! `HeteroFeatureSelection` parameters: FATE 1.x `FeatureSelectionParam` and its nested
//! filter parameters, with their defaults, turned into the list of filter runs.

use std::collections::BTreeSet;

use fateflow_domain::module::describe_value;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, IntOrList, List, Object};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};

/// FATE 1.11's `HeteroFeatureSelection` parameters.
const HETERO_FEATURE_SELECTION_PARAMS: &[Param] = &[
    param("correlation_param", Object, OBJ, true),
    param("correlation_param.sort_metric", Any, "\"iv\"", true),
    param("correlation_param.threshold", Any, "0.1", true),
    param("correlation_param.select_federated", Any, "true", true),
    param("vif_param", Object, OBJ, true),
    param("vif_param.metrics", Any, "\"vif\"", true),
    param("vif_param.filter_type", Any, "\"threshold\"", true),
    param("vif_param.take_high", Any, "false", true),
    param("vif_param.threshold", Any, "5.0", true),
    param("vif_param.host_thresholds", Any, "null", true),
    param("vif_param.select_federated", Any, "true", true),
    param("select_col_indexes", IntOrList, "-1", true),
    param("select_names", List, "[]", true),
    param("filter_methods", List, "[\"manually\"]", true),
    param("unique_param", Object, OBJ, true),
    param("unique_param.eps", Any, "1e-05", true),
    param("iv_value_param", Object, OBJ, true),
    param("iv_value_param.value_threshold", Any, "0.0", true),
    param("iv_value_param.host_thresholds", Any, "null", true),
    param("iv_value_param.local_only", Any, "false", true),
    param("iv_percentile_param", Object, OBJ, true),
    param("iv_percentile_param.percentile_threshold", Any, "1.0", true),
    param("iv_percentile_param.local_only", Any, "false", true),
    param("iv_top_k_param", Object, OBJ, true),
    param("iv_top_k_param.k", Any, "10", true),
    param("iv_top_k_param.local_only", Any, "false", true),
    param("variance_coe_param", Object, OBJ, true),
    param("variance_coe_param.value_threshold", Any, "1.0", true),
    param("outlier_param", Object, OBJ, true),
    param("outlier_param.percentile", Any, "1.0", true),
    param("outlier_param.upper_threshold", Any, "1.0", true),
    param("percentage_value_param", Object, OBJ, true),
    param("percentage_value_param.upper_pct", Any, "1.0", true),
    param("manually_param", Object, OBJ, true),
    param("manually_param.filter_out_indexes", Any, "null", true),
    param("manually_param.filter_out_names", Any, "null", true),
    param("manually_param.left_col_indexes", Any, "null", true),
    param("manually_param.left_col_names", Any, "null", true),
    param("iv_param", Object, OBJ, true),
    param("iv_param.metrics", Any, "\"iv\"", true),
    param("iv_param.filter_type", Any, "\"threshold\"", true),
    param("iv_param.take_high", Any, "true", true),
    param("iv_param.threshold", Any, "1", true),
    param("iv_param.host_thresholds", Any, "null", true),
    param("iv_param.select_federated", Any, "true", true),
    param("iv_param.mul_class_merge_type", Any, "\"average\"", true),
    param("statistic_param", Object, OBJ, true),
    param("statistic_param.metrics", Any, "\"mean\"", true),
    param("statistic_param.filter_type", Any, "\"threshold\"", true),
    param("statistic_param.take_high", Any, "true", true),
    param("statistic_param.threshold", Any, "1", true),
    param("statistic_param.host_thresholds", Any, "null", true),
    param("statistic_param.select_federated", Any, "true", true),
    param("psi_param", Object, OBJ, true),
    param("psi_param.metrics", Any, "\"psi\"", true),
    param("psi_param.filter_type", Any, "\"threshold\"", true),
    param("psi_param.take_high", Any, "false", true),
    param("psi_param.threshold", Any, "1", true),
    param("psi_param.host_thresholds", Any, "null", true),
    param("psi_param.select_federated", Any, "true", true),
    param("sbt_param", Object, OBJ, true),
    param("sbt_param.metrics", Any, "\"feature_importance\"", true),
    param("sbt_param.filter_type", Any, "\"threshold\"", true),
    param("sbt_param.take_high", Any, "true", true),
    param("sbt_param.threshold", Any, "1", true),
    param("sbt_param.host_thresholds", Any, "null", true),
    param("sbt_param.select_federated", Any, "true", true),
    param("need_run", Bool, "true", true),
    param("use_anonymous", Bool, "false", true),
];

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

/// `HeteroFeatureSelection`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroFeatureSelection",
    params: &[HETERO_FEATURE_SELECTION_PARAMS],
    conditions: SELECTION_CONDITIONS,
    supported: &[],
};

/// FATE's filter methods this implementation does not run: they need a model of a
/// module we do not have (HomoSecureBoost).
const UNSUPPORTED: [&str; 1] = ["homo_sbt_filter"];

/// The filter methods that run.
pub(crate) const SUPPORTED: [&str; 15] = [
    "manually",
    "unique_value",
    "iv_value_thres",
    "iv_percentile",
    "iv_top_k",
    "coefficient_of_variation_value_thres",
    "outlier_cols",
    "percentage_value",
    "iv_filter",
    "statistic_filter",
    "hetero_sbt_filter",
    "hetero_fast_sbt_filter",
    "psi_filter",
    "vif_filter",
    "correlation_filter",
];

/// The statistics `statistic_filter` accepts besides `<q>%` quantiles (FATE's
/// `StatisticsParam.LEGAL_STAT`; `std` is accepted for `stddev`).
const STATISTICS: [&str; 13] = [
    "count",
    "sum",
    "mean",
    "stddev",
    "median",
    "min",
    "max",
    "variance",
    "coefficient_of_variance",
    "missing_count",
    "missing_ratio",
    "skewness",
    "kurtosis",
];

pub(crate) use crate::statistics::param::Metric;

impl Metric {
    fn parse(parameter: &str, v: &Value) -> Result<(Metric, String)> {
        let Value::String(s) = v else {
            return Err(Error::param(
                parameter,
                format!("expected a statistic name, found {}", describe_value(v)),
            ));
        };
        let name = s.trim().to_ascii_lowercase();
        let metric = match name.as_str() {
            "count" => Metric::Count,
            "sum" => Metric::Sum,
            "mean" => Metric::Mean,
            "stddev" | "std" => Metric::Stddev,
            "median" => Metric::Median,
            "min" => Metric::Min,
            "max" => Metric::Max,
            "variance" => Metric::Variance,
            "coefficient_of_variance" => Metric::CoefficientOfVariance,
            "missing_count" => Metric::MissingCount,
            "missing_ratio" => Metric::MissingRatio,
            "skewness" => Metric::Skewness,
            "kurtosis" => Metric::Kurtosis,
            q if q.ends_with('%') => {
                let pct = q[..q.len() - 1]
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| {
                        Error::param(
                            parameter,
                            format!("`{s}` is not a quantile: expected an integer percentage from 0% to 100%"),
                        )
                    })?;
                Metric::Quantile(f64::from(pct) / 100.0)
            }
            _ => {
                return Err(Error::Unsupported {
                    parameter: parameter.into(),
                    value: s.clone(),
                    supported: format!("{} and quantiles such as 95%", STATISTICS.join(", ")),
                })
            }
        };
        let name = if name == "std" { "stddev".into() } else { name };
        Ok((metric, name))
    }

    /// The statistic's name in error messages.
    pub(crate) fn statistic(self) -> &'static str {
        match self {
            Metric::Count => "count",
            Metric::Sum => "sum",
            Metric::Mean => "mean",
            Metric::Stddev => "standard deviation",
            Metric::Median => "median",
            Metric::Min => "min",
            Metric::Max => "max",
            Metric::Variance => "variance",
            Metric::CoefficientOfVariance => "coefficient of variance",
            Metric::MissingCount => "missing count",
            Metric::MissingRatio => "missing ratio",
            Metric::Skewness => "skewness",
            Metric::Kurtosis => "kurtosis",
            Metric::Quantile(_) => "quantile",
            Metric::Range => "range",
        }
    }

    /// Whether computing it needs every value of the column.
    pub(crate) fn needs_values(self) -> bool {
        matches!(self, Metric::Median | Metric::Quantile(_))
    }
}

/// How a filter picks among the judged values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Select {
    /// Keep values `>= t` (take high) or `<= t` (take low).
    Threshold(f64),
    /// Keep the `k` best; ties in column order.
    TopK(usize),
    /// Keep the `ceil(p · n)` best; ties in column order (`iv_filter`).
    TopPercentile(f64),
    /// Keep every value at least as good as the `ceil(p · n)`-th best, ties included
    /// (the deprecated `iv_percentile`).
    PercentileWithTies(f64),
}

/// A filter rule: the selection and its direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rule {
    pub(crate) select: Select,
    pub(crate) take_high: bool,
}

/// `host_thresholds`: the thresholds the guest applies to host columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HostThresholds {
    /// One for every host.
    All(f64),
    /// One per host, in the job's host order.
    PerHost(Vec<f64>),
}

/// An IV filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IvRule {
    pub(crate) rule: Rule,
    pub(crate) host_thresholds: Option<HostThresholds>,
    pub(crate) host_thresholds_parameter: String,
    pub(crate) select_federated: bool,
    /// How the IVs of a multi-class binning model's label classes become one value.
    pub(crate) merge: MergeType,
}

/// A filter on SecureBoost feature importances (`hetero_sbt_filter`,
/// `hetero_fast_sbt_filter`). As FATE's, it is not federated: each party judges its own
/// columns by its own copy of the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SbtRule {
    pub(crate) rule: Rule,
    /// The `model_name`s of the SecureBoost models the filter reads.
    pub(crate) model_names: &'static [&'static str],
    /// Checked and recorded in the meta, unused (as in FATE).
    pub(crate) select_federated: bool,
}

/// `model_name` of a HeteroSecureBoost model trained with `boosting_strategy: std`.
pub(crate) const HETERO_SBT: &str = "hetero_sbt";
/// `model_name`s of HeteroFastSecureBoost models (`layered`, `mix`).
pub(crate) const HETERO_FAST_SBT: [&str; 2] = ["hetero_fast_sbt_layered", "hetero_fast_sbt_mix"];

/// `mul_class_merge_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeType {
    Average,
    /// FATE 1.11's `min` takes the maximum too (its `_merge_iv` calls `np.maximum` for
    /// both); kept as FATE does it.
    Min,
    Max,
}

impl MergeType {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "average" => Some(MergeType::Average),
            "min" => Some(MergeType::Min),
            "max" => Some(MergeType::Max),
            _ => None,
        }
    }
}

/// Manually chosen columns (`manually_param`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Manually {
    pub(crate) filter_out_indexes: Vec<usize>,
    pub(crate) filter_out_names: Vec<String>,
    pub(crate) left_col_indexes: Option<Vec<usize>>,
    pub(crate) left_col_names: Option<Vec<String>>,
}

impl Manually {
    /// Replaces anonymous names (`anonymous(i)` is feature `i`'s) in the name lists by
    /// the real header names; a name that is no anonymous name of this party is an error.
    pub(crate) fn use_real_names(
        &mut self,
        header: &[String],
        anonymous: impl Fn(usize) -> String,
    ) -> Result<()> {
        let known: Vec<String> = (0..header.len()).map(&anonymous).collect();
        let real = |parameter: &str, names: &mut Vec<String>| -> Result<()> {
            for n in names.iter_mut() {
                let i = known.iter().position(|a| a == n).ok_or_else(|| {
                    Error::param(
                        format!("manually_param.{parameter}"),
                        format!(
                            "`{n}` is not an anonymous feature name of this party \
                             (use_anonymous is true; names: {})",
                            known.join(", ")
                        ),
                    )
                })?;
                *n = header[i].clone();
            }
            Ok(())
        };
        real("filter_out_names", &mut self.filter_out_names)?;
        if let Some(names) = &mut self.left_col_names {
            real("left_col_names", names)?;
        }
        Ok(())
    }

    /// The header positions this filter removes (among the columns it judges).
    pub(crate) fn filtered_out(&self, header: &[String]) -> Result<BTreeSet<usize>> {
        let index = |parameter: &str, i: usize| {
            if i < header.len() {
                Ok(i)
            } else {
                Err(Error::param(
                    format!("manually_param.{parameter}"),
                    format!(
                        "index {i} is out of range: the data has {} feature columns ({})",
                        header.len(),
                        header.join(", ")
                    ),
                ))
            }
        };
        let name = |parameter: &str, n: &str| {
            header.iter().position(|c| c == n).ok_or_else(|| {
                Error::param(
                    format!("manually_param.{parameter}"),
                    format!(
                        "`{n}` is not a feature column (features: {})",
                        header.join(", ")
                    ),
                )
            })
        };
        let filter_out_mode =
            !self.filter_out_indexes.is_empty() || !self.filter_out_names.is_empty();
        let mut out = BTreeSet::new();
        if filter_out_mode || (self.left_col_indexes.is_none() && self.left_col_names.is_none()) {
            for &i in &self.filter_out_indexes {
                out.insert(index("filter_out_indexes", i)?);
            }
            for n in &self.filter_out_names {
                out.insert(name("filter_out_names", n)?);
            }
            // Names in the left lists are still checked, so a typo is never silent.
            for &i in self.left_col_indexes.iter().flatten() {
                index("left_col_indexes", i)?;
            }
            for n in self.left_col_names.iter().flatten() {
                name("left_col_names", n)?;
            }
            return Ok(out);
        }
        let mut left = BTreeSet::new();
        for &i in self.left_col_indexes.iter().flatten() {
            left.insert(index("left_col_indexes", i)?);
        }
        for n in self.left_col_names.iter().flatten() {
            left.insert(name("left_col_names", n)?);
        }
        Ok((0..header.len()).filter(|i| !left.contains(i)).collect())
    }
}

/// What one filter run does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterKind {
    Manually(Manually),
    /// Drop columns whose most frequent value (to 8 decimals) fills more than
    /// `ceil(rows · upper_pct)` rows.
    PercentageValue {
        upper_pct: f64,
    },
    /// A rule on a statistic each party computes from its own data.
    Statistic {
        metric: Metric,
        rule: Rule,
    },
    /// A rule on IVs from the binning model; the guest decides for the hosts.
    Iv(IvRule),
    /// A rule on feature importances from a SecureBoost model.
    Sbt(SbtRule),
    /// A rule on PSI scores from a `PSI` model; local, as in FATE.
    Psi(Rule),
    /// A rule on the local VIFs of a `HeteroPearson` model; local, as in FATE.
    Vif(Rule),
    /// FATE's correlation filter: columns by IV (binning model) from high to low, each
    /// dropping the columns correlated with it above the threshold (`HeteroPearson` model);
    /// the guest decides for the host with `select_federated`.
    Correlation(CorrelationRule),
}

/// `correlation_param`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CorrelationRule {
    /// `|corr|` above this drops a column.
    pub(crate) threshold: f64,
    pub(crate) select_federated: bool,
}

/// One filter run. `iv_filter` and `statistic_filter` with a list of metrics give one
/// run per metric, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// The `filter_methods` entry (lower-cased).
    pub(crate) method: String,
    /// Its position in `filter_methods`.
    pub(crate) position: usize,
    /// The metric's position in the filter's `metrics` list, when it is a list.
    pub(crate) metric_index: Option<usize>,
    /// FATE's `filter_name` of the run.
    pub(crate) name: String,
    pub(crate) kind: FilterKind,
    /// The settings, for the model meta.
    pub(crate) meta: Value,
}

impl Step {
    /// `filter_methods[i]`, with the metric's position when there is one: how errors and
    /// the parties' plans name the run.
    pub(crate) fn label(&self) -> String {
        match self.metric_index {
            Some(m) => format!("filter_methods[{}].metrics[{m}]", self.position),
            None => format!("filter_methods[{}]", self.position),
        }
    }

    /// Whether the guest decides this run for the hosts (IV and correlation filters):
    /// these runs exchange column names with the hosts.
    pub(crate) fn is_iv(&self) -> bool {
        matches!(self.kind, FilterKind::Iv(_) | FilterKind::Correlation(_))
    }
}

/// Every `HeteroFeatureSelection` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SelectionParam {
    /// `None` for `-1`: every feature column.
    pub(crate) select_col_indexes: Option<Vec<usize>>,
    pub(crate) select_names: Vec<String>,
    pub(crate) use_anonymous: bool,
    /// `filter_methods`, lower-cased.
    pub(crate) filter_methods: Vec<String>,
    pub(crate) steps: Vec<Step>,
}

impl SelectionParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let select_col_indexes = col_indexes(&p, "select_col_indexes")?;
        let select_names = names(&p, "select_names")?.unwrap_or_default();
        let use_anonymous = p.get_bool("use_anonymous")?;
        let default_methods = p.schema_default("filter_methods");
        let methods: Vec<String> = match p.list("filter_methods")? {
            Some(items) => items,
            None => default_methods
                .as_array()
                .expect("the schema default of filter_methods is a list"),
        }
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.trim().to_ascii_lowercase()),
            other => Err(Error::param(
                format!("filter_methods[{i}]"),
                format!("expected a filter name, found {}", describe_value(other)),
            )),
        })
        .collect::<Result<_>>()?;
        let mut steps = Vec::new();
        for (position, method) in methods.iter().enumerate() {
            let parameter = format!("filter_methods[{position}]");
            if UNSUPPORTED.contains(&method.as_str()) {
                return Err(Error::Unsupported {
                    parameter,
                    value: method.clone(),
                    supported: SUPPORTED.join(", "),
                });
            }
            let step = |name: &str, kind: FilterKind, meta: Value| Step {
                method: method.clone(),
                position,
                metric_index: None,
                name: name.into(),
                kind,
                meta,
            };
            match method.as_str() {
                "manually" => {
                    let m = manually(&p)?;
                    let meta = json!({
                        "filter_out_indexes": m.filter_out_indexes,
                        "filter_out_names": m.filter_out_names,
                        "left_col_indexes": m.left_col_indexes,
                        "left_col_names": m.left_col_names,
                    });
                    steps.push(step("manually", FilterKind::Manually(m), meta));
                }
                "unique_value" => {
                    let o = p.object_or_empty("unique_param")?;
                    let eps = positive(&o, "eps")?;
                    let rule = Rule {
                        select: Select::Threshold(eps),
                        take_high: true,
                    };
                    steps.push(step(
                        "unique_value",
                        FilterKind::Statistic {
                            metric: Metric::Range,
                            rule,
                        },
                        json!({"metrics": "max_minus_min", "filter_type": "threshold",
                               "take_high": true, "threshold": eps}),
                    ));
                }
                "coefficient_of_variation_value_thres" => {
                    let o = p.object_or_empty("variance_coe_param")?;
                    let t = positive(&o, "value_threshold")?;
                    let rule = Rule {
                        select: Select::Threshold(t),
                        take_high: true,
                    };
                    steps.push(step(
                        method,
                        FilterKind::Statistic {
                            metric: Metric::CoefficientOfVariance,
                            rule,
                        },
                        json!({"metrics": "coefficient_of_variance", "filter_type": "threshold",
                               "take_high": true, "threshold": t}),
                    ));
                }
                "outlier_cols" => {
                    let o = p.object_or_empty("outlier_param")?;
                    let q = fraction(&o, "percentile")?;
                    let t = finite(&o, "upper_threshold")?;
                    let rule = Rule {
                        select: Select::Threshold(t),
                        take_high: false,
                    };
                    steps.push(step(
                        method,
                        FilterKind::Statistic {
                            metric: Metric::Quantile(q),
                            rule,
                        },
                        json!({"metrics": "quantile", "percentile": q, "filter_type": "threshold",
                               "take_high": false, "threshold": t}),
                    ));
                }
                "percentage_value" => {
                    let o = p.object_or_empty("percentage_value_param")?;
                    let upper_pct = fraction(&o, "upper_pct")?;
                    if upper_pct < 0.1 {
                        return Err(Error::param(
                            o.name("upper_pct"),
                            format!("{upper_pct} is below the smallest allowed value, 0.1"),
                        ));
                    }
                    steps.push(step(
                        method,
                        FilterKind::PercentageValue { upper_pct },
                        json!({"upper_pct": upper_pct}),
                    ));
                }
                "iv_value_thres" => {
                    let o = p.object_or_empty("iv_value_param")?;
                    let t = finite(&o, "value_threshold")?;
                    let host_thresholds =
                        host_thresholds(&o.name("host_thresholds"), o.value("host_thresholds"))?;
                    let local_only = o.get_bool("local_only")?;
                    let iv = IvRule {
                        rule: Rule {
                            select: Select::Threshold(t),
                            take_high: true,
                        },
                        host_thresholds,
                        host_thresholds_parameter: o.name("host_thresholds"),
                        select_federated: !local_only,
                        merge: MergeType::Average,
                    };
                    let meta = iv_meta(&iv, "threshold", json!(t), "average");
                    steps.push(step(method, FilterKind::Iv(iv), meta));
                }
                "iv_percentile" => {
                    let o = p.object_or_empty("iv_percentile_param")?;
                    let q = fraction(&o, "percentile_threshold")?;
                    let local_only = o.get_bool("local_only")?;
                    let iv = IvRule {
                        rule: Rule {
                            select: Select::PercentileWithTies(q),
                            take_high: true,
                        },
                        host_thresholds: None,
                        host_thresholds_parameter: String::new(),
                        select_federated: !local_only,
                        merge: MergeType::Average,
                    };
                    let meta = iv_meta(&iv, "top_percentile", json!(q), "average");
                    steps.push(step(method, FilterKind::Iv(iv), meta));
                }
                "iv_top_k" => {
                    let o = p.object_or_empty("iv_top_k_param")?;
                    let k = positive_int(&o.name("k"), &or_default(&o, "k"))?;
                    let local_only = o.get_bool("local_only")?;
                    let iv = IvRule {
                        rule: Rule {
                            select: Select::TopK(k),
                            take_high: true,
                        },
                        host_thresholds: None,
                        host_thresholds_parameter: String::new(),
                        select_federated: !local_only,
                        merge: MergeType::Average,
                    };
                    let meta = iv_meta(&iv, "top_k", json!(k), "average");
                    steps.push(step(method, FilterKind::Iv(iv), meta));
                }
                "iv_filter" => {
                    for (metric_index, entry) in common(&p, "iv_param")? {
                        let metric_name = entry.metric_name();
                        match &entry.metric {
                            Value::String(s) if s.trim().eq_ignore_ascii_case("iv") => {}
                            other => {
                                return Err(Error::param(
                                    metric_name,
                                    format!(
                                        "the iv filter's metric must be `iv`, found {}",
                                        describe_value(other)
                                    ),
                                ))
                            }
                        }
                        if !entry.rule.take_high {
                            return Err(Error::param(
                                entry.name("take_high"),
                                "the iv filter keeps high IVs: take_high must be true",
                            ));
                        }
                        let merge_type = entry.merge_type()?;
                        let host_parameter = entry.name("host_thresholds");
                        let host_thresholds =
                            host_thresholds(&host_parameter, entry.host_thresholds)?;
                        let iv = IvRule {
                            rule: entry.rule,
                            host_thresholds,
                            host_thresholds_parameter: host_parameter,
                            select_federated: entry.select_federated,
                            merge: MergeType::from_name(merge_type)
                                .expect("merge_type() returns a known name"),
                        };
                        let meta =
                            iv_meta(&iv, entry.filter_type, entry.threshold_json(), merge_type);
                        steps.push(Step {
                            method: method.clone(),
                            position,
                            metric_index,
                            name: format!("iv_{}", entry.filter_type),
                            kind: FilterKind::Iv(iv),
                            meta,
                        });
                    }
                }
                "hetero_sbt_filter" | "hetero_fast_sbt_filter" => {
                    let model_names: &'static [&'static str] = if method == "hetero_sbt_filter" {
                        &[HETERO_SBT]
                    } else {
                        &HETERO_FAST_SBT
                    };
                    for (metric_index, entry) in common(&p, "sbt_param")? {
                        // `host_thresholds` is accepted as is: FATE's SecureBoost
                        // filters neither check nor use it.
                        let meta = entry.model_filter_meta(
                            "the SecureBoost filters'",
                            "feature_importance",
                            "the SecureBoost filters keep high feature importances",
                            true,
                        )?;
                        steps.push(Step {
                            method: method.clone(),
                            position,
                            metric_index,
                            name: method.clone(),
                            kind: FilterKind::Sbt(SbtRule {
                                rule: entry.rule,
                                model_names,
                                select_federated: entry.select_federated,
                            }),
                            meta,
                        });
                    }
                }
                "psi_filter" => {
                    for (metric_index, entry) in common(&p, "psi_param")? {
                        let meta = entry.model_filter_meta(
                            "the PSI filter's",
                            "psi",
                            "the PSI filter keeps low PSI (stable features)",
                            false,
                        )?;
                        steps.push(Step {
                            method: method.clone(),
                            position,
                            metric_index,
                            name: method.clone(),
                            kind: FilterKind::Psi(entry.rule),
                            meta,
                        });
                    }
                }
                "vif_filter" => {
                    for (metric_index, entry) in common(&p, "vif_param")? {
                        if entry.metric != json!("vif") {
                            return Err(Error::param(
                                entry.metric_name(),
                                format!(
                                    "the VIF filter's metric must be `vif`, found {}",
                                    describe_value(&entry.metric)
                                ),
                            ));
                        }
                        // `host_thresholds` and `select_federated` are accepted as is:
                        // FATE's VIF filter is local and uses neither.
                        let meta = json!({
                            "metrics": "vif", "filter_type": entry.filter_type,
                            "take_high": entry.rule.take_high, "threshold": entry.threshold_json(),
                            "select_federated": entry.select_federated,
                        });
                        steps.push(Step {
                            method: method.clone(),
                            position,
                            metric_index,
                            name: method.clone(),
                            kind: FilterKind::Vif(entry.rule),
                            meta,
                        });
                    }
                }
                "correlation_filter" => {
                    let o = p.object_or_empty("correlation_param")?;
                    let sort_metric = match o.value("sort_metric") {
                        None => "iv".to_owned(),
                        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
                        Some(v) => {
                            return Err(Error::param(
                                o.name("sort_metric"),
                                format!("expected `iv`, found {}", describe_value(v)),
                            ))
                        }
                    };
                    if sort_metric != "iv" {
                        return Err(Error::Unsupported {
                            parameter: o.name("sort_metric"),
                            value: sort_metric,
                            supported: "iv".into(),
                        });
                    }
                    let threshold = match o.value("threshold") {
                        None => 0.1,
                        Some(v) => match v.as_f64() {
                            Some(t) if t > 0.0 && t.is_finite() => t,
                            _ => {
                                return Err(Error::param(
                                    o.name("threshold"),
                                    format!(
                                        "must be a positive number, found {}",
                                        describe_value(v)
                                    ),
                                ))
                            }
                        },
                    };
                    let select_federated = o.bool("select_federated", true)?;
                    steps.push(Step {
                        method: method.clone(),
                        position,
                        metric_index: None,
                        name: method.clone(),
                        kind: FilterKind::Correlation(CorrelationRule {
                            threshold,
                            select_federated,
                        }),
                        meta: json!({
                            "metrics": "correlation",
                            "filter_type": "Sort and filter by threshold",
                            "threshold": threshold,
                            "select_federated": select_federated,
                        }),
                    });
                }
                "statistic_filter" => {
                    for (metric_index, entry) in common(&p, "statistic_param")? {
                        let (metric, name) = Metric::parse(&entry.metric_name(), &entry.metric)?;
                        let meta = json!({
                            "metrics": name, "filter_type": entry.filter_type,
                            "take_high": entry.rule.take_high, "threshold": entry.threshold_json(),
                        });
                        steps.push(Step {
                            method: method.clone(),
                            position,
                            metric_index,
                            name,
                            kind: FilterKind::Statistic {
                                metric,
                                rule: entry.rule,
                            },
                            meta,
                        });
                    }
                }
                other => {
                    return Err(Error::param(
                        parameter,
                        format!(
                            "`{other}` is not a FATE filter method (expected one of {}, {})",
                            SUPPORTED.join(", "),
                            UNSUPPORTED.join(", ")
                        ),
                    ))
                }
            }
        }
        for s in &mut steps {
            if let Value::Object(m) = &mut s.meta {
                m.insert("filter_name".into(), s.name.clone().into());
                m.insert("filter_method".into(), s.method.clone().into());
            }
        }
        Ok(SelectionParam {
            select_col_indexes,
            select_names,
            use_anonymous,
            filter_methods: methods,
            steps,
        })
    }

    /// The selected feature positions, sorted: every feature with `select_col_indexes`
    /// -1 (the default), else the listed indexes plus the columns named in
    /// `select_names` (or anonymous names, with `use_anonymous`, as produced by
    /// `anonymous(i)`).
    pub(crate) fn selected(
        &self,
        header: &[String],
        anonymous: impl Fn(usize) -> String,
    ) -> Result<Vec<usize>> {
        let Some(indexes) = &self.select_col_indexes else {
            return Ok((0..header.len()).collect());
        };
        let mut selected = Vec::with_capacity(indexes.len() + self.select_names.len());
        for &i in indexes {
            if i >= header.len() {
                return Err(Error::param(
                    "select_col_indexes",
                    format!(
                        "index {i} is out of range: the data has {} feature columns ({})",
                        header.len(),
                        header.join(", ")
                    ),
                ));
            }
            selected.push(i);
        }
        for name in &self.select_names {
            let found = if self.use_anonymous {
                (0..header.len()).find(|&i| anonymous(i) == *name)
            } else {
                header.iter().position(|c| c == name)
            };
            let i = found.ok_or_else(|| {
                let known = if self.use_anonymous {
                    (0..header.len())
                        .map(&anonymous)
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    header.join(", ")
                };
                Error::param(
                    "select_names",
                    format!(
                        "`{name}` is not a{} feature column (features: {known})",
                        if self.use_anonymous {
                            "n anonymous"
                        } else {
                            ""
                        }
                    ),
                )
            })?;
            selected.push(i);
        }
        selected.sort_unstable();
        selected.dedup();
        Ok(selected)
    }
}

fn col_indexes(p: &Params<'_>, name: &str) -> Result<Option<Vec<usize>>> {
    match p.value(name) {
        None => Ok(None),
        Some(v) if v.as_i64() == Some(-1) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| index(&p.name(name), item))
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(v) => Err(Error::param(
            p.name(name),
            format!(
                "expected -1 or a list of column indexes, found {}",
                describe_value(v)
            ),
        )),
    }
}

fn index(parameter: &str, item: &Value) -> Result<usize> {
    item.as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| {
            Error::param(
                parameter,
                format!(
                    "expected column indexes (integers from 0), found {}",
                    describe_value(item)
                ),
            )
        })
}

fn indexes(p: &Params<'_>, name: &str) -> Result<Option<Vec<usize>>> {
    p.list(name)?
        .map(|items| items.iter().map(|i| index(&p.name(name), i)).collect())
        .transpose()
}

fn names(p: &Params<'_>, name: &str) -> Result<Option<Vec<String>>> {
    p.list(name)?
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(Error::param(
                        p.name(name),
                        format!("expected column names, found {}", describe_value(other)),
                    )),
                })
                .collect()
        })
        .transpose()
}

fn manually(p: &Params<'_>) -> Result<Manually> {
    let Some(o) = p.object("manually_param")? else {
        return Ok(Manually::default());
    };
    let m = Manually {
        filter_out_indexes: indexes(&o, "filter_out_indexes")?.unwrap_or_default(),
        filter_out_names: names(&o, "filter_out_names")?.unwrap_or_default(),
        left_col_indexes: indexes(&o, "left_col_indexes")?,
        left_col_names: names(&o, "left_col_names")?,
    };
    let filter_out = !m.filter_out_indexes.is_empty() || !m.filter_out_names.is_empty();
    let left = m.left_col_indexes.as_ref().is_some_and(|v| !v.is_empty())
        || m.left_col_names.as_ref().is_some_and(|v| !v.is_empty());
    if filter_out && left {
        return Err(Error::param(
            o.name("left_col_names"),
            "left_col_indexes / left_col_names cannot be used together with \
             filter_out_indexes / filter_out_names",
        ));
    }
    Ok(m)
}

/// A finite number (JSON number or numeric string).
fn finite_number(parameter: &str, v: &Value) -> Result<f64> {
    let x = number(parameter, v)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::param(
            parameter,
            format!("expected a finite number, found {x}"),
        ))
    }
}

/// The value of `name`, or the schema's default.
fn or_default(o: &Params<'_>, name: &str) -> Value {
    o.value(name)
        .cloned()
        .unwrap_or_else(|| o.schema_default(name))
}

fn finite(o: &Params<'_>, name: &str) -> Result<f64> {
    finite_number(&o.name(name), &or_default(o, name))
}

fn positive(o: &Params<'_>, name: &str) -> Result<f64> {
    let x = finite(o, name)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(Error::param(
            o.name(name),
            format!("expected a positive number, found {x}"),
        ))
    }
}

fn fraction_value(parameter: &str, v: &Value) -> Result<f64> {
    let x = finite_number(parameter, v)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(Error::param(
            parameter,
            format!("expected a number between 0 and 1, found {x}"),
        ))
    }
}

fn fraction(o: &Params<'_>, name: &str) -> Result<f64> {
    fraction_value(&o.name(name), &or_default(o, name))
}

fn positive_int(parameter: &str, v: &Value) -> Result<usize> {
    v.as_u64()
        .filter(|k| *k > 0)
        .and_then(|k| usize::try_from(k).ok())
        .ok_or_else(|| {
            Error::param(
                parameter,
                format!("expected a positive integer, found {}", describe_value(v)),
            )
        })
}

/// `host_thresholds`: `null`, one number for every host, or one number per host.
fn host_thresholds(parameter: &str, v: Option<&Value>) -> Result<Option<HostThresholds>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| finite_number(&format!("{parameter}[{i}]"), item))
            .collect::<Result<_>>()
            .map(|v| Some(HostThresholds::PerHost(v))),
        Some(v) => finite_number(parameter, v).map(|t| Some(HostThresholds::All(t))),
    }
}

fn iv_meta(iv: &IvRule, filter_type: &str, threshold: Value, merge_type: &str) -> Value {
    let host_thresholds = match &iv.host_thresholds {
        None => Value::Null,
        Some(HostThresholds::All(t)) => json!(t),
        Some(HostThresholds::PerHost(v)) => json!(v),
    };
    json!({
        "metrics": "iv", "filter_type": filter_type, "take_high": iv.rule.take_high,
        "threshold": threshold, "host_thresholds": host_thresholds,
        "select_federated": iv.select_federated, "mul_class_merge_type": merge_type,
    })
}

/// One metric of a `CommonFilterParam` (`iv_param`, `statistic_param`).
struct CommonEntry<'a> {
    /// `iv_param`.
    prefix: String,
    /// The metric's position when `metrics` is a list.
    index: Option<usize>,
    metric: Value,
    filter_type: &'static str,
    rule: Rule,
    select_federated: bool,
    host_thresholds: Option<&'a Value>,
    merge_type: Option<&'a Value>,
}

impl CommonEntry<'_> {
    /// `iv_param.<field>`, with `[i]` for a metric list.
    fn name(&self, field: &str) -> String {
        match self.index {
            Some(i) => format!("{}.{field}[{i}]", self.prefix),
            None => format!("{}.{field}", self.prefix),
        }
    }

    fn metric_name(&self) -> String {
        self.name("metrics")
    }

    /// A model-based filter's run (SecureBoost, PSI): its metric must be `metric`, as
    /// written (FATE compares the name as given), and its direction `take_high`; returns
    /// the run's meta. `subject` and `direction` word the errors.
    fn model_filter_meta(
        &self,
        subject: &str,
        metric: &str,
        direction: &str,
        take_high: bool,
    ) -> Result<Value> {
        if self.metric != json!(metric) {
            return Err(Error::param(
                self.metric_name(),
                format!(
                    "{subject} metric must be `{metric}`, found {}",
                    describe_value(&self.metric)
                ),
            ));
        }
        if self.rule.take_high != take_high {
            return Err(Error::param(
                self.name("take_high"),
                format!("{direction}: take_high must be {take_high}"),
            ));
        }
        Ok(json!({
            "metrics": metric, "filter_type": self.filter_type,
            "take_high": self.rule.take_high, "threshold": self.threshold_json(),
            "select_federated": self.select_federated,
        }))
    }

    fn threshold_json(&self) -> Value {
        match self.rule.select {
            Select::Threshold(t) | Select::TopPercentile(t) | Select::PercentileWithTies(t) => {
                json!(t)
            }
            Select::TopK(k) => json!(k),
        }
    }

    fn merge_type(&self) -> Result<&'static str> {
        match self.merge_type {
            None | Some(Value::Null) => Ok("average"),
            Some(Value::String(s)) => ["average", "min", "max"]
                .into_iter()
                .find(|c| c.eq_ignore_ascii_case(s.trim()))
                .ok_or_else(|| {
                    Error::param(
                        self.name("mul_class_merge_type"),
                        format!("`{s}` is not one of average, min, max"),
                    )
                }),
            Some(other) => Err(Error::param(
                self.name("mul_class_merge_type"),
                format!(
                    "expected average, min or max, found {}",
                    describe_value(other)
                ),
            )),
        }
    }
}

/// The entries of a `CommonFilterParam`: `metrics` a name or a list of names; each of
/// `filter_type`, `take_high`, `threshold`, `select_federated` (and `host_thresholds`,
/// `mul_class_merge_type`) one value for every metric or, when `metrics` is a list, a
/// list with one value per metric.
fn common<'a>(p: &Params<'a>, name: &str) -> Result<Vec<(Option<usize>, CommonEntry<'a>)>> {
    let o = p.object_or_empty(name)?;
    let prefix = p.name(name);
    let metrics: Vec<Value> = match o.value("metrics") {
        None => vec![o.schema_default("metrics")],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(Error::param(
                o.name("metrics"),
                "the list of metrics is empty",
            ))
        }
        Some(Value::Array(items)) => items.clone(),
        Some(v) => vec![v.clone()],
    };
    let listed = matches!(o.value("metrics"), Some(Value::Array(_)));
    let n = metrics.len();
    let per_metric = |field: &str| -> Result<Vec<Option<&'a Value>>> {
        match o.value(field) {
            None => Ok(vec![None; n]),
            Some(Value::Array(items)) if listed => {
                if items.len() != n {
                    return Err(Error::param(
                        o.name(field),
                        format!(
                            "{} values given for {n} metrics: give one value, or one per metric",
                            items.len()
                        ),
                    ));
                }
                Ok(items
                    .iter()
                    .map(|v| Some(v).filter(|v| !v.is_null()))
                    .collect())
            }
            // `host_thresholds` may be a per-host list for a single metric.
            Some(v @ Value::Array(_)) if field == "host_thresholds" => Ok(vec![Some(v)]),
            Some(Value::Array(_)) => Err(Error::param(
                o.name(field),
                "must not be a list when `metrics` is a single metric",
            )),
            Some(v) => Ok(vec![Some(v); n]),
        }
    };
    let filter_types = per_metric("filter_type")?;
    let take_highs = per_metric("take_high")?;
    let thresholds = per_metric("threshold")?;
    let federated = per_metric("select_federated")?;
    let host_thresholds = per_metric("host_thresholds")?;
    let merge_types = per_metric("mul_class_merge_type")?;
    let mut out = Vec::with_capacity(n);
    for (i, metric) in metrics.into_iter().enumerate() {
        let index = listed.then_some(i);
        let field = |f: &str| match index {
            Some(i) => format!("{prefix}.{f}[{i}]"),
            None => format!("{prefix}.{f}"),
        };
        let given = |values: &[Option<&Value>], f: &str| {
            values[i].cloned().unwrap_or_else(|| o.schema_default(f))
        };
        let filter_type = match &given(&filter_types, "filter_type") {
            Value::String(s) => ["threshold", "top_k", "top_percentile"]
                .into_iter()
                .find(|c| c.eq_ignore_ascii_case(s.trim()))
                .ok_or_else(|| {
                    Error::param(
                        field("filter_type"),
                        format!("`{s}` is not one of threshold, top_k, top_percentile"),
                    )
                })?,
            other => {
                return Err(Error::param(
                    field("filter_type"),
                    format!(
                        "expected threshold, top_k or top_percentile, found {}",
                        describe_value(other)
                    ),
                ))
            }
        };
        let take_high = match given(&take_highs, "take_high") {
            Value::Bool(b) => b,
            other => {
                return Err(Error::param(
                    field("take_high"),
                    format!("expected true or false, found {}", describe_value(&other)),
                ))
            }
        };
        let select_federated = match given(&federated, "select_federated") {
            Value::Bool(b) => b,
            other => {
                return Err(Error::param(
                    field("select_federated"),
                    format!("expected true or false, found {}", describe_value(&other)),
                ))
            }
        };
        let threshold_name = field("threshold");
        let threshold = given(&thresholds, "threshold");
        let v = &threshold;
        let select = match filter_type {
            "threshold" => Select::Threshold(finite_number(&threshold_name, v)?),
            "top_k" => Select::TopK(positive_int(&threshold_name, v).map_err(|_| {
                Error::param(
                    &threshold_name,
                    format!(
                        "with filter_type top_k the threshold is k, a positive integer; found {}",
                        describe_value(v)
                    ),
                )
            })?),
            _ => Select::TopPercentile(fraction_value(&threshold_name, v).map_err(|_| {
                Error::param(
                    &threshold_name,
                    format!(
                        "with filter_type top_percentile the threshold is a fraction between 0 and 1; found {}",
                        describe_value(v)
                    ),
                )
            })?),
        };
        out.push((
            index,
            CommonEntry {
                prefix: prefix.clone(),
                index,
                metric,
                filter_type,
                rule: Rule { select, take_high },
                select_federated,
                host_thresholds: host_thresholds[i],
                merge_type: merge_types[i],
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<SelectionParam> {
        SelectionParam::parse(v.as_object().unwrap())
    }

    fn err(v: Value) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.select_col_indexes, None);
        assert!(p.select_names.is_empty());
        assert_eq!(p.filter_methods, ["manually"]);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].kind, FilterKind::Manually(Manually::default()));
    }

    #[test]
    fn deprecated_filters_take_their_defaults() {
        let p = parse(json!({"filter_methods": [
            "unique_value", "iv_value_thres", "iv_percentile", "iv_top_k",
            "coefficient_of_variation_value_thres", "outlier_cols", "percentage_value"
        ]}))
        .unwrap();
        let kinds: Vec<_> = p.steps.iter().map(|s| s.kind.clone()).collect();
        let high = |select| Rule {
            select,
            take_high: true,
        };
        assert_eq!(
            kinds[0],
            FilterKind::Statistic {
                metric: Metric::Range,
                rule: high(Select::Threshold(1e-5))
            }
        );
        let iv = |select| {
            FilterKind::Iv(IvRule {
                rule: high(select),
                host_thresholds: None,
                host_thresholds_parameter: String::new(),
                select_federated: true,
                merge: MergeType::Average,
            })
        };
        match &kinds[1] {
            FilterKind::Iv(r) => {
                assert_eq!(r.rule, high(Select::Threshold(0.0)));
                assert!(r.select_federated && r.host_thresholds.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(kinds[2], iv(Select::PercentileWithTies(1.0)));
        assert_eq!(kinds[3], iv(Select::TopK(10)));
        assert_eq!(
            kinds[4],
            FilterKind::Statistic {
                metric: Metric::CoefficientOfVariance,
                rule: high(Select::Threshold(1.0))
            }
        );
        assert_eq!(
            kinds[5],
            FilterKind::Statistic {
                metric: Metric::Quantile(1.0),
                rule: Rule {
                    select: Select::Threshold(1.0),
                    take_high: false
                }
            }
        );
        assert_eq!(kinds[6], FilterKind::PercentageValue { upper_pct: 1.0 });
        let names: Vec<_> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "unique_value");
        assert_eq!(names[3], "iv_top_k");
    }

    #[test]
    fn metric_lists_give_one_run_each() {
        let p = parse(json!({
            "filter_methods": ["iv_filter", "statistic_filter"],
            "iv_param": {"metrics": ["iv", "iv"], "filter_type": ["top_k", "threshold"],
                         "threshold": [2, 0.1], "host_thresholds": [null, [0.2, 0.3]]},
            "statistic_param": {"metrics": ["variance", "95%", "std"], "take_high": [true, false, true],
                                "threshold": 0.5}
        }))
        .unwrap();
        let labels: Vec<_> = p.steps.iter().map(Step::label).collect();
        assert_eq!(
            labels,
            [
                "filter_methods[0].metrics[0]",
                "filter_methods[0].metrics[1]",
                "filter_methods[1].metrics[0]",
                "filter_methods[1].metrics[1]",
                "filter_methods[1].metrics[2]"
            ]
        );
        let names: Vec<_> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["iv_top_k", "iv_threshold", "variance", "95%", "stddev"]
        );
        match &p.steps[1].kind {
            FilterKind::Iv(r) => {
                assert_eq!(
                    r.host_thresholds,
                    Some(HostThresholds::PerHost(vec![0.2, 0.3]))
                );
                assert_eq!(r.host_thresholds_parameter, "iv_param.host_thresholds[1]");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.steps[3].kind,
            FilterKind::Statistic {
                metric: Metric::Quantile(0.95),
                rule: Rule {
                    select: Select::Threshold(0.5),
                    take_high: false
                }
            }
        );
    }

    #[test]
    fn sbt_filters_parse_as_fate_checks_them() {
        let p = parse(json!({"filter_methods": ["hetero_sbt_filter", "HETERO_FAST_SBT_FILTER"]}))
            .unwrap();
        let rule = |s: &Step| match &s.kind {
            FilterKind::Sbt(r) => r.clone(),
            other => panic!("{other:?}"),
        };
        let defaults = rule(&p.steps[0]);
        assert_eq!(
            defaults.rule,
            Rule {
                select: Select::Threshold(1.0),
                take_high: true
            }
        );
        assert_eq!(defaults.model_names, [HETERO_SBT]);
        assert!(defaults.select_federated);
        assert_eq!(rule(&p.steps[1]).model_names, HETERO_FAST_SBT);
        let names: Vec<_> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["hetero_sbt_filter", "hetero_fast_sbt_filter"]);
        assert_eq!(
            p.steps[0].meta,
            json!({"metrics": "feature_importance", "filter_type": "threshold", "take_high": true,
                   "threshold": 1.0, "select_federated": true,
                   "filter_name": "hetero_sbt_filter", "filter_method": "hetero_sbt_filter"})
        );

        let p = parse(json!({"filter_methods": ["hetero_fast_sbt_filter"],
            "sbt_param": {"metrics": ["feature_importance", "feature_importance"],
                          "filter_type": ["top_k", "top_percentile"], "threshold": [3, 0.4],
                          "select_federated": false, "host_thresholds": [[0.1], null]}}))
        .unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].label(), "filter_methods[0].metrics[1]");
        assert_eq!(rule(&p.steps[0]).rule.select, Select::TopK(3));
        assert_eq!(rule(&p.steps[1]).rule.select, Select::TopPercentile(0.4));
        assert!(!rule(&p.steps[1]).select_federated);

        let e = err(json!({"filter_methods": ["hetero_sbt_filter"],
                           "sbt_param": {"take_high": false}}));
        assert!(
            e.contains("`sbt_param.take_high`: the SecureBoost filters keep high"),
            "{e}"
        );
        let e = err(json!({"filter_methods": ["hetero_sbt_filter"],
                           "sbt_param": {"metrics": "Feature_Importance"}}));
        assert!(
            e.contains("`sbt_param.metrics`: the SecureBoost filters' metric"),
            "{e}"
        );
        let e = err(json!({"filter_methods": ["hetero_sbt_filter"],
                           "sbt_param": {"filter_type": "top_k", "threshold": 0}}));
        assert!(
            e.contains("`sbt_param.threshold`: with filter_type top_k"),
            "{e}"
        );
        let e = err(json!({"filter_methods": ["homo_sbt_filter"]}));
        assert!(
            e.contains("`filter_methods[0]`: `homo_sbt_filter` is not supported yet"),
            "{e}"
        );
        // Without an SBT filter, sbt_param is not read.
        assert!(parse(json!({"sbt_param": {"take_high": false}})).is_ok());
    }

    #[test]
    fn single_metric_host_thresholds_per_host() {
        let p = parse(json!({"filter_methods": ["iv_filter"],
                             "iv_param": {"threshold": 0.1, "host_thresholds": [0.2, 0.3]}}))
        .unwrap();
        match &p.steps[0].kind {
            FilterKind::Iv(r) => {
                assert_eq!(
                    r.host_thresholds,
                    Some(HostThresholds::PerHost(vec![0.2, 0.3]))
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_psi_filter_keeps_low_psi() {
        let p = parse(json!({"filter_methods": ["psi_filter"],
                             "psi_param": {"filter_type": "top_k", "threshold": 3}}))
        .unwrap();
        match &p.steps[0].kind {
            FilterKind::Psi(r) => assert!(!r.take_high),
            other => panic!("{other:?}"),
        }
        let e = err(json!({"filter_methods": ["psi_filter"], "psi_param": {"take_high": true}}));
        assert!(e.contains("`psi_param.take_high`"), "{e}");
        let e = err(json!({"filter_methods": ["psi_filter"], "psi_param": {"metrics": "iv"}}));
        assert!(e.contains("`psi_param.metrics`"), "{e}");
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(
            err(json!({"filter_methods": ["manually", "homo_sbt_filter"]})),
            "parameter `filter_methods[1]`: `homo_sbt_filter` is not supported yet (supported: \
             manually, unique_value, iv_value_thres, iv_percentile, iv_top_k, \
             coefficient_of_variation_value_thres, outlier_cols, percentage_value, iv_filter, \
             statistic_filter, hetero_sbt_filter, hetero_fast_sbt_filter, psi_filter, \
             vif_filter, correlation_filter)"
        );
        let e = err(json!({"filter_methods": ["vif_filter"], "vif_param": {"metrics": "iv"}}));
        assert!(e.contains("`vif_param.metrics`"), "{e}");
        let e = err(json!({"filter_methods": ["correlation_filter"],
                           "correlation_param": {"sort_metric": "psi"}}));
        assert!(e.contains("`correlation_param.sort_metric`"), "{e}");
        let e = err(json!({"filter_methods": ["correlation_filter"],
                           "correlation_param": {"threshold": 0}}));
        assert!(e.contains("`correlation_param.threshold`"), "{e}");
        let p = SelectionParam::parse(
            json!({"filter_methods": ["vif_filter", "correlation_filter"],
                   "vif_param": {"threshold": 5}, "correlation_param": {"select_federated": false}})
            .as_object()
            .unwrap(),
        )
        .unwrap();
        assert!(matches!(&p.steps[0].kind, FilterKind::Vif(r) if !r.take_high));
        assert!(matches!(&p.steps[1].kind,
            FilterKind::Correlation(c) if c.threshold == 0.1 && !c.select_federated));
        assert!(err(json!({"filter_methods": ["nope"]})).starts_with(
            "invalid parameter `filter_methods[0]`: `nope` is not a FATE filter method"
        ));
        assert!(err(json!({"filter_methods": [3]}))
            .starts_with("invalid parameter `filter_methods[0]`"));
        assert_eq!(
            err(json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": "high"}})),
            "invalid parameter `iv_param.threshold`: expected a number, found the string \"high\""
        );
        assert!(
            err(json!({"filter_methods": ["iv_filter"], "iv_param": {"threshold": true}}))
                .starts_with("invalid parameter `iv_param.threshold`")
        );
        assert!(err(json!({"filter_methods": ["iv_filter"],
                           "iv_param": {"filter_type": "top_k", "threshold": 1.5}}))
        .contains("`iv_param.threshold`: with filter_type top_k the threshold is k"));
        assert!(err(json!({"filter_methods": ["iv_filter"],
                           "iv_param": {"filter_type": "top_percentile", "threshold": 2}}))
        .contains("`iv_param.threshold`: with filter_type top_percentile"));
        assert!(
            err(json!({"filter_methods": ["iv_filter"], "iv_param": {"take_high": false}}))
                .contains("`iv_param.take_high`")
        );
        assert!(
            err(json!({"filter_methods": ["iv_filter"], "iv_param": {"metrics": "mean"}}))
                .contains("`iv_param.metrics`")
        );
        assert!(
            err(json!({"filter_methods": ["iv_filter"], "iv_param": {"filter_type": "best"}}))
                .contains("`iv_param.filter_type`: `best`")
        );
        assert!(err(json!({"filter_methods": ["statistic_filter"],
                           "statistic_param": {"metrics": ["mean", "psi"], "threshold": [1, 2]}}))
        .contains("parameter `statistic_param.metrics[1]`: `psi` is not supported"));
        assert!(err(json!({"filter_methods": ["statistic_filter"],
                           "statistic_param": {"metrics": ["mean", "max"], "threshold": [1]}}))
        .contains("`statistic_param.threshold`: 1 values given for 2 metrics"));
        assert!(err(json!({"filter_methods": ["statistic_filter"],
                           "statistic_param": {"metrics": "mean", "threshold": [1]}}))
        .contains("must not be a list"));
        assert!(err(json!({"filter_methods": ["statistic_filter"],
                           "statistic_param": {"metrics": ["mean", "101%"]}}))
        .contains("`statistic_param.metrics[1]`: `101%` is not a quantile"));
        assert!(
            err(json!({"filter_methods": ["unique_value"], "unique_param": {"eps": 0}}))
                .contains("`unique_param.eps`: expected a positive number")
        );
        assert!(err(json!({"filter_methods": ["percentage_value"],
                           "percentage_value_param": {"upper_pct": 0.05}}))
        .contains("`percentage_value_param.upper_pct`"));
        assert!(
            err(json!({"filter_methods": ["iv_top_k"], "iv_top_k_param": {"k": 0}}))
                .contains("`iv_top_k_param.k`: expected a positive integer")
        );
        assert!(err(
            json!({"manually_param": {"filter_out_names": ["a"], "left_col_names": ["b"]}})
        )
        .contains("cannot be used together"));
        assert!(err(json!({"select_col_indexes": "all"})).contains("`select_col_indexes`"));
        assert!(err(json!({"filter_methods": "manually"})).contains("`filter_methods`"));
    }

    #[test]
    fn selection_of_columns() {
        let header: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let anon = |i: usize| format!("guest_9999_x{i}");
        let p = parse(json!({"select_col_indexes": -1, "select_names": ["b"]})).unwrap();
        assert_eq!(p.selected(&header, anon).unwrap(), [0, 1, 2, 3]);
        let p = parse(json!({"select_col_indexes": [3, 0], "select_names": ["b", "d"]})).unwrap();
        assert_eq!(p.selected(&header, anon).unwrap(), [0, 1, 3]);
        let p = parse(
            json!({"select_col_indexes": [], "select_names": ["guest_9999_x2"],
                             "use_anonymous": true}),
        )
        .unwrap();
        assert_eq!(p.selected(&header, anon).unwrap(), [2]);
        let p = parse(json!({"select_col_indexes": [], "select_names": ["z"]})).unwrap();
        assert!(p
            .selected(&header, anon)
            .unwrap_err()
            .to_string()
            .contains("`select_names`: `z` is not a feature column"));
        let p = parse(json!({"select_col_indexes": [4]})).unwrap();
        assert!(p.selected(&header, anon).is_err());
    }

    #[test]
    fn manually_modes() {
        let header: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let m = |v: Value| {
            let p = parse(json!({"manually_param": v})).unwrap();
            match &p.steps[0].kind {
                FilterKind::Manually(m) => m.filtered_out(&header),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(m(json!({})).unwrap(), BTreeSet::new());
        assert_eq!(
            m(json!({"filter_out_indexes": [2], "filter_out_names": ["a"]})).unwrap(),
            BTreeSet::from([0, 2])
        );
        assert_eq!(
            m(json!({"left_col_indexes": [0], "left_col_names": ["c"]})).unwrap(),
            BTreeSet::from([1])
        );
        assert_eq!(
            m(json!({"left_col_names": []})).unwrap(),
            BTreeSet::from([0, 1, 2])
        );
        assert!(m(json!({"left_col_names": ["zz"]}))
            .unwrap_err()
            .to_string()
            .contains("`manually_param.left_col_names`: `zz` is not a feature column"));
        assert!(m(json!({"filter_out_indexes": [3]}))
            .unwrap_err()
            .to_string()
            .contains("`manually_param.filter_out_indexes`: index 3"));
    }

    #[test]
    fn manual_names_can_be_anonymous() {
        let header: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let anonymous = |i: usize| format!("host_10000_x{i}");
        let mut m = Manually {
            left_col_names: Some(vec!["host_10000_x3".into()]),
            ..Manually::default()
        };
        m.use_real_names(&header, anonymous).unwrap();
        assert_eq!(m.left_col_names, Some(vec!["d".to_string()]));
        assert_eq!(m.filtered_out(&header).unwrap(), [0, 1, 2].into());

        let mut m = Manually {
            filter_out_names: vec!["host_9999_x0".into()],
            ..Manually::default()
        };
        let e = m
            .use_real_names(&header, anonymous)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`host_9999_x0` is not an anonymous feature name"),
            "{e}"
        );
    }
}

//! `HeteroFeatureBinning` parameters: FATE 1.x `HeteroFeatureBinningParam`, with its
//! defaults, resolved against a table's feature header.

use std::collections::BTreeMap;

use fateflow_domain::module::describe_value;
use serde_json::{Map, Value};

use super::optimal::{MergeSettings, OptimalMetric};
use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, Int, IntOrList, List, Number, Object, Str};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};

/// FATE 1.11's `HeteroFeatureBinning` parameters.
const HETERO_FEATURE_BINNING_PARAMS: &[Param] = &[
    param("method", Str, "\"quantile\"", true),
    param("compress_thres", Int, "10000", true),
    param("head_size", Int, "10000", true),
    param("error", Number, "0.0001", true),
    param("adjustment_factor", Number, "0.5", true),
    param("bin_num", Int, "10", true),
    param("bin_indexes", IntOrList, "-1", true),
    param("bin_names", List, "null", true),
    param("category_indexes", IntOrList, "null", true),
    param("category_names", List, "null", true),
    param("transform_param", Object, OBJ, true),
    param("transform_param.transform_cols", IntOrList, "-1", true),
    param("transform_param.transform_names", List, "null", true),
    param("transform_param.transform_type", Str, "\"bin_num\"", true),
    param("need_run", Bool, "true", true),
    param("skip_static", Bool, "false", true),
    param("local_only", Bool, "false", true),
    param("optimal_binning_param", Object, OBJ, true),
    param(
        "optimal_binning_param.init_bucket_method",
        Str,
        "\"quantile\"",
        true,
    ),
    param("optimal_binning_param.metric_method", Str, "\"iv\"", true),
    param("optimal_binning_param.max_bin", Int, "null", true),
    param("optimal_binning_param.mixture", Bool, "true", true),
    param("optimal_binning_param.max_bin_pct", Number, "1.0", true),
    param("optimal_binning_param.min_bin_pct", Number, "0.05", true),
    param("optimal_binning_param.init_bin_nums", Int, "1000", true),
    param(
        "optimal_binning_param.adjustment_factor",
        Number,
        "null",
        true,
    ),
    param("encrypt_param", Object, OBJ, true),
    param("encrypt_param.method", Str, "\"Paillier\"", true),
    param("encrypt_param.key_length", Int, "2048", true),
    param("split_points_by_index", Any, "null", true),
    param("split_points_by_col_name", Any, "null", true),
];

const BINNING_CONDITIONS: &[Condition] = &[when("optimal_binning_param", "method", &["optimal"])];

const BINNING_SUPPORTED: &[(&str, &[&str])] = &[
    ("method", &["quantile", "bucket", "optimal"]),
    (
        "optimal_binning_param.metric_method",
        &["iv", "gini", "chi_square", "chi-square", "ks"],
    ),
    (
        "optimal_binning_param.init_bucket_method",
        &["quantile", "bucket"],
    ),
    ("encrypt_param.method", &["paillier"]),
    ("transform_param.transform_type", &["bin_num", "woe"]),
];

/// `HeteroFeatureBinning`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroFeatureBinning",
    params: &[HETERO_FEATURE_BINNING_PARAMS],
    conditions: BINNING_CONDITIONS,
    supported: BINNING_SUPPORTED,
};

/// `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Quantile,
    Bucket,
    /// Many initial buckets merged by a metric (`binning/optimal.rs`).
    Optimal,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Quantile => "quantile",
            Method::Bucket => "bucket",
            Method::Optimal => "optimal",
        }
    }
}

/// `transform_param.transform_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransformType {
    /// Values become their bin index.
    BinNum,
    /// Values become the WOE of their bin (guest only).
    Woe,
}

impl TransformType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TransformType::BinNum => "bin_num",
            TransformType::Woe => "woe",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "bin_num" => Some(TransformType::BinNum),
            "woe" => Some(TransformType::Woe),
            _ => None,
        }
    }
}

/// A column selector: FATE's `-1` (every feature column) or a list of indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Indexes {
    All,
    List(Vec<usize>),
}

/// `transform_param`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TransformParam {
    /// `transform_cols`: `All` (FATE's `-1`, the default) means every binned column;
    /// an explicit `null` means none (only `transform_names`).
    pub(crate) cols: Indexes,
    pub(crate) names: Vec<String>,
    /// `None`: the data passes through unchanged (an explicit `null`, FATE's `None`).
    pub(crate) kind: Option<TransformType>,
}

/// Every `HeteroFeatureBinning` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BinningParam {
    pub(crate) method: Method,
    pub(crate) bin_num: usize,
    pub(crate) compress_thres: usize,
    pub(crate) head_size: usize,
    pub(crate) error: f64,
    pub(crate) bin_indexes: Indexes,
    pub(crate) bin_names: Vec<String>,
    /// `None` when not given (no categorical column).
    pub(crate) category_indexes: Option<Indexes>,
    pub(crate) category_names: Vec<String>,
    pub(crate) adjustment_factor: f64,
    pub(crate) local_only: bool,
    pub(crate) skip_static: bool,
    pub(crate) key_length: u32,
    pub(crate) transform: TransformParam,
    pub(crate) split_points_by_index: BTreeMap<usize, Vec<f64>>,
    pub(crate) split_points_by_col_name: BTreeMap<String, Vec<f64>>,
    /// `optimal_binning_param` (checked whatever the method, as FATE does).
    pub(crate) optimal: OptimalParam,
}

/// `optimal_binning_param.init_bucket_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitBucketMethod {
    Quantile,
    Bucket,
}

/// `optimal_binning_param`, FATE's `OptimalBinningParam`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptimalParam {
    pub(crate) metric: OptimalMetric,
    pub(crate) init_bucket_method: InitBucketMethod,
    pub(crate) init_bin_nums: usize,
    pub(crate) mixture: bool,
    pub(crate) max_bin_pct: f64,
    pub(crate) min_bin_pct: f64,
}

impl OptimalParam {
    /// The merge settings for `bin_num` bins.
    pub(crate) fn settings(&self, bin_num: usize, adjustment_factor: f64) -> MergeSettings {
        MergeSettings {
            metric: self.metric,
            max_bin: bin_num,
            mixture: self.mixture,
            max_bin_pct: self.max_bin_pct,
            min_bin_pct: self.min_bin_pct,
            adjustment_factor,
        }
    }
}

/// FATE's check in `OptimalBinning`: `ceil(1 / max_bin_pct)` bins of the largest size
/// must fit in `bin_num`. `field` names the parameter for the message.
pub(crate) fn check_max_bin_pct(max_bin_pct: f64, bin_num: usize, field: &str) -> Result<()> {
    let needed = (1.0 / max_bin_pct).ceil();
    if needed.is_nan() || needed > bin_num as f64 {
        return Err(Error::param(
            field,
            format!(
                "ceil(1 / max_bin_pct) = {needed} bins are needed to hold every sample, more than bin_num {bin_num}"
            ),
        ));
    }
    Ok(())
}

fn optimal_param(p: &Params<'_>, bin_num: usize, adjustment_factor: f64) -> Result<OptimalParam> {
    let name = p.get_str("metric_method")?;
    let metric = OptimalMetric::from_name(name).ok_or_else(|| {
        Error::param(
            p.name("metric_method"),
            format!("`{name}` is not one of iv, gini, chi_square (chi-square), ks"),
        )
    })?;
    let init_bucket_method = match p.get_str("init_bucket_method")? {
        m if m.eq_ignore_ascii_case("quantile") => InitBucketMethod::Quantile,
        m if m.eq_ignore_ascii_case("bucket") => InitBucketMethod::Bucket,
        m => {
            return Err(Error::param(
                p.name("init_bucket_method"),
                format!("`{m}` is not one of quantile, bucket"),
            ))
        }
    };
    let n = p.get_int("init_bin_nums")?;
    let init_bin_nums = usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
        Error::param(
            p.name("init_bin_nums"),
            format!("expected a positive integer, found {n}"),
        )
    })?;
    let mixture = p.get_bool("mixture")?;
    let pct = |key: &str| -> Result<f64> {
        let v = p.get_float(key)?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(Error::param(
                p.name(key),
                format!("expected a number in [0, 1], found {v}"),
            ))
        }
    };
    let max_bin_pct = pct("max_bin_pct")?;
    let min_bin_pct = pct("min_bin_pct")?;
    if min_bin_pct > max_bin_pct {
        return Err(Error::param(
            p.name("min_bin_pct"),
            format!("{min_bin_pct} is above max_bin_pct {max_bin_pct}"),
        ));
    }
    // FATE overwrites these two with `bin_num` and `adjustment_factor`: a different value
    // would be ignored, so it is refused.
    if let Some(v) = p.value("max_bin") {
        if v.as_u64() != Some(bin_num as u64) {
            return Err(Error::param(
                p.name("max_bin"),
                format!(
                    "FATE sets it to bin_num ({bin_num}), found {}; set bin_num instead",
                    describe_value(v)
                ),
            ));
        }
    }
    if let Some(v) = p.value("adjustment_factor") {
        if v.as_f64() != Some(adjustment_factor) {
            return Err(Error::param(
                p.name("adjustment_factor"),
                format!(
                    "FATE sets it to adjustment_factor ({adjustment_factor}), found {}; set adjustment_factor instead",
                    describe_value(v)
                ),
            ));
        }
    }
    Ok(OptimalParam {
        metric,
        init_bucket_method,
        init_bin_nums,
        mixture,
        max_bin_pct,
        min_bin_pct,
    })
}

impl BinningParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub(crate) fn parse(parameters: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(parameters, &SCHEMA);
        let method = match p.get_str("method")? {
            m if m.eq_ignore_ascii_case("quantile") => Method::Quantile,
            m if m.eq_ignore_ascii_case("bucket") => Method::Bucket,
            m if m.eq_ignore_ascii_case("optimal") => Method::Optimal,
            m => {
                return Err(Error::param(
                    "method",
                    format!("`{m}` is not one of quantile, bucket, optimal"),
                ))
            }
        };
        let bin_num = positive(&p, "bin_num")?;
        if bin_num < 2 {
            return Err(Error::param(
                "bin_num",
                format!("expected at least 2 bins, found {bin_num}"),
            ));
        }
        let compress_thres = positive(&p, "compress_thres")?;
        let head_size = positive(&p, "head_size")?;
        let error = p.get_float("error")?;
        if !(0.0..1.0).contains(&error) {
            return Err(Error::param(
                "error",
                format!("expected a number in [0, 1), found {error}"),
            ));
        }
        let adjustment_factor = p.get_float("adjustment_factor")?;
        if adjustment_factor.is_nan() || adjustment_factor <= 0.0 || adjustment_factor >= 1.0 {
            return Err(Error::param(
                "adjustment_factor",
                format!("expected a number in the open interval (0, 1), found {adjustment_factor}"),
            ));
        }
        let bin_indexes = indexes(&p, "bin_indexes")?.unwrap_or(Indexes::All);
        let bin_names = names(&p, "bin_names")?;
        let category_indexes = indexes(&p, "category_indexes")?;
        let category_names = names(&p, "category_names")?;
        let local_only = p.get_bool("local_only")?;
        let skip_static = p.get_bool("skip_static")?;

        let ep = p.object_or_empty("encrypt_param")?;
        let encrypt_method = ep.get_str("method")?;
        if !encrypt_method.eq_ignore_ascii_case("paillier") {
            return Err(Error::Unsupported {
                parameter: "encrypt_param.method".into(),
                value: encrypt_method.into(),
                supported: "Paillier".into(),
            });
        }
        let bits = ep.get_int("key_length")?;
        let supported = fateflow_crypto::paillier::SUPPORTED_KEY_SIZES;
        let key_length = match u32::try_from(bits) {
            Ok(b) if supported.contains(&b) => b,
            _ => {
                return Err(Error::param(
                    "encrypt_param.key_length",
                    format!("expected one of {supported:?} bits, found {bits}"),
                ))
            }
        };

        let optimal = optimal_param(
            &p.object_or_empty("optimal_binning_param")?,
            bin_num,
            adjustment_factor,
        )?;
        if skip_static && method == Method::Optimal {
            return Err(Error::param(
                "skip_static",
                "optimal binning needs the label statistics that skip_static turns off",
            ));
        }
        let transform = transform_param(&p.object_or_empty("transform_param")?)?;
        if skip_static && transform.kind == Some(TransformType::Woe) {
            return Err(Error::param(
                "transform_param.transform_type",
                "`woe` needs the statistics that skip_static turns off",
            ));
        }
        let split_points_by_index = manual_split_points(&p, "split_points_by_index")?
            .into_iter()
            .map(|(k, v)| {
                k.trim().parse::<usize>().map(|i| (i, v)).map_err(|_| {
                    Error::param(
                        "split_points_by_index",
                        format!("key `{k}` is not a column index (an integer from 0)"),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let split_points_by_col_name = manual_split_points(&p, "split_points_by_col_name")?;
        Ok(BinningParam {
            method,
            bin_num,
            compress_thres,
            head_size,
            error,
            bin_indexes,
            bin_names,
            category_indexes,
            category_names,
            adjustment_factor,
            local_only,
            skip_static,
            key_length,
            transform,
            split_points_by_index,
            split_points_by_col_name,
            optimal,
        })
    }

    /// Whether split points are given by the user instead of fitted.
    pub(crate) fn manual(&self) -> bool {
        !self.split_points_by_index.is_empty() || !self.split_points_by_col_name.is_empty()
    }
}

fn positive(p: &Params<'_>, name: &str) -> Result<usize> {
    let v = p.get_int(name)?;
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| Error::param(name, format!("expected a positive integer, found {v}")))
}

/// `-1` or a list of non-negative integers; `None` when missing or `null`.
fn indexes(p: &Params<'_>, name: &str) -> Result<Option<Indexes>> {
    match p.value(name) {
        None => Ok(None),
        Some(v) if v.as_i64() == Some(-1) => Ok(Some(Indexes::All)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| {
                        Error::param(
                            p.name(name),
                            format!(
                                "expected column indexes (integers from 0), found {}",
                                describe_value(item)
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()
            .map(|v| Some(Indexes::List(v))),
        Some(v) => Err(Error::param(
            p.name(name),
            format!(
                "expected -1 or a list of column indexes, found {}",
                describe_value(v)
            ),
        )),
    }
}

/// A list of column names (empty when missing or `null`).
fn names(p: &Params<'_>, name: &str) -> Result<Vec<String>> {
    match p.list(name)? {
        None => Ok(Vec::new()),
        Some(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(Error::param(
                    p.name(name),
                    format!("expected column names, found {}", describe_value(other)),
                )),
            })
            .collect(),
    }
}

fn transform_param(p: &Params<'_>) -> Result<TransformParam> {
    let prefixed = |n: &str| format!("transform_param.{n}");
    // An explicit `null` is FATE's `None` here, not "the default".
    let cols = match p.raw("transform_cols") {
        None => Indexes::All,
        Some(Value::Null) => Indexes::List(Vec::new()),
        Some(_) => indexes(p, "transform_cols")
            .map_err(|e| rename(e, &prefixed("transform_cols")))?
            .unwrap_or(Indexes::All),
    };
    let names = names(p, "transform_names").map_err(|e| rename(e, &prefixed("transform_names")))?;
    let kind = match p.raw("transform_type") {
        Some(Value::Null) => None,
        None | Some(Value::String(_)) => {
            let s = p
                .get_str("transform_type")
                .map_err(|e| rename(e, &prefixed("transform_type")))?;
            Some(TransformType::from_name(s).ok_or_else(|| {
                Error::param(
                    prefixed("transform_type"),
                    format!("`{s}` is not one of bin_num, woe, null (no transform)"),
                )
            })?)
        }
        Some(v) => {
            return Err(Error::param(
                prefixed("transform_type"),
                format!(
                    "expected \"bin_num\", \"woe\" or null, found {}",
                    describe_value(v)
                ),
            ))
        }
    };
    Ok(TransformParam { cols, names, kind })
}

/// Gives an error of a nested parameter its full dotted name.
fn rename(e: Error, full: &str) -> Error {
    match e {
        Error::InvalidParameter { reason, .. } => Error::InvalidParameter {
            parameter: full.into(),
            reason,
        },
        other => other,
    }
}

/// `{key: [split points]}`; empty when missing or `null`.
fn manual_split_points(p: &Params<'_>, name: &str) -> Result<BTreeMap<String, Vec<f64>>> {
    let Some(v) = p.value(name) else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(map) = v else {
        return Err(Error::param(
            name,
            format!(
                "expected an object of split point lists, found {}",
                describe_value(v)
            ),
        ));
    };
    map.iter()
        .map(|(k, v)| {
            let field = format!("{name}.{k}");
            let Value::Array(items) = v else {
                return Err(Error::param(
                    field,
                    format!(
                        "expected a list of split points, found {}",
                        describe_value(v)
                    ),
                ));
            };
            let points = items
                .iter()
                .map(|item| number(&field, item))
                .collect::<Result<Vec<f64>>>()?;
            if points.is_empty() {
                return Err(Error::param(field, "expected at least one split point"));
            }
            if let Some(x) = points.iter().find(|x| !x.is_finite()) {
                return Err(Error::param(
                    field,
                    format!("split points must be finite, found {x}"),
                ));
            }
            if let Some(w) = points.windows(2).find(|w| w[0] >= w[1]) {
                return Err(Error::param(
                    field,
                    format!(
                        "split points must be strictly increasing; {} is followed by {}",
                        w[0], w[1]
                    ),
                ));
            }
            Ok((k.clone(), points))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<BinningParam> {
        BinningParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.method, Method::Quantile);
        assert_eq!(p.bin_num, 10);
        assert_eq!((p.compress_thres, p.head_size), (10_000, 10_000));
        assert_eq!(p.error, 1e-4);
        assert_eq!(p.bin_indexes, Indexes::All);
        assert_eq!(p.category_indexes, None);
        assert_eq!(p.adjustment_factor, 0.5);
        assert!(!p.local_only && !p.skip_static);
        assert_eq!(p.key_length, 2048);
        assert_eq!(
            p.transform,
            TransformParam {
                cols: Indexes::All,
                names: vec![],
                kind: Some(TransformType::BinNum)
            }
        );
        assert!(!p.manual());
        assert_eq!(
            p.optimal,
            OptimalParam {
                metric: OptimalMetric::Iv,
                init_bucket_method: InitBucketMethod::Quantile,
                init_bin_nums: 1000,
                mixture: true,
                max_bin_pct: 1.0,
                min_bin_pct: 0.05,
            }
        );
        let p = parse(json!({"method": "Optimal", "optimal_binning_param": {
            "metric_method": "chi-square", "init_bucket_method": "bucket", "max_bin": 10}}))
        .unwrap();
        assert_eq!(p.method, Method::Optimal);
        assert_eq!(p.optimal.metric, OptimalMetric::ChiSquare);
        assert_eq!(p.optimal.init_bucket_method, InitBucketMethod::Bucket);
        assert!(check_max_bin_pct(0.1, 10, "x").is_ok());
        assert!(check_max_bin_pct(0.09, 10, "x").is_err());
        assert!(check_max_bin_pct(0.0, 10, "x").is_err());
    }

    #[test]
    fn explicit_nulls_in_transform_param_mean_none() {
        let p = parse(json!({"transform_param": {"transform_type": null, "transform_cols": null}}))
            .unwrap();
        assert_eq!(p.transform.kind, None);
        assert_eq!(p.transform.cols, Indexes::List(vec![]));
        let p = parse(json!({"transform_param": {"transform_type": "woe"}})).unwrap();
        assert_eq!(p.transform.kind, Some(TransformType::Woe));
        assert_eq!(p.transform.cols, Indexes::All);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                json!({"method": "optimal", "skip_static": true}),
                "invalid parameter `skip_static`",
            ),
            (
                json!({"optimal_binning_param": {"metric_method": "auc"}}),
                "invalid parameter `optimal_binning_param.metric_method`",
            ),
            (
                json!({"optimal_binning_param": {"init_bucket_method": "x"}}),
                "invalid parameter `optimal_binning_param.init_bucket_method`",
            ),
            (
                json!({"optimal_binning_param": {"init_bin_nums": 0}}),
                "invalid parameter `optimal_binning_param.init_bin_nums`",
            ),
            (
                json!({"optimal_binning_param": {"max_bin_pct": 1.5}}),
                "invalid parameter `optimal_binning_param.max_bin_pct`",
            ),
            (
                json!({"optimal_binning_param": {"min_bin_pct": 0.5, "max_bin_pct": 0.4}}),
                "invalid parameter `optimal_binning_param.min_bin_pct`",
            ),
            (
                json!({"optimal_binning_param": {"max_bin": 4}}),
                "invalid parameter `optimal_binning_param.max_bin`",
            ),
            (
                json!({"optimal_binning_param": {"adjustment_factor": 0.1}}),
                "invalid parameter `optimal_binning_param.adjustment_factor`",
            ),
            (json!({"method": "median"}), "invalid parameter `method`"),
            (
                json!({"bin_num": 1}),
                "invalid parameter `bin_num`: expected at least 2",
            ),
            (
                json!({"bin_num": 0}),
                "invalid parameter `bin_num`: expected a positive",
            ),
            (json!({"error": 1.5}), "invalid parameter `error`"),
            (
                json!({"adjustment_factor": 1}),
                "invalid parameter `adjustment_factor`",
            ),
            (
                json!({"bin_indexes": [0, -2]}),
                "invalid parameter `bin_indexes`",
            ),
            (json!({"bin_names": [1]}), "invalid parameter `bin_names`"),
            (
                json!({"encrypt_param": {"key_length": 100}}),
                "invalid parameter `encrypt_param.key_length`",
            ),
            (
                json!({"encrypt_param": {"method": "rsa"}}),
                "parameter `encrypt_param.method`",
            ),
            (
                json!({"transform_param": {"transform_type": "onehot"}}),
                "invalid parameter `transform_param.transform_type`",
            ),
            (
                json!({"transform_param": {"transform_cols": "x"}}),
                "invalid parameter `transform_param.transform_cols`",
            ),
            (
                json!({"skip_static": true, "transform_param": {"transform_type": "woe"}}),
                "invalid parameter `transform_param.transform_type`",
            ),
            (
                json!({"split_points_by_col_name": {"x0": [2, 1]}}),
                "invalid parameter `split_points_by_col_name.x0`",
            ),
            (
                json!({"split_points_by_index": {"a": [1]}}),
                "invalid parameter `split_points_by_index`",
            ),
        ];
        for (params, expected) in cases {
            let e = parse(params.clone()).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{params}: {e}");
        }
    }

    #[test]
    fn manual_split_points_parse() {
        let p = parse(json!({
            "split_points_by_index": {"1": [0.5, 1]},
            "split_points_by_col_name": {"x0": ["1", 2.5]}
        }))
        .unwrap();
        assert!(p.manual());
        assert_eq!(p.split_points_by_index[&1], vec![0.5, 1.0]);
        assert_eq!(p.split_points_by_col_name["x0"], vec![1.0, 2.5]);
    }
}

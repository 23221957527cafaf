//! `DataStatistics` parameters: FATE 1.x `StatisticsParam`, with its defaults.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, IntOrList, List, Number};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};

const DATA_STATISTICS_PARAMS: &[Param] = &[
    param("statistics", Any, "\"summary\"", true),
    param("column_names", List, "[]", true),
    param("column_indexes", IntOrList, "-1", true),
    param("abnormal_list", List, "[]", true),
    param("quantile_error", Number, "0.0001", true),
    param("bias", Bool, "true", true),
    param("need_run", Bool, "true", true),
];

/// `DataStatistics`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "DataStatistics",
    params: &[DATA_STATISTICS_PARAMS],
    conditions: &[],
    supported: &[],
};

/// One of FATE's per-column statistics: what `DataStatistics` computes and the local
/// filters of `HeteroFeatureSelection` judge by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Metric {
    Count,
    Sum,
    Mean,
    Stddev,
    Median,
    Min,
    Max,
    Variance,
    CoefficientOfVariance,
    MissingCount,
    MissingRatio,
    Skewness,
    Kurtosis,
    /// The quantile at this fraction (`95%` → 0.95).
    Quantile(f64),
    /// `max − min` (`unique_value`).
    Range,
}

/// FATE's names of the non-percentile statistics (`LEGAL_STAT`).
const NAMED: &[(&str, Metric)] = &[
    ("count", Metric::Count),
    ("sum", Metric::Sum),
    ("mean", Metric::Mean),
    ("stddev", Metric::Stddev),
    ("median", Metric::Median),
    ("min", Metric::Min),
    ("max", Metric::Max),
    ("variance", Metric::Variance),
    ("coefficient_of_variance", Metric::CoefficientOfVariance),
    ("missing_count", Metric::MissingCount),
    ("missing_ratio", Metric::MissingRatio),
    ("skewness", Metric::Skewness),
    ("kurtosis", Metric::Kurtosis),
];

/// What every run computes, whatever `statistics` says (FATE's `BASIC_STAT`, in order).
const BASIC: &[&str] = &[
    "sum",
    "mean",
    "stddev",
    "median",
    "min",
    "max",
    "missing_ratio",
    "missing_count",
    "skewness",
    "kurtosis",
    "coefficient_of_variance",
];

impl Metric {
    /// Parses a `DataStatistics` statistic name as FATE's `StatisticsParam` takes it:
    /// one of FATE's names, exactly, or a percentile `"0%"`..`"100%"`.
    pub(crate) fn from_statistic_name(name: &str) -> Option<Metric> {
        if let Some((_, s)) = NAMED.iter().find(|(n, _)| *n == name) {
            return Some(*s);
        }
        let digits = name.strip_suffix('%')?;
        if digits.is_empty()
            || digits.len() > 3
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        let p: u16 = digits.parse().ok()?;
        (p <= 100).then(|| Metric::Quantile(f64::from(p) / 100.0))
    }

    /// Quantile statistics come from the quantile summary, after the others (as in FATE).
    pub(crate) fn is_quantile(self) -> bool {
        matches!(self, Metric::Quantile(_))
    }
}

/// Every `DataStatistics` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatisticsParam {
    /// The statistics in FATE's order: the basic set, then the extra names given, each
    /// once, as written (`"95%"`).
    pub(crate) statistics: Vec<(String, Metric)>,
    /// `None` for `-1`: every feature column.
    pub(crate) column_indexes: Option<Vec<usize>>,
    pub(crate) column_names: Vec<String>,
    /// Numbers counted as missing besides NaN. Strings can never equal a value of a
    /// numeric table, so they are accepted and have no effect, as in FATE.
    pub(crate) abnormal: Vec<f64>,
    pub(crate) quantile_error: f64,
    pub(crate) bias: bool,
}

impl StatisticsParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let mut names: Vec<String> = BASIC.iter().map(|s| s.to_string()).collect();
        let given: Vec<&Value> = match p.value("statistics") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
        };
        let single = !matches!(p.value("statistics"), Some(Value::Array(_)));
        for v in given {
            let name = v.as_str().ok_or_else(|| {
                Error::param(
                    "statistics",
                    format!("expected statistic names, found {}", describe_value(v)),
                )
            })?;
            // "summary" alone means the basic set; inside a list FATE refuses it.
            if single && name == "summary" {
                continue;
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        let statistics = names
            .into_iter()
            .map(|name| match Metric::from_statistic_name(&name) {
                Some(s) => Ok((name, s)),
                None => Err(Error::param(
                    "statistics",
                    format!(
                        "`{name}` is not a statistic (expected \"summary\", one of {} or a \
                         percentile from \"0%\" to \"100%\")",
                        NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        // Absent: every column; `null` (FATE's None): only the named ones.
        let column_indexes = match p.raw("column_indexes") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(v) if v.as_i64() == Some(-1) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_u64()
                            .and_then(|i| usize::try_from(i).ok())
                            .ok_or_else(|| {
                                Error::param(
                                    "column_indexes",
                                    format!(
                                        "expected column indexes (integers from 0), found {}",
                                        describe_value(item)
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(v) => {
                return Err(Error::param(
                    "column_indexes",
                    format!(
                        "expected -1 or a list of column indexes, found {}",
                        describe_value(v)
                    ),
                ))
            }
        };
        let column_names = match p.list("column_names")? {
            None => Vec::new(),
            Some(items) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::param(
                            "column_names",
                            format!("expected column names, found {}", describe_value(item)),
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        let mut abnormal = Vec::new();
        for item in p.list("abnormal_list")?.into_iter().flatten() {
            match item {
                Value::String(_) | Value::Null => {}
                v => abnormal.push(number("abnormal_list", v)?),
            }
        }
        let quantile_error = p.get_float("quantile_error")?;
        if !(quantile_error > 0.0 && quantile_error < 1.0) {
            return Err(Error::param(
                "quantile_error",
                format!("expected a number between 0 and 1 (exclusive), found {quantile_error}"),
            ));
        }
        Ok(StatisticsParam {
            statistics,
            column_indexes,
            column_names,
            abnormal,
            quantile_error,
            bias: p.get_bool("bias")?,
        })
    }

    /// The feature columns to describe, as indexes into `header`, in FATE's order: every
    /// column for `column_indexes: -1`, else the indexes given, then the names given,
    /// each column once. An index or name outside the header is skipped, as FATE skips
    /// it (one `common` conf often names columns of one party only); the second list
    /// says which, for the log.
    pub(crate) fn selected(&self, header: &[String]) -> (Vec<usize>, Vec<String>) {
        let Some(indexes) = &self.column_indexes else {
            return ((0..header.len()).collect(), Vec::new());
        };
        let mut out: Vec<usize> = Vec::new();
        let mut skipped = Vec::new();
        for &i in indexes {
            if i >= header.len() {
                skipped.push(format!("column_indexes {i}"));
            } else if !out.contains(&i) {
                out.push(i);
            }
        }
        for name in &self.column_names {
            match header.iter().position(|h| h == name) {
                None => skipped.push(format!("column_names `{name}`")),
                Some(i) if !out.contains(&i) => out.push(i),
                Some(_) => {}
            }
        }
        (out, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<StatisticsParam> {
        StatisticsParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn the_basic_set_always_comes_first() {
        let p = parse(json!({"statistics": ["95%", "coefficient_of_variance", "count"]})).unwrap();
        let names: Vec<&str> = p.statistics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..BASIC.len()], BASIC);
        assert_eq!(&names[BASIC.len()..], ["95%", "count"]);
        assert_eq!(p.statistics[BASIC.len()].1, Metric::Quantile(0.95));
        let d = parse(json!({})).unwrap();
        assert_eq!(d.statistics.len(), BASIC.len());
        assert_eq!(
            parse(json!({"statistics": "variance"}))
                .unwrap()
                .statistics
                .len(),
            12
        );
    }

    #[test]
    fn bad_names_are_refused_naming_them() {
        for bad in ["99.5%", "101%", "median2", "05%", "%"] {
            let e = parse(json!({"statistics": [bad]})).unwrap_err().to_string();
            assert!(e.contains("statistics") && e.contains(bad), "{e}");
        }
        assert!(parse(json!({"statistics": ["summary"]})).is_err());
        assert!(parse(json!({"quantile_error": 1.5})).is_err());
    }

    #[test]
    fn indexes_and_names_are_unioned_in_order() {
        let header: Vec<String> = ["x0", "x1", "x2", "x3"].map(String::from).to_vec();
        let p = parse(json!({"column_indexes": [2, 1], "column_names": ["x3", "x1"]})).unwrap();
        assert_eq!(p.selected(&header).0, [2, 1, 3]);
        let all = parse(json!({"column_names": ["x3"]})).unwrap();
        assert_eq!(all.selected(&header).0, [0, 1, 2, 3]);
        let (cols, skipped) = parse(json!({"column_indexes": [7, 0], "column_names": ["y"]}))
            .unwrap()
            .selected(&header);
        assert_eq!(cols, [0]);
        assert_eq!(skipped, ["column_indexes 7", "column_names `y`"]);
    }
}

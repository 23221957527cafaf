//! `FeatureScale` parameters: FATE 1.x `ScaleParam`, with its defaults.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, IntOrList, List, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};

/// FATE 1.11's `FeatureScale` parameters.
const FEATURE_SCALE_PARAMS: &[Param] = &[
    param("scale_names", List, "[]", true),
    param("method", Str, "\"standard_scale\"", true),
    param("mode", Str, "\"normal\"", true),
    param("feat_upper", Any, "null", true),
    param("feat_lower", Any, "null", true),
    param("scale_col_indexes", IntOrList, "-1", true),
    param("with_mean", Bool, "true", true),
    param("with_std", Bool, "true", true),
    param("need_run", Bool, "true", true),
];

const FEATURE_SCALE_SUPPORTED: &[(&str, &[&str])] = &[
    (
        "method",
        &["standard_scale", "min_max_scale", "standard", "min_max"],
    ),
    ("mode", &["normal", "cap"]),
];

/// `FeatureScale`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "FeatureScale",
    params: &[FEATURE_SCALE_PARAMS],
    conditions: &[],
    supported: FEATURE_SCALE_SUPPORTED,
};

/// `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    MinMax,
    Standard,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::MinMax => "min_max_scale",
            Method::Standard => "standard_scale",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Method> {
        match name {
            "min_max_scale" | "min_max" => Some(Method::MinMax),
            "standard_scale" | "standard" => Some(Method::Standard),
            _ => None,
        }
    }
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Bounds are values.
    Normal,
    /// Bounds are quantiles of the column.
    Cap,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Cap => "cap",
        }
    }
}

/// `feat_upper` / `feat_lower`: one number for every column, or one per feature column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Scalar(f64),
    PerColumn(Vec<f64>),
}

impl Bound {
    fn parse(parameter: &str, v: Option<&Value>) -> Result<Option<Bound>> {
        match v {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| number(parameter, item))
                .collect::<Result<_>>()
                .map(|v| Some(Bound::PerColumn(v))),
            Some(v) => number(parameter, v).map(|v| Some(Bound::Scalar(v))),
        }
    }

    /// The bound of feature `index` of `header`. A per-column list must have one value per
    /// feature column.
    pub(crate) fn at(&self, parameter: &str, header: &[String], index: usize) -> Result<f64> {
        match self {
            Bound::Scalar(v) => Ok(*v),
            Bound::PerColumn(values) if values.len() == header.len() => Ok(values[index]),
            Bound::PerColumn(values) => Err(Error::param(
                parameter,
                format!(
                    "{} values given, but the data has {} feature columns ({})",
                    values.len(),
                    header.len(),
                    header.join(", ")
                ),
            )),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Bound::Scalar(v) => Value::from(*v),
            Bound::PerColumn(values) => Value::from(values.clone()),
        }
    }
}

/// Every `FeatureScale` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScaleParam {
    pub(crate) method: Method,
    pub(crate) mode: Mode,
    /// `None` for `-1`: every feature column.
    pub(crate) scale_col_indexes: Option<Vec<usize>>,
    pub(crate) scale_names: Vec<String>,
    /// In `cap` mode: the upper quantile, defaulted to 1.
    pub(crate) feat_upper: Option<Bound>,
    /// In `cap` mode: the lower quantile, defaulted to 0.
    pub(crate) feat_lower: Option<Bound>,
    pub(crate) with_mean: bool,
    pub(crate) with_std: bool,
}

impl ScaleParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let method = Method::from_name(p.get_choice(
            "method",
            &["standard_scale", "min_max_scale", "standard", "min_max"],
        )?)
        .unwrap_or(Method::Standard);
        let mode = match p.get_choice("mode", &["normal", "cap"])? {
            "cap" => Mode::Cap,
            _ => Mode::Normal,
        };
        let scale_col_indexes = match p.value("scale_col_indexes") {
            None => None,
            Some(v) if v.as_i64() == Some(-1) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_u64()
                            .and_then(|i| usize::try_from(i).ok())
                            .ok_or_else(|| {
                                Error::param(
                                    "scale_col_indexes",
                                    format!(
                                        "expected column indexes (integers from 0), found {}",
                                        fateflow_domain::module::describe_value(item)
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(v) => {
                return Err(Error::param(
                    "scale_col_indexes",
                    format!(
                        "expected -1 or a list of column indexes, found {}",
                        fateflow_domain::module::describe_value(v)
                    ),
                ))
            }
        };
        let scale_names = match p.list("scale_names")? {
            None => Vec::new(),
            Some(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(Error::param(
                        "scale_names",
                        format!(
                            "expected column names, found {}",
                            fateflow_domain::module::describe_value(other)
                        ),
                    )),
                })
                .collect::<Result<_>>()?,
        };
        let mut feat_upper = Bound::parse("feat_upper", p.value("feat_upper"))?;
        let mut feat_lower = Bound::parse("feat_lower", p.value("feat_lower"))?;
        if mode == Mode::Cap {
            let quantile = |name: &str, bound: Option<Bound>, default: f64| match bound {
                None => Ok(default),
                Some(Bound::Scalar(q)) if (0.0..=1.0).contains(&q) => Ok(q),
                Some(Bound::Scalar(q)) => Err(Error::param(
                    name,
                    format!("in mode `cap` this is a quantile between 0 and 1, found {q}"),
                )),
                Some(Bound::PerColumn(_)) => Err(Error::param(
                    name,
                    "in mode `cap` this is one quantile between 0 and 1, not a list",
                )),
            };
            let upper = quantile("feat_upper", feat_upper, 1.0)?;
            let lower = quantile("feat_lower", feat_lower, 0.0)?;
            if upper < lower {
                return Err(Error::param(
                    "feat_upper",
                    format!("{upper} is below feat_lower {lower}"),
                ));
            }
            feat_upper = Some(Bound::Scalar(upper));
            feat_lower = Some(Bound::Scalar(lower));
        }
        Ok(ScaleParam {
            method,
            mode,
            scale_col_indexes,
            scale_names,
            feat_upper,
            feat_lower,
            with_mean: p.get_bool("with_mean")?,
            with_std: p.get_bool("with_std")?,
        })
    }

    /// The scaled feature indexes, sorted: every feature with `scale_col_indexes` -1
    /// (then `scale_names` is ignored, as in FATE), else the union of the listed indexes
    /// and the columns named in `scale_names`.
    pub(crate) fn selected(&self, header: &[String]) -> Result<Vec<usize>> {
        let Some(indexes) = &self.scale_col_indexes else {
            return Ok((0..header.len()).collect());
        };
        let mut selected = Vec::with_capacity(indexes.len() + self.scale_names.len());
        for &i in indexes {
            if i >= header.len() {
                return Err(Error::param(
                    "scale_col_indexes",
                    format!(
                        "index {i} is out of range: the data has {} feature columns ({})",
                        header.len(),
                        header.join(", ")
                    ),
                ));
            }
            selected.push(i);
        }
        for name in &self.scale_names {
            let i = header.iter().position(|c| c == name).ok_or_else(|| {
                Error::param(
                    "scale_names",
                    format!(
                        "`{name}` is not a feature column (features: {})",
                        header.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ScaleParam> {
        ScaleParam::parse(v.as_object().unwrap())
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.method, Method::Standard);
        assert_eq!(p.mode, Mode::Normal);
        assert_eq!(p.scale_col_indexes, None);
        assert!(p.scale_names.is_empty());
        assert_eq!((p.feat_upper, p.feat_lower), (None, None));
        assert!(p.with_mean && p.with_std);
    }

    #[test]
    fn fate_two_method_names() {
        assert_eq!(
            parse(json!({"method": "min_max"})).unwrap().method,
            Method::MinMax
        );
        assert_eq!(
            parse(json!({"method": "Standard"})).unwrap().method,
            Method::Standard
        );
        let e = parse(json!({"method": "robust"})).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid parameter `method`"),
            "{e}"
        );
    }

    #[test]
    fn column_selection() {
        let header = names(&["a", "b", "c", "d"]);
        let p = parse(json!({"scale_col_indexes": -1, "scale_names": ["b"]})).unwrap();
        assert_eq!(p.selected(&header).unwrap(), [0, 1, 2, 3]);
        let p = parse(json!({"scale_col_indexes": [3, 0], "scale_names": ["b", "d"]})).unwrap();
        assert_eq!(p.selected(&header).unwrap(), [0, 1, 3]);
        let p = parse(json!({"scale_col_indexes": [], "scale_names": ["c"]})).unwrap();
        assert_eq!(p.selected(&header).unwrap(), [2]);
        let e = parse(json!({"scale_col_indexes": [4]}))
            .unwrap()
            .selected(&header)
            .unwrap_err();
        assert!(
            e.to_string().contains("`scale_col_indexes`: index 4"),
            "{e}"
        );
        let e = parse(json!({"scale_col_indexes": [], "scale_names": ["z"]}))
            .unwrap()
            .selected(&header)
            .unwrap_err();
        assert!(e.to_string().contains("`scale_names`: `z`"), "{e}");
        assert!(parse(json!({"scale_col_indexes": [-2]})).is_err());
        assert!(parse(json!({"scale_col_indexes": 3})).is_err());
    }

    #[test]
    fn cap_bounds_are_quantiles() {
        let p = parse(json!({"mode": "cap"})).unwrap();
        assert_eq!(p.feat_upper, Some(Bound::Scalar(1.0)));
        assert_eq!(p.feat_lower, Some(Bound::Scalar(0.0)));
        assert!(parse(json!({"mode": "cap", "feat_upper": 2})).is_err());
        assert!(parse(json!({"mode": "cap", "feat_upper": [0.5]})).is_err());
        let e = parse(json!({"mode": "cap", "feat_upper": 0.2, "feat_lower": 0.3})).unwrap_err();
        assert!(e.to_string().contains("`feat_upper`"), "{e}");
    }

    #[test]
    fn bounds_per_column_must_match_the_header() {
        let p = parse(json!({"feat_upper": [1, "2"], "feat_lower": -1})).unwrap();
        let header = names(&["a", "b"]);
        let upper = p.feat_upper.unwrap();
        assert_eq!(upper.at("feat_upper", &header, 1).unwrap(), 2.0);
        assert_eq!(
            p.feat_lower.unwrap().at("feat_lower", &header, 1).unwrap(),
            -1.0
        );
        let e = upper
            .at("feat_upper", &names(&["a", "b", "c"]), 0)
            .unwrap_err();
        assert!(e.to_string().contains("2 values given"), "{e}");
    }
}

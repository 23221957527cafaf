//! `FeatureImputation` parameters: FATE 1.x `FeatureImputationParam`, with its defaults.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, List, Object, Str};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};

const FEATURE_IMPUTATION_PARAMS: &[Param] = &[
    param("default_value", Any, "0", true),
    param("missing_fill_method", Str, "null", true),
    param("col_missing_fill_method", Object, "null", true),
    param("missing_impute", List, "null", true),
    param("need_run", Bool, "true", true),
];

/// `FeatureImputation`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "FeatureImputation",
    params: &[FEATURE_IMPUTATION_PARAMS],
    conditions: &[],
    supported: &[("missing_fill_method", METHODS)],
};

/// FATE 1.11's methods, and `median`, which FATE's imputer has but its parameter check
/// does not let through.
const METHODS: &[&str] = &["min", "max", "mean", "median", "designated"];

/// How a column's missing cells are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    Min,
    Max,
    Mean,
    Median,
    Designated,
}

impl Fill {
    fn parse(parameter: &str, v: &Value) -> Result<Fill> {
        let name = v.as_str().ok_or_else(|| {
            Error::param(
                parameter,
                format!(
                    "expected one of {}, found {}",
                    METHODS.join(", "),
                    describe_value(v)
                ),
            )
        })?;
        Ok(match name.to_ascii_lowercase().as_str() {
            "min" => Fill::Min,
            "max" => Fill::Max,
            "mean" => Fill::Mean,
            "median" => Fill::Median,
            "designated" => Fill::Designated,
            _ => {
                return Err(Error::param(
                    parameter,
                    format!(
                        "`{name}` is not a method (expected one of {})",
                        METHODS.join(", ")
                    ),
                ))
            }
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Fill::Min => "min",
            Fill::Max => "max",
            Fill::Mean => "mean",
            Fill::Median => "median",
            Fill::Designated => "designated",
        }
    }

    pub(crate) fn needs_statistics(self) -> bool {
        self != Fill::Designated
    }
}

/// `default_value`: one number for every column, or one per feature column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DefaultValue {
    Scalar(f64),
    PerColumn(Vec<f64>),
}

/// Which cells are missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Missing {
    /// FATE's default list (`''`, `none`, `null`, `na`, `None`, NaN): in a numeric
    /// table, the NaN cells.
    Default,
    /// The values given: the numbers among them, NaN when `"nan"` is listed. Other
    /// strings can never equal a value of a numeric table.
    Given {
        numbers: Vec<f64>,
        nan: bool,
        raw: Vec<Value>,
    },
}

impl Missing {
    pub(crate) fn is_missing(&self, v: f64) -> bool {
        match self {
            Missing::Default => v.is_nan(),
            Missing::Given { numbers, nan, .. } => {
                if v.is_nan() {
                    *nan
                } else {
                    numbers.contains(&v)
                }
            }
        }
    }

    /// The list as FATE records it (`missing_value`) with each entry's Python type name.
    pub(crate) fn listed(&self) -> Vec<(String, &'static str)> {
        match self {
            Missing::Default => vec![
                (String::new(), "str"),
                ("none".into(), "str"),
                ("null".into(), "str"),
                ("na".into(), "str"),
                ("None".into(), "str"),
                ("nan".into(), "float"),
            ],
            Missing::Given { raw, .. } => raw.iter().map(python_str).collect(),
        }
    }

    /// Rebuilds the set from a model's `missing_value` strings and their types.
    pub(crate) fn from_listed(values: &[String], types: &[String]) -> Missing {
        let mut numbers = Vec::new();
        let mut nan = false;
        let mut raw = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let kind = types.get(i).map(String::as_str).unwrap_or("str");
            let numeric = matches!(
                kind,
                "int" | "int64" | "long" | "float" | "float64" | "double"
            );
            match v.parse::<f64>() {
                Ok(x) if numeric && x.is_nan() => {
                    nan = true;
                    raw.push(Value::String("nan".into()));
                }
                Ok(x) if numeric => {
                    numbers.push(x);
                    raw.push(serde_json::json!(x));
                }
                _ => raw.push(Value::String(v.clone())),
            }
        }
        Missing::Given { numbers, nan, raw }
    }
}

/// A JSON value as Python's `str()` writes it, with its type name.
pub(crate) fn python_str(v: &Value) -> (String, &'static str) {
    match v {
        Value::String(s) => (s.clone(), "str"),
        Value::Number(n) if n.is_i64() || n.is_u64() => (n.to_string(), "int"),
        Value::Number(n) => (python_float(n.as_f64().unwrap_or(f64::NAN)), "float"),
        Value::Bool(b) => ((if *b { "True" } else { "False" }).into(), "bool"),
        Value::Null => ("None".into(), "NoneType"),
        other => (other.to_string(), "str"),
    }
}

/// A float as Python's `str()` writes it (`42.0`, `0.5`, `nan`).
pub(crate) fn python_float(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        (if x > 0.0 { "inf" } else { "-inf" }).into()
    } else if x == x.trunc() && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// Every `FeatureImputation` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImputationParam {
    pub(crate) default_value: DefaultValue,
    /// The JSON of `default_value`, for the model's value types.
    pub(crate) default_raw: Value,
    pub(crate) method: Option<Fill>,
    /// `col_missing_fill_method`, in the order given.
    pub(crate) per_column: Vec<(String, Fill)>,
    pub(crate) missing: Missing,
}

impl ImputationParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let default_raw = p.value("default_value").cloned().unwrap_or(Value::from(0));
        let default_value = match &default_raw {
            Value::Array(items) => {
                DefaultValue::PerColumn(items.iter().map(numeric_fill).collect::<Result<_>>()?)
            }
            v => DefaultValue::Scalar(numeric_fill(v)?),
        };
        let method = p
            .value("missing_fill_method")
            .map(|v| Fill::parse("missing_fill_method", v))
            .transpose()?;
        let mut per_column = Vec::new();
        match p.value("col_missing_fill_method") {
            None => {}
            Some(Value::Object(m)) => {
                for (column, v) in m {
                    let key = format!("col_missing_fill_method.{column}");
                    per_column.push((column.clone(), Fill::parse(&key, v)?));
                }
            }
            Some(v) => {
                return Err(Error::param(
                    "col_missing_fill_method",
                    format!(
                        "expected an object of column → method, found {}",
                        describe_value(v)
                    ),
                ))
            }
        }
        let missing = match p.list("missing_impute")? {
            // An empty list is FATE's None too (`if self.missing_impute`).
            None => Missing::Default,
            Some(items) if items.is_empty() => Missing::Default,
            Some(items) => {
                let mut numbers = Vec::new();
                let mut nan = false;
                for v in items {
                    match v {
                        Value::Number(_) => numbers.push(number("missing_impute", v)?),
                        Value::String(s) if s.eq_ignore_ascii_case("nan") => nan = true,
                        _ => {}
                    }
                }
                Missing::Given {
                    numbers,
                    nan,
                    raw: items.clone(),
                }
            }
        };
        Ok(ImputationParam {
            default_value,
            default_raw,
            method,
            per_column,
            missing,
        })
    }

    /// The method of each column of `header` (`None`: not imputed), after checking that
    /// every column named in `col_missing_fill_method` is in the header.
    pub(crate) fn methods(&self, header: &[String]) -> Result<Vec<Option<Fill>>> {
        for (column, _) in &self.per_column {
            if !header.contains(column) {
                return Err(Error::param(
                    format!("col_missing_fill_method.{column}"),
                    format!(
                        "`{column}` is not a feature column (columns: {})",
                        header.join(", ")
                    ),
                ));
            }
        }
        if let DefaultValue::PerColumn(values) = &self.default_value {
            if values.len() != header.len() {
                return Err(Error::param(
                    "default_value",
                    format!(
                        "{} values given, but the data has {} feature columns ({})",
                        values.len(),
                        header.len(),
                        header.join(", ")
                    ),
                ));
            }
        }
        Ok(header
            .iter()
            .map(|h| {
                self.per_column
                    .iter()
                    .find(|(c, _)| c == h)
                    .map(|(_, f)| *f)
                    .or(self.method)
            })
            .collect())
    }

    /// The designated value of feature `index`.
    pub(crate) fn designated(&self, index: usize) -> f64 {
        match &self.default_value {
            DefaultValue::Scalar(v) => *v,
            DefaultValue::PerColumn(values) => values[index],
        }
    }

    /// The Python type name of the designated value of feature `index` (`int`, `float`).
    pub(crate) fn designated_type(&self, index: usize) -> &'static str {
        let v = match &self.default_raw {
            Value::Array(items) => items.get(index),
            v => Some(v),
        };
        v.map_or("float", |v| python_str(v).1)
    }
}

fn numeric_fill(v: &Value) -> Result<f64> {
    match v {
        Value::Number(_) => number("default_value", v),
        other => Err(Error::param(
            "default_value",
            format!(
                "expected a number or a list of numbers (the table's values are numbers), found {}",
                describe_value(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ImputationParam> {
        ImputationParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn without_a_method_nothing_is_imputed() {
        let p = parse(json!({})).unwrap();
        let header: Vec<String> = vec!["a".into(), "b".into()];
        assert_eq!(p.methods(&header).unwrap(), [None, None]);
        assert!(p.missing.is_missing(f64::NAN) && !p.missing.is_missing(0.0));
    }

    #[test]
    fn per_column_methods_override_the_default() {
        let p = parse(json!({
            "missing_fill_method": "MAX",
            "col_missing_fill_method": {"b": "designated"},
            "default_value": 42,
            "missing_impute": [0, "NA"]
        }))
        .unwrap();
        let header: Vec<String> = vec!["a".into(), "b".into()];
        assert_eq!(
            p.methods(&header).unwrap(),
            [Some(Fill::Max), Some(Fill::Designated)]
        );
        assert_eq!(p.designated(1), 42.0);
        assert_eq!(p.designated_type(1), "int");
        assert!(p.missing.is_missing(0.0) && !p.missing.is_missing(f64::NAN));
        let bad = parse(json!({"col_missing_fill_method": {"c": "min"}})).unwrap();
        let e = bad.methods(&header).unwrap_err().to_string();
        assert!(
            e.contains("col_missing_fill_method.c") && e.contains("a, b"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse(json!({"missing_fill_method": "mode"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing_fill_method") && e.contains("mode"),
            "{e}"
        );
        let e = parse(json!({"default_value": "x"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("default_value"), "{e}");
        let p = parse(json!({"default_value": [1, 2, 3], "missing_fill_method": "designated"}))
            .unwrap();
        let e = p.methods(&["a".into()]).unwrap_err().to_string();
        assert!(e.contains("3 values") && e.contains("1 feature"), "{e}");
    }

    #[test]
    fn python_strings() {
        assert_eq!(python_float(42.0), "42.0");
        assert_eq!(python_float(0.25), "0.25");
        assert_eq!(python_str(&json!(42)), ("42".into(), "int"));
    }
}

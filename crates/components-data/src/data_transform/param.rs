//! `DataTransform` parameters: FATE 1.x `DataTransformParam`, with its defaults.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::params::{number, Params};
use fateflow_domain::module::Kind::{Any, Bool, Int, List, Object, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};

/// FATE 1.11's `DataTransform` parameters.
const DATA_TRANSFORM_PARAMS: &[Param] = &[
    param("input_format", Str, "\"dense\"", true),
    param("delimitor", Str, "\",\"", true),
    param("data_type", Str, "\"float64\"", true),
    param("exclusive_data_type", Object, "null", true),
    param("tag_with_value", Bool, "false", true),
    param("tag_value_delimitor", Str, "\":\"", true),
    param("missing_fill", Bool, "false", true),
    param("default_value", Any, "0", true),
    param("missing_fill_method", Str, "null", true),
    param("missing_impute", List, "null", true),
    param("outlier_replace", Bool, "false", true),
    param("outlier_replace_method", Str, "null", true),
    param("outlier_impute", List, "null", true),
    param("outlier_replace_value", Any, "0", true),
    param("with_label", Bool, "false", true),
    param("label_name", Str, "\"y\"", true),
    param("label_type", Str, "\"int\"", true),
    param("output_format", Str, "\"dense\"", true),
    param("need_run", Bool, "true", true),
    param("with_match_id", Bool, "false", true),
    param("match_id_name", Str, "\"\"", true),
    param("match_id_index", Int, "0", true),
];

const DATA_TRANSFORM_SUPPORTED: &[(&str, &[&str])] = &[
    ("input_format", &["dense", "sparse", "svmlight", "tag"]),
    ("output_format", &["dense", "sparse"]),
    ("data_type", &["float64", "float", "double"]),
    ("match_id_index", &["0"]),
];

/// `DataTransform`'s parameter schema: what submit-time validation checks and this component reads.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: "DataTransform",
    params: &[DATA_TRANSFORM_PARAMS],
    conditions: &[],
    supported: DATA_TRANSFORM_SUPPORTED,
};

/// The strings FATE's imputer treats as missing when `missing_impute` is not given.
/// Kept in the model meta for compatibility; in our tables every one of them reads as NaN.
pub(crate) const DEFAULT_MISSING_VALUES: [&str; 6] = ["", "none", "null", "na", "None", "nan"];

/// A value that marks a cell as missing or as an outlier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Marker {
    /// A missing cell: stored as NaN. Textual markers (`"NA"`, `""`, `"null"`, ...) mean
    /// this, since the tables hold numbers only.
    Nan,
    /// A specific number (`-999`).
    Value(f64),
}

impl Marker {
    pub(crate) fn matches(self, v: f64) -> bool {
        match self {
            Marker::Nan => v.is_nan(),
            Marker::Value(m) => v == m,
        }
    }

    /// Reads one marker: numbers and numeric strings are values, any other string
    /// (and `"nan"`) is a missing cell.
    pub(crate) fn parse(parameter: &str, v: &Value) -> Result<Marker> {
        match v {
            Value::String(s) => Ok(match s.trim().parse::<f64>() {
                Ok(x) if !x.is_nan() => Marker::Value(x),
                _ => Marker::Nan,
            }),
            Value::Number(_) => number(parameter, v).map(Marker::Value),
            Value::Null => Ok(Marker::Nan),
            other => Err(Error::param(
                parameter,
                format!(
                    "expected numbers or strings, found {}",
                    fateflow_domain::module::describe_value(other)
                ),
            )),
        }
    }

    pub(crate) fn parse_list(parameter: &str, items: &[Value]) -> Result<Vec<Marker>> {
        items.iter().map(|v| Marker::parse(parameter, v)).collect()
    }
}

/// How replacement values are chosen (`missing_fill_method`, `outlier_replace_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplaceMethod {
    Min,
    Max,
    Mean,
    Designated,
}

impl ReplaceMethod {
    pub(crate) const NAMES: [&'static str; 4] = ["min", "max", "mean", "designated"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "min" => Some(ReplaceMethod::Min),
            "max" => Some(ReplaceMethod::Max),
            "mean" => Some(ReplaceMethod::Mean),
            "designated" => Some(ReplaceMethod::Designated),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReplaceMethod::Min => "min",
            ReplaceMethod::Max => "max",
            ReplaceMethod::Mean => "mean",
            ReplaceMethod::Designated => "designated",
        }
    }
}

/// `default_value` / `outlier_replace_value`: one number for every column, or one per
/// feature column in header order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FillValue {
    Scalar(f64),
    PerColumn(Vec<f64>),
}

impl FillValue {
    fn parse(parameter: &str, v: Option<&Value>) -> Result<FillValue> {
        match v {
            None => Ok(FillValue::Scalar(0.0)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| number(parameter, item))
                .collect::<Result<_>>()
                .map(FillValue::PerColumn),
            Some(v) => number(parameter, v).map(FillValue::Scalar),
        }
    }

    /// One value per feature column.
    pub(crate) fn per_column(&self, parameter: &str, header: &[String]) -> Result<Vec<f64>> {
        match self {
            FillValue::Scalar(v) => Ok(vec![*v; header.len()]),
            FillValue::PerColumn(values) if values.len() == header.len() => Ok(values.clone()),
            FillValue::PerColumn(values) => Err(Error::param(
                parameter,
                format!(
                    "{} values given, but the header has {} feature columns ({})",
                    values.len(),
                    header.len(),
                    header.join(", ")
                ),
            )),
        }
    }
}

/// The missing-fill or outlier-replace settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Replacement {
    /// `missing_fill` / `outlier_replace`.
    pub(crate) enabled: bool,
    /// `None` means: use the given value(s).
    pub(crate) method: Option<ReplaceMethod>,
    /// `missing_impute` / `outlier_impute` as given (kept for the model meta).
    pub(crate) markers_given: Option<Vec<Value>>,
    /// The markers in effect.
    pub(crate) markers: Vec<Marker>,
    /// `default_value` / `outlier_replace_value`.
    pub(crate) value: FillValue,
}

/// How labels are cast (`label_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelKind {
    /// `int`, `int64`, `long`: the value must be integral.
    Int,
    /// `float`, `float64`, `double`.
    Float,
    /// `str`: kept as stored (the tables hold numbers).
    Str,
}

impl LabelKind {
    pub(crate) const NAMES: [&'static str; 7] =
        ["int", "int64", "long", "float", "float64", "double", "str"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "int" | "int64" | "long" => Some(LabelKind::Int),
            "float" | "float64" | "double" => Some(LabelKind::Float),
            "str" => Some(LabelKind::Str),
            _ => None,
        }
    }
}

/// Every `DataTransform` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataTransformParam {
    pub(crate) input_format: &'static str,
    pub(crate) delimitor: String,
    pub(crate) data_type: &'static str,
    pub(crate) tag_with_value: bool,
    pub(crate) tag_value_delimitor: String,
    pub(crate) missing: Replacement,
    pub(crate) outlier: Replacement,
    pub(crate) with_label: bool,
    pub(crate) label_name: String,
    pub(crate) label_type: &'static str,
    pub(crate) output_format: &'static str,
    pub(crate) with_match_id: bool,
    pub(crate) match_id_name: String,
    pub(crate) match_id_index: i64,
}

impl DataTransformParam {
    pub(crate) fn parse(map: &serde_json::Map<String, Value>) -> Result<Self> {
        let p = Params::new(map);

        let input_format = p
            .choice(
                "input_format",
                Some("dense"),
                &["dense", "sparse", "svmlight", "tag"],
            )?
            .unwrap_or("dense");
        let output_format = p
            .choice("output_format", Some("dense"), &["dense", "sparse"])?
            .unwrap_or("dense");
        let data_type = p
            .choice(
                "data_type",
                Some("float64"),
                &["float64", "float", "double", "int", "int64", "long", "str"],
            )?
            .unwrap_or("float64");
        if !matches!(data_type, "float64" | "float" | "double") {
            return Err(unsupported(
                "data_type",
                data_type,
                "float64, float, double",
            ));
        }
        if p.object("exclusive_data_type")?
            .is_some_and(|o| !o.is_empty())
        {
            return Err(unsupported(
                "exclusive_data_type",
                "per-column data types",
                "none: every feature is float64",
            ));
        }

        let missing = Replacement {
            enabled: p.bool("missing_fill", false)?,
            method: method(&p, "missing_fill_method")?,
            markers_given: p.list("missing_impute")?.cloned(),
            markers: Vec::new(),
            value: FillValue::parse("default_value", p.value("default_value"))?,
        };
        let outlier = Replacement {
            enabled: p.bool("outlier_replace", false)?,
            method: method(&p, "outlier_replace_method")?,
            markers_given: p.list("outlier_impute")?.cloned(),
            markers: Vec::new(),
            value: FillValue::parse("outlier_replace_value", p.value("outlier_replace_value"))?,
        };
        let missing = with_markers(missing, "missing_impute")?;
        let outlier = with_markers(outlier, "outlier_impute")?;

        let label_type = p
            .choice("label_type", Some("int"), &LabelKind::NAMES)?
            .unwrap_or("int");

        Ok(DataTransformParam {
            input_format,
            delimitor: p.str("delimitor", ",")?.to_owned(),
            data_type,
            tag_with_value: p.bool("tag_with_value", false)?,
            tag_value_delimitor: p.str("tag_value_delimitor", ":")?.to_owned(),
            missing,
            outlier,
            with_label: p.bool("with_label", false)?,
            label_name: p.str("label_name", "y")?.to_owned(),
            label_type,
            output_format,
            with_match_id: p.bool("with_match_id", false)?,
            match_id_name: p.str("match_id_name", "")?.to_owned(),
            match_id_index: match p.int("match_id_index", 0)? {
                0 => 0,
                other => {
                    return Err(unsupported(
                        "match_id_index",
                        &other.to_string(),
                        "0: one match id column",
                    ))
                }
            },
        })
    }
}

fn unsupported(parameter: &str, value: &str, supported: &str) -> Error {
    Error::Unsupported {
        parameter: parameter.into(),
        value: value.into(),
        supported: supported.into(),
    }
}

fn method(p: &Params<'_>, name: &str) -> Result<Option<ReplaceMethod>> {
    Ok(p.choice(name, None, &ReplaceMethod::NAMES)?
        .and_then(ReplaceMethod::from_name))
}

/// Resolves the markers: the given list, or every missing cell (NaN) when none is given,
/// as FATE's imputer falls back to its list of missing-value strings.
fn with_markers(mut r: Replacement, parameter: &str) -> Result<Replacement> {
    r.markers = match &r.markers_given {
        Some(items) => Marker::parse_list(parameter, items)?,
        None => vec![Marker::Nan],
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<DataTransformParam> {
        DataTransformParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.input_format, "dense");
        assert_eq!(p.delimitor, ",");
        assert_eq!(p.data_type, "float64");
        assert!(!p.with_label);
        assert_eq!(p.label_name, "y");
        assert_eq!(p.label_type, "int");
        assert_eq!(p.output_format, "dense");
        assert!(!p.missing.enabled);
        assert_eq!(p.missing.method, None);
        assert_eq!(p.missing.value, FillValue::Scalar(0.0));
        assert_eq!(p.missing.markers, vec![Marker::Nan]);
        assert!(!p.outlier.enabled);
        assert_eq!(p.outlier.value, FillValue::Scalar(0.0));
        assert!(!p.with_match_id);
        assert_eq!(p.match_id_name, "");
        assert_eq!(p.match_id_index, 0);
    }

    #[test]
    fn input_formats() {
        for f in ["dense", "sparse", "tag"] {
            assert_eq!(parse(json!({ "input_format": f })).unwrap().input_format, f);
        }
        let e = parse(json!({"match_id_index": 1})).unwrap_err();
        assert!(e.to_string().contains("`match_id_index`"), "{e}");
        let e = parse(json!({"input_format": "csv"})).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid parameter `input_format`"),
            "{e}"
        );
        assert_eq!(
            parse(json!({"output_format": "sparse"}))
                .unwrap()
                .output_format,
            "sparse"
        );
    }

    #[test]
    fn markers_and_values() {
        let p = parse(json!({
            "missing_fill": true, "missing_fill_method": "Designated",
            "missing_impute": ["NA", -999, "-1", ""], "default_value": [1, "2.5"],
            "outlier_replace": true, "outlier_impute": [100], "outlier_replace_value": "7",
        }))
        .unwrap();
        assert_eq!(p.missing.method, Some(ReplaceMethod::Designated));
        assert_eq!(
            p.missing.markers,
            vec![
                Marker::Nan,
                Marker::Value(-999.0),
                Marker::Value(-1.0),
                Marker::Nan
            ]
        );
        assert_eq!(p.missing.value, FillValue::PerColumn(vec![1.0, 2.5]));
        assert_eq!(p.outlier.markers, vec![Marker::Value(100.0)]);
        assert_eq!(p.outlier.value, FillValue::Scalar(7.0));
        let header = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let e = p
            .missing
            .value
            .per_column("default_value", &header)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter `default_value`: 2 values given, but the header has 3 feature columns (a, b, c)"
        );
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let e = parse(json!({"default_value": "abc"})).unwrap_err();
        assert!(e.to_string().contains("`default_value`"), "{e}");
        let e = parse(json!({"missing_fill_method": "median"})).unwrap_err();
        assert!(e.to_string().contains("`missing_fill_method`"), "{e}");
        let e = parse(json!({"label_type": "bool"})).unwrap_err();
        assert!(e.to_string().contains("`label_type`"), "{e}");
        let e = parse(json!({"missing_impute": [true]})).unwrap_err();
        assert!(e.to_string().contains("`missing_impute`"), "{e}");
    }
}

//! FATE's leniency for request fields, as `serde(deserialize_with)` helpers: numbers
//! given as strings and strings given as numbers are accepted, an empty string counts
//! as absent. A value of the wrong kind is an error saying what was expected, and
//! [`from_object`] puts the field's name in front of it.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::{Map, Value};

/// A request body that does not fit its type: the field and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
pub struct BodyError {
    /// The field's path (`party_id`, `status[1]`); empty for the body itself.
    pub field: String,
    /// What was expected and what came.
    pub message: String,
}

/// Reads a typed body from a JSON object; unknown fields are ignored.
pub fn from_object<T: DeserializeOwned>(body: &Map<String, Value>) -> Result<T, BodyError> {
    from_value(Value::Object(body.clone()))
}

/// Reads a typed body from any JSON value.
pub fn from_value<T: DeserializeOwned>(body: Value) -> Result<T, BodyError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        BodyError {
            field: if field == "." { String::new() } else { field },
            message: e.into_inner().to_string(),
        }
    })
}

fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 64 {
        format!("{}...", text.chars().take(64).collect::<String>())
    } else {
        text
    }
}

/// A string, or a number rendered as one; `null` and `""` are absent.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a string, got {}",
            shown(&other)
        ))),
    }
}

/// Like [`opt_string`], absent as `""`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d).map(Option::unwrap_or_default)
}

/// An integer, or a string holding one; `null` and `""` are absent; `true` is 1.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    let bad = |v: &Value| {
        D::Error::custom(format!(
            "expected an integer or a string holding one, got {}",
            shown(v)
        ))
    };
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| bad(&v)),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s.trim().parse().map(Some).map_err(|_| bad(&v)),
        Value::Bool(b) => Ok(Some(i64::from(*b))),
        _ => Err(bad(&v)),
    }
}

/// A boolean given as a bool, a number (0 is false) or a string (`1`, `true`, `yes`;
/// `0`, `false`, `no`, empty); `null` is absent.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    let bad = |v: &Value| {
        D::Error::custom(format!(
            "expected true or false (or 1, 0, \"yes\", \"no\"), got {}",
            shown(v)
        ))
    };
    match &v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) => n.as_i64().map(|i| Some(i != 0)).ok_or_else(|| bad(&v)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Ok(Some(true)),
            "0" | "false" | "no" | "" => Ok(Some(false)),
            _ => Err(bad(&v)),
        },
        _ => Err(bad(&v)),
    }
}

/// Like [`opt_bool`], absent as `false`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt_bool(d).map(Option::unwrap_or_default)
}

/// One string or a list of them (FATE's status filters); `null` and `""` are none.
pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!(
                    "expected a list of strings, got {} in it",
                    shown(&other)
                ))),
            })
            .collect(),
        other => Err(D::Error::custom(format!(
            "expected a string or a list of strings, got {}",
            shown(&other)
        ))),
    }
}

/// Writes [`one_or_many`]'s value back: one string alone, several as a list.
pub fn one_or_many_out<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    match items {
        [one] => s.serialize_str(one),
        many => s.collect_seq(many),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_string")]
        name: Option<String>,
        #[serde(default, deserialize_with = "opt_int")]
        limit: Option<i64>,
        #[serde(default, deserialize_with = "bool")]
        force: bool,
        #[serde(default, deserialize_with = "one_or_many")]
        status: Vec<String>,
    }

    fn probe(v: Value) -> Result<Probe, String> {
        from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_as_strings_and_strings_as_numbers() {
        let p = probe(
            json!({"name": 9999, "limit": " 10 ", "force": "1", "status": "running", "extra": [1]}),
        )
        .unwrap();
        assert_eq!(p.name.as_deref(), Some("9999"));
        assert_eq!(p.limit, Some(10));
        assert!(p.force);
        assert_eq!(p.status, ["running"]);
        let p = probe(json!({"name": "", "limit": null, "status": ["a", "b"]})).unwrap();
        assert_eq!((p.name, p.limit, p.force), (None, None, false));
        assert_eq!(p.status, ["a", "b"]);
    }

    #[test]
    fn errors_name_the_field_and_what_was_expected() {
        assert_eq!(
            probe(json!({"limit": "ten"})).unwrap_err(),
            r#"limit: expected an integer or a string holding one, got "ten""#
        );
        assert_eq!(
            probe(json!({"name": [1]})).unwrap_err(),
            "name: expected a string, got [1]"
        );
        assert_eq!(
            probe(json!({"force": "maybe"})).unwrap_err(),
            r#"force: expected true or false (or 1, 0, "yes", "no"), got "maybe""#
        );
        assert_eq!(
            probe(json!({"status": 3})).unwrap_err(),
            "status: expected a string or a list of strings, got 3"
        );
    }
}

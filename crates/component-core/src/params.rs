//! Reading component parameters with errors that name the parameter.
//!
//! A JSON `null` means "not set" (FATE's `None`) and gives the default, as does a
//! missing key. Unknown keys are refused at submit by the domain's parameter tables.

use fateflow_domain::module::describe_value;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// FATE 1.11's Paillier key length when `encrypt_param.key_length` is not set
/// (`PAILLIER_KEYPAIR_N_LENGTH`).
pub const FATE_KEY_LENGTH: u32 = 2048;

thread_local! {
    static READS: std::cell::RefCell<Option<BTreeSet<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns the dotted names of the parameters it looked up through
/// [`Params`] on this thread, whether set or not: how the schema test proves that every
/// key marked implemented is read.
pub fn record_reads<T>(f: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    READS.with(|r| *r.borrow_mut() = Some(BTreeSet::new()));
    let out = f();
    let reads = READS.with(|r| r.borrow_mut().take()).unwrap_or_default();
    (out, reads)
}

/// A view of a component's parameters (or of a nested object, with a dotted prefix).
#[derive(Debug, Clone)]
pub struct Params<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Params<'a> {
    /// A view of a component's top-level parameters.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Params {
            map,
            prefix: String::new(),
        }
    }

    /// The full (dotted) name of parameter `name`, for messages.
    pub fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value of `name` unless it is missing or `null`.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.raw(name).filter(|v| !v.is_null())
    }

    /// The value of `name` as given, `null` included (for keys where FATE's `None`
    /// differs from the default).
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        READS.with(|r| {
            if let Some(reads) = r.borrow_mut().as_mut() {
                reads.insert(self.name(name));
            }
        });
        self.map.get(name)
    }

    fn wrong_type(&self, name: &str, expected: &str, found: &Value) -> Error {
        Error::param(
            self.name(name),
            format!("expected {expected}, found {}", describe_value(found)),
        )
    }

    /// A boolean, or `default`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.value(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.wrong_type(name, "true or false", v)),
        }
    }

    /// A string, if set.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong_type(name, "a string", v)),
        }
    }

    /// A string, or `default`.
    pub fn str(&self, name: &str, default: &'a str) -> Result<&'a str> {
        Ok(self.opt_str(name)?.unwrap_or(default))
    }

    /// An integer, or `default`.
    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| self.wrong_type(name, "an integer", v)),
        }
    }

    /// A number (JSON number or numeric string), or `default`.
    pub fn float(&self, name: &str, default: f64) -> Result<f64> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => number(&self.name(name), v),
        }
    }

    /// The nested object `name`, if set.
    pub fn object(&self, name: &str) -> Result<Option<Params<'a>>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params {
                map,
                prefix: self.name(name),
            })),
            Some(v) => Err(self.wrong_type(name, "an object", v)),
        }
    }

    /// The nested object `name`, or an empty one (every lookup gives its default) when
    /// it is missing; names in messages are prefixed either way.
    pub fn object_or_empty(&self, name: &str) -> Result<Params<'a>> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Ok(self.object(name)?.unwrap_or_else(|| Params {
            map: EMPTY.get_or_init(Map::new),
            prefix: self.name(name),
        }))
    }

    /// A list, if set.
    pub fn list(&self, name: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(v) => Err(self.wrong_type(name, "a list", v)),
        }
    }

    /// A string parameter that must be one of `choices` (compared case-insensitively, as
    /// FATE lower-cases these). Returns the matching choice.
    pub fn choice(
        &self,
        name: &str,
        default: Option<&'static str>,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>> {
        let Some(given) = self.opt_str(name)? else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(given))
            .map(|c| Some(*c))
            .ok_or_else(|| {
                Error::param(
                    self.name(name),
                    format!("`{given}` is not one of {}", choices.join(", ")),
                )
            })
    }
}

/// A number given as a JSON number or a numeric string (FATE accepts both).
pub fn number(parameter: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| Error::param(parameter, format!("{n} is not a 64-bit float"))),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            Error::param(
                parameter,
                format!("expected a number, found the string {s:?}"),
            )
        }),
        other => Err(Error::param(
            parameter,
            format!("expected a number, found {}", describe_value(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_for_missing_and_null() {
        let m = map(json!({"a": null}));
        let p = Params::new(&m);
        assert!(p.bool("a", true).unwrap());
        assert!(!p.bool("b", false).unwrap());
        assert_eq!(p.str("a", "x").unwrap(), "x");
        assert_eq!(p.int("a", 7).unwrap(), 7);
        assert!(p.object("a").unwrap().is_none());
    }

    #[test]
    fn wrong_types_name_the_parameter() {
        let m = map(json!({"with_label": "yes", "table": {"name": 3}}));
        let p = Params::new(&m);
        assert_eq!(
            p.bool("with_label", false).unwrap_err().to_string(),
            "invalid parameter `with_label`: expected true or false, found the string \"yes\""
        );
        let table = p.object("table").unwrap().unwrap();
        assert_eq!(
            table.opt_str("name").unwrap_err().to_string(),
            "invalid parameter `table.name`: expected a string, found the number 3"
        );
    }

    #[test]
    fn choices_are_case_insensitive() {
        let m = map(json!({"method": "MEAN", "bad": "median"}));
        let p = Params::new(&m);
        assert_eq!(
            p.choice("method", None, &["min", "mean"]).unwrap(),
            Some("mean")
        );
        assert_eq!(
            p.choice("other", Some("min"), &["min"]).unwrap(),
            Some("min")
        );
        let e = p.choice("bad", None, &["min", "mean"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter `bad`: `median` is not one of min, mean"
        );
    }

    #[test]
    fn numbers_from_numbers_and_strings() {
        assert_eq!(number("v", &json!(1.5)).unwrap(), 1.5);
        assert_eq!(number("v", &json!(" -2 ")).unwrap(), -2.0);
        assert!(number("v", &json!("abc")).is_err());
        assert!(number("v", &json!(true)).is_err());
    }
}

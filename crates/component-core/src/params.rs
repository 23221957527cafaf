//! Reading component parameters with errors that name the parameter.
//!
//! A JSON `null` means "not set" (FATE's `None`) and gives the default, as does a
//! missing key. Unknown keys are refused at submit by the domain's parameter tables.

use fateflow_domain::module::{describe_value, ModuleSchema};
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
///
/// Made [`with_schema`](Params::with_schema), the `get_*` getters take FATE's default
/// from the module's schema, so the default is written once.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    schema: Option<&'static ModuleSchema>,
}

impl<'a> Params<'a> {
    /// A view of a component's top-level parameters.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Params {
            map,
            prefix: String::new(),
            schema: None,
        }
    }

    /// A view of a component's top-level parameters whose `get_*` getters take their
    /// defaults from `schema`.
    pub fn with_schema(map: &'a Map<String, Value>, schema: &'static ModuleSchema) -> Self {
        Params {
            map,
            prefix: String::new(),
            schema: Some(schema),
        }
    }

    /// The schema's default text of parameter `name`. A parser asking for a key its
    /// schema does not list (or without a schema) is a programming error: it panics.
    fn default_text(&self, name: &str) -> &'static str {
        let path = self.name(name);
        let schema = self
            .schema
            .unwrap_or_else(|| panic!("`{path}`: a get_* getter on Params without a schema"));
        schema
            .params()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{}: `{path}` is not in the schema", schema.name))
            .default
    }

    /// The schema's default of parameter `name` as JSON.
    pub fn schema_default(&self, name: &str) -> Value {
        let text = self.default_text(name);
        serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "the schema default of `{}` ({text}) is not JSON: {e}",
                self.name(name)
            )
        })
    }

    fn bad_default(&self, name: &str, expected: &str) -> ! {
        panic!(
            "the schema default of `{}` ({}) is not {expected}",
            self.name(name),
            self.default_text(name)
        )
    }

    /// A boolean, or the schema's default.
    pub fn get_bool(&self, name: &str) -> Result<bool> {
        let default = self.schema_default(name);
        let default = default
            .as_bool()
            .unwrap_or_else(|| self.bad_default(name, "a boolean"));
        self.bool(name, default)
    }

    /// An integer, or the schema's default.
    pub fn get_int(&self, name: &str) -> Result<i64> {
        let default = self.schema_default(name);
        let default = default
            .as_i64()
            .unwrap_or_else(|| self.bad_default(name, "an integer"));
        self.int(name, default)
    }

    /// A number (JSON number or numeric string), or the schema's default.
    pub fn get_float(&self, name: &str) -> Result<f64> {
        let default = self.schema_default(name);
        let default = default
            .as_f64()
            .unwrap_or_else(|| self.bad_default(name, "a number"));
        self.float(name, default)
    }

    /// A string, or the schema's default.
    pub fn get_str(&self, name: &str) -> Result<&'a str> {
        let text = self.default_text(name);
        // A JSON string without escapes: its text between the quotes is the value.
        let default = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.contains(['\\', '"']))
            .unwrap_or_else(|| self.bad_default(name, "a plain string"));
        self.str(name, default)
    }

    /// A string parameter that must be one of `choices` (case-insensitively), or the
    /// schema's default (which must be one of them).
    pub fn get_choice(&self, name: &str, choices: &[&'static str]) -> Result<&'static str> {
        let default = self.schema_default(name);
        let default = default
            .as_str()
            .and_then(|d| choices.iter().find(|c| c.eq_ignore_ascii_case(d)))
            .unwrap_or_else(|| self.bad_default(name, "one of the choices"));
        Ok(self
            .choice(name, Some(default), choices)?
            .unwrap_or(default))
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
                schema: self.schema,
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
            schema: self.schema,
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
    use fateflow_domain::module::Kind::{Bool, Int, Number, Object, Str};
    use fateflow_domain::module::{param, OBJ};
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

    static SCHEMA: ModuleSchema = ModuleSchema {
        name: "M",
        params: &[&[
            param("flag", Bool, "true", true),
            param("n", Int, "100", true),
            param("x", Number, "0.5", true),
            param("s", Str, "\"quantile\"", true),
            param("o", Object, OBJ, true),
            param("o.m", Str, "\"MEAN\"", true),
        ]],
        conditions: &[],
        supported: &[],
    };

    #[test]
    fn schema_defaults_for_missing_keys() {
        let m = map(json!({"n": 7, "o": {}}));
        let p = Params::with_schema(&m, &SCHEMA);
        assert!(p.get_bool("flag").unwrap());
        assert_eq!(p.get_int("n").unwrap(), 7);
        assert_eq!(p.get_float("x").unwrap(), 0.5);
        assert_eq!(p.get_str("s").unwrap(), "quantile");
        let o = p.object_or_empty("o").unwrap();
        assert_eq!(o.get_choice("m", &["min", "mean"]).unwrap(), "mean");
        assert_eq!(p.schema_default("n"), json!(100));
    }

    #[test]
    #[should_panic(expected = "M: `nope` is not in the schema")]
    fn a_key_outside_the_schema_is_a_programming_error() {
        let m = Map::new();
        let _ = Params::with_schema(&m, &SCHEMA).get_int("nope");
    }

    #[test]
    #[should_panic(expected = "the schema default of `s` (\"quantile\") is not an integer")]
    fn a_default_of_another_kind_is_a_programming_error() {
        let m = Map::new();
        let _ = Params::with_schema(&m, &SCHEMA).get_int("s");
    }

    #[test]
    fn numbers_from_numbers_and_strings() {
        assert_eq!(number("v", &json!(1.5)).unwrap(), 1.5);
        assert_eq!(number("v", &json!(" -2 ")).unwrap(), -2.0);
        assert!(number("v", &json!("abc")).is_err());
        assert!(number("v", &json!(true)).is_err());
    }
}

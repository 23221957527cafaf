//! `HeteroPearson` parameters: FATE 1.11's `PearsonParam`, with its defaults and checks.

use fateflow_domain::module::Kind::{Any, Bool, Int, IntOrList, List};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::Params;

/// The module name.
pub(crate) const MODULE: &str = "HeteroPearson";

/// FATE 1.11's `PearsonParam`. `use_mix_rand` only makes FATE's random shares cheaper;
/// our shares always come from the OS-seeded CSPRNG, so either value computes the same.
const PEARSON_PARAMS: &[Param] = &[
    param("column_names", List, "null", true),
    param("column_indexes", IntOrList, "null", true),
    param("cross_parties", Bool, "true", true),
    param("need_run", Bool, "true", true),
    param("use_mix_rand", Any, "false", true),
    param("calc_local_vif", Bool, "true", true),
    param("fixpoint_bit_length", Int, "2048", true),
];

/// `HeteroPearson`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[PEARSON_PARAMS],
    conditions: &[],
    supported: &[],
};

/// Which columns to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Columns {
    /// `column_indexes: -1`: every feature column.
    All,
    /// Indexes into the feature columns and names, their union in header order.
    Some {
        /// Feature indexes.
        indexes: Vec<i64>,
        /// Feature names.
        names: Vec<String>,
    },
}

/// The parameters, defaults applied and checked as FATE checks them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PearsonParam {
    pub(crate) columns: Columns,
    pub(crate) cross_parties: bool,
    pub(crate) calc_local_vif: bool,
    /// Bits of each party's Paillier modulus.
    pub(crate) key_bits: u32,
    /// Accepted for FATE compatibility; no effect on the result.
    pub(crate) use_mix_rand: bool,
}

impl PearsonParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let use_mix_rand = match p.value("use_mix_rand") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(Error::param(
                    "use_mix_rand",
                    format!("accepts a bool only, found {}", describe_value(v)),
                ))
            }
        };
        let cross_parties = p.get_bool("cross_parties")?;
        let need_run = p.get_bool("need_run")?;
        if cross_parties && !need_run {
            return Err(Error::param(
                "need_run",
                "must be true (its default) when cross_parties is true",
            ));
        }
        let names: Vec<String> = match p.value("column_names") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::param(
                            "column_names",
                            format!("expected strings, found {}", describe_value(v)),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            Some(v) => {
                return Err(Error::param(
                    "column_names",
                    format!("expected a list of strings, found {}", describe_value(v)),
                ))
            }
        };
        let columns = match p.value("column_indexes") {
            None | Some(Value::Null) => Columns::Some {
                indexes: Vec::new(),
                names,
            },
            Some(Value::Array(items)) => Columns::Some {
                indexes: items
                    .iter()
                    .map(|v| {
                        v.as_i64().ok_or_else(|| {
                            Error::param(
                                "column_indexes",
                                format!("expected integers, found {}", describe_value(v)),
                            )
                        })
                    })
                    .collect::<Result<_>>()?,
                names,
            },
            Some(v) if v.as_i64() == Some(-1) => {
                if !names.is_empty() {
                    // FATE refuses this combination when it selects the columns.
                    return Err(Error::param(
                        "column_names",
                        "cannot be given with column_indexes = -1 (ambiguous)",
                    ));
                }
                Columns::All
            }
            Some(v) => {
                return Err(Error::param(
                    "column_indexes",
                    format!("only -1 or a list of integers is allowed, found {v}"),
                ))
            }
        };
        if need_run {
            if let Columns::Some { indexes, names } = &columns {
                if indexes.is_empty() && names.is_empty() {
                    return Err(Error::param(
                        "column_indexes",
                        "provide at least one column (column_indexes: -1 selects every feature)",
                    ));
                }
            }
        }
        let key_bits = match p.value("fixpoint_bit_length") {
            None => 2048,
            Some(v) => match v.as_i64() {
                Some(b) if b >= 1024 => b,
                _ => {
                    return Err(Error::param(
                        "fixpoint_bit_length",
                        format!("must be an integer >= 1024, found {v}"),
                    ))
                }
            },
        };
        if !fateflow_crypto::paillier::generatable(key_bits.min(u32::MAX as i64) as u32) {
            return Err(Error::param(
                "fixpoint_bit_length",
                format!(
                    "{key_bits} is not supported: an even number of bits from 1024 to {} is",
                    fateflow_crypto::paillier::MAX_GENERATED_BITS
                ),
            ));
        }
        Ok(PearsonParam {
            columns,
            cross_parties,
            calc_local_vif: p.get_bool("calc_local_vif")?,
            key_bits: key_bits as u32,
            use_mix_rand,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<PearsonParam> {
        PearsonParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_and_examples() {
        let p = parse(json!({"column_indexes": -1, "fixpoint_bit_length": 1024})).unwrap();
        assert_eq!(p.columns, Columns::All);
        assert!(p.cross_parties && p.calc_local_vif && !p.use_mix_rand);
        assert_eq!(p.key_bits, 1024);
        let p = parse(json!({"column_names": ["x0"], "column_indexes": [2]})).unwrap();
        assert_eq!(
            p.columns,
            Columns::Some {
                indexes: vec![2],
                names: vec!["x0".into()]
            }
        );
        assert_eq!(p.key_bits, 2048);
        // With need_run false (and no cross-party run) no column is needed.
        assert!(parse(json!({"need_run": false, "cross_parties": false})).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        for (v, field) in [
            (json!({}), "`column_indexes`"),
            (json!({"column_indexes": 3}), "`column_indexes`"),
            (json!({"column_indexes": [1.5]}), "`column_indexes`"),
            (
                json!({"column_indexes": -1, "column_names": ["a"]}),
                "`column_names`",
            ),
            (json!({"column_names": [1]}), "`column_names`"),
            (
                json!({"column_indexes": -1, "need_run": false}),
                "`need_run`",
            ),
            (
                json!({"column_indexes": -1, "use_mix_rand": 1}),
                "`use_mix_rand`",
            ),
            (
                json!({"column_indexes": -1, "fixpoint_bit_length": 512}),
                "`fixpoint_bit_length`",
            ),
            (
                json!({"column_indexes": -1, "fixpoint_bit_length": 1.5}),
                "`fixpoint_bit_length`",
            ),
            (
                json!({"column_indexes": -1, "fixpoint_bit_length": 1025}),
                "`fixpoint_bit_length`",
            ),
        ] {
            let e = parse(v.clone()).unwrap_err();
            assert!(e.to_string().contains(field), "{v}: {e}");
        }
    }
}

//! `HeteroKmeans` parameters: FATE 1.11's `KmeansParam`, with its defaults and checks.

use fateflow_domain::module::Kind::{Bool, Int, Number};
use fateflow_domain::module::{param, ModuleSchema, Param};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::params::Params;

/// The module name.
pub const MODULE: &str = "HeteroKmeans";

/// FATE 1.11's `KmeansParam`. FATE's class has no `need_run`; the executor's generic
/// `need_run` (pass-through when false) is accepted as for every module.
const KMEANS_PARAMS: &[Param] = &[
    param("k", Int, "5", true),
    param("max_iter", Int, "300", true),
    param("tol", Number, "0.001", true),
    param("random_stat", Int, "null", true),
    param("need_run", Bool, "true", true),
];

/// `HeteroKmeans`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[KMEANS_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The parameters, defaults applied and checked as FATE checks them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KmeansParam {
    /// Number of clusters, 2..=100.
    pub(crate) k: usize,
    /// Maximum number of iterations, at least 1.
    pub(crate) max_iter: usize,
    /// Convergence threshold on the summed squared centroid moves, at least 0.
    pub(crate) tol: f64,
    /// numpy's seed for the initial rows (`None`: a seed from the clock).
    pub(crate) random_stat: Option<u32>,
}

/// An integer parameter given as a JSON integer (FATE checks `isinstance(v, int)`).
fn strict_int(p: &Params<'_>, name: &str) -> Result<i64> {
    match p.value(name) {
        None | Some(Value::Null) => p.get_int(name),
        Some(v) => v.as_i64().ok_or_else(|| {
            Error::param(
                name,
                format!(
                    "expected an integer, found {}",
                    fateflow_domain::module::describe_value(v)
                ),
            )
        }),
    }
}

impl KmeansParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let k = strict_int(&p, "k")?;
        if k <= 1 {
            return Err(Error::param(
                "k",
                format!("{k} is not supported: it must be larger than 1"),
            ));
        }
        if k > 100 {
            return Err(Error::param(
                "k",
                format!("{k} is not supported: it must be at most 100 in this version"),
            ));
        }
        let max_iter = strict_int(&p, "max_iter")?;
        if max_iter <= 0 {
            return Err(Error::param(
                "max_iter",
                format!("{max_iter} is not supported: it must be larger than 0"),
            ));
        }
        let tol = p.get_float("tol")?;
        if tol.is_nan() || tol < 0.0 {
            return Err(Error::param(
                "tol",
                format!("{tol} is not supported: it must be a number ≥ 0"),
            ));
        }
        let random_stat = match p.value("random_stat") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let seed = v.as_i64().ok_or_else(|| {
                    Error::param(
                        "random_stat",
                        format!(
                            "expected an integer or null, found {}",
                            fateflow_domain::module::describe_value(v)
                        ),
                    )
                })?;
                if seed < 0 {
                    return Err(Error::param(
                        "random_stat",
                        format!("{seed} is not supported: it must be ≥ 0"),
                    ));
                }
                // numpy's legacy seed takes 32 bits.
                let seed = u32::try_from(seed).map_err(|_| {
                    Error::param(
                        "random_stat",
                        format!("{seed} is not supported: numpy's seed must be below 2^32"),
                    )
                })?;
                Some(seed)
            }
        };
        Ok(KmeansParam {
            k: k as usize,
            max_iter: max_iter as usize,
            tol,
            random_stat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<KmeansParam> {
        KmeansParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_fates() {
        let p = parse(json!({})).unwrap();
        assert_eq!(
            p,
            KmeansParam {
                k: 5,
                max_iter: 300,
                tol: 0.001,
                random_stat: None
            }
        );
        let p = parse(json!({"k": 3, "max_iter": 10, "tol": 0, "random_stat": 42})).unwrap();
        assert_eq!(
            (p.k, p.max_iter, p.tol, p.random_stat),
            (3, 10, 0.0, Some(42))
        );
    }

    #[test]
    fn errors_name_the_field() {
        for (v, field) in [
            (json!({"k": 1}), "`k`"),
            (json!({"k": 101}), "`k`"),
            (json!({"k": 2.5}), "`k`"),
            (json!({"k": "3"}), "`k`"),
            (json!({"max_iter": 0}), "`max_iter`"),
            (json!({"max_iter": 1.5}), "`max_iter`"),
            (json!({"tol": -1}), "`tol`"),
            (json!({"tol": "x"}), "`tol`"),
            (json!({"random_stat": -1}), "`random_stat`"),
            (json!({"random_stat": 1.5}), "`random_stat`"),
            (json!({"random_stat": 4294967296u64}), "`random_stat`"),
        ] {
            let e = parse(v.clone()).unwrap_err();
            assert!(e.to_string().contains(field), "{v}: {e}");
        }
    }
}

//! FATE 1.11's `IntersectParam`: the schema and the parsed parameters, checked as
//! FATE's `check()` does (every method's parameters are checked, whichever runs).

use crate::error::{Error, Result};
use crate::params::Params;
use fateflow_crypto::psi::HashMethod;
use fateflow_domain::module::Kind::{Any, Bool, Int, Number, Object, Str};
use fateflow_domain::module::{param, ModuleSchema, Param, OBJ};
use serde_json::{Map, Value};

/// FATE 1.11's `Intersection` parameters.
const INTERSECTION_PARAMS: &[Param] = &[
    param("intersect_method", Str, "\"rsa\"", true),
    param("random_bit", Int, "128", true),
    param("sync_intersect_ids", Bool, "true", true),
    param("join_role", Str, "\"guest\"", true),
    param("with_encode", Any, "false", false),
    param("encode_params", Object, OBJ, false),
    param("encode_params.salt", Any, "\"\"", false),
    param("encode_params.encode_method", Any, "\"none\"", false),
    param("encode_params.base64", Any, "false", false),
    param("raw_params", Object, OBJ, true),
    param("raw_params.use_hash", Bool, "false", true),
    param("raw_params.salt", Str, "\"\"", true),
    param("raw_params.hash_method", Str, "\"none\"", true),
    param("raw_params.base64", Bool, "false", true),
    param("raw_params.join_role", Str, "\"guest\"", true),
    param("rsa_params", Object, OBJ, true),
    param("rsa_params.salt", Str, "\"\"", true),
    param("rsa_params.hash_method", Str, "\"sha256\"", true),
    param("rsa_params.final_hash_method", Str, "\"sha256\"", true),
    param("rsa_params.split_calculation", Bool, "false", true),
    param("rsa_params.random_base_fraction", Any, "null", true),
    param("rsa_params.key_length", Int, "2048", true),
    param("rsa_params.random_bit", Int, "128", true),
    param("only_output_key", Bool, "false", true),
    param("sample_id_generator", Str, "\"guest\"", false),
    param("intersect_cache_param", Object, OBJ, false),
    param("intersect_cache_param.use_cache", Any, "false", false),
    param("intersect_cache_param.id_type", Any, "\"phone\"", false),
    param(
        "intersect_cache_param.encrypt_type",
        Any,
        "\"sha256\"",
        false,
    ),
    param("run_cache", Bool, "false", true),
    param("repeated_id_process", Any, "false", false),
    param("repeated_id_owner", Any, "\"guest\"", false),
    param("allow_info_share", Any, "false", false),
    param("info_owner", Any, "\"guest\"", false),
    param("with_sample_id", Any, "false", false),
    param("join_method", Str, "\"inner_join\"", false),
    param("new_sample_id", Bool, "false", false),
    param("dh_params", Object, OBJ, true),
    param("dh_params.salt", Str, "\"\"", true),
    param("dh_params.hash_method", Str, "\"sha256\"", true),
    param("dh_params.key_length", Int, "2048", true),
    param("cardinality_only", Bool, "false", true),
    param("sync_cardinality", Bool, "false", true),
    param("cardinality_method", Str, "\"ecdh\"", true),
    param("run_preprocess", Bool, "false", true),
    param("intersect_preprocess_params", Object, OBJ, true),
    param(
        "intersect_preprocess_params.false_positive_rate",
        Number,
        "0.001",
        true,
    ),
    param(
        "intersect_preprocess_params.encrypt_method",
        Str,
        "\"rsa\"",
        true,
    ),
    param(
        "intersect_preprocess_params.hash_method",
        Str,
        "\"sha256\"",
        true,
    ),
    param(
        "intersect_preprocess_params.preprocess_method",
        Str,
        "\"sha256\"",
        true,
    ),
    param(
        "intersect_preprocess_params.preprocess_salt",
        Str,
        "\"\"",
        true,
    ),
    param(
        "intersect_preprocess_params.random_state",
        Any,
        "null",
        true,
    ),
    param(
        "intersect_preprocess_params.filter_owner",
        Str,
        "\"guest\"",
        true,
    ),
    param("ecdh_params", Object, OBJ, true),
    param("ecdh_params.salt", Str, "\"\"", true),
    param("ecdh_params.hash_method", Str, "\"sha256\"", true),
    param("ecdh_params.curve", Str, "\"curve25519\"", true),
    param("need_run", Bool, "true", true),
];

/// Every hash FATE's `Hash` offers.
const ALL_HASHES: &[&str] = &[
    "none", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3",
];
/// The same without `none`.
const DIGESTS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3"];
/// The first hash of RSA and ECDH.
const FIRST_HASHES: &[&str] = &["sha256", "sha384", "sha512", "sm3"];

const INTERSECTION_SUPPORTED: &[(&str, &[&str])] = &[
    ("intersect_method", &["rsa", "raw", "dh", "ecdh"]),
    ("cardinality_method", &["rsa", "dh", "ecdh"]),
    ("join_role", &["guest", "host"]),
    ("raw_params.join_role", &["guest", "host"]),
    ("raw_params.hash_method", ALL_HASHES),
    ("rsa_params.hash_method", FIRST_HASHES),
    ("rsa_params.final_hash_method", DIGESTS),
    ("dh_params.hash_method", ALL_HASHES),
    ("ecdh_params.hash_method", FIRST_HASHES),
    ("ecdh_params.curve", &["curve25519"]),
    ("intersect_preprocess_params.encrypt_method", &["rsa"]),
    ("intersect_preprocess_params.hash_method", DIGESTS),
    ("intersect_preprocess_params.preprocess_method", DIGESTS),
    (
        "intersect_preprocess_params.filter_owner",
        &["guest", "host"],
    ),
];

/// `Intersection`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "Intersection",
    params: &[INTERSECTION_PARAMS],
    conditions: &[],
    supported: INTERSECTION_SUPPORTED,
};

/// The protocol that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// RSA blind signatures.
    Rsa,
    /// Pohlig–Hellman modulo a safe prime.
    Dh,
    /// Curve25519 (ristretto255).
    Ecdh,
}

impl Method {
    /// FATE's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Rsa => "rsa",
            Method::Dh => "dh",
            Method::Ecdh => "ecdh",
        }
    }
}

/// `rsa_params`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RsaParams {
    pub salt: String,
    pub hash: HashMethod,
    pub final_hash: HashMethod,
    pub split_calculation: bool,
    /// `random_base_fraction`, when set.
    pub fraction: Option<f64>,
    pub key_length: u32,
    /// The blinding factor's bits (`rsa_params.random_bit`, or the deprecated top-level
    /// `random_bit`).
    pub random_bit: u32,
}

/// `dh_params`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DhParams {
    pub salt: String,
    pub hash: HashMethod,
    pub key_length: u32,
}

/// `ecdh_params`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EcdhParams {
    pub salt: String,
    pub hash: HashMethod,
}

/// `intersect_preprocess_params`: the Bloom filter of preprocessing and of the RSA
/// cardinality estimate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FilterParams {
    pub false_positive_rate: f64,
    /// The hash of the filter's index functions.
    pub hash: HashMethod,
    /// The hash applied to ids before they enter a preprocessing filter.
    pub preprocess_hash: HashMethod,
    pub preprocess_salt: String,
    /// Seed of the index functions' salts.
    pub random_state: Option<u64>,
    /// Whether the guest (else each host) builds the preprocessing filter.
    pub guest_owns_filter: bool,
}

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntersectParam {
    /// `intersect_method` as given, lower-cased (`raw` runs as `ecdh`, as in FATE 1.11).
    pub intersect_method: String,
    /// The protocol that runs: `cardinality_method` in cardinality-only mode, else
    /// `intersect_method`.
    pub method: Method,
    pub sync: bool,
    pub only_output_key: bool,
    pub cardinality_only: bool,
    pub sync_cardinality: bool,
    pub run_preprocess: bool,
    /// `run_cache`: write a cache instead of intersecting.
    pub run_cache: bool,
    pub rsa: RsaParams,
    pub dh: DhParams,
    pub ecdh: EcdhParams,
    pub filter: FilterParams,
}

fn method(p: &Params<'_>, key: &str, allowed: &[&str]) -> Result<HashMethod> {
    let given = p.get_str(key)?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(given))
        .and_then(|a| HashMethod::from_name(a))
        .ok_or_else(|| {
            Error::param(
                p.name(key),
                format!("`{given}` is not one of {}", allowed.join(", ")),
            )
        })
}

fn bits(p: &Params<'_>, key: &str, min: i64) -> Result<u32> {
    let v = p.get_int(key)?;
    if v < min {
        return Err(Error::param(
            p.name(key),
            format!("must be at least {min}, found {v}"),
        ));
    }
    u32::try_from(v).map_err(|_| Error::param(p.name(key), format!("{v} is too large")))
}

fn optional_number(p: &Params<'_>, key: &str) -> Result<Option<f64>> {
    match p.value(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => crate::params::number(&p.name(key), v).map(Some),
    }
}

impl IntersectParam {
    /// Parses the parameters, with the schema's defaults, and checks them as FATE does.
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let intersect_method = p
            .choice(
                "intersect_method",
                Some("rsa"),
                &["rsa", "raw", "dh", "ecdh"],
            )?
            .unwrap_or("rsa");
        let sync = p.get_bool("sync_intersect_ids")?;
        let only_output_key = p.get_bool("only_output_key")?;

        // `raw_params` (and the deprecated `join_role` it replaces) are checked, then
        // unused: FATE 1.11 runs `raw` as `ecdh`.
        let raw = p.object_or_empty("raw_params")?;
        raw.get_bool("use_hash")?;
        raw.get_str("salt")?;
        method(&raw, "hash_method", ALL_HASHES)?;
        raw.get_bool("base64")?;
        let raw_join = raw.get_choice("join_role", &["guest", "host"])?;
        let join = p.get_choice("join_role", &["guest", "host"])?;
        // FATE refuses both keys together; two equal values say the same thing.
        if p.value("join_role").is_some() && raw.value("join_role").is_some() && join != raw_join {
            return Err(Error::param(
                "join_role",
                "join_role and raw_params.join_role should not be set simultaneously",
            ));
        }

        let rsa_p = p.object_or_empty("rsa_params")?;
        let mut random_bit = bits(&rsa_p, "random_bit", 1)?;
        let top_random_bit = bits(&p, "random_bit", 1)?;
        if p.value("random_bit").is_some() {
            // FATE's deprecated top-level `random_bit` becomes `rsa_params.random_bit`;
            // FATE refuses both keys together, two equal values say the same thing.
            if rsa_p.value("random_bit").is_some() && top_random_bit != random_bit {
                return Err(Error::param(
                    "random_bit",
                    "random_bit and rsa_params.random_bit should not be set simultaneously",
                ));
            }
            random_bit = top_random_bit;
        }
        if random_bit < 64 {
            return Err(Error::Unsupported {
                parameter: "rsa_params.random_bit".into(),
                value: random_bit.to_string(),
                supported: "64 bits or more (a shorter blinding factor can be guessed)".into(),
            });
        }
        let fraction = optional_number(&rsa_p, "random_base_fraction")?;
        if let Some(f) = fraction {
            if f < 0.0 {
                return Err(Error::param(
                    "rsa_params.random_base_fraction",
                    format!("must be a positive number, found {f}"),
                ));
            }
        }
        let rsa = RsaParams {
            salt: rsa_p.get_str("salt")?.to_owned(),
            hash: method(&rsa_p, "hash_method", FIRST_HASHES)?,
            final_hash: method(&rsa_p, "final_hash_method", DIGESTS)?,
            split_calculation: rsa_p.get_bool("split_calculation")?,
            // FATE treats 0 as "not set".
            fraction: fraction.filter(|f| *f > 0.0),
            key_length: bits(&rsa_p, "key_length", 1024)?,
            random_bit,
        };

        let dh_p = p.object_or_empty("dh_params")?;
        let dh = DhParams {
            salt: dh_p.get_str("salt")?.to_owned(),
            hash: method(&dh_p, "hash_method", ALL_HASHES)?,
            key_length: bits(&dh_p, "key_length", 1024)?,
        };
        let ecdh_p = p.object_or_empty("ecdh_params")?;
        let ecdh = EcdhParams {
            salt: ecdh_p.get_str("salt")?.to_owned(),
            hash: method(&ecdh_p, "hash_method", FIRST_HASHES)?,
        };
        ecdh_p.get_choice("curve", &["curve25519"])?;

        let pre = p.object_or_empty("intersect_preprocess_params")?;
        let fpr = pre.get_float("false_positive_rate")?;
        if !(fpr > 0.0 && fpr <= 0.5) {
            return Err(Error::param(
                "intersect_preprocess_params.false_positive_rate",
                format!("must be a positive number no greater than 0.5, found {fpr}"),
            ));
        }
        pre.get_choice("encrypt_method", &["rsa"])?;
        let random_state = match pre.value("random_state") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::param(
                    "intersect_preprocess_params.random_state",
                    format!("expected a non-negative integer, found {v}"),
                )
            })?),
        };
        let filter = FilterParams {
            false_positive_rate: fpr,
            hash: method(&pre, "hash_method", DIGESTS)?,
            preprocess_hash: method(&pre, "preprocess_method", DIGESTS)?,
            preprocess_salt: pre.get_str("preprocess_salt")?.to_owned(),
            random_state,
            guest_owns_filter: pre.get_choice("filter_owner", &["guest", "host"])? == "guest",
        };

        let cardinality_only = p.get_bool("cardinality_only")?;
        let sync_cardinality = p.get_bool("sync_cardinality")?;
        let cardinality_method = p
            .choice("cardinality_method", Some("ecdh"), &["rsa", "dh", "ecdh"])?
            .unwrap_or("ecdh");
        let run_preprocess = p.get_bool("run_preprocess")?;
        let run_cache = p.get_bool("run_cache")?;
        let name = if cardinality_only {
            cardinality_method
        } else {
            intersect_method
        };
        let method = match name {
            "rsa" => Method::Rsa,
            "dh" => Method::Dh,
            _ => Method::Ecdh,
        };
        if cardinality_only && method == Method::Rsa && rsa.split_calculation {
            return Err(Error::param(
                "rsa_params.split_calculation",
                "cardinality-only mode only supports unified calculation",
            ));
        }
        if run_preprocess {
            if fpr < 0.01 {
                return Err(Error::param(
                    "intersect_preprocess_params.false_positive_rate",
                    format!("for preprocessing ids it must be no less than 0.01, found {fpr}"),
                ));
            }
            if cardinality_only {
                return Err(Error::param(
                    "run_preprocess",
                    "cardinality_only mode cannot run preprocessing",
                ));
            }
        }
        if run_cache {
            let why = if intersect_method == "raw" {
                Some((
                    "intersect_method",
                    "only rsa, dh, or ecdh method supports cache",
                ))
            } else if method == Method::Rsa && rsa.split_calculation {
                Some((
                    "rsa_params.split_calculation",
                    "RSA split_calculation does not support cache",
                ))
            } else if cardinality_only {
                Some((
                    "cardinality_only",
                    "cache is not available for cardinality_only mode",
                ))
            } else if run_preprocess {
                Some(("run_preprocess", "preprocessing does not support cache"))
            } else {
                None
            };
            if let Some((key, why)) = why {
                return Err(Error::param(key, why));
            }
        }
        if method == Method::Dh && !fateflow_crypto::psi::dh::KEY_LENGTHS.contains(&dh.key_length) {
            return Err(Error::Unsupported {
                parameter: "dh_params.key_length".into(),
                value: dh.key_length.to_string(),
                supported: "1024, 2048 (FATE's MODP groups)".into(),
            });
        }
        Ok(IntersectParam {
            intersect_method: intersect_method.to_owned(),
            method,
            sync,
            only_output_key,
            cardinality_only,
            sync_cardinality,
            run_preprocess,
            run_cache,
            rsa,
            dh,
            ecdh,
            filter,
        })
    }
}

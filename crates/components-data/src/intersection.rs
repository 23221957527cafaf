//! `Intersection`: the rows whose ids every party holds (PSI).
//!
//! Methods:
//! - `ecdh` (FATE 1.9+, curve25519): each party hashes its ids to the curve and
//!   multiplies by its secret; the other party multiplies again; equal
//!   doubly-encrypted values mark the intersection. Ids never leave their party.
//! - `rsa` (FATE 1.x's default, blind signatures): the host signs; the guest blinds its
//!   ids, has them signed, unblinds, and compares final hashes with the host's signed
//!   ids. `rsa_params.key_length` (default 2048).
//! - `raw` (FATE 1.x `RawIntersect`): ids travel in plain text.
//!
//! The guest is the join role (FATE's default). With `sync_intersect_ids` (default
//! true) each host learns which of its rows are in the intersection; each party then
//! outputs its own rows in it (`only_output_key` keeps the ids only).
//!
//! Metrics (namespace `train`, name `intersection`): `intersect_count` and
//! `intersect_rate` (count / this party's rows), as FATE logs them.

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{read_first_input, write_rows};
use fateflow_crypto::psi::ecdh::{EcdhParty, EcdhPoint};
use fateflow_domain::module::Kind::{Any, Bool, Int, Object, Str};
use fateflow_domain::module::{param, when, Condition, ModuleSchema, Param, OBJ};
use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use fateflow_tables::{Frame, TableId};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// FATE 1.11's `Intersection` parameters.
const INTERSECTION_PARAMS: &[Param] = &[
    param("intersect_method", Str, "\"rsa\"", true),
    param("random_bit", Any, "128", false),
    param("sync_intersect_ids", Bool, "true", true),
    param("join_role", Str, "\"guest\"", true),
    param("with_encode", Any, "false", false),
    param("encode_params", Object, OBJ, false),
    param("encode_params.salt", Any, "\"\"", false),
    param("encode_params.encode_method", Any, "\"none\"", false),
    param("encode_params.base64", Any, "false", false),
    param("raw_params", Object, OBJ, true),
    param("raw_params.use_hash", Any, "false", true),
    param("raw_params.salt", Any, "\"\"", false),
    param("raw_params.hash_method", Any, "\"none\"", false),
    param("raw_params.base64", Any, "false", false),
    param("raw_params.join_role", Any, "\"guest\"", true),
    param("rsa_params", Object, OBJ, true),
    param("rsa_params.salt", Any, "\"\"", false),
    param("rsa_params.hash_method", Str, "\"sha256\"", false),
    param("rsa_params.final_hash_method", Str, "\"sha256\"", false),
    param("rsa_params.split_calculation", Any, "false", false),
    param("rsa_params.random_base_fraction", Any, "null", false),
    param("rsa_params.key_length", Int, "2048", true),
    param("rsa_params.random_bit", Any, "128", false),
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
    param("run_cache", Bool, "false", false),
    param("repeated_id_process", Any, "false", false),
    param("repeated_id_owner", Any, "\"guest\"", false),
    param("allow_info_share", Any, "false", false),
    param("info_owner", Any, "\"guest\"", false),
    param("with_sample_id", Any, "false", false),
    param("join_method", Str, "\"inner_join\"", false),
    param("new_sample_id", Bool, "false", false),
    param("dh_params", Object, OBJ, false),
    param("dh_params.salt", Any, "\"\"", false),
    param("dh_params.hash_method", Any, "\"sha256\"", false),
    param("dh_params.key_length", Any, "2048", false),
    param("cardinality_only", Bool, "false", false),
    param("sync_cardinality", Bool, "false", false),
    param("cardinality_method", Any, "\"ecdh\"", false),
    param("run_preprocess", Bool, "false", false),
    param("intersect_preprocess_params", Object, OBJ, false),
    param(
        "intersect_preprocess_params.false_positive_rate",
        Any,
        "0.001",
        false,
    ),
    param(
        "intersect_preprocess_params.encrypt_method",
        Any,
        "\"rsa\"",
        false,
    ),
    param(
        "intersect_preprocess_params.hash_method",
        Any,
        "\"sha256\"",
        false,
    ),
    param(
        "intersect_preprocess_params.preprocess_method",
        Any,
        "\"sha256\"",
        false,
    ),
    param(
        "intersect_preprocess_params.preprocess_salt",
        Any,
        "\"\"",
        false,
    ),
    param(
        "intersect_preprocess_params.random_state",
        Any,
        "null",
        false,
    ),
    param(
        "intersect_preprocess_params.filter_owner",
        Any,
        "\"guest\"",
        false,
    ),
    param("ecdh_params", Object, OBJ, false),
    param("ecdh_params.salt", Any, "\"\"", false),
    param("ecdh_params.hash_method", Str, "\"sha256\"", false),
    param("ecdh_params.curve", Str, "\"curve25519\"", false),
    param("need_run", Bool, "true", true),
];

const INTERSECTION_CONDITIONS: &[Condition] = &[
    when("rsa_params", "intersect_method", &["rsa"]),
    when("dh_params", "intersect_method", &["dh"]),
    when("ecdh_params", "intersect_method", &["ecdh"]),
    when("raw_params", "intersect_method", &["raw"]),
    when("intersect_preprocess_params", "run_preprocess", &["true"]),
    when("cardinality_method", "cardinality_only", &["true"]),
    when("sync_cardinality", "cardinality_only", &["true"]),
];

const INTERSECTION_SUPPORTED: &[(&str, &[&str])] = &[
    ("intersect_method", &["rsa", "ecdh", "raw"]),
    ("join_role", &["guest"]),
    ("raw_params.join_role", &["guest"]),
];

/// `Intersection`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "Intersection",
    params: &[INTERSECTION_PARAMS],
    conditions: INTERSECTION_CONDITIONS,
    supported: INTERSECTION_SUPPORTED,
};

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct Intersection;

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntersectParam {
    /// `intersect_method`, lower-cased.
    method: String,
    sync: bool,
    only_output_key: bool,
    /// `rsa_params.key_length`: the host's RSA key.
    key_length: u32,
}

impl IntersectParam {
    /// Parses the parameters, with the schema's defaults.
    pub(crate) fn parse(map: &serde_json::Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let method = p.get_str("intersect_method")?.to_ascii_lowercase();
        let raw_params = p.object_or_empty("raw_params")?;
        // `raw_params.join_role`, when given, is the one FATE's raw intersection reads.
        let top_join_role = p.get_str("join_role")?;
        let join_role = match raw_params.value("join_role") {
            Some(_) => raw_params.get_str("join_role")?,
            None => top_join_role,
        };
        if !join_role.eq_ignore_ascii_case("guest") {
            return Err(Error::Unsupported {
                parameter: "join_role".into(),
                value: join_role.into(),
                supported: "guest".into(),
            });
        }
        if raw_params.get_bool("use_hash")? {
            return Err(Error::Unsupported {
                parameter: "raw_params.use_hash".into(),
                value: "true".into(),
                supported: "false".into(),
            });
        }
        let key_length = p.object_or_empty("rsa_params")?.get_int("key_length")?;
        let key_length = u32::try_from(key_length).map_err(|_| {
            Error::param(
                "rsa_params.key_length",
                format!("expected a number of bits, found {key_length}"),
            )
        })?;
        Ok(IntersectParam {
            method,
            sync: p.get_bool("sync_intersect_ids")?,
            only_output_key: p.get_bool("only_output_key")?,
            key_length,
        })
    }
}

impl Component for Intersection {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = IntersectParam::parse(&ctx.parameters)?;
        let (method, sync) = (param.method.as_str(), param.sync);
        let (id, frame) =
            read_first_input(ctx, "Intersection", &["data", "train_data", "test_data"])?;
        let keep: HashSet<usize> = match method {
            "raw" => raw(ctx, &frame, sync)?,
            "ecdh" => ecdh(ctx, &frame, sync)?,
            "rsa" => rsa(ctx, &frame, sync, param.key_length)?,
            other => {
                return Err(Error::Unsupported {
                    parameter: "intersect_method".into(),
                    value: other.into(),
                    supported: "rsa, ecdh, raw".into(),
                })
            }
        };
        write_output(ctx, &id, &frame, &keep, param.only_output_key, method)
    }
}

fn guest_of(ctx: &TaskContext<'_>) -> Result<Party> {
    ctx.parties_of(Role::Guest)
        .first()
        .copied()
        .ok_or_else(|| Error::param("role", "Intersection needs a guest"))
}

fn hosts_of(ctx: &TaskContext<'_>) -> Result<Vec<Party>> {
    let hosts = ctx.parties_of(Role::Host);
    if hosts.is_empty() {
        return Err(Error::param("role", "Intersection needs at least one host"));
    }
    Ok(hosts)
}

/// Plain ids: hosts send theirs to the guest, the guest sends back the intersection.
fn raw(ctx: &TaskContext<'_>, frame: &Frame, sync: bool) -> Result<HashSet<usize>> {
    let fed = ctx.federation()?;
    let tag = "intersect";
    let position: HashMap<&str, usize> = frame
        .sids()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    match ctx.role {
        Role::Guest => {
            let hosts = hosts_of(ctx)?;
            let mut common: HashSet<&str> = position.keys().copied().collect();
            for host in &hosts {
                let ids: Vec<String> = fed.get("host_ids", tag, *host)?;
                ctx.tracker
                    .info(&format!("received {} ids from {host}", ids.len()));
                let theirs: HashSet<&str> = ids.iter().map(String::as_str).collect();
                common.retain(|i| theirs.contains(i));
            }
            if sync {
                let mut ids: Vec<&str> = common.iter().copied().collect();
                ids.sort_unstable();
                fed.remote("intersect_ids", tag, &ids, &hosts)?;
            }
            Ok(common.iter().map(|s| position[s]).collect())
        }
        Role::Host => {
            let guest = guest_of(ctx)?;
            let mut ids: Vec<&str> = frame.sids().iter().map(String::as_str).collect();
            ids.sort_unstable();
            fed.remote("host_ids", tag, &ids, &[guest])?;
            if !sync {
                // Without sync the host learns nothing and keeps its rows (FATE's behaviour).
                return Ok((0..frame.nrows()).collect());
            }
            let ids: Vec<String> = fed.get("intersect_ids", tag, guest)?;
            Ok(ids
                .iter()
                .filter_map(|s| position.get(s.as_str()).copied())
                .collect())
        }
        other => Err(Error::param(
            "role",
            format!("Intersection does not run at {other}"),
        )),
    }
}

fn points_to_bytes(points: &[EcdhPoint]) -> Vec<u8> {
    points.iter().flat_map(|p| p.0).collect()
}

fn bytes_to_points(name: &str, from: Party, bytes: &[u8]) -> Result<Vec<EcdhPoint>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(Error::param(
            name,
            format!(
                "{from} sent {} bytes, not a whole number of 32-byte points",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut p = [0u8; 32];
            p.copy_from_slice(c);
            EcdhPoint(p)
        })
        .collect())
}

/// ECDH PSI. For each host: the guest sends `a·H(x)`, the host sends `b·H(y)` and
/// returns `b·a·H(x)` in the guest's order; the guest computes `a·b·H(y)` and matches.
/// With sync, the guest tells each host the positions in the host's own list that are
/// in the final intersection.
fn ecdh(ctx: &TaskContext<'_>, frame: &Frame, sync: bool) -> Result<HashSet<usize>> {
    let fed = ctx.federation()?;
    let tag = "ecdh";
    let me = EcdhParty::new();
    let mine = me.encrypt_ids(frame.sids());
    let bad_point = |e: fateflow_crypto::Error| Error::param("ecdh", e.to_string());
    match ctx.role {
        Role::Guest => {
            let hosts = hosts_of(ctx)?;
            fed.remote_bytes("guest_first", tag, &points_to_bytes(&mine), &hosts)?;
            let mut common: HashSet<usize> = (0..frame.nrows()).collect();
            let mut pairs_per_host = Vec::new();
            for host in &hosts {
                let theirs = bytes_to_points(
                    "host_first",
                    *host,
                    &fed.get_bytes("host_first", tag, *host)?,
                )?;
                let theirs_double = me.reencrypt(&theirs).map_err(bad_point)?;
                let mine_double = bytes_to_points(
                    "guest_second",
                    *host,
                    &fed.get_bytes("guest_second", tag, *host)?,
                )?;
                if mine_double.len() != mine.len() {
                    return Err(Error::param(
                        "guest_second",
                        format!(
                            "{host} returned {} points for {} ids",
                            mine_double.len(),
                            mine.len()
                        ),
                    ));
                }
                let pairs = fateflow_crypto::psi::intersect(&mine_double, &theirs_double);
                ctx.tracker.info(&format!(
                    "{} of our {} ids are also at {host}",
                    pairs.len(),
                    mine.len()
                ));
                let here: HashSet<usize> = pairs.iter().map(|(i, _)| *i).collect();
                common.retain(|i| here.contains(i));
                pairs_per_host.push((*host, pairs));
            }
            finish_guest(fed, tag, common, pairs_per_host, sync)
        }
        Role::Host => {
            let guest = guest_of(ctx)?;
            fed.remote_bytes("host_first", tag, &points_to_bytes(&mine), &[guest])?;
            let guest_first = bytes_to_points(
                "guest_first",
                guest,
                &fed.get_bytes("guest_first", tag, guest)?,
            )?;
            let again = me.reencrypt(&guest_first).map_err(bad_point)?;
            fed.remote_bytes("guest_second", tag, &points_to_bytes(&again), &[guest])?;
            finish_host(fed, tag, guest, frame.nrows(), sync)
        }
        other => Err(Error::param(
            "role",
            format!("Intersection does not run at {other}"),
        )),
    }
}

/// The guest's last step: with sync, tell each host the positions in its own list
/// that are in the final intersection.
fn finish_guest(
    fed: &dyn fateflow_federation::Federation,
    tag: &str,
    common: HashSet<usize>,
    pairs_per_host: Vec<(Party, Vec<(usize, usize)>)>,
    sync: bool,
) -> Result<HashSet<usize>> {
    if sync {
        for (host, pairs) in pairs_per_host {
            let positions: Vec<usize> = pairs
                .iter()
                .filter(|(i, _)| common.contains(i))
                .map(|(_, j)| *j)
                .collect();
            fed.remote("intersect_positions", tag, &positions, &[host])?;
        }
    }
    Ok(common)
}

/// The host's last step: its rows in the intersection.
fn finish_host(
    fed: &dyn fateflow_federation::Federation,
    tag: &str,
    guest: Party,
    nrows: usize,
    sync: bool,
) -> Result<HashSet<usize>> {
    if !sync {
        // Without sync the host learns nothing and keeps its rows (FATE's behaviour).
        return Ok((0..nrows).collect());
    }
    let positions: Vec<usize> = fed.get("intersect_positions", tag, guest)?;
    Ok(positions.into_iter().filter(|p| *p < nrows).collect())
}

fn to_hex(values: &[fateflow_crypto::Integer]) -> Vec<String> {
    values.iter().map(|v| v.to_string_radix(16)).collect()
}

fn from_hex(name: &str, from: Party, values: &[String]) -> Result<Vec<fateflow_crypto::Integer>> {
    values
        .iter()
        .map(|h| {
            fateflow_crypto::Integer::from_str_radix(h, 16).map_err(|e| {
                Error::param(
                    name,
                    format!("{from} sent a value that is not hexadecimal: {e}"),
                )
            })
        })
        .collect()
}

/// RSA blind-signature PSI (FATE 1.x's default), guest as the join role.
fn rsa(ctx: &TaskContext<'_>, frame: &Frame, sync: bool, bits: u32) -> Result<HashSet<usize>> {
    use fateflow_crypto::psi::rsa::{RsaBlinder, RsaPublicKey, RsaSigner};
    let fed = ctx.federation()?;
    let tag = "rsa";
    let crypto = |e: fateflow_crypto::Error| Error::param("rsa_params", e.to_string());
    match ctx.role {
        Role::Guest => {
            let hosts = hosts_of(ctx)?;
            let mut common: HashSet<usize> = (0..frame.nrows()).collect();
            let mut pairs_per_host = Vec::new();
            for host in &hosts {
                let public: RsaPublicKey = fed.get("rsa_pubkey", tag, *host)?;
                let blinder = RsaBlinder::new(public);
                let blinded = blinder.blind_ids(frame.sids());
                fed.remote("guest_blinded", tag, &to_hex(blinded.blinded()), &[*host])?;
                let signed: Vec<String> = fed.get("guest_signed", tag, *host)?;
                let signed = from_hex("guest_signed", *host, &signed)?;
                let mine = blinder.unblind(&blinded, &signed).map_err(crypto)?;
                let theirs: Vec<String> = fed.get("host_signed_ids", tag, *host)?;
                let pairs = fateflow_crypto::psi::intersect(&mine, &theirs);
                ctx.tracker.info(&format!(
                    "{} of our {} ids are also at {host}",
                    pairs.len(),
                    mine.len()
                ));
                let here: HashSet<usize> = pairs.iter().map(|(i, _)| *i).collect();
                common.retain(|i| here.contains(i));
                pairs_per_host.push((*host, pairs));
            }
            finish_guest(fed, tag, common, pairs_per_host, sync)
        }
        Role::Host => {
            let guest = guest_of(ctx)?;
            let signer = RsaSigner::generate(bits)
                .map_err(|e| Error::param("rsa_params.key_length", e.to_string()))?;
            fed.remote("rsa_pubkey", tag, signer.public_key(), &[guest])?;
            let blinded: Vec<String> = fed.get("guest_blinded", tag, guest)?;
            let blinded = from_hex("guest_blinded", guest, &blinded)?;
            let signed = signer.sign_blinded(&blinded).map_err(crypto)?;
            fed.remote("guest_signed", tag, &to_hex(&signed), &[guest])?;
            let mine = signer.sign_ids(frame.sids()).map_err(crypto)?;
            fed.remote("host_signed_ids", tag, &mine, &[guest])?;
            finish_host(fed, tag, guest, frame.nrows(), sync)
        }
        other => Err(Error::param(
            "role",
            format!("Intersection does not run at {other}"),
        )),
    }
}

/// Writes this party's rows at the kept positions, and the count/rate metric.
fn write_output(
    ctx: &TaskContext<'_>,
    id: &TableId,
    frame: &Frame,
    keep: &HashSet<usize>,
    only_key: bool,
    method: &str,
) -> Result<()> {
    let rows: Vec<(usize, String)> = frame
        .sids()
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(i, sid)| (i, sid.clone()))
        .collect();
    let count = rows.len();
    let data_name = ctx.first_output_data_name("data").to_string();
    write_rows(ctx, id, frame, &rows, only_key, &data_name)?;
    let total = frame.nrows();
    let rate = if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    };
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: "intersection".into(),
        data: vec![(json!("intersect_count"), json!(count)), (json!("intersect_rate"), json!(rate))],
        meta: json!({"metric_type": "INTERSECTION", "intersect_method": method, "join_role": "guest"}),
    })?;
    ctx.tracker.set_summary(
        json!({"intersect_num": count, "intersect_rate": rate, "cardinality_only": false}),
    )?;
    ctx.tracker.info(&format!(
        "intersection ({method}): {count} of {total} rows kept"
    ));
    Ok(())
}

//! `SecureInformationRetrieval`: the guest (querier) retrieves the host's values for its
//! own ids, without the host learning which ids the guest asked for.
//!
//! FATE registered this module up to 1.11.3 (1.11.4 dropped it); it is kept here.
//! Parameters and defaults are FATE's `SecureInformationRetrievalParam`:
//! `security_level` (0.5, in [0, 1]), `oblivious_transfer_protocol` (`OT_Hauck`, the
//! only one), `commutative_encryption` (`CommutativeEncryptionPohligHellman`, the only
//! one), `non_committing_encryption` (`aes`, the only one), `dh_params` (`salt`,
//! `hash_method`, `key_length`; the deprecated `key_size` overrides `key_length`),
//! `raw_retrieval` (deprecated: same as `security_level` 0) and `target_cols` (host
//! columns to retrieve; none: the host's label).
//!
//! - Raw (`security_level` 0): the guest sends its ids, the host answers the values of
//!   those it has.
//! - Otherwise, with `N = ceil(2·exp(ln 500 · security_level))` blocks: both parties'
//!   ids are encrypted by both (Pohlig–Hellman over the `key_length`-bit MODP group, as
//!   the DH intersection), so the guest learns which host rows are its ids and nothing
//!   else; it hides those rows as block `c` among `N − 1` blocks of as many random host
//!   rows and sends the blocks (as the host's row positions: the host knows which rows
//!   each block names, not which block is the real one). A 1-out-of-N oblivious
//!   transfer (Hauck–Loss, `fateflow_crypto::ot`) gives the host `N` keys and the
//!   guest key `c` only; the host sends every block's values under its key (AES-256-GCM,
//!   a fresh nonce per block), and the guest opens block `c`.
//!
//! Output at the guest: its rows with the retrieved columns (`target_cols`), or one
//! label column `retrieved_value` (label mode); a row the host does not have gets NaN
//! (FATE writes the text `"unretrieved"`; tables here hold numbers). The host passes its
//! table on. Model (FATE's `SecureInformationRetrievalMeta` / `Param`: coverage, block
//! number), metric `train/sir` (`INTERSECTION`: `Coverage`, `Block number`), summary.
//! Both tables are held in memory (FATE's example retrieves 2 columns of 569 rows).

use std::collections::HashMap;

use fateflow_crypto::psi::dh::{DhGroup, DhParty};
use fateflow_crypto::psi::HashMethod;
use fateflow_domain::module::Kind::{Any, Bool, Int, Number, Object, Str};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param, OBJ};
use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, ComponentModel, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::rng::SplitMix;
use crate::table_io::{copy_as_output, read_first_input};

/// The module name.
pub const MODULE: &str = "SecureInformationRetrieval";

const SIR_PARAMS: &[Param] = &[
    param("security_level", Number, "0.5", true),
    param("oblivious_transfer_protocol", Str, "\"OT_Hauck\"", true),
    param(
        "commutative_encryption",
        Str,
        "\"CommutativeEncryptionPohligHellman\"",
        true,
    ),
    param("non_committing_encryption", Str, "\"aes\"", true),
    // Deprecated; only a given value counts (it overrides dh_params.key_length), as FATE.
    param("key_size", Int, "null", true),
    param("dh_params", Object, OBJ, true),
    param("dh_params.salt", Str, "\"\"", true),
    param("dh_params.hash_method", Str, "\"sha256\"", true),
    param("dh_params.key_length", Int, "2048", true),
    param("raw_retrieval", Bool, "false", true),
    param("target_cols", Any, "null", true),
    param("need_run", Bool, "true", true),
];

/// `SecureInformationRetrieval`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[SIR_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The label column of label-mode output.
const RETRIEVED: &str = "retrieved_value";

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SirParam {
    /// `security_level`.
    pub security_level: f64,
    /// Raw retrieval (`security_level` 0 or `raw_retrieval`).
    pub raw: bool,
    /// `dh_params.key_length` (or the deprecated `key_size`).
    pub key_length: u32,
    /// `dh_params.salt`.
    pub salt: String,
    /// `dh_params.hash_method`.
    pub hash: HashMethod,
    /// Host columns to retrieve; empty: the label.
    pub target_cols: Vec<String>,
}

impl SirParam {
    /// Parses the parameters with FATE's checks, naming the field in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<SirParam> {
        let p = Params::with_schema(map, &SCHEMA);
        let security_level = p.get_float("security_level")?;
        if !(0.0..=1.0).contains(&security_level) {
            return Err(Error::param(
                "security_level",
                format!("expected a number between 0 and 1, found {security_level}"),
            ));
        }
        for (key, only) in [
            ("oblivious_transfer_protocol", "ot_hauck"),
            (
                "commutative_encryption",
                "commutativeencryptionpohlighellman",
            ),
            ("non_committing_encryption", "aes"),
        ] {
            let v = p.get_str(key)?;
            if v.to_ascii_lowercase() != only {
                return Err(Error::param(
                    key,
                    format!(
                        "`{v}` is not supported; FATE's only value is {}",
                        p.schema_default(key)
                    ),
                ));
            }
        }
        let dh = p.object_or_empty("dh_params")?;
        let mut key_length = dh.int("key_length", 2048)?;
        if p.value("key_size").is_some_and(|v| !v.is_null()) {
            key_length = p.get_int("key_size")?;
        }
        if key_length < 1024 {
            return Err(Error::param(
                "dh_params.key_length",
                format!("expected at least 1024 bits, found {key_length}"),
            ));
        }
        let hash_name = dh.str("hash_method", "sha256")?;
        let hash = HashMethod::from_name(hash_name).ok_or_else(|| {
            Error::param(
                "dh_params.hash_method",
                format!("unknown hash method `{hash_name}`"),
            )
        })?;
        let target_cols = match p.value("target_cols") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::param(
                            "target_cols",
                            format!("expected column names, found {}", describe_value(v)),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            Some(v) => {
                return Err(Error::param(
                    "target_cols",
                    format!("expected column names, found {}", describe_value(v)),
                ))
            }
        };
        Ok(SirParam {
            security_level,
            raw: security_level == 0.0 || p.get_bool("raw_retrieval")?,
            key_length: key_length as u32,
            salt: dh.str("salt", "")?.to_owned(),
            hash,
            target_cols,
        })
    }

    /// This party's Pohlig–Hellman cipher over the `key_length`-bit MODP group.
    fn dh_party(&self) -> Result<DhParty> {
        Ok(DhParty::new(DhGroup::modp(self.key_length)?)
            .with_salt(self.salt.clone().into_bytes())
            .with_hash_method(self.hash))
    }

    /// FATE's block number `ceil(2·exp(ln 500 · security_level))`.
    pub fn block_num(&self) -> usize {
        (2.0 * (500f64.ln() * self.security_level).exp()).ceil() as usize
    }
}

/// What the guest tells the host first.
#[derive(Debug, Serialize, Deserialize)]
struct Start {
    /// 0: raw retrieval.
    block_num: usize,
}

/// One block's values under its key.
#[derive(Debug, Serialize, Deserialize)]
struct SealedBlock {
    nonce: [u8; 12],
    sealed: Vec<u8>,
}

fn aead_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key"))
}

/// FATE's `SecureInformationRetrieval`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecureInformationRetrieval;

impl Component for SecureInformationRetrieval {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = SirParam::parse(&ctx.parameters)?;
        match ctx.role {
            Role::Guest => guest(ctx, &param),
            Role::Host => host(ctx, &param),
            other => Err(Error::param(
                "role",
                format!("{MODULE} runs at a guest and a host, not at {other}"),
            )),
        }
    }
}

fn guest(ctx: &TaskContext<'_>, param: &SirParam) -> Result<()> {
    let (id, frame) = read_first_input(ctx, MODULE, &["data"])?;
    let host = *ctx
        .parties_of(Role::Host)
        .first()
        .ok_or_else(|| Error::param("role", format!("{MODULE} needs a host (the data owner)")))?;
    let fed = ctx.federation()?;
    let tag = "sir";
    let block_num = if param.raw { 0 } else { param.block_num() };
    fed.remote("start", tag, &Start { block_num }, &[host])?;
    let width: usize = fed.get("width", tag, host)?;
    // Per guest row: the retrieved values, when the host has the id.
    let mut retrieved: Vec<Option<Vec<f64>>> = vec![None; frame.nrows()];
    if param.raw {
        fed.remote("raw_ids", tag, &frame.sids(), &[host])?;
        let values: Vec<Option<Vec<f64>>> = fed.get("raw_values", tag, host)?;
        if values.len() != frame.nrows() {
            return Err(Error::param(
                "federation",
                format!(
                    "{host} answered {} rows for {} ids",
                    values.len(),
                    frame.nrows()
                ),
            ));
        }
        retrieved = values;
    } else {
        let dh = param.dh_party()?;
        // Both id lists encrypted by both parties.
        let mine = dh.encrypt_ids(frame.sids());
        fed.remote_bytes("guest_ids", tag, &dh.to_bytes(&mine), &[host])?;
        let mine_double = dh.from_bytes(&fed.get_bytes("guest_ids_double", tag, host)?)?;
        let host_single = dh.from_bytes(&fed.get_bytes("host_ids", tag, host)?)?;
        let host_double = dh.reencrypt(&host_single)?;
        if mine_double.len() != frame.nrows() {
            return Err(Error::param(
                "federation",
                format!(
                    "{host} re-encrypted {} ids of {}",
                    mine_double.len(),
                    frame.nrows()
                ),
            ));
        }
        let host_row: HashMap<&fateflow_crypto::Integer, usize> = host_double
            .iter()
            .enumerate()
            .map(|(j, v)| (v, j))
            .collect();
        // (guest row, host row) of the common ids, in the guest's order.
        let common: Vec<(usize, usize)> = mine_double
            .iter()
            .enumerate()
            .filter_map(|(i, v)| host_row.get(v).map(|&j| (i, j)))
            .collect();
        if common.is_empty() {
            return Err(Error::param(
                "data",
                format!("{id} and {host}'s table have no id in common; nothing to retrieve"),
            ));
        }
        // The real block hidden among decoys of as many random host rows.
        let random = |bound: usize| {
            (fateflow_crypto::random_integer(64) % bound as u64)
                .to_usize()
                .unwrap_or(0)
        };
        let target = random(block_num);
        let mut rng = SplitMix::seeded(Some(random(usize::MAX) as u64));
        let blocks: Vec<Vec<u32>> = (0..block_num)
            .map(|b| {
                if b == target {
                    common.iter().map(|&(_, j)| j as u32).collect()
                } else {
                    (0..common.len())
                        .map(|_| rng.below(host_single.len()) as u32)
                        .collect()
                }
            })
            .collect();
        fed.remote("blocks", tag, &blocks, &[host])?;
        let s: [u8; 32] = fed.get("ot_s", tag, host)?;
        let (r, key) = fateflow_crypto::ot::receive(&s, target as u32)?;
        fed.remote("ot_r", tag, &r, &[host])?;
        let sealed: Vec<SealedBlock> = fed.get("sealed_blocks", tag, host)?;
        let block = sealed.get(target).ok_or_else(|| {
            Error::param(
                "federation",
                format!("{host} sent {} of {block_num} blocks", sealed.len()),
            )
        })?;
        let mut buf = block.sealed.clone();
        let plain = aead_key(&key)
            .open_in_place(
                Nonce::assume_unique_for_key(block.nonce),
                Aad::empty(),
                &mut buf,
            )
            .map_err(|_| {
                Error::param(
                    "federation",
                    format!("the block {host} sent does not open with the transferred key"),
                )
            })?;
        let values: Vec<f64> = plain
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        if values.len() != common.len() * width {
            return Err(Error::param(
                "federation",
                format!(
                    "{host}'s block holds {} values for {} rows of {width}",
                    values.len(),
                    common.len()
                ),
            ));
        }
        for (k, &(i, _)) in common.iter().enumerate() {
            retrieved[i] = Some(values[k * width..(k + 1) * width].to_vec());
        }
    }
    let count = retrieved.iter().filter(|r| r.is_some()).count();
    let coverage = count as f64 / frame.nrows().max(1) as f64;
    fed.remote("coverage", tag, &count, &[host])?;
    let (columns, label) = if param.target_cols.is_empty() {
        (vec![RETRIEVED.to_string()], true)
    } else {
        (param.target_cols.clone(), false)
    };
    let values: Vec<f64> = retrieved
        .iter()
        .flat_map(|r| match r {
            Some(v) => v.clone(),
            None => vec![f64::NAN; width],
        })
        .collect();
    let mut out =
        fateflow_tables::Frame::new(frame.sid_name(), columns, frame.sids().to_vec(), values)
            .map_err(|e| Error::table(&id, e))?;
    if label {
        out = out
            .with_label(RETRIEVED)
            .map_err(|e| Error::table(&id, e))?;
    }
    crate::table_io::write_output_frame(ctx, &out)?;
    finish(ctx, param, coverage, block_num, count, frame.nrows())
}

fn host(ctx: &TaskContext<'_>, param: &SirParam) -> Result<()> {
    let (id, frame) = read_first_input(ctx, MODULE, &["data"])?;
    let guest = *ctx
        .parties_of(Role::Guest)
        .first()
        .ok_or_else(|| Error::param("role", format!("{MODULE} needs a guest (the querier)")))?;
    let fed = ctx.federation()?;
    let tag = "sir";
    let start: Start = fed.get("start", tag, guest)?;
    // The columns served: the targets, or the label.
    let cols: Vec<usize> = if param.target_cols.is_empty() {
        let label = frame
            .label_name()
            .and_then(|l| frame.column_index(l))
            .ok_or_else(|| Error::MissingColumn {
                table: id.to_string(),
                column: "label".into(),
                why: "target_cols is empty, so the guest retrieves the host's label (DataTransform with `with_label: true` at the host)".into(),
            })?;
        vec![label]
    } else {
        param
            .target_cols
            .iter()
            .map(|c| {
                frame.column_index(c).ok_or_else(|| Error::MissingColumn {
                    table: id.to_string(),
                    column: c.clone(),
                    why: format!(
                        "target_cols names it; the table's columns are {}",
                        frame.columns().join(", ")
                    ),
                })
            })
            .collect::<Result<_>>()?
    };
    fed.remote("width", tag, &cols.len(), &[guest])?;
    let row_values = |r: usize| -> Vec<f64> { cols.iter().map(|&c| frame.get(r, c)).collect() };
    if start.block_num == 0 {
        let ids: Vec<String> = fed.get("raw_ids", tag, guest)?;
        let row_of: HashMap<&str, usize> = frame
            .sids()
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let values: Vec<Option<Vec<f64>>> = ids
            .iter()
            .map(|s| row_of.get(s.as_str()).map(|&r| row_values(r)))
            .collect();
        fed.remote("raw_values", tag, &values, &[guest])?;
    } else {
        if start.block_num > 10_000 {
            return Err(Error::param(
                "security_level",
                format!("{guest} asked for {} blocks", start.block_num),
            ));
        }
        let dh = param.dh_party()?;
        let guest_single = dh.from_bytes(&fed.get_bytes("guest_ids", tag, guest)?)?;
        fed.remote_bytes(
            "guest_ids_double",
            tag,
            &dh.to_bytes(&dh.reencrypt(&guest_single)?),
            &[guest],
        )?;
        let mine = dh.encrypt_ids(frame.sids());
        fed.remote_bytes("host_ids", tag, &dh.to_bytes(&mine), &[guest])?;
        let blocks: Vec<Vec<u32>> = fed.get("blocks", tag, guest)?;
        if blocks.len() != start.block_num {
            return Err(Error::param(
                "federation",
                format!(
                    "{guest} sent {} blocks, announced {}",
                    blocks.len(),
                    start.block_num
                ),
            ));
        }
        let sender = fateflow_crypto::ot::OtSender::new();
        fed.remote("ot_s", tag, &sender.first_message(), &[guest])?;
        let r: [u8; 32] = fed.get("ot_r", tag, guest)?;
        let keys = sender.keys(&r, blocks.len() as u32)?;
        let rng = ring::rand::SystemRandom::new();
        let sealed: Vec<SealedBlock> = blocks
            .iter()
            .zip(&keys)
            .map(|(block, key)| {
                let mut plain = Vec::with_capacity(block.len() * cols.len() * 8);
                for &j in block {
                    let j = j as usize;
                    if j >= frame.nrows() {
                        return Err(Error::param(
                            "federation",
                            format!("{guest} named row {j} of {} rows", frame.nrows()),
                        ));
                    }
                    for v in row_values(j) {
                        plain.extend_from_slice(&v.to_le_bytes());
                    }
                }
                let mut nonce = [0u8; 12];
                ring::rand::SecureRandom::fill(&rng, &mut nonce)
                    .map_err(|_| Error::param("nonce", "the OS random source failed"))?;
                aead_key(key)
                    .seal_in_place_append_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::empty(),
                        &mut plain,
                    )
                    .map_err(|_| Error::param("aes", "sealing a block failed"))?;
                Ok(SealedBlock {
                    nonce,
                    sealed: plain,
                })
            })
            .collect::<Result<_>>()?;
        fed.remote("sealed_blocks", tag, &sealed, &[guest])?;
    }
    let count: usize = fed.get("coverage", tag, guest)?;
    // The host's table passes on.
    let info = ctx.tables.info(&id).map_err(|e| Error::table(&id, e))?;
    copy_as_output(ctx, &id, &info, frame.nrows() as u64)?;
    let coverage = count as f64 / frame.nrows().max(1) as f64;
    finish(ctx, param, coverage, start.block_num, count, frame.nrows())
}

/// FATE's model, metric and a summary.
fn finish(
    ctx: &TaskContext<'_>,
    param: &SirParam,
    coverage: f64,
    block_num: usize,
    count: usize,
    rows: usize,
) -> Result<()> {
    let blocks = if block_num == 0 {
        json!("N/A")
    } else {
        json!(block_num)
    };
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: "sir".into(),
        data: vec![
            (json!("Coverage"), json!(coverage)),
            (json!("Block number"), blocks.clone()),
        ],
        meta: json!({"metric_type": "INTERSECTION"}),
    })?;
    ctx.tracker.set_summary(json!({
        "coverage": coverage, "block_num": blocks, "retrieved": count, "rows": rows
    }))?;
    ctx.tracker.info(&format!(
        "{MODULE}: {count} of {rows} rows retrieved ({}), coverage {coverage:.4}",
        if block_num == 0 {
            "raw".to_string()
        } else {
            format!("{block_num} blocks")
        }
    ));
    let model = ComponentModel::from_parts(
        MODULE,
        &json!({"coverage": coverage, "block_num": block_num}),
        &json!({
            "security_level": param.security_level,
            "oblivious_transfer_protocol": "ot_hauck",
            "commutative_encryption": "commutativeencryptionpohlighellman",
            "non_committing_encryption": "aes",
            "key_size": param.key_length,
            "raw_retrieval": param.raw,
        }),
    );
    ctx.tracker
        .save_model(ctx.first_output_model_name("model"), &model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_fate() {
        let p = SirParam::parse(json!({}).as_object().unwrap()).unwrap();
        assert_eq!(p.block_num(), 45);
        assert!(!p.raw);
        assert_eq!(p.key_length, 2048);
        let p = SirParam::parse(
            json!({"security_level": 0, "oblivious_transfer_protocol": "ot_hauck",
                   "dh_params": {"key_length": 1024}, "target_cols": "x0"})
            .as_object()
            .unwrap(),
        )
        .unwrap();
        assert!(p.raw);
        assert_eq!(p.target_cols, vec!["x0"]);
        for (bad, key) in [
            (json!({"security_level": 1.5}), "security_level"),
            (
                json!({"oblivious_transfer_protocol": "OT_Naor"}),
                "oblivious_transfer_protocol",
            ),
            (
                json!({"non_committing_encryption": "des"}),
                "non_committing_encryption",
            ),
            (json!({"dh_params": {"key_length": 512}}), "key_length"),
            (json!({"target_cols": [1]}), "target_cols"),
        ] {
            let e = SirParam::parse(bad.as_object().unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}

#[cfg(test)]
mod run_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::transform;
    use fateflow_component_core::testing::{
        context, frame, rows, temp_store, upload, MemoryHub, RecordingTracker,
    };

    /// The guest retrieves the host's columns (or label) for its ids, raw and through
    /// the blocks and the oblivious transfer; ids the host lacks get NaN.
    #[test]
    fn the_guest_retrieves_the_hosts_values_for_its_ids() {
        let (_dir, store) = temp_store();
        let guest_raw = upload(&store, "sg", "id,a\nk1,0\nk2,0\nk9,0\nk4,0\n");
        let host_raw = upload(
            &store,
            "sh",
            "id,y,x0,x3\nk1,1,0.5,-1\nk2,0,1.5,2\nk3,1,9,9\nk4,1,-4,0.25\nk5,0,7,7\n",
        );
        let (t, r) = transform(&store, "dt_0", &host_raw, json!({"with_label": true}), None);
        r.unwrap();
        let host_table = t.output_data().pop().unwrap().1;
        for params in [
            json!({"security_level": 0, "target_cols": ["x0", "x3"]}),
            json!({"security_level": 0.3, "dh_params": {"key_length": 1024}, "target_cols": ["x0", "x3"]}),
            json!({"security_level": 0.3, "dh_params": {"key_length": 1024}}),
        ] {
            let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
            let roles = BTreeMap::from([(Role::Guest, vec![9999]), (Role::Host, vec![9998])]);
            let trackers = [RecordingTracker::new(), RecordingTracker::new()];
            let results: Vec<Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = [
                    (Role::Guest, 9999, &guest_raw),
                    (Role::Host, 9998, &host_table),
                ]
                .into_iter()
                .zip(&trackers)
                .map(|((role, id, table), tracker)| {
                    let fed = hub.party(role, id);
                    let (roles, params, store) = (roles.clone(), params.clone(), &store);
                    s.spawn(move || {
                        let mut ctx = context("sir_0", MODULE, params, store, tracker);
                        ctx.role = role;
                        ctx.party_id = id;
                        ctx.roles = roles;
                        ctx.federation = Some(&fed);
                        ctx.inputs.data.insert("data".into(), vec![table.clone()]);
                        SecureInformationRetrieval.run(&ctx)
                    })
                })
                .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for r in &results {
                assert!(r.is_ok(), "{params}: {r:?}");
            }
            let out = frame(&store, &trackers[0].output_data().pop().unwrap().1);
            let got = rows(&out);
            if params.get("target_cols").is_some() {
                assert_eq!(out.columns(), ["x0", "x3"]);
                assert_eq!(got["k1"], [0.5, -1.0], "{params}");
                assert_eq!(got["k4"], [-4.0, 0.25], "{params}");
                assert!(got["k9"].iter().all(|v| v.is_nan()), "{params}");
            } else {
                assert_eq!(out.label_name(), Some(RETRIEVED));
                assert_eq!(got["k2"], [0.0]);
                assert_eq!(got["k4"], [1.0]);
            }
            let summary = trackers[0].summary().unwrap();
            assert_eq!(summary["retrieved"], 3, "{params}: {summary}");
        }
    }
}

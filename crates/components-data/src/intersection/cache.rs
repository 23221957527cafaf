//! Intersection caches (FATE's `run_cache`) and intersections that use one (`input.cache`).
//!
//! A cache run does the offline half of the protocol once and keeps, at each party, what
//! a later intersection needs instead of the other side's data:
//! - `rsa`: the host keeps its private key and its ids with their signatures; the guest
//!   keeps each host's public key and signatures.
//! - `dh`/`ecdh`: each party keeps its secret; the host its ids with their first
//!   encryptions, the guest each host's first encryptions and their double encryptions.
//!
//! Each host draws a cache id that both sides keep; a run with the cache checks that
//! the two sides' cache ids agree, takes the method and its hashing from the cache (as
//! FATE's `load_intersect_meta`), and only the guest's ids travel: with the cached keys
//! the guest's double encryptions (or unblinded signatures) are matched against the
//! cached host values, and with sync the guest returns the matched cached values, which
//! the host maps back to its ids.
//!
//! Storage: a text table (`RowLayout::Text`) written and recorded like output data under
//! the cache's name (the DSL's `output.cache`, `cache` in FATE's examples): one meta row (sid `m:`, a JSON [`CacheMeta`], holding the
//! secret keys: the table is as sensitive as a key file), then rows `h:<id>` → value (a
//! host's own ids) or `g:<host party id>:<n>` → `<match value> <reply value>` (a guest's
//! view of one host). A run with a cache reads it from the data input `cache` (where the
//! scheduler puts a task's `input.cache`); [`super::cache_loader`] brings another job's.

use super::commutative::{Cipher, Dh, Ecdh};
use super::param::{IntersectParam, Method};
use super::{finish_guest, guest_of, hosts_of, Found, Goal};
use crate::context::{TableRef, TaskContext};
use crate::error::{Error, Result};
use fateflow_crypto::psi::dh::{DhGroup, DhParty};
use fateflow_crypto::psi::ecdh::EcdhParty;
use fateflow_crypto::psi::rsa::{RsaBlinder, RsaHashing, RsaPublicKey, RsaSigner};
use fateflow_crypto::psi::HashMethod;
use fateflow_crypto::Integer;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use fateflow_tables::{RowLayout, TableId, TableInfo, TableSchema, WriteMode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The cache's output name in FATE's examples.
pub(crate) const CACHE_NAME: &str = "cache";
const KIND: &str = "fateflow-intersection-cache";
const VERSION: u32 = 1;
const META_SID: &str = "m:";
const TAG: &str = "cache";

/// What a cache keeps besides its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CacheMeta {
    kind: String,
    version: u32,
    /// `rsa`, `dh` or `ecdh`.
    method: String,
    /// The role of the party that wrote it.
    role: Role,
    hash_method: String,
    final_hash_method: String,
    salt: String,
    /// `dh`: the group's bits.
    key_length: u32,
    /// `rsa`: the blinding factors' bits.
    random_bit: u32,
    /// This party's secret: `secret` (dh, ecdh), or `p`, `q`, `e` (an rsa host), hex.
    secret: BTreeMap<String, String>,
    /// Per other party (`host:10000`): its cache id, and an rsa host's `n` and `e`.
    parties: BTreeMap<String, BTreeMap<String, String>>,
}

fn hex_int(name: &str, h: &str) -> Result<Integer> {
    Integer::from_str_radix(h, 16)
        .map_err(|e| Error::param(CACHE_NAME, format!("{name} in the cache is not hex: {e}")))
}

fn corrupt(why: impl Into<String>) -> Error {
    Error::param(
        CACHE_NAME,
        format!("not a usable intersection cache: {}", why.into()),
    )
}

fn random_cache_id() -> String {
    format!("{:032x}", fateflow_crypto::random_integer(128))
}

impl CacheMeta {
    fn new(p: &IntersectParam, role: Role) -> Self {
        let (hash, final_hash, salt) = match p.method {
            Method::Rsa => (p.rsa.hash, p.rsa.final_hash, p.rsa.salt.clone()),
            Method::Dh => (p.dh.hash, p.dh.hash, p.dh.salt.clone()),
            Method::Ecdh => (p.ecdh.hash, p.ecdh.hash, p.ecdh.salt.clone()),
        };
        CacheMeta {
            kind: KIND.into(),
            version: VERSION,
            method: p.method.name().into(),
            role,
            hash_method: hash.name().into(),
            final_hash_method: final_hash.name().into(),
            salt,
            key_length: p.dh.key_length,
            random_bit: p.rsa.random_bit,
            secret: BTreeMap::new(),
            parties: BTreeMap::new(),
        }
    }

    fn hash(&self, which: &str) -> Result<HashMethod> {
        HashMethod::from_name(which).ok_or_else(|| corrupt(format!("hash method `{which}`")))
    }

    fn secret(&self, key: &str) -> Result<Integer> {
        let h = self
            .secret
            .get(key)
            .ok_or_else(|| corrupt(format!("no secret `{key}`")))?;
        hex_int(key, h)
    }

    fn cache_id(&self, party: Party) -> Result<&str> {
        self.parties
            .get(&party.to_string())
            .and_then(|m| m.get("cache_id"))
            .map(String::as_str)
            .ok_or_else(|| corrupt(format!("nothing cached for {party}")))
    }

    fn rsa_hashing(&self) -> Result<RsaHashing> {
        Ok(RsaHashing {
            first: self.hash(&self.hash_method)?,
            last: self.hash(&self.final_hash_method)?,
            salt: self.salt.clone(),
        })
    }

    fn dh(&self) -> Result<Dh> {
        let group = DhGroup::modp(self.key_length).map_err(|e| corrupt(e.to_string()))?;
        let party = DhParty::from_secret(group, self.secret("secret")?)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Dh(party
            .with_hash_method(self.hash(&self.hash_method)?)
            .with_salt(self.salt.as_bytes())))
    }

    fn ecdh(&self) -> Result<Ecdh> {
        let text = self
            .secret
            .get("secret")
            .ok_or_else(|| corrupt("no secret `secret`"))?;
        let mut bytes = [0u8; 32];
        if text.len() != 64 || !text.is_ascii() {
            return Err(corrupt("the ecdh secret is not 32 bytes of hex"));
        }
        for (b, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).unwrap_or("zz");
            *b = u8::from_str_radix(pair, 16).map_err(|_| corrupt("the ecdh secret is not hex"))?;
        }
        let party = EcdhParty::from_secret_bytes(bytes).map_err(|e| corrupt(e.to_string()))?;
        Ok(Ecdh(
            party
                .with_hash_method(self.hash(&self.hash_method)?)
                .with_salt(self.salt.as_bytes()),
        ))
    }
}

/// A cache read back: its meta and rows.
struct Cache {
    meta: CacheMeta,
    /// `h:` rows: value → own id.
    own: HashMap<String, String>,
    /// `g:` rows per host party id: (match value, reply value), in cache order.
    hosts: BTreeMap<u64, Vec<(String, String)>>,
}

/// The method and role of the cache in `table`, read from its meta row (the rows are
/// streamed, not kept).
pub(crate) fn describe(ctx: &TaskContext<'_>, table: &TableRef) -> Result<(String, Role)> {
    let id = table.to_id("cache")?;
    let batches = fateflow_tables::scan_text(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
    for batch in batches {
        let batch = batch.map_err(|e| Error::table(&id, e))?;
        if let Some((_, line)) = batch.into_iter().find(|(sid, _)| sid == META_SID) {
            let m: CacheMeta = serde_json::from_str(&line).map_err(|e| corrupt(e.to_string()))?;
            if m.kind != KIND || m.version != VERSION {
                return Err(corrupt(format!("kind {} version {}", m.kind, m.version)));
            }
            return Ok((m.method, m.role));
        }
    }
    Err(corrupt(format!("table {id} has no meta row")))
}

fn read(ctx: &TaskContext<'_>, table: &TableRef) -> Result<Cache> {
    let id = table.to_id("input.cache")?;
    let mut meta = None;
    let mut own = HashMap::new();
    let mut hosts: BTreeMap<u64, Vec<(u64, String, String)>> = BTreeMap::new();
    let batches = fateflow_tables::scan_text(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
    for batch in batches {
        for (sid, line) in batch.map_err(|e| Error::table(&id, e))? {
            if sid == META_SID {
                let m: CacheMeta =
                    serde_json::from_str(&line).map_err(|e| corrupt(e.to_string()))?;
                meta = Some(m);
            } else if let Some(own_id) = sid.strip_prefix("h:") {
                own.insert(line, own_id.to_owned());
            } else if let Some(rest) = sid.strip_prefix("g:") {
                let (party, n) = rest.split_once(':').ok_or_else(|| corrupt(sid.clone()))?;
                let (m, r) = line.split_once(' ').ok_or_else(|| corrupt(sid.clone()))?;
                let party: u64 = party.parse().map_err(|_| corrupt(sid.clone()))?;
                let n: u64 = n.parse().map_err(|_| corrupt(sid.clone()))?;
                hosts
                    .entry(party)
                    .or_default()
                    .push((n, m.into(), r.into()));
            } else {
                return Err(corrupt(format!("row `{sid}`")));
            }
        }
    }
    let meta = meta.ok_or_else(|| corrupt("no meta row"))?;
    if meta.kind != KIND || meta.version != VERSION {
        return Err(corrupt(format!(
            "kind {} version {}",
            meta.kind, meta.version
        )));
    }
    let hosts = hosts
        .into_iter()
        .map(|(p, mut rows)| {
            rows.sort_unstable_by_key(|(n, _, _)| *n);
            (p, rows.into_iter().map(|(_, m, r)| (m, r)).collect())
        })
        .collect();
    Ok(Cache { meta, own, hosts })
}

/// The name of this task's cache output: the DSL's first `output.cache`, else `cache`.
pub(crate) fn output_name<'c>(ctx: &'c TaskContext<'_>) -> &'c str {
    ctx.output_cache_names
        .first()
        .map(String::as_str)
        .unwrap_or(CACHE_NAME)
}

/// Writes the cache as this task's cache output, in `input`'s partitions.
fn write(
    ctx: &TaskContext<'_>,
    input: &TableId,
    meta: &CacheMeta,
    rows: Vec<(String, String)>,
) -> Result<()> {
    let name = output_name(ctx);
    let target = ctx.output_table(name);
    let target_id = target.to_id("output")?;
    let source = ctx.tables.info(input).map_err(|e| Error::table(input, e))?;
    let info = TableInfo {
        schema: TableSchema::new("cache_key", vec!["value".into()]),
        layout: RowLayout::Text,
        ..source
    };
    let meta_line = serde_json::to_string(meta).map_err(|e| corrupt(e.to_string()))?;
    let all = std::iter::once((META_SID.to_owned(), meta_line))
        .chain(rows)
        .map(Ok);
    fateflow_tables::write_text(ctx.tables, &target_id, &info, all, WriteMode::Replace)
        .map_err(|e| Error::table(&target_id, e))?;
    ctx.tracker.save_output_data(name, &target)
}

/// `run_cache`: the offline half of the protocol, kept as this party's cache.
pub(crate) fn generate(
    ctx: &TaskContext<'_>,
    p: &IntersectParam,
    input: &TableId,
    ids: &[&str],
) -> Result<()> {
    let fed = ctx.federation()?;
    let mut meta = CacheMeta::new(p, ctx.role);
    let mut rows = Vec::new();
    if ctx.role == Role::Host {
        let guest = guest_of(ctx)?;
        let cache_id = random_cache_id();
        fed.remote("cache_id", TAG, &cache_id, &[guest])?;
        meta.parties.insert(
            guest.to_string(),
            BTreeMap::from([("cache_id".to_owned(), cache_id)]),
        );
        let values: Vec<String> = match p.method {
            Method::Rsa => {
                let signer = RsaSigner::generate(p.rsa.key_length)
                    .map_err(|e| Error::param("rsa_params.key_length", e.to_string()))?
                    .with_hashing(meta.rsa_hashing()?);
                let (sp, sq) = signer.primes();
                meta.secret.insert("p".into(), sp.to_string_radix(16));
                meta.secret.insert("q".into(), sq.to_string_radix(16));
                let e = signer.public_key().e().to_string_radix(16);
                meta.secret.insert("e".into(), e);
                fed.remote("rsa_pubkey", TAG, signer.public_key(), &[guest])?;
                let sigs = signer
                    .sign_ids(ids)
                    .map_err(|e| Error::param("rsa_params", e.to_string()))?;
                fed.remote("host_values", TAG, &sigs, &[guest])?;
                sigs
            }
            Method::Dh => host_first(fed, &dh_cipher(p)?, &mut meta, ids, guest)?,
            Method::Ecdh => host_first(fed, &ecdh_cipher(p), &mut meta, ids, guest)?,
        };
        rows.extend(ids.iter().zip(values).map(|(id, v)| (format!("h:{id}"), v)));
    } else {
        let hosts = hosts_of(ctx)?;
        let dh = (p.method == Method::Dh).then(|| dh_cipher(p)).transpose()?;
        let ecdh = (p.method == Method::Ecdh).then(|| ecdh_cipher(p));
        if let Some(c) = &dh {
            meta.secret.insert("secret".into(), c.secret_hex());
        }
        if let Some(c) = &ecdh {
            meta.secret.insert("secret".into(), c.secret_hex());
        }
        for host in &hosts {
            let cache_id: String = fed.get("cache_id", TAG, *host)?;
            let mut entry = BTreeMap::from([("cache_id".to_owned(), cache_id)]);
            let pairs: Vec<(String, String)> = match (&dh, &ecdh) {
                (Some(c), _) => guest_second(fed, c, *host)?,
                (_, Some(c)) => guest_second(fed, c, *host)?,
                _ => {
                    let public: RsaPublicKey = fed.get("rsa_pubkey", TAG, *host)?;
                    entry.insert("n".into(), public.n().to_string_radix(16));
                    entry.insert("e".into(), public.e().to_string_radix(16));
                    let sigs: Vec<String> = fed.get("host_values", TAG, *host)?;
                    sigs.into_iter().map(|s| (s.clone(), s)).collect()
                }
            };
            meta.parties.insert(host.to_string(), entry);
            rows.extend(
                pairs
                    .into_iter()
                    .enumerate()
                    .map(|(n, (m, r))| (format!("g:{}:{n}", host.party_id), format!("{m} {r}"))),
            );
        }
    }
    let count = rows.len();
    write(ctx, input, &meta, rows)?;
    log_meta(ctx, &meta)?;
    ctx.tracker.info(&format!(
        "intersection cache ({}) written: {count} values",
        meta.method
    ));
    Ok(())
}

fn dh_cipher(p: &IntersectParam) -> Result<Dh> {
    let group = DhGroup::modp(p.dh.key_length)
        .map_err(|e| Error::param("dh_params.key_length", e.to_string()))?;
    Ok(Dh(DhParty::new(group)
        .with_hash_method(p.dh.hash)
        .with_salt(p.dh.salt.as_bytes())))
}

fn ecdh_cipher(p: &IntersectParam) -> Ecdh {
    Ecdh(
        EcdhParty::new()
            .with_hash_method(p.ecdh.hash)
            .with_salt(p.ecdh.salt.as_bytes()),
    )
}

/// A host's cache run with a commutative cipher: its first encryptions, sent and kept.
fn host_first<C: Cipher>(
    fed: &dyn Federation,
    c: &C,
    meta: &mut CacheMeta,
    ids: &[&str],
    guest: Party,
) -> Result<Vec<String>> {
    meta.secret.insert("secret".into(), c.secret_hex());
    let first = c.encrypt_ids(ids);
    fed.remote_bytes("host_first", TAG, &c.encode(&first), &[guest])?;
    Ok(first.iter().map(|v| c.hex(v)).collect())
}

/// The guest's cache run with one host: (double encryption, first encryption) pairs.
fn guest_second<C: Cipher>(
    fed: &dyn Federation,
    c: &C,
    host: Party,
) -> Result<Vec<(String, String)>> {
    let bytes = fed.get_bytes("host_first", TAG, host)?;
    let first = c.decode("host_first", host, &bytes)?;
    let second = c.reencrypt(&first)?;
    Ok(second
        .iter()
        .zip(&first)
        .map(|(s, f)| (c.hex(s), c.hex(f)))
        .collect())
}

/// An intersection with this party's cache `table`.
pub(crate) fn run(
    ctx: &TaskContext<'_>,
    p: &IntersectParam,
    table: &TableRef,
    ids: &[&str],
) -> Result<Found> {
    let fed = ctx.federation()?;
    let cache = read(ctx, table)?;
    let meta = &cache.meta;
    log_meta(ctx, meta)?;
    if meta.method != p.method.name() {
        return Err(Error::param(
            "intersect_method",
            format!(
                "the cache was made with {}, this run asks for {}",
                meta.method,
                p.method.name()
            ),
        ));
    }
    if meta.role != ctx.role {
        return Err(corrupt(format!("it was written by a {}", meta.role)));
    }
    let goal = Goal::Rows { sync: p.sync };
    if ctx.role == Role::Host {
        let guest = guest_of(ctx)?;
        let cache_id = meta.cache_id(guest)?;
        fed.remote("cache_id", TAG, &cache_id, &[guest])?;
        let theirs: String = fed.get("cache_id", TAG, guest)?;
        if theirs != cache_id {
            return Err(corrupt(format!(
                "cache id {cache_id} here, {theirs} at {guest}"
            )));
        }
        match meta.method.as_str() {
            "rsa" => {
                let signer =
                    RsaSigner::from_primes(meta.secret("p")?, meta.secret("q")?, meta.secret("e")?)
                        .map_err(|e| corrupt(e.to_string()))?
                        .with_hashing(meta.rsa_hashing()?);
                let name = "guest_blinded";
                let blinded: Vec<String> = fed.get(name, TAG, guest)?;
                let blinded: Vec<Integer> = blinded
                    .iter()
                    .map(|h| hex_int(name, h))
                    .collect::<Result<_>>()?;
                let signed = signer
                    .sign_blinded(&blinded)
                    .map_err(|e| Error::param("rsa_params", e.to_string()))?;
                let signed: Vec<String> = signed.iter().map(|s| s.to_string_radix(16)).collect();
                fed.remote("guest_signed", TAG, &signed, &[guest])?;
            }
            "dh" => host_second(fed, &meta.dh()?, guest)?,
            _ => host_second(fed, &meta.ecdh()?, guest)?,
        }
        if !p.sync {
            return Ok(Found::Nothing);
        }
        let matched: Vec<String> = fed.get("intersect_values", TAG, guest)?;
        let wanted: HashSet<&str> = matched
            .iter()
            .filter_map(|v| cache.own.get(v).map(String::as_str))
            .collect();
        return Ok(Found::Rows(
            (0..ids.len())
                .filter(|&i| wanted.contains(ids[i]))
                .collect(),
        ));
    }
    let hosts = hosts_of(ctx)?;
    let mut pairs_per_host = Vec::with_capacity(hosts.len());
    let mut replies = Vec::with_capacity(hosts.len());
    let decoder: Option<Decoder> = match meta.method.as_str() {
        "dh" => Some(guest_first(fed, meta.dh()?, ids, &hosts)?),
        "ecdh" => Some(guest_first(fed, meta.ecdh()?, ids, &hosts)?),
        _ => None,
    };
    for host in &hosts {
        let cache_id = meta.cache_id(*host)?;
        fed.remote("cache_id", TAG, &cache_id, &[*host])?;
        let theirs: String = fed.get("cache_id", TAG, *host)?;
        if theirs != cache_id {
            return Err(corrupt(format!(
                "cache id {cache_id} here, {theirs} at {host}"
            )));
        }
        let cached = cache
            .hosts
            .get(&host.party_id)
            .ok_or_else(|| corrupt(format!("no values of {host}")))?;
        let mine: Vec<String> = match &decoder {
            Some(decode) => {
                let bytes = fed.get_bytes("guest_second", TAG, *host)?;
                decode(&bytes, *host)?
            }
            None => {
                let keys = &meta.parties[&host.to_string()];
                let key = |k: &str| {
                    keys.get(k)
                        .ok_or_else(|| corrupt(format!("no public `{k}` of {host}")))
                        .and_then(|h| hex_int(k, h))
                };
                let public =
                    RsaPublicKey::new(key("n")?, key("e")?).map_err(|e| corrupt(e.to_string()))?;
                let b = RsaBlinder::new(public)
                    .with_hashing(meta.rsa_hashing()?)
                    .with_random_bits(meta.random_bit);
                let blinded = match p.rsa.fraction {
                    Some(f) => b.blind_ids_with_fraction(ids, f),
                    None => b.blind_ids(ids),
                };
                let hex: Vec<String> = blinded
                    .blinded()
                    .iter()
                    .map(|v| v.to_string_radix(16))
                    .collect();
                fed.remote("guest_blinded", TAG, &hex, &[*host])?;
                let signed: Vec<String> = fed.get("guest_signed", TAG, *host)?;
                let signed: Vec<Integer> = signed
                    .iter()
                    .map(|h| hex_int("guest_signed", h))
                    .collect::<Result<_>>()?;
                b.unblind(&blinded, &signed)
                    .map_err(|e| Error::param("rsa_params", e.to_string()))?
            }
        };
        let matches: Vec<&String> = cached.iter().map(|(m, _)| m).collect();
        let pairs = fateflow_crypto::psi::intersect(&mine.iter().collect::<Vec<_>>(), &matches);
        ctx.tracker.info(&format!(
            "{} of our {} ids are in the cache of {host}",
            pairs.len(),
            ids.len()
        ));
        pairs_per_host.push((*host, pairs));
        replies.push(cached);
    }
    // The common rows; with sync each host gets its matched cached values.
    let found = finish_guest(
        fed,
        TAG,
        ids.len(),
        pairs_per_host.clone(),
        Goal::Rows { sync: false },
    )?;
    if let (Goal::Rows { sync: true }, Found::Rows(common)) = (goal, &found) {
        let common: HashSet<usize> = common.iter().copied().collect();
        for ((host, pairs), cached) in pairs_per_host.iter().zip(&replies) {
            let values: Vec<&str> = pairs
                .iter()
                .filter(|(i, _)| common.contains(i))
                .map(|(_, j)| cached[*j].1.as_str())
                .collect();
            fed.remote("intersect_values", TAG, &values, &[*host])?;
        }
    }
    Ok(found)
}

/// FATE's `intersection_cache_meta` metric: the method and hashing of the cache.
fn log_meta(ctx: &TaskContext<'_>, meta: &CacheMeta) -> Result<()> {
    let mut extra = serde_json::json!({
        "intersect_method": meta.method,
        "hash_method": meta.hash_method,
        "salt": meta.salt,
    });
    match meta.method.as_str() {
        "rsa" => {
            extra["final_hash_method"] = meta.final_hash_method.clone().into();
            extra["random_bit"] = meta.random_bit.into();
        }
        "ecdh" => extra["curve"] = "curve25519".into(),
        _ => {}
    }
    let mut meta_json = serde_json::json!({"metric_type": "INTERSECTION"});
    if let (Some(m), Some(e)) = (meta_json.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    ctx.tracker.log_metric(crate::context::Metric {
        namespace: "train".into(),
        name: "intersection_cache_meta".into(),
        data: Vec::new(),
        meta: meta_json,
    })
}

/// A host's run with its cache: the guest's first encryptions encrypted again.
fn host_second<C: Cipher>(fed: &dyn Federation, c: &C, guest: Party) -> Result<()> {
    let bytes = fed.get_bytes("guest_first", TAG, guest)?;
    let first = c.decode("guest_first", guest, &bytes)?;
    let again = c.reencrypt(&first)?;
    fed.remote_bytes("guest_second", TAG, &c.encode(&again), &[guest])?;
    Ok(())
}

type Decoder = Box<dyn Fn(&[u8], Party) -> Result<Vec<String>>>;

/// Sends the guest's first encryptions with its cached secret to every host; returns a
/// decoder of the hosts' double encryptions into hex.
fn guest_first<C: Cipher + 'static>(
    fed: &dyn Federation,
    c: C,
    ids: &[&str],
    hosts: &[Party],
) -> Result<Decoder> {
    let first = c.encrypt_ids(ids);
    fed.remote_bytes("guest_first", TAG, &c.encode(&first), hosts)?;
    drop(first);
    let n = ids.len();
    let decode = move |bytes: &[u8], host: Party| -> Result<Vec<String>> {
        let values = c.decode("guest_second", host, bytes)?;
        if values.len() != n {
            return Err(Error::param(
                "guest_second",
                format!("{host} returned {} values for {n} ids", values.len()),
            ));
        }
        Ok(values.iter().map(|v| c.hex(v)).collect())
    };
    Ok(Box::new(decode))
}

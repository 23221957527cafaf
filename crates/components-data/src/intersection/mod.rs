//! `Intersection`: the rows whose ids every party holds (PSI), as FATE 1.11 runs it.
//!
//! Methods (`intersect_method`, or `cardinality_method` with `cardinality_only`):
//! - `rsa` (FATE 1.x's default, blind signatures, [`rsa`]): the host signs; the guest
//!   blinds its ids, has them signed, unblinds, and compares final hashes with the host's
//!   signed ids. `split_calculation` has each side sign half of the ids (split by the
//!   parity of the first hash) with its own key; `random_base_fraction` shares blinding
//!   factors between ids.
//! - `dh` (Pohlig–Hellman modulo a safe prime) and `ecdh` (curve25519), [`commutative`]:
//!   each party encrypts its ids with its secret, the other encrypts them again, equal
//!   double encryptions mark the intersection.
//! - `raw` runs as `ecdh`, as in FATE 1.11 ("Raw intersect method is not supported, it
//!   will be replaced by ECDH"): no id ever leaves its party in clear.
//!
//! The guest computes the intersection. With `sync_intersect_ids` (default true) each host
//! learns which of its rows are in it; each party then outputs its own rows in it
//! (`only_output_key` keeps the ids only). Without sync a host outputs nothing, as in FATE.
//!
//! `cardinality_only` runs the protocol of `cardinality_method` up to the count: `dh`
//! and `ecdh` give the exact count, `rsa` an estimate (the host sends a Bloom filter of
//! its signed ids, [`bloom`]). No party writes output data; the guest logs the count and
//! sends it to the hosts with `sync_cardinality`.
//!
//! `run_preprocess` first filters ids with a Bloom filter of the other side's ids
//! ([`bloom::preprocess`]); the protocol then runs on the ids that pass.
//!
//! Metrics (namespace `train`, name `intersection`), as FATE logs them: `intersect_count`,
//! `input_match_id_count`, `intersect_rate`, `unmatched_count`, `unmatched_rate` (-1 for
//! a party that learns no result); the summary has `intersect_num`, `intersect_rate`,
//! `cardinality_only`, `unique_id_num`.
//!
//! `run_cache` writes a cache (the DSL's `output.cache`) instead of an intersection, and
//! an `input.cache` (the data input `cache`) makes the run use one ([`cache`]);
//! `CacheLoader` ([`cache_loader`]) hands another job's cache to this one.

#[cfg(test)]
mod bench;
pub(crate) mod bloom;
pub(crate) mod cache;
pub mod cache_loader;
pub(crate) mod commutative;
pub mod param;
pub(crate) mod rsa;
pub(crate) mod spill;
pub(crate) mod streaming;
#[cfg(test)]
mod tests;

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use fateflow_tables::TableId;
use serde_json::json;
use std::collections::HashSet;
use std::time::Instant;

pub(crate) use param::IntersectParam;
use param::Method;
pub use param::SCHEMA;

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct Intersection;

/// What one party learns from a protocol run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// Positions (in the ids the protocol ran on) of this party's rows in the
    /// intersection.
    Rows(Vec<usize>),
    /// This party's rows in the intersection, over its input's scan order.
    Kept(spill::Bitmap),
    /// Nothing: a host without `sync_intersect_ids`.
    Nothing,
    /// The cardinality, or `None` for a host without `sync_cardinality`.
    Count(Option<usize>),
}

/// How far a protocol goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Goal {
    /// The intersection; with `sync`, hosts learn their rows in it.
    Rows { sync: bool },
    /// The count only; with `sync`, hosts learn it.
    Count { sync: bool },
}

impl Goal {
    fn of(param: &IntersectParam) -> Self {
        if param.cardinality_only {
            Goal::Count {
                sync: param.sync_cardinality,
            }
        } else {
            Goal::Rows { sync: param.sync }
        }
    }
}

impl Component for Intersection {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let started = Instant::now();
        let param = IntersectParam::parse(&ctx.parameters)?;
        if !matches!(ctx.role, Role::Guest | Role::Host) {
            return Err(Error::param(
                "role",
                format!("Intersection does not run at {}", ctx.role),
            ));
        }
        if param.intersect_method == "raw" && !param.cardinality_only {
            ctx.tracker
                .info("intersect_method raw is not supported by FATE 1.11 either: it runs as ecdh");
        }
        let id = input_id(ctx)?;
        let total = ctx.tables.count(&id).map_err(|e| Error::table(&id, e))?;
        // A cache input runs the online half only, without preprocessing (as FATE).
        let cache_input = ctx
            .inputs
            .data
            .get(cache::CACHE_NAME)
            .and_then(|t| t.first());
        let goal = Goal::of(&param);
        let mut scratch = spill::Scratch::new(ctx, &id);
        let mut phases = streaming::Phases::default();
        let found = if streaming::applies(&param, cache_input.is_some()) {
            let mut run = streaming::Run {
                ctx,
                input: &id,
                rows: total,
                scratch: &mut scratch,
                phases: streaming::Phases::default(),
            };
            let found = match param.method {
                Method::Rsa => run.rsa(&param.rsa, goal)?,
                Method::Dh => {
                    let group = fateflow_crypto::psi::dh::DhGroup::modp(param.dh.key_length)
                        .map_err(|e| Error::param("dh_params.key_length", e.to_string()))?;
                    let cipher = fateflow_crypto::psi::dh::DhParty::new(group)
                        .with_hash_method(param.dh.hash)
                        .with_salt(param.dh.salt.as_bytes());
                    run.commutative(&commutative::Dh(cipher), goal)?
                }
                Method::Ecdh => {
                    let cipher = fateflow_crypto::psi::ecdh::EcdhParty::new()
                        .with_hash_method(param.ecdh.hash)
                        .with_salt(param.ecdh.salt.as_bytes());
                    run.commutative(&commutative::Ecdh(cipher), goal)?
                }
            };
            phases = run.phases;
            found
        } else {
            match in_memory(ctx, &param, &id, total, cache_input, goal)? {
                Some(found) => found,
                // A cache run: the cache is the output.
                None => return Ok(()),
            }
        };
        let total = total as usize;
        let method = param.method.name();
        match found {
            Found::Rows(_) => unreachable_rows(),
            Found::Kept(kept) => {
                let partitions = output_partitions(ctx, &param, &id)?;
                let t = Instant::now();
                let data_name = ctx.first_output_data_name("data").to_string();
                let (written, runs) = spill::write_aligned(
                    ctx,
                    &mut scratch,
                    &id,
                    &kept,
                    param.only_output_key,
                    partitions,
                    &data_name,
                )?;
                phases.writing += t.elapsed();
                let kept_rows = kept.count();
                drop(kept);
                report(ctx, method, false, total, Some(kept_rows), &phases, started)?;
                ctx.tracker.info(&format!(
                    "intersection ({method}): {kept_rows} of {total} rows kept, written sorted \
                     by id over {partitions} partitions ({written} rows{})",
                    if runs > 0 {
                        format!(", {runs} sorted runs merged from disk")
                    } else {
                        String::new()
                    }
                ));
            }
            Found::Nothing => {
                report(ctx, method, false, total, None, &phases, started)?;
                ctx.tracker.info(&format!(
                    "intersection ({method}): the guest does not share the result \
                     (sync_intersect_ids is false), so this party writes no data"
                ));
            }
            Found::Count(count) => {
                report(ctx, method, true, total, count, &phases, started)?;
                match count {
                    Some(c) => ctx.tracker.info(&format!(
                        "cardinality ({method}): {c} of {total} ids are in the intersection"
                    )),
                    None => ctx.tracker.info(
                        "cardinality: not shared with this party (sync_cardinality is false)",
                    ),
                }
            }
        }
        ctx.tracker.info(&phases.line(started.elapsed()));
        Ok(())
    }
}

#[cold]
fn unreachable_rows() -> ! {
    unreachable!("in_memory turns positions into a bitmap")
}

/// The input table: the first of `data`, `train_data`, `test_data`.
fn input_id(ctx: &TaskContext<'_>) -> Result<TableId> {
    let keys = ["data", "train_data", "test_data"];
    ctx.inputs
        .first_table(&keys)
        .ok_or_else(|| Error::MissingInput {
            component: "Intersection".into(),
            what: "an input data table (input key `data`)".into(),
        })?
        .to_id("input.data")
}

/// Bytes per id the in-memory protocols hold (the id, its protocol values, indexes).
const IN_MEMORY_BYTES_PER_ID: u64 = 400;

/// The runs that keep every id in memory (preprocessing, caches, rsa's
/// `split_calculation` and cardinality): `None` after a cache run (its cache is the
/// output), else what this party learnt, kept rows as a bitmap over the input's scan
/// order.
fn in_memory(
    ctx: &TaskContext<'_>,
    param: &IntersectParam,
    id: &TableId,
    total: u64,
    cache_input: Option<&crate::context::TableRef>,
    goal: Goal,
) -> Result<Option<Found>> {
    let why = if cache_input.is_some() {
        "a cache input"
    } else if param.run_cache {
        "run_cache"
    } else if param.run_preprocess {
        "run_preprocess"
    } else if param.rsa.split_calculation {
        "rsa split_calculation"
    } else {
        "rsa cardinality_only"
    };
    ctx.memory.check(
        "Intersection",
        &format!("the {total} ids of a run with {why} (held in memory)"),
        total.saturating_mul(IN_MEMORY_BYTES_PER_ID),
    )?;
    let mut all: Vec<String> = Vec::with_capacity(total as usize);
    let ncols = ctx
        .tables
        .info(id)
        .map_err(|e| Error::table(id, e))?
        .schema
        .header
        .len();
    for block in fateflow_tables::read_blocks(ctx.tables, id, spill::scan_block_rows(ctx, ncols))
        .map_err(|e| Error::table(id, e))?
    {
        let block = block.map_err(|e| Error::table(id, e))?;
        all.extend(block.sids().iter().cloned());
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let candidates: Vec<usize> = if param.run_preprocess && cache_input.is_none() {
        let kept = bloom::preprocess(ctx, &param.filter, &all)?;
        ctx.tracker.info(&format!(
            "preprocessing kept {} of {} ids",
            kept.len(),
            all.len()
        ));
        kept
    } else {
        (0..all.len()).collect()
    };
    let ids: Vec<&str> = candidates.iter().map(|&i| all[i]).collect();
    if param.run_cache && cache_input.is_none() {
        cache::generate(ctx, param, id, &ids)?;
        return Ok(None);
    }
    let found = match (cache_input, param.method) {
        (Some(table), _) => cache::run(ctx, param, table, &ids)?,
        (None, method) => match method {
            Method::Rsa => rsa::run(ctx, &param.rsa, &param.filter, &ids, goal)?,
            Method::Dh => {
                let group = fateflow_crypto::psi::dh::DhGroup::modp(param.dh.key_length)
                    .map_err(|e| Error::param("dh_params.key_length", e.to_string()))?;
                let cipher = fateflow_crypto::psi::dh::DhParty::new(group)
                    .with_hash_method(param.dh.hash)
                    .with_salt(param.dh.salt.as_bytes());
                commutative::run(ctx, &commutative::Dh(cipher), &ids, goal)?
            }
            Method::Ecdh => {
                let cipher = fateflow_crypto::psi::ecdh::EcdhParty::new()
                    .with_hash_method(param.ecdh.hash)
                    .with_salt(param.ecdh.salt.as_bytes());
                commutative::run(ctx, &commutative::Ecdh(cipher), &ids, goal)?
            }
        },
    };
    Ok(Some(match found {
        Found::Rows(positions) => Found::Kept(spill::Bitmap::from_positions(
            all.len(),
            positions
                .into_iter()
                .filter_map(|p| candidates.get(p).copied()),
        )),
        other => other,
    }))
}

/// The partition count of every party's output: the guest's input's, sent to the hosts
/// that write output (with `sync_intersect_ids`), so that the outputs are aligned.
fn output_partitions(ctx: &TaskContext<'_>, param: &IntersectParam, id: &TableId) -> Result<u32> {
    const TAG: &str = "intersection";
    let fed = ctx.federation()?;
    if ctx.role == Role::Guest {
        let partitions = ctx
            .tables
            .info(id)
            .map_err(|e| Error::table(id, e))?
            .partitions;
        if param.sync {
            fed.remote("output_partitions", TAG, &partitions, &hosts_of(ctx)?)?;
        }
        Ok(partitions)
    } else {
        let guest = guest_of(ctx)?;
        let partitions: u32 = fed.get("output_partitions", TAG, guest)?;
        if partitions == 0 {
            return Err(Error::param(
                "output_partitions",
                format!("{guest} sent 0 partitions"),
            ));
        }
        Ok(partitions)
    }
}

pub(crate) fn guest_of(ctx: &TaskContext<'_>) -> Result<Party> {
    ctx.parties_of(Role::Guest)
        .first()
        .copied()
        .ok_or_else(|| Error::param("role", "Intersection needs a guest"))
}

pub(crate) fn hosts_of(ctx: &TaskContext<'_>) -> Result<Vec<Party>> {
    let hosts = ctx.parties_of(Role::Host);
    if hosts.is_empty() {
        return Err(Error::param("role", "Intersection needs at least one host"));
    }
    Ok(hosts)
}

/// The guest's last step, from each host's matching pairs `(guest position, host
/// position)`: the common positions of the guest's ids, and, for the hosts, with sync
/// their positions in the common intersection, or the count with a synced cardinality.
pub(crate) fn finish_guest(
    fed: &dyn Federation,
    tag: &str,
    nrows: usize,
    pairs_per_host: Vec<(Party, Vec<(usize, usize)>)>,
    goal: Goal,
) -> Result<Found> {
    let mut common: HashSet<usize> = (0..nrows).collect();
    for (_, pairs) in &pairs_per_host {
        let here: HashSet<usize> = pairs.iter().map(|(i, _)| *i).collect();
        common.retain(|i| here.contains(i));
    }
    match goal {
        Goal::Count { sync } => {
            if sync {
                let hosts: Vec<Party> = pairs_per_host.iter().map(|(h, _)| *h).collect();
                fed.remote("cardinality", tag, &common.len(), &hosts)?;
            }
            Ok(Found::Count(Some(common.len())))
        }
        Goal::Rows { sync } => {
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
            let mut rows: Vec<usize> = common.into_iter().collect();
            rows.sort_unstable();
            Ok(Found::Rows(rows))
        }
    }
}

/// A host's last step: its rows in the intersection (with sync), or the cardinality.
pub(crate) fn finish_host(
    fed: &dyn Federation,
    tag: &str,
    guest: Party,
    nrows: usize,
    goal: Goal,
) -> Result<Found> {
    match goal {
        Goal::Rows { sync: false } => Ok(Found::Nothing),
        Goal::Count { sync: false } => Ok(Found::Count(None)),
        Goal::Count { sync: true } => {
            let count: usize = fed.get("cardinality", tag, guest)?;
            Ok(Found::Count(Some(count)))
        }
        Goal::Rows { sync: true } => {
            let positions: Vec<usize> = fed.get("intersect_positions", tag, guest)?;
            if let Some(bad) = positions.iter().find(|p| **p >= nrows) {
                return Err(Error::param(
                    "intersect_positions",
                    format!("{guest} sent position {bad}, but this party has {nrows} ids"),
                ));
            }
            Ok(Found::Rows(positions))
        }
    }
}

/// FATE's metric and summary: the count and rates, or -1 where this party learns none.
fn report(
    ctx: &TaskContext<'_>,
    method: &str,
    cardinality_only: bool,
    total: usize,
    count: Option<usize>,
    phases: &streaming::Phases,
    started: Instant,
) -> Result<()> {
    let (count, rate, unmatched, unmatched_rate) = match count {
        Some(c) => {
            let rate = if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            };
            (
                json!(c),
                json!(rate),
                json!(total.saturating_sub(c)),
                json!(1.0 - rate),
            )
        }
        None => (json!(-1), json!(-1), json!(-1), json!(-1)),
    };
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: "intersection".into(),
        data: vec![
            (json!("intersect_count"), count.clone()),
            (json!("input_match_id_count"), json!(total)),
            (json!("intersect_rate"), rate.clone()),
            (json!("unmatched_count"), unmatched),
            (json!("unmatched_rate"), unmatched_rate),
        ],
        meta: json!({"metric_type": "INTERSECTION", "intersect_method": method,
                     "join_method": "inner_join"}),
    })?;
    ctx.tracker.set_summary(json!({
        "intersect_num": count,
        "intersect_rate": rate,
        "cardinality_only": cardinality_only,
        "unique_id_num": total,
        "phases": phases.json(started.elapsed()),
    }))
}

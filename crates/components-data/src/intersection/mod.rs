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

pub(crate) mod bloom;
pub(crate) mod cache;
pub mod cache_loader;
pub(crate) mod commutative;
pub mod param;
pub(crate) mod rsa;
#[cfg(test)]
mod tests;

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::table_io::{read_first_input, write_rows};
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use fateflow_tables::{Frame, TableId};
use serde_json::json;
use std::collections::HashSet;

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
        let (id, frame) =
            read_first_input(ctx, "Intersection", &["data", "train_data", "test_data"])?;
        let all: Vec<&str> = frame.sids().iter().map(String::as_str).collect();
        // A cache input runs the online half only, without preprocessing (as FATE).
        let cache_input = ctx
            .inputs
            .data
            .get(cache::CACHE_NAME)
            .and_then(|t| t.first());
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
        let goal = Goal::of(&param);
        if param.run_cache && cache_input.is_none() {
            return cache::generate(ctx, &param, &id, &ids);
        }
        let found = match (cache_input, param.method) {
            (Some(table), _) => cache::run(ctx, &param, table, &ids)?,
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
        let total = frame.nrows();
        let method = param.method.name();
        match found {
            Found::Rows(positions) => {
                let keep: HashSet<usize> = positions
                    .into_iter()
                    .filter_map(|p| candidates.get(p).copied())
                    .collect();
                write_output(ctx, &id, &frame, &keep, param.only_output_key)?;
                report(ctx, method, false, total, Some(keep.len()))?;
                ctx.tracker.info(&format!(
                    "intersection ({method}): {} of {total} rows kept",
                    keep.len()
                ));
            }
            Found::Nothing => {
                report(ctx, method, false, total, None)?;
                ctx.tracker.info(&format!(
                    "intersection ({method}): the guest does not share the result \
                     (sync_intersect_ids is false), so this party writes no data"
                ));
            }
            Found::Count(count) => {
                report(ctx, method, true, total, count)?;
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
        Ok(())
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

/// Writes this party's rows at the kept positions.
fn write_output(
    ctx: &TaskContext<'_>,
    id: &TableId,
    frame: &Frame,
    keep: &HashSet<usize>,
    only_key: bool,
) -> Result<()> {
    let rows: Vec<(usize, String)> = frame
        .sids()
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(i, sid)| (i, sid.clone()))
        .collect();
    let data_name = ctx.first_output_data_name("data").to_string();
    write_rows(ctx, id, frame, &rows, only_key, &data_name)
}

/// FATE's metric and summary: the count and rates, or -1 where this party learns none.
fn report(
    ctx: &TaskContext<'_>,
    method: &str,
    cardinality_only: bool,
    total: usize,
    count: Option<usize>,
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
    }))
}

//! The intersection protocols in bounded memory, for the runs without a cache, without
//! preprocessing and (rsa) without `split_calculation` or `cardinality_only`.
//!
//! Each party reads its ids in row blocks (scan order) and sends what the protocol needs
//! block by block (`<name>` messages tagged `<method>.<block>`, the last block flagged),
//! so the two parties work at the same time: in `dh`/`ecdh` each party encrypts its block
//! k while the other re-encrypts the block k it received; in `rsa` the host signs its own
//! block k and the guest's blinded block k while the guest blinds block k+1 (at most two
//! blinded blocks in flight).
//!
//! The guest hash-partitions the values it compares (double encryptions, final hashes)
//! with their positions into buckets, in memory when they fit a quarter of the task's
//! budget (at most 96 MB), else in scratch files, and matches bucket by bucket. The kept rows are a
//! bitmap over the scan order; the matching pairs of each host go to a scratch file, so
//! that with several hosts each host's bitmap is derived from the common intersection.
//! A host learns its rows as a bitmap over its own scan order (`intersect_bitmap`).
//!
//! Every phase is timed and logged: reading and encrypting (or signing, blinding) own
//! ids, waiting for the other party, its values, matching.

use super::commutative::Cipher;
use super::param::{IntersectParam, RsaParams};
use super::spill::{bucket_count, match_buckets, Bitmap, Buckets, PairLog, Scratch, IN_MEMORY_CAP};
use super::{guest_of, hosts_of, Found, Goal};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use fateflow_crypto::psi::rsa::{RsaBlinder, RsaHashing, RsaPublicKey, RsaSigner};
use fateflow_crypto::Integer;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use fateflow_tables::{read_blocks, TableId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Time spent per phase, for the log and the summary.
#[derive(Debug, Default, Clone)]
pub(crate) struct Phases {
    /// Reading own ids and encrypting (dh/ecdh), signing or blinding them (rsa).
    pub own: Duration,
    /// Waiting for the other party's messages.
    pub exchange: Duration,
    /// Working on the other party's values (re-encrypting, signing, unblinding).
    pub other: Duration,
    /// Matching.
    pub matching: Duration,
    /// Writing the output.
    pub writing: Duration,
    /// Own ids processed.
    pub ids: u64,
}

impl Phases {
    fn time<T>(slot: &mut Duration, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        *slot += t.elapsed();
        out
    }

    /// One log line: every phase and the rate.
    pub(crate) fn line(&self, total: Duration) -> String {
        let rate = self.ids as f64 / total.as_secs_f64().max(1e-9);
        format!(
            "phases: own ids {:.2} s, exchange (waiting) {:.2} s, other party's values {:.2} s, \
             matching {:.2} s, writing {:.2} s; total {:.2} s, {:.0} ids/s",
            self.own.as_secs_f64(),
            self.exchange.as_secs_f64(),
            self.other.as_secs_f64(),
            self.matching.as_secs_f64(),
            self.writing.as_secs_f64(),
            total.as_secs_f64(),
            rate
        )
    }

    /// The summary's `phases` object, in seconds.
    pub(crate) fn json(&self, total: Duration) -> serde_json::Value {
        serde_json::json!({
            "own_ids_s": self.own.as_secs_f64(),
            "exchange_s": self.exchange.as_secs_f64(),
            "other_values_s": self.other.as_secs_f64(),
            "matching_s": self.matching.as_secs_f64(),
            "writing_s": self.writing.as_secs_f64(),
            "total_s": total.as_secs_f64(),
            "ids_per_s": self.ids as f64 / total.as_secs_f64().max(1e-9),
        })
    }
}

/// Whether [`run`] handles this run.
pub(crate) fn applies(param: &IntersectParam, has_cache_input: bool) -> bool {
    !has_cache_input
        && !param.run_cache
        && !param.run_preprocess
        && match param.method {
            super::param::Method::Rsa => !param.rsa.split_calculation && !param.cardinality_only,
            _ => true,
        }
}

/// What one run needs: the input, its row count, the scratch dir and the limits.
pub(crate) struct Run<'r, 'c> {
    pub ctx: &'r TaskContext<'c>,
    pub input: &'r TableId,
    pub rows: u64,
    pub scratch: &'r mut Scratch,
    pub phases: Phases,
}

fn block_tag(method: &str, k: usize) -> String {
    format!("{method}.{k}")
}

/// Own ids in blocks of `rows_per_block`, each with whether it is the last; an empty
/// table gives one empty last block.
struct IdBlocks<'a> {
    blocks:
        std::iter::Peekable<fateflow_tables::FrameBlocks<'a, dyn fateflow_tables::TableStore + 'a>>,
    started: bool,
    input: TableId,
}

impl<'a> IdBlocks<'a> {
    fn open(ctx: &TaskContext<'a>, input: &TableId, rows_per_block: usize) -> Result<Self> {
        let blocks = read_blocks(ctx.tables, input, rows_per_block)
            .map_err(|e| Error::table(input, e))?
            .peekable();
        Ok(IdBlocks {
            blocks,
            started: false,
            input: input.clone(),
        })
    }

    /// The next block's ids and whether it is the last, or `None` after the last.
    fn next_block(&mut self) -> Result<Option<(Vec<String>, bool)>> {
        match self.blocks.next() {
            Some(block) => {
                self.started = true;
                let block = block.map_err(|e| Error::table(&self.input, e))?;
                let last = self.blocks.peek().is_none();
                Ok(Some((block.sids().to_vec(), last)))
            }
            None if !self.started => {
                self.started = true;
                Ok(Some((Vec::new(), true)))
            }
            None => Ok(None),
        }
    }
}

/// A block on the wire: a flag byte (1 on the last block), then the values.
fn frame_bytes(last: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(u8::from(last));
    out.extend_from_slice(payload);
    out
}

fn unframe<'b>(name: &str, from: Party, bytes: &'b [u8]) -> Result<(bool, &'b [u8])> {
    match bytes.split_first() {
        Some((&flag, rest)) if flag <= 1 => Ok((flag == 1, rest)),
        _ => Err(Error::param(
            name,
            format!("{from} sent a block without its header"),
        )),
    }
}

/// A JSON block (rsa's hex values).
#[derive(Serialize, Deserialize)]
struct Block<T> {
    last: bool,
    values: Vec<T>,
}

/// Rows per block of own ids: `per_row` bytes of protocol state per id, a few blocks in
/// flight.
fn id_block_rows(ctx: &TaskContext<'_>, input: &TableId, per_row: usize) -> Result<usize> {
    let ncols = ctx
        .tables
        .info(input)
        .map_err(|e| Error::table(input, e))?
        .schema
        .header
        .len();
    Ok(ctx.memory.block_rows(per_row + 64 + 8 * ncols, 32))
}

/// Each host's pairs with the guest, for the finish.
struct HostPairs {
    host: Party,
    rows: u64,
    pairs: PairLog,
}

impl Run<'_, '_> {
    /// Bytes the matching may hold in memory before it partitions to disk: a quarter of
    /// the budget, at most [`IN_MEMORY_CAP`].
    fn limit(&self) -> u64 {
        (self.ctx.memory.bytes() / 4).min(IN_MEMORY_CAP)
    }

    fn wait<T>(&mut self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        Phases::time(&mut self.phases.exchange, f)
    }

    /// Matches one host's buckets into the guest's bitmap and a pair log.
    fn match_host(
        &mut self,
        host: Party,
        host_rows: u64,
        ours: Buckets,
        theirs: Buckets,
    ) -> Result<(Bitmap, HostPairs)> {
        let started = Instant::now();
        let mut mine = Bitmap::new(self.rows as usize);
        let in_memory = self.rows.min(host_rows) * 16 <= self.limit();
        let mut pairs = PairLog::new(self.scratch, in_memory)?;
        let input = self.input.clone();
        let buckets = ours.buckets();
        match_buckets(&input, ours, theirs, |g, h| {
            mine.set(g as usize);
            pairs.push(&input, g, h)
        })?;
        self.phases.matching += started.elapsed();
        self.ctx.tracker.info(&format!(
            "{} of our {} ids are also at {host} (matched {})",
            pairs.len(),
            self.rows,
            if buckets > 1 {
                format!("in {buckets} buckets on disk")
            } else {
                "in memory".to_owned()
            }
        ));
        Ok((
            mine,
            HostPairs {
                host,
                rows: host_rows,
                pairs,
            },
        ))
    }

    /// The guest's finish: the count, or the common rows (and each host's bitmap with
    /// sync).
    fn finish_guest(
        &mut self,
        fed: &dyn Federation,
        tag: &str,
        common: Bitmap,
        hosts: Vec<HostPairs>,
        goal: Goal,
    ) -> Result<Found> {
        match goal {
            Goal::Count { sync } => {
                let count = common.count();
                if sync {
                    let to: Vec<Party> = hosts.iter().map(|h| h.host).collect();
                    fed.remote("cardinality", tag, &count, &to)?;
                }
                Ok(Found::Count(Some(count)))
            }
            Goal::Rows { sync } => {
                if sync {
                    let started = Instant::now();
                    for h in hosts {
                        let mut theirs = Bitmap::new(h.rows as usize);
                        h.pairs.for_each(self.input, |g, j| {
                            if common.get(g as usize) {
                                theirs.set(j as usize);
                            }
                        })?;
                        fed.remote_bytes("intersect_bitmap", tag, &theirs.to_bytes(), &[h.host])?;
                    }
                    self.phases.matching += started.elapsed();
                }
                Ok(Found::Kept(common))
            }
        }
    }

    /// A host's finish.
    fn finish_host(
        &mut self,
        fed: &dyn Federation,
        tag: &str,
        guest: Party,
        goal: Goal,
    ) -> Result<Found> {
        match goal {
            Goal::Rows { sync: false } => Ok(Found::Nothing),
            Goal::Count { sync: false } => Ok(Found::Count(None)),
            Goal::Count { sync: true } => {
                let count: usize = self.wait(|| Ok(fed.get("cardinality", tag, guest)?))?;
                Ok(Found::Count(Some(count)))
            }
            Goal::Rows { sync: true } => {
                let bytes = self.wait(|| Ok(fed.get_bytes("intersect_bitmap", tag, guest)?))?;
                let kept = Bitmap::from_bytes(&bytes, self.rows as usize).ok_or_else(|| {
                    Error::param(
                        "intersect_bitmap",
                        format!(
                            "{guest} sent a bitmap of {} bytes, not one of this party's {} ids",
                            bytes.len(),
                            self.rows
                        ),
                    )
                })?;
                Ok(Found::Kept(kept))
            }
        }
    }

    /// `dh` and `ecdh`.
    pub(crate) fn commutative<C: Cipher>(&mut self, cipher: &C, goal: Goal) -> Result<Found> {
        let ctx = self.ctx;
        let fed = ctx.federation()?;
        let tag = C::NAME;
        let width = cipher.width();
        let rows_per_block = id_block_rows(ctx, self.input, 4 * width)?;
        let mut own = IdBlocks::open(ctx, self.input, rows_per_block)?;
        match ctx.role {
            Role::Guest => {
                let hosts = hosts_of(ctx)?;
                let mut state = Vec::with_capacity(hosts.len());
                for host in &hosts {
                    let m: u64 = self.wait(|| Ok(fed.get("id_count", tag, *host)?))?;
                    let nb = bucket_count(self.rows.max(m), width, self.limit());
                    let theirs = Buckets::new(self.scratch, "theirs", nb)?;
                    // (host, its row count, bucket count, their values, done, next block)
                    state.push((*host, m, nb, theirs, false, 0usize));
                }
                let mut k = 0usize;
                let mut own_done = false;
                loop {
                    if !own_done {
                        let started = Instant::now();
                        if let Some((ids, last)) = own.next_block()? {
                            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                            let values = cipher.encrypt_ids(&refs);
                            let bytes = frame_bytes(last, &cipher.encode(&values));
                            self.phases.ids += ids.len() as u64;
                            self.phases.own += started.elapsed();
                            fed.remote_bytes("guest_first", &block_tag(tag, k), &bytes, &hosts)?;
                            k += 1;
                            own_done = last;
                        } else {
                            own_done = true;
                        }
                    }
                    let mut all_done = own_done;
                    for (host, _, _, theirs, done, next) in state.iter_mut() {
                        if *done {
                            continue;
                        }
                        let name = "host_first";
                        let bytes = self
                            .wait(|| Ok(fed.get_bytes(name, &block_tag(tag, *next), *host)?))?;
                        let started = Instant::now();
                        let (last, payload) = unframe(name, *host, &bytes)?;
                        let values = cipher.decode(name, *host, payload)?;
                        let again = cipher.encode(&cipher.reencrypt(&values)?);
                        let base = theirs.records();
                        for (i, key) in again.chunks_exact(width).enumerate() {
                            theirs.push(self.input, key, base + i as u64)?;
                        }
                        self.phases.other += started.elapsed();
                        *next += 1;
                        *done = last;
                        all_done &= last;
                    }
                    if all_done {
                        break;
                    }
                }
                let mut common = Bitmap::full(self.rows as usize);
                let mut per_host = Vec::with_capacity(hosts.len());
                for (host, m, nb, theirs, _, _) in state {
                    if theirs.records() != m {
                        return Err(Error::param(
                            "host_first",
                            format!("{host} announced {m} ids and sent {}", theirs.records()),
                        ));
                    }
                    let mut ours = Buckets::new(self.scratch, "ours", nb)?;
                    let mut j = 0usize;
                    loop {
                        let name = "guest_second";
                        let bytes =
                            self.wait(|| Ok(fed.get_bytes(name, &block_tag(tag, j), host)?))?;
                        let (last, payload) = unframe(name, host, &bytes)?;
                        if payload.len() % width != 0 {
                            return Err(Error::param(
                                name,
                                format!("{host} sent a block of {} bytes", payload.len()),
                            ));
                        }
                        let base = ours.records();
                        for (i, key) in payload.chunks_exact(width).enumerate() {
                            ours.push(self.input, key, base + i as u64)?;
                        }
                        j += 1;
                        if last {
                            break;
                        }
                    }
                    if ours.records() != self.rows {
                        return Err(Error::param(
                            "guest_second",
                            format!(
                                "{host} returned {} values for {} ids",
                                ours.records(),
                                self.rows
                            ),
                        ));
                    }
                    let (mine, pairs) = self.match_host(host, m, ours, theirs)?;
                    common.and(&mine);
                    per_host.push(pairs);
                }
                self.finish_guest(fed, tag, common, per_host, goal)
            }
            _ => {
                let guest = guest_of(ctx)?;
                fed.remote("id_count", tag, &self.rows, &[guest])?;
                let mut k = 0usize;
                let (mut own_done, mut guest_done) = (false, false);
                while !(own_done && guest_done) {
                    if !own_done {
                        let started = Instant::now();
                        if let Some((ids, last)) = own.next_block()? {
                            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                            let values = cipher.encrypt_ids(&refs);
                            let bytes = frame_bytes(last, &cipher.encode(&values));
                            self.phases.ids += ids.len() as u64;
                            self.phases.own += started.elapsed();
                            fed.remote_bytes("host_first", &block_tag(tag, k), &bytes, &[guest])?;
                            own_done = last;
                        } else {
                            own_done = true;
                        }
                    }
                    if !guest_done {
                        let name = "guest_first";
                        let t = block_tag(tag, k);
                        let bytes = self.wait(|| Ok(fed.get_bytes(name, &t, guest)?))?;
                        let started = Instant::now();
                        let (last, payload) = unframe(name, guest, &bytes)?;
                        let values = cipher.decode(name, guest, payload)?;
                        let again = cipher.encode(&cipher.reencrypt(&values)?);
                        self.phases.other += started.elapsed();
                        fed.remote_bytes("guest_second", &t, &frame_bytes(last, &again), &[guest])?;
                        guest_done = last;
                    }
                    k += 1;
                }
                self.finish_host(fed, tag, guest, goal)
            }
        }
    }

    /// `rsa` without `split_calculation`, for the intersection (not the cardinality).
    pub(crate) fn rsa(&mut self, p: &RsaParams, goal: Goal) -> Result<Found> {
        const TAG: &str = "rsa";
        let ctx = self.ctx;
        let fed = ctx.federation()?;
        let hashing = RsaHashing {
            first: p.hash,
            last: p.final_hash,
            salt: p.salt.clone(),
        };
        // Blinded value, factor and signature: three key-sized integers per id in flight.
        let key_bytes = (p.key_length as usize).div_ceil(8);
        let rows_per_block = id_block_rows(ctx, self.input, 8 * key_bytes)?;
        let crypto = |e: fateflow_crypto::Error| Error::param("rsa_params", e.to_string());
        let hex =
            |v: &[Integer]| -> Vec<String> { v.iter().map(|x| x.to_string_radix(16)).collect() };
        let unhex = |name: &str, from: Party, v: &[String]| -> Result<Vec<Integer>> {
            v.iter()
                .map(|h| {
                    Integer::from_str_radix(h, 16).map_err(|e| {
                        Error::param(
                            name,
                            format!("{from} sent a value that is not hexadecimal: {e}"),
                        )
                    })
                })
                .collect()
        };
        match ctx.role {
            Role::Guest => {
                let hosts = hosts_of(ctx)?;
                let mut common = Bitmap::full(self.rows as usize);
                let mut per_host = Vec::with_capacity(hosts.len());
                for host in &hosts {
                    let host = *host;
                    let public: RsaPublicKey =
                        self.wait(|| Ok(fed.get("rsa_pubkey", TAG, host)?))?;
                    let m: u64 = self.wait(|| Ok(fed.get("id_count", TAG, host)?))?;
                    let b = RsaBlinder::new(public)
                        .with_hashing(hashing.clone())
                        .with_random_bits(p.random_bit);
                    // Final hashes are hex digests: 64 bytes for SHA-256.
                    let nb = bucket_count(self.rows.max(m), 64, self.limit());
                    let mut ours = Buckets::new(self.scratch, "ours", nb)?;
                    let mut theirs = Buckets::new(self.scratch, "theirs", nb)?;
                    let mut own = IdBlocks::open(ctx, self.input, rows_per_block)?;
                    let mut in_flight = VecDeque::new();
                    let (mut k, mut next_signed, mut next_theirs) = (0usize, 0usize, 0usize);
                    let mut theirs_done = false;
                    let mut own_done = false;
                    while !own_done || !in_flight.is_empty() || !theirs_done {
                        if !own_done {
                            let started = Instant::now();
                            if let Some((ids, last)) = own.next_block()? {
                                let blinded = match p.fraction {
                                    Some(f) => b.blind_ids_with_fraction(&ids, f),
                                    None => b.blind_ids(&ids),
                                };
                                let msg = Block {
                                    last,
                                    values: hex(blinded.blinded()),
                                };
                                self.phases.ids += ids.len() as u64;
                                self.phases.own += started.elapsed();
                                fed.remote("guest_blinded", &block_tag(TAG, k), &msg, &[host])?;
                                in_flight.push_back(blinded);
                                k += 1;
                                own_done = last;
                            } else {
                                own_done = true;
                            }
                        }
                        // Two blocks in flight: the host signs one while we blind the next.
                        if in_flight.len() >= 2 || (own_done && !in_flight.is_empty()) {
                            let blinded = in_flight.pop_front().ok_or_else(|| {
                                Error::param("guest_signed", "no block in flight")
                            })?;
                            let name = "guest_signed";
                            let t = block_tag(TAG, next_signed);
                            let msg: Block<String> = self.wait(|| Ok(fed.get(name, &t, host)?))?;
                            let started = Instant::now();
                            let signed = unhex(name, host, &msg.values)?;
                            let finals = b.unblind(&blinded, &signed).map_err(crypto)?;
                            let base = ours.records();
                            for (i, f) in finals.iter().enumerate() {
                                ours.push(self.input, f.as_bytes(), base + i as u64)?;
                            }
                            self.phases.other += started.elapsed();
                            next_signed += 1;
                        }
                        if !theirs_done && (own_done || next_theirs < next_signed) {
                            let name = "host_signed_ids";
                            let t = block_tag(TAG, next_theirs);
                            let msg: Block<String> = self.wait(|| Ok(fed.get(name, &t, host)?))?;
                            let started = Instant::now();
                            let base = theirs.records();
                            for (i, s) in msg.values.iter().enumerate() {
                                theirs.push(self.input, s.as_bytes(), base + i as u64)?;
                            }
                            self.phases.other += started.elapsed();
                            next_theirs += 1;
                            theirs_done = msg.last;
                        }
                    }
                    if theirs.records() != m || ours.records() != self.rows {
                        return Err(Error::param(
                            "host_signed_ids",
                            format!(
                                "{host} announced {m} ids and sent {}; {} of our {} ids came back signed",
                                theirs.records(),
                                ours.records(),
                                self.rows
                            ),
                        ));
                    }
                    let (mine, pairs) = self.match_host(host, m, ours, theirs)?;
                    common.and(&mine);
                    per_host.push(pairs);
                }
                self.finish_guest(fed, TAG, common, per_host, goal)
            }
            _ => {
                let guest = guest_of(ctx)?;
                let s = RsaSigner::generate(p.key_length)
                    .map_err(|e| Error::param("rsa_params.key_length", e.to_string()))?
                    .with_hashing(hashing);
                fed.remote("rsa_pubkey", TAG, s.public_key(), &[guest])?;
                fed.remote("id_count", TAG, &self.rows, &[guest])?;
                let mut own = IdBlocks::open(ctx, self.input, rows_per_block)?;
                let mut k = 0usize;
                let (mut own_done, mut guest_done) = (false, false);
                while !(own_done && guest_done) {
                    if !own_done {
                        let started = Instant::now();
                        if let Some((ids, last)) = own.next_block()? {
                            let values = s.sign_ids(&ids).map_err(crypto)?;
                            self.phases.ids += ids.len() as u64;
                            self.phases.own += started.elapsed();
                            let msg = Block { last, values };
                            fed.remote("host_signed_ids", &block_tag(TAG, k), &msg, &[guest])?;
                            own_done = last;
                        } else {
                            own_done = true;
                        }
                    }
                    if !guest_done {
                        let name = "guest_blinded";
                        let t = block_tag(TAG, k);
                        let msg: Block<String> = self.wait(|| Ok(fed.get(name, &t, guest)?))?;
                        let started = Instant::now();
                        let blinded = unhex(name, guest, &msg.values)?;
                        let signed = s.sign_blinded(&blinded).map_err(crypto)?;
                        self.phases.other += started.elapsed();
                        let reply = Block {
                            last: msg.last,
                            values: hex(&signed),
                        };
                        fed.remote("guest_signed", &t, &reply, &[guest])?;
                        guest_done = msg.last;
                    }
                    k += 1;
                }
                self.finish_host(fed, TAG, guest, goal)
            }
        }
    }
}

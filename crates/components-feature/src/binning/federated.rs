//! Label statistics of host columns without showing the host any label (spec §4.4),
//! streamed block by block so that no party holds more than a block of ciphertexts.
//!
//! 1. The guest generates a Paillier key (`encrypt_param.key_length`). Each sample's
//!    one-hot label `(event, non_event)` is packed into one plaintext with
//!    [`Packer`]: two slots as wide as the bit length of the total number of events and of
//!    non-events, so that any sum of samples fits its slot. It announces the key, the
//!    slot widths, its row count, the rows per block (chosen from its memory budget) and
//!    the [`sid_digest`] of its first block (`binning_labels`).
//! 2. Each host answers whether its table is **aligned** with the guest's (the same row
//!    count and the same first block of ids in scan order: what Intersection writes)
//!    (`binning_alignment`).
//!    - Aligned: the guest reads its table block by block, encrypts each block's packed
//!      labels with the crypto crate's batch path and sends them as soon as they are
//!      ready, prefixed by the block's id digest (`binning_label_block`, tag
//!      `fit.<block>`). The host reads its own table in the same blocks, checks each
//!      digest, and adds every ciphertext into the running encrypted sum of its bin,
//!      per column: it holds one block of ciphertexts and the per-bin sums.
//!    - Not aligned: the old path, by sample id, when it fits both parties' memory
//!      budgets (else the host refuses, saying to run Intersection first): the guest
//!      sends every id and ciphertext (`binning_label_rows`, `binning_label_ciphers`);
//!      the host matches them to its rows **by sample id** (every id of the guest must be
//!      one of its rows and it must have no other row, else it fails naming the first id
//!      that differs) and sums per (column, bin).
//!
//!    Ciphertext sums are products modulo n², so the order of the additions does not
//!    change them: both paths give the same counts.
//! 3. The host compresses the sums, several bins per ciphertext (`Packer::compress`: shift
//!    by a record width and add), re-randomizes them with fresh obfuscators, and sends
//!    them back with the anonymous column names and bin counts (`binning_bin_sums`,
//!    `binning_bin_sum_ciphers`).
//! 4. The guest decrypts, unpacks, checks that each column's bins add up to its label
//!    totals, and computes WOE / IV under the anonymous names.
//!
//! What each party learns: a host sees ciphertexts under the guest's key and the guest's
//! sample ids or their per-block digests (it already holds the ids after Intersection),
//! nothing label-derived; the guest sees per-bin label counts of host columns, not their
//! split points or values. Re-randomizing the compressed sums keeps the guest, which
//! chose every obfuscator of the per-sample ciphertexts, from recognizing which samples
//! were added together (a one-sample bin would otherwise be identifiable from its
//! randomness alone). As in FATE, the parties are assumed honest-but-curious: a guest
//! that encrypted something other than one-hot labels (a different power of two per
//! sample, say) could read the hosts' bin of every sample from the sums.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fateflow_crypto::packing::Packer;
use fateflow_crypto::paillier::{Ciphertext, Encryptor, Keypair, PublicKey};
use fateflow_domain::{ErrorKind, Party};
use fateflow_federation::{Error as FedError, Federation, FederationExt};
use fateflow_tables::{read_blocks, sid_digest, TableId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::optimal::{self, index_buckets, MergeSettings, OptimalMetric};
use super::param::check_max_bin_pct;
use super::quantile::bin_of;
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::table_io::match_rows;
use crate::wire::{decode_ciphers, encode_ciphers};

/// Tag of every message of one fit.
const TAG: &str = "fit";

/// Rows per parallel chunk when summing ciphertexts (the path by sample id).
const SUM_CHUNK: usize = 2048;

/// Memory of one ciphertext held in a vector: the 2·key-bit integer and its header.
pub(crate) fn cipher_bytes(key_length: u32) -> u64 {
    u64::from(key_length) / 4 + 32
}

/// Memory of one sample id held as a `String` (header and a typical id).
const SID_BYTES: u64 = 64;

/// What the guest announces before sending the encrypted labels.
#[derive(Debug, Serialize, Deserialize)]
struct LabelStream {
    public_key: PublicKey,
    /// Widths of the label slots, one per label class (FATE's order).
    slot_bits: Vec<u32>,
    /// The guest's row count.
    rows: u64,
    /// Rows per block of the aligned stream (the guest's choice, from its budget).
    rows_per_block: usize,
    /// The [`sid_digest`] of the guest's first block.
    first_digest: u64,
}

/// A host's answer to [`LabelStream`].
#[derive(Debug, Serialize, Deserialize)]
enum Alignment {
    /// Same rows in the same scan order: stream block by block.
    Aligned,
    /// Not aligned, but both tables fit the host's budget: send every id and ciphertext.
    ById,
    /// Neither: the host fails with an error of this kind (the cause stays in its log).
    Refused(String),
}

/// What the guest sends a host that answered [`Alignment::ById`].
#[derive(Debug, Serialize, Deserialize)]
enum LabelRows {
    /// The sample id of each ciphertext of `binning_label_ciphers`, in order.
    Sids(Vec<String>),
    /// The guest cannot hold them (an error of this kind).
    Refused(String),
}

/// What a host sends with its compressed bin sums.
#[derive(Debug, Serialize, Deserialize)]
struct BinSums {
    columns: Vec<SummedColumn>,
    /// The host's `method` (FATE's `bin_method`).
    #[serde(default = "quantile")]
    method: String,
    /// With `method: optimal`, the host's optimal settings (FATE's `optimal_params`).
    #[serde(default)]
    optimal: Option<HostOptimal>,
}

fn quantile() -> String {
    "quantile".into()
}

/// The optimal-binning settings a host announces, as FATE's `optimal_params`: the guest
/// merges the host's initial buckets with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostOptimal {
    pub(crate) metric_method: String,
    /// The host's `bin_num` as FATE's host holds it: its `init_bin_nums`.
    pub(crate) bin_num: usize,
    pub(crate) mixture: bool,
    pub(crate) max_bin_pct: f64,
    pub(crate) min_bin_pct: f64,
}

/// The guest's answer to a host binning with `optimal`: per anonymous column the
/// indexes of the initial split points to keep, or why it could not merge them.
#[derive(Debug, Serialize, Deserialize)]
enum OptimalReply {
    Buckets(BTreeMap<String, Vec<usize>>),
    Refused(String),
}

/// One host column of [`BinSums`]: its records come in this order, value bins first.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SummedColumn {
    /// The anonymous name.
    name: String,
    /// Number of value bins.
    bins: usize,
    /// Whether a missing bin follows them.
    missing: bool,
    /// A categorical column (never merged by optimal binning).
    #[serde(default)]
    category: bool,
}

/// The guest's labels as the protocol needs them: the label values in FATE's order
/// (decreasing) and the number of rows of each.
pub(crate) struct GuestLabels<'a> {
    pub(crate) classes: &'a [f64],
    pub(crate) counts: &'a [u64],
}

impl GuestLabels<'_> {
    fn rows(&self) -> usize {
        self.counts.iter().sum::<u64>() as usize
    }
}

/// What the guest knows of one host column after the protocol: its value bins (merged
/// ones after optimal binning) and the count of each label class in each bin (value
/// bins, then the missing bin when there is one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostColumnCounts {
    pub(crate) bins: usize,
    pub(crate) counts: Vec<Vec<u64>>,
}

/// Per host party id (as a string), per anonymous column.
pub(crate) type HostCounts = BTreeMap<String, BTreeMap<String, HostColumnCounts>>;

fn party_name(p: Party) -> String {
    format!("{} {}", p.role, p.party_id)
}

/// The guest's side of one fit: created once its labels are known, fed every block of
/// its table in scan order, then [`finish`](Self::finish)ed.
pub(crate) struct GuestSession<'c> {
    ctx: &'c TaskContext<'c>,
    fed: &'c dyn Federation,
    hosts: Vec<Party>,
    aligned: Vec<Party>,
    by_id: Vec<Party>,
    keys: Keypair,
    packer: Packer,
    k: usize,
    /// Every id and ciphertext, kept only for hosts answering [`Alignment::ById`].
    kept: Option<(Vec<String>, Vec<Ciphertext>)>,
    blocks: usize,
    rows: usize,
    encrypt: Duration,
    send: Duration,
}

impl<'c> GuestSession<'c> {
    /// Generates the key, announces the stream to every host and reads their answers.
    pub(crate) fn start(
        ctx: &'c TaskContext<'c>,
        hosts: &[Party],
        key_length: u32,
        labels: &GuestLabels<'_>,
        rows_per_block: usize,
        first_digest: u64,
    ) -> Result<Self> {
        let fed = ctx.federation()?;
        let start = Instant::now();
        let keys = Keypair::generate(key_length)?;
        let keygen = start.elapsed();
        let k = labels.counts.len();
        let slot_bits: Vec<u32> = labels
            .counts
            .iter()
            .map(|&n| Packer::slot_bits_for(1, n))
            .collect();
        let packer = Packer::for_key(&keys.public, &slot_bits).map_err(|e| {
            Error::param(
                "encrypt_param.key_length",
                format!(
                    "{k} label classes need {} bits per packed label, more than a {key_length}-bit key holds ({e})",
                    slot_bits.iter().sum::<u32>()
                ),
            )
        })?;
        let rows = labels.rows();
        // One encryption per row: a fixed-base table as wide as that many uses repay,
        // when the budget leaves room for its up to MAX_TABLE_BYTES (else the default
        // table, a few MB).
        let start = Instant::now();
        if ctx.memory.bytes() >= 4 * fateflow_crypto::paillier::MAX_TABLE_BYTES {
            keys.public.prepare_obfuscators(rows);
        }
        ctx.tracker.info(&format!(
            "binning: {}-bit key in {}, obfuscator table in {}; {} rows in blocks of {} ({} classes, slot bits {:?})",
            key_length,
            ms(keygen),
            ms(start.elapsed()),
            rows,
            rows_per_block,
            k,
            slot_bits
        ));
        fed.remote(
            "binning_labels",
            TAG,
            &LabelStream {
                public_key: keys.public.clone(),
                slot_bits,
                rows: rows as u64,
                rows_per_block,
                first_digest,
            },
            hosts,
        )?;
        let (mut aligned, mut by_id) = (Vec::new(), Vec::new());
        for &host in hosts {
            match fed.get::<Alignment>("binning_alignment", TAG, host)? {
                Alignment::Aligned => aligned.push(host),
                Alignment::ById => by_id.push(host),
                Alignment::Refused(kind) => {
                    return Err(Error::PartyFailed {
                        party: party_name(host),
                        kind: ErrorKind::from_name(&kind),
                    })
                }
            }
        }
        let mut kept = None;
        if !by_id.is_empty() {
            let need = rows as u64 * (cipher_bytes(key_length) + SID_BYTES);
            if let Err(e) = ctx.memory.check(
                super::MODULE,
                "the encrypted labels of every row for a host whose table is not aligned with the guest's (run Intersection first)",
                need,
            ) {
                let _ = fed.remote(
                    "binning_label_rows",
                    TAG,
                    &LabelRows::Refused(e.kind().as_str().into()),
                    &by_id,
                );
                return Err(e);
            }
            ctx.tracker.info(&format!(
                "binning: hosts {} are not aligned with this table: their labels go by sample id, all at once",
                by_id
                    .iter()
                    .map(|p| p.party_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            kept = Some((Vec::with_capacity(rows), Vec::with_capacity(rows)));
        }
        Ok(GuestSession {
            ctx,
            fed,
            hosts: hosts.to_vec(),
            aligned,
            by_id,
            keys,
            packer,
            k,
            kept,
            blocks: 0,
            rows: 0,
            encrypt: Duration::ZERO,
            send: Duration::ZERO,
        })
    }

    /// Encrypts the packed labels of the next block (its ids and each row's class) and
    /// sends them to the aligned hosts.
    pub(crate) fn block(&mut self, sids: &[String], class_of_row: &[u32]) -> Result<()> {
        let start = Instant::now();
        let k = self.k;
        let plaintexts = class_of_row
            .par_iter()
            .map(|&c| {
                let mut record = vec![0u128; k];
                record[c as usize] = 1;
                self.packer.pack_record(&record)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let ciphers = self.keys.private.encrypt_raw_batch(&plaintexts)?;
        drop(plaintexts);
        self.encrypt += start.elapsed();
        let start = Instant::now();
        if !self.aligned.is_empty() {
            let mut bytes = sid_digest(sids).to_le_bytes().to_vec();
            bytes.extend_from_slice(&encode_ciphers(&ciphers));
            self.fed.remote_bytes(
                "binning_label_block",
                &format!("{TAG}.{}", self.blocks),
                &bytes,
                &self.aligned,
            )?;
        }
        self.send += start.elapsed();
        if let Some((all_sids, all)) = &mut self.kept {
            all_sids.extend_from_slice(sids);
            all.extend(ciphers);
        }
        self.blocks += 1;
        self.rows += sids.len();
        Ok(())
    }

    /// Sends the labels of the hosts that are not aligned, then turns every host's sums
    /// into per-bin class counts; for a host that bins with `optimal`, merges its initial
    /// buckets and sends back the bucket indexes to keep. Logs the time of each step.
    pub(crate) fn finish(
        self,
        labels: &GuestLabels<'_>,
        adjustment_factor: f64,
    ) -> Result<HostCounts> {
        let GuestSession {
            ctx,
            fed,
            hosts,
            aligned,
            by_id,
            keys,
            packer,
            k,
            kept,
            blocks,
            rows,
            encrypt,
            send,
        } = self;
        ctx.tracker.info(&format!(
            "binning: encrypted {rows} packed labels in {blocks} blocks in {} ({:.0}/s), sent to {} aligned hosts in {}",
            ms(encrypt),
            rows as f64 / encrypt.as_secs_f64().max(1e-9),
            aligned.len(),
            ms(send)
        ));
        if let Some((sids, ciphers)) = kept {
            fed.remote("binning_label_rows", TAG, &LabelRows::Sids(sids), &by_id)?;
            fed.remote_bytes(
                "binning_label_ciphers",
                TAG,
                &encode_ciphers(&ciphers),
                &by_id,
            )?;
        }
        ctx.tracker.progress(60);
        let class_counts = labels.counts.to_vec();
        let mut results = HostCounts::new();
        for (i, &host) in hosts.iter().enumerate() {
            let sums: BinSums = fed.get("binning_bin_sums", TAG, host)?;
            let bytes = fed.get_bytes("binning_bin_sum_ciphers", TAG, host)?;
            let bad = |detail: String| {
                Error::Federation(FedError::Decode {
                    name: "binning_bin_sums".into(),
                    from: host,
                    detail,
                })
            };
            let n_records = record_count(&sums.columns).ok_or_else(|| {
                bad("the announced bin counts are empty, repeated or too large".into())
            })?;
            let ciphers = decode_ciphers("binning_bin_sum_ciphers", host, &keys.public, &bytes)?;
            let expected = n_records.div_ceil(packer.records_per_plaintext());
            if ciphers.len() != expected {
                return Err(bad(format!(
                    "{} ciphertexts for {n_records} bins, expected {expected}",
                    ciphers.len()
                )));
            }
            let start = Instant::now();
            let values = packer.decrypt_packed(&keys.private, &ciphers, n_records)?;
            let decrypt = start.elapsed();
            let mut offset = 0;
            let mut columns = BTreeMap::new();
            for c in &sums.columns {
                let len = c.bins + usize::from(c.missing);
                let counts: Vec<Vec<u64>> = values[k * offset..k * (offset + len)]
                    .chunks(k)
                    .map(|v| v.iter().map(|&x| x as u64).collect())
                    .collect();
                offset += len;
                let mut total = vec![0u64; k];
                for bin in &counts {
                    for (t, &x) in total.iter_mut().zip(bin) {
                        *t += x;
                    }
                }
                if total != class_counts {
                    return Err(bad(format!(
                        "the bins of `{}` hold {total:?} samples per label class, but the labels have {class_counts:?}",
                        c.name
                    )));
                }
                columns.insert(
                    c.name.clone(),
                    HostColumnCounts {
                        bins: c.bins,
                        counts,
                    },
                );
            }
            ctx.tracker.info(&format!(
                "binning: host {}: {} columns, {} bins in {} ciphertexts, decrypted in {}",
                host.party_id,
                sums.columns.len(),
                n_records,
                ciphers.len(),
                ms(decrypt)
            ));
            // A host binning with `optimal` (and no manual split points) sends its settings.
            if let Some(optimal) = &sums.optimal {
                match merge_host_buckets(
                    ctx,
                    host,
                    optimal,
                    &sums.columns,
                    &mut columns,
                    labels,
                    adjustment_factor,
                ) {
                    Ok(kept) => {
                        fed.remote(
                            "binning_optimal_buckets",
                            TAG,
                            &OptimalReply::Buckets(kept),
                            &[host],
                        )?;
                    }
                    Err(e) => {
                        // The host waits for an answer: tell it why there is none.
                        let _ = fed.remote(
                            "binning_optimal_buckets",
                            TAG,
                            &OptimalReply::Refused(e.to_string()),
                            &[host],
                        );
                        return Err(e);
                    }
                }
            }
            results.insert(host.party_id.to_string(), columns);
            ctx.tracker
                .progress(60 + (30 * (i + 1) / hosts.len().max(1)) as u8);
        }
        Ok(results)
    }
}

/// Optimal binning of a host's columns at the guest (FATE's `host_optimal_binning`):
/// every non-categorical column's initial buckets are merged with the host's settings,
/// `columns` get the merged counts, and the indexes of the host's initial split points
/// to keep are returned by anonymous name.
fn merge_host_buckets(
    ctx: &TaskContext<'_>,
    host: Party,
    optimal: &HostOptimal,
    announced: &[SummedColumn],
    columns: &mut BTreeMap<String, HostColumnCounts>,
    labels: &GuestLabels<'_>,
    adjustment_factor: f64,
) -> Result<BTreeMap<String, Vec<usize>>> {
    let refuse = |reason: String| {
        Error::param(
            format!("host {}: optimal_binning_param", host.party_id),
            reason,
        )
    };
    let (event, non_event) = binary_classes(labels.classes).ok_or_else(|| {
        refuse(format!(
            "optimal binning needs labels 0 and 1 at the guest (FATE has no multi-class optimal binning); the labels are {:?}",
            labels.classes
        ))
    })?;
    let metric = OptimalMetric::from_name(&optimal.metric_method)
        .ok_or_else(|| refuse(format!("unknown metric_method `{}`", optimal.metric_method)))?;
    check_max_bin_pct(
        optimal.max_bin_pct,
        optimal.bin_num,
        &format!("host {}: optimal_binning_param.max_bin_pct", host.party_id),
    )?;
    let settings = MergeSettings {
        metric,
        max_bin: optimal.bin_num,
        mixture: optimal.mixture,
        max_bin_pct: optimal.max_bin_pct,
        min_bin_pct: optimal.min_bin_pct,
        adjustment_factor,
    };
    let counts = labels.counts.to_vec();
    let total = |class: Option<usize>| class.map_or(0, |c| counts[c]);
    let (event_total, non_event_total) = (total(event), total(non_event));
    let start = Instant::now();
    let mut kept = BTreeMap::new();
    for c in announced.iter().filter(|c| !c.category) {
        let col = columns
            .get_mut(&c.name)
            .expect("every announced column was decoded");
        if c.missing {
            return Err(refuse(format!(
                "column `{}` has missing values, which optimal binning does not support",
                c.name
            )));
        }
        let pick = |bin: &Vec<u64>, class: Option<usize>| class.map_or(0, |i| bin[i]);
        let pairs: Vec<(u64, u64)> = col
            .counts
            .iter()
            .map(|bin| (pick(bin, event), pick(bin, non_event)))
            .collect();
        let merged = optimal::merge(
            &index_buckets(&pairs),
            event_total,
            non_event_total,
            labels.rows(),
            &settings,
        );
        let indexes: Vec<usize> = merged
            .split_points()
            .iter()
            .map(|&x| x.max(0.0) as usize)
            .collect();
        // The counts of the bins the host will have: its initial buckets summed between
        // consecutive kept split points (the last bin takes everything above). FATE takes
        // the merged buckets' counts, which are the same except after a KS split of a
        // single bucket (possible only with `min_bin_pct` 0), which FATE counts twice.
        let mut merged_counts: Vec<Vec<u64>> = Vec::with_capacity(indexes.len());
        let mut start = 0;
        for (j, &end) in indexes.iter().enumerate() {
            let end = if j + 1 == indexes.len() {
                col.counts.len() - 1
            } else {
                end
            };
            let mut sum = vec![0u64; col.counts[0].len()];
            for bin in &col.counts[start..=end.max(start).min(col.counts.len() - 1)] {
                for (s, &x) in sum.iter_mut().zip(bin) {
                    *s += x;
                }
            }
            merged_counts.push(sum);
            start = end + 1;
        }
        col.counts = merged_counts;
        col.bins = col.counts.len();
        kept.insert(c.name.clone(), indexes);
    }
    ctx.tracker.info(&format!(
        "binning: host {}: optimal binning ({}) of {} columns in {}",
        host.party_id,
        metric.as_str(),
        kept.len(),
        ms(start.elapsed())
    ));
    Ok(kept)
}

/// The classes of label 1 (events) and label 0 (non-events), when the labels are
/// among 0 and 1 only.
pub(crate) fn binary_classes(classes: &[f64]) -> Option<(Option<usize>, Option<usize>)> {
    if classes.iter().any(|&c| c != 0.0 && c != 1.0) {
        return None;
    }
    Some((
        classes.iter().position(|&c| c == 1.0),
        classes.iter().position(|&c| c == 0.0),
    ))
}

/// Total records announced by a host, or `None` when the announcement is unusable.
fn record_count(columns: &[SummedColumn]) -> Option<usize> {
    let mut names = std::collections::HashSet::new();
    let mut total: usize = 0;
    for c in columns {
        if c.bins == 0 || !names.insert(c.name.as_str()) {
            return None;
        }
        total = total.checked_add(c.bins.checked_add(usize::from(c.missing))?)?;
    }
    // A bound far above any real binning (it would be millions of bins).
    (total <= 1 << 24).then_some(total)
}

/// A host column to sum: its anonymous name, its split points (value bins), whether it
/// has a missing bin, whether it is categorical, and its index in the table's columns.
pub(crate) struct HostColumn<'a> {
    pub(crate) anonymous: String,
    pub(crate) split_points: &'a [f64],
    pub(crate) missing: bool,
    pub(crate) category: bool,
    pub(crate) col: usize,
}

impl HostColumn<'_> {
    fn bins(&self) -> usize {
        self.split_points.len()
    }

    fn records(&self) -> usize {
        self.bins() + usize::from(self.missing)
    }
}

/// The host's table, for the protocol: it is read block by block.
pub(crate) struct HostTable<'a> {
    pub(crate) id: &'a TableId,
    pub(crate) rows: usize,
    /// Columns of the table (label included), for the memory estimate.
    pub(crate) width: usize,
}

/// The host's side: sums the guest's encrypted labels per bin of each column and sends
/// the compressed sums. With `optimal` (the host bins with `method: optimal`), waits for
/// the guest's choice of initial split points and returns it: per anonymous column, the
/// indexes of the split points to keep.
pub(crate) fn host(
    ctx: &TaskContext<'_>,
    guest: Party,
    table: &HostTable<'_>,
    columns: &[HostColumn<'_>],
    method: &str,
    optimal: Option<HostOptimal>,
) -> Result<Option<BTreeMap<String, Vec<usize>>>> {
    let fed = ctx.federation()?;
    let stream: LabelStream = fed.get("binning_labels", TAG, guest)?;
    let bad = |name: &str, detail: String| {
        Error::Federation(FedError::Decode {
            name: name.into(),
            from: guest,
            detail,
        })
    };
    let pk = &stream.public_key;
    if stream.slot_bits.is_empty() || stream.slot_bits.len() > 1 << 16 {
        return Err(bad(
            "binning_labels",
            format!(
                "{} label slots, expected one per label class",
                stream.slot_bits.len()
            ),
        ));
    }
    let packer = Packer::for_key(pk, &stream.slot_bits)
        .map_err(|e| bad("binning_labels", format!("unusable label packing: {e}")))?;
    if stream.rows_per_block == 0
        || stream.rows_per_block > fateflow_component_core::memory::MAX_BLOCK_ROWS
    {
        return Err(bad(
            "binning_labels",
            format!("{} rows per block", stream.rows_per_block),
        ));
    }
    let rpb = stream.rows_per_block;
    let blocks = |id: &TableId| read_blocks(ctx.tables, id, rpb).map_err(|e| Error::table(id, e));
    // Aligned: the same row count and the same ids in the first block.
    let why_not = if stream.rows != table.rows as u64 {
        Some(format!(
            "the guest has {} rows and this table {}",
            stream.rows, table.rows
        ))
    } else {
        let first = blocks(table.id)?
            .next()
            .transpose()
            .map_err(|e| Error::table(table.id, e))?;
        let digest = sid_digest(first.iter().flat_map(|b| b.sids()));
        (digest != stream.first_digest)
            .then(|| "the ids of the first block differ from the guest's".to_owned())
    };
    let start = Instant::now();
    let sums: Vec<Vec<Ciphertext>> = match why_not {
        None => {
            fed.remote("binning_alignment", TAG, &Alignment::Aligned, &[guest])?;
            ctx.tracker.info(&format!(
                "binning: the table is aligned with the guest's: summing encrypted labels block by block ({rpb} rows per block)"
            ));
            let mut sums: Vec<Vec<Ciphertext>> = columns
                .iter()
                .map(|c| vec![Ciphertext::one(); c.records()])
                .collect();
            let (mut wait, mut add) = (Duration::ZERO, Duration::ZERO);
            for (b, block) in blocks(table.id)?.enumerate() {
                let block = block.map_err(|e| Error::table(table.id, e))?;
                let t = Instant::now();
                let name = "binning_label_block";
                let bytes = fed.get_bytes(name, &format!("{TAG}.{b}"), guest)?;
                wait += t.elapsed();
                let t = Instant::now();
                if bytes.len() < 8 {
                    return Err(bad(name, format!("block {b}: {} bytes", bytes.len())));
                }
                let (digest, bytes) = bytes.split_at(8);
                let digest = u64::from_le_bytes(digest.try_into().expect("8 bytes"));
                if digest != sid_digest(block.sids()) {
                    return Err(Error::InvalidValue {
                        table: table.id.to_string(),
                        sid: block.sids().first().cloned().unwrap_or_default(),
                        column: "(sample id)".into(),
                        reason: format!(
                            "block {b} ({rpb} rows from row {}) holds other ids than the guest's: the tables are not aligned (run Intersection first)",
                            b * rpb
                        ),
                    });
                }
                let ciphers = decode_ciphers(name, guest, pk, bytes)?;
                if ciphers.len() != block.nrows() {
                    return Err(bad(
                        name,
                        format!(
                            "block {b}: {} ciphertexts for {} rows",
                            ciphers.len(),
                            block.nrows()
                        ),
                    ));
                }
                let width = block.columns().len();
                let values = block.values();
                columns
                    .par_iter()
                    .zip(sums.par_iter_mut())
                    .for_each(|(c, acc)| {
                        for (r, cipher) in ciphers.iter().enumerate() {
                            let bin = bin_of(c.split_points, values[r * width + c.col]);
                            acc[bin] = pk.raw_add(&acc[bin], cipher);
                        }
                    });
                add += t.elapsed();
            }
            ctx.tracker.info(&format!(
                "binning: waited {} for the guest's blocks, summed in {}",
                ms(wait),
                ms(add)
            ));
            sums
        }
        Some(why) => by_id(ctx, guest, table, columns, pk, &why)?,
    };
    let summed = start.elapsed();
    ctx.tracker.progress(60);
    let records: Vec<Ciphertext> = sums.into_iter().flatten().collect();
    let start = Instant::now();
    let compressed = packer.compress(pk, &records)?;
    let compressed = pk.rerandomize_raw_batch(&compressed);
    let compress = start.elapsed();
    ctx.tracker.info(&format!(
        "binning: summed {} encrypted labels into {} bins of {} columns in {}; compressed to {} ciphertexts in {}",
        stream.rows,
        records.len(),
        columns.len(),
        ms(summed),
        compressed.len(),
        ms(compress)
    ));
    let is_optimal = optimal.is_some();
    let header = BinSums {
        columns: columns
            .iter()
            .map(|c| SummedColumn {
                name: c.anonymous.clone(),
                bins: c.bins(),
                missing: c.missing,
                category: c.category,
            })
            .collect(),
        method: method.into(),
        optimal,
    };
    fed.remote("binning_bin_sums", TAG, &header, &[guest])?;
    fed.remote_bytes(
        "binning_bin_sum_ciphers",
        TAG,
        &encode_ciphers(&compressed),
        &[guest],
    )?;
    ctx.tracker.progress(80);
    if !is_optimal {
        return Ok(None);
    }
    let kept = match fed.get::<OptimalReply>("binning_optimal_buckets", TAG, guest)? {
        OptimalReply::Buckets(kept) => kept,
        OptimalReply::Refused(reason) => {
            return Err(Error::param(
                "method",
                format!("the guest could not run optimal binning of this host's columns: {reason}"),
            ))
        }
    };
    for c in columns.iter().filter(|c| !c.category) {
        let Some(idx) = kept.get(&c.anonymous) else {
            return Err(Error::Federation(FedError::Decode {
                name: "binning_optimal_buckets".into(),
                from: guest,
                detail: format!("no buckets for `{}`", c.anonymous),
            }));
        };
        if idx.is_empty()
            || idx.windows(2).any(|w| w[0] >= w[1])
            || idx.iter().any(|&i| i >= c.bins())
        {
            return Err(Error::Federation(FedError::Decode {
                name: "binning_optimal_buckets".into(),
                from: guest,
                detail: format!(
                    "bucket indexes of `{}` are not increasing indexes below {}",
                    c.anonymous,
                    c.bins()
                ),
            }));
        }
    }
    ctx.tracker.progress(90);
    Ok(Some(kept))
}

/// The path for tables that are not aligned: every id and ciphertext of the guest,
/// matched to this table's rows by id, when both fit the budget (else a refusal, which
/// the guest learns by its kind).
fn by_id(
    ctx: &TaskContext<'_>,
    guest: Party,
    table: &HostTable<'_>,
    columns: &[HostColumn<'_>],
    pk: &PublicKey,
    why: &str,
) -> Result<Vec<Vec<Ciphertext>>> {
    let fed = ctx.federation()?;
    // The guest's ids and ciphertexts; this table's ids, rows of a block, a bin per
    // column and row, and the id map.
    let rows = table.rows as u64;
    let need = rows * (cipher_bytes(pk.bits()) + SID_BYTES)
        + rows * (SID_BYTES + 4 * columns.len() as u64 + 48)
        + (table.width as u64 * 8) * fateflow_component_core::memory::MAX_BLOCK_ROWS as u64;
    if let Err(e) = ctx.memory.check(
        super::MODULE,
        &format!("matching the guest's encrypted labels to this table's rows by sample id ({why}; run Intersection first, whose outputs are aligned)"),
        need,
    ) {
        let _ = fed.remote(
            "binning_alignment",
            TAG,
            &Alignment::Refused(e.kind().as_str().into()),
            &[guest],
        );
        return Err(e);
    }
    fed.remote("binning_alignment", TAG, &Alignment::ById, &[guest])?;
    ctx.tracker.info(&format!(
        "binning: the table is not aligned with the guest's ({why}): matching rows by sample id (run Intersection first to stream)"
    ));
    let sids = match fed.get::<LabelRows>("binning_label_rows", TAG, guest)? {
        LabelRows::Sids(sids) => sids,
        LabelRows::Refused(kind) => {
            return Err(Error::PartyFailed {
                party: party_name(guest),
                kind: ErrorKind::from_name(&kind),
            })
        }
    };
    let bytes = fed.get_bytes("binning_label_ciphers", TAG, guest)?;
    let ciphers = decode_ciphers("binning_label_ciphers", guest, pk, &bytes)?;
    drop(bytes);
    if ciphers.len() != sids.len() {
        return Err(Error::Federation(FedError::Decode {
            name: "binning_label_rows".into(),
            from: guest,
            detail: format!(
                "{} ciphertexts for {} sample ids",
                ciphers.len(),
                sids.len()
            ),
        }));
    }
    let mut own_sids: Vec<String> = Vec::with_capacity(table.rows);
    let mut row_bins: Vec<Vec<u32>> = vec![Vec::with_capacity(table.rows); columns.len()];
    let rpb = fateflow_component_core::memory::MAX_BLOCK_ROWS;
    for block in read_blocks(ctx.tables, table.id, rpb).map_err(|e| Error::table(table.id, e))? {
        let block = block.map_err(|e| Error::table(table.id, e))?;
        let width = block.columns().len();
        let values = block.values();
        columns
            .par_iter()
            .zip(row_bins.par_iter_mut())
            .for_each(|(c, bins)| {
                bins.extend(
                    (0..block.nrows())
                        .map(|r| bin_of(c.split_points, values[r * width + c.col]) as u32),
                );
            });
        own_sids.extend(block.sids().iter().cloned());
    }
    let sid_name = ctx
        .tables
        .info(table.id)
        .map_err(|e| Error::table(table.id, e))?
        .schema
        .sid;
    let refs: Vec<&str> = own_sids.iter().map(String::as_str).collect();
    let rows = match_rows(&table.id.to_string(), &sid_name, &refs, &sids)?;
    drop(refs);
    drop(own_sids);
    drop(sids);
    Ok(columns
        .par_iter()
        .zip(&row_bins)
        .map(|(c, bins)| sum_bins(pk, &ciphers, &rows, c.records(), bins))
        .collect())
}

/// The encrypted `(event, non_event)` sum of every bin of one column (value bins, then the
/// missing bin when there is one), guest sample `i` being this table's row `rows[i]`:
/// row chunks in parallel, each a ciphertext product.
fn sum_bins(
    pk: &PublicKey,
    ciphers: &[Ciphertext],
    rows: &[usize],
    n_bins: usize,
    row_bins: &[u32],
) -> Vec<Ciphertext> {
    let empty = || vec![Ciphertext::one(); n_bins];
    ciphers
        .par_chunks(SUM_CHUNK)
        .zip(rows.par_chunks(SUM_CHUNK))
        .fold(empty, |mut acc, (cs, rs)| {
            for (c, &r) in cs.iter().zip(rs) {
                let b = row_bins[r] as usize;
                acc[b] = pk.raw_add(&acc[b], c);
            }
            acc
        })
        .reduce(empty, |a, b| {
            a.iter().zip(&b).map(|(x, y)| pk.raw_add(x, y)).collect()
        })
}

/// `12.3 ms` / `4.56 s`.
pub(crate) fn ms(d: Duration) -> String {
    if d.as_secs_f64() >= 10.0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_by_id_in_any_order() {
        let host = ["a", "b", "c"];
        let guest: Vec<String> = ["c", "a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(match_rows("t", "id", &host, &guest).unwrap(), vec![2, 0, 1]);
        let e = match_rows("t", "id", &host, &guest[..2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("row `b`") && e.contains("guest does not"), "{e}");
        let more: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let e = match_rows("t", "id", &host, &more).unwrap_err().to_string();
        assert!(e.contains("row `d`") && e.contains("host does not"), "{e}");
        let twice: Vec<String> = ["a", "a", "b"].iter().map(|s| s.to_string()).collect();
        assert!(match_rows("t", "id", &host, &twice).is_err());
    }

    #[test]
    fn announced_record_counts_are_checked() {
        let col = |name: &str, bins, missing| SummedColumn {
            name: name.into(),
            bins,
            missing,
            category: false,
        };
        assert_eq!(
            record_count(&[col("a", 3, true), col("b", 2, false)]),
            Some(6)
        );
        assert_eq!(record_count(&[]), Some(0));
        assert_eq!(record_count(&[col("a", 0, false)]), None);
        assert_eq!(
            record_count(&[col("a", 1, false), col("a", 1, false)]),
            None
        );
        assert_eq!(record_count(&[col("a", usize::MAX, true)]), None);
    }

    #[test]
    fn bin_sums_add_the_right_ciphertexts() {
        let keys = Keypair::generate(1024).unwrap();
        let packer = Packer::for_key(&keys.public, &[4, 4]).unwrap();
        // Five samples: events 1, 0, 1, 1, 0.
        let records = [1u128, 0, 0, 1, 1, 0, 1, 0, 0, 1];
        let ciphers = packer.encrypt_records(&keys.public, &records).unwrap();
        // The host's rows are in another order: guest sample i is host row rows[i].
        let rows = [4, 0, 3, 1, 2];
        let row_bins = [0u32, 1, 2, 0, 1]; // bins of host rows 0..5
        let sums = sum_bins(&keys.public, &ciphers, &rows, 3, &row_bins);
        let counts = packer.decrypt_records(&keys.private, &sums).unwrap();
        // Bin 0: host rows 0 (guest 1, non-event) and 3 (guest 2, event).
        // Bin 1: host rows 1 (guest 3, event) and 4 (guest 0, event).
        // Missing bin: host row 2 (guest 4, non-event).
        assert_eq!(counts, vec![1, 1, 2, 0, 0, 1]);
    }
}

//! Label statistics of host columns without showing the host any label (spec §4.4).
//!
//! 1. The guest generates a Paillier key (`encrypt_param.key_length`). Each sample's
//!    one-hot label `(event, non_event)` is packed into one plaintext with
//!    [`Packer`]: two slots as wide as the bit length of the total number of events and of
//!    non-events, so that any sum of samples fits its slot. The records are encrypted in
//!    parallel (CRT encryption by the key owner) and sent to every host with the sample
//!    ids in the same order (`binning_labels`: public key, slot widths, ids;
//!    `binning_label_ciphers`: the ciphertexts as raw bytes).
//! 2. A host matches the ciphertexts to its rows **by sample id** (never by position):
//!    every id of the guest must be one of its rows and it must have no other row, else it
//!    fails naming the first id that differs (run Intersection first). It bins its columns
//!    with its own split points and sums, per (column, bin), the ciphertexts of the samples
//!    in the bin — ciphertext additions only, columns and row chunks in parallel. The sums
//!    are then compressed, several bins per ciphertext (`Packer::compress`: shift by a
//!    record width and add), re-randomized with fresh obfuscators, and sent back with the
//!    anonymous column names and bin counts (`binning_bin_sums`,
//!    `binning_bin_sum_ciphers`).
//! 3. The guest decrypts, unpacks, checks that each column's bins add up to its label
//!    totals, and computes WOE / IV under the anonymous names.
//!
//! What each party learns: a host sees ciphertexts under the guest's key and the guest's
//! sample ids (which it already holds after Intersection), nothing label-derived; the
//! guest sees per-bin label counts of host columns, not their split points or values.
//! Re-randomizing the compressed sums keeps the guest, which chose every obfuscator of
//! the per-sample ciphertexts, from recognizing which samples were added together (a
//! one-sample bin would otherwise be identifiable from its randomness alone).
//! As in FATE, the parties are assumed honest-but-curious: a guest that encrypted
//! something other than one-hot labels (a different power of two per sample, say) could
//! read the hosts' bin of every sample from the sums.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fateflow_crypto::packing::Packer;
use fateflow_crypto::paillier::{Ciphertext, Encryptor, Keypair, PublicKey};
use fateflow_domain::Party;
use fateflow_federation::{Error as FedError, FederationExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::optimal::{self, index_buckets, MergeSettings, OptimalMetric};
use super::param::check_max_bin_pct;
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::table_io::match_rows;
use crate::wire::{decode_ciphers, encode_ciphers};

/// Tag of every message of one fit.
const TAG: &str = "fit";

/// Rows per parallel chunk when summing ciphertexts.
const SUM_CHUNK: usize = 2048;

/// What the guest sends with the encrypted labels.
#[derive(Debug, Serialize, Deserialize)]
struct EncryptedLabels {
    public_key: PublicKey,
    /// Widths of the label slots, one per label class (FATE's order).
    slot_bits: Vec<u32>,
    /// The sample id of each ciphertext, in order.
    sids: Vec<String>,
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

/// The guest's labels: the sample ids in row order and each row's label class.
pub(crate) struct GuestLabels<'a> {
    pub(crate) sids: &'a [String],
    /// The class (index into `classes`) of each row.
    pub(crate) class_of_row: &'a [u32],
    /// The label values, FATE's order (decreasing).
    pub(crate) classes: &'a [f64],
}

impl GuestLabels<'_> {
    /// Rows per class.
    fn class_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.classes.len()];
        for &c in self.class_of_row {
            counts[c as usize] += 1;
        }
        counts
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

/// The guest's side: encrypts and sends the labels (one slot per label class), then
/// turns every host's sums into per-bin class counts; for a host that bins with
/// `optimal`, merges its initial buckets and sends back the bucket indexes to keep.
/// Logs the time of each step.
pub(crate) fn guest(
    ctx: &TaskContext<'_>,
    hosts: &[Party],
    key_length: u32,
    labels: &GuestLabels<'_>,
    adjustment_factor: f64,
) -> Result<HostCounts> {
    let fed = ctx.federation()?;
    let start = Instant::now();
    let keys = Keypair::generate(key_length)?;
    let keygen = start.elapsed();
    let class_counts = labels.class_counts();
    let k = class_counts.len();
    let slot_bits: Vec<u32> = class_counts
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
    let start = Instant::now();
    let mut record = vec![0u128; k];
    let plaintexts = labels
        .class_of_row
        .iter()
        .map(|&c| {
            record.iter_mut().for_each(|v| *v = 0);
            record[c as usize] = 1;
            packer.pack_record(&record)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let ciphers = keys.private.encrypt_raw_batch(&plaintexts)?;
    drop(plaintexts);
    let encrypt = start.elapsed();
    ctx.tracker.info(&format!(
        "binning: {}-bit key in {}; encrypted {} packed labels ({} classes, slot bits {:?}) in {}",
        key_length,
        ms(keygen),
        ciphers.len(),
        k,
        slot_bits,
        ms(encrypt)
    ));
    fed.remote(
        "binning_labels",
        TAG,
        &EncryptedLabels {
            public_key: keys.public.clone(),
            slot_bits: slot_bits.clone(),
            sids: labels.sids.to_vec(),
        },
        hosts,
    )?;
    fed.remote_bytes(
        "binning_label_ciphers",
        TAG,
        &encode_ciphers(&ciphers),
        hosts,
    )?;
    drop(ciphers);
    ctx.tracker.progress(60);

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
    let counts = labels.class_counts();
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
            labels.sids.len(),
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

/// A host column to sum: its anonymous name, value bin count, whether it has a missing
/// bin, whether it is categorical, and the bin of every host row.
pub(crate) struct HostColumn<'a> {
    pub(crate) anonymous: String,
    pub(crate) bins: usize,
    pub(crate) missing: bool,
    pub(crate) category: bool,
    pub(crate) row_bins: &'a [u32],
}

/// The host's side: sums the guest's encrypted labels per bin of each column and sends
/// the compressed sums. `sids` are the host's rows in order; `table` and `sid_name` are
/// for messages. With `optimal` (the host bins with `method: optimal`), waits for the
/// guest's choice of initial split points and returns it: per anonymous column, the
/// indexes of the split points to keep.
#[allow(clippy::too_many_arguments)]
pub(crate) fn host(
    ctx: &TaskContext<'_>,
    guest: Party,
    table: &str,
    sid_name: &str,
    sids: &[&str],
    columns: &[HostColumn<'_>],
    method: &str,
    optimal: Option<HostOptimal>,
) -> Result<Option<BTreeMap<String, Vec<usize>>>> {
    let fed = ctx.federation()?;
    let labels: EncryptedLabels = fed.get("binning_labels", TAG, guest)?;
    let bytes = fed.get_bytes("binning_label_ciphers", TAG, guest)?;
    let bad = |detail: String| {
        Error::Federation(FedError::Decode {
            name: "binning_labels".into(),
            from: guest,
            detail,
        })
    };
    let pk = &labels.public_key;
    if labels.slot_bits.is_empty() || labels.slot_bits.len() > 1 << 16 {
        return Err(bad(format!(
            "{} label slots, expected one per label class",
            labels.slot_bits.len()
        )));
    }
    let packer = Packer::for_key(pk, &labels.slot_bits)
        .map_err(|e| bad(format!("unusable label packing: {e}")))?;
    let ciphers = decode_ciphers("binning_label_ciphers", guest, pk, &bytes)?;
    drop(bytes);
    if ciphers.len() != labels.sids.len() {
        return Err(bad(format!(
            "{} ciphertexts for {} sample ids",
            ciphers.len(),
            labels.sids.len()
        )));
    }
    let rows = match_rows(table, sid_name, sids, &labels.sids)?;
    ctx.tracker.progress(60);

    let start = Instant::now();
    let sums: Vec<Vec<Ciphertext>> = columns
        .par_iter()
        .map(|c| sum_bins(pk, &ciphers, &rows, c))
        .collect();
    let summed = start.elapsed();
    let records: Vec<Ciphertext> = sums.into_iter().flatten().collect();
    let start = Instant::now();
    let compressed = packer.compress(pk, &records)?;
    let compressed = pk.rerandomize_raw_batch(&compressed);
    let compress = start.elapsed();
    ctx.tracker.info(&format!(
        "binning: summed {} encrypted labels into {} bins of {} columns in {}; compressed to {} ciphertexts in {}",
        ciphers.len(),
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
                bins: c.bins,
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
            || idx.iter().any(|&i| i >= c.bins)
        {
            return Err(Error::Federation(FedError::Decode {
                name: "binning_optimal_buckets".into(),
                from: guest,
                detail: format!(
                    "bucket indexes of `{}` are not increasing indexes below {}",
                    c.anonymous, c.bins
                ),
            }));
        }
    }
    ctx.tracker.progress(90);
    Ok(Some(kept))
}

/// The encrypted `(event, non_event)` sum of every bin of one column (value bins, then the
/// missing bin when there is one): row chunks in parallel, each a ciphertext product.
fn sum_bins(
    pk: &PublicKey,
    ciphers: &[Ciphertext],
    rows: &[usize],
    column: &HostColumn<'_>,
) -> Vec<Ciphertext> {
    let n_bins = column.bins + usize::from(column.missing);
    let empty = || vec![Ciphertext::one(); n_bins];
    ciphers
        .par_chunks(SUM_CHUNK)
        .zip(rows.par_chunks(SUM_CHUNK))
        .fold(empty, |mut acc, (cs, rs)| {
            for (c, &r) in cs.iter().zip(rs) {
                let b = column.row_bins[r] as usize;
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
        let column = HostColumn {
            anonymous: "host_1_x0".into(),
            bins: 2,
            missing: true,
            category: false,
            row_bins: &row_bins,
        };
        let sums = sum_bins(&keys.public, &ciphers, &rows, &column);
        let counts = packer.decrypt_records(&keys.private, &sums).unwrap();
        // Bin 0: host rows 0 (guest 1, non-event) and 3 (guest 2, event).
        // Bin 1: host rows 1 (guest 3, event) and 4 (guest 0, event).
        // Missing bin: host row 2 (guest 4, non-event).
        assert_eq!(counts, vec![1, 1, 2, 0, 0, 1]);
    }
}

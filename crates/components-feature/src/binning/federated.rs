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

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use fateflow_crypto::packing::Packer;
use fateflow_crypto::paillier::{Ciphertext, Encryptor, Keypair, PublicKey};
use fateflow_domain::Party;
use fateflow_federation::{Error as FedError, FederationExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::ColumnBinResult;
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::wire::{decode_ciphers, encode_ciphers};

/// Tag of every message of one fit.
const TAG: &str = "fit";

/// Rows per parallel chunk when summing ciphertexts.
const SUM_CHUNK: usize = 2048;

/// What the guest sends with the encrypted labels.
#[derive(Debug, Serialize, Deserialize)]
struct EncryptedLabels {
    public_key: PublicKey,
    /// Widths of the `(event, non_event)` slots.
    slot_bits: Vec<u32>,
    /// The sample id of each ciphertext, in order.
    sids: Vec<String>,
}

/// What a host sends with its compressed bin sums.
#[derive(Debug, Serialize, Deserialize)]
struct BinSums {
    columns: Vec<SummedColumn>,
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
}

/// The guest's labels: the sample ids in row order and whether each is an event.
pub(crate) struct GuestLabels<'a> {
    pub(crate) sids: &'a [String],
    pub(crate) events: &'a [bool],
}

/// Host results by party id (as a string) and anonymous column name.
pub(crate) type HostResults = BTreeMap<String, BTreeMap<String, ColumnBinResult>>;

/// The guest's side: encrypts and sends the labels, then turns every host's sums into
/// WOE / IV. Logs the time of each step.
pub(crate) fn guest(
    ctx: &TaskContext<'_>,
    hosts: &[Party],
    key_length: u32,
    labels: &GuestLabels<'_>,
    adjustment_factor: f64,
) -> Result<HostResults> {
    let fed = ctx.federation()?;
    let start = Instant::now();
    let keys = Keypair::generate(key_length)?;
    let keygen = start.elapsed();
    let events = labels.events.iter().filter(|&&e| e).count() as u64;
    let non_events = labels.events.len() as u64 - events;
    let slot_bits = vec![
        Packer::slot_bits_for(1, events),
        Packer::slot_bits_for(1, non_events),
    ];
    let packer = Packer::for_key(&keys.public, &slot_bits)?;
    let records: Vec<u128> = labels
        .events
        .iter()
        .flat_map(|&e| [u128::from(e), u128::from(!e)])
        .collect();
    let start = Instant::now();
    let ciphers = packer.encrypt_records(&keys.private, &records)?;
    let encrypt = start.elapsed();
    ctx.tracker.info(&format!(
        "binning: {}-bit key in {}; encrypted {} packed labels ({} + {} slot bits) in {}",
        key_length,
        ms(keygen),
        ciphers.len(),
        slot_bits[0],
        slot_bits[1],
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

    let mut results = HostResults::new();
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
            let counts: Vec<(u64, u64)> = values[2 * offset..2 * (offset + len)]
                .chunks(2)
                .map(|v| (v[0] as u64, v[1] as u64))
                .collect();
            offset += len;
            let total = counts
                .iter()
                .fold((0u64, 0u64), |a, c| (a.0 + c.0, a.1 + c.1));
            if total != (events, non_events) {
                return Err(bad(format!(
                    "the bins of `{}` hold {} events and {} non-events, but the labels have {events} and {non_events}",
                    c.name, total.0, total.1
                )));
            }
            columns.insert(
                c.name.clone(),
                ColumnBinResult::from_counts(c.bins, &counts, adjustment_factor),
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
        results.insert(host.party_id.to_string(), columns);
        ctx.tracker
            .progress(60 + (30 * (i + 1) / hosts.len().max(1)) as u8);
    }
    Ok(results)
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
/// bin, and the bin of every host row.
pub(crate) struct HostColumn<'a> {
    pub(crate) anonymous: String,
    pub(crate) bins: usize,
    pub(crate) missing: bool,
    pub(crate) row_bins: &'a [u32],
}

/// The host's side: sums the guest's encrypted labels per bin of each column and sends
/// the compressed sums. `sids` are the host's rows in order; `table` and `sid_name` are
/// for messages.
pub(crate) fn host(
    ctx: &TaskContext<'_>,
    guest: Party,
    table: &str,
    sid_name: &str,
    sids: &[&str],
    columns: &[HostColumn<'_>],
) -> Result<()> {
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
    if labels.slot_bits.len() != 2 {
        return Err(bad(format!(
            "{} label slots, expected 2 (event, non-event)",
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
    let compressed: Vec<Ciphertext> = compressed
        .par_iter()
        .map(|c| pk.rerandomize_raw(c))
        .collect();
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
    let header = BinSums {
        columns: columns
            .iter()
            .map(|c| SummedColumn {
                name: c.anonymous.clone(),
                bins: c.bins,
                missing: c.missing,
            })
            .collect(),
    };
    fed.remote("binning_bin_sums", TAG, &header, &[guest])?;
    fed.remote_bytes(
        "binning_bin_sum_ciphers",
        TAG,
        &encode_ciphers(&compressed),
        &[guest],
    )?;
    ctx.tracker.progress(90);
    Ok(())
}

/// The host row of each of the guest's ids, in the guest's order. Fails unless both
/// parties hold exactly the same ids.
fn match_rows(
    table: &str,
    sid_name: &str,
    host_sids: &[&str],
    guest_sids: &[String],
) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = host_sids.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let mut seen = vec![false; host_sids.len()];
    let mut rows = Vec::with_capacity(guest_sids.len());
    for sid in guest_sids {
        let Some(&row) = index.get(sid.as_str()) else {
            return Err(Error::InvalidValue {
                table: table.into(),
                sid: sid.clone(),
                column: sid_name.into(),
                reason: format!(
                    "the guest has this sample but this host does not ({} guest ids, {} host rows); run Intersection first so that both hold the same ids",
                    guest_sids.len(),
                    host_sids.len()
                ),
            });
        };
        if std::mem::replace(&mut seen[row], true) {
            return Err(Error::InvalidValue {
                table: table.into(),
                sid: sid.clone(),
                column: sid_name.into(),
                reason: "the guest sent this id twice".into(),
            });
        }
        rows.push(row);
    }
    if let Some(row) = seen.iter().position(|&s| !s) {
        return Err(Error::InvalidValue {
            table: table.into(),
            sid: host_sids[row].into(),
            column: sid_name.into(),
            reason: format!(
                "this host has the sample but the guest does not ({} guest ids, {} host rows); run Intersection first so that both hold the same ids",
                guest_sids.len(),
                host_sids.len()
            ),
        });
    }
    Ok(rows)
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

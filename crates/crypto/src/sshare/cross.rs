//! Shares of a cross-party product `Xᵀ·Y` where `X` (`n × p`) belongs to one party and
//! `Y` (`n × q`) to the other, both integer (fixed-point) matrices.
//!
//! The owner of `Y` packs each row's `q` values as signed slots of `slot_bits` bits into
//! as few plaintexts as its key allows and encrypts them once ([`encrypt_rows`]: `n·⌈q/s⌉`
//! encryptions instead of `n·q`). The owner of `X` computes each column's dot product with
//! bucket multi-exponentiation ([`dot_to_shares`]: a ciphertext whose slots are the column
//! of `Xᵀ·Y`), adds a statistically hiding mask to every slot, keeps `−mask` as its shares
//! and sends the re-randomized ciphertexts back; the key owner decrypts and unpacks its
//! shares ([`shares_from_packed`]). This is the [`super::he`] boundary with slots: a product
//! of two privately held matrices needs no Beaver triple.
//!
//! Every entry of `Xᵀ·Y` must satisfy `|z| < 2^value_bits`; a slot is
//! `value_bits + HIDING_BITS + 2` bits wide and `value_bits + HIDING_BITS ≤ 127`.

use rayon::prelude::*;
use rug::ops::RemRounding;
use rug::Integer;
use serde::{Deserialize, Serialize};

use super::he::{centered, HIDING_BITS};
use crate::paillier::{Ciphertext, Encryptor, PrivateKey, PublicKey};
use crate::{rng, Error, Result};

/// The packing of one party's rows for [`encrypt_rows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossLayout {
    /// Bound on the entries of the product: `|z| < 2^value_bits`.
    pub value_bits: u32,
    /// Width of one signed slot.
    pub slot_bits: u32,
    /// Slots per plaintext.
    pub slots: usize,
    /// Columns of the encrypted matrix (`q`).
    pub columns: usize,
}

impl CrossLayout {
    /// The layout for `columns` columns under `key` for products bounded by
    /// `2^value_bits`; an error naming the sizes when the key cannot hold one slot.
    pub fn new(key: &PublicKey, value_bits: u32, columns: usize) -> Result<Self> {
        Self::for_key_bits(key.bits(), value_bits, columns)
    }

    /// [`CrossLayout::new`] from the modulus size alone.
    pub fn for_key_bits(key_bits: u32, value_bits: u32, columns: usize) -> Result<Self> {
        if value_bits + HIDING_BITS > 127 {
            return Err(Error::KeyTooSmall {
                needed: value_bits + HIDING_BITS + 1,
                available: 128,
            });
        }
        let slot_bits = value_bits + HIDING_BITS + 2;
        // A packed value must stay inside (−n/2, n/2]: at most key_bits − 2 bits.
        let slots = (key_bits.saturating_sub(2) / slot_bits) as usize;
        if slots == 0 {
            return Err(Error::KeyTooSmall {
                needed: slot_bits + 2,
                available: key_bits,
            });
        }
        Ok(Self {
            value_bits,
            slot_bits,
            slots,
            columns,
        })
    }

    /// Ciphertexts per row: `⌈columns / slots⌉`.
    pub fn per_row(&self) -> usize {
        self.columns.div_ceil(self.slots).max(1)
    }

    fn chunks(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        (0..self.per_row()).map(|k| k * self.slots..((k + 1) * self.slots).min(self.columns))
    }
}

/// `Σⱼ vⱼ·2^(j·w)` for signed slot values.
fn pack_signed(values: &[i128], slot_bits: u32) -> Integer {
    let mut acc = Integer::new();
    for &v in values.iter().rev() {
        acc <<= slot_bits;
        acc += v;
    }
    acc
}

/// Inverse of [`pack_signed`] for a centered plaintext.
fn unpack_signed(mut m: Integer, slot_bits: u32, count: usize) -> Vec<i128> {
    let half = Integer::from(1) << (slot_bits - 1);
    let full = Integer::from(1) << slot_bits;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut low = Integer::from(m.keep_bits_ref(slot_bits));
        if low >= half {
            low -= &full;
        }
        m -= &low;
        m >>= slot_bits;
        out.push(low.to_i128().expect("slot fits in i128"));
    }
    out
}

/// Encrypts `y` (`n × columns`, row-major) row by row, [`CrossLayout::per_row`]
/// ciphertexts per row (use the private key as encryptor when owning it: CRT).
pub fn encrypt_rows<E: Encryptor + ?Sized>(
    enc: &E,
    layout: &CrossLayout,
    y: &[i64],
) -> Result<Vec<Ciphertext>> {
    let q = layout.columns;
    if q == 0 || !y.len().is_multiple_of(q) {
        return Err(Error::LengthMismatch {
            left: y.len(),
            right: q,
        });
    }
    let n = enc.public_key().n().clone();
    let plain: Vec<Integer> = y
        .par_chunks(q)
        .flat_map_iter(|row| {
            layout
                .chunks()
                .map(|r| {
                    let vals: Vec<i128> = row[r].iter().map(|&v| v as i128).collect();
                    pack_signed(&vals, layout.slot_bits).rem_euc(&n)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    enc.public_key().prepare_obfuscators(plain.len());
    enc.encrypt_raw_batch(&plain)
}

/// For each column `x` (length `n`), the masked, re-randomized ciphertexts of `xᵀ·Y`
/// (`per_row` each) and this party's shares (`columns` each, `x`-major: entry
/// `(i, j)` of `Xᵀ·Y` at `i·q + j`).
pub fn dot_to_shares(
    key: &PublicKey,
    layout: &CrossLayout,
    cts: &[Ciphertext],
    x_columns: &[Vec<i64>],
) -> Result<(Vec<u128>, Vec<Ciphertext>)> {
    let per_row = layout.per_row();
    if !cts.len().is_multiple_of(per_row) {
        return Err(Error::Malformed {
            what: "packed rows",
            reason: "ciphertext count is not a multiple of the ciphertexts per row",
        });
    }
    for c in cts {
        key.check_ciphertext(c)?;
    }
    let rows = cts.len() / per_row;
    let mut dots: Vec<Vec<Ciphertext>> = vec![Vec::new(); per_row];
    for (k, out) in dots.iter_mut().enumerate() {
        let sub: Vec<Ciphertext> = cts.iter().skip(k).step_by(per_row).cloned().collect();
        debug_assert_eq!(sub.len(), rows);
        *out = key.raw_dot_columns(&sub, x_columns)?;
    }
    let mask_bits = layout.value_bits + HIDING_BITS;
    let q = layout.columns;
    let mut keep = vec![0u128; x_columns.len() * q];
    let mut masked = Vec::with_capacity(x_columns.len() * per_row);
    for i in 0..x_columns.len() {
        for (k, range) in layout.chunks().enumerate() {
            let masks: Vec<i128> = range
                .clone()
                .map(|_| rng::random_bits(mask_bits).to_i128().expect("below 2^127"))
                .collect();
            for (j, &m) in range.clone().zip(&masks) {
                keep[i * q + j] = (m as u128).wrapping_neg();
            }
            let packed = pack_signed(&masks, layout.slot_bits);
            masked.push(key.raw_add_plain(&dots[k][i], &packed));
        }
    }
    Ok((keep, key.rerandomize_raw_batch(&masked)))
}

/// The key owner's shares from [`dot_to_shares`]'s ciphertexts (`columns` per `x` column).
pub fn shares_from_packed(
    key: &PrivateKey,
    layout: &CrossLayout,
    cts: &[Ciphertext],
) -> Result<Vec<u128>> {
    let pk = key.public_key();
    for c in cts {
        pk.check_ciphertext(c)?;
    }
    let per_row = layout.per_row();
    if !cts.len().is_multiple_of(per_row) {
        return Err(Error::Malformed {
            what: "packed products",
            reason: "ciphertext count is not a multiple of the ciphertexts per row",
        });
    }
    let plain = key.decrypt_raw_batch(cts);
    let mut out = Vec::with_capacity(cts.len() / per_row * layout.columns);
    for group in plain.chunks(per_row) {
        for (m, range) in group.iter().zip(layout.chunks()) {
            let vals = unpack_signed(centered(m.clone(), pk.n()), layout.slot_bits, range.len());
            out.extend(vals.into_iter().map(|v| v as u128));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paillier::Keypair;
    use crate::sshare::reveal;
    use rand::{Rng, SeedableRng};

    #[test]
    fn packed_cross_product_matches_plain() {
        let keys = Keypair::generate(1024).unwrap();
        let mut r = rand::rngs::StdRng::seed_from_u64(17);
        let (n, p, q) = (200, 3, 13);
        let y: Vec<i64> = (0..n * q)
            .map(|_| r.random_range(-(1 << 24)..(1 << 24)))
            .collect();
        let xs: Vec<Vec<i64>> = (0..p)
            .map(|_| {
                (0..n)
                    .map(|_| r.random_range(-(1 << 24)..(1 << 24)))
                    .collect()
            })
            .collect();
        let layout = CrossLayout::new(&keys.public, 48 + 8 + 1, q).unwrap();
        assert!(layout.per_row() >= 2, "{layout:?}");
        let cts = encrypt_rows(&keys.private, &layout, &y).unwrap();
        let (keep, sent) = dot_to_shares(&keys.public, &layout, &cts, &xs).unwrap();
        let shares = shares_from_packed(&keys.private, &layout, &sent).unwrap();
        for i in 0..p {
            for j in 0..q {
                let want: i128 = (0..n)
                    .map(|l| xs[i][l] as i128 * y[l * q + j] as i128)
                    .sum();
                assert_eq!(reveal(keep[i * q + j], shares[i * q + j]) as i128, want);
            }
        }
        assert!(CrossLayout::for_key_bits(1024, 100, 3).is_err());
    }
}

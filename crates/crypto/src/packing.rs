//! Packing several small non-negative integers into one Paillier plaintext, so that one
//! encryption, one ciphertext addition and one decryption serve them all.
//!
//! This is the primitive behind FATE's label packing in hetero feature binning and the
//! g/h packing ("GH packing") and cipher compression of SecureBoost.
//!
//! A **record** is a fixed list of slots of given bit widths; slot 0 is the most
//! significant: `record = (((v0 << b1) + v1) << b2) + v2 ...`. A plaintext holds up to
//! [`Packer::records_per_plaintext`] records, the first one most significant:
//! `plaintext = (((r0 << B) + r1) << B) + r2 ...` with `B` the record width.
//!
//! Homomorphic additions add slot by slot, so each slot must be wide enough for the largest
//! **sum** it will hold: use [`Packer::slot_bits_for`] with the value bound and the number
//! of additions. [`Packer::compress`] turns ciphertexts holding one record into
//! ciphertexts holding several (`acc ⊗ 2^B ⊕ next`), after the sums are done.
//!
//! Overflow checks: packing refuses a value wider than its slot and a layout wider than the
//! plaintext space (`bits(max_int) − 1`, so a packed plaintext always decodes as a
//! non-negative number); unpacking refuses a plaintext with bits above its last record,
//! which is what an overflowing top slot or a negative sum produces.

use rayon::prelude::*;
use rug::Integer;

use crate::paillier::{Ciphertext, Encryptor, PrivateKey, PublicKey};
use crate::{Error, Result};

/// Widest slot, so that slot values fit in a `u128`.
pub const MAX_SLOT_BITS: u32 = 128;

/// A packing layout for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packer {
    slot_bits: Vec<u32>,
    record_bits: u32,
    capacity_bits: u32,
    records_per_plaintext: usize,
}

impl Packer {
    /// A layout of records with the given slot widths, for `key`.
    pub fn for_key(key: &PublicKey, slot_bits: &[u32]) -> Result<Self> {
        Self::new(slot_bits, Self::plaintext_bits(key))
    }

    /// A layout of records with the given slot widths in a plaintext space of
    /// `capacity_bits` bits.
    pub fn new(slot_bits: &[u32], capacity_bits: u32) -> Result<Self> {
        if slot_bits.is_empty() {
            return Err(Error::PackingCapacity {
                needed: 0,
                available: capacity_bits,
            });
        }
        if let Some((slot, &bits)) = slot_bits
            .iter()
            .enumerate()
            .find(|(_, &b)| b == 0 || b > MAX_SLOT_BITS)
        {
            return Err(Error::SlotOverflow { slot, bits });
        }
        let record_bits: u32 = slot_bits.iter().sum();
        if record_bits > capacity_bits {
            return Err(Error::PackingCapacity {
                needed: record_bits,
                available: capacity_bits,
            });
        }
        Ok(Self {
            slot_bits: slot_bits.to_vec(),
            record_bits,
            capacity_bits,
            records_per_plaintext: (capacity_bits / record_bits) as usize,
        })
    }

    /// Bits of a key's plaintext space usable for packing: `bits(max_int) − 1`.
    pub fn plaintext_bits(key: &PublicKey) -> u32 {
        key.max_int().significant_bits() - 1
    }

    /// Width of a slot that holds the sum of up to `max_summands` values, each at most
    /// `max_value` (at least 1).
    pub fn slot_bits_for(max_value: u128, max_summands: u64) -> u32 {
        let max_sum = Integer::from(max_value) * max_summands;
        max_sum.significant_bits().max(1)
    }

    /// Slot widths of one record.
    pub fn slot_bits(&self) -> &[u32] {
        &self.slot_bits
    }

    /// Number of slots in a record.
    pub fn slots(&self) -> usize {
        self.slot_bits.len()
    }

    /// Width of one record.
    pub fn record_bits(&self) -> u32 {
        self.record_bits
    }

    /// Width of the plaintext space.
    pub fn capacity_bits(&self) -> u32 {
        self.capacity_bits
    }

    /// How many records fit in one plaintext.
    pub fn records_per_plaintext(&self) -> usize {
        self.records_per_plaintext
    }

    /// Packs one record (one value per slot).
    pub fn pack_record(&self, record: &[u128]) -> Result<Integer> {
        if record.len() != self.slots() {
            return Err(Error::LengthMismatch {
                left: record.len(),
                right: self.slots(),
            });
        }
        let mut acc = Integer::new();
        for (slot, (&v, &bits)) in record.iter().zip(&self.slot_bits).enumerate() {
            if bits < MAX_SLOT_BITS && v >> bits != 0 {
                return Err(Error::SlotOverflow { slot, bits });
            }
            acc <<= bits;
            acc += v;
        }
        Ok(acc)
    }

    /// Packs a flat list of records (`slots()` values each) into as few plaintexts as
    /// possible.
    pub fn pack(&self, records: &[u128]) -> Result<Vec<Integer>> {
        self.check_flat(records.len())?;
        records
            .chunks(self.slots() * self.records_per_plaintext)
            .map(|group| {
                let mut acc = Integer::new();
                for record in group.chunks(self.slots()) {
                    acc <<= self.record_bits;
                    acc += self.pack_record(record)?;
                }
                Ok(acc)
            })
            .collect()
    }

    /// Unpacks plaintexts made by [`Packer::pack`] (or decrypted from
    /// [`Packer::compress`]) holding `n_records` records in total, into a flat list.
    pub fn unpack(&self, plaintexts: &[Integer], n_records: usize) -> Result<Vec<u128>> {
        let expected = n_records.div_ceil(self.records_per_plaintext);
        if plaintexts.len() != expected {
            return Err(Error::LengthMismatch {
                left: plaintexts.len(),
                right: expected,
            });
        }
        let mut out = Vec::with_capacity(n_records * self.slots());
        for (i, pt) in plaintexts.iter().enumerate() {
            let held = (n_records - i * self.records_per_plaintext).min(self.records_per_plaintext);
            out.extend(self.unpack_one(pt, held)?);
        }
        Ok(out)
    }

    /// Unpacks one plaintext holding `records` records.
    fn unpack_one(&self, plaintext: &Integer, records: usize) -> Result<Vec<u128>> {
        let used_bits = self.record_bits * records as u32;
        if *plaintext < 0 || plaintext.significant_bits() > used_bits {
            return Err(Error::PackingOverflow);
        }
        let mut rest = plaintext.clone();
        let mut values = Vec::with_capacity(records * self.slots());
        for _ in 0..records {
            for &bits in self.slot_bits.iter().rev() {
                let v = Integer::from(rest.keep_bits_ref(bits));
                values.push(v.to_u128().expect("slot is at most 128 bits"));
                rest >>= bits;
            }
        }
        values.reverse();
        Ok(values)
    }

    /// Encrypts each record into its own ciphertext (in parallel), ready to be summed.
    pub fn encrypt_records<E: Encryptor + ?Sized>(
        &self,
        encryptor: &E,
        records: &[u128],
    ) -> Result<Vec<Ciphertext>> {
        self.check_flat(records.len())?;
        records
            .par_chunks(self.slots())
            .map(|record| encryptor.encrypt_raw(&self.pack_record(record)?))
            .collect()
    }

    /// Packs records several to a plaintext and encrypts them (in parallel).
    pub fn encrypt_packed<E: Encryptor + ?Sized>(
        &self,
        encryptor: &E,
        records: &[u128],
    ) -> Result<Vec<Ciphertext>> {
        encryptor.encrypt_raw_batch(&self.pack(records)?)
    }

    /// Compresses ciphertexts that each hold one record (for example per-bin sums of
    /// [`Packer::encrypt_records`] outputs) into ciphertexts holding
    /// [`Packer::records_per_plaintext`] records each. The result is not re-randomized.
    pub fn compress(&self, key: &PublicKey, records: &[Ciphertext]) -> Result<Vec<Ciphertext>> {
        let shift = Integer::from(1) << self.record_bits;
        records
            .par_chunks(self.records_per_plaintext)
            .map(|group| {
                let mut acc = group[0].clone();
                for next in &group[1..] {
                    acc = key.raw_add(&key.raw_mul(&acc, &shift)?, next);
                }
                Ok(acc)
            })
            .collect()
    }

    /// Decrypts ciphertexts holding one record each (in parallel).
    pub fn decrypt_records(
        &self,
        key: &PrivateKey,
        ciphertexts: &[Ciphertext],
    ) -> Result<Vec<u128>> {
        let per_ct: Vec<Vec<u128>> = ciphertexts
            .par_iter()
            .map(|c| self.unpack_one(&key.decrypt_raw(c), 1))
            .collect::<Result<_>>()?;
        Ok(per_ct.concat())
    }

    /// Decrypts ciphertexts made by [`Packer::encrypt_packed`] or [`Packer::compress`],
    /// holding `n_records` records in total (in parallel).
    pub fn decrypt_packed(
        &self,
        key: &PrivateKey,
        ciphertexts: &[Ciphertext],
        n_records: usize,
    ) -> Result<Vec<u128>> {
        self.unpack(&key.decrypt_raw_batch(ciphertexts), n_records)
    }

    fn check_flat(&self, len: usize) -> Result<()> {
        if !len.is_multiple_of(self.slots()) {
            return Err(Error::LengthMismatch {
                left: len,
                right: len.next_multiple_of(self.slots()),
            });
        }
        Ok(())
    }
}

/// Fixed-point conversion of a float for a slot: `round((x + offset) · 2^precision_bits)`,
/// ties to even. `x + offset` must be non-negative (FATE offsets gradients by
/// `|min g|` for this).
pub fn encode_fixed(x: f64, precision_bits: u32, offset: f64) -> Result<u128> {
    let shifted = x + offset;
    if !shifted.is_finite() {
        return Err(Error::NonFinite(shifted));
    }
    let scaled =
        (shifted * crate::encoding::exp2i(precision_bits.min(1100) as i32)).round_ties_even();
    if !(0.0..crate::encoding::exp2i(128)).contains(&scaled) {
        return Err(Error::OutOfRange {
            target: "u128 slot",
        });
    }
    Ok(scaled as u128)
}

/// Inverse of [`encode_fixed`] for a sum of `count` encoded values:
/// `v / 2^precision_bits − offset · count`.
pub fn decode_fixed(v: u128, precision_bits: u32, offset: f64, count: u64) -> f64 {
    let value = crate::encoding::integer_to_f64(&Integer::from(v)).unwrap_or(f64::INFINITY);
    value * crate::encoding::exp2i(-(precision_bits.min(1100) as i32)) - offset * count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let p = Packer::new(&[3, 5], 20).unwrap();
        assert_eq!(p.record_bits(), 8);
        assert_eq!(p.records_per_plaintext(), 2);
        let records = [1u128, 2, 7, 31, 0, 1];
        let packed = p.pack(&records).unwrap();
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[0], (((1u32 << 5) + 2) << 8) + (7 << 5) + 31);
        assert_eq!(p.unpack(&packed, 3).unwrap(), records);
    }

    #[test]
    fn overflow_checks() {
        let p = Packer::new(&[3, 5], 20).unwrap();
        assert!(matches!(
            p.pack_record(&[8, 0]),
            Err(Error::SlotOverflow { slot: 0, bits: 3 })
        ));
        assert!(matches!(
            Packer::new(&[16, 16], 20),
            Err(Error::PackingCapacity { .. })
        ));
        assert!(matches!(
            p.unpack(&[Integer::from(1) << 8u32], 1),
            Err(Error::PackingOverflow)
        ));
        assert!(matches!(
            p.pack(&[1, 2, 3]),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn slot_widths() {
        assert_eq!(Packer::slot_bits_for(1, 1), 1);
        assert_eq!(Packer::slot_bits_for(1, 1000), 10);
        assert_eq!(Packer::slot_bits_for(u128::MAX, 2), 129);
    }

    #[test]
    fn fixed_point() {
        let v = encode_fixed(-0.25, 52, 1.0).unwrap();
        assert_eq!(v, 3u128 << 50);
        assert_eq!(decode_fixed(v * 4, 52, 1.0, 4), -1.0);
        assert!(encode_fixed(-2.0, 52, 1.0).is_err());
    }
}

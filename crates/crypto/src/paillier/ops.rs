//! Homomorphic operations (on the public key) and decryption (on the private key).
//!
//! The semantics follow FATE 1.x `PaillierEncryptedNumber`: addition aligns both operands
//! to the larger exponent by multiplying the other by `16^Δ`; adding a plaintext encodes it
//! with `max_exponent` = the ciphertext's exponent and encrypts it without obfuscation;
//! multiplying by a scalar encodes the scalar (full precision) and adds the exponents.
//! Results of these operations are not re-randomized: call
//! [`Encryptor::rerandomize`](super::Encryptor::rerandomize)
//! before sending a result to another party.

use rayon::prelude::*;
use rug::ops::RemRounding;
use rug::Integer;

use super::{Ciphertext, EncryptedNumber, PrivateKey, PublicKey};
use crate::encoding::{FixedPointNumber, BASE, LOG2_BASE};
use crate::{Error, Result};

fn check_lengths(left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(Error::LengthMismatch { left, right })
    }
}

impl PublicKey {
    /// `a ⊕ b`: the ciphertext of the sum of the plaintexts (`a·b mod n²`).
    pub fn raw_add(&self, a: &Ciphertext, b: &Ciphertext) -> Ciphertext {
        Ciphertext(Integer::from(a.as_integer() * b.as_integer()) % self.n_squared())
    }

    /// Encrypts `m mod n` without obfuscation (`1 + m·n`): deterministic, so never send it
    /// as is. `m` may be negative.
    pub fn encrypt_raw_unobfuscated(&self, m: &Integer) -> Ciphertext {
        let m = Integer::from(m.rem_euc(self.n()));
        Ciphertext(m * self.n() + 1u32)
    }

    /// `a ⊕ E(m)` with an unobfuscated encryption of `m mod n` (`m` may be negative).
    pub fn raw_add_plain(&self, a: &Ciphertext, m: &Integer) -> Ciphertext {
        self.raw_add(a, &self.encrypt_raw_unobfuscated(m))
    }

    /// `⊖a`: the ciphertext of the negated plaintext (`a⁻¹ mod n²`).
    pub fn raw_neg(&self, a: &Ciphertext) -> Result<Ciphertext> {
        a.as_integer()
            .invert_ref(self.n_squared())
            .map(|i| Ciphertext(Integer::from(i)))
            .ok_or(Error::InvalidCiphertext)
    }

    /// `k ⊗ a`: the ciphertext of `k · m mod n`. `k` is taken modulo n; when it encodes a
    /// negative number (`k ≥ n − max_int`, or `k < 0`) the ciphertext is inverted and raised
    /// to `|k|`, so a small negative scalar costs a small exponent.
    pub fn raw_mul(&self, a: &Ciphertext, k: &Integer) -> Result<Ciphertext> {
        let n = self.n();
        let k = Integer::from(k.rem_euc(n));
        let neg_k = Integer::from(n - &k);
        if neg_k <= *self.max_int() {
            let inv = self.raw_neg(a)?;
            Ok(Ciphertext(
                inv.0
                    .pow_mod(&neg_k, self.n_squared())
                    .expect("non-negative exponent"),
            ))
        } else {
            Ok(Ciphertext(
                a.as_integer()
                    .clone()
                    .pow_mod(&k, self.n_squared())
                    .expect("non-negative exponent"),
            ))
        }
    }

    /// The same number with a larger exponent (`new_exponent ≥ x.exponent`): the ciphertext
    /// is multiplied by `16^(new_exponent − x.exponent)`.
    pub fn increase_exponent_to(
        &self,
        x: &EncryptedNumber,
        new_exponent: i32,
    ) -> Result<EncryptedNumber> {
        let delta = new_exponent
            .checked_sub(x.exponent)
            .filter(|d| *d >= 0)
            .ok_or(Error::EncodeOverflow)?;
        if delta == 0 {
            return Ok(x.clone());
        }
        let factor = pow16(delta)?;
        if factor > *self.max_int() {
            return Err(Error::EncodeOverflow);
        }
        Ok(EncryptedNumber {
            ciphertext: self.raw_mul(&x.ciphertext, &factor)?,
            exponent: new_exponent,
        })
    }

    /// `a + b`, aligned to the larger exponent.
    pub fn add(&self, a: &EncryptedNumber, b: &EncryptedNumber) -> Result<EncryptedNumber> {
        let (a, b) = match a.exponent.cmp(&b.exponent) {
            std::cmp::Ordering::Less => (self.increase_exponent_to(a, b.exponent)?, b.clone()),
            std::cmp::Ordering::Greater => (a.clone(), self.increase_exponent_to(b, a.exponent)?),
            std::cmp::Ordering::Equal => (a.clone(), b.clone()),
        };
        Ok(EncryptedNumber {
            ciphertext: self.raw_add(&a.ciphertext, &b.ciphertext),
            exponent: a.exponent,
        })
    }

    /// `a − b`, computed as FATE does: `a + b·(−1)`.
    pub fn sub(&self, a: &EncryptedNumber, b: &EncryptedNumber) -> Result<EncryptedNumber> {
        self.add(a, &self.neg(b)?)
    }

    /// `−a` (same exponent).
    pub fn neg(&self, a: &EncryptedNumber) -> Result<EncryptedNumber> {
        Ok(EncryptedNumber {
            ciphertext: self.raw_neg(&a.ciphertext)?,
            exponent: a.exponent,
        })
    }

    /// `a + y` for an encoded plaintext `y`, aligned to the larger exponent.
    pub fn add_encoded(
        &self,
        a: &EncryptedNumber,
        y: &FixedPointNumber,
    ) -> Result<EncryptedNumber> {
        let (a, encoding) = if y.exponent > a.exponent {
            (
                self.increase_exponent_to(a, y.exponent)?,
                y.encoding.clone(),
            )
        } else {
            let factor = pow16(a.exponent - y.exponent)?;
            (a.clone(), (Integer::from(&y.encoding * &factor)) % self.n())
        };
        Ok(EncryptedNumber {
            ciphertext: self.raw_add_plain(&a.ciphertext, &encoding),
            exponent: a.exponent,
        })
    }

    /// `a + x` for a float, encoded with `max_exponent = a.exponent` (FATE's scalar add).
    pub fn add_f64(&self, a: &EncryptedNumber, x: f64) -> Result<EncryptedNumber> {
        self.add_encoded(a, &self.encoder().encode_f64(x, None, Some(a.exponent))?)
    }

    /// `a + x` for an integer, encoded with `max_exponent = a.exponent`.
    pub fn add_i64(&self, a: &EncryptedNumber, x: i64) -> Result<EncryptedNumber> {
        self.add_encoded(a, &self.encoder().encode_i64(x, Some(a.exponent))?)
    }

    /// `a · k` for an encoded scalar: the exponents add.
    pub fn mul_encoded(
        &self,
        a: &EncryptedNumber,
        k: &FixedPointNumber,
    ) -> Result<EncryptedNumber> {
        let exponent = a
            .exponent
            .checked_add(k.exponent)
            .ok_or(Error::EncodeOverflow)?;
        Ok(EncryptedNumber {
            ciphertext: self.raw_mul(&a.ciphertext, &k.encoding)?,
            exponent,
        })
    }

    /// `a · k` for a float scalar, encoded with full precision (FATE's `__mul__`).
    pub fn mul_f64(&self, a: &EncryptedNumber, k: f64) -> Result<EncryptedNumber> {
        self.mul_encoded(a, &self.encoder().encode_f64(k, None, None)?)
    }

    /// `a · k` for an integer scalar (exponent unchanged).
    pub fn mul_i64(&self, a: &EncryptedNumber, k: i64) -> Result<EncryptedNumber> {
        self.mul_encoded(a, &self.encoder().encode_i64(k, None)?)
    }

    /// The sum of all numbers, aligned to the largest exponent; the empty sum is an
    /// unobfuscated encryption of 0 with exponent 0. Runs in parallel.
    pub fn sum(&self, xs: &[EncryptedNumber]) -> Result<EncryptedNumber> {
        let Some(exponent) = xs.iter().map(|x| x.exponent).max() else {
            return Ok(EncryptedNumber {
                ciphertext: Ciphertext::one(),
                exponent: 0,
            });
        };
        let ciphertext = xs
            .par_iter()
            .map(|x| self.increase_exponent_to(x, exponent).map(|x| x.ciphertext))
            .try_reduce(Ciphertext::one, |a, b| Ok(self.raw_add(&a, &b)))?;
        Ok(EncryptedNumber {
            ciphertext,
            exponent,
        })
    }

    /// [`PublicKey::raw_add`] element by element, in parallel.
    pub fn raw_add_batch(&self, a: &[Ciphertext], b: &[Ciphertext]) -> Result<Vec<Ciphertext>> {
        check_lengths(a.len(), b.len())?;
        Ok(a.par_iter()
            .zip(b)
            .map(|(a, b)| self.raw_add(a, b))
            .collect())
    }

    /// [`PublicKey::raw_mul`] element by element, in parallel.
    pub fn raw_mul_batch(&self, a: &[Ciphertext], k: &[Integer]) -> Result<Vec<Ciphertext>> {
        check_lengths(a.len(), k.len())?;
        a.par_iter()
            .zip(k)
            .map(|(a, k)| self.raw_mul(a, k))
            .collect()
    }

    /// [`PublicKey::add`] element by element, in parallel.
    pub fn add_batch(
        &self,
        a: &[EncryptedNumber],
        b: &[EncryptedNumber],
    ) -> Result<Vec<EncryptedNumber>> {
        check_lengths(a.len(), b.len())?;
        a.par_iter().zip(b).map(|(a, b)| self.add(a, b)).collect()
    }

    /// [`PublicKey::sub`] element by element, in parallel.
    pub fn sub_batch(
        &self,
        a: &[EncryptedNumber],
        b: &[EncryptedNumber],
    ) -> Result<Vec<EncryptedNumber>> {
        check_lengths(a.len(), b.len())?;
        a.par_iter().zip(b).map(|(a, b)| self.sub(a, b)).collect()
    }

    /// [`PublicKey::add_f64`] element by element, in parallel.
    pub fn add_f64_batch(&self, a: &[EncryptedNumber], x: &[f64]) -> Result<Vec<EncryptedNumber>> {
        check_lengths(a.len(), x.len())?;
        a.par_iter()
            .zip(x)
            .map(|(a, &x)| self.add_f64(a, x))
            .collect()
    }

    /// [`PublicKey::mul_f64`] element by element, in parallel.
    pub fn mul_f64_batch(&self, a: &[EncryptedNumber], k: &[f64]) -> Result<Vec<EncryptedNumber>> {
        check_lengths(a.len(), k.len())?;
        a.par_iter()
            .zip(k)
            .map(|(a, &k)| self.mul_f64(a, k))
            .collect()
    }

    /// [`PublicKey::mul_i64`] element by element, in parallel.
    pub fn mul_i64_batch(&self, a: &[EncryptedNumber], k: &[i64]) -> Result<Vec<EncryptedNumber>> {
        check_lengths(a.len(), k.len())?;
        a.par_iter()
            .zip(k)
            .map(|(a, &k)| self.mul_i64(a, k))
            .collect()
    }

    /// [`PublicKey::neg`] over a slice, in parallel.
    pub fn neg_batch(&self, a: &[EncryptedNumber]) -> Result<Vec<EncryptedNumber>> {
        a.par_iter().map(|a| self.neg(a)).collect()
    }
}

/// `16^e` for `e ≥ 0`, bounded to keep inputs from causing huge allocations.
fn pow16(e: i32) -> Result<Integer> {
    let bits = u32::try_from(e)
        .ok()
        .and_then(|e| e.checked_mul(LOG2_BASE as u32))
        .ok_or(Error::EncodeOverflow)?;
    if bits > 2 * super::MAX_KEY_BITS {
        return Err(Error::EncodeOverflow);
    }
    debug_assert_eq!(BASE, 1 << LOG2_BASE);
    Ok(Integer::from(1) << bits)
}

impl PrivateKey {
    /// [`PrivateKey::decrypt_raw`] over a slice, in parallel.
    pub fn decrypt_raw_batch(&self, cs: &[Ciphertext]) -> Vec<Integer> {
        cs.par_iter().map(|c| self.decrypt_raw(c)).collect()
    }

    /// Decrypts to the encoded number (no range check yet).
    pub fn decrypt_encoded(&self, x: &EncryptedNumber) -> FixedPointNumber {
        FixedPointNumber {
            encoding: self.decrypt_raw(&x.ciphertext),
            exponent: x.exponent,
        }
    }

    /// Decrypts and decodes to the nearest `f64`.
    pub fn decrypt_f64(&self, x: &EncryptedNumber) -> Result<f64> {
        self.public_key()
            .encoder()
            .decode_f64(&self.decrypt_encoded(x))
    }

    /// Decrypts and decodes to an `i64` (the value must be an integer).
    pub fn decrypt_i64(&self, x: &EncryptedNumber) -> Result<i64> {
        self.public_key()
            .encoder()
            .decode_i64(&self.decrypt_encoded(x))
    }

    /// [`PrivateKey::decrypt_f64`] over a slice, in parallel.
    pub fn decrypt_f64_batch(&self, xs: &[EncryptedNumber]) -> Result<Vec<f64>> {
        xs.par_iter().map(|x| self.decrypt_f64(x)).collect()
    }

    /// [`PrivateKey::decrypt_i64`] over a slice, in parallel.
    pub fn decrypt_i64_batch(&self, xs: &[EncryptedNumber]) -> Result<Vec<i64>> {
        xs.par_iter().map(|x| self.decrypt_i64(x)).collect()
    }
}

//! The Paillier cryptosystem with `g = n + 1`, FATE 1.x fixed-point numbers, and the
//! usual speed-ups.
//!
//! - **Keys.** [`Keypair::generate`] (1024, 2048 or 3072 bits), [`PublicKey`],
//!   [`PrivateKey`]; both serialize with serde to a typed, versioned form
//!   (`{"kind": "paillier-public-key", "version": 1, "n": "<hex>"}`, and
//!   `{"kind": "paillier-private-key", "version": 1, "p": "<hex>", "q": "<hex>"}`).
//! - **Encryption** goes through the [`Encryptor`] trait, implemented by [`PublicKey`]
//!   (anyone), [`PrivateKey`] (the key owner, CRT) and [`ObfuscatorPool`] (obfuscators
//!   precomputed by a background thread). `E(m) = (1 + m·n) · ρ mod n²` where the
//!   obfuscator `ρ` is an n-th residue:
//!   - public key: `ρ = h^x` with `h = (−s²)^n mod n²` fixed per key instance and `x` a fresh
//!     random exponent of [`short_exponent_bits`] bits (448 for 2048-bit keys), computed from
//!     a fixed-base table (Damgård–Jurik–Nielsen, PKC 2010, §4.4) whose width follows
//!     [`PublicKey::prepare_obfuscators`]; batches run eight exponentiations per call of
//!     the AVX-512 IFMA kernel where the CPU has it;
//!   - private key: the same `h^x`, computed modulo p² and q² from two half-size tables
//!     and recombined (CRT);
//!   - [`PublicKey::obfuscator_full`]: the textbook `r^n` with a full-size exponent
//!     (FATE's choice), for comparison.
//! - **Decryption** ([`PrivateKey::decrypt_raw`] and friends) uses CRT with side-channel
//!   resistant exponentiation.
//! - **Homomorphic operations** are methods of [`PublicKey`]: on raw [`Ciphertext`]s
//!   (`raw_add`, `raw_mul`, ...) and on [`EncryptedNumber`]s, which carry their fixed-point
//!   exponent and are aligned on addition like FATE does (`add`, `add_f64`, `mul_f64`, ...).
//!   Every operation has a `_batch` form over slices that runs on the rayon pool.
//!
//! # Security assumption of the short-exponent obfuscation
//!
//! With `ρ = h^x` and `x` shorter than the order of `h`, ciphertexts remain ordinary Paillier
//! ciphertexts (decryption and every homomorphic operation are unchanged, and FATE can
//! decrypt them), but semantic security rests on the DJN assumption: that `h^x` for a short
//! random `x` is indistinguishable from a uniform n-th residue (a short-exponent variant of
//! the decisional composite residuosity assumption). The exponent length is four times the
//! security level of the modulus, so generic attacks on `x` cost at least `2^(2κ)`.
//!
//! Each [`PublicKey`] value draws its own `h` on first use, from local randomness: the base is
//! never taken from the key owner, who therefore cannot choose it or know its discrete
//! logarithm. `h` is not serialized.
//!
//! # Side channels
//!
//! Exponentiations with the private key (decryption) use GMP's `mpz_powm_sec`. The
//! fixed-base tables are indexed by the bytes of the random exponent `x`, so memory access
//! patterns depend on `x` (but not on keys or plaintexts); GMP multiplication and division
//! are not guaranteed constant-time either. CRT encryption by the key owner
//! ([`PrivateKey`] as [`Encryptor`]) performs these variable-time operations modulo the
//! secret p² and q²; use [`PublicKey`] as the encryptor where that matters.
//! Secret values in GMP integers are not wiped from memory when dropped.

mod dot;
mod keys;
mod ops;
mod pool;
mod table;

use std::fmt;

use rayon::prelude::*;
use rug::integer::Order;
use rug::Integer;
use serde::{Deserialize, Serialize};

pub use keys::{
    generatable, short_exponent_bits, Keypair, PrivateKey, PublicKey, MAX_GENERATED_BITS,
    MAX_KEY_BITS, MIN_KEY_BITS, SUPPORTED_KEY_SIZES,
};
pub use pool::ObfuscatorPool;
pub use table::MAX_TABLE_BYTES;

use crate::encoding::FixedPointNumber;
use crate::{wire, Error, Result};

/// A raw Paillier ciphertext: an integer modulo n².
///
/// It does not know its key; operations take the key as `&self`. Serializes as a
/// lower-case hexadecimal string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ciphertext(Integer);

impl Ciphertext {
    /// Wraps an integer without checking it (see [`PublicKey::check_ciphertext`]).
    pub fn from_integer(c: Integer) -> Self {
        Self(c)
    }

    /// The integer value.
    pub fn as_integer(&self) -> &Integer {
        &self.0
    }

    /// The integer value.
    pub fn into_integer(self) -> Integer {
        self.0
    }

    /// Big-endian bytes without leading zeros.
    pub fn to_bytes_be(&self) -> Vec<u8> {
        self.0.to_digits(Order::Msf)
    }

    /// From big-endian bytes; at most `2 · MAX_KEY_BITS` bits are accepted.
    pub fn from_bytes_be(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > (2 * MAX_KEY_BITS / 8) as usize {
            return Err(Error::Malformed {
                what: "ciphertext",
                reason: "too long",
            });
        }
        Ok(Self(Integer::from_digits(bytes, Order::Msf)))
    }

    /// The encryption of 0 with no obfuscation (`1`), the neutral element of addition.
    pub fn one() -> Self {
        Self(Integer::from(1))
    }
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.0.to_string_radix(16);
        write!(
            f,
            "Ciphertext({}…, {} bits)",
            &hex[..hex.len().min(12)],
            self.0.significant_bits()
        )
    }
}

impl Serialize for Ciphertext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&wire::to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Ciphertext {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        wire::parse_hex(&s, "ciphertext", 2 * MAX_KEY_BITS)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// An encrypted fixed-point number: a ciphertext of the encoding and its base-16 exponent
/// (FATE 1.x `PaillierEncryptedNumber`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedNumber {
    /// The ciphertext of the encoding.
    pub ciphertext: Ciphertext,
    /// The exponent of the encoding: the value is `mantissa · 16^(-exponent)`.
    pub exponent: i32,
}

/// A random n-th residue modulo n², multiplied into a ciphertext to hide its plaintext.
#[derive(Clone)]
pub struct Obfuscator(pub(crate) Integer);

impl Obfuscator {
    /// The residue.
    pub fn as_integer(&self) -> &Integer {
        &self.0
    }
}

impl fmt::Debug for Obfuscator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Obfuscator(..)")
    }
}

/// Something that can encrypt: a source of obfuscators for one public key.
///
/// The provided methods encode, encrypt and re-randomize; the `_batch` ones run on the
/// rayon pool.
pub trait Encryptor: Sync {
    /// The key ciphertexts are made for.
    fn public_key(&self) -> &PublicKey;

    /// A fresh obfuscator.
    fn obfuscator(&self) -> Obfuscator;

    /// Encrypts a raw plaintext `m` in `[0, n)`: `(1 + m·n) · ρ mod n²`.
    fn encrypt_raw(&self, m: &Integer) -> Result<Ciphertext> {
        let pk = self.public_key();
        let c = unobfuscated(pk, m)?;
        Ok(Ciphertext((c * &self.obfuscator().0) % pk.n_squared()))
    }

    /// Encrypts an encoded number.
    fn encrypt_encoded(&self, x: &FixedPointNumber) -> Result<EncryptedNumber> {
        Ok(EncryptedNumber {
            ciphertext: self.encrypt_raw(&x.encoding)?,
            exponent: x.exponent,
        })
    }

    /// Encodes (full 53-bit precision) and encrypts a float.
    fn encrypt_f64(&self, x: f64) -> Result<EncryptedNumber> {
        self.encrypt_encoded(&self.public_key().encoder().encode_f64(x, None, None)?)
    }

    /// Encodes with the given precision (exponent `floor(log16(precision))`) and encrypts.
    fn encrypt_f64_with_precision(&self, x: f64, precision: f64) -> Result<EncryptedNumber> {
        self.encrypt_encoded(
            &self
                .public_key()
                .encoder()
                .encode_f64(x, Some(precision), None)?,
        )
    }

    /// Encodes (exponent 0) and encrypts an integer.
    fn encrypt_i64(&self, x: i64) -> Result<EncryptedNumber> {
        self.encrypt_encoded(&self.public_key().encoder().encode_i64(x, None)?)
    }

    /// Multiplies a fresh obfuscator into a ciphertext.
    fn rerandomize_raw(&self, c: &Ciphertext) -> Ciphertext {
        let pk = self.public_key();
        Ciphertext(Integer::from(&c.0 * &self.obfuscator().0) % pk.n_squared())
    }

    /// Re-randomizes an encrypted number (same value and exponent, fresh randomness).
    fn rerandomize(&self, x: &EncryptedNumber) -> EncryptedNumber {
        EncryptedNumber {
            ciphertext: self.rerandomize_raw(&x.ciphertext),
            exponent: x.exponent,
        }
    }

    /// [`Encryptor::encrypt_raw`] over a slice, in parallel.
    fn encrypt_raw_batch(&self, ms: &[Integer]) -> Result<Vec<Ciphertext>> {
        ms.par_iter().map(|m| self.encrypt_raw(m)).collect()
    }

    /// [`Encryptor::rerandomize_raw`] over a slice, in parallel.
    fn rerandomize_raw_batch(&self, cs: &[Ciphertext]) -> Vec<Ciphertext> {
        cs.par_iter().map(|c| self.rerandomize_raw(c)).collect()
    }

    /// [`Encryptor::encrypt_f64`] over a slice, in parallel.
    fn encrypt_f64_batch(&self, xs: &[f64]) -> Result<Vec<EncryptedNumber>> {
        xs.par_iter().map(|&x| self.encrypt_f64(x)).collect()
    }

    /// [`Encryptor::encrypt_f64_with_precision`] over a slice, in parallel.
    fn encrypt_f64_with_precision_batch(
        &self,
        xs: &[f64],
        precision: f64,
    ) -> Result<Vec<EncryptedNumber>> {
        xs.par_iter()
            .map(|&x| self.encrypt_f64_with_precision(x, precision))
            .collect()
    }

    /// [`Encryptor::encrypt_i64`] over a slice, in parallel.
    fn encrypt_i64_batch(&self, xs: &[i64]) -> Result<Vec<EncryptedNumber>> {
        xs.par_iter().map(|&x| self.encrypt_i64(x)).collect()
    }

    /// [`Encryptor::rerandomize`] over a slice, in parallel.
    fn rerandomize_batch(&self, xs: &[EncryptedNumber]) -> Vec<EncryptedNumber> {
        xs.par_iter().map(|x| self.rerandomize(x)).collect()
    }
}

/// [`PublicKey::encrypt_raw_unobfuscated`] for a raw plaintext that must lie in `[0, n)`.
fn unobfuscated(pk: &PublicKey, m: &Integer) -> Result<Integer> {
    if *m < 0 || *m >= *pk.n() {
        return Err(Error::PlaintextOutOfRange);
    }
    Ok(pk.encrypt_raw_unobfuscated(m).0)
}

impl Encryptor for PublicKey {
    fn public_key(&self) -> &PublicKey {
        self
    }

    fn obfuscator(&self) -> Obfuscator {
        PublicKey::obfuscator(self)
    }

    fn encrypt_raw_batch(&self, ms: &[Integer]) -> Result<Vec<Ciphertext>> {
        let plain: Vec<Integer> = ms
            .par_iter()
            .map(|m| unobfuscated(self, m))
            .collect::<Result<_>>()?;
        let refs: Vec<&Integer> = plain.iter().collect();
        Ok(self
            .times_obfuscators(&refs)
            .into_iter()
            .map(Ciphertext)
            .collect())
    }

    fn rerandomize_raw_batch(&self, cs: &[Ciphertext]) -> Vec<Ciphertext> {
        let refs: Vec<&Integer> = cs.iter().map(|c| &c.0).collect();
        self.times_obfuscators(&refs)
            .into_iter()
            .map(Ciphertext)
            .collect()
    }

    fn rerandomize_batch(&self, xs: &[EncryptedNumber]) -> Vec<EncryptedNumber> {
        let refs: Vec<&Integer> = xs.iter().map(|x| &x.ciphertext.0).collect();
        self.times_obfuscators(&refs)
            .into_iter()
            .zip(xs)
            .map(|(c, x)| EncryptedNumber {
                ciphertext: Ciphertext(c),
                exponent: x.exponent,
            })
            .collect()
    }
}

impl Encryptor for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        PrivateKey::public_key(self)
    }

    fn obfuscator(&self) -> Obfuscator {
        PrivateKey::obfuscator(self)
    }

    // Batches: the public key's eight-lane IFMA path beats CRT on GMP (and involves no
    // secret modulus); without IFMA, CRT one by one.
    fn encrypt_raw_batch(&self, ms: &[Integer]) -> Result<Vec<Ciphertext>> {
        let pk = self.public_key();
        if pk.mont_n2().is_some() {
            return pk.encrypt_raw_batch(ms);
        }
        ms.par_iter().map(|m| self.encrypt_raw(m)).collect()
    }

    fn rerandomize_raw_batch(&self, cs: &[Ciphertext]) -> Vec<Ciphertext> {
        let pk = self.public_key();
        if pk.mont_n2().is_some() {
            return pk.rerandomize_raw_batch(cs);
        }
        cs.par_iter().map(|c| self.rerandomize_raw(c)).collect()
    }

    fn rerandomize_batch(&self, xs: &[EncryptedNumber]) -> Vec<EncryptedNumber> {
        let pk = self.public_key();
        if pk.mont_n2().is_some() {
            return pk.rerandomize_batch(xs);
        }
        xs.par_iter().map(|x| self.rerandomize(x)).collect()
    }
}

//! RSA blind-signature PSI, compatible with FATE 1.x `rsa_intersect` (unified flow).
//!
//! The **host** holds an RSA key ([`RsaSigner`]); the **guest** ([`RsaBlinder`]) computes the
//! intersection. With `H1(v) = int(hash(v ‖ salt))` (first hash, as a big-endian integer)
//! and `Hf(s) = hex(hash(decimal(s) ‖ salt))` (final hash):
//!
//! 1. host → guest: the public key `(n, e)`;
//! 2. host → guest: `Hf(H1(h)^d mod n)` for each own id `h` ([`RsaSigner::sign_ids`]);
//! 3. guest → host: `r^e · H1(g) mod n` for each own id `g`, with a fresh 128-bit `r`
//!    ([`RsaBlinder::blind_ids`]);
//! 4. host → guest: each blinded value raised to `d` ([`RsaSigner::sign_blinded`]);
//! 5. guest: `Hf(S · r⁻¹ mod n)` ([`RsaBlinder::unblind`]) and joins with step 2
//!    ([`super::intersect`]).
//!
//! The private exponentiation uses CRT with GMP's side-channel resistant `mpz_powm_sec`,
//! and every signature is checked (`s^e = x`) before it is used, so that a computation
//! fault cannot leak a prime factor.

use std::fmt;

use rayon::prelude::*;
use rug::integer::{IsPrime, Order};
use rug::ops::RemRounding;
use rug::Integer;
use serde::{Deserialize, Serialize};

use super::HashMethod;
use crate::{rng, wire, Error, Result};

/// The public exponent of generated keys (FATE's).
pub const PUBLIC_EXPONENT: u32 = 65537;
/// Bits of the blinding factor `r` (FATE's `random_bit` default).
pub const DEFAULT_RANDOM_BITS: u32 = 128;
/// Key sizes offered by [`RsaSigner::generate`] (FATE's default is 2048).
pub const SUPPORTED_KEY_SIZES: &[u32] = &[1024, 2048, 3072];
const MIN_KEY_BITS: u32 = 1024;
/// `random_base_fraction` above this gives every id its own factor (FATE's).
const MAX_BASE_FRACTION: f64 = 0.99;
/// `random_base_fraction` below this is raised to it (FATE's).
const MIN_BASE_FRACTION: f64 = 0.01;
const MAX_KEY_BITS: u32 = 8192;
const PUBLIC_KIND: &str = "rsa-public-key";
const FORMAT_VERSION: u32 = 1;

/// The host's RSA public key `(n, e)`.
///
/// Serializes as `{"kind": "rsa-public-key", "version": 1, "n": "<hex>", "e": "<hex>"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Integer,
    e: Integer,
}

impl RsaPublicKey {
    /// A public key, checked for size and shape (odd `n`, odd `e ≥ 3`, `e < n`).
    pub fn new(n: Integer, e: Integer) -> Result<Self> {
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&n.significant_bits()) || n.is_even() {
            return Err(Error::InvalidKey(
                "RSA modulus has the wrong size or is even",
            ));
        }
        if e < 3 || e.is_even() || e >= n {
            return Err(Error::InvalidKey(
                "RSA public exponent must be odd, at least 3 and below n",
            ));
        }
        Ok(Self { n, e })
    }

    /// The modulus.
    pub fn n(&self) -> &Integer {
        &self.n
    }

    /// The public exponent.
    pub fn e(&self) -> &Integer {
        &self.e
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.n.significant_bits())
            .field("e", &self.e)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RsaPublicKeyWire {
    kind: String,
    version: u32,
    n: String,
    e: String,
}

impl Serialize for RsaPublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RsaPublicKeyWire {
            kind: PUBLIC_KIND.into(),
            version: FORMAT_VERSION,
            n: wire::to_hex(&self.n),
            e: wire::to_hex(&self.e),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RsaPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = RsaPublicKeyWire::deserialize(deserializer)?;
        let parse = || -> Result<Self> {
            wire::check_header(PUBLIC_KIND, &w.kind, w.version, FORMAT_VERSION)?;
            let n = wire::parse_hex(&w.n, "RSA modulus", MAX_KEY_BITS)?;
            let e = wire::parse_hex(&w.e, "RSA exponent", MAX_KEY_BITS)?;
            Self::new(n, e)
        };
        parse().map_err(serde::de::Error::custom)
    }
}

/// The first and final hash and the salt shared by both sides (FATE's `RSAParam`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsaHashing {
    /// Hash of `id ‖ salt` before signing (`hash_method`, default SHA-256).
    pub first: HashMethod,
    /// Hash of `decimal(signature) ‖ salt` (`final_hash_method`, default SHA-256).
    pub last: HashMethod,
    /// The salt (default empty).
    pub salt: String,
}

impl RsaHashing {
    /// `H1(id)` as an integer (FATE splits ids by its parity with `split_calculation`).
    pub fn first_hash(&self, id: &[u8]) -> Integer {
        Integer::from_digits(&self.first.digest(id, self.salt.as_bytes()), Order::Msf)
    }

    /// `Hf(s)`: the final hash of a signature, as FATE's lower-case hex string.
    fn final_hash(&self, signature: &Integer) -> String {
        self.last.hex_digest(
            signature.to_string_radix(10).as_bytes(),
            self.salt.as_bytes(),
        )
    }
}

/// The host side: holds the RSA private key and signs.
///
/// `Debug` never prints secret values.
#[derive(Clone)]
pub struct RsaSigner {
    public: RsaPublicKey,
    hashing: RsaHashing,
    p: Integer,
    q: Integer,
    dp: Integer,
    dq: Integer,
    q_inv_p: Integer,
}

impl RsaSigner {
    /// Generates a key of `bits` bits (one of [`SUPPORTED_KEY_SIZES`]) with `e = 65537`.
    pub fn generate(bits: u32) -> Result<Self> {
        if !SUPPORTED_KEY_SIZES.contains(&bits) {
            return Err(Error::UnsupportedKeySize {
                bits,
                supported: SUPPORTED_KEY_SIZES,
            });
        }
        let e = Integer::from(PUBLIC_EXPONENT);
        loop {
            let (p, q) = rayon::join(
                || rng::random_prime(bits / 2),
                || rng::random_prime(bits / 2),
            );
            match Self::from_primes(p, q, e.clone()) {
                Ok(signer) => return Ok(signer),
                // e not invertible modulo φ(n), or p = q: draw again.
                Err(Error::InvalidKey(_)) => continue,
                Err(other) => return Err(other),
            }
        }
    }

    /// Builds a signer from its primes and public exponent, checking them.
    pub fn from_primes(p: Integer, q: Integer, e: Integer) -> Result<Self> {
        if p == q {
            return Err(Error::InvalidKey("p equals q"));
        }
        for x in [&p, &q] {
            if *x <= 2 || x.is_probably_prime(30) == IsPrime::No {
                return Err(Error::InvalidKey("p or q is not an odd prime"));
            }
        }
        let public = RsaPublicKey::new(Integer::from(&p * &q), e)?;
        let p1 = Integer::from(&p - 1u32);
        let q1 = Integer::from(&q - 1u32);
        let phi = Integer::from(&p1 * &q1);
        let d = Integer::from(
            public
                .e
                .invert_ref(&phi)
                .ok_or(Error::InvalidKey("e is not invertible mod phi(n)"))?,
        );
        let dp = Integer::from(&d % &p1);
        let dq = Integer::from(&d % &q1);
        let q_inv_p = Integer::from(&q % &p)
            .invert(&p)
            .map_err(|_| Error::InvalidKey("q not invertible mod p"))?;
        Ok(Self {
            public,
            hashing: RsaHashing::default(),
            p,
            q,
            dp,
            dq,
            q_inv_p,
        })
    }

    /// Sets the hashes and salt (they must match the guest's).
    pub fn with_hashing(mut self, hashing: RsaHashing) -> Self {
        self.hashing = hashing;
        self
    }

    /// The private primes `(p, q)`, to keep the key with a cache of this party's
    /// signatures ([`RsaSigner::from_primes`] restores it). Store them as a key.
    pub fn primes(&self) -> (&Integer, &Integer) {
        (&self.p, &self.q)
    }

    /// The public key to send to the guest.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The hashing parameters.
    pub fn hashing(&self) -> &RsaHashing {
        &self.hashing
    }

    /// `x^d mod n` by CRT, with a self-check.
    fn sign(&self, x: &Integer) -> Result<Integer> {
        let n = &self.public.n;
        let sp = Integer::from(x % &self.p).secure_pow_mod(&self.dp, &self.p);
        let sq = Integer::from(x % &self.q).secure_pow_mod(&self.dq, &self.q);
        let h = (Integer::from(&sp - &sq) * &self.q_inv_p).rem_euc(&self.p);
        let s = sq + h * &self.q;
        let check = s.pow_mod_ref(&self.public.e, n).map(Integer::from);
        if check.as_ref() != Some(&Integer::from(x % n)) {
            return Err(Error::SignatureFault);
        }
        Ok(s)
    }

    /// Step 2: the final-hashed signatures of the host's own ids (in parallel).
    pub fn sign_ids<S: AsRef<[u8]> + Sync>(&self, ids: &[S]) -> Result<Vec<String>> {
        ids.par_iter()
            .map(|id| {
                let s = self.sign(&self.hashing.first_hash(id.as_ref()))?;
                Ok(self.hashing.final_hash(&s))
            })
            .collect()
    }

    /// Step 4: signs the guest's blinded values (in parallel). Each must be in `(0, n)`.
    pub fn sign_blinded(&self, blinded: &[Integer]) -> Result<Vec<Integer>> {
        blinded
            .par_iter()
            .map(|b| {
                if *b <= 0 || *b >= self.public.n {
                    return Err(Error::Malformed {
                        what: "blinded id",
                        reason: "not in (0, n)",
                    });
                }
                self.sign(b)
            })
            .collect()
    }
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner")
            .field("public", &self.public)
            .field("hashing", &self.hashing)
            .finish_non_exhaustive()
    }
}

/// The guest side: blinds its ids under the host's public key and unblinds the signatures.
#[derive(Clone, Debug)]
pub struct RsaBlinder {
    public: RsaPublicKey,
    hashing: RsaHashing,
    random_bits: u32,
}

/// Blinded ids, in the order of the input ids, with their secret blinding factors.
#[derive(Clone)]
pub struct BlindedIds {
    blinded: Vec<Integer>,
    factors: Vec<Integer>,
}

impl BlindedIds {
    /// The blinded values to send to the host.
    pub fn blinded(&self) -> &[Integer] {
        &self.blinded
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.blinded.len()
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.blinded.is_empty()
    }
}

impl fmt::Debug for BlindedIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindedIds")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl RsaBlinder {
    /// A blinder for the host's public key, with FATE's defaults (SHA-256, empty salt,
    /// 128-bit blinding factors).
    pub fn new(public: RsaPublicKey) -> Self {
        Self {
            public,
            hashing: RsaHashing::default(),
            random_bits: DEFAULT_RANDOM_BITS,
        }
    }

    /// Sets the hashes and salt (they must match the host's).
    pub fn with_hashing(mut self, hashing: RsaHashing) -> Self {
        self.hashing = hashing;
        self
    }

    /// Sets the size of the blinding factors (FATE's `random_bit`, at least 64).
    pub fn with_random_bits(mut self, bits: u32) -> Self {
        self.random_bits = bits.max(64);
        self
    }

    /// Step 3: blinds each id with a fresh random factor (in parallel).
    pub fn blind_ids<S: AsRef<[u8]> + Sync>(&self, ids: &[S]) -> BlindedIds {
        let n = &self.public.n;
        let (blinded, factors) = ids
            .par_iter()
            .map(|id| {
                let r = loop {
                    let r = rng::random_bits(self.random_bits);
                    if r != 0 && r < *n {
                        break r;
                    }
                };
                (self.blind_one(id.as_ref(), &r), r)
            })
            .unzip();
        BlindedIds { blinded, factors }
    }

    /// Step 3 with blinding factors shared by groups of ids (FATE's
    /// `random_base_fraction`): the ids are grouped by their first hash modulo
    /// `count = max(round(n · max(fraction, 0.01)), 1)` and each group is blinded with one
    /// random factor, so only `count` exponentiations `r^e` are made. A `fraction` above
    /// 0.99 gives every id its own factor, as [`RsaBlinder::blind_ids`]. A shared factor
    /// lets the signer see the ratio of two ids' hashes in one group: FATE's trade of
    /// privacy for speed.
    pub fn blind_ids_with_fraction<S: AsRef<[u8]> + Sync>(
        &self,
        ids: &[S],
        fraction: f64,
    ) -> BlindedIds {
        if !(fraction > 0.0 && fraction <= MAX_BASE_FRACTION) {
            return self.blind_ids(ids);
        }
        let n = &self.public.n;
        let count = ((ids.len() as f64 * fraction.max(MIN_BASE_FRACTION)).round() as u64).max(1);
        let hashes: Vec<Integer> = ids
            .par_iter()
            .map(|id| self.hashing.first_hash(id.as_ref()))
            .collect();
        let groups: Vec<u64> = hashes
            .iter()
            .map(|h| Integer::from(h % count).to_u64().unwrap_or(0))
            .collect();
        let mut used: Vec<u64> = groups.clone();
        used.sort_unstable();
        used.dedup();
        let factors: std::collections::HashMap<u64, (Integer, Integer)> = used
            .par_iter()
            .map(|g| {
                let r = loop {
                    let r = rng::random_bits(self.random_bits);
                    if r != 0 && r < *n {
                        break r;
                    }
                };
                let re = Integer::from(
                    r.pow_mod_ref(&self.public.e, n)
                        .expect("non-negative exponent"),
                );
                (*g, (r, re))
            })
            .collect();
        let (blinded, factors) = hashes
            .par_iter()
            .zip(&groups)
            .map(|(h, g)| {
                let (r, re) = &factors[g];
                (Integer::from(re * h) % n, r.clone())
            })
            .unzip();
        BlindedIds { blinded, factors }
    }

    /// Step 3 with given blinding factors (for known-answer tests). Each factor must be
    /// invertible modulo n.
    pub fn blind_ids_with_factors<S: AsRef<[u8]> + Sync>(
        &self,
        ids: &[S],
        factors: Vec<Integer>,
    ) -> Result<BlindedIds> {
        if ids.len() != factors.len() {
            return Err(Error::LengthMismatch {
                left: ids.len(),
                right: factors.len(),
            });
        }
        let blinded = ids
            .par_iter()
            .zip(&factors)
            .map(|(id, r)| self.blind_one(id.as_ref(), r))
            .collect();
        Ok(BlindedIds { blinded, factors })
    }

    fn blind_one(&self, id: &[u8], r: &Integer) -> Integer {
        let n = &self.public.n;
        let re = Integer::from(
            r.pow_mod_ref(&self.public.e, n)
                .expect("non-negative exponent"),
        );
        (re * self.hashing.first_hash(id)) % n
    }

    /// Step 5: removes the blinding factors from the host's signatures and applies the final
    /// hash (in parallel). `signed` must be in the order of `blinded.blinded()`.
    pub fn unblind(&self, blinded: &BlindedIds, signed: &[Integer]) -> Result<Vec<String>> {
        if signed.len() != blinded.len() {
            return Err(Error::LengthMismatch {
                left: signed.len(),
                right: blinded.len(),
            });
        }
        let n = &self.public.n;
        signed
            .par_iter()
            .zip(&blinded.factors)
            .map(|(s, r)| {
                let r_inv = Integer::from(r.invert_ref(n).ok_or(Error::Malformed {
                    what: "blinding factor",
                    reason: "not invertible mod n",
                })?);
                let unblinded = (Integer::from(s * &r_inv)).rem_euc(n);
                Ok(self.hashing.final_hash(&unblinded))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared blinding factors still unblind to the same signatures, and ids of one
    /// group share their factor.
    #[test]
    fn fraction_blinding_gives_the_same_signatures() {
        let signer = RsaSigner::generate(1024).unwrap();
        let ids: Vec<String> = (0..40).map(|i| format!("id{i}")).collect();
        let expected = signer.sign_ids(&ids).unwrap();
        let blinder = RsaBlinder::new(signer.public_key().clone());
        for fraction in [0.001, 0.1, 0.5, 0.99, 1.0] {
            let blinded = blinder.blind_ids_with_fraction(&ids, fraction);
            let signed = signer.sign_blinded(blinded.blinded()).unwrap();
            assert_eq!(blinder.unblind(&blinded, &signed).unwrap(), expected);
            let mut distinct = blinded.factors.clone();
            distinct.sort();
            distinct.dedup();
            let groups = ((40.0 * f64::max(fraction, 0.01)).round() as usize).max(1);
            if fraction <= 0.99 {
                assert!(distinct.len() <= groups, "{fraction}: {}", distinct.len());
            } else {
                assert_eq!(distinct.len(), 40);
            }
        }
    }
}

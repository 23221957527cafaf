//! ECDH (commutative encryption) PSI on ristretto255, the prime-order group built on
//! curve25519.
//!
//! Each party holds a secret scalar. An id is hashed to a group element,
//! `HtC(id) = from_uniform_bytes(SHA-512(domain ‖ hash(id ‖ salt)))` (Elligator, so nobody
//! knows its discrete logarithm), and "encrypted" as `a · HtC(id)`. Because scalar
//! multiplication commutes, `b · (a · HtC(x)) = a · (b · HtC(x))`, so the doubly encrypted
//! values of the two parties are equal exactly for common ids. Flow (guest computes):
//!
//! 1. guest: `G1 = a·HtC(g)`; host: `H1 = b·HtC(h)` ([`EcdhParty::encrypt_ids`]); exchange;
//! 2. host: `G2 = b·G1`, returned in the guest's order; guest: `H2 = a·H1`
//!    ([`EcdhParty::reencrypt`]);
//! 3. guest: join `G2` with `H2` ([`super::intersect`]).
//!
//! Points travel as 32-byte compressed Ristretto encodings ([`EcdhPoint`]); decoding a
//! received point validates it. Security: semi-honest, decisional Diffie–Hellman in the
//! ristretto255 group (about 126-bit level). Scalar multiplication in curve25519-dalek is
//! constant time. The encoding is not byte-compatible with FATE 2's Montgomery-form points,
//! so both parties must run this implementation.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::HashMethod;
use crate::{rng, Error, Result};

/// Domain separation for hashing ids to the group.
const HASH_TO_GROUP_DOMAIN: &[u8] = b"fateflow/psi/ecdh/ristretto255/v1";
/// Points are compressed in batches of this size (one field inversion per batch).
const BATCH: usize = 512;

/// A compressed ristretto255 point (32 bytes), as exchanged between parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EcdhPoint(pub [u8; 32]);

/// One party's ECDH secret and hashing parameters.
///
/// `Debug` never prints the secret, which is wiped from memory on drop.
pub struct EcdhParty {
    secret: Scalar,
    /// `secret / 2`: batch compression computes `2·P`, so points are multiplied by half the
    /// secret first.
    half_secret: Scalar,
    hash: HashMethod,
    salt: Vec<u8>,
}

impl EcdhParty {
    /// A party with a fresh random secret, SHA-256 as first hash and no salt.
    pub fn new() -> Self {
        loop {
            let mut wide = [0u8; 64];
            rng::fill(&mut wide);
            let secret = Scalar::from_bytes_mod_order_wide(&wide);
            wide.zeroize();
            if secret != Scalar::ZERO {
                return Self::from_scalar(secret);
            }
        }
    }

    /// A party with a given secret (reduced modulo the group order; for tests).
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Result<Self> {
        let secret = Scalar::from_bytes_mod_order(bytes);
        if secret == Scalar::ZERO {
            return Err(Error::InvalidKey(
                "ECDH secret is zero modulo the group order",
            ));
        }
        Ok(Self::from_scalar(secret))
    }

    fn from_scalar(secret: Scalar) -> Self {
        let half_secret = secret * Scalar::from(2u8).invert();
        Self {
            secret,
            half_secret,
            hash: HashMethod::default(),
            salt: Vec::new(),
        }
    }

    /// The secret scalar's bytes, to keep it with a cache of this party's encryptions
    /// ([`EcdhParty::from_secret_bytes`] restores it). Whoever holds them can encrypt like
    /// this party: store them as a key.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Sets the salt appended to each id before hashing (both parties must agree).
    pub fn with_salt(mut self, salt: impl Into<Vec<u8>>) -> Self {
        self.salt = salt.into();
        self
    }

    /// Sets the first hash (both parties must agree).
    pub fn with_hash_method(mut self, hash: HashMethod) -> Self {
        self.hash = hash;
        self
    }

    fn hash_to_group(&self, id: &[u8]) -> RistrettoPoint {
        let digest = self.hash.digest(id, &self.salt);
        let wide: [u8; 64] = Sha512::new()
            .chain_update(HASH_TO_GROUP_DOMAIN)
            .chain_update(&digest)
            .finalize()
            .into();
        RistrettoPoint::from_uniform_bytes(&wide)
    }

    /// `secret · P` for each point, compressed in batches.
    fn multiply_and_compress(&self, points: Vec<RistrettoPoint>) -> Vec<EcdhPoint> {
        let halves: Vec<RistrettoPoint> =
            points.into_iter().map(|p| p * self.half_secret).collect();
        RistrettoPoint::double_and_compress_batch(&halves)
            .into_iter()
            .map(|c| EcdhPoint(c.to_bytes()))
            .collect()
    }

    /// Step 1: `secret · HtC(id)` for each id, in the order of `ids` (in parallel).
    pub fn encrypt_ids<S: AsRef<[u8]> + Sync>(&self, ids: &[S]) -> Vec<EcdhPoint> {
        ids.par_chunks(BATCH)
            .flat_map_iter(|chunk| {
                let points = chunk
                    .iter()
                    .map(|id| self.hash_to_group(id.as_ref()))
                    .collect();
                self.multiply_and_compress(points)
            })
            .collect()
    }

    /// Step 2: `secret · P` for each point received from the other party, in order
    /// (in parallel). Fails if a point is not a valid encoding.
    pub fn reencrypt(&self, points: &[EcdhPoint]) -> Result<Vec<EcdhPoint>> {
        let chunks: Vec<Vec<EcdhPoint>> = points
            .par_chunks(BATCH)
            .map(|chunk| {
                let decoded = chunk
                    .iter()
                    .map(|p| {
                        CompressedRistretto(p.0)
                            .decompress()
                            .ok_or(Error::InvalidPoint)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.multiply_and_compress(decoded))
            })
            .collect::<Result<_>>()?;
        Ok(chunks.concat())
    }
}

impl Default for EcdhParty {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for EcdhParty {
    fn drop(&mut self) {
        self.secret.zeroize();
        self.half_secret.zeroize();
    }
}

impl std::fmt::Debug for EcdhParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdhParty")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_compression_equals_plain_multiplication() {
        let party = EcdhParty::from_secret_bytes([7u8; 32]).unwrap();
        let ids: Vec<String> = (0..1100).map(|i| format!("id{i}")).collect();
        let fast = party.encrypt_ids(&ids);
        for (id, got) in ids.iter().zip(&fast) {
            let expected = (party.hash_to_group(id.as_bytes()) * party.secret)
                .compress()
                .to_bytes();
            assert_eq!(got.0, expected);
        }
    }

    #[test]
    fn a_restored_secret_encrypts_alike() {
        let party = EcdhParty::new();
        let again = EcdhParty::from_secret_bytes(party.secret_bytes()).unwrap();
        assert_eq!(
            party.encrypt_ids(&["a", "b"]),
            again.encrypt_ids(&["a", "b"])
        );
    }

    #[test]
    fn invalid_points_are_rejected() {
        let party = EcdhParty::new();
        assert!(matches!(
            party.reencrypt(&[EcdhPoint([0xff; 32])]),
            Err(Error::InvalidPoint)
        ));
    }
}

//! Private set intersection primitives: the cryptographic steps of FATE's `Intersection`
//! component, batched and parallel. Message exchange and table handling belong to the
//! caller.
//!
//! - [`rsa`]: RSA blind signatures, byte-compatible with FATE 1.x `rsa_intersect`
//!   (the 1.x default method).
//! - [`ecdh`]: commutative encryption on the Ristretto group of curve25519 (the method of
//!   FATE ≥ 1.9 and FATE 2, with our own point encoding).
//! - [`dh`]: Pohlig–Hellman commutative encryption modulo a safe prime (FATE 1.x
//!   `dh_intersect`, RFC 2409/3526 groups).
//!
//! Ids are byte strings (`AsRef<[u8]>`): a FATE id is its UTF-8 string. As in FATE, an id is
//! first hashed with a [`HashMethod`] over `id ‖ salt`.

pub mod dh;
pub mod digest;
pub mod ecdh;
pub mod rsa;

use std::collections::HashMap;
use std::hash::Hash;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The hash applied to `id ‖ salt` (FATE's `hash_method` / `final_hash_method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HashMethod {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256, FATE's default.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SM3 (GB/T 32905-2016).
    Sm3,
    /// No hash: the value and salt themselves (FATE's `"none"`).
    None,
}

impl HashMethod {
    /// Every method, with FATE's names.
    pub const ALL: &'static [HashMethod] = &[
        Self::Md5,
        Self::Sha1,
        Self::Sha224,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
        Self::Sm3,
        Self::None,
    ];

    /// FATE's name of the method (`sha256`, `sm3`, `none`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sm3 => "sm3",
            Self::None => "none",
        }
    }

    /// The method FATE calls `name` (compared without regard to case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The raw digest of `value ‖ salt`.
    pub fn digest(self, value: &[u8], salt: &[u8]) -> Vec<u8> {
        fn run<D: Digest>(value: &[u8], salt: &[u8]) -> Vec<u8> {
            D::new()
                .chain_update(value)
                .chain_update(salt)
                .finalize()
                .to_vec()
        }
        match self {
            Self::Md5 => digest::md5(&[value, salt]).to_vec(),
            Self::Sha1 => digest::sha1(&[value, salt]).to_vec(),
            Self::Sm3 => digest::sm3(&[value, salt]).to_vec(),
            Self::None => [value, salt].concat(),
            Self::Sha224 => run::<sha2::Sha224>(value, salt),
            Self::Sha256 => run::<sha2::Sha256>(value, salt),
            Self::Sha384 => run::<sha2::Sha384>(value, salt),
            Self::Sha512 => run::<sha2::Sha512>(value, salt),
        }
    }

    /// The lower-case hexadecimal digest of `value ‖ salt` (FATE's `Hash.compute`); with
    /// [`HashMethod::None`], FATE's `str(value + salt)`, the text itself.
    pub fn hex_digest(self, value: &[u8], salt: &[u8]) -> String {
        match self {
            Self::None => String::from_utf8_lossy(&[value, salt].concat()).into_owned(),
            _ => to_lower_hex(&self.digest(value, salt)),
        }
    }
}

fn to_lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Joins two lists of protocol values (final signatures, doubly-encrypted points, ...) and
/// returns the index pairs `(i, j)` with `ours[i] == theirs[j]`, ordered by `i`.
///
/// Values are expected to be unique on each side (they are when ids are); when `theirs`
/// repeats a value, the last occurrence is reported.
pub fn intersect<K: Eq + Hash + Sync>(ours: &[K], theirs: &[K]) -> Vec<(usize, usize)> {
    let index: HashMap<&K, usize> = theirs.iter().enumerate().map(|(j, k)| (k, j)).collect();
    ours.par_iter()
        .enumerate()
        .filter_map(|(i, k)| index.get(k).map(|&j| (i, j)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_known_value() {
        assert_eq!(
            HashMethod::Sha256.hex_digest(b"ab", b"c"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_method_has_a_name_and_digest() {
        for m in HashMethod::ALL {
            assert_eq!(HashMethod::from_name(&m.name().to_uppercase()), Some(*m));
            assert!(!m.digest(b"id", b"salt").is_empty());
        }
        assert_eq!(HashMethod::None.hex_digest(b"id", b"1"), "id1");
        assert_eq!(
            HashMethod::Sm3.hex_digest(b"ab", b"c"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(HashMethod::from_name("sha3"), None);
    }

    #[test]
    fn intersect_pairs() {
        let ours = ["a", "b", "c", "d"];
        let theirs = ["d", "x", "b"];
        assert_eq!(intersect(&ours, &theirs), vec![(1, 2), (3, 0)]);
    }
}

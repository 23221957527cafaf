//! The boundary between Paillier ciphertexts and shares.
//!
//! A party holds ciphertexts, under the *other* party's key, of integers `v` with
//! `|v| < 2^value_bits`. It draws a mask with [`he_mask`], keeps its share, adds the mask
//! to each plaintext homomorphically, re-randomizes and sends; the key owner decrypts and
//! takes [`share_of_decrypted`] of the [`centered`] plaintext. Then `keep + share ≡ v
//! (mod 2^128)`.
//!
//! Encrypting a share for an HE product means encrypting its unsigned `u128` value as a
//! non-negative integer ([`encrypt_shares`]). A product `X·[[s]]` with `terms` terms of
//! `bits(X)`-bit scalars then needs `value_bits ≥ 128 + bits(X) + log2(terms) + 1`, and the
//! key must hold `value_bits + HIDING_BITS + 3` bits ([`check_key_for`]).

use rayon::prelude::*;
use rug::Integer;

use super::random_u128;
use crate::paillier::{Ciphertext, Encryptor, PrivateKey, PublicKey};
use crate::{rng, Error, Result};

/// Statistical hiding of masks: the mask exceeds the value's range by this many bits.
pub const HIDING_BITS: u32 = 40;

/// A mask for ciphertexts of values with `|v| < 2^value_bits`: `(keep, mask)` where
/// `mask = r + 2^128·t`, `r` uniform in `[0, 2^128)`, `t` uniform with
/// `value_bits − 128 + 40` bits (none when that is not positive), and `keep = −r`.
pub fn he_mask(value_bits: u32) -> (u128, Integer) {
    let r = random_u128();
    let t_bits = (value_bits + HIDING_BITS).saturating_sub(128);
    let mut mask = Integer::from(r);
    if t_bits > 0 {
        mask += rng::random_bits(t_bits) << 128u32;
    }
    (r.wrapping_neg(), mask)
}

/// The key owner's share of a decrypted, masked value already lifted to `(−n/2, n/2]`
/// (see [`centered`]): the value reduced modulo `2^128`.
pub fn share_of_decrypted(centered: &Integer) -> u128 {
    let low = Integer::from(centered.keep_bits_ref(128));
    low.to_u128().expect("128 bits fit in u128")
}

/// Lifts a plaintext `m` in `[0, n)` to the centered range `(−n/2, n/2]`.
pub fn centered(m: Integer, n: &Integer) -> Integer {
    let half = Integer::from(n >> 1u32);
    if m > half {
        m - n
    } else {
        m
    }
}

/// Checks that `key` is large enough for masked values of `value_bits` bits: an error
/// naming both sizes otherwise.
pub fn check_key_for(key: &PublicKey, value_bits: u32) -> Result<()> {
    let needed = value_bits + HIDING_BITS + 3;
    if key.bits() < needed {
        return Err(Error::KeyTooSmall {
            needed,
            available: key.bits(),
        });
    }
    Ok(())
}

/// Encrypts shares as non-negative integers in `[0, 2^128)`, in parallel.
pub fn encrypt_shares<E: Encryptor + ?Sized>(enc: &E, shares: &[u128]) -> Result<Vec<Ciphertext>> {
    let ms: Vec<Integer> = shares.iter().map(|&s| Integer::from(s)).collect();
    enc.encrypt_raw_batch(&ms)
}

/// Masks ciphertexts (under `key`, the other party's) of values with `|v| < 2^value_bits`
/// and re-randomizes them: returns this party's shares and the ciphertexts to send to the
/// key owner, who calls [`decrypt_to_shares`].
pub fn mask_to_shares(
    key: &PublicKey,
    cts: &[Ciphertext],
    value_bits: u32,
) -> Result<(Vec<u128>, Vec<Ciphertext>)> {
    check_key_for(key, value_bits)?;
    let (keep, masked): (Vec<u128>, Vec<Ciphertext>) = cts
        .par_iter()
        .map(|c| {
            let (keep, mask) = he_mask(value_bits);
            (keep, key.raw_add_plain(c, &mask))
        })
        .unzip();
    Ok((keep, key.rerandomize_raw_batch(&masked)))
}

/// The key owner's side of [`mask_to_shares`]: decrypts, centers and reduces.
pub fn decrypt_to_shares(key: &PrivateKey, cts: &[Ciphertext]) -> Result<Vec<u128>> {
    let pk = key.public_key();
    for c in cts {
        pk.check_ciphertext(c)?;
    }
    Ok(key
        .decrypt_raw_batch(cts)
        .into_iter()
        .map(|m| share_of_decrypted(&centered(m, pk.n())))
        .collect())
}

/// `Σₗ [[aₗ]]·bₗ` for each column `b` of 128-bit unsigned scalars over the same
/// ciphertexts: each scalar is cut into four 32-bit limbs that run as bucket
/// multi-exponentiations ([`PublicKey::raw_dot_columns`]) and are recombined.
pub fn dot_u128_columns(
    key: &PublicKey,
    cts: &[Ciphertext],
    columns: &[Vec<u128>],
) -> Result<Vec<Ciphertext>> {
    let limbs: Vec<Vec<i64>> = columns
        .iter()
        .flat_map(|col| {
            (0..4).map(move |t| {
                col.iter()
                    .map(|&b| ((b >> (32 * t)) & 0xffff_ffff) as i64)
                    .collect()
            })
        })
        .collect();
    let dots = key.raw_dot_columns(cts, &limbs)?;
    dots.par_chunks(4)
        .map(|parts| {
            let mut acc = parts[0].clone();
            for (t, p) in parts.iter().enumerate().skip(1) {
                let shifted = key.raw_mul(p, &(Integer::from(1) << (32 * t as u32)))?;
                acc = key.raw_add(&acc, &shifted);
            }
            Ok(acc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paillier::Keypair;
    use rand::{Rng, SeedableRng};
    use rug::ops::RemRounding;

    #[test]
    fn mask_and_decrypt_round_trip_signed_values() {
        let keys = Keypair::generate(1024).unwrap();
        let mut r = rand::rngs::StdRng::seed_from_u64(3);
        let value_bits = 200;
        let vs: Vec<Integer> = (0..40)
            .map(|i| {
                let v = Integer::from(r.random::<u128>()) * Integer::from(r.random::<u64>());
                let v = v >> 3u32;
                if i % 2 == 0 {
                    -v
                } else {
                    v
                }
            })
            .collect();
        let n = keys.public.n().clone();
        let ms: Vec<Integer> = vs.iter().map(|v| v.clone().rem_euc(&n)).collect();
        let cts = keys.public.encrypt_raw_batch(&ms).unwrap();
        let (keep, sent) = mask_to_shares(&keys.public, &cts, value_bits).unwrap();
        let shares = decrypt_to_shares(&keys.private, &sent).unwrap();
        for ((v, k), s) in vs.iter().zip(&keep).zip(&shares) {
            let want = Integer::from(v.keep_bits_ref(128)).to_u128().unwrap();
            assert_eq!(k.wrapping_add(*s), want);
        }
        // A single mask by hand.
        let (keep, mask) = he_mask(64);
        let v = Integer::from(-12345);
        let share = share_of_decrypted(&Integer::from(&v + &mask));
        assert_eq!(keep.wrapping_add(share) as i128, -12345);
        assert!(check_key_for(&keys.public, 2000)
            .unwrap_err()
            .to_string()
            .contains("1024"));
    }

    #[test]
    fn u128_dot_columns_match_plain() {
        let keys = Keypair::generate(1024).unwrap();
        let mut r = rand::rngs::StdRng::seed_from_u64(5);
        let a: Vec<u128> = (0..9).map(|_| r.random()).collect();
        let cols: Vec<Vec<u128>> = (0..3)
            .map(|_| (0..9).map(|_| r.random()).collect())
            .collect();
        let cts = encrypt_shares(&keys.private, &a).unwrap();
        let dots = dot_u128_columns(&keys.public, &cts, &cols).unwrap();
        for (col, d) in cols.iter().zip(&dots) {
            let want: Integer = a
                .iter()
                .zip(col)
                .map(|(&x, &y)| Integer::from(x) * Integer::from(y))
                .sum();
            assert_eq!(keys.private.decrypt_raw(d), want);
        }
    }
}

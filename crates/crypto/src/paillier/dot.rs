//! Encrypted dot products: `⊕ᵢ kᵢ ⊗ cᵢ = ∏ cᵢ^kᵢ mod n²` for small signed integer scalars.
//!
//! This is the inner loop of hetero linear models (an encrypted residual times a
//! plaintext feature column). Raising each ciphertext separately costs one modular
//! exponentiation per term; a bucket multi-exponentiation (Pippenger) shares the
//! squarings and costs about `⌈b/w⌉·(t + 2^(w+1))` multiplications for `t` terms of `b`
//! bits with window `w`: for 30,000 terms of 27 bits about 8× fewer than one by one.
//! Negative scalars go to a second product that is inverted once at the end.
//! When few distinct scalars repeat over many terms (categorical or discrete features),
//! the ciphertexts of each scalar are multiplied together first (one multiplication per
//! term) and only the distinct scalars are exponentiated.

use rayon::prelude::*;
use rug::Integer;

use super::{Ciphertext, PublicKey};
use crate::{Error, Result};

impl PublicKey {
    /// The ciphertext of `Σ kᵢ·mᵢ` for ciphertexts `cᵢ` of `mᵢ`. Not re-randomized.
    pub fn raw_dot_i64(&self, cts: &[Ciphertext], ks: &[i64]) -> Result<Ciphertext> {
        if cts.len() != ks.len() {
            return Err(Error::LengthMismatch {
                left: cts.len(),
                right: ks.len(),
            });
        }
        let mut pos = Vec::new();
        let mut neg = Vec::new();
        for (c, &k) in cts.iter().zip(ks) {
            match k.cmp(&0) {
                std::cmp::Ordering::Greater => pos.push((c, k.unsigned_abs())),
                std::cmp::Ordering::Less => neg.push((c, k.unsigned_abs())),
                std::cmp::Ordering::Equal => {}
            }
        }
        let n2 = self.n_squared();
        let p = multi_exp(&pos, n2);
        if neg.is_empty() {
            return Ok(Ciphertext(p));
        }
        let q = multi_exp(&neg, n2);
        let inv = q.invert(n2).map_err(|_| Error::InvalidCiphertext)?;
        Ok(Ciphertext(Integer::from(&p * &inv) % n2))
    }

    /// One [`PublicKey::raw_dot_i64`] per column of scalars, columns in parallel.
    pub fn raw_dot_columns(
        &self,
        cts: &[Ciphertext],
        columns: &[Vec<i64>],
    ) -> Result<Vec<Ciphertext>> {
        columns
            .par_iter()
            .map(|ks| self.raw_dot_i64(cts, ks))
            .collect()
    }

    /// `Σ cᵢ`: the ciphertext of the sum of the plaintexts.
    pub fn raw_sum(&self, cts: &[Ciphertext]) -> Ciphertext {
        let n2 = self.n_squared();
        let acc = cts
            .par_chunks(256)
            .map(|chunk| {
                let mut acc = Integer::from(1);
                for c in chunk {
                    acc *= c.as_integer();
                    acc %= n2;
                }
                acc
            })
            .reduce(|| Integer::from(1), |a, b| Integer::from(&a * &b) % n2);
        Ciphertext(acc)
    }
}

/// The window width that minimises `⌈bits/w⌉·(terms + 2^(w+1))`.
fn window(bits: u32, terms: usize) -> u32 {
    (1..=16u32)
        .min_by_key(|&w| bucket_cost(bits, terms, w))
        .unwrap_or(4)
}

/// Multiplications of a bucket multi-exponentiation of `terms` terms of `bits` bits.
fn bucket_cost(bits: u32, terms: usize, w: u32) -> u64 {
    (bits.div_ceil(w) as u64) * (terms as u64 + (1u64 << (w + 1)))
}

/// Whether multiplying the terms of each distinct scalar together first (one
/// multiplication per term) and exponentiating only the `distinct` products is cheaper.
fn worth_grouping(bits: u32, terms: usize, distinct: usize) -> bool {
    let direct = bucket_cost(bits, terms, window(bits, terms));
    let grouped = terms as u64 + bucket_cost(bits, distinct, window(bits, distinct));
    grouped < direct
}

/// `∏ cᵢ^kᵢ mod m` for non-negative `kᵢ`: grouped by scalar first when that is cheaper.
fn multi_exp(terms: &[(&Ciphertext, u64)], m: &Integer) -> Integer {
    let mut scalars: Vec<u64> = terms.iter().map(|(_, k)| *k).collect();
    scalars.sort_unstable();
    scalars.dedup();
    let bits = scalars.last().map_or(0, |k| 64 - k.leading_zeros());
    let distinct = scalars.len();
    if !worth_grouping(bits, terms.len(), distinct) {
        return bucket_exp(terms, bits, m);
    }
    let mut products: Vec<Option<Integer>> = vec![None; distinct];
    for (c, k) in terms {
        let slot = &mut products[scalars.binary_search(k).unwrap_or_default()];
        match slot {
            Some(p) => {
                *p *= c.as_integer();
                *p %= m;
            }
            None => *slot = Some(c.as_integer().clone()),
        }
    }
    let grouped: Vec<(Ciphertext, u64)> = products
        .into_iter()
        .zip(scalars)
        .filter_map(|(p, k)| p.map(|p| (Ciphertext(p), k)))
        .collect();
    let refs: Vec<(&Ciphertext, u64)> = grouped.iter().map(|(c, k)| (c, *k)).collect();
    bucket_exp(&refs, bits, m)
}

/// `∏ cᵢ^kᵢ mod m` for non-negative `kᵢ`, by buckets.
/// `bits` is the width of the largest scalar.
fn bucket_exp(terms: &[(&Ciphertext, u64)], bits: u32, m: &Integer) -> Integer {
    if bits == 0 {
        return Integer::from(1);
    }
    let w = window(bits, terms.len());
    let windows = bits.div_ceil(w);
    let mask = (1u64 << w) - 1;
    let mut acc = Integer::from(1);
    let mut buckets: Vec<Option<Integer>> = vec![None; 1 << w];
    for win in (0..windows).rev() {
        if acc != 1 {
            for _ in 0..w {
                acc.square_mut();
                acc %= m;
            }
        }
        for b in buckets.iter_mut() {
            *b = None;
        }
        let shift = win * w;
        for (c, k) in terms {
            let digit = ((k >> shift) & mask) as usize;
            if digit == 0 {
                continue;
            }
            match &mut buckets[digit] {
                Some(b) => {
                    *b *= c.as_integer();
                    *b %= m;
                }
                slot @ None => *slot = Some(c.as_integer().clone()),
            }
        }
        // Σ d·bucket[d] as running products: sum holds ∏_{e ≥ d} bucket[e].
        let mut running: Option<Integer> = None;
        let mut total: Option<Integer> = None;
        for b in buckets.iter().skip(1).rev() {
            if let Some(b) = b {
                running = Some(match running {
                    Some(r) => Integer::from(&r * b) % m,
                    None => b.clone(),
                });
            }
            if let Some(r) = &running {
                total = Some(match total {
                    Some(t) => Integer::from(&t * r) % m,
                    None => r.clone(),
                });
            }
        }
        if let Some(t) = total {
            acc *= &t;
            acc %= m;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paillier::{Encryptor, Keypair};
    use proptest::prelude::*;
    use rug::ops::RemRounding;
    use std::sync::OnceLock;

    fn keys() -> &'static Keypair {
        static K: OnceLock<Keypair> = OnceLock::new();
        K.get_or_init(|| Keypair::generate(1024).unwrap())
    }

    fn decode(n: &Integer, m: Integer) -> Integer {
        let half = Integer::from(n >> 1);
        if m > half {
            m - n
        } else {
            m
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn dot_matches_plaintext(
            pairs in proptest::collection::vec((-1_000_000i64..1_000_000, -(1i64 << 30)..(1i64 << 30)), 0..90)
        ) {
            let kp = keys();
            let pk = &kp.public;
            let cts: Vec<Ciphertext> = pairs
                .iter()
                .map(|(m, _)| pk.encrypt_raw(&Integer::from(*m).rem_euc(pk.n())).unwrap())
                .collect();
            let ks: Vec<i64> = pairs.iter().map(|(_, k)| *k).collect();
            let expected: Integer = pairs
                .iter()
                .map(|(m, k)| Integer::from(*m) * *k)
                .sum();
            let got = pk.raw_dot_i64(&cts, &ks).unwrap();
            let plain = decode(pk.n(), kp.private.decrypt_raw(&got));
            prop_assert_eq!(plain, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Many terms sharing a few scalars take the grouped path; same result.
        #[test]
        fn dot_with_repeated_scalars_matches_plaintext(
            ms in proptest::collection::vec(-1_000_000i64..1_000_000, 200..400),
            levels in proptest::collection::vec(-(1i64 << 26)..(1i64 << 26), 1..6),
            picks in proptest::collection::vec(0usize..6, 400),
        ) {
            let kp = keys();
            let pk = &kp.public;
            let cts: Vec<Ciphertext> = ms
                .iter()
                .map(|m| pk.encrypt_raw(&Integer::from(*m).rem_euc(pk.n())).unwrap())
                .collect();
            let ks: Vec<i64> = (0..ms.len()).map(|i| levels[picks[i] % levels.len()]).collect();
            let expected: Integer = ms.iter().zip(&ks).map(|(m, k)| Integer::from(*m) * *k).sum();
            let got = pk.raw_dot_i64(&cts, &ks).unwrap();
            prop_assert_eq!(decode(pk.n(), kp.private.decrypt_raw(&got)), expected);
        }
    }

    #[test]
    fn grouping_is_chosen_only_when_cheaper() {
        // 30,000 terms of 27 bits over 10 or 81 scalars (default_credit's host
        // columns): grouping wins; over 20,000 distinct scalars it does not.
        assert!(worth_grouping(27, 30_000, 10));
        assert!(worth_grouping(27, 30_000, 81));
        assert!(!worth_grouping(27, 30_000, 20_000));
        assert!(!worth_grouping(27, 30_000, 30_000));
        // Tiny inputs: not worth it.
        assert!(!worth_grouping(27, 3, 3));
    }

    #[test]
    fn sum_and_columns() {
        let kp = keys();
        let pk = &kp.public;
        let ms = [3i64, -7, 11, 0, 5];
        let cts: Vec<Ciphertext> = ms
            .iter()
            .map(|m| pk.encrypt_raw(&Integer::from(*m).rem_euc(pk.n())).unwrap())
            .collect();
        let s = decode(pk.n(), kp.private.decrypt_raw(&pk.raw_sum(&cts)));
        assert_eq!(s, 12);
        let cols = vec![vec![1, 1, 1, 1, 1], vec![2, 0, -1, 9, 4]];
        let out = pk.raw_dot_columns(&cts, &cols).unwrap();
        let got: Vec<Integer> = out
            .iter()
            .map(|c| decode(pk.n(), kp.private.decrypt_raw(c)))
            .collect();
        assert_eq!(got, vec![Integer::from(12), Integer::from(6 - 11 + 20)]);
        assert!(pk.raw_dot_i64(&cts, &[1]).is_err());
    }
}

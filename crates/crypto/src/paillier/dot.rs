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
//!
//! Several columns over the same ciphertexts ([`PublicKey::raw_dot_columns`]) run, where
//! the CPU has AVX-512 IFMA, eight at a time in the lanes of the Montgomery kernel: each
//! pass over the ciphertexts multiplies ciphertext `i` into one bucket per lane, chosen by
//! that column's digit. The ciphertexts are converted to Montgomery form once for all
//! columns. Grouped columns (few distinct scalars) and bucketed ones run in separate
//! groups of eight; a last partial group of grouped columns rides in the bucket groups'
//! spare lanes.

use rayon::prelude::*;
use rug::Integer;

use super::{Ciphertext, PublicKey};
use crate::mont52::{gather, Mont52};
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
        signed_multi_exp(cts.iter().zip(ks.iter().copied()), self.n_squared()).map(Ciphertext)
    }

    /// One [`PublicKey::raw_dot_i64`] per column of scalars. Where the CPU has AVX-512
    /// IFMA, eight columns share each pass over the ciphertexts (one column per lane of
    /// the Montgomery kernel); otherwise the columns run in parallel with GMP.
    pub fn raw_dot_columns(
        &self,
        cts: &[Ciphertext],
        columns: &[Vec<i64>],
    ) -> Result<Vec<Ciphertext>> {
        if let Some(c) = columns.iter().find(|c| c.len() != cts.len()) {
            return Err(Error::LengthMismatch {
                left: cts.len(),
                right: c.len(),
            });
        }
        if columns.len() >= 2 && !cts.is_empty() {
            if let Some(mont) = self.mont_n2() {
                return dot_columns_in_lanes(mont, cts, columns);
            }
        }
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

/// `∏ cᵢ^kᵢ mod m` for signed `kᵢ`: the terms of positive and of negative scalars are
/// two products, the second inverted once at the end.
fn signed_multi_exp<'c>(
    terms: impl IntoIterator<Item = (&'c Ciphertext, i64)>,
    m: &Integer,
) -> Result<Integer> {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for (c, k) in terms {
        match k.cmp(&0) {
            std::cmp::Ordering::Greater => pos.push((c, k.unsigned_abs())),
            std::cmp::Ordering::Less => neg.push((c, k.unsigned_abs())),
            std::cmp::Ordering::Equal => {}
        }
    }
    let p = multi_exp(&pos, m);
    if neg.is_empty() {
        return Ok(p);
    }
    divide(p, &multi_exp(&neg, m), m)
}

/// `p · q⁻¹ mod m` (`q` a product of ciphertexts, so a unit unless one was malformed).
fn divide(p: Integer, q: &Integer, m: &Integer) -> Result<Integer> {
    if *q == 1 {
        return Ok(p);
    }
    let inv = q
        .invert_ref(m)
        .map(Integer::from)
        .ok_or(Error::InvalidCiphertext)?;
    Ok(Integer::from(&p * &inv) % m)
}

/// Columns with at most this many distinct non-zero scalars multiply the ciphertexts of
/// each scalar together (one pass) instead of running bucket windows.
const GROUP_LIMIT: usize = 256;

/// [`PublicKey::raw_dot_columns`] with the IFMA kernel: columns in groups of eight lanes.
fn dot_columns_in_lanes(
    mont: &Mont52,
    cts: &[Ciphertext],
    columns: &[Vec<i64>],
) -> Result<Vec<Ciphertext>> {
    let refs: Vec<&Integer> = cts.iter().map(|c| &c.0).collect();
    // Every ciphertext in Montgomery form once, shared by all columns.
    let bases: Vec<u64> = refs
        .par_chunks(512)
        .flat_map_iter(|chunk| mont.to_montgomery_many(chunk))
        .collect();
    let distinct: Vec<Vec<i64>> = columns
        .par_iter()
        .map(|c| {
            let mut v: Vec<i64> = c.iter().copied().filter(|&k| k != 0).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let (mut grouped, mut bucketed): (Vec<usize>, Vec<usize>) =
        (0..columns.len()).partition(|&j| distinct[j].len() <= GROUP_LIMIT);
    // A last, partial group of grouped columns rides in the bucket groups' spare lanes.
    let spare = (8 - bucketed.len() % 8) % 8;
    if grouped.len() % 8 <= spare && !bucketed.is_empty() {
        let keep = grouped.len() - grouped.len() % 8;
        bucketed.extend(grouped.drain(keep..));
    }
    let groups: Vec<(bool, &[usize])> = grouped
        .chunks(8)
        .map(|g| (true, g))
        .chain(bucketed.chunks(8).map(|g| (false, g)))
        .collect();
    let done: Vec<Vec<(usize, Integer)>> = groups
        .par_iter()
        .map(|&(is_grouped, cols)| {
            let scalars: Vec<&[i64]> = cols.iter().map(|&j| columns[j].as_slice()).collect();
            let out = if is_grouped {
                let values: Vec<&[i64]> = cols.iter().map(|&j| distinct[j].as_slice()).collect();
                grouped_lanes(mont, &bases, &scalars, &values)?
            } else {
                bucket_lanes(mont, &bases, &scalars)?
            };
            Ok(cols.iter().copied().zip(out).collect())
        })
        .collect::<Result<_>>()?;
    let mut out = vec![Ciphertext(Integer::from(1)); columns.len()];
    for (j, v) in done.into_iter().flatten() {
        out[j] = Ciphertext(v);
    }
    Ok(out)
}

/// Working buffers of eight lanes for one modulus.
struct LaneWork<'m> {
    mont: &'m Mont52,
    a: Vec<[u64; 8]>,
    b: Vec<[u64; 8]>,
    out: Vec<[u64; 8]>,
}

impl<'m> LaneWork<'m> {
    fn new(mont: &'m Mont52) -> Self {
        let l = mont.digits();
        Self {
            mont,
            a: vec![[0u64; 8]; l],
            b: vec![[0u64; 8]; l],
            out: vec![[0u64; 8]; l],
        }
    }

    /// Eight lanes set to one (Montgomery form).
    fn ones(&self) -> Vec<[u64; 8]> {
        let mut v = vec![[0u64; 8]; self.mont.digits()];
        gather(&mut v, [self.mont.one(); 8]);
        v
    }

    /// `slots[k] ← slots[k] · row` for each lane `k`, `slots[k]` being the offset of lane
    /// `k`'s bucket in `store`.
    fn mul_into(&mut self, store: &mut [u64], slots: [usize; 8], row: &[u64]) {
        let l = self.mont.digits();
        gather(
            &mut self.a,
            std::array::from_fn(|k| &store[slots[k]..slots[k] + l]),
        );
        gather(&mut self.b, [row; 8]);
        self.mont.mul(&mut self.out, &self.a, &self.b);
        for (k, &at) in slots.iter().enumerate() {
            for (d, v) in store[at..at + l].iter_mut().zip(&self.out) {
                *d = v[k];
            }
        }
    }

    /// `acc ← acc · (store[slots[k]])_k`.
    fn mul_gathered(&mut self, acc: &mut Vec<[u64; 8]>, store: &[u64], slots: [usize; 8]) {
        let l = self.mont.digits();
        gather(
            &mut self.b,
            std::array::from_fn(|k| &store[slots[k]..slots[k] + l]),
        );
        self.mont.mul(&mut self.out, acc, &self.b);
        std::mem::swap(acc, &mut self.out);
    }

    /// `acc ← acc · other`.
    fn mul_lanes(&mut self, acc: &mut Vec<[u64; 8]>, other: &[[u64; 8]]) {
        self.mont.mul(&mut self.out, acc, other);
        std::mem::swap(acc, &mut self.out);
    }

    /// `acc ← acc²`.
    fn square(&mut self, acc: &mut Vec<[u64; 8]>) {
        self.mont.mul(&mut self.out, acc, acc);
        std::mem::swap(acc, &mut self.out);
    }
}

/// The window width for a bucket pass in lanes: both signs' buckets are combined, so a
/// pass costs `terms + 4·2^w` kernel calls.
fn lane_window(bits: u32, terms: usize) -> u32 {
    window_with(bits, terms, 4)
}

/// Up to eight columns of signed scalars by bucket windows, one column per lane. Lane
/// `k`'s buckets are `[0, 2^w)` for positive scalars and `[2^w, 2^(w+1))` for negative
/// ones; slot 0 takes the lanes whose digit is zero (it is never read).
fn bucket_lanes(mont: &Mont52, bases: &[u64], scalars: &[&[i64]]) -> Result<Vec<Integer>> {
    let lanes = scalars.len();
    let l = mont.digits();
    let n = bases.len() / l;
    let bits = scalars
        .iter()
        .flat_map(|s| s.iter())
        .map(|k| 64 - k.unsigned_abs().leading_zeros())
        .max()
        .unwrap_or(0);
    if bits == 0 {
        return Ok(vec![Integer::from(1); lanes]);
    }
    let w = lane_window(bits, n);
    let passes = bits.div_ceil(w);
    let nb = 1usize << w;
    let per_lane = 2 * nb * l;
    let slot = |k: usize, idx: usize| k * per_lane + idx * l;
    let mut work = LaneWork::new(mont);
    let mut buckets = vec![0u64; 8 * per_lane];
    let mut acc = [work.ones(), work.ones()];
    for pass in (0..passes).rev() {
        if pass + 1 != passes {
            for set in &mut acc {
                for _ in 0..w {
                    work.square(set);
                }
            }
        }
        for b in buckets.chunks_mut(l) {
            b.copy_from_slice(mont.one());
        }
        let shift = pass * w;
        for i in 0..n {
            let mut idx = [0usize; 8];
            let mut any = false;
            for (k, s) in scalars.iter().enumerate() {
                let v = s[i];
                let d = ((v.unsigned_abs() >> shift) as usize) & (nb - 1);
                if d != 0 {
                    idx[k] = d + if v < 0 { nb } else { 0 };
                    any = true;
                }
            }
            if any {
                let slots = std::array::from_fn(|k| slot(k, idx[k]));
                work.mul_into(&mut buckets, slots, &bases[i * l..(i + 1) * l]);
            }
        }
        // Σ d·bucket[d] as running products, for each sign.
        for (sign, set) in acc.iter_mut().enumerate() {
            let mut running = work.ones();
            let mut total = work.ones();
            for d in (1..nb).rev() {
                work.mul_gathered(
                    &mut running,
                    &buckets,
                    std::array::from_fn(|k| slot(k, d + sign * nb)),
                );
                work.mul_lanes(&mut total, &running);
            }
            work.mul_lanes(set, &total);
        }
    }
    let pos = mont.values(&acc[0], lanes);
    let neg = mont.values(&acc[1], lanes);
    pos.into_iter()
        .zip(&neg)
        .map(|(p, q)| divide(p, q, mont.modulus()))
        .collect()
}

/// Up to eight columns with few distinct scalars, one column per lane: one pass
/// multiplies the ciphertexts of each scalar together (slot 0 takes zero scalars), then
/// the products are raised to their scalars with GMP.
fn grouped_lanes(
    mont: &Mont52,
    bases: &[u64],
    scalars: &[&[i64]],
    values: &[&[i64]],
) -> Result<Vec<Integer>> {
    let lanes = scalars.len();
    let l = mont.digits();
    let n = bases.len() / l;
    let slots_per_lane = values.iter().map(|v| v.len()).max().unwrap_or(0) + 1;
    let slot = |k: usize, idx: usize| (k * slots_per_lane + idx) * l;
    let mut work = LaneWork::new(mont);
    let mut products = vec![0u64; 8 * slots_per_lane * l];
    for p in products.chunks_mut(l) {
        p.copy_from_slice(mont.one());
    }
    for i in 0..n {
        let mut idx = [0usize; 8];
        let mut any = false;
        for k in 0..lanes {
            let v = scalars[k][i];
            if v != 0 {
                idx[k] = 1 + values[k].binary_search(&v).unwrap_or_default();
                any = true;
            }
        }
        if any {
            let slots = std::array::from_fn(|k| slot(k, idx[k]));
            work.mul_into(&mut products, slots, &bases[i * l..(i + 1) * l]);
        }
    }
    // The products of each value, lane by lane, out of Montgomery form.
    let mut per_lane: Vec<Vec<Integer>> = vec![Vec::new(); lanes];
    for j in 1..slots_per_lane {
        let mut v = vec![[0u64; 8]; l];
        gather(
            &mut v,
            std::array::from_fn(|k| {
                let at = slot(k, j);
                &products[at..at + l]
            }),
        );
        for (k, p) in mont.values(&v, lanes).into_iter().enumerate() {
            if j <= values[k].len() {
                per_lane[k].push(p);
            }
        }
    }
    let m = mont.modulus();
    per_lane
        .into_iter()
        .zip(values)
        .map(|(products, vals)| {
            let cts: Vec<Ciphertext> = products.into_iter().map(Ciphertext).collect();
            signed_multi_exp(cts.iter().zip(vals.iter().copied()), m)
        })
        .collect()
}

/// The window width that minimises `⌈bits/w⌉·(terms + 2^(w+1))`.
fn window(bits: u32, terms: usize) -> u32 {
    window_with(bits, terms, 2)
}

/// The window width that minimises `⌈bits/w⌉·(terms + combine·2^w)`, where `combine·2^w`
/// is what summing a pass's buckets costs.
fn window_with(bits: u32, terms: usize, combine: u64) -> u32 {
    (1..=16u32)
        .min_by_key(|&w| u64::from(bits.div_ceil(w)) * (terms as u64 + (combine << w)))
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

    /// Encryptions of signed plaintexts.
    fn encrypt_all(pk: &PublicKey, ms: &[i64]) -> Vec<Ciphertext> {
        ms.iter()
            .map(|m| pk.encrypt_raw(&Integer::from(*m).rem_euc(pk.n())).unwrap())
            .collect()
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
            let ms: Vec<i64> = pairs.iter().map(|(m, _)| *m).collect();
            let cts = encrypt_all(pk, &ms);
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
            let cts = encrypt_all(pk, &ms);
            let ks: Vec<i64> = (0..ms.len()).map(|i| levels[picks[i] % levels.len()]).collect();
            let expected: Integer = ms.iter().zip(&ks).map(|(m, k)| Integer::from(*m) * *k).sum();
            let got = pk.raw_dot_i64(&cts, &ks).unwrap();
            prop_assert_eq!(decode(pk.n(), kp.private.decrypt_raw(&got)), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        /// Many columns at once (eight lanes per kernel pass where the CPU has IFMA):
        /// continuous, discrete, constant and all-zero columns, signs mixed, more columns
        /// than lanes; each decrypts to its plaintext dot product.
        #[test]
        fn columns_match_plaintext(
            ms in proptest::collection::vec(-1_000_000i64..1_000_000, 1..300),
            kinds in proptest::collection::vec(0u8..4, 2..20),
            seed in any::<u64>(),
        ) {
            let kp = keys();
            let pk = &kp.public;
            let cts = encrypt_all(pk, &ms);
            let mut rng = seed | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let columns: Vec<Vec<i64>> = kinds
                .iter()
                .map(|kind| {
                    (0..ms.len())
                        .map(|_| {
                            let r = next();
                            match kind {
                                0 => (r % (1 << 31)) as i64 - (1 << 30),
                                1 => [-3i64 << 23, 0, 5 << 23, 7 << 22][(r % 4) as usize],
                                2 => 1 << 23,
                                _ => 0,
                            }
                        })
                        .collect()
                })
                .collect();
            let got = pk.raw_dot_columns(&cts, &columns).unwrap();
            prop_assert_eq!(got.len(), columns.len());
            for (col, c) in columns.iter().zip(&got) {
                let expected: Integer = ms.iter().zip(col).map(|(m, k)| Integer::from(*m) * *k).sum();
                prop_assert_eq!(decode(pk.n(), kp.private.decrypt_raw(c)), expected);
            }
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
        let cts = encrypt_all(pk, &ms);
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

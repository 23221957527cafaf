//! Fixed-base exponentiation with precomputed windows of `b` bits.
//!
//! For a base `h`, a modulus `m` and exponents of `b·w` bits, the table holds
//! `h^(j · 2^(b·i)) mod m` for every window `i < w` and digit `j < 2^b`. Then
//! `h^x = Π_i table[i][x_i]` where `x_i` are the `b`-bit digits of `x`: `w − 1` modular
//! multiplications instead of about `1.2 · b·w` for square-and-multiply.
//!
//! The width trades memory and build time for speed. Without a hint about how many
//! exponentiations follow: 11 bits for moduli up to 2048 bits (a 1024-bit Paillier key:
//! 320-bit exponents in 30 windows, 20 MB), 10 bits above (a 2048-bit key: 448-bit
//! exponents in 45 windows, 29 MB). Given the expected count, [`digit_bits_for`] picks the
//! width that minimises build plus use, up to [`MAX_TABLE_BYTES`]: for 300,000
//! obfuscators (ten epochs of hetero LR on 30,000 rows) 14 bits, 23 windows at 1024 bits
//! (120 MB) and 32 at 2048 bits (331 MB). Sizes are those of the IFMA store (52-bit digits
//! in Montgomery form, used where the CPU has AVX-512 IFMA; [`FixedBaseTable::pow_times`]
//! then runs eight exponentiations per kernel call); the GMP store is a little smaller.
//! Every window does one multiplication whatever its digit (digit 0 multiplies by 1), so
//! our code has no branch on the exponent; the memory access pattern does depend on the
//! exponent's digits (see the crate docs on side channels).

use rayon::prelude::*;
use rug::{Assign, Integer};

use crate::mont52::{from_digits_into, gather, lane, Mont52};

/// The largest table [`digit_bits_for`] chooses.
pub const MAX_TABLE_BYTES: u64 = 320 << 20;

/// Digit width in bits for a modulus of `modulus_bits` bits when the number of uses is
/// not known.
fn default_digit_bits(modulus_bits: u32) -> u32 {
    if modulus_bits <= 2048 {
        11
    } else {
        10
    }
}

/// The digit width for `uses` exponentiations of `exponent_bits`-bit exponents modulo a
/// `modulus_bits`-bit modulus: the one that minimises the multiplications of building the
/// table (`windows · 2^b`) plus those of the uses (`uses · windows`), among tables of at
/// most [`MAX_TABLE_BYTES`]. Never narrower than the default width.
pub(crate) fn digit_bits_for(modulus_bits: u32, exponent_bits: u32, uses: usize) -> u32 {
    // GMP limbs or the IFMA kernel's 52-bit digits, whichever is wider.
    let entry_bytes = u64::from((modulus_bits + 2).div_ceil(52) * 8);
    let floor = default_digit_bits(modulus_bits);
    let cost = |b: u32| {
        let windows = u64::from(exponent_bits.div_ceil(b));
        windows * (1u64 << b) + uses as u64 * windows
    };
    (floor..=20)
        .filter(|&b| {
            b == floor
                || u64::from(exponent_bits.div_ceil(b)) * (1u64 << b) * entry_bytes
                    <= MAX_TABLE_BYTES
        })
        .min_by_key(|&b| (cost(b), b))
        .unwrap_or(floor)
}

pub(crate) struct FixedBaseTable {
    modulus: Integer,
    exponent_bytes: usize,
    digit_bits: u32,
    /// `2^digit_bits`.
    digits: usize,
    windows: usize,
    store: Store,
}

/// The entries `h^(j · 2^(b·i))`, row `i` after row `i − 1`.
enum Store {
    /// As GMP integers.
    Gmp(Vec<Integer>),
    /// In Montgomery form as 52-bit digits, entry `e` at `entries[e·L..(e+1)·L]`, for the
    /// eight-lane IFMA kernel. `unmont = R^(−windows) mod m` undoes the Montgomery factors
    /// of a product of one entry per window computed with GMP.
    Ifma {
        mont: Mont52,
        entries: Vec<u64>,
        unmont: Integer,
    },
}

impl FixedBaseTable {
    /// Builds the table for `base` modulo `modulus` and exponents of `exponent_bytes`
    /// bytes with the default width, on the calling thread.
    pub(crate) fn new(base: &Integer, modulus: &Integer, exponent_bytes: usize) -> Self {
        Self::with_digit_bits(
            base,
            modulus,
            exponent_bytes,
            default_digit_bits(modulus.significant_bits()),
            false,
        )
    }

    /// Builds the table with `digit_bits`-bit digits (at most 24), its rows on the rayon
    /// pool when `parallel`. Never call it in parallel from inside a `OnceLock`
    /// initializer: a rayon task waiting there could steal a task that waits on the same
    /// lock (deadlock). Uses the IFMA kernel when the CPU has it.
    pub(crate) fn with_digit_bits(
        base: &Integer,
        modulus: &Integer,
        exponent_bytes: usize,
        digit_bits: u32,
        parallel: bool,
    ) -> Self {
        assert!((1..=24).contains(&digit_bits), "digit width {digit_bits}");
        let digits = 1usize << digit_bits;
        let windows = (exponent_bytes * 8).div_ceil(digit_bits as usize);
        // window_bases[i] = base^(2^(digit_bits·i))
        let mut window_bases = Vec::with_capacity(windows);
        let mut b = Integer::from(base % modulus);
        for _ in 0..windows {
            let next = b
                .clone()
                .pow_mod(&Integer::from(digits), modulus)
                .expect("positive exponent");
            window_bases.push(std::mem::replace(&mut b, next));
        }
        let store = match Mont52::new(modulus) {
            Some(mont) => ifma_rows(mont, &window_bases, digits, parallel),
            None => Store::Gmp(gmp_rows(modulus, &window_bases, digits, parallel)),
        };
        Self {
            modulus: modulus.clone(),
            exponent_bytes,
            digit_bits,
            digits,
            windows,
            store,
        }
    }

    /// The base of the table (reduced modulo the modulus).
    pub(crate) fn base(&self) -> Integer {
        match &self.store {
            Store::Gmp(entries) => entries[1].clone(),
            Store::Ifma { mont, entries, .. } => {
                // Entry 1 is base·R.
                let l = mont.digits();
                let mut a = vec![[0u64; 8]; l];
                gather(&mut a, [&entries[l..2 * l]; 8]);
                mont.values(&a, 1).remove(0)
            }
        }
    }

    /// Number of exponent bytes the table covers.
    pub(crate) fn exponent_bytes(&self) -> usize {
        self.exponent_bytes
    }

    /// Digit `i` (bits `[i·b, (i+1)·b)`) of a little-endian exponent.
    fn digit(&self, exponent_le: &[u8], i: usize) -> usize {
        let start = i * self.digit_bits as usize;
        let byte = start / 8;
        let mut word = [0u8; 4];
        for (k, w) in word.iter_mut().enumerate() {
            *w = exponent_le.get(byte + k).copied().unwrap_or(0);
        }
        ((u32::from_le_bytes(word) >> (start % 8)) as usize) & (self.digits - 1)
    }

    /// `base^x mod modulus`, where `x` is given as little-endian bytes (exactly
    /// [`Self::exponent_bytes`] of them).
    pub(crate) fn pow(&self, exponent_le: &[u8]) -> Integer {
        debug_assert_eq!(exponent_le.len(), self.exponent_bytes);
        let entry = |i: usize| i * self.digits + self.digit(exponent_le, i);
        let mut product = Integer::new();
        match &self.store {
            Store::Gmp(entries) => {
                let mut acc = entries[entry(0)].clone();
                for i in 1..self.windows {
                    product.assign(&acc * &entries[entry(i)]);
                    acc.assign(&product % &self.modulus);
                }
                acc
            }
            Store::Ifma {
                mont,
                entries,
                unmont,
            } => {
                let l = mont.digits();
                let (mut limbs, mut value) = (Vec::new(), Integer::new());
                let mut acc = Integer::from(unmont);
                for i in 0..self.windows {
                    let e = entry(i);
                    from_digits_into(&entries[e * l..(e + 1) * l], &mut limbs, &mut value);
                    product.assign(&acc * &value);
                    acc.assign(&product % &self.modulus);
                }
                acc
            }
        }
    }

    /// `multipliers[k] · base^(x_k) mod modulus` for up to eight exponents at once (the
    /// IFMA kernel's lanes; one by one with GMP). Multipliers must lie in `[0, modulus)`.
    pub(crate) fn pow_times(
        &self,
        exponents_le: &[&[u8]],
        multipliers: &[&Integer],
    ) -> Vec<Integer> {
        assert!(exponents_le.len() <= 8 && exponents_le.len() == multipliers.len());
        let Store::Ifma { mont, entries, .. } = &self.store else {
            return exponents_le
                .iter()
                .zip(multipliers)
                .map(|(x, m)| Integer::from(&self.pow(x) * *m) % &self.modulus)
                .collect();
        };
        let Some(&first) = exponents_le.first() else {
            return Vec::new();
        };
        let lanes = exponents_le.len();
        // Unused lanes repeat the first.
        let exp = |k: usize| if k < lanes { exponents_le[k] } else { first };
        let l = mont.digits();
        let row = |i: usize, k: usize| {
            let e = i * self.digits + self.digit(exp(k), i);
            &entries[e * l..(e + 1) * l]
        };
        let mut acc = vec![[0u64; 8]; l];
        let mut b = vec![[0u64; 8]; l];
        let mut out = vec![[0u64; 8]; l];
        gather(&mut acc, std::array::from_fn(|k| row(0, k)));
        for i in 1..self.windows {
            gather(&mut b, std::array::from_fn(|k| row(i, k)));
            mont.mul(&mut out, &acc, &b);
            std::mem::swap(&mut acc, &mut out);
        }
        // acc = base^x·R; times a multiplier in ordinary form gives multiplier·base^x.
        let ms: Vec<Vec<u64>> = (0..8)
            .map(|k| mont.digits_of(multipliers[k.min(lanes - 1)]))
            .collect();
        gather(&mut b, std::array::from_fn(|k| ms[k].as_slice()));
        mont.mul(&mut out, &acc, &b);
        (0..lanes)
            .map(|k| mont.reduce_digits(&lane(&out, k)))
            .collect()
    }
}

/// Rows of entries with GMP.
fn gmp_rows(
    modulus: &Integer,
    window_bases: &[Integer],
    digits: usize,
    parallel: bool,
) -> Vec<Integer> {
    let row = |wb: &Integer| {
        let mut row = Vec::with_capacity(digits);
        row.push(Integer::from(1));
        row.push(wb.clone());
        let mut product = Integer::new();
        for j in 2..digits {
            product.assign(&row[j - 1] * wb);
            row.push(Integer::from(&product % modulus));
        }
        row
    };
    let rows: Vec<Vec<Integer>> = if parallel {
        window_bases.par_iter().map(row).collect()
    } else {
        window_bases.iter().map(row).collect()
    };
    rows.into_iter().flatten().collect()
}

/// Rows of entries in Montgomery form, eight windows at a time in the IFMA lanes.
fn ifma_rows(mont: Mont52, window_bases: &[Integer], digits: usize, parallel: bool) -> Store {
    let l = mont.digits();
    let windows = window_bases.len();
    let bases: Vec<Vec<u64>> = window_bases.iter().map(|b| mont.to_montgomery(b)).collect();
    let mut entries = vec![0u64; windows * digits * l];
    let group = |(g, chunk): (usize, &mut [u64])| {
        // Windows 8g .. 8g+8 (the last group may hold fewer; spare lanes repeat one).
        let real = chunk.len() / (digits * l);
        let base_of = |k: usize| bases[8 * g + k.min(real - 1)].as_slice();
        let mut step = vec![[0u64; 8]; l];
        gather(&mut step, std::array::from_fn(base_of));
        let mut cur = step.clone();
        let mut next = vec![[0u64; 8]; l];
        for k in 0..real {
            let row = &mut chunk[k * digits * l..(k + 1) * digits * l];
            row[..l].copy_from_slice(mont.one());
            row[l..2 * l].copy_from_slice(base_of(k));
        }
        for j in 2..digits {
            mont.mul(&mut next, &cur, &step);
            std::mem::swap(&mut cur, &mut next);
            for k in 0..real {
                let at = (k * digits + j) * l;
                for (d, v) in chunk[at..at + l].iter_mut().zip(&cur) {
                    *d = v[k];
                }
            }
        }
    };
    let span = 8 * digits * l;
    if parallel {
        entries.par_chunks_mut(span).enumerate().for_each(group);
    } else {
        entries.chunks_mut(span).enumerate().for_each(group);
    }
    let r = Integer::from(Integer::u_pow_u(2, (52 * l) as u32));
    let r_inv = r
        .invert(mont.modulus())
        .expect("R is a unit modulo an odd modulus");
    let unmont = r_inv
        .pow_mod(&Integer::from(windows), mont.modulus())
        .expect("non-negative exponent");
    Store::Ifma {
        mont,
        entries,
        unmont,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_follows_the_expected_uses() {
        // Few or unknown uses: the default width.
        assert_eq!(digit_bits_for(2048, 320, 0), 11);
        assert_eq!(digit_bits_for(4096, 448, 1000), 10);
        // Ten epochs of 30,000 rows: 14 bits at both key sizes (120 MB and 331 MB).
        assert_eq!(digit_bits_for(2048, 320, 300_000), 14);
        assert_eq!(digit_bits_for(4096, 448, 300_000), 14);
        // More uses would repay wider digits; the memory cap stops them at 15 bits for
        // a 2048-bit modulus and at 14 for a 4096-bit one.
        assert_eq!(digit_bits_for(2048, 320, 900_000), 15);
        assert_eq!(digit_bits_for(4096, 448, 10_000_000), 14);
        for (m, e, u) in [
            (2048, 320, 10_000_000),
            (4096, 448, 10_000_000),
            (8192, 768, 1 << 30),
        ] {
            let b = digit_bits_for(m, e, u);
            let bytes = u64::from(e.div_ceil(b)) * (1 << b) * u64::from((m + 2).div_ceil(52) * 8);
            assert!(
                b == default_digit_bits(m) || bytes <= MAX_TABLE_BYTES,
                "{m} {e} {u}: {b}"
            );
        }
    }

    #[test]
    fn matches_pow_mod() {
        let m = Integer::from_str_radix("f123456789abcdef0123456789abcdef1", 16).unwrap();
        let base = Integer::from(987654321u64);
        // Digit widths that divide the exponent's 32 bits and ones that do not.
        for bits in [8, 10, 11] {
            let table = FixedBaseTable::with_digit_bits(&base, &m, 4, bits, bits == 10);
            let xs = [0u32, 1, 255, 256, 2047, 2048, 65535, 0xdead_beef, u32::MAX];
            let expected: Vec<Integer> = xs
                .iter()
                .map(|&x| base.clone().pow_mod(&Integer::from(x), &m).unwrap())
                .collect();
            for (x, e) in xs.iter().zip(&expected) {
                assert_eq!(
                    table.pow(&x.to_le_bytes()),
                    *e,
                    "x = {x}, {bits}-bit digits"
                );
            }
            // Eight and fewer lanes at once, times a multiplier.
            let bytes: Vec<[u8; 4]> = xs.iter().map(|x| x.to_le_bytes()).collect();
            let refs: Vec<&[u8]> = bytes.iter().map(|b| b.as_slice()).collect();
            let mult = Integer::from(&m - 2u32);
            for lanes in [8, 3, 1] {
                let got = table.pow_times(&refs[..lanes], &vec![&mult; lanes]);
                for (k, g) in got.iter().enumerate() {
                    assert_eq!(
                        *g,
                        Integer::from(&expected[k] * &mult) % &m,
                        "lane {k} of {lanes}"
                    );
                }
            }
            assert_eq!(table.base(), base);
        }
    }
}

//! Fixed-base exponentiation with precomputed windows of `b` bits.
//!
//! For a base `h`, a modulus `m` and exponents of `b·w` bits, the table holds
//! `h^(j · 2^(b·i)) mod m` for every window `i < w` and digit `j < 2^b`. Then
//! `h^x = Π_i table[i][x_i]` where `x_i` are the `b`-bit digits of `x`: `w − 1` modular
//! multiplications instead of about `1.2 · b·w` for square-and-multiply.
//!
//! The width trades memory for speed: 11 bits for moduli up to 2048 bits (a 1024-bit
//! Paillier key: 320-bit exponents in 30 windows, 16 MB), 10 bits above (a 2048-bit key:
//! 448-bit exponents in 45 windows, 24 MB); 8-bit windows took a third more
//! multiplications. Every window does one multiplication whatever its digit (digit 0
//! multiplies by 1), so our code has no branch on the exponent; the memory access pattern
//! does depend on the exponent's digits (see the crate docs on side channels).

use rug::{Assign, Integer};

/// Digit width in bits for a modulus of `modulus_bits` bits.
fn digit_bits(modulus_bits: u32) -> u32 {
    if modulus_bits <= 2048 {
        11
    } else {
        10
    }
}

pub(crate) struct FixedBaseTable {
    modulus: Integer,
    exponent_bytes: usize,
    digit_bits: u32,
    digits: usize,
    entries: Vec<Integer>,
}

impl FixedBaseTable {
    /// Builds the table for `base` modulo `modulus` and exponents of `exponent_bytes` bytes.
    pub(crate) fn new(base: &Integer, modulus: &Integer, exponent_bytes: usize) -> Self {
        Self::with_digit_bits(
            base,
            modulus,
            exponent_bytes,
            digit_bits(modulus.significant_bits()),
        )
    }

    fn with_digit_bits(
        base: &Integer,
        modulus: &Integer,
        exponent_bytes: usize,
        digit_bits: u32,
    ) -> Self {
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
        // Sequential on purpose: this runs inside `OnceLock::get_or_init`, and a rayon task
        // waiting there could steal a task that waits on the same lock (deadlock).
        let rows: Vec<Vec<Integer>> = window_bases
            .iter()
            .map(|wb| {
                let mut row = Vec::with_capacity(digits);
                row.push(Integer::from(1));
                row.push(wb.clone());
                for j in 2..digits {
                    let v = Integer::from(&row[j - 1] * wb) % modulus;
                    row.push(v);
                }
                row
            })
            .collect();
        Self {
            modulus: modulus.clone(),
            exponent_bytes,
            digit_bits,
            digits,
            entries: rows.into_iter().flatten().collect(),
        }
    }

    /// The base of the table (reduced modulo the modulus).
    pub(crate) fn base(&self) -> &Integer {
        &self.entries[1]
    }

    /// Number of exponent bytes the table covers.
    pub(crate) fn exponent_bytes(&self) -> usize {
        self.exponent_bytes
    }

    /// `base^x mod modulus`, where `x` is given as little-endian bytes (exactly
    /// [`Self::exponent_bytes`] of them).
    pub(crate) fn pow(&self, exponent_le: &[u8]) -> Integer {
        debug_assert_eq!(exponent_le.len(), self.exponent_bytes);
        let windows = self.entries.len() / self.digits;
        let digit = |i: usize| -> usize {
            // Bits [i·b, (i+1)·b) of the little-endian exponent.
            let start = i * self.digit_bits as usize;
            let mut v = 0usize;
            for bit in 0..self.digit_bits as usize {
                let pos = start + bit;
                let byte = exponent_le.get(pos / 8).copied().unwrap_or(0);
                v |= usize::from((byte >> (pos % 8)) & 1) << bit;
            }
            v
        };
        let mut acc = self.entries[digit(0)].clone();
        let mut product = Integer::new();
        for i in 1..windows {
            let entry = &self.entries[i * self.digits + digit(i)];
            product.assign(&acc * entry);
            acc.assign(&product % &self.modulus);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pow_mod() {
        let m = Integer::from_str_radix("f123456789abcdef0123456789abcdef1", 16).unwrap();
        let base = Integer::from(987654321u64);
        // Digit widths that divide the exponent's 32 bits and ones that do not.
        for bits in [8, 10, 11] {
            let table = FixedBaseTable::with_digit_bits(&base, &m, 4, bits);
            for x in [0u32, 1, 255, 256, 2047, 2048, 65535, 0xdead_beef, u32::MAX] {
                let expected = base.clone().pow_mod(&Integer::from(x), &m).unwrap();
                assert_eq!(
                    table.pow(&x.to_le_bytes()),
                    expected,
                    "x = {x}, {bits}-bit digits"
                );
            }
        }
    }
}

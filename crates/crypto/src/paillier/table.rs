//! Fixed-base exponentiation with precomputed 8-bit windows.
//!
//! For a base `h`, a modulus `m` and exponents of `8·w` bits, the table holds
//! `h^(j · 256^i) mod m` for every window `i < w` and digit `j < 256`. Then
//! `h^x = Π_i table[i][x_i]` where `x_i` are the bytes of `x`: `w − 1` modular
//! multiplications instead of about `1.2 · 8w` for square-and-multiply.
//!
//! Memory is `256 · w` residues: about 7 MB for a 2048-bit Paillier key (modulus n², 56
//! windows). Every window does one multiplication whatever its digit (digit 0 multiplies
//! by 1), so our code has no branch on the exponent; the memory access pattern does depend
//! on the exponent bytes (see the crate docs on side channels).

use rug::{Assign, Integer};

/// Number of entries per window.
const DIGITS: usize = 256;

pub(crate) struct FixedBaseTable {
    modulus: Integer,
    windows: usize,
    entries: Vec<Integer>,
}

impl FixedBaseTable {
    /// Builds the table for `base` modulo `modulus` and exponents of `exponent_bytes` bytes.
    pub(crate) fn new(base: &Integer, modulus: &Integer, exponent_bytes: usize) -> Self {
        // window_bases[i] = base^(256^i)
        let mut window_bases = Vec::with_capacity(exponent_bytes);
        let mut b = Integer::from(base % modulus);
        for _ in 0..exponent_bytes {
            let next = b
                .clone()
                .pow_mod(&Integer::from(DIGITS), modulus)
                .expect("positive exponent");
            window_bases.push(std::mem::replace(&mut b, next));
        }
        // Sequential on purpose: this runs inside `OnceLock::get_or_init`, and a rayon task
        // waiting there could steal a task that waits on the same lock (deadlock).
        let rows: Vec<Vec<Integer>> = window_bases
            .iter()
            .map(|wb| {
                let mut row = Vec::with_capacity(DIGITS);
                row.push(Integer::from(1));
                row.push(wb.clone());
                for j in 2..DIGITS {
                    let v = Integer::from(&row[j - 1] * wb) % modulus;
                    row.push(v);
                }
                row
            })
            .collect();
        Self {
            modulus: modulus.clone(),
            windows: exponent_bytes,
            entries: rows.into_iter().flatten().collect(),
        }
    }

    /// The base of the table (reduced modulo the modulus).
    pub(crate) fn base(&self) -> &Integer {
        &self.entries[1]
    }

    /// Number of exponent bytes the table covers.
    pub(crate) fn exponent_bytes(&self) -> usize {
        self.windows
    }

    /// `base^x mod modulus`, where `x` is given as little-endian bytes (exactly
    /// [`Self::exponent_bytes`] of them).
    pub(crate) fn pow(&self, exponent_le: &[u8]) -> Integer {
        debug_assert_eq!(exponent_le.len(), self.windows);
        let mut acc = self.entries[usize::from(exponent_le[0])].clone();
        let mut product = Integer::new();
        for (i, &digit) in exponent_le.iter().enumerate().skip(1) {
            let entry = &self.entries[i * DIGITS + usize::from(digit)];
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
        let table = FixedBaseTable::new(&base, &m, 4);
        for x in [0u32, 1, 255, 256, 65535, 0xdead_beef, u32::MAX] {
            let expected = base.clone().pow_mod(&Integer::from(x), &m).unwrap();
            assert_eq!(table.pow(&x.to_le_bytes()), expected, "x = {x}");
        }
    }
}

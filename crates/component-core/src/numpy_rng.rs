//! numpy's legacy `RandomState` (MT19937 seeded by `init_genrand`), so that a seeded FATE
//! run and ours draw the same numbers: `rand` and `randn` for the linear models' initial
//! weights, `choice(n, k, replace=False)` for HeteroKmeans' initial rows.

/// numpy's legacy generator.
pub struct NumpyRandom {
    mt: [u32; 624],
    index: usize,
    gauss: Option<f64>,
}

impl NumpyRandom {
    /// `np.random.seed(seed)` for an integer seed.
    pub fn seeded(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandom {
            mt,
            index: 624,
            gauss: None,
        }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.mt[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.mt[i] = next;
        }
        self.index = 0;
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// `np.random.rand()`: a double in [0, 1) from 53 random bits.
    pub fn rand(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.randn()`: the legacy polar Box–Muller.
    pub fn randn(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.rand() - 1.0;
            let x2 = 2.0 * self.rand() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        loop {
            let v = if max <= u64::from(u32::MAX) {
                u64::from(self.next_u32()) & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }
}

/// `np.random.seed(seed); np.random.choice(n, k, replace=False)`: the first `k` entries
/// of numpy's `permutation(n)` (a Fisher–Yates shuffle from the last index down).
pub fn choice_without_replacement(seed: u32, n: usize, k: usize) -> Vec<usize> {
    let mut rng = NumpyRandom::seeded(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.interval(i as u64) as usize;
        perm.swap(i, j);
    }
    perm.truncate(k);
    perm
}

/// A seed from the clock, when the job gives none (numpy would take one from the OS).
pub fn clock_seed() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_match_mt19937_reference() {
        // The reference MT19937 with init_genrand(5489): first outputs 3499211612, 581869302.
        let mut r = NumpyRandom::seeded(5489);
        assert_eq!(r.next_u32(), 3_499_211_612);
        assert_eq!(r.next_u32(), 581_869_302);
    }

    #[test]
    fn rand_and_randn_match_numpy_seed_0() {
        // np.random.seed(0); np.random.rand(3)
        let mut r = NumpyRandom::seeded(0);
        let got: Vec<f64> = (0..3).map(|_| r.rand()).collect();
        let expected = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-16, "{got:?}");
        }
        // np.random.seed(0); np.random.randn(2)
        let mut r = NumpyRandom::seeded(0);
        let (a, b) = (r.randn(), r.randn());
        assert!((a - 1.764052345967664).abs() < 1e-12, "{a}");
        assert!((b - 0.4001572083672233).abs() < 1e-12, "{b}");
    }

    #[test]
    fn choice_matches_numpy() {
        // np.random.seed(s); np.random.choice(569, 3, replace=False) with numpy 2.x.
        assert_eq!(choice_without_replacement(0, 569, 3), [512, 457, 439]);
        assert_eq!(choice_without_replacement(7, 569, 3), [350, 259, 115]);
        assert_eq!(choice_without_replacement(42, 569, 3), [204, 70, 131]);
        let all = choice_without_replacement(1, 10, 10);
        assert_eq!(all, [2, 9, 6, 4, 0, 3, 1, 7, 8, 5]);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}

//! The guest's choice of the initial rows as FATE makes it: `np.random.seed(random_stat)`
//! then `np.random.choice(n, k, replace=False)`, which numpy's legacy `RandomState`
//! computes as the first `k` entries of `permutation(n)` (a Fisher–Yates shuffle of
//! `0..n` from the last index down, each swap partner drawn by `random_interval`:
//! 32-bit outputs masked to the smallest covering power of two, rejected while above the
//! bound). The generator is MT19937 seeded by `init_genrand`, as in
//! `components-linear`'s `init.rs`.

/// numpy's legacy MT19937.
pub(crate) struct Mt19937 {
    mt: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `np.random.seed(seed)` for an integer seed.
    pub(crate) fn seeded(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, index: 624 }
    }

    fn regenerate(&mut self) {
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

    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.regenerate();
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

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub(crate) fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }
}

/// `np.random.seed(seed); np.random.choice(n, k, replace=False)`: `k` distinct positions
/// in `0..n` (`k <= n`).
pub(crate) fn choice_without_replacement(seed: u32, n: usize, k: usize) -> Vec<usize> {
    let mut rng = Mt19937::seeded(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.interval(i as u64) as usize;
        perm.swap(i, j);
    }
    perm.truncate(k);
    perm
}

/// A seed when `random_stat` is not given (numpy would take one from the OS).
pub(crate) fn clock_seed() -> u32 {
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
        // The reference MT19937 with init_genrand(5489): first output 3499211612.
        let mut r = Mt19937::seeded(5489);
        assert_eq!(r.next_u32(), 3_499_211_612);
        assert_eq!(r.next_u32(), 581_869_302);
    }

    #[test]
    fn choice_matches_numpy() {
        // np.random.seed(s); np.random.choice(569, 3, replace=False) with numpy 2.x.
        assert_eq!(choice_without_replacement(0, 569, 3), [512, 457, 439]);
        assert_eq!(choice_without_replacement(7, 569, 3), [350, 259, 115]);
        assert_eq!(choice_without_replacement(42, 569, 3), [204, 70, 131]);
        assert_eq!(
            choice_without_replacement(1, 10, 10),
            [2, 9, 6, 4, 0, 3, 1, 7, 8, 5]
        );
    }

    #[test]
    fn choice_is_distinct_and_in_range() {
        let picks = choice_without_replacement(7, 569, 3);
        assert_eq!(picks.len(), 3);
        assert!(picks.iter().all(|&p| p < 569));
        assert!(picks[0] != picks[1] && picks[1] != picks[2] && picks[0] != picks[2]);
        assert_eq!(picks, choice_without_replacement(7, 569, 3));
        let all = choice_without_replacement(1, 10, 10);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}

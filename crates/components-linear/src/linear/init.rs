//! Weight initialisation as FATE does it: `np.random.seed(seed)` then `np.random.rand(k)`
//! (or `randn`). Reproducing numpy's legacy MT19937 stream makes a seeded FATE run and
//! ours start from the same weights.

use super::param::InitMethod;

/// numpy's legacy `RandomState` generator (MT19937, `init_genrand` seeding).
pub(crate) struct NumpyRandom {
    mt: [u32; 624],
    index: usize,
    gauss: Option<f64>,
}

impl NumpyRandom {
    /// `np.random.seed(seed)`.
    pub(crate) fn seeded(seed: u32) -> Self {
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

    fn next_u32(&mut self) -> u32 {
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

    /// `np.random.rand()`: a double in [0, 1) from 53 random bits.
    pub(crate) fn rand(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.randn()`: the legacy polar Box–Muller.
    pub(crate) fn randn(&mut self) -> f64 {
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
}

/// `k` initial weights (the intercept, when fitted, is the last one, as in FATE).
pub(crate) fn initial_weights(method: InitMethod, seed: Option<u64>, k: usize) -> Vec<f64> {
    let seed = seed.map(|s| s as u32).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1)
    });
    let mut rng = NumpyRandom::seeded(seed);
    (0..k)
        .map(|_| match method {
            InitMethod::RandomUniform => rng.rand(),
            InitMethod::RandomNormal => rng.randn(),
            InitMethod::Zeros => 0.0,
            InitMethod::Ones => 1.0,
            InitMethod::Const(c) => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_seed_0() {
        // np.random.seed(0); np.random.rand(3)
        let mut r = NumpyRandom::seeded(0);
        let got: Vec<f64> = (0..3).map(|_| r.rand()).collect();
        let expected = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-16, "{got:?}");
        }
    }

    #[test]
    fn matches_numpy_randn_seed_0() {
        // np.random.seed(0); np.random.randn(2)
        let mut r = NumpyRandom::seeded(0);
        let a = r.randn();
        let b = r.randn();
        assert!((a - 1.764052345967664).abs() < 1e-12, "{a}");
        assert!((b - 0.4001572083672233).abs() < 1e-12, "{b}");
    }

    #[test]
    fn constant_methods() {
        assert_eq!(initial_weights(InitMethod::Zeros, None, 3), vec![0.0; 3]);
        assert_eq!(
            initial_weights(InitMethod::Const(0.5), Some(1), 2),
            vec![0.5; 2]
        );
        assert_eq!(
            initial_weights(InitMethod::RandomUniform, Some(7), 4),
            initial_weights(InitMethod::RandomUniform, Some(7), 4)
        );
    }
}

//! Weight initialisation as FATE does it: `np.random.seed(seed)` then `np.random.rand(k)`
//! (or `randn`). Reproducing numpy's legacy MT19937 stream makes a seeded FATE run and
//! ours start from the same weights.

use super::param::InitMethod;
use crate::numpy_rng::NumpyRandom;

/// `k` initial weights (the intercept, when fitted, is the last one, as in FATE).
pub(crate) fn initial_weights(method: InitMethod, seed: Option<u64>, k: usize) -> Vec<f64> {
    let seed = seed
        .map(|s| s as u32)
        .unwrap_or_else(crate::numpy_rng::clock_seed);
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

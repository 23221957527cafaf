//! FATE 1.x's optimizers on a plaintext gradient, with its learning-rate decay.

use super::param::OptimizerKind;

/// Optimizer state for one weight vector (it spans batches and epochs).
#[derive(Debug, Clone)]
pub(crate) struct Optimizer {
    kind: OptimizerKind,
    learning_rate: f64,
    decay: f64,
    decay_sqrt: bool,
    /// The epoch index the learning rate decays with.
    iters: usize,
    /// Adam's step count.
    steps: u64,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Optimizer {
    pub(crate) fn new(
        kind: OptimizerKind,
        learning_rate: f64,
        decay: f64,
        decay_sqrt: bool,
    ) -> Self {
        Optimizer {
            kind,
            learning_rate,
            decay,
            decay_sqrt,
            iters: 0,
            steps: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Called at the start of each epoch with its index (from 0).
    pub(crate) fn set_iters(&mut self, epoch: usize) {
        self.iters = epoch;
    }

    /// `lr / sqrt(1 + decay·t)` or `lr / (1 + decay·t)`.
    pub(crate) fn current_lr(&self) -> f64 {
        let t = self.iters as f64;
        if self.decay_sqrt {
            self.learning_rate / (1.0 + self.decay * t).sqrt()
        } else {
            self.learning_rate / (1.0 + self.decay * t)
        }
    }

    /// The step Δ to subtract from the weights for gradient `g`.
    pub(crate) fn delta(&mut self, g: &[f64]) -> Vec<f64> {
        if self.m.len() != g.len() {
            self.m = vec![0.0; g.len()];
            self.v = vec![0.0; g.len()];
        }
        let lr = self.current_lr();
        match self.kind {
            OptimizerKind::Sgd => g.iter().map(|x| lr * x).collect(),
            OptimizerKind::RmsProp => g
                .iter()
                .zip(self.m.iter_mut())
                .map(|(x, m)| {
                    *m = 0.99 * *m + 0.01 * x * x;
                    lr * x / (*m + 1e-6).sqrt()
                })
                .collect(),
            OptimizerKind::Adam => {
                self.steps += 1;
                let (b1, b2) = (0.9f64, 0.999f64);
                let c1 = 1.0 - b1.powi(self.steps as i32);
                let c2 = 1.0 - b2.powi(self.steps as i32);
                g.iter()
                    .zip(self.m.iter_mut().zip(self.v.iter_mut()))
                    .map(|(x, (m, v))| {
                        *m = b1 * *m + (1.0 - b1) * x;
                        *v = b2 * *v + (1.0 - b2) * x * x;
                        lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8)
                    })
                    .collect()
            }
            OptimizerKind::AdaGrad => g
                .iter()
                .zip(self.m.iter_mut())
                .map(|(x, m)| {
                    *m += x * x;
                    lr * x / (m.sqrt() + 1e-7)
                })
                .collect(),
            OptimizerKind::Nesterov => g
                .iter()
                .zip(self.m.iter_mut())
                .map(|(x, m)| {
                    let mu = 0.9;
                    let v = mu * *m - lr * x;
                    let d = mu * *m - (1.0 + mu) * v;
                    *m = v;
                    d
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_decays_with_the_epoch() {
        let mut o = Optimizer::new(OptimizerKind::Sgd, 0.1, 1.0, true);
        assert_eq!(o.delta(&[1.0, -2.0]), vec![0.1, -0.2]);
        o.set_iters(3);
        let d = o.delta(&[1.0]);
        assert!((d[0] - 0.05).abs() < 1e-15);
        let mut o = Optimizer::new(OptimizerKind::Sgd, 0.1, 1.0, false);
        o.set_iters(4);
        assert!((o.delta(&[1.0])[0] - 0.02).abs() < 1e-15);
    }

    #[test]
    fn rmsprop_first_step() {
        let mut o = Optimizer::new(OptimizerKind::RmsProp, 0.15, 1.0, true);
        let d = o.delta(&[2.0]);
        // m = 0.01·4 = 0.04; Δ = 0.15·2/sqrt(0.040001)
        assert!((d[0] - 0.3 / (0.04f64 + 1e-6).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn every_optimizer_moves_against_the_gradient() {
        for kind in [
            OptimizerKind::Sgd,
            OptimizerKind::RmsProp,
            OptimizerKind::Adam,
            OptimizerKind::AdaGrad,
            OptimizerKind::Nesterov,
        ] {
            let mut o = Optimizer::new(kind, 0.1, 0.0, true);
            let d = o.delta(&[1.0, -1.0]);
            assert!(d[0] > 0.0 && d[1] < 0.0, "{kind:?}: {d:?}");
        }
    }
}

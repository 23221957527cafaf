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
            // Before its first Hessian (and per party): a plain gradient step; the
            // arbiter applies the Hessian to the joint gradient (`SqnHessian`).
            OptimizerKind::Sqn => g.iter().map(|x| lr * x).collect(),
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

/// FATE's stochastic quasi-Newton bookkeeping of one party (`HeteroStochasticQuansiNewton`):
/// the weights are averaged over windows of `update_interval_L` iterations, and from
/// the second window on each window end yields `s`, the change of the average.
#[derive(Debug, Clone)]
pub(crate) struct SqnWindow {
    interval: usize,
    /// FATE's `count_t`: windows completed, minus one.
    count: i64,
    this: Option<Vec<f64>>,
    last: Option<Vec<f64>>,
}

impl SqnWindow {
    pub(crate) fn new(interval: usize) -> Self {
        SqnWindow {
            interval: interval.max(1),
            count: -1,
            this: None,
            last: None,
        }
    }

    /// Adds the weights of iteration `iter_k` (1-based, counted over epochs and
    /// batches); returns `s` when this iteration updates the Hessian.
    pub(crate) fn push(&mut self, w: &[f64], iter_k: usize) -> Option<Vec<f64>> {
        match &mut self.this {
            None => self.this = Some(w.to_vec()),
            Some(t) => {
                for (a, b) in t.iter_mut().zip(w) {
                    *a += b;
                }
            }
        }
        if !iter_k.is_multiple_of(self.interval) {
            return None;
        }
        self.count += 1;
        let mut this = self.this.take().unwrap_or_default();
        for v in &mut this {
            *v /= self.interval as f64;
        }
        let s = match (&self.last, self.count > 0) {
            (Some(last), true) => Some(this.iter().zip(last).map(|(a, b)| a - b).collect()),
            _ => None,
        };
        self.this = Some(vec![0.0; this.len()]);
        self.last = Some(this);
        s
    }
}

/// The arbiter's quasi-Newton memory (FATE's `memory_M` pairs of `y`, `s`) and the
/// inverse-Hessian approximation built from it, as FATE's `_compute_hess_matrix`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SqnHessian {
    memory: usize,
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>)>,
    /// Row-major `n × n`.
    h: Option<(usize, Vec<f64>)>,
}

impl SqnHessian {
    pub(crate) fn new(memory: usize) -> Self {
        SqnHessian {
            memory: memory.max(1),
            ..SqnHessian::default()
        }
    }

    /// Adds the pair `(y, s)` (dropping the oldest beyond the memory) and rebuilds H:
    /// `H = (yₘ·sₘ / yₘ·yₘ) I`, then for each pair in order
    /// `H = (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`, `ρ = 1 / yᵀs`.
    pub(crate) fn update(&mut self, y: Vec<f64>, s: Vec<f64>) {
        let n = s.len();
        if y.len() != n || n == 0 {
            return;
        }
        if self.pairs.len() == self.memory {
            self.pairs.pop_front();
        }
        self.pairs.push_back((y, s));
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let (yl, sl) = self.pairs.back().expect("just pushed");
        let rho0 = dot(yl, sl) / dot(yl, yl);
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            h[i * n + i] = rho0;
        }
        let matmul = |a: &[f64], b: &[f64]| {
            let mut c = vec![0.0; n * n];
            for i in 0..n {
                for k in 0..n {
                    let aik = a[i * n + k];
                    if aik != 0.0 {
                        for j in 0..n {
                            c[i * n + j] += aik * b[k * n + j];
                        }
                    }
                }
            }
            c
        };
        for (y, s) in &self.pairs {
            let rho = 1.0 / dot(y, s);
            // left = I − ρ s yᵀ, right = I − ρ y sᵀ (= leftᵀ).
            let mut left = vec![0.0; n * n];
            let mut right = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let id = if i == j { 1.0 } else { 0.0 };
                    left[i * n + j] = id - rho * s[i] * y[j];
                    right[i * n + j] = id - rho * y[i] * s[j];
                }
            }
            let mut next = matmul(&matmul(&left, &h), &right);
            for i in 0..n {
                for j in 0..n {
                    next[i * n + j] += rho * s[i] * s[j];
                }
            }
            h = next;
        }
        self.h = Some((n, h));
    }

    /// `lr · H g`, or `lr · g` before the first update.
    pub(crate) fn step(&self, lr: f64, g: &[f64]) -> Vec<f64> {
        match &self.h {
            Some((n, h)) if *n == g.len() => (0..*n)
                .map(|i| {
                    lr * h[i * n..(i + 1) * n]
                        .iter()
                        .zip(g)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                })
                .collect(),
            _ => g.iter().map(|x| lr * x).collect(),
        }
    }
}

#[cfg(test)]
mod sqn_tests {
    use super::*;

    #[test]
    fn windows_yield_s_from_the_second_window_on() {
        let mut w = SqnWindow::new(2);
        assert_eq!(w.push(&[1.0], 1), None);
        // First window ends: no s yet (FATE's count_t is 0).
        assert_eq!(w.push(&[3.0], 2), None);
        assert_eq!(w.push(&[5.0], 3), None);
        // Average 6 against 2.
        assert_eq!(w.push(&[7.0], 4), Some(vec![4.0]));
    }

    #[test]
    fn the_hessian_satisfies_the_secant_equation() {
        let mut h = SqnHessian::new(5);
        assert_eq!(h.step(0.5, &[2.0, 4.0]), [1.0, 2.0]);
        let (y, s) = (vec![1.0, 2.0], vec![0.5, 0.25]);
        h.update(y.clone(), s.clone());
        // H y = s for the last pair (BFGS), so step(1, y) = s.
        let hy = h.step(1.0, &y);
        for (a, b) in hy.iter().zip(&s) {
            assert!((a - b).abs() < 1e-12, "{hy:?}");
        }
    }
}

//! The loss functions of FATE's boosting (`tree_core/loss`): initial score, gradient,
//! hessian, loss value and the prediction transform.
//!
//! Classification passes the transformed prediction (probability) to the gradient;
//! regression passes the raw score, as FATE's guest does.

use super::param::Objective;

/// FATE's `consts.FLOAT_ZERO`.
pub(crate) const FLOAT_ZERO: f64 = 1e-8;

/// A loss over `dim` score dimensions (1, or the number of classes for softmax).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Loss {
    Sigmoid,
    Softmax { classes: usize },
    Lse,
    Lae,
    Huber(f64),
    Fair(f64),
    LogCosh,
    Tweedie(f64),
}

impl Loss {
    /// The loss of `objective` for `classes` label classes (0 for regression).
    pub(crate) fn of(objective: Objective, classes: usize) -> Loss {
        match objective {
            Objective::CrossEntropy if classes > 2 => Loss::Softmax { classes },
            Objective::CrossEntropy => Loss::Sigmoid,
            Objective::Lse => Loss::Lse,
            Objective::Lae => Loss::Lae,
            Objective::Huber(d) => Loss::Huber(guard(d)),
            Objective::Fair(c) => Loss::Fair(guard(c)),
            Objective::LogCosh => Loss::LogCosh,
            Objective::Tweedie(rho) => Loss::Tweedie(rho),
        }
    }

    /// Score dimensions: one per class for softmax, else one.
    pub(crate) fn dim(&self) -> usize {
        match self {
            Loss::Softmax { classes } => *classes,
            _ => 1,
        }
    }

    /// FATE's initial score: zeros for classification and tweedie, the label mean for
    /// lse/huber/fair/log_cosh, the median for lae (weights do not enter, as in FATE).
    pub(crate) fn init_score(&self, y: &[f64]) -> Vec<f64> {
        match self {
            Loss::Sigmoid | Loss::Tweedie(_) => vec![0.0],
            Loss::Softmax { classes } => vec![0.0; *classes],
            Loss::Lae => vec![median(y)],
            _ => vec![y.iter().sum::<f64>() / y.len().max(1) as f64],
        }
    }

    /// The prediction from raw scores: probabilities for classification, `exp` for
    /// tweedie, the score itself otherwise. `out` has `dim` entries.
    pub(crate) fn predict(&self, score: &[f64], out: &mut [f64]) {
        match self {
            Loss::Sigmoid => out[0] = sigmoid(score[0]),
            Loss::Softmax { .. } => softmax(score, out),
            Loss::Tweedie(_) => out[0] = score[0].exp(),
            _ => out[0] = score[0],
        }
    }

    /// Gradient and hessian of one row for every dimension, from its raw `score`.
    pub(crate) fn grad_hess(&self, y: f64, score: &[f64], g: &mut [f64], h: &mut [f64]) {
        match *self {
            Loss::Sigmoid => {
                let p = sigmoid(score[0]);
                g[0] = p - y;
                h[0] = p * (1.0 - p);
            }
            Loss::Softmax { .. } => {
                softmax(score, g);
                for (k, (gk, hk)) in g.iter_mut().zip(h.iter_mut()).enumerate() {
                    *hk = *gk * (1.0 - *gk);
                    if k as f64 == y {
                        *gk -= 1.0;
                    }
                }
            }
            Loss::Lse => {
                g[0] = 2.0 * (score[0] - y);
                h[0] = 2.0;
            }
            Loss::Lae => {
                let d = score[0] - y;
                g[0] = if d > FLOAT_ZERO {
                    1.0
                } else if d < FLOAT_ZERO {
                    -1.0
                } else {
                    0.0
                };
                h[0] = 1.0;
            }
            Loss::Huber(delta) => {
                let d = score[0] - y;
                let r = 1.0 + d * d / (delta * delta);
                g[0] = d / r.sqrt();
                h[0] = 1.0 / r.powf(1.5);
            }
            Loss::Fair(c) => {
                let d = score[0] - y;
                g[0] = c * d / (d.abs() + c);
                h[0] = c * c / (d.abs() + c).powi(2);
            }
            Loss::LogCosh => {
                let t = (score[0] - y).tanh();
                g[0] = t;
                h[0] = 1.0 - t * t;
            }
            Loss::Tweedie(rho) => {
                let f = score[0];
                g[0] = -y * ((1.0 - rho) * f).exp() + ((2.0 - rho) * f).exp();
                h[0] = -y * (1.0 - rho) * ((1.0 - rho) * f).exp()
                    + (2.0 - rho) * ((2.0 - rho) * f).exp();
            }
        }
    }

    /// One row's loss from its raw `score` (FATE's per-row terms, before the weighted
    /// mean).
    pub(crate) fn row_loss(&self, y: f64, score: &[f64], scratch: &mut [f64]) -> f64 {
        match *self {
            Loss::Sigmoid => {
                let p = sigmoid(score[0]);
                nan_to_num(-(y * p.ln() + (1.0 - y) * (1.0 - p).ln()))
            }
            Loss::Softmax { .. } => {
                softmax(score, scratch);
                nan_to_num(-scratch[y as usize].ln())
            }
            Loss::Lse => (y - score[0]).powi(2),
            Loss::Lae => (y - score[0]).abs(),
            Loss::Huber(delta) => {
                delta * delta * ((1.0 + ((score[0] - y) / delta).powi(2)).sqrt() - 1.0)
            }
            Loss::Fair(c) => {
                let d = (score[0] - y).abs();
                c * d - c * c * (d / c + 1.0).ln()
            }
            Loss::LogCosh => (score[0] - y).cosh().ln(),
            Loss::Tweedie(rho) => {
                let pred = score[0].exp().max(1e-10);
                let a = y * ((1.0 - rho) * pred.ln()).exp() / (1.0 - rho);
                let b = ((2.0 - rho) * pred.ln()).exp() / (2.0 - rho);
                b - a
            }
        }
    }
}

fn guard(v: f64) -> f64 {
    if v.abs() < FLOAT_ZERO {
        FLOAT_ZERO
    } else {
        v
    }
}

/// numpy's `nan_to_num`: NaN → 0, ±inf → the largest finite value.
fn nan_to_num(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else if v == f64::INFINITY {
        f64::MAX
    } else if v == f64::NEG_INFINITY {
        f64::MIN
    } else {
        v
    }
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `score` into `out`, shifted by the maximum for stability.
pub(crate) fn softmax(score: &[f64], out: &mut [f64]) {
    let max = score.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, &s) in out.iter_mut().zip(score) {
        *o = (s - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// numpy's median (mean of the two middle values for an even count).
fn median(y: &[f64]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    let mut v = y.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gradient and hessian against a central finite difference of the loss.
    #[test]
    fn gradients_match_finite_differences() {
        let losses = [
            Loss::Sigmoid,
            Loss::Lse,
            Loss::Huber(1.5),
            Loss::Fair(0.7),
            Loss::LogCosh,
            Loss::Tweedie(1.5),
        ];
        let eps = 1e-5;
        for loss in losses {
            for (y, s) in [(1.0, 0.3), (0.0, -1.2), (2.0, 0.9)] {
                if loss == Loss::Sigmoid && y > 1.0 {
                    continue;
                }
                let (mut g, mut h) = ([0.0], [0.0]);
                loss.grad_hess(y, &[s], &mut g, &mut h);
                let mut sc = [0.0];
                let l = |x: f64, sc: &mut [f64]| loss.row_loss(y, &[x], sc);
                let fd_g = (l(s + eps, &mut sc) - l(s - eps, &mut sc)) / (2.0 * eps);
                let fd_h =
                    (l(s + eps, &mut sc) - 2.0 * l(s, &mut sc) + l(s - eps, &mut sc)) / (eps * eps);
                // FATE's lse gradient is 2(ŷ − y) for the loss (y − ŷ)²; its tweedie
                // loss is the deviance in the same scale: both derivatives match.
                assert!((g[0] - fd_g).abs() < 1e-4, "{loss:?} g {} vs {fd_g}", g[0]);
                assert!((h[0] - fd_h).abs() < 1e-2, "{loss:?} h {} vs {fd_h}", h[0]);
            }
        }
    }

    #[test]
    fn softmax_gradient_and_init() {
        let loss = Loss::Softmax { classes: 3 };
        let (mut g, mut h) = ([0.0; 3], [0.0; 3]);
        loss.grad_hess(1.0, &[0.0, 0.0, 0.0], &mut g, &mut h);
        let third = 1.0 / 3.0;
        assert!((g[0] - third).abs() < 1e-12 && (g[1] - (third - 1.0)).abs() < 1e-12);
        assert!((h[2] - third * (1.0 - third)).abs() < 1e-12);
        assert_eq!(Loss::Lae.init_score(&[3.0, 1.0, 2.0, 10.0]), vec![2.5]);
        assert_eq!(Loss::Lse.init_score(&[1.0, 2.0, 6.0]), vec![3.0]);
    }
}

//! The metric computations of [`Evaluation`](crate::Evaluation), as plain functions.
//!
//! Binary functions take labels already mapped to `true` (the positive label) and
//! `false`, and scores that are not NaN. Wherever FATE calls scikit-learn
//! (`roc_auc_score`, `roc_curve`, the multi-class and regression metrics) these
//! functions reproduce scikit-learn's arithmetic; FATE's own definitions (KS, lift, gain,
//! the precision / recall / accuracy curves, the confusion-matrix and F1 tables) follow
//! FATE 1.11's `classification_metric.py` and `metric_interface.py`:
//!
//! - "predicted positive" always means `score > threshold` (strictly);
//! - `cut_by_step` thresholds: the distinct scores sorted descending, sampled at index
//!   `int(count · i · 0.01)` for `i = 0..100` (so with fewer than 100 distinct scores a
//!   threshold repeats);
//! - `cut_by_index` thresholds (KS): every score sorted descending, sampled at index
//!   `int(n · c / 100)` for `c = 0..100`;
//! - fixed thresholds (confusion matrix, F1): `i · 0.01` for `i = 0..100`.
//!
//! The floating-point products are formed exactly as FATE forms them, so the sampled
//! indices are the same (`int(100 · 0.29)` is 28 in both).

use std::cmp::Ordering;

/// A curve as FATE logs it: points `(x[i], y[i])` with the score threshold of each point.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
    /// The threshold of each point (FATE sometimes logs one fewer; see the function).
    pub thresholds: Vec<f64>,
}

/// Confusion counts at one threshold (positive = label `true`, predicted positive =
/// `score > threshold`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// False negatives.
    pub fn_: u64,
}

impl Confusion {
    /// `(tp + tn) / total`.
    pub fn accuracy(&self) -> f64 {
        (self.tp + self.tn) as f64 / (self.tp + self.fp + self.tn + self.fn_) as f64
    }

    /// `tp / (tp + fp)`, or `when_none` when nothing is predicted positive
    /// (scikit-learn: 0; FATE's curves: 1).
    pub fn precision(&self, when_none: f64) -> f64 {
        if self.tp + self.fp == 0 {
            when_none
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }

    /// `tp / (tp + fn)`, or `when_none` when there is no positive sample.
    pub fn recall(&self, when_none: f64) -> f64 {
        if self.tp + self.fn_ == 0 {
            when_none
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// The samples sorted by descending score, with running positive counts, so that the
/// confusion counts at any threshold take one binary search.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// Scores, descending.
    scores: Vec<f64>,
    /// `positives_before[k]`: positives among the first `k` sorted samples.
    positives_before: Vec<u64>,
}

impl Ranked {
    /// Sorts the samples. `labels` and `scores` have the same length; no score is NaN.
    pub fn new(labels: &[bool], scores: &[f64]) -> Self {
        debug_assert_eq!(labels.len(), scores.len());
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| desc(scores[a], scores[b]));
        let mut positives_before = Vec::with_capacity(scores.len() + 1);
        positives_before.push(0);
        let mut running = 0;
        for &i in &order {
            running += u64::from(labels[i]);
            positives_before.push(running);
        }
        Ranked {
            scores: order.iter().map(|&i| scores[i]).collect(),
            positives_before,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Number of positive samples.
    pub fn positives(&self) -> u64 {
        *self.positives_before.last().expect("never empty")
    }

    /// Number of negative samples.
    pub fn negatives(&self) -> u64 {
        self.len() as u64 - self.positives()
    }

    /// Scores, descending.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// The confusion counts when `score > threshold` is predicted positive.
    pub fn confusion(&self, threshold: f64) -> Confusion {
        let above = self.scores.partition_point(|&s| s > threshold);
        let tp = self.positives_before[above];
        let fp = above as u64 - tp;
        Confusion {
            tp,
            fp,
            tn: self.negatives() - fp,
            fn_: self.positives() - tp,
        }
    }

    /// The distinct scores, descending.
    fn distinct_scores(&self) -> Vec<f64> {
        let mut distinct = self.scores.clone();
        distinct.dedup_by(|a, b| a == b);
        distinct
    }

    /// FATE's `ThresholdCutter.cut_by_step`: `(thresholds, cuts)`, 100 of each.
    pub fn cut_by_step(&self) -> (Vec<f64>, Vec<f64>) {
        let distinct = self.distinct_scores();
        let size = distinct.len() as f64;
        (0..100)
            .map(|i| {
                let cut = i as f64 * 0.01;
                (distinct[(size * cut) as usize], cut)
            })
            .unzip()
    }
}

/// Descending order for scores (no NaN).
fn desc(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// FATE's fixed thresholds `i · 0.01`, `i = 0..100`.
pub fn fixed_thresholds() -> Vec<f64> {
    (0..100).map(|i| i as f64 * 0.01).collect()
}

/// scikit-learn's `roc_curve(labels, scores, drop_intermediate=True)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    /// False-positive rates, non-decreasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True-positive rates, non-decreasing from 0 to 1.
    pub tpr: Vec<f64>,
    /// Score thresholds (predicted positive when `score >= threshold`), decreasing. The
    /// first is `max score + 1`, as in the scikit-learn releases FATE 1.x used (recent
    /// releases write infinity, which JSON cannot hold).
    pub thresholds: Vec<f64>,
}

/// The exact ROC curve with intermediate collinear points dropped, or `None` when the
/// samples are all of one class (the curve is undefined).
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Option<Roc> {
    let ranked = Ranked::new(labels, scores);
    let (p, n) = (ranked.positives(), ranked.negatives());
    if p == 0 || n == 0 {
        return None;
    }
    let sorted = ranked.scores();
    // One point per distinct score: the last index of each run of equal scores.
    let mut tps = Vec::new();
    let mut fps = Vec::new();
    let mut thresholds = Vec::new();
    for i in 0..sorted.len() {
        if i + 1 == sorted.len() || sorted[i] != sorted[i + 1] {
            let tp = ranked.positives_before[i + 1];
            tps.push(tp);
            fps.push(i as u64 + 1 - tp);
            thresholds.push(sorted[i]);
        }
    }
    if fps.len() > 2 {
        let second_diff = |v: &[u64], i: usize| v[i + 1] + v[i - 1] != 2 * v[i];
        let last = fps.len() - 1;
        let keep: Vec<usize> = (0..=last)
            .filter(|&i| i == 0 || i == last || second_diff(&fps, i) || second_diff(&tps, i))
            .collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        thresholds = keep.iter().map(|&i| thresholds[i]).collect();
    }
    let first = thresholds[0] + 1.0;
    let fpr = std::iter::once(0.0)
        .chain(fps.iter().map(|&f| f as f64 / n as f64))
        .collect();
    let tpr = std::iter::once(0.0)
        .chain(tps.iter().map(|&t| t as f64 / p as f64))
        .collect();
    let thresholds = std::iter::once(first).chain(thresholds).collect();
    Some(Roc {
        fpr,
        tpr,
        thresholds,
    })
}

/// The trapezoidal area under `(x, y)` (numpy's `trapz`).
pub fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
        .sum()
}

/// scikit-learn's `roc_auc_score`: the trapezoidal area under [`roc_curve`] (tied scores
/// give a diagonal segment, i.e. count one half). `None` for one-class samples.
pub fn auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    roc_curve(labels, scores).map(|roc| trapezoid(&roc.fpr, &roc.tpr))
}

/// FATE's ROC curve: at most 100 points of [`roc_curve`] (index `int(len · i · 0.01)`
/// of its thresholds, duplicates dropped) plus a closing `(1, 1)` point with threshold 1.
pub fn fate_roc(roc: &Roc) -> Curve {
    let size = roc.thresholds.len() as f64;
    let mut indexes: Vec<usize> = (0..100)
        .map(|i| (size * (i as f64 * 0.01)) as usize)
        .collect();
    indexes.dedup();
    let mut curve = Curve {
        x: indexes.iter().map(|&i| roc.fpr[i]).collect(),
        y: indexes.iter().map(|&i| roc.tpr[i]).collect(),
        thresholds: indexes.iter().map(|&i| roc.thresholds[i]).collect(),
    };
    curve.x.push(1.0);
    curve.y.push(1.0);
    curve.thresholds.push(1.0);
    curve
}

/// FATE's KS: the curves and their maximal gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Ks {
    /// `max(tpr − fpr)` over the 100 cut points.
    pub ks: f64,
    /// `c / 100` for `c = 0..100`, then 1.
    pub cuts: Vec<f64>,
    /// False-positive rate at each cut, then 1.
    pub fpr: Vec<f64>,
    /// True-positive rate at each cut, then 1.
    pub tpr: Vec<f64>,
    /// The 100 score thresholds.
    pub thresholds: Vec<f64>,
}

/// FATE's KS: thresholds are the descending-sorted scores at index `int(n · c / 100)`,
/// `c = 0..100`; at each, `tpr − fpr` with `score > threshold` predicted positive.
/// This is not the supremum over every threshold: it looks at 100 cut points and never
/// at "everything positive". With at most 100 samples every distinct score is a cut,
/// and the value equals `max(tpr − fpr)` over the exact ROC curve. `None` for one-class
/// samples (FATE fails the task there).
pub fn ks(labels: &[bool], scores: &[f64]) -> Option<Ks> {
    let ranked = Ranked::new(labels, scores);
    let (p, n) = (ranked.positives(), ranked.negatives());
    if p == 0 || n == 0 {
        return None;
    }
    let size = ranked.len() as f64;
    let mut out = Ks {
        ks: f64::NEG_INFINITY,
        cuts: Vec::with_capacity(101),
        fpr: Vec::with_capacity(101),
        tpr: Vec::with_capacity(101),
        thresholds: Vec::with_capacity(100),
    };
    for c in 0..100 {
        let cut = c as f64 / 100.0;
        let threshold = ranked.scores()[(size * cut) as usize];
        let m = ranked.confusion(threshold);
        let tpr = m.tp as f64 / p as f64;
        let fpr = m.fp as f64 / n as f64;
        out.ks = out.ks.max(tpr - fpr);
        out.cuts.push(cut);
        out.fpr.push(fpr);
        out.tpr.push(tpr);
        out.thresholds.push(threshold);
    }
    out.cuts.push(1.0);
    out.fpr.push(1.0);
    out.tpr.push(1.0);
    Some(out)
}

/// Keeps, for each distinct `key`, the point with the largest `y` (the first of equal
/// ones), in order of first appearance: FATE's `__filt_override_unit_ordinate_coordinate`.
/// Returns the kept indexes.
fn best_per_key<K: PartialEq>(keys: &[K], y: &[f64]) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..keys.len() {
        match kept.iter_mut().find(|k| keys[**k] == keys[i]) {
            Some(k) => {
                if y[*k] < y[i] {
                    *k = i;
                }
            }
            None => kept.push(i),
        }
    }
    kept
}

/// FATE's lift (`which == Lift`) or gain curve of the positive class: points at the
/// `cut_by_step` thresholds with x = share predicted positive, one point per x (the
/// largest y), then `(1, 1)` with threshold 0.
fn lift_or_gain(ranked: &Ranked, lift: bool) -> Curve {
    let (thresholds, _) = ranked.cut_by_step();
    let total = ranked.len() as f64;
    let counts: Vec<Confusion> = thresholds.iter().map(|&t| ranked.confusion(t)).collect();
    let predicted: Vec<u64> = counts.iter().map(|m| m.tp + m.fp).collect();
    let y: Vec<f64> = counts
        .iter()
        .map(|m| {
            if lift {
                let precision = m.precision(1.0);
                let base = (m.tp + m.fn_) as f64 / total;
                if base == 0.0 {
                    f64::MAX
                } else {
                    precision / base
                }
            } else {
                m.recall(1.0)
            }
        })
        .collect();
    let kept = best_per_key(&predicted, &y);
    let mut curve = Curve {
        x: kept.iter().map(|&i| predicted[i] as f64 / total).collect(),
        y: kept.iter().map(|&i| y[i]).collect(),
        thresholds: kept.iter().map(|&i| thresholds[i]).collect(),
    };
    curve.x.push(1.0);
    curve.y.push(1.0);
    curve.thresholds.push(0.0);
    curve
}

/// FATE's lift curve (positive class): x = share predicted positive, y = precision /
/// positive share (precision 1 when nothing is predicted positive).
pub fn lift(ranked: &Ranked) -> Curve {
    lift_or_gain(ranked, true)
}

/// FATE's gain curve (positive class): x = share predicted positive, y = recall.
pub fn gain(ranked: &Ranked) -> Curve {
    lift_or_gain(ranked, false)
}

/// The `cut_by_step` thresholds with FATE's extra "everything positive" threshold
/// `min − 0.001` and cut 1 appended.
fn step_thresholds_with_end(ranked: &Ranked) -> (Vec<f64>, Vec<f64>) {
    let (mut thresholds, mut cuts) = ranked.cut_by_step();
    let min = thresholds.iter().copied().fold(f64::INFINITY, f64::min);
    thresholds.push(min - 0.001);
    cuts.push(1.0);
    (thresholds, cuts)
}

/// FATE's binary precision and recall curves, x = cut.
///
/// Precision (1 when nothing is predicted positive) and recall are taken at the
/// `cut_by_step` thresholds plus `min − 0.001`; one point is kept per distinct recall
/// (the one with the largest precision). Both curves share x = the kept points' cuts.
/// Like FATE, the thresholds omit the last kept point when it is the appended one, so
/// they can be one shorter than the points.
pub fn precision_recall(ranked: &Ranked) -> (Curve, Curve) {
    let (thresholds, cuts) = step_thresholds_with_end(ranked);
    let counts: Vec<Confusion> = thresholds.iter().map(|&t| ranked.confusion(t)).collect();
    let precision: Vec<f64> = counts.iter().map(|m| m.precision(1.0)).collect();
    let recall: Vec<f64> = counts.iter().map(|m| m.recall(f64::NAN)).collect();
    // Recall is tp / positives: group on tp (also when there is no positive sample).
    let tps: Vec<u64> = counts.iter().map(|m| m.tp).collect();
    let kept = best_per_key(&tps, &precision);
    let mut threshold_idx = kept.clone();
    if threshold_idx.last() == Some(&(thresholds.len() - 1)) {
        threshold_idx.pop();
    }
    let x: Vec<f64> = kept.iter().map(|&i| cuts[i]).collect();
    let kept_thresholds: Vec<f64> = threshold_idx.iter().map(|&i| thresholds[i]).collect();
    (
        Curve {
            x: x.clone(),
            y: kept.iter().map(|&i| precision[i]).collect(),
            thresholds: kept_thresholds.clone(),
        },
        Curve {
            x,
            y: kept.iter().map(|&i| recall[i]).collect(),
            thresholds: kept_thresholds,
        },
    )
}

/// FATE's binary accuracy curve: accuracy at the 100 `cut_by_step` thresholds, x = cut.
pub fn accuracy_curve(ranked: &Ranked) -> Curve {
    let (thresholds, cuts) = ranked.cut_by_step();
    Curve {
        y: thresholds
            .iter()
            .map(|&t| ranked.confusion(t).accuracy())
            .collect(),
        x: cuts,
        thresholds,
    }
}

/// FATE's confusion-matrix table: counts at the fixed thresholds `0, 0.01, …, 0.99`.
pub fn confusion_table(ranked: &Ranked) -> (Vec<f64>, Vec<Confusion>) {
    let thresholds = fixed_thresholds();
    let counts = thresholds.iter().map(|&t| ranked.confusion(t)).collect();
    (thresholds, counts)
}

/// FATE's F1 table: F1 at the fixed thresholds, with precision 1 when nothing is
/// predicted positive and a denominator of 0 replaced by 1e-6 (NaN without positives).
pub fn f1_table(ranked: &Ranked) -> (Vec<f64>, Vec<f64>) {
    let (thresholds, counts) = confusion_table(ranked);
    let f1 = counts
        .iter()
        .map(|m| {
            let p = m.precision(1.0);
            let r = m.recall(f64::NAN);
            let denominator = p + r;
            let denominator = if denominator == 0.0 {
                1e-6
            } else {
                denominator
            };
            2.0 * (p * r) / denominator
        })
        .collect();
    (thresholds, f1)
}

/// Multi-class accuracy and per-class precision / recall (scikit-learn's
/// `accuracy_score` and `precision_score` / `recall_score` with `average=None`: a class
/// never predicted has precision 0).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiClass {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// The classes: the sorted union of true and predicted labels.
    pub classes: Vec<f64>,
    /// Precision of each class.
    pub precision: Vec<f64>,
    /// Recall of each class.
    pub recall: Vec<f64>,
}

/// Multi-class metrics of `labels` against `predicted` (same length, no NaN).
pub fn multi_class(labels: &[f64], predicted: &[f64]) -> MultiClass {
    let mut classes: Vec<f64> = labels.iter().chain(predicted).copied().collect();
    classes.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    classes.dedup_by(|a, b| a == b);
    let index = |v: f64| {
        classes
            .binary_search_by(|c| c.partial_cmp(&v).unwrap_or(Ordering::Equal))
            .expect("every label is a class")
    };
    let k = classes.len();
    let (mut tp, mut true_count, mut predicted_count) =
        (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
    let mut correct = 0u64;
    for (&y, &p) in labels.iter().zip(predicted) {
        let (iy, ip) = (index(y), index(p));
        true_count[iy] += 1;
        predicted_count[ip] += 1;
        if iy == ip {
            tp[iy] += 1;
            correct += 1;
        }
    }
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    MultiClass {
        accuracy: correct as f64 / labels.len() as f64,
        precision: (0..k).map(|c| ratio(tp[c], predicted_count[c])).collect(),
        recall: (0..k).map(|c| ratio(tp[c], true_count[c])).collect(),
        classes,
    }
}

fn mean(values: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = values.len() as f64;
    values.sum::<f64>() / n
}

/// scikit-learn's `mean_squared_error`.
pub fn mean_squared_error(labels: &[f64], predicted: &[f64]) -> f64 {
    mean(labels.iter().zip(predicted).map(|(y, p)| (y - p) * (y - p)))
}

/// FATE's `root_mean_squared_error`: the square root of [`mean_squared_error`].
pub fn root_mean_squared_error(labels: &[f64], predicted: &[f64]) -> f64 {
    mean_squared_error(labels, predicted).sqrt()
}

/// scikit-learn's `mean_absolute_error`.
pub fn mean_absolute_error(labels: &[f64], predicted: &[f64]) -> f64 {
    mean(labels.iter().zip(predicted).map(|(y, p)| (y - p).abs()))
}

/// scikit-learn's `median_absolute_error` (the mean of the two middle values for an even
/// count).
pub fn median_absolute_error(labels: &[f64], predicted: &[f64]) -> f64 {
    let mut errors: Vec<f64> = labels
        .iter()
        .zip(predicted)
        .map(|(y, p)| (y - p).abs())
        .collect();
    errors.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let n = errors.len();
    if n % 2 == 1 {
        errors[n / 2]
    } else {
        (errors[n / 2 - 1] + errors[n / 2]) / 2.0
    }
}

/// scikit-learn's score `1 − numerator / denominator` with `force_finite`: 1 when the
/// numerator is 0, 0 when only the denominator is.
fn finite_score(numerator: f64, denominator: f64) -> f64 {
    if numerator == 0.0 {
        1.0
    } else if denominator == 0.0 {
        0.0
    } else {
        1.0 - numerator / denominator
    }
}

/// scikit-learn's `r2_score`.
pub fn r2_score(labels: &[f64], predicted: &[f64]) -> f64 {
    let y_mean = mean(labels.iter().copied());
    let residual: f64 = labels
        .iter()
        .zip(predicted)
        .map(|(y, p)| (y - p) * (y - p))
        .sum();
    let total: f64 = labels.iter().map(|y| (y - y_mean) * (y - y_mean)).sum();
    finite_score(residual, total)
}

/// scikit-learn's `explained_variance_score`.
pub fn explained_variance(labels: &[f64], predicted: &[f64]) -> f64 {
    let diff_mean = mean(labels.iter().zip(predicted).map(|(y, p)| y - p));
    let numerator = mean(labels.iter().zip(predicted).map(|(y, p)| {
        let d = y - p - diff_mean;
        d * d
    }));
    let y_mean = mean(labels.iter().copied());
    let denominator = mean(labels.iter().map(|y| (y - y_mean) * (y - y_mean)));
    finite_score(numerator, denominator)
}

/// A binary single-value metric by FATE's name (`auc`, `ks`); `None` for another name
/// or when undefined (a single class).
pub fn binary_by_name(metric: &str, labels: &[bool], scores: &[f64]) -> Option<f64> {
    match metric {
        "auc" => auc(labels, scores),
        "ks" => ks(labels, scores).map(|k| k.ks),
        _ => None,
    }
}

/// A regression metric by FATE's name; `None` for another name.
pub fn regression_by_name(metric: &str, labels: &[f64], predicted: &[f64]) -> Option<f64> {
    Some(match metric {
        "root_mean_squared_error" => root_mean_squared_error(labels, predicted),
        "mean_absolute_error" => mean_absolute_error(labels, predicted),
        "mean_squared_error" => mean_squared_error(labels, predicted),
        "median_absolute_error" => median_absolute_error(labels, predicted),
        "r2_score" => r2_score(labels, predicted),
        "explained_variance" => explained_variance(labels, predicted),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&b| b == 1).collect()
    }

    #[test]
    fn confusion_is_strictly_above() {
        let r = Ranked::new(&bools(&[1, 0, 1, 0]), &[0.9, 0.5, 0.5, 0.1]);
        assert_eq!(
            r.confusion(0.5),
            Confusion {
                tp: 1,
                fp: 0,
                tn: 2,
                fn_: 1
            }
        );
        assert_eq!(r.confusion(0.0).tp + r.confusion(0.0).fp, 4);
        assert_eq!(r.confusion(1.0).tp + r.confusion(1.0).fp, 0);
    }

    #[test]
    fn float_cuts_truncate_like_python() {
        // int(100 * (29 / 100)) == 28 in Python, and so here.
        assert_eq!((100.0 * (29.0 / 100.0)) as usize, 28);
        assert_eq!(fixed_thresholds()[50], 0.5);
    }

    #[test]
    fn auc_with_ties_counts_half() {
        // One positive tied with one negative, the other pair ordered correctly:
        // pairs (p, n): (0.8 vs 0.8) = 1/2, (0.8 vs 0.1) = 1, (0.9 vs 0.8) = 1, (0.9 vs 0.1) = 1.
        let labels = bools(&[1, 1, 0, 0]);
        let auc = auc(&labels, &[0.9, 0.8, 0.8, 0.1]).unwrap();
        assert!((auc - 3.5 / 4.0).abs() < 1e-15, "{auc}");
        assert_eq!(super::auc(&bools(&[1, 1]), &[0.1, 0.2]), None);
    }

    #[test]
    fn median_of_even_count_is_the_middle_mean() {
        assert_eq!(
            median_absolute_error(&[0.0; 4], &[1.0, -2.0, 3.0, 4.0]),
            2.5
        );
        assert_eq!(median_absolute_error(&[0.0; 3], &[1.0, -2.0, 3.0]), 2.0);
    }

    #[test]
    fn constant_targets_give_finite_scores() {
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
        assert_eq!(explained_variance(&[1.0, 1.0], &[2.0, 2.0]), 1.0);
    }
}

// ----- Clustering (FATE's `clustering_metric.py`, scikit-learn's definitions) -----------

/// The contingency table of true labels (rows: the distinct labels, ascending) against
/// predicted cluster indexes (columns: `0..=max`), as FATE's `ContengincyMatrix` lays
/// it out.
#[derive(Debug, Clone, PartialEq)]
pub struct Contingency {
    /// The distinct true labels, ascending.
    pub true_labels: Vec<f64>,
    /// `0..=max predicted index`.
    pub predicted_labels: Vec<u64>,
    /// `table[row][cluster]`: samples of that label in that cluster.
    pub table: Vec<Vec<u64>>,
}

impl Contingency {
    /// Counts `labels` against `predicted` (non-negative integers).
    pub fn new(labels: &[f64], predicted: &[f64]) -> Self {
        let mut true_labels: Vec<f64> = labels.to_vec();
        true_labels.sort_by(f64::total_cmp);
        true_labels.dedup();
        let max = predicted.iter().fold(0.0f64, |m, &p| m.max(p)) as usize;
        let mut table = vec![vec![0u64; max + 1]; true_labels.len()];
        for (&l, &p) in labels.iter().zip(predicted) {
            let row = true_labels
                .binary_search_by(|x| x.total_cmp(&l))
                .unwrap_or_default();
            table[row][p as usize] += 1;
        }
        Contingency {
            true_labels,
            predicted_labels: (0..=max as u64).collect(),
            table,
        }
    }

    /// (Σ n_ij², Σ (row sums)², Σ (column sums)², n).
    fn squares(&self) -> (f64, f64, f64, f64) {
        let cells: f64 = self
            .table
            .iter()
            .flatten()
            .map(|&c| (c as f64).powi(2))
            .sum();
        let rows: f64 = self
            .table
            .iter()
            .map(|r| (r.iter().sum::<u64>() as f64).powi(2))
            .sum();
        let columns: f64 = (0..self.predicted_labels.len())
            .map(|j| (self.table.iter().map(|r| r[j]).sum::<u64>() as f64).powi(2))
            .sum();
        let n: f64 = self.table.iter().flatten().sum::<u64>() as f64;
        (cells, rows, columns, n)
    }
}

/// scikit-learn's `adjusted_rand_score` (from the pair confusion matrix; 1 when both
/// partitions put no pair apart that the other keeps together).
pub fn adjusted_rand_score(labels: &[f64], predicted: &[f64]) -> f64 {
    let (cells, rows, columns, n) = Contingency::new(labels, predicted).squares();
    let tp = cells - n;
    let fp = columns - cells;
    let fn_ = rows - cells;
    let tn = n * n - fp - fn_ - cells;
    if fn_ == 0.0 && fp == 0.0 {
        return 1.0;
    }
    2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn))
}

/// scikit-learn's `fowlkes_mallows_score`: `TP / sqrt((TP + FP)(TP + FN))` over pairs.
pub fn fowlkes_mallows_score(labels: &[f64], predicted: &[f64]) -> f64 {
    let (cells, rows, columns, n) = Contingency::new(labels, predicted).squares();
    let tk = cells - n;
    if tk == 0.0 {
        return 0.0;
    }
    (tk / (columns - n)).sqrt() * (tk / (rows - n)).sqrt()
}

/// scikit-learn's `jaccard_score(average="weighted")`: per value of the union of true
/// and predicted labels `tp / (tp + fp + fn)` (0 when undefined), weighted by its count
/// among the true labels.
pub fn jaccard_similarity_score(labels: &[f64], predicted: &[f64]) -> f64 {
    let mut values: Vec<f64> = labels.iter().chain(predicted).copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let (mut weighted, mut support) = (0.0, 0.0);
    for v in values {
        let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
        for (&l, &p) in labels.iter().zip(predicted) {
            match (l == v, p == v) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
        }
        let weight = (tp + fn_) as f64;
        let denominator = tp + fp + fn_;
        if denominator > 0 {
            weighted += weight * tp as f64 / denominator as f64;
        }
        support += weight;
    }
    if support == 0.0 {
        0.0
    } else {
        weighted / support
    }
}

/// FATE's Davies–Bouldin index: `avg_dist[i]` the mean distance within cluster `i`,
/// `inter[i·(k-1) + j']` the squared distance between centroids `i` and `j ≠ i` (`j'`
/// skipping `i`); the mean over clusters of `max_j (S_i + S_j) / sqrt(M_ij)`. NaN for
/// one cluster, as FATE.
pub fn davies_bouldin_index(avg_dist: &[f64], inter: &[f64]) -> f64 {
    let k = avg_dist.len();
    if k < 2 {
        return f64::NAN;
    }
    let mut total = 0.0;
    let mut d = 0;
    for i in 0..k {
        let mut worst = f64::NEG_INFINITY;
        for j in (0..k).filter(|&j| j != i) {
            worst = worst.max((avg_dist[i] + avg_dist[j]) / inter[d].sqrt());
            d += 1;
        }
        total += worst;
    }
    total / k as f64
}

/// FATE's `DistanceMeasure`: per cluster the position of its nearest other cluster
/// (smallest inter-centroid distance, the first on ties; 0 for a single cluster).
pub fn nearest_clusters(k: usize, inter: &[f64]) -> Vec<usize> {
    if k < 2 {
        return vec![0; k];
    }
    (0..k)
        .map(|i| {
            let row = &inter[i * (k - 1)..(i + 1) * (k - 1)];
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v < row[best] {
                    best = j;
                }
            }
            if best >= i {
                best + 1
            } else {
                best
            }
        })
        .collect()
}

#[cfg(test)]
mod clustering_tests {
    use super::*;

    // Hand-computed on labels [0,0,1,1] against clusters [0,0,1,2]: contingency
    // [[2,0,0],[0,1,1]]; pairs: together in both 1, in the clusters 1, in the labels 2,
    // of 6.
    const LABELS: [f64; 4] = [0.0, 0.0, 1.0, 1.0];
    const CLUSTERS: [f64; 4] = [0.0, 0.0, 1.0, 2.0];

    #[test]
    fn contingency_by_hand() {
        let c = Contingency::new(&LABELS, &CLUSTERS);
        assert_eq!(c.true_labels, [0.0, 1.0]);
        assert_eq!(c.predicted_labels, [0, 1, 2]);
        assert_eq!(c.table, [[2, 0, 0], [0, 1, 1]]);
    }

    #[test]
    fn adjusted_rand_by_hand() {
        // Σ C(n_ij,2) = 1, Σ C(a_i,2) = 2, Σ C(b_j,2) = 1, C(4,2) = 6:
        // expected 2·1/6 = 1/3, max (2+1)/2 = 3/2, ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7.
        let ari = adjusted_rand_score(&LABELS, &CLUSTERS);
        assert!((ari - 4.0 / 7.0).abs() < 1e-15, "{ari}");
        assert_eq!(
            adjusted_rand_score(&LABELS, &[5.0, 5.0, 7.0, 7.0].map(|v| v - 5.0)),
            1.0
        );
        // Perfectly crossed halves: below chance.
        let crossed = adjusted_rand_score(&LABELS, &[0.0, 1.0, 0.0, 1.0]);
        assert!((crossed - (-0.5)).abs() < 1e-15, "{crossed}");
    }

    #[test]
    fn fowlkes_mallows_by_hand() {
        // TP 1, TP + FP 1, TP + FN 2: 1 / sqrt(2).
        let fmi = fowlkes_mallows_score(&LABELS, &CLUSTERS);
        assert!((fmi - 0.5f64.sqrt()).abs() < 1e-15, "{fmi}");
        assert_eq!(fowlkes_mallows_score(&LABELS, &[0.0, 1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn jaccard_by_hand() {
        // Label 0: 2/2 (support 2); 1: 1/2 (support 2); 2: 0 (support 0): (2 + 1) / 4.
        let j = jaccard_similarity_score(&LABELS, &CLUSTERS);
        assert!((j - 0.75).abs() < 1e-15, "{j}");
    }

    #[test]
    fn davies_bouldin_and_nearest_by_hand() {
        // Means 1 and 2, centroids 3 apart: (1 + 2) / 3 for both.
        assert!((davies_bouldin_index(&[1.0, 2.0], &[9.0, 9.0]) - 1.0).abs() < 1e-15);
        assert!(davies_bouldin_index(&[1.0], &[]).is_nan());
        // Three clusters; pairs (0,1)=1 (0,2)=16 (1,0)=1 (1,2)=4 (2,0)=16 (2,1)=4.
        let inter = [1.0, 16.0, 1.0, 4.0, 16.0, 4.0];
        // S = [1, 1, 2]: 0: max(2/1, 3/4) = 2; 1: max(2/1, 3/2) = 2; 2: max(3/4, 3/2) = 1.5.
        let dbi = davies_bouldin_index(&[1.0, 1.0, 2.0], &inter);
        assert!((dbi - 5.5 / 3.0).abs() < 1e-15, "{dbi}");
        assert_eq!(nearest_clusters(3, &inter), [1, 0, 1]);
    }
}

//! The filters' arithmetic: which of a list of judged values a rule keeps, the rule that
//! at least one judged column survives, and the per-column statistics the local
//! filters judge by. Pure: no I/O.

use std::collections::HashMap;

use super::param::{Metric, Rule, Select};
use crate::binning::{from_order_key, order_key};
use crate::statistics::{coefficient_of_variance, fate_variance, kurtosis, skewness, FLOAT_ZERO};

/// How many of `n` values a percentile `p` keeps: `ceil(p · n)`, as FATE's code
/// computes it (its docstring says floor; its code keeps ceil), with a 1e-8 guard so
/// that `0.7 · 10` keeps 7 and not 8.
pub(crate) fn percentile_count(p: f64, n: usize) -> usize {
    let k = (p * n as f64 - FLOAT_ZERO).ceil();
    if k <= 0.0 {
        0
    } else {
        (k as usize).min(n)
    }
}

/// A value made comparable: NaN is the worst value in either direction and -0 equals 0.
fn key(v: f64, take_high: bool) -> f64 {
    match (v.is_nan(), take_high) {
        (true, true) => f64::NEG_INFINITY,
        (true, false) => f64::INFINITY,
        (false, _) => v + 0.0,
    }
}

/// Positions of `values` from best to worst; ties keep their order.
fn ranked(values: &[f64], take_high: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(values[a], take_high), key(values[b], take_high));
        if take_high {
            kb.total_cmp(&ka)
        } else {
            ka.total_cmp(&kb)
        }
    });
    order
}

/// Whether `v` passes threshold `t`: `v >= t` when taking high values, `v <= t` when
/// taking low ones. NaN never passes.
fn passes(v: f64, t: f64, take_high: bool) -> bool {
    if take_high {
        v >= t
    } else {
        v <= t
    }
}

/// Which of `values` `rule` keeps. `thresholds` gives each value's threshold for
/// [`Select::Threshold`] (the guest judges host columns by `host_thresholds`); it is
/// ignored otherwise.
pub(crate) fn select(values: &[f64], thresholds: &[f64], rule: &Rule) -> Vec<bool> {
    let n = values.len();
    let take_high = rule.take_high;
    let top = |k: usize| {
        let mut kept = vec![false; n];
        for &i in ranked(values, take_high).iter().take(k) {
            kept[i] = true;
        }
        kept
    };
    match rule.select {
        Select::Threshold(_) => values
            .iter()
            .zip(thresholds)
            .map(|(&v, &t)| passes(v, t, take_high))
            .collect(),
        Select::TopK(k) => top(k),
        Select::TopPercentile(p) => top(percentile_count(p, n)),
        Select::PercentileWithTies(p) => {
            let k = percentile_count(p, n);
            if k == 0 {
                return vec![false; n];
            }
            let cut = values[ranked(values, take_high)[k - 1]];
            values
                .iter()
                .map(|&v| !v.is_nan() && passes(v, cut, take_high))
                .collect()
        }
    }
}

/// FATE's rule that a filter never removes every column it judges: when nothing is
/// kept, keep the best value (first among ties), or the first column when the filter
/// has no values (`manually`). Returns the position it kept, if it had to.
pub(crate) fn keep_one(
    kept: &mut [bool],
    values: Option<&[f64]>,
    take_high: bool,
) -> Option<usize> {
    if kept.is_empty() || kept.iter().any(|&k| k) {
        return None;
    }
    let best = match values {
        Some(v) if !v.is_empty() => ranked(v, take_high)[0],
        _ => 0,
    };
    kept[best] = true;
    Some(best)
}

/// What to collect for a column besides counts, sums and extremes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    /// Quantiles, found by [`RankSearch`] passes after the first.
    pub(crate) values: bool,
    /// Value frequencies (`percentage_value`).
    pub(crate) modes: bool,
}

/// Running statistics of one column. Missing cells (NaN) are counted apart and left out
/// of every other statistic.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnStats {
    count: u64,
    missing: u64,
    min: f64,
    max: f64,
    sum: f64,
    sum2: f64,
    sum3: f64,
    sum4: f64,
    /// Quantiles found by [`RankSearch`], by `q`'s bits.
    quantiles: Vec<(u64, f64)>,
    /// Rows per value (rounded to 8 decimals; every missing cell is one value).
    modes: HashMap<u64, u64>,
}

/// The frequency key of a value: equal to 8 decimal places, -0 = 0, all NaN equal.
fn mode_key(v: f64) -> u64 {
    if v.is_nan() {
        return f64::NAN.to_bits();
    }
    let r = (v * 1e8).round() + 0.0;
    r.to_bits()
}

/// Bits of the order key decided per pass.
const RADIX_BITS: u32 = 16;

/// The value of a given rank among a column's values (`f64::total_cmp` order, as a
/// sort would give it), found exactly in bounded memory: each pass over the values
/// counts those sharing the prefix decided so far by their next 16 bits of order key,
/// and the count below the rank picks the next 16 bits. Four passes at most (a 64-bit
/// key), 512 KB of counters while searching.
#[derive(Debug, Clone)]
pub(crate) struct RankSearch {
    /// 1-based rank among the values.
    rank: u64,
    /// Values below the prefix.
    below: u64,
    prefix: u64,
    bits: u32,
    counts: Vec<u64>,
}

impl RankSearch {
    /// A search for the value of 1-based `rank`.
    pub(crate) fn new(rank: u64) -> Self {
        RankSearch {
            rank: rank.max(1),
            below: 0,
            prefix: 0,
            bits: 0,
            counts: vec![0; 1 << RADIX_BITS],
        }
    }

    /// The value, once found.
    pub(crate) fn found(&self) -> Option<f64> {
        (self.bits == 64).then(|| from_order_key(self.prefix))
    }

    /// Counts one (non-missing) value of the current pass.
    pub(crate) fn add(&mut self, v: f64) {
        if self.bits == 64 {
            return;
        }
        let key = order_key(v);
        if self.bits == 0 || key >> (64 - self.bits) == self.prefix {
            let digit = (key >> (64 - self.bits - RADIX_BITS)) & ((1 << RADIX_BITS) - 1);
            self.counts[digit as usize] += 1;
        }
    }

    /// Ends a pass: fixes the next 16 bits of the value's key.
    pub(crate) fn end_pass(&mut self) {
        if self.bits == 64 {
            return;
        }
        let want = self.rank - self.below;
        let mut seen = 0u64;
        let mut digit = self.counts.len() - 1;
        for (d, &n) in self.counts.iter().enumerate() {
            if seen + n >= want {
                digit = d;
                break;
            }
            seen += n;
        }
        self.below += seen;
        self.prefix = self.prefix << RADIX_BITS | digit as u64;
        self.bits += RADIX_BITS;
        if self.bits == 64 {
            self.counts = Vec::new();
        } else {
            self.counts.iter_mut().for_each(|c| *c = 0);
        }
    }
}

impl ColumnStats {
    /// Adds one cell.
    pub(crate) fn add(&mut self, v: f64, needs: Needs) {
        if needs.modes {
            *self.modes.entry(mode_key(v)).or_insert(0) += 1;
        }
        if v.is_nan() {
            self.missing += 1;
            return;
        }
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        let v2 = v * v;
        self.sum += v;
        self.sum2 += v2;
        self.sum3 += v2 * v;
        self.sum4 += v2 * v2;
    }

    /// Distinct values counted for [`mode_count`](Self::mode_count).
    pub(crate) fn distinct(&self) -> usize {
        self.modes.len()
    }

    /// The rank, among the `count` values in `f64::total_cmp` order, of the quantile
    /// `q`: `ceil(q · n)`, at least 1; `None` without values.
    pub(crate) fn quantile_rank(&self, q: f64) -> Option<u64> {
        (self.count > 0).then(|| ((q * self.count as f64).ceil() as u64).clamp(1, self.count))
    }

    /// Records the value of quantile `q` (found by a [`RankSearch`]).
    pub(crate) fn set_quantile(&mut self, q: f64, value: f64) {
        self.quantiles.push((q.to_bits(), value));
    }

    /// The number of rows whose most frequent value fills.
    pub(crate) fn mode_count(&self) -> u64 {
        self.modes.values().copied().max().unwrap_or(0)
    }

    /// The value of `metric`, or `None` when the column has no value to compute it from.
    ///
    /// As FATE's `SummaryStatistics`: `variance = E[x²] − mean²` (population; below 1e-8
    /// it is 0), `stddev = sqrt(variance)`, `coefficient_of_variance = |stddev / mean|`
    /// with a mean below 1e-8 taken as 1e-8, skewness `m₃ / m₂^1.5` and excess kurtosis
    /// `m₄ / m₂² − 3` from raw moments (0 and −3 for a constant column). Quantiles are
    /// the value of rank `ceil(q · n)` among the n sorted values (the median is the lower
    /// median). `max − min` of a column without values is 0.
    pub(crate) fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Count => return Some(self.count as f64),
            Metric::MissingCount => return Some(self.missing as f64),
            Metric::MissingRatio => {
                let rows = self.count + self.missing;
                return (rows > 0).then(|| self.missing as f64 / rows as f64);
            }
            Metric::Range if self.count == 0 => return Some(0.0),
            _ if self.count == 0 => return None,
            _ => {}
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        let variance = || fate_variance(self.sum2 / n - mean * mean);
        let quantile = |q: f64| {
            self.quantiles
                .iter()
                .find(|(bits, _)| *bits == q.to_bits())
                .map(|&(_, v)| v)
        };
        Some(match metric {
            Metric::Sum => self.sum,
            Metric::Mean => mean,
            Metric::Min => self.min,
            Metric::Max => self.max,
            Metric::Range => (self.max - self.min).abs(),
            Metric::Variance => variance(),
            Metric::Stddev => variance().sqrt(),
            Metric::CoefficientOfVariance => coefficient_of_variance(variance().sqrt(), mean),
            Metric::Skewness => {
                let (e2, e3) = (self.sum2 / n, self.sum3 / n);
                skewness(variance(), e3 - 3.0 * mean * e2 + 2.0 * mean.powi(3))
            }
            Metric::Kurtosis => {
                let (e2, e3, e4) = (self.sum2 / n, self.sum3 / n, self.sum4 / n);
                let m4 = e4 - 4.0 * mean * e3 + 6.0 * mean * mean * e2 - 3.0 * mean.powi(4);
                kurtosis(variance(), m4)
            }
            Metric::Median => return quantile(0.5),
            Metric::Quantile(q) => return quantile(q),
            Metric::Count | Metric::MissingCount | Metric::MissingRatio => unreachable!(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(select: Select, take_high: bool) -> Rule {
        Rule { select, take_high }
    }

    fn kept(values: &[f64], r: Rule) -> Vec<usize> {
        let t = match r.select {
            Select::Threshold(t) => vec![t; values.len()],
            _ => Vec::new(),
        };
        select(values, &t, &r)
            .iter()
            .enumerate()
            .filter(|(_, &k)| k)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn percentile_counts() {
        assert_eq!(percentile_count(1.0, 10), 10);
        assert_eq!(percentile_count(0.7, 10), 7);
        assert_eq!(percentile_count(0.75, 10), 8);
        assert_eq!(percentile_count(0.8, 8), 7);
        assert_eq!(percentile_count(0.0, 10), 0);
        assert_eq!(percentile_count(0.01, 10), 1);
        assert_eq!(percentile_count(0.5, 0), 0);
    }

    #[test]
    fn thresholds_are_inclusive_and_directional() {
        let v = [0.1, 0.5, 0.3, f64::NAN];
        assert_eq!(kept(&v, rule(Select::Threshold(0.3), true)), [1, 2]);
        assert_eq!(kept(&v, rule(Select::Threshold(0.3), false)), [0, 2]);
        let per_value = select(
            &[0.2, 0.2],
            &[0.1, 0.3],
            &rule(Select::Threshold(0.0), true),
        );
        assert_eq!(per_value, [true, false]);
    }

    #[test]
    fn top_k_breaks_ties_by_position() {
        let v = [0.5, 0.3, 0.3, 0.1, 0.3];
        assert_eq!(kept(&v, rule(Select::TopK(2), true)), [0, 1]);
        assert_eq!(kept(&v, rule(Select::TopK(3), true)), [0, 1, 2]);
        assert_eq!(kept(&v, rule(Select::TopK(2), false)), [1, 3]);
        assert_eq!(kept(&v, rule(Select::TopK(9), true)), [0, 1, 2, 3, 4]);
        assert_eq!(kept(&v, rule(Select::TopPercentile(0.4), true)), [0, 1]);
        assert_eq!(kept(&[f64::NAN, 1.0], rule(Select::TopK(1), true)), [1]);
        assert_eq!(kept(&[-0.0, 0.0], rule(Select::TopK(1), true)), [0]);
    }

    #[test]
    fn deprecated_percentile_keeps_ties() {
        let v = [0.5, 0.3, 0.3, 0.1, 0.3];
        assert_eq!(
            kept(&v, rule(Select::PercentileWithTies(0.4), true)),
            [0, 1, 2, 4]
        );
        assert_eq!(kept(&v, rule(Select::PercentileWithTies(0.2), true)), [0]);
        assert!(kept(&v, rule(Select::PercentileWithTies(0.0), true)).is_empty());
    }

    /// Random lists with many ties: each rule against its definition.
    #[test]
    fn rules_match_their_definitions_on_random_values() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        for _ in 0..500 {
            let n = next(12) as usize;
            let values: Vec<f64> = (0..n).map(|_| next(5) as f64 / 4.0).collect();
            let take_high = next(2) == 0;
            let better = |a: f64, b: f64| if take_high { a > b } else { a < b };
            // Position of each value in the ranking: strictly better ones, then earlier ties.
            let rank = |i: usize| {
                (0..n)
                    .filter(|&j| better(values[j], values[i]) || (values[j] == values[i] && j < i))
                    .count()
            };
            let k = next(14) as usize;
            let top = select(&values, &[], &rule(Select::TopK(k), take_high));
            for (i, &kept) in top.iter().enumerate() {
                assert_eq!(kept, rank(i) < k, "{values:?} top {k} high {take_high}");
            }
            let p = next(11) as f64 / 10.0;
            let kp = percentile_count(p, n);
            let pct = select(&values, &[], &rule(Select::TopPercentile(p), take_high));
            let ties = select(
                &values,
                &[],
                &rule(Select::PercentileWithTies(p), take_high),
            );
            assert_eq!(pct.iter().filter(|&&x| x).count(), kp);
            for i in 0..n {
                // Ties: kept when no more than kp - 1 values are strictly better.
                let strictly = (0..n).filter(|&j| better(values[j], values[i])).count();
                assert_eq!(ties[i], kp > 0 && strictly < kp, "{values:?} p {p}");
                assert!(
                    !pct[i] || ties[i],
                    "top_percentile keeps a subset of the tied rule"
                );
            }
            let t = next(5) as f64 / 4.0;
            let th = select(&values, &vec![t; n], &rule(Select::Threshold(t), take_high));
            for i in 0..n {
                assert_eq!(th[i], values[i] == t || better(values[i], t));
            }
            let mut kept = th.clone();
            let forced = keep_one(&mut kept, Some(&values), take_high);
            assert_eq!(kept.iter().any(|&x| x), n > 0);
            if let Some(i) = forced {
                assert!(th.iter().all(|&x| !x));
                assert_eq!(rank(i), 0, "the best value, first among ties");
            }
        }
    }

    #[test]
    fn keep_one_takes_the_best() {
        let mut k = vec![false, false, false];
        assert_eq!(keep_one(&mut k, Some(&[0.2, 0.7, 0.7]), true), Some(1));
        assert_eq!(k, [false, true, false]);
        let mut k = vec![false, false];
        assert_eq!(keep_one(&mut k, Some(&[0.2, 0.1]), false), Some(1));
        let mut k = vec![false, false];
        assert_eq!(keep_one(&mut k, None, true), Some(0));
        let mut k = vec![false, true];
        assert_eq!(keep_one(&mut k, None, true), None);
        assert_eq!(keep_one(&mut [], None, true), None);
    }

    #[test]
    fn statistics_match_a_direct_computation() {
        let values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, f64::NAN];
        let needs = Needs {
            values: true,
            modes: true,
        };
        let mut s = ColumnStats::default();
        for v in values {
            s.add(v, needs);
        }
        for q in [0.5, 0.9, 0.0] {
            let mut search = RankSearch::new(s.quantile_rank(q).unwrap());
            while search.found().is_none() {
                values
                    .iter()
                    .filter(|v| !v.is_nan())
                    .for_each(|&v| search.add(v));
                search.end_pass();
            }
            s.set_quantile(q, search.found().unwrap());
        }
        let x: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let central = |k: i32| x.iter().map(|v| (v - mean).powi(k)).sum::<f64>() / n;
        let close = |a: Option<f64>, b: f64| {
            let a = a.unwrap();
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        };
        close(s.metric(Metric::Mean), 5.0);
        close(s.metric(Metric::Variance), central(2));
        close(s.metric(Metric::Stddev), 2.0);
        close(s.metric(Metric::CoefficientOfVariance), 0.4);
        close(
            s.metric(Metric::Skewness),
            central(3) / central(2).powf(1.5),
        );
        close(
            s.metric(Metric::Kurtosis),
            central(4) / central(2).powi(2) - 3.0,
        );
        close(s.metric(Metric::Median), 4.0);
        close(s.metric(Metric::Quantile(0.9)), 9.0);
        close(s.metric(Metric::Quantile(0.0)), 2.0);
        close(s.metric(Metric::Range), 7.0);
        close(s.metric(Metric::MissingRatio), 1.0 / 9.0);
        close(s.metric(Metric::Count), 8.0);
        assert_eq!(s.mode_count(), 3);
        let empty = ColumnStats::default();
        assert_eq!(empty.metric(Metric::Mean), None);
        assert_eq!(empty.metric(Metric::Range), Some(0.0));
    }

    #[test]
    fn rank_searches_give_the_sorted_values() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20 {
            let n = 1 + (next() % 3000) as usize;
            let values: Vec<f64> = (0..n)
                .map(|i| match (round + i) % 5 {
                    0 => (next() % 7) as f64 - 3.0,
                    1 => -0.0,
                    2 => f64::from_bits(next() >> 2) * if next() % 2 == 0 { 1.0 } else { -1.0 },
                    3 => (next() % 1000) as f64 / 7.0,
                    _ => 0.0,
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for rank in [1, n as u64 / 3 + 1, n as u64 / 2 + 1, n as u64] {
                let mut search = RankSearch::new(rank);
                let mut passes = 0;
                while search.found().is_none() {
                    values.iter().for_each(|&v| search.add(v));
                    search.end_pass();
                    passes += 1;
                }
                assert!(passes <= 4);
                let got = search.found().unwrap();
                assert_eq!(
                    got.to_bits(),
                    sorted[rank as usize - 1].to_bits(),
                    "rank {rank} of {n}"
                );
            }
        }
    }

    #[test]
    fn constant_columns_have_zero_spread() {
        let mut s = ColumnStats::default();
        for _ in 0..5 {
            s.add(3.0, Needs::default());
        }
        assert_eq!(s.metric(Metric::Variance), Some(0.0));
        assert_eq!(s.metric(Metric::Skewness), Some(0.0));
        assert_eq!(s.metric(Metric::Kurtosis), Some(-3.0));
        assert_eq!(s.metric(Metric::Range), Some(0.0));
    }

    #[test]
    fn modes_round_to_eight_decimals() {
        let mut s = ColumnStats::default();
        let needs = Needs {
            values: false,
            modes: true,
        };
        for v in [0.1 + 0.2, 0.3, -0.0, 0.0, 1.000000001] {
            s.add(v, needs);
        }
        assert_eq!(s.mode_count(), 2);
    }
}

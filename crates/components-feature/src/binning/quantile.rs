//! The Greenwald–Khanna quantile summary as FATE 1.x builds it (its port of Spark's
//! `QuantileSummaries`), and the split points binning derives from it.
//!
//! Values are buffered (`head_size`), then sorted and merged into a list of
//! `(value, g, delta)` tuples; a new tuple gets `delta = floor(2·error·count)` unless it
//! is the smallest or the largest so far. When the list reaches `compress_thres` tuples
//! it is compressed: from the end, neighbours merge while `g + g_head + delta_head <
//! 2·error·count` (the first and last tuples are kept). Summaries of partitions merge by
//! a sorted merge followed by the same compression.
//!
//! A query for quantile `q` returns the first value if `q ≤ error`, the last if
//! `q ≥ 1 − error`; otherwise, with `rank = ceil(q·count)` and `t = ceil(error·count)`,
//! it walks the tuples from the second one accumulating `min_rank += g` and returns the
//! first whose `min_rank + delta − t ≤ rank ≤ min_rank + t` (the last value if none).
//! Up to `head_size` values per partition and while `2·error·count < 2`, nothing is
//! merged and `t = 1`, so the answer is exactly the `ceil(q·n)`-th smallest value
//! (1-based) — except for rank 1, where the walk starting at the second tuple gives the
//! second smallest, as FATE's does. In general the answer's rank lies in
//! `[floor((q − 2·error)·n), ceil((q + 2·error)·n)]` for one summary (FATE's documented
//! bound); merging summaries by interleaving their tuples, as FATE and Spark do, can add
//! about `error·n` per merge (the property test checks `(partitions + 1)·error·n`). With
//! FATE's defaults (`error` 1e-4, buffers of 10 000) compression merges almost nothing
//! below a few hundred thousand rows per partition, so answers stay within a few ranks.

/// One tuple of the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tuple {
    value: f64,
    g: u64,
    delta: u64,
}

/// A Greenwald–Khanna summary of one column's non-missing values.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileSummary {
    compress_thres: usize,
    head_size: usize,
    error: f64,
    head: Vec<f64>,
    sampled: Vec<Tuple>,
    count: u64,
}

impl QuantileSummary {
    /// An empty summary with FATE's three settings.
    pub fn new(compress_thres: usize, head_size: usize, error: f64) -> Self {
        QuantileSummary {
            compress_thres: compress_thres.max(1),
            head_size: head_size.max(1),
            error,
            head: Vec::new(),
            sampled: Vec::new(),
            count: 0,
        }
    }

    /// Number of values inserted (buffered ones included).
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count + self.head.len() as u64
    }

    /// Adds a value; NaN must be filtered out by the caller (it is a missing value).
    pub fn insert(&mut self, x: f64) {
        debug_assert!(!x.is_nan());
        self.head.push(x);
        if self.head.len() >= self.head_size {
            self.flush_head();
            if self.sampled.len() >= self.compress_thres {
                self.compress();
            }
        }
    }

    /// Merges the sorted buffer into the tuples.
    fn flush_head(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let mut head = std::mem::take(&mut self.head);
        head.sort_by(f64::total_cmp);
        let old = std::mem::take(&mut self.sampled);
        let mut out = Vec::with_capacity(old.len() + head.len());
        let mut si = 0;
        let mut count = self.count;
        let last = head.len() - 1;
        for (hi, &v) in head.iter().enumerate() {
            while si < old.len() && old[si].value <= v {
                out.push(old[si]);
                si += 1;
            }
            count += 1;
            let delta = if out.is_empty() || (si == old.len() && hi == last) {
                0
            } else {
                (2.0 * self.error * count as f64).floor() as u64
            };
            out.push(Tuple {
                value: v,
                g: 1,
                delta,
            });
        }
        out.extend_from_slice(&old[si..]);
        self.sampled = out;
        self.count = count;
    }

    /// Flushes the buffer and merges neighbouring tuples.
    pub fn compress(&mut self) {
        self.flush_head();
        let threshold = 2.0 * self.error * self.count as f64;
        self.sampled = compressed(&self.sampled, threshold);
    }

    /// The summary of both summaries' values.
    pub fn merge(mut self, mut other: QuantileSummary) -> QuantileSummary {
        if !other.head.is_empty() {
            other.compress();
        }
        if !self.head.is_empty() {
            self.compress();
        }
        if other.count == 0 {
            return self;
        }
        if self.count == 0 {
            return other;
        }
        let mut merged = Vec::with_capacity(self.sampled.len() + other.sampled.len());
        let (mut i, mut j) = (0, 0);
        while i < self.sampled.len() && j < other.sampled.len() {
            if self.sampled[i].value < other.sampled[j].value {
                merged.push(self.sampled[i]);
                i += 1;
            } else {
                merged.push(other.sampled[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&self.sampled[i..]);
        merged.extend_from_slice(&other.sampled[j..]);
        let count = self.count + other.count;
        let threshold = 2.0 * self.error * count as f64;
        QuantileSummary {
            sampled: compressed(&merged, threshold),
            count,
            head: Vec::new(),
            ..self
        }
    }

    /// The value at quantile `q` (in `[0, 1]`), or `None` for an empty summary.
    pub fn query(&mut self, q: f64) -> Option<f64> {
        if !self.head.is_empty() {
            self.compress();
        }
        let (first, last) = (self.sampled.first()?.value, self.sampled.last()?.value);
        if q <= self.error {
            return Some(first);
        }
        if q >= 1.0 - self.error {
            return Some(last);
        }
        let count = self.count as f64;
        let rank = (q * count).ceil() as i64;
        let tolerance = (self.error * count).ceil() as i64;
        let mut min_rank: i64 = 0;
        let end = self.sampled.len().saturating_sub(1);
        for t in self.sampled.iter().take(end).skip(1) {
            min_rank += t.g as i64;
            let max_rank = min_rank + t.delta as i64;
            if max_rank - tolerance <= rank && rank <= min_rank + tolerance {
                return Some(t.value);
            }
        }
        Some(last)
    }
}

/// A column's summary built as FATE's quantile binning builds it: one summary per
/// partition, compressed at the partition's end and merged into the running one in
/// partition order.
#[derive(Debug, Clone)]
pub struct PartitionedSummary {
    merged: Option<QuantileSummary>,
    part: QuantileSummary,
    values: u64,
}

impl PartitionedSummary {
    /// An empty summary with FATE's three settings.
    pub fn new(compress_thres: usize, head_size: usize, error: f64) -> Self {
        PartitionedSummary {
            merged: None,
            part: QuantileSummary::new(compress_thres, head_size, error),
            values: 0,
        }
    }

    /// Adds a (non-NaN) value of the current partition.
    pub fn insert(&mut self, x: f64) {
        self.part.insert(x);
        self.values += 1;
    }

    /// Ends the current partition.
    pub fn end_partition(&mut self) {
        let fresh = QuantileSummary::new(
            self.part.compress_thres,
            self.part.head_size,
            self.part.error,
        );
        let mut s = std::mem::replace(&mut self.part, fresh);
        s.compress();
        self.merged = Some(match self.merged.take() {
            None => s,
            Some(acc) => acc.merge(s),
        });
    }

    /// The summary of every partition ended, or `None` when no value was added.
    pub fn finish(mut self) -> Option<QuantileSummary> {
        if self.part.count > 0 || !self.part.head.is_empty() {
            self.end_partition();
        }
        self.merged.filter(|_| self.values > 0)
    }
}

/// The compression step: from the end, a tuple merges into the current head while
/// `g + g_head + delta_head < threshold`; the first and last tuples are kept.
fn compressed(sampled: &[Tuple], threshold: f64) -> Vec<Tuple> {
    let Some(&last) = sampled.last() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(sampled.len());
    let mut head = last;
    for &t in sampled[..sampled.len() - 1].iter().skip(1).rev() {
        if ((t.g + head.g + head.delta) as f64) < threshold {
            head.g += t.g;
        } else {
            out.push(head);
            head = t;
        }
    }
    out.push(head);
    if sampled.len() > 1 && sampled[0].value <= head.value {
        out.push(sampled[0]);
    }
    out.reverse();
    out
}

/// FATE's target quantiles for `bin_num` bins: `i · (1 / bin_num)` for `i` in
/// `1..bin_num`, then 1 (computed in that order, so `3 · 0.1` is `0.30000000000000004`,
/// as in FATE).
pub fn percentiles(bin_num: usize) -> Vec<f64> {
    let step = 1.0 / bin_num as f64;
    let mut out: Vec<f64> = (1..bin_num).map(|i| i as f64 * step).collect();
    out.push(1.0);
    out
}

/// Quantile split points: the summary's answer for every target quantile, duplicates
/// removed. The last one is the column maximum. Empty for an empty summary.
pub fn quantile_split_points(summary: &mut QuantileSummary, bin_num: usize) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(bin_num);
    for q in percentiles(bin_num) {
        if let Some(v) = summary.query(q) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Bucket (equal-width) split points: `min + k·(max − min)/bin_num` for `k` in
/// `1..bin_num`, then `max` (FATE keeps duplicates, so a constant column has `bin_num`
/// equal points and every value in bin 0).
pub fn bucket_split_points(min: f64, max: f64, bin_num: usize) -> Vec<f64> {
    let width = (max - min) / bin_num as f64;
    let mut out: Vec<f64> = (0..bin_num - 1)
        .map(|k| min + (k + 1) as f64 * width)
        .collect();
    out.push(max);
    out
}

/// The bin of `x`: `bisect_left(split_points[..len − 1], x)`, so `x ≤ sp₀` is bin 0,
/// `sp_{i−1} < x ≤ sp_i` bin `i` and anything above the second-to-last point the last bin.
/// A missing value (NaN) goes to the missing bin, index `split_points.len()`.
pub fn bin_of(split_points: &[f64], x: f64) -> usize {
    if x.is_nan() || split_points.is_empty() {
        return split_points.len();
    }
    split_points[..split_points.len() - 1].partition_point(|&s| s < x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary_of(
        values: &[f64],
        compress_thres: usize,
        head_size: usize,
        error: f64,
    ) -> QuantileSummary {
        let mut s = QuantileSummary::new(compress_thres, head_size, error);
        for &v in values {
            s.insert(v);
        }
        s.compress();
        s
    }

    /// The `rank`-th smallest (1-based) of `values`.
    fn ranked(values: &[f64], rank: usize) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[rank.clamp(1, v.len()) - 1]
    }

    #[test]
    fn small_data_gives_exact_ranks() {
        // 0, 3, 6, ... shuffled by a multiplicative step; 97 values, with duplicates.
        let values: Vec<f64> = (0..97u64).map(|i| ((i * 37) % 97 / 2) as f64).collect();
        let mut s = summary_of(&values, 10_000, 10_000, 1e-4);
        for q in percentiles(10) {
            let expected = if q >= 1.0 - 1e-4 {
                ranked(&values, 97)
            } else {
                ranked(&values, (q * 97.0).ceil() as usize)
            };
            assert_eq!(s.query(q), Some(expected), "q = {q}");
        }
        assert_eq!(s.query(0.0), Some(0.0));
        // Rank 1 answers with the second smallest, as FATE's walk does.
        assert_eq!(s.query(0.005), Some(ranked(&values, 2)));
    }

    #[test]
    fn partitions_merge_to_the_same_exact_answers() {
        let values: Vec<f64> = (0..500).map(|i| ((i * 7919) % 500) as f64 * 0.5).collect();
        let whole = summary_of(&values, 10_000, 10_000, 1e-4);
        let merged = values
            .chunks(123)
            .map(|c| summary_of(c, 10_000, 10_000, 1e-4))
            .reduce(QuantileSummary::merge)
            .unwrap();
        for q in percentiles(7) {
            assert_eq!(whole.clone().query(q), merged.clone().query(q), "q = {q}");
        }
        assert_eq!(merged.count(), 500);
    }

    #[test]
    fn fates_percentiles_are_computed_its_way() {
        let p = percentiles(10);
        assert_eq!(p.len(), 10);
        assert_eq!(p[2], 3.0 * 0.1);
        assert_ne!(p[2], 0.3);
        assert_eq!(p[9], 1.0);
    }

    #[test]
    fn split_points_and_bins() {
        let mut s = summary_of(&[1.0, 1.0, 1.0, 2.0, 5.0], 100, 100, 1e-4);
        // Ranks 3 and 5 of five values, deduplicated: [1, 2?]; q = 0.5 → rank 3 → 1.0.
        assert_eq!(quantile_split_points(&mut s, 2), vec![1.0, 5.0]);
        let sp = [1.0, 2.0, 5.0];
        assert_eq!(bin_of(&sp, 0.5), 0);
        assert_eq!(bin_of(&sp, 1.0), 0);
        assert_eq!(bin_of(&sp, 1.5), 1);
        assert_eq!(bin_of(&sp, 2.0), 1);
        assert_eq!(bin_of(&sp, 2.1), 2);
        assert_eq!(bin_of(&sp, 100.0), 2);
        assert_eq!(bin_of(&sp, f64::NAN), 3);
        assert_eq!(bucket_split_points(0.0, 10.0, 4), vec![2.5, 5.0, 7.5, 10.0]);
        assert_eq!(bucket_split_points(3.0, 3.0, 3), vec![3.0, 3.0, 3.0]);
        assert_eq!(bin_of(&[3.0, 3.0, 3.0], 3.0), 0);
        assert!(quantile_split_points(&mut QuantileSummary::new(1, 1, 1e-4), 5).is_empty());
    }

    #[test]
    fn compression_keeps_the_extremes() {
        let values: Vec<f64> = (0..5000).map(|i| f64::from((i * 7) % 5000)).collect();
        let mut s = summary_of(&values, 100, 100, 0.01);
        assert!(s.sampled.len() < 1000, "{} tuples", s.sampled.len());
        assert_eq!(s.query(0.0), Some(0.0));
        assert_eq!(s.query(1.0), Some(4999.0));
        assert_eq!(s.sampled.iter().map(|t| t.g).sum::<u64>(), 5000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// With compression forced by small buffers, every answer's rank (any of its
        /// ranks, for duplicated values) lies within FATE's documented bound for one
        /// summary, and within `(parts + 1)·error·n` for merged partition summaries.
        #[test]
        fn answers_stay_within_the_error_bound(
            values in prop::collection::vec(-1000i32..1000, 2000..8000),
            parts in 1usize..5,
            error in prop::sample::select(vec![0.001, 0.005, 0.01, 0.02]),
            qs in prop::collection::vec(0.0f64..=1.0, 1..12),
        ) {
            let values: Vec<f64> = values.into_iter().map(|v| f64::from(v) / 8.0).collect();
            let n = values.len();
            let chunk = n.div_ceil(parts);
            let mut summary = values
                .chunks(chunk)
                .map(|c| summary_of(c, 64, 50, error))
                .reduce(QuantileSummary::merge)
                .unwrap();
            prop_assert_eq!(summary.count(), n as u64);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in qs {
                let x = summary.query(q).unwrap();
                let below = sorted.partition_point(|&v| v < x);
                let upto = sorted.partition_point(|&v| v <= x);
                prop_assert!(upto > below, "answer {} is not a data value", x);
                // One summary: FATE's documented bound. Each merge of partition summaries
                // can add about error·n more (the merged tuples keep their own deltas).
                let slack = if parts == 1 { 2.0 } else { parts as f64 + 1.0 };
                let lo = ((q - slack * error) * n as f64).floor();
                let hi = ((q + slack * error) * n as f64).ceil();
                // Ranks of x are below + 1 ..= upto.
                prop_assert!(
                    (upto as f64) >= lo && ((below + 1) as f64) <= hi,
                    "q {} error {} n {}: x {} has ranks {}..={}, bound [{}, {}]",
                    q, error, n, x, below + 1, upto, lo, hi
                );
            }
        }
    }
}

//! Optimal binning (`method: optimal`): start from many small buckets (`init_bin_nums`
//! quantile or equal-width bins) with their label counts, then merge neighbours by a
//! metric down to at most `bin_num` bins — FATE 1.11's `OptimalBinning`, reproduced step
//! for step so that the same buckets give the same split points.
//!
//! # `iv`, `gini`, `chi_square`: merging through a min-heap
//!
//! Every pair of neighbouring buckets is a heap node scored by the metric (the smaller,
//! the better to merge): `iv` the IV lost by merging (`iv(left) + iv(right) − iv(both)`),
//! `gini` the impurity gained (`gini(both) − gini(left) − gini(right)`), `chi_square` the
//! pair's chi-square statistic. A pair whose merged bucket would hold more than
//! `floor(max_bin_pct · n)` samples is never a node. Five passes run, each adding the
//! nodes its constraint allows, then popping the best node and merging while its target
//! is not reached (a node whose bucket was merged away is skipped):
//!
//! 1. `mixture` (only with `mixture: true`): pairs of two unmixed buckets (a bucket is
//!    *mixed* when it holds both events and non-events), until no unmixed bucket is left;
//! 2. `single_mixture` (idem): pairs with at least one unmixed bucket;
//! 3. `small_size`: pairs of two buckets below `ceil(min_bin_pct · n)` samples;
//! 4. `single_small_size`: pairs with at least one small bucket;
//! 5. any pair, until at most `bin_num` buckets are left.
//!
//! Between passes the buckets are renumbered by position. The heap is FATE's own: its
//! sift rules, its removal of the nodes of merged buckets (which, iterating over the node
//! list while deleting from it, misses some; the missed ones are skipped when popped, or,
//! when renumbering gave their bucket's number to another bucket, merged as FATE merges
//! them), and the nodes left over from a pass staying for the next. All of it is kept,
//! because the order of equal scores and the leftovers decide which buckets merge.
//! The optimal metric array of a column is the score of every node left in the heap at
//! the end, in the heap's array order.
//!
//! # `ks`: splitting
//!
//! The buckets are split recursively at the bucket where the cumulative event and
//! non-event rates differ most (the first such bucket; the middle one when the KS is 0 or
//! the best split leaves a side below the minimum size), breadth first, the larger side
//! queued first, until `bin_num − 1` splits are made; a split whose sides are not both
//! mixed (with `mixture`) or not both at least the minimum size is not made, and a range
//! without events or without non-events is not split. With no split at all, the middle
//! bucket splits. The metric array is the KS of every split, in split-point order.
//!
//! Buckets carry their bounds: a merged bucket's split point is its right bound (the
//! right bound of its last initial bucket), and the split points of a column are the
//! distinct right bounds in increasing order. For a host's columns the guest works on
//! bucket *indexes* (initial bucket `i` has bounds `(i − 1, i]`), so the split points it
//! finds are the indexes of the host's initial split points to keep.

use std::collections::VecDeque;

/// `optimal_binning_param.metric_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptimalMetric {
    Iv,
    Gini,
    ChiSquare,
    Ks,
}

impl OptimalMetric {
    /// FATE's name (after its normalisation of `chi-square`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OptimalMetric::Iv => "iv",
            OptimalMetric::Gini => "gini",
            OptimalMetric::ChiSquare => "chi_square",
            OptimalMetric::Ks => "ks",
        }
    }

    /// A name as FATE accepts it (any case; `chi-square` for `chi_square`).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "iv" => Some(OptimalMetric::Iv),
            "gini" => Some(OptimalMetric::Gini),
            "chi_square" | "chi-square" => Some(OptimalMetric::ChiSquare),
            "ks" => Some(OptimalMetric::Ks),
            _ => None,
        }
    }
}

/// What a merge runs with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MergeSettings {
    pub(crate) metric: OptimalMetric,
    /// The most buckets to end with (`bin_num`).
    pub(crate) max_bin: usize,
    pub(crate) mixture: bool,
    pub(crate) max_bin_pct: f64,
    pub(crate) min_bin_pct: f64,
    /// `adjustment_factor`, for the IV of buckets with a zero count.
    pub(crate) adjustment_factor: f64,
}

/// One initial bucket: its bounds and label counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct InitBucket {
    pub(crate) left: f64,
    pub(crate) right: f64,
    pub(crate) events: u64,
    pub(crate) non_events: u64,
}

/// A merged bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MergedBucket {
    pub(crate) left: f64,
    pub(crate) right: f64,
    pub(crate) events: u64,
    pub(crate) non_events: u64,
}

/// The outcome of a merge: the buckets in increasing order and the metric array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    pub(crate) buckets: Vec<MergedBucket>,
    pub(crate) metric_array: Vec<f64>,
}

impl Merged {
    /// The distinct right bounds, increasing (FATE's `np.unique`).
    pub(crate) fn split_points(&self) -> Vec<f64> {
        let mut sp: Vec<f64> = self.buckets.iter().map(|b| b.right).collect();
        sp.sort_by(f64::total_cmp);
        sp.dedup();
        sp
    }
}

/// Initial buckets of a host column from its per-bucket counts: bounds `(i − 1, i]`.
pub(crate) fn index_buckets(counts: &[(u64, u64)]) -> Vec<InitBucket> {
    counts
        .iter()
        .enumerate()
        .map(|(i, &(events, non_events))| InitBucket {
            left: i as f64 - 1.0,
            right: i as f64,
            events,
            non_events,
        })
        .collect()
}

/// Merges `buckets` (at least one) as FATE does. `event_total` / `non_event_total` are the
/// label totals of the whole table and `sample_count` its rows.
pub(crate) fn merge(
    buckets: &[InitBucket],
    event_total: u64,
    non_event_total: u64,
    sample_count: usize,
    settings: &MergeSettings,
) -> Merged {
    if buckets.is_empty() {
        return Merged {
            buckets: Vec::new(),
            metric_array: Vec::new(),
        };
    }
    match settings.metric {
        OptimalMetric::Ks => split_ks(buckets, sample_count, settings),
        _ => HeapMerge::new(
            buckets,
            event_total,
            non_event_total,
            sample_count,
            settings,
        )
        .run(),
    }
}

// ----- The heap merge ----------------------------------------------------------------

/// A bucket as FATE's `Bucket` object: `idx` is its key in the bucket dict, which
/// renumbering changes in place.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    idx: i64,
    left: f64,
    right: f64,
    left_neighbor: Option<i64>,
    right_neighbor: Option<i64>,
    events: u64,
    non_events: u64,
}

impl Bucket {
    fn total(&self) -> u64 {
        self.events + self.non_events
    }

    fn is_mixed(&self) -> bool {
        self.events > 0 && self.non_events > 0
    }
}

/// A heap node: two buckets (by arena id) and the score of merging them.
#[derive(Debug, Clone, Copy)]
struct Node {
    left: usize,
    right: usize,
    score: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Constraint {
    Mixture,
    SingleMixture,
    SmallSize,
    SingleSmallSize,
    None,
}

/// A dict keeping insertion order, as Python's: assigning an existing key keeps its
/// place, a new key goes last.
#[derive(Debug, Default)]
struct OrderedDict {
    entries: Vec<(i64, usize)>,
}

impl OrderedDict {
    fn get(&self, key: i64) -> Option<usize> {
        self.entries.iter().find(|e| e.0 == key).map(|e| e.1)
    }

    fn contains(&self, key: i64) -> bool {
        self.get(key).is_some()
    }

    fn set(&mut self, key: i64, value: usize) {
        match self.entries.iter_mut().find(|e| e.0 == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    fn remove(&mut self, key: i64) {
        if let Some(i) = self.entries.iter().position(|e| e.0 == key) {
            self.entries.remove(i);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn max_key(&self) -> i64 {
        self.entries.iter().map(|e| e.0).max().unwrap_or(-1)
    }
}

struct HeapMerge<'s> {
    settings: &'s MergeSettings,
    /// Every bucket ever made (FATE's objects); nodes point into it.
    arena: Vec<Bucket>,
    dict: OrderedDict,
    heap: Vec<Node>,
    event_total: u64,
    non_event_total: u64,
    max_items: u64,
    min_items: u64,
}

impl<'s> HeapMerge<'s> {
    fn new(
        init: &[InitBucket],
        event_total: u64,
        non_event_total: u64,
        sample_count: usize,
        settings: &'s MergeSettings,
    ) -> Self {
        let n = init.len();
        let arena: Vec<Bucket> = init
            .iter()
            .enumerate()
            .map(|(i, b)| Bucket {
                idx: i as i64,
                left: b.left,
                right: b.right,
                left_neighbor: (i > 0).then(|| i as i64 - 1),
                right_neighbor: (i + 1 < n).then(|| i as i64 + 1),
                events: b.events,
                non_events: b.non_events,
            })
            .collect();
        let mut dict = OrderedDict::default();
        for i in 0..n {
            dict.set(i as i64, i);
        }
        let count = sample_count as f64;
        HeapMerge {
            settings,
            arena,
            dict,
            heap: Vec::new(),
            event_total,
            non_event_total,
            max_items: (settings.max_bin_pct * count).floor().max(0.0) as u64,
            min_items: (settings.min_bin_pct * count).ceil().max(0.0) as u64,
        }
    }

    fn run(mut self) -> Merged {
        if self.settings.mixture {
            let (non_mixed, _) = self.add_nodes(Constraint::Mixture);
            self.merge_heap(Constraint::Mixture, non_mixed as i64);
            self.renumber();
            let (non_mixed, _) = self.add_nodes(Constraint::SingleMixture);
            self.merge_heap(Constraint::SingleMixture, non_mixed as i64);
            self.renumber();
        }
        let (_, small) = self.add_nodes(Constraint::SmallSize);
        self.merge_heap(Constraint::SmallSize, small as i64);
        self.renumber();
        let (_, small) = self.add_nodes(Constraint::SingleSmallSize);
        self.merge_heap(Constraint::SingleSmallSize, small as i64);
        self.renumber();
        self.add_nodes(Constraint::None);
        let aim = self.dict.len() as i64 - self.settings.max_bin as i64;
        self.merge_heap(Constraint::None, aim);

        let mut live: Vec<Bucket> = self
            .dict
            .entries
            .iter()
            .map(|&(_, a)| self.arena[a])
            .collect();
        // Python's sort is stable.
        live.sort_by(|a, b| {
            a.left
                .partial_cmp(&b.left)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Merged {
            buckets: live
                .iter()
                .map(|b| MergedBucket {
                    left: b.left,
                    right: b.right,
                    events: b.events,
                    non_events: b.non_events,
                })
                .collect(),
            metric_array: self.heap.iter().map(|n| n.score).collect(),
        }
    }

    fn allowed(&self, constraint: Constraint, l: &Bucket, r: &Bucket) -> bool {
        let min = self.min_items;
        match constraint {
            Constraint::Mixture => !l.is_mixed() && !r.is_mixed(),
            Constraint::SingleMixture => !(l.is_mixed() && r.is_mixed()),
            Constraint::SmallSize => l.total() < min && r.total() < min,
            Constraint::SingleSmallSize => l.total() < min || r.total() < min,
            Constraint::None => true,
        }
    }

    /// FATE's `_add_heap_nodes`: a node for every allowed neighbouring pair; returns the
    /// numbers of unmixed and of small buckets.
    fn add_nodes(&mut self, constraint: Constraint) -> (usize, usize) {
        let (mut non_mixed, mut small) = (0, 0);
        for i in 0..self.dict.len() as i64 {
            let Some(la) = self.dict.get(i) else {
                continue;
            };
            let l = self.arena[la];
            let ra = l.right_neighbor.and_then(|k| self.dict.get(k));
            if !l.is_mixed() {
                non_mixed += 1;
            }
            if l.total() < self.min_items {
                small += 1;
            }
            let Some(ra) = ra else {
                continue;
            };
            let r = self.arena[ra];
            if l.total() + r.total() > self.max_items {
                continue;
            }
            if !self.allowed(constraint, &l, &r) {
                continue;
            }
            self.insert_node(la, ra);
        }
        (non_mixed, small)
    }

    /// FATE's `_merge_heap`.
    fn merge_heap(&mut self, constraint: Constraint, mut aim: i64) {
        let mut next_id = self.dict.max_key() + 1;
        while aim > 0 && !self.heap.is_empty() {
            let node = self.pop();
            let (l, r) = (self.arena[node.left], self.arena[node.right]);
            if !self.dict.contains(l.idx) || !self.dict.contains(r.idx) {
                continue;
            }
            let new = Bucket {
                idx: next_id,
                left: l.left,
                right: r.right,
                left_neighbor: l.left_neighbor,
                right_neighbor: r.right_neighbor,
                events: l.events + r.events,
                non_events: l.non_events + r.non_events,
            };
            if let Some(a) = new.left_neighbor.and_then(|k| self.dict.get(k)) {
                self.arena[a].right_neighbor = Some(next_id);
            }
            if let Some(a) = new.right_neighbor.and_then(|k| self.dict.get(k)) {
                self.arena[a].left_neighbor = Some(next_id);
            }
            let new_id = self.arena.len();
            self.arena.push(new);
            self.dict.set(next_id, new_id);
            self.dict.remove(l.idx);
            self.dict.remove(r.idx);
            self.remove_nodes_of(l.idx);
            self.remove_nodes_of(r.idx);
            aim = match constraint {
                Constraint::Mixture | Constraint::SingleMixture => {
                    aim - i64::from(!l.is_mixed()) - i64::from(!r.is_mixed())
                        + i64::from(!new.is_mixed())
                }
                Constraint::SmallSize | Constraint::SingleSmallSize => {
                    let min = self.min_items;
                    aim - i64::from(l.total() < min) - i64::from(r.total() < min)
                        + i64::from(new.total() < min)
                }
                Constraint::None => self.dict.len() as i64 - self.settings.max_bin as i64,
            };
            self.add_nodes_of_new(new_id, constraint);
            next_id += 1;
        }
    }

    /// FATE's `_add_node_from_new_bucket`.
    fn add_nodes_of_new(&mut self, new_id: usize, constraint: Constraint) {
        let new = self.arena[new_id];
        let min = self.min_items;
        let fits = |c: Constraint, a: &Bucket, b: &Bucket| match c {
            Constraint::Mixture => !a.is_mixed() && !b.is_mixed(),
            Constraint::SingleMixture => !(a.is_mixed() && b.is_mixed()),
            Constraint::SmallSize => a.total() < min && b.total() < min,
            Constraint::SingleSmallSize => a.total() < min || b.total() < min,
            Constraint::None => true,
        };
        if let Some(la) = new.left_neighbor.and_then(|k| self.dict.get(k)) {
            let l = self.arena[la];
            if l.total() + new.total() <= self.max_items && fits(constraint, &l, &new) {
                self.insert_node(la, new_id);
            }
        }
        if let Some(ra) = new.right_neighbor.and_then(|k| self.dict.get(k)) {
            let r = self.arena[ra];
            if r.total() + new.total() <= self.max_items && fits(constraint, &new, &r) {
                self.insert_node(new_id, ra);
            }
        }
    }

    /// FATE's `_update_bucket_info`: buckets renumbered `0..` by left bound, neighbours
    /// reset to the adjacent numbers.
    fn renumber(&mut self) {
        let mut order: Vec<(i64, f64)> = self
            .dict
            .entries
            .iter()
            .map(|&(k, a)| (k, self.arena[a].left))
            .collect();
        order.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        for (start, &(key, _)) in order.iter().enumerate() {
            let start = start as i64;
            if key == start {
                continue;
            }
            let a = self.dict.get(key).expect("a key of the dict");
            self.dict.set(start, a);
            self.arena[a].idx = start;
            self.dict.remove(key);
        }
        let n = self.dict.len() as i64;
        for i in 0..n {
            let a = self.dict.get(i).expect("renumbered keys are 0..n");
            self.arena[a].left_neighbor = (i > 0).then(|| i - 1);
            self.arena[a].right_neighbor = Some(i + 1);
        }
        if n > 0 {
            let a = self.dict.get(n - 1).expect("renumbered keys are 0..n");
            self.arena[a].right_neighbor = None;
        }
    }

    // --- scores ---

    /// The IV of one bucket, as FATE's `Bucket.iv` writes it.
    fn bucket_iv(&self, b: &Bucket) -> f64 {
        let af = self.settings.adjustment_factor;
        let et = self.event_total.max(1) as f64;
        let nt = self.non_event_total.max(1) as f64;
        let (er, ner) = if b.events == 0 || b.non_events == 0 {
            ((b.events as f64 + af) / et, (b.non_events as f64 + af) / nt)
        } else {
            (b.events as f64 / et, b.non_events as f64 / nt)
        };
        let woe = (ner / er).ln();
        (ner - er) * woe
    }

    fn bucket_gini(b: &Bucket) -> f64 {
        let t = b.total();
        if t == 0 {
            return 0.0;
        }
        let (p, q) = (b.events as f64 / t as f64, b.non_events as f64 / t as f64);
        1.0 - square(p) - square(q)
    }

    fn score(&self, l: &Bucket, r: &Bucket) -> f64 {
        let events = l.events + r.events;
        let non_events = l.non_events + r.non_events;
        let total = events + non_events;
        if total == 0 {
            return f64::NEG_INFINITY;
        }
        match self.settings.metric {
            OptimalMetric::Iv => {
                let af = self.settings.adjustment_factor;
                let et = self.event_total.max(1) as f64;
                let nt = self.non_event_total.max(1) as f64;
                let (er, ner) = if events == 0 || non_events == 0 {
                    ((events as f64 + af) / et, (non_events as f64 + af) / nt)
                } else {
                    (events as f64 / et, non_events as f64 / nt)
                };
                let woe = (er / ner).ln();
                let merged = (er - ner) * woe;
                self.bucket_iv(l) + self.bucket_iv(r) - merged
            }
            OptimalMetric::Gini => {
                let (p, q) = (
                    events as f64 / total as f64,
                    non_events as f64 / total as f64,
                );
                let merged = 1.0 - square(p) - square(q);
                merged - Self::bucket_gini(l) - Self::bucket_gini(r)
            }
            OptimalMetric::ChiSquare => {
                if events == 0 || non_events == 0 {
                    return f64::NEG_INFINITY;
                }
                let (c1, c0, t) = (events as f64, non_events as f64, total as f64);
                let e_l1 = (l.total() as f64 / t) * c1;
                let e_l0 = (l.total() as f64 / t) * c0;
                let e_r1 = (r.total() as f64 / t) * c1;
                let e_r0 = (r.total() as f64 / t) * c0;
                let sq = |a: u64, e: f64| {
                    let d = a as f64 - e;
                    d * d / e
                };
                sq(l.events, e_l1)
                    + sq(l.non_events, e_l0)
                    + sq(r.events, e_r1)
                    + sq(r.non_events, e_r0)
            }
            OptimalMetric::Ks => unreachable!("ks splits, it does not merge"),
        }
    }

    // --- FATE's MinHeap ---

    fn insert_node(&mut self, left: usize, right: usize) {
        let score = self.score(&self.arena[left], &self.arena[right]);
        self.heap.push(Node { left, right, score });
        let last = self.heap.len() - 1;
        self.move_up(last);
    }

    fn pop(&mut self) -> Node {
        let min = self.heap[0];
        let last = self.heap.len() - 1;
        self.heap[0] = self.heap[last];
        self.heap.pop();
        self.move_down(0);
        min
    }

    /// FATE's `remove_empty_node`: deletes, while iterating forward over the node list,
    /// the nodes touching bucket `idx`; a node moved into a deleted place is not looked at.
    fn remove_nodes_of(&mut self, idx: i64) {
        let mut i = 0;
        while i < self.heap.len() {
            let n = self.heap[i];
            if self.arena[n.left].idx == idx || self.arena[n.right].idx == idx {
                self.delete_at(i);
            }
            i += 1;
        }
    }

    fn delete_at(&mut self, k: usize) {
        let size = self.heap.len();
        if k >= size {
            return;
        }
        if k == size - 1 {
            self.heap.pop();
            return;
        }
        self.heap[k] = self.heap[size - 1];
        self.heap.pop();
        if k == 0 {
            self.move_down(0);
        } else {
            let parent = (k - 1) / 2;
            if self.heap[parent].score < self.heap[k].score {
                self.move_down(k);
            } else {
                self.move_up(k);
            }
        }
    }

    fn move_down(&mut self, mut cur: usize) {
        let size = self.heap.len();
        if cur >= size {
            return;
        }
        let mut min = cur;
        loop {
            let (l, r) = (2 * cur + 1, 2 * cur + 2);
            if l < size && self.heap[l].score < self.heap[cur].score {
                min = l;
            }
            if r < size && self.heap[r].score < self.heap[min].score {
                min = r;
            }
            if min != cur {
                self.heap.swap(cur, min);
                cur = min;
            } else {
                break;
            }
        }
    }

    fn move_up(&mut self, mut cur: usize) {
        if cur >= self.heap.len() {
            return;
        }
        while cur > 0 {
            let parent = (cur - 1) / 2;
            if self.heap[cur].score < self.heap[parent].score {
                self.heap.swap(cur, parent);
                cur = parent;
            } else {
                break;
            }
        }
    }
}

/// `x ** 2` as Python computes it: libm's `pow`, which is not always `x * x` to the
/// last bit. (`black_box` keeps the compiler from turning it into `x * x`.)
fn square(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

// ----- KS splitting --------------------------------------------------------------------

/// FATE's `split_optimal_binning`.
fn split_ks(buckets: &[InitBucket], sample_count: usize, settings: &MergeSettings) -> Merged {
    let min_items = (settings.min_bin_pct * sample_count as f64).ceil().max(0.0) as u64;
    let max_bin = settings.max_bin;
    let mut splits: Vec<usize> = Vec::new();
    let mut split_ks: Vec<(usize, f64)> = Vec::new();
    let mut queue: VecDeque<(usize, usize)> = VecDeque::from([(0, buckets.len())]);
    while let Some((start, end)) = {
        if splits.len() + 1 >= max_bin {
            None
        } else {
            queue.pop_front()
        }
    } {
        if start >= end {
            continue;
        }
        let Some(best) = best_ks(&buckets[start..end], min_items) else {
            continue;
        };
        if settings.mixture && !(best.left_mixed && best.right_mixed) {
            continue;
        }
        if best.left_total < min_items || best.right_total < min_items {
            continue;
        }
        let at = start + best.index + 1;
        splits.push(at);
        split_ks.push((at, best.ks));
        if best.right_total > best.left_total {
            queue.push_back((at, end));
            queue.push_back((start, at));
        } else {
            queue.push_back((start, at));
            queue.push_back((at, end));
        }
    }
    if splits.is_empty() {
        splits.push(buckets.len() / 2);
    }
    splits.sort_unstable();
    let metric_array: Vec<f64> = if split_ks.is_empty() {
        Vec::new()
    } else {
        splits
            .iter()
            .map(|s| {
                split_ks
                    .iter()
                    .rev()
                    .find(|(at, _)| at == s)
                    .map_or(0.0, |&(_, ks)| ks)
            })
            .collect()
    };
    splits.push(buckets.len());
    let mut out = Vec::with_capacity(splits.len());
    let mut start = 0;
    for &end in &splits {
        // FATE copies the range's first bucket, then merges the others into it (so an
        // empty range, possible only with one bucket, still holds that bucket).
        let first = buckets[start.min(buckets.len() - 1)];
        let mut b = MergedBucket {
            left: first.left,
            right: first.right,
            events: first.events,
            non_events: first.non_events,
        };
        for x in buckets.get(start + 1..end).unwrap_or(&[]) {
            b.left = b.left.min(x.left);
            b.right = b.right.max(x.right);
            b.events += x.events;
            b.non_events += x.non_events;
        }
        out.push(b);
        start = end;
    }
    Merged {
        buckets: out,
        metric_array,
    }
}

struct KsSplit {
    ks: f64,
    /// Index (in the range) of the last bucket of the left side.
    index: usize,
    left_total: u64,
    right_total: u64,
    left_mixed: bool,
    right_mixed: bool,
}

/// FATE's `_compute_ks` over one range of buckets; `None` when the range has no event
/// or no non-event.
fn best_ks(range: &[InitBucket], min_items: u64) -> Option<KsSplit> {
    let mut acc_e = Vec::with_capacity(range.len());
    let mut acc_n = Vec::with_capacity(range.len());
    let (mut te, mut tn) = (0u64, 0u64);
    for b in range {
        te += b.events;
        tn += b.non_events;
        acc_e.push(te);
        acc_n.push(tn);
    }
    if te == 0 || tn == 0 {
        return None;
    }
    let ks: Vec<f64> = acc_e
        .iter()
        .zip(&acc_n)
        .map(|(&e, &n)| (e as f64 / te as f64 - n as f64 / tn as f64).abs())
        .collect();
    let max = ks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut best = if max == 0.0 {
        ks.len() / 2
    } else {
        ks.iter().position(|&k| k == max).unwrap_or(0)
    };
    let sides = |i: usize| {
        let (le, ln) = (acc_e[i], acc_n[i]);
        (le, ln, te - le, tn - ln)
    };
    let (mut le, mut ln, mut re, mut rn) = sides(best);
    if le + ln < min_items || re + rn < min_items {
        best = ks.len() / 2;
        (le, ln, re, rn) = sides(best);
    }
    Some(KsSplit {
        ks: ks[best],
        index: best,
        left_total: le + ln,
        right_total: re + rn,
        left_mixed: le > 0 && ln > 0,
        right_mixed: re > 0 && rn > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(metric: OptimalMetric, max_bin: usize) -> MergeSettings {
        MergeSettings {
            metric,
            max_bin,
            mixture: true,
            max_bin_pct: 1.0,
            min_bin_pct: 0.0,
            adjustment_factor: 0.5,
        }
    }

    #[test]
    fn unmixed_neighbours_merge_first() {
        // Buckets: (2,0) (3,0) (1,4) (0,2) (0,1) → with mixture, the pure-event pair and
        // the pure-non-event pair merge first.
        let b = index_buckets(&[(2, 0), (3, 0), (1, 4), (0, 2), (0, 1)]);
        let m = merge(&b, 6, 7, 13, &settings(OptimalMetric::Gini, 5));
        let counts: Vec<(u64, u64)> = m.buckets.iter().map(|b| (b.events, b.non_events)).collect();
        assert_eq!(counts.iter().map(|c| c.0 + c.1).sum::<u64>(), 13);
        assert!(m.buckets.iter().all(|b| b.events > 0 && b.non_events > 0));
        assert_eq!(m.split_points().last(), Some(&4.0));
    }

    #[test]
    fn ks_splits_where_the_rates_differ_most() {
        let b = index_buckets(&[(5, 1), (4, 1), (1, 4), (1, 5)]);
        let m = merge(&b, 11, 11, 22, &settings(OptimalMetric::Ks, 2));
        assert_eq!(m.split_points(), vec![1.0, 3.0]);
        assert_eq!(m.metric_array.len(), 1);
    }
}

//! The plaintext half of tree growth that every party agrees on: fixed-point
//! gradients, histograms of sums, split gains and the tree itself.
//!
//! Gradients and hessians enter histograms as integers `round(v · 2^52)`, the gradient
//! shifted by a power-of-two offset so that every value is non-negative (FATE's
//! `GHPacker` does the same). The guest sums its own features' bins in `u128`; the hosts
//! sum Paillier ciphertexts of the very same integers, so after decryption both sides
//! hold identical sums and encryption cannot change the model.

use serde::{Deserialize, Serialize};

pub(crate) use super::model::Node;
use super::objective::FLOAT_ZERO;
use crate::error::{Error, Result};

/// Fraction bits of the fixed-point gradients (FATE's `fix_point_precision`).
pub(crate) const PRECISION: u32 = 52;

/// FATE's `TREE_DECIMAL_ROUND`: gains and leaf weights are truncated to 10 decimals.
fn truncate(x: f64) -> f64 {
    (x * 1e10).floor() / 1e10
}

/// One tree's gradients and hessians as fixed-point integers: `dims` (g, h) pairs per
/// row (one, or one per class for multi-output trees).
#[derive(Debug, Clone)]
pub(crate) struct Gh {
    pub(crate) dims: usize,
    /// Per dimension, the integer added to every gradient.
    pub(crate) offsets: Vec<u128>,
    /// Row-major, `2 · dims` slots per row: `g + offset`, `h`.
    pub(crate) values: Vec<u128>,
    /// The rows that enter this tree's histograms, ascending (all rows without GOSS).
    pub(crate) active: Vec<u32>,
}

fn to_fixed(v: f64) -> i128 {
    (v * 2f64.powi(PRECISION as i32)).round() as i128
}

impl Gh {
    /// Quantizes `g` and `h` (row-major, `dims` per row) for the rows of `active`.
    pub(crate) fn quantize(dims: usize, g: &[f64], h: &[f64], active: Vec<u32>) -> Result<Gh> {
        let mut offsets = Vec::with_capacity(dims);
        for d in 0..dims {
            let max = active
                .iter()
                .map(|&i| g[i as usize * dims + d].abs())
                .fold(0.0f64, f64::max);
            if !max.is_finite() || max > 2f64.powi(60) {
                return Err(Error::param(
                    "objective_param",
                    format!("gradients of magnitude {max} cannot be encoded; scale the label"),
                ));
            }
            // A power of two at least max|g| (at least 1).
            let offset = max.max(1.0).log2().ceil().exp2();
            offsets.push(to_fixed(offset) as u128);
        }
        let mut values = vec![0u128; g.len() / dims.max(1) * 2 * dims];
        for &i in &active {
            let i = i as usize;
            for d in 0..dims {
                let gv = to_fixed(g[i * dims + d]) + offsets[d] as i128;
                let hv = to_fixed(h[i * dims + d]);
                if gv < 0 || hv < 0 || !h[i * dims + d].is_finite() {
                    return Err(Error::param(
                        "objective_param",
                        format!(
                            "row {i} has a negative or undefined hessian {}",
                            h[i * dims + d]
                        ),
                    ));
                }
                values[i * 2 * dims + 2 * d] = gv as u128;
                values[i * 2 * dims + 2 * d + 1] = hv as u128;
            }
        }
        Ok(Gh {
            dims,
            offsets,
            values,
            active,
        })
    }

    pub(crate) fn slots(&self) -> usize {
        2 * self.dims
    }

    /// The row's slots.
    pub(crate) fn row(&self, i: usize) -> &[u128] {
        &self.values[i * 2 * self.dims..(i + 1) * 2 * self.dims]
    }

    /// Bit widths of the slots, wide enough for a sum over every active row.
    pub(crate) fn slot_bits(&self) -> Vec<u32> {
        let mut max = vec![0u128; self.slots()];
        for &i in &self.active {
            for (m, &v) in max.iter_mut().zip(self.row(i as usize)) {
                *m = (*m).max(v);
            }
        }
        max.iter()
            .map(|&m| {
                fateflow_crypto::packing::Packer::slot_bits_for(
                    m.max(1),
                    self.active.len().max(1) as u64,
                )
            })
            .collect()
    }

    /// `(G, H)` per dimension of a sum of `count` rows.
    pub(crate) fn decode(&self, sums: &[u128], count: u64) -> Vec<(f64, f64)> {
        let scale = 2f64.powi(PRECISION as i32);
        (0..self.dims)
            .map(|d| {
                let g = sums[2 * d] as i128 - (self.offsets[d] * count as u128) as i128;
                (g as f64 / scale, sums[2 * d + 1] as f64 / scale)
            })
            .collect()
    }
}

/// Sums of one feature's bins in one node, cumulative over the non-missing bins: entry
/// `b` covers bins `0..=b` (the rows with `x ≤ split_points[b]`); the missing bin apart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureHist {
    pub(crate) counts: Vec<u64>,
    /// `counts.len() × slots`.
    pub(crate) sums: Vec<u128>,
    pub(crate) missing_count: u64,
    pub(crate) missing: Vec<u128>,
}

impl FeatureHist {
    /// The cumulative histogram of one feature over the active rows of a node.
    pub(crate) fn build(bins: &[u16], nonmissing_bins: usize, gh: &Gh, rows: &[u32]) -> Self {
        let slots = gh.slots();
        let mut counts = vec![0u64; nonmissing_bins + 1];
        let mut sums = vec![0u128; (nonmissing_bins + 1) * slots];
        for &i in rows {
            let b = bins[i as usize] as usize;
            counts[b] += 1;
            for (s, &v) in sums[b * slots..(b + 1) * slots]
                .iter_mut()
                .zip(gh.row(i as usize))
            {
                *s += v;
            }
        }
        let missing_count = counts.pop().unwrap_or(0);
        let missing = sums.split_off(nonmissing_bins * slots);
        for b in 1..nonmissing_bins {
            counts[b] += counts[b - 1];
            for s in 0..slots {
                sums[b * slots + s] += sums[(b - 1) * slots + s];
            }
        }
        FeatureHist {
            counts,
            sums,
            missing_count,
            missing,
        }
    }

    /// `self − other` (the sibling of a child within their parent).
    pub(crate) fn minus(&self, other: &FeatureHist) -> FeatureHist {
        let sub = |a: &[u128], b: &[u128]| -> Vec<u128> {
            a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y)).collect()
        };
        FeatureHist {
            counts: self
                .counts
                .iter()
                .zip(&other.counts)
                .map(|(a, b)| a.wrapping_sub(*b))
                .collect(),
            sums: sub(&self.sums, &other.sums),
            missing_count: self.missing_count.wrapping_sub(other.missing_count),
            missing: sub(&self.missing, &other.missing),
        }
    }
}

/// What split search needs from `tree_param`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitRule {
    pub(crate) l1: f64,
    pub(crate) l2: f64,
    pub(crate) min_leaf_node: u64,
    pub(crate) min_child_weight: f64,
    pub(crate) min_impurity_split: f64,
    pub(crate) use_missing: bool,
}

/// A node's totals: sums over its active rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeSums {
    pub(crate) count: u64,
    pub(crate) sums: Vec<u128>,
}

/// The best split of one feature in one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Best {
    pub(crate) gain: f64,
    /// Index into the feature's cumulative entries: left is `x ≤ split_points[bin]`.
    pub(crate) bin: usize,
    /// FATE's `missing_dir`: 1 missing values go right, −1 left.
    pub(crate) missing_dir: i8,
    pub(crate) left_count: u64,
}

impl SplitRule {
    fn soft(&self, g: f64) -> f64 {
        if g < -self.l1 {
            g + self.l1
        } else if g > self.l1 {
            g - self.l1
        } else {
            0.0
        }
    }

    /// FATE's `node_gain`: `trunc(a(trunc G)² / (trunc H + λ))` summed over dimensions
    /// (`a`: soft-thresholding by α, which multi-output trees skip).
    fn score(&self, gh: &[(f64, f64)]) -> f64 {
        let multi = gh.len() > 1;
        gh.iter()
            .map(|&(g, h)| {
                let g = truncate(g);
                let g = if multi { g } else { self.soft(g) };
                truncate(g * g / (truncate(h) + self.l2))
            })
            .sum()
    }

    /// The leaf weights `−a(G) / (H + λ)` of a node, truncated then rounded to 10
    /// decimals as FATE stores them.
    pub(crate) fn leaf_weight(&self, gh: &[(f64, f64)]) -> Vec<f64> {
        let multi = gh.len() > 1;
        gh.iter()
            .map(|&(g, h)| {
                let g = if multi { g } else { self.soft(g) };
                let w = truncate(-g / (h + self.l2));
                (w * 1e10).round() / 1e10
            })
            .collect()
    }

    /// Whether a node's chosen split is taken (FATE's leaf rule: the gain must exceed
    /// `min_impurity_split` by more than 1e-8).
    pub(crate) fn takes(&self, gain: f64) -> bool {
        gain > self.min_impurity_split + FLOAT_ZERO
    }

    /// The best split of a feature as FATE's guest scans: bins upwards, missing values
    /// right before left, a candidate replacing the best only when its gain exceeds it by
    /// more than 1e-8 (so the first maximum wins), and only candidates that pass
    /// `min_leaf_node`, `min_child_weight` (summed over dimensions) and
    /// `min_impurity_split`.
    pub(crate) fn best(&self, gh: &Gh, node: &NodeSums, hist: &FeatureHist) -> Option<Best> {
        let slots = gh.slots();
        let parent = self.score(&gh.decode(&node.sums, node.count));
        let mut best: Option<Best> = None;
        let mut left = vec![0u128; slots];
        let mut right = vec![0u128; slots];
        for b in 0..hist.counts.len() {
            if b > 0 && hist.counts[b] == hist.counts[b - 1] {
                continue; // an empty bin splits exactly as the one before it
            }
            for dir in [1i8, -1] {
                if dir == -1 && (!self.use_missing || hist.missing_count == 0) {
                    continue;
                }
                let mut lc = hist.counts[b];
                left.copy_from_slice(&hist.sums[b * slots..(b + 1) * slots]);
                if dir == -1 {
                    lc += hist.missing_count;
                    for (l, m) in left.iter_mut().zip(&hist.missing) {
                        *l += m;
                    }
                }
                let Some(rc) = node.count.checked_sub(lc) else {
                    continue;
                };
                if lc < self.min_leaf_node.max(1) || rc < self.min_leaf_node.max(1) {
                    continue;
                }
                for ((r, &t), &l) in right.iter_mut().zip(&node.sums).zip(&left) {
                    *r = t.wrapping_sub(l);
                }
                let l_gh = gh.decode(&left, lc);
                let r_gh = gh.decode(&right, rc);
                let h_sum = |v: &[(f64, f64)]| v.iter().map(|x| x.1).sum::<f64>();
                if h_sum(&l_gh) < self.min_child_weight || h_sum(&r_gh) < self.min_child_weight {
                    continue;
                }
                let gain = truncate(self.score(&l_gh) + self.score(&r_gh) - parent);
                let floor = best.map_or(self.min_impurity_split - FLOAT_ZERO, |x| x.gain);
                if gain > self.min_impurity_split && gain > floor + FLOAT_ZERO {
                    best = Some(Best {
                        gain,
                        bin: b,
                        missing_dir: dir,
                        left_count: lc,
                    });
                }
            }
        }
        best
    }
}

/// Who owns a node's split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Owner {
    Guest,
    /// The host at this position in the job's host list.
    Host(usize),
}

/// A tree: nodes by id (`nodes[i].id == i`, breadth-first, children created in pairs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    /// Per node, the owner of its split (leaves: the guest).
    pub(crate) owners: Vec<Owner>,
}

impl Tree {
    /// Leaf ids in node order; a leaf's position here is its bit in reachable-leaf sets.
    pub(crate) fn leaves(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|n| n.is_leaf)
            .map(|n| n.id)
            .collect()
    }

    /// The leaves a row can reach when only the splits for which `decide` answers are
    /// followed (`Some(true)`: left, `Some(false)`: right, `None`: both ways), as bits
    /// over [`Tree::leaves`] in `out` (`⌈leaves/64⌉` words).
    pub(crate) fn reachable(
        &self,
        leaf_index: &[usize],
        decide: &mut dyn FnMut(&Node) -> Option<bool>,
        out: &mut [u64],
    ) {
        out.iter_mut().for_each(|w| *w = 0);
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id];
            if node.is_leaf {
                let k = leaf_index[id];
                out[k / 64] |= 1 << (k % 64);
                continue;
            }
            match decide(node) {
                Some(true) => stack.push(node.left_nodeid as usize),
                Some(false) => stack.push(node.right_nodeid as usize),
                None => {
                    stack.push(node.left_nodeid as usize);
                    stack.push(node.right_nodeid as usize);
                }
            }
        }
    }

    /// For every node id, its position among the leaves (`usize::MAX` at inner nodes).
    pub(crate) fn leaf_index(&self) -> Vec<usize> {
        let mut out = vec![usize::MAX; self.nodes.len()];
        for (k, id) in self.leaves().into_iter().enumerate() {
            out[id] = k;
        }
        out
    }

    /// Words of a reachable-leaf set.
    pub(crate) fn words(&self) -> usize {
        self.leaves().len().div_ceil(64).max(1)
    }
}

/// Whether `x` goes left at a split with value `split` and FATE's `missing_dir`.
pub(crate) fn goes_left(x: f64, split: f64, missing_dir: i8) -> bool {
    if x.is_nan() {
        missing_dir == -1
    } else {
        x <= split
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh_of(g: &[f64], h: &[f64]) -> Gh {
        Gh::quantize(1, g, h, (0..g.len() as u32).collect()).unwrap()
    }

    #[test]
    fn quantized_sums_decode_to_the_float_sums() {
        let g = [0.25, -0.75, 0.5, -0.125];
        let h = [0.1875, 0.1875, 0.25, 0.109375];
        let gh = gh_of(&g, &h);
        let mut sums = vec![0u128; 2];
        for i in 0..4 {
            sums[0] += gh.row(i)[0];
            sums[1] += gh.row(i)[1];
        }
        let d = gh.decode(&sums, 4);
        assert_eq!(d, vec![(g.iter().sum(), h.iter().sum())]);
    }

    /// The split search against a brute force over every threshold of the raw values.
    #[test]
    fn best_split_matches_brute_force() {
        let x = [1.0, 2.0, 2.0, 3.0, 5.0, 8.0, 9.0, 9.5];
        let y = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let g: Vec<f64> = y.iter().map(|&y| 0.5 - y).collect();
        let h = vec![0.25; 8];
        let gh = gh_of(&g, &h);
        let sp = [1.0, 2.0, 3.0, 5.0, 8.0, 9.0, 9.5];
        let bins: Vec<u16> = x
            .iter()
            .map(|&v| sp[..sp.len() - 1].partition_point(|&s| s < v) as u16)
            .collect();
        let rows: Vec<u32> = (0..8).collect();
        let hist = FeatureHist::build(&bins, sp.len(), &gh, &rows);
        let node = NodeSums {
            count: 8,
            sums: hist.sums[(sp.len() - 1) * 2..].to_vec(),
        };
        let rule = SplitRule {
            l1: 0.0,
            l2: 0.1,
            min_leaf_node: 1,
            min_child_weight: 0.0,
            min_impurity_split: 1e-3,
            use_missing: false,
        };
        let best = rule.best(&gh, &node, &hist).unwrap();
        let s = |g: f64, h: f64| g * g / (h + 0.1);
        let (gt, ht): (f64, f64) = (g.iter().sum(), h.iter().sum());
        let mut brute = (f64::MIN, 0.0);
        for &t in &sp[..sp.len() - 1] {
            let (mut gl, mut hl) = (0.0, 0.0);
            for i in 0..8 {
                if x[i] <= t {
                    gl += g[i];
                    hl += h[i];
                }
            }
            let gain = s(gl, hl) + s(gt - gl, ht - hl) - s(gt, ht);
            if gain > brute.0 + 1e-12 {
                brute = (gain, t);
            }
        }
        assert!((best.gain - brute.0).abs() < 1e-9, "{best:?} vs {brute:?}");
        assert_eq!(sp[best.bin], brute.1);
    }

    #[test]
    fn subtraction_gives_the_sibling() {
        let g = [0.3, -0.2, 0.9, -0.6, 0.1];
        let h = [0.2, 0.1, 0.05, 0.2, 0.09];
        let gh = gh_of(&g, &h);
        let bins = [0u16, 1, 2, 1, 3];
        let all = FeatureHist::build(&bins, 3, &gh, &[0, 1, 2, 3, 4]);
        let left = FeatureHist::build(&bins, 3, &gh, &[0, 3]);
        let right = FeatureHist::build(&bins, 3, &gh, &[1, 2, 4]);
        assert_eq!(all.minus(&left), right);
    }
}

//! The `HeteroFeatureBinning` model, shaped like FATE's `FeatureBinningParam` /
//! `FeatureBinningMeta` protobufs (field names kept), stored as JSON, and the WOE / IV
//! arithmetic behind its label-derived fields.
//!
//! `param` (the contract other components read, e.g. HeteroFeatureSelection):
//!
//! - `header`: this party's feature columns in table order (label excluded);
//!   `header_anonymous`: the same, as `<role>_<party_id>_x<index>`.
//! - `binning_result`: per binned column (real name) a [`ColumnBinResult`]. At the guest
//!   (unless `skip_static`) every label-derived field is filled; at a host they are empty
//!   and `iv` is `null` (hosts never learn label statistics).
//! - `host_results` (guest only, `{}` elsewhere): per host party id, per anonymous host
//!   column, the label-derived fields; `split_points` is `[]` there.
//!
//! **Missing values.** When a column had missing values (NaN) in the fitting data, every
//! per-bin array has one extra trailing entry, the missing bin, and `bin_nums` still
//! counts only the value bins (`len(split_points)`). `is_woe_monotonic` looks at the value
//! bins only.
//!
//! **Empty bins.** The arrays always have `bin_nums` value bins; a bin no sample fell in
//! (possible with `bucket`, manual split points or categories) has zero counts and the
//! adjusted WOE. FATE's arrays stop at the highest non-empty bin instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "HeteroFeatureBinning";

/// One binned column (FATE's `IVParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnBinResult {
    /// Upper bounds of the value bins, increasing; the last is the column maximum
    /// (`[]` for host columns in the guest's `host_results`).
    pub split_points: Vec<f64>,
    /// Number of value bins (the missing bin excluded).
    pub bin_nums: usize,
    /// Samples with label 1 per bin.
    pub event_count_array: Vec<u64>,
    /// Samples with label 0 per bin.
    pub non_event_count_array: Vec<u64>,
    /// Event rate per bin (share of all events, adjusted for empty bins).
    pub event_rate_array: Vec<f64>,
    /// Non-event rate per bin.
    pub non_event_rate_array: Vec<f64>,
    /// `ln(event_rate / non_event_rate)` per bin.
    pub woe_array: Vec<f64>,
    /// `(event_rate − non_event_rate) · woe` per bin.
    pub iv_array: Vec<f64>,
    /// The column's information value, `null` where label statistics are unknown.
    pub iv: Option<f64>,
    /// Whether the WOE of the value bins is non-decreasing or non-increasing.
    pub is_woe_monotonic: bool,
    /// Optimal binning, the guest's own numeric columns: the metric scores optimal
    /// binning ended with (see `binning/optimal.rs`); `null` for a score that is not a
    /// finite number (FATE's `-inf` for a pair without samples). Empty otherwise.
    #[serde(default)]
    pub optimal_metric_array: Vec<Option<f64>>,
}

impl ColumnBinResult {
    /// A column without label statistics (hosts, `skip_static`).
    pub(crate) fn unlabeled(split_points: Vec<f64>) -> Self {
        ColumnBinResult {
            bin_nums: split_points.len(),
            split_points,
            event_count_array: Vec::new(),
            non_event_count_array: Vec::new(),
            event_rate_array: Vec::new(),
            non_event_rate_array: Vec::new(),
            woe_array: Vec::new(),
            iv_array: Vec::new(),
            iv: None,
            is_woe_monotonic: true,
            optimal_metric_array: Vec::new(),
        }
    }

    /// One result per label class from per-bin class counts (`counts[bin][class]`,
    /// classes in FATE's order, decreasing): with two classes one result, the first
    /// class the event; otherwise one-vs-rest, one result per class with that class the
    /// event (FATE's `mask_label`).
    pub(crate) fn from_class_counts(
        bin_nums: usize,
        counts: &[Vec<u64>],
        adjustment_factor: f64,
    ) -> Vec<Self> {
        let k = counts.first().map_or(0, Vec::len);
        if k == 2 {
            let pairs: Vec<(u64, u64)> = counts.iter().map(|c| (c[0], c[1])).collect();
            return vec![Self::from_counts(bin_nums, &pairs, adjustment_factor)];
        }
        (0..k)
            .map(|class| {
                let pairs: Vec<(u64, u64)> = counts
                    .iter()
                    .map(|c| (c[class], c.iter().sum::<u64>() - c[class]))
                    .collect();
                Self::from_counts(bin_nums, &pairs, adjustment_factor)
            })
            .collect()
    }

    /// WOE and IV from `(event, non_event)` counts per bin (the `bin_nums` value bins,
    /// then the missing bin when present), spec §4.3 / FATE's `woe_1d`: totals of 0 count
    /// as 1; a bin with a zero count gets `adjustment_factor` added to both counts. No
    /// split points (see [`Self::with_split_points`]).
    pub(crate) fn from_counts(
        bin_nums: usize,
        counts: &[(u64, u64)],
        adjustment_factor: f64,
    ) -> Self {
        let event_total = counts.iter().map(|c| c.0).sum::<u64>().max(1) as f64;
        let non_event_total = counts.iter().map(|c| c.1).sum::<u64>().max(1) as f64;
        let mut r = ColumnBinResult::unlabeled(Vec::new());
        r.bin_nums = bin_nums;
        let mut iv = 0.0;
        for &(e, ne) in counts {
            let (er, ner) = if e == 0 || ne == 0 {
                (
                    (e as f64 + adjustment_factor) / event_total,
                    (ne as f64 + adjustment_factor) / non_event_total,
                )
            } else {
                (e as f64 / event_total, ne as f64 / non_event_total)
            };
            let woe = (er / ner).ln();
            let iv_i = (er - ner) * woe;
            iv += iv_i;
            r.event_count_array.push(e);
            r.non_event_count_array.push(ne);
            r.event_rate_array.push(er);
            r.non_event_rate_array.push(ner);
            r.woe_array.push(woe);
            r.iv_array.push(iv_i);
        }
        r.iv = Some(iv);
        r.is_woe_monotonic = monotonic(&r.woe_array[..bin_nums.min(r.woe_array.len())]);
        r
    }

    /// The same result with `split_points`.
    pub(crate) fn with_split_points(mut self, split_points: Vec<f64>) -> Self {
        self.split_points = split_points;
        self
    }

    /// Whether the arrays hold a missing bin after the value bins.
    pub fn has_missing_bin(&self) -> bool {
        self.woe_array.len() == self.bin_nums + 1
    }
}

/// FATE's `is_woe_monotonic`: fewer than two values, or non-decreasing, or non-increasing.
fn monotonic(woe: &[f64]) -> bool {
    woe.windows(2).all(|w| w[0] <= w[1]) || woe.windows(2).all(|w| w[0] >= w[1])
}

/// Fitted values (FATE's `FeatureBinningParam`); the shape is a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// This party's feature columns in table order.
    pub header: Vec<String>,
    /// `header` as `<role>_<party_id>_x<index>`.
    pub header_anonymous: Vec<String>,
    /// Per binned column.
    pub binning_result: BTreeMap<String, ColumnBinResult>,
    /// Guest only: per host party id, per anonymous column.
    #[serde(default)]
    pub host_results: BTreeMap<String, BTreeMap<String, ColumnBinResult>>,
    /// Guest with label statistics: the label values in FATE's order (decreasing, as
    /// strings: `["1", "0"]`); with two, the first is the event. Empty elsewhere.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Guest, labels other than two classes: the results of every class one-vs-rest
    /// (`binning_result` and `host_results` hold the first class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_class_result: Option<MultiClassResult>,
}

/// Per-class results of a multi-class fit (FATE's `MultiClassResult`, with the host
/// results keyed by party instead of flattened).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiClassResult {
    /// The label values, FATE's order; result `i` takes label `labels[i]` as the event.
    pub labels: Vec<String>,
    /// Per class: per binned column.
    pub results: Vec<BTreeMap<String, ColumnBinResult>>,
    /// Per host party id: per class, per anonymous column.
    #[serde(default)]
    pub host_results: BTreeMap<String, Vec<BTreeMap<String, ColumnBinResult>>>,
}

/// `transform_param` as applied (FATE's `TransformMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformMeta {
    /// Indexes in `header` of the transformed columns.
    pub transform_cols: Vec<usize>,
    /// Their names.
    pub transform_names: Vec<String>,
    /// `bin_num`, `woe`, or `null` (data passes through).
    pub transform_type: Option<String>,
}

/// Settings (FATE's `FeatureBinningMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `quantile`, `bucket` or `optimal`.
    pub method: String,
    /// `optimal_binning_param.metric_method` when optimal binning fitted the split
    /// points (not with manual split points).
    #[serde(default)]
    pub optimal_metric_method: Option<String>,
    /// `bin_num`.
    pub bin_num: usize,
    /// `compress_thres`.
    pub compress_thres: usize,
    /// `head_size`.
    pub head_size: usize,
    /// `error`.
    pub error: f64,
    /// The binned (non-categorical) columns, in header order.
    pub cols: Vec<String>,
    /// The categorical columns, in header order.
    #[serde(default)]
    pub category_cols: Vec<String>,
    /// `adjustment_factor`.
    pub adjustment_factor: f64,
    /// `local_only`.
    pub local_only: bool,
    /// `skip_static`.
    pub skip_static: bool,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
    /// How the output data was transformed.
    pub transform_param: TransformMeta,
}

/// A typed `HeteroFeatureBinning` model.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBinningModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl FeatureBinningModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(FeatureBinningModel { param, meta })
    }
}

/// FATE 1.x's anonymous column name `<role>_<party_id>_x<index>`.
pub(crate) fn anonymous_name(role: fateflow_domain::Role, party_id: u64, index: usize) -> String {
    format!("{role}_{party_id}_x{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woe_and_iv_follow_the_formula() {
        let r = ColumnBinResult::from_counts(3, &[(10, 30), (20, 5), (0, 1)], 0.5);
        assert_eq!(r.bin_nums, 3);
        assert_eq!(r.event_count_array, vec![10, 20, 0]);
        // Totals 30 and 36; the last bin has a zero count and is adjusted.
        assert_eq!(r.event_rate_array[0], 10.0 / 30.0);
        assert_eq!(r.non_event_rate_array[1], 5.0 / 36.0);
        assert_eq!(r.event_rate_array[2], 0.5 / 30.0);
        assert_eq!(r.non_event_rate_array[2], 1.5 / 36.0);
        let woe: Vec<f64> = (0..3)
            .map(|i| (r.event_rate_array[i] / r.non_event_rate_array[i]).ln())
            .collect();
        assert_eq!(r.woe_array, woe);
        let iv: f64 = (0..3)
            .map(|i| (r.event_rate_array[i] - r.non_event_rate_array[i]) * woe[i])
            .sum();
        assert!((r.iv.unwrap() - iv).abs() < 1e-15);
        assert!(!r.is_woe_monotonic);
        assert!(!r.has_missing_bin());
    }

    #[test]
    fn missing_bin_is_trailing_and_not_counted() {
        let r = ColumnBinResult::from_counts(2, &[(1, 3), (2, 2), (5, 1)], 0.5);
        assert_eq!(r.bin_nums, 2);
        assert_eq!(r.woe_array.len(), 3);
        assert!(r.has_missing_bin());
        // The two value bins are increasing; the missing bin does not count.
        assert!(r.is_woe_monotonic);
    }

    #[test]
    fn zero_totals_count_as_one() {
        let r = ColumnBinResult::from_counts(1, &[(0, 4)], 0.5);
        assert_eq!(r.event_rate_array, vec![0.5]);
        assert_eq!(r.non_event_rate_array, vec![4.5 / 4.0]);
    }

    #[test]
    fn anonymous_names() {
        assert_eq!(
            anonymous_name(fateflow_domain::Role::Host, 10000, 3),
            "host_10000_x3"
        );
        assert_eq!(
            anonymous_name(fateflow_domain::Role::Guest, 9999, 0),
            "guest_9999_x0"
        );
    }
}

//! The `HeteroFeatureSelection` model, shaped like FATE's `FeatureSelectionParam` /
//! `FeatureSelectionMeta` protobufs (field names kept where FATE has them), stored as
//! JSON; and the read-only view of the `HeteroFeatureBinning` model the IV filters use.
//!
//! `param`:
//!
//! ```json
//! {
//!   "header": ["x0", "x1", "x2"],
//!   "results": [{
//!     "filter_name": "iv_threshold",
//!     "filter_method": "iv_filter",
//!     "select_cols": ["x0", "x1"],
//!     "feature_values": {"x0": 0.31, "x1": 0.02},
//!     "left_cols": {"original_cols": ["x0", "x1", "x2"],
//!                   "left_cols": {"x0": true, "x1": false, "x2": true}},
//!     "host_feature_values": [{"party_id": "10000", "feature_values": {"host_10000_x0": 0.4}}],
//!     "host_left_cols": [{"party_id": "10000", "original_cols": ["host_10000_x0"],
//!                         "left_cols": {"host_10000_x0": true}}]
//!   }],
//!   "final_left_cols": {"original_cols": ["x0", "x1", "x2"],
//!                       "left_cols": {"x0": true, "x1": false, "x2": true}}
//! }
//! ```
//!
//! - `header`: this party's feature columns at fit time (label excluded), in order.
//! - `results`: one entry per filter run, in order (`iv_filter` / `statistic_filter` with
//!   a list of metrics run once per metric). `select_cols` are the columns the filter
//!   judged (selected and still left), `feature_values` the values it judged them by
//!   (empty for `manually`, and for IV filters at a host, which never learns IVs;
//!   `percentage_value` records the share of rows its most frequent value fills),
//!   `left_cols` every column left before the filter (`original_cols`) with whether it is
//!   still left after it. `host_*` are filled at the guest for IV filters that selected
//!   federated: each host's candidate columns by anonymous name, their IVs and the
//!   guest's decision.
//! - `final_left_cols`: every header column with whether the selection keeps it. FATE's
//!   map lists only kept columns (all `true`); this one lists every column.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{ComponentModel, ModelError};

/// The module name recorded in the model.
pub const MODULE: &str = "HeteroFeatureSelection";

/// The module whose model the IV filters read.
pub(crate) const BINNING_MODULE: &str = "HeteroFeatureBinning";

/// Columns before a filter and whether each is left after it (FATE's `LeftCols`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftCols {
    /// The columns before, in header order.
    pub original_cols: Vec<String>,
    /// Each of `original_cols`: `true` when it is left.
    pub left_cols: BTreeMap<String, bool>,
}

impl LeftCols {
    /// `original` with the flags of `kept`.
    pub(crate) fn new(original: Vec<String>, kept: impl Fn(&str) -> bool) -> Self {
        let left_cols = original.iter().map(|c| (c.clone(), kept(c))).collect();
        LeftCols {
            original_cols: original,
            left_cols,
        }
    }

    /// The kept columns, in the order of `original_cols`.
    pub fn kept(&self) -> Vec<&str> {
        self.original_cols
            .iter()
            .filter(|c| self.left_cols.get(c.as_str()).copied().unwrap_or(false))
            .map(String::as_str)
            .collect()
    }
}

/// The values a filter judged one host's columns by (guest only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFeatureValues {
    /// The host's party id.
    pub party_id: String,
    /// Anonymous column name → value.
    pub feature_values: BTreeMap<String, f64>,
}

/// A filter's decision on one host's columns (guest only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLeftCols {
    /// The host's party id.
    pub party_id: String,
    /// The host's candidate columns by anonymous name, and which are left.
    #[serde(flatten)]
    pub left_cols: LeftCols,
}

/// One filter run (FATE's `FeatureSelectionFilterParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterResult {
    /// FATE's name of the run: the method (`unique_value`, `manually`), the metric for
    /// `statistic_filter` (`mean`, `95%`), `iv_<filter_type>` for `iv_filter`.
    pub filter_name: String,
    /// The `filter_methods` entry that asked for it.
    pub filter_method: String,
    /// The columns the filter judged.
    pub select_cols: Vec<String>,
    /// The value of each judged column.
    pub feature_values: BTreeMap<String, f64>,
    /// Every column before the filter and whether it is left after it.
    pub left_cols: LeftCols,
    /// Guest, federated IV filters: the IVs of each host's candidates.
    #[serde(default)]
    pub host_feature_values: Vec<HostFeatureValues>,
    /// Guest, federated IV filters: the decision on each host's candidates.
    #[serde(default)]
    pub host_left_cols: Vec<HostLeftCols>,
}

/// Fitted values (FATE's `FeatureSelectionParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// Every feature column of the fitting data (label excluded), in order.
    pub header: Vec<String>,
    /// The filter runs, in order.
    pub results: Vec<FilterResult>,
    /// Every header column and whether the selection keeps it.
    pub final_left_cols: LeftCols,
}

/// Settings (FATE's `FeatureSelectionMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `filter_methods` as run (lower-cased).
    pub filter_methods: Vec<String>,
    /// The selected columns (what filters apply to), in header order.
    pub cols: Vec<String>,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
    /// One object per filter run with the settings it used.
    pub filter_metas: Vec<Value>,
}

/// A typed `HeteroFeatureSelection` model.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSelectionModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl FeatureSelectionModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }
}

/// What predict mode reads from a stored model: the header and the final decision.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelView {
    pub(crate) header: Vec<String>,
    pub(crate) final_left_cols: LeftCols,
}

impl ModelView {
    /// Reads a stored model's param; the error says what does not parse.
    pub(crate) fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let view: ModelView =
            serde_json::from_value(model.param.clone()).map_err(|source| ModelError::Parse {
                part: "model param",
                source,
            })?;
        for c in view.final_left_cols.left_cols.keys() {
            if !view.header.contains(c) {
                return Err(ModelError::NotInHeader {
                    field: "final_left_cols",
                    column: c.clone(),
                });
            }
        }
        Ok(view)
    }

    /// The kept columns, in header order.
    pub(crate) fn kept(&self) -> Vec<&str> {
        self.header
            .iter()
            .filter(|c| {
                self.final_left_cols
                    .left_cols
                    .get(c.as_str())
                    .copied()
                    .unwrap_or(false)
            })
            .map(String::as_str)
            .collect()
    }
}

/// The module whose models the SecureBoost filters read (`HeteroFastSecureBoost` is its
/// alias).
pub(crate) const SBT_MODULE: &str = "HeteroSecureBoost";

/// The part of a `HeteroSecureBoost` model's param the SecureBoost filters read
/// (FATE's `BoostingTreeModelParam`: `model_name`, `feature_importances`,
/// `feature_name_fid_mapping`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SbtView {
    /// `hetero_sbt`, `hetero_fast_sbt_layered`, `hetero_fast_sbt_mix`.
    pub(crate) model_name: String,
    feature_importances: Vec<ImportanceEntry>,
    /// Feature index (as text) → this party's column name.
    feature_name_fid_mapping: BTreeMap<String, String>,
}

/// One `feature_importances` entry: only its owner, index and value matter here.
#[derive(Debug, Clone, Deserialize)]
struct ImportanceEntry {
    sitename: String,
    fid: i64,
    importance: f64,
}

impl SbtView {
    /// Reads a SecureBoost model's param; the error says what does not parse.
    pub(crate) fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        serde_json::from_value(model.param.clone()).map_err(|source| ModelError::Parse {
            part: "SecureBoost model param",
            source,
        })
    }

    /// This party's columns and their importances, as FATE's adapter builds them:
    /// entries owned by a host (`host:<id>`, on the guest's copy) are skipped; the
    /// others (the guest's `guest:<id>`, a host's `hostLocal`) are named through
    /// `feature_name_fid_mapping`, a later entry for the same name overriding an
    /// earlier one; a mapped column without an entry has importance 0.
    pub(crate) fn importances(&self) -> Result<BTreeMap<String, f64>, String> {
        let mut out = BTreeMap::new();
        for e in &self.feature_importances {
            if e.sitename.split(':').next() == Some("host") {
                continue;
            }
            let name = self
                .feature_name_fid_mapping
                .get(&e.fid.to_string())
                .ok_or_else(|| {
                    format!(
                        "feature_importances has fid {} of `{}`, which feature_name_fid_mapping \
                         does not name",
                        e.fid, e.sitename
                    )
                })?;
            out.insert(name.clone(), e.importance);
        }
        for name in self.feature_name_fid_mapping.values() {
            out.entry(name.clone()).or_insert(0.0);
        }
        Ok(out)
    }
}

/// The part of a `HeteroFeatureBinning` model's param the IV filters read (see the
/// binning contract: `header`, `header_anonymous`, `binning_result`, `host_results`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BinningView {
    pub(crate) header: Vec<String>,
    #[serde(default)]
    pub(crate) header_anonymous: Vec<String>,
    #[serde(default)]
    pub(crate) binning_result: BTreeMap<String, BinnedColumn>,
    #[serde(default)]
    pub(crate) host_results: BTreeMap<String, BTreeMap<String, BinnedColumn>>,
    /// A multi-class fit's per-class results (binning's `multi_class_result`).
    #[serde(default)]
    pub(crate) multi_class_result: Option<MultiClassView>,
}

/// The per-class IVs of a multi-class binning model.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MultiClassView {
    pub(crate) labels: Vec<String>,
    pub(crate) results: Vec<BTreeMap<String, BinnedColumn>>,
    #[serde(default)]
    pub(crate) host_results: BTreeMap<String, Vec<BTreeMap<String, BinnedColumn>>>,
}

/// One binned column: only its IV matters here (`null` at a host).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BinnedColumn {
    #[serde(default)]
    pub(crate) iv: Option<f64>,
}

impl BinningView {
    /// Reads a binning model's param; the error says what is wrong.
    pub(crate) fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let view: BinningView =
            serde_json::from_value(model.param.clone()).map_err(|source| ModelError::Parse {
                part: "binning model param",
                source,
            })?;
        if view.header_anonymous.len() != view.header.len() {
            return Err(ModelError::HeaderLength {
                field: "header_anonymous",
                found: view.header_anonymous.len(),
                expected: view.header.len(),
            });
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn left_cols_keep_original_order() {
        let l = LeftCols::new(vec!["b".into(), "a".into(), "c".into()], |c| c != "a");
        assert_eq!(l.kept(), ["b", "c"]);
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            json!({"original_cols": ["b", "a", "c"], "left_cols": {"a": false, "b": true, "c": true}})
        );
    }

    #[test]
    fn host_left_cols_are_flat() {
        let h = HostLeftCols {
            party_id: "10000".into(),
            left_cols: LeftCols::new(vec!["host_10000_x0".into()], |_| true),
        };
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            json!({"party_id": "10000", "original_cols": ["host_10000_x0"],
                   "left_cols": {"host_10000_x0": true}})
        );
    }

    #[test]
    fn binning_view_reads_the_contract() {
        let m = ComponentModel {
            module: BINNING_MODULE.into(),
            param: json!({
                "header": ["x0"], "header_anonymous": ["guest_9999_x0"],
                "binning_result": {"x0": {"split_points": [1.0], "iv": 0.5, "woe_array": []}},
                "host_results": {"10000": {"host_10000_x0": {"split_points": [], "iv": 0.2}}}
            }),
            meta: json!({}),
        };
        let v = BinningView::from_component_model(&m).unwrap();
        assert_eq!(v.binning_result["x0"].iv, Some(0.5));
        assert_eq!(v.host_results["10000"]["host_10000_x0"].iv, Some(0.2));
        let mut bad = m.clone();
        bad.param["header_anonymous"] = json!([]);
        assert!(BinningView::from_component_model(&bad)
            .unwrap_err()
            .to_string()
            .contains("header_anonymous has 0 names"));
    }

    #[test]
    fn sbt_importances_are_the_own_columns_as_fate_reads_them() {
        let guest = ComponentModel {
            module: SBT_MODULE.into(),
            param: json!({
                "model_name": "hetero_sbt",
                "feature_importances": [
                    {"sitename": "host:10000", "fid": 0, "importance": 9.0,
                     "fullname": "host_10000_x3", "importance2": 0.0, "main": "split"},
                    {"sitename": "guest:9999", "fid": 2, "importance": 4.0,
                     "fullname": "c", "importance2": 1.5, "main": "split"},
                    {"sitename": "guest:9999", "fid": 0, "importance": 1,
                     "fullname": "a", "importance2": 0.5, "main": "split"}
                ],
                "feature_name_fid_mapping": {"0": "a", "1": "b", "2": "c"}
            }),
            meta: json!({}),
        };
        let v = SbtView::from_component_model(&guest).unwrap();
        assert_eq!(v.model_name, "hetero_sbt");
        assert_eq!(
            v.importances().unwrap(),
            BTreeMap::from([("a".into(), 1.0), ("b".into(), 0.0), ("c".into(), 4.0)])
        );
        let host = ComponentModel {
            module: "HeteroFastSecureBoost".into(),
            param: json!({
                "model_name": "hetero_fast_sbt_layered",
                "feature_importances": [
                    {"sitename": "hostLocal", "fid": 1, "importance": 3.0},
                    {"sitename": "hostLocal", "fid": 1, "importance": 5.0}
                ],
                "feature_name_fid_mapping": {"0": "h0", "1": "h1"}
            }),
            meta: json!({}),
        };
        let v = SbtView::from_component_model(&host).unwrap();
        assert_eq!(
            v.importances().unwrap(),
            BTreeMap::from([("h0".into(), 0.0), ("h1".into(), 5.0)]),
            "a later entry for the same column wins, as in FATE's name map"
        );
        let mut bad = host.clone();
        bad.param["feature_importances"][0]["fid"] = json!(7);
        let v = SbtView::from_component_model(&bad).unwrap();
        assert!(v
            .importances()
            .unwrap_err()
            .contains("fid 7 of `hostLocal`"));
        bad.param.as_object_mut().unwrap().remove("model_name");
        assert!(SbtView::from_component_model(&bad)
            .unwrap_err()
            .to_string()
            .contains("model_name"));
    }

    #[test]
    fn model_view_rejects_unknown_columns() {
        let m = ComponentModel {
            module: MODULE.into(),
            param: json!({"header": ["a"], "final_left_cols": {"original_cols": ["a"], "left_cols": {"b": true}}}),
            meta: json!({}),
        };
        assert!(ModelView::from_component_model(&m)
            .unwrap_err()
            .to_string()
            .contains("`b`"));
    }
}

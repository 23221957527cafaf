//! The model as FATE's `BoostingTreeModelMeta` / `BoostingTreeModelParam` (field names
//! of its protobufs): the guest's copy holds every tree with its leaf weights and its own
//! split values; a host's copy holds the same shapes with only its own split values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tree::{Owner, Tree};

/// One node of a tree, FATE's `NodeParam` (the guest's copy holds every weight; a host's
/// copy has weights stripped and only its own features and split values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The node id (its position in the tree).
    pub id: usize,
    /// `"guest:9999"`, `"host:10000"`.
    pub sitename: String,
    /// The owner's feature index, −1 on the other parties' copies and at leaves.
    pub fid: i64,
    /// The split value on the owner's copy (FATE's `bid`), −1 elsewhere.
    pub bid: f64,
    /// Leaf weights (one per dimension); empty on hosts and at inner nodes.
    pub weight: Vec<f64>,
    /// Whether it is a leaf.
    pub is_leaf: bool,
    /// The left child's id (−1 at leaves).
    pub left_nodeid: i64,
    /// The right child's id (−1 at leaves).
    pub right_nodeid: i64,
    /// FATE's `missing_dir`: 1 missing values go right, −1 left.
    pub missing_dir: i8,
}

/// FATE's `DecisionTreeModelParam`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParam {
    /// The nodes, `tree_[i].id == i`.
    pub tree_: Vec<Node>,
    /// Node id → split value, for the nodes this party owns.
    pub split_maskdict: BTreeMap<String, f64>,
    /// Node id → `missing_dir`, for the nodes this party owns.
    pub missing_dir_maskdict: BTreeMap<String, i8>,
    /// Leaf id → training rows that ended there (guest).
    #[serde(default)]
    pub leaf_count: BTreeMap<String, u64>,
}

/// FATE's `FeatureImportanceInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    /// `"guest:9999"` or `"host:10000"`.
    pub sitename: String,
    /// The owner's feature index.
    pub fid: i64,
    /// Split count.
    pub importance: f64,
    /// The feature's name (the guest's own), or `host_<party>_<fid>`.
    pub fullname: String,
    /// Total gain of its splits (guest features only; 0 for hosts, as FATE 1.7.2+).
    pub importance2: f64,
    /// `"split"`.
    pub main: String,
}

/// FATE's `BoostingTreeModelParam` (plus the header our predict reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbtModelParam {
    /// Number of trees.
    pub tree_num: usize,
    /// The trees.
    pub trees_: Vec<TreeParam>,
    /// Initial score per dimension.
    pub init_score: Vec<f64>,
    /// Training loss per round.
    pub losses: Vec<f64>,
    /// Trees per round (classes for single-output multi-class, else 1).
    pub tree_dim: usize,
    /// Label classes (classification), 0 for regression.
    pub num_classes: usize,
    /// The classes as FATE prints them.
    pub classes_: Vec<String>,
    /// Split counts per feature.
    pub feature_importances: Vec<FeatureImportance>,
    /// Feature index → name, own features only.
    pub feature_name_fid_mapping: BTreeMap<String, String>,
    /// The best round (early stopping), −1 without.
    pub best_iteration: i64,
    /// Which parties each tree could split on (FATE's `tree_plan`, as text).
    pub tree_plan: Vec<String>,
    /// `hetero_sbt`, `hetero_fast_sbt_mix`, `hetero_fast_sbt_layered`.
    pub model_name: String,
    /// Whether every tree has vector leaves (`multi_mode: multi_output`).
    #[serde(default)]
    pub multi_output: bool,
}

/// FATE's `BoostingTreeModelMeta` (settings the model was trained with).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbtModelMeta {
    /// `DecisionTreeModelMeta`.
    pub tree_meta: serde_json::Value,
    /// The learning rate.
    pub learning_rate: f64,
    /// Boosting rounds run.
    pub num_trees: usize,
    /// `{quantile_method, bin_num}`.
    pub quantile_meta: serde_json::Value,
    /// `{objective, param}`.
    pub objective_meta: serde_json::Value,
    /// `classification` or `regression`.
    pub task_type: String,
    /// Convergence check on the loss.
    pub n_iter_no_change: bool,
    /// Its tolerance.
    pub tol: f64,
    /// `use_missing`.
    pub use_missing: bool,
    /// `zero_as_missing`.
    pub zero_as_missing: bool,
    /// `std`, `mix` or `layered`.
    pub boosting_strategy: String,
    /// `HeteroSecureBoost`.
    pub module: String,
}

impl TreeParam {
    /// FATE's layout of a tree of this party.
    pub(crate) fn of(
        tree: &Tree,
        own: impl Fn(Owner) -> bool,
        leaf_count: BTreeMap<String, u64>,
    ) -> Self {
        let mut split_maskdict = BTreeMap::new();
        let mut missing_dir_maskdict = BTreeMap::new();
        for (n, o) in tree.nodes.iter().zip(&tree.owners) {
            if !n.is_leaf && own(*o) && n.fid >= 0 {
                split_maskdict.insert(n.id.to_string(), n.bid);
                missing_dir_maskdict.insert(n.id.to_string(), n.missing_dir);
            }
        }
        TreeParam {
            tree_: tree.nodes.clone(),
            split_maskdict,
            missing_dir_maskdict,
            leaf_count,
        }
    }

    /// The tree back, owners read from site names (`host_ids`: the job's hosts in
    /// order).
    pub(crate) fn to_tree(&self, host_ids: &[u64]) -> Result<Tree, String> {
        let mut owners = Vec::with_capacity(self.tree_.len());
        for (i, n) in self.tree_.iter().enumerate() {
            if n.id != i {
                return Err(format!("node {i} has id {}", n.id));
            }
            let owner = match n.sitename.split_once(':') {
                Some(("host", id)) if !n.is_leaf => {
                    let id: u64 = id
                        .parse()
                        .map_err(|_| format!("node {i} has site name {:?}", n.sitename))?;
                    let h = host_ids.iter().position(|&x| x == id).ok_or_else(|| {
                        format!("node {i} belongs to host {id}, which is not in this job")
                    })?;
                    Owner::Host(h)
                }
                _ => Owner::Guest,
            };
            if !n.is_leaf {
                for c in [n.left_nodeid, n.right_nodeid] {
                    if c <= i as i64 || c as usize >= self.tree_.len() {
                        return Err(format!("node {i} has child {c}"));
                    }
                }
            }
            owners.push(owner);
        }
        if self.tree_.is_empty() {
            return Err("a tree without nodes".into());
        }
        Ok(Tree {
            nodes: self.tree_.clone(),
            owners,
        })
    }
}

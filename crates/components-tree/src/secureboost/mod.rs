//! `HeteroSecureBoost` (and FATE's alias `HeteroFastSecureBoost`): vertical
//! gradient-boosted decision trees on Paillier, guest and one or more hosts, no arbiter
//! (FATE 1.11, spec §7).
//!
//! # Protocol
//!
//! The guest holds the labels and generates a Paillier key. Each party bins its own
//! features into quantile bins (`bin_num`). Per tree the guest computes every row's
//! gradient and hessian, encodes them as fixed-point integers (2^52, the gradient shifted
//! to be non-negative), packs the pair into one plaintext and sends each host the
//! ciphertexts once ([`guest`]). Per layer it sends the node of every row; each host adds
//! ciphertexts into per-bin sums for the smaller child of each split pair (the sibling
//! is derived by the guest by subtraction after decryption), makes them cumulative, and
//! sends them under per-tree random feature masks, several sums per ciphertext
//! (`cipher_compress`) ([`host`]). The guest decrypts, scores every candidate of every
//! party with FATE's xgboost gain and tie rules, and tells a winning host only the mask
//! and bin it won; the host keeps the split value and answers which rows go left.
//! Prediction (validation, predict jobs) takes one round: each host sends per row and
//! tree the set of leaves its own splits allow, the guest intersects ([`predict`]).
//!
//! # What each party learns
//!
//! - A host sees ciphertexts of gradients and hessians (never in the clear, never the
//!   labels), the node every row is in at each layer (the partition of the rows the
//!   tree induces), and which of its own candidate splits won. It never sees a leaf
//!   weight, a guest split, or a score.
//! - The guest sees, per node and per host feature, the sums of gradients and hessians
//!   and the row counts of every cumulative bin, which rows go left at the host's nodes,
//!   and in prediction, per row, the leaves each host's splits rule out. Host features
//!   arrive in column order under masks that change per tree, so the guest knows a
//!   feature's position (as FATE's model does: its feature importance names host
//!   features `host_<party>_x<column>`), never its name, values or thresholds.
//! - The guest's key never leaves the guest; no model holds it.
//!
//! # Parameters
//!
//! Every parameter of FATE's `HeteroSecureBoostParam` (see [`param`]). Variants:
//! `boosting_strategy` `std`, `mix` (each party in turn builds `tree_num_per_party`
//! trees from its own features), `layered` (the host's features for the first
//! `host_depth` layers, the guest's for the next `guest_depth`; one host);
//! `complete_secure` (the first N rounds guest-only); `multi_mode: multi_output` (one
//! tree per round with a leaf vector). These restrict which parties' features a layer may
//! split on; the protocol is the same.

pub(crate) mod data;
pub(crate) mod fit;
pub(crate) mod guest;
pub(crate) mod host;
pub(crate) mod messages;
pub mod model;
pub(crate) mod objective;
pub mod online;
pub(crate) mod param;
pub(crate) mod predict;
#[cfg(test)]
mod tests;
pub(crate) mod tree;

use crate::context::{Component, TaskContext};
use crate::error::Result;

pub use model::{SbtModelMeta, SbtModelParam};

/// FATE's `HeteroSecureBoost` (alias `HeteroFastSecureBoost`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroSecureBoost;

impl Component for HeteroSecureBoost {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        fit::run(ctx)
    }
}

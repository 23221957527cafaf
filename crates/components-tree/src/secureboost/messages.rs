//! What the guest and the hosts send each other while growing and using trees.
//!
//! Structured messages are JSON; row positions, ciphertexts and leaf sets travel as
//! bytes. Every message is tagged with the tree (and layer) it belongs to.

use fateflow_crypto::paillier::PublicKey;
use serde::{Deserialize, Serialize};

use super::tree::Owner;

/// Guest → hosts, once: the key, the row order, and the settings hosts must share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Setup {
    pub(crate) public_key: PublicKey,
    pub(crate) sids: Vec<String>,
    pub(crate) use_missing: bool,
    pub(crate) cipher_compress: bool,
    pub(crate) subsample_feature_rate: f64,
    pub(crate) random_seed: u64,
    /// Trees per boosting round (one per class for single-output multi-class).
    pub(crate) trees_per_round: usize,
    /// The validation rows, in the guest's order, when there are any.
    pub(crate) validate_sids: Option<Vec<String>>,
    /// The rounds of a warm start's input model, which the new trees follow.
    pub(crate) start_round: usize,
}

/// Host → guest, once: what the guest may know about the host's features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostInfo {
    pub(crate) features: usize,
}

/// Guest → hosts, per tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TreeStart {
    /// Whether this host's features take part in the tree; without them no gradients
    /// are sent and no layer asks for histograms.
    pub(crate) uses_host: bool,
    pub(crate) slot_bits: Vec<u32>,
    /// Rows whose encrypted gradients follow, ascending.
    pub(crate) active_rows: usize,
}

/// Guest → hosts, per layer (with the node position of every row as bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Layer {
    /// Positions (indices into this layer's open nodes) whose histograms this host
    /// must compute; empty when its features take no part in the layer.
    pub(crate) compute: Vec<u32>,
}

/// One feature's part of a host histogram.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MaskedFeature {
    pub(crate) mask: u64,
    /// Cumulative row counts per non-missing bin.
    pub(crate) counts: Vec<u64>,
    pub(crate) missing_count: u64,
}

/// Host → guest, per layer: the features of each computed node (their sums follow as
/// ciphertexts, node by node, feature by feature, cumulative bins then the missing bin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostHist {
    pub(crate) nodes: Vec<Vec<MaskedFeature>>,
    pub(crate) records: usize,
}

/// Guest → host, per layer: the splits this host won.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostSplit {
    /// The node's position in the layer.
    pub(crate) position: u32,
    pub(crate) node_id: usize,
    pub(crate) mask: u64,
    pub(crate) bin: usize,
    pub(crate) missing_dir: i8,
}

/// Guest → hosts, per tree: the finished tree's shape (no weights, no guest splits).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Shape {
    pub(crate) nodes: Vec<ShapeNode>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShapeNode {
    pub(crate) sitename: String,
    pub(crate) owner: Owner,
    pub(crate) is_leaf: bool,
    pub(crate) left: i64,
    pub(crate) right: i64,
}

/// Guest → hosts, after every boosting round: whether the validation data is scored
/// now (with every tree not yet applied to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoundEnd {
    pub(crate) validate: bool,
}

/// Guest → hosts, after a round's validation: stop, and how many rounds to keep (early
/// stopping keeps the best round's model).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stop {
    pub(crate) stop: bool,
    pub(crate) keep_rounds: Option<usize>,
    /// The loss stopped changing (`n_iter_no_change`).
    pub(crate) converged: bool,
}

/// Host → guest at the end of training: split counts of the host's features under their
/// anonymous names (`host_<party>_x<column>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostImportance {
    pub(crate) counts: Vec<(String, usize)>,
}

/// Guest → hosts: score rows with trees `first..last`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PredictRequest {
    pub(crate) first: usize,
    pub(crate) last: usize,
    pub(crate) rows: usize,
}

/// `u32`s as little-endian bytes.
pub(crate) fn u32s_to_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn bytes_to_u32s(b: &[u8]) -> Option<Vec<u32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// `u64`s as little-endian bytes.
pub(crate) fn u64s_to_bytes(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn bytes_to_u64s(b: &[u8]) -> Option<Vec<u64>> {
    if !b.len().is_multiple_of(8) {
        return None;
    }
    Some(
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
    )
}

/// Booleans as a bitset, least significant bit first.
pub(crate) fn bits_to_bytes(v: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; v.len().div_ceil(8)];
    for (i, &b) in v.iter().enumerate() {
        if b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

pub(crate) fn bit(bytes: &[u8], i: usize) -> bool {
    bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

//! A host's side of growing one tree: it adds the guest's encrypted gradients into
//! per-bin sums for the nodes the guest asks about, sends them cumulative, under random
//! feature masks, several per ciphertext; for the candidates it wins it keeps the split
//! value to itself and tells the guest only which rows go left.

use std::collections::HashMap;

use fateflow_crypto::packing::Packer;
use fateflow_crypto::paillier::{Ciphertext, PublicKey};
use fateflow_crypto::Integer;
use fateflow_domain::Party;
use fateflow_federation::{Federation, FederationExt};
use rayon::prelude::*;

use super::data::Binned;
use super::guest::{positions_from, protocol};
use super::messages::{
    bits_to_bytes, bytes_to_u32s, HostHist, HostSplit, Layer, MaskedFeature, Shape, TreeStart,
};
use super::tree::{Node, Owner, Tree};
use crate::error::Result;
use crate::wire::{decode_ciphers, encode_ciphers};

/// The host's view of the federation for tree growth.
pub(crate) struct HostSide<'a> {
    pub(crate) fed: &'a dyn Federation,
    pub(crate) guest: Party,
    /// This host's position among the job's hosts.
    pub(crate) index: usize,
    pub(crate) public_key: &'a PublicKey,
    pub(crate) use_missing: bool,
    pub(crate) cipher_compress: bool,
    /// Prefix of every message tag (the fold of a cross-validation).
    pub(crate) prefix: String,
}

impl HostSide<'_> {
    /// Takes part in growing tree `t` and returns this host's copy of it on this host's `binned` features (`valid`: the
    /// features this tree may use).
    pub(crate) fn grow(&self, t: usize, binned: &Binned, valid: &[bool]) -> Result<Tree> {
        let n = binned.bins.first().map_or(0, Vec::len);
        let tag = format!("{}{t}", self.prefix);
        let start: TreeStart = self.fed.get("sbt_tree", &tag, self.guest)?;
        let mut ciphers: Vec<Ciphertext> = Vec::new();
        let mut slot_of_row: Option<Vec<u32>> = None;
        if start.uses_host {
            let bytes = self.fed.get_bytes("sbt_gh", &tag, self.guest)?;
            ciphers = decode_ciphers("sbt_gh", self.guest, self.public_key, &bytes)?;
            let active = self.fed.get_bytes("sbt_active", &tag, self.guest)?;
            if !active.is_empty() {
                let rows = bytes_to_u32s(&active)
                    .ok_or_else(|| protocol(self.guest, "active rows are not u32s"))?;
                let mut slots = vec![u32::MAX; n];
                for (k, &r) in rows.iter().enumerate() {
                    *slots
                        .get_mut(r as usize)
                        .ok_or_else(|| protocol(self.guest, "an active row out of range"))? =
                        k as u32;
                }
                slot_of_row = Some(slots);
            }
            let expected = slot_of_row.as_ref().map_or(n, |_| start.active_rows);
            if ciphers.len() != expected || start.active_rows != ciphers.len() {
                return Err(protocol(
                    self.guest,
                    "encrypted gradients for another row count",
                ));
            }
        }
        let packer = Packer::for_key(self.public_key, &start.slot_bits)?;
        // This tree's features in column order (the model's feature importance names
        // host features by column anyway, as FATE's does; the order makes ties break
        // the same way on every run), each under a mask drawn for this tree.
        let order: Vec<usize> = (0..binned.k()).filter(|&f| valid[f]).collect();
        let masks: Vec<u64> = order.iter().map(|_| rand::random()).collect();
        let feature_of: HashMap<u64, usize> =
            masks.iter().copied().zip(order.iter().copied()).collect();

        let mut splits: HashMap<usize, (usize, f64, i8)> = HashMap::new();
        let mut depth = 0;
        loop {
            let ltag = format!("{}{t}.{depth}", self.prefix);
            let Some(layer) = self
                .fed
                .get::<Option<Layer>>("sbt_layer", &ltag, self.guest)?
            else {
                break;
            };
            let pos_bytes = self.fed.get_bytes("sbt_positions", &ltag, self.guest)?;
            let positions = if pos_bytes.is_empty() {
                Vec::new()
            } else {
                positions_from(&pos_bytes, n, self.guest)?
            };
            // Histograms of the nodes asked for.
            let mut info = HostHist {
                nodes: Vec::new(),
                records: 0,
            };
            let mut records: Vec<Ciphertext> = Vec::new();
            if !layer.compute.is_empty() {
                if !start.uses_host || positions.is_empty() {
                    return Err(protocol(
                        self.guest,
                        "histograms asked for without gradients",
                    ));
                }
                let wanted: HashMap<u32, usize> = layer
                    .compute
                    .iter()
                    .enumerate()
                    .map(|(k, &p)| (p, k))
                    .collect();
                let mut rows: Vec<Vec<(u32, u32)>> = vec![Vec::new(); layer.compute.len()];
                for (i, &p) in positions.iter().enumerate() {
                    if let Some(&k) = wanted.get(&p) {
                        let slot = match &slot_of_row {
                            Some(s) => s[i],
                            None => i as u32,
                        };
                        if slot != u32::MAX {
                            rows[k].push((i as u32, slot));
                        }
                    }
                }
                let tasks: Vec<(usize, usize)> = (0..rows.len())
                    .flat_map(|k| (0..order.len()).map(move |j| (k, j)))
                    .collect();
                let n2 = self.public_key.n_squared();
                let sums: Vec<(Vec<Integer>, Vec<u64>)> = tasks
                    .par_iter()
                    .map(|&(k, j)| {
                        let f = order[j];
                        let nb = binned.split_points[f].len();
                        let mut acc = vec![Integer::from(1); nb + 1];
                        let mut counts = vec![0u64; nb + 1];
                        for &(i, slot) in &rows[k] {
                            let b = binned.bins[f][i as usize] as usize;
                            acc[b] *= ciphers[slot as usize].as_integer();
                            acc[b] %= n2;
                            counts[b] += 1;
                        }
                        for b in 1..nb {
                            let prev = acc[b - 1].clone();
                            acc[b] *= &prev;
                            acc[b] %= n2;
                            counts[b] += counts[b - 1];
                        }
                        (acc, counts)
                    })
                    .collect();
                let mut sums = sums.into_iter();
                for _ in 0..rows.len() {
                    let mut features = Vec::with_capacity(order.len());
                    for &mask in &masks {
                        let (acc, mut counts) = sums
                            .next()
                            .ok_or_else(|| protocol(self.guest, "fewer sums than features"))?;
                        let missing_count = counts.pop().unwrap_or(0);
                        let nb = counts.len();
                        for (b, a) in acc.into_iter().enumerate() {
                            if b < nb || self.use_missing {
                                records.push(Ciphertext::from_integer(a));
                            }
                        }
                        features.push(MaskedFeature {
                            mask,
                            counts,
                            missing_count,
                        });
                    }
                    info.nodes.push(features);
                }
                info.records = records.len();
                if self.cipher_compress && !records.is_empty() {
                    records = packer.compress(self.public_key, &records)?;
                }
            }
            self.fed.remote("sbt_hist", &ltag, &info, &[self.guest])?;
            self.fed.remote_bytes(
                "sbt_hist_ciphers",
                &ltag,
                &encode_ciphers(&records),
                &[self.guest],
            )?;
            drop(records);
            // The splits won here: keep the value, send the directions.
            let won: Vec<HostSplit> = self.fed.get("sbt_split", &ltag, self.guest)?;
            let mut dirs = Vec::new();
            for s in &won {
                let f = *feature_of
                    .get(&s.mask)
                    .ok_or_else(|| protocol(self.guest, "a split on an unknown feature mask"))?;
                let sp = &binned.split_points[f];
                if s.bin >= sp.len() || positions.is_empty() {
                    return Err(protocol(self.guest, "a split on a bin that does not exist"));
                }
                let missing_bin = sp.len() as u16;
                let lefts: Vec<bool> = positions
                    .iter()
                    .enumerate()
                    .filter(|&(_, &p)| p == s.position)
                    .map(|(i, _)| {
                        let b = binned.bins[f][i];
                        if b == missing_bin {
                            s.missing_dir == -1
                        } else {
                            b as usize <= s.bin
                        }
                    })
                    .collect();
                dirs.extend(bits_to_bytes(&lefts));
                splits.insert(s.node_id, (f, sp[s.bin], s.missing_dir));
            }
            self.fed
                .remote_bytes("sbt_dirs", &ltag, &dirs, &[self.guest])?;
            depth += 1;
        }
        let shape: Shape = self.fed.get("sbt_shape", &tag, self.guest)?;
        let mut nodes = Vec::with_capacity(shape.nodes.len());
        let mut owners = Vec::with_capacity(shape.nodes.len());
        for (id, s) in shape.nodes.iter().enumerate() {
            let own = splits.get(&id);
            if matches!(s.owner, Owner::Host(h) if h == self.index) != own.is_some() {
                return Err(protocol(self.guest, "a tree whose host nodes do not match"));
            }
            nodes.push(Node {
                id,
                sitename: s.sitename.clone(),
                fid: own.map_or(-1, |o| o.0 as i64),
                bid: own.map_or(-1.0, |o| o.1),
                weight: Vec::new(),
                is_leaf: s.is_leaf,
                left_nodeid: s.left,
                right_nodeid: s.right,
                missing_dir: own.map_or(1, |o| o.2),
            });
            owners.push(s.owner);
        }
        Ok(Tree { nodes, owners })
    }
}

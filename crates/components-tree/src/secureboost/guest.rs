//! The guest's side of growing one tree: it holds the labels and the Paillier key, sends
//! each host the encrypted gradients once per tree, and per layer the node of every row;
//! it decrypts the hosts' masked split statistics, picks every node's best split over
//! all parties, and tells the winning host which of its (masked) candidates won.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fateflow_crypto::packing::Packer;
use fateflow_crypto::paillier::{Encryptor, Keypair};
use fateflow_domain::Party;
use fateflow_federation::{Federation, FederationExt};
use rayon::prelude::*;

use super::data::Binned;
use super::messages::{
    bit, bytes_to_u32s, u32s_to_bytes, HostHist, HostSplit, Layer, Shape, ShapeNode, TreeStart,
};
use super::objective::FLOAT_ZERO;
use super::tree::{FeatureHist, Gh, Node, NodeSums, Owner, SplitRule, Tree};
use crate::error::{Error, Result};
use crate::wire::{decode_ciphers, encode_ciphers};

/// Which parties' features a tree may split on, by layer: `[from, to)` depths.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreePlan {
    pub(crate) guest: (usize, usize),
    pub(crate) hosts: Vec<(usize, usize)>,
}

impl TreePlan {
    pub(crate) fn everyone(hosts: usize) -> TreePlan {
        TreePlan {
            guest: (0, usize::MAX),
            hosts: vec![(0, usize::MAX); hosts],
        }
    }

    fn on(range: (usize, usize), depth: usize) -> bool {
        range.0 <= depth && depth < range.1
    }

    pub(crate) fn uses_host(&self, h: usize) -> bool {
        self.hosts[h].0 < self.hosts[h].1
    }
}

/// The guest's view of the federation for tree growth.
pub(crate) struct GuestSide<'a> {
    pub(crate) fed: &'a dyn Federation,
    pub(crate) hosts: Vec<Party>,
    pub(crate) host_sitenames: Vec<String>,
    pub(crate) sitename: String,
    pub(crate) keys: &'a Keypair,
    pub(crate) cipher_compress: bool,
    pub(crate) rule: SplitRule,
    pub(crate) max_depth: usize,
    pub(crate) min_sample_split: usize,
    /// Prefix of every message tag (the fold of a cross-validation).
    pub(crate) prefix: String,
}

/// A grown tree and where every row ended.
#[derive(Debug)]
pub(crate) struct Grown {
    pub(crate) tree: Tree,
    /// The leaf (node id) of every row.
    pub(crate) leaf_of_row: Vec<u32>,
    /// Split count and gain per guest feature used.
    pub(crate) guest_splits: Vec<(usize, f64)>,
    pub(crate) timing: Timing,
}

/// Where a tree's time went, for the task log.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) encrypt: Duration,
    pub(crate) wait_hosts: Duration,
    pub(crate) decrypt: Duration,
    pub(crate) own: Duration,
}

/// The split a node takes.
#[derive(Debug, Clone, Copy)]
enum Choice {
    Guest {
        fid: usize,
        bin: usize,
        missing_dir: i8,
        gain: f64,
    },
    Host {
        host: usize,
        mask: u64,
        bin: usize,
        missing_dir: i8,
        gain: f64,
    },
}

impl Choice {
    fn gain(&self) -> f64 {
        match self {
            Choice::Guest { gain, .. } | Choice::Host { gain, .. } => *gain,
        }
    }
}

/// An open node of the current layer.
struct Open {
    id: usize,
    /// The parent and the sibling, for histogram subtraction.
    parent: Option<(usize, usize)>,
}

/// A host's histograms of one node: per feature, its mask and sums.
type HostNodeHist = Vec<(u64, FeatureHist)>;

impl GuestSide<'_> {
    fn tag(&self, tree: usize, depth: Option<usize>) -> String {
        match depth {
            Some(d) => format!("{}{tree}.{d}", self.prefix),
            None => format!("{}{tree}", self.prefix),
        }
    }

    /// Grows tree number `t` on the guest's `binned` features (`valid` marks the
    /// features this tree may use) from `gh`.
    pub(crate) fn grow(
        &self,
        t: usize,
        binned: &Binned,
        valid: &[bool],
        gh: &Gh,
        plan: &TreePlan,
    ) -> Result<Grown> {
        let n = binned
            .bins
            .first()
            .map_or(gh.values.len() / gh.slots(), Vec::len);
        let mut timing = Timing::default();
        let tag = self.tag(t, None);
        let slot_bits = gh.slot_bits();
        let packer = Packer::for_key(&self.keys.public, &slot_bits).map_err(|e| {
            Error::param(
                "encrypt_param.key_length",
                format!("the key cannot hold one row's gradient and hessian: {e}"),
            )
        })?;
        // Encrypted gradients, only when some host takes part in this tree.
        let users: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| plan.uses_host(h))
            .collect();
        let ciphers = if users.is_empty() {
            Vec::new()
        } else {
            let started = Instant::now();
            let plain: Vec<_> = gh
                .active
                .par_iter()
                .map(|&i| packer.pack_record(gh.row(i as usize)))
                .collect::<std::result::Result<_, _>>()?;
            self.keys.public.prepare_obfuscators(plain.len());
            let c = encode_ciphers(&self.keys.private.encrypt_raw_batch(&plain)?);
            timing.encrypt = started.elapsed();
            c
        };
        let full = gh.active.len() == n;
        for (h, host) in self.hosts.iter().enumerate() {
            let start = TreeStart {
                uses_host: plan.uses_host(h),
                slot_bits: slot_bits.clone(),
                active_rows: gh.active.len(),
            };
            self.fed.remote("sbt_tree", &tag, &start, &[*host])?;
            if start.uses_host {
                self.fed.remote_bytes("sbt_gh", &tag, &ciphers, &[*host])?;
                let rows = if full {
                    Vec::new()
                } else {
                    u32s_to_bytes(&gh.active)
                };
                self.fed.remote_bytes("sbt_active", &tag, &rows, &[*host])?;
            }
        }
        drop(ciphers);

        let mut nodes: Vec<Node> = vec![self.blank(0)];
        let mut owners = vec![Owner::Guest];
        let mut node_of_row = vec![0u32; n];
        let mut active_mask = vec![full; n];
        if !full {
            for &i in &gh.active {
                active_mask[i as usize] = true;
            }
        }
        let mut open = vec![Open {
            id: 0,
            parent: None,
        }];
        let mut prev_host: HashMap<usize, Vec<Option<HostNodeHist>>> = HashMap::new();
        let mut guest_splits: Vec<(usize, f64)> = Vec::new();
        let mut depth = 0;
        while !open.is_empty() {
            let ltag = self.tag(t, Some(depth));
            // Rows and sums of every open node.
            let index: HashMap<usize, usize> =
                open.iter().enumerate().map(|(p, o)| (o.id, p)).collect();
            let mut rows: Vec<Vec<u32>> = vec![Vec::new(); open.len()];
            let mut act: Vec<Vec<u32>> = vec![Vec::new(); open.len()];
            for (i, &node) in node_of_row.iter().enumerate() {
                if let Some(&p) = index.get(&(node as usize)) {
                    rows[p].push(i as u32);
                    if active_mask[i] {
                        act[p].push(i as u32);
                    }
                }
            }
            let sums: Vec<NodeSums> = act.iter().map(|a| node_sums(gh, a)).collect();
            let splittable: Vec<bool> = act
                .iter()
                .map(|a| depth < self.max_depth && a.len() >= self.min_sample_split.max(2))
                .collect();
            // Positions of rows in splittable nodes, for the hosts.
            let pos_of: Vec<u32> = {
                let mut k = 0u32;
                splittable
                    .iter()
                    .map(|&s| {
                        if s {
                            k += 1;
                            k - 1
                        } else {
                            u32::MAX
                        }
                    })
                    .collect()
            };
            let split_list: Vec<usize> = (0..open.len()).filter(|&p| splittable[p]).collect();
            // Which splittable nodes each host computes; the others are derived.
            let derived: Vec<bool> = split_list
                .iter()
                .map(|&p| match open[p].parent {
                    Some((_, sib)) => index.get(&sib).is_some_and(|&sp| {
                        splittable[sp] && (act[sp].len(), sib) < (act[p].len(), open[p].id)
                    }),
                    None => false,
                })
                .collect();
            let hosts_on: Vec<bool> = (0..self.hosts.len())
                .map(|h| TreePlan::on(plan.hosts[h], depth) && !split_list.is_empty())
                .collect();
            let mut positions_bytes = Vec::new();
            if hosts_on.iter().any(|&b| b) {
                let mut positions = vec![u32::MAX; n];
                for (p, r) in rows.iter().enumerate() {
                    if splittable[p] {
                        for &i in r {
                            positions[i as usize] = pos_of[p];
                        }
                    }
                }
                positions_bytes = u32s_to_bytes(&positions);
            }
            for (h, host) in self.hosts.iter().enumerate() {
                let compute: Vec<u32> = if hosts_on[h] {
                    split_list
                        .iter()
                        .enumerate()
                        .filter(|&(k, &p)| {
                            !(derived[k]
                                && prev_host
                                    .get(&open[p].parent.map_or(usize::MAX, |x| x.0))
                                    .is_some_and(|v| v[h].is_some()))
                        })
                        .map(|(k, _)| k as u32)
                        .collect()
                } else {
                    Vec::new()
                };
                self.fed
                    .remote("sbt_layer", &ltag, &Some(Layer { compute }), &[*host])?;
                let bytes: &[u8] = if hosts_on[h] { &positions_bytes } else { &[] };
                self.fed
                    .remote_bytes("sbt_positions", &ltag, bytes, &[*host])?;
            }
            drop(positions_bytes);
            // Own histograms while the hosts work.
            let started = Instant::now();
            let guest_on = TreePlan::on(plan.guest, depth);
            let own: Vec<Vec<Option<FeatureHist>>> = split_list
                .iter()
                .map(|&p| {
                    (0..binned.k())
                        .into_par_iter()
                        .map(|f| {
                            (guest_on && valid[f]).then(|| {
                                FeatureHist::build(
                                    &binned.bins[f],
                                    binned.split_points[f].len(),
                                    gh,
                                    &act[p],
                                )
                            })
                        })
                        .collect()
                })
                .collect();
            timing.own += started.elapsed();
            // The hosts' histograms.
            let mut host_hists: Vec<Vec<Option<HostNodeHist>>> =
                vec![vec![None; self.hosts.len()]; split_list.len()];
            for (h, host) in self.hosts.iter().enumerate() {
                let started = Instant::now();
                let info: HostHist = self.fed.get("sbt_hist", &ltag, *host)?;
                let bytes = self.fed.get_bytes("sbt_hist_ciphers", &ltag, *host)?;
                timing.wait_hosts += started.elapsed();
                if !hosts_on[h] {
                    continue;
                }
                let started = Instant::now();
                let computed = self.decrypt_hist(*host, gh, &packer, &info, &bytes)?;
                timing.decrypt += started.elapsed();
                let mut computed = computed.into_iter();
                for (k, &p) in split_list.iter().enumerate() {
                    let parent_has = open[p]
                        .parent
                        .and_then(|(parent, _)| prev_host.get(&parent))
                        .is_some_and(|v| v[h].is_some());
                    if derived[k] && parent_has {
                        continue;
                    }
                    host_hists[k][h] =
                        Some(computed.next().ok_or_else(|| {
                            protocol(*host, "fewer node histograms than asked for")
                        })?);
                }
                for (k, &p) in split_list.iter().enumerate() {
                    if host_hists[k][h].is_some() {
                        continue;
                    }
                    let (parent, sib) = open[p]
                        .parent
                        .ok_or_else(|| protocol(*host, "a derived node without a parent"))?;
                    let sib_k = split_list
                        .iter()
                        .position(|&q| open[q].id == sib)
                        .ok_or_else(|| protocol(*host, "a derived node without a sibling"))?;
                    let parent_hist = prev_host
                        .get(&parent)
                        .and_then(|v| v[h].as_ref())
                        .ok_or_else(|| protocol(*host, "no parent histogram"))?;
                    let sib_hist = host_hists[sib_k][h]
                        .as_ref()
                        .ok_or_else(|| protocol(*host, "no sibling histogram"))?;
                    if parent_hist.len() != sib_hist.len()
                        || parent_hist.iter().zip(sib_hist).any(|(a, b)| a.0 != b.0)
                    {
                        return Err(protocol(*host, "feature masks changed within a tree"));
                    }
                    host_hists[k][h] = Some(
                        parent_hist
                            .iter()
                            .zip(sib_hist)
                            .map(|((m, a), (_, b))| (*m, a.minus(b)))
                            .collect(),
                    );
                }
            }
            // Best split of every splittable node, as FATE compares: within a party the
            // first maximum wins (a later candidate needs 1e-8 more), hosts in order, and
            // the guest wins against the best host unless the host is 1e-8 better.
            let started = Instant::now();
            let better =
                |a: Option<Choice>, gain: f64| a.is_none_or(|x| gain > x.gain() + FLOAT_ZERO);
            let choices: Vec<Option<Choice>> = split_list
                .par_iter()
                .enumerate()
                .map(|(k, &p)| {
                    let mut guest: Option<Choice> = None;
                    for (f, hist) in own[k].iter().enumerate() {
                        let Some(hist) = hist else { continue };
                        if let Some(b) = self.rule.best(gh, &sums[p], hist) {
                            if better(guest, b.gain) {
                                guest = Some(Choice::Guest {
                                    fid: f,
                                    bin: b.bin,
                                    missing_dir: b.missing_dir,
                                    gain: b.gain,
                                });
                            }
                        }
                    }
                    let mut host: Option<Choice> = None;
                    for (h, hh) in host_hists[k].iter().enumerate() {
                        let Some(hh) = hh else { continue };
                        for (mask, hist) in hh.iter() {
                            if let Some(b) = self.rule.best(gh, &sums[p], hist) {
                                if better(host, b.gain) {
                                    host = Some(Choice::Host {
                                        host: h,
                                        mask: *mask,
                                        bin: b.bin,
                                        missing_dir: b.missing_dir,
                                        gain: b.gain,
                                    });
                                }
                            }
                        }
                    }
                    let best = match (guest, host) {
                        (Some(g), Some(h)) if g.gain() >= h.gain() - FLOAT_ZERO => Some(g),
                        (g, None) => g,
                        (_, h) => h,
                    };
                    best.filter(|c| self.rule.takes(c.gain()))
                })
                .collect();
            timing.own += started.elapsed();
            // Tell the hosts their splits; learn the directions.
            let mut next_id = nodes.len();
            let mut child_ids: Vec<Option<(usize, usize)>> = vec![None; split_list.len()];
            for (k, c) in choices.iter().enumerate() {
                if c.is_some() {
                    child_ids[k] = Some((next_id, next_id + 1));
                    next_id += 2;
                }
            }
            let mut goes_left: Vec<Option<Vec<bool>>> = vec![None; split_list.len()];
            for (h, host) in self.hosts.iter().enumerate() {
                let mine: Vec<HostSplit> = choices
                    .iter()
                    .enumerate()
                    .filter_map(|(k, c)| match c {
                        Some(Choice::Host {
                            host,
                            mask,
                            bin,
                            missing_dir,
                            ..
                        }) if *host == h => Some(HostSplit {
                            position: k as u32,
                            node_id: open[split_list[k]].id,
                            mask: *mask,
                            bin: *bin,
                            missing_dir: *missing_dir,
                        }),
                        _ => None,
                    })
                    .collect();
                self.fed.remote("sbt_split", &ltag, &mine, &[*host])?;
                let started = Instant::now();
                let dirs = self.fed.get_bytes("sbt_dirs", &ltag, *host)?;
                timing.wait_hosts += started.elapsed();
                let mut offset = 0usize;
                for s in &mine {
                    let r = &rows[split_list[s.position as usize]];
                    let len = r.len().div_ceil(8);
                    let part = dirs
                        .get(offset..offset + len)
                        .ok_or_else(|| protocol(*host, "fewer split directions than rows"))?;
                    goes_left[s.position as usize] =
                        Some((0..r.len()).map(|i| bit(part, i)).collect());
                    offset += len;
                }
                if offset != dirs.len() {
                    return Err(protocol(*host, "more split directions than rows"));
                }
            }
            // Build the children and the leaves.
            let mut next_open = Vec::new();
            let mut next_host: HashMap<usize, Vec<Option<HostNodeHist>>> = HashMap::new();
            for p in 0..open.len() {
                let id = open[p].id;
                let k = split_list.iter().position(|&q| q == p);
                let choice = k.and_then(|k| choices[k].map(|c| (k, c)));
                let Some((k, choice)) = choice else {
                    let w = self
                        .rule
                        .leaf_weight(&gh.decode(&sums[p].sums, sums[p].count));
                    let node = &mut nodes[id];
                    node.is_leaf = true;
                    node.weight = w;
                    continue;
                };
                let (l, r) = child_ids[k].unwrap_or((0, 0));
                let lefts: Vec<bool> = match choice {
                    Choice::Guest {
                        fid,
                        bin,
                        missing_dir,
                        gain,
                    } => {
                        let sp = &binned.split_points[fid];
                        let node = &mut nodes[id];
                        node.sitename = self.sitename.clone();
                        node.fid = fid as i64;
                        node.bid = sp[bin];
                        node.missing_dir = missing_dir;
                        guest_splits.push((fid, gain));
                        let missing_bin = sp.len() as u16;
                        rows[p]
                            .iter()
                            .map(|&i| {
                                let b = binned.bins[fid][i as usize];
                                if b == missing_bin {
                                    missing_dir == -1
                                } else {
                                    b as usize <= bin
                                }
                            })
                            .collect()
                    }
                    Choice::Host {
                        host, missing_dir, ..
                    } => {
                        owners[id] = Owner::Host(host);
                        let node = &mut nodes[id];
                        node.sitename = self.host_sitenames[host].clone();
                        node.missing_dir = missing_dir;
                        goes_left[k].take().ok_or_else(|| {
                            protocol(self.hosts[host], "no split directions for its node")
                        })?
                    }
                };
                nodes[id].left_nodeid = l as i64;
                nodes[id].right_nodeid = r as i64;
                for (&i, &left) in rows[p].iter().zip(&lefts) {
                    node_of_row[i as usize] = if left { l as u32 } else { r as u32 };
                }
                nodes.push(self.blank(l));
                nodes.push(self.blank(r));
                owners.push(Owner::Guest);
                owners.push(Owner::Guest);
                next_open.push(Open {
                    id: l,
                    parent: Some((id, r)),
                });
                next_open.push(Open {
                    id: r,
                    parent: Some((id, l)),
                });
                next_host.insert(id, std::mem::take(&mut host_hists[k]));
            }
            open = next_open;
            prev_host = next_host;
            depth += 1;
        }
        let tree = Tree { nodes, owners };
        let shape = Shape {
            nodes: tree
                .nodes
                .iter()
                .zip(&tree.owners)
                .map(|(n, o)| ShapeNode {
                    sitename: n.sitename.clone(),
                    owner: *o,
                    is_leaf: n.is_leaf,
                    left: n.left_nodeid,
                    right: n.right_nodeid,
                })
                .collect(),
        };
        let ltag = self.tag(t, Some(depth));
        for host in &self.hosts {
            self.fed
                .remote("sbt_layer", &ltag, &None::<Layer>, &[*host])?;
            self.fed.remote("sbt_shape", &tag, &shape, &[*host])?;
        }
        Ok(Grown {
            tree,
            leaf_of_row: node_of_row,
            guest_splits,
            timing,
        })
    }

    fn blank(&self, id: usize) -> Node {
        Node {
            id,
            sitename: self.sitename.clone(),
            fid: -1,
            bid: -1.0,
            weight: Vec::new(),
            is_leaf: false,
            left_nodeid: -1,
            right_nodeid: -1,
            missing_dir: 1,
        }
    }

    /// Decrypts a host's histograms of the nodes it computed.
    fn decrypt_hist(
        &self,
        host: Party,
        gh: &Gh,
        packer: &Packer,
        info: &HostHist,
        bytes: &[u8],
    ) -> Result<Vec<HostNodeHist>> {
        let cts = decode_ciphers("sbt_hist_ciphers", host, &self.keys.public, bytes)?;
        let expected: usize = info
            .nodes
            .iter()
            .flatten()
            .map(|f| f.counts.len() + usize::from(self.rule.use_missing))
            .sum();
        if expected != info.records {
            return Err(protocol(
                host,
                "a histogram whose record count does not add up",
            ));
        }
        let values = if self.cipher_compress {
            packer.decrypt_packed(&self.keys.private, &cts, info.records)?
        } else {
            if cts.len() != info.records {
                return Err(protocol(
                    host,
                    "a histogram with a wrong number of ciphertexts",
                ));
            }
            packer.decrypt_records(&self.keys.private, &cts)?
        };
        let slots = gh.slots();
        let mut at = 0usize;
        let mut take = |k: usize| -> Vec<u128> {
            let v = values[at * slots..(at + k) * slots].to_vec();
            at += k;
            v
        };
        Ok(info
            .nodes
            .iter()
            .map(|features| {
                features
                    .iter()
                    .map(|f| {
                        let sums = take(f.counts.len());
                        let missing = if self.rule.use_missing {
                            take(1)
                        } else {
                            vec![0; slots]
                        };
                        (
                            f.mask,
                            FeatureHist {
                                counts: f.counts.clone(),
                                sums,
                                missing_count: f.missing_count,
                                missing,
                            },
                        )
                    })
                    .collect()
            })
            .collect())
    }
}

fn node_sums(gh: &Gh, rows: &[u32]) -> NodeSums {
    let mut sums = vec![0u128; gh.slots()];
    for &i in rows {
        for (s, &v) in sums.iter_mut().zip(gh.row(i as usize)) {
            *s += v;
        }
    }
    NodeSums {
        count: rows.len() as u64,
        sums,
    }
}

pub(crate) fn protocol(from: Party, what: &str) -> Error {
    Error::Federation(fateflow_federation::Error::Decode {
        name: "secureboost".into(),
        from,
        detail: what.into(),
    })
}

/// The row positions a layer message carries: one `u32` per row (`u32::MAX` for a row
/// in no node of the layer).
pub(crate) fn positions_from(bytes: &[u8], n: usize, from: Party) -> Result<Vec<u32>> {
    let v = bytes_to_u32s(bytes).ok_or_else(|| protocol(from, "row positions are not u32s"))?;
    if v.len() != n {
        return Err(protocol(from, "row positions for another number of rows"));
    }
    Ok(v)
}

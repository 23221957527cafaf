//! Scoring rows with trees split across parties, in one round: each host sends, per row
//! and tree, the set of leaves its own splits allow; the guest intersects them with its
//! own and gets the one leaf. A host learns nothing; the guest learns, per row, which
//! leaves each host's splits rule out.

use fateflow_domain::Party;
use fateflow_federation::{Federation, FederationExt};
use rayon::prelude::*;

use super::data::Dataset;
use super::guest::protocol;
use super::messages::{bytes_to_u64s, u64s_to_bytes, PredictRequest};
use super::tree::{goes_left, Owner, Tree};
use crate::error::Result;

/// Rows per leaf-set message.
const CHUNK: usize = 65_536;

/// The reachable leaf sets of `rows` of `data` for `trees`, as the party `me` sees them:
/// per row, per tree, `words` u64s.
fn leaf_sets(trees: &[Tree], me: Owner, data: &Dataset, rows: std::ops::Range<usize>) -> Vec<u64> {
    let index: Vec<Vec<usize>> = trees.iter().map(Tree::leaf_index).collect();
    let words: Vec<usize> = trees.iter().map(Tree::words).collect();
    let per_row: usize = words.iter().sum();
    let mut out = vec![0u64; rows.len() * per_row];
    out.par_chunks_mut(per_row.max(1))
        .zip(rows.into_par_iter())
        .for_each(|(slot, i)| {
            let mut at = 0;
            for (t, tree) in trees.iter().enumerate() {
                let mut decide = |n: &super::tree::Node| -> Option<bool> {
                    if tree.owners[n.id] == me {
                        let x = data.columns[n.fid as usize][i];
                        Some(goes_left(x, n.bid, n.missing_dir))
                    } else {
                        None
                    }
                };
                tree.reachable(&index[t], &mut decide, &mut slot[at..at + words[t]]);
                at += words[t];
            }
        });
    out
}

/// The host's side: answers one [`PredictRequest`] for `data` (rows in the guest's
/// order).
pub(crate) fn host_answer(
    fed: &dyn Federation,
    guest: Party,
    tag: &str,
    me: usize,
    trees: &[Tree],
    data: &Dataset,
) -> Result<()> {
    let req: PredictRequest = fed.get("sbt_predict", tag, guest)?;
    if req.rows != data.n() || req.last > trees.len() || req.first > req.last {
        return Err(protocol(
            guest,
            "a prediction request for other rows or trees",
        ));
    }
    let trees = &trees[req.first..req.last];
    for (c, start) in (0..data.n()).step_by(CHUNK).enumerate() {
        let sets = leaf_sets(
            trees,
            Owner::Host(me),
            data,
            start..(start + CHUNK).min(data.n()),
        );
        fed.remote_bytes(
            "sbt_leaves",
            &format!("{tag}.{c}"),
            &u64s_to_bytes(&sets),
            &[guest],
        )?;
    }
    Ok(())
}

/// The guest's side: the leaf (node id) of every row in every tree of `first..last`,
/// row-major.
pub(crate) fn guest_leaves(
    fed: &dyn Federation,
    hosts: &[Party],
    tag: &str,
    trees: &[Tree],
    first: usize,
    data: &Dataset,
) -> Result<Vec<u32>> {
    let last = first + trees.len();
    let req = PredictRequest {
        first,
        last,
        rows: data.n(),
    };
    fed.remote("sbt_predict", tag, &req, hosts)?;
    let leaves: Vec<Vec<usize>> = trees.iter().map(Tree::leaves).collect();
    let words: Vec<usize> = trees.iter().map(Tree::words).collect();
    let per_row: usize = words.iter().sum();
    let mut out = Vec::with_capacity(data.n() * trees.len());
    for (c, start) in (0..data.n()).step_by(CHUNK).enumerate() {
        let end = (start + CHUNK).min(data.n());
        let mut sets = leaf_sets(trees, Owner::Guest, data, start..end);
        for &host in hosts {
            let bytes = fed.get_bytes("sbt_leaves", &format!("{tag}.{c}"), host)?;
            let theirs = bytes_to_u64s(&bytes)
                .filter(|v| v.len() == sets.len())
                .ok_or_else(|| protocol(host, "leaf sets of the wrong size"))?;
            for (a, b) in sets.iter_mut().zip(theirs) {
                *a &= b;
            }
        }
        for row in sets.chunks(per_row.max(1)) {
            let mut at = 0;
            for (t, w) in words.iter().enumerate() {
                let set = &row[at..at + w];
                let k = set
                    .iter()
                    .enumerate()
                    .find(|(_, &x)| x != 0)
                    .map(|(j, &x)| j * 64 + x.trailing_zeros() as usize);
                let only = set.iter().map(|x| x.count_ones()).sum::<u32>() == 1;
                let Some(k) = k.filter(|_| only) else {
                    return Err(protocol(
                        hosts.first().copied().unwrap_or(fed.me()),
                        "leaf sets that do not meet in exactly one leaf",
                    ));
                };
                out.push(leaves[t][k] as u32);
                at += w;
            }
        }
    }
    Ok(out)
}

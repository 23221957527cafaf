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
pub(crate) fn leaf_sets(
    trees: &[Tree],
    me: Owner,
    data: &Dataset,
    rows: std::ops::Range<usize>,
) -> Vec<u64> {
    let index: Vec<Vec<usize>> = trees.iter().map(Tree::leaf_index).collect();
    let words: Vec<usize> = trees.iter().map(Tree::words).collect();
    let per_row: usize = words.iter().sum();
    let mut out = vec![0u64; rows.len() * per_row];
    out.par_chunks_mut(per_row.max(1))
        .zip(rows.into_par_iter())
        .for_each(|(slot, i)| {
            row_leaf_sets(trees, &index, &words, me, |fid| data.columns[fid][i], slot)
        });
    out
}

/// One row's reachable leaf sets (see [`leaf_sets`]); `x` gives its value of a feature
/// by index, `index` and `words` are the trees' [`Tree::leaf_index`] and
/// [`Tree::words`].
pub(crate) fn row_leaf_sets(
    trees: &[Tree],
    index: &[Vec<usize>],
    words: &[usize],
    me: Owner,
    x: impl Fn(usize) -> f64,
    out: &mut [u64],
) {
    let mut at = 0;
    for (t, tree) in trees.iter().enumerate() {
        let mut decide = |n: &super::tree::Node| -> Option<bool> {
            if tree.owners[n.id] == me {
                Some(goes_left(x(n.fid as usize), n.bid, n.missing_dir))
            } else {
                None
            }
        };
        tree.reachable(&index[t], &mut decide, &mut out[at..at + words[t]]);
        at += words[t];
    }
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
                let Some(k) = only_leaf(&row[at..at + w]) else {
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

/// The one leaf (its position in [`Tree::leaves`]) a reachable-leaf set holds, if it
/// holds exactly one.
pub(crate) fn only_leaf(set: &[u64]) -> Option<usize> {
    let only = set.iter().map(|x| x.count_ones()).sum::<u32>() == 1;
    set.iter()
        .enumerate()
        .find(|(_, &x)| x != 0)
        .map(|(j, &x)| j * 64 + x.trailing_zeros() as usize)
        .filter(|_| only)
}

/// Where each tree's words start in a row's leaf sets, and the words per row.
pub(crate) fn set_offsets(trees: &[Tree]) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(trees.len());
    let mut at = 0;
    for t in trees {
        offsets.push(at);
        at += t.words();
    }
    (offsets, at)
}

/// A model's EINI vector layout, for the guest's plaintexts of one row.
pub(crate) struct EiniLayout<'a> {
    pub(crate) trees: &'a [Tree],
    /// Per tree, its leaf ids ([`Tree::leaves`]).
    pub(crate) leaves: &'a [Vec<usize>],
    pub(crate) entries: &'a [(usize, usize, usize)],
    pub(crate) offsets: &'a [usize],
    pub(crate) multi_output: bool,
}

impl EiniLayout<'_> {
    /// The guest's plaintexts for one row whose own reachable-leaf set is `set`: `lr·w`
    /// (plus the initial score spread over `per_dim_trees` trees) at every leaf its
    /// splits allow, 0 elsewhere, as residues mod `n`.
    pub(crate) fn guest_plain(
        &self,
        set: &[u64],
        lr: f64,
        init: &[f64],
        per_dim_trees: usize,
        n: &fateflow_crypto::Integer,
    ) -> Result<Vec<fateflow_crypto::Integer>> {
        let mut out = Vec::with_capacity(self.entries.len());
        for &(t, k, d) in self.entries {
            let reachable = set[self.offsets[t] + k / 64] & (1 << (k % 64)) != 0;
            let v = if reachable {
                let w = &self.trees[t].nodes[self.leaves[t][k]].weight;
                let w = if self.multi_output {
                    w.get(d)
                } else {
                    w.first()
                };
                lr * w.copied().unwrap_or(0.0) + init[d] / per_dim_trees as f64
            } else {
                0.0
            };
            out.push(crate::wire::residue(&crate::wire::fixed(v, EINI_BITS)?, n));
        }
        Ok(out)
    }
}

/// A host's step of EINI for one row: every entry at a leaf its splits rule out
/// becomes an encryption of 0 (the ciphertext 1).
pub(crate) fn host_filter(
    layout: &[(usize, usize, usize)],
    offsets: &[usize],
    set: &[u64],
    cts: &mut [fateflow_crypto::paillier::Ciphertext],
) {
    for (e, &(t, k, _)) in layout.iter().enumerate() {
        if set[offsets[t] + k / 64] & (1 << (k % 64)) == 0 {
            cts[e] = fateflow_crypto::paillier::Ciphertext::one();
        }
    }
}

/// The last host's step of EINI for one row: the entries summed per score dimension,
/// times `r`.
pub(crate) fn host_sum(
    pk: &fateflow_crypto::paillier::PublicKey,
    layout: &[(usize, usize, usize)],
    dims: usize,
    cts: &[fateflow_crypto::paillier::Ciphertext],
    r: &fateflow_crypto::Integer,
) -> Result<Vec<fateflow_crypto::paillier::Ciphertext>> {
    let mut acc = vec![fateflow_crypto::paillier::Ciphertext::one(); dims];
    for (ct, &(_, _, d)) in cts.iter().zip(layout) {
        acc[d] = pk.raw_add(&acc[d], ct);
    }
    Ok(acc
        .iter()
        .map(|a| pk.raw_mul(a, r))
        .collect::<std::result::Result<_, _>>()?)
}

/// EINI's mask: a random `r ∈ [1, 2)` as `round(r · 2^16)`, or 1 without masking.
pub(crate) fn eini_mask(mask: bool) -> fateflow_crypto::Integer {
    if mask {
        let x: u64 = rand::random();
        fateflow_crypto::Integer::from((1u64 << MASK_BITS) + (x % (1u64 << MASK_BITS)))
    } else {
        fateflow_crypto::Integer::from(1)
    }
}

/// The raw score of a decrypted EINI sum.
pub(crate) fn eini_decode(
    keys: &fateflow_crypto::paillier::Keypair,
    sum: &fateflow_crypto::paillier::Ciphertext,
    masked: bool,
) -> f64 {
    let bits = EINI_BITS + if masked { MASK_BITS } else { 0 };
    crate::wire::decode_signed(keys.public.n(), &keys.private.decrypt_raw(sum), bits)
}

/// Rows per EINI message.
const EINI_CHUNK: usize = 4096;
/// Fraction bits of EINI's encrypted leaf values.
const EINI_BITS: u32 = 40;
/// The random mask `r ∈ [1, 2)` travels as `round(r · 2^16)`.
const MASK_BITS: u32 = 16;

/// What the guest asks of the hosts in an EINI prediction.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct EiniStart {
    pub(crate) public_key: fateflow_crypto::paillier::PublicKey,
    pub(crate) rows: usize,
    /// Entries per row: for every tree, every leaf, every score dimension it feeds.
    pub(crate) entries: usize,
    /// Score dimensions, and whether every leaf feeds all of them (multi-output).
    pub(crate) dims: usize,
    pub(crate) multi_output: bool,
    pub(crate) random_mask: bool,
}

/// One entry of the EINI vector: tree, leaf position, score dimension.
pub(crate) fn eini_entries(
    trees: &[Tree],
    dims: usize,
    multi_output: bool,
) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (t, tree) in trees.iter().enumerate() {
        for k in 0..tree.leaves().len() {
            if multi_output {
                out.extend((0..dims).map(|d| (t, k, d)));
            } else {
                out.push((t, k, t % dims.max(1)));
            }
        }
    }
    out
}

/// The guest's side of FATE's EINI prediction: per row, it encrypts under a fresh key
/// the contribution of every leaf its own splits allow (`lr·w`, plus the initial score
/// spread over the trees) and zero elsewhere; the hosts in turn keep only the leaves
/// their splits allow, the last one sums per score dimension (times a random factor in
/// `[1, 2)` with `random_mask`), and the guest decrypts the raw scores. The guest never
/// learns which leaf a row reached, nor a host anything. Returns raw scores, row-major.
#[allow(clippy::too_many_arguments)]
pub(crate) fn guest_eini(
    fed: &dyn Federation,
    hosts: &[Party],
    tag: &str,
    trees: &[Tree],
    data: &Dataset,
    init: &[f64],
    lr: f64,
    multi_output: bool,
    key_length: u32,
    random_mask: bool,
) -> Result<Vec<f64>> {
    use fateflow_crypto::paillier::{Encryptor, Keypair};
    let dims = init.len().max(1);
    let keys = Keypair::generate(key_length)?;
    let entries = eini_entries(trees, dims, multi_output);
    let per_dim_trees = if multi_output {
        trees.len().max(1)
    } else {
        (trees.len() / dims).max(1)
    };
    let leaves: Vec<Vec<usize>> = trees.iter().map(Tree::leaves).collect();
    let start = EiniStart {
        public_key: keys.public.clone(),
        rows: data.n(),
        entries: entries.len(),
        dims,
        multi_output,
        random_mask,
    };
    fed.remote("sbt_eini", tag, &start, &hosts[..1])?;
    let n = keys.public.n().clone();
    let mut out = Vec::with_capacity(data.n() * dims);
    let (offsets, per_row) = set_offsets(trees);
    let layout = EiniLayout {
        trees,
        leaves: &leaves,
        entries: &entries,
        offsets: &offsets,
        multi_output,
    };
    for (c, first) in (0..data.n()).step_by(EINI_CHUNK).enumerate() {
        let end = (first + EINI_CHUNK).min(data.n());
        let sets = leaf_sets(trees, Owner::Guest, data, first..end);
        let mut plain = Vec::with_capacity((end - first) * entries.len());
        for row in sets.chunks(per_row.max(1)) {
            plain.extend(layout.guest_plain(row, lr, init, per_dim_trees, &n)?);
        }
        keys.public.prepare_obfuscators(plain.len());
        let cts = keys.private.encrypt_raw_batch(&plain)?;
        let ctag = format!("{tag}.{c}");
        fed.remote_bytes(
            "sbt_eini_vec",
            &ctag,
            &crate::wire::encode_ciphers(&cts),
            &hosts[..1],
        )?;
        let last = *hosts.last().unwrap_or(&hosts[0]);
        let masked: bool = fed.get("sbt_eini_masked", &ctag, last)?;
        let bytes = fed.get_bytes("sbt_eini_sum", &ctag, last)?;
        let sums = crate::wire::decode_ciphers("sbt_eini_sum", last, &keys.public, &bytes)?;
        if sums.len() != (end - first) * dims {
            return Err(protocol(last, "EINI sums for another number of rows"));
        }
        for s in &sums {
            out.push(eini_decode(&keys, s, masked));
        }
    }
    Ok(out)
}

/// A host's side of EINI prediction (see [`guest_eini`]): `me` is its position in the
/// job's hosts; the first receives from the guest, each passes to the next, the last
/// returns the sums to the guest.
#[allow(clippy::too_many_arguments)]
pub(crate) fn host_eini(
    fed: &dyn Federation,
    guest: Party,
    hosts: &[Party],
    me: usize,
    tag: &str,
    trees: &[Tree],
    data: &Dataset,
    random_mask: bool,
) -> Result<()> {
    use fateflow_crypto::paillier::Ciphertext;
    let from = if me == 0 { guest } else { hosts[me - 1] };
    let start: EiniStart = fed.get("sbt_eini", tag, from)?;
    if start.rows != data.n() {
        return Err(protocol(from, "an EINI request for another number of rows"));
    }
    let last = me + 1 == hosts.len();
    if !last {
        fed.remote("sbt_eini", tag, &start, &hosts[me + 1..me + 2])?;
    }
    let pk = start.public_key.clone();
    let layout = eini_entries(trees, start.dims, start.multi_output);
    if layout.len() != start.entries || start.dims == 0 {
        return Err(protocol(from, "an EINI vector that does not fit the trees"));
    }
    let mask = random_mask || start.random_mask;
    let r = eini_mask(mask);
    for (c, first) in (0..data.n()).step_by(EINI_CHUNK).enumerate() {
        let end = (first + EINI_CHUNK).min(data.n());
        let ctag = format!("{tag}.{c}");
        let bytes = fed.get_bytes("sbt_eini_vec", &ctag, from)?;
        let mut cts = crate::wire::decode_ciphers("sbt_eini_vec", from, &pk, &bytes)?;
        if cts.len() != (end - first) * start.entries {
            return Err(protocol(from, "an EINI vector of the wrong size"));
        }
        let sets = leaf_sets(trees, Owner::Host(me), data, first..end);
        let (offsets, per_row) = set_offsets(trees);
        for (row, set) in sets.chunks(per_row.max(1)).enumerate() {
            host_filter(
                &layout,
                &offsets,
                set,
                &mut cts[row * start.entries..(row + 1) * start.entries],
            );
        }
        if !last {
            fed.remote_bytes(
                "sbt_eini_vec",
                &ctag,
                &crate::wire::encode_ciphers(&cts),
                &hosts[me + 1..me + 2],
            )?;
            continue;
        }
        // The last host: sum per score dimension.
        let mut sums: Vec<Ciphertext> = Vec::with_capacity((end - first) * start.dims);
        for row in 0..(end - first) {
            let slice = &cts[row * start.entries..(row + 1) * start.entries];
            sums.extend(host_sum(&pk, &layout, start.dims, slice, &r)?);
        }
        fed.remote("sbt_eini_masked", &ctag, &mask, &[guest])?;
        fed.remote_bytes(
            "sbt_eini_sum",
            &ctag,
            &crate::wire::encode_ciphers(&sums),
            &[guest],
        )?;
    }
    Ok(())
}

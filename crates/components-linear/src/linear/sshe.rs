//! `HeteroSSHELR` and `HeteroSSHELinR` (spec §23): two-party training without an
//! arbiter, on additive secret shares and each party's own Paillier key.
//!
//! Values in training are fixed-point numbers with [`F`] fraction bits in the ring
//! `Z_2^128`, split into two shares that add up to the value (one per party). A value
//! encrypted under one party's key is turned into shares by the other party adding a
//! random mask before the key owner decrypts it ([`ring::he_mask`]); a party's share
//! is encrypted under its own key when the other party must multiply it by its
//! plaintext data.
//!
//! Per batch (rows `B`, `m = |B|`), with `s_G + s_H = z = X_g·w_g + X_h·w_h`:
//! 1. `z`: with `reveal_every_iter` each party's share is its own `X·w`; otherwise the
//!    weights are shares too (`w_g = a_g + b_g`, the guest holds `a_g` and `b_h`, the
//!    host `b_g` and `a_h`), each party encrypts its shares of the other's weights once
//!    per batch, and the owner of the data computes `[[X·b]]` and turns it into shares.
//! 2. The error, on shares, without encryption: logistic (first-order Taylor sigmoid)
//!    `e = ¼z + ½ − y`, so the guest's share is `¼s_G + ½ − y` and the host's `¼s_H`;
//!    linear `e = z − y`. With sample weights (guest only) `e·w` takes one more
//!    conversion of the host's share.
//! 3. The gradient `Xᵀe/m` of each party's features: the owner's part on its own share
//!    in the clear, the other part `Xᵀ[[e_peer]]` on the peer's encrypted share, turned
//!    into shares; each party ends with a share of both gradients.
//! 4. Update: with `reveal_every_iter` each party learns its own gradient and runs any
//!    optimizer on it (L1 or L2); otherwise SGD or Nesterov momentum (public factors
//!    only) run on the shares, L2 added on the shares.
//! 5. Loss (guest only, FATE's Taylor loss `ln2 + (1/m)·Σ(½z − yz + ⅛z²)` or
//!    `(1/2m)·Σ(z − y)²`): `Σz²` from the local squares and `Σ s_G·[[s_H]]`, revealed to
//!    the guest alone. Without `reveal_every_iter` the L2 term `½α‖w‖²` (all weights,
//!    the intercept included, as FATE) is a shared norm revealed to the guest.
//!
//! Training ends with `respectively` (each party learns its own weights) or
//! `encrypted_reveal_in_host` (the host holds its weights only as ciphertexts under the
//! guest's key; predicting then needs the guest's key, which stays at the guest's site
//! and is never written into a model).
//!
//! Security model: honest-but-curious parties, as FATE's. Masks hide values
//! statistically (40 bits above the largest value masked).

use std::collections::HashMap;
use std::time::Instant;

use fateflow_crypto::paillier::{Ciphertext, Keypair, PublicKey};
use fateflow_crypto::sshare;
use fateflow_crypto::Integer;
use fateflow_domain::Party;
use fateflow_federation::{Federation, FederationExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::{Dataset, Layout};
use super::optimizer::Optimizer;
use super::param::{EarlyStop, LinearParam, OptimizerKind, Penalty, Task};
use super::train::{
    apply_step, converged, host_batches, penalty_value, pipeline_rows, sample_weight_scale,
    scalar_columns, send_batches, Batch, BatchRows, Batches, BestModels, Blocks, EpochVerdict,
    FitResult, Recorder, Run, Step, Validator,
};
use crate::error::{Error, Result};
use crate::wire::{decode_ciphers, encode_ciphers};

/// Fraction bits of every value in the ring.
pub(crate) const F: u32 = 24;
/// Fraction bits of public factors (learning rate, `1/m`, `α`) multiplied into shares.
const P: u32 = 40;
/// Bits of the largest plaintext a masked ciphertext holds: a 128-bit share times a
/// 64-bit scalar, summed over up to 2^32 terms.
const VALUE_BITS: u32 = 128 + 64 + 32;
/// Bits of each of the three limbs a 128-bit scalar is split into for an encrypted dot
/// product (which takes `i64` scalars).
const LIMB: u32 = 43;

/// What the secret-sharing layer (`fateflow_crypto::sshare`) lacks for training:
/// public factors multiplied into shares, and 128-bit scalars as `i64` limbs.
pub(crate) mod ring {
    use fateflow_crypto::sshare::{self, Fixed, Side};

    use crate::error::Result;

    /// `round(x·2^bits)` in the ring.
    pub(crate) fn enc(x: f64, bits: u32) -> Result<u128> {
        Ok(Fixed { frac_bits: bits }.encode(x)?)
    }

    /// The guest is the first party.
    pub(crate) fn side(first: bool) -> Side {
        if first {
            Side::First
        } else {
            Side::Second
        }
    }

    /// A share times the public `c`, truncated back to its scale.
    pub(crate) fn mul_public(share: u128, c: f64, first: bool) -> Result<u128> {
        let k = enc(c, super::P)?;
        Ok(sshare::truncate(
            share.wrapping_mul(k),
            side(first),
            super::P,
        ))
    }

    /// `v` as three `i64` limbs of [`super::LIMB`] bits, low first, so that a 128-bit
    /// scalar column rides in the same lane-parallel dot product as `i64` columns.
    pub(crate) fn limbs(v: u128) -> [i64; 3] {
        let mask = (1u128 << super::LIMB) - 1;
        [
            (v & mask) as i64,
            ((v >> super::LIMB) & mask) as i64,
            (v >> (2 * super::LIMB)) as i64,
        ]
    }
}

/// The two parties of a session and their keys.
struct Session<'s> {
    run: &'s Run<'s>,
    fed: &'s dyn Federation,
    peer: Party,
    /// The guest is the first party (its truncation rounds down).
    first: bool,
    own: Keypair,
    theirs: PublicKey,
    /// Bytes of shares and ciphertexts sent so far (for the epoch's log line).
    sent: std::sync::atomic::AtomicU64,
}

impl Session<'_> {
    fn send_bytes(&self, name: &str, tag: &str, bytes: &[u8]) -> Result<()> {
        self.sent
            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(self.fed.remote_bytes(name, tag, bytes, &[self.peer])?)
    }

    /// Bytes sent since the last call.
    fn take_sent(&self) -> u64 {
        self.sent.swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    fn send_u128(&self, name: &str, tag: &str, values: &[u128]) -> Result<()> {
        let mut bytes = Vec::with_capacity(values.len() * 16);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.send_bytes(name, tag, &bytes)
    }

    fn get_u128(&self, name: &str, tag: &str, len: usize) -> Result<Vec<u128>> {
        let bytes = self.fed.get_bytes(name, tag, self.peer)?;
        if bytes.len() != len * 16 {
            return Err(self.bad(name, format!("{} bytes for {len} shares", bytes.len())));
        }
        Ok(bytes
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().unwrap_or([0; 16])))
            .collect())
    }

    fn bad(&self, name: &str, detail: String) -> Error {
        Error::Federation(fateflow_federation::Error::Decode {
            name: name.into(),
            from: self.peer,
            detail,
        })
    }

    /// Encrypts our shares under our key and sends them.
    fn send_encrypted(&self, name: &str, tag: &str, shares: &[u128]) -> Result<()> {
        let cts = sshare::he::encrypt_shares(&self.own.private, shares)?;
        self.send_bytes(name, tag, &encode_ciphers(&cts))
    }

    /// The peer's shares, encrypted under its key.
    fn get_encrypted(&self, name: &str, tag: &str, len: usize) -> Result<Vec<Ciphertext>> {
        let bytes = self.fed.get_bytes(name, tag, self.peer)?;
        let cts = decode_ciphers(name, self.peer, &self.theirs, &bytes)?;
        if cts.len() != len {
            return Err(self.bad(name, format!("{} ciphertexts, expected {len}", cts.len())));
        }
        Ok(cts)
    }

    /// Turns ciphertexts under the peer's key into shares: masks and re-randomizes them,
    /// sends them to the peer (who runs [`Session::open_masked`]) and returns our shares.
    fn mask_and_send(&self, name: &str, tag: &str, cts: &[Ciphertext]) -> Result<Vec<u128>> {
        let (keep, masked) = sshare::he::mask_to_shares(&self.theirs, cts, VALUE_BITS)?;
        self.send_bytes(name, tag, &encode_ciphers(&masked))?;
        Ok(keep)
    }

    /// Our shares of what the peer masked under our key.
    fn open_masked(&self, name: &str, tag: &str, len: usize) -> Result<Vec<u128>> {
        let bytes = self.fed.get_bytes(name, tag, self.peer)?;
        let cts = decode_ciphers(name, self.peer, &self.own.public, &bytes)?;
        if cts.len() != len {
            return Err(self.bad(name, format!("{} ciphertexts, expected {len}", cts.len())));
        }
        Ok(sshare::he::decrypt_to_shares(&self.own.private, &cts)?)
    }

    /// Reveals shared values to both parties.
    fn reveal_both(&self, name: &str, tag: &str, shares: &[u128]) -> Result<Vec<u128>> {
        self.send_u128(name, tag, shares)?;
        let theirs = self.get_u128(name, tag, shares.len())?;
        Ok(shares
            .iter()
            .zip(theirs)
            .map(|(a, b)| a.wrapping_add(b))
            .collect())
    }

    /// `Σ (u_i + v_i)²` for our vector `u` and the peer's `v` (same length), shared at
    /// `2F` bits: our squares, and twice the cross product on the peer's encrypted
    /// vector (the second party encrypts, the first multiplies).
    fn shared_square_norm(&self, tag: &str, u: &[u128]) -> Result<u128> {
        let own = u
            .iter()
            .fold(0u128, |acc, &x| acc.wrapping_add(x.wrapping_mul(x)));
        let cross = if self.first {
            let theirs = self.get_encrypted("norm_vec", tag, u.len())?;
            let mut acc: Option<Ciphertext> = None;
            for (c, &x) in theirs.iter().zip(u) {
                let t = self.theirs.raw_mul(c, &Integer::from(x))?;
                acc = Some(match acc {
                    None => t,
                    Some(a) => self.theirs.raw_add(&a, &t),
                });
            }
            let acc = acc.unwrap_or_else(Ciphertext::one);
            self.mask_and_send("norm_cross", tag, &[acc])?[0]
        } else {
            self.send_encrypted("norm_vec", tag, u)?;
            self.open_masked("norm_cross", tag, 1)?[0]
        };
        Ok(own.wrapping_add(cross.wrapping_mul(2)))
    }
}

/// Weights in shares: this party's share of its own weights and of the peer's.
#[derive(Debug, Clone)]
struct Shares {
    own: Vec<u128>,
    peer: Vec<u128>,
}

/// Share-optimizer state (SGD or Nesterov momentum on shares).
#[derive(Debug, Clone, Default)]
struct ShareMomentum {
    own: Vec<u128>,
    peer: Vec<u128>,
}

/// Per-batch gradient shares, scale `F`.
struct GradShares {
    own: Vec<u128>,
    peer: Vec<u128>,
}

/// What the guest needs from a run beyond [`FitResult`]: nothing yet.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Setup {
    /// Rows per block of the batches.
    block_rows: usize,
    /// Features of the guest's weight vector (with its intercept).
    guest_k: usize,
    /// Sample weights: the host converts its error share once more per block.
    weighted: bool,
}

/// The guest's end-of-epoch broadcast.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct EpochEnd {
    converged: bool,
    by_loss: bool,
    loss: Option<f64>,
}

fn check_len(what: &str, got: usize, want: usize, from: Party) -> Result<()> {
    if got != want {
        return Err(Error::param(
            what,
            format!("{from} sent {got} values, expected {want}"),
        ));
    }
    Ok(())
}

/// Splits our starting weights: we keep `enc(w) − r` and the peer gets `r`; returns
/// our share of our weights and our share of the peer's.
fn share_weights(s: &Session<'_>, tag: &str, w: &[f64], peer_k: usize) -> Result<Shares> {
    let mut own = Vec::with_capacity(w.len());
    let mut send = Vec::with_capacity(w.len());
    for &x in w {
        let (keep, r) = sshare::split(ring::enc(x, F)?);
        own.push(keep);
        send.push(r);
    }
    s.send_u128("w_share", tag, &send)?;
    let peer = s.get_u128("w_share", tag, peer_k)?;
    Ok(Shares { own, peer })
}

/// `Σ_j x_ij·w_j` in the ring (scale `2F` for `x` and `w` at `F`), per row.
fn local_products(cols: &[Vec<i64>], w: &[u128], rows: usize) -> Vec<u128> {
    (0..rows)
        .into_par_iter()
        .map(|i| {
            cols.iter().zip(w).fold(0u128, |acc, (c, &wj)| {
                acc.wrapping_add((c[i] as i128 as u128).wrapping_mul(wj))
            })
        })
        .collect()
}

/// `Σ_i x_ij·e_i` per column, in the ring.
fn local_gradient(cols: &[Vec<i64>], e: &[u128]) -> Vec<u128> {
    cols.par_iter()
        .map(|c| {
            c.iter().zip(e).fold(0u128, |acc, (&x, &ei)| {
                acc.wrapping_add((x as i128 as u128).wrapping_mul(ei))
            })
        })
        .collect()
}

/// `[[Σ_j x_ij·b_j]]` per row `i` for a few ciphertexts `[[b_j]]` (the peer's shares, or
/// a host's encrypted weights): fixed-base windows. Each base's powers `b^(d·2^(8t))`
/// are tabled once, every exponent is offset to be non-negative, and a row then costs
/// one multiplication per base and 8-bit digit (a sixth of a bucket product's).
pub(crate) fn encrypted_products(
    pk: &PublicKey,
    cts: &[Ciphertext],
    cols: &[Vec<i64>],
    rows: usize,
) -> Result<Vec<Ciphertext>> {
    const W: u32 = 8;
    let n2 = pk.n_squared();
    let max = cols
        .iter()
        .flat_map(|c| c.iter().take(rows))
        .map(|x| x.unsigned_abs())
        .max()
        .unwrap_or(0);
    let bits = 64 - max.leading_zeros() + 1;
    let offset: u64 = 1 << (bits - 1);
    let windows = bits.div_ceil(W) as usize;
    // tables[j][t][d] = b_j^(d·2^(8t)), d in 0..256.
    let tables: Vec<Vec<Vec<Integer>>> = cts
        .par_iter()
        .map(|c| {
            let mut base = c.as_integer().clone();
            let mut per_window = Vec::with_capacity(windows);
            for _ in 0..windows {
                let mut row = Vec::with_capacity(1 << W);
                row.push(Integer::from(1));
                for d in 1..(1usize << W) {
                    let next = Integer::from(&row[d - 1] * &base) % n2;
                    row.push(next);
                }
                base = Integer::from(&row[(1 << W) - 1] * &base) % n2;
                per_window.push(row);
            }
            per_window
        })
        .collect();
    // The offset's part: (Π b_j)^(−offset).
    let correction = pk.raw_neg(&pk.raw_mul(&pk.raw_sum(cts), &Integer::from(offset))?)?;
    (0..rows)
        .into_par_iter()
        .map(|i| {
            let mut acc = correction.as_integer().clone();
            for (j, c) in cols.iter().enumerate() {
                let e = (c[i] as i128 + offset as i128) as u64;
                for (t, table) in tables[j].iter().enumerate() {
                    let d = ((e >> (W as usize * t)) & 0xff) as usize;
                    if d != 0 {
                        acc *= &table[d];
                        acc %= n2;
                    }
                }
            }
            Ok(Ciphertext::from_integer(acc))
        })
        .collect()
}

/// Adds ciphertext vectors elementwise into `acc`.
fn add_cts(pk: &PublicKey, acc: &mut Option<Vec<Ciphertext>>, add: Vec<Ciphertext>) -> Result<()> {
    *acc = Some(match acc.take() {
        None => add,
        Some(prev) => pk.raw_add_batch(&prev, &add)?,
    });
    Ok(())
}

/// `Π c_l^(2^(l·LIMB))`: recombines the limbs' dot products of a 128-bit scalar column.
fn combine_limbs(pk: &PublicKey, limbs: &[Ciphertext]) -> Result<Ciphertext> {
    let mut acc = limbs[0].clone();
    for (l, c) in limbs.iter().enumerate().skip(1) {
        let t = pk.raw_mul(c, &(Integer::from(1) << (l as u32 * LIMB)))?;
        acc = pk.raw_add(&acc, &t);
    }
    Ok(acc)
}

fn vec_add(a: &[u128], b: &[u128]) -> Vec<u128> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_add(*y)).collect()
}

fn vec_sub(a: &[u128], b: &[u128]) -> Vec<u128> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y)).collect()
}

/// Applies one step on shares: `g += α·w` (L2), then SGD or Nesterov momentum.
fn share_step(
    run: &Run<'_>,
    first: bool,
    w: &mut [u128],
    g: &[u128],
    momentum: &mut Vec<u128>,
    lr: f64,
) -> Result<()> {
    let param = run.param;
    let mut g = g.to_vec();
    if param.penalty == Penalty::L2 {
        for (gj, &wj) in g.iter_mut().zip(w.iter()) {
            *gj = gj.wrapping_add(ring::mul_public(wj, param.alpha, first)?);
        }
    }
    match param.optimizer {
        OptimizerKind::Nesterov => {
            if momentum.len() != g.len() {
                *momentum = vec![0; g.len()];
            }
            let mu = 0.9;
            for ((wj, gj), mj) in w.iter_mut().zip(&g).zip(momentum.iter_mut()) {
                // v = μ·m − lr·g; Δ = μ·m − (1+μ)·v; m = v.
                let v = ring::mul_public(*mj, mu, first)?
                    .wrapping_sub(ring::mul_public(*gj, lr, first)?);
                let d = ring::mul_public(*mj, mu, first)?.wrapping_sub(ring::mul_public(
                    v,
                    1.0 + mu,
                    first,
                )?);
                *mj = v;
                *wj = wj.wrapping_sub(d);
            }
        }
        _ => {
            for (wj, gj) in w.iter_mut().zip(&g) {
                *wj = wj.wrapping_sub(ring::mul_public(*gj, lr, first)?);
            }
        }
    }
    Ok(())
}

/// The error's fraction bits: the logistic error is `¼z` on the shares of `z`.
fn error_bits(task: Task) -> u32 {
    match task {
        Task::Logistic => F + 2,
        _ => F,
    }
}

/// Both parties' work on one batch; returns this party's gradient shares and, at the
/// guest, its share of the loss sum (scale `2F`, times 8 for LR).
#[allow(clippy::too_many_arguments)]
fn batch(
    s: &Session<'_>,
    data: &Dataset,
    batch: &Batch,
    setup: &Setup,
    w: &Shares,
    reveal_w: Option<&[f64]>,
    tag: &str,
    weight_scale: Option<f64>,
) -> Result<(GradShares, Option<u128>)> {
    let run = s.run;
    let task = run.task;
    let guest = s.first;
    let intercept = guest && run.param.fit_intercept;
    let k_own = w.own.len();
    let k_peer = w.peer.len();
    let m = batch.len();
    // Not revealed: our shares of the peer's weights, encrypted under our key, for the
    // peer's `X·b`.
    let peer_w_cts = if reveal_w.is_none() {
        s.send_encrypted("w_peer", tag, &w.peer)?;
        Some(s.get_encrypted("w_peer", tag, k_own)?)
    } else {
        None
    };
    let blocks = Blocks::new(batch, setup.block_rows);
    let mut grad_loc = vec![0u128; k_own];
    let mut grad_cross: Option<Vec<Ciphertext>> = None;
    let mut loss_loc = 0u128;
    let mut loss_cross: Option<Vec<Ciphertext>> = None;
    for j in 0..blocks.len() {
        let rows = blocks.get(j);
        let btag = format!("{tag}.{j}");
        let r = rows.len();
        let x = data.block(&rows)?;
        let cols = scalar_columns(data, &rows, &x, F, intercept)?;
        // 1. Shares of z at F bits.
        let z: Vec<u128> = match reveal_w {
            Some(wf) => super::train::linear(&x, wf, intercept)
                .into_iter()
                .map(|v| ring::enc(v, F))
                .collect::<Result<_>>()?,
            None => {
                let local = local_products(&cols, &w.own, r);
                let mine =
                    encrypted_products(&s.theirs, peer_w_cts.as_deref().unwrap_or(&[]), &cols, r)?;
                let keep = s.mask_and_send("z_cross", &btag, &mine)?;
                let opened = s.open_masked("z_cross", &btag, r)?;
                local
                    .iter()
                    .zip(keep.iter().zip(&opened))
                    .map(|(l, (a, b))| {
                        sshare::truncate(l.wrapping_add(*a).wrapping_add(*b), ring::side(guest), F)
                    })
                    .collect()
            }
        };
        if guest {
            let y =
                x.y.as_ref()
                    .ok_or_else(|| Error::param("label", "no label"))?;
            let zh = s.get_encrypted("z_host", &btag, r)?;
            // The guest's error share at `eb` bits.
            let mut e: Vec<u128> = z
                .iter()
                .zip(y)
                .map(|(&zi, &yi)| match task {
                    Task::Logistic => zi
                        .wrapping_add(1u128 << (F + 1))
                        .wrapping_sub(((yi as i128) << (F + 2)) as u128),
                    _ => zi.wrapping_sub(ring::enc(yi, F).unwrap_or(0)),
                })
                .collect();
            // Loss: Σ(1−2y)·z and Σz² (LR) or Σ(z−y)² (LinR): locally, and the cross
            // terms on [[s_H]] with 128-bit scalars as three limbs.
            let sq: Vec<u128> = match task {
                Task::Logistic => z.clone(),
                _ => e.clone(),
            };
            let mut loss_cols: Vec<Vec<i64>> = (0..3).map(|_| Vec::with_capacity(r)).collect();
            for (i, &v) in sq.iter().enumerate() {
                loss_loc = loss_loc.wrapping_add(v.wrapping_mul(v));
                for (l, limb) in ring::limbs(v).into_iter().enumerate() {
                    loss_cols[l].push(limb);
                }
                if task == Task::Logistic {
                    let c = 1 - 2 * (y[i] as i128);
                    loss_loc = loss_loc.wrapping_add((c as u128).wrapping_mul(v) << (F + 2));
                }
            }
            if task == Task::Logistic {
                loss_cols.push(y.iter().map(|&yi| 1 - 2 * yi as i64).collect());
            }
            // Sample weights: e·w, the host's share converted once more.
            let eh = match weight_scale {
                Some(scale) => {
                    let wv = x.w.as_ref().ok_or_else(|| Error::param("weight", "none"))?;
                    let wi: Vec<i64> = wv
                        .iter()
                        .map(|&v| (v * scale * 2f64.powi(F as i32)).round() as i64)
                        .collect();
                    let cross: Vec<Ciphertext> = zh
                        .par_iter()
                        .zip(&wi)
                        .map(|(c, &k)| Ok(s.theirs.raw_dot_i64(std::slice::from_ref(c), &[k])?))
                        .collect::<Result<_>>()?;
                    let keep = s.mask_and_send("e_weight", &btag, &cross)?;
                    for ((ei, &k), kp) in e.iter_mut().zip(&wi).zip(&keep) {
                        *ei = sshare::truncate(
                            ei.wrapping_mul(k as i128 as u128).wrapping_add(*kp),
                            sshare::Side::First,
                            F,
                        );
                    }
                    Some(s.get_encrypted("e_host", &btag, r)?)
                }
                None => None,
            };
            // Gradient of our features: locally on our share, on [[e_H]] for the rest;
            // the loss's cross columns ride along when they multiply the same vector.
            grad_loc = vec_add(&grad_loc, &local_gradient(&cols, &e));
            match &eh {
                None => {
                    let mut all_cols = cols.clone();
                    all_cols.extend(loss_cols);
                    let mut dots = s.theirs.raw_dot_columns(&zh, &all_cols)?;
                    let loss_dots = dots.split_off(cols.len());
                    add_cts(&s.theirs, &mut grad_cross, dots)?;
                    add_cts(&s.theirs, &mut loss_cross, loss_dots)?;
                }
                Some(eh) => {
                    let dots = s.theirs.raw_dot_columns(eh, &cols)?;
                    add_cts(&s.theirs, &mut grad_cross, dots)?;
                    let loss_dots = s.theirs.raw_dot_columns(&zh, &loss_cols)?;
                    add_cts(&s.theirs, &mut loss_cross, loss_dots)?;
                }
            }
            // The host's gradient needs our error share, encrypted.
            s.send_encrypted("e_guest", &btag, &e)?;
        } else {
            s.send_encrypted("z_host", &btag, &z)?;
            let mut e = z.clone();
            if weight_scale.is_some() || setup.weighted {
                let opened = s.open_masked("e_weight", &btag, r)?;
                e = e
                    .iter()
                    .zip(&opened)
                    .map(|(_, &o)| sshare::truncate(o, ring::side(false), F))
                    .collect();
                s.send_encrypted("e_host", &btag, &e)?;
            }
            for &v in &z {
                loss_loc = loss_loc.wrapping_add(v.wrapping_mul(v));
            }
            let eg = s.get_encrypted("e_guest", &btag, r)?;
            grad_loc = vec_add(&grad_loc, &local_gradient(&cols, &e));
            let dots = s.theirs.raw_dot_columns(&eg, &cols)?;
            add_cts(&s.theirs, &mut grad_cross, dots)?;
        }
    }
    // Gradient cross terms into shares: ours of our gradient, and the peer's.
    let keep = s.mask_and_send("grad_cross", tag, grad_cross.as_deref().unwrap_or(&[]))?;
    let opened = s.open_masked("grad_cross", tag, k_peer)?;
    check_len("grad_cross", keep.len(), k_own, s.peer)?;
    let eb = error_bits(task);
    let scale = |v: u128| -> Result<u128> {
        ring::mul_public(
            sshare::truncate(v, ring::side(guest), eb),
            1.0 / m as f64,
            guest,
        )
    };
    let own = vec_add(&grad_loc, &keep)
        .into_iter()
        .map(scale)
        .collect::<Result<Vec<_>>>()?;
    let peer = opened.into_iter().map(scale).collect::<Result<Vec<_>>>()?;
    // The loss (guest's share; the host's local part is added by the host's share).
    let loss = if guest {
        let cross = match loss_cross {
            Some(c) if !c.is_empty() => {
                let mut t = combine_limbs(&s.theirs, &c[..3])?;
                t = s.theirs.raw_mul(&t, &Integer::from(2))?;
                if task == Task::Logistic {
                    let c1 = s.theirs.raw_mul(&c[3], &(Integer::from(1) << (F + 2)))?;
                    t = s.theirs.raw_add(&t, &c1);
                }
                t
            }
            _ => Ciphertext::one(),
        };
        let keep = s.mask_and_send("loss_cross", tag, &[cross])?[0];
        let host = s.get_u128("loss_share", tag, 1)?[0];
        Some(loss_loc.wrapping_add(keep).wrapping_add(host))
    } else {
        let opened = s.open_masked("loss_cross", tag, 1)?[0];
        s.send_u128("loss_share", tag, &[opened.wrapping_add(loss_loc)])?;
        None
    };
    Ok((GradShares { own, peer }, loss))
}

/// The guest's side of SSHE training.
pub(crate) fn fit_guest(
    run: &Run<'_>,
    data: &Dataset,
    validator: Option<&mut Validator<'_>>,
) -> Result<FitResult> {
    let param = run.param;
    let sshe = param
        .sshe
        .ok_or_else(|| Error::param("module", "not an SSHE model"))?;
    let fed = run.fed()?;
    let host = single_host(run)?;
    if !data.has_label() {
        return Err(Error::MissingColumn {
            table: data.table.clone(),
            column: "label".into(),
            why: format!("{} trains on the guest's labels", param.module(run.task)),
        });
    }
    let k = data.k + usize::from(param.fit_intercept);
    let (start, mut wf) = run_start(run, k)?;
    let mut batcher = Batches::new(param, data.n());
    let init_tag = run.tag(&[]);
    fed.remote("layout", &init_tag, &Layout::of(data)?, &[host])?;
    let aligned: bool = fed.get("aligned", &init_tag, host)?;
    let announced: &[Batch] = match &batcher {
        Batches::Fixed(b) => b,
        _ => &[],
    };
    send_batches(run, &init_tag, data, announced, &[aligned])?;
    let weight_scale = sample_weight_scale(run, data)?;
    let setup = Setup {
        block_rows: pipeline_rows(run.ctx.memory, param.key_length),
        guest_k: k,
        weighted: weight_scale.is_some(),
    };
    fed.remote("setup", &init_tag, &setup, &[host])?;
    let session = keys(run, host, true, &init_tag)?;
    let host_k: usize = fed.get("host_k", &init_tag, host)?;
    let mut shares = match sshe.reveal_every_iter {
        true => Shares {
            own: Vec::new(),
            peer: Vec::new(),
        },
        false => share_weights(&session, &init_tag, &wf, host_k)?,
    };
    let mut optimizer = Optimizer::new(
        param.optimizer,
        param.learning_rate,
        param.decay,
        param.decay_sqrt,
    );
    let mut momentum = ShareMomentum::default();
    let mut result = FitResult {
        iters: start,
        ..FitResult::default()
    };
    let mut best = BestModels::default();
    let mut recorder = Recorder::default();
    let mut validator = validator;
    for epoch in start..param.max_iter {
        let started = Instant::now();
        optimizer.set_iters(epoch);
        let lr = optimizer.current_lr();
        let per_epoch = batcher.per_epoch();
        let batches = batcher.next_epoch().into_owned();
        if per_epoch {
            send_batches(run, &run.tag(&[epoch]), data, &batches, &[aligned])?;
        }
        let epoch_start_shares = shares.clone();
        let mut moved = vec![0.0; k];
        let mut loss_sum = 0.0;
        for (bi, b) in batches.iter().enumerate() {
            let tag = run.tag(&[epoch, bi]);
            if sshe.reveal_every_iter {
                shares.own = wf.iter().map(|&v| ring::enc(v, F)).collect::<Result<_>>()?;
                shares.peer = vec![0; host_k];
            }
            let reveal = sshe.reveal_every_iter.then_some(&wf[..]);
            let (g, loss) = batch(
                &session,
                data,
                b,
                &setup,
                &shares,
                reveal,
                &tag,
                weight_scale,
            )?;
            let mut batch_loss = loss_value(run.task, loss.unwrap_or(0), b.len());
            if sshe.reveal_every_iter {
                session.send_u128("grad_peer", &tag, &g.peer)?;
                let theirs = session.get_u128("grad_peer", &tag, k)?;
                batch_loss += penalty_value(param, &wf[..data.k]);
                reveal_step(
                    param,
                    &mut optimizer,
                    &mut wf,
                    data.k,
                    &g.own,
                    &theirs,
                    &mut moved,
                );
            } else {
                if param.penalty == Penalty::L2 {
                    let u = [shares.own.clone(), shares.peer.clone()].concat();
                    let norm = session.shared_square_norm(&format!("{tag}.l2"), &u)?;
                    let host_part = session.get_u128("l2_share", &tag, 1)?[0];
                    batch_loss +=
                        0.5 * param.alpha * sshare::decode_at(norm.wrapping_add(host_part), 2 * F);
                }
                share_step(run, true, &mut shares.own, &g.own, &mut momentum.own, lr)?;
                share_step(run, true, &mut shares.peer, &g.peer, &mut momentum.peer, lr)?;
            }
            loss_sum += batch_loss * b.len() as f64;
        }
        let loss = loss_sum / data.n() as f64;
        let epoch_tag = run.tag(&[epoch]);
        // Validation and early stopping (reveal_every_iter only).
        let mut verdict = EpochVerdict::default();
        if let Some(v) = validator
            .as_mut()
            .filter(|_| param.callbacks.validates_at(epoch))
        {
            let eval = v(run.ctx, &run.tag(&[epoch, usize::MAX]), epoch, &wf)?;
            if let Some(rounds) = param.callbacks.early_stopping() {
                let watched: &[(&str, f64)] = match param.callbacks.use_first_metric_only {
                    true => &eval[..eval.len().min(1)],
                    false => &eval,
                };
                verdict = recorder.update(watched, rounds);
                best.update(&verdict, epoch, &wf);
            }
        }
        fed.remote("verdict", &epoch_tag, &verdict, &[host])?;
        let norm = if param.early_stop == EarlyStop::WeightDiff {
            if sshe.reveal_every_iter {
                let host_moved: f64 = fed.get("weight_diff", &epoch_tag, host)?;
                (moved.iter().map(|m| m * m).sum::<f64>() + host_moved).sqrt()
            } else {
                let d = [
                    vec_sub(&shares.own, &epoch_start_shares.own),
                    vec_sub(&shares.peer, &epoch_start_shares.peer),
                ]
                .concat();
                let sq = session.shared_square_norm(&format!("{epoch_tag}.wd"), &d)?;
                let both = session.reveal_both("weight_diff", &epoch_tag, &[sq])?[0];
                sshare::decode_at(both, 2 * F).max(0.0).sqrt()
            }
        } else {
            f64::INFINITY
        };
        let by_loss = converged(param, Some(loss), result.loss_history.last().copied(), norm);
        let end = EpochEnd {
            converged: verdict.stop || by_loss,
            by_loss,
            loss: Some(loss),
        };
        fed.remote("epoch_end", &epoch_tag, &end, &[host])?;
        run.record_loss(&mut result.loss_history, epoch, loss)?;
        run.ctx.tracker.info(&format!(
            "epoch {epoch}: loss {loss:.6}{} ({:.2} s, sent {:.2} MB)",
            if norm.is_finite() {
                format!(", weight diff {norm:.6}")
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64(),
            session.take_sent() as f64 / 1e6
        ));
        run.progress(epoch);
        result.iters = epoch + 1;
        if end.converged {
            result.converged = by_loss;
            break;
        }
    }
    if !sshe.reveal_every_iter {
        wf = reveal_final(
            &session,
            &run.tag(&[usize::MAX]),
            &shares,
            sshe.encrypted_reveal_in_host,
            &mut result,
        )?;
    }
    best.restore(param, &mut result, wf);
    Ok(result)
}

/// The host's side of SSHE training.
pub(crate) fn fit_host(run: &Run<'_>, data: &Dataset) -> Result<FitResult> {
    let param = run.param;
    let sshe = param
        .sshe
        .ok_or_else(|| Error::param("module", "not an SSHE model"))?;
    let fed = run.fed()?;
    let guest = run.roles.guest;
    let init_tag = run.tag(&[]);
    let layout: Layout = fed.get("layout", &init_tag, guest)?;
    let aligned = layout.matches(data)?;
    fed.remote("aligned", &init_tag, &aligned, &[guest])?;
    let announced: BatchRows = fed.get("batches", &init_tag, guest)?;
    let mut index: Option<HashMap<String, usize>> = None;
    let fixed = host_batches(data, &mut index, announced)?;
    let per_epoch = fixed.is_empty();
    let setup: Setup = fed.get("setup", &init_tag, guest)?;
    if setup.block_rows == 0 {
        return Err(Error::param(
            "block_rows",
            format!("{guest} sent blocks of 0 rows"),
        ));
    }
    let session = keys(run, guest, false, &init_tag)?;
    let k = data.k;
    fed.remote("host_k", &init_tag, &k, &[guest])?;
    let (start, mut wf) = run_start(run, k)?;
    let mut shares = match sshe.reveal_every_iter {
        true => Shares {
            own: Vec::new(),
            peer: Vec::new(),
        },
        false => share_weights(&session, &init_tag, &wf, setup.guest_k)?,
    };
    let mut optimizer = Optimizer::new(
        param.optimizer,
        param.learning_rate,
        param.decay,
        param.decay_sqrt,
    );
    let mut momentum = ShareMomentum::default();
    let mut result = FitResult {
        iters: start,
        ..FitResult::default()
    };
    let mut best = BestModels::default();
    for epoch in start..param.max_iter {
        let started = Instant::now();
        optimizer.set_iters(epoch);
        let lr = optimizer.current_lr();
        let drawn;
        let batches: &[Batch] = if per_epoch {
            let rows: BatchRows = fed.get("batches", &run.tag(&[epoch]), guest)?;
            drawn = host_batches(data, &mut index, rows)?;
            &drawn
        } else {
            &fixed
        };
        let epoch_start_shares = shares.clone();
        let mut moved = vec![0.0; k];
        for (bi, b) in batches.iter().enumerate() {
            let tag = run.tag(&[epoch, bi]);
            if sshe.reveal_every_iter {
                shares.own = wf.iter().map(|&v| ring::enc(v, F)).collect::<Result<_>>()?;
                shares.peer = vec![0; setup.guest_k];
            }
            let reveal = sshe.reveal_every_iter.then_some(&wf[..]);
            let (g, _) = batch(&session, data, b, &setup, &shares, reveal, &tag, None)?;
            if sshe.reveal_every_iter {
                let theirs = session.get_u128("grad_peer", &tag, k)?;
                session.send_u128("grad_peer", &tag, &g.peer)?;
                reveal_step(
                    param,
                    &mut optimizer,
                    &mut wf,
                    k,
                    &g.own,
                    &theirs,
                    &mut moved,
                );
            } else {
                if param.penalty == Penalty::L2 {
                    // Aligned with the guest's [own (guest's), peer (host's)] order.
                    let u = [shares.peer.clone(), shares.own.clone()].concat();
                    let norm = session.shared_square_norm(&format!("{tag}.l2"), &u)?;
                    session.send_u128("l2_share", &tag, &[norm])?;
                }
                share_step(run, false, &mut shares.own, &g.own, &mut momentum.own, lr)?;
                share_step(
                    run,
                    false,
                    &mut shares.peer,
                    &g.peer,
                    &mut momentum.peer,
                    lr,
                )?;
            }
        }
        let epoch_tag = run.tag(&[epoch]);
        if param.callbacks.validates_at(epoch) {
            super::train::serve_validation(run, data, &wf, epoch)?;
        }
        let verdict: EpochVerdict = fed.get("verdict", &epoch_tag, guest)?;
        best.update(&verdict, epoch, &wf);
        if param.early_stop == EarlyStop::WeightDiff {
            if sshe.reveal_every_iter {
                fed.remote(
                    "weight_diff",
                    &epoch_tag,
                    &moved.iter().map(|m| m * m).sum::<f64>(),
                    &[guest],
                )?;
            } else {
                let d = [
                    vec_sub(&shares.peer, &epoch_start_shares.peer),
                    vec_sub(&shares.own, &epoch_start_shares.own),
                ]
                .concat();
                let sq = session.shared_square_norm(&format!("{epoch_tag}.wd"), &d)?;
                session.reveal_both("weight_diff", &epoch_tag, &[sq])?;
            }
        }
        let end: EpochEnd = fed.get("epoch_end", &epoch_tag, guest)?;
        if let Some(loss) = end.loss {
            result.loss_history.push(loss);
        }
        run.progress(epoch);
        run.ctx.tracker.info(&format!(
            "epoch {epoch} done ({:.2} s, sent {:.2} MB)",
            started.elapsed().as_secs_f64(),
            session.take_sent() as f64 / 1e6
        ));
        result.iters = epoch + 1;
        if end.converged {
            result.converged = end.by_loss;
            break;
        }
    }
    if !sshe.reveal_every_iter {
        wf = reveal_final(
            &session,
            &run.tag(&[usize::MAX]),
            &shares,
            sshe.encrypted_reveal_in_host,
            &mut result,
        )?;
    }
    best.restore(param, &mut result, wf);
    Ok(result)
}

/// The batch's loss from the revealed sum at `2F` bits: FATE's Taylor loss or half the
/// mean squared error.
fn loss_value(task: Task, sum: u128, m: usize) -> f64 {
    let total = sshare::decode_at(sum, 2 * F);
    match task {
        Task::Logistic => std::f64::consts::LN_2 + total / 8.0 / m as f64,
        _ => total / 2.0 / m as f64,
    }
}

/// `reveal_every_iter`: our gradient from our share and the peer's, L2 on the first
/// `features` weights (not the intercept), the optimizer's step, L1's soft threshold.
fn reveal_step(
    param: &LinearParam,
    optimizer: &mut Optimizer,
    w: &mut [f64],
    features: usize,
    own: &[u128],
    theirs: &[u128],
    moved: &mut [f64],
) {
    let grad: Vec<f64> = vec_add(own, theirs)
        .into_iter()
        .enumerate()
        .map(|(j, v)| {
            let reg = if j < features && param.penalty == Penalty::L2 {
                param.alpha * w[j]
            } else {
                0.0
            };
            sshare::decode_at(v, F) + reg
        })
        .collect();
    let step = Step {
        delta: optimizer.delta(&grad),
        shrink: if param.penalty == Penalty::L1 {
            param.alpha * optimizer.current_lr()
        } else {
            0.0
        },
    };
    for (mv, d) in moved.iter_mut().zip(&step.delta) {
        *mv += d;
    }
    apply_step(w, &step, features);
}

/// The end of training without `reveal_every_iter`. `respectively`: each party sends
/// the other its share of the other's weights. `encrypted_reveal_in_host`: the host
/// sends its share of the guest's weights, the guest sends its share of the host's
/// encrypted under its own key, and the host adds its share under encryption.
fn reveal_final(
    s: &Session<'_>,
    tag: &str,
    w: &Shares,
    encrypted: bool,
    result: &mut FitResult,
) -> Result<Vec<f64>> {
    let decode = |own: &[u128], theirs: &[u128]| -> Vec<f64> {
        vec_add(own, theirs)
            .into_iter()
            .map(|v| sshare::decode_at(v, F))
            .collect()
    };
    match (encrypted, s.first) {
        (false, _) => {
            s.send_u128("w_final", tag, &w.peer)?;
            let theirs = s.get_u128("w_final", tag, w.own.len())?;
            Ok(decode(&w.own, &theirs))
        }
        (true, true) => {
            s.send_encrypted("w_final_enc", tag, &w.peer)?;
            let theirs = s.get_u128("w_final", tag, w.own.len())?;
            result.guest_key = Some(std::sync::Arc::new(s.own.clone()));
            Ok(decode(&w.own, &theirs))
        }
        (true, false) => {
            s.send_u128("w_final", tag, &w.peer)?;
            let theirs = s.get_encrypted("w_final_enc", tag, w.own.len())?;
            let cts = theirs
                .iter()
                .zip(&w.own)
                .map(|(c, &a)| s.theirs.raw_add_plain(c, &Integer::from(a)))
                .collect();
            result.encrypted = Some((s.theirs.clone(), cts));
            Ok(Vec::new())
        }
    }
}

/// Keeps `key` as a two-row table of this site (`namespace.name`): the primes `p` and
/// `q` in the sample-id column. Site-local; never part of a model or an export.
pub(crate) fn store_key(
    ctx: &crate::context::TaskContext<'_>,
    namespace: &str,
    name: &str,
    key: &Keypair,
) -> Result<()> {
    let table = format!("{namespace}.{name}");
    let err = |source| Error::Table {
        table: table.clone(),
        source,
    };
    let id = fateflow_tables::TableId::new(namespace, name).map_err(err)?;
    let sids = vec![
        key.private.p().to_string_radix(16),
        key.private.q().to_string_radix(16),
    ];
    let frame = fateflow_tables::Frame::new("prime", vec!["index".into()], sids, vec![0.0, 1.0])
        .map_err(err)?;
    fateflow_tables::write_frame(
        ctx.tables,
        &id,
        &frame,
        1,
        fateflow_tables::WriteMode::Replace,
    )
    .map_err(err)?;
    Ok(())
}

/// The guest's key of an `encrypted_reveal_in_host` model, from `table`
/// (`namespace.name`) of this site.
pub(crate) fn load_key(ctx: &crate::context::TaskContext<'_>, table: &str) -> Result<Keypair> {
    let missing = |why: String| {
        Error::param(
            "guest_key_table",
            format!(
                "the model's host weights are encrypted under a key this guest kept in table {table}: {why}; predict at the site that trained the model"
            ),
        )
    };
    let (ns, name) = table
        .split_once('.')
        .ok_or_else(|| missing("not a namespace.name".into()))?;
    let id = fateflow_tables::TableId::new(ns, name).map_err(|e| missing(e.to_string()))?;
    let frame = fateflow_tables::read_all(ctx.tables, &id).map_err(|e| missing(e.to_string()))?;
    let sids = frame.sids();
    if sids.len() != 2 {
        return Err(missing(format!("{} rows instead of 2", sids.len())));
    }
    let prime =
        |s: &str| Integer::from_str_radix(s, 16).map_err(|e| missing(format!("not a prime: {e}")));
    let private =
        fateflow_crypto::paillier::PrivateKey::from_primes(prime(&sids[0])?, prime(&sids[1])?)?;
    Ok(Keypair {
        public: private.public_key().clone(),
        private,
    })
}

/// Exactly one host and no arbiter work (FATE: "Hetero SSHE Model does not support
/// multi-host training").
fn single_host(run: &Run<'_>) -> Result<Party> {
    match run.roles.hosts.as_slice() {
        [h] => Ok(*h),
        hs => Err(Error::param(
            "role",
            format!(
                "{} trains between the guest and exactly one host (as FATE's SSHE models); this job has {} hosts",
                run.param.module(run.task),
                hs.len()
            ),
        )),
    }
}

/// Each party generates its key and sends the public half.
fn keys<'r>(run: &'r Run<'r>, peer: Party, first: bool, tag: &str) -> Result<Session<'r>> {
    let fed = run.fed()?;
    let own = Keypair::generate(run.param.key_length)?;
    fed.remote("pubkey", tag, &own.public, &[peer])?;
    let theirs: PublicKey = fed.get("pubkey", tag, peer)?;
    Ok(Session {
        run,
        fed,
        peer,
        first,
        own,
        theirs,
        sent: std::sync::atomic::AtomicU64::new(0),
    })
}

fn run_start(run: &Run<'_>, k: usize) -> Result<(usize, Vec<f64>)> {
    run.start(k)
}

#[cfg(test)]
mod tests {
    use super::ring::*;
    use fateflow_crypto::sshare::{decode_at, random_u128, split};

    #[test]
    fn public_factors_on_shares_are_within_one_ulp() {
        for _ in 0..1000 {
            let x = (random_u128() % 1_000_000) as f64 / 997.0 - 500.0;
            let c = (random_u128() % 1000) as f64 / 313.0 - 1.5;
            let (a, b) = split(enc(x, 24).unwrap());
            let ka = mul_public(a, c, true).unwrap();
            let kb = mul_public(b, c, false).unwrap();
            let got = decode_at(ka.wrapping_add(kb), 24);
            assert!((got - x * c).abs() < 3.0 * 2f64.powi(-24), "{x}·{c}: {got}");
        }
    }

    #[test]
    fn limbs_recombine() {
        for v in [
            0u128,
            1,
            u128::MAX,
            0x1234_5678_9abc_def0_1122_3344_5566_7788,
        ] {
            let l = limbs(v);
            let back = (l[0] as u128)
                | ((l[1] as u128) << super::LIMB)
                | ((l[2] as u128) << (2 * super::LIMB));
            assert_eq!(back, v);
        }
    }
}

//! Beaver triples generated between the two parties with Paillier, and Beaver
//! multiplication of shared values.
//!
//! Triple generation (the scheme of FATE's `spdz/beaver_triples/he.py`): each party draws
//! its shares `aᵢ, bᵢ` and sets `cᵢ = aᵢ·bᵢ`; it sends `[[aᵢ]]` under its own key
//! ([`TripleOffer`]); the other party computes `[[aᵢ]]·bⱼ`, masks it with [`he_mask`],
//! keeps `−r` in its `cⱼ` and sends the masked ciphertexts back ([`TripleReply`]); the first
//! decrypts and adds its share of the cross term to `cᵢ`. Then `c₀ + c₁ = (a₀+a₁)(b₀+b₁)`.
//! Both parties run the same three steps: `start`, `reply` (to the peer's offer) and
//! `finish` (with the peer's reply).
//!
//! Multiplication of shared `x, y`: each party opens `εᵢ = xᵢ − aᵢ`, `δᵢ = yᵢ − bᵢ`
//! ([`beaver_open`], [`MaskedOperands`]); with `ε, δ` public, the share of `xy` is
//! `cᵢ + ε·bᵢ + aᵢ·δ` (`+ ε·δ` on [`Side::First`]), then truncated by the fixed-point
//! scale ([`beaver_finish`]).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::he::{check_key_for, decrypt_to_shares, dot_u128_columns, encrypt_shares, he_mask};
use super::{random_u128, same_len, truncate_all, Side};
use crate::paillier::{Ciphertext, Encryptor, Keypair, PublicKey};
use crate::{Error, Result};

/// One party's shares of elementwise triples `c = a·b`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triples {
    /// Shares of `a`.
    pub a: Vec<u128>,
    /// Shares of `b`.
    pub b: Vec<u128>,
    /// Shares of `c = a·b`.
    pub c: Vec<u128>,
}

/// One party's shares of a matrix triple `c = a·b`, `a` of `rows × inner` and `b` of
/// `inner × cols`, row-major.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixTriple {
    /// Rows of `a` and `c`.
    pub rows: usize,
    /// Columns of `a`, rows of `b`.
    pub inner: usize,
    /// Columns of `b` and `c`.
    pub cols: usize,
    /// Share of `a` (`rows × inner`).
    pub a: Vec<u128>,
    /// Share of `b` (`inner × cols`).
    pub b: Vec<u128>,
    /// Share of `c` (`rows × cols`).
    pub c: Vec<u128>,
}

/// First message of triple generation: the sender's public key and `[[aᵢ]]` under it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TripleOffer {
    /// The sender's public key.
    pub key: PublicKey,
    /// The sender's `a` share, encrypted as non-negative integers.
    pub a: Vec<Ciphertext>,
}

/// Second message: the masked cross terms `[[aᵢ·bⱼ + mask]]` under the receiver's key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TripleReply {
    /// One ciphertext per element of `c`.
    pub cross: Vec<Ciphertext>,
}

/// One party's elementwise triple generation in progress.
#[derive(Debug)]
pub struct ElementwiseTripleSession {
    keys: Keypair,
    shares: Triples,
}

impl ElementwiseTripleSession {
    /// Draws this party's `a, b` for `len` triples and makes the offer to send.
    pub fn start(keys: Keypair, len: usize) -> Result<(Self, TripleOffer)> {
        check_key_for(&keys.public, 256)?;
        let a: Vec<u128> = (0..len).map(|_| random_u128()).collect();
        let b: Vec<u128> = (0..len).map(|_| random_u128()).collect();
        let c = a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect();
        let offer = TripleOffer {
            key: keys.public.clone(),
            a: encrypt_shares(&keys.private, &a)?,
        };
        Ok((
            Self {
                keys,
                shares: Triples { a, b, c },
            },
            offer,
        ))
    }

    /// Answers the peer's offer: `[[a_peer·b_own + mask]]`, keeping `−r` in `c`.
    pub fn reply(&mut self, offer: &TripleOffer) -> Result<TripleReply> {
        same_len(offer.a.len(), self.shares.b.len())?;
        let key = &offer.key;
        check_key_for(key, 256)?;
        let masked: Vec<(u128, Ciphertext)> = offer
            .a
            .par_iter()
            .zip(&self.shares.b)
            .map(|(ct, &b)| {
                key.check_ciphertext(ct)?;
                let prod = key.raw_mul(ct, &rug::Integer::from(b))?;
                let (keep, mask) = he_mask(256);
                Ok((keep, key.raw_add_plain(&prod, &mask)))
            })
            .collect::<Result<_>>()?;
        let (keep, cts): (Vec<u128>, Vec<Ciphertext>) = masked.into_iter().unzip();
        for (c, k) in self.shares.c.iter_mut().zip(keep) {
            *c = c.wrapping_add(k);
        }
        Ok(TripleReply {
            cross: key.rerandomize_raw_batch(&cts),
        })
    }

    /// Adds the decrypted cross terms of the peer's reply and returns this party's triples.
    pub fn finish(mut self, reply: &TripleReply) -> Result<Triples> {
        same_len(reply.cross.len(), self.shares.c.len())?;
        let shares = decrypt_to_shares(&self.keys.private, &reply.cross)?;
        for (c, s) in self.shares.c.iter_mut().zip(shares) {
            *c = c.wrapping_add(s);
        }
        Ok(self.shares)
    }
}

/// One party's matrix triple generation in progress.
#[derive(Debug)]
pub struct MatrixTripleSession {
    keys: Keypair,
    shares: MatrixTriple,
}

/// Bits of a cross term `Σₗ aₗ·bₗ` of `inner` products of two `u128`s.
fn matrix_value_bits(inner: usize) -> u32 {
    256 + (inner.max(1) as u64).next_power_of_two().trailing_zeros()
}

impl MatrixTripleSession {
    /// Draws this party's `a` (`rows × inner`) and `b` (`inner × cols`) and makes the offer.
    pub fn start(
        keys: Keypair,
        rows: usize,
        inner: usize,
        cols: usize,
    ) -> Result<(Self, TripleOffer)> {
        check_key_for(&keys.public, matrix_value_bits(inner))?;
        let a: Vec<u128> = (0..rows * inner).map(|_| random_u128()).collect();
        let b: Vec<u128> = (0..inner * cols).map(|_| random_u128()).collect();
        let c = matmul(&a, &b, rows, inner, cols)?;
        let offer = TripleOffer {
            key: keys.public.clone(),
            a: encrypt_shares(&keys.private, &a)?,
        };
        let shares = MatrixTriple {
            rows,
            inner,
            cols,
            a,
            b,
            c,
        };
        Ok((Self { keys, shares }, offer))
    }

    /// Answers the peer's offer: `[[a_peer·b_own + mask]]` (`rows × cols`), keeping `−r`.
    pub fn reply(&mut self, offer: &TripleOffer) -> Result<TripleReply> {
        let MatrixTriple {
            rows, inner, cols, ..
        } = self.shares;
        same_len(offer.a.len(), rows * inner)?;
        let key = &offer.key;
        let value_bits = matrix_value_bits(inner);
        check_key_for(key, value_bits)?;
        for ct in &offer.a {
            key.check_ciphertext(ct)?;
        }
        // Columns of b as scalar vectors over each row of a.
        let b_cols: Vec<Vec<u128>> = (0..cols)
            .map(|j| (0..inner).map(|l| self.shares.b[l * cols + j]).collect())
            .collect();
        let products: Vec<Vec<Ciphertext>> = if inner == 0 {
            vec![vec![key.encrypt_raw_unobfuscated(&rug::Integer::new()); cols]; rows]
        } else {
            offer
                .a
                .par_chunks(inner)
                .map(|row| dot_u128_columns(key, row, &b_cols))
                .collect::<Result<_>>()?
        };
        let mut cts = Vec::with_capacity(rows * cols);
        for (c, prod) in self.shares.c.iter_mut().zip(products.into_iter().flatten()) {
            let (keep, mask) = he_mask(value_bits);
            *c = c.wrapping_add(keep);
            cts.push(key.raw_add_plain(&prod, &mask));
        }
        Ok(TripleReply {
            cross: key.rerandomize_raw_batch(&cts),
        })
    }

    /// Adds the decrypted cross terms of the peer's reply and returns this party's triple.
    pub fn finish(mut self, reply: &TripleReply) -> Result<MatrixTriple> {
        same_len(reply.cross.len(), self.shares.c.len())?;
        let shares = decrypt_to_shares(&self.keys.private, &reply.cross)?;
        for (c, s) in self.shares.c.iter_mut().zip(shares) {
            *c = c.wrapping_add(s);
        }
        Ok(self.shares)
    }
}

/// `a·b` over Z_{2^128}, `a` of `rows × inner` and `b` of `inner × cols`, row-major.
pub fn matmul(a: &[u128], b: &[u128], rows: usize, inner: usize, cols: usize) -> Result<Vec<u128>> {
    same_len(a.len(), rows * inner)?;
    same_len(b.len(), inner * cols)?;
    let mut out = vec![0u128; rows * cols];
    if cols == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
        for l in 0..inner {
            let x = a[i * inner + l];
            if x == 0 {
                continue;
            }
            for (o, &y) in row.iter_mut().zip(&b[l * cols..(l + 1) * cols]) {
                *o = o.wrapping_add(x.wrapping_mul(y));
            }
        }
    });
    Ok(out)
}

/// The opened differences of one party: `ε = x − a` and `δ = y − b`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedOperands {
    /// This party's share of `x − a`.
    pub e: Vec<u128>,
    /// This party's share of `y − b`.
    pub d: Vec<u128>,
}

fn sub_all(x: &[u128], a: &[u128]) -> Result<Vec<u128>> {
    same_len(x.len(), a.len())?;
    Ok(x.iter().zip(a).map(|(x, a)| x.wrapping_sub(*a)).collect())
}

fn open(mine: &[u128], theirs: &[u128]) -> Result<Vec<u128>> {
    super::reveal_all(mine, theirs).map_err(|_| Error::Malformed {
        what: "Beaver opening",
        reason: "wrong length",
    })
}

/// First step of an elementwise Beaver product of shares `x, y`: the differences to send.
pub fn beaver_open(x: &[u128], y: &[u128], t: &Triples) -> Result<MaskedOperands> {
    same_len(x.len(), t.a.len())?;
    Ok(MaskedOperands {
        e: sub_all(x, &t.a)?,
        d: sub_all(y, &t.b)?,
    })
}

/// Second step: this party's share of `x·y`, truncated by `frac_bits` (0: no truncation).
pub fn beaver_finish(
    side: Side,
    t: &Triples,
    mine: &MaskedOperands,
    theirs: &MaskedOperands,
    frac_bits: u32,
) -> Result<Vec<u128>> {
    let eps = open(&mine.e, &theirs.e)?;
    let del = open(&mine.d, &theirs.d)?;
    same_len(eps.len(), t.c.len())?;
    same_len(del.len(), t.c.len())?;
    let z: Vec<u128> = (0..t.c.len())
        .map(|i| {
            let mut z = t.c[i]
                .wrapping_add(eps[i].wrapping_mul(t.b[i]))
                .wrapping_add(t.a[i].wrapping_mul(del[i]));
            if side == Side::First {
                z = z.wrapping_add(eps[i].wrapping_mul(del[i]));
            }
            z
        })
        .collect();
    Ok(if frac_bits == 0 {
        z
    } else {
        truncate_all(&z, side, frac_bits)
    })
}

/// First step of a Beaver matrix product of shares `x` (`rows × inner`) and `y`
/// (`inner × cols`) with a triple of the same shape.
pub fn matrix_open(x: &[u128], y: &[u128], t: &MatrixTriple) -> Result<MaskedOperands> {
    Ok(MaskedOperands {
        e: sub_all(x, &t.a)?,
        d: sub_all(y, &t.b)?,
    })
}

/// Second step: this party's share of `x·y` (`rows × cols`), truncated by `frac_bits`.
pub fn matrix_finish(
    side: Side,
    t: &MatrixTriple,
    mine: &MaskedOperands,
    theirs: &MaskedOperands,
    frac_bits: u32,
) -> Result<Vec<u128>> {
    let (r, k, c) = (t.rows, t.inner, t.cols);
    let eps = open(&mine.e, &theirs.e)?;
    let del = open(&mine.d, &theirs.d)?;
    let eb = matmul(&eps, &t.b, r, k, c)?;
    let ad = matmul(&t.a, &del, r, k, c)?;
    let ed = if side == Side::First {
        matmul(&eps, &del, r, k, c)?
    } else {
        vec![0; r * c]
    };
    let z: Vec<u128> = (0..r * c)
        .map(|i| {
            t.c[i]
                .wrapping_add(eb[i])
                .wrapping_add(ad[i])
                .wrapping_add(ed[i])
        })
        .collect();
    Ok(if frac_bits == 0 {
        z
    } else {
        truncate_all(&z, side, frac_bits)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sshare::{split_all, Fixed};
    use rand::{Rng, SeedableRng};

    fn two_keys() -> (Keypair, Keypair) {
        (
            Keypair::generate(1024).unwrap(),
            Keypair::generate(1024).unwrap(),
        )
    }

    #[test]
    fn elementwise_triples_and_products() {
        let (k0, k1) = two_keys();
        let len = 50;
        let (mut s0, o0) = ElementwiseTripleSession::start(k0, len).unwrap();
        let (mut s1, o1) = ElementwiseTripleSession::start(k1, len).unwrap();
        // Messages go through serde as they would over the wire.
        let o0: TripleOffer = serde_json::from_str(&serde_json::to_string(&o0).unwrap()).unwrap();
        let r1 = s1.reply(&o0).unwrap();
        let r0 = s0.reply(&o1).unwrap();
        let t0 = s0.finish(&r1).unwrap();
        let t1 = s1.finish(&r0).unwrap();
        for i in 0..len {
            let a = t0.a[i].wrapping_add(t1.a[i]);
            let b = t0.b[i].wrapping_add(t1.b[i]);
            assert_eq!(t0.c[i].wrapping_add(t1.c[i]), a.wrapping_mul(b));
        }
        let fx = Fixed { frac_bits: 30 };
        let mut r = rand::rngs::StdRng::seed_from_u64(11);
        let xs: Vec<f64> = (0..len).map(|_| r.random_range(-1e3..1e3)).collect();
        let ys: Vec<f64> = (0..len).map(|_| r.random_range(-1e3..1e3)).collect();
        let (x0, x1) = split_all(&fx.encode_all(&xs).unwrap());
        let (y0, y1) = split_all(&fx.encode_all(&ys).unwrap());
        let m0 = beaver_open(&x0, &y0, &t0).unwrap();
        let m1 = beaver_open(&x1, &y1, &t1).unwrap();
        let z0 = beaver_finish(Side::First, &t0, &m0, &m1, 30).unwrap();
        let z1 = beaver_finish(Side::Second, &t1, &m1, &m0, 30).unwrap();
        for i in 0..len {
            let got = fx.decode(z0[i].wrapping_add(z1[i]));
            let err = (got - xs[i] * ys[i]).abs();
            assert!(err < 1e-5, "{got} vs {}", xs[i] * ys[i]);
        }
    }

    #[test]
    fn matrix_triples_and_products() {
        let (k0, k1) = two_keys();
        let (rows, inner, cols) = (3, 7, 4);
        let (mut s0, o0) = MatrixTripleSession::start(k0, rows, inner, cols).unwrap();
        let (mut s1, o1) = MatrixTripleSession::start(k1, rows, inner, cols).unwrap();
        let r1 = s1.reply(&o0).unwrap();
        let r0 = s0.reply(&o1).unwrap();
        let t0 = s0.finish(&r1).unwrap();
        let t1 = s1.finish(&r0).unwrap();
        let a = crate::sshare::reveal_all(&t0.a, &t1.a).unwrap();
        let b = crate::sshare::reveal_all(&t0.b, &t1.b).unwrap();
        let c = crate::sshare::reveal_all(&t0.c, &t1.c).unwrap();
        assert_eq!(c, matmul(&a, &b, rows, inner, cols).unwrap());

        let fx = Fixed { frac_bits: 24 };
        let mut r = rand::rngs::StdRng::seed_from_u64(13);
        let xs: Vec<f64> = (0..rows * inner)
            .map(|_| r.random_range(-50.0..50.0))
            .collect();
        let ys: Vec<f64> = (0..inner * cols)
            .map(|_| r.random_range(-50.0..50.0))
            .collect();
        let (x0, x1) = split_all(&fx.encode_all(&xs).unwrap());
        let (y0, y1) = split_all(&fx.encode_all(&ys).unwrap());
        let m0 = matrix_open(&x0, &y0, &t0).unwrap();
        let m1 = matrix_open(&x1, &y1, &t1).unwrap();
        let z0 = matrix_finish(Side::First, &t0, &m0, &m1, 24).unwrap();
        let z1 = matrix_finish(Side::Second, &t1, &m1, &m0, 24).unwrap();
        for i in 0..rows {
            for j in 0..cols {
                let want: f64 = (0..inner)
                    .map(|l| xs[i * inner + l] * ys[l * cols + j])
                    .sum();
                let got = fx.decode(z0[i * cols + j].wrapping_add(z1[i * cols + j]));
                assert!((got - want).abs() < 1e-4, "{got} vs {want}");
            }
        }
    }
}

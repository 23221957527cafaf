//! Additive two-party secret sharing of fixed-point numbers over the ring Z_{2^128}.
//!
//! A value `v` is held as two shares `s₀ + s₁ ≡ v (mod 2^128)`, one per party; all share
//! arithmetic is wrapping `u128` arithmetic. Real numbers are fixed-point: `x` is
//! `round(x·2^f)` in two's complement ([`Fixed`]). Products of shares use Beaver triples
//! ([`beaver`]), generated between the two parties with Paillier ([`he`] is the boundary
//! between ciphertexts and shares). Nothing here does IO: every protocol is a set of step
//! functions whose messages are serde-serializable, and the caller moves them.
//!
//! [`Side::First`] is the guest (party index 0), [`Side::Second`] the host.

pub mod beaver;
pub mod cross;
pub mod he;

use rayon::prelude::*;

use crate::{rng, Error, Result};

pub use beaver::{
    beaver_finish, beaver_open, matmul, matrix_finish, matrix_open, ElementwiseTripleSession,
    MaskedOperands, MatrixTriple, MatrixTripleSession, TripleOffer, TripleReply, Triples,
};
pub use he::{
    centered, check_key_for, decrypt_to_shares, dot_u128_columns, encrypt_shares, he_mask,
    mask_to_shares, share_of_decrypted, HIDING_BITS,
};

/// Which of the two parties holds a share: `First` is the guest (party index 0), `Second`
/// the host. Some steps (adding a public constant, truncation) differ by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    /// Party index 0: the guest.
    First,
    /// Party index 1: the host.
    Second,
}

/// Fixed-point encoding with `frac_bits` fractional bits: `x ↦ round(x·2^frac_bits)` as a
/// two's complement element of Z_{2^128}.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fixed {
    /// Number of fractional bits `f`.
    pub frac_bits: u32,
}

/// Encoded magnitudes must stay below `2^126`, so that sums and the truncation of shares
/// keep a margin below the ring's sign bit.
const MAX_ENCODED_BITS: i32 = 126;

impl Fixed {
    /// `round(x·2^f)` in two's complement; an error naming `x` when it is not finite or
    /// when `|x|·2^f ≥ 2^126`.
    pub fn encode(&self, x: f64) -> Result<u128> {
        if !x.is_finite() {
            return Err(Error::NonFinite(x));
        }
        let y = (x * 2f64.powi(self.frac_bits as i32)).round();
        if y.abs() >= 2f64.powi(MAX_ENCODED_BITS) {
            return Err(Error::FixedOverflow {
                value: x,
                frac_bits: self.frac_bits,
            });
        }
        Ok((y as i128) as u128)
    }

    /// [`Fixed::encode`] over a slice, in parallel.
    pub fn encode_all(&self, xs: &[f64]) -> Result<Vec<u128>> {
        xs.par_iter().map(|&x| self.encode(x)).collect()
    }

    /// The signed real number of an encoded value: `(v as i128) / 2^f`.
    pub fn decode(&self, v: u128) -> f64 {
        decode_at(v, self.frac_bits)
    }

    /// Decodes at another scale (for example `2f` after an untruncated product): the
    /// same as the free function [`decode_at`].
    pub fn decode_at(v: u128, frac_bits: u32) -> f64 {
        decode_at(v, frac_bits)
    }

    /// [`Fixed::decode`] over a slice.
    pub fn decode_all(&self, vs: &[u128]) -> Vec<f64> {
        vs.iter().map(|&v| self.decode(v)).collect()
    }
}

/// Decodes `v` as a signed fixed-point number with `frac_bits` fractional bits (for
/// example `2f` after a product that was not truncated).
pub fn decode_at(v: u128, frac_bits: u32) -> f64 {
    (v as i128) as f64 / 2f64.powi(frac_bits as i32)
}

/// A uniform element of Z_{2^128} from the OS-seeded CSPRNG.
pub fn random_u128() -> u128 {
    let mut buf = [0u8; 16];
    rng::fill(&mut buf);
    u128::from_le_bytes(buf)
}

/// Splits `v` into `(keep, send)` with `send` uniform and `keep = v − send`, so that
/// `reveal(keep, send) = v`.
pub fn split(v: u128) -> (u128, u128) {
    let send = random_u128();
    (v.wrapping_sub(send), send)
}

/// [`split`] over a slice: `(keep, send)` vectors.
pub fn split_all(vs: &[u128]) -> (Vec<u128>, Vec<u128>) {
    vs.par_iter().map(|&v| split(v)).unzip()
}

/// The value of two shares: `a + b mod 2^128`.
pub fn reveal(a: u128, b: u128) -> u128 {
    a.wrapping_add(b)
}

/// [`reveal`] elementwise; an error when the lengths differ.
pub fn reveal_all(a: &[u128], b: &[u128]) -> Result<Vec<u128>> {
    same_len(a.len(), b.len())?;
    Ok(a.iter().zip(b).map(|(&x, &y)| reveal(x, y)).collect())
}

/// Adds a public constant to a shared value: only the First side adds it.
pub fn add_public(share: u128, side: Side, c: u128) -> u128 {
    match side {
        Side::First => share.wrapping_add(c),
        Side::Second => share,
    }
}

/// SecureML local truncation of a share by `bits` after a fixed-point product: First
/// shifts its share arithmetically, Second computes `−((−share) >> bits)`. For a value
/// with `|v| < 2^ℓ` the result is `v >> bits` up to ±1 except with probability about
/// `2^(ℓ+1−128)`.
pub fn truncate(share: u128, side: Side, bits: u32) -> u128 {
    match side {
        Side::First => ((share as i128) >> bits) as u128,
        Side::Second => (((share.wrapping_neg()) as i128) >> bits).wrapping_neg() as u128,
    }
}

/// [`truncate`] over a slice.
pub fn truncate_all(shares: &[u128], side: Side, bits: u32) -> Vec<u128> {
    shares.iter().map(|&s| truncate(s, side, bits)).collect()
}

pub(crate) fn same_len(left: usize, right: usize) -> Result<()> {
    if left != right {
        return Err(Error::LengthMismatch { left, right });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn split_reveal_round_trip() {
        let mut r = rng();
        let vs: Vec<u128> = (0..500).map(|_| r.random()).collect();
        let (keep, send) = split_all(&vs);
        assert_eq!(reveal_all(&keep, &send).unwrap(), vs);
        assert_ne!(send, vs);
        for &v in &vs[..20] {
            let (a, b) = split(v);
            assert_eq!(reveal(a, b), v);
        }
    }

    #[test]
    fn encode_decode_within_one_ulp() {
        let mut r = rng();
        for f in [0u32, 16, 24, 40, 60] {
            let fx = Fixed { frac_bits: f };
            for _ in 0..500 {
                let x: f64 = r.random_range(-1e6..1e6);
                let back = fx.decode(fx.encode(x).unwrap());
                assert!(
                    (back - x).abs() <= 2f64.powi(-(f as i32)),
                    "{x} {back} f={f}"
                );
            }
        }
        let fx = Fixed { frac_bits: 100 };
        assert!(fx.encode(f64::NAN).is_err());
        let e = fx.encode(1e9).unwrap_err().to_string();
        assert!(e.contains("1000000000"), "{e}");
        assert_eq!(fx.decode(fx.encode(-0.75).unwrap()), -0.75);
        assert_eq!(Fixed::decode_at(fx.encode(-0.75).unwrap(), 100), -0.75);
    }

    #[test]
    fn truncation_after_public_product_is_within_one_ulp() {
        let mut r = rng();
        let fx = Fixed { frac_bits: 24 };
        for _ in 0..2000 {
            let x: f64 = r.random_range(-1e4..1e4);
            let k: f64 = r.random_range(-1e3..1e3);
            let v = fx.encode(x).unwrap();
            let kk = fx.encode(k).unwrap();
            let (a, b) = split(v);
            let (a, b) = (a.wrapping_mul(kk), b.wrapping_mul(kk));
            let (a, b) = (truncate(a, Side::First, 24), truncate(b, Side::Second, 24));
            let got = reveal(a, b) as i128;
            let want = (v as i128 * kk as i128) >> 24;
            assert!((got - want).abs() <= 1, "{got} {want}");
            let err = (fx.decode(got as u128) - x * k).abs();
            assert!(err <= 2e-7 * (1.0 + x.abs() + k.abs()) + 1e-3, "{err}");
        }
        let t = truncate_all(&[8, 16], Side::First, 3);
        assert_eq!(t, vec![1, 2]);
    }
}

//! 1-out-of-N oblivious transfer of keys after Hauck and Loss ("Efficient and
//! universally composable protocols for oblivious transfer from the CDH assumption",
//! 2017), the construction FATE's `OT_Hauck` implements, here on the Ristretto group.
//!
//! The sender draws `y`, sends `S = y·G`; both derive `T = H(S)` (hash to the group).
//! The receiver, choosing `c`, draws `x` and sends `R = c·T + x·G`. The sender's key `i`
//! is `MAC_{S‖R}(y·R − i·y·T)`; the receiver's is `MAC_{S‖R}(x·S)`, which equals the
//! sender's key `c` and no other (finding another would solve CDH). The MAC is
//! HMAC-SHA-256 keyed by the two points.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::traits::Identity;
use curve25519_dalek::Scalar;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::rng;

const HASH_TO_GROUP_DOMAIN: &[u8] = b"fateflow-ot-hauck-T";

/// A 256-bit key one side of the transfer derived.
pub type OtKey = [u8; 32];

fn random_scalar() -> Scalar {
    loop {
        let mut wide = [0u8; 64];
        rng::fill(&mut wide);
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        if s != Scalar::ZERO {
            return s;
        }
    }
}

fn decode(bytes: &[u8; 32], what: &'static str) -> Result<RistrettoPoint> {
    CompressedRistretto(*bytes)
        .decompress()
        .ok_or(Error::InvalidKey(what))
}

fn hash_to_group(s: &RistrettoPoint) -> RistrettoPoint {
    let wide: [u8; 64] = Sha512::new()
        .chain_update(HASH_TO_GROUP_DOMAIN)
        .chain_update(s.compress().as_bytes())
        .finalize()
        .into();
    RistrettoPoint::from_uniform_bytes(&wide)
}

fn mac(s: &RistrettoPoint, r: &RistrettoPoint, point: &RistrettoPoint) -> OtKey {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(s.compress().as_bytes());
    key.extend_from_slice(r.compress().as_bytes());
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    m.update(point.compress().as_bytes());
    m.finalize().into_bytes().into()
}

/// The sender's side: holds `y`.
pub struct OtSender {
    y: Scalar,
    s: RistrettoPoint,
}

impl OtSender {
    /// A sender with a fresh `y`.
    pub fn new() -> Self {
        let y = random_scalar();
        OtSender { y, s: G * y }
    }

    /// `S`, the first message.
    pub fn first_message(&self) -> [u8; 32] {
        self.s.compress().to_bytes()
    }

    /// The `n` keys, given the receiver's `R`; refused when `R` is not a group element.
    pub fn keys(&self, r: &[u8; 32], n: u32) -> Result<Vec<OtKey>> {
        let r = decode(r, "the OT receiver's R is not a group element")?;
        let yt = hash_to_group(&self.s) * self.y;
        let yr = r * self.y;
        Ok((0..n)
            .map(|i| mac(&self.s, &r, &(yr - yt * Scalar::from(i))))
            .collect())
    }
}

impl Default for OtSender {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OtSender {
    fn drop(&mut self) {
        self.y.zeroize();
    }
}

/// The receiver's answer to `S` for `choice`: `R` to send and the key of `choice`.
pub fn receive(s: &[u8; 32], choice: u32) -> Result<([u8; 32], OtKey)> {
    let s = decode(s, "the OT sender's S is not a group element")?;
    if s == RistrettoPoint::identity() {
        return Err(Error::InvalidKey("the OT sender's S is the identity"));
    }
    let mut x = random_scalar();
    let r = hash_to_group(&s) * Scalar::from(choice) + G * x;
    let key = mac(&s, &r, &(s * x));
    x.zeroize();
    Ok((r.compress().to_bytes(), key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// The receiver's key is the sender's key of its choice and of no other index.
        #[test]
        fn the_receiver_gets_exactly_the_chosen_key(n in 1u32..40, pick in 0u32..40) {
            let choice = pick % n;
            let sender = OtSender::new();
            let (r, key) = receive(&sender.first_message(), choice).unwrap();
            let keys = sender.keys(&r, n).unwrap();
            for (i, k) in keys.iter().enumerate() {
                prop_assert_eq!(k == &key, i as u32 == choice);
            }
        }
    }

    #[test]
    fn invalid_points_are_refused() {
        let bad = [0xffu8; 32];
        assert!(receive(&bad, 0).is_err());
        assert!(OtSender::new().keys(&bad, 3).is_err());
    }
}

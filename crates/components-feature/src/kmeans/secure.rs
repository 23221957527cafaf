//! Secure aggregation of the clients' vectors at the arbiter by pairwise masks, so that
//! the arbiter learns the element-wise sum over all clients and nothing about any one
//! client's vector (FATE's `SecureAggregatorClient`/`Server` with `sum`).
//!
//! Key agreement: every client draws a ristretto255 secret `a` and sends `a·H` (`H` a
//! fixed hashed point) to the arbiter, which relays the list to every client; clients
//! `i` and `j` then share `ab·H`, which the arbiter cannot compute (decisional
//! Diffie–Hellman; semi-honest arbiter, as in FATE, which relays DH keys the same way).
//!
//! Masking: values are fixed-point numbers in the ring Z/2^128 (`round(v · 2^32)`, two's
//! complement), so masks cancel exactly, unlike FATE's float pads scaled by
//! `SECURE_AGG_AMPLIFY_FACTOR`. Client `i` adds, for every other client `j`, the stream
//! `PRG(shared_ij, tag)` when `i < j` and subtracts it when `i > j`
//! (PRG: SHA-512 of shared secret, tag and a block counter, four ring elements per
//! block). Every message has its own tag, so no stream is reused. Decoding keeps the
//! sum's precision to about 2^-32 absolute, and sums stay exact below 2^95.

use fateflow_crypto::psi::ecdh::{EcdhParty, EcdhPoint};
use fateflow_crypto::psi::HashMethod;
use fateflow_domain::Party;
use fateflow_federation::FederationExt;

use crate::error::{Error, Result};

/// The fixed point's scale, 2^32.
const SCALE: f64 = 4_294_967_296.0;
/// What every client hashes to the group as the common base point.
const BASE: &[u8] = b"fateflow/hetero_kmeans/secure_aggregation/v1";
const KEY: &str = "kmeans_agg_key";
const KEYS: &str = "kmeans_agg_keys";

/// One client's pairwise seeds.
pub(crate) struct Masker {
    me: usize,
    /// `(other client's index, shared secret)`.
    seeds: Vec<(usize, [u8; 32])>,
}

impl Masker {
    /// Agrees on pairwise secrets with the other `clients` through the arbiter; `me` is
    /// this client's index in `clients`.
    pub(crate) fn agree(
        fed: &dyn fateflow_federation::Federation,
        me: usize,
        clients: &[Party],
        arbiter: Party,
    ) -> Result<Masker> {
        let secret = EcdhParty::new();
        let public = secret.encrypt_ids(&[BASE])[0];
        fed.remote(KEY, "0", &public, &[arbiter])?;
        let keys: Vec<EcdhPoint> = fed.get(KEYS, "0", arbiter)?;
        if keys.len() != clients.len() || keys[me] != public {
            return Err(Error::param(
                "secure aggregation",
                "the arbiter relayed a key list that does not match the job's clients",
            ));
        }
        let mut seeds = Vec::with_capacity(clients.len().saturating_sub(1));
        for (j, key) in keys.iter().enumerate() {
            if j != me {
                let shared = secret.reencrypt(std::slice::from_ref(key))?[0];
                seeds.push((j, shared.0));
            }
        }
        Ok(Masker { me, seeds })
    }

    /// `values` masked for the message `tag`, as bytes.
    pub(crate) fn mask(&self, tag: &str, values: &[f64]) -> Vec<u8> {
        let mut ring: Vec<u128> = values.iter().map(|&v| encode(v)).collect();
        for (j, seed) in &self.seeds {
            let add = self.me < *j;
            for (slot, pad) in ring.iter_mut().zip(Prg::new(seed, tag)) {
                *slot = if add {
                    slot.wrapping_add(pad)
                } else {
                    slot.wrapping_sub(pad)
                };
            }
        }
        to_bytes(&ring)
    }
}

/// The arbiter's side of the key agreement: every client's key, relayed to all.
pub(crate) fn relay_keys(
    fed: &dyn fateflow_federation::Federation,
    clients: &[Party],
) -> Result<()> {
    let keys = clients
        .iter()
        .map(|&c| fed.get::<EcdhPoint>(KEY, "0", c))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    fed.remote(KEYS, "0", &keys, clients)?;
    Ok(())
}

/// The arbiter's sum of every client's masked vector `name`/`tag` of `len` values.
pub(crate) fn aggregate(
    fed: &dyn fateflow_federation::Federation,
    clients: &[Party],
    name: &str,
    tag: &str,
    len: usize,
) -> Result<Vec<f64>> {
    let mut sum = vec![0u128; len];
    for &client in clients {
        let bytes = fed.get_bytes(name, tag, client)?;
        if bytes.len() != len * 16 {
            return Err(Error::param(
                "secure aggregation",
                format!(
                    "{client} sent {} bytes for `{name}` {tag}, expected {} values",
                    bytes.len(),
                    len
                ),
            ));
        }
        for (s, chunk) in sum.iter_mut().zip(bytes.chunks_exact(16)) {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            *s = s.wrapping_add(u128::from_le_bytes(b));
        }
    }
    Ok(sum.into_iter().map(decode).collect())
}

fn encode(v: f64) -> u128 {
    ((v * SCALE).round() as i128) as u128
}

fn decode(r: u128) -> f64 {
    (r as i128) as f64 / SCALE
}

fn to_bytes(values: &[u128]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 16);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The pad stream of one pair and tag.
struct Prg {
    prefix: Vec<u8>,
    counter: u64,
    block: Vec<u128>,
}

impl Prg {
    fn new(seed: &[u8; 32], tag: &str) -> Self {
        let mut prefix = seed.to_vec();
        prefix.extend_from_slice(tag.as_bytes());
        prefix.push(0);
        Prg {
            prefix,
            counter: 0,
            block: Vec::new(),
        }
    }
}

impl Iterator for Prg {
    type Item = u128;

    fn next(&mut self) -> Option<u128> {
        if self.block.is_empty() {
            let digest = HashMethod::Sha512.digest(&self.prefix, &self.counter.to_le_bytes());
            self.counter += 1;
            self.block = digest
                .chunks_exact(16)
                .rev()
                .map(|c| {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(c);
                    u128::from_le_bytes(b)
                })
                .collect();
        }
        self.block.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cancel_and_hide() {
        let seeds = [[1u8; 32], [2u8; 32], [3u8; 32]];
        // Three clients; pairs (0,1) seed 0, (0,2) seed 1, (1,2) seed 2.
        let maskers = [
            Masker {
                me: 0,
                seeds: vec![(1, seeds[0]), (2, seeds[1])],
            },
            Masker {
                me: 1,
                seeds: vec![(0, seeds[0]), (2, seeds[2])],
            },
            Masker {
                me: 2,
                seeds: vec![(0, seeds[1]), (1, seeds[2])],
            },
        ];
        let values = [[1.5, -2.0, 1e9], [0.25, 3.0, 0.0], [10.0, 0.125, 7.0]];
        let masked: Vec<Vec<u8>> = maskers
            .iter()
            .zip(&values)
            .map(|(m, v)| m.mask("t", v))
            .collect();
        // A masked vector is not the plain encoding.
        assert_ne!(masked[0], to_bytes(&values[0].map(encode)));
        let mut sum = [0u128; 3];
        for m in &masked {
            for (s, c) in sum.iter_mut().zip(m.chunks_exact(16)) {
                *s = s.wrapping_add(u128::from_le_bytes(c.try_into().unwrap()));
            }
        }
        let got: Vec<f64> = sum.into_iter().map(decode).collect();
        assert_eq!(got, [11.75, 1.125, 1e9 + 7.0]);
        // Another tag gives other pads.
        assert_ne!(maskers[0].mask("u", &values[0]), masked[0]);
    }
}

//! FATE's Bloom filter (`BitArray` of `intersect_preprocess.py`) and the preprocessing
//! step that uses it.
//!
//! Sizing as FATE: `m = ⌈-n·ln p / ln²2⌉` bits (rounded up to whole 64-bit words) and
//! `k = round(m/n · ln 2)` index functions, `k` kept within [4, 32] (then `m` recomputed so
//! the rate stays `p`). Index function `i` of a value `x` is `int(hash(x ‖ salt_i)) mod m`,
//! `hash` being `intersect_preprocess_params.hash_method`; the `k` salts are random
//! 8-digit strings, drawn from `random_state` when it is set.

use super::{guest_of, hosts_of};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::rng::SplitMix;
use fateflow_crypto::psi::HashMethod;
use fateflow_domain::{Party, Role};
use serde::{Deserialize, Serialize};

use super::param::FilterParams;

const MIN_HASH_FUNCS: u64 = 4;
const MAX_HASH_FUNCS: u64 = 32;
/// Filters above this many bits are refused (512 MiB).
const MAX_BITS: u64 = 1 << 32;

/// A Bloom filter over strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bloom {
    words: Vec<u64>,
    salts: Vec<String>,
    hash: HashMethod,
}

/// The filter's header on the wire; the words follow, little-endian.
#[derive(Serialize, Deserialize)]
struct Header {
    words: usize,
    salts: Vec<String>,
    hash_method: String,
}

impl Bloom {
    /// FATE's `(m, k)` for `n` values at false-positive rate `p`.
    pub(crate) fn sizing(n: usize, p: f64) -> (u64, u64) {
        let n = n.max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let mut m = (-n * p.ln() / (ln2 * ln2)).ceil();
        let mut k = (m / n * ln2).round();
        let clamped = k.clamp(MIN_HASH_FUNCS as f64, MAX_HASH_FUNCS as f64);
        if clamped != k {
            k = clamped;
            m = (-n * k / (1.0 - p.powf(1.0 / k)).ln()).round();
        }
        (m.max(1.0) as u64, k as u64)
    }

    /// An empty filter sized for `n` values.
    pub(crate) fn new(
        n: usize,
        p: f64,
        hash: HashMethod,
        random_state: Option<u64>,
    ) -> Result<Self> {
        let (m, k) = Self::sizing(n, p);
        if m > MAX_BITS {
            return Err(Error::param(
                "intersect_preprocess_params.false_positive_rate",
                format!("a filter of {n} ids at rate {p} needs {m} bits, more than {MAX_BITS}"),
            ));
        }
        let mut rng = match random_state {
            Some(seed) => SplitMix(seed),
            None => SplitMix(
                fateflow_crypto::random_integer(64)
                    .to_u64()
                    .unwrap_or_default(),
            ),
        };
        let salts = (0..k)
            .map(|_| format!("{:08}", rng.next_u64() % 100_000_000))
            .collect();
        Ok(Bloom {
            words: vec![0; m.div_ceil(64) as usize],
            salts,
            hash,
        })
    }

    fn bit_count(&self) -> u64 {
        self.words.len() as u64 * 64
    }

    fn indices<'s>(&'s self, x: &'s str) -> impl Iterator<Item = u64> + 's {
        let m = u128::from(self.bit_count());
        self.salts.iter().map(move |salt| {
            let digest = self.hash.digest(x.as_bytes(), salt.as_bytes());
            digest
                .iter()
                .fold(0u128, |acc, b| (acc * 256 + u128::from(*b)) % m) as u64
        })
    }

    /// Adds `x`.
    pub(crate) fn insert(&mut self, x: &str) {
        let idx: Vec<u64> = self.indices(x).collect();
        for i in idx {
            self.words[(i / 64) as usize] |= 1 << (i % 64);
        }
    }

    /// Whether `x` may have been added (false positives at the filter's rate).
    pub(crate) fn contains(&self, x: &str) -> bool {
        self.indices(x)
            .all(|i| self.words[(i / 64) as usize] & (1 << (i % 64)) != 0)
    }

    /// The filter on the wire: a JSON header's length (4 bytes, little-endian), the
    /// header, then the words.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            words: self.words.len(),
            salts: self.salts.clone(),
            hash_method: self.hash.name().into(),
        })
        .unwrap_or_default();
        let mut out = Vec::with_capacity(4 + header.len() + self.words.len() * 8);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The inverse of [`Bloom::to_bytes`], checked; `name` and `from` name the message.
    pub(crate) fn from_bytes(name: &str, from: Party, bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| Error::param(name, format!("{from} sent a bad filter: {why}"));
        if bytes.len() < 4 {
            return Err(bad("too short"));
        }
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let header = bytes
            .get(4..4 + len)
            .ok_or_else(|| bad("truncated header"))?;
        let header: Header =
            serde_json::from_slice(header).map_err(|e| bad(&format!("header: {e}")))?;
        let body = &bytes[4 + len..];
        if header.words == 0 || body.len() != header.words * 8 {
            return Err(bad("the bit array does not match its length"));
        }
        if header.salts.is_empty() || header.salts.len() as u64 > MAX_HASH_FUNCS {
            return Err(bad("wrong number of hash functions"));
        }
        let hash = HashMethod::from_name(&header.hash_method)
            .filter(|h| *h != HashMethod::None)
            .ok_or_else(|| bad("unknown hash method"))?;
        let words = body
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(Bloom {
            words,
            salts: header.salts,
            hash,
        })
    }
}

/// A filter holding `values`.
pub(crate) fn build<'a>(
    f: &FilterParams,
    n: usize,
    values: impl Iterator<Item = &'a str>,
) -> Result<Bloom> {
    let mut bloom = Bloom::new(n, f.false_positive_rate, f.hash, f.random_state)?;
    for v in values {
        bloom.insert(v);
    }
    Ok(bloom)
}

/// `run_preprocess`: the filter owner (`filter_owner`, default the guest) sends a filter
/// of its ids (hashed with `preprocess_method` and `preprocess_salt`) to the other side,
/// which keeps only the ids that pass (a guest facing several host filters keeps those
/// passing all). Returns the positions of the ids this party keeps.
pub(crate) fn preprocess(
    ctx: &TaskContext<'_>,
    f: &FilterParams,
    ids: &[&str],
) -> Result<Vec<usize>> {
    let fed = ctx.federation()?;
    let tag = "preprocess";
    let keyed: Vec<String> = ids
        .iter()
        .map(|id| {
            f.preprocess_hash
                .hex_digest(id.as_bytes(), f.preprocess_salt.as_bytes())
        })
        .collect();
    let owner = if f.guest_owns_filter {
        Role::Guest
    } else {
        Role::Host
    };
    let everything = || (0..ids.len()).collect();
    if ctx.role == owner {
        let bloom = build(f, keyed.len(), keyed.iter().map(String::as_str))?;
        let to = if owner == Role::Guest {
            hosts_of(ctx)?
        } else {
            vec![guest_of(ctx)?]
        };
        fed.remote_bytes("preprocess_filter", tag, &bloom.to_bytes(), &to)?;
        return Ok(everything());
    }
    let from = if owner == Role::Guest {
        vec![guest_of(ctx)?]
    } else {
        hosts_of(ctx)?
    };
    let mut kept: Vec<usize> = everything();
    for party in from {
        let bytes = fed.get_bytes("preprocess_filter", tag, party)?;
        let bloom = Bloom::from_bytes("preprocess_filter", party, &bytes)?;
        kept.retain(|&i| bloom.contains(&keyed[i]));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_follows_fate() {
        // n = 1000, p = 0.001: m = 14378, k = 10.
        assert_eq!(Bloom::sizing(1000, 0.001), (14378, 10));
        // p = 0.2 gives k = 2, raised to 4 and m recomputed.
        let (m, k) = Bloom::sizing(1000, 0.2);
        assert_eq!(k, 4);
        assert!(m > 3000 && m < 4000, "{m}");
    }

    #[test]
    fn members_pass_and_the_false_positive_rate_holds() {
        let mut bloom = Bloom::new(2000, 0.01, HashMethod::Sha256, Some(3)).unwrap();
        for i in 0..2000 {
            bloom.insert(&format!("in{i}"));
        }
        assert!((0..2000).all(|i| bloom.contains(&format!("in{i}"))));
        let false_positives = (0..20000)
            .filter(|i| bloom.contains(&format!("out{i}")))
            .count();
        assert!(false_positives < 400, "{false_positives}");
        let party = Party {
            role: Role::Host,
            party_id: 1,
        };
        let back = Bloom::from_bytes("f", party, &bloom.to_bytes()).unwrap();
        assert_eq!(back, bloom);
        assert!(Bloom::from_bytes("f", party, &bloom.to_bytes()[..20]).is_err());
    }

    #[test]
    fn random_state_fixes_the_salts() {
        let a = Bloom::new(10, 0.1, HashMethod::Md5, Some(7)).unwrap();
        let b = Bloom::new(10, 0.1, HashMethod::Md5, Some(7)).unwrap();
        let c = Bloom::new(10, 0.1, HashMethod::Md5, Some(8)).unwrap();
        assert_eq!(a.salts, b.salts);
        assert_ne!(a.salts, c.salts);
    }
}

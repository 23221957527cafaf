//! What Paillier protocols send (hetero linear models, feature binning): ciphertext
//! vectors as raw big-endian bytes, and fixed-point numbers.
//!
//! Plaintexts under encryption are integers `round(x · 2^F)` modulo n (negative values
//! as `n − |x|`); a product of two such values has scale `2^(2F)`.

use fateflow_crypto::paillier::{Ciphertext, PublicKey};
use fateflow_crypto::Integer;
use fateflow_domain::Party;
use fateflow_federation::Error as FedError;

use crate::error::{Error, Result};

/// `[count u32 LE][width u32 LE][count × width bytes, each ciphertext big-endian]`.
pub fn encode_ciphers(cts: &[Ciphertext]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> = cts.iter().map(Ciphertext::to_bytes_be).collect();
    let width = raw.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(8 + width * raw.len());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    for r in raw {
        out.extend(std::iter::repeat_n(0u8, width - r.len()));
        out.extend_from_slice(&r);
    }
    out
}

/// Decodes [`encode_ciphers`], checking the framing and that every value is a valid
/// ciphertext for `key`.
pub fn decode_ciphers(
    name: &str,
    from: Party,
    key: &PublicKey,
    bytes: &[u8],
) -> Result<Vec<Ciphertext>> {
    let bad = |detail: String| {
        Error::Federation(FedError::Decode {
            name: name.into(),
            from,
            detail,
        })
    };
    if bytes.len() < 8 {
        return Err(bad("shorter than its 8-byte header".into()));
    }
    let count = u32::from_le_bytes(bytes[0..4].try_into().unwrap_or([0; 4])) as usize;
    let width = u32::from_le_bytes(bytes[4..8].try_into().unwrap_or([0; 4])) as usize;
    let max_width = (key.n_squared().significant_bits() as usize).div_ceil(8);
    if width > max_width {
        return Err(bad(format!(
            "ciphertexts of {width} bytes are wider than the key's {max_width}"
        )));
    }
    if count.checked_mul(width) != Some(bytes.len() - 8) {
        return Err(bad(format!(
            "{} payload bytes do not hold {count} ciphertexts of {width} bytes",
            bytes.len() - 8
        )));
    }
    let mut out = Vec::with_capacity(count);
    for chunk in bytes[8..].chunks(width.max(1)).take(count) {
        let c = Ciphertext::from_bytes_be(chunk)?;
        key.check_ciphertext(&c)
            .map_err(|e| bad(format!("invalid ciphertext: {e}")))?;
        out.push(c);
    }
    Ok(out)
}

/// `round(x · 2^bits)` as an integer (exact for |x · 2^bits| < 2^53).
pub fn fixed(x: f64, bits: u32) -> Result<Integer> {
    let scaled = (x * 2f64.powi(bits as i32)).round();
    Integer::from_f64(scaled).ok_or_else(|| Error::Crypto(fateflow_crypto::Error::NonFinite(x)))
}

/// `round(x · 2^bits)` as an `i64` scalar for encrypted dot products.
pub fn fixed_i64(x: f64, bits: u32, what: &dyn Fn() -> String) -> Result<i64> {
    let scaled = (x * 2f64.powi(bits as i32)).round();
    if !scaled.is_finite() || scaled.abs() >= 2f64.powi(62) {
        return Err(Error::param(
            "floating_point_precision",
            format!(
                "{} = {x} is too large to encode with {bits} fraction bits; scale the feature first (FeatureScale)",
                what()
            ),
        ));
    }
    Ok(scaled as i64)
}

/// `m mod n` read as a signed value (`m > n/2` is negative), divided by `2^bits`.
pub fn decode_signed(n: &Integer, m: &Integer, bits: u32) -> f64 {
    let mut v = Integer::from(m % n);
    if v < 0 {
        v += n;
    }
    let half = Integer::from(n >> 1);
    if v > half {
        v -= n;
    }
    v.to_f64() / 2f64.powi(bits as i32)
}

/// `x mod n` as a non-negative residue.
pub fn residue(x: &Integer, n: &Integer) -> Integer {
    let mut v = Integer::from(x % n);
    if v < 0 {
        v += n;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_crypto::paillier::{Encryptor, Keypair};
    use fateflow_domain::Role;

    #[test]
    fn ciphers_round_trip_and_bad_frames_fail() {
        let kp = Keypair::generate(1024).unwrap();
        let cts: Vec<Ciphertext> = (0..5)
            .map(|i| kp.public.encrypt_raw(&Integer::from(i)).unwrap())
            .collect();
        let bytes = encode_ciphers(&cts);
        let from = Party {
            role: Role::Host,
            party_id: 10000,
        };
        assert_eq!(decode_ciphers("x", from, &kp.public, &bytes).unwrap(), cts);
        let e = decode_ciphers("x", from, &kp.public, &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("do not hold"), "{e}");
        assert!(decode_ciphers("x", from, &kp.public, &[1, 2]).is_err());
    }

    #[test]
    fn signed_decoding() {
        let n = Integer::from(1000003);
        let m = residue(&Integer::from(-5 * 16), &n);
        assert_eq!(decode_signed(&n, &m, 4), -5.0);
        assert_eq!(decode_signed(&n, &Integer::from(48), 4), 3.0);
    }
}

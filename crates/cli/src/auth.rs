//! Client authentication: FATE-Flow 1.x's HMAC-SHA1 request signature
//! (`fateflow_api_types::signing`, shared with the server's verifier), signed now
//! with a fresh nonce.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

pub use fateflow_api_types::signing::{canonical_form, Credentials, SignedHeaders};

/// Signs a request now, with a fresh nonce.
pub fn sign(credentials: &Credentials, path_and_query: &str, json_body: &[u8]) -> SignedHeaders {
    sign_form(credentials, path_and_query, json_body, b"")
}

/// Signs a request whose body has text form fields (their [`canonical_form`]).
pub fn sign_form(
    credentials: &Credentials,
    path_and_query: &str,
    json_body: &[u8],
    form: &[u8],
) -> SignedHeaders {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string();
    fateflow_api_types::signing::sign(
        credentials,
        &timestamp,
        &random_uuid(),
        path_and_query,
        json_body,
        form,
    )
}

/// 128 random bits, formatted as a version-4 UUID.
///
/// The nonce only has to differ between requests; the standard library's randomly
/// keyed hasher is a good enough source for that, so no RNG crate is needed.
pub(crate) fn random_uuid() -> String {
    let hi = random_u64();
    let lo = random_u64();
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random 64-bit value from a freshly keyed SipHash.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_api_types::signing::SignedRequest;

    #[test]
    fn sign_fills_every_header_now() {
        let creds = Credentials {
            app_key: "k".into(),
            secret_key: "s".into(),
        };
        let headers = sign(&creds, "/v1/version/get", b"{}");
        assert!(headers.timestamp.parse::<u128>().unwrap() > 1_600_000_000_000);
        assert_eq!(headers.app_key, "k");
        let request = SignedRequest {
            timestamp: &headers.timestamp,
            nonce: &headers.nonce,
            app_key: "k",
            path_and_query: "/v1/version/get",
            json_body: b"{}",
            form: b"",
        };
        assert!(request.verify("s", &headers.signature));
    }

    #[test]
    fn nonces_look_like_uuids_and_differ() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
    }
}

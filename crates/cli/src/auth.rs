//! Client authentication: the HMAC-SHA1 request signature of FATE-Flow 1.x.
//!
//! When a server has `authentication.client.switch: true`, every client request must
//! carry four headers: `TIMESTAMP` (ms since the epoch), `NONCE`, `APP_KEY` and
//! `SIGNATURE`.
//! The signature is `base64(HMAC-SHA1(secret_key, message))` where `message` joins,
//! with `\n`, the timestamp, the nonce, the app key, the request path including its
//! query string, the raw body when it is JSON (else empty), and the url-encoded form
//! when the body is a form (else empty).
//! A multipart upload signs two empty parts; a model import's multipart body signs its
//! text fields as a form, as fate-client does.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The application key and secret given to this client by the server operator.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as the `APP_KEY` header.
    pub app_key: String,
    /// Signs requests; never sent.
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("app_key", &self.app_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// The four authentication headers of one request, as `(name, value)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Milliseconds since the Unix epoch, in decimal.
    pub timestamp: String,
    /// A random value, formatted like a UUID.
    pub nonce: String,
    /// The application key.
    pub app_key: String,
    /// The base64 HMAC-SHA1 signature.
    pub signature: String,
}

impl SignedHeaders {
    /// The headers in the order FATE's client sends them.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("TIMESTAMP", &self.timestamp),
            ("NONCE", &self.nonce),
            ("APP_KEY", &self.app_key),
            ("SIGNATURE", &self.signature),
        ]
    }
}

/// Computes the signature for one request.
///
/// `path_and_query` is the path as sent, with its query string and without a trailing
/// `?` when there is no query; `json_body` is the raw JSON body or empty.
pub fn signature(
    secret_key: &str,
    timestamp: &str,
    nonce: &str,
    app_key: &str,
    path_and_query: &str,
    json_body: &[u8],
) -> String {
    signature_with_form(
        secret_key,
        timestamp,
        nonce,
        app_key,
        path_and_query,
        json_body,
        b"",
    )
}

/// Like [`signature`], with the form part: FATE's server signs the text fields of a
/// form or multipart body as `urlencode(sorted(fields))` (see [`canonical_form`]).
pub fn signature_with_form(
    secret_key: &str,
    timestamp: &str,
    nonce: &str,
    app_key: &str,
    path_and_query: &str,
    json_body: &[u8],
    form: &[u8],
) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    let parts: [&[u8]; 6] = [
        timestamp.as_bytes(),
        nonce.as_bytes(),
        app_key.as_bytes(),
        path_and_query.as_bytes(),
        json_body,
        form,
    ];
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(b"\n");
        }
        mac.update(part);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Python's `urlencode(sorted(fields.items()), quote_via=quote, safe='-._~')`.
pub fn canonical_form(fields: &[(String, String)]) -> String {
    let quote = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let mut pairs: Vec<&(String, String)> = fields.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

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
    let nonce = random_uuid();
    let signature = signature_with_form(
        &credentials.secret_key,
        &timestamp,
        &nonce,
        &credentials.app_key,
        path_and_query,
        json_body,
        form,
    );
    SignedHeaders {
        timestamp,
        nonce,
        app_key: credentials.app_key.clone(),
        signature,
    }
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

    // Expected values computed independently with Python:
    //
    // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'fate-secret',
    //   b'\n'.join([b'1700000000000', b'0f8fad5b-d9cb-469f-a165-70867728950e', b'fate-app',
    //   b'/v1/job/query', b'{\"job_id\": \"202201010000000000000\"}', b'']),
    //   hashlib.sha1).digest()).decode())"
    // -> 2iOU/xfEyNudgN+kN1OAQWgbmFk=
    #[test]
    fn json_request_vector() {
        let sig = signature(
            "fate-secret",
            "1700000000000",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "fate-app",
            "/v1/job/query",
            br#"{"job_id": "202201010000000000000"}"#,
        );
        assert_eq!(sig, "2iOU/xfEyNudgN+kN1OAQWgbmFk=");
    }

    // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'fate-secret',
    //   b'\n'.join([b'1700000000000', b'0f8fad5b-d9cb-469f-a165-70867728950e', b'fate-app',
    //   b'/v1/data/upload?%7B%22file%22:%20%22a.csv%22%7D', b'', b'']),
    //   hashlib.sha1).digest()).decode())"
    // -> xDrkRUFlJzvFcE7K+bKHoAGtTSA=
    #[test]
    fn multipart_request_vector_signs_empty_body() {
        let sig = signature(
            "fate-secret",
            "1700000000000",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "fate-app",
            "/v1/data/upload?%7B%22file%22:%20%22a.csv%22%7D",
            b"",
        );
        assert_eq!(sig, "xDrkRUFlJzvFcE7K+bKHoAGtTSA=");
    }

    #[test]
    fn sign_fills_every_header() {
        let creds = Credentials {
            app_key: "k".into(),
            secret_key: "s".into(),
        };
        let headers = sign(&creds, "/v1/version/get", b"{}");
        assert!(headers.timestamp.parse::<u128>().unwrap() > 1_600_000_000_000);
        assert_eq!(headers.app_key, "k");
        assert_eq!(
            headers.signature,
            signature(
                "s",
                &headers.timestamp,
                &headers.nonce,
                "k",
                "/v1/version/get",
                b"{}"
            )
        );
        let names: Vec<_> = headers.pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE"]);
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

    #[test]
    fn debug_hides_the_secret() {
        let creds = Credentials {
            app_key: "k".into(),
            secret_key: "very-secret".into(),
        };
        assert!(!format!("{creds:?}").contains("very-secret"));
    }
}

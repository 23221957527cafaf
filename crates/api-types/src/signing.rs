//! The HMAC-SHA1 request signature of FATE-Flow 1.x clients (fate-client 1.11's
//! `flow`), used by our CLI to sign and by the server to verify.
//!
//! When a server has client authentication on, every client request carries four
//! headers: `TIMESTAMP` (ms since the epoch), `NONCE`, `APP_KEY` and `SIGNATURE`.
//! The signature is `base64(HMAC-SHA1(secret_key, message))` where `message` joins,
//! with `\n`, the timestamp, the nonce, the app key, the request path including its
//! query string, the raw body when it is JSON (else empty), and the form when the body
//! is one (else empty), written as [`canonical_form`].
//! A multipart upload signs two empty parts; a model import's multipart body signs its
//! text fields as a form, as fate-client does.
//!
//! The clock, the nonce's randomness, replay and clock-skew checks belong to the
//! callers.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The header carrying the request time.
pub const TIMESTAMP_HEADER: &str = "TIMESTAMP";
/// The header carrying the request's single-use value.
pub const NONCE_HEADER: &str = "NONCE";
/// The header carrying the application key.
pub const APP_KEY_HEADER: &str = "APP_KEY";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "SIGNATURE";

/// The application key and secret given to a client by the server operator.
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

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    /// Milliseconds since the Unix epoch, in decimal, as sent.
    pub timestamp: &'a str,
    /// The nonce, as sent.
    pub nonce: &'a str,
    /// The application key, as sent.
    pub app_key: &'a str,
    /// The full `/v1/...` path with its query string, without a trailing `?`.
    pub path_and_query: &'a str,
    /// The raw JSON body, or empty.
    pub json_body: &'a [u8],
    /// The body's form fields as [`canonical_form`], or empty.
    pub form: &'a [u8],
}

impl SignedRequest<'_> {
    /// The base64 HMAC-SHA1 signature with `secret_key`.
    pub fn signature(&self, secret_key: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes())
            .expect("HMAC accepts keys of any length");
        let parts: [&[u8]; 6] = [
            self.timestamp.as_bytes(),
            self.nonce.as_bytes(),
            self.app_key.as_bytes(),
            self.path_and_query.as_bytes(),
            self.json_body,
            self.form,
        ];
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b"\n");
            }
            mac.update(part);
        }
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Whether `presented` is the signature with `secret_key` (constant time).
    pub fn verify(&self, secret_key: &str, presented: &str) -> bool {
        constant_time_eq(self.signature(secret_key).as_bytes(), presented.as_bytes())
    }

    /// The four headers of this request, signed with `secret_key`.
    pub fn headers(&self, secret_key: &str) -> SignedHeaders {
        SignedHeaders {
            timestamp: self.timestamp.to_string(),
            nonce: self.nonce.to_string(),
            app_key: self.app_key.to_string(),
            signature: self.signature(secret_key),
        }
    }
}

/// The four authentication headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Milliseconds since the Unix epoch, in decimal.
    pub timestamp: String,
    /// A single-use value (FATE's client sends a UUID).
    pub nonce: String,
    /// The application key.
    pub app_key: String,
    /// The base64 HMAC-SHA1 signature.
    pub signature: String,
}

impl SignedHeaders {
    /// The headers as `(name, value)` pairs, in the order FATE's client sends them.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (TIMESTAMP_HEADER, &self.timestamp),
            (NONCE_HEADER, &self.nonce),
            (APP_KEY_HEADER, &self.app_key),
            (SIGNATURE_HEADER, &self.signature),
        ]
    }
}

/// Signs a request at `timestamp` with `nonce`.
pub fn sign(
    credentials: &Credentials,
    timestamp: &str,
    nonce: &str,
    path_and_query: &str,
    json_body: &[u8],
    form: &[u8],
) -> SignedHeaders {
    SignedRequest {
        timestamp,
        nonce,
        app_key: &credentials.app_key,
        path_and_query,
        json_body,
        form,
    }
    .headers(&credentials.secret_key)
}

/// Python's `urlencode(sorted(fields.items()), quote_via=quote, safe='-._~')`, the
/// form part FATE's server signs.
pub fn canonical_form(fields: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = fields.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The [`canonical_form`] of an `application/x-www-form-urlencoded` body.
pub fn canonical_form_body(body: &[u8]) -> String {
    let fields: Vec<(String, String)> = form_fields(&String::from_utf8_lossy(body));
    canonical_form(&fields)
}

/// The decoded `key=value` pairs of a urlencoded form, in order.
pub fn form_fields(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space); a malformed escape stays as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 quoting: everything but letters, digits and `-._~` as `%XX`.
pub fn quote(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Compares two secrets without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(path: &'a str, json: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            timestamp: "1700000000000",
            nonce: "0f8fad5b-d9cb-469f-a165-70867728950e",
            app_key: "fate-app",
            path_and_query: path,
            json_body: json,
            form: b"",
        }
    }

    // Expected values computed independently with Python:
    //
    // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'fate-secret',
    //   b'\n'.join([b'1700000000000', b'0f8fad5b-d9cb-469f-a165-70867728950e', b'fate-app',
    //   b'/v1/job/query', b'{\"job_id\": \"202201010000000000000\"}', b'']),
    //   hashlib.sha1).digest()).decode())"
    // -> 2iOU/xfEyNudgN+kN1OAQWgbmFk=
    #[test]
    fn json_request_vector() {
        let req = request("/v1/job/query", br#"{"job_id": "202201010000000000000"}"#);
        assert_eq!(req.signature("fate-secret"), "2iOU/xfEyNudgN+kN1OAQWgbmFk=");
        assert!(req.verify("fate-secret", "2iOU/xfEyNudgN+kN1OAQWgbmFk="));
        assert!(!req.verify("fate-secret", "2iOU/xfEyNudgN+kN1OAQWgbmFk"));
        assert!(!req.verify("other", "2iOU/xfEyNudgN+kN1OAQWgbmFk="));
    }

    // The same with b'/v1/data/upload?%7B%22file%22:%20%22a.csv%22%7D', b'', b''
    // -> xDrkRUFlJzvFcE7K+bKHoAGtTSA=
    #[test]
    fn multipart_request_vector_signs_empty_body() {
        let req = request("/v1/data/upload?%7B%22file%22:%20%22a.csv%22%7D", b"");
        assert_eq!(req.signature("fate-secret"), "xDrkRUFlJzvFcE7K+bKHoAGtTSA=");
    }

    #[test]
    fn sign_fills_every_header() {
        let creds = Credentials {
            app_key: "k".into(),
            secret_key: "s".into(),
        };
        let headers = sign(&creds, "1700000000000", "n", "/v1/version/get", b"{}", b"");
        assert_eq!(headers.app_key, "k");
        let req = SignedRequest {
            timestamp: "1700000000000",
            nonce: "n",
            app_key: "k",
            path_and_query: "/v1/version/get",
            json_body: b"{}",
            form: b"",
        };
        assert!(req.verify("s", &headers.signature));
        let names: Vec<_> = headers.pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE"]);
    }

    #[test]
    fn forms_are_sorted_and_quoted_from_fields_or_a_body() {
        let fields = [
            ("b".to_string(), "2".to_string()),
            ("a".into(), "x y".into()),
        ];
        assert_eq!(canonical_form(&fields), "a=x%20y&b=2");
        assert_eq!(canonical_form_body(b"b=2&a=x+y&c=%2F"), "a=x%20y&b=2&c=%2F");
        assert_eq!(canonical_form_body(b"bad=%zz"), "bad=%25zz");
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

//! Client authentication compatible with FATE-Flow 1.9+ (reference §1.5): headers
//! `TIMESTAMP`, `NONCE`, `APP_KEY`, `SIGNATURE` = base64(HMAC-SHA1(secret,
//! timestamp \n nonce \n app_key \n path?query \n json body \n form body)).

use super::{AppState, Reply};
use crate::cli::ServerOptions;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use fateflow_domain::retcode::RetCode;
use hmac::{Hmac, Mac};

/// Largest accepted clock difference between client and server.
const MAX_SKEW_MS: i64 = 60_000;

/// The configured client keys; `None` means no authentication.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    keys: Option<(String, String)>,
}

impl Auth {
    /// From the server options: keys when given; refuses to serve beyond loopback
    /// without them unless explicitly told to.
    pub fn from_options(opts: &ServerOptions) -> anyhow::Result<Self> {
        let keys = match (&opts.app_key, &opts.secret_key) {
            (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => Some((a.clone(), s.clone())),
            (None, None) => None,
            _ => anyhow::bail!("client authentication needs both --app-key and --secret-key"),
        };
        if keys.is_none() && !opts.listen.ip().is_loopback() && !opts.insecure_no_auth {
            anyhow::bail!(
                "the API would listen on {} without client authentication; set --app-key and --secret-key \
                 (FATEFLOW_APP_KEY / FATEFLOW_SECRET_KEY), listen on 127.0.0.1, or pass --insecure-no-auth",
                opts.listen
            );
        }
        Ok(Self { keys })
    }

    /// Authentication with these keys.
    pub fn with_keys(app_key: &str, secret_key: &str) -> Self {
        Self {
            keys: Some((app_key.into(), secret_key.into())),
        }
    }
}

/// The signature a client must send.
pub(crate) fn signature(
    secret: &str,
    timestamp: &str,
    nonce: &str,
    app_key: &str,
    path: &str,
    json_body: &[u8],
    form_body: &[u8],
) -> String {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for (i, part) in [
        timestamp.as_bytes(),
        nonce.as_bytes(),
        app_key.as_bytes(),
        path.as_bytes(),
        json_body,
        form_body,
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            mac.update(b"\n");
        }
        mac.update(part);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn deny(msg: impl Into<String>) -> Response {
    Reply::err(RetCode::AuthenticationError, msg).into_response()
}

/// How long a Board login lasts.
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// The Board's session cookie.
pub(crate) const SESSION_COOKIE: &str = "fateflow_session";

impl Auth {
    /// Whether client authentication is on.
    pub fn enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// Checks a Board login and returns a session token, `<expiry>.<mac>`.
    pub(crate) fn login(&self, app_key: &str, secret_key: &str) -> Option<String> {
        let (a, s) = self.keys.as_ref()?;
        if !constant_time_eq(a.as_bytes(), app_key.as_bytes())
            || !constant_time_eq(s.as_bytes(), secret_key.as_bytes())
        {
            return None;
        }
        let expiry = super::now_ms() + SESSION_MS;
        Some(format!("{expiry}.{}", self.session_mac(expiry)))
    }

    fn session_mac(&self, expiry: i64) -> String {
        let (a, s) = self
            .keys
            .as_ref()
            .map(|(a, s)| (a.as_str(), s.as_str()))
            .unwrap_or_default();
        signature(s, &expiry.to_string(), "board-session", a, "", b"", b"")
    }

    /// Whether a session token is valid and unexpired.
    fn session_ok(&self, token: &str) -> bool {
        let Some((expiry, mac)) = token.split_once('.') else {
            return false;
        };
        let Ok(expiry) = expiry.parse::<i64>() else {
            return false;
        };
        expiry > super::now_ms()
            && constant_time_eq(self.session_mac(expiry).as_bytes(), mac.as_bytes())
    }
}

fn session_cookie(req: &Request) -> Option<String> {
    let cookies = req
        .headers()
        .get(axum::http::header::COOKIE)?
        .to_str()
        .ok()?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The middleware on client routes: HMAC headers, or a Board session cookie.
pub(crate) async fn client_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some((app_key, secret)) = state.auth.keys.clone() else {
        return next.run(req).await;
    };
    if req.headers().get("SIGNATURE").is_none() {
        if let Some(token) = session_cookie(&req) {
            if state.auth.session_ok(&token) {
                return next.run(req).await;
            }
        }
    }
    let headers = req.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (ts, nonce, key, sig) = (
        header("TIMESTAMP"),
        header("NONCE"),
        header("APP_KEY"),
        header("SIGNATURE"),
    );
    let content_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
    let missing: Vec<&str> = [
        ("TIMESTAMP", &ts),
        ("NONCE", &nonce),
        ("APP_KEY", &key),
        ("SIGNATURE", &sig),
    ]
    .iter()
    .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        return deny(format!("requirement headers parameters: {missing:?}"));
    }
    let (ts, nonce, key, sig) = (
        ts.unwrap_or_default(),
        nonce.unwrap_or_default(),
        key.unwrap_or_default(),
        sig.unwrap_or_default(),
    );
    let Ok(ts_ms) = ts.parse::<i64>() else {
        return deny("Invalid TIMESTAMP");
    };
    if (super::now_ms() - ts_ms).abs() > MAX_SKEW_MS {
        return deny("TIMESTAMP is more than 60 seconds away from the server time");
    }
    if key != app_key {
        return deny("Unknown APP_KEY");
    }
    let path = signed_path(
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default(),
    );
    let is_multipart = content_type.starts_with("multipart/");
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let (parts, body) = req.into_parts();
    if is_multipart {
        // A multipart body without text fields (an upload) signs empty parts: leave it
        // streaming. One with text fields (a model import) signs them like a form.
        let bare = signature(&secret, &ts, &nonce, &key, &path, b"", b"");
        if constant_time_eq(bare.as_bytes(), sig.as_bytes()) {
            return next.run(Request::from_parts(parts, body)).await;
        }
        // Only the import has text fields; nothing else is read before it is trusted.
        if !path.starts_with("/v1/model/import") {
            return deny("signature authentication failed");
        }
        let bytes: Bytes =
            match axum::body::to_bytes(body, super::model::MAX_IMPORT_BYTES + (1 << 20)).await {
                Ok(b) => b,
                Err(e) => return deny(format!("cannot read the request body: {e}")),
            };
        let fields = multipart_fields(&parts.headers, bytes.clone()).await;
        let expected = signature(&secret, &ts, &nonce, &key, &path, b"", fields.as_bytes());
        if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            return deny("signature authentication failed");
        }
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let bytes: Bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(e) => return deny(format!("cannot read the request body: {e}")),
    };
    let (json_part, form_part, body) = if is_form {
        (
            Vec::new(),
            canonical_form(&bytes).into_bytes(),
            Body::from(bytes),
        )
    } else {
        (bytes.to_vec(), Vec::new(), Body::from(bytes))
    };
    let expected = signature(&secret, &ts, &nonce, &key, &path, &json_part, &form_part);
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return deny("signature authentication failed");
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The text fields of a multipart body (parts without a file name), signed as FATE's
/// server signs `request.form`: sorted, RFC 3986 quoted, joined by `&`.
async fn multipart_fields(headers: &axum::http::HeaderMap, bytes: Bytes) -> String {
    use axum::extract::FromRequest;
    let mut req = Request::new(Body::from(bytes));
    *req.headers_mut() = headers.clone();
    let Ok(mut mp) = axum::extract::Multipart::from_request(req, &()).await else {
        return String::new();
    };
    let mut pairs = Vec::new();
    while let Ok(Some(field)) = mp.next_field().await {
        if field.file_name().is_some() {
            continue;
        }
        let name = field.name().unwrap_or_default().to_string();
        let Ok(text) = field.text().await else {
            return String::new();
        };
        pairs.push((name, text));
    }
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The path the client signed: the full `/v1/...` path with its query string. This
/// middleware runs inside the router nested at `/v1`, which strips that prefix from the
/// URI it hands on (and `OriginalUri` is not compiled in), so it is put back.
fn signed_path(nested: &str) -> String {
    let nested = nested.trim_end_matches('?');
    if nested.starts_with(super::API_PREFIX)
        && nested[super::API_PREFIX.len()..].starts_with(['/', '?'])
    {
        nested.to_string()
    } else {
        format!("{}{nested}", super::API_PREFIX)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `urlencode(sorted(form.items()))` with RFC 3986 quoting, as FATE signs forms.
fn canonical_form(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut pairs: Vec<(String, String)> = text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
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

fn quote(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'secret',
        //   b'\n'.join([b'1700000000000',b'nonce',b'appkey',b'/v1/job/query',b'{\"job_id\": \"1\"}',b'']),
        //   hashlib.sha1).digest()).decode())"
        let sig = signature(
            "secret",
            "1700000000000",
            "nonce",
            "appkey",
            "/v1/job/query",
            br#"{"job_id": "1"}"#,
            b"",
        );
        assert_eq!(sig, PYTHON_SIG);
    }

    const PYTHON_SIG: &str = include_str!("../../tests/fixtures/hmac_sig.txt");

    #[test]
    fn signed_path_restores_the_api_prefix() {
        assert_eq!(signed_path("/job/query"), "/v1/job/query");
        assert_eq!(
            signed_path("/data/upload?%7B%22a%22:%201%7D"),
            "/v1/data/upload?%7B%22a%22:%201%7D"
        );
        assert_eq!(signed_path("/job/query?"), "/v1/job/query");
        assert_eq!(signed_path("/v1/job/query"), "/v1/job/query");
        assert_eq!(signed_path("/v1x/job"), "/v1/v1x/job");
    }

    #[tokio::test]
    async fn multipart_text_fields_are_signed_like_a_form() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nm#1\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n/c/m.zip\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.zip\"\r\n\r\nPK\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"force_update\"\r\n\r\n0\r\n--b--\r\n";
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "multipart/form-data; boundary=b".parse().unwrap(),
        );
        assert_eq!(
            multipart_fields(&headers, Bytes::from(body)).await,
            "file=%2Fc%2Fm.zip&force_update=0&model_id=m%231"
        );
    }

    #[test]
    fn form_is_sorted_and_quoted() {
        assert_eq!(canonical_form(b"b=2&a=x+y&c=%2F"), "a=x%20y&b=2&c=%2F");
        assert_eq!(canonical_form(b"bad=%zz"), "bad=%25zz");
    }
}

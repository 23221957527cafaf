//! Client authentication compatible with FATE-Flow 1.9+ (reference §1.5): headers
//! `TIMESTAMP`, `NONCE`, `APP_KEY`, `SIGNATURE` = base64(HMAC-SHA1(secret,
//! timestamp \n nonce \n app_key \n path?query \n json body \n form body)), the
//! signature of `fateflow_api_types::signing`, which the CLI signs with. The clock
//! skew, the nonce cache and which body part a route signs are decided here.

use super::{AppState, Reply};
use crate::cli::ServerOptions;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fateflow_api_types::signing::{
    canonical_form, canonical_form_body, constant_time_eq, SignedRequest, APP_KEY_HEADER,
    NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use fateflow_domain::retcode::RetCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Largest accepted clock difference between client and server.
const MAX_SKEW_MS: i64 = 60_000;
/// Longest accepted NONCE header.
const MAX_NONCE_LEN: usize = 128;
/// Board login failures from one client address allowed before it must wait.
const LOGIN_FREE_FAILURES: u32 = 5;
/// The first wait after those failures; it doubles with every further failure.
const LOGIN_BASE_WAIT_MS: i64 = 60_000;
/// The longest wait.
const LOGIN_MAX_WAIT_MS: i64 = 3_600_000;
/// Client addresses tracked at most; the stalest are forgotten beyond it.
const LOGIN_MAX_TRACKED: usize = 10_000;

/// The configured client keys; `None` means no authentication.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    keys: Option<(String, String)>,
    /// `(app_key, nonce)` of signed requests seen within the signature window, with
    /// the time after which their timestamp is refused anyway (then they are evicted).
    nonces: Arc<Mutex<NonceCache>>,
    /// Board login failures per client address.
    logins: Arc<Mutex<HashMap<IpAddr, LoginFailures>>>,
}

#[derive(Debug, Default)]
struct NonceCache {
    seen: HashMap<(String, String), i64>,
    last_sweep: i64,
}

#[derive(Debug, Clone, Copy)]
struct LoginFailures {
    count: u32,
    last_ms: i64,
}

impl LoginFailures {
    /// When this address may try again.
    fn next_try_ms(&self) -> i64 {
        if self.count < LOGIN_FREE_FAILURES {
            return self.last_ms;
        }
        let doublings = (self.count - LOGIN_FREE_FAILURES).min(16);
        self.last_ms + (LOGIN_BASE_WAIT_MS << doublings).min(LOGIN_MAX_WAIT_MS)
    }
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
        Ok(Self {
            keys,
            ..Default::default()
        })
    }

    /// Authentication with these keys.
    pub fn with_keys(app_key: &str, secret_key: &str) -> Self {
        Self {
            keys: Some((app_key.into(), secret_key.into())),
            ..Default::default()
        }
    }

    /// Records a signed request's nonce; `false` when it was already used within the
    /// signature window (a replay). Entries leave once their timestamp is out of the
    /// window, so the cache holds at most one window of signed requests.
    fn use_nonce(&self, app_key: &str, nonce: &str, ts_ms: i64, now: i64) -> bool {
        let mut cache = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if now - cache.last_sweep >= 1000 {
            cache.seen.retain(|_, expiry| *expiry >= now);
            cache.last_sweep = now;
        }
        let key = (app_key.to_string(), nonce.to_string());
        if cache.seen.get(&key).is_some_and(|expiry| *expiry >= now) {
            return false;
        }
        cache.seen.insert(key, ts_ms + MAX_SKEW_MS);
        true
    }

    /// How long a client address must still wait before its next Board login, if any.
    pub(crate) fn login_wait_ms(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        let wait = logins.get(&ip)?.next_try_ms() - now;
        (wait > 0).then_some(wait)
    }

    /// Records a login's outcome for its client address.
    pub(crate) fn login_result(&self, ip: IpAddr, ok: bool, now: i64) {
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            logins.remove(&ip);
            return;
        }
        if logins.len() >= LOGIN_MAX_TRACKED && !logins.contains_key(&ip) {
            // Forget addresses that may try again anyway, then the stalest half.
            logins.retain(|_, f| f.next_try_ms() > now);
            if logins.len() >= LOGIN_MAX_TRACKED {
                let mut times: Vec<i64> = logins.values().map(|f| f.last_ms).collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                logins.retain(|_, f| f.last_ms > cut);
            }
        }
        let entry = logins.entry(ip).or_insert(LoginFailures {
            count: 0,
            last_ms: now,
        });
        // A failure long after the last wait ended starts over.
        if now - entry.next_try_ms() > LOGIN_MAX_WAIT_MS {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last_ms = now;
    }
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
        SignedRequest {
            timestamp: &expiry.to_string(),
            nonce: "board-session",
            app_key: a,
            path_and_query: "",
            json_body: b"",
            form: b"",
        }
        .signature(s)
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

/// The middleware on client routes: HMAC headers, or a Board session cookie. Every
/// header is checked before any of the body is read, and the body is read only up to
/// its route's limit. Without keys, only this machine's clients pass (see [`local_only`]).
pub(crate) async fn client_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some((app_key, secret)) = state.auth.keys.clone() else {
        if let Err(r) = local_only(&state, &req) {
            return *r;
        }
        return next.run(req).await;
    };
    if req.headers().get(SIGNATURE_HEADER).is_none() {
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
        header(TIMESTAMP_HEADER),
        header(NONCE_HEADER),
        header(APP_KEY_HEADER),
        header(SIGNATURE_HEADER),
    );
    let content_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
    let missing: Vec<&str> = [
        (TIMESTAMP_HEADER, &ts),
        (NONCE_HEADER, &nonce),
        (APP_KEY_HEADER, &key),
        (SIGNATURE_HEADER, &sig),
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
    let now = super::now_ms();
    if (now - ts_ms).abs() > MAX_SKEW_MS {
        return deny("TIMESTAMP is more than 60 seconds away from the server time");
    }
    if key != app_key {
        return deny("Unknown APP_KEY");
    }
    if nonce.len() > MAX_NONCE_LEN {
        return deny(format!("NONCE is longer than {MAX_NONCE_LEN} bytes"));
    }
    let path = signed_path(
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default(),
    );
    let route = path.split('?').next().unwrap_or_default().to_string();
    let signed = |json_body: &[u8], form: &[u8]| {
        SignedRequest {
            timestamp: &ts,
            nonce: &nonce,
            app_key: &key,
            path_and_query: &path,
            json_body,
            form,
        }
        .verify(&secret, &sig)
    };
    let is_multipart = content_type.starts_with("multipart/");
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    if is_multipart && !super::MULTIPART_ROUTES.contains(&route.as_str()) {
        return super::multipart_refused(&route);
    }
    let limit = if is_multipart {
        super::model::MAX_IMPORT_BYTES + (1 << 20)
    } else {
        super::JSON_BODY_LIMIT
    };
    // An upload's multipart body is not signed (FATE signs two empty parts): nothing
    // is read before the headers are trusted, and the body streams on.
    if is_multipart && route == super::UPLOAD_ROUTE {
        if !signed(b"", b"") {
            return deny("signature authentication failed");
        }
        if !state.auth.use_nonce(&key, &nonce, ts_ms, now) {
            return nonce_reused(&nonce);
        }
        return next.run(req).await;
    }
    if let Some(len) = super::content_length(req.headers()) {
        if len > limit as u64 {
            return super::too_large(&route, limit);
        }
    }
    let (parts, body) = req.into_parts();
    if is_multipart {
        // A model import signs its text fields like a form. They come before the
        // archive (the handler refuses any after it), so only they are read before
        // the signature is checked; the archive streams on once it is.
        let (head, fields_body, rest) = match import_fields(&content_type, body).await {
            Ok(x) => x,
            Err(e) => {
                return super::error_response(
                    axum::http::StatusCode::BAD_REQUEST,
                    e.retcode(),
                    e.to_string(),
                )
            }
        };
        let fields = multipart_fields(&parts.headers, fields_body).await;
        if !signed(b"", fields.as_bytes()) {
            return deny("signature authentication failed");
        }
        if !state.auth.use_nonce(&key, &nonce, ts_ms, now) {
            return nonce_reused(&nonce);
        }
        use futures_util::StreamExt;
        let first = futures_util::stream::once(async move { Ok::<_, axum::Error>(head) });
        let body = Body::from_stream(first.chain(rest));
        return next.run(Request::from_parts(parts, body)).await;
    }
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return super::too_large(&route, limit),
    };
    let (json_part, form_part) = if is_form {
        (Vec::new(), canonical_form_body(&bytes).into_bytes())
    } else {
        (bytes.to_vec(), Vec::new())
    };
    if !signed(&json_part, &form_part) {
        return deny("signature authentication failed");
    }
    if !state.auth.use_nonce(&key, &nonce, ts_ms, now) {
        return nonce_reused(&nonce);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Largest text-field section of a model import, read before its signature is checked.
const IMPORT_FIELDS_LIMIT: usize = 1 << 20;

/// Reads a multipart body up to the start of its first file part: returns what was
/// read, the text fields as a complete multipart body, and the unread rest.
async fn import_fields(
    content_type: &str,
    body: Body,
) -> Result<(Bytes, Bytes, axum::body::BodyDataStream), super::RequestError> {
    use super::RequestError;
    use futures_util::StreamExt;
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
    else {
        return Err(RequestError::NoBoundary);
    };
    let delim = format!("--{boundary}").into_bytes();
    let mut rest = body.into_data_stream();
    let mut buf = Vec::new();
    let end = loop {
        if let Some(end) = text_fields_end(&buf, &delim) {
            break end;
        }
        if buf.len() > IMPORT_FIELDS_LIMIT {
            return Err(RequestError::ImportFieldsTooLarge {
                limit: IMPORT_FIELDS_LIMIT,
            });
        }
        match rest.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(RequestError::Body(e)),
            None => break buf.len(),
        }
    };
    let mut fields = buf[..end].to_vec();
    if end < buf.len() {
        if end > 0 {
            fields.extend_from_slice(b"\r\n");
        }
        fields.extend_from_slice(&delim);
        fields.extend_from_slice(b"--\r\n");
    }
    Ok((Bytes::from(buf), Bytes::from(fields), rest))
}

/// Where the first file part of a multipart body starts (at the CRLF before its
/// delimiter), or its end when it has none; `None` while more bytes are needed.
fn text_fields_end(buf: &[u8], delim: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let p = from + find(&buf[from..], delim)?;
        if p > 0 && (p < 2 || &buf[p - 2..p] != b"\r\n") {
            from = p + 1;
            continue;
        }
        let after = p + delim.len();
        if buf.len() < after + 2 {
            return None;
        }
        if &buf[after..after + 2] == b"--" {
            return Some(buf.len());
        }
        let headers_end = after + find(&buf[after..], b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&buf[after..headers_end]).to_ascii_lowercase();
        if headers.contains("filename=") {
            return Some(p.saturating_sub(2));
        }
        from = headers_end;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn nonce_reused(nonce: &str) -> Response {
    deny(format!(
        "NONCE `{}` was already used within the last {} seconds: a signed request cannot be replayed; sign every request with a new nonce",
        nonce.escape_debug(),
        MAX_SKEW_MS / 1000
    ))
}

/// Without client authentication only this machine's own clients may call: the Host
/// must be the listen address or a loopback name with its port (no DNS rebinding), a
/// browser's Origin must be that same site, and a body must be JSON
/// (`application/json`, which no cross-origin page can send without a preflight).
fn local_only(state: &AppState, req: &Request) -> Result<(), Box<Response>> {
    let refuse = |status: axum::http::StatusCode, msg: String| {
        Err(Box::new(super::error_response(
            status,
            RetCode::PermissionError,
            msg,
        )))
    };
    let host = super::request_host(req);
    let port = state.listen.port();
    // A site opened beyond loopback with --insecure-no-auth has no name to check.
    if state.listen.ip().is_loopback() {
        let allowed = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            state.listen.to_string(),
        ];
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
            return refuse(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "Host `{}` refused: without client authentication this site answers only requests to {}",
                    host.escape_debug(),
                    allowed[..3].join(", ")
                ),
            );
        }
    }
    if let Err(e) = super::same_origin(req.headers(), &host) {
        return refuse(axum::http::StatusCode::FORBIDDEN, e.to_string());
    }
    let has_body = req.method() != axum::http::Method::GET
        && super::content_length(req.headers()).is_none_or(|n| n > 0);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let json = content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim() == "application/json");
    let multipart = content_type.starts_with("multipart/form-data");
    if has_body && !json && !multipart {
        return refuse(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type `{}` refused: without client authentication a request body must be sent as `Content-Type: application/json`",
                content_type.escape_debug()
            ),
        );
    }
    Ok(())
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
    canonical_form(&pairs)
}

/// The path the client signed: the full `/v1/...` path with its query string. This
/// middleware runs inside the router nested at `/v1`, which strips that prefix from the
/// URI it hands on (and `OriginalUri` is not compiled in), so it is put back.
pub(super) fn signed_path(nested: &str) -> String {
    let nested = nested.trim_end_matches('?');
    if nested.starts_with(super::API_PREFIX)
        && nested[super::API_PREFIX.len()..].starts_with(['/', '?'])
    {
        nested.to_string()
    } else {
        format!("{}{nested}", super::API_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'secret',
        //   b'\n'.join([b'1700000000000',b'nonce',b'appkey',b'/v1/job/query',b'{\"job_id\": \"1\"}',b'']),
        //   hashlib.sha1).digest()).decode())"
        let request = SignedRequest {
            timestamp: "1700000000000",
            nonce: "nonce",
            app_key: "appkey",
            path_and_query: "/v1/job/query",
            json_body: br#"{"job_id": "1"}"#,
            form: b"",
        };
        assert_eq!(request.signature("secret"), PYTHON_SIG);
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
    fn text_fields_end_at_the_first_file_part() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nm\r\n\
                     --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.zip\"\r\n\r\nPK";
        let start = body.windows(4).rposition(|w| w == b"\r\n--").unwrap();
        assert_eq!(text_fields_end(body, b"--b"), Some(start));
        // Not yet known while the part's headers are cut off.
        assert_eq!(text_fields_end(&body[..start + 20], b"--b"), None);
        // A file first, or no file at all.
        assert_eq!(text_fields_end(&body[start + 2..], b"--b"), Some(0));
        let closed = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n";
        assert_eq!(text_fields_end(closed, b"--b"), Some(closed.len()));
        // Junk without a delimiter needs more bytes (the caller caps them).
        assert_eq!(text_fields_end(&[b'a'; 100], b"--b"), None);
    }

    #[test]
    fn nonces_are_single_use_within_the_window_and_then_evicted() {
        let auth = Auth::with_keys("ak", "sk");
        let t = 1_700_000_000_000;
        assert!(auth.use_nonce("ak", "n1", t, t));
        assert!(!auth.use_nonce("ak", "n1", t, t + 1), "replay refused");
        assert!(
            auth.use_nonce("other", "n1", t, t + 1),
            "keyed by app key too"
        );
        // Past the window the timestamp itself is refused; the entry is dropped.
        assert!(auth.use_nonce("ak", "n2", t + 200_000, t + 200_000));
        let seen = auth.nonces.lock().unwrap().seen.len();
        assert_eq!(seen, 1, "expired entries are evicted");
    }

    #[test]
    fn login_failures_wait_longer_each_time() {
        let auth = Auth::with_keys("ak", "sk");
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t = 1_000_000;
        for _ in 0..LOGIN_FREE_FAILURES {
            assert_eq!(auth.login_wait_ms(ip, t), None);
            auth.login_result(ip, false, t);
        }
        assert_eq!(auth.login_wait_ms(ip, t), Some(LOGIN_BASE_WAIT_MS));
        let later = t + LOGIN_BASE_WAIT_MS;
        assert_eq!(auth.login_wait_ms(ip, later), None);
        auth.login_result(ip, false, later);
        assert_eq!(auth.login_wait_ms(ip, later), Some(2 * LOGIN_BASE_WAIT_MS));
        // Another address is not affected; a success clears the record.
        assert_eq!(auth.login_wait_ms([10, 0, 0, 2].into(), later), None);
        auth.login_result(ip, true, later);
        assert_eq!(auth.login_wait_ms(ip, later), None);
    }

    #[test]
    fn form_is_sorted_and_quoted() {
        assert_eq!(canonical_form_body(b"b=2&a=x+y&c=%2F"), "a=x%20y&b=2&c=%2F");
        assert_eq!(canonical_form_body(b"bad=%zz"), "bad=%25zz");
    }
}

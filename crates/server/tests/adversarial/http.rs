//! The HTTP edge: signatures (replay, unsigned multipart, body read before the
//! signature), a site without authentication (cross-origin POST, forged Host),
//! malformed JSON, identifiers that would name other files, the Board's headers and
//! login throttle. Raw requests with forged headers against real servers.

use crate::common::Server;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const AK: &str = "ak";
const SK: &str = "sk";

fn auth_server(dir: &std::path::Path) -> Server {
    Server::start(dir, &[], &["--app-key", AK, "--secret-key", SK])
}

/// `127.0.0.1:<port>` of a server.
fn addr(s: &Server) -> String {
    s.base
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string()
}

fn now_ms() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

fn fresh_nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "n-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        now_ms()
    )
}

/// FATE's signature: timestamp, nonce, app key, path?query, JSON body, form body.
fn sign(ts: &str, nonce: &str, path: &str, json_body: &str, form_body: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(format!("{ts}\n{nonce}\n{AK}\n{path}\n{json_body}\n{form_body}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Status and envelope of a response.
fn envelope(r: reqwest::blocking::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, v)
}

fn retmsg(v: &Value) -> String {
    v["retmsg"].as_str().unwrap_or_default().to_string()
}

/// A `/proc/<pid>/status` field in kB.
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn signed_request_cannot_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let s = auth_server(dir.path());
    let body = r#"{"job_id": "none"}"#;
    let (ts, nonce) = (now_ms(), fresh_nonce());
    let sig = sign(&ts, &nonce, "/v1/job/query", body, "");
    let send = |nonce: &str, sig: &str| {
        envelope(
            client()
                .post(format!("{}/job/query", s.base))
                .header("TIMESTAMP", &ts)
                .header("NONCE", nonce)
                .header("APP_KEY", AK)
                .header("SIGNATURE", sig)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .unwrap(),
        )
    };
    let (_, first) = send(&nonce, &sig);
    assert_eq!(
        first["retcode"], 0,
        "the signed request passes once: {first}"
    );
    for _ in 0..2 {
        let (_, again) = send(&nonce, &sig);
        assert_eq!(
            again["retcode"], 109,
            "the identical request replayed within its window must be refused: {again}"
        );
        assert!(
            retmsg(&again).contains("NONCE") && retmsg(&again).contains("already used"),
            "{again}"
        );
    }
    let other = fresh_nonce();
    let (_, fresh) = send(&other, &sign(&ts, &other, "/v1/job/query", body, ""));
    assert_eq!(fresh["retcode"], 0, "a new nonce passes: {fresh}");
}

#[test]
fn multipart_is_refused_on_json_routes() {
    // With authentication: an upload's signature covers no body part, so a multipart
    // content type on any other route made an unsigned body pass.
    let dir = tempfile::tempdir().unwrap();
    let s = auth_server(dir.path());
    let body = r#"{"job_id": "none"}"#;
    let (ts, nonce) = (now_ms(), fresh_nonce());
    let (status, r) = envelope(
        client()
            .post(format!("{}/job/query", s.base))
            .header("TIMESTAMP", &ts)
            .header("NONCE", &nonce)
            .header("APP_KEY", AK)
            .header("SIGNATURE", sign(&ts, &nonce, "/v1/job/query", "", ""))
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body(body)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, r["retcode"].clone()),
        (415, json!(101)),
        "a multipart body signed as empty must not reach job/query: {r}"
    );
    assert!(retmsg(&r).contains("multipart"), "{r}");
    // Without authentication too.
    let dir2 = tempfile::tempdir().unwrap();
    let open = Server::start(dir2.path(), &[], &[]);
    let (status, r) = envelope(
        client()
            .post(format!("{}/job/query", open.base))
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body(body)
            .send()
            .unwrap(),
    );
    assert_eq!((status, r["retcode"].clone()), (415, json!(101)), "{r}");
    assert!(retmsg(&r).contains("/v1/data/upload"), "{r}");
}

/// Sends request headers (and no body) over a raw socket; the answer's status line,
/// or `None` when none came within `wait`.
fn headers_only(s: &Server, head: &str, wait: Duration) -> Option<String> {
    let mut sock = TcpStream::connect(addr(s)).unwrap();
    sock.write_all(head.as_bytes()).unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    match sock.read(&mut buf) {
        Ok(n) if n > 0 => Some(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
        _ => None,
    }
}

#[test]
fn oversize_bodies_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = auth_server(dir.path());
    let pid = s.child.id();
    let host = addr(&s);
    // 1. A huge declared body with a bogus signature is answered from its headers.
    for (path, ctype) in [
        ("/v1/job/submit", "application/json"),
        ("/v1/model/import", "multipart/form-data; boundary=b"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
             TIMESTAMP: {}\r\nNONCE: {}\r\nAPP_KEY: {AK}\r\nSIGNATURE: bogus\r\n\r\n",
            6u64 << 30,
            now_ms(),
            fresh_nonce()
        );
        let t0 = Instant::now();
        let line = headers_only(&s, &head, Duration::from_secs(5));
        let line = line.unwrap_or_else(|| {
            panic!("{path}: no answer in 5 s: the server waits for a 6 GiB body before checking the signature")
        });
        assert!(
            line.contains(" 413 ") || line.contains(" 200 "),
            "{path}: {line}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
    // 2. Streamed (chunked) bodies with a bogus signature: at most a bounded prefix is
    //    held. Six at once used to hold 6 x 257 MiB.
    let hwm_before = proc_kb(pid, "VmHWM:");
    let t0 = Instant::now();
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || {
                let mut sock = TcpStream::connect(&host).unwrap();
                sock.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
                let head = format!(
                    "POST /v1/model/import HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=b\r\n\
                     Transfer-Encoding: chunked\r\nTIMESTAMP: {}\r\nNONCE: {}\r\nAPP_KEY: {AK}\r\nSIGNATURE: bogus\r\n\r\n",
                    now_ms(),
                    fresh_nonce()
                );
                if sock.write_all(head.as_bytes()).is_err() {
                    return 0usize;
                }
                let chunk = vec![b'a'; 1 << 20];
                let mut sent = 0;
                for _ in 0..300 {
                    let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    if sock.write_all(&frame).is_err() {
                        break;
                    }
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let sent: Vec<usize> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    let grown_mb = proc_kb(pid, "VmHWM:").saturating_sub(hwm_before) / 1024;
    assert!(
        grown_mb < 200,
        "six unauthenticated streamed bodies grew the server's peak RSS by {grown_mb} MB (MiB sent each: {sent:?})"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t0.elapsed()
    );
    // The server still answers.
    let (_, r) = envelope(
        client()
            .post(format!("{}/job/query", s.base))
            .send()
            .unwrap(),
    );
    assert_eq!(r["retcode"], 109, "{r}");
}

#[test]
fn without_auth_only_local_same_origin_json_requests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let read = |f: &str| -> Value {
        let p = crate::common::examples()
            .join("jobs/reader_transform")
            .join(f);
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let (job, conf) = (read("dsl.json"), read("conf.json"));
    let submit = json!({"job_dsl": job, "job_runtime_conf": conf}).to_string();
    let host = addr(&s);
    let port = host.rsplit(':').next().unwrap().to_string();
    // What a page on another site can make a browser send without a preflight.
    let (status, r) = envelope(
        client()
            .post(format!("{}/job/submit", s.base))
            .header("Origin", "http://evil.example")
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(submit.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403, "a cross-origin POST must be refused: {r}");
    assert!(retmsg(&r).contains("Origin"), "{r}");
    // A text/plain body without Origin (a form or an old browser) is not JSON.
    let (status, r) = envelope(
        client()
            .post(format!("{}/job/submit", s.base))
            .header("Content-Type", "text/plain")
            .body(submit.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 415, "{r}");
    assert!(retmsg(&r).contains("application/json"), "{r}");
    // A forged Host (DNS rebinding) is refused even with a JSON body.
    let (status, r) = envelope(
        client()
            .post(format!("{}/job/query", s.base))
            .header("Host", "evil.example")
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403, "a forged Host must be refused: {r}");
    assert!(retmsg(&r).contains("Host"), "{r}");
    let jobs = s.post("job/list/job", json!({}));
    assert_eq!(
        jobs["data"]["count"], 0,
        "no job was created by the refused requests: {jobs}"
    );
    // This machine's own clients pass: loopback names, the site's own Origin.
    for (h, origin) in [
        (host.clone(), None),
        (
            format!("localhost:{port}"),
            Some(format!("http://localhost:{port}")),
        ),
        (host.clone(), Some(format!("http://{host}"))),
    ] {
        let mut req = client()
            .post(format!("{}/job/query", s.base))
            .header("Host", &h)
            .header("Content-Type", "application/json")
            .body("{}");
        if let Some(o) = &origin {
            req = req.header("Origin", o);
        }
        let (status, r) = envelope(req.send().unwrap());
        assert_eq!(
            (status, r["retcode"].clone()),
            (200, json!(0)),
            "{h} {origin:?}: {r}"
        );
    }
}

#[test]
fn malformed_json_is_an_argument_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let post = |path: &str, body: &str| {
        envelope(
            client()
                .post(format!("{}/{path}", s.base))
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .unwrap(),
        )
    };
    let (status, r) = post("job/query", r#"{"job_id": "2026"#);
    assert_eq!(
        (status, r["retcode"].clone()),
        (400, json!(101)),
        "a cut-off body must not be read as `{{}}` (every job): {r}"
    );
    assert!(retmsg(&r).contains("not valid JSON"), "{r}");
    let (_, r) = post("job/stop", r#"["202612"]"#);
    assert_eq!(r["retcode"], 101, "{r}");
    assert!(retmsg(&r).contains("JSON object"), "{r}");
    let (_, r) = post("job/query", "");
    assert_eq!(r["retcode"], 0, "an empty body is still `{{}}`: {r}");
}

#[test]
fn identifiers_that_name_other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    // Some job's logs, and a file beside the logs dir.
    let logs = dir
        .path()
        .join("logs/202612050000000000000/guest/9999/reader_0");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("INFO.log"), "secret line\n").unwrap();
    let download = |job_id: &str| {
        let r = client()
            .post(format!("{}/job/log/download", s.base))
            .header("Content-Type", "application/json")
            .body(json!({ "job_id": job_id }).to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ctype, r.text().unwrap_or_default())
    };
    for bad in [".", "./", "..", "/", "/etc", "a/../.."] {
        let (status, ctype, text) = download(bad);
        assert!(
            !ctype.contains("gzip"),
            "job_id {bad:?} downloaded an archive (every job's logs)"
        );
        assert!(
            text.contains("\"retcode\":101") && text.contains("job_id"),
            "job_id {bad:?}: HTTP {status} {text}"
        );
    }
    let (_, ctype, _) = download("202612050000000000000");
    assert!(ctype.contains("gzip"), "a real job's logs still download");
    // The same grammar on every route that builds paths or queries from ids.
    let cases = [
        ("job/log/path", json!({"job_id": "../x"})),
        ("job/query", json!({"job_id": "."})),
        (
            "job/rerun",
            json!({"job_id": "1", "component_name": "/abs"}),
        ),
        (
            "tracking/component/output/data",
            json!({"job_id": "1", "component_name": "a/b", "role": "guest", "party_id": 9999}),
        ),
        (
            "tracking/component/metrics",
            json!({"job_id": "1", "component_name": "c", "role": "../guest", "party_id": 9999}),
        ),
        (
            "tracking/component/parameters",
            json!({"job_id": "1", "component_name": "c", "role": "guest", "party_id": "9999/.."}),
        ),
        (
            "model/query",
            json!({"model_id": "../m", "model_version": "1"}),
        ),
        (
            "model/get/predict/dsl",
            json!({"model_id": "m", "model_version": "/etc"}),
        ),
        (
            "board/log",
            json!({"job_id": ".", "role": "guest", "party_id": 9999, "component_name": "reader_0"}),
        ),
    ];
    for (path, body) in cases {
        let r = s.post(path, body.clone());
        assert_eq!(r["retcode"], 101, "{path} {body}: {r}");
        assert!(
            retmsg(&r).contains("job_id")
                || retmsg(&r).contains("component_name")
                || retmsg(&r).contains("role")
                || retmsg(&r).contains("party_id")
                || retmsg(&r).contains("model_"),
            "{path}: the error names the field: {r}"
        );
    }
    let r = s.post(
        "board/log",
        json!({"job_id": "202612050000000000000", "role": "guest", "party_id": 9999, "component_name": "reader_0"}),
    );
    assert_eq!(
        r["data"]["lines"][0], "secret line",
        "a real log still reads: {r}"
    );
}

#[test]
fn board_is_served_with_a_strict_csp_and_frame_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &[]);
    let root = s.base.trim_end_matches("/v1");
    for path in ["/", "/board/app.js", "/board/app.css"] {
        let r = client().get(format!("{root}{path}")).send().unwrap();
        let h = |k: &str| {
            r.headers()
                .get(k)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let csp = h("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: CSP `{csp}`"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert!(!h("referrer-policy").is_empty(), "{path}");
        let text = r.text().unwrap();
        // Nothing inline that the policy would block.
        assert!(!text.contains("style=\""), "{path} has an inline style");
        assert!(
            !text.contains("javascript:"),
            "{path} has a javascript: URL"
        );
        if path == "/" {
            assert!(!text.contains("<script>"), "the page has an inline script");
        }
    }
}

#[test]
fn board_login_is_throttled_after_failures() {
    let dir = tempfile::tempdir().unwrap();
    let s = auth_server(dir.path());
    let login = |secret: &str| {
        let r = client()
            .post(format!("{}/board/login", s.base))
            .header("Content-Type", "application/json")
            .body(json!({"app_key": AK, "secret_key": secret}).to_string())
            .send()
            .unwrap();
        let retry = r.headers().get("retry-after").is_some();
        let (status, v) = envelope(r);
        (status, v, retry)
    };
    for i in 0..5 {
        let (status, r, _) = login(&format!("guess{i}"));
        assert_eq!((status, r["retcode"].clone()), (200, json!(109)), "{r}");
    }
    // Even the right secret must now wait: guessing cannot go on at full speed.
    let (status, r, retry) = login(SK);
    assert_eq!(status, 429, "the 6th login in a row must be throttled: {r}");
    assert!(retry, "429 carries Retry-After");
    assert!(retmsg(&r).contains("too many failed logins"), "{r}");
}

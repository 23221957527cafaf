//! The HTTP client for a FATE-Flow 1.x server's client API (`/v1/...`).

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::{json, Value};

use super::requests::*;
use crate::auth;
use crate::pyjson;
use crate::settings::Endpoint;

/// Errors of the HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing answered at the configured address.
    #[error("cannot connect to the FATE-Flow server at {address}")]
    Connect {
        /// `ip:port`.
        address: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server did not answer in time.
    #[error("the FATE-Flow server at {address} did not answer in time")]
    Timeout {
        /// `ip:port`.
        address: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Any other transport failure.
    #[error("request to {url} failed")]
    Transport {
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The endpoint name did not form a valid URL.
    #[error("invalid URL {url}")]
    Url {
        /// The URL text.
        url: String,
        /// The parse error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Encoding a request body failed.
    #[error("encoding the request body")]
    Encode(#[from] serde_json::Error),
    /// Reading the upload file or writing a download failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The local file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// A decoded response: FATE-Flow's `{retcode, retmsg, data, jobId}` envelope.
///
/// A body that is not JSON becomes `{"retcode": 100, "retmsg": <text>}`, as in FATE's
/// client.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// HTTP status of the response.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Envelope {
    /// Wraps a response body, turning non-JSON text into a retcode-100 envelope.
    pub fn from_text(status: u16, text: &str) -> Self {
        let body = match serde_json::from_str::<Value>(text) {
            Ok(value) => value,
            Err(_) => json!({"retcode": 100, "retmsg": text}),
        };
        Self { status, body }
    }

    /// `retcode` (or 2.x's `code`), when present and numeric.
    pub fn retcode(&self) -> Option<i64> {
        let code = self.body.get("retcode").or_else(|| self.body.get("code"))?;
        match code {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// `retmsg` (or `message`), or an empty string.
    pub fn retmsg(&self) -> &str {
        self.body
            .get("retmsg")
            .or_else(|| self.body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Whether the server reported success (`retcode == 0`).
    pub fn is_success(&self) -> bool {
        self.retcode() == Some(0)
    }

    /// The `data` member, or `null`.
    pub fn data(&self) -> &Value {
        self.body.get("data").unwrap_or(&Value::Null)
    }

    /// The job id of a submit-like response: top-level `jobId`, else `data.job_id`.
    pub fn job_id(&self) -> Option<&str> {
        self.body
            .get("jobId")
            .and_then(Value::as_str)
            .or_else(|| self.data().get("job_id").and_then(Value::as_str))
    }
}

/// The outcome of a download request.
#[derive(Debug)]
pub enum Download {
    /// The server sent a file, now saved at the destination.
    Saved {
        /// Number of bytes written.
        bytes: u64,
    },
    /// The server answered with an envelope (usually an error) instead of a file.
    Envelope(Envelope),
}

/// The outcome of a download whose file name the server chooses.
#[derive(Debug)]
pub enum NamedDownload {
    /// The server sent a file, saved under the name it gave (its last path part).
    Saved {
        /// Where it was written.
        path: PathBuf,
        /// Number of bytes written.
        bytes: u64,
    },
    /// The server answered with an envelope (usually an error) instead of a file.
    Envelope(Envelope),
}

/// The file name of a `Content-Disposition: attachment; filename=...` header, reduced
/// to a plain name (no directories, no `..`), or `None`.
pub fn attachment_name(header: &str) -> Option<String> {
    let raw = header.split("filename=").nth(1)?;
    let raw = raw.split(';').next()?.trim().trim_matches('"');
    let name = raw.rsplit(['/', '\\']).next()?.to_string();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// Progress callback of an upload: `(bytes_sent, total_bytes)`.
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

/// A client bound to one server.
#[derive(Debug, Clone)]
pub struct FlowClient {
    http: Client,
    endpoint: Endpoint,
}

impl FlowClient {
    /// A client for `endpoint`. No connection is made yet.
    pub fn new(endpoint: Endpoint) -> Result<Self> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Uploads, downloads and federated submits can take long: like FATE's
            // client, do not limit the whole request by default.
            .timeout(None)
            .user_agent(concat!("fateflow-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Transport {
                url: endpoint.base_url(),
                source,
            })?;
        Ok(Self { http, endpoint })
    }

    /// The server this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The full URL of `endpoint` (`job/submit` → `http://ip:port/v1/job/submit`).
    pub fn url(&self, endpoint: &str) -> Result<Url> {
        let text = format!(
            "{}/{}",
            self.endpoint.base_url(),
            endpoint.trim_start_matches('/')
        );
        Url::parse(&text).map_err(|e| Error::Url {
            url: text,
            source: e.into(),
        })
    }

    /// Sends a JSON body with `POST` and decodes the envelope.
    pub fn post<B: Serialize + ?Sized>(&self, endpoint: &str, body: &B) -> Result<Envelope> {
        self.json_request(Method::POST, endpoint, body, None)
    }

    /// Like [`FlowClient::post`], but gives up after `timeout`.
    pub fn post_with_timeout<B: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<Envelope> {
        self.json_request(Method::POST, endpoint, body, Some(timeout))
    }

    fn json_request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        endpoint: &str,
        body: &B,
        timeout: Option<Duration>,
    ) -> Result<Envelope> {
        let url = self.url(endpoint)?;
        let mut request = self.json_builder(method, url.clone(), body)?;
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = self.send(request, &url)?;
        self.envelope(response, &url)
    }

    /// Builds a signed request with a JSON body serialised like Python's `json.dumps`.
    fn json_builder<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<RequestBuilder> {
        let bytes = pyjson::to_string(body)?.into_bytes();
        let request = self
            .http
            .request(method, url.clone())
            .header(CONTENT_TYPE, "application/json");
        let request = self.signed(request, &url, &bytes);
        Ok(request.body(bytes))
    }

    fn signed(&self, mut request: RequestBuilder, url: &Url, json_body: &[u8]) -> RequestBuilder {
        if let Some(credentials) = &self.endpoint.credentials {
            let headers = auth::sign(credentials, &path_and_query(url), json_body);
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
        }
        request
    }

    fn send(&self, request: RequestBuilder, url: &Url) -> Result<Response> {
        request
            .send()
            .map_err(|source| self.transport_error(url, source))
    }

    fn transport_error(&self, url: &Url, source: reqwest::Error) -> Error {
        let address = self.endpoint.address();
        if source.is_connect() {
            Error::Connect { address, source }
        } else if source.is_timeout() {
            Error::Timeout { address, source }
        } else {
            Error::Transport {
                url: url.to_string(),
                source,
            }
        }
    }

    fn envelope(&self, response: Response, url: &Url) -> Result<Envelope> {
        let status = response.status().as_u16();
        let text = response
            .text()
            .map_err(|source| self.transport_error(url, source))?;
        Ok(Envelope::from_text(status, &text))
    }

    /// Sends a JSON request whose successful answer is a file, and streams that file
    /// to `dest`. An answer that is JSON (or any non-200 answer) is decoded instead.
    pub fn download<B: Serialize + ?Sized>(
        &self,
        method: Method,
        endpoint: &str,
        body: &B,
        dest: &Path,
    ) -> Result<Download> {
        let url = self.url(endpoint)?;
        let request = self.json_builder(method, url.clone(), body)?;
        let response = self.send(request, &url)?;
        if response.status().as_u16() != 200 || is_json(&response) {
            return self.envelope(response, &url).map(Download::Envelope);
        }
        let bytes = self.save_body(response, &url, dest)?;
        Ok(Download::Saved { bytes })
    }

    /// Like [`FlowClient::download`], but the file goes into `dir` under the name the
    /// server gives in `Content-Disposition` (FATE's model export).
    pub fn download_named<B: Serialize + ?Sized>(
        &self,
        method: Method,
        endpoint: &str,
        body: &B,
        dir: &Path,
    ) -> Result<NamedDownload> {
        let url = self.url(endpoint)?;
        let request = self.json_builder(method, url.clone(), body)?;
        let response = self.send(request, &url)?;
        let is_json = is_json(&response);
        let name = response
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(attachment_name);
        let (200, false, Some(name)) = (response.status().as_u16(), is_json, name) else {
            return self.envelope(response, &url).map(NamedDownload::Envelope);
        };
        let path = dir.join(name);
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "writing",
            path: path.clone(),
            source,
        })?;
        let bytes = self.save_body(response, &url, &path)?;
        Ok(NamedDownload::Saved { path, bytes })
    }

    /// Streams a file answer's body to `path`; returns its size.
    fn save_body(&self, mut response: Response, url: &Url, path: &Path) -> Result<u64> {
        let mut file = File::create(path).map_err(|source| Error::Io {
            action: "writing",
            path: path.to_path_buf(),
            source,
        })?;
        response
            .copy_to(&mut file)
            .map_err(|source| self.transport_error(url, source))
    }

    /// `POST` of a multipart body: text `fields`, then `file` as the part `file_field`
    /// (how fate-client sends `requests.post(data=fields, files={...})`). The text
    /// fields are signed as a form.
    pub fn post_multipart(
        &self,
        endpoint: &str,
        fields: &[(String, String)],
        file_field: &str,
        file: &Path,
    ) -> Result<Envelope> {
        let url = self.url(endpoint)?;
        let io_err = |action, source| Error::Io {
            action,
            path: file.to_path_buf(),
            source,
        };
        let handle = File::open(file).map_err(|e| io_err("opening", e))?;
        let file_len = handle.metadata().map_err(|e| io_err("reading", e))?.len();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_string());
        let boundary = format!("{:016x}{:016x}", auth::random_u64(), auth::random_u64());
        let mut head = Vec::new();
        for (k, v) in fields {
            head.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                    html5_quote(k)
                )
                .as_bytes(),
            );
        }
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\r\n",
                html5_quote(file_field),
                html5_quote(&name)
            )
            .as_bytes(),
        );
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        let total = head.len() as u64 + file_len + tail.len() as u64;
        let reader = Cursor::new(head).chain(handle).chain(Cursor::new(tail));
        let mut request = self.http.post(url.clone()).header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
        if let Some(credentials) = &self.endpoint.credentials {
            let form = auth::canonical_form(fields);
            let headers = auth::sign_form(credentials, &path_and_query(&url), b"", form.as_bytes());
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
        }
        let response = self.send(request.body(Body::sized(reader, total)), &url)?;
        self.envelope(response, &url)
    }

    /// `POST /data/upload?<query>` with the file as the multipart field `file`.
    ///
    /// `query_json` is the upload conf as JSON text; it becomes the whole query string,
    /// percent-encoded, exactly as FATE's client sends it.
    pub fn upload_file(
        &self,
        query_json: &str,
        file: &Path,
        mut progress: Progress,
    ) -> Result<Envelope> {
        let url = upload_url(&self.endpoint.base_url(), query_json)?;
        let io_err = |action, source| Error::Io {
            action,
            path: file.to_path_buf(),
            source,
        };
        let handle = File::open(file).map_err(|e| io_err("opening", e))?;
        let file_len = handle.metadata().map_err(|e| io_err("reading", e))?.len();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_string());
        let form = Multipart::new(&name, file_len);
        let total = form.len();
        let content_type = form.content_type();
        let reader = Cursor::new(form.head)
            .chain(handle)
            .chain(Cursor::new(form.tail));
        progress(0, total);
        let reader = ProgressReader {
            inner: reader,
            sent: 0,
            total,
            progress,
        };
        let request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, content_type);
        // Multipart bodies sign an empty body part.
        let request = self.signed(request, &url, b"");
        let response = self.send(request.body(Body::sized(reader, total)), &url)?;
        self.envelope(response, &url)
    }
}

/// The typed endpoints, one per FATE-Flow route the CLI uses.
impl FlowClient {
    /// `POST /job/submit`.
    pub fn job_submit(&self, body: &JobSubmit) -> Result<Envelope> {
        self.post("job/submit", body)
    }

    /// `POST /job/query`: raw job rows.
    pub fn job_query(&self, body: &JobFilter) -> Result<Envelope> {
        self.post("job/query", body)
    }

    /// `POST /job/list/job`: `{"jobs": [...], "count": n}`.
    pub fn job_list(&self, body: &JobList) -> Result<Envelope> {
        self.post("job/list/job", body)
    }

    /// `POST /job/stop`.
    pub fn job_stop(&self, body: &JobId) -> Result<Envelope> {
        self.post("job/stop", body)
    }

    /// `POST /job/rerun`.
    pub fn job_rerun(&self, body: &JobRerun) -> Result<Envelope> {
        self.post("job/rerun", body)
    }

    /// `POST /job/log/download`: a tar.gz attachment saved at `dest`.
    pub fn job_log(&self, body: &JobLog, dest: &Path) -> Result<Download> {
        self.download(Method::POST, "job/log/download", body, dest)
    }

    /// `POST /job/task/query`: raw task rows (latest version of each task).
    pub fn task_query(&self, body: &TaskFilter) -> Result<Envelope> {
        self.post("job/task/query", body)
    }

    /// `POST /job/list/task`: `{"tasks": [...], "count": n}`.
    pub fn task_list(&self, body: &TaskList) -> Result<Envelope> {
        self.post("job/list/task", body)
    }

    /// `POST /data/upload` with the conf as a JSON body (the file is on the server).
    pub fn data_upload_server_file(&self, conf: &Value) -> Result<Envelope> {
        self.post("data/upload", conf)
    }

    /// `POST /table/table_info`.
    pub fn table_info(&self, body: &TableRef) -> Result<Envelope> {
        self.post("table/table_info", body)
    }

    /// `POST /table/delete`.
    pub fn table_delete(&self, body: &TableRef) -> Result<Envelope> {
        self.post("table/delete", body)
    }

    /// `POST /tracking/component/metrics`: metric names per namespace.
    pub fn component_metrics(&self, body: &ComponentRef) -> Result<Envelope> {
        self.post("tracking/component/metrics", body)
    }

    /// `POST /tracking/component/metric/all`: every metric with its data.
    pub fn component_metric_all(&self, body: &ComponentRef) -> Result<Envelope> {
        self.post("tracking/component/metric/all", body)
    }

    /// `POST /tracking/component/parameters`.
    pub fn component_parameters(&self, body: &ComponentRef) -> Result<Envelope> {
        self.post("tracking/component/parameters", body)
    }

    /// `GET /tracking/component/output/data/download` with a JSON body: a tar.gz.
    pub fn component_output_data(
        &self,
        body: &OutputDataDownload,
        dest: &Path,
    ) -> Result<Download> {
        self.download(
            Method::GET,
            "tracking/component/output/data/download",
            body,
            dest,
        )
    }

    /// `POST /tracking/component/summary/download`: the summary as `data`.
    pub fn component_summary(&self, body: &ComponentRef) -> Result<Envelope> {
        self.post("tracking/component/summary/download", body)
    }

    /// `POST /tracking/component/list`: the component names of a job's DSL.
    pub fn job_components(&self, body: &JobId) -> Result<Envelope> {
        self.post("tracking/component/list", body)
    }

    /// `POST /component/get`: the components registered on the server.
    pub fn registered_components(&self) -> Result<Envelope> {
        self.post("component/get", &Empty {})
    }

    /// `POST /model/<verb>` with a JSON body.
    pub fn model(&self, verb: &str, body: &Value) -> Result<Envelope> {
        self.post(&format!("model/{verb}"), body)
    }

    /// `POST /version/get`.
    pub fn version(&self, body: &VersionGet) -> Result<Envelope> {
        self.post("version/get", body)
    }

    /// `POST /server/version/get`: versions of every server-side module.
    pub fn server_versions(&self) -> Result<Envelope> {
        self.post("server/version/get", &Empty {})
    }
}

/// A name quoted for a multipart header the way urllib3 does (HTML5 style).
fn html5_quote(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The path and query of a URL, as FATE's signature uses them (no trailing `?`).
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) if !query.is_empty() => format!("{}?{query}", url.path()),
        _ => url.path().to_string(),
    }
}

/// `<base>/data/upload?<percent-encoded JSON>`.
pub fn upload_url(base_url: &str, query_json: &str) -> Result<Url> {
    let text = format!(
        "{base_url}/data/upload?{}",
        pyjson::encode_query(query_json)
    );
    Url::parse(&text).map_err(|e| Error::Url {
        url: text,
        source: e.into(),
    })
}

/// A `multipart/form-data` body with one file field named `file`, built by hand so
/// the file can be streamed with a known length and progress can be reported.
struct Multipart {
    boundary: String,
    head: Vec<u8>,
    tail: Vec<u8>,
    file_len: u64,
}

impl Multipart {
    fn new(file_name: &str, file_len: u64) -> Self {
        let boundary = format!("{:016x}{:016x}", auth::random_u64(), auth::random_u64());
        // Quote the file name the way urllib3/requests-toolbelt do (HTML5 style).
        let quoted = file_name
            .replace('\\', "\\\\")
            .replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        Self {
            boundary,
            head,
            tail,
            file_len,
        }
    }

    fn len(&self) -> u64 {
        self.head.len() as u64 + self.file_len + self.tail.len() as u64
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// Counts bytes as the HTTP client reads the body.
struct ProgressReader<R> {
    inner: R,
    sent: u64,
    total: u64,
    progress: Progress,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.sent += n as u64;
            (self.progress)(self.sent, self.total);
        }
        Ok(n)
    }
}

/// Whether an answer says it is JSON (an envelope, not a file).
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_url_matches_the_captured_fate_request() {
        // The conf and the resulting path are the capture in spec/fate-client-1x-wire.md.
        let conf = json!({
            "file": "/data/breast_hetero_guest.csv", "head": 1, "partition": 4, "work_mode": 0,
            "namespace": "experiment", "table_name": "breast_hetero_guest",
            "conf_path": "/tmp/v1cap/upload.json", "drop": 1, "verbose": 0
        });
        let url = upload_url(
            "http://127.0.0.1:9380/v1",
            &pyjson::to_string(&conf).unwrap(),
        )
        .unwrap();
        assert_eq!(
            path_and_query(&url),
            "/v1/data/upload?%7B%22file%22:%20%22/data/breast_hetero_guest.csv%22,%20%22head%22:%201,%20%22partition%22:%204,%20%22work_mode%22:%200,%20%22namespace%22:%20%22experiment%22,%20%22table_name%22:%20%22breast_hetero_guest%22,%20%22conf_path%22:%20%22/tmp/v1cap/upload.json%22,%20%22drop%22:%201,%20%22verbose%22:%200%7D"
        );
    }

    #[test]
    fn url_crate_leaves_our_encoding_alone() {
        let tricky = r#"{"file": "a b/c'd[e]f#g&h=i+j;k%l?m\u00fc"}"#;
        let url = upload_url("http://h:1/v1", tricky).unwrap();
        assert_eq!(
            url.query().unwrap(),
            pyjson::encode_query(tricky),
            "the url crate must not re-encode the query we signed"
        );
    }

    #[test]
    fn path_without_query_has_no_question_mark() {
        let url = Url::parse("http://h:1/v1/job/query").unwrap();
        assert_eq!(path_and_query(&url), "/v1/job/query");
    }

    #[test]
    fn attachment_names_are_plain_file_names() {
        assert_eq!(
            attachment_name("attachment; filename=guest#9999#m_1.zip").as_deref(),
            Some("guest#9999#m_1.zip")
        );
        assert_eq!(
            attachment_name("attachment; filename=\"../../etc/x\"").as_deref(),
            Some("x")
        );
        assert_eq!(attachment_name("attachment; filename=..").as_deref(), None);
        assert_eq!(attachment_name("inline").as_deref(), None);
    }

    #[test]
    fn non_json_body_becomes_retcode_100() {
        let e = Envelope::from_text(502, "Bad Gateway");
        assert_eq!(e.body, json!({"retcode": 100, "retmsg": "Bad Gateway"}));
        assert_eq!(e.retcode(), Some(100));
        assert!(!e.is_success());
    }

    #[test]
    fn envelope_accessors() {
        let e = Envelope::from_text(200, r#"{"retcode": 0, "retmsg": "success", "jobId": "j1"}"#);
        assert!(e.is_success());
        assert_eq!(e.job_id(), Some("j1"));
        let e = Envelope::from_text(200, r#"{"retcode": 0, "data": {"job_id": "j2"}}"#);
        assert_eq!(e.job_id(), Some("j2"));
        assert_eq!(e.data()["job_id"], "j2");
    }

    #[test]
    fn multipart_layout() {
        let m = Multipart::new("we\"ird.csv", 3);
        let head = String::from_utf8(m.head.clone()).unwrap();
        assert!(head.starts_with(&format!("--{}\r\n", m.boundary)));
        assert!(head.contains("name=\"file\"; filename=\"we%22ird.csv\""));
        assert!(head.ends_with("Content-Type: application/octet-stream\r\n\r\n"));
        assert_eq!(m.tail, format!("\r\n--{}--\r\n", m.boundary).into_bytes());
        assert_eq!(m.len(), (m.head.len() + 3 + m.tail.len()) as u64);
    }

    #[test]
    fn progress_reader_reports_every_byte() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let mut reader = ProgressReader {
            inner: Cursor::new(vec![0u8; 10]),
            sent: 0,
            total: 10,
            progress: Box::new(move |sent, total| sink.lock().unwrap().push((sent, total))),
        };
        let mut buf = [0u8; 4];
        while reader.read(&mut buf).unwrap() > 0 {}
        assert_eq!(*seen.lock().unwrap(), [(4, 10), (8, 10), (10, 10)]);
    }
}

//! Two real sites on loopback, each its own `fateflow server` process with its own
//! data dir and database: guest 9999 and host 10000, gateways over mutual TLS pinned
//! to certificates made by `fateflow cert`. Reusable by any two-party test:
//! `TwoSites::start(&opts)`, upload at each site, `guest.submit_example(...)`.

#![allow(dead_code, unreachable_pub)]

use crate::common::{examples, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Knobs of a two-site set-up.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--party-timeout` of both sites (seconds).
    pub party_timeout: f64,
    /// Extra arguments for both servers.
    pub extra_args: Vec<String>,
    /// Environment of the host server only (and so of its task processes).
    pub host_env: Vec<(String, String)>,
    /// Each site grants the other every component and table at start (permission
    /// checks are on by default; tests of the checks themselves turn this off).
    pub grant_partners: bool,
    /// Federation messages through this RabbitMQ broker (`url`, queue prefix) instead
    /// of the gateways.
    pub rabbitmq: Option<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            party_timeout: 60.0,
            extra_args: Vec::new(),
            host_env: Vec::new(),
            grant_partners: true,
            rabbitmq: None,
        }
    }
}

/// Grants `party` every component and every table at `site`.
pub fn grant_all(site: &Server, party: u64) {
    let r = site.post(
        "permission/grant",
        json!({"party_id": party, "component": "*", "dataset": "*"}),
    );
    assert_eq!(r["retcode"], 0, "{r}");
}

/// One site's files: data dir, identity, routes, gateway port.
#[derive(Debug, Clone)]
pub struct SiteFiles {
    pub party: u64,
    pub data_dir: PathBuf,
    pub cert: PathBuf,
    pub fingerprint: String,
    pub routes: PathBuf,
    pub gateway_port: u16,
}

/// Guest and host sites.
pub struct TwoSites {
    pub dir: tempfile::TempDir,
    pub guest: Server,
    pub host: Server,
    pub guest_files: SiteFiles,
    pub host_files: SiteFiles,
    pub opts: Options,
}

/// Runs `fateflow cert --out <dir>`; returns the certificate path and fingerprint.
pub fn make_cert(dir: &Path) -> (PathBuf, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fateflow"))
        .args(["cert", "--out"])
        .arg(dir)
        .output()
        .expect("run fateflow cert");
    assert!(out.status.success(), "fateflow cert: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let fp = text
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap_or_else(|| panic!("no fingerprint in {text}"))
        .trim()
        .to_string();
    assert!(fp.starts_with("sha256:") && fp.len() == 71, "{fp}");
    (dir.join("site.crt"), fp)
}

/// A free loopback port (bound and released; the server binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Writes a routes file naming one peer.
pub fn write_routes(path: &Path, peer: u64, port: u16, cert: &Path) {
    let routes = json!({"parties": {peer.to_string(): {"address": format!("127.0.0.1:{port}"), "certificate": cert}}});
    std::fs::write(path, serde_json::to_string_pretty(&routes).unwrap()).unwrap();
}

impl SiteFiles {
    fn new(root: &Path, party: u64) -> Self {
        let data_dir = root.join(format!("site-{party}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let (cert, fingerprint) = make_cert(&data_dir.join("gateway"));
        SiteFiles {
            party,
            routes: data_dir.join("routes.json"),
            data_dir,
            cert,
            fingerprint,
            gateway_port: free_port(),
        }
    }

    /// Starts this site's server.
    pub fn start(&self, opts: &Options) -> Server {
        self.start_env(opts, &[])
    }

    /// Starts this site's server with extra environment variables.
    pub fn start_env(&self, opts: &Options, env: &[(&str, &str)]) -> Server {
        let listen = format!("127.0.0.1:{}", self.gateway_port);
        let timeout = opts.party_timeout.to_string();
        let mut args: Vec<&str> = vec![
            "--routes",
            self.routes.to_str().unwrap(),
            "--gateway-listen",
            &listen,
            "--health-seconds",
            "1",
            "--party-timeout",
            &timeout,
        ];
        args.extend(opts.extra_args.iter().map(String::as_str));
        Server::start_parties(&self.data_dir, &self.party.to_string(), env, &args)
    }
}

impl TwoSites {
    /// Makes both identities, routes each site to the other, starts both servers.
    pub fn start(opts: &Options) -> TwoSites {
        let dir = tempfile::tempdir().unwrap();
        let guest_files = SiteFiles::new(dir.path(), 9999);
        let host_files = SiteFiles::new(dir.path(), 10000);
        write_routes(
            &guest_files.routes,
            10000,
            host_files.gateway_port,
            &host_files.cert,
        );
        write_routes(
            &host_files.routes,
            9999,
            guest_files.gateway_port,
            &guest_files.cert,
        );
        if let Some((url, prefix)) = &opts.rabbitmq {
            for (routes, peer) in [(&guest_files.routes, 10000), (&host_files.routes, 9999)] {
                let mut r: Value = serde_json::from_slice(&std::fs::read(routes).unwrap()).unwrap();
                let q = json!({"url": url, "prefix": prefix});
                r["parties"][peer.to_string()]["rabbitmq"] = q.clone();
                r["rabbitmq"] = q;
                std::fs::write(routes, serde_json::to_string_pretty(&r).unwrap()).unwrap();
            }
        }
        let env: Vec<(&str, &str)> = opts
            .host_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let host = host_files.start_env(opts, &env);
        let guest = guest_files.start(opts);
        if opts.grant_partners {
            grant_all(&host, 9999);
            grant_all(&guest, 10000);
        }
        TwoSites {
            dir,
            guest,
            host,
            guest_files,
            host_files,
            opts: opts.clone(),
        }
    }

    /// Restarts the host server (after `kill9`) on the same data dir and gateway port,
    /// without `host_env`.
    pub fn restart_host(&mut self) {
        self.host = self.host_files.start(&self.opts);
    }

    /// Uploads the breast data: the guest's half at the guest, the host's at the host.
    pub fn upload_breast(&self) {
        for (s, t) in [
            (&self.guest, "breast_hetero_guest"),
            (&self.host, "breast_hetero_host"),
        ] {
            let r = s.upload(
                &examples().join(format!("data/{t}.csv")),
                "experiment",
                t,
                true,
            );
            assert_eq!(r["retcode"], 0, "{r}");
            assert_eq!(r["data"]["count"], 569, "{r}");
        }
    }

    /// The host's own job row.
    pub fn host_job(&self, job_id: &str) -> Value {
        let r = self.host.post(
            "job/query",
            json!({"job_id": job_id, "role": "host", "party_id": "10000"}),
        );
        r["data"][0].clone()
    }

    /// Waits until `pred` holds for the host's own job row.
    pub fn wait_host_job(
        &self,
        job_id: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let t0 = std::time::Instant::now();
        loop {
            let j = self.host_job(job_id);
            if pred(&j) {
                return j;
            }
            assert!(
                t0.elapsed() < timeout,
                "host job {job_id} never matched: {j}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Peak resident memory (VmHWM, KiB) and current (VmRSS, KiB) of a process.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A host site (party 10000, data dir `host_dir`) whose gateway routes each of
/// `routed` (party id, certificate) and never calls them back. Returns the server and
/// its gateway port and certificate.
pub fn start_routed_host(
    dir: &Path,
    host_dir: &Path,
    routed: &[(u64, &Path)],
) -> (Server, u16, PathBuf) {
    let (host_cert, _) = make_cert(&host_dir.join("gateway"));
    let port = free_port();
    let parties: serde_json::Map<String, Value> = routed
        .iter()
        .map(|(p, cert)| {
            (
                p.to_string(),
                json!({"address": "127.0.0.1:1", "certificate": cert}),
            )
        })
        .collect();
    let routes_path = dir.join("host-routes.json");
    std::fs::write(&routes_path, json!({ "parties": parties }).to_string()).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_parties(
        host_dir,
        "10000",
        &[],
        &[
            "--routes",
            routes_path.to_str().unwrap(),
            "--gateway-listen",
            &listen,
        ],
    );
    for (p, _) in routed {
        grant_all(&server, *p);
    }
    (server, port, host_cert)
}

/// A gateway client speaking with the identity `fateflow cert` made in `id_dir`,
/// routed to the host gateway at `port`.
pub fn peers_to_host(id_dir: &Path, port: u16, host_cert: &Path) -> fateflow_gateway::Peers {
    let id = fateflow_gateway::Identity::load(&id_dir.join("site.crt"), &id_dir.join("site.key"))
        .unwrap();
    let routes = id_dir.join("routes-to-host.json");
    write_routes(&routes, 10000, port, host_cert);
    fateflow_gateway::Peers::new(&id, fateflow_gateway::Routes::load(&routes).unwrap()).unwrap()
}

/// A command about `job_id` from `src_role` `src_party_id` to host 10000.
pub fn command_to_host(
    job_id: &str,
    src_role: &str,
    src_party_id: u64,
    cmd: &Value,
) -> fateflow_gateway::proto::CommandRequest {
    fateflow_gateway::proto::CommandRequest {
        job_id: job_id.into(),
        src_role: src_role.into(),
        src_party_id,
        dst_role: "host".into(),
        dst_party_id: 10000,
        command_json: serde_json::to_vec(cmd).unwrap(),
    }
}

/// The key of a message from guest `src` to host 10000 in `session`.
pub fn guest_to_host(session: &str, src: u64) -> fateflow_federation::Key {
    use fateflow_domain::{Party, Role};
    fateflow_federation::Key {
        session: session.into(),
        name: "x".into(),
        tag: "t".into(),
        src: Party {
            role: Role::Guest,
            party_id: src,
        },
        dst: Party {
            role: Role::Host,
            party_id: 10000,
        },
    }
}

/// A three-byte message body.
pub fn abc() -> impl futures_util::Stream<
    Item = Result<fateflow_gateway::client::bytes_like::Bytes, std::io::Error>,
> + Send
       + Unpin
       + 'static {
    futures_util::stream::iter(vec![Ok(
        fateflow_gateway::client::bytes_like::Bytes::from_static(b"abc"),
    )])
}

/// A runtime for a test's gateway calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl SiteFiles {
    /// A gateway client with this site's identity and routes (to speak as it).
    pub fn peers(&self) -> fateflow_gateway::Peers {
        let id = fateflow_gateway::Identity::load(
            &self.cert,
            &self.data_dir.join("gateway").join("site.key"),
        )
        .unwrap();
        fateflow_gateway::Peers::new(&id, fateflow_gateway::Routes::load(&self.routes).unwrap())
            .unwrap()
    }
}

//! Site identity (key and self-signed certificate), the routes file, and mutual TLS
//! pinned to the peers' certificates.
//!
//! There is no certificate authority: each site's certificate is self-signed, the
//! parties exchange SHA-256 fingerprints (or the certificate files), and a handshake
//! succeeds only when the peer presents a certificate whose fingerprint is in the
//! routes. Handshake signatures are still verified with the presented key, so holding
//! a copy of a certificate is not enough to impersonate its site.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{verify_tls13_signature, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// rustls's server configuration, for callers that hold one.
pub use tokio_rustls::rustls::ServerConfig;

/// Why the gateway's TLS set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file's content is wrong.
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The SHA-256 fingerprint of a DER certificate: `sha256:` and 64 lowercase hex digits.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Normalises a fingerprint as people write it (`sha256:` prefix optional, colons
/// and case ignored); `None` if it is not 32 bytes of hex.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// A site's key and certificate.
#[derive(Debug)]
pub struct Identity {
    /// The certificate (DER).
    pub cert: CertificateDer<'static>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads a PEM certificate and PEM private key.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let c = CertificateDer::from_pem_file(cert).map_err(|e| {
            TlsError::Invalid(format!(
                "gateway certificate {}: {e} (generate one with `fateflow cert --out <dir>`)",
                cert.display()
            ))
        })?;
        let k = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            TlsError::Invalid(format!(
                "gateway key {}: {e} (generate one with `fateflow cert --out <dir>`)",
                key.display()
            ))
        })?;
        Ok(Self { cert: c, key: k })
    }

    /// This site's fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert)
    }
}

/// Writes a new ECDSA P-256 key and a self-signed certificate (`site.key`,
/// `site.crt`) into `dir`; returns the certificate's fingerprint. Refuses to
/// overwrite an existing key.
pub fn generate_identity(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf, String), TlsError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let key_path = dir.join("site.key");
    let cert_path = dir.join("site.crt");
    if key_path.exists() {
        return Err(TlsError::Invalid(format!(
            "{} already exists; remove it first to make a new identity (the parties then need the new fingerprint)",
            key_path.display()
        )));
    }
    let key = rcgen::KeyPair::generate()
        .map_err(|e| TlsError::Invalid(format!("generating a key: {e}")))?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
        .map_err(|e| TlsError::Invalid(format!("certificate name `{name}`: {e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Invalid(format!("signing the certificate: {e}")))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem()).map_err(io_err(&cert_path))?;
    Ok((cert_path, key_path, fingerprint(cert.der())))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))
}

/// One party's route: where its site's gateway listens and which certificate it
/// presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `host:port` of the party's gateway.
    pub address: String,
    /// The fingerprint its certificate must have.
    pub fingerprint: String,
    /// Federation messages to this party go through this RabbitMQ broker instead of
    /// the gateway.
    pub rabbitmq: Option<crate::queue::QueueConf>,
}

/// Party id → route, from the routes file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// Every configured party.
    pub parties: BTreeMap<u64, Route>,
    /// The broker where this site's parties receive federation messages sent through
    /// RabbitMQ.
    pub rabbitmq: Option<crate::queue::QueueConf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    parties: BTreeMap<String, RouteFile>,
    #[serde(default)]
    rabbitmq: Option<crate::queue::QueueConf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    address: String,
    #[serde(default)]
    certificate: Option<PathBuf>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    rabbitmq: Option<crate::queue::QueueConf>,
}

impl Routes {
    /// Reads a routes file:
    ///
    /// ```json
    /// {"parties": {"10000": {"address": "10.0.0.2:9360", "certificate": "host.crt"},
    ///              "9998":  {"address": "10.0.0.3:9360", "fingerprint": "sha256:…",
    ///                        "rabbitmq": {"url": "amqps://mq.example:5671/%2f"}}},
    ///  "rabbitmq": {"url": "amqps://mq.example:5671/%2f"}}
    /// ```
    ///
    /// A party with `rabbitmq` receives this site's federation messages through that
    /// broker; the top-level `rabbitmq` is where this site's own parties receive them.
    ///
    /// Relative certificate paths are relative to the file. Every error names the
    /// party and the field.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let file: RoutesFile = serde_json::from_str(&text)
            .map_err(|e| TlsError::Invalid(format!("routes file {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut routes = Routes::default();
        let mut errors = Vec::new();
        for (id, r) in file.parties {
            let Ok(party_id) = id.parse::<u64>() else {
                errors.push(format!("party `{id}`: not a party id (a number)"));
                continue;
            };
            if r.address.parse::<std::net::SocketAddr>().is_err()
                && !r
                    .address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                errors.push(format!(
                    "party {party_id}, field `address`: `{}` is not host:port",
                    r.address
                ));
                continue;
            }
            let fp = match (&r.certificate, &r.fingerprint) {
                (Some(_), Some(_)) | (None, None) => {
                    errors.push(format!(
                        "party {party_id}: give exactly one of `certificate` (a PEM file) and `fingerprint`"
                    ));
                    continue;
                }
                (None, Some(f)) => match normalize_fingerprint(f) {
                    Some(f) => f,
                    None => {
                        errors.push(format!(
                            "party {party_id}, field `fingerprint`: `{f}` is not a SHA-256 fingerprint (64 hex digits)"
                        ));
                        continue;
                    }
                },
                (Some(c), None) => {
                    let c = base.join(c);
                    match CertificateDer::from_pem_file(&c) {
                        Ok(der) => fingerprint(&der),
                        Err(e) => {
                            errors.push(format!(
                                "party {party_id}, field `certificate`: {}: {e}",
                                c.display()
                            ));
                            continue;
                        }
                    }
                }
            };
            if let Some(q) = &r.rabbitmq {
                if let Err(e) = q.check() {
                    errors.push(format!("party {party_id}, field `rabbitmq`: {e}"));
                    continue;
                }
            }
            routes.parties.insert(
                party_id,
                Route {
                    address: r.address,
                    fingerprint: fp,
                    rabbitmq: r.rabbitmq,
                },
            );
        }
        if let Some(q) = &file.rabbitmq {
            if let Err(e) = q.check() {
                errors.push(format!("field `rabbitmq`: {e}"));
            }
        }
        routes.rabbitmq = file.rabbitmq;
        if errors.is_empty() {
            Ok(routes)
        } else {
            Err(TlsError::Invalid(format!(
                "routes file {}:\n  - {}",
                path.display(),
                errors.join("\n  - ")
            )))
        }
    }

    /// The parties whose route has this fingerprint.
    pub fn parties_with(&self, fp: &str) -> Vec<u64> {
        self.parties
            .iter()
            .filter(|(_, r)| r.fingerprint == fp)
            .map(|(p, _)| *p)
            .collect()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts a server whose certificate has exactly the expected fingerprint.
#[derive(Debug)]
struct PinnedServer {
    party_id: u64,
    expected: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if got == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(party_id = self.party_id, expected = %self.expected, presented = %got, "gateway refused: the peer's certificate does not match its route");
            Err(rustls::Error::General(format!(
                "party {}'s gateway presented certificate {got}, but the routes pin {}",
                self.party_id, self.expected
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not accepted".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts a client whose certificate is one of the routes' fingerprints.
#[derive(Debug)]
struct PinnedClients {
    allowed: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if self.allowed.contains(&got) {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!(presented = %got, "gateway refused a connection: its certificate is not in the routes");
            Err(rustls::Error::General(format!(
                "certificate {got} is not in this site's routes"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not accepted".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The server side: our identity, clients pinned to the routes.
pub fn server_config(
    identity: &Identity,
    routes: &Routes,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let verifier = PinnedClients {
        allowed: routes
            .parties
            .values()
            .map(|r| r.fingerprint.clone())
            .collect(),
        provider: provider.clone(),
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(|e| TlsError::Invalid(format!("gateway key and certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// The client side towards one party: our identity, its certificate pinned.
pub fn client_config(
    identity: &Identity,
    party_id: u64,
    route: &Route,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = PinnedServer {
        party_id,
        expected: route.fingerprint.clone(),
        provider: provider.clone(),
    };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(|e| TlsError::Invalid(format!("gateway key and certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalise() {
        let fp = fingerprint(b"x");
        assert_eq!(normalize_fingerprint(&fp).as_deref(), Some(fp.as_str()));
        let upper_colons: String = fp[7..]
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(normalize_fingerprint(&upper_colons), Some(fp));
        assert_eq!(normalize_fingerprint("sha256:abc"), None);
    }

    #[test]
    fn routes_errors_name_party_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("routes.json");
        std::fs::write(
            &p,
            r#"{"parties": {"10000": {"address": "nohost", "fingerprint": "sha256:00"},
                            "x": {"address": "127.0.0.1:1", "fingerprint": "00"},
                            "9998": {"address": "127.0.0.1:1", "fingerprint": "zz"},
                            "9997": {"address": "127.0.0.1:1", "certificate": "missing.crt"}}}"#,
        )
        .unwrap();
        let e = Routes::load(&p).unwrap_err().to_string();
        assert!(e.contains("party 10000, field `address`"), "{e}");
        assert!(e.contains("party `x`"), "{e}");
        assert!(e.contains("party 9998, field `fingerprint`"), "{e}");
        assert!(e.contains("party 9997, field `certificate`"), "{e}");
    }

    #[test]
    fn generated_identity_loads_and_routes_pin_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, fp) = generate_identity(dir.path(), "site-a").unwrap();
        let id = Identity::load(&cert, &key).unwrap();
        assert_eq!(id.fingerprint(), fp);
        assert!(generate_identity(dir.path(), "site-a").is_err());
        let p = dir.path().join("routes.json");
        std::fs::write(
            &p,
            r#"{"parties": {"10000": {"address": "127.0.0.1:9360", "certificate": "site.crt"}}}"#,
        )
        .unwrap();
        let routes = Routes::load(&p).unwrap();
        assert_eq!(routes.parties[&10000].fingerprint, fp);
        assert!(server_config(&id, &routes).is_ok());
        assert!(client_config(&id, 10000, &routes.parties[&10000]).is_ok());
    }
}

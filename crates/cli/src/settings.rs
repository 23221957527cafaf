//! Where the CLI finds its server: the settings file, `FATE_FLOW_ADDR`, and flags.
//!
//! `flow init` stores the same fields as FATE's `flow_client/settings.yaml`
//! (`ip`, `port`, `api_version`, `app_key`, `secret_key`) as a JSON object in
//! `$FATEFLOW_CLI_CONFIG`, or else `$XDG_CONFIG_HOME/fateflow/flow.json`, or else
//! `~/.config/fateflow/flow.json`.
//! At run time the stored values are overridden by `FATE_FLOW_ADDR=host:port`, and
//! that in turn by `--ip`/`--port`/`--app-key`/`--secret-key`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::auth::Credentials;
use crate::{yaml, UsageError};

/// Environment variable naming the settings file.
pub const CONFIG_ENV: &str = "FATEFLOW_CLI_CONFIG";
/// Environment variable giving the server as `host:port`.
pub const ADDR_ENV: &str = "FATE_FLOW_ADDR";

/// The stored settings, field for field like FATE's `settings.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Server host name or IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Server HTTP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// API version, always `v1` for FATE-Flow 1.x.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Application key for client authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    /// Secret key for client authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}

fn default_api_version() -> String {
    "v1".to_string()
}

/// Overrides given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--ip`.
    pub ip: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--app-key`.
    pub app_key: Option<String>,
    /// `--secret-key`.
    pub secret_key: Option<String>,
}

/// Everything needed to reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP.
    pub ip: String,
    /// HTTP port.
    pub port: u16,
    /// API version path segment (`v1`).
    pub api_version: String,
    /// Present when both keys are configured.
    pub credentials: Option<Credentials>,
}

impl Endpoint {
    /// `http://<ip>:<port>/<api_version>`.
    pub fn base_url(&self) -> String {
        let host = if self.ip.contains(':') && !self.ip.starts_with('[') {
            format!("[{}]", self.ip)
        } else {
            self.ip.clone()
        };
        format!("http://{host}:{}/{}", self.port, self.api_version)
    }

    /// `<ip>:<port>`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// The settings file path, from the environment.
pub fn settings_path(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    if let Some(path) = env(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(dir) = env("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        return Ok(Path::new(&dir).join("fateflow").join("flow.json"));
    }
    match env("HOME").filter(|p| !p.is_empty()) {
        Some(home) => Ok(Path::new(&home)
            .join(".config")
            .join("fateflow")
            .join("flow.json")),
        None => Err(UsageError::new(format!(
            "cannot locate the settings file: set {CONFIG_ENV} or HOME"
        ))
        .into()),
    }
}

/// Reads the settings file; a missing file gives `None`.
pub fn load(path: &Path) -> Result<Option<Settings>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("reading settings {}", path.display()))
        }
    };
    let settings = serde_json::from_str(&text).map_err(|err| {
        UsageError::new(format!("invalid settings file {}: {err}", path.display()))
    })?;
    Ok(Some(settings))
}

/// Writes the settings file, creating its directory; the file is private to the user.
pub fn store(path: &Path, settings: &Settings) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(settings).context("serialising settings")? + "\n";
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting permissions of {}", path.display()))?;
    }
    Ok(())
}

/// Parses `FATE_FLOW_ADDR`: `host:port`, `[v6]:port`, optionally with `http://`.
pub fn parse_addr(addr: &str) -> Result<(String, u16)> {
    let trimmed = addr.trim();
    let trimmed = trimmed.strip_prefix("http://").unwrap_or(trimmed);
    let trimmed = trimmed.trim_end_matches('/');
    let bad = || UsageError::new(format!("{ADDR_ENV} must be host:port, got {addr:?}"));
    let (host, port) = trimmed.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad().into());
    }
    Ok((host.to_string(), port))
}

/// Combines stored settings, `FATE_FLOW_ADDR` and flags, in increasing priority.
pub fn resolve(
    stored: Option<&Settings>,
    env_addr: Option<&str>,
    flags: &Overrides,
    settings_file: &Path,
) -> Result<Endpoint> {
    let mut ip = stored.and_then(|s| s.ip.clone());
    let mut port = stored.and_then(|s| s.port);
    if let Some(addr) = env_addr.filter(|a| !a.trim().is_empty()) {
        let (env_ip, env_port) = parse_addr(addr)?;
        ip = Some(env_ip);
        port = Some(env_port);
    }
    if let Some(flag_ip) = &flags.ip {
        ip = Some(flag_ip.clone());
    }
    if let Some(flag_port) = flags.port {
        port = Some(flag_port);
    }
    let (Some(ip), Some(port)) = (ip.filter(|i| !i.is_empty()), port) else {
        return Err(UsageError::new(format!(
            "no FATE-Flow server configured (looked in {}): run `flow init --ip IP --port PORT` \
             or `flow init -c service_conf.yaml`, pass --ip/--port, or set {ADDR_ENV}=host:port",
            settings_file.display()
        ))
        .into());
    };
    let app_key = flags
        .app_key
        .clone()
        .or_else(|| stored.and_then(|s| s.app_key.clone()))
        .filter(|k| !k.is_empty());
    let secret_key = flags
        .secret_key
        .clone()
        .or_else(|| stored.and_then(|s| s.secret_key.clone()))
        .filter(|k| !k.is_empty());
    let credentials = match (app_key, secret_key) {
        (Some(app_key), Some(secret_key)) => Some(Credentials {
            app_key,
            secret_key,
        }),
        (None, None) => None,
        _ => {
            return Err(UsageError::new(
                "client authentication needs both an app key and a secret key",
            )
            .into())
        }
    };
    let api_version = stored
        .map(|s| s.api_version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(default_api_version);
    Ok(Endpoint {
        ip,
        port,
        api_version,
        credentials,
    })
}

/// The values `flow init -c` takes from a server's `service_conf.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceConf {
    /// `fateflow.host`.
    pub host: Option<String>,
    /// `fateflow.http_port`.
    pub http_port: Option<u16>,
    /// `authentication.client.http_app_key` (or the pre-1.9 `fateflow.http_app_key`).
    pub app_key: Option<String>,
    /// `authentication.client.http_secret_key` (or `fateflow.http_secret_key`).
    pub secret_key: Option<String>,
}

/// Reads the server address and client keys from a `service_conf.yaml` text.
pub fn parse_service_conf(text: &str) -> Result<ServiceConf> {
    let map = yaml::flatten(text);
    let get = |key: &str| map.get(key).filter(|v| !v.is_empty()).cloned();
    let http_port = match get("fateflow.http_port") {
        Some(port) => Some(port.parse::<u16>().map_err(|_| {
            UsageError::new(format!("fateflow.http_port is not a port number: {port:?}"))
        })?),
        None => None,
    };
    Ok(ServiceConf {
        host: get("fateflow.host"),
        http_port,
        app_key: get("authentication.client.http_app_key").or_else(|| get("fateflow.http_app_key")),
        secret_key: get("authentication.client.http_secret_key")
            .or_else(|| get("fateflow.http_secret_key")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn settings_path_priority() {
        let env = |k: &str| match k {
            "FATEFLOW_CLI_CONFIG" => Some("/tmp/x.json".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(settings_path(&env).unwrap(), PathBuf::from("/tmp/x.json"));
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(
            settings_path(&env).unwrap(),
            PathBuf::from("/home/u/.config/fateflow/flow.json")
        );
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/xdg".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(
            settings_path(&env).unwrap(),
            PathBuf::from("/xdg/fateflow/flow.json")
        );
        assert!(settings_path(&no_env).is_err());
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let stored = Settings {
            ip: Some("10.0.0.1".into()),
            port: Some(9380),
            api_version: "v1".into(),
            app_key: Some("a".into()),
            secret_key: Some("s".into()),
        };
        let file = Path::new("/x");
        let e = resolve(Some(&stored), None, &Overrides::default(), file).unwrap();
        assert_eq!(e.base_url(), "http://10.0.0.1:9380/v1");
        assert_eq!(e.credentials.unwrap().app_key, "a");

        let e = resolve(
            Some(&stored),
            Some("10.0.0.2:1234"),
            &Overrides::default(),
            file,
        )
        .unwrap();
        assert_eq!(e.address(), "10.0.0.2:1234");

        let flags = Overrides {
            port: Some(5),
            ..Overrides::default()
        };
        let e = resolve(Some(&stored), Some("10.0.0.2:1234"), &flags, file).unwrap();
        assert_eq!(e.address(), "10.0.0.2:5");
    }

    #[test]
    fn nothing_configured_is_a_usage_error() {
        let err = resolve(None, None, &Overrides::default(), Path::new("/s.json")).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert!(err.to_string().contains("flow init"));
    }

    #[test]
    fn half_credentials_are_rejected() {
        let flags = Overrides {
            ip: Some("h".into()),
            port: Some(1),
            app_key: Some("a".into()),
            secret_key: None,
        };
        assert!(resolve(None, None, &flags, Path::new("/s")).is_err());
    }

    #[test]
    fn addr_forms() {
        assert_eq!(
            parse_addr("127.0.0.1:9380").unwrap(),
            ("127.0.0.1".into(), 9380)
        );
        assert_eq!(parse_addr("http://h:1/").unwrap(), ("h".into(), 1));
        assert_eq!(parse_addr("[::1]:80").unwrap(), ("::1".into(), 80));
        assert!(parse_addr("nohost").is_err());
        assert!(parse_addr(":80").is_err());
        let e = Endpoint {
            ip: "::1".into(),
            port: 80,
            api_version: "v1".into(),
            credentials: None,
        };
        assert_eq!(e.base_url(), "http://[::1]:80/v1");
    }

    #[test]
    fn service_conf_keys() {
        let conf = parse_service_conf(
            "fateflow:\n  host: 1.2.3.4\n  http_port: 9380\nauthentication:\n  client:\n    switch: true\n    http_app_key: k\n    http_secret_key: s\n",
        )
        .unwrap();
        assert_eq!(conf.host.as_deref(), Some("1.2.3.4"));
        assert_eq!(conf.http_port, Some(9380));
        assert_eq!(conf.app_key.as_deref(), Some("k"));
        assert_eq!(conf.secret_key.as_deref(), Some("s"));

        let old = parse_service_conf(
            "fateflow:\n  host: h\n  http_port: 1\n  http_app_key: k\n  http_secret_key: s\n",
        )
        .unwrap();
        assert_eq!(old.app_key.as_deref(), Some("k"));
        assert!(parse_service_conf("fateflow:\n  http_port: many\n").is_err());
    }

    #[test]
    fn settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/flow.json");
        assert_eq!(load(&path).unwrap(), None);
        let s = Settings {
            ip: Some("h".into()),
            port: Some(1),
            api_version: "v1".into(),
            app_key: None,
            secret_key: None,
        };
        store(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), Some(s));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"api_version\": \"v1\""));
    }
}

//! `flow init`: store the server address and client keys.

use std::fs;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::{print_json, Context};
use crate::settings::{self, Settings};
use crate::{Exit, UsageError};

/// `flow init [-c service_conf.yaml] [--ip IP] [--port PORT] [--app-key K --secret-key S]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the server address and client keys from a server's service_conf.yaml
    /// (fateflow.host, fateflow.http_port, authentication.client.http_app_key/http_secret_key).
    #[arg(short = 'c', long = "server-conf-path", value_name = "FILE")]
    pub server_conf_path: Option<PathBuf>,
}

/// Runs `flow init`. Flags win over values read from `-c`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let mut conf = settings::ServiceConf::default();
    if let Some(path) = &args.server_conf_path {
        let text = fs::read_to_string(path)
            .map_err(|err| UsageError::new(format!("cannot read {}: {err}", path.display())))?;
        conf = settings::parse_service_conf(&text)?;
    }
    let flags = ctx.overrides();
    let ip = flags.ip.clone().or(conf.host);
    let port = flags.port.or(conf.http_port);
    let (Some(ip), Some(port)) = (ip, port) else {
        return Err(UsageError::new(
            "flow init needs the server address: --ip IP --port PORT, \
             or -c service_conf.yaml with fateflow.host and fateflow.http_port",
        )
        .into());
    };
    let app_key = flags.app_key.clone().or(conf.app_key);
    let secret_key = flags.secret_key.clone().or(conf.secret_key);
    if app_key.is_some() != secret_key.is_some() {
        return Err(
            UsageError::new("client authentication needs both --app-key and --secret-key").into(),
        );
    }
    let stored = Settings {
        ip: Some(ip),
        port: Some(port),
        api_version: "v1".to_string(),
        app_key,
        secret_key,
    };
    let path = ctx.settings_path()?;
    settings::store(&path, &stored)?;
    let endpoint = settings::resolve(Some(&stored), None, &Default::default(), &path)?;
    print_json(&json!({
        "retcode": 0,
        "retmsg": "Fate Flow CLI has been initialized successfully.",
        "data": {
            "settings_file": path.display().to_string(),
            "server_url": endpoint.base_url(),
            "authentication": endpoint.credentials.is_some(),
        }
    }))?;
    Ok(Exit::Success)
}

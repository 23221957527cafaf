//! `flow server ...`.

pub mod version;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `server` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The server's version of one module (POST /v1/version/get).
    Version(version::Args),
    /// The versions of every server module (POST /v1/server/version/get).
    Versions,
    /// Check the site gateway's connectivity and certificates with every party in
    /// its routes (POST /v1/gateway/health); fails when any party fails.
    Health,
    /// The site's servers and which one holds the scheduler lease (POST
    /// /v1/cluster/status; a server without `--cluster` says so).
    Cluster,
}

/// Runs a `server` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Version(args) => version::run(args, ctx),
        Command::Versions => version::run_all(ctx),
        Command::Health => {
            let envelope = ctx
                .client()?
                .post("gateway/health", &serde_json::json!({}))?;
            crate::commands::print_envelope(&envelope)
        }
        Command::Cluster => {
            let envelope = ctx
                .client()?
                .post("cluster/status", &serde_json::json!({}))?;
            crate::commands::print_envelope(&envelope)
        }
    }
}

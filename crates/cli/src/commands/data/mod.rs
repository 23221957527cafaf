//! `flow data ...`.

pub mod upload;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `data` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Upload a table from a CSV file (POST /v1/data/upload).
    Upload(upload::Args),
}

/// Runs a `data` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Upload(args) => upload::run(args, ctx),
    }
}

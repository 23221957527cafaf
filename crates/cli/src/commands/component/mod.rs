//! `flow component ...`.

pub mod list;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `component` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// With -j: the components of a job's DSL (POST /v1/tracking/component/list, as
    /// FATE's `flow component list`); without: the components registered on the server
    /// (POST /v1/component/get).
    List(list::Args),
}

/// Runs a `component` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::List(args) => list::run(args, ctx),
    }
}

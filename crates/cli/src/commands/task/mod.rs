//! `flow task ...`.

pub mod list;
pub mod query;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `task` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Query tasks by filters (POST /v1/job/task/query).
    Query(query::Args),
    /// List recent tasks (POST /v1/job/list/task).
    List(list::Args),
}

/// Runs a `task` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Query(args) => query::run(args, ctx),
        Command::List(args) => list::run(args, ctx),
    }
}

//! `flow job ...`.

pub mod list;
pub mod log;
pub mod query;
pub mod rerun;
pub mod stop;
pub mod submit;
pub mod wait;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `job` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Submit a job (POST /v1/job/submit); --wait follows it to the end.
    Submit(submit::Args),
    /// Query jobs by filters (POST /v1/job/query).
    Query(query::Args),
    /// List recent jobs (POST /v1/job/list/job).
    List(list::Args),
    /// Stop a job (POST /v1/job/stop).
    Stop(stop::Args),
    /// Rerun a job, optionally from one component (POST /v1/job/rerun).
    Rerun(rerun::Args),
    /// Download and extract a job's logs (POST /v1/job/log/download).
    Log(log::Args),
    /// Follow a job until it ends, printing component status changes.
    Wait(wait::Args),
}

/// Runs a `job` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Submit(args) => submit::run(args, ctx),
        Command::Query(args) => query::run(args, ctx),
        Command::List(args) => list::run(args, ctx),
        Command::Stop(args) => stop::run(args, ctx),
        Command::Rerun(args) => rerun::run(args, ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Wait(args) => wait::run(args, ctx),
    }
}

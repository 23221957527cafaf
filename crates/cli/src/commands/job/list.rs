//! `flow job list [-l N] [--table]`.

use anyhow::Result;
use serde_json::Value;

use crate::clients::requests::JobList;
use crate::commands::{exit_for, print_envelope, Context};
use crate::{output, Exit};

/// `flow job list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of jobs to list (0 = all).
    #[arg(short = 'l', long, default_value_t = 10)]
    pub limit: i64,
    /// Print an aligned table instead of JSON.
    #[arg(long)]
    pub table: bool,
}

/// Runs `flow job list`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.job_list(&JobList { limit: args.limit })?;
    if args.table && envelope.is_success() {
        if let Some(Value::Array(jobs)) = envelope.data().get("jobs") {
            output::print(&output::jobs_table(jobs).render())?;
            return Ok(exit_for(&envelope));
        }
    }
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn limit_defaults_to_ten() {
        let cli = try_parse_args(["flow", "job", "list"]).unwrap();
        let Command::Job(super::super::Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.limit, 10);
        assert!(!a.table);
        let cli = try_parse_args(["flow", "job", "list", "-l", "3", "--table"]).unwrap();
        let Command::Job(super::super::Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!((a.limit, a.table), (3, true));
    }
}

//! `flow task list [-j ID] [-l N] [--table]`.

use anyhow::Result;
use serde_json::Value;

use crate::clients::requests::TaskList;
use crate::commands::{exit_for, print_envelope, Context};
use crate::{output, Exit};

/// `flow task list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tasks of this job.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: Option<String>,
    /// Number of tasks to list (0 = all).
    #[arg(short = 'l', long, default_value_t = 10)]
    pub limit: i64,
    /// Print an aligned table instead of JSON.
    #[arg(long)]
    pub table: bool,
}

/// Runs `flow task list`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let body = TaskList {
        limit: args.limit,
        job_id: args.job_id,
    };
    let envelope = ctx.client()?.task_list(&body)?;
    if args.table && envelope.is_success() {
        if let Some(Value::Array(tasks)) = envelope.data().get("tasks") {
            output::print(&output::tasks_table(tasks).render())?;
            return Ok(exit_for(&envelope));
        }
    }
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn job_and_limit() {
        let cli = try_parse_args(["flow", "task", "list", "-j", "j1", "-l", "0"]).unwrap();
        let Command::Task(super::super::Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!((a.job_id.as_deref(), a.limit), (Some("j1"), 0));
    }
}

//! `flow component list [-j ID]`.

use anyhow::Result;

use crate::clients::requests::JobId;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// `flow component list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// List the components of this job instead of the registered ones.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: Option<String>,
}

/// Runs `flow component list`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let client = ctx.client()?;
    let envelope = match args.job_id {
        Some(job_id) => client.job_components(&JobId { job_id })?,
        None => client.registered_components()?,
    };
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn job_id_is_optional() {
        let cli = try_parse_args(["flow", "component", "list"]).unwrap();
        let Command::Component(super::super::Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.job_id, None);
        let cli = try_parse_args(["flow", "component", "list", "-j", "j1"]).unwrap();
        let Command::Component(super::super::Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.job_id.as_deref(), Some("j1"));
    }
}

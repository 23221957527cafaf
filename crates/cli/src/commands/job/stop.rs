//! `flow job stop -j ID`.

use anyhow::Result;

use crate::clients::requests::JobId;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// `flow job stop`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: String,
}

/// Runs `flow job stop`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.job_stop(&JobId {
        job_id: args.job_id,
    })?;
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::try_parse_args;

    #[test]
    fn job_id_is_required() {
        assert!(try_parse_args(["flow", "job", "stop"]).is_err());
        assert!(try_parse_args(["flow", "job", "stop", "--job-id", "1"]).is_ok());
    }
}

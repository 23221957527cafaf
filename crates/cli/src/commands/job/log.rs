//! `flow job log -j ID -o DIR`: download the job's logs and extract them into
//! `DIR/job_<ID>_log/`, like FATE's client.

use std::path::PathBuf;

use anyhow::Result;

use crate::clients::requests::JobLog;
use crate::commands::{download_and_extract, Context};
use crate::Exit;

/// `flow job log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: String,
    /// Directory to extract the logs into.
    #[arg(short = 'o', long = "output-path", value_name = "DIR")]
    pub output_path: PathBuf,
}

/// Runs `flow job log`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let client = ctx.client()?;
    let body = JobLog {
        job_id: args.job_id.clone(),
        output_path: args.output_path.display().to_string(),
    };
    let archive = format!("job_{}_log.tar.gz", args.job_id);
    download_and_extract(&args.output_path, &archive, |dest| {
        Ok(client.job_log(&body, dest)?)
    })
}

#[cfg(test)]
mod tests {
    use crate::try_parse_args;

    #[test]
    fn output_path_is_required() {
        assert!(try_parse_args(["flow", "job", "log", "-j", "1"]).is_err());
        assert!(try_parse_args(["flow", "job", "log", "-j", "1", "-o", "out"]).is_ok());
    }
}

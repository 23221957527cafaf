//! `flow model load -c conf.json` or `flow model load -j JOB_ID`.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};

use crate::commands::{absolute, print_envelope, read_json_object, Context};
use crate::{Exit, UsageError};

/// `flow model load`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A training job id: the model version to load.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: Option<String>,
    /// A load conf: `initiator`, `role`, `job_parameters.{model_id, model_version}`.
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: Option<PathBuf>,
}

/// Runs `flow model load`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let body: Value = match (&args.job_id, &args.conf_path) {
        (Some(_), Some(_)) => {
            return Err(UsageError::new(
                "Load model failed. Please do not provide job id and conf path at the same time.",
            )
            .into())
        }
        (None, None) => {
            return Err(UsageError::new(
                "Load model failed. No arguments received, please provide one of arguments from job id and conf path.",
            )
            .into())
        }
        (Some(j), None) => json!({"job_id": j}),
        (None, Some(p)) => {
            let mut conf = read_json_object(p, "conf")?;
            conf.insert("conf_path".into(), json!(absolute(p)?.display().to_string()));
            Value::Object(conf)
        }
    };
    print_envelope(&ctx.client()?.model("load", &body)?)
}

//! `flow model bind -c conf.json [-j VERSION]` (FATE's) and `flow model publish`
//! (ours: deploy, load and bind in one step, rolled back if a party fails).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};

use crate::commands::{print_envelope, read_json_object, Context};
use crate::Exit;

/// `flow model bind`.
#[derive(Debug, clap::Args)]
pub struct BindArgs {
    /// The bind conf: `service_id` and `job_parameters.{model_id, model_version}`.
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
    /// A deployed version to bind instead of the conf's model.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: Option<String>,
}

/// `flow model publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The model id.
    #[arg(long = "model-id")]
    pub model_id: String,
    /// The trained version (a training job id).
    #[arg(long = "model-version")]
    pub model_version: String,
    /// The service id clients will send.
    #[arg(long = "service-id")]
    pub service_id: String,
    /// Components to deploy (comma-separated; default: every trained component).
    #[arg(long = "cpn-list", value_delimiter = ',')]
    pub cpn_list: Vec<String>,
}

/// Runs `flow model bind`.
pub fn bind(args: BindArgs, ctx: &Context) -> Result<Exit> {
    let mut conf = read_json_object(&args.conf_path, "conf")?;
    if let Some(j) = args.job_id {
        conf.insert("job_id".into(), json!(j));
    }
    print_envelope(&ctx.client()?.model("bind", &Value::Object(conf))?)
}

/// Runs `flow model publish`.
pub fn publish(args: PublishArgs, ctx: &Context) -> Result<Exit> {
    let body = json!({
        "model_id": args.model_id,
        "model_version": args.model_version,
        "service_id": args.service_id,
        "cpn_list": args.cpn_list,
    });
    print_envelope(&ctx.client()?.model("publish", &body)?)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn publish_and_bind_parse() {
        let cli = try_parse_args([
            "flow",
            "model",
            "publish",
            "--model-id",
            "m",
            "--model-version",
            "v",
            "--service-id",
            "s",
            "--cpn-list",
            "reader_0,hetero_lr_0",
        ])
        .unwrap();
        let Command::Model(super::super::Command::Publish(p)) = cli.command else {
            panic!()
        };
        assert_eq!(p.cpn_list, ["reader_0", "hetero_lr_0"]);
        assert!(try_parse_args(["flow", "model", "bind", "-c", "b.json", "-j", "v"]).is_ok());
        assert!(try_parse_args(["flow", "model", "publish", "--model-id", "m"]).is_err());
    }
}

//! `flow model export -c export.json`: `model_id`, `model_version`, `role`,
//! `party_id`, `output_path`. Saves `<party_model_id>_<model_version>.zip` there.

use std::path::PathBuf;

use anyhow::Result;
use reqwest::Method;
use serde_json::{json, Value};

use crate::clients::NamedDownload;
use crate::commands::{absolute, print_envelope, print_json, read_json_object, Context};
use crate::{Exit, UsageError};

/// `flow model export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export conf.
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
}

/// Runs `flow model export`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let mut conf = read_json_object(&args.conf_path, "conf")?;
    let Some(out) = conf
        .get("output_path")
        .and_then(Value::as_str)
        .map(PathBuf::from)
    else {
        return Err(UsageError::new(
            "the export conf needs `output_path`, the directory to save the archive in",
        )
        .into());
    };
    let out = absolute(&out)?;
    conf.insert("output_path".into(), json!(out.display().to_string()));
    conf.insert(
        "conf_path".into(),
        json!(absolute(&args.conf_path)?.display().to_string()),
    );
    let body = Value::Object(conf);
    match ctx
        .client()?
        .download_named(Method::GET, "model/export", &body, &out)?
    {
        NamedDownload::Envelope(e) => print_envelope(&e),
        NamedDownload::Saved { path, .. } => {
            let file = path.display().to_string();
            print_json(&json!({
                "retcode": 0,
                "file": file,
                "retmsg": format!("download successfully, please check {file}"),
            }))?;
            Ok(Exit::Success)
        }
    }
}

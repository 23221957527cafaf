//! `flow job submit -c conf.json [-d dsl.json] [--wait] [--timeout SECS]`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value};

use super::wait::{self, Initiator, WaitArgs};
use crate::clients::requests::JobSubmit;
use crate::commands::{absolute, print_envelope, read_json_file, read_json_object, Context};
use crate::Exit;

/// `flow job submit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runtime conf (JSON).
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
    /// DSL (JSON); predict jobs may leave it out.
    #[arg(short = 'd', long = "dsl-path", value_name = "FILE")]
    pub dsl_path: Option<PathBuf>,
    /// Follow the job until it ends; exit 0 only if it succeeds.
    #[arg(short = 'w', long)]
    pub wait: bool,
    #[command(flatten)]
    pub follow: WaitArgs,
}

/// Builds the body exactly like FATE's client: the runtime conf gets the absolute
/// `conf_path` (and `dsl_path`) appended, and a missing DSL is `{}`.
pub fn build_body(
    mut conf: Map<String, Value>,
    conf_path: &Path,
    dsl: Option<(Value, &Path)>,
) -> JobSubmit {
    conf.insert(
        "conf_path".into(),
        Value::String(conf_path.display().to_string()),
    );
    let job_dsl = match dsl {
        Some((dsl, dsl_path)) => {
            conf.insert(
                "dsl_path".into(),
                Value::String(dsl_path.display().to_string()),
            );
            dsl
        }
        None => Value::Object(Map::new()),
    };
    JobSubmit {
        job_dsl,
        job_runtime_conf: Value::Object(conf),
    }
}

/// Runs `flow job submit`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let options = args.wait.then(|| args.follow.options()).transpose()?;
    let conf_path = absolute(&args.conf_path)?;
    let conf = read_json_object(&conf_path, "runtime conf")?;
    let dsl = match &args.dsl_path {
        Some(path) => {
            let path = absolute(path)?;
            Some((read_json_file(&path, "DSL")?, path))
        }
        None => None,
    };
    let body = build_body(
        conf,
        &conf_path,
        dsl.as_ref().map(|(d, p)| (d.clone(), p.as_path())),
    );
    let client = ctx.client()?;
    let envelope = client.job_submit(&body)?;
    let exit = print_envelope(&envelope)?;
    let Some(options) = options.filter(|_| exit == Exit::Success) else {
        return Ok(exit);
    };
    let Some(job_id) = envelope.job_id() else {
        eprintln!("flow: the server accepted the job but returned no job id; cannot follow it");
        return Ok(Exit::Failure);
    };
    let initiator = Initiator::from_conf(&body.job_runtime_conf);
    wait::follow(
        &client,
        job_id,
        initiator.as_ref(),
        &options,
        &mut std::io::stderr(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{try_parse_args, Command};
    use serde_json::json;

    #[test]
    fn body_appends_paths_like_fate() {
        let conf = json!({"initiator": {"role": "guest", "party_id": 9999}})
            .as_object()
            .unwrap()
            .clone();
        let body = build_body(
            conf,
            Path::new("/abs/conf.json"),
            Some((json!({"components": {}}), Path::new("/abs/dsl.json"))),
        );
        assert_eq!(
            crate::pyjson::to_string(&body).unwrap(),
            r#"{"job_dsl": {"components": {}}, "job_runtime_conf": {"initiator": {"role": "guest", "party_id": 9999}, "conf_path": "/abs/conf.json", "dsl_path": "/abs/dsl.json"}}"#
        );
        let body = build_body(Map::new(), Path::new("/c.json"), None);
        assert_eq!(body.job_dsl, json!({}));
        assert_eq!(body.job_runtime_conf, json!({"conf_path": "/c.json"}));
    }

    #[test]
    fn parses_wait_and_timeout() {
        let cli = try_parse_args([
            "flow",
            "job",
            "submit",
            "-c",
            "c.json",
            "-d",
            "d.json",
            "--wait",
            "--timeout",
            "60",
        ])
        .unwrap();
        let Command::Job(super::super::Command::Submit(args)) = cli.command else {
            panic!("not job submit")
        };
        assert!(args.wait);
        assert_eq!(args.follow.timeout, Some(60.0));
        assert_eq!(args.follow.poll_interval, 0.5);
        assert_eq!(args.dsl_path.as_deref(), Some(Path::new("d.json")));
        assert!(try_parse_args(["flow", "job", "submit", "-d", "d.json"]).is_err());
    }
}

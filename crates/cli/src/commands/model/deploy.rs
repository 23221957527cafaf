//! `flow model deploy --model-id ID --model-version V [--cpn-list a,b | --cpn-path F |
//! --dsl-path F] [--cpn-step-index c:N] [--cpn-step-name c:S]`.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::commands::{print_envelope, Context};
use crate::{Exit, UsageError};

/// `flow model deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model id.
    #[arg(long = "model-id", value_name = "MODEL_ID")]
    pub model_id: String,
    /// The trained model version (the training job id).
    #[arg(long = "model-version", value_name = "MODEL_VERSION")]
    pub model_version: String,
    /// Components to deploy, comma separated.
    #[arg(long = "cpn-list", value_name = "LIST")]
    pub cpn_list: Option<String>,
    /// A file holding the component list.
    #[arg(long = "cpn-path", value_name = "FILE", conflicts_with = "cpn_list")]
    pub cpn_path: Option<PathBuf>,
    /// A predict DSL file to deploy instead of a component list.
    #[arg(long = "dsl-path", value_name = "FILE", conflicts_with_all = ["cpn_list", "cpn_path"])]
    pub dsl_path: Option<PathBuf>,
    /// A checkpoint by step index, `component:index` (refused by this server).
    #[arg(long = "cpn-step-index", value_name = "CPN:N")]
    pub cpn_step_index: Vec<String>,
    /// A checkpoint by step name, `component:name` (refused by this server).
    #[arg(long = "cpn-step-name", value_name = "CPN:NAME")]
    pub cpn_step_name: Vec<String>,
}

/// The component list as fate-client reads it: commas, spaces, newlines and brackets.
pub fn parse_cpn_list(text: &str) -> Result<Vec<String>> {
    if text.contains('/') || text.contains('\\') {
        return Err(
            UsageError::new("Component list string should not contain '/' or '\\'.").into(),
        );
    }
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(cleaned
        .trim_matches(|c| c == ',' || c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// The request body.
pub fn body(args: &Args) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model_id".into(), json!(args.model_id));
    body.insert("model_version".into(), json!(args.model_version));
    let cpn_text = match (&args.cpn_list, &args.cpn_path) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(p)) => Some(std::fs::read_to_string(p).map_err(|e| {
            UsageError::new(format!("cannot read --cpn-path {}: {e}", p.display()))
        })?),
        _ => None,
    };
    if let Some(text) = cpn_text {
        body.insert("cpn_list".into(), json!(parse_cpn_list(&text)?));
    } else if let Some(p) = &args.dsl_path {
        let text = std::fs::read_to_string(p)
            .map_err(|e| UsageError::new(format!("cannot read --dsl-path {}: {e}", p.display())))?;
        body.insert("dsl".into(), json!(text));
    }
    let mut checkpoints = Map::new();
    for (flag, list) in [
        ("step_index", &args.cpn_step_index),
        ("step_name", &args.cpn_step_name),
    ] {
        for item in list {
            let Some((cpn, point)) = item.rsplit_once(':') else {
                return Err(UsageError::new(format!(
                    "--cpn-{}: expected component:value, got `{item}`",
                    flag.replace('_', "-")
                ))
                .into());
            };
            if checkpoints.contains_key(cpn) {
                return Err(UsageError::new(format!("Duplicated component name '{cpn}'.")).into());
            }
            let value = if flag == "step_index" {
                json!(point.parse::<i64>().map_err(|_| UsageError::new(format!(
                    "--cpn-step-index {item}: the step index must be an integer"
                )))?)
            } else {
                json!(point)
            };
            checkpoints.insert(cpn.to_string(), json!({ flag: value }));
        }
    }
    body.insert("components_checkpoint".into(), Value::Object(checkpoints));
    Ok(Value::Object(body))
}

/// Runs `flow model deploy`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let body = body(&args)?;
    print_envelope(&ctx.client()?.model("deploy", &body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{try_parse_args, Command};

    fn parse(args: &[&str]) -> Args {
        match try_parse_args(args).unwrap().command {
            Command::Model(crate::commands::model::Command::Deploy(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn body_is_fate_clients() {
        let a = parse(&[
            "flow",
            "model",
            "deploy",
            "--model-id",
            "m",
            "--model-version",
            "1",
            "--cpn-list",
            "reader_0, hetero_lr_0",
        ]);
        assert_eq!(
            body(&a).unwrap(),
            json!({"model_id": "m", "model_version": "1", "cpn_list": ["reader_0", "hetero_lr_0"], "components_checkpoint": {}})
        );
        let a = parse(&[
            "flow",
            "model",
            "deploy",
            "--model-id",
            "m",
            "--model-version",
            "1",
            "--cpn-step-index",
            "lr:3",
            "--cpn-step-name",
            "sbt:x",
        ]);
        assert_eq!(
            body(&a).unwrap()["components_checkpoint"],
            json!({"lr": {"step_index": 3}, "sbt": {"step_name": "x"}})
        );
        assert!(try_parse_args(["flow", "model", "deploy", "--model-id", "m"]).is_err());
        assert!(parse_cpn_list("a/b").is_err());
        assert_eq!(parse_cpn_list("[a,\nb,]").unwrap(), ["a", "b"]);
    }
}

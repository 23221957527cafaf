//! `flow model import -c import.json`: `model_id`, `model_version`, `role`,
//! `party_id`, `file` (the archive on this machine), `force_update`. Sent as
//! fate-client sends it: the conf as form fields, the archive as the part `file`.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::Value;

use crate::commands::{absolute, print_envelope, read_json_object, Context};
use crate::{Exit, UsageError};

/// `flow model import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The import conf.
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
}

fn as_form_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_string(),
    }
}

/// The form fields: every conf field (Python's `str()` of each value), the conf path,
/// and `force_update` as 0 or 1.
pub fn fields(conf: &serde_json::Map<String, Value>, conf_path: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = conf
        .iter()
        .filter(|(k, _)| k.as_str() != "force_update" && k.as_str() != "conf_path")
        .map(|(k, v)| (k.clone(), as_form_value(v)))
        .collect();
    out.push(("conf_path".into(), conf_path.into()));
    let force = conf.get("force_update").is_some_and(|v| match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        Value::String(s) => !matches!(s.as_str(), "" | "0" | "false" | "False"),
        _ => false,
    });
    out.push(("force_update".into(), i32::from(force).to_string()));
    out
}

/// Runs `flow model import`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let conf = read_json_object(&args.conf_path, "conf")?;
    let Some(file) = conf.get("file").and_then(Value::as_str).map(PathBuf::from) else {
        return Err(UsageError::new(
            "Import model failed. Please specify the valid model file path and try again.",
        )
        .into());
    };
    let file = absolute(&file)?;
    if !file.is_file() {
        return Err(UsageError::new(format!("Import model failed. The file is obtained from the fate flow client machine, but it does not exist, please check the path: {}", file.display())).into());
    }
    let conf_path = absolute(&args.conf_path)?.display().to_string();
    let fields = fields(&conf, &conf_path);
    print_envelope(
        &ctx.client()?
            .post_multipart("model/import", &fields, "file", &file)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_strings_like_python_str() {
        let conf =
            json!({"model_id": "m", "party_id": 9999, "force_update": true, "file": "/x.zip"});
        let f = fields(conf.as_object().unwrap(), "/c.json");
        assert!(f.contains(&("party_id".into(), "9999".into())));
        assert!(f.contains(&("force_update".into(), "1".into())));
        assert!(f.contains(&("file".into(), "/x.zip".into())));
        assert!(f.contains(&("conf_path".into(), "/c.json".into())));
    }
}

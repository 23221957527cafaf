//! `flow model get-predict-dsl` and `flow model get-predict-conf`
//! `--model-id ID --model-version V -o DIR`: the server sends the document as a file,
//! saved as `predict_dsl_<time>.json` / `predict_conf_<time>.json` in DIR.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::json;

use crate::clients::Download;
use crate::commands::{absolute, print_envelope, print_json, Context};
use crate::Exit;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The inference DSL.
    Dsl,
    /// A predict conf template.
    Conf,
}

/// `flow model get-predict-dsl` / `get-predict-conf`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model id.
    #[arg(long = "model-id", value_name = "MODEL_ID")]
    pub model_id: String,
    /// Model version.
    #[arg(long = "model-version", value_name = "MODEL_VERSION")]
    pub model_version: String,
    /// Directory to save the file in.
    #[arg(short = 'o', long = "output-path", value_name = "DIR")]
    pub output_path: PathBuf,
}

/// `YYYYmmddHHMMSS` now, in UTC (FATE's client uses local time, which needs a time
/// zone database this binary does not carry).
fn stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rem = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Runs `flow model get-predict-dsl` or `get-predict-conf`.
pub fn run(args: Args, ctx: &Context, what: What) -> Result<Exit> {
    let (endpoint, prefix, label) = match what {
        What::Dsl => ("model/get/predict/dsl", "predict_dsl", "dsl"),
        What::Conf => ("model/get/predict/conf", "predict_conf", "conf"),
    };
    let filename = format!("{prefix}_{}.json", stamp());
    let dir = absolute(&args.output_path)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(&filename);
    let body = json!({"model_id": args.model_id, "model_version": args.model_version, "filename": filename});
    match ctx
        .client()?
        .download(Method::POST, endpoint, &body, &path)?
    {
        Download::Envelope(e) => print_envelope(&e),
        Download::Saved { .. } => {
            print_json(&json!({
                "retcode": 0,
                "retmsg": format!("Query predict {label} successfully. File path is: {}", path.display()),
            }))?;
            Ok(Exit::Success)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamp_is_fourteen_digits() {
        let s = super::stamp();
        assert_eq!(s.len(), 14, "{s}");
        assert!(s.bytes().all(|b| b.is_ascii_digit()));
    }
}

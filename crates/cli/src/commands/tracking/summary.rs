//! `flow tracking summary -j ID -r ROLE -p PARTY -cpn NAME [-o DIR]`.
//!
//! Prints the summary envelope; with `-o DIR` it also writes the summary (`data`) to
//! `DIR/summary_<cpn>_<YYYYmmddHHMMSS>.json`.
//! FATE's client asks the server for a file attachment in that case; we always ask
//! for the envelope and write the file here, which needs one server behaviour only.

use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use serde_json::json;

use super::ComponentArgs;
use crate::commands::{absolute, print_envelope, print_json, Context};
use crate::{output, Exit, UsageError};

/// `flow tracking summary`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub component: ComponentArgs,
    /// Also save the summary as a JSON file in this directory.
    #[arg(short = 'o', long = "output-path", value_name = "DIR")]
    pub output_path: Option<PathBuf>,
}

/// Runs `flow tracking summary`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    if let Some(dir) = &args.output_path {
        if !dir.is_dir() {
            return Err(UsageError::new(format!("{} is not a directory", dir.display())).into());
        }
    }
    let envelope = ctx.client()?.component_summary(&args.component.body())?;
    let (Some(dir), true) = (&args.output_path, envelope.is_success()) else {
        return print_envelope(&envelope);
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    let stamp: String = output::format_time_ms(now_ms)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let name = format!("summary_{}_{stamp}.json", args.component.component_name);
    let dest = absolute(&dir.join(name))?;
    fs::write(&dest, output::json(envelope.data()) + "\n")
        .with_context(|| format!("writing {}", dest.display()))?;
    print_json(&json!({
        "retcode": 0,
        "retmsg": format!(
            "The summary of component <{}> has been stored successfully. File path is: {}.",
            args.component.component_name,
            dest.display()
        ),
    }))?;
    Ok(Exit::Success)
}

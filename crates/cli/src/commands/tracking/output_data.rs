//! `flow tracking output-data -j ID -r ROLE -p PARTY -cpn NAME -o DIR [-l N]`.
//!
//! Like FATE's client this calls `GET /v1/tracking/component/output/data/download`
//! with a JSON body, saves the tar.gz attachment and extracts it into
//! `DIR/job_<job>_<cpn>_<role>_<party>_output_data/` (`<data_name>.csv` plus
//! `<data_name>.meta`).

use std::path::PathBuf;

use anyhow::Result;

use super::ComponentArgs;
use crate::clients::requests::OutputDataDownload;
use crate::commands::{download_and_extract, Context};
use crate::Exit;

/// `flow tracking output-data`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub component: ComponentArgs,
    /// Directory to extract the data into.
    #[arg(short = 'o', long = "output-path", value_name = "DIR")]
    pub output_path: PathBuf,
    /// Number of rows (-1 = all).
    #[arg(short = 'l', long, default_value_t = -1, allow_negative_numbers = true)]
    pub limit: i64,
}

/// Runs `flow tracking output-data`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let client = ctx.client()?;
    let c = &args.component;
    let archive = format!(
        "job_{}_{}_{}_{}_output_data.tar.gz",
        c.job_id, c.component_name, c.role, c.party_id
    );
    let body = OutputDataDownload {
        component: c.body(),
        output_path: args.output_path.display().to_string(),
        limit: args.limit,
    };
    download_and_extract(&args.output_path, &archive, |dest| {
        Ok(client.component_output_data(&body, dest)?)
    })
}

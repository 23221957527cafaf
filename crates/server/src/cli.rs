//! Command-line arguments.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "fateflow",
    version,
    about = "One FATE-Flow site: API, scheduler and task runner"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// A `fateflow` subcommand.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a DSL and runtime conf and print the per-party task plan.
    Validate {
        /// The DSL file.
        #[arg(short = 'd', long)]
        dsl: PathBuf,
        /// The runtime conf file.
        #[arg(short = 'c', long)]
        conf: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the standalone demo on the shipped example data.
    Demo {
        /// The examples directory (jobs and data).
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
    },
}

/// Parses the process arguments.
pub fn parse() -> Command {
    Args::parse().command
}

//! The `fateflow` binary's library: subcommands and their wiring.

pub mod cli;
mod validate;

use std::process::ExitCode;

/// Runs one subcommand.
pub fn run(cmd: cli::Command) -> anyhow::Result<ExitCode> {
    match cmd {
        cli::Command::Validate { dsl, conf, json } => validate::run(&dsl, &conf, json),
        cli::Command::Demo { examples } => {
            let dir = examples.join("jobs/hetero_lr");
            println!("Validating the hetero LR example job in {}", dir.display());
            validate::run(&dir.join("dsl.json"), &dir.join("conf.json"), false)
        }
    }
}

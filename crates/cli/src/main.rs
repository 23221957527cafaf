//! The `flow` binary: parses the command line and hands over to [`fateflow_cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = fateflow_cli::parse_args(std::env::args_os());
    match fateflow_cli::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) if fateflow_cli::output_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("flow: error: {err:#}");
            if let Some(hint) = fateflow_cli::hint(&err) {
                eprintln!("hint: {hint}");
            }
            fateflow_cli::exit_code(&err)
        }
    }
}

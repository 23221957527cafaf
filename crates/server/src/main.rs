//! `fateflow`: one FATE-Flow site. Parses arguments and hands over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match fateflow_server::run(fateflow_server::cli::parse()) {
        Ok(code) => code,
        Err(e) if fateflow_server::output::closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

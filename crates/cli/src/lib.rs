//! `flow`: the command-line client of a FATE-Flow 1.x compatible server.
//!
//! It mirrors FATE's Python `flow` (fate-client 1.x): the same nouns and verbs
//! (`flow job submit`, `flow data upload`, `flow task query`, ...), the same request
//! bodies and query strings on the wire, and the same pretty-printed JSON output, so a
//! server can treat both clients alike.
//! On top of that it can follow a job live (`flow job submit --wait`), print lists
//! as aligned tables (`--table`), and report failures with meaningful exit codes.
//!
//! Layout: [`commands`] holds one module per noun and one file per verb,
//! [`clients`] the typed HTTP client, [`auth`] the request signature, [`settings`]
//! where the server address comes from, and [`output`] the printing helpers.
//!
//! Exit codes: 0 when the server answered `retcode == 0`, 1 when it answered with
//! another retcode (or a followed job did not succeed, or the server could not be
//! reached), 2 for usage and configuration errors.

pub mod auth;
pub mod clients;
pub mod commands;
pub mod output;
pub mod pyjson;
pub mod settings;
mod yaml;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Overrides;

/// How a command ended, mapped onto the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0: the server answered `retcode == 0`.
    Success,
    /// Exit code 1: the server answered with a non-zero retcode, or a job failed.
    Failure,
    /// Exit code 2: bad usage or configuration.
    Usage,
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// A mistake in the command line, a configuration file or an input file: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

impl UsageError {
    /// A usage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "flow",
    version,
    about = "Command-line client of a FATE-Flow 1.x compatible server",
    long_about = "Command-line client of a FATE-Flow 1.x compatible server.\n\n\
        Run `flow init --ip IP --port PORT` once, or pass --ip/--port (or set \
        FATE_FLOW_ADDR=host:port) on each call.",
    propagate_version = true
)]
pub struct Cli {
    /// Server address and credentials, overriding the stored settings.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted by every command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Server IP or host name (overrides the settings file and FATE_FLOW_ADDR).
    #[arg(long, global = true, value_name = "IP", help_heading = "Connection")]
    pub ip: Option<String>,
    /// Server HTTP port (overrides the settings file and FATE_FLOW_ADDR).
    #[arg(long, global = true, value_name = "PORT", help_heading = "Connection")]
    pub port: Option<u16>,
    /// Application key for client authentication.
    #[arg(long, global = true, value_name = "KEY", help_heading = "Connection")]
    pub app_key: Option<String>,
    /// Secret key for client authentication.
    #[arg(long, global = true, value_name = "KEY", help_heading = "Connection")]
    pub secret_key: Option<String>,
}

impl GlobalArgs {
    /// The flags as settings overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            ip: self.ip.clone(),
            port: self.port,
            app_key: self.app_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store the server address (and client keys) in the settings file.
    Init(commands::init::Args),
    /// Upload data tables.
    #[command(subcommand)]
    Data(commands::data::Command),
    /// Inspect and delete tables.
    #[command(subcommand)]
    Table(commands::table::Command),
    /// Submit, follow, query, stop and rerun jobs.
    #[command(subcommand)]
    Job(commands::job::Command),
    /// Deploy, load, query, export and import models.
    #[command(subcommand)]
    Model(commands::model::Command),
    /// Query tasks.
    #[command(subcommand)]
    Task(commands::task::Command),
    /// Metrics, parameters, output data and summaries of components.
    #[command(subcommand)]
    Tracking(commands::tracking::Command),
    /// Components of a job, or registered on the server.
    #[command(subcommand)]
    Component(commands::component::Command),
    /// Server information.
    #[command(subcommand)]
    Server(commands::server::Command),
    /// Grant, remove and list what partner parties may use at this site.
    #[command(subcommand)]
    Privilege(commands::privilege::Command),
    /// The site's audit log: query, verify its hash chain, a job's command digest.
    #[command(subcommand)]
    Audit(commands::audit::Command),
}

/// Rewrites FATE's multi-letter short option `-cpn` into `--component-name`, which
/// clap understands, so FATE command lines work unchanged.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        let arg: OsString = arg.into();
        if passthrough {
            out.push(arg);
            continue;
        }
        match arg.to_str() {
            Some("--") => {
                passthrough = true;
                out.push(arg);
            }
            Some("-cpn") => out.push("--component-name".into()),
            Some(s) if s.starts_with("-cpn=") => {
                out.push(format!("--component-name={}", &s["-cpn=".len()..]).into())
            }
            _ => out.push(arg),
        }
    }
    out
}

/// Parses the process arguments (exits with code 2 and a message on bad usage).
pub fn parse_args<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::parse_from(normalize_args(args))
}

/// Parses arguments without exiting, for tests.
pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::try_parse_from(normalize_args(args))
}

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let ctx = commands::Context::from_process(&cli.global);
    commands::run(cli.command, &ctx)
}

/// The exit code for an error returned by [`run`].
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    let usage = err.chain().any(|e| e.is::<UsageError>());
    if usage { Exit::Usage } else { Exit::Failure }.into()
}

/// Whether [`run`] stopped because stdout's reader went away (`flow ... | head`):
/// `flow` then exits quietly with status 0.
pub fn output_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<output::OutputClosed>())
}

/// A hint to print after an error, when one helps.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|e| match e.downcast_ref::<clients::Error>()? {
            clients::Error::Connect { address, .. } | clients::Error::Timeout { address, .. } => {
                Some(format!(
                    "is the FATE-Flow server running at {address}? Point the CLI at it with \
                 `flow init --ip IP --port PORT` (or `flow init -c service_conf.yaml`), \
                 --ip/--port, or FATE_FLOW_ADDR=host:port."
                ))
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpn_is_rewritten_before_clap_sees_it() {
        let args = normalize_args([
            "flow", "task", "query", "-cpn", "reader_0", "-cpn=x", "--", "-cpn",
        ]);
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "flow",
                "task",
                "query",
                "--component-name",
                "reader_0",
                "--component-name=x",
                "--",
                "-cpn"
            ]
        );
    }

    #[test]
    fn global_flags_work_after_the_verb() {
        let cli =
            try_parse_args(["flow", "job", "stop", "-j", "1", "--ip", "h", "--port", "9"]).unwrap();
        assert_eq!(cli.global.ip.as_deref(), Some("h"));
        assert_eq!(cli.global.port, Some(9));
    }

    #[test]
    fn usage_errors_exit_2_others_1() {
        let usage = anyhow::Error::new(UsageError::new("bad")).context("while doing x");
        assert_eq!(exit_code(&usage), ExitCode::from(2));
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), ExitCode::from(1));
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

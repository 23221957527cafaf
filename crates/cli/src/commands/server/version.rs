//! `flow server version [--module NAME]` and `flow server versions`.

use anyhow::Result;

use crate::clients::requests::VersionGet;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// `flow server version`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Module to ask about (the server defaults to FATE).
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,
}

/// Runs `flow server version`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.version(&VersionGet {
        module: args.module,
    })?;
    print_envelope(&envelope)
}

/// Runs `flow server versions`.
pub fn run_all(ctx: &Context) -> Result<Exit> {
    print_envelope(&ctx.client()?.server_versions()?)
}

#[cfg(test)]
mod tests {
    use crate::try_parse_args;

    #[test]
    fn version_verbs_parse() {
        assert!(try_parse_args(["flow", "server", "version"]).is_ok());
        assert!(try_parse_args(["flow", "server", "version", "--module", "FATEFlow"]).is_ok());
        assert!(try_parse_args(["flow", "server", "versions"]).is_ok());
        assert!(try_parse_args(["flow", "server", "health"]).is_ok());
        assert!(try_parse_args(["flow", "server", "cluster"]).is_ok());
    }
}

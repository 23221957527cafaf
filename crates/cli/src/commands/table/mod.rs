//! `flow table ...`.

pub mod delete;
pub mod info;

use anyhow::Result;

use super::Context;
use crate::clients::requests::TableRef;
use crate::Exit;

/// The `table` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show a table's meta data (POST /v1/table/table_info).
    Info(TableArgs),
    /// Delete a table (POST /v1/table/delete).
    Delete(TableArgs),
}

/// A table, named like FATE's `-t`/`-n`.
#[derive(Debug, Clone, clap::Args)]
pub struct TableArgs {
    /// Table name.
    #[arg(short = 't', long = "table-name", value_name = "NAME")]
    pub table_name: String,
    /// Namespace.
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
    pub namespace: String,
}

impl TableArgs {
    /// The request body.
    pub fn body(&self) -> TableRef {
        TableRef {
            table_name: self.table_name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

/// Runs a `table` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Info(args) => info::run(args, ctx),
        Command::Delete(args) => delete::run(args, ctx),
    }
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn info_and_delete_take_name_and_namespace() {
        for verb in ["info", "delete"] {
            let cli = try_parse_args(["flow", "table", verb, "-t", "t1", "-n", "ns"]).unwrap();
            let Command::Table(cmd) = cli.command else {
                panic!()
            };
            let args = match cmd {
                super::Command::Info(a) | super::Command::Delete(a) => a,
            };
            assert_eq!(args.body().table_name, "t1");
            assert_eq!(args.body().namespace, "ns");
        }
        assert!(try_parse_args(["flow", "table", "info", "-t", "t1"]).is_err());
    }
}

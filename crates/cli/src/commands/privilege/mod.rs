//! `flow privilege grant|delete -c FILE`, `flow privilege query -p PARTY`: which
//! component modules and tables of this site a partner party may use (FATE's verbs
//! and request bodies).

use anyhow::Result;
use std::path::PathBuf;

use super::{print_envelope, read_json_object, Context};
use crate::clients::requests::PermissionChange;
use crate::Exit;

/// The `privilege` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Grant a party components and/or tables (POST /v1/permission/grant). The file
    /// holds `{"party_id": 9999, "component": "reader,heterolr" | "*", "dataset":
    /// [{"namespace": ..., "name": ...}] | "*"}`.
    Grant(ConfArgs),
    /// Remove grants (POST /v1/permission/delete); `"*"` removes every grant of its
    /// kind.
    Delete(ConfArgs),
    /// Show a party's grants (POST /v1/permission/query).
    Query(QueryArgs),
}

/// A request read from a JSON file, as FATE's `-c`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfArgs {
    /// The JSON file.
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
}

/// `-p PARTY_ID`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// The partner party.
    #[arg(short = 'p', long = "party-id", value_name = "PARTY_ID")]
    pub party_id: String,
}

/// Runs a `privilege` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    let (endpoint, body) = match command {
        Command::Grant(a) => (
            "permission/grant",
            read_json_object(&a.conf_path, "privilege conf")?,
        ),
        Command::Delete(a) => (
            "permission/delete",
            read_json_object(&a.conf_path, "privilege conf")?,
        ),
        Command::Query(a) => {
            let body = PermissionChange {
                party_id: Some(a.party_id),
                ..Default::default()
            };
            return print_envelope(&ctx.client()?.post("permission/query", &body)?);
        }
    };
    print_envelope(&ctx.client()?.post(endpoint, &body)?)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn verbs_take_fates_options() {
        let cli = try_parse_args(["flow", "privilege", "grant", "-c", "g.json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Privilege(super::Command::Grant(_))
        ));
        let cli = try_parse_args(["flow", "privilege", "query", "-p", "9999"]).unwrap();
        let Command::Privilege(super::Command::Query(q)) = cli.command else {
            panic!()
        };
        assert_eq!(q.party_id, "9999");
        assert!(try_parse_args(["flow", "privilege", "delete"]).is_err());
    }
}

//! `flow audit query|verify|digest`: the site's hash-chained log of what partner
//! sites asked of it, what it sent them, and permission changes.

use anyhow::Result;

use super::{print_envelope, Context};
use crate::clients::requests::AuditQuery;
use crate::Exit;

/// The `audit` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List entries, newest first (POST /v1/audit/query).
    Query(QueryArgs),
    /// Recompute the hash chain and report the first entry that does not match
    /// (POST /v1/audit/verify).
    Verify,
    /// A job's commands with each partner, sent and received, and one hash per
    /// direction to compare with the partner's (POST /v1/audit/digest).
    Digest(DigestArgs),
}

/// Filters.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// One job.
    #[arg(short = 'j', long = "job-id")]
    pub job_id: Option<String>,
    /// One partner party.
    #[arg(short = 'p', long = "party-id")]
    pub party_id: Option<String>,
    /// One command (`create`, `task/start`, `permission/grant`, ...).
    #[arg(long)]
    pub command: Option<String>,
    /// Only refusals.
    #[arg(long)]
    pub refused: bool,
    /// Entries per page (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Entries to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
}

/// `-j JOB_ID`.
#[derive(Debug, Clone, clap::Args)]
pub struct DigestArgs {
    /// The job.
    #[arg(short = 'j', long = "job-id")]
    pub job_id: String,
}

/// Runs an `audit` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    let client = ctx.client()?;
    let envelope = match command {
        Command::Query(a) => client.post(
            "audit/query",
            &AuditQuery {
                job_id: a.job_id,
                party_id: a.party_id,
                command: a.command,
                refused: a.refused.then_some(true),
                limit: Some(a.limit),
                offset: Some(a.offset),
            },
        )?,
        Command::Verify => client.post("audit/verify", &serde_json::json!({}))?,
        Command::Digest(a) => client.post(
            "audit/digest",
            &AuditQuery {
                job_id: Some(a.job_id),
                ..Default::default()
            },
        )?,
    };
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn verbs_parse() {
        let cli = try_parse_args(["flow", "audit", "query", "-j", "j1", "--refused"]).unwrap();
        let Command::Audit(super::Command::Query(q)) = cli.command else {
            panic!()
        };
        assert_eq!(
            (q.job_id.as_deref(), q.refused, q.limit),
            (Some("j1"), true, 100)
        );
        assert!(try_parse_args(["flow", "audit", "verify"]).is_ok());
        assert!(try_parse_args(["flow", "audit", "digest"]).is_err());
    }
}

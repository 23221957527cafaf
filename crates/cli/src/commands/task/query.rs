//! `flow task query [-j ID] [-r ROLE] [-p PARTY] [-cpn NAME] [-s STATUS] [--table]`.

use anyhow::Result;
use serde_json::Value;

use crate::clients::requests::{JobParty, TaskFilter};
use crate::commands::{exit_for, print_envelope, Context, ROLES, STATUSES};
use crate::{output, Exit};

/// `flow task query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: Option<String>,
    /// Role.
    #[arg(short = 'r', long, value_parser = clap::builder::PossibleValuesParser::new(ROLES))]
    pub role: Option<String>,
    /// Party id.
    #[arg(short = 'p', long = "party-id", value_name = "PARTY_ID")]
    pub party_id: Option<String>,
    /// Component name (also `-cpn`).
    #[arg(long = "component-name", visible_alias = "cpn", value_name = "NAME")]
    pub component_name: Option<String>,
    /// Task status.
    #[arg(short = 's', long, value_parser = clap::builder::PossibleValuesParser::new(STATUSES))]
    pub status: Option<String>,
    /// Print an aligned table instead of JSON.
    #[arg(long)]
    pub table: bool,
}

impl Args {
    /// The request body.
    pub fn body(&self) -> TaskFilter {
        TaskFilter {
            party: JobParty {
                job_id: self.job_id.clone(),
                role: self.role.clone(),
                party_id: self.party_id.clone(),
            },
            component_name: self.component_name.clone(),
            status: self.status.iter().cloned().collect(),
            ..TaskFilter::default()
        }
    }
}

/// Runs `flow task query`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.task_query(&args.body())?;
    if args.table && envelope.is_success() {
        if let Value::Array(rows) = envelope.data() {
            output::print(&output::tasks_table(rows).render())?;
            return Ok(exit_for(&envelope));
        }
    }
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn fate_style_arguments() {
        let cli = try_parse_args([
            "flow", "task", "query", "-j", "j1", "-r", "host", "-p", "10000", "-cpn", "reader_0",
            "-s", "failed",
        ])
        .unwrap();
        let Command::Task(super::super::Command::Query(a)) = cli.command else {
            panic!()
        };
        assert_eq!(
            crate::pyjson::to_string(&a.body()).unwrap(),
            r#"{"job_id": "j1", "role": "host", "party_id": "10000", "component_name": "reader_0", "status": "failed"}"#
        );
    }
}

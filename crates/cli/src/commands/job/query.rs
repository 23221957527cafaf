//! `flow job query [-j ID] [-r ROLE] [-p PARTY] [-s STATUS] [--table]`.

use anyhow::Result;
use serde_json::Value;

use crate::clients::requests::{JobFilter, JobParty};
use crate::commands::{exit_for, print_envelope, Context, ROLES, STATUSES};
use crate::{output, Exit};

/// `flow job query`.
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
    /// Job status.
    #[arg(short = 's', long, value_parser = clap::builder::PossibleValuesParser::new(STATUSES))]
    pub status: Option<String>,
    /// Print an aligned table instead of JSON.
    #[arg(long)]
    pub table: bool,
}

impl Args {
    /// The request body.
    pub fn body(&self) -> JobFilter {
        JobFilter {
            party: JobParty {
                job_id: self.job_id.clone(),
                role: self.role.clone(),
                party_id: self.party_id.clone(),
            },
            status: self.status.iter().cloned().collect(),
            is_initiator: None,
        }
    }
}

/// Drops the bulky `f_runtime_conf` and `f_dsl` of every job row, as FATE's client does.
pub fn strip_confs(body: &mut Value) {
    if let Some(Value::Array(rows)) = body.get_mut("data") {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            row.remove("f_runtime_conf");
            row.remove("f_dsl");
        }
    }
}

/// Runs `flow job query`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let mut envelope = ctx.client()?.job_query(&args.body())?;
    if envelope.is_success() {
        strip_confs(&mut envelope.body);
        if args.table {
            if let Value::Array(rows) = envelope.data() {
                output::print(&output::jobs_table(rows).render())?;
                return Ok(exit_for(&envelope));
            }
        }
    }
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{try_parse_args, Command};
    use serde_json::json;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec!["flow", "job", "query"];
        argv.extend_from_slice(args);
        let cli = try_parse_args(argv)?;
        match cli.command {
            Command::Job(super::super::Command::Query(a)) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filters_map_to_body() {
        let a = parse(&["-j", "j1", "-r", "guest", "-p", "9999", "-s", "running"]).unwrap();
        assert_eq!(
            crate::pyjson::to_string(&a.body()).unwrap(),
            r#"{"job_id": "j1", "role": "guest", "party_id": "9999", "status": "running"}"#
        );
        assert!(parse(&["-r", "boss"]).is_err());
        assert!(parse(&["-s", "exploded"]).is_err());
        assert!(parse(&["--table"]).unwrap().table);
    }

    #[test]
    fn confs_are_stripped_leniently() {
        let mut body = json!({"retcode": 0, "data": [
            {"f_job_id": "1", "f_dsl": {}, "f_runtime_conf": {}}, {"f_job_id": "2"}]});
        strip_confs(&mut body);
        assert_eq!(body["data"], json!([{"f_job_id": "1"}, {"f_job_id": "2"}]));
    }
}

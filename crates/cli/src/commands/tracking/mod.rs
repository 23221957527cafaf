//! `flow tracking ...`: what a component of a job produced at one party.

pub mod metric_all;
pub mod metrics;
pub mod output_data;
pub mod parameters;
pub mod summary;

use anyhow::Result;

use super::{Context, ROLES};
use crate::clients::requests::ComponentRef;
use crate::Exit;

/// The `tracking` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Metric names per namespace (POST /v1/tracking/component/metrics).
    Metrics(ComponentArgs),
    /// All metrics with their data (POST /v1/tracking/component/metric/all).
    MetricAll(ComponentArgs),
    /// The component's parameters (POST /v1/tracking/component/parameters).
    Parameters(ComponentArgs),
    /// Download the component's output data as CSV
    /// (GET /v1/tracking/component/output/data/download).
    OutputData(output_data::Args),
    /// The component's summary (POST /v1/tracking/component/summary/download).
    #[command(visible_alias = "get-summary")]
    Summary(summary::Args),
}

/// One component of one job at one party, with FATE's option names.
#[derive(Debug, Clone, clap::Args)]
pub struct ComponentArgs {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: String,
    /// Role.
    #[arg(short = 'r', long, value_parser = clap::builder::PossibleValuesParser::new(ROLES))]
    pub role: String,
    /// Party id.
    #[arg(short = 'p', long = "party-id", value_name = "PARTY_ID")]
    pub party_id: String,
    /// Component name (also `-cpn`).
    #[arg(long = "component-name", visible_alias = "cpn", value_name = "NAME")]
    pub component_name: String,
}

impl ComponentArgs {
    /// The request body.
    pub fn body(&self) -> ComponentRef {
        ComponentRef {
            job_id: self.job_id.clone(),
            role: self.role.clone(),
            party_id: self.party_id.clone(),
            component_name: self.component_name.clone(),
        }
    }
}

/// Runs a `tracking` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Metrics(args) => metrics::run(args, ctx),
        Command::MetricAll(args) => metric_all::run(args, ctx),
        Command::Parameters(args) => parameters::run(args, ctx),
        Command::OutputData(args) => output_data::run(args, ctx),
        Command::Summary(args) => summary::run(args, ctx),
    }
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn every_verb_takes_the_component_quadruple() {
        for verb in [
            "metrics",
            "metric-all",
            "parameters",
            "summary",
            "get-summary",
        ] {
            let cli = try_parse_args([
                "flow", "tracking", verb, "-j", "j1", "-r", "guest", "-p", "9999", "-cpn", "lr_0",
            ])
            .unwrap_or_else(|e| panic!("{verb}: {e}"));
            let Command::Tracking(cmd) = cli.command else {
                panic!()
            };
            let body = match cmd {
                super::Command::Metrics(a)
                | super::Command::MetricAll(a)
                | super::Command::Parameters(a) => a.body(),
                super::Command::Summary(a) => a.component.body(),
                super::Command::OutputData(_) => unreachable!(),
            };
            assert_eq!(
                crate::pyjson::to_string(&body).unwrap(),
                r#"{"job_id": "j1", "role": "guest", "party_id": "9999", "component_name": "lr_0"}"#
            );
            assert!(try_parse_args([
                "flow", "tracking", verb, "-j", "j1", "-r", "guest", "-p", "9"
            ])
            .is_err());
        }
    }

    #[test]
    fn output_data_needs_a_directory() {
        let base = [
            "flow",
            "tracking",
            "output-data",
            "-j",
            "j",
            "-r",
            "host",
            "-p",
            "1",
            "--cpn",
            "c",
        ];
        assert!(try_parse_args(base).is_err());
        let mut with_out = base.to_vec();
        with_out.extend(["-o", "out"]);
        let cli = try_parse_args(with_out).unwrap();
        let Command::Tracking(super::Command::OutputData(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.limit, -1);
    }
}

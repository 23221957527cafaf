//! `fateflow validate`: check a job locally and show what each party would run.

use crate::output::outln;
use anyhow::Context;
use fateflow_domain::Job;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(dsl: &Path, conf: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let dsl_text =
        std::fs::read_to_string(dsl).with_context(|| format!("reading DSL {}", dsl.display()))?;
    let conf_text = std::fs::read_to_string(conf)
        .with_context(|| format!("reading conf {}", conf.display()))?;
    let job = match Job::parse_str(&dsl_text, &conf_text, fateflow_components::CATALOG) {
        Ok(job) => job,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::from(2));
        }
    };
    for w in &job.warnings {
        eprintln!("warning: {w}");
    }
    let plan = job.plan();
    if json {
        outln!("{}", serde_json::to_string_pretty(&plan)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let initiator = job.conf.initiator;
    outln!(
        "job is valid: DSL v{}, initiator {initiator}, {} components, {} parties",
        job.conf.dsl_version.number(),
        plan.len(),
        job.parties().len()
    )?;
    for (step, task) in plan.iter().enumerate() {
        let after = if task.upstream.is_empty() {
            String::new()
        } else {
            format!("  (after {})", task.upstream.join(", "))
        };
        outln!(
            "{:>2}. {} [{}]{after}",
            step + 1,
            task.component,
            task.module
        )?;
        for p in &task.parties {
            let params = serde_json::to_string(&p.parameters)?;
            let run = if p.need_run {
                ""
            } else {
                "  need_run=false → pass"
            };
            outln!("      {:<16} {params}{run}", p.party.to_string())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

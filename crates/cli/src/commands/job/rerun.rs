//! `flow job rerun -j ID [--cpn NAME] [--force]`.

use anyhow::Result;

use crate::clients::requests::JobRerun;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// `flow job rerun`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job id.
    #[arg(short = 'j', long = "job-id", value_name = "JOB_ID")]
    pub job_id: String,
    /// Rerun from this component (also `-cpn`).
    #[arg(long = "component-name", visible_alias = "cpn", value_name = "NAME")]
    pub component_name: Option<String>,
    /// Rerun successful components too.
    #[arg(long)]
    pub force: bool,
}

impl Args {
    /// The request body.
    pub fn body(&self) -> JobRerun {
        JobRerun {
            job_id: self.job_id.clone(),
            force: self.force,
            component_name: self.component_name.clone(),
        }
    }
}

/// Runs `flow job rerun`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.job_rerun(&args.body())?;
    print_envelope(&envelope)
}

#[cfg(test)]
mod tests {
    use crate::{try_parse_args, Command};

    #[test]
    fn cpn_spellings() {
        for spelling in ["--cpn", "-cpn", "--component-name"] {
            let cli = try_parse_args([
                "flow", "job", "rerun", "-j", "1", spelling, "lr_0", "--force",
            ])
            .unwrap();
            let Command::Job(super::super::Command::Rerun(a)) = cli.command else {
                panic!()
            };
            assert_eq!(
                crate::pyjson::to_string(&a.body()).unwrap(),
                r#"{"job_id": "1", "force": true, "component_name": "lr_0"}"#
            );
        }
    }
}

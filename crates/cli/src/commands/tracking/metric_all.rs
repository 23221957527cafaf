//! `flow tracking metric-all -j ID -r ROLE -p PARTY -cpn NAME`.

use anyhow::Result;

use super::ComponentArgs;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// Runs the verb.
pub fn run(args: ComponentArgs, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.component_metric_all(&args.body())?;
    print_envelope(&envelope)
}

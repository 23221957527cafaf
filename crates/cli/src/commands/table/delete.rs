//! `flow table delete -t NAME -n NAMESPACE`.

use anyhow::Result;

use super::TableArgs;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// Runs `flow table delete`.
pub fn run(args: TableArgs, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.table_delete(&args.body())?;
    print_envelope(&envelope)
}

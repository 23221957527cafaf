//! `flow table info -t NAME -n NAMESPACE`.

use anyhow::Result;

use super::TableArgs;
use crate::commands::{print_envelope, Context};
use crate::Exit;

/// Runs `flow table info`.
pub fn run(args: TableArgs, ctx: &Context) -> Result<Exit> {
    let envelope = ctx.client()?.table_info(&args.body())?;
    print_envelope(&envelope)
}

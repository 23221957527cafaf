//! `flow model get-model-info --model-id ID --model-version V [-r ROLE] [-p PARTY]
//! [--detail]`.

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::commands::{print_envelope, Context, ROLES};
use crate::Exit;

/// `flow model get-model-info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model id.
    #[arg(long = "model-id", value_name = "MODEL_ID")]
    pub model_id: Option<String>,
    /// Model version.
    #[arg(long = "model-version", value_name = "MODEL_VERSION")]
    pub model_version: String,
    /// Role.
    #[arg(short = 'r', long, value_parser = ROLES)]
    pub role: Option<String>,
    /// Party id.
    #[arg(short = 'p', long = "party-id")]
    pub party_id: Option<String>,
    /// Every column, not FATE's short list.
    #[arg(long)]
    pub detail: bool,
}

/// The columns fate-client asks for without `--detail`.
pub const SHORT_FILTERS: [&str; 11] = [
    "create_date",
    "role",
    "party_id",
    "roles",
    "model_id",
    "model_version",
    "loaded_times",
    "size",
    "description",
    "parent",
    "parent_info",
];

/// The request body.
pub fn body(args: &Args) -> Value {
    let mut b = Map::new();
    if let Some(id) = &args.model_id {
        b.insert("model_id".into(), json!(id));
    }
    b.insert("model_version".into(), json!(args.model_version));
    if let Some(r) = &args.role {
        b.insert("role".into(), json!(r));
    }
    if let Some(p) = &args.party_id {
        b.insert("party_id".into(), json!(p));
    }
    if !args.detail {
        b.insert("query_filters".into(), json!(SHORT_FILTERS));
    }
    Value::Object(b)
}

/// Runs `flow model get-model-info`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    print_envelope(&ctx.client()?.model("query", &body(&args))?)
}

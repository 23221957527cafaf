//! `flow model ...`: deploy, load, get-model-info, export, import, get-predict-dsl,
//! get-predict-conf, with fate-client 1.11's flags and request bodies.

pub mod deploy;
pub mod export;
pub mod import;
pub mod info;
pub mod load;
pub mod predict;
pub mod publish;

use anyhow::Result;

use super::Context;
use crate::Exit;

/// The `model` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Deploy a trained model: a new model version for predict jobs (POST /v1/model/deploy).
    Deploy(deploy::Args),
    /// Load a deployed model at every guest and host for online inference and count
    /// the load (POST /v1/model/load).
    Load(load::Args),
    /// Bind a service id to a loaded model at the guest (POST /v1/model/bind).
    Bind(publish::BindArgs),
    /// Deploy, load and bind in one step, rolled back if a party fails (POST
    /// /v1/model/publish).
    Publish(publish::PublishArgs),
    /// Model info rows (POST /v1/model/query).
    #[command(name = "get-model-info")]
    GetModelInfo(info::Args),
    /// Download one party's model as a zip archive (GET /v1/model/export).
    Export(export::Args),
    /// Import a model archive for one party (POST /v1/model/import).
    Import(import::Args),
    /// Save a model's inference DSL (POST /v1/model/get/predict/dsl).
    #[command(name = "get-predict-dsl")]
    GetPredictDsl(predict::Args),
    /// Save a predict conf template for a model (POST /v1/model/get/predict/conf).
    #[command(name = "get-predict-conf")]
    GetPredictConf(predict::Args),
}

/// Runs a `model` verb.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Deploy(args) => deploy::run(args, ctx),
        Command::Load(args) => load::run(args, ctx),
        Command::Bind(args) => publish::bind(args, ctx),
        Command::Publish(args) => publish::publish(args, ctx),
        Command::GetModelInfo(args) => info::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Import(args) => import::run(args, ctx),
        Command::GetPredictDsl(args) => predict::run(args, ctx, predict::What::Dsl),
        Command::GetPredictConf(args) => predict::run(args, ctx, predict::What::Conf),
    }
}

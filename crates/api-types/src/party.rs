//! The party commands: everything an initiator asks of a party, in-process for
//! parties hosted at its own site and as JSON through the gateway for the others, and
//! the answers that travel back.

use fateflow_domain::{Party, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A command for one party about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum PartyCommand {
    /// Create the job at the party (status `ready`) and its waiting tasks.
    CreateJob {
        /// The DSL as submitted (a predict job's: the model's inference DSL).
        dsl: Value,
        /// The runtime conf as submitted (a predict job's: merged over the model's
        /// training conf).
        runtime_conf: Value,
        /// A predict job's model's training conf; a training job's is its own conf.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        train_runtime_conf: Option<Value>,
    },
    /// Take the job's resources at the party, all or nothing.
    ApplyResource,
    /// Give the job's resources back.
    ReturnResource,
    /// The job starts running.
    StartJob,
    /// Set the job's status (computed by the initiator).
    SyncJobStatus {
        /// The new status.
        status: Status,
        /// Why, for an end status that is not success.
        reason: Option<String>,
    },
    /// Set the job's progress.
    SyncProgress {
        /// Percent.
        progress: i64,
    },
    /// Create a new version of a component's task at the party (rerun).
    CreateTask {
        /// The component.
        component: String,
        /// The new version.
        task_version: i64,
        /// Retries left.
        auto_retries: i64,
    },
    /// Start a component's task at the party.
    StartTask {
        /// The component.
        component: String,
        /// Which version.
        task_version: i64,
    },
    /// Set a task's federated status.
    SyncTaskStatus {
        /// The component.
        component: String,
        /// Which version.
        task_version: i64,
        /// The federated status.
        status: Status,
    },
    /// Stop a task (kill its process) and set its party status.
    StopTask {
        /// The component.
        component: String,
        /// Which version.
        task_version: i64,
        /// `canceled`, `failed` or `timeout`.
        status: Status,
        /// Why.
        reason: String,
    },
    /// Stop every unfinished task of the job and end it with `status`.
    StopJob {
        /// The end status.
        status: Status,
        /// Why.
        reason: String,
    },
    /// Put an ended job back to `waiting` for a rerun (progress 0, end time and
    /// error cleared).
    PrepareRerun,
    /// Save the party's pipeline model of a training job that succeeded (FATE's
    /// `model` command). Predict jobs save none.
    SaveModel,
    /// Make a deployed child version of a trained model at the party (FATE's
    /// `/model/deploy/do`). The command's job id is the child version.
    DeployModel {
        /// The model.
        model_id: String,
        /// The trained (parent) version.
        model_version: String,
        /// The new version, a fresh job id.
        child_model_version: String,
        /// The model's initiator, which sends this command.
        initiator: Party,
        /// Components to deploy; every training component when neither this nor `dsl`
        /// is given.
        cpn_list: Option<Vec<String>>,
        /// An inference DSL given by the user instead of `cpn_list`.
        dsl: Option<Value>,
    },
    /// Check that a deployed model is at the party, count a load of it and build the
    /// party's part for online inference (FATE's `/model/load/do`).
    LoadModel {
        /// The model.
        model_id: String,
        /// A deployed version.
        model_version: String,
        /// The model's initiator, which sends this command.
        initiator: Party,
    },
    /// Drop the party's online part of a loaded model (a publish that failed elsewhere
    /// rolls back with it).
    UnloadModel {
        /// The model.
        model_id: String,
        /// A deployed version.
        model_version: String,
        /// The model's initiator, which sends this command.
        initiator: Party,
    },
}

impl PartyCommand {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            PartyCommand::CreateJob { .. } => "create",
            PartyCommand::ApplyResource => "resource/apply",
            PartyCommand::ReturnResource => "resource/return",
            PartyCommand::StartJob => "start",
            PartyCommand::SyncJobStatus { .. } => "status",
            PartyCommand::SyncProgress { .. } => "update",
            PartyCommand::CreateTask { .. } => "task/create",
            PartyCommand::StartTask { .. } => "task/start",
            PartyCommand::SyncTaskStatus { .. } => "task/status",
            PartyCommand::StopTask { .. } => "task/stop",
            PartyCommand::StopJob { .. } => "stop",
            PartyCommand::PrepareRerun => "rerun",
            PartyCommand::SaveModel => "model",
            PartyCommand::DeployModel { .. } => "model/deploy/do",
            PartyCommand::LoadModel { .. } => "model/load/do",
            PartyCommand::UnloadModel { .. } => "model/unload/do",
        }
    }
}

/// A party's answer to a command that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CommandError {
    /// The party refused (bad request, resources, rules); `retcode` is FATE's code.
    #[error("{party} refused `{command}` (retcode {retcode}): {message}")]
    Refused {
        /// Which party.
        party: Party,
        /// Which command.
        command: String,
        /// FATE return code.
        retcode: i32,
        /// The party's reason.
        message: String,
    },
    /// The party could not be reached.
    #[error("{party} unreachable for `{command}`: {message}")]
    Unreachable {
        /// Which party.
        party: Party,
        /// Which command.
        command: String,
        /// The transport error.
        message: String,
    },
}

impl CommandError {
    /// FATE's return code: the party's own, or 104 (federated error) when it could not
    /// be reached.
    pub fn retcode(&self) -> i32 {
        match self {
            CommandError::Refused { retcode, .. } => *retcode,
            CommandError::Unreachable { .. } => 104,
        }
    }

    /// The party concerned.
    pub fn party(&self) -> Party {
        match self {
            CommandError::Refused { party, .. } | CommandError::Unreachable { party, .. } => *party,
        }
    }

    /// The reason alone.
    pub fn message(&self) -> &str {
        match self {
            CommandError::Refused { message, .. } | CommandError::Unreachable { message, .. } => {
                message
            }
        }
    }
}

/// What a job's initiator says about the job when a party asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitiatorView {
    /// The initiator holds no job of this id that it initiated.
    Unknown,
    /// The initiator's status of the job and, when it ended, why.
    Known {
        /// The job's status at the initiator.
        status: Status,
        /// The initiator's reason, for an end status.
        reason: Option<String>,
    },
}

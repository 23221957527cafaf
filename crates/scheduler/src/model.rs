//! Pipeline models (reference §2.6, §10).
//!
//! - At the end of a training job that succeeded, the initiator sends every party
//!   [`PartyCommand::SaveModel`]: the party writes its model-info row (FATE's fields,
//!   `parent = true`) and a copy of each of its component models (the latest task
//!   version of each component).
//! - [`Scheduler::deploy`] sends every guest, host and arbiter party
//!   [`PartyCommand::DeployModel`]: each makes a child version (a new job id,
//!   `parent = false`, `parent_info` naming the trained version) with the inference DSL
//!   fixed, and copies the component models under it.
//! - [`Scheduler::load`] sends every non-arbiter party [`PartyCommand::LoadModel`]:
//!   there is no FATE-Serving here, so a load checks that the deployed model is at
//!   each party and counts it in `loaded_times`; predictions are made by predict jobs.
//! - A predict job names a deployed version; [`Scheduler::submit`] replaces its DSL by
//!   the model's inference DSL and merges its conf over the model's training conf, and
//!   its tasks read `pipeline.<component>.<model>` inputs from the party's copy of
//!   the component models.

use crate::clock::{job_timestamp, now_ms};
use crate::controller::{PartyController, Refusal};
use crate::initiator::{Scheduler, SubmitError};
use crate::partner::PartyCommand;
use fateflow_domain::predict::{job_type_of, merge_predict_conf, model_of, with_model_version};
use fateflow_domain::retcode::RetCode;
use fateflow_domain::{Dsl, ErrorKind, Job, JobType, Party, PartyId, Role};
use fateflow_storage::{
    JobRecord, ModelFilter, ModelInfoRecord, ModelKey, PipelineComponentRecord,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The FATE version written into model rows (what FATE-Serving and `flow` read).
pub const FATE_VERSION: &str = "1.11.4";

/// Why a model operation at the initiator failed: FATE's HTTP status (when the
/// answer is an error response) or retcode, and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No such model here (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// A bad request (retcode 101).
    #[error("{0}")]
    Invalid(String),
    /// The store failed (retcode 100).
    #[error("{0}")]
    Store(String),
}

impl From<fateflow_storage::Error> for ModelError {
    fn from(e: fateflow_storage::Error) -> Self {
        ModelError::Store(e.to_string())
    }
}

/// What a deploy asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployRequest {
    /// The model.
    pub model_id: String,
    /// Its trained version.
    pub model_version: String,
    /// Components to deploy.
    pub cpn_list: Option<Vec<String>>,
    /// Or a whole inference DSL.
    pub dsl: Option<Value>,
}

/// One party's answer to a fanned-out model command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyAnswer {
    /// The party.
    pub party: Party,
    /// FATE's retcode (0 when it succeeded).
    pub retcode: i32,
    /// Its message.
    pub retmsg: String,
}

/// The outcome of a deploy or a load: the new version (deploy) and every party's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    /// The child version (deploy) or the operation's job id (load).
    pub version: String,
    /// In the order sent.
    pub answers: Vec<PartyAnswer>,
}

impl FanOut {
    /// Whether every party succeeded.
    pub fn ok(&self) -> bool {
        self.answers.iter().all(|a| a.retcode == 0)
    }

    /// FATE's `{role: {party_id: retcode}}` and `{"detail": {role: {party_id:
    /// {retcode, retmsg}}}}` maps, merged into one object.
    pub fn status_info(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let mut detail = Map::new();
        for a in &self.answers {
            let role = a.party.role.as_str();
            let party = a.party.party_id.to_string();
            if let Value::Object(m) = out.entry(role).or_insert_with(|| json!({})) {
                m.insert(party.clone(), json!(a.retcode));
            }
            if let Value::Object(m) = detail.entry(role).or_insert_with(|| json!({})) {
                m.insert(party, json!({"retcode": a.retcode, "retmsg": a.retmsg}));
            }
        }
        out.insert("detail".into(), Value::Object(detail));
        out
    }
}

/// The parties of a model, from its `roles`, in FATE's order (roles by name).
pub fn model_parties(info: &ModelInfoRecord) -> Vec<Party> {
    let roles: BTreeMap<Role, Vec<Value>> =
        serde_json::from_value(info.roles.clone()).unwrap_or_default();
    roles
        .into_iter()
        .flat_map(|(role, ids)| {
            ids.into_iter().filter_map(move |v| {
                let party_id = v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())?;
                Some(Party { role, party_id })
            })
        })
        .collect()
}

fn refuse(retcode: i32, message: impl Into<String>) -> Refusal {
    Refusal {
        retcode,
        message: message.into(),
    }
}

/// The latest task version's models of every component of `job` at `party`.
async fn job_component_models(
    c: &PartyController,
    job: &JobRecord,
    parsed: &Job,
    party: Party,
) -> Result<Vec<PipelineComponentRecord>, Refusal> {
    let mut out = Vec::new();
    for cpn in parsed.topological_order() {
        let models = c
            .store
            .query_component_models(&job.job_id, cpn, party.role, party.party_id)
            .await?;
        let Some(latest) = models.first().map(|m| m.owner.task_version) else {
            continue;
        };
        for m in models.iter().filter(|m| m.owner.task_version == latest) {
            out.push(PipelineComponentRecord {
                component_name: cpn.to_string(),
                model_alias: m.model_alias.clone(),
                module: m.module.clone(),
                model: m.model.clone(),
                create_time: m.create_time,
            });
        }
    }
    Ok(out)
}

fn model_size(components: &[PipelineComponentRecord]) -> i64 {
    components
        .iter()
        .map(|c| c.model.to_string().len() as i64)
        .sum()
}

/// `runtime_conf_on_party` with `job_parameters.model_id` and `model_version` set.
fn on_party_with_model(on_party: &Value, model_id: &str, model_version: &str) -> Value {
    let mut v = on_party.clone();
    if let Some(Value::Object(p)) = v.get_mut("job_parameters") {
        p.insert("model_id".into(), json!(model_id));
        p.insert("model_version".into(), json!(model_version));
    }
    v
}

impl PartyController {
    /// Saves this party's pipeline model of a training job that succeeded. A rerun that
    /// succeeds again replaces it; deployed children are copies and stay as they were.
    pub(crate) async fn save_model(&self, job_id: &str, party: Party) -> Result<Value, Refusal> {
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
            .ok_or_else(|| refuse(102, format!("job {job_id} not found at {party}")))?;
        if job_type_of(&job.runtime_conf) == JobType::Predict {
            return Ok(json!({"saved": false, "reason": "predict jobs save no model"}));
        }
        let parsed = self
            .parsed
            .get(&job.job_id, &job.dsl, &job.runtime_conf)
            .map_err(|e| refuse(100, format!("stored job no longer parses: {e}")))?;
        let components = job_component_models(self, &job, &parsed, party).await?;
        let inference_dsl = parsed
            .predict_dsl(None)
            .map(|d| d.to_json())
            .unwrap_or_else(|_| json!({"components": {}}));
        let now = now_ms();
        let info = ModelInfoRecord {
            model_id: job.model_id.clone(),
            model_version: job.model_version.clone(),
            role: party.role,
            party_id: party.party_id,
            job_id: job.job_id.clone(),
            roles: job.roles.clone(),
            initiator_role: job.initiator_role,
            initiator_party_id: job.initiator_party_id,
            train_dsl: job.dsl.clone(),
            train_runtime_conf: with_model_version(
                &job.train_runtime_conf,
                &job.model_id,
                &job.model_version,
            ),
            runtime_conf_on_party: on_party_with_model(
                &job.runtime_conf_on_party,
                &job.model_id,
                &job.model_version,
            ),
            inference_dsl,
            fate_version: FATE_VERSION.into(),
            parent: true,
            parent_info: json!({}),
            loaded_times: 0,
            imported: false,
            size: model_size(&components),
            description: job.description.clone(),
            archive_sha256: None,
            archive_from_ip: None,
            create_time: now,
            update_time: now,
        };
        self.store.insert_model(&info, &components, true).await?;
        tracing::info!(job_id, %party, components = components.len(), model_id = %info.model_id, "pipeline model saved");
        Ok(json!({"saved": true, "components": components.len()}))
    }

    /// Makes a deployed child version of a trained model at `party`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn deploy_model(
        &self,
        party: Party,
        model_id: &str,
        model_version: &str,
        child: &str,
        cpn_list: Option<&[String]>,
        dsl: Option<&Value>,
    ) -> Result<Value, Refusal> {
        let fail = |detail: String| {
            refuse(
                100,
                format!(
                    "deploy model of role {} {} failed, details: {detail}",
                    party.role, party.party_id
                ),
            )
        };
        let key = ModelKey {
            model_id: model_id.into(),
            model_version: model_version.into(),
            role: party.role,
            party_id: party.party_id,
        };
        let Some(parent) = self.store.get_model(&key).await? else {
            return Err(fail(format!("{key} not found at this site")));
        };
        if !parent.parent {
            return Err(fail(format!(
                "Child model could not be deployed: version {model_version} is itself a deployed model (of {}); deploy the trained version",
                parent.parent_info.get("parent_model_version").and_then(Value::as_str).unwrap_or("?")
            )));
        }
        if parent
            .train_runtime_conf
            .get("dsl_version")
            .is_some_and(|v| v == &json!(1) || v == &json!("1"))
        {
            return Err(fail(
                "the model was trained with DSL v1; this server deploys DSL v2 models only (retrain with a v2 DSL)".into(),
            ));
        }
        let train = fateflow_domain::dsl::parse_dsl_value(&parent.train_dsl)
            .map_err(|e| fail(format!("the stored training DSL no longer parses: {e}")))?;
        let inference: Dsl = match (dsl, cpn_list) {
            (Some(d), _) => {
                let d = match d {
                    Value::String(s) => serde_json::from_str(s)
                        .map_err(|e| fail(format!("dsl: not valid JSON: {e}")))?,
                    other => other.clone(),
                };
                fateflow_domain::predict::parse_predict_dsl(&d, &train)
                    .map_err(|e| fail(format!("dsl: {e}")))?
            }
            (None, list) => {
                let all: Vec<String>;
                let list = match list {
                    Some(l) => l,
                    None => {
                        all = train.components.iter().map(|c| c.name.clone()).collect();
                        &all
                    }
                };
                fateflow_domain::dag::predict_dsl(&train, Some(list))
                    .map_err(|e| fail(format!("cpn_list: {e}")))?
            }
        };
        let components = self.store.model_components(&key).await?;
        let now = now_ms();
        let info = ModelInfoRecord {
            model_version: child.into(),
            job_id: child.into(),
            train_runtime_conf: with_model_version(&parent.train_runtime_conf, model_id, child),
            runtime_conf_on_party: on_party_with_model(
                &parent.runtime_conf_on_party,
                model_id,
                child,
            ),
            inference_dsl: inference.to_json(),
            parent: false,
            parent_info: json!({"parent_model_id": model_id, "parent_model_version": model_version}),
            loaded_times: 0,
            imported: false,
            archive_sha256: None,
            archive_from_ip: None,
            create_time: now,
            update_time: now,
            ..parent
        };
        match self.store.insert_model(&info, &components, false).await {
            Ok(()) | Err(fateflow_storage::Error::AlreadyExists(_)) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
        tracing::info!(%party, model_id, parent = model_version, child, "model deployed");
        Ok(
            json!({"retmsg": format!("deploy model of role {} {} success", party.role, party.party_id)}),
        )
    }

    /// Checks that a deployed model is here and counts a load of it.
    pub(crate) async fn load_model(
        &self,
        party: Party,
        model_id: &str,
        model_version: &str,
    ) -> Result<Value, Refusal> {
        let key = ModelKey {
            model_id: model_id.into(),
            model_version: model_version.into(),
            role: party.role,
            party_id: party.party_id,
        };
        let Some(info) = self.store.get_model(&key).await? else {
            return Err(refuse(100, format!("{key} not found at this site")));
        };
        if info.parent {
            return Err(refuse(
                100,
                "Only deployed models could be used to execute process of loading. Please deploy model before loading.",
            ));
        }
        let mut served = String::new();
        if let Some(loader) = self.online_loader() {
            let components = self.store.model_components(&key).await?;
            served = loader
                .load(party, &info, &components)
                .await
                .map_err(|e| refuse(123, format!("{key} cannot be served online: {e}")))?;
        }
        self.store.count_model_load(&key, now_ms()).await?;
        Ok(json!({"retmsg": format!(
            "{key} is deployed here; load counted ({} before){}",
            info.loaded_times,
            if served.is_empty() { String::new() } else { format!("; {served}") }
        )}))
    }

    /// A predict job's checks at this party: the model is here and deployed. Returns
    /// the components whose `pipeline.*` models this party does not hold (an arbiter
    /// of HeteroLR): their tasks pass, there is nothing to predict with.
    pub(crate) async fn predict_model_check(
        &self,
        party: Party,
        job: &Job,
        model_id: &str,
        model_version: &str,
    ) -> Result<Vec<String>, Refusal> {
        let key = ModelKey {
            model_id: model_id.into(),
            model_version: model_version.into(),
            role: party.role,
            party_id: party.party_id,
        };
        let Some(info) = self.store.get_model(&key).await? else {
            return Err(refuse(
                103,
                format!("{key} not found at this site: deploy the model (flow model deploy) or import it here"),
            ));
        };
        if info.parent {
            return Err(refuse(103, not_deployed(&key)));
        }
        let held = self.store.model_components(&key).await?;
        let mut idle = Vec::new();
        for c in &job.dsl.components {
            let wanted: Vec<_> = c
                .input
                .model
                .iter()
                .filter_map(|r| match r {
                    fateflow_domain::dsl::DataRef::Pipeline(o) => Some(o),
                    _ => None,
                })
                .collect();
            if !wanted.is_empty()
                && !wanted.iter().any(|o| {
                    held.iter()
                        .any(|h| h.component_name == o.component && h.model_alias == o.name)
                })
            {
                idle.push(c.name.clone());
            }
        }
        Ok(idle)
    }
}

fn not_deployed(key: &ModelKey) -> String {
    format!(
        "model has not been deployed yet: {key} is a trained model; deploy it (flow model deploy) and predict with the deployed version"
    )
}

/// A predict submit, resolved at the initiator: the inference DSL, the merged conf and
/// the model's training conf.
pub(crate) struct PredictSubmit {
    pub dsl: Value,
    pub conf: Value,
    pub train_conf: Value,
}

impl Scheduler {
    /// The initiator's own row of a model hosted at this site, when it is here.
    async fn initiator_model(
        &self,
        model_id: &str,
        model_version: &str,
    ) -> Result<ModelInfoRecord, ModelError> {
        let rows = self
            .store
            .query_models(&ModelFilter {
                model_id: Some(model_id.into()),
                model_version: Some(model_version.into()),
                ..Default::default()
            })
            .await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|m| self.controller.hosts(m.party_id))
            .collect();
        if rows.is_empty() {
            return Err(ModelError::NotFound(format!(
                "Model {model_id} {model_version} not found."
            )));
        }
        rows.into_iter()
            .find(|m| m.role == m.initiator_role && m.party_id == m.initiator_party_id)
            .ok_or_else(|| {
                ModelError::NotFound(format!(
                    "Cannot found model of initiator role: model {model_id} {model_version} is here, but not the initiator's; send the request to the initiator's site"
                ))
            })
    }

    /// Deploys a trained model at every guest, host and arbiter party (reference §2.6).
    pub async fn deploy(&self, req: &DeployRequest) -> Result<FanOut, ModelError> {
        if req.cpn_list.is_some() && req.dsl.is_some() {
            return Err(ModelError::Invalid(
                "give either cpn_list or dsl (predict_dsl), not both".into(),
            ));
        }
        let info = self
            .initiator_model(&req.model_id, &req.model_version)
            .await
            .map_err(|e| match e {
                ModelError::NotFound(m) => {
                    ModelError::NotFound(format!("Deploy model failed. {m}"))
                }
                other => other,
            })?;
        if !info.parent {
            return Err(ModelError::Invalid(format!(
                "Deploy model failed. version {} is a deployed model; deploy the trained version {}",
                req.model_version,
                info.parent_info
                    .get("parent_model_version")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            )));
        }
        let child = self.ids().next_id(&job_timestamp());
        let initiator = Party {
            role: info.initiator_role,
            party_id: info.initiator_party_id,
        };
        let mut answers = Vec::new();
        for party in model_parties(&info) {
            let cmd = PartyCommand::DeployModel {
                model_id: req.model_id.clone(),
                model_version: req.model_version.clone(),
                child_model_version: child.clone(),
                initiator,
                cpn_list: req.cpn_list.clone(),
                dsl: req.dsl.clone(),
            };
            answers.push(answer(party, self.partner.send(&child, party, cmd).await));
        }
        Ok(FanOut {
            version: child,
            answers,
        })
    }

    /// Loads a deployed model: every non-arbiter party checks that it holds it and
    /// counts the load. There is no FATE-Serving to publish to.
    pub async fn load(&self, model_id: &str, model_version: &str) -> Result<FanOut, ModelError> {
        let info = self.initiator_model(model_id, model_version).await?;
        if info.parent {
            return Err(ModelError::Invalid(format!(
                "Only deployed models could be used to execute process of loading: {model_id} {model_version} is a trained model; deploy it first"
            )));
        }
        Ok(self
            .to_guests_and_hosts(&info, |initiator| PartyCommand::LoadModel {
                model_id: model_id.into(),
                model_version: model_version.into(),
                initiator,
            })
            .await)
    }

    /// Sends every guest and host of a model the command `make` builds from the
    /// model's initiator, under a fresh operation id.
    async fn to_guests_and_hosts(
        &self,
        info: &ModelInfoRecord,
        make: impl Fn(Party) -> PartyCommand,
    ) -> FanOut {
        let job_id = self.ids().next_id(&job_timestamp());
        let initiator = Party {
            role: info.initiator_role,
            party_id: info.initiator_party_id,
        };
        let mut answers = Vec::new();
        for party in model_parties(info)
            .into_iter()
            .filter(|p| p.role != Role::Arbiter)
        {
            answers.push(answer(
                party,
                self.partner.send(&job_id, party, make(initiator)).await,
            ));
        }
        FanOut {
            version: job_id,
            answers,
        }
    }

    /// Drops every guest's and host's online part of a loaded model (a failed publish's
    /// rollback).
    pub async fn unload(&self, model_id: &str, model_version: &str) -> Result<FanOut, ModelError> {
        let info = self.initiator_model(model_id, model_version).await?;
        Ok(self
            .to_guests_and_hosts(&info, |initiator| PartyCommand::UnloadModel {
                model_id: model_id.into(),
                model_version: model_version.into(),
                initiator,
            })
            .await)
    }

    /// A predict job's DSL and conf, from the deployed model at the initiator.
    pub(crate) async fn resolve_predict(&self, conf: &Value) -> Result<PredictSubmit, SubmitError> {
        let (model_id, model_version) = model_of(conf);
        let (Some(model_id), Some(model_version)) = (model_id, model_version) else {
            return Err(SubmitError::Invalid(
                "field `job_parameters.common.model_id` / `model_version`: missing; a predict job needs the model_id and model_version of a deployed model".into(),
            ));
        };
        let initiator = conf
            .get("initiator")
            .and_then(|i| {
                let role: Role = i.get("role")?.as_str()?.parse().ok()?;
                let p = i.get("party_id")?;
                let party_id = p.as_u64().or_else(|| p.as_str()?.trim().parse().ok())?;
                Some(Party { role, party_id })
            })
            .ok_or_else(|| {
                SubmitError::Invalid(
                    "field `initiator`: expected {\"role\": ..., \"party_id\": ...}".into(),
                )
            })?;
        let key = ModelKey {
            model_id: model_id.clone(),
            model_version: model_version.clone(),
            role: initiator.role,
            party_id: initiator.party_id,
        };
        let info = self
            .store
            .get_model(&key)
            .await
            .map_err(|e| SubmitError::Invalid(e.to_string()))?
            .ok_or_else(|| {
                SubmitError::Invalid(format!(
                    "{key} not found at the initiator's site; check model_id and model_version (flow model get-model-info)"
                ))
            })?;
        if info.parent {
            return Err(SubmitError::Invalid(not_deployed(&key)));
        }
        let inference = fateflow_domain::dsl::parse_dsl_value(&info.inference_dsl)
            .map_err(|e| SubmitError::Invalid(format!("the model's inference DSL: {e}")))?;
        let merged = merge_predict_conf(&info.train_runtime_conf, conf, &inference);
        let mut model_parties_sorted = model_parties(&info);
        model_parties_sorted.sort();
        let job = self
            .controller
            .parsed_jobs()
            .parse(&inference.to_json(), &merged)
            .map_err(|e| SubmitError::Invalid(e.to_string()))?;
        let mut conf_parties = job.parties();
        conf_parties.sort();
        conf_parties.dedup();
        if conf_parties != model_parties_sorted {
            return Err(SubmitError::Invalid(format!(
                "field `role`: the predict job's parties {} differ from the model's {}",
                show(&conf_parties),
                show(&model_parties_sorted)
            )));
        }
        Ok(PredictSubmit {
            dsl: inference.to_json(),
            conf: merged,
            train_conf: info.train_runtime_conf,
        })
    }
}

/// Why an import was refused; the handler answers FATE's HTTP status for each.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The request names a party this site does not host (400).
    #[error("party {party_id} is not hosted by this site (hosted: {hosted:?})")]
    NotHosted {
        /// The requested party.
        party_id: PartyId,
        /// The parties this site hosts.
        hosted: Vec<PartyId>,
    },
    /// The archive's model has no such party in its roles (400).
    #[error("Party id {0} is not in model roles, please check if the party id is valid.")]
    NotInRoles(PartyId),
    /// The model is here already and `force_update` was not set (409).
    #[error("Model already exists.")]
    Exists,
    /// The store failed.
    #[error("metadata store: {0}")]
    Store(fateflow_storage::Error),
}

impl ImportError {
    /// Who has to act on it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Store(_) => ErrorKind::Internal,
            _ => ErrorKind::User,
        }
    }

    /// FATE's return code.
    pub fn retcode(&self) -> RetCode {
        match self {
            ImportError::Store(_) => RetCode::ExceptionError,
            ImportError::Exists => RetCode::OperatingError,
            _ => RetCode::ArgumentError,
        }
    }
}

impl From<fateflow_storage::Error> for ImportError {
    fn from(e: fateflow_storage::Error) -> Self {
        match e {
            fateflow_storage::Error::AlreadyExists(_) => ImportError::Exists,
            e => ImportError::Store(e),
        }
    }
}

/// A model archive read by the server, to store as one party's model.
#[derive(Debug, Clone)]
pub struct ModelImport {
    /// Where it goes (the request's model id, version, role and party).
    pub key: ModelKey,
    /// The archive's model row.
    pub info: ModelInfoRecord,
    /// The archive's component models.
    pub components: Vec<PipelineComponentRecord>,
    /// Replace a model already here.
    pub force_update: bool,
    /// The archive's SHA-256 (hex).
    pub sha256: String,
    /// The client's IP address.
    pub from_ip: String,
}

impl Scheduler {
    /// Refuses an import for a party this site does not host (checked before the
    /// archive is read).
    pub fn import_target(&self, key: &ModelKey) -> Result<(), ImportError> {
        if self.controller.hosts(key.party_id) {
            return Ok(());
        }
        Err(ImportError::NotHosted {
            party_id: key.party_id,
            hosted: self.controller.config().parties.clone(),
        })
    }

    /// Stores an imported model under the request's key (the archive's party must be
    /// in its roles); returns the operation's job id.
    pub async fn import_model(&self, m: ModelImport) -> Result<String, ImportError> {
        let key = m.key;
        self.import_target(&key)?;
        let in_roles = m
            .info
            .roles
            .get(key.role.as_str())
            .and_then(Value::as_array)
            .is_some_and(|ids| {
                ids.iter().any(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|x| x.trim().parse().ok()))
                        == Some(key.party_id)
                })
            });
        if !in_roles {
            return Err(ImportError::NotInRoles(key.party_id));
        }
        if !m.force_update && self.store.get_model(&key).await?.is_some() {
            return Err(ImportError::Exists);
        }
        let now = now_ms();
        let mut info = m.info;
        info.train_runtime_conf =
            with_model_version(&info.train_runtime_conf, &key.model_id, &key.model_version);
        info.model_id = key.model_id.clone();
        info.model_version = key.model_version.clone();
        info.role = key.role;
        info.party_id = key.party_id;
        info.imported = true;
        info.archive_sha256 = Some(m.sha256);
        info.archive_from_ip = Some(m.from_ip.clone());
        info.create_time = now;
        info.update_time = now;
        let components: Vec<_> = m
            .components
            .into_iter()
            .map(|mut c| {
                c.create_time = now;
                c
            })
            .collect();
        self.store
            .insert_model(&info, &components, m.force_update)
            .await?;
        let job_id = self.new_job_id();
        tracing::info!(model = %key, components = components.len(), from = %m.from_ip, "model imported");
        Ok(job_id)
    }
}

fn show(parties: &[Party]) -> String {
    parties
        .iter()
        .map(|p| format!("{}:{}", p.role, p.party_id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn answer(party: Party, r: Result<Value, crate::CommandError>) -> PartyAnswer {
    match r {
        Ok(v) => PartyAnswer {
            party,
            retcode: 0,
            retmsg: v
                .get("retmsg")
                .and_then(Value::as_str)
                .unwrap_or("success")
                .to_string(),
        },
        Err(e) => PartyAnswer {
            party,
            retcode: e.retcode(),
            retmsg: e.message().to_string(),
        },
    }
}

/// Where a party's deployed model goes when it is loaded for online inference.
#[async_trait::async_trait]
pub trait OnlineLoader: Send + Sync {
    /// Builds and installs `party`'s part of the model; returns a line for the load's
    /// answer, or why it cannot be served.
    async fn load(
        &self,
        party: Party,
        info: &fateflow_storage::ModelInfoRecord,
        components: &[fateflow_storage::PipelineComponentRecord],
    ) -> Result<String, String>;

    /// Drops `party`'s part of a model; whether it was loaded.
    fn unload(&self, party: Party, model_id: &str, model_version: &str) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::SiteConfig;
    use crate::launcher::NoLauncher;
    use fateflow_storage::{MetadataStore, SqliteStore};
    use std::sync::Arc;

    fn info(role: Role, party_id: u64, parent: bool) -> ModelInfoRecord {
        ModelInfoRecord {
            model_id: "m".into(),
            model_version: "v".into(),
            role,
            party_id,
            job_id: "v".into(),
            roles: json!({"guest": [9999], "host": [10000], "arbiter": [10000]}),
            initiator_role: Role::Guest,
            initiator_party_id: 9999,
            train_dsl: json!({}),
            train_runtime_conf: json!({}),
            runtime_conf_on_party: json!({}),
            inference_dsl: json!({}),
            fate_version: FATE_VERSION.into(),
            parent,
            parent_info: json!({}),
            loaded_times: 0,
            imported: false,
            size: 0,
            description: String::new(),
            archive_sha256: None,
            archive_from_ip: None,
            create_time: 0,
            update_time: 0,
        }
    }

    #[tokio::test]
    async fn predict_checks_model_and_passes_components_a_party_holds_no_model_for() {
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let (events, _rx) = crate::event_channel();
        let dir = tempfile::tempdir().unwrap();
        let c = PartyController::new(
            store.clone(),
            Arc::new(NoLauncher),
            Arc::new(SiteConfig {
                parties: vec![9999, 10000],
                data_dir: dir.path().into(),
                cores: 8,
                memory: 0,
                max_cores_percent_per_job: 1.0,
                heartbeat_timeout_s: 60,
                task_memory_mb: 0,
            }),
            events,
            fateflow_domain::Catalog::NAMES_ONLY,
        );
        let lr = PipelineComponentRecord {
            component_name: "hetero_lr_0".into(),
            model_alias: "model".into(),
            module: "HeteroLR".into(),
            model: json!({}),
            create_time: 0,
        };
        store
            .insert_model(&info(Role::Guest, 9999, false), &[lr], false)
            .await
            .unwrap();
        store
            .insert_model(&info(Role::Arbiter, 10000, false), &[], false)
            .await
            .unwrap();
        store
            .insert_model(&info(Role::Host, 10000, true), &[], false)
            .await
            .unwrap();
        let dsl = json!({"components": {
            "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
            "hetero_lr_0": {"module": "HeteroLR",
                "input": {"data": {"test_data": ["reader_0.data"]}, "model": ["pipeline.hetero_lr_0.model"]},
                "output": {"data": ["data"]}}
        }});
        let conf = json!({
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999], "host": [10000], "arbiter": [10000]},
            "job_parameters": {"common": {"job_type": "predict", "model_id": "m", "model_version": "v"}},
            "component_parameters": {"role": {
                "guest": {"0": {"reader_0": {"table": {"name": "t", "namespace": "n"}}}},
                "host": {"0": {"reader_0": {"table": {"name": "t", "namespace": "n"}}}}}}
        });
        let job = Job::parse(&dsl, &conf, fateflow_domain::Catalog::NAMES_ONLY).unwrap();
        let party = |role, party_id| Party { role, party_id };
        let guest = c
            .predict_model_check(party(Role::Guest, 9999), &job, "m", "v")
            .await
            .unwrap();
        assert!(guest.is_empty(), "{guest:?}");
        let arbiter = c
            .predict_model_check(party(Role::Arbiter, 10000), &job, "m", "v")
            .await
            .unwrap();
        assert_eq!(arbiter, ["hetero_lr_0"]);
        let host = c
            .predict_model_check(party(Role::Host, 10000), &job, "m", "v")
            .await
            .unwrap_err();
        assert!(
            host.message.contains("model has not been deployed yet"),
            "{}",
            host.message
        );
        let missing = c
            .predict_model_check(party(Role::Guest, 9999), &job, "m", "other")
            .await
            .unwrap_err();
        assert_eq!(missing.retcode, 103);
        assert!(missing.message.contains("not found"), "{}", missing.message);

        // Created through the command, the arbiter's LR task is planned to pass.
        let cmd = PartyCommand::CreateJob {
            dsl: dsl.clone(),
            runtime_conf: conf.clone(),
            train_runtime_conf: Some(json!({"dsl_version": 2})),
        };
        c.handle("j1", party(Role::Arbiter, 10000), cmd)
            .await
            .unwrap();
        let task = store
            .get_task(&crate::controller::task_key(
                "j1",
                "hetero_lr_0",
                0,
                party(Role::Arbiter, 10000),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(task.component_parameters["need_run"], false);
        let row = store
            .get_job("j1", Role::Arbiter, 10000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.model_id.as_str(), row.model_version.as_str()),
            ("m", "v")
        );
        assert_eq!(row.train_runtime_conf, json!({"dsl_version": 2}));
    }
}

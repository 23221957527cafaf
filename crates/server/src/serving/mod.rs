//! Online inference in the site's own process: the models `flow model load` loaded
//! (each party's part, built by `fateflow-serving`), the service ids bound at the
//! guest, the hosts' features, and the FATE-Serving routes.
//!
//! A request reaches the guest site (`/federation/v1/inference`); the guest scores its
//! part, asks each host for its partial score (in-process for hosts of this site, over
//! the gateway's `Infer` call for the others, with a per-request timeout), and combines.
//! A host reads its features from the table its training job read, indexed by id when
//! the model is loaded.

mod api;
mod features;
mod metrics;
mod redis;

pub use api::{client_routes, routes};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use fateflow_api_types::serving::{code, HostRowResult, HostScoreReply, HostScoreRequest, Row};
use fateflow_domain::{Catalog, Job, Party, Role};
use fateflow_serving::{Begun, ComponentIn, HostPart, Outcome, PartModel, PartyOf};
use fateflow_storage::{ModelInfoRecord, PipelineComponentRecord};
use features::LocalIndex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

type LoadKey = (u64, String, String);

/// One party's loaded part of a model.
struct Loaded {
    part: PartModel,
    role: Role,
    model_id: String,
    model_version: String,
    /// The model's host parties (at the guest).
    hosts: Vec<u64>,
    /// The model's guest parties (at a host: who may ask).
    guests: Vec<u64>,
    /// The host's features by id.
    features: Option<Arc<LocalIndex>>,
    loaded_at: i64,
}

/// A service id's model at the guest.
#[derive(Debug, Clone)]
struct Binding {
    guest: u64,
    model_id: String,
    model_version: String,
}

/// The site's serving state.
pub struct Serving {
    tables: Arc<fateflow_tables::LocalTableStore>,
    /// Where the loaded models and bindings are remembered across restarts.
    state_dir: std::path::PathBuf,
    hosted: Vec<u64>,
    peers: Option<Arc<fateflow_gateway::Peers>>,
    host_timeout: Duration,
    /// A FATE-Serving HTTP feature adapter the hosts of this site read from, instead
    /// of their training tables.
    feature_url: Option<String>,
    http: reqwest::Client,
    /// Redis the hosts of this site read from, instead of their training tables.
    redis: Option<redis::RedisFeatures>,
    loaded: RwLock<HashMap<LoadKey, Arc<Loaded>>>,
    bindings: RwLock<HashMap<String, Binding>>,
    metrics: metrics::Metrics,
    /// Largest batch a request may carry.
    pub batch_limit: usize,
}

/// A request's failure: FATE-Serving's code and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The code.
    pub retcode: i32,
    /// Why.
    pub retmsg: String,
}

fn fail(retcode: i32, retmsg: impl Into<String>) -> Failure {
    Failure {
        retcode,
        retmsg: retmsg.into(),
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// What a guest's scoring of one row gave.
pub type RowOutcome = Result<Outcome, Failure>;

/// How a site serves (from `fateflow server`'s options).
#[derive(Debug, Clone)]
pub struct ServingOptions {
    /// How long the guest waits for a host's partial score.
    pub host_timeout: Duration,
    /// The most rows a batch request may carry.
    pub batch_limit: usize,
    /// A FATE-Serving HTTP feature adapter for this site's hosts.
    pub feature_url: Option<String>,
    /// Redis (`host:port`, key prefix) for this site's hosts.
    pub redis: Option<(String, String)>,
}

impl Serving {
    /// Serving for a site hosting `hosted`, reaching other sites' hosts through `peers`,
    /// remembering what it serves in `state_dir`.
    pub fn new(
        tables: Arc<fateflow_tables::LocalTableStore>,
        state_dir: std::path::PathBuf,
        hosted: Vec<u64>,
        peers: Option<Arc<fateflow_gateway::Peers>>,
        opts: ServingOptions,
    ) -> Self {
        let ServingOptions {
            host_timeout,
            batch_limit,
            feature_url,
            redis,
        } = opts;
        Self {
            feature_url,
            redis: redis
                .map(|(addr, prefix)| redis::RedisFeatures::new(addr, prefix, host_timeout)),
            http: reqwest::Client::builder()
                .timeout(host_timeout)
                .build()
                .unwrap_or_default(),
            batch_limit,
            state_dir,
            tables,
            hosted,
            peers,
            host_timeout,
            loaded: RwLock::new(HashMap::new()),
            bindings: RwLock::new(HashMap::new()),
            metrics: metrics::Metrics::default(),
        }
    }

    /// Binds `service_id` to a model loaded at one of this site's guest parties; a new
    /// bind replaces the old one at once (requests in flight finish on the old model).
    pub fn bind(
        &self,
        service_id: &str,
        model_id: Option<&str>,
        model_version: &str,
    ) -> Result<u64, Failure> {
        check_service_id(service_id)?;
        let (guest, model_id) = read(&self.loaded)
            .iter()
            .find(|((_, m, v), l)| model_id.is_none_or(|id| id == m) && v == model_version && l.role == Role::Guest)
            .map(|((p, m, _), _)| (*p, m.clone()))
            .ok_or_else(|| {
                fail(
                    code::MODEL_NOT_FOUND,
                    format!(
                        "model {} {model_version} is not loaded for online inference at a guest party of this site: flow model load it first (a model without a linear model is not served)",
                        model_id.unwrap_or("")
                    ),
                )
            })?;
        write(&self.bindings).insert(
            service_id.to_string(),
            Binding {
                guest,
                model_id: model_id.clone(),
                model_version: model_version.into(),
            },
        );
        tracing::info!(
            service_id,
            model_id,
            model_version,
            guest,
            "service id bound"
        );
        self.save_state();
        Ok(guest)
    }

    /// Bound service ids and loaded models, for `/v1/serving/list` and the Board.
    pub fn describe(&self) -> Value {
        let counts = self.metrics.requests();
        let bindings: Vec<Value> = read(&self.bindings)
            .iter()
            .map(|(s, b)| {
                let (requests, errors) = counts.get(s).copied().unwrap_or_default();
                json!({"service_id": s, "guest": b.guest, "model_id": b.model_id, "model_version": b.model_version,
                       "requests": requests, "errors": errors})
            })
            .collect();
        let loaded: Vec<Value> = read(&self.loaded)
            .values()
            .map(|l| {
                json!({"role": l.role.as_str(), "model_id": l.model_id, "model_version": l.model_version,
                       "scorer": l.part.scorer, "kind": l.part.kind(), "features": l.part.features().count(),
                       "feature_rows": l.features.as_ref().map(|f| f.len()), "loaded_at": l.loaded_at})
            })
            .collect();
        json!({"bindings": bindings, "loaded": loaded})
    }

    /// Scores rows for a bound service id. The outer error fails the whole request;
    /// each row has its own outcome.
    pub async fn infer(
        &self,
        service_id: &str,
        rows: &[Row],
    ) -> Result<(Value, Vec<RowOutcome>), Failure> {
        let binding = read(&self.bindings)
            .get(service_id)
            .cloned()
            .ok_or_else(|| {
                fail(
                    code::MODEL_NOT_FOUND,
                    format!(
                        "service id `{service_id}` is not bound at this site (flow model bind)"
                    ),
                )
            })?;
        let model = read(&self.loaded)
            .get(&(
                binding.guest,
                binding.model_id.clone(),
                binding.model_version.clone(),
            ))
            .cloned()
            .ok_or_else(|| {
                fail(
                    code::MODEL_NOT_FOUND,
                    format!("the model of service id `{service_id}` is no longer loaded"),
                )
            })?;
        let mut filled = 0;
        let mut begun: Vec<Result<Begun, Failure>> = rows
            .iter()
            .map(|r| {
                let features = r
                    .feature_data
                    .as_ref()
                    .ok_or_else(|| fail(code::PARAM_ERROR, "body.featureData is missing"))?;
                if r.send_to_remote.is_none() && !model.hosts.is_empty() {
                    return Err(fail(
                        code::PARAM_ERROR,
                        "body.sendToRemoteFeatureData is missing",
                    ));
                }
                let v = model
                    .part
                    .values_of_map(features)
                    .map_err(|e| fail(code::FEATURE_ERROR, format!("guest: {e}")))?;
                filled += v.filled;
                model
                    .part
                    .guest_begin(&v)
                    .map_err(|e| fail(code::SYSTEM_ERROR, format!("guest: {e}")))
            })
            .collect();
        let mut answers: Vec<Vec<HostPart>> = vec![Vec::new(); rows.len()];
        let context = model.part.context();
        for &host in &model.hosts {
            let asked: Vec<usize> = (0..rows.len()).filter(|&i| begun[i].is_ok()).collect();
            if asked.is_empty() {
                break;
            }
            let req = HostScoreRequest {
                model_id: binding.model_id.clone(),
                model_version: binding.model_version.clone(),
                host_party_id: host,
                guest_party_id: binding.guest,
                rows: asked
                    .iter()
                    .map(|&i| fateflow_api_types::serving::HostRow {
                        index: i as i64,
                        keys: rows[i].send_to_remote.clone().unwrap_or_default(),
                        payload: begun[i]
                            .as_ref()
                            .ok()
                            .and_then(Begun::to_hosts)
                            .map(|b| B64.encode(b)),
                    })
                    .collect(),
                context: context.clone(),
            };
            let reply = self.ask_host(binding.guest, host, req).await?;
            if reply.retcode != code::OK {
                return Err(fail(
                    code::from_host(reply.retcode),
                    format!(
                        "host {host} return code {} host msg: {}",
                        reply.retcode, reply.retmsg
                    ),
                ));
            }
            if reply.rows.len() != asked.len() {
                return Err(fail(
                    code::MERGE_ERROR,
                    format!(
                        "host {host} answered {} rows for {}",
                        reply.rows.len(),
                        asked.len()
                    ),
                ));
            }
            for (&i, r) in asked.iter().zip(reply.rows) {
                if r.index != i as i64 {
                    return Err(fail(
                        code::MERGE_ERROR,
                        format!("host {host} answered row {} for row {i}", r.index),
                    ));
                }
                if r.retcode != code::OK {
                    begun[i] = Err(fail(
                        code::from_host(r.retcode),
                        format!("host {host}: {}", r.retmsg),
                    ));
                    continue;
                }
                let payload = match r.payload.map(|p| B64.decode(p)).transpose() {
                    Ok(p) => p,
                    Err(e) => {
                        begun[i] = Err(fail(
                            code::MERGE_ERROR,
                            format!("host {host}'s answer for row {i}: {e}"),
                        ));
                        continue;
                    }
                };
                filled += r.filled;
                answers[i].push(HostPart {
                    score: r.score,
                    payload,
                });
            }
        }
        let done = begun
            .into_iter()
            .zip(answers)
            .map(|(b, a)| {
                b.and_then(|b| {
                    model
                        .part
                        .guest_finish(b, &a)
                        .map_err(|e| fail(code::MERGE_ERROR, e))
                })
            })
            .collect();
        self.metrics.filled(service_id, filled);
        let mut data = json!({
            "modelId": fateflow_domain::ids::party_model_id(&binding.model_id, Role::Guest, binding.guest),
            "modelVersion": binding.model_version,
            "timestamp": model.loaded_at,
        });
        if filled > 0 {
            // Visible, never a silent default: how many absent features were filled.
            data["filledFeatures"] = json!(filled);
        }
        Ok((data, done))
    }

    async fn ask_host(
        &self,
        guest: u64,
        host: u64,
        req: HostScoreRequest,
    ) -> Result<HostScoreReply, Failure> {
        if self.hosted.contains(&host) {
            return Ok(self.score_at_host(guest, req).await);
        }
        let peers = self.peers.as_ref().ok_or_else(|| {
            fail(
                code::NETWORK_ERROR,
                format!("host {host} is not hosted here and this site has no routes"),
            )
        })?;
        let call = fateflow_gateway::proto::InferRequest {
            src_party_id: guest,
            dst_party_id: host,
            request_json: serde_json::to_vec(&req).unwrap_or_default(),
        };
        let reply = peers.infer(call, self.host_timeout).await.map_err(|e| {
            let stage = if e.code() == tonic::Code::DeadlineExceeded {
                format!("no answer within {} ms", self.host_timeout.as_millis())
            } else {
                e.message().to_string()
            };
            fail(
                code::NETWORK_ERROR,
                format!("host {host}, asking for its partial score: {stage}"),
            )
        })?;
        serde_json::from_slice(&reply.reply_json)
            .map_err(|e| fail(code::MERGE_ERROR, format!("host {host}'s answer: {e}")))
    }

    /// Writes the loaded models' keys and the bindings to `state_dir/state.json`
    /// (atomically), so a restarted site serves what it served.
    fn save_state(&self) {
        let loaded: Vec<Value> = read(&self.loaded)
            .iter()
            .map(|((p, m, v), l)| json!({"party_id": p, "role": l.role.as_str(), "model_id": m, "model_version": v}))
            .collect();
        let bindings: Vec<Value> = read(&self.bindings)
            .iter()
            .map(|(s, b)| json!({"service_id": s, "guest": b.guest, "model_id": b.model_id, "model_version": b.model_version}))
            .collect();
        let state = json!({"loaded": loaded, "bindings": bindings});
        let write_file = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.state_dir)?;
            // Per process: the servers of a cluster share the dir.
            let tmp = self
                .state_dir
                .join(format!("state.json.{}.tmp", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec_pretty(&state).unwrap_or_default())?;
            std::fs::rename(&tmp, self.state_dir.join("state.json"))
        };
        if let Err(e) = write_file() {
            tracing::error!(dir = %self.state_dir.display(), error = %e, "could not save the serving state; a restart will not reload it");
        }
    }

    /// Loads again what was loaded and bound before a restart, from the site's own
    /// model copies. A model that no longer loads is logged and left out.
    pub async fn restore(&self, store: &dyn fateflow_storage::MetadataStore) {
        let Ok(bytes) = std::fs::read(self.state_dir.join("state.json")) else {
            return;
        };
        let state: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "the saved serving state does not parse; nothing reloaded");
                return;
            }
        };
        use fateflow_scheduler::model::OnlineLoader as _;
        for l in state["loaded"].as_array().into_iter().flatten() {
            let (Some(party_id), Some(role), Some(model_id), Some(version)) = (
                l["party_id"].as_u64(),
                l["role"].as_str().and_then(|r| r.parse::<Role>().ok()),
                l["model_id"].as_str(),
                l["model_version"].as_str(),
            ) else {
                continue;
            };
            let key = fateflow_storage::ModelKey {
                model_id: model_id.into(),
                model_version: version.into(),
                role,
                party_id,
            };
            let result = match store.get_model(&key).await {
                Ok(Some(info)) => match store.model_components(&key).await {
                    Ok(components) => {
                        self.load(Party { role, party_id }, &info, &components)
                            .await
                    }
                    Err(e) => Err(e.to_string()),
                },
                Ok(None) => Err("the model is no longer at this site".into()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(_) => {
                    tracing::info!(%key, "model reloaded for online inference after the restart")
                }
                Err(e) => {
                    tracing::warn!(%key, error = %e, "a model served before the restart could not be reloaded")
                }
            }
        }
        for b in state["bindings"].as_array().into_iter().flatten() {
            let (Some(service), Some(model_id), Some(version)) = (
                b["service_id"].as_str(),
                b["model_id"].as_str(),
                b["model_version"].as_str(),
            ) else {
                continue;
            };
            if let Err(f) = self.bind(service, Some(model_id), version) {
                tracing::warn!(service_id = service, reason = %f.retmsg, "a service id bound before the restart could not be bound again");
            }
        }
    }

    /// A host party's partial scores: each row's features from the site's source,
    /// then one scoring of every row.
    pub async fn score_at_host(&self, guest: u64, req: HostScoreRequest) -> HostScoreReply {
        let whole = |retcode: i32, retmsg: String| HostScoreReply {
            retcode,
            retmsg,
            rows: Vec::new(),
        };
        let Some(model) = read(&self.loaded)
            .get(&(
                req.host_party_id,
                req.model_id.clone(),
                req.model_version.clone(),
            ))
            .cloned()
        else {
            return whole(
                code::MODEL_NOT_FOUND,
                format!(
                    "model {} {} is not loaded at host {}",
                    req.model_id, req.model_version, req.host_party_id
                ),
            );
        };
        if !model.guests.contains(&guest) {
            return whole(
                code::MODEL_NOT_FOUND,
                format!("guest {guest} is not a party of model {}", req.model_id),
            );
        }
        let features = match (&model.features, &self.redis, &self.feature_url) {
            (Some(index), _, _) => req
                .rows
                .iter()
                .map(|r| {
                    let id = row_id(r)?;
                    index
                        .get(&id)
                        .map(|v| RowFeatures::Indexed(index, v))
                        .ok_or_else(|| {
                            fail(
                                code::HOST_FEATURE_NOT_EXIST,
                                format!("no features for id `{id}`"),
                            )
                        })
                })
                .collect(),
            (None, Some(redis), _) => redis_features(redis, &req.rows).await,
            (None, None, Some(url)) => {
                let mut out = Vec::with_capacity(req.rows.len());
                for r in &req.rows {
                    out.push(
                        self.adapter_features(url, &r.keys)
                            .await
                            .map(RowFeatures::Map),
                    );
                }
                out
            }
            (None, None, None) => {
                return whole(
                    code::FEATURE_ERROR,
                    "the host has no feature source for this model".into(),
                )
            }
        };
        let context = req.context.as_ref();
        let rows = req
            .rows
            .iter()
            .zip(features)
            .map(|(r, f)| {
                let scored = f.and_then(|f| {
                    let values = match f {
                        RowFeatures::Indexed(index, values) => {
                            model.part.values(|n| index.value(values, n))
                        }
                        RowFeatures::Map(m) => model.part.values_of_map(&m),
                    }
                    .map_err(|e| fail(code::FEATURE_ERROR, e.to_string()))?;
                    let from_guest = r
                        .payload
                        .as_ref()
                        .map(|p| B64.decode(p))
                        .transpose()
                        .map_err(|e| fail(code::PARAM_ERROR, format!("payload: {e}")))?;
                    let part = model
                        .part
                        .host_answer(&values, from_guest.as_deref(), context)
                        .map_err(|e| fail(code::PARAM_ERROR, e))?;
                    Ok((part, values.filled))
                });
                match scored {
                    Ok((p, filled)) => HostRowResult {
                        index: r.index,
                        retcode: code::OK,
                        retmsg: String::new(),
                        score: p.score,
                        filled,
                        payload: p.payload.map(|b| B64.encode(b)),
                    },
                    Err(f) => HostRowResult {
                        index: r.index,
                        retcode: f.retcode,
                        retmsg: f.retmsg,
                        score: 0.0,
                        filled: 0,
                        payload: None,
                    },
                }
            })
            .collect();
        HostScoreReply {
            retcode: code::OK,
            retmsg: String::new(),
            rows,
        }
    }

    /// A row's features from the HTTP adapter: its `sendToRemoteFeatureData` posted as
    /// JSON, the answer FATE-Serving's `{"code": 200, "data": {feature: value}}`.
    async fn adapter_features(
        &self,
        url: &str,
        keys: &serde_json::Map<String, Value>,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        let unreachable =
            |e: String| fail(code::FEATURE_ERROR, format!("feature adapter {url}: {e}"));
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .body(Value::Object(keys.clone()).to_string())
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let text = resp.text().await.map_err(|e| unreachable(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            fail(
                code::FEATURE_ERROR,
                format!("feature adapter {url} answered no JSON: {e}"),
            )
        })?;
        if v["code"].as_i64() != Some(200) {
            return Err(fail(
                code::FEATURE_ERROR,
                format!("feature adapter {url} answered code {}", v["code"]),
            ));
        }
        match v["data"].as_object().filter(|d| !d.is_empty()) {
            Some(data) => Ok(data.clone()),
            None => Err(fail(
                code::HOST_FEATURE_NOT_EXIST,
                format!(
                    "feature adapter {url} has no features for {}",
                    Value::Object(keys.clone())
                ),
            )),
        }
    }
}

/// One row's features as a source gives them.
enum RowFeatures<'a> {
    /// A row of the training table's index.
    Indexed(&'a LocalIndex, &'a [f64]),
    /// Feature name to value (HTTP adapter, Redis).
    Map(serde_json::Map<String, Value>),
}

/// The model's parties of `role`.
fn parties_in(info: &ModelInfoRecord, role: Role) -> Vec<u64> {
    fateflow_scheduler::model::model_parties(info)
        .into_iter()
        .filter(|p| p.role == role)
        .map(|p| p.party_id)
        .collect()
}

/// The id a row's keys name, or FATE-Serving's 100.
fn row_id(r: &fateflow_api_types::serving::HostRow) -> Result<String, Failure> {
    lookup_key(&r.keys).ok_or_else(|| fail(code::PARAM_ERROR, "sendToRemoteFeatureData has no id"))
}

/// Each row's features from Redis (`HGETALL <prefix><id>`, one pipelined round trip
/// for the request).
async fn redis_features(
    r: &redis::RedisFeatures,
    rows: &[fateflow_api_types::serving::HostRow],
) -> Vec<Result<RowFeatures<'static>, Failure>> {
    let ids: Vec<Result<String, Failure>> = rows.iter().map(row_id).collect();
    let wanted: Vec<String> = ids
        .iter()
        .filter_map(|id| id.as_ref().ok().cloned())
        .collect();
    let fetched = r.features(&wanted).await;
    let mut found = fetched.as_ref().map(|all| all.iter()).ok();
    ids.into_iter()
        .map(|id| {
            let id = id?;
            let pairs = match (&fetched, found.as_mut().and_then(Iterator::next)) {
                (Err(e), _) => return Err(fail(code::FEATURE_ERROR, e.clone())),
                (Ok(_), Some(p)) => p,
                (Ok(_), None) => {
                    return Err(fail(
                        code::FEATURE_ERROR,
                        "redis answered fewer rows than asked",
                    ))
                }
            };
            if pairs.is_empty() {
                return Err(fail(
                    code::HOST_FEATURE_NOT_EXIST,
                    format!("{} has no features for id `{id}`", r.describe()),
                ));
            }
            Ok(RowFeatures::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ))
        })
        .collect()
}

/// A service id FATE-Serving accepts: 1 to 128 characters, none of `? : / &`.
pub(crate) fn check_service_id(service_id: &str) -> Result<(), Failure> {
    if service_id.is_empty() || service_id.contains(['?', ':', '/', '&']) || service_id.len() > 128
    {
        return Err(fail(
            code::REQUEST_PARAM_ERROR,
            format!("service_id `{service_id}`: 1 to 128 characters without ? : / &"),
        ));
    }
    Ok(())
}

/// The id a host looks its features up by: `id`, else the only value given.
fn lookup_key(keys: &serde_json::Map<String, Value>) -> Option<String> {
    let v = keys
        .get("id")
        .or_else(|| (keys.len() == 1).then(|| keys.values().next()).flatten())?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait::async_trait]
impl fateflow_scheduler::model::OnlineLoader for Serving {
    fn unload(&self, party: Party, model_id: &str, model_version: &str) -> bool {
        self.drop_part(party.party_id, model_id, model_version)
    }

    async fn load(
        &self,
        party: Party,
        info: &ModelInfoRecord,
        components: &[PipelineComponentRecord],
    ) -> Result<String, String> {
        // Pipeline order: the inference DSL's.
        let order: Vec<&str> = info
            .inference_dsl
            .get("components")
            .and_then(Value::as_object)
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut sorted: Vec<&PipelineComponentRecord> = components.iter().collect();
        sorted.sort_by_key(|c| {
            order
                .iter()
                .position(|o| *o == c.component_name)
                .unwrap_or(usize::MAX)
        });
        let job = Job::parse(
            &info.train_dsl,
            &info.train_runtime_conf,
            Catalog::NAMES_ONLY,
        )
        .map_err(|e| format!("the training job's DSL and conf: {e}"))?;
        let index = job.conf.index_of(party).unwrap_or(0);
        let params: Vec<serde_json::Map<String, Value>> = sorted
            .iter()
            .map(|c| {
                fateflow_domain::component_parameters_for(
                    &job.conf,
                    &c.component_name,
                    party.role,
                    index,
                )
            })
            .collect();
        let hosts = parties_in(info, Role::Host);
        let of = PartyOf {
            hosts: hosts.clone(),
            host: (party.role == Role::Host).then_some(party.party_id),
        };
        let owned: Vec<(PipelineComponentRecord, serde_json::Map<String, Value>)> =
            sorted.into_iter().cloned().zip(params).collect();
        // Off the async threads: an EINI model makes its key here.
        let built = tokio::task::spawn_blocking(move || {
            let inputs: Vec<ComponentIn<'_>> = owned
                .iter()
                .map(|(c, params)| ComponentIn {
                    name: &c.component_name,
                    module: &c.module,
                    model: &c.model,
                    params,
                })
                .collect();
            PartModel::build(&inputs, &of)
        })
        .await
        .map_err(|e| e.to_string())?;
        let part = match built {
            Ok(p) => p,
            // Nothing to score with (a pipeline of data steps): loaded, not served.
            Err(fateflow_serving::BuildError::NoScorer) => {
                return Ok("not served online: the model has no model to score with".into())
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut note = format!(
            "served online ({}, {}, with {} features)",
            part.scorer,
            part.kind(),
            part.features().count()
        );
        let features = if party.role == Role::Host && self.redis.is_some() {
            note.push_str(&format!(
                "; features from {}",
                self.redis
                    .as_ref()
                    .map(|r| r.describe())
                    .unwrap_or_default()
            ));
            None
        } else if party.role == Role::Host && self.feature_url.is_some() {
            note.push_str(&format!(
                "; features from the HTTP adapter {}",
                self.feature_url.as_deref().unwrap_or_default()
            ));
            None
        } else if party.role == Role::Host {
            let table = fateflow_scheduler::permission::Requirements::of(&job, party)
                .datasets
                .into_iter()
                .next()
                .ok_or(
                    "the training job read no table at this party; nothing to serve features from",
                )?;
            let tables = self.tables.clone();
            let needed: Vec<String> = part.features().map(String::from).collect();
            let t = table.clone();
            let index = tokio::task::spawn_blocking(move || {
                LocalIndex::build(&tables, &t.0, &t.1, &needed)
            })
            .await
            .map_err(|e| e.to_string())??;
            note.push_str(&format!(
                "; features of {} rows from {}.{}",
                index.len(),
                table.0,
                table.1
            ));
            Some(Arc::new(index))
        } else {
            None
        };
        let loaded = Loaded {
            part,
            role: party.role,
            model_id: info.model_id.clone(),
            model_version: info.model_version.clone(),
            hosts,
            guests: parties_in(info, Role::Guest),
            features,
            loaded_at: crate::api::now_ms(),
        };
        write(&self.loaded).insert(
            (
                party.party_id,
                info.model_id.clone(),
                info.model_version.clone(),
            ),
            Arc::new(loaded),
        );
        self.save_state();
        tracing::info!(party = %party, model_id = %info.model_id, model_version = %info.model_version, %note, "model loaded for online inference");
        Ok(note)
    }
}

impl Serving {
    fn drop_part(&self, party: u64, model_id: &str, model_version: &str) -> bool {
        let removed = write(&self.loaded)
            .remove(&(party, model_id.to_string(), model_version.to_string()))
            .is_some();
        if removed {
            self.save_state();
            tracing::info!(
                party,
                model_id,
                model_version,
                "model unloaded from online inference"
            );
        }
        removed
    }
}

#[tonic::async_trait]
impl fateflow_gateway::server::HostInference for Serving {
    async fn host_scores(&self, guest: u64, req: HostScoreRequest) -> HostScoreReply {
        self.score_at_host(guest, req).await
    }
}

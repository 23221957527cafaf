//! The runtime conf: parties, roles, job parameters and component parameters
//! (reference §4.2, §4.3). DSL v1 confs are normalised into the v2 shape.

use crate::dsl::DslVersion;
use crate::error::Report;
use crate::module::{describe_value, Kind};
use crate::{Party, PartyId, Role};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `train` or `predict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobType {
    /// Fit the DSL's components.
    Train,
    /// Apply a deployed model.
    Predict,
}

/// How party statuses reach the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CollectType {
    /// Parties report to the initiator (FATE's default).
    #[serde(rename = "PUSH")]
    Push,
    /// The initiator polls.
    #[serde(rename = "PULL")]
    Pull,
}

/// The most automatic retries a job may ask for per task.
pub const MAX_AUTO_RETRIES: u32 = 10;
/// The longest delay before an automatic retry, in seconds.
pub const MAX_AUTO_RETRY_DELAY: u64 = 86_400;

/// Typed job parameters with FATE's defaults (reference §4.3, §6.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobParameters {
    /// `train` (default) or `predict`.
    pub job_type: JobType,
    /// Cores per task (default 4).
    pub task_cores: u32,
    /// Memory per task in MB (default 0).
    pub task_memory: u64,
    /// Concurrent tasks of the job per party (default 1).
    pub task_parallelism: u32,
    /// Partitions for computing tables; `None` means `task_cores`.
    pub computing_partitions: Option<u32>,
    /// Job timeout in seconds from creation (default 259200 = 3 days).
    pub timeout: u64,
    /// Automatic retries of a failed or timed-out task (default 0).
    pub auto_retries: u32,
    /// Delay between retries in seconds (default 1).
    pub auto_retry_delay: u64,
    /// PUSH (default) or PULL.
    pub federated_status_collect_type: CollectType,
    /// The model to use (predict) or the one to produce (train, generated when absent).
    pub model_id: Option<String>,
    /// The model version, as `model_id`.
    pub model_version: Option<String>,
}

impl Default for JobParameters {
    fn default() -> Self {
        Self {
            job_type: JobType::Train,
            task_cores: 4,
            task_memory: 0,
            task_parallelism: 1,
            computing_partitions: None,
            timeout: 259_200,
            auto_retries: 0,
            auto_retry_delay: 1,
            federated_status_collect_type: CollectType::Push,
            model_id: None,
            model_version: None,
        }
    }
}

/// Job parameters FATE removed; they give a warning only.
const REMOVED_JOB_PARAMS: &[&str] = &["work_mode", "processors_per_node", "backend"];

const JOB_PARAM_KINDS: &[(&str, Kind)] = &[
    ("job_type", Kind::Str),
    ("task_cores", Kind::Int),
    ("task_memory", Kind::Int),
    ("task_parallelism", Kind::Int),
    ("computing_partitions", Kind::Int),
    ("timeout", Kind::Int),
    ("auto_retries", Kind::Int),
    ("auto_retry_delay", Kind::Int),
    ("federated_status_collect_type", Kind::Str),
    ("model_id", Kind::Str),
    ("model_version", Kind::Str),
    ("eggroll_run", Kind::Object),
    ("spark_run", Kind::Object),
    ("rabbitmq_run", Kind::Object),
    ("pulsar_run", Kind::Object),
    ("inheritance_info", Kind::Object),
    ("task_conf", Kind::Object),
];

impl JobParameters {
    /// Reads job parameters from a merged object, reporting type errors under `field`.
    pub(crate) fn from_object(obj: &Map<String, Value>, field: &str, report: &mut Report) -> Self {
        let mut p = JobParameters::default();
        for (key, kind) in JOB_PARAM_KINDS {
            if let Some(v) = obj.get(*key) {
                if !kind.accepts(v) {
                    report.job(
                        format!("{field}.{key}"),
                        format!("expected {}, found {}", kind.describe(), describe_value(v)),
                    );
                }
            }
        }
        for key in REMOVED_JOB_PARAMS {
            if obj.contains_key(*key) {
                report
                    .warnings
                    .push(format!("[WARN]{key} is removed,it does not take effect!"));
            }
        }
        let uint = |key: &str, report: &mut Report| -> Option<u64> {
            let v = obj.get(key)?;
            if v.is_null() {
                return None;
            }
            match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    if v.is_number() {
                        report.job(
                            format!("{field}.{key}"),
                            format!(
                                "expected a non-negative integer, found {}",
                                describe_value(v)
                            ),
                        );
                    }
                    None
                }
            }
        };
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(n) = uint("task_cores", report) {
            if n == 0 {
                report.job(format!("{field}.task_cores"), "expected at least 1 core");
            }
            p.task_cores = small(n);
        }
        if let Some(n) = uint("task_memory", report) {
            p.task_memory = n;
        }
        if let Some(n) = uint("task_parallelism", report) {
            if n == 0 {
                report.job(format!("{field}.task_parallelism"), "expected at least 1");
            }
            p.task_parallelism = small(n);
        }
        if let Some(n) = uint("computing_partitions", report) {
            p.computing_partitions = Some(small(n));
        }
        if let Some(n) = uint("timeout", report) {
            p.timeout = n;
        }
        if let Some(n) = uint("auto_retries", report) {
            if n > u64::from(MAX_AUTO_RETRIES) {
                report.job(
                    format!("{field}.auto_retries"),
                    format!("{n} retries; at most {MAX_AUTO_RETRIES} are allowed"),
                );
            }
            p.auto_retries = small(n).min(MAX_AUTO_RETRIES);
        }
        if let Some(n) = uint("auto_retry_delay", report) {
            if n > MAX_AUTO_RETRY_DELAY {
                report.job(
                    format!("{field}.auto_retry_delay"),
                    format!("{n} s; at most {MAX_AUTO_RETRY_DELAY} s (one day) is allowed"),
                );
            }
            p.auto_retry_delay = n.min(MAX_AUTO_RETRY_DELAY);
        }
        if let Some(Value::String(t)) = obj.get("job_type") {
            match t.as_str() {
                "train" => p.job_type = JobType::Train,
                "predict" => p.job_type = JobType::Predict,
                other => report.job(
                    format!("{field}.job_type"),
                    format!("unknown job type `{other}`; expected \"train\" or \"predict\""),
                ),
            }
        }
        if let Some(Value::String(t)) = obj.get("federated_status_collect_type") {
            match t.to_ascii_uppercase().as_str() {
                "PUSH" => p.federated_status_collect_type = CollectType::Push,
                "PULL" => p.federated_status_collect_type = CollectType::Pull,
                _ => report.job(
                    format!("{field}.federated_status_collect_type"),
                    format!("unknown collect type `{t}`; expected PUSH or PULL"),
                ),
            }
        }
        p.model_id = obj
            .get("model_id")
            .and_then(Value::as_str)
            .map(String::from);
        p.model_version = obj
            .get("model_version")
            .and_then(Value::as_str)
            .map(String::from);
        if p.job_type == JobType::Predict {
            for key in ["model_id", "model_version"] {
                if obj
                    .get(key)
                    .is_none_or(|v| v.as_str().is_none_or(str::is_empty))
                {
                    report.job(format!("{field}.{key}"), "missing; a predict job needs the model_id and model_version of a deployed model");
                }
            }
        }
        p
    }
}

/// Which parties of a role a `role.<role>.<selector>` block applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Selector {
    /// `"all"`.
    All,
    /// `"0"`, or `"0|1"`: party positions within the role.
    Indexes(Vec<usize>),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::All => f.write_str("all"),
            Selector::Indexes(ix) => {
                let parts: Vec<String> = ix.iter().map(|i| i.to_string()).collect();
                f.write_str(&parts.join("|"))
            }
        }
    }
}

impl Selector {
    /// Whether the party at position `index` is selected.
    pub fn selects(&self, index: usize) -> bool {
        match self {
            Selector::All => true,
            Selector::Indexes(ix) => ix.contains(&index),
        }
    }

    fn parse(s: &str) -> Option<Selector> {
        if s == "all" {
            return Some(Selector::All);
        }
        s.split('|')
            .map(|p| p.trim().parse::<usize>().ok())
            .collect::<Option<Vec<_>>>()
            .map(Selector::Indexes)
    }
}

/// One `role.<role>.<selector>` block.
pub type SelectedBlock = (Selector, Map<String, Value>);

/// Parameters given for all parties and per role and party position, v2 shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Layered {
    /// `common`.
    pub common: Map<String, Value>,
    /// `role.<role>.<selector>`, in the order written.
    pub role: BTreeMap<Role, Vec<SelectedBlock>>,
}

impl Layered {
    /// The layers that apply to the party at `index` in `role`, most general first:
    /// common, then `all`, then multi-party selectors, then the exact index.
    pub fn layers_for(&self, role: Role, index: usize) -> Vec<&Map<String, Value>> {
        let mut out = vec![&self.common];
        if let Some(blocks) = self.role.get(&role) {
            let rank = |s: &Selector| match s {
                Selector::All => 0,
                Selector::Indexes(ix) if ix.len() > 1 => 1,
                Selector::Indexes(_) => 2,
            };
            let mut applicable: Vec<_> = blocks.iter().filter(|(s, _)| s.selects(index)).collect();
            applicable.sort_by_key(|(s, _)| rank(s));
            out.extend(applicable.into_iter().map(|(_, m)| m));
        }
        out
    }
}

/// A parsed runtime conf.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeConf {
    /// Which DSL dialect the conf is written for.
    pub dsl_version: DslVersion,
    /// The party that submitted the job.
    pub initiator: Party,
    /// Party ids per role, in the order written (positions matter).
    pub roles: BTreeMap<Role, Vec<PartyId>>,
    /// Job parameters as written, v2 shape.
    pub job_parameters: Layered,
    /// Typed common job parameters, with defaults applied.
    pub common_job_parameters: JobParameters,
    /// Component parameters, v2 shape: each layer maps component name to parameters.
    pub component_parameters: Layered,
    /// DSL v1 only: `role_parameters.<role>.args.data.<key>` per party position.
    pub v1_args: BTreeMap<Role, Map<String, Value>>,
    /// The conf as submitted.
    pub raw: Value,
}

impl RuntimeConf {
    /// Every party in every role, roles in FATE's order, parties in position order.
    pub fn parties(&self) -> Vec<(Party, usize)> {
        let mut out = Vec::new();
        for (role, ids) in &self.roles {
            for (i, id) in ids.iter().enumerate() {
                out.push((
                    Party {
                        role: *role,
                        party_id: *id,
                    },
                    i,
                ));
            }
        }
        out
    }

    /// The position of a party within its role.
    pub fn index_of(&self, party: Party) -> Option<usize> {
        self.roles
            .get(&party.role)?
            .iter()
            .position(|p| *p == party.party_id)
    }

    /// Typed job parameters for one party (common, then its role layers).
    pub fn job_parameters_for(&self, party: Party) -> JobParameters {
        let index = self.index_of(party).unwrap_or(0);
        let merged = merge_layers(&self.job_parameters.layers_for(party.role, index));
        JobParameters::from_object(&merged, "job_parameters", &mut Report::default())
    }
}

/// Deep-merges JSON objects, later ones winning; nested objects merge key by key.
pub fn merge_layers(layers: &[&Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for layer in layers {
        for (k, v) in layer.iter() {
            deep_merge_into(&mut out, k, v);
        }
    }
    out
}

fn deep_merge_into(target: &mut Map<String, Value>, key: &str, value: &Value) {
    match (target.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(incoming)) => {
            for (k, v) in incoming {
                deep_merge_into(existing, k, v);
            }
        }
        _ => {
            target.insert(key.to_string(), value.clone());
        }
    }
}

fn as_party_id(v: &Value) -> Option<PartyId> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Infers the DSL version from a conf: `dsl_version` when given (int or string),
/// otherwise v1 when it has `role_parameters` or `algorithm_parameters`, else v2.
pub(crate) fn dsl_version_of(conf: &Value, report: &mut Report) -> DslVersion {
    match conf.get("dsl_version") {
        None | Some(Value::Null) => {
            if conf.get("role_parameters").is_some() || conf.get("algorithm_parameters").is_some() {
                DslVersion::V1
            } else {
                DslVersion::V2
            }
        }
        Some(v) => match as_party_id(v) {
            Some(1) => DslVersion::V1,
            Some(2) => DslVersion::V2,
            _ => {
                report.job(
                    "dsl_version",
                    format!("expected 1 or 2, found {}", describe_value(v)),
                );
                DslVersion::V2
            }
        },
    }
}

/// Parses a runtime conf, collecting problems in `report`.
pub(crate) fn parse_conf(
    conf: &Value,
    version: DslVersion,
    report: &mut Report,
) -> Option<RuntimeConf> {
    let Some(obj) = conf.as_object() else {
        report.job(
            "runtime_conf",
            format!("expected a JSON object, found {}", describe_value(conf)),
        );
        return None;
    };

    let mut roles: BTreeMap<Role, Vec<PartyId>> = BTreeMap::new();
    match obj.get("role") {
        None | Some(Value::Null) => report.job(
            "role",
            "missing; expected e.g. {\"guest\": [9999], \"host\": [10000]}",
        ),
        Some(Value::Object(r)) => {
            for (name, ids) in r {
                let role: Role = match name.parse() {
                    Ok(role) => role,
                    Err(e) => {
                        report.job(format!("role.{name}"), e.to_string());
                        continue;
                    }
                };
                let Some(list) = ids.as_array() else {
                    report.job(
                        format!("role.{name}"),
                        format!(
                            "expected a list of party ids, found {}",
                            describe_value(ids)
                        ),
                    );
                    continue;
                };
                if list.is_empty() {
                    report.job(format!("role.{name}"), "expected at least one party id");
                }
                let mut parsed = Vec::new();
                for (i, id) in list.iter().enumerate() {
                    match as_party_id(id) {
                        Some(pid) => parsed.push(pid),
                        None => report.job(
                            format!("role.{name}[{i}]"),
                            format!(
                                "expected a party id (a non-negative integer), found {}",
                                describe_value(id)
                            ),
                        ),
                    }
                }
                roles.insert(role, parsed);
            }
            if r.is_empty() {
                report.job("role", "expected at least one role");
            }
        }
        Some(other) => report.job(
            "role",
            format!(
                "expected an object of role → party ids, found {}",
                describe_value(other)
            ),
        ),
    }

    let initiator = match obj.get("initiator") {
        Some(Value::Object(i)) => {
            let role = match i.get("role") {
                Some(Value::String(r)) => match r.parse::<Role>() {
                    Ok(role) => Some(role),
                    Err(e) => {
                        report.job("initiator.role", e.to_string());
                        None
                    }
                },
                Some(other) => {
                    report.job(
                        "initiator.role",
                        format!("expected a role name, found {}", describe_value(other)),
                    );
                    None
                }
                None => {
                    report.job("initiator.role", "missing; expected e.g. \"guest\"");
                    None
                }
            };
            let party_id = match i.get("party_id") {
                Some(v) => match as_party_id(v) {
                    Some(p) => Some(p),
                    None => {
                        report.job(
                            "initiator.party_id",
                            format!("expected a party id, found {}", describe_value(v)),
                        );
                        None
                    }
                },
                None => {
                    report.job("initiator.party_id", "missing; expected e.g. 9999");
                    None
                }
            };
            match (role, party_id) {
                (Some(role), Some(party_id)) => {
                    if !roles.is_empty()
                        && !roles.get(&role).is_some_and(|ids| ids.contains(&party_id))
                    {
                        report.job(
                            "initiator",
                            format!(
                                "initiator party id {party_id} not in roles: {role} is {:?}",
                                roles.get(&role).cloned().unwrap_or_default()
                            ),
                        );
                    }
                    Some(Party { role, party_id })
                }
                _ => None,
            }
        }
        None | Some(Value::Null) => {
            report.job(
                "initiator",
                "missing; expected {\"role\": \"guest\", \"party_id\": 9999}",
            );
            None
        }
        Some(other) => {
            report.job(
                "initiator",
                format!("expected an object, found {}", describe_value(other)),
            );
            None
        }
    };

    let (job_parameters, component_parameters, v1_args) = match version {
        DslVersion::V2 => (
            layered(
                obj.get("job_parameters"),
                "job_parameters",
                &roles,
                false,
                report,
            ),
            layered(
                obj.get("component_parameters"),
                "component_parameters",
                &roles,
                true,
                report,
            ),
            BTreeMap::new(),
        ),
        DslVersion::V1 => {
            let jp = match obj.get("job_parameters") {
                None | Some(Value::Null) => Layered::default(),
                Some(Value::Object(m)) => Layered {
                    common: m.clone(),
                    role: BTreeMap::new(),
                },
                Some(other) => {
                    report.job(
                        "job_parameters",
                        format!("expected an object, found {}", describe_value(other)),
                    );
                    Layered::default()
                }
            };
            let (cp, args) = v1_component_parameters(obj, &roles, report);
            (jp, cp, args)
        }
    };

    let common_job_parameters =
        JobParameters::from_object(&job_parameters.common, "job_parameters.common", report);
    for (role, blocks) in &job_parameters.role {
        for (sel, block) in blocks {
            let mut sub = Report::default();
            JobParameters::from_object(
                block,
                &format!("job_parameters.role.{role}.{sel}"),
                &mut sub,
            );
            // Only type errors count here: a predict job's model id belongs in common.
            for e in sub.errors {
                if !e.message.starts_with("missing") {
                    report.push(e);
                }
            }
        }
    }

    Some(RuntimeConf {
        dsl_version: version,
        initiator: initiator?,
        roles,
        job_parameters,
        common_job_parameters,
        component_parameters,
        v1_args,
        raw: conf.clone(),
    })
}

/// Reads `{common, role: {<role>: {<selector>: {...}}}}`.
fn layered(
    v: Option<&Value>,
    field: &str,
    roles: &BTreeMap<Role, Vec<PartyId>>,
    values_are_components: bool,
    report: &mut Report,
) -> Layered {
    let mut out = Layered::default();
    let obj = match v {
        None | Some(Value::Null) => return out,
        Some(Value::Object(o)) => o,
        Some(other) => {
            report.job(
                field,
                format!(
                    "expected an object with `common` and `role`, found {}",
                    describe_value(other)
                ),
            );
            return out;
        }
    };
    for key in obj.keys() {
        if key != "common" && key != "role" {
            report.job(
                format!("{field}.{key}"),
                "unknown section; expected `common` or `role`",
            );
        }
    }
    match obj.get("common") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            out.common = c.clone();
            if values_are_components {
                check_component_blocks(c, &format!("{field}.common"), report);
            }
        }
        Some(other) => report.job(
            format!("{field}.common"),
            format!("expected an object, found {}", describe_value(other)),
        ),
    }
    match obj.get("role") {
        None | Some(Value::Null) => {}
        Some(Value::Object(r)) => {
            for (role_name, sels) in r {
                let role_field = format!("{field}.role.{role_name}");
                let role = match role_name.parse::<Role>() {
                    Ok(role) => role,
                    Err(e) => {
                        report.job(role_field, e.to_string());
                        continue;
                    }
                };
                let Some(count) = roles.get(&role).map(Vec::len) else {
                    report.job(
                        role_field,
                        format!(
                            "role `{role}` is not among the job's parties (`role` lists {})",
                            role_list(roles)
                        ),
                    );
                    continue;
                };
                let Some(sels) = sels.as_object() else {
                    report.job(role_field, format!("expected an object keyed by party position (\"0\", \"0|1\", \"all\"), found {}", describe_value(sels)));
                    continue;
                };
                for (sel_text, block) in sels {
                    let sel_field = format!("{role_field}.{sel_text}");
                    let Some(sel) = Selector::parse(sel_text) else {
                        report.job(
                            sel_field,
                            "expected a party position such as \"0\", \"0|1\" or \"all\"",
                        );
                        continue;
                    };
                    if let Selector::Indexes(ix) = &sel {
                        for i in ix {
                            if *i >= count {
                                report.job(
                                    sel_field.clone(),
                                    format!("party index {i} out of range: role `{role}` has {count} part{} (valid: 0..{})", if count == 1 { "y" } else { "ies" }, count.saturating_sub(1)),
                                );
                            }
                        }
                    }
                    let Some(block) = block.as_object() else {
                        report.job(
                            sel_field,
                            format!("expected an object, found {}", describe_value(block)),
                        );
                        continue;
                    };
                    if values_are_components {
                        check_component_blocks(block, &sel_field, report);
                    }
                    out.role.entry(role).or_default().push((sel, block.clone()));
                }
            }
        }
        Some(other) => report.job(
            format!("{field}.role"),
            format!("expected an object, found {}", describe_value(other)),
        ),
    }
    out
}

fn role_list(roles: &BTreeMap<Role, Vec<PartyId>>) -> String {
    let names: Vec<&str> = roles.keys().map(|r| r.as_str()).collect();
    if names.is_empty() {
        "no roles".into()
    } else {
        names.join(", ")
    }
}

fn check_component_blocks(block: &Map<String, Value>, field: &str, report: &mut Report) {
    for (cpn, params) in block {
        if !params.is_object() {
            report.cpn(
                cpn,
                field,
                format!(
                    "expected an object of parameters, found {}",
                    describe_value(params)
                ),
            );
        }
    }
}

/// Normalises DSL v1's `algorithm_parameters` and `role_parameters` (values are lists
/// indexed by party position) into the v2 layered shape.
fn v1_component_parameters(
    obj: &Map<String, Value>,
    roles: &BTreeMap<Role, Vec<PartyId>>,
    report: &mut Report,
) -> (Layered, BTreeMap<Role, Map<String, Value>>) {
    let mut out = Layered::default();
    let mut args = BTreeMap::new();
    match obj.get("algorithm_parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => {
            check_component_blocks(a, "algorithm_parameters", report);
            out.common = a.clone();
        }
        Some(other) => report.job(
            "algorithm_parameters",
            format!("expected an object, found {}", describe_value(other)),
        ),
    }
    let rp = match obj.get("role_parameters") {
        None | Some(Value::Null) => return (out, args),
        Some(Value::Object(r)) => r,
        Some(other) => {
            report.job(
                "role_parameters",
                format!("expected an object, found {}", describe_value(other)),
            );
            return (out, args);
        }
    };
    for (role_name, cpns) in rp {
        let field = format!("role_parameters.{role_name}");
        let role = match role_name.parse::<Role>() {
            Ok(r) => r,
            Err(e) => {
                report.job(field, e.to_string());
                continue;
            }
        };
        let Some(count) = roles.get(&role).map(Vec::len) else {
            report.job(
                field,
                format!(
                    "role `{role}` is not among the job's parties (`role` lists {})",
                    role_list(roles)
                ),
            );
            continue;
        };
        let Some(cpns) = cpns.as_object() else {
            report.job(
                field,
                format!("expected an object, found {}", describe_value(cpns)),
            );
            continue;
        };
        let mut per_party: Vec<Map<String, Value>> = vec![Map::new(); count];
        for (cpn, params) in cpns {
            if cpn == "args" {
                if let Some(Value::Object(data)) = params.get("data") {
                    args.insert(role, data.clone());
                    for (key, tables) in data {
                        let n = tables.as_array().map(Vec::len).unwrap_or(0);
                        if n != count {
                            report.job(
                                format!("{field}.args.data.{key}"),
                                format!("expected one table per {role} party ({count}), found {n}"),
                            );
                        }
                    }
                } else {
                    report.job(
                        format!("{field}.args.data"),
                        "missing; expected {\"train_data\": [{\"name\": ..., \"namespace\": ...}]}",
                    );
                }
                continue;
            }
            let Some(params) = params.as_object() else {
                report.cpn(
                    cpn,
                    field.clone(),
                    format!(
                        "expected an object of parameters, found {}",
                        describe_value(params)
                    ),
                );
                continue;
            };
            for (pname, values) in params {
                let pfield = format!("{field}.{cpn}.{pname}");
                let Some(values) = values.as_array() else {
                    report.cpn(
                        cpn,
                        pfield,
                        format!(
                            "expected a list with one value per {role} party, found {}",
                            describe_value(values)
                        ),
                    );
                    continue;
                };
                if values.len() > count {
                    report.cpn(
                        cpn,
                        pfield.clone(),
                        format!(
                            "party index {} out of range: role `{role}` has {count} part{}",
                            values.len() - 1,
                            if count == 1 { "y" } else { "ies" }
                        ),
                    );
                }
                for (i, v) in values.iter().take(count).enumerate() {
                    let slot = per_party[i]
                        .entry(cpn.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = slot {
                        m.insert(pname.clone(), v.clone());
                    }
                }
            }
        }
        let blocks = out.role.entry(role).or_default();
        for (i, m) in per_party.into_iter().enumerate() {
            if !m.is_empty() {
                blocks.push((Selector::Indexes(vec![i]), m));
            }
        }
    }
    (out, args)
}

//! A whole job: DSL plus runtime conf, validated together, and its per-party plan.

use crate::conf::{dsl_version_of, merge_layers, parse_conf, RuntimeConf};
use crate::dag::{self, Cycle, DeployError};
use crate::dsl::{parse_dsl, raw_components_from_str, DataRef, Dsl, DslVersion};
use crate::error::{Errors, Report};
use crate::module::{describe_value, edit_distance, lookup, Catalog, ModuleSchema};
use crate::{Party, Role};
use serde::Serialize;
use serde_json::{Map, Value};

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The DSL.
    pub dsl: Dsl,
    /// The runtime conf.
    pub conf: RuntimeConf,
    /// Things worth telling the user that do not stop the job.
    pub warnings: Vec<String>,
    order: Vec<usize>,
}

/// One party's task for one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyTask {
    /// The party.
    pub party: Party,
    /// Its position within its role.
    pub index: usize,
    /// Component parameters merged as FATE merges them: common, then role `all`, then
    /// multi-party selectors, then the party's own index.
    pub parameters: Map<String, Value>,
    /// `need_run` (default true); a party that does not run ends its task in `pass`.
    pub need_run: bool,
    /// DSL v1 only: the tables named in `role_parameters.<role>.args.data` for this
    /// party, by input key (`train_data`, `eval_data`, ...).
    pub args_tables: Map<String, Value>,
}

/// One component's tasks across the parties that run it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskPlan {
    /// The component name.
    pub component: String,
    /// Its module (canonical name).
    pub module: String,
    /// Components that must succeed first.
    pub upstream: Vec<String>,
    /// One entry per party that runs it.
    pub parties: Vec<PartyTask>,
}

impl Job {
    /// Parses and validates a DSL and a runtime conf given as JSON text, component
    /// parameters against `catalog`. Duplicate component names are detected here (a
    /// parsed `Value` has already lost them).
    pub fn parse_str(dsl: &str, conf: &str, catalog: Catalog) -> Result<Job, Errors> {
        let mut report = Report::default();
        let conf_value: Value = match serde_json::from_str(conf) {
            Ok(v) => v,
            Err(e) => {
                report.job("runtime_conf", format!("not valid JSON: {e}"));
                Value::Null
            }
        };
        let dsl_value: Value = match serde_json::from_str(dsl) {
            Ok(v) => v,
            Err(e) => {
                report.job("dsl", format!("not valid JSON: {e}"));
                return Err(Errors(report.errors));
            }
        };
        let raw = raw_components_from_str(dsl).ok().flatten();
        if conf_value.is_null() {
            return Err(Errors(report.errors));
        }
        Self::build(&dsl_value, raw, &conf_value, catalog, report)
    }

    /// Parses and validates a DSL and a runtime conf, component parameters against
    /// `catalog`.
    pub fn parse(dsl: &Value, conf: &Value, catalog: Catalog) -> Result<Job, Errors> {
        Self::build(dsl, None, conf, catalog, Report::default())
    }

    fn build(
        dsl_value: &Value,
        raw: Option<Vec<(String, Value)>>,
        conf_value: &Value,
        catalog: Catalog,
        mut report: Report,
    ) -> Result<Job, Errors> {
        let version = dsl_version_of(conf_value, &mut report);
        let conf = parse_conf(conf_value, version, &mut report);
        let dsl = parse_dsl(dsl_value, raw, version, &mut report);
        check_references(&dsl, version, &mut report);
        let order = match dag::topological_order(&dsl) {
            Ok(o) => o,
            Err(Cycle(names)) => {
                let first = names.first().cloned().unwrap_or_default();
                let mut path = names.clone();
                path.push(first.clone());
                report.cpn(
                    &first,
                    "input",
                    format!("the components form a cycle: {}", path.join(" → ")),
                );
                Vec::new()
            }
        };
        let Some(conf) = conf else {
            return Err(Errors(report.errors));
        };
        check_component_parameters(&dsl, &conf, catalog, &mut report);
        if conf.common_job_parameters.job_type != crate::JobType::Predict {
            check_no_deployed_models(&dsl, &mut report);
        }
        if !report.errors.is_empty() {
            return Err(Errors(report.errors));
        }
        Ok(Job {
            dsl,
            conf,
            warnings: report.warnings,
            order,
        })
    }

    /// Component names in topological order.
    pub fn topological_order(&self) -> Vec<&str> {
        self.order
            .iter()
            .map(|&i| self.dsl.components[i].name.as_str())
            .collect()
    }

    /// The component and everything downstream of it, for a rerun from there.
    pub fn downstream_of(&self, component: &str) -> Option<Vec<String>> {
        dag::downstream_of(&self.dsl, component)
    }

    /// The predict DSL for the given components, or the default deploy set.
    pub fn predict_dsl(&self, deploy: Option<&[String]>) -> Result<Dsl, DeployError> {
        dag::predict_dsl(&self.dsl, deploy)
    }

    /// Every party of the job.
    pub fn parties(&self) -> Vec<Party> {
        self.conf.parties().into_iter().map(|(p, _)| p).collect()
    }

    /// The per-party task plan, components in topological order.
    pub fn plan(&self) -> Vec<TaskPlan> {
        self.order
            .iter()
            .map(|&i| {
                let c = &self.dsl.components[i];
                let roles = lookup(&c.module).map(|m| m.roles).unwrap_or(&Role::ALL);
                let parties = self
                    .conf
                    .parties()
                    .into_iter()
                    .filter(|(p, _)| roles.contains(&p.role))
                    .map(|(party, index)| {
                        let parameters =
                            component_parameters_for(&self.conf, &c.name, party.role, index);
                        let need_run = parameters
                            .get("need_run")
                            .and_then(Value::as_bool)
                            .unwrap_or(true);
                        PartyTask {
                            party,
                            index,
                            need_run,
                            args_tables: args_tables_for(&self.conf, c, party.role, index),
                            parameters,
                        }
                    })
                    .collect();
                TaskPlan {
                    component: c.name.clone(),
                    module: c.module.clone(),
                    upstream: c.input.upstream().into_iter().map(String::from).collect(),
                    parties,
                }
            })
            .collect()
    }
}

/// A `pipeline.<component>.<model>` input reads a deployed model, which only a predict
/// job has (FATE-Flow runs such a conf as a training job and fails when the task starts).
fn check_no_deployed_models(dsl: &Dsl, report: &mut Report) {
    for c in &dsl.components {
        for (kind, refs) in [
            ("model", &c.input.model),
            ("isometric_model", &c.input.isometric_model),
        ] {
            for (i, r) in refs.iter().enumerate() {
                if let DataRef::Pipeline(_) = r {
                    report.cpn(
                        &c.name,
                        format!("input.{kind}[{i}]"),
                        format!(
                            "`{r}` reads a deployed model, which only a predict job does: set \
                             job_parameters.common.job_type to \"predict\" with the deployed \
                             model_id and model_version"
                        ),
                    );
                }
            }
        }
    }
}

/// The merged parameters of one component at one party.
pub fn component_parameters_for(
    conf: &RuntimeConf,
    component: &str,
    role: Role,
    index: usize,
) -> Map<String, Value> {
    let layers: Vec<&Map<String, Value>> = conf
        .component_parameters
        .layers_for(role, index)
        .into_iter()
        .filter_map(|layer| layer.get(component).and_then(Value::as_object))
        .collect();
    merge_layers(&layers)
}

fn args_tables_for(
    conf: &RuntimeConf,
    c: &crate::dsl::ComponentSpec,
    role: Role,
    index: usize,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(data) = conf.v1_args.get(&role) else {
        return out;
    };
    for (_, refs) in &c.input.data {
        for r in refs {
            if let DataRef::Args(key) = r {
                if let Some(t) = data.get(key).and_then(|l| l.get(index)) {
                    out.insert(key.clone(), t.clone());
                }
            }
        }
    }
    out
}

fn check_references(dsl: &Dsl, version: DslVersion, report: &mut Report) {
    for c in &dsl.components {
        let info = lookup(&c.module);
        if info.is_some_and(|m| m.is_reader) {
            if !c.input.data.is_empty() || !c.input.model.is_empty() {
                report.cpn(
                    &c.name,
                    "input",
                    "a Reader has no inputs; it reads the table named in its parameters",
                );
            }
            if c.output.data.is_empty() {
                report.cpn(
                    &c.name,
                    "output.data",
                    "a Reader needs a data output, e.g. [\"data\"]",
                );
            }
        }
        if version == DslVersion::V2
            && info.is_some_and(|m| m.name == "Reader")
            && c.output.data.len() > 1
        {
            report.cpn(
                &c.name,
                "output.data",
                "a Reader has exactly one data output",
            );
        }
        for (key, refs) in &c.input.data {
            for (i, r) in refs.iter().enumerate() {
                let field = format!("input.data.{key}[{i}]");
                let DataRef::Output(o) = r else { continue };
                match dsl.component(&o.component) {
                    None => report.cpn(
                        &c.name,
                        field,
                        format!(
                            "`{r}` refers to component `{}`, which is not in the DSL",
                            o.component
                        ),
                    ),
                    Some(up) if up.name == c.name => report.cpn(
                        &c.name,
                        field,
                        format!("`{r}`: a component cannot read its own output"),
                    ),
                    Some(up) => {
                        if !up.output.data.contains(&o.name) {
                            let hint = if up.output.model.contains(&o.name) {
                                format!("; `{}` is a model output, use input.model or input.isometric_model", o.name)
                            } else {
                                format!("; its data outputs are {:?}", up.output.data)
                            };
                            report.cpn(
                                &c.name,
                                field,
                                format!(
                                    "`{r}`: component `{}` has no data output `{}`{hint}",
                                    up.name, o.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (kind, refs) in [
            ("model", &c.input.model),
            ("isometric_model", &c.input.isometric_model),
        ] {
            for (i, r) in refs.iter().enumerate() {
                let field = format!("input.{kind}[{i}]");
                let DataRef::Output(o) = r else {
                    if matches!(r, DataRef::Args(_)) {
                        report.cpn(
                            &c.name,
                            field,
                            format!("`{r}`: a model input must name a component's model output"),
                        );
                    }
                    continue;
                };
                let Some(up) = dsl.component(&o.component) else {
                    report.cpn(
                        &c.name,
                        field,
                        format!(
                            "`{r}` refers to component `{}`, which is not in the DSL",
                            o.component
                        ),
                    );
                    continue;
                };
                if !up.output.model.contains(&o.name) {
                    let what = if up.output.data.contains(&o.name) {
                        "is a data output, not a model"
                    } else {
                        "is not an output"
                    };
                    report.cpn(
                        &c.name,
                        field.clone(),
                        format!(
                            "`{r}` {what} of `{}`; expected a model output, one of {:?}",
                            up.name, up.output.model
                        ),
                    );
                    continue;
                }
                if kind == "model" && up.module != c.module {
                    report.cpn(&c.name, field.clone(), format!("`{r}` is a {} model, but input.model takes a model of the same module ({}); use input.isometric_model for another module's model", up.module, c.module));
                }
                if kind == "isometric_model" && up.module == c.module {
                    report.cpn(
                        &c.name,
                        field,
                        format!(
                            "`{r}` is a model of the same module ({}); use input.model for it",
                            c.module
                        ),
                    );
                }
            }
        }
    }
}

fn check_component_parameters(
    dsl: &Dsl,
    conf: &RuntimeConf,
    catalog: Catalog,
    report: &mut Report,
) {
    let mut blocks: Vec<(String, &Map<String, Value>)> = vec![(
        "component_parameters.common".into(),
        &conf.component_parameters.common,
    )];
    for (role, sels) in &conf.component_parameters.role {
        for (sel, block) in sels {
            blocks.push((format!("component_parameters.role.{role}.{sel}"), block));
        }
    }
    for c in &dsl.components {
        if lookup(&c.module).is_some() && !catalog.implements(&c.module) {
            report.cpn(
                &c.name,
                "module",
                format!(
                    "module {} is not supported yet by this build of fateflow",
                    c.module
                ),
            );
        }
    }
    for (field, block) in &blocks {
        for (cpn, params) in block.iter() {
            let Some(c) = dsl.component(cpn) else {
                // FATE 1.11 ignores them, and its own examples give some.
                let w = format!(
                    "component_parameters: parameters given for `{cpn}`, which is not in the DSL; they are ignored"
                );
                if !report.warnings.contains(&w) {
                    report.warnings.push(w);
                }
                continue;
            };
            let Some(params) = params.as_object() else {
                continue;
            };
            let schema = catalog.schema(&c.module);
            let checked = match (schema, lookup(&c.module)) {
                (Some(schema), _) => schema.params().collect::<Vec<_>>(),
                (None, Some(info)) => info.known_params.iter().collect(),
                (None, None) => continue,
            };
            for param in checked {
                if !param.implemented {
                    continue;
                }
                if let Some(v) = get_path(params, param.path) {
                    if !param.kind.accepts(v) {
                        report.cpn(
                            cpn,
                            param.path,
                            format!(
                                "expected {}, found {} (in {field})",
                                param.kind.describe(),
                                describe_value(v)
                            ),
                        );
                    }
                }
            }
            if let Some(schema) = schema {
                check_keys(schema, cpn, field, params, "", report);
            }
        }
    }

    for c in &dsl.components {
        let Some(info) = lookup(&c.module) else {
            continue;
        };
        let schema = catalog.schema(info.name);
        for (party, index) in conf.parties() {
            if !info.roles.contains(&party.role) {
                continue;
            }
            let params = component_parameters_for(conf, &c.name, party.role, index);
            let need_run = params
                .get("need_run")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let where_ = format!("{}[{index}]", party.role);
            if need_run && conf.dsl_version == DslVersion::V2 {
                for req in info.required {
                    let missing = params
                        .get(*req)
                        .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
                    if missing {
                        report.cpn(
                            &c.name,
                            *req,
                            format!(
                                "missing for {where_} (party {}); {}",
                                party.party_id,
                                required_hint(info.name, req)
                            ),
                        );
                    }
                }
            }
            if let (Some(schema), true) = (schema, need_run) {
                check_unimplemented(schema, &c.name, &params, report);
            }
            if schema.is_none() && !info.known_params.is_empty() {
                for key in params.keys() {
                    if !info.known_params.iter().any(|p| p.path == key) {
                        let w = format!(
                            "component `{}`: `{key}` is not a known {} parameter; it is ignored",
                            c.name, info.name
                        );
                        if !report.warnings.contains(&w) {
                            report.warnings.push(w);
                        }
                    }
                }
            }
        }
    }
}

/// The parameter policy for a module whose table is FATE's complete list: a key FATE's
/// module does not have is refused with a did-you-mean; a key we do not implement is
/// refused unless it has FATE's default; nested parameter objects are checked key by key.
fn check_keys(
    info: &ModuleSchema,
    cpn: &str,
    field: &str,
    params: &Map<String, Value>,
    prefix: &str,
    report: &mut Report,
) {
    for (key, v) in params {
        let path = format!("{prefix}{key}");
        let Some(param) = info.params().find(|p| p.path == path) else {
            let hint = match suggest_param(info, &path) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => String::new(),
            };
            report.cpn(
                cpn,
                path.clone(),
                format!(
                    "FATE's {} has no parameter `{path}` (in {field}){hint}",
                    info.name
                ),
            );
            continue;
        };
        if param.is_object() {
            match v {
                Value::Object(inner) => {
                    check_keys(info, cpn, field, inner, &format!("{path}."), report)
                }
                Value::Null => {}
                _ if param.implemented => {} // reported by the type check
                _ => report.cpn(
                    cpn,
                    path.clone(),
                    format!(
                        "expected an object, found {} (in {field})",
                        describe_value(v)
                    ),
                ),
            }
            continue;
        }
    }
}

/// A key we do not implement is refused unless it has FATE's default, or FATE itself
/// does not use it with these parameters (`optimal_binning_param` when `method` is not
/// `optimal`). Checked on one party's merged parameters.
fn check_unimplemented(
    info: &ModuleSchema,
    cpn: &str,
    params: &Map<String, Value>,
    report: &mut Report,
) {
    for (path, values) in info.supported {
        let Some(v) = get_path(params, path).and_then(Value::as_str) else {
            continue;
        };
        if !values.iter().any(|x| x.eq_ignore_ascii_case(v)) {
            report.cpn(
                cpn,
                *path,
                format!(
                    "{} parameter `{path}` = {v:?} is not supported yet (supported: {})",
                    info.name,
                    values.join(", ")
                ),
            );
        }
    }
    for param in info.params() {
        if param.implemented || param.is_object() {
            continue;
        }
        let Some(v) = get_path(params, param.path) else {
            continue;
        };
        if param.is_default(v) || !info.applies(param.path, |key| get_path(params, key)) {
            continue;
        }
        report.cpn(
            cpn,
            param.path,
            format!(
                "{} parameter `{}` = {} is not supported yet; only FATE's default {} is accepted",
                info.name,
                param.path,
                short_value(v),
                param.default
            ),
        );
    }
}

/// The parameter of `info` closest to an unknown `path`: by edit distance on the whole
/// path, or a nested key of the same name (`key_length` → `encrypt_param.key_length`).
fn suggest_param(info: &ModuleSchema, path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let leaf = lower.rsplit('.').next().unwrap_or(&lower);
    let by_distance = info
        .params()
        .map(|p| (edit_distance(&lower, &p.path.to_ascii_lowercase()), p.path))
        .filter(|(d, cand)| *d <= cand.len() / 3 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, cand)| cand);
    by_distance.or_else(|| {
        info.params()
            .find(|p| p.path.to_ascii_lowercase().rsplit('.').next() == Some(leaf))
            .map(|p| p.path)
    })
}

fn short_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn required_hint(module: &str, param: &str) -> &'static str {
    match (module, param) {
        ("Reader", "table") => "expected {\"table\": {\"name\": ..., \"namespace\": ...}}",
        ("CacheLoader", _) => {
            "job_id, component_name and cache_name name the earlier job's cache to load \
             (FATE's example confs leave job_id empty for you to fill in)"
        }
        _ => "this parameter is required",
    }
}

fn get_path<'a>(params: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = params.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

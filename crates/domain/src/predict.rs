//! Predict jobs from deployed models (reference §2.6, §4.4, §10), pure.
//!
//! - [`job_type_of`]: whether a raw runtime conf asks for a predict job.
//! - [`parse_predict_dsl`]: a user's inference DSL (deploy with `dsl`), checked against
//!   the training DSL it claims to come from.
//! - [`merge_predict_conf`]: the conf a predict job runs with: the model's training conf
//!   with the predict conf deep-merged over it (FATE's `merge_dict(train, predict)`),
//!   keeping only the parameters of components in the inference DSL.
//! - [`with_model_version`]: a conf whose `job_parameters.common` names a model.
//! - [`predict_conf_template`]: FATE's `get/predict/conf` template.

use crate::dsl::{parse_dsl, DataRef, Dsl, DslVersion};
use crate::error::{Errors, Report};
use crate::JobType;
use serde_json::{json, Map, Value};

/// `train` or `predict`, read from `job_parameters.common.job_type` (v2) or
/// `job_parameters.job_type` (v1); anything else is `train`, as in FATE.
pub fn job_type_of(conf: &Value) -> JobType {
    let params = conf.get("job_parameters");
    let t = params
        .and_then(|p| p.get("common"))
        .and_then(|c| c.get("job_type"))
        .or_else(|| params.and_then(|p| p.get("job_type")));
    match t.and_then(Value::as_str) {
        Some("predict") => JobType::Predict,
        _ => JobType::Train,
    }
}

/// The model a predict conf names: `job_parameters.common.model_id` and
/// `model_version` (or the v1 places), each `None` when absent or empty.
pub fn model_of(conf: &Value) -> (Option<String>, Option<String>) {
    let params = conf.get("job_parameters");
    let get = |key: &str| {
        params
            .and_then(|p| p.get("common"))
            .and_then(|c| c.get(key))
            .or_else(|| params.and_then(|p| p.get(key)))
            .and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    };
    (get("model_id"), get("model_version"))
}

/// Parses an inference DSL (v2) given by a user and checks it against the training
/// DSL: every component must be a training component of the same module, every
/// `pipeline.<component>.<model>` must name a model output of that component, and
/// data inputs must come from components of the inference DSL itself.
pub fn parse_predict_dsl(value: &Value, train: &Dsl) -> Result<Dsl, Errors> {
    let mut report = Report::default();
    let dsl = parse_dsl(value, None, DslVersion::V2, &mut report);
    if dsl.components.is_empty() && report.errors.is_empty() {
        report.job("dsl.components", "the inference DSL has no component");
    }
    for c in &dsl.components {
        let Some(t) = train.component(&c.name) else {
            // FATE's pipeline SDK adds a Reader for the new data and often an Evaluation.
            if !runs_without_model(&c.module) {
                report.cpn(
                    &c.name,
                    "module",
                    format!(
                        "`{}` is not a component of the training DSL and needs a trained model; \
                         an inference DSL may add only components that run without one ({})",
                        c.module,
                        ADDABLE_MODULES.join(", ")
                    ),
                );
            } else if !c.input.model.is_empty() {
                report.cpn(
                    &c.name,
                    "input.model",
                    "a component added by the inference DSL has no trained model to read",
                );
            }
            check_data_inputs(c, &dsl, &mut report);
            continue;
        };
        if canonical(&t.module) != canonical(&c.module) {
            report.cpn(
                &c.name,
                "module",
                format!("`{}` here but `{}` in the training DSL", c.module, t.module),
            );
        }
        for (i, r) in c.input.model.iter().enumerate() {
            let field = format!("input.model[{i}]");
            match r {
                DataRef::Pipeline(o) => match train.component(&o.component) {
                    Some(up) if up.output.model.contains(&o.name) => {}
                    Some(up) => report.cpn(
                        &c.name,
                        field,
                        format!(
                            "`{r}`: training component `{}` has no model output `{}` (its models: {:?})",
                            up.name, o.name, up.output.model
                        ),
                    ),
                    None => report.cpn(
                        &c.name,
                        field,
                        format!("`{r}` names `{}`, which is not in the training DSL", o.component),
                    ),
                },
                other => report.cpn(
                    &c.name,
                    field,
                    format!("`{other}`: a model input of an inference DSL reads `pipeline.<component>.<model>`"),
                ),
            }
        }
        check_data_inputs(c, &dsl, &mut report);
    }
    if report.errors.is_empty() {
        Ok(dsl)
    } else {
        Err(Errors(report.errors))
    }
}

/// Modules an inference DSL may add beside the trained components: they run in a
/// predict job without a model of their own.
const ADDABLE_MODULES: &[&str] = &["Reader", "Evaluation", "Intersection", "Union"];

fn runs_without_model(module: &str) -> bool {
    ADDABLE_MODULES.contains(&canonical(module))
}

/// Data inputs must come from components of the inference DSL itself.
fn check_data_inputs(c: &crate::dsl::ComponentSpec, dsl: &Dsl, report: &mut Report) {
    for (key, refs) in &c.input.data {
        for (i, r) in refs.iter().enumerate() {
            let ok = match r {
                DataRef::Output(o) => dsl
                    .component(&o.component)
                    .is_some_and(|up| up.output.data.contains(&o.name)),
                _ => false,
            };
            if !ok {
                report.cpn(
                    &c.name,
                    format!("input.data.{key}[{i}]"),
                    format!("`{r}` is not a data output of a component of the inference DSL"),
                );
            }
        }
    }
}

fn canonical(module: &str) -> &str {
    crate::module::lookup(module).map_or(module, |m| m.name)
}

/// Objects merge key by key (the incoming side wins inside); anything else is
/// replaced by the incoming value.
fn deep_merge(base: &mut Value, incoming: &Value) {
    match (base, incoming) {
        (Value::Object(b), Value::Object(i)) => {
            for (k, v) in i {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, i) => *b = i.clone(),
    }
}

/// Keeps only the entries of `block` (a `{component: params}` map) naming a
/// component of `dsl`.
fn retain_components(block: &mut Value, dsl: &Dsl) {
    if let Value::Object(m) = block {
        m.retain(|name, _| dsl.component(name).is_some());
    }
}

/// The runtime conf of a predict job: the model's training conf, then the predict conf
/// deep-merged over it (FATE's `merge_dict(pipeline_runtime_conf, runtime_conf)`), with
/// the component parameters of components that are not in the inference DSL removed
/// (they would be refused as parameters of unknown components). The predict conf's
/// `job_type`, `model_id` and `model_version` win; `dsl_version` is 2.
pub fn merge_predict_conf(train: &Value, predict: &Value, inference: &Dsl) -> Value {
    let mut conf = train.clone();
    if !conf.is_object() {
        conf = json!({});
    }
    deep_merge(&mut conf, predict);
    if let Some(cp) = conf.get_mut("component_parameters") {
        if let Some(common) = cp.get_mut("common") {
            retain_components(common, inference);
        }
        if let Some(Value::Object(roles)) = cp.get_mut("role") {
            for (_, sels) in roles.iter_mut() {
                if let Value::Object(sels) = sels {
                    for (_, block) in sels.iter_mut() {
                        retain_components(block, inference);
                    }
                }
            }
        }
    }
    if let Value::Object(m) = &mut conf {
        m.insert("dsl_version".into(), json!(2));
    }
    conf
}

/// `conf` with `job_parameters.common.model_id` and `model_version` set (FATE's
/// `update_model_id_version`).
pub fn with_model_version(conf: &Value, model_id: &str, model_version: &str) -> Value {
    let mut conf = conf.clone();
    if !conf.is_object() {
        conf = json!({});
    }
    let Value::Object(top) = &mut conf else {
        return conf;
    };
    let params = top.entry("job_parameters").or_insert_with(|| json!({}));
    if !params.is_object() {
        *params = json!({});
    }
    let Value::Object(params) = params else {
        return conf;
    };
    let common = params.entry("common").or_insert_with(|| json!({}));
    if !common.is_object() {
        *common = json!({});
    }
    if let Value::Object(common) = common {
        common.insert("model_id".into(), json!(model_id));
        common.insert("model_version".into(), json!(model_version));
    }
    conf
}

/// Why [`predict_conf_template`] cannot make a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The model's training conf lacks a field the template copies.
    #[error("the model's training conf has no `{0}`; the template copies it")]
    MissingField(&'static str),
}

/// The message, for handlers that answer with a plain string.
impl From<TemplateError> for String {
    fn from(e: TemplateError) -> String {
        e.to_string()
    }
}

/// FATE's predict conf template for a model: the training conf's initiator, roles and
/// job parameters with `job_type: predict` and the model named, and a reader table to
/// fill in for every guest and host party.
pub fn predict_conf_template(
    inference: &Dsl,
    train_conf: &Value,
    model_id: &str,
    model_version: &str,
) -> Result<Value, TemplateError> {
    let initiator = train_conf
        .get("initiator")
        .ok_or(TemplateError::MissingField("initiator"))?;
    let roles = train_conf
        .get("role")
        .ok_or(TemplateError::MissingField("role"))?;
    let readers: Vec<&str> = inference
        .components
        .iter()
        .filter(|c| crate::module::lookup(&c.module).is_some_and(|m| m.is_reader))
        .map(|c| c.name.as_str())
        .collect();
    let mut fill = Map::new();
    for (i, r) in readers.iter().enumerate() {
        fill.insert(
            (*r).to_string(),
            json!({"table": {"name": format!("name_to_be_filled_{i}"), "namespace": format!("namespace_to_be_filled_{i}")}}),
        );
    }
    let mut role_params = Map::new();
    if let Some(roles) = roles.as_object() {
        for (role, ids) in roles {
            if role != "guest" && role != "host" {
                continue;
            }
            let n = ids.as_array().map(Vec::len).unwrap_or(0);
            let per_index: Map<String, Value> = (0..n)
                .map(|i| (i.to_string(), Value::Object(fill.clone())))
                .collect();
            role_params.insert(role.clone(), Value::Object(per_index));
        }
    }
    let mut job_parameters = train_conf
        .get("job_parameters")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let template = with_model_version(
        &json!({"job_parameters": job_parameters.clone()}),
        model_id,
        model_version,
    );
    job_parameters = template["job_parameters"].clone();
    job_parameters["common"]["job_type"] = json!("predict");
    Ok(json!({
        "dsl_version": 2,
        "initiator": initiator,
        "role": roles,
        "job_parameters": job_parameters,
        "component_parameters": {"role": role_params},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_dsl() -> Dsl {
        let v = json!({"components": {
            "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
            "data_transform_0": {"module": "DataTransform", "input": {"data": {"data": ["reader_0.data"]}},
                "output": {"data": ["data"], "model": ["model"]}},
            "hetero_lr_0": {"module": "HeteroLR", "input": {"data": {"train_data": ["data_transform_0.data"]}},
                "output": {"data": ["data"], "model": ["model"]}},
            "evaluation_0": {"module": "Evaluation", "input": {"data": {"data": ["hetero_lr_0.data"]}},
                "output": {"data": ["data"]}}
        }});
        let mut r = Report::default();
        let d = parse_dsl(&v, None, DslVersion::V2, &mut r);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        d
    }

    #[test]
    fn job_type_and_model_are_read_from_v2_and_v1_places() {
        let v2 = json!({"job_parameters": {"common": {"job_type": "predict", "model_id": "m", "model_version": 123}}});
        assert_eq!(job_type_of(&v2), JobType::Predict);
        assert_eq!(model_of(&v2), (Some("m".into()), Some("123".into())));
        let v1 = json!({"job_parameters": {"job_type": "predict", "model_id": "m"}});
        assert_eq!(job_type_of(&v1), JobType::Predict);
        assert_eq!(model_of(&v1), (Some("m".into()), None));
        assert_eq!(job_type_of(&json!({})), JobType::Train);
    }

    #[test]
    fn merged_conf_keeps_training_parameters_of_deployed_components_only() {
        let inference = crate::dag::predict_dsl(
            &train_dsl(),
            Some(&[
                "reader_0".into(),
                "data_transform_0".into(),
                "hetero_lr_0".into(),
            ]),
        )
        .unwrap();
        let train = json!({
            "dsl_version": 2,
            "initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999], "host": [10000]},
            "job_parameters": {"common": {"task_cores": 2}},
            "component_parameters": {
                "common": {"hetero_lr_0": {"max_iter": 3, "encrypt_param": {"key_length": 1024}}, "evaluation_0": {"eval_type": "binary"}},
                "role": {"guest": {"0": {"reader_0": {"table": {"name": "train", "namespace": "n"}},
                                          "data_transform_0": {"with_label": true}}},
                         "host": {"0": {"evaluation_0": {"need_run": false}}}}
            }
        });
        let predict = json!({
            "job_parameters": {"common": {"job_type": "predict", "model_id": "m", "model_version": "v"}},
            "component_parameters": {"role": {
                "guest": {"0": {"reader_0": {"table": {"name": "new"}}}},
                "host": {"0": {"reader_0": {"table": {"name": "h", "namespace": "n"}}}}
            }}
        });
        let c = merge_predict_conf(&train, &predict, &inference);
        assert_eq!(c["job_parameters"]["common"]["task_cores"], 2);
        assert_eq!(c["job_parameters"]["common"]["job_type"], "predict");
        assert_eq!(
            c["component_parameters"]["common"]["hetero_lr_0"]["max_iter"],
            3
        );
        assert!(c["component_parameters"]["common"]
            .get("evaluation_0")
            .is_none());
        assert!(c["component_parameters"]["role"]["host"]["0"]
            .get("evaluation_0")
            .is_none());
        let table = &c["component_parameters"]["role"]["guest"]["0"]["reader_0"]["table"];
        assert_eq!(table["name"], "new");
        assert_eq!(table["namespace"], "n", "objects merge key by key");
        assert_eq!(
            c["component_parameters"]["role"]["guest"]["0"]["data_transform_0"]["with_label"],
            true
        );
        let job = crate::Job::parse(&inference.to_json(), &c, crate::Catalog::NAMES_ONLY).unwrap();
        assert_eq!(job.conf.common_job_parameters.job_type, JobType::Predict);
    }

    #[test]
    fn user_inference_dsl_is_checked_against_training() {
        let train = train_dsl();
        let good = json!({"components": {
            "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
            "data_transform_0": {"module": "DataIO", "input": {"data": {"data": ["reader_0.data"]}, "model": ["pipeline.data_transform_0.model"]},
                "output": {"data": ["data"]}}
        }});
        assert_eq!(
            parse_predict_dsl(&good, &train).unwrap().components.len(),
            2
        );
        let bad = json!({"components": {
            "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
            "scale_9": {"module": "FeatureScale", "input": {"data": {"data": ["reader_0.data"]}}, "output": {"data": ["data"]}},
            "hetero_lr_0": {"module": "HeteroLinR", "input": {"data": {"test_data": ["missing_0.data"]}, "model": ["pipeline.hetero_lr_0.nope"]},
                "output": {"data": ["data"]}}
        }});
        let e = parse_predict_dsl(&bad, &train).unwrap_err().to_string();
        for needle in ["scale_9", "HeteroLinR", "nope", "missing_0.data"] {
            assert!(e.contains(needle), "{needle} in {e}");
        }
    }

    #[test]
    fn an_inference_dsl_may_add_a_reader_and_an_evaluation_but_no_untrained_model() {
        // What FATE's pipeline SDK deploys for `predict_pipeline.add_component(reader_1)`
        // plus an evaluation of the predictions.
        let train = train_dsl();
        let sdk = json!({"components": {
            "reader_1": {"module": "Reader", "output": {"data": ["data"]}},
            "data_transform_0": {"module": "DataTransform", "input": {"data": {"data": ["reader_1.data"]}, "model": ["pipeline.data_transform_0.model"]},
                "output": {"data": ["data"]}},
            "hetero_lr_0": {"module": "HeteroLR", "input": {"data": {"test_data": ["data_transform_0.data"]}, "model": ["pipeline.hetero_lr_0.model"]},
                "output": {"data": ["data"]}},
            "evaluation_9": {"module": "Evaluation", "input": {"data": {"data": ["hetero_lr_0.data"]}}, "output": {"data": ["data"]}}
        }});
        assert_eq!(parse_predict_dsl(&sdk, &train).unwrap().components.len(), 4);
        let untrained = json!({"components": {
            "reader_1": {"module": "Reader", "output": {"data": ["data"]}},
            "hetero_lr_9": {"module": "HeteroLR", "input": {"data": {"test_data": ["reader_1.data"]}}, "output": {"data": ["data"]}},
            "evaluation_9": {"module": "Evaluation", "input": {"data": {"data": ["nowhere_0.data"]}}, "output": {"data": ["data"]}}
        }});
        let e = parse_predict_dsl(&untrained, &train)
            .unwrap_err()
            .to_string();
        for needle in [
            "hetero_lr_9",
            "needs a trained model",
            "evaluation_9",
            "nowhere_0.data",
        ] {
            assert!(e.contains(needle), "{needle} in {e}");
        }
    }

    #[test]
    fn template_names_the_model_and_a_table_per_reader_and_party() {
        let inference = crate::dag::predict_dsl(&train_dsl(), None).unwrap();
        let train = json!({"initiator": {"role": "guest", "party_id": 9999},
            "role": {"guest": [9999], "host": [10000, 10001], "arbiter": [10000]},
            "job_parameters": {"common": {"task_cores": 2}}});
        let t = predict_conf_template(&inference, &train, "m", "v").unwrap();
        assert_eq!(t["job_parameters"]["common"]["job_type"], "predict");
        assert_eq!(t["job_parameters"]["common"]["model_version"], "v");
        assert_eq!(t["job_parameters"]["common"]["task_cores"], 2);
        let hosts = t["component_parameters"]["role"]["host"]
            .as_object()
            .unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(
            hosts["1"]["reader_0"]["table"]["name"],
            "name_to_be_filled_0"
        );
        assert!(t["component_parameters"]["role"].get("arbiter").is_none());
        assert_eq!(
            predict_conf_template(&inference, &json!({}), "m", "v"),
            Err(TemplateError::MissingField("initiator"))
        );
    }

    #[test]
    fn model_version_is_set_in_common() {
        let c = with_model_version(
            &json!({"job_parameters": {"common": {"task_cores": 2}}}),
            "m",
            "v",
        );
        assert_eq!(
            c["job_parameters"]["common"],
            json!({"task_cores": 2, "model_id": "m", "model_version": "v"})
        );
        assert_eq!(
            with_model_version(&json!(null), "m", "v")["job_parameters"]["common"]["model_id"],
            "m"
        );
    }
}

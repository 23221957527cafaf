//! Every kind of mistake is reported, all of them at once, each naming its component
//! and field.

mod common;

use fateflow_components::CATALOG;
use fateflow_domain::{Errors, Job};
use serde_json::{json, Value};

fn base() -> (Value, Value) {
    let (dsl, conf) = common::example("hetero_lr");
    (
        serde_json::from_str(&dsl).unwrap(),
        serde_json::from_str(&conf).unwrap(),
    )
}

fn errors(dsl: &Value, conf: &Value) -> Errors {
    match Job::parse(dsl, conf, CATALOG) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

/// Applies `edit` to the example job and checks that exactly one error comes back,
/// for `component` (None = job level) and `field`, with `needle` in its message.
fn check(
    edit: impl FnOnce(&mut Value, &mut Value),
    component: Option<&str>,
    field: &str,
    needle: &str,
) {
    let (mut dsl, mut conf) = base();
    edit(&mut dsl, &mut conf);
    let errs = errors(&dsl, &conf);
    assert_eq!(errs.len(), 1, "{errs}");
    let e = &errs.0[0];
    assert_eq!(e.component.as_deref(), component, "{e}");
    assert_eq!(e.field, field, "{e}");
    assert!(e.message.contains(needle), "`{needle}` not in: {e}");
}

#[test]
fn unknown_module_with_hint() {
    check(
        |d, _| d["components"]["hetero_lr_0"]["module"] = json!("HeteroLr"),
        Some("hetero_lr_0"),
        "module",
        "unknown module `HeteroLr`; did you mean `HeteroLR`?",
    );
}

#[test]
fn duplicate_component_name() {
    let dsl = r#"{"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}}
    }}"#;
    let conf = r#"{"initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999]},
        "component_parameters": {"role": {"guest": {"0": {"reader_0": {"table": {"name": "a", "namespace": "b"}}}}}}}"#;
    let errs = Job::parse_str(dsl, conf, CATALOG).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs}");
    assert_eq!(errs.0[0].component.as_deref(), Some("reader_0"));
    assert!(errs.0[0].message.contains("duplicate component name"));
}

#[test]
fn input_to_missing_component() {
    check(
        |d, _| {
            d["components"]["hetero_lr_0"]["input"]["data"]["train_data"] =
                json!(["selection_9.data"])
        },
        Some("hetero_lr_0"),
        "input.data.train_data[0]",
        "component `selection_9`, which is not in the DSL",
    );
}

#[test]
fn input_to_missing_output() {
    check(
        |d, _| {
            d["components"]["evaluation_0"]["input"]["data"]["data"] = json!(["hetero_lr_0.train"])
        },
        Some("evaluation_0"),
        "input.data.data[0]",
        "has no data output `train`",
    );
}

#[test]
fn cycle_names_its_components() {
    let (mut dsl, conf) = base();
    dsl["components"]["data_transform_0"]["input"]["data"]["data"] = json!(["intersection_0.data"]);
    let errs = errors(&dsl, &conf);
    assert_eq!(errs.len(), 1, "{errs}");
    let msg = errs.0[0].to_string();
    assert!(msg.contains("cycle"), "{msg}");
    assert!(
        msg.contains("data_transform_0") && msg.contains("intersection_0"),
        "{msg}"
    );
    assert!(!msg.contains("reader_0"), "{msg}");
}

#[test]
fn model_input_of_wrong_kind() {
    check(
        |d, _| {
            // With `data` rather than `train_data` (a model input with train_data is a
            // warm start, checked when the task starts).
            let lr = &mut d["components"]["hetero_lr_0"]["input"];
            let train = lr["data"]["train_data"].take();
            lr["data"] = json!({ "data": train });
            lr["model"] = json!(["hetero_feature_binning_0.model"])
        },
        Some("hetero_lr_0"),
        "input.model[0]",
        "input.model takes a model of the same module",
    );
    check(
        |d, _| {
            d["components"]["hetero_feature_selection_0"]["input"]["isometric_model"] =
                json!(["hetero_feature_binning_0.data"])
        },
        Some("hetero_feature_selection_0"),
        "input.isometric_model[0]",
        "is a data output, not a model",
    );
}

#[test]
fn role_not_in_job() {
    check(
        |_, c| c["component_parameters"]["role"]["local"] = json!({"0": {"reader_0": {}}}),
        None,
        "component_parameters.role.local",
        "role `local` is not among the job's parties",
    );
}

#[test]
fn party_index_out_of_range() {
    check(
        |_, c| {
            c["component_parameters"]["role"]["host"]["2"] =
                json!({"evaluation_0": {"need_run": false}})
        },
        None,
        "component_parameters.role.host.2",
        "party index 2 out of range: role `host` has 1 party",
    );
}

#[test]
fn initiator_not_among_parties() {
    check(
        |_, c| c["initiator"]["party_id"] = json!(8888),
        None,
        "initiator",
        "initiator party id 8888 not in roles",
    );
}

#[test]
fn missing_required_job_parameter() {
    let (dsl, mut conf) = base();
    conf["job_parameters"]["common"]["job_type"] = json!("predict");
    conf["job_parameters"]["common"]["model_version"] = json!("202111061608424372620");
    let errs = errors(&dsl, &conf);
    assert_eq!(errs.len(), 1, "{errs}");
    assert_eq!(errs.0[0].field, "job_parameters.common.model_id");
    assert!(errs.0[0].message.contains("missing; a predict job needs"));
}

#[test]
fn missing_reader_table() {
    check(
        |_, c| {
            c["component_parameters"]["role"]["host"]["0"]["reader_0"]
                .as_object_mut()
                .unwrap()
                .remove("table");
        },
        Some("reader_0"),
        "table",
        "missing for host[0] (party 10000)",
    );
}

#[test]
fn wrong_type_string_for_number() {
    check(
        |_, c| c["component_parameters"]["common"]["hetero_lr_0"]["learning_rate"] = json!("0.15"),
        Some("hetero_lr_0"),
        "learning_rate",
        "expected a number, found the string \"0.15\" (in component_parameters.common)",
    );
    check(
        |_, c| c["job_parameters"]["common"]["task_cores"] = json!("four"),
        None,
        "job_parameters.common.task_cores",
        "expected an integer",
    );
    check(
        |_, c| {
            c["component_parameters"]["common"]["hetero_lr_0"]["encrypt_param"]["key_length"] =
                json!("2048")
        },
        Some("hetero_lr_0"),
        "encrypt_param.key_length",
        "expected an integer",
    );
}

#[test]
fn five_mistakes_give_five_errors() {
    let (mut dsl, mut conf) = base();
    dsl["components"]["intersection_0"]["module"] = json!("Intersect");
    dsl["components"]["hetero_lr_0"]["input"]["data"]["train_data"] = json!(["selection_9.data"]);
    conf["component_parameters"]["common"]["hetero_lr_0"]["max_iter"] = json!("thirty");
    conf["component_parameters"]["role"]["host"]["1"] =
        json!({"evaluation_0": {"need_run": false}});
    conf["component_parameters"]["common"]["evaluation_0"]["eval_type"] = json!(2);
    let errs = errors(&dsl, &conf);
    let got: Vec<(Option<&str>, &str)> = errs
        .iter()
        .map(|e| (e.component.as_deref(), e.field.as_str()))
        .collect();
    assert_eq!(errs.len(), 5, "{errs}");
    for expected in [
        (Some("intersection_0"), "module"),
        (Some("hetero_lr_0"), "input.data.train_data[0]"),
        (Some("hetero_lr_0"), "max_iter"),
        (None, "component_parameters.role.host.1"),
        (Some("evaluation_0"), "eval_type"),
    ] {
        assert!(got.contains(&expected), "{expected:?} not in {got:?}");
    }
    let text = errs.to_string();
    assert!(text.starts_with("5 errors in the job:"), "{text}");
}

#[test]
fn unknown_parameter_is_refused_with_a_did_you_mean() {
    check(
        |_, conf| conf["component_parameters"]["common"]["hetero_lr_0"]["max_iterr"] = json!(5),
        Some("hetero_lr_0"),
        "max_iterr",
        "did you mean `max_iter`?",
    );
    check(
        |_, conf| {
            conf["component_parameters"]["common"]["hetero_lr_0"]["learning_rat"] = json!(0.1)
        },
        Some("hetero_lr_0"),
        "learning_rat",
        "FATE's HeteroLR has no parameter `learning_rat`",
    );
    // A nested key is checked against its parameter object.
    check(
        |_, conf| {
            conf["component_parameters"]["common"]["hetero_lr_0"]["encrypt_param"] =
                json!({"key_lenght": 1024})
        },
        Some("hetero_lr_0"),
        "encrypt_param.key_lenght",
        "did you mean `encrypt_param.key_length`?",
    );
    // A nested key given at the top level points to its object.
    check(
        |_, conf| conf["component_parameters"]["common"]["hetero_lr_0"]["key_length"] = json!(1024),
        Some("hetero_lr_0"),
        "key_length",
        "did you mean `encrypt_param.key_length`?",
    );
}

#[test]
fn unimplemented_parameter_is_refused_unless_it_has_fates_default() {
    check(
        |_, conf| conf["component_parameters"]["common"]["hetero_lr_0"]["masked_rate"] = json!(3),
        Some("hetero_lr_0"),
        "masked_rate",
        "not supported yet",
    );
    check(
        |_, conf| {
            conf["component_parameters"]["common"]["hetero_lr_0"]
                ["encrypted_mode_calculator_param"] = json!({"mode": "confusion_opt"})
        },
        Some("hetero_lr_0"),
        "encrypted_mode_calculator_param.mode",
        "HeteroLR parameter `encrypted_mode_calculator_param.mode`",
    );
    // At FATE's default (any case for strings, any spelling of a number) it is accepted.
    let (dsl, mut conf) = base();
    let lr = &mut conf["component_parameters"]["common"]["hetero_lr_0"];
    lr["batch_strategy"] = json!("Full");
    lr["masked_rate"] = json!(5.0);
    lr["stepwise_param"] = json!({"need_stepwise": false});
    lr["callback_param"] = json!({});
    lr["need_run"] = json!(true);
    Job::parse(&dsl, &conf, CATALOG).unwrap();
}

#[test]
fn unsupported_value_of_an_implemented_key_is_refused_at_submit() {
    check(
        |_, conf| {
            conf["component_parameters"]["common"]["intersection_0"]["intersect_method"] =
                json!("ecdh");
            conf["component_parameters"]["common"]["intersection_0"]["ecdh_params"] =
                json!({"curve": "p256"});
        },
        Some("intersection_0"),
        "ecdh_params.curve",
        "Intersection parameter `ecdh_params.curve` = \"p256\" is not supported yet (supported: curve25519)",
    );
    // Case does not matter, as in FATE.
    let (dsl, mut conf) = base();
    conf["component_parameters"]["common"]["hetero_lr_0"]["optimizer"] = json!("RMSProp");
    Job::parse(&dsl, &conf, CATALOG).unwrap();
}

#[test]
fn every_parameter_error_is_listed_at_once() {
    let (dsl, mut conf) = base();
    let lr = &mut conf["component_parameters"]["common"]["hetero_lr_0"];
    lr["max_iterr"] = json!(5);
    lr["cardinality_only"] = json!(true);
    lr["callback_param"] = json!({"callbacks": ["ModelCheckpoint"], "save_freq": 2});
    lr["max_iter"] = json!("ten");
    let errs = errors(&dsl, &conf);
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "max_iterr",
        "cardinality_only",
        "callback_param.save_freq",
        "max_iter",
    ] {
        assert!(fields.contains(&f), "{f} not in {errs}");
    }
}

#[test]
fn malformed_json_and_shapes() {
    let e = Job::parse_str("{", "{}", CATALOG).unwrap_err();
    assert_eq!(e.0[0].field, "dsl");
    let e = Job::parse(&json!([]), &json!("x"), CATALOG).unwrap_err();
    assert!(e.iter().any(|e| e.field == "runtime_conf"));
    let e = Job::parse(
        &json!({"components": {"a_0": {"module": 3}}}),
        &json!({"role": 1}),
        CATALOG,
    )
    .unwrap_err();
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"module") && fields.contains(&"role") && fields.contains(&"initiator"),
        "{fields:?}"
    );
}

#[test]
fn a_deployed_model_input_in_a_training_job() {
    // FATE's predict confs leave job_type to fate_test; without it the job trains.
    check(
        |dsl, _| {
            dsl["components"]["data_transform_0"]["input"]["model"] =
                json!(["pipeline.data_transform_0.model"]);
        },
        Some("data_transform_0"),
        "input.model[0]",
        "only a predict job does",
    );
}

#[test]
fn a_cache_loader_without_the_job_it_loads_from() {
    // FATE's CacheLoader example confs leave job_id empty for the user to fill in.
    check(
        |dsl, conf| {
            dsl["components"]["cache_loader_0"] =
                json!({"module": "CacheLoader", "output": {"cache": ["cache"]}});
            conf["component_parameters"]["common"]["cache_loader_0"] =
                json!({"job_id": "202612060000000000000", "component_name": "intersect_0", "cache_name": "cache"});
            conf["component_parameters"]["role"]["host"]["0"]["cache_loader_0"] =
                json!({"job_id": ""});
        },
        Some("cache_loader_0"),
        "job_id",
        "missing for host[0] (party 10000); job_id, component_name and cache_name name the earlier job's cache to load",
    );
}

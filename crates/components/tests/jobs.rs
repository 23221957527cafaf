//! The example jobs parse, and their DAG, plan and predict DSL are what FATE gives.

mod common;

use fateflow_components::CATALOG;
use fateflow_domain::{Catalog, Job, Party, Role};
use serde_json::json;

fn parse(name: &str) -> Job {
    let (dsl, conf) = common::example(name);
    Job::parse_str(&dsl, &conf, CATALOG).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn hetero_lr_pipeline_order_and_plan() {
    let job = parse("hetero_lr");
    assert_eq!(
        job.topological_order(),
        vec![
            "reader_0",
            "data_transform_0",
            "intersection_0",
            "hetero_feature_binning_0",
            "hetero_feature_selection_0",
            "hetero_lr_0",
            "evaluation_0"
        ]
    );
    let plan = job.plan();
    let parties = |cpn: &str| -> Vec<String> {
        plan.iter()
            .find(|t| t.component == cpn)
            .unwrap()
            .parties
            .iter()
            .map(|p| p.party.to_string())
            .collect()
    };
    assert_eq!(parties("reader_0"), vec!["guest:9999", "host:10000"]);
    assert_eq!(
        parties("hetero_lr_0"),
        vec!["guest:9999", "host:10000", "arbiter:10000"]
    );
    assert_eq!(
        parties("evaluation_0"),
        vec!["guest:9999", "host:10000", "arbiter:10000"]
    );

    let eval = plan.iter().find(|t| t.component == "evaluation_0").unwrap();
    let host_eval = eval
        .parties
        .iter()
        .find(|p| p.party.role == Role::Host)
        .unwrap();
    assert!(!host_eval.need_run);
    assert_eq!(host_eval.parameters["eval_type"], json!("binary"));

    let reader = &plan[0];
    assert_eq!(
        reader.parties[1].parameters["table"]["name"],
        json!("breast_hetero_host")
    );
    let lr = plan.iter().find(|t| t.component == "hetero_lr_0").unwrap();
    assert_eq!(lr.upstream, vec!["hetero_feature_selection_0"]);
    assert_eq!(
        lr.parties[0].parameters["init_param"]["random_seed"],
        json!(103)
    );
    assert_eq!(job.conf.common_job_parameters.task_cores, 2);
    assert_eq!(job.conf.common_job_parameters.auto_retries, 0);
}

#[test]
fn homo_lr_runs_on_three_roles() {
    // HomoLR has no component in this build: its plan is the job model's, checked with
    // every known module taken as implemented.
    let (dsl, conf) = common::example("homo_lr");
    let job = Job::parse_str(&dsl, &conf, Catalog::NAMES_ONLY).unwrap();
    let plan = job.plan();
    let lr = plan.iter().find(|t| t.component == "homo_lr_0").unwrap();
    assert_eq!(lr.parties.len(), 3);
    let dt = plan
        .iter()
        .find(|t| t.component == "data_transform_0")
        .unwrap();
    assert!(dt
        .parties
        .iter()
        .all(|p| p.parameters["with_label"] == json!(true)));
}

#[test]
fn dsl_v1_args_and_role_parameters_become_per_party_parameters() {
    let job = parse("hetero_lr_v1");
    assert_eq!(job.conf.dsl_version.number(), 1);
    assert!(job
        .warnings
        .iter()
        .any(|w| w.contains("work_mode is removed")));
    let plan = job.plan();
    let dataio = &plan[0];
    assert_eq!(dataio.module, "DataTransform");
    let guest = &dataio.parties[0];
    assert_eq!(
        guest.party,
        Party {
            role: Role::Guest,
            party_id: 9999
        }
    );
    assert_eq!(guest.parameters["with_label"], json!(true));
    assert_eq!(
        guest.args_tables["train_data"]["name"],
        json!("breast_hetero_guest")
    );
    let host = &dataio.parties[1];
    assert_eq!(host.parameters["with_label"], json!(false));
    assert_eq!(
        host.args_tables["train_data"]["name"],
        json!("breast_hetero_host")
    );
    let eval = plan.iter().find(|t| t.component == "evaluation_0").unwrap();
    assert!(
        !eval
            .parties
            .iter()
            .find(|p| p.party.role == Role::Host)
            .unwrap()
            .need_run
    );
    assert!(eval.parties[0].need_run);
}

#[test]
fn merge_order_is_common_then_all_then_multi_then_index() {
    let dsl = json!({"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "dt_0": {"module": "DataTransform", "input": {"data": {"data": ["reader_0.data"]}}, "output": {"data": ["data"]}}
    }});
    let conf = json!({
        "initiator": {"role": "guest", "party_id": 1},
        "role": {"guest": [1], "host": ["2", 3, 4]},
        "component_parameters": {
            "common": {"dt_0": {"label_name": "common", "missing_fill": false, "missing_impute": ["NA"]},
                       "reader_0": {"table": {"name": "t", "namespace": "n"}}},
            "role": {"host": {
                "1": {"dt_0": {"label_name": "exact"}},
                "0|1": {"dt_0": {"label_name": "multi", "missing_fill": true}},
                "all": {"dt_0": {"label_name": "all", "output_format": "dense"}}
            }}
        }
    });
    let job = Job::parse(&dsl, &conf, CATALOG).unwrap();
    let plan = job.plan();
    let dt = &plan[1];
    let get = |i: usize, k: &str| dt.parties[i].parameters[k].clone();
    assert_eq!(get(0, "label_name"), json!("common"));
    assert_eq!(get(1, "label_name"), json!("multi"));
    assert_eq!(get(2, "label_name"), json!("exact"));
    assert_eq!(get(3, "label_name"), json!("all"));
    assert_eq!(get(2, "missing_fill"), json!(true));
    assert_eq!(get(3, "missing_fill"), json!(false));
    assert_eq!(get(3, "output_format"), json!("dense"));
    assert_eq!(
        dt.parties[1].party.party_id, 2,
        "party ids given as strings are coerced"
    );
}

#[test]
fn downstream_set_for_rerun() {
    let job = parse("hetero_lr");
    assert_eq!(
        job.downstream_of("hetero_feature_binning_0").unwrap(),
        vec![
            "hetero_feature_binning_0",
            "hetero_feature_selection_0",
            "hetero_lr_0",
            "evaluation_0"
        ]
    );
    assert_eq!(
        job.downstream_of("evaluation_0").unwrap(),
        vec!["evaluation_0"]
    );
    assert!(job.downstream_of("nope").is_none());
}

#[test]
fn predict_dsl_from_need_deploy() {
    let job = parse("hetero_lr");
    let predict = job.predict_dsl(None).unwrap().to_json();
    let expected = json!({"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {"module": "DataTransform",
            "input": {"data": {"data": ["reader_0.data"]}, "model": ["pipeline.data_transform_0.model"]},
            "output": {"data": ["data"]}},
        "intersection_0": {"module": "Intersection",
            "input": {"data": {"data": ["data_transform_0.data"]}},
            "output": {"data": ["data"]}},
        "hetero_feature_binning_0": {"module": "HeteroFeatureBinning",
            "input": {"data": {"data": ["intersection_0.data"]}, "model": ["pipeline.hetero_feature_binning_0.model"]},
            "output": {"data": ["data"]}},
        "hetero_feature_selection_0": {"module": "HeteroFeatureSelection",
            "input": {"data": {"data": ["hetero_feature_binning_0.data"]}, "model": ["pipeline.hetero_feature_selection_0.model"]},
            "output": {"data": ["data"]}},
        "hetero_lr_0": {"module": "HeteroLR",
            "input": {"data": {"test_data": ["hetero_feature_selection_0.data"]}, "model": ["pipeline.hetero_lr_0.model"]},
            "output": {"data": ["data"]}}
    }});
    assert_eq!(predict, expected);
}

#[test]
fn predict_dsl_skips_components_not_deployed() {
    let job = parse("hetero_lr");
    let list: Vec<String> = [
        "reader_0",
        "data_transform_0",
        "intersection_0",
        "hetero_lr_0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let predict = job.predict_dsl(Some(&list)).unwrap();
    let lr = predict.component("hetero_lr_0").unwrap().clone();
    assert_eq!(
        serde_json::to_value(&predict.to_json()["components"]["hetero_lr_0"]["input"]["data"])
            .unwrap(),
        json!({"test_data": ["intersection_0.data"]})
    );
    assert_eq!(lr.output.model.len(), 0);
    assert!(job.predict_dsl(Some(&["ghost_0".to_string()])).is_err());
}

#[test]
fn predict_dsl_parses_as_a_job() {
    let job = parse("hetero_lr");
    let predict = job.predict_dsl(None).unwrap().to_json();
    let (_, conf) = common::example("hetero_lr");
    let mut conf: serde_json::Value = serde_json::from_str(&conf).unwrap();
    conf["job_parameters"]["common"]["job_type"] = json!("predict");
    conf["job_parameters"]["common"]["model_id"] =
        json!("arbiter-10000#guest-9999#host-10000#model");
    conf["job_parameters"]["common"]["model_version"] = json!("202111061608424372620");
    // The predict DSL has no evaluation_0, so drop its parameters.
    conf["component_parameters"]["common"]
        .as_object_mut()
        .unwrap()
        .remove("evaluation_0");
    conf["component_parameters"]["role"]["host"]["0"]
        .as_object_mut()
        .unwrap()
        .remove("evaluation_0");
    let job = Job::parse(&predict, &conf, CATALOG).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.topological_order().len(), 6);
}

#[test]
fn a_module_known_only_by_name_is_refused_at_submit_naming_component_and_module() {
    let (dsl, conf) = common::example("homo_lr");
    let err = Job::parse_str(&dsl, &conf, CATALOG).unwrap_err();
    let e = err
        .iter()
        .find(|e| e.field == "module")
        .unwrap_or_else(|| panic!("no module error in {err}"));
    assert_eq!(e.component.as_deref(), Some("homo_lr_0"), "{err}");
    assert!(e.message.contains("HomoLR"), "{err}");
    assert!(e.message.contains("not supported yet"), "{err}");
    // Only the unimplemented module is refused.
    assert!(
        err.iter()
            .all(|e| e.component.as_deref() == Some("homo_lr_0")),
        "{err}"
    );
    // The same DSL with a module we implement passes.
    let (dsl, conf) = common::example("hetero_lr");
    Job::parse_str(&dsl, &conf, CATALOG).unwrap();
}

#[test]
fn parameters_of_a_component_not_in_the_dsl_are_a_warning_given_once() {
    // FATE 1.11's own examples (hetero_lr_warm_start, hetero_lr_sample_weights) do this.
    let (dsl, conf) = common::example("hetero_lr");
    let mut conf: serde_json::Value = serde_json::from_str(&conf).unwrap();
    conf["component_parameters"]["common"]["intersection_9"] = json!({"intersect_method": "rsa"});
    conf["component_parameters"]["role"]["guest"]["0"]["intersection_9"] = json!({});
    let dsl: serde_json::Value = serde_json::from_str(&dsl).unwrap();
    let job = Job::parse(&dsl, &conf, CATALOG).unwrap_or_else(|e| panic!("{e}"));
    let about: Vec<&String> = job
        .warnings
        .iter()
        .filter(|w| w.contains("intersection_9"))
        .collect();
    assert_eq!(about.len(), 1, "{:?}", job.warnings);
    assert!(about[0].contains("not in the DSL"), "{}", about[0]);
}

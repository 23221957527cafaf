//! Reader: copies a stored table into the task's output table.

mod common;

use common::RecordingTracker;
use common::*;
use fateflow_component_core::{ErrorKind, TableRef};
use fateflow_tables::{TableId, TableOrigin, TableStore};
use serde_json::json;

#[test]
fn copies_the_table_and_records_it() {
    let (_dir, store) = temp_store();
    let source = upload_example(&store, "breast_hetero_guest.csv");
    let tracker = RecordingTracker::new();
    let params = json!({"table": {"name": "breast_hetero_guest", "namespace": "experiment"}});
    let c = ctx(&store, &tracker, "reader_0", "Reader", params);
    run(&c).unwrap();

    let output = TableRef::new("output_data_test_job_reader_0_0", "data_guest_9999");
    assert_eq!(c.output_table("data"), output);
    assert_eq!(
        tracker.output_data(),
        vec![("data".to_string(), output.clone())]
    );

    let out_id = TableId::new(&output.namespace, &output.name).unwrap();
    let src_id = TableId::new(&source.namespace, &source.name).unwrap();
    assert_eq!(store.count(&out_id).unwrap(), 569);
    let (src_info, out_info) = (store.info(&src_id).unwrap(), store.info(&out_id).unwrap());
    assert_eq!(out_info.schema, src_info.schema);
    assert_eq!(out_info.partitions, src_info.partitions);
    assert_eq!(out_info.origin, TableOrigin::Reader);
    assert_eq!(bits(&frame(&store, &output)), bits(&frame(&store, &source)));

    let metric = tracker.metric("reader_namespace", "reader_name").unwrap();
    assert_eq!(
        metric.data,
        vec![
            (json!("count"), json!(569)),
            (json!("table_name"), json!("breast_hetero_guest"))
        ]
    );
    assert_eq!(metric.meta["metric_type"], "data_info");
    assert_eq!(metric.meta["namespace"], "experiment");
    assert_eq!(metric.meta["count"], 569);
    let summary = tracker.summary().unwrap();
    assert_eq!(summary["count"], 569);
    assert_eq!(summary["table_name"], "breast_hetero_guest");
    assert_eq!(tracker.progress_values().last(), Some(&100));
}

#[test]
fn missing_table_gives_fates_message() {
    let (_dir, store) = temp_store();
    let tracker = RecordingTracker::new();
    let params = json!({"table": {"name": "nope", "namespace": "experiment"}});
    let c = ctx(&store, &tracker, "reader_0", "Reader", params);
    let e = run(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "can not found table name: nope namespace: experiment"
    );
    assert_eq!(e.kind(), ErrorKind::User);
    assert!(tracker.output_data().is_empty());

    // A name the store could never hold is not found either.
    let params = json!({"table": {"name": "../etc", "namespace": "experiment"}});
    let c = ctx(&store, &tracker, "reader_0", "Reader", params);
    assert_eq!(
        run(&c).unwrap_err().to_string(),
        "can not found table name: ../etc namespace: experiment"
    );
}

#[test]
fn bad_parameters_are_named() {
    let (_dir, store) = temp_store();
    let tracker = RecordingTracker::new();
    for (params, parameter) in [
        (json!({}), "`table`"),
        (json!({"table": "t"}), "`table`"),
        (json!({"table": {"namespace": "n"}}), "`table.name`"),
        (
            json!({"table": {"name": "t", "namespace": 3}}),
            "`table.namespace`",
        ),
    ] {
        let c = ctx(&store, &tracker, "reader_0", "Reader", params.clone());
        let e = run(&c).unwrap_err();
        assert!(e.to_string().contains(parameter), "{params}: {e}");
        assert_eq!(e.kind(), ErrorKind::User);
    }
}

#[test]
fn output_follows_the_dsl_name_and_a_rerun_replaces_it() {
    let (_dir, store) = temp_store();
    upload(&store, "small", "id,x\na,1\nb,2\n");
    let tracker = RecordingTracker::new();
    let params = json!({"table": {"name": "small", "namespace": "experiment"}});
    let mut c = ctx(&store, &tracker, "reader_1", "Reader", params);
    c.output_data_names = vec!["train".into()];
    c.task_version = 2;
    run(&c).unwrap();
    run(&c).unwrap();
    let output = TableRef::new("output_data_test_job_reader_1_2", "train_guest_9999");
    assert_eq!(
        tracker.output_data(),
        vec![("train".to_string(), output.clone()); 2]
    );
    assert_eq!(frame(&store, &output).nrows(), 2);
}

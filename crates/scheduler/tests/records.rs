//! Rows the scheduler writes for the HTTP API outside job runs: an upload's
//! one-component `local` job, and an imported pipeline model.

mod harness;

use fateflow_domain::retcode::RetCode;
use fateflow_domain::{ErrorKind, Role, Status};
use fateflow_scheduler::model::{ImportError, ModelImport};
use fateflow_scheduler::upload::{UploadDone, UPLOAD_COMPONENT};
use fateflow_storage::{ModelInfoRecord, ModelKey, PipelineComponentRecord, TaskFilter};
use harness::*;
use serde_json::{json, Map, Value};

fn upload_conf() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "namespace": "experiment", "table_name": "breast_hetero_guest",
        "head": 1, "partition": 4, "party_id": 9999,
    }) else {
        unreachable!()
    };
    m
}

#[tokio::test]
async fn an_upload_is_recorded_as_a_finished_local_job() {
    let site = Site::start().await;
    let done = UploadDone {
        party_id: 9999,
        conf: upload_conf(),
        count: 569,
        started: 1_000,
        ended: 1_250,
    };
    let job_id = site.scheduler.record_upload(&done).await.unwrap();
    let job = site
        .store
        .get_job(&job_id, Role::Local, 9999)
        .await
        .unwrap()
        .expect("the upload's job row");
    assert_eq!(job.status, Status::Success);
    assert_eq!((job.progress, job.tag.as_str()), (100, "job_end"));
    assert_eq!(
        (job.start_time, job.end_time, job.elapsed),
        (Some(1_000), Some(1_250), Some(250))
    );
    assert_eq!(
        job.dsl["components"][UPLOAD_COMPONENT]["module"],
        json!("Upload")
    );
    assert_eq!(
        job.runtime_conf["component_parameters"]["role"]["local"]["0"][UPLOAD_COMPONENT]
            ["table_name"],
        json!("breast_hetero_guest")
    );
    let (tasks, _) = site
        .store
        .query_tasks(&TaskFilter {
            job_id: Some(job_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(
        (t.component_name.as_str(), t.role, t.party_id),
        (UPLOAD_COMPONENT, Role::Local, 9999)
    );
    assert_eq!(
        (t.status, t.party_status),
        (Status::Success, Status::Success)
    );
    assert_eq!(t.component_parameters["upload_count"], json!(569));
    assert_eq!(t.component_parameters["namespace"], json!("experiment"));
    // Each upload is its own job.
    let again = site.scheduler.record_upload(&done).await.unwrap();
    assert_ne!(again, job_id);
}

fn archived_model() -> (ModelInfoRecord, Vec<PipelineComponentRecord>) {
    let info = ModelInfoRecord {
        model_id: "guest-9999#host-10000#model".into(),
        model_version: "202601010000000000000".into(),
        role: Role::Guest,
        party_id: 9999,
        job_id: "202601010000000000000".into(),
        roles: json!({"guest": [9999], "host": ["10000"]}),
        initiator_role: Role::Guest,
        initiator_party_id: 9999,
        train_dsl: json!({}),
        train_runtime_conf: json!({"job_parameters": {"common": {}}}),
        runtime_conf_on_party: json!({}),
        inference_dsl: json!({}),
        fate_version: "1.11.4".into(),
        parent: false,
        parent_info: json!({}),
        loaded_times: 3,
        imported: false,
        size: 2,
        description: String::new(),
        archive_sha256: None,
        archive_from_ip: None,
        create_time: 5,
        update_time: 5,
    };
    let lr = PipelineComponentRecord {
        component_name: "hetero_lr_0".into(),
        model_alias: "model".into(),
        module: "HeteroLR".into(),
        model: json!({}),
        create_time: 5,
    };
    (info, vec![lr])
}

fn import(key: ModelKey, force_update: bool) -> ModelImport {
    let (info, components) = archived_model();
    ModelImport {
        key,
        info,
        components,
        force_update,
        sha256: "ab".repeat(32),
        from_ip: "127.0.0.1".into(),
    }
}

fn key(role: Role, party_id: u64) -> ModelKey {
    ModelKey {
        model_id: "guest-9999#host-10000#model".into(),
        model_version: "v2".into(),
        role,
        party_id,
    }
}

#[tokio::test]
async fn an_import_is_stored_under_the_request_key_once_unless_forced() {
    let site = Site::start().await;
    // A string party id in the archive's roles counts.
    let host = key(Role::Host, 10000);
    site.scheduler
        .import_model(import(host.clone(), false))
        .await
        .unwrap();
    let row = site
        .store
        .get_model(&host)
        .await
        .unwrap()
        .expect("imported row");
    assert!(row.imported);
    assert_eq!((row.role, row.party_id), (Role::Host, 10000));
    assert_eq!(row.model_version, "v2");
    assert_eq!(
        row.archive_sha256.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    assert_eq!(row.archive_from_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        row.train_runtime_conf["job_parameters"]["common"]["model_version"],
        json!("v2")
    );
    assert_eq!(site.store.model_components(&host).await.unwrap().len(), 1);

    let again = site
        .scheduler
        .import_model(import(host.clone(), false))
        .await
        .unwrap_err();
    assert!(matches!(again, ImportError::Exists), "{again}");
    assert_eq!(again.to_string(), "Model already exists.");
    assert_eq!(again.kind(), ErrorKind::User);
    site.scheduler
        .import_model(import(host, true))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_import_is_refused_for_a_party_not_hosted_or_not_in_the_model() {
    let site = Site::start().await;
    let elsewhere = key(Role::Guest, 1234);
    let e = site.scheduler.import_target(&elsewhere).unwrap_err();
    assert_eq!(
        e.to_string(),
        "party 1234 is not hosted by this site (hosted: [9999, 10000])"
    );
    let e = site
        .scheduler
        .import_model(import(elsewhere, false))
        .await
        .unwrap_err();
    assert!(matches!(e, ImportError::NotHosted { .. }), "{e}");

    // 10000 is hosted here, but the model has no arbiter.
    let e = site
        .scheduler
        .import_model(import(key(Role::Arbiter, 10000), false))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Party id 10000 is not in model roles, please check if the party id is valid."
    );
    assert_eq!(e.retcode(), RetCode::ArgumentError);
}

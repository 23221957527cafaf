//! The metadata store on every backend: round trips, status rules, resource
//! accounting, the audit chain, concurrency from several pools; persistence of the
//! SQLite file.

mod common;

use common::TestDb;
use fateflow_domain::{ErrorKind, Party, Role, Status};
use fateflow_storage::*;
use serde_json::json;
use std::sync::Arc;

fn job(job_id: &str, role: Role, party_id: u64) -> JobRecord {
    JobRecord::new(
        job_id,
        role,
        party_id,
        Party {
            role: Role::Guest,
            party_id: 9999,
        },
        json!({"components": {}}),
        json!({"role": {"guest": [9999]}}),
        json!({}),
        json!({"guest": [9999]}),
        1_000,
    )
}

fn task(job_id: &str, cpn: &str, version: i64, role: Role, party_id: u64) -> TaskRecord {
    TaskRecord {
        job_id: job_id.into(),
        task_id: format!("{job_id}_{cpn}"),
        task_version: version,
        role,
        party_id,
        component_name: cpn.into(),
        component_module: "Reader".into(),
        initiator_role: Role::Guest,
        initiator_party_id: 9999,
        federated_mode: "SINGLE".into(),
        federated_status_collect_type: "PUSH".into(),
        status: Status::Waiting,
        party_status: Status::Waiting,
        status_code: None,
        auto_retries: 0,
        auto_retry_delay: 1,
        run_on_this_party: true,
        worker_id: None,
        cmd: None,
        run_ip: None,
        run_port: None,
        run_pid: None,
        provider_info: json!({}),
        component_parameters: json!({"table": {"name": "t"}}),
        engine_conf: json!({}),
        kill_status: false,
        error_report: None,
        error_kind: None,
        heartbeat_time: None,
        create_time: 2_000 + version,
        update_time: 2_000,
        start_time: None,
        end_time: None,
        elapsed: None,
        version: 0,
    }
}

async fn job_round_trip_and_duplicate(db: Arc<TestDb>) {
    let s = db.store().await;
    let j = job("j1", Role::Guest, 9999);
    s.insert_job(&j).await.unwrap();
    assert_eq!(
        s.get_job("j1", Role::Guest, 9999).await.unwrap().unwrap(),
        j
    );
    assert!(matches!(
        s.insert_job(&j).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(s.get_job("j1", Role::Host, 9999).await.unwrap().is_none());
}

async fn job_status_follows_the_rules(db: Arc<TestDb>) {
    let s = db.store().await;
    s.insert_job(&job("j1", Role::Guest, 9999)).await.unwrap();
    // ready -> running is not allowed; ready -> waiting -> running is.
    assert!(!s
        .update_job_status("j1", Role::Guest, 9999, Status::Running, 5)
        .await
        .unwrap());
    assert!(s
        .update_job_status("j1", Role::Guest, 9999, Status::Waiting, 5)
        .await
        .unwrap());
    assert!(s
        .update_job_status("j1", Role::Guest, 9999, Status::Running, 6)
        .await
        .unwrap());
    // rerun signal blocks failed
    s.update_job(
        "j1",
        Role::Guest,
        9999,
        &JobUpdate {
            rerun_signal: Some(true),
            ..Default::default()
        },
        7,
    )
    .await
    .unwrap();
    assert!(!s
        .update_job_status("j1", Role::Guest, 9999, Status::Failed, 8)
        .await
        .unwrap());
    assert!(s
        .update_job_status("j1", Role::Guest, 9999, Status::Success, 8)
        .await
        .unwrap());
    let j = s.get_job("j1", Role::Guest, 9999).await.unwrap().unwrap();
    assert_eq!(j.status, Status::Success);
    assert!(j.rerun_signal);
    assert_eq!(j.update_time, 8);
}

async fn job_filters_and_paging(db: Arc<TestDb>) {
    let s = db.store().await;
    for i in 0..5 {
        let mut j = job(&format!("2026{i}"), Role::Guest, 9999);
        j.create_time = i;
        j.description = if i % 2 == 0 {
            "even".into()
        } else {
            "odd".into()
        };
        s.insert_job(&j).await.unwrap();
    }
    s.insert_job(&job("20260", Role::Host, 10000))
        .await
        .unwrap();
    let (all, total) = s.query_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!((all.len(), total), (6, 6));
    let (page, total) = s
        .query_jobs(&JobFilter {
            role: Some(Role::Guest),
            limit: 2,
            page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(),
        vec!["20262", "20261"]
    );
    let (even, _) = s
        .query_jobs(&JobFilter {
            description_like: Some("ev".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(even.len(), 3);
    let (asc, _) = s
        .query_jobs(&JobFilter {
            role: Some(Role::Guest),
            order_by: Some(("create_time".into(), true)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(asc[0].job_id, "20260");
    // An order column outside the whitelist falls back to the default order.
    let (bad, _) = s
        .query_jobs(&JobFilter {
            order_by: Some(("dsl; DROP TABLE job".into(), true)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bad.len(), 6);
}

async fn tasks_latest_version_and_status_rules(db: Arc<TestDb>) {
    let s = db.store().await;
    s.insert_task(&task("j1", "reader_0", 0, Role::Guest, 9999))
        .await
        .unwrap();
    s.insert_task(&task("j1", "reader_0", 1, Role::Guest, 9999))
        .await
        .unwrap();
    s.insert_task(&task("j1", "reader_0", 0, Role::Host, 10000))
        .await
        .unwrap();
    let (latest, _) = s
        .query_tasks(&TaskFilter {
            job_id: Some("j1".into()),
            latest_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<(Role, i64)> = latest.iter().map(|t| (t.role, t.task_version)).collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&(Role::Guest, 1)) && got.contains(&(Role::Host, 0)));

    let k = task("j1", "reader_0", 1, Role::Guest, 9999).key();
    assert!(s
        .update_task_party_status(&k, Status::Running, 10)
        .await
        .unwrap());
    assert!(s
        .update_task_party_status(&k, Status::Success, 11)
        .await
        .unwrap());
    // success is terminal
    assert!(!s
        .update_task_party_status(&k, Status::Failed, 12)
        .await
        .unwrap());
    s.update_task(
        &k,
        &TaskUpdate {
            run_pid: Some(4242),
            error_report: Some("boom".into()),
            error_kind: Some(ErrorKind::User),
            ..Default::default()
        },
        13,
    )
    .await
    .unwrap();
    let t = s.get_task(&k).await.unwrap().unwrap();
    assert_eq!(
        (
            t.party_status,
            t.status,
            t.run_pid,
            t.error_report.as_deref(),
            t.error_kind
        ),
        (
            Status::Success,
            Status::Waiting,
            Some(4242),
            Some("boom"),
            Some(ErrorKind::User)
        )
    );
    assert!(matches!(
        s.insert_task(&t).await,
        Err(Error::AlreadyExists(_))
    ));
}

async fn resources_are_all_or_nothing(db: Arc<TestDb>) {
    let s = db.store().await;
    s.register_engine("STANDALONE", 4, 1024, 0).await.unwrap();
    s.insert_job(&job("a", Role::Guest, 9999)).await.unwrap();
    s.insert_job(&job("b", Role::Guest, 9999)).await.unwrap();
    assert!(s
        .apply_job_resource("STANDALONE", "a", Role::Guest, 9999, 3, 0, 1)
        .await
        .unwrap());
    // applying twice does nothing
    assert!(!s
        .apply_job_resource("STANDALONE", "a", Role::Guest, 9999, 3, 0, 1)
        .await
        .unwrap());
    // b does not fit and nothing is taken
    assert!(!s
        .apply_job_resource("STANDALONE", "b", Role::Guest, 9999, 2, 0, 1)
        .await
        .unwrap());
    let e = s.get_engine("STANDALONE").await.unwrap().unwrap();
    assert_eq!(e.remaining_cores, 1);
    assert!(
        !s.get_job("b", Role::Guest, 9999)
            .await
            .unwrap()
            .unwrap()
            .resource_in_use
    );
    // task resources come out of the job's share
    assert!(s
        .apply_task_resource("a", Role::Guest, 9999, 2, 0)
        .await
        .unwrap());
    assert!(!s
        .apply_task_resource("a", Role::Guest, 9999, 2, 0)
        .await
        .unwrap());
    s.return_task_resource("a", Role::Guest, 9999, 2, 0)
        .await
        .unwrap();
    assert_eq!(
        s.get_job("a", Role::Guest, 9999)
            .await
            .unwrap()
            .unwrap()
            .remaining_cores,
        3
    );
    assert!(s
        .return_job_resource("STANDALONE", "a", Role::Guest, 9999, 2)
        .await
        .unwrap());
    assert!(!s
        .return_job_resource("STANDALONE", "a", Role::Guest, 9999, 2)
        .await
        .unwrap());
    assert_eq!(
        s.get_engine("STANDALONE")
            .await
            .unwrap()
            .unwrap()
            .remaining_cores,
        4
    );
    assert!(s
        .apply_job_resource("STANDALONE", "b", Role::Guest, 9999, 2, 0, 3)
        .await
        .unwrap());
    // re-registering with a new capacity keeps what b holds
    s.register_engine("STANDALONE", 8, 1024, 4).await.unwrap();
    assert_eq!(
        s.get_engine("STANDALONE")
            .await
            .unwrap()
            .unwrap()
            .remaining_cores,
        6
    );
}

async fn tracking_rows_and_clean(db: Arc<TestDb>) {
    let s = db.store().await;
    let owner = TaskOwner {
        job_id: "j".into(),
        component_name: "reader_0".into(),
        task_id: "j_reader_0".into(),
        task_version: 0,
        role: Role::Guest,
        party_id: 9999,
    };
    s.insert_metric(&MetricRecord {
        owner: owner.clone(),
        metric_namespace: "train".into(),
        metric_name: "loss".into(),
        data: json!([[0, 0.69], [1, 0.5]]),
        meta: json!({"metric_type": "LOSS"}),
        create_time: 1,
    })
    .await
    .unwrap();
    s.insert_output_data(&OutputDataRecord {
        owner: owner.clone(),
        data_name: "data".into(),
        table_namespace: "output_data_j_reader_0_0".into(),
        table_name: "data".into(),
        description: String::new(),
        create_time: 1,
    })
    .await
    .unwrap();
    s.put_summary(&owner, &json!({"count": 569}), 1)
        .await
        .unwrap();
    s.put_component_model(&ComponentModelRecord {
        owner: owner.clone(),
        model_alias: "model".into(),
        module: "DataTransform".into(),
        model: json!({"header": ["x0"]}),
        create_time: 1,
    })
    .await
    .unwrap();
    assert_eq!(
        s.query_metrics("j", "reader_0", Role::Guest, 9999)
            .await
            .unwrap()[0]
            .data,
        json!([[0, 0.69], [1, 0.5]])
    );
    assert_eq!(
        s.query_output_data("j", "reader_0", Role::Guest, 9999)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get_summary("j", "reader_0", Role::Guest, 9999)
            .await
            .unwrap(),
        Some(json!({"count": 569}))
    );
    assert_eq!(
        s.query_component_models("j", "reader_0", Role::Guest, 9999)
            .await
            .unwrap()
            .len(),
        1
    );
    s.clean_task_tracking(&owner).await.unwrap();
    assert!(s
        .query_metrics("j", "reader_0", Role::Guest, 9999)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .get_summary("j", "reader_0", Role::Guest, 9999)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn file_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        s.insert_job(&job("persist", Role::Guest, 9999))
            .await
            .unwrap();
        s.put_table_meta(&TableMetaRecord {
            namespace: "experiment".into(),
            name: "t".into(),
            address: json!({"path": "x"}),
            engine: "STANDALONE".into(),
            store_type: "PARQUET".into(),
            partitions: 4,
            id_delimiter: ",".into(),
            have_head: true,
            extend_sid: false,
            schema: json!({"sid": "id", "header": "x0,x1"}),
            count: 3,
            part_of_data: json!([]),
            origin: "upload".into(),
            disable: false,
            description: String::new(),
            create_time: 1,
            update_time: 1,
        })
        .await
        .unwrap();
        s.close().await;
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert!(s
        .get_job("persist", Role::Guest, 9999)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.get_table_meta("experiment", "t")
            .await
            .unwrap()
            .unwrap()
            .count,
        3
    );
    assert_eq!(
        s.list_table_meta(Some("experiment")).await.unwrap().len(),
        1
    );
    assert!(s.delete_table_meta("experiment", "t").await.unwrap());
    assert!(!s.delete_table_meta("experiment", "t").await.unwrap());
}

fn model(version: &str, role: Role, party_id: u64, parent: bool) -> ModelInfoRecord {
    ModelInfoRecord {
        model_id: "guest-9999#host-10000#model".into(),
        model_version: version.into(),
        role,
        party_id,
        job_id: version.into(),
        roles: json!({"guest": [9999], "host": [10000]}),
        initiator_role: Role::Guest,
        initiator_party_id: 9999,
        train_dsl: json!({"components": {"a_0": {"module": "Reader"}}}),
        train_runtime_conf: json!({"dsl_version": 2}),
        runtime_conf_on_party: json!({"job_parameters": {}}),
        inference_dsl: json!({"components": {}}),
        fate_version: "1.11.4".into(),
        parent,
        parent_info: json!({}),
        loaded_times: 0,
        imported: false,
        size: 7,
        description: String::new(),
        archive_sha256: None,
        archive_from_ip: None,
        create_time: 10,
        update_time: 10,
    }
}

fn component(name: &str, weight: f64) -> PipelineComponentRecord {
    PipelineComponentRecord {
        component_name: name.into(),
        model_alias: "model".into(),
        module: "HeteroLR".into(),
        model: json!({"weight": weight}),
        create_time: 10,
    }
}

async fn models_round_trip_replace_filter_and_count_loads(db: Arc<TestDb>) {
    let s = db.store().await;
    let m = model("1", Role::Guest, 9999, true);
    s.insert_model(&m, &[component("lr_0", 0.5), component("dt_0", 1.0)], false)
        .await
        .unwrap();
    assert_eq!(s.get_model(&m.key()).await.unwrap().unwrap(), m);
    let comps = s.model_components(&m.key()).await.unwrap();
    assert_eq!(
        comps
            .iter()
            .map(|c| c.component_name.as_str())
            .collect::<Vec<_>>(),
        ["dt_0", "lr_0"]
    );
    // The same key again is refused and changes nothing.
    let again = s.insert_model(&m, &[component("x_0", 9.0)], false).await;
    assert!(matches!(again, Err(Error::AlreadyExists(_))), "{again:?}");
    assert_eq!(s.model_components(&m.key()).await.unwrap().len(), 2);
    // Replace swaps the row and every component, atomically.
    let mut newer = m.clone();
    newer.size = 99;
    s.insert_model(&newer, &[component("lr_0", -1.0)], true)
        .await
        .unwrap();
    assert_eq!(s.get_model(&m.key()).await.unwrap().unwrap().size, 99);
    let comps = s.model_components(&m.key()).await.unwrap();
    assert_eq!(comps.len(), 1);
    assert_eq!(comps[0].model, json!({"weight": -1.0}));
    // A replace whose components collide rolls back whole.
    let bad = s
        .insert_model(&m, &[component("lr_0", 1.0), component("lr_0", 2.0)], true)
        .await;
    assert!(bad.is_err());
    assert_eq!(s.get_model(&m.key()).await.unwrap().unwrap().size, 99);

    let child = model("2", Role::Host, 10000, false);
    s.insert_model(&child, &[], false).await.unwrap();
    let all = s.query_models(&ModelFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let parents = s
        .query_models(&ModelFilter {
            parent: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(parents.len(), 1);
    assert_eq!(parents[0].model_version, "1");
    let hosts = s
        .query_models(&ModelFilter {
            role: Some(Role::Host),
            party_id: Some(10000),
            model_id: Some(child.model_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1);
    assert!(s.count_model_load(&child.key(), 20).await.unwrap());
    assert!(s.count_model_load(&child.key(), 21).await.unwrap());
    let loaded = s.get_model(&child.key()).await.unwrap().unwrap();
    assert_eq!((loaded.loaded_times, loaded.update_time), (2, 21));
    let mut missing = child.key();
    missing.model_version = "3".into();
    assert!(!s.count_model_load(&missing, 22).await.unwrap());
}

async fn delete_job_records_removes_one_job_and_keeps_models_and_other_jobs(db: Arc<TestDb>) {
    let s = db.store().await;
    for j in ["j", "k"] {
        s.insert_job(&job(j, Role::Guest, 9999)).await.unwrap();
        s.insert_task(&task(j, "reader_0", 0, Role::Guest, 9999))
            .await
            .unwrap();
        let owner = TaskOwner {
            job_id: j.into(),
            component_name: "reader_0".into(),
            task_id: format!("{j}_reader_0"),
            task_version: 0,
            role: Role::Guest,
            party_id: 9999,
        };
        s.insert_metric(&MetricRecord {
            owner: owner.clone(),
            metric_namespace: "train".into(),
            metric_name: "loss".into(),
            data: json!([[0, 0.5]]),
            meta: json!({}),
            create_time: 1,
        })
        .await
        .unwrap();
        s.insert_output_data(&OutputDataRecord {
            owner: owner.clone(),
            data_name: "data".into(),
            table_namespace: format!("output_data_{j}_reader_0_0"),
            table_name: "data_guest_9999".into(),
            description: String::new(),
            create_time: 1,
        })
        .await
        .unwrap();
        s.put_summary(&owner, &json!({"count": 1}), 1)
            .await
            .unwrap();
        s.put_component_model(&ComponentModelRecord {
            owner,
            model_alias: "model".into(),
            module: "DataTransform".into(),
            model: json!({}),
            create_time: 1,
        })
        .await
        .unwrap();
    }
    let mut m = model("j", Role::Guest, 9999, true);
    m.job_id = "j".into();
    s.insert_model(&m, &[component("reader_0", 1.0)], false)
        .await
        .unwrap();

    let out = s.job_output_data("j").await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].table_namespace, "output_data_j_reader_0_0");
    // job, task, metric, output data, summary, component model.
    assert_eq!(s.delete_job_records("j").await.unwrap(), 6);
    assert!(s.get_job("j", Role::Guest, 9999).await.unwrap().is_none());
    assert!(s.job_output_data("j").await.unwrap().is_empty());
    let (tasks, _) = s
        .query_tasks(&TaskFilter {
            job_id: Some("j".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(tasks.is_empty());
    assert!(s
        .query_component_models("j", "reader_0", Role::Guest, 9999)
        .await
        .unwrap()
        .is_empty());
    // The pipeline model and the other job stay.
    assert_eq!(s.model_components(&m.key()).await.unwrap().len(), 1);
    assert!(s.get_job("k", Role::Guest, 9999).await.unwrap().is_some());
    assert_eq!(s.job_output_data("k").await.unwrap().len(), 1);
    assert_eq!(s.delete_job_records("j").await.unwrap(), 0);
}

fn audit_draft(i: u64, decision: &str) -> AuditDraft {
    AuditDraft {
        time: 1_000 + i as i64,
        direction: Direction::Received,
        party_id: 9999,
        role: "guest".into(),
        local_party_id: 10000,
        fingerprint: "f".repeat(64),
        command: "create".into(),
        job_id: format!("job{}", i % 2),
        datasets: "experiment.breast_hetero_host".into(),
        decision: decision.into(),
        detail: String::new(),
        body_sha256: sha256_hex(&i.to_be_bytes()),
    }
}

async fn grants_are_kept_per_party_and_revoked_by_value_or_wildcard(db: Arc<TestDb>) {
    let s = db.store().await;
    let ds = |ns: &str, n: &str| Grant::Dataset {
        namespace: ns.into(),
        name: n.into(),
    };
    let cpn = |n: &str| Grant::Component { name: n.into() };
    let new = s
        .grant_permissions(
            9999,
            &[
                cpn("reader"),
                cpn("heterolr"),
                ds("exp", "a"),
                ds("exp", "b"),
            ],
            5,
        )
        .await
        .unwrap();
    assert_eq!(new, 4);
    // Granting again changes nothing; another party's grants stay apart.
    assert_eq!(
        s.grant_permissions(9999, &[cpn("reader")], 6)
            .await
            .unwrap(),
        0
    );
    s.grant_permissions(10000, &[Grant::all_components()], 7)
        .await
        .unwrap();
    let mine: Vec<Grant> = s
        .query_permissions(Some(9999))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.grant)
        .collect();
    assert_eq!(
        mine,
        vec![
            cpn("heterolr"),
            cpn("reader"),
            ds("exp", "a"),
            ds("exp", "b")
        ]
    );
    assert_eq!(s.query_permissions(None).await.unwrap().len(), 5);
    assert_eq!(
        s.revoke_permissions(9999, &[ds("exp", "a")]).await.unwrap(),
        1
    );
    assert_eq!(
        s.revoke_permissions(9999, &[Grant::all_components()])
            .await
            .unwrap(),
        2
    );
    let left: Vec<Grant> = s
        .query_permissions(Some(9999))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.grant)
        .collect();
    assert_eq!(left, vec![ds("exp", "b")]);
    assert_eq!(s.query_permissions(Some(10000)).await.unwrap().len(), 1);
}

async fn the_audit_log_chains_its_entries_and_finds_a_modified_row(db: Arc<TestDb>) {
    let s = db.store().await;
    assert!(s.verify_audit().await.unwrap().ok);
    let mut last = GENESIS_HASH.to_string();
    for i in 1..=5u64 {
        let r = s
            .append_audit(&audit_draft(i, if i == 2 { "refused" } else { "allowed" }))
            .await
            .unwrap();
        assert_eq!(r.seq, i as i64);
        assert_eq!(r.prev_hash, last);
        last = r.hash;
    }
    let check = s.verify_audit().await.unwrap();
    assert!(check.ok, "{check:?}");
    assert_eq!((check.entries, check.head.as_str()), (5, last.as_str()));
    let (page, total) = s
        .query_audit(&AuditFilter {
            job_id: Some("job0".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 2]);
    let (refused, _) = s
        .query_audit(&AuditFilter {
            refused_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);

    // The store refuses edits; someone with the file can drop the guard, and then the
    // chain shows the change.
    let err = s
        .execute_script("UPDATE audit_log SET decision = 'allowed' WHERE seq = 2")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(s
        .execute_script("DELETE FROM audit_log WHERE seq = 3")
        .await
        .is_err());
    let drop_guard = match db.backend {
        Backend::Postgres => "DROP TRIGGER audit_log_no_update ON audit_log",
        Backend::Sqlite | Backend::MySql => "DROP TRIGGER audit_log_no_update",
    };
    s.execute_script(drop_guard).await.unwrap();
    s.execute_script("UPDATE audit_log SET decision = 'allowed' WHERE seq = 2")
        .await
        .unwrap();
    let check = s.verify_audit().await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.first_bad_seq, Some(2));
    assert_eq!(check.entries, 1);
    assert!(check.problem.unwrap().contains("modified"));
}

/// Two servers (two pools) append at once: one unbroken chain.
async fn concurrent_appends_form_one_chain(db: Arc<TestDb>) {
    let pools = [Arc::new(db.store().await), Arc::new(db.store().await)];
    let mut handles = Vec::new();
    for t in 0..4u64 {
        let s = pools[t as usize % 2].clone();
        handles.push(tokio::spawn(async move {
            for i in 0..25u64 {
                s.append_audit(&audit_draft(t * 100 + i, "allowed"))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let check = pools[1].verify_audit().await.unwrap();
    assert!(check.ok, "{check:?}");
    assert_eq!(check.entries, 100);
}

/// Several servers (pools) race for the same transitions of one task: exactly one
/// wins each, and the version counts the updates.
async fn concurrent_status_changes_have_one_winner(db: Arc<TestDb>) {
    let pools: Vec<Arc<SqlStore>> = vec![
        Arc::new(db.store().await),
        Arc::new(db.store().await),
        Arc::new(db.store().await),
    ];
    pools[0]
        .insert_job(&job("j1", Role::Guest, 9999))
        .await
        .unwrap();
    let t = task("j1", "reader_0", 0, Role::Guest, 9999);
    pools[0].insert_task(&t).await.unwrap();
    let key = t.key();
    for to in [Status::Running, Status::Success] {
        let mut racers = Vec::new();
        for i in 0..12 {
            let s = pools[i % pools.len()].clone();
            let key = key.clone();
            racers.push(tokio::spawn(async move {
                s.update_task_party_status(&key, to, 10).await.unwrap()
            }));
        }
        let mut wins = 0;
        for r in racers {
            wins += usize::from(r.await.unwrap());
        }
        assert_eq!(wins, 1, "moves to {to}");
    }
    let row = pools[2].get_task(&key).await.unwrap().unwrap();
    assert_eq!((row.party_status, row.version), (Status::Success, 2));
    // Job rows: racers that read the same row, only one may write from it.
    let seen = pools[1]
        .get_job("j1", Role::Guest, 9999)
        .await
        .unwrap()
        .unwrap();
    let mut racers = Vec::new();
    for i in 0..12 {
        let s = pools[i % pools.len()].clone();
        let seen = seen.clone();
        racers.push(tokio::spawn(async move {
            s.update_job_status_from(&seen, Status::Waiting, &JobUpdate::default(), 11)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap());
    }
    assert_eq!(wins, 1);
}

/// Read-modify-write from several pools through the version: every successful
/// write is counted once (no lost update) and each writer sees versions grow.
async fn versions_detect_lost_updates(db: Arc<TestDb>) {
    let pools: Vec<Arc<SqlStore>> = vec![Arc::new(db.store().await), Arc::new(db.store().await)];
    pools[0]
        .insert_job(&job("j1", Role::Guest, 9999))
        .await
        .unwrap();
    assert!(pools[0]
        .update_job_status("j1", Role::Guest, 9999, Status::Waiting, 1)
        .await
        .unwrap());
    let mut workers = Vec::new();
    for w in 0..6 {
        let s = pools[w % pools.len()].clone();
        workers.push(tokio::spawn(async move {
            let (mut wins, mut last_version) = (0u64, -1);
            for _ in 0..15 {
                let seen = s.get_job("j1", Role::Guest, 9999).await.unwrap().unwrap();
                assert!(seen.version >= last_version, "versions never go back");
                last_version = seen.version;
                // waiting → running → success → waiting → ...
                let next = match seen.status {
                    Status::Waiting => Status::Running,
                    Status::Running => Status::Success,
                    _ => Status::Waiting,
                };
                let bump = JobUpdate {
                    progress: Some(seen.progress + 1),
                    ..Default::default()
                };
                if s.update_job_status_from(&seen, next, &bump, 2)
                    .await
                    .unwrap()
                {
                    wins += 1;
                }
            }
            wins
        }));
    }
    let mut wins = 0;
    for w in workers {
        wins += w.await.unwrap();
    }
    let row = pools[1]
        .get_job("j1", Role::Guest, 9999)
        .await
        .unwrap()
        .unwrap();
    assert!(wins > 0);
    assert_eq!(
        row.progress as u64, wins,
        "one increment per successful write"
    );
    assert_eq!(
        row.version as u64,
        wins + 1,
        "the first status change and the wins"
    );
}

/// The scheduler lease: one holder among racing instances, renewals by the holder
/// only, a takeover only after it expires or is released, with a new epoch each time.
async fn the_lease_has_one_holder_and_a_new_epoch_per_takeover(db: Arc<TestDb>) {
    let pools: Vec<Arc<SqlStore>> = vec![
        Arc::new(db.store().await),
        Arc::new(db.store().await),
        Arc::new(db.store().await),
    ];
    let mut racers = Vec::new();
    for i in 0..9 {
        let s = pools[i % pools.len()].clone();
        racers.push(tokio::spawn(async move {
            s.acquire_lease(SCHEDULER_LEASE, &format!("i{i}"), 60_000)
                .await
                .unwrap()
                .map(|epoch| (i, epoch))
        }));
    }
    let mut winners = Vec::new();
    for r in racers {
        winners.extend(r.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (winner, epoch) = winners[0];
    assert_eq!(epoch, 1);
    let holder = format!("i{winner}");
    let state = pools[1]
        .lease_state(SCHEDULER_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(state.held() && state.holder == holder, "{state:?}");
    assert!(pools[2]
        .renew_lease(SCHEDULER_LEASE, &holder, 1, 60_000)
        .await
        .unwrap());
    assert!(!pools[2]
        .renew_lease(SCHEDULER_LEASE, "other", 1, 60_000)
        .await
        .unwrap());
    assert!(!pools[2]
        .renew_lease(SCHEDULER_LEASE, &holder, 2, 60_000)
        .await
        .unwrap());
    // Released: another takes it at once, with the next epoch; the old holder cannot renew.
    pools[0]
        .release_lease(SCHEDULER_LEASE, &holder, 1)
        .await
        .unwrap();
    assert_eq!(
        pools[1]
            .acquire_lease(SCHEDULER_LEASE, "next", 50)
            .await
            .unwrap(),
        Some(2)
    );
    assert!(!pools[0]
        .renew_lease(SCHEDULER_LEASE, &holder, 1, 60_000)
        .await
        .unwrap());
    // Expired (a 50 ms lease): taken over with epoch 3, and the expired holder cannot renew.
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert!(!pools[1]
        .renew_lease(SCHEDULER_LEASE, "next", 2, 60_000)
        .await
        .unwrap());
    assert_eq!(
        pools[2]
            .acquire_lease(SCHEDULER_LEASE, "third", 60_000)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        pools[0]
            .acquire_lease(SCHEDULER_LEASE, "late", 60_000)
            .await
            .unwrap(),
        None
    );
}

/// A store fenced at an epoch changes jobs and tasks only while the lease has it.
async fn a_fenced_store_cannot_write_after_a_takeover(db: Arc<TestDb>) {
    let old = db.store().await;
    let new = db.store().await;
    old.insert_job(&job("j1", Role::Guest, 9999)).await.unwrap();
    let t = task("j1", "reader_0", 0, Role::Guest, 9999);
    old.insert_task(&t).await.unwrap();
    let epoch = old
        .acquire_lease(SCHEDULER_LEASE, "old", 50)
        .await
        .unwrap()
        .unwrap();
    old.set_fence(epoch);
    assert!(old
        .update_job_status("j1", Role::Guest, 9999, Status::Waiting, 1)
        .await
        .unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let next = new
        .acquire_lease(SCHEDULER_LEASE, "new", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, epoch + 1);
    // The paused ex-leader wakes up: none of its writes land.
    assert!(!old
        .update_job_status("j1", Role::Guest, 9999, Status::Running, 2)
        .await
        .unwrap());
    assert!(!old
        .update_task_party_status(&t.key(), Status::Running, 2)
        .await
        .unwrap());
    let stale = TaskUpdate {
        run_pid: Some(42),
        ..Default::default()
    };
    old.update_task(&t.key(), &stale, 2).await.unwrap();
    let row = new.get_task(&t.key()).await.unwrap().unwrap();
    assert_eq!((row.party_status, row.run_pid), (Status::Waiting, None));
    // The new holder, fenced at its epoch, writes.
    new.set_fence(next);
    assert!(new
        .update_job_status("j1", Role::Guest, 9999, Status::Running, 3)
        .await
        .unwrap());
    assert!(new
        .update_task_party_status(&t.key(), Status::Running, 3)
        .await
        .unwrap());
}

/// Instances register with distinct slots, heartbeat, and are listed and removed.
async fn instances_register_with_distinct_slots(db: Arc<TestDb>) {
    let s = Arc::new(db.store().await);
    let mut handles = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.register_instance(&InstanceRecord {
                instance_id: format!("inst-{i}"),
                slot: 0,
                host: "h".into(),
                address: format!("http://127.0.0.1:{}", 9000 + i),
                pid: i,
                version: "t".into(),
                started_at: 0,
                heartbeat_at: 0,
            })
            .await
            .unwrap()
        }));
    }
    let mut slots = Vec::new();
    for h in handles {
        slots.push(h.await.unwrap());
    }
    slots.sort();
    assert_eq!(slots, vec![0, 1, 2, 3, 4, 5]);
    assert!(s.heartbeat_instance("inst-3").await.unwrap());
    assert!(!s.heartbeat_instance("nobody").await.unwrap());
    let (list, now) = s.list_instances().await.unwrap();
    assert_eq!(list.len(), 6);
    assert!(
        list.iter().all(|i| (now - i.heartbeat_at).abs() < 60_000),
        "{list:?} {now}"
    );
    s.remove_instance("inst-0").await.unwrap();
    assert_eq!(s.list_instances().await.unwrap().0.len(), 5);
}

on_every_backend!(
    job_round_trip_and_duplicate,
    job_status_follows_the_rules,
    job_filters_and_paging,
    tasks_latest_version_and_status_rules,
    resources_are_all_or_nothing,
    tracking_rows_and_clean,
    models_round_trip_replace_filter_and_count_loads,
    delete_job_records_removes_one_job_and_keeps_models_and_other_jobs,
    grants_are_kept_per_party_and_revoked_by_value_or_wildcard,
    the_audit_log_chains_its_entries_and_finds_a_modified_row,
    concurrent_appends_form_one_chain,
    concurrent_status_changes_have_one_winner,
    versions_detect_lost_updates,
    the_lease_has_one_holder_and_a_new_epoch_per_takeover,
    a_fenced_store_cannot_write_after_a_takeover,
    instances_register_with_distinct_slots,
);

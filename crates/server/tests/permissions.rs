//! Permissions across two real sites (guest 9999, host 10000, each its own server
//! process, gateways over mutual TLS): nothing is granted until the host's operator
//! grants it, refusals are FATE's retcode 108 naming what is missing, and the host's
//! hash-chained audit log records every attempt and shows a modified row.

mod common;
mod twosite;

use serde_json::{json, Value};
use std::time::Duration;
use twosite::{Options, TwoSites};

fn submit(site: &common::Server, example: &str) -> Value {
    let dir = common::examples().join("jobs").join(example);
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    site.post(
        "job/submit",
        json!({"job_dsl": read("dsl.json"), "job_runtime_conf": read("conf.json")}),
    )
}

fn host_grant(sites: &TwoSites, verb: &str, body: Value) -> Value {
    let r = sites.host.post(&format!("permission/{verb}"), body);
    assert_eq!(r["retcode"], 0, "{r}");
    r
}

fn audit(site: &common::Server, filter: Value) -> Vec<Value> {
    let r = site.post("audit/query", filter);
    assert_eq!(r["retcode"], 0, "{r}");
    r["data"]["entries"].as_array().unwrap().clone()
}

#[test]
fn a_job_on_the_hosts_table_runs_only_while_the_host_grants_it() {
    let sites = TwoSites::start(&Options {
        grant_partners: false,
        ..Default::default()
    });
    sites.upload_breast();
    let list = sites.host.post("permission/list", json!({}));
    assert_eq!(list["data"]["enabled"], true, "{list}");

    // Nothing granted: refused at create, naming every module and the table.
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 108, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    for needle in [
        "host:10000",
        "party 9999",
        "reader",
        "intersection",
        "dataset experiment.breast_hetero_host",
        "flow privilege grant",
    ] {
        assert!(msg.contains(needle), "`{needle}` not in {msg}");
    }
    let refused_job = r["jobId"].as_str().unwrap().to_string();
    // Nothing half-made at the host; the guest's copy ended and holds no resources.
    assert!(
        sites.host_job(&refused_job).is_null(),
        "{}",
        sites.host_job(&refused_job)
    );
    let g = sites.guest.job(&refused_job);
    assert_eq!(g["f_status"], "failed", "{g}");
    assert_eq!(g["f_resource_in_use"], false, "{g}");

    // Every component granted, the table not: refused naming only the table.
    host_grant(&sites, "grant", json!({"party_id": 9999, "component": "*"}));
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 108, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("dataset experiment.breast_hetero_host"),
        "{msg}"
    );
    assert!(!msg.contains("component"), "{msg}");

    // Granted: the job runs at both sites.
    host_grant(
        &sites,
        "grant",
        json!({"party_id": "9999", "dataset": [{"namespace": "experiment", "name": "breast_hetero_host"}]}),
    );
    let q = sites
        .host
        .post("permission/query", json!({"party_id": 9999}));
    assert_eq!(
        q["data"],
        json!({"component": ["*"], "dataset": [{"namespace": "experiment", "name": "breast_hetero_host"}]}),
        "{q}"
    );
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 0, "{r}");
    let ok_job = r["jobId"].as_str().unwrap().to_string();
    let job = sites.guest.wait_end(&ok_job, Duration::from_secs(180));
    assert_eq!(job["f_status"], "success", "{job}");

    // Revoked: the next job is refused again.
    host_grant(
        &sites,
        "delete",
        json!({"party_id": 9999, "dataset": [{"namespace": "experiment", "name": "breast_hetero_host"}]}),
    );
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 108, "{r}");

    // The host's log: every create attempt with its decision, the grants, and a chain
    // that verifies.
    let creates = audit(&sites.host, json!({"command": "create", "limit": 100}));
    let decisions: Vec<(&str, &str)> = creates
        .iter()
        .rev()
        .map(|e| {
            (
                e["job_id"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(decisions.len(), 4, "{creates:?}");
    assert_eq!(decisions[0], (refused_job.as_str(), "refused"));
    assert_eq!(decisions[2], (ok_job.as_str(), "allowed"));
    assert_eq!(decisions[3].1, "refused");
    for e in &creates {
        assert_eq!(e["party_id"], 9999, "{e}");
        assert_eq!(e["direction"], "received", "{e}");
        assert_eq!(e["datasets"], "experiment.breast_hetero_host", "{e}");
        assert_eq!(
            e["fingerprint"].as_str().unwrap(),
            sites.guest_files.fingerprint,
            "{e}"
        );
    }
    let changes = audit(&sites.host, json!({"party_id": 9999}))
        .into_iter()
        .filter(|e| e["direction"] == "operator")
        .count();
    assert_eq!(changes, 3);
    let v = sites.host.post("audit/verify", json!({}));
    assert_eq!(v["data"]["ok"], true, "{v}");

    // Both ends saw the same commands for the job that ran.
    let at_guest = sites.guest.post("audit/digest", json!({"job_id": ok_job}));
    let at_host = sites.host.post("audit/digest", json!({"job_id": ok_job}));
    let sent = &at_guest["data"]["parties"][0];
    let received = &at_host["data"]["parties"][0];
    assert_eq!(
        (&sent["party_id"], &received["party_id"]),
        (&json!(10000), &json!(9999))
    );
    assert!(sent["sent"]["count"].as_u64().unwrap() >= 4, "{at_guest}");
    assert_eq!(
        sent["sent"]["digest"], received["received"]["digest"],
        "{at_guest}\n{at_host}"
    );
    let host_entries = sites.host.post("audit/query", json!({"job_id": ok_job}));
    println!(
        "psi_ecdh at two sites: {} commands sent by the guest, {} received by the host, {} audit entries at the host for the job",
        sent["sent"]["count"], received["received"]["count"], host_entries["data"]["total"]
    );

    // Someone with the database file changes a refusal into an approval: the chain
    // shows it.
    let seq = creates.last().unwrap()["seq"].as_i64().unwrap();
    twosite::runtime().block_on(async {
        let store = fateflow_storage::SqliteStore::open(&sites.host_files.data_dir.join("fateflow.db"))
            .await
            .unwrap();
        store
            .execute_script(&format!(
                "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET decision = 'allowed' WHERE seq = {seq}"
            ))
            .await
            .unwrap();
    });
    let v = sites.host.post("audit/verify", json!({}));
    assert_eq!(v["data"]["ok"], false, "{v}");
    assert_eq!(v["data"]["first_bad_seq"], seq, "{v}");
}

#[test]
fn grants_with_unknown_components_or_malformed_parties_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let site = common::Server::start(dir.path(), &[], &[]);
    let r = site.post(
        "permission/grant",
        json!({"party_id": 9998, "component": "reader,heterolrr"}),
    );
    assert_eq!(r["retcode"], 101, "{r}");
    let msg = r["retmsg"].as_str().unwrap();
    assert!(
        msg.contains("`heterolrr`") && msg.contains("did you mean `heterolr`"),
        "{msg}"
    );
    let r = site.post(
        "permission/grant",
        json!({"party_id": "abc", "component": "reader"}),
    );
    assert_eq!(r["retcode"], 101, "{r}");
    let r = site.post("permission/grant", json!({"component": "reader"}));
    assert_eq!(r["retcode"], 101, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("party_id"), "{r}");
    let r = site.post("permission/grant", json!({"party_id": 9998}));
    assert_eq!(r["retcode"], 101, "{r}");
    let r = site.post(
        "permission/grant",
        json!({"party_id": 9998, "dataset": [{"namespace": "x"}]}),
    );
    assert_eq!(r["retcode"], 101, "{r}");
    assert!(r["retmsg"].as_str().unwrap().contains("dataset[0]"), "{r}");
    // A table that does not exist is granted with a warning; an alias is stored as its
    // module.
    let r = site.post(
        "permission/grant",
        json!({"party_id": 9998, "component": "DataIO", "dataset": {"namespace": "experiment", "name": "later"}}),
    );
    assert_eq!(r["retcode"], 0, "{r}");
    assert!(
        r["retmsg"]
            .as_str()
            .unwrap()
            .contains("experiment.later does not exist"),
        "{r}"
    );
    let q = site.post("permission/query", json!({"party_id": "9998"}));
    assert_eq!(q["data"]["component"], json!(["datatransform"]), "{q}");
    let v = site.post("audit/verify", json!({}));
    assert_eq!(
        (v["data"]["ok"].clone(), v["data"]["entries"].clone()),
        (json!(true), json!(1)),
        "{v}"
    );
}

#[test]
fn with_permission_off_a_partner_needs_no_grant() {
    let sites = TwoSites::start(&Options {
        grant_partners: false,
        extra_args: vec!["--permission".into(), "off".into()],
        ..Default::default()
    });
    sites.upload_breast();
    let list = sites.host.post("permission/list", json!({}));
    assert_eq!(list["data"]["enabled"], false, "{list}");
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 0, "{r}");
    let job_id = r["jobId"].as_str().unwrap().to_string();
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(180));
    assert_eq!(job["f_status"], "success", "{job}");
    // Still audited.
    let creates = audit(&sites.host, json!({"job_id": job_id, "command": "create"}));
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["decision"], "allowed");
}

#[test]
fn a_grant_revoked_mid_job_fails_the_next_task_there_with_the_reason() {
    let sites = TwoSites::start(&Options {
        host_env: vec![("FATEFLOW_TEST_TASK_DELAY_MS".into(), "3000".into())],
        ..Default::default()
    });
    sites.upload_breast();
    let r = submit(&sites.guest, "psi_ecdh");
    assert_eq!(r["retcode"], 0, "{r}");
    let job_id = r["jobId"].as_str().unwrap().to_string();
    sites
        .guest
        .wait_tasks(&job_id, Duration::from_secs(60), |tasks| {
            tasks.iter().any(|t| {
                t["component_name"] == "reader_0"
                    && (t["party_id"] == json!(10000) || t["party_id"] == json!("10000"))
                    && t["party_status"] == "running"
            })
        });
    host_grant(&sites, "delete", json!({"party_id": 9999, "dataset": "*"}));
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(90));
    assert_eq!(job["f_status"], "failed", "{job}");
    let tasks = sites.guest.tasks(&job_id);
    let refused = tasks
        .iter()
        .find(|t| t["party_status"] == "failed")
        .unwrap_or_else(|| panic!("no failed task: {tasks:?}"));
    let reason = refused["error_report"].as_str().unwrap_or_default();
    assert!(
        reason.contains("permission check failed")
            && reason.contains("experiment.breast_hetero_host"),
        "{refused}"
    );
    // Only the refused task's party failed it; nothing ran after the revocation at the host.
    assert_eq!(refused["component_name"], "data_transform_0", "{refused}");
}

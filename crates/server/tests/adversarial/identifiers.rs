//! Identifiers that become paths: hostile job ids and component names, from a routed
//! partner through the gateway and from a client through the REST API, are refused
//! by name and never create or write anything outside the data dir.

use crate::common::{examples, Server};
use crate::twosite;
use serde_json::{json, Value};
use std::path::Path;

/// Ids an attacker would try; none is a plain name of our grammar.
fn hostile(outside: &Path) -> Vec<String> {
    vec![
        "../../../escape".into(),
        outside.join("abs").display().to_string(),
        "..".into(),
        ".".into(),
        "a/../../b".into(),
        "job\0nul".into(),
        "job\\..\\x".into(),
        "-rf".into(),
        "a".repeat(300),
        "job id".into(),
    ]
}

fn example(name: &str) -> (Value, Value) {
    let dir = examples().join("jobs").join(name);
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    (read("dsl.json"), read("conf.json"))
}

/// Every file and directory under `root`, to prove nothing new appeared.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_routed_partner_cannot_choose_where_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let (guest_cert, _) = twosite::make_cert(&dir.path().join("guest"));
    let host_dir = dir.path().join("host").join("a").join("b");
    let (host, port, host_cert) =
        twosite::start_routed_host(dir.path(), &host_dir, &[(9999, &guest_cert)]);
    let peers = twosite::peers_to_host(&dir.path().join("guest"), port, &host_cert);
    let (dsl, conf) = example("reader_transform");
    let before_outside = tree(dir.path());
    let rt = twosite::runtime();
    let send = |job_id: &str, cmd: Value| {
        rt.block_on(peers.command(twosite::command_to_host(job_id, "guest", 9999, &cmd)))
    };
    for id in hostile(&outside) {
        let create = json!({"command": "create_job", "dsl": dsl, "runtime_conf": conf});
        let reply = send(&id, create).expect("the gateway answers");
        assert!(!reply.ok, "job id {id:?} was accepted");
        assert!(
            reply.message.contains("job_id"),
            "refusal of {id:?} does not name the field: {}",
            reply.message
        );
        let start = json!({"command": "start_task", "component": "reader_0", "task_version": 0});
        let reply = send(&id, start).expect("the gateway answers");
        assert!(!reply.ok, "start_task of job {id:?} was accepted");
    }
    // A good job id with a hostile component name.
    let good = "202612050000000000000";
    let reply = send(
        good,
        json!({"command": "create_job", "dsl": dsl, "runtime_conf": conf}),
    )
    .unwrap();
    assert!(reply.ok, "a valid job was refused: {}", reply.message);
    for cpn in hostile(&outside) {
        let reply = send(
            good,
            json!({"command": "start_task", "component": cpn, "task_version": 0}),
        )
        .unwrap();
        assert!(!reply.ok, "component {cpn:?} was accepted");
        assert!(
            reply.message.contains("component_name"),
            "{}",
            reply.message
        );
    }
    // Nothing appeared anywhere but under the host's data dir, and no job row exists
    // for any hostile id.
    let after: Vec<String> = tree(dir.path())
        .into_iter()
        .filter(|p| !Path::new(p).starts_with(&host_dir))
        .collect();
    let before: Vec<String> = before_outside
        .into_iter()
        .filter(|p| !Path::new(p).starts_with(&host_dir))
        .collect();
    assert_eq!(after, before, "files appeared outside the data dir");
    let jobs = host.post("job/list/job", json!({"limit": 100}));
    let listed = jobs["data"]["jobs"].as_array().cloned().unwrap_or_default();
    assert!(
        listed
            .iter()
            .all(|j| j["f_job_id"] == good || j["job_id"] == good),
        "jobs with hostile ids were created: {jobs}"
    );
}

#[test]
fn hostile_component_names_are_refused_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let server = Server::start(&dir.path().join("site"), &[], &[]);
    let (dsl, conf) = example("reader_transform");
    for name in hostile(&outside) {
        let mut dsl = dsl.clone();
        let cpn = dsl["components"]["reader_0"].clone();
        dsl["components"] = json!({ name.clone(): cpn });
        let mut conf = conf.clone();
        for role in ["guest", "host"] {
            let p = conf["component_parameters"]["role"][role]["0"]["reader_0"].clone();
            conf["component_parameters"]["role"][role]["0"] = json!({ name.clone(): p });
        }
        let r = server.post(
            "job/submit",
            json!({"job_dsl": dsl, "job_runtime_conf": conf}),
        );
        assert_ne!(r["retcode"], 0, "component {name:?} accepted: {r}");
        let msg = r["retmsg"].as_str().unwrap_or_default();
        assert!(msg.contains("name"), "refusal of {name:?}: {msg}");
    }
    assert!(
        !outside.exists(),
        "a component name made a directory outside"
    );
    assert!(!dir.path().join("escape").exists());
}

//! Leaked resources: a restarted host keeping a dead job's cores, a partner pinning a
//! site's capacity with `create_job` + `apply_resource` and never starting, and a
//! running copy whose initiator does not know the job. Two real sites over the
//! gateway; each host offers 2 cores, exactly one `psi_ecdh` job's share, so a leaked
//! hold blocks every later job there.

use crate::common::examples;
use crate::twosite::{self, Options, TwoSites};
use fateflow_gateway::proto::CommandReply;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn ended(j: &Value) -> bool {
    ["success", "failed", "canceled", "timeout"].contains(&j["f_status"].as_str().unwrap_or(""))
}

/// Ended, and its resources returned.
fn ended_and_freed(j: &Value) -> bool {
    ended(j) && !(j["f_resource_in_use"] == true || j["f_resource_in_use"] == 1)
}

fn host_reader_running(tasks: &[Value]) -> bool {
    tasks.iter().any(|t| {
        t["component_name"] == "reader_0"
            && (t["party_id"] == json!(10000) || t["party_id"] == json!("10000"))
            && t["party_status"] == "running"
    })
}

fn example(name: &str) -> (Value, Value) {
    let dir = examples().join("jobs").join(name);
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    (read("dsl.json"), read("conf.json"))
}

/// A client holding the guest site's gateway identity: it speaks for party 9999 as a
/// misbehaving partner would, without the guest's scheduler.
struct FakeInitiator {
    peers: fateflow_gateway::Peers,
    rt: tokio::runtime::Runtime,
}

impl FakeInitiator {
    fn new(sites: &TwoSites) -> Self {
        FakeInitiator {
            peers: sites.guest_files.peers(),
            rt: twosite::runtime(),
        }
    }

    /// Sends one command about `job_id` from guest 9999 to host 10000.
    fn command(&self, job_id: &str, cmd: Value) -> CommandReply {
        let req = twosite::command_to_host(job_id, "guest", 9999, &cmd);
        self.rt
            .block_on(self.peers.command(req))
            .unwrap_or_else(|e| panic!("{} to the host: {e:?}", cmd["command"]))
    }

    /// `create_job` (the psi_ecdh example) then `apply_resource` at the host.
    fn create_and_apply(&self, job_id: &str) {
        let (dsl, conf) = example("psi_ecdh");
        let r = self.command(
            job_id,
            json!({"command": "create_job", "dsl": dsl, "runtime_conf": conf}),
        );
        assert!(r.ok, "create_job refused: {}", r.message);
        let r = self.command(job_id, json!({"command": "apply_resource"}));
        assert!(r.ok, "apply_resource refused: {}", r.message);
    }
}

/// Reruns of CI's restarted-host finding: a host killed mid-job comes back after the
/// guest failed the job; its copy must end and its cores come back.
#[test]
fn a_restarted_host_ends_its_copy_of_a_job_the_guest_failed_and_frees_its_cores() {
    let opts = Options {
        party_timeout: 3.0,
        host_env: vec![("FATEFLOW_TEST_TASK_DELAY_MS".into(), "600000".into())],
        extra_args: vec!["--cores".into(), "2".into()],
        ..Default::default()
    };
    let mut sites = TwoSites::start(&opts);
    sites.upload_breast();
    let job_id = sites.guest.submit_example("psi_ecdh");
    sites
        .guest
        .wait_tasks(&job_id, Duration::from_secs(60), host_reader_running);
    sites.wait_host_job(&job_id, Duration::from_secs(10), |j| {
        j["f_status"] == "running"
    });
    sites.host.kill9();
    // The guest fails the job naming the host; the host is down and never hears it.
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(40));
    assert_eq!(job["f_status"], "failed", "{job}");
    // Let the guest give up sending the end to the dead host (a few retries), so only
    // the restarted host itself can notice.
    std::thread::sleep(Duration::from_secs(8));

    sites.restart_host();
    // The restarted host asks the guest, learns the job failed, ends its copy.
    let copy = sites.wait_host_job(&job_id, Duration::from_secs(30), ended_and_freed);
    assert_eq!(copy["f_status"], "failed", "{copy}");
    let reason = copy["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("guest:9999") && reason.contains(&job_id),
        "the reason names the initiator and the job: {reason}"
    );

    // The host's 2 cores are free: a new job runs there to the end.
    let next = sites.guest.submit_example("psi_ecdh");
    let job = sites.guest.wait_end(&next, Duration::from_secs(180));
    assert_eq!(job["f_status"], "success", "{job}");
}

/// A partner creates a job at the host and takes its resources, then never starts it:
/// the hold times out, the copy fails naming the initiator, the cores come back, and
/// a late start is refused.
#[test]
fn a_partner_that_applies_resources_and_never_starts_loses_them_after_the_hold_timeout() {
    let opts = Options {
        extra_args: vec![
            "--cores".into(),
            "2".into(),
            "--resource-hold-timeout".into(),
            "4".into(),
        ],
        ..Default::default()
    };
    let sites = TwoSites::start(&opts);
    sites.upload_breast();
    let fake = FakeInitiator::new(&sites);
    let pinned = "202612050000000000001";
    fake.create_and_apply(pinned);
    let t0 = Instant::now();
    let copy = sites.host_job(pinned);
    assert!(!ended(&copy), "{copy}");
    assert!(
        copy["f_resource_in_use"] == true || copy["f_resource_in_use"] == 1,
        "the partner holds the host's cores: {copy}"
    );

    // A real job from the guest needs the same cores at the host.
    let job_id = sites.guest.submit_example("psi_ecdh");
    let copy = sites.wait_host_job(pinned, Duration::from_secs(30), ended_and_freed);
    let took = t0.elapsed();
    assert_eq!(copy["f_status"], "failed", "{copy}");
    let reason = copy["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("guest:9999") && reason.contains("resource hold timeout"),
        "{reason}"
    );
    assert!(
        took >= Duration::from_secs(3),
        "not before the timeout: {took:?}"
    );
    let job = sites.guest.wait_end(&job_id, Duration::from_secs(180));
    assert_eq!(job["f_status"], "success", "{job}");

    // Starting the ended copy now is refused with its reason.
    let r = fake.command(pinned, json!({"command": "start_job"}));
    assert!(!r.ok, "a start after the hold timed out was accepted");
    assert!(r.message.contains("already ended"), "{}", r.message);
    // So is a task start sent straight to it: nothing is launched.
    let r = fake.command(
        pinned,
        json!({"command": "start_task", "component": "reader_0", "task_version": 0}),
    );
    let started: Value = serde_json::from_slice(&r.data_json).unwrap_or_default();
    assert_ne!(started["started"], true, "a task of the ended copy started");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        sites
            .host
            .tasks(pinned)
            .iter()
            .all(|t| t["party_status"] != "running"),
        "a task of the ended copy runs"
    );
    assert_eq!(sites.host_job(pinned)["f_status"], "failed");
}

/// A partner starts a job at the host that the guest's site does not know (it lost
/// it, or never had it): after the initiator check interval the host asks, and ends
/// its copy.
#[test]
fn a_running_copy_whose_initiator_does_not_know_the_job_is_ended() {
    let opts = Options {
        extra_args: vec![
            "--cores".into(),
            "2".into(),
            "--initiator-check-seconds".into(),
            "2".into(),
        ],
        ..Default::default()
    };
    let sites = TwoSites::start(&opts);
    let fake = FakeInitiator::new(&sites);
    let lost = "202612050000000000002";
    fake.create_and_apply(lost);
    for cmd in [
        json!({"command": "sync_job_status", "status": "waiting", "reason": null}),
        json!({"command": "start_job"}),
    ] {
        let r = fake.command(lost, cmd);
        assert!(r.ok, "refused: {}", r.message);
    }
    assert_eq!(sites.host_job(lost)["f_status"], "running");
    let copy = sites.wait_host_job(lost, Duration::from_secs(30), ended_and_freed);
    assert_eq!(copy["f_status"], "failed", "{copy}");
    let reason = copy["f_error_report"].as_str().unwrap_or("");
    assert!(
        reason.contains("guest:9999") && reason.contains("does not know"),
        "{reason}"
    );
}

/// The `JobStatus` query answers only a party of the job: the host learns the status
/// of a job it is in, hears "unknown" for a job id the guest does not hold, and is
/// refused for a guest-only job.
#[test]
fn the_job_status_query_answers_only_the_jobs_parties() {
    use fateflow_gateway::proto::JobStatusRequest;
    let sites = TwoSites::start(&Options::default());
    sites.upload_breast();
    let shared = sites.guest.submit_example("psi_ecdh");
    let (dsl, _) = example("reader_transform");
    let conf = json!({
        "dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999]},
        "component_parameters": {"role": {"guest": {"0": {
            "reader_0": {"table": {"name": "breast_hetero_guest", "namespace": "experiment"}},
            "data_transform_0": {"with_label": true, "label_name": "y", "label_type": "int"}
        }}}}
    });
    let guest_only = sites.guest.submit(dsl, conf);

    let peers = sites.host_files.peers();
    let ask = |job_id: &str| JobStatusRequest {
        job_id: job_id.into(),
        src_role: "host".into(),
        src_party_id: 10000,
        dst_role: "guest".into(),
        dst_party_id: 9999,
    };
    twosite::runtime().block_on(async {
        let r = peers.job_status(ask(&shared)).await.unwrap();
        assert!(r.known, "{r:?}");
        assert!(!r.status.is_empty(), "{r:?}");
        let r = peers
            .job_status(ask("202612050000000000009"))
            .await
            .unwrap();
        assert!(!r.known, "{r:?}");
        let e = peers.job_status(ask(&guest_only)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("host:10000"), "{}", e.message());
    });
}

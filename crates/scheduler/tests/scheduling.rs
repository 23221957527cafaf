//! The scheduler's state machine end to end, in-process: submit, resources, task
//! starts, reports, success, failure, stop, rerun, auto-retry, timeouts, the waiting
//! queue and dead processes. Tasks are fake (see `harness`); the rest is the real
//! controller, scheduler loop and detector over an in-memory store.

mod harness;

use fateflow_domain::{ErrorKind, Party, Status};
use fateflow_scheduler::controller::TokenError;
use harness::*;
use serde_json::json;
use std::time::Duration;

async fn assert_resources_back(site: &Site, parties: &[u64], cores: i64) {
    for p in parties {
        site.wait_until(&format!("the cores of {p} to come back"), || async {
            site.free_cores(*p).await == cores
        })
        .await;
    }
}

async fn assert_no_process_left(site: &Site) {
    site.wait_until("every fake process to exit", || async {
        site.launcher.alive().is_empty()
    })
    .await;
}

/// Waits until `component`'s task at `party` runs with a process.
async fn wait_running(site: &Site, job_id: &str, component: &str, party: Party) {
    site.wait_until(&format!("{component} to run at {party}"), || async {
        let rows = site.task_versions(job_id, component, party).await;
        rows.last()
            .is_some_and(|t| t.party_status == Status::Running && t.run_pid.is_some())
    })
    .await;
}

#[tokio::test]
async fn one_party_job_runs_to_success() {
    let site = Site::guest_only().await;
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    assert_eq!(job.progress, 100);
    assert_eq!(job.error_report, None);
    assert!(job.start_time.is_some() && job.end_time.is_some());
    for cpn in ["reader_0", "data_transform_0"] {
        let t = site.task(&job_id, cpn, GUEST).await;
        assert_eq!(
            (t.status, t.party_status),
            (Status::Success, Status::Success)
        );
        assert_eq!(t.task_version, 0);
        assert!(t.run_pid.is_some() && t.end_time.is_some());
    }
    // Upstream first, one launch each, each with its own token.
    let launches = site.launcher.launches();
    let order: Vec<&str> = launches.iter().map(|l| l.spec.component.as_str()).collect();
    assert_eq!(order, ["reader_0", "data_transform_0"]);
    assert!(launches.iter().all(|l| !l.spec.token.is_empty()));
    assert_ne!(launches[0].spec.token, launches[1].spec.token);
    // Every final report was taken with the task's token.
    let outcomes = site.launcher.outcomes();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Reported { changed: true, .. })));
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
    assert!(!site.job(&job_id, GUEST).await.resource_in_use);
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn three_parties_on_one_site_run_to_success() {
    let site = Site::start().await;
    let (dsl, conf) = three_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    site.wait_end(&job_id).await;
    for party in [GUEST, HOST, ARBITER] {
        let job = site.wait_job(&job_id, party, ended).await;
        assert_eq!(
            job.status,
            Status::Success,
            "at {party}: {}",
            site.dump(&job_id).await
        );
        assert_eq!(job.progress, 100, "at {party}");
    }
    let tasks = site.tasks(&job_id).await;
    // Every party's share of every component ended well; nothing was retried.
    assert!(tasks.iter().all(|t| t.task_version == 0));
    assert!(
        tasks
            .iter()
            .all(|t| matches!(t.party_status, Status::Success | Status::Pass)),
        "{}",
        site.dump(&job_id).await
    );
    // The host's evaluation has need_run false: passed, never launched.
    let eval = site.task(&job_id, "evaluation_0", HOST).await;
    assert_eq!(eval.party_status, Status::Pass);
    assert!(eval.run_pid.is_none());
    let launches = site.launcher.launches();
    let ran = tasks
        .iter()
        .filter(|t| t.party_status == Status::Success)
        .count();
    assert_eq!(launches.len(), ran);
    // The arbiter takes part (HeteroLR at least).
    assert!(launches.iter().any(|l| l.spec.role == ARBITER.role));
    // task_parallelism 1 on a chain: components run one after another, in DSL order.
    let mut order: Vec<&str> = launches.iter().map(|l| l.spec.component.as_str()).collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "reader_0",
            "data_transform_0",
            "intersection_0",
            "hetero_feature_binning_0",
            "hetero_feature_selection_0",
            "hetero_lr_0",
            "evaluation_0"
        ]
    );
    for l in &launches {
        assert_eq!(l.spec.roles.values().map(Vec::len).sum::<usize>(), 3);
    }
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 4).await;
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn a_failing_task_fails_the_job_at_every_party_with_its_reason() {
    let site = Site::start().await;
    site.launcher.script(
        Rule::on("intersection_0", Act::Fail("host ids do not match".into()))
            .role(HOST.role)
            .after_ms(30),
    );
    site.launcher
        .script(Rule::on("intersection_0", Act::Hang).role(GUEST.role));
    let (dsl, conf) = three_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    site.wait_end(&job_id).await;
    let expected = "component intersection_0 failed at host:10000: host ids do not match";
    for party in [GUEST, HOST, ARBITER] {
        let job = site.wait_job(&job_id, party, ended).await;
        assert_eq!(job.status, Status::Failed, "at {party}");
        let reason = job.error_report.unwrap_or_default();
        assert!(reason.contains(expected), "at {party}: {reason}");
    }
    // The guest's half of the component was stopped and its process killed.
    let guest = site.task(&job_id, "intersection_0", GUEST).await;
    assert!(
        guest.party_status.is_interrupt(),
        "{}",
        site.dump(&job_id).await
    );
    let guest_pid = site
        .launcher
        .launches_of(&job_id, "intersection_0")
        .iter()
        .find(|l| l.spec.role == GUEST.role)
        .unwrap()
        .pid;
    assert!(site
        .launcher
        .outcomes()
        .contains(&Outcome::Killed { pid: guest_pid }));
    // Nothing downstream started.
    assert!(site
        .launcher
        .launches_of(&job_id, "hetero_feature_binning_0")
        .is_empty());
    let binning = site.task(&job_id, "hetero_feature_binning_0", GUEST).await;
    assert_eq!(binning.party_status, Status::Waiting);
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 4).await;
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn stop_cancels_the_job_kills_its_tasks_and_returns_the_cores() {
    let site = Site::start().await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, conf) = three_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    wait_running(&site, &job_id, "reader_0", HOST).await;
    assert_eq!(site.free_cores(GUEST.party_id).await, 2);
    site.stop(&job_id, "the user asked").await;
    for party in [GUEST, HOST, ARBITER] {
        let job = site.wait_job(&job_id, party, ended).await;
        assert_eq!(job.status, Status::Canceled, "at {party}");
        assert!(
            job.error_report
                .as_deref()
                .is_some_and(|r| r.contains("the user asked")),
            "at {party}: {:?}",
            job.error_report
        );
    }
    for party in [GUEST, HOST] {
        let t = site.task(&job_id, "reader_0", party).await;
        assert_eq!(t.party_status, Status::Canceled, "at {party}");
        assert!(t.kill_status);
    }
    let killed = site
        .launcher
        .outcomes()
        .iter()
        .filter(|o| matches!(o, Outcome::Killed { .. }))
        .count();
    assert_eq!(killed, 2);
    let launched: Vec<_> = site
        .launcher
        .launches()
        .iter()
        .map(|l| {
            format!(
                "{} v{} {}",
                l.spec.component, l.spec.task_version, l.spec.role
            )
        })
        .collect();
    assert_eq!(
        launched.len(),
        2,
        "nothing else started: {launched:?}\n{}",
        site.dump(&job_id).await
    );
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 4).await;
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn rerun_of_a_failed_job_continues_from_the_failed_component() {
    let site = Site::guest_only().await;
    site.launcher
        .script(Rule::on("data_transform_0", Act::Fail("label y not found".into())).version(0));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    assert!(job
        .error_report
        .unwrap_or_default()
        .contains("label y not found"));
    assert_resources_back(&site, &[GUEST.party_id], 4).await;

    assert_eq!(site.rerun(&job_id, None).await, ["data_transform_0"]);
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    assert_eq!(job.error_report, None);
    // The reader ran once; the failed component got version 1.
    assert_eq!(
        site.task_versions(&job_id, "reader_0", GUEST).await.len(),
        1
    );
    let dt = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let statuses: Vec<_> = dt
        .iter()
        .map(|t| (t.task_version, t.party_status))
        .collect();
    assert_eq!(statuses, [(0, Status::Failed), (1, Status::Success)]);
    let versions: Vec<i64> = site
        .launcher
        .launches_of(&job_id, "data_transform_0")
        .iter()
        .map(|l| l.spec.task_version)
        .collect();
    assert_eq!(versions, [0, 1]);
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

#[tokio::test]
async fn auto_retry_gives_a_failed_task_version_1() {
    let site = Site::guest_only().await;
    site.launcher
        .script(Rule::on("data_transform_0", Act::Fail("peer went away".into())).version(0));
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let dt = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let got: Vec<_> = dt
        .iter()
        .map(|t| (t.task_version, t.party_status, t.auto_retries))
        .collect();
    assert_eq!(got, [(0, Status::Failed, 1), (1, Status::Success, 0)]);
    assert_eq!(
        site.task_versions(&job_id, "reader_0", GUEST).await.len(),
        1
    );
}

#[tokio::test]
async fn auto_retries_run_out_and_the_job_fails_with_the_last_reason() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on(
        "data_transform_0",
        Act::Fail("still broken".into()),
    ));
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    assert!(job
        .error_report
        .unwrap_or_default()
        .contains("still broken"));
    let dt = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let got: Vec<_> = dt
        .iter()
        .map(|t| (t.task_version, t.party_status))
        .collect();
    assert_eq!(got, [(0, Status::Failed), (1, Status::Failed)]);
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

#[tokio::test]
async fn auto_retry_waits_for_its_delay() {
    let site = Site::guest_only().await;
    site.launcher
        .script(Rule::on("reader_0", Act::Fail("connection reset".into())).version(0));
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 1);
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let rows = site.task_versions(&job_id, "reader_0", GUEST).await;
    assert_eq!(rows.len(), 2);
    let gap = rows[1].start_time.unwrap() - rows[0].end_time.unwrap();
    // auto_retry_delay 1 s for the first retry, then at most a few ticks.
    assert!((1000..3000).contains(&gap), "retried after {gap} ms");
}

#[tokio::test]
async fn a_job_past_its_timeout_is_stopped() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, mut conf) = one_party_job();
    set_job_param(&mut conf, "timeout", json!(1));
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Timeout, "{}", site.dump(&job_id).await);
    let reason = job.error_report.unwrap_or_default();
    assert!(reason.contains("timed out"), "{reason}");
    let took = job.end_time.unwrap() - job.create_time;
    assert!(
        (1000..4000).contains(&took),
        "ended {took} ms after creation"
    );
    let reader = site.task(&job_id, "reader_0", GUEST).await;
    assert!(reader.party_status.is_end() && reader.kill_status);
    assert!(site
        .launcher
        .outcomes()
        .iter()
        .any(|o| matches!(o, Outcome::Killed { .. })));
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn a_second_job_waits_for_the_cores_and_starts_when_the_first_ends() {
    // Two cores per party; each job takes two (task_cores 2, parallelism 1).
    let site = Site::start_with(SiteOptions {
        parties: vec![GUEST.party_id],
        cores: 2,
        ..Default::default()
    })
    .await;
    let gate = Gate::new();
    site.launcher
        .script(Rule::on("reader_0", Act::Succeed).gate(&gate).once());
    let (dsl, conf) = one_party_job();
    let first = site.submit(&dsl, &conf).await;
    wait_running(&site, &first, "reader_0", GUEST).await;
    let second = site.submit(&dsl, &conf).await;
    // A few scheduling rounds later the second still waits, holding nothing.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let waiting = site.job(&second, GUEST).await;
    assert_eq!(waiting.status, Status::Waiting);
    assert!(!waiting.resource_in_use);
    assert_eq!(site.free_cores(GUEST.party_id).await, 0);
    assert!(site.launcher.launches_of(&second, "reader_0").is_empty());

    gate.open();
    let a = site.wait_end(&first).await;
    let b = site.wait_end(&second).await;
    assert_eq!((a.status, b.status), (Status::Success, Status::Success));
    assert!(
        b.start_time.unwrap() >= a.end_time.unwrap(),
        "the second job started before the first returned its cores"
    );
    assert_resources_back(&site, &[GUEST.party_id], 2).await;
}

#[tokio::test]
async fn a_process_that_exits_without_a_final_status_fails_with_its_exit_reason() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on(
        "reader_0",
        Act::Die {
            code: Some(137),
            log_tail: "Killed: out of memory".into(),
        },
    ));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let reader = site.task(&job_id, "reader_0", GUEST).await;
    assert_eq!(reader.party_status, Status::Failed);
    let err = reader.error_report.unwrap_or_default();
    assert!(
        err.contains("exit code 137") && err.contains("out of memory"),
        "{err}"
    );
    assert!(job
        .error_report
        .unwrap_or_default()
        .contains("exit code 137"));
    assert!(site
        .launcher
        .launches_of(&job_id, "data_transform_0")
        .is_empty());
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

/// A site whose tasks must beat every second, and a reader that never reports.
async fn silent_reader() -> (Site, String) {
    let site = Site::start_with(SiteOptions {
        parties: vec![GUEST.party_id],
        heartbeat_timeout_s: 1,
        ..Default::default()
    })
    .await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    (site, job_id)
}

#[tokio::test]
async fn a_silent_task_is_killed_and_fails_the_job_after_the_heartbeat_timeout() {
    let (site, job_id) = silent_reader().await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let took = job.end_time.unwrap() - job.create_time;
    assert!(
        (1000..4000).contains(&took),
        "ended {took} ms after creation"
    );
    assert_eq!(
        site.task(&job_id, "reader_0", GUEST).await.party_status,
        Status::Failed
    );
    assert!(site
        .launcher
        .outcomes()
        .iter()
        .any(|o| matches!(o, Outcome::Killed { .. })));
    assert_no_process_left(&site).await;
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

#[tokio::test]
async fn a_silent_task_fails_with_the_heartbeat_reason() {
    let (site, job_id) = silent_reader().await;
    let job = site.wait_end(&job_id).await;
    let reason = job.error_report.unwrap_or_default();
    assert!(reason.contains("no heartbeat"), "{reason}");
}

#[tokio::test]
async fn a_task_token_acts_only_for_its_own_task_and_only_while_it_runs() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    let spec = site.launcher.launches_of(&job_id, "reader_0")[0]
        .spec
        .clone();
    let key = site.task(&job_id, "reader_0", GUEST).await.key();
    let ctl = &site.controller;
    let token = spec.token.secret();
    ctl.authorize_task(&key, "reader_0", Some(token))
        .await
        .unwrap();
    assert_eq!(
        ctl.authorize_task(&key, "reader_0", None).await,
        Err(TokenError::Missing)
    );
    let other = "0".repeat(token.len());
    assert!(matches!(
        ctl.authorize_task(&key, "reader_0", Some(&other)).await,
        Err(TokenError::Refused(_))
    ));
    assert!(matches!(
        ctl.authorize_task(&key, "data_transform_0", Some(token))
            .await,
        Err(TokenError::Refused(_))
    ));
    site.stop(&job_id, "done").await;
    site.wait_end(&job_id).await;
    assert!(matches!(
        ctl.authorize_task(&key, "reader_0", Some(token)).await,
        Err(TokenError::Refused(_))
    ));
}

#[tokio::test]
async fn a_task_waits_for_other_parties_as_long_as_the_job_may_run() {
    // One HeteroLR epoch over 10M rows takes longer than the 600 s a `get` was once
    // capped at: the wait is the job's timeout, however long.
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, mut conf) = one_party_job();
    set_job_param(&mut conf, "timeout", json!(7200));
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    let spec = site.launcher.launches_of(&job_id, "reader_0")[0]
        .spec
        .clone();
    assert_eq!(spec.federation_timeout_s, 7200);
    site.stop(&job_id, "done").await;
    site.wait_end(&job_id).await;
}

#[tokio::test]
async fn auto_retry_delay_comes_from_the_job_parameters() {
    let site = Site::guest_only().await;
    site.launcher
        .script(Rule::on("reader_0", Act::Fail("connection reset".into())).version(0));
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    site.wait_end(&job_id).await;
    let rows = site.task_versions(&job_id, "reader_0", GUEST).await;
    assert_eq!(rows[0].auto_retry_delay, 0);
    let gap = rows[1].start_time.unwrap() - rows[0].end_time.unwrap();
    assert!(gap < 500, "auto_retry_delay 0, yet retried after {gap} ms");
}

#[tokio::test]
async fn a_task_that_cannot_be_launched_fails_the_job_with_the_launch_error() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on(
        "data_transform_0",
        Act::LaunchFails("no such executable".into()),
    ));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let reason = job.error_report.unwrap_or_default();
    assert!(
        reason.contains("could not start the task process: no such executable"),
        "{reason}"
    );
    let dt = site.task(&job_id, "data_transform_0", GUEST).await;
    assert_eq!((dt.party_status, dt.run_pid), (Status::Failed, None));
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

/// A two-core site whose first job holds the cores until `gate` opens.
async fn busy_site(gate: &Gate) -> (Site, String) {
    let site = Site::start_with(SiteOptions {
        parties: vec![GUEST.party_id],
        cores: 2,
        ..Default::default()
    })
    .await;
    site.launcher
        .script(Rule::on("reader_0", Act::Succeed).gate(gate).once());
    let (dsl, conf) = one_party_job();
    let first = site.submit(&dsl, &conf).await;
    wait_running(&site, &first, "reader_0", GUEST).await;
    (site, first)
}

#[tokio::test]
async fn a_queued_job_can_be_canceled_and_the_queue_moves_on() {
    let gate = Gate::new();
    let (site, first) = busy_site(&gate).await;
    let (dsl, conf) = one_party_job();
    let second = site.submit(&dsl, &conf).await;
    let third = site.submit(&dsl, &conf).await;
    site.stop(&second, "not needed").await;
    let s = site.wait_end(&second).await;
    assert_eq!(s.status, Status::Canceled);
    assert!(!s.resource_in_use && s.apply_resource_time.is_none());
    assert!(site.launcher.launches_of(&second, "reader_0").is_empty());
    assert_eq!(site.job(&third, GUEST).await.status, Status::Waiting);
    gate.open();
    assert_eq!(site.wait_end(&first).await.status, Status::Success);
    assert_eq!(site.wait_end(&third).await.status, Status::Success);
    assert_resources_back(&site, &[GUEST.party_id], 2).await;
}

#[tokio::test]
async fn a_job_that_waits_for_cores_past_its_timeout_times_out_without_holding_any() {
    let gate = Gate::new();
    let (site, first) = busy_site(&gate).await;
    let (dsl, mut conf) = one_party_job();
    set_job_param(&mut conf, "timeout", json!(1));
    let second = site.submit(&dsl, &conf).await;
    let s = site.wait_end(&second).await;
    assert_eq!(s.status, Status::Timeout, "{}", site.dump(&second).await);
    assert!(s.apply_resource_time.is_none());
    assert!(site.launcher.launches_of(&second, "reader_0").is_empty());
    // The first job still runs and holds its cores.
    assert_eq!(site.job(&first, GUEST).await.status, Status::Running);
    assert_eq!(site.free_cores(GUEST.party_id).await, 0);
    gate.open();
    assert_eq!(site.wait_end(&first).await.status, Status::Success);
    assert_resources_back(&site, &[GUEST.party_id], 2).await;
}

#[tokio::test]
async fn a_stopped_job_reruns_to_success() {
    let site = Site::start().await;
    site.launcher
        .script(Rule::on("intersection_0", Act::Hang).version(0));
    let (dsl, conf) = three_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "intersection_0", GUEST).await;
    wait_running(&site, &job_id, "intersection_0", HOST).await;
    site.stop(&job_id, "pause").await;
    assert_eq!(site.wait_end(&job_id).await.status, Status::Canceled);
    assert_no_process_left(&site).await;
    let rerun = site.rerun(&job_id, None).await;
    assert_eq!(rerun[0], "intersection_0", "{rerun:?}");
    assert!(!rerun.contains(&"reader_0".to_string()));
    for party in [GUEST, HOST, ARBITER] {
        let job = site
            .wait_job(&job_id, party, |j| j.status == Status::Success)
            .await;
        assert_eq!(job.error_report, None, "at {party}");
    }
    for party in [GUEST, HOST] {
        let versions: Vec<_> = site
            .task_versions(&job_id, "intersection_0", party)
            .await
            .iter()
            .map(|t| (t.task_version, t.party_status))
            .collect();
        assert_eq!(
            versions,
            [(0, Status::Canceled), (1, Status::Success)],
            "at {party}"
        );
    }
    assert_eq!(site.task_versions(&job_id, "reader_0", HOST).await.len(), 1);
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 4).await;
}

#[tokio::test]
async fn the_exit_reason_survives_a_detector_round_before_the_exit_is_seen() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on(
        "reader_0",
        Act::DieSeenLate {
            code: Some(137),
            log_tail: "Killed: out of memory".into(),
            seen_after_ms: 100,
        },
    ));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let reason = job.error_report.unwrap_or_default();
    assert!(reason.contains("exit code 137"), "{reason}");
}

#[tokio::test]
async fn a_running_job_refuses_a_rerun() {
    let site = Site::guest_only().await;
    site.launcher.script(Rule::on("reader_0", Act::Hang));
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    let err = site.try_rerun(&job_id, None).await.unwrap_err();
    assert!(err.contains("is running; stop it before a rerun"), "{err}");
    assert_eq!(
        site.task_versions(&job_id, "reader_0", GUEST).await.len(),
        1
    );
    assert_eq!(site.job(&job_id, GUEST).await.status, Status::Running);
    site.stop(&job_id, "end of test").await;
}

#[tokio::test]
async fn an_auto_retry_after_a_host_failure_reruns_every_party_of_the_component() {
    let site = Site::start().await;
    site.launcher.script(
        Rule::on("intersection_0", Act::Fail("host lost its peer".into()))
            .role(HOST.role)
            .version(0)
            .after_ms(30),
    );
    site.launcher.script(
        Rule::on("intersection_0", Act::Hang)
            .role(GUEST.role)
            .version(0),
    );
    let (dsl, mut conf) = three_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    for party in [GUEST, HOST, ARBITER] {
        let job = site.wait_job(&job_id, party, ended).await;
        assert_eq!(
            job.status,
            Status::Success,
            "at {party}: {}",
            site.dump(&job_id).await
        );
    }
    for party in [GUEST, HOST] {
        let rows = site.task_versions(&job_id, "intersection_0", party).await;
        let got: Vec<_> = rows
            .iter()
            .map(|t| (t.task_version, t.party_status))
            .collect();
        assert_eq!(got.len(), 2, "at {party}: {got:?}");
        assert!(got[0].1.is_interrupt(), "at {party}: {got:?}");
        assert_eq!(got[1], (1, Status::Success), "at {party}");
    }
    // The guest's hung v0 was killed before v1 started.
    let launches = site.launcher.launches_of(&job_id, "intersection_0");
    let guest_v0 = launches
        .iter()
        .find(|l| l.spec.role == GUEST.role && l.spec.task_version == 0)
        .unwrap();
    assert!(site
        .launcher
        .outcomes()
        .contains(&Outcome::Killed { pid: guest_v0.pid }));
    assert_eq!(
        site.task_versions(&job_id, "reader_0", GUEST).await.len(),
        1
    );
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 4).await;
    assert_no_process_left(&site).await;
}

#[tokio::test]
async fn a_killed_task_process_is_retried() {
    let site = Site::guest_only().await;
    site.launcher.script(
        Rule::on(
            "data_transform_0",
            Act::Die {
                code: None,
                log_tail: "SIGKILL".into(),
            },
        )
        .version(0),
    );
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let rows = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let got: Vec<_> = rows
        .iter()
        .map(|t| (t.task_version, t.party_status))
        .collect();
    assert_eq!(got, [(0, Status::Failed), (1, Status::Success)]);
    assert!(rows[0]
        .error_report
        .as_deref()
        .is_some_and(|e| e.contains("killed by a signal")));
}

/// A one-party job with two auto-retries whose transform fails once as `kind`.
async fn fails_once_as(kind: ErrorKind) -> (Site, String) {
    let site = Site::guest_only().await;
    site.launcher.script(
        Rule::on(
            "data_transform_0",
            Act::FailAs("label column y not found".into(), kind),
        )
        .version(0),
    );
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 2, 0);
    let job_id = site.submit(&dsl, &conf).await;
    (site, job_id)
}

#[tokio::test]
async fn a_user_error_fails_the_job_at_once_without_a_retry() {
    let (site, job_id) = fails_once_as(ErrorKind::User).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let reason = job.error_report.unwrap_or_default();
    assert!(reason.contains("label column y not found"), "{reason}");
    let rows = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    assert_eq!(rows.len(), 1, "{}", site.dump(&job_id).await);
    assert_eq!(rows[0].error_kind, Some(ErrorKind::User));
    assert_eq!(
        site.launcher.launches_of(&job_id, "data_transform_0").len(),
        1
    );
    assert_resources_back(&site, &[GUEST.party_id], 4).await;
}

#[tokio::test]
async fn an_external_error_is_retried() {
    let (site, job_id) = fails_once_as(ErrorKind::External).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let rows = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let got: Vec<_> = rows
        .iter()
        .map(|t| (t.task_version, t.party_status, t.error_kind))
        .collect();
    assert_eq!(
        got,
        [
            (0, Status::Failed, Some(ErrorKind::External)),
            (1, Status::Success, None)
        ]
    );
}

/// A remote host's row of `component` as its site would report it.
async fn host_copy(site: &Site, job_id: &str, component: &str) -> fateflow_storage::TaskRecord {
    let mut t = site.task(job_id, component, GUEST).await;
    t.role = HOST.role;
    t.party_id = HOST.party_id;
    t.run_on_this_party = false;
    t.status = Status::Running;
    t.party_status = Status::Running;
    t.error_report = None;
    t.error_kind = None;
    t.end_time = None;
    t
}

#[tokio::test]
async fn remote_task_states_move_copies_forward_only_and_keep_their_kind() {
    let site = Site::guest_only().await;
    let (dsl, conf) = one_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    site.wait_end(&job_id).await;
    let ctl = &site.controller;
    let running = host_copy(&site, &job_id, "reader_0").await;
    let apply = |rows: Vec<fateflow_storage::TaskRecord>| async move {
        ctl.apply_remote_tasks(HOST.party_id, &rows).await.unwrap()
    };
    assert_eq!(apply(vec![running.clone()]).await, 1);
    let failed = fateflow_storage::TaskRecord {
        party_status: Status::Failed,
        error_report: Some("can not found table name: t namespace: ns".into()),
        error_kind: Some(ErrorKind::User),
        end_time: Some(running.start_time.unwrap_or(0) + 5),
        ..running.clone()
    };
    assert_eq!(apply(vec![failed.clone()]).await, 1);
    // A late report of the running task takes nothing back.
    apply(vec![running.clone()]).await;
    let row = site.task(&job_id, "reader_0", HOST).await;
    assert_eq!(
        (row.party_status, row.error_kind, row.run_on_this_party),
        (Status::Failed, Some(ErrorKind::User), false)
    );
    assert_eq!(row.error_report, failed.error_report);
    // A site speaks only for its own parties.
    let e = ctl.apply_remote_tasks(GUEST.party_id, &[failed]).await;
    assert!(
        matches!(e, Err(fateflow_scheduler::Error::Refused(_))),
        "{e:?}"
    );

    // A party that stays unreachable: its started copies fail with the reason.
    let dt = host_copy(&site, &job_id, "data_transform_0").await;
    assert_eq!(apply(vec![dt]).await, 1);
    let jobs = ctl
        .fail_unreachable_party(HOST.party_id, "party 10000 unreachable")
        .await
        .unwrap();
    assert_eq!(jobs, [job_id.as_str()]);
    let row = site.task(&job_id, "data_transform_0", HOST).await;
    assert_eq!(row.party_status, Status::Failed);
    assert_eq!(row.error_report.as_deref(), Some("party 10000 unreachable"));
    assert!(row.end_time.is_some());
}

#[tokio::test]
async fn a_task_whose_spec_the_job_cannot_make_fails_as_a_user_error_without_a_retry() {
    let site = Site::guest_only().await;
    let gate = Gate::new();
    site.launcher
        .script(Rule::on("reader_0", Act::Succeed).gate(&gate));
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 2, 0);
    let job_id = site.submit(&dsl, &conf).await;
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    // The reader writes an output, but not the `data` the transform's DSL names.
    let reader = site.task(&job_id, "reader_0", GUEST).await;
    let other = fateflow_storage::OutputDataRecord {
        owner: fateflow_scheduler::PartyController::owner_of(&reader.key(), "reader_0"),
        data_name: "other".into(),
        table_namespace: "ns".into(),
        table_name: "t".into(),
        description: String::new(),
        create_time: 0,
    };
    site.store.insert_output_data(&other).await.unwrap();
    gate.open();
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Failed);
    let rows = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    assert_eq!(rows.len(), 1, "{}", site.dump(&job_id).await);
    assert_eq!(rows[0].error_kind, Some(ErrorKind::User));
    let reason = rows[0].error_report.clone().unwrap_or_default();
    assert!(reason.contains("left no output `data`"), "{reason}");
    assert!(site
        .launcher
        .launches_of(&job_id, "data_transform_0")
        .is_empty());
}

#[tokio::test]
async fn a_task_that_could_not_be_launched_is_retried_as_an_internal_error() {
    let site = Site::guest_only().await;
    site.launcher.script(
        Rule::on(
            "data_transform_0",
            Act::LaunchFails("No such file or directory".into()),
        )
        .version(0),
    );
    let (dsl, mut conf) = one_party_job();
    set_retries(&mut conf, 1, 0);
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let rows = site.task_versions(&job_id, "data_transform_0", GUEST).await;
    let got: Vec<_> = rows
        .iter()
        .map(|t| (t.task_version, t.party_status, t.error_kind))
        .collect();
    assert_eq!(
        got,
        [
            (0, Status::Failed, Some(ErrorKind::Internal)),
            (1, Status::Success, None)
        ]
    );
}

/// Every harness store refuses a finished job row without its end time (see
/// `FINISHED_JOB_HAS_END_TIME`); this checks the rows of each way a job ends.
#[tokio::test]
async fn a_finished_job_has_its_end_time_with_its_final_status() {
    let site = Site::guest_only().await;
    let (dsl, conf) = one_party_job();
    let ok = site.submit(&dsl, &conf).await;
    let ok = site.wait_end(&ok).await;
    site.launcher
        .script(Rule::on("data_transform_0", Act::Fail("no label".into())).once());
    let failed = site.submit(&dsl, &conf).await;
    let failed = site.wait_end(&failed).await;
    site.launcher.script(Rule::all(Act::Hang));
    let stopped = site.submit(&dsl, &conf).await;
    wait_running(&site, &stopped, "reader_0", GUEST).await;
    site.stop(&stopped, "enough").await;
    let stopped = site.wait_end(&stopped).await;
    let ended = [
        (ok, Status::Success),
        (failed, Status::Failed),
        (stopped, Status::Canceled),
    ];
    for (job, status) in ended {
        assert_eq!(job.status, status, "{}", site.dump(&job.job_id).await);
        let (start, end) = (job.start_time.unwrap(), job.end_time.unwrap());
        assert!(end >= start && job.elapsed == Some(end - start), "{job:?}");
    }
}

/// The hetero LR job with party 9999 as the guest and as host[1] (host[0] and the
/// arbiter 10000), as FATE's multi-host examples run on one standalone site.
fn guest_also_host_job() -> (serde_json::Value, serde_json::Value) {
    let (dsl, mut conf) = three_party_job();
    conf["role"]["host"] = json!([HOST.party_id, GUEST.party_id]);
    let host0 = conf["component_parameters"]["role"]["host"]["0"].clone();
    conf["component_parameters"]["role"]["host"]["1"] = host0;
    (dsl, conf)
}

#[tokio::test]
async fn a_party_that_is_guest_and_host_holds_the_jobs_cores_once() {
    // Two cores per party, and the job needs two (task_cores 2, parallelism 1) at each
    // party: the guest row and the host[1] row of 9999 share them.
    let site = Site::start_with(SiteOptions {
        cores: 2,
        ..Default::default()
    })
    .await;
    let gate = Gate::new();
    site.launcher
        .script(Rule::on("reader_0", Act::Succeed).gate(&gate));
    let (dsl, conf) = guest_also_host_job();
    let job_id = site.submit(&dsl, &conf).await;
    let host1 = Party {
        role: fateflow_domain::Role::Host,
        party_id: GUEST.party_id,
    };
    wait_running(&site, &job_id, "reader_0", GUEST).await;
    wait_running(&site, &job_id, "reader_0", host1).await;
    let guest_row = site.job(&job_id, GUEST).await;
    let host1_row = site.job(&job_id, host1).await;
    assert!(guest_row.resource_in_use && host1_row.resource_in_use);
    assert_eq!((guest_row.cores, host1_row.cores), (2, 0));
    assert_eq!(site.free_cores(GUEST.party_id).await, 0);
    gate.open();
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    assert_eq!(
        site.controller.tasks_beyond_share(),
        0,
        "a task started beyond its job's share"
    );
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 2).await;
    for party in [GUEST, host1, HOST] {
        site.wait_until(&format!("{party} to return its resources"), || async {
            !site.job(&job_id, party).await.resource_in_use
        })
        .await;
    }
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 2).await;
}

#[tokio::test]
async fn a_job_that_can_never_fit_is_refused_at_submit_naming_party_need_and_capacity() {
    let site = Site::start_with(SiteOptions {
        cores: 2,
        ..Default::default()
    })
    .await;
    let (dsl, mut conf) = guest_also_host_job();
    set_job_param(&mut conf, "task_cores", json!(3));
    let err = match site.scheduler.submit(&dsl, &conf).await {
        Ok(r) => panic!("a job needing 3 cores of 2 was accepted: {}", r.job_id),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("9999"), "{err}");
    assert!(err.contains("10000"), "{err}");
    assert!(err.contains("needs 3 cores"), "{err}");
    assert!(err.contains("max cores per job is 2"), "{err}");
    // Nothing was queued and nothing holds cores.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(site.launcher.launches().is_empty());
    assert_eq!(site.free_cores(GUEST.party_id).await, 2);
    assert_eq!(site.free_cores(HOST.party_id).await, 2);
}

#[tokio::test]
async fn a_two_role_party_gives_back_exactly_what_it_took_when_another_party_is_full() {
    let site = Site::start_with(SiteOptions {
        cores: 2,
        ..Default::default()
    })
    .await;
    // A one-party job at 10000 holds that party's two cores until the gate opens.
    let gate = Gate::new();
    let (dsl, mut conf) = one_party_job();
    conf["initiator"]["party_id"] = json!(HOST.party_id);
    conf["role"] = json!({"guest": [HOST.party_id]});
    site.launcher
        .script(Rule::on("reader_0", Act::Succeed).gate(&gate).once());
    let first = site.submit(&dsl, &conf).await;
    let host_as_guest = Party {
        role: fateflow_domain::Role::Guest,
        party_id: HOST.party_id,
    };
    wait_running(&site, &first, "reader_0", host_as_guest).await;
    // 9999 (guest and host[1]) applies, 10000 has nothing left: 9999 gives back, each
    // round, exactly what it took.
    let (dsl, conf) = guest_also_host_job();
    let second = site.submit(&dsl, &conf).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let host1 = Party {
        role: fateflow_domain::Role::Host,
        party_id: GUEST.party_id,
    };
    assert_eq!(site.job(&second, GUEST).await.status, Status::Waiting);
    // Between rounds 9999 holds nothing; a check can land inside a round (applied at
    // 9999, not yet refused by 10000), so wait for a quiet moment, at most 5 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut quiet = site.free_cores(GUEST.party_id).await == 2;
        for party in [GUEST, host1] {
            quiet &= !site.job(&second, party).await.resource_in_use;
        }
        if quiet {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "9999 kept cores for the waiting job for 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(site.job(&second, GUEST).await.status, Status::Waiting);
    assert_eq!(site.free_cores(HOST.party_id).await, 0);
    gate.open();
    let a = site.wait_job(&first, host_as_guest, ended).await;
    let b = site.wait_end(&second).await;
    assert_eq!((a.status, b.status), (Status::Success, Status::Success));
    assert_eq!(site.controller.tasks_beyond_share(), 0);
    assert_resources_back(&site, &[GUEST.party_id, HOST.party_id], 2).await;
}

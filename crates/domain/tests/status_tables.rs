//! Data-driven tests: every row of the status tables in reference §5.2–§5.5.

use fateflow_domain::status::{
    aggregate_job_status, aggregate_task_status, job_transition_allowed,
    job_transition_allowed_with_signal, task_transition_allowed, SchedulingRound,
};
use fateflow_domain::Status;

fn statuses(s: &str) -> Vec<Status> {
    s.split_whitespace().map(|x| x.parse().unwrap()).collect()
}

/// Checks a transition table: each row lists `from` and every allowed `to`; every
/// other target must be refused.
fn check_table(table: &str, allowed: fn(Status, Status) -> bool) {
    let mut rows = 0;
    for line in table.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (from, to) = line.split_once("->").unwrap();
        let from: Status = from.trim().parse().unwrap();
        let expected = statuses(to);
        for target in Status::ALL {
            assert_eq!(
                allowed(from, target),
                expected.contains(&target),
                "{from} -> {target}"
            );
        }
        rows += 1;
    }
    assert!(rows > 0);
}

#[test]
fn job_transitions_match_reference_5_2() {
    check_table(
        "
        ready    -> waiting canceled timeout failed
        waiting  -> running canceled timeout failed success pass
        running  -> canceled timeout failed success
        canceled -> waiting
        timeout  -> failed success waiting
        failed   -> waiting
        success  -> waiting
        pass     ->
        ",
        job_transition_allowed,
    );
}

#[test]
fn rerun_signal_blocks_failed_and_timeout() {
    assert!(!job_transition_allowed_with_signal(
        Status::Running,
        Status::Failed,
        true
    ));
    assert!(!job_transition_allowed_with_signal(
        Status::Running,
        Status::Timeout,
        true
    ));
    assert!(job_transition_allowed_with_signal(
        Status::Running,
        Status::Success,
        true
    ));
    assert!(job_transition_allowed_with_signal(
        Status::Running,
        Status::Failed,
        false
    ));
}

#[test]
fn task_transitions_match_reference_5_3() {
    check_table(
        "
        waiting  -> running success pass
        running  -> canceled timeout failed pass success
        canceled -> waiting
        timeout  -> failed success
        failed   ->
        pass     ->
        success  ->
        ready    ->
        ",
        task_transition_allowed,
    );
}

#[test]
fn task_aggregation_matches_reference_5_4() {
    // party statuses => federated task status ("error" when undefined)
    let cases = "
        waiting                 => waiting
        running running         => running
        success pass            => success
        pass pass               => success
        failed failed           => failed
        canceled                => canceled
        running failed          => failed
        timeout canceled        => timeout
        failed timeout canceled => failed
        success canceled        => canceled
        running success         => running
        waiting running         => running
        waiting success         => running
        waiting pass            => running
        waiting failed          => failed
        waiting ready           => error
        ready success           => running
    ";
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (input, expected) = line.split_once("=>").unwrap();
        let got = aggregate_task_status(statuses(input));
        if let Ok(s) = &got {
            assert_ne!(*s, Status::Pass, "a federated task status is never pass");
        }
        match expected.trim() {
            "error" => assert!(got.is_err(), "{line}: {got:?}"),
            e => assert_eq!(got.unwrap(), e.parse().unwrap(), "{line}"),
        }
    }
}

#[test]
fn job_aggregation_matches_reference_5_5() {
    // task statuses | round | cancel signal => job status
    let cases = "
        waiting waiting          | no_next   | false => waiting
        success success pass     | no_next   | false => success
        failed                   | no_next   | false => failed
        success running waiting  | no_next   | false => running
        success waiting          | have_next | false => running
        waiting                  | have_next | false => waiting
        success failed waiting   | no_next   | false => failed
        timeout canceled success | no_next   | false => timeout
        success waiting          | no_next   | false => canceled
        waiting waiting          | no_next   | true  => canceled
        success waiting failed   | have_next | false => running
        success pass             | failed    | false => success
        waiting ready            | no_next   | false => error
    ";
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (lhs, expected) = line.split_once("=>").unwrap();
        let parts: Vec<&str> = lhs.split('|').map(str::trim).collect();
        let round = match parts[1] {
            "have_next" => SchedulingRound::HaveNext,
            "no_next" => SchedulingRound::NoNext,
            _ => SchedulingRound::Failed,
        };
        let got = aggregate_job_status(statuses(parts[0]), round, parts[2] == "true");
        match expected.trim() {
            "error" => assert!(got.is_err(), "{line}: {got:?}"),
            e => assert_eq!(got.unwrap(), e.parse().unwrap(), "{line}"),
        }
    }
}

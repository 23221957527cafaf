//! Job and task statuses, their allowed transitions, and the aggregation rules of
//! FATE-Flow 1.x (reference §5).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A status name as FATE writes it on the wire and in the database (lowercase).
///
/// The variants are declared in FATE's level order, so `Ord` is the level order:
/// `waiting < ready < running < canceled < timeout < failed < pass < success`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, not yet started.
    Waiting,
    /// Job created at a party, before the initiator synced `waiting`.
    Ready,
    /// Running.
    Running,
    /// Stopped by a user.
    Canceled,
    /// Ran out of time.
    Timeout,
    /// Failed.
    Failed,
    /// Skipped at one party (`need_run: false`); folded into success when aggregated.
    Pass,
    /// Finished well.
    Success,
}

impl Status {
    /// Every status, in level order.
    pub const ALL: [Status; 8] = [
        Status::Waiting,
        Status::Ready,
        Status::Running,
        Status::Canceled,
        Status::Timeout,
        Status::Failed,
        Status::Pass,
        Status::Success,
    ];

    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Ready => "ready",
            Status::Running => "running",
            Status::Canceled => "canceled",
            Status::Timeout => "timeout",
            Status::Failed => "failed",
            Status::Pass => "pass",
            Status::Success => "success",
        }
    }

    /// FATE's level number (0 for waiting … 7 for success).
    pub fn level(self) -> u8 {
        self as u8
    }

    /// `waiting` or `running`.
    pub fn is_ongoing(self) -> bool {
        matches!(self, Status::Waiting | Status::Running)
    }

    /// `canceled`, `timeout` or `failed`.
    pub fn is_interrupt(self) -> bool {
        matches!(self, Status::Canceled | Status::Timeout | Status::Failed)
    }

    /// An end status: an interrupt, `pass` or `success`.
    pub fn is_end(self) -> bool {
        self.is_interrupt() || self.is_success()
    }

    /// `pass` or `success`.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Pass | Status::Success)
    }

    /// Statuses after which a task may be retried automatically.
    pub fn is_auto_rerun(self) -> bool {
        matches!(self, Status::Timeout | Status::Failed)
    }

    /// Severity among interrupt statuses: failed > timeout > canceled.
    fn interrupt_severity(self) -> u8 {
        match self {
            Status::Failed => 3,
            Status::Timeout => 2,
            Status::Canceled => 1,
            _ => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that FATE does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`; expected one of waiting, ready, running, canceled, timeout, failed, pass, success")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// Whether a job may move from `from` to `to` (reference §5.2).
///
/// The rerun guard (no `failed`/`timeout` while a rerun signal is set) is
/// [`job_transition_allowed_with_signal`].
pub fn job_transition_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match from {
        Ready => matches!(to, Waiting | Canceled | Timeout | Failed),
        Waiting => matches!(to, Running | Canceled | Timeout | Failed | Success | Pass),
        Running => matches!(to, Canceled | Timeout | Failed | Success),
        Canceled => matches!(to, Waiting),
        Timeout => matches!(to, Failed | Success | Waiting),
        Failed => matches!(to, Waiting),
        Success => matches!(to, Waiting),
        Pass => false,
    }
}

/// [`job_transition_allowed`] plus FATE's guard: while `rerun_signal` is set, a job
/// may not move to `failed` or `timeout`.
pub fn job_transition_allowed_with_signal(from: Status, to: Status, rerun_signal: bool) -> bool {
    if rerun_signal && matches!(to, Status::Failed | Status::Timeout) {
        return false;
    }
    job_transition_allowed(from, to)
}

/// Whether a task (`status` or `party_status`) may move from `from` to `to`
/// (reference §5.3).
pub fn task_transition_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match from {
        Waiting => matches!(to, Running | Success | Pass),
        Running => matches!(to, Canceled | Timeout | Failed | Pass | Success),
        Canceled => matches!(to, Waiting),
        Timeout => matches!(to, Failed | Success),
        Ready | Failed | Pass | Success => false,
    }
}

/// The aggregation rules have no answer for this combination of statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot aggregate statuses {statuses:?}")]
pub struct AggregateError {
    /// The distinct statuses seen.
    pub statuses: Vec<Status>,
}

fn distinct_folding_pass(statuses: impl IntoIterator<Item = Status>) -> Vec<Status> {
    let mut set: Vec<Status> = statuses
        .into_iter()
        .map(|s| {
            if s == Status::Pass {
                Status::Success
            } else {
                s
            }
        })
        .collect();
    set.sort();
    set.dedup();
    set
}

fn most_severe_interrupt(set: &[Status]) -> Option<Status> {
    set.iter()
        .copied()
        .filter(|s| s.is_interrupt())
        .max_by_key(|s| s.interrupt_severity())
}

/// The federated status of a task, from the `party_status` of every party running it
/// (reference §5.4). Never returns `pass`.
pub fn aggregate_task_status(
    party_statuses: impl IntoIterator<Item = Status>,
) -> Result<Status, AggregateError> {
    let set = distinct_folding_pass(party_statuses);
    match set.as_slice() {
        [] => Err(AggregateError { statuses: set }),
        [one] => Ok(*one),
        _ => {
            if let Some(s) = most_severe_interrupt(&set) {
                Ok(s)
            } else if set.contains(&Status::Running) || set.contains(&Status::Success) {
                Ok(Status::Running)
            } else {
                Err(AggregateError { statuses: set })
            }
        }
    }
}

/// What the task scheduler did in one round (reference §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulingRound {
    /// Some waiting task was started this round.
    HaveNext,
    /// No task could be started.
    NoNext,
    /// Scheduling failed.
    Failed,
}

/// The job status, from the federated status of the latest version of every task and
/// the outcome of this scheduling round (reference §5.5).
pub fn aggregate_job_status(
    task_statuses: impl IntoIterator<Item = Status>,
    round: SchedulingRound,
    cancel_signal: bool,
) -> Result<Status, AggregateError> {
    let set = distinct_folding_pass(task_statuses);
    let status = match set.as_slice() {
        [] => return Err(AggregateError { statuses: set }),
        [one] => *one,
        _ => {
            let waiting_with_next =
                set.contains(&Status::Waiting) && round == SchedulingRound::HaveNext;
            if set.contains(&Status::Running) || waiting_with_next {
                Status::Running
            } else if let Some(s) = most_severe_interrupt(&set) {
                s
            } else if set == [Status::Waiting, Status::Success] && round == SchedulingRound::NoNext
            {
                Status::Canceled
            } else {
                return Err(AggregateError { statuses: set });
            }
        }
    };
    if status == Status::Waiting && cancel_signal {
        return Ok(Status::Canceled);
    }
    Ok(status)
}

/// Job progress in percent: the share of tasks in an end status.
pub fn job_progress(task_statuses: &[Status]) -> u8 {
    if task_statuses.is_empty() {
        return 0;
    }
    let ended = task_statuses.iter().filter(|s| s.is_end()).count();
    (ended * 100 / task_statuses.len()) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_order_matches_fate() {
        let levels: Vec<u8> = Status::ALL.iter().map(|s| s.level()).collect();
        assert_eq!(levels, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(Status::Waiting < Status::Success);
    }

    #[test]
    fn parse_round_trips() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("rerun".parse::<Status>().is_err());
    }

    #[test]
    fn progress_counts_end_statuses() {
        use Status::*;
        assert_eq!(job_progress(&[Success, Pass, Running, Waiting]), 50);
        assert_eq!(job_progress(&[]), 0);
    }
}

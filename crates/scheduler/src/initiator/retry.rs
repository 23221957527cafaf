//! When a failed task is retried automatically: not after a user error, and only
//! once its delay has passed.

use super::*;

/// The failed row of a component that failed with a user error, if any.
pub(super) fn user_error(rows: &[TaskRecord]) -> Option<&TaskRecord> {
    rows.iter()
        .find(|t| t.party_status.is_interrupt() && t.error_kind == Some(ErrorKind::User))
}

/// Whether a failed component's next automatic retry is due: `auto_retry_delay`
/// seconds after its last task ended, doubled with every version already run (capped
/// at an hour), so a task that fails at once is not restarted in a tight loop.
pub(super) fn retry_due(rows: &[TaskRecord], now: i64) -> bool {
    let Some(last) = rows.iter().max_by_key(|t| t.task_version) else {
        return true;
    };
    let ended = last.end_time.unwrap_or(last.update_time);
    let base_ms = last.auto_retry_delay.max(0).saturating_mul(1000);
    let factor = 1i64 << last.task_version.clamp(0, 12);
    now >= ended.saturating_add(base_ms.saturating_mul(factor).min(3_600_000))
}

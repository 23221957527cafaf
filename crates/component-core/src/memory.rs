//! A task's memory budget: the job's `task_memory` (MB) or the site's default.
//! Components size their row blocks from it and refuse, naming themselves, work that
//! cannot fit, instead of being killed by the operating system.

use crate::error::{Error, Result};

/// Rows per block never go below this, whatever the budget (a block this small of the
/// widest rows still fits in a few MB).
pub const MIN_BLOCK_ROWS: usize = 1024;
/// Rows per block never go above this: more gains nothing and delays the first result.
pub const MAX_BLOCK_ROWS: usize = 1 << 17;

/// The site default when neither the job nor the site sets one: 1536 MB.
pub const DEFAULT_TASK_MEMORY_MB: u64 = 1536;

/// What a task may hold in memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::from_mb(DEFAULT_TASK_MEMORY_MB)
    }
}

impl MemoryBudget {
    /// A budget of `mb` megabytes (2^20 bytes); 0 means the default.
    pub fn from_mb(mb: u64) -> Self {
        let mb = if mb == 0 { DEFAULT_TASK_MEMORY_MB } else { mb };
        MemoryBudget {
            bytes: mb.saturating_mul(1 << 20),
        }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The budget in MB, for messages.
    pub fn mb(&self) -> u64 {
        self.bytes >> 20
    }

    /// Rows per block when one block of rows of `bytes_per_row` may take `1/share` of the
    /// budget (a component holding several blocks at once, ciphertexts in flight
    /// included, passes a larger `share`), clamped to
    /// [`MIN_BLOCK_ROWS`]..=[`MAX_BLOCK_ROWS`].
    pub fn block_rows(&self, bytes_per_row: usize, share: u64) -> usize {
        let per_block = self.bytes / share.max(1);
        let rows = per_block / (bytes_per_row.max(1) as u64);
        (rows as usize).clamp(MIN_BLOCK_ROWS, MAX_BLOCK_ROWS)
    }

    /// Refuses to hold `need` bytes of `what` when that is more than the budget.
    pub fn check(&self, component: &str, what: &str, need: u64) -> Result<()> {
        if need <= self.bytes {
            return Ok(());
        }
        Err(Error::MemoryBudget {
            component: component.into(),
            what: what.into(),
            need_mb: need.div_ceil(1 << 20),
            budget_mb: self.mb(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_rows_follow_the_budget_within_bounds() {
        let budget = MemoryBudget::from_mb(1024);
        assert_eq!(budget.bytes(), 1 << 30);
        assert_eq!(budget.block_rows(1 << 14, 8), (1 << 27) / (1 << 14));
        assert_eq!(budget.block_rows(1, 1), MAX_BLOCK_ROWS);
        assert_eq!(budget.block_rows(1 << 30, 1), MIN_BLOCK_ROWS);
        assert_eq!(MemoryBudget::from_mb(0), MemoryBudget::default());
    }

    #[test]
    fn an_oversized_need_names_the_component_and_the_budget() {
        let budget = MemoryBudget::from_mb(10);
        assert!(budget.check("HeteroLR", "weights", 10 << 20).is_ok());
        let e = budget
            .check("HeteroLR", "the id map", 11 << 20)
            .unwrap_err()
            .to_string();
        assert!(e.contains("HeteroLR") && e.contains("the id map"), "{e}");
        assert!(
            e.contains("11 MB") && e.contains("10 MB") && e.contains("task_memory"),
            "{e}"
        );
    }
}

//! Process-wide counters of the engine's cross-process write protocol.

use std::sync::atomic::{AtomicU64, Ordering};

static CONFLICTS: AtomicU64 = AtomicU64::new(0);

/// Adds `n` conflicts: conditional writes that found the stored value
/// replaced by another process and merged into it again.
pub(crate) fn add_conflicts(n: u64) {
    CONFLICTS.fetch_add(n, Ordering::Relaxed);
}

/// Conditional chunk writes redone (re-read, merged, written again)
/// because another process had replaced the chunk, since the process
/// started.
pub fn merge_retries() -> u64 {
    CONFLICTS.load(Ordering::Relaxed)
}

//! A fixed table of lock shards keyed by chunk key: writes to one chunk
//! serialise; writes to different chunks rarely share a shard.

use parking_lot::{Mutex, MutexGuard};

use super::pool::Sequential;

/// Number of shards (a power of two).
const SHARDS: usize = 1024;

/// The lock table.
#[derive(Debug)]
pub struct LockTable {
    shards: Box<[Mutex<()>]>,
}

/// A held chunk lock; while it lives the thread runs no parallel loops.
pub struct ChunkLock<'a> {
    _guard: MutexGuard<'a, ()>,
    _seq: Sequential,
}

impl Default for LockTable {
    fn default() -> Self {
        LockTable {
            shards: (0..SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }
}

/// FNV-1a, enough to spread chunk keys over the shards.
fn hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl LockTable {
    /// Locks the shard of `key`.
    pub fn lock(&self, key: &str) -> ChunkLock<'_> {
        let seq = Sequential::enter();
        let guard = self.shards[(hash(key) as usize) & (SHARDS - 1)].lock();
        ChunkLock {
            _guard: guard,
            _seq: seq,
        }
    }
}

//! The write buffer: decoded chunks (or shards) modified by partial writes,
//! waiting to be encoded and stored once.
//!
//! Entries are only touched while holding the chunk's lock from the array's
//! [`LockTable`](super::locks::LockTable), so one chunk's read-modify-write
//! sequences never interleave; the map's own mutex is held only briefly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// One dirty chunk.
#[derive(Debug)]
pub(crate) struct DirtyCell {
    /// Decoded chunk bytes (C order, native byte order, full cell shape).
    pub data: Mutex<Vec<u8>>,
    /// Insertion order (oldest are flushed first).
    pub seq: u64,
    /// Elements written into the cell since it was loaded (overlapping
    /// writes count twice): once it reaches the cell's element count the
    /// cell is probably complete and is written out early.
    pub written: AtomicU64,
}

/// The dirty chunks of an array.
#[derive(Debug)]
pub(crate) struct DirtyBuffer {
    map: Mutex<HashMap<String, Arc<DirtyCell>>>,
    bytes: AtomicUsize,
    budget: AtomicUsize,
    seq: AtomicU64,
}

impl DirtyBuffer {
    pub fn new(budget: usize) -> Self {
        DirtyBuffer {
            map: Mutex::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            budget: AtomicUsize::new(budget),
            seq: AtomicU64::new(0),
        }
    }

    /// Sets the byte budget.
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    /// Whether the buffer holds more than its budget.
    pub fn over_budget(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) > self.budget.load(Ordering::Relaxed)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The dirty cell of `key` (caller holds the chunk lock).
    pub fn get(&self, key: &str) -> Option<Arc<DirtyCell>> {
        self.map.lock().get(key).cloned()
    }

    /// Adds a dirty cell (caller holds the chunk lock).
    pub fn insert(&self, key: String, data: Vec<u8>) -> Arc<DirtyCell> {
        let n = data.len();
        let cell = Arc::new(DirtyCell {
            data: Mutex::new(data),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            written: AtomicU64::new(0),
        });
        if let Some(old) = self.map.lock().insert(key, Arc::clone(&cell)) {
            self.bytes
                .fetch_sub(old.data.lock().len(), Ordering::Relaxed);
        }
        self.bytes.fetch_add(n, Ordering::Relaxed);
        cell
    }

    /// Removes and returns the dirty cell of `key` (caller holds the lock).
    pub fn remove(&self, key: &str) -> Option<Arc<DirtyCell>> {
        let old = self.map.lock().remove(key);
        if let Some(c) = &old {
            self.bytes.fetch_sub(c.data.lock().len(), Ordering::Relaxed);
        }
        old
    }

    /// Keys of all dirty cells, oldest first.
    pub fn keys_oldest_first(&self) -> Vec<String> {
        let map = self.map.lock();
        let mut v: Vec<(u64, String)> = map.iter().map(|(k, c)| (c.seq, k.clone())).collect();
        drop(map);
        v.sort_unstable();
        v.into_iter().map(|(_, k)| k).collect()
    }

    /// Whether nothing is dirty.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }
}

//! The write buffer: decoded chunks (or shards) modified by partial writes,
//! waiting to be encoded and stored once.
//!
//! Entries are only touched while holding the chunk's lock from the array's
//! [`LockTable`](super::locks::LockTable), so one chunk's read-modify-write
//! sequences never interleave; the map's own mutex is held only briefly.
//!
//! Each cell remembers which elements this process wrote (a bit per
//! element) and the [`Generation`] of the stored value it was loaded from:
//! if another process replaced the value meanwhile, the flush re-reads it
//! and copies only this process's elements over it (see `array/write.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use fixedbitset::FixedBitSet;
use parking_lot::Mutex;

use crate::store::Generation;

/// The content of a dirty chunk.
#[derive(Debug)]
pub(crate) struct CellState {
    /// Decoded chunk bytes (C order, native byte order, full cell shape).
    pub data: Vec<u8>,
    /// Elements written by this process since the cell was loaded.
    pub mask: FixedBitSet,
    /// Number of bits set in `mask`.
    pub written: usize,
    /// Elements of the cell inside the array (edge cells reach past it):
    /// once all of them are written the cell is complete.
    pub inside: usize,
    /// The stored value `data` was loaded from.
    pub base: Generation,
}

impl CellState {
    /// Marks elements `start..start + len` written.
    pub fn mark(&mut self, start: usize, len: usize) {
        let r = start..start + len;
        let already = self.mask.count_ones(r.clone());
        self.mask.insert_range(r);
        self.written += len - already;
    }

    /// Whether every element inside the array was written (the stored
    /// value is then irrelevant).
    pub fn complete(&self) -> bool {
        self.written >= self.inside
    }

    /// Copies the written elements (`elem` bytes each) into `fresh`, the
    /// stored value as re-read, and makes that the cell's content.
    pub fn merge_into(&mut self, mut fresh: Vec<u8>, elem: usize, base: Generation) {
        let mut ones = self.mask.ones().peekable();
        while let Some(first) = ones.next() {
            let mut last = first;
            while ones.peek() == Some(&(last + 1)) {
                last += 1;
                ones.next();
            }
            let r = first * elem..(last + 1) * elem;
            fresh[r.clone()].copy_from_slice(&self.data[r]);
        }
        self.data = fresh;
        self.base = base;
    }
}

/// One dirty chunk.
#[derive(Debug)]
pub(crate) struct DirtyCell {
    /// Its content.
    pub state: Mutex<CellState>,
    /// Insertion order (oldest are flushed first).
    pub seq: u64,
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

    /// Adds a dirty cell loaded from the stored value at `base`, with
    /// `elements` elements none of which is written yet (caller holds the
    /// chunk lock).
    pub fn insert(
        &self,
        key: String,
        data: Vec<u8>,
        elements: usize,
        inside: usize,
        base: Generation,
    ) -> Arc<DirtyCell> {
        self.insert_state(
            key,
            CellState {
                data,
                mask: FixedBitSet::with_capacity(elements),
                written: 0,
                inside,
                base,
            },
        )
    }

    /// Puts a cell's state back (a failed flush; caller holds the lock).
    pub fn insert_state(&self, key: String, state: CellState) -> Arc<DirtyCell> {
        let n = state.data.len();
        let cell = Arc::new(DirtyCell {
            state: Mutex::new(state),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
        });
        if let Some(old) = self.map.lock().insert(key, Arc::clone(&cell)) {
            self.bytes
                .fetch_sub(old.state.lock().data.len(), Ordering::Relaxed);
        }
        self.bytes.fetch_add(n, Ordering::Relaxed);
        cell
    }

    /// Removes and returns the dirty cell of `key` (caller holds the lock).
    pub fn remove(&self, key: &str) -> Option<Arc<DirtyCell>> {
        let old = self.map.lock().remove(key);
        if let Some(c) = &old {
            self.bytes
                .fetch_sub(c.state.lock().data.len(), Ordering::Relaxed);
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

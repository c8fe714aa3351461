//! Helpers shared by the chunk-engine tests (`engine_*.rs`): a seeded RNG,
//! a store wrapper that counts and can slow down reads, array builders and a
//! watchdog that bounds a test's run time.
#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use zarrcore::error::StoreError;
use zarrcore::store::{ByteRange, Bytes, Concurrency, Generation, ListDir, MemoryStore};
use zarrcore::{ArrayBuilder, CodecSpec, DataType, Store, StoreRef};

/// SplitMix64: a small deterministic generator for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// What a [`CountingStore`] counts per key.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub get: usize,
    /// `get_range` with an explicit offset (inner chunks of shards).
    pub range: usize,
    /// `get_range` with a suffix (shard indexes at the end).
    pub suffix: usize,
    pub set: usize,
}

/// A store wrapper that counts reads and writes per key and can delay reads
/// of chunk keys (to widen race windows). Its identity is its own, so the
/// engine treats it as a separate store (like another process would see the
/// same data).
#[derive(Debug)]
pub struct CountingStore {
    inner: StoreRef,
    id: u64,
    counts: Mutex<HashMap<String, Counts>>,
    delay_us: AtomicU64,
    pub total_gets: AtomicUsize,
    /// While set, every `set` and `delete` of a chunk key fails.
    pub fail_writes: std::sync::atomic::AtomicBool,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

impl CountingStore {
    pub fn new(inner: StoreRef) -> Arc<CountingStore> {
        Arc::new(CountingStore {
            inner,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            counts: Mutex::new(HashMap::new()),
            delay_us: AtomicU64::new(0),
            total_gets: AtomicUsize::new(0),
            fail_writes: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A counting wrapper around a new private memory store.
    pub fn memory() -> Arc<CountingStore> {
        CountingStore::new(Arc::new(MemoryStore::new()))
    }

    /// Delivers every read of a key that is not metadata `d` late (the value
    /// is read before the delay).
    pub fn set_read_delay(&self, d: Duration) {
        self.delay_us.store(d.as_micros() as u64, Ordering::SeqCst);
    }

    pub fn counts(&self, key: &str) -> Counts {
        self.counts.lock().get(key).copied().unwrap_or_default()
    }

    pub fn reset(&self) {
        self.counts.lock().clear();
        self.total_gets.store(0, Ordering::SeqCst);
    }

    pub fn inner(&self) -> &StoreRef {
        &self.inner
    }

    fn bump(&self, key: &str, f: impl FnOnce(&mut Counts)) {
        f(self.counts.lock().entry(key.to_string()).or_default());
    }

    fn check_fail(&self, key: &str, op: &'static str) -> Result<(), StoreError> {
        let meta = key.ends_with("zarr.json") || key.contains(".z");
        if !meta && self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::io(
                key,
                op,
                std::io::Error::other("injected failure"),
            ));
        }
        Ok(())
    }

    fn delay(&self, key: &str) {
        let us = self.delay_us.load(Ordering::SeqCst);
        let meta = key.ends_with("zarr.json") || key.contains(".z");
        if us > 0 && !meta {
            std::thread::sleep(Duration::from_micros(us));
        }
    }
}

impl Store for CountingStore {
    fn describe(&self) -> String {
        format!("counting({})", self.inner.describe())
    }

    fn identity(&self) -> String {
        format!("counting#{}", self.id)
    }

    fn is_writable(&self) -> bool {
        self.inner.is_writable()
    }

    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.version(key)
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.bump(key, |c| c.get += 1);
        self.total_gets.fetch_add(1, Ordering::SeqCst);
        // The value is read first, then delivered late (a slow transfer).
        let v = self.inner.get(key);
        self.delay(key);
        v
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        match range {
            ByteRange::Suffix(_) => self.bump(key, |c| c.suffix += 1),
            ByteRange::Range { .. } => self.bump(key, |c| c.range += 1),
        }
        self.total_gets.fetch_add(1, Ordering::SeqCst);
        let v = self.inner.get_range(key, range);
        self.delay(key);
        v
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.size(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.check_fail(key, "set")?;
        self.bump(key, |c| c.set += 1);
        self.inner.set(key, value)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check_fail(key, "delete")?;
        self.inner.delete(key)
    }

    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        self.bump(key, |c| c.get += 1);
        self.total_gets.fetch_add(1, Ordering::SeqCst);
        let v = self.inner.get_versioned(key);
        self.delay(key);
        v
    }

    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        self.check_fail(key, "set")?;
        if value.is_some() {
            self.bump(key, |c| c.set += 1);
        }
        self.inner.set_if(key, value, expected)
    }

    fn concurrency(&self) -> Concurrency {
        self.inner.concurrency()
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        self.inner.delete_prefix(prefix)
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        self.inner.list_dir(prefix)
    }
}

/// A builder for a `u32` array, plain or sharded, zstd-compressed.
pub fn u32_array(shape: &[u64], chunks: &[u64], shards: Option<&[u64]>) -> ArrayBuilder {
    let mut b = ArrayBuilder::new(shape.to_vec(), DataType::UInt32)
        .chunks(chunks.to_vec())
        .codec(CodecSpec::Zstd {
            level: 1,
            checksum: false,
        });
    if let Some(s) = shards {
        b = b.shards(s.to_vec());
    }
    b
}

/// Native-endian bytes of `u32` values.
#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
pub fn to_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// `u32` values of native-endian bytes.
#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
pub fn from_bytes(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Aborts the process if the returned guard is not dropped within `limit`:
/// a deadlocked engine fails the test run instead of hanging it.
pub struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

pub fn watchdog(name: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("watchdog: test {name} still running after {limit:?}; aborting");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

//! The chunk engine: per-array shared state (lock table, write buffer, mode
//! bookkeeping), the process-wide decoded-chunk cache and the thread pool.
//!
//! Every open handle of one array (same store, same path) in a process
//! shares one [`ArrayShared`]: read handles share the cache entries, write
//! handles share the lock table and the buffer of dirty chunks, and the
//! bookkeeping of open handles refuses to mix modes ([`crate::Error::Busy`]).
//! The first handle of a mode in the process also takes the store's
//! cross-process lock of that mode ([`Store::lock_node`](crate::store::Store::lock_node)),
//! held until the last handle of the mode closes, so the rule holds between
//! processes too.

pub mod cache;
mod dirty;
pub mod locks;
pub mod pool;
pub mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

pub(crate) use self::dirty::{CellState, DirtyBuffer};
use self::locks::LockTable;
use crate::error::Error;
use crate::error::StoreError;
use crate::metadata::ArrayMetadata;
use crate::store::{Concurrency, ModeLock, NodeAccess, StoreRef};

/// How an array handle is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Reads only; any number of read handles may be open at once.
    Read,
    /// Writes (and reads of what was written); any number at once.
    Write,
}

/// How to open an array handle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// How long to wait for other processes holding the array in the other
    /// mode to close it; `None` (the default) fails at once with
    /// [`crate::Error::Busy`].
    pub wait: Option<Duration>,
}

impl OpenOptions {
    /// Fail at once when the array is busy.
    pub fn new() -> Self {
        OpenOptions::default()
    }

    /// Wait up to `d` for the array to become free.
    pub fn wait(mut self, d: Duration) -> Self {
        self.wait = Some(d);
        self
    }
}

#[derive(Debug, Default)]
struct Modes {
    readers: usize,
    writers: usize,
    /// The cross-process lock of the current mode, while any handle is open.
    process_lock: Option<ModeLock>,
}

/// State shared by all handles of one array in this process.
#[derive(Debug)]
pub(crate) struct ArrayShared {
    /// Process-unique id (cache keys).
    pub id: u64,
    /// The store.
    pub store: StoreRef,
    /// Node path of the array ("" for the root).
    pub path: String,
    /// Current metadata.
    pub meta: RwLock<Arc<ArrayMetadata>>,
    /// Chunk locks for read-modify-write.
    pub locks: LockTable,
    /// Dirty chunks of write handles.
    pub dirty: DirtyBuffer,
    modes: Mutex<Modes>,
    /// What the store guarantees for partial writes of several processes,
    /// found when the first write handle opens.
    pub concurrency: parking_lot::Mutex<Option<Concurrency>>,
}

/// The store's identity joined with the node path: one array reached through
/// two store roots (a directory, and a store opened at its subdirectory) is
/// one entry.
type RegistryKey = String;

fn registry_key(store: &StoreRef, path: &str) -> RegistryKey {
    let id = store.identity();
    match (path.is_empty(), id.ends_with('/')) {
        (true, _) => id,
        (false, true) => format!("{id}{path}"),
        (false, false) => format!("{id}/{path}"),
    }
}

static REGISTRY: Mutex<Option<HashMap<RegistryKey, Weak<ArrayShared>>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Default byte budget of a write buffer.
pub const DEFAULT_WRITE_BUFFER: usize = 256 << 20;

impl ArrayShared {
    /// Finds or creates the shared state of `(store, path)` and registers a
    /// handle in `mode`, refusing to mix modes.
    pub(crate) fn acquire(
        store: &StoreRef,
        path: &str,
        meta: ArrayMetadata,
        mode: Mode,
        opts: &OpenOptions,
    ) -> Result<Arc<ArrayShared>, Error> {
        let key = registry_key(store, path);
        let mut reg = REGISTRY.lock();
        let map = reg.get_or_insert_with(HashMap::new);
        let shared = match map.get(&key).and_then(Weak::upgrade) {
            Some(s) => {
                let current = Arc::clone(&s.meta.read());
                if *current != meta {
                    let m = s.modes.lock();
                    if m.readers + m.writers > 0 && current.shape != meta.shape {
                        return Err(Error::Busy {
                            path: path.to_string(),
                            reason: "its metadata changed on disk while handles are open".into(),
                            pid: None,
                        });
                    }
                    drop(m);
                    *s.meta.write() = Arc::new(meta);
                    cache::cache().invalidate_array(s.id);
                }
                s
            }
            None => {
                let s = Arc::new(ArrayShared {
                    id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                    store: Arc::clone(store),
                    path: path.to_string(),
                    meta: RwLock::new(Arc::new(meta)),
                    locks: LockTable::default(),
                    dirty: DirtyBuffer::new(DEFAULT_WRITE_BUFFER),
                    modes: Mutex::new(Modes::default()),
                    concurrency: parking_lot::Mutex::new(None),
                });
                map.retain(|_, w| w.strong_count() > 0);
                map.insert(key, Arc::downgrade(&s));
                s
            }
        };
        drop(reg);
        {
            let mut m = shared.modes.lock();
            match mode {
                Mode::Read if m.writers > 0 => {
                    return Err(Error::Busy {
                        path: path.to_string(),
                        reason: format!(
                            "{} open in this process; reads and writes never mix",
                            plural(m.writers, "write handle is", "write handles are")
                        ),
                        pid: None,
                    })
                }
                Mode::Write if m.readers > 0 => {
                    return Err(Error::Busy {
                        path: path.to_string(),
                        reason: format!(
                            "{} open in this process; reads and writes never mix",
                            plural(m.readers, "read handle is", "read handles are")
                        ),
                        pid: None,
                    })
                }
                _ => {}
            }
            if m.readers + m.writers == 0 {
                // The first handle of the process: join the mode's group
                // across processes. Other threads of this process opening
                // the array wait on `modes` meanwhile, as they would on
                // the lock itself.
                let access = match mode {
                    Mode::Read => NodeAccess::Read,
                    Mode::Write => NodeAccess::Write,
                };
                m.process_lock = store
                    .lock_node(path, access, opts.wait)
                    .map_err(|e| busy_error(path, e))?;
            }
            match mode {
                Mode::Read => m.readers += 1,
                Mode::Write => {
                    if m.writers == 0 {
                        // Chunks cached by earlier readers may be rewritten.
                        cache::cache().invalidate_array(shared.id);
                    }
                    m.writers += 1
                }
            }
        }
        Ok(shared)
    }

    /// Number of open (read, write) handles of `(store, path)` in this
    /// process, without registering one.
    pub(crate) fn handles_of(store: &StoreRef, path: &str) -> (usize, usize) {
        let key = registry_key(store, path);
        let reg = REGISTRY.lock();
        reg.as_ref()
            .and_then(|m| m.get(&key))
            .and_then(Weak::upgrade)
            .map_or((0, 0), |s| s.open_handles())
    }

    /// Paths (relative to `store`) of arrays at or under `prefix` (a node
    /// path, "" for all) of this store that have open handles in this
    /// process, including handles opened through another root of the same
    /// storage.
    pub(crate) fn open_under(store: &StoreRef, prefix: &str) -> Vec<String> {
        let root = registry_key(store, "");
        let base = registry_key(store, prefix);
        let reg = REGISTRY.lock();
        let mut out: Vec<String> = reg
            .iter()
            .flat_map(|m| m.iter())
            .filter(|(k, _)| {
                *k == &base
                    || k.strip_prefix(base.as_str())
                        .is_some_and(|r| r.starts_with('/'))
                    || (base.ends_with('/') && k.starts_with(base.as_str()))
            })
            .filter_map(|(k, w)| {
                let s = w.upgrade()?;
                let (r, wr) = s.open_handles();
                let rel = k.strip_prefix(root.as_str())?.trim_start_matches('/');
                (r + wr > 0).then(|| rel.to_string())
            })
            .collect();
        out.sort();
        out
    }

    /// Unregisters a handle (after its last flush); returns true if it was
    /// the last writer. The last handle of the process releases the
    /// cross-process lock.
    pub(crate) fn release(&self, mode: Mode) -> bool {
        let mut m = self.modes.lock();
        let last_writer = match mode {
            Mode::Read => {
                m.readers = m.readers.saturating_sub(1);
                false
            }
            Mode::Write => {
                m.writers = m.writers.saturating_sub(1);
                m.writers == 0
            }
        };
        if m.readers + m.writers == 0 {
            m.process_lock = None;
        }
        last_writer
    }

    /// What the store guarantees for partial writes from several processes
    /// (asked once per array).
    pub(crate) fn concurrency(&self) -> Concurrency {
        let mut c = self.concurrency.lock();
        c.get_or_insert_with(|| self.store.concurrency()).clone()
    }

    /// Number of open (read, write) handles.
    pub(crate) fn open_handles(&self) -> (usize, usize) {
        let m = self.modes.lock();
        (m.readers, m.writers)
    }

    /// Current metadata.
    pub(crate) fn metadata(&self) -> Arc<ArrayMetadata> {
        Arc::clone(&self.meta.read())
    }

    /// The store key of grid cell `cell`.
    pub(crate) fn chunk_key(&self, meta: &ArrayMetadata, cell: &[u64]) -> String {
        crate::store::join_key(&self.path, &meta.chunk_key_encoding.encode(cell))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The error of a refused cross-process lock.
pub(crate) fn busy_error(path: &str, e: StoreError) -> Error {
    match e {
        StoreError::Locked {
            held_by, who, pid, ..
        } => Error::Busy {
            path: path.to_string(),
            reason: format!("open for {held_by} by {who}; reads and writes never mix"),
            pid,
        },
        other => Error::Store(other),
    }
}

impl Drop for ArrayShared {
    fn drop(&mut self) {
        cache::cache().invalidate_array(self.id);
    }
}

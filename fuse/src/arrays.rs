//! Per-array state of the mount: the engine handle its open files share,
//! who holds it (reads and writes of different processes never mix: the
//! second kind gets EBUSY), the change generation that decides whether the
//! kernel may keep its page cache, the stored-bytes figure behind
//! `st_blocks`, and a `.npy` write session if one is in progress.
//!
//! One process may hold an array open for reading and for writing at once
//! (`numpy.load(path, mmap_mode="r+")` does): its reads are then served by
//! the write handle, which reads what was written.
//!
//! Every open, close, deletion and storage listing of an array goes through
//! its gate, so a transient handle (a `stat`) never makes a concurrent open
//! fail. The kernel sends the release of a closed file asynchronously, so an
//! open that conflicts with handles still open waits a moment for pending
//! releases before it gives up with EBUSY.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use fuser::{Errno, FileHandle};
use parking_lot::{Condvar, Mutex, MutexGuard};
use zarrcore::array::{storage_summary_of, StorageSummary};
use zarrcore::{hierarchy, Array, ArrayMetadata, Mode, NodeMetadata, OpenOptions, StoreRef};

use crate::errno::{fail, refuse, FsResult};

/// How long a stored-bytes figure is reused.
const STORED_TTL: Duration = Duration::from_secs(2);

/// How long a conflicting open or deletion waits for releases the kernel
/// has queued (a `close` returns before its release arrives).
const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// How long a change of the engine handle's mode waits for requests still
/// using the old handle.
const SWAP_WAIT: Duration = Duration::from_secs(2);

/// Open files of an array, by process and kind.
#[derive(Debug, Default)]
struct Holders {
    readers: HashMap<u32, usize>,
    writers: HashMap<u32, usize>,
}

impl Holders {
    fn side(&mut self, mode: Mode) -> &mut HashMap<u32, usize> {
        match mode {
            Mode::Read => &mut self.readers,
            Mode::Write => &mut self.writers,
        }
    }

    /// The process holding the other kind of handle, if it is not `pid`.
    fn conflict(&self, mode: Mode, pid: u32) -> Option<u32> {
        let other = match mode {
            Mode::Read => &self.writers,
            Mode::Write => &self.readers,
        };
        other.keys().copied().find(|&p| p != pid)
    }

    fn add(&mut self, mode: Mode, pid: u32) {
        *self.side(mode).entry(pid).or_insert(0) += 1;
    }

    fn remove(&mut self, mode: Mode, pid: u32) {
        let side = self.side(mode);
        if let Some(n) = side.get_mut(&pid) {
            *n -= 1;
            if *n == 0 {
                side.remove(&pid);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.readers.is_empty() && self.writers.is_empty()
    }

    /// The engine mode the holders need.
    fn engine_mode(&self) -> Mode {
        if self.writers.is_empty() {
            Mode::Read
        } else {
            Mode::Write
        }
    }
}

#[derive(Debug, Default)]
struct Gate {
    array: Option<Arc<Array>>,
    holders: Holders,
    session: Option<Session>,
}

/// A `.npy` being created or rewritten through one file handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    /// The handle writing it.
    pub fh: FileHandle,
    /// A new array (no array exists until the header is complete).
    pub create: bool,
}

#[derive(Debug, Clone, Copy)]
struct StoredBytes {
    gen: u64,
    at: Instant,
    bytes: u64,
}

/// The state of one array path.
#[derive(Debug)]
pub(crate) struct ArrayEntry {
    /// Node path.
    pub path: String,
    gate: Mutex<Gate>,
    /// Signalled when a handle is released or a session ends.
    settled: Condvar,
    gen: AtomicU64,
    changed: Mutex<Option<SystemTime>>,
    stored: Mutex<Option<StoredBytes>>,
    seen_meta: Mutex<Option<Arc<ArrayMetadata>>>,
    deferred: Mutex<Option<String>>,
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Read => "reading",
        Mode::Write => "writing",
    }
}

/// Closes an engine handle once no request uses it any more (reporting what
/// storing its buffered chunks gave).
fn close_engine(mut a: Arc<Array>) -> zarrcore::Result<()> {
    let start = Instant::now();
    loop {
        match Arc::try_unwrap(a) {
            Ok(x) => return x.close(),
            Err(back) if start.elapsed() < SWAP_WAIT => {
                a = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            // Still in use: store what is buffered; the handle goes when
            // the last request drops it.
            Err(back) => return back.flush(),
        }
    }
}

impl ArrayEntry {
    fn new(path: &str) -> ArrayEntry {
        ArrayEntry {
            path: path.to_string(),
            gate: Mutex::new(Gate::default()),
            settled: Condvar::new(),
            gen: AtomicU64::new(0),
            changed: Mutex::new(None),
            stored: Mutex::new(None),
            seen_meta: Mutex::new(None),
            deferred: Mutex::new(None),
        }
    }

    /// The gate, once `busy` is false or [`SETTLE_WAIT`] has passed.
    fn settle(&self, busy: impl Fn(&Gate) -> bool) -> MutexGuard<'_, Gate> {
        let mut g = self.gate.lock();
        let deadline = Instant::now() + SETTLE_WAIT;
        while busy(&g) {
            if self.settled.wait_until(&mut g, deadline).timed_out() {
                break;
            }
        }
        g
    }

    /// Brings the engine handle to the mode the holders need.
    fn fit_engine(&self, g: &mut Gate, store: &StoreRef) -> zarrcore::Result<()> {
        let want = g.holders.engine_mode();
        if g.holders.is_empty() {
            return g.array.take().map_or(Ok(()), close_engine);
        }
        if g.array.as_ref().is_some_and(|a| a.mode() == want) {
            return Ok(());
        }
        if let Some(old) = g.array.take() {
            close_engine(old)?;
        }
        // Another process (a program, another mount) may be closing the
        // array in the other mode: give its release the same moment as ours.
        let opts = OpenOptions::new().wait(SETTLE_WAIT);
        let a = Array::open_with(store, &self.path, want, &opts)?;
        self.note_metadata(&a.metadata());
        g.array = Some(Arc::new(a));
        Ok(())
    }

    /// Registers one more open file of process `pid` in `mode`.
    pub fn open(&self, store: &StoreRef, mode: Mode, pid: u32) -> FsResult<()> {
        let creating = |g: &Gate| g.session.is_some_and(|s| s.create);
        let mut g = self.settle(|g| g.holders.conflict(mode, pid).is_some() || creating(g));
        if creating(&g) {
            return Err(refuse(
                Errno::EBUSY,
                format_args!("array {:?} is being created", self.path),
            ));
        }
        if let Some(other) = g.holders.conflict(mode, pid) {
            let held = match mode {
                Mode::Read => Mode::Write,
                Mode::Write => Mode::Read,
            };
            return Err(refuse(
                Errno::EBUSY,
                format_args!(
                    "array {:?} is open for {} by process {other}; it cannot be opened for {} until it is closed",
                    self.path,
                    mode_name(held),
                    mode_name(mode)
                ),
            ));
        }
        g.holders.add(mode, pid);
        if let Err(e) = self.fit_engine(&mut g, store) {
            g.holders.remove(mode, pid);
            let _ = self.fit_engine(&mut g, store);
            return Err(fail(format_args!("open array {:?}", self.path))(e));
        }
        Ok(())
    }

    /// Waits (briefly) until no new `.npy` is being created here; true if none is.
    pub fn wait_not_creating(&self) -> bool {
        let g = self.settle(|g| g.session.is_some_and(|s| s.create));
        !g.session.is_some_and(|s| s.create)
    }

    /// Takes in a freshly created array, open for writing by its creator `pid`.
    pub fn adopt(&self, a: Array, pid: u32) -> FsResult<()> {
        let mut g = self.gate.lock();
        if !g.holders.is_empty() {
            return Err(refuse(
                Errno::EBUSY,
                format_args!("array {:?} is already open", self.path),
            ));
        }
        self.note_metadata(&a.metadata());
        g.holders.add(Mode::Write, pid);
        g.array = Some(Arc::new(a));
        drop(g);
        self.bump();
        Ok(())
    }

    /// The engine handle the open files use.
    pub fn current(&self) -> Option<Arc<Array>> {
        self.gate.lock().array.clone()
    }

    /// Drops an open file of `pid` in `mode`; the last one closes the engine
    /// handle (storing what a write handle holds) and reports its error.
    pub fn release(&self, store: &StoreRef, mode: Mode, pid: u32) -> zarrcore::Result<()> {
        let mut g = self.gate.lock();
        g.holders.remove(mode, pid);
        let r = self.fit_engine(&mut g, store);
        drop(g);
        self.settled.notify_all();
        r
    }

    /// Stores the dirty chunks of the engine handle, if it writes.
    pub fn flush(&self) -> zarrcore::Result<()> {
        match self.current() {
            Some(a) if a.mode() == Mode::Write => a.flush(),
            _ => Ok(()),
        }
    }

    /// What is stored for the array: through the open handle, or from the
    /// stored metadata without opening one (a `stat` must not join the
    /// array's readers, which would refuse a writer in another process).
    fn storage_summary(&self, store: &StoreRef) -> zarrcore::Result<StorageSummary> {
        let g = self.gate.lock();
        if let Some(a) = &g.array {
            return a.storage_summary();
        }
        match hierarchy::read_node(store, &self.path)? {
            Some(NodeMetadata::Array(m)) => storage_summary_of(store, &self.path, &m),
            _ => Err(zarrcore::Error::invalid(format!(
                "{:?} is not an array",
                self.path
            ))),
        }
    }

    /// Deletes the array from the store; refused while it is open.
    pub fn delete(&self, store: &StoreRef) -> FsResult<()> {
        let g = self.settle(|g| !g.holders.is_empty() || g.session.is_some());
        if !g.holders.is_empty() || g.session.is_some() {
            return Err(refuse(
                Errno::EBUSY,
                format_args!("array {:?} is open; close it before deleting it", self.path),
            ));
        }
        hierarchy::delete_node(store, &self.path)
            .map_err(fail(format_args!("delete array {:?}", self.path)))?;
        drop(g);
        *self.seen_meta.lock() = None;
        self.bump();
        Ok(())
    }

    /// The change generation: bumped by every change made through the
    /// mount and whenever the metadata is seen to have changed.
    pub fn generation(&self) -> u64 {
        self.gen.load(Ordering::Acquire)
    }

    /// Records a change.
    pub fn bump(&self) {
        self.gen.fetch_add(1, Ordering::AcqRel);
        *self.changed.lock() = Some(SystemTime::now());
        *self.stored.lock() = None;
    }

    /// When the array last changed through the mount.
    pub fn changed(&self) -> Option<SystemTime> {
        *self.changed.lock()
    }

    fn note_metadata(&self, m: &Arc<ArrayMetadata>) {
        let mut seen = self.seen_meta.lock();
        let differs = seen.as_ref().is_some_and(|s| !same_data_layout(s, m));
        *seen = Some(Arc::clone(m));
        drop(seen);
        if differs {
            self.bump();
        }
    }

    /// Bytes stored for the array's chunks (cached briefly).
    pub fn stored_bytes(&self, store: &StoreRef) -> Option<u64> {
        let gen = self.generation();
        if let Some(s) = *self.stored.lock() {
            if s.gen == gen && s.at.elapsed() < STORED_TTL {
                return Some(s.bytes);
            }
        }
        let bytes = self.storage_summary(store).ok()?.stored_bytes;
        *self.stored.lock() = Some(StoredBytes {
            gen,
            at: Instant::now(),
            bytes,
        });
        Some(bytes)
    }

    /// The `.npy` write session, if any.
    pub fn session(&self) -> Option<Session> {
        self.gate.lock().session
    }

    /// Starts a session; fails if another one is running.
    pub fn begin_session(&self, s: Session) -> FsResult<()> {
        let mut g = self.gate.lock();
        let cur = &mut g.session;
        match *cur {
            Some(other) if other.fh != s.fh => Err(refuse(
                Errno::EBUSY,
                format_args!("{:?}: another handle is writing its .npy", self.path),
            )),
            _ => {
                *cur = Some(s);
                Ok(())
            }
        }
    }

    /// Ends the session of handle `fh`.
    pub fn end_session(&self, fh: FileHandle) {
        let mut g = self.gate.lock();
        if g.session.is_some_and(|s| s.fh == fh) {
            g.session = None;
            drop(g);
            self.settled.notify_all();
        }
    }

    /// Keeps an error that no caller could be told about (a last close
    /// without a `close()` waiting for it): the next flush or fsync reports it.
    pub fn defer_error(&self, msg: String) {
        *self.deferred.lock() = Some(msg);
    }

    /// Takes the deferred error, if any.
    pub fn take_deferred_error(&self) -> Option<String> {
        self.deferred.lock().take()
    }
}

/// Whether two metadata documents describe the same data (attributes and
/// extensions aside): if not, the array changed behind the mount's back.
fn same_data_layout(a: &ArrayMetadata, b: &ArrayMetadata) -> bool {
    a.zarr_format == b.zarr_format
        && a.shape == b.shape
        && a.chunk_shape == b.chunk_shape
        && a.data_type == b.data_type
        && a.endian == b.endian
        && a.fill_value == b.fill_value
        && a.chunk_key_encoding == b.chunk_key_encoding
        && a.codecs == b.codecs
        && a.order == b.order
}

/// All arrays seen by the mount.
#[derive(Debug, Default)]
pub(crate) struct Arrays {
    map: Mutex<HashMap<String, Arc<ArrayEntry>>>,
}

impl Arrays {
    /// The entry of `path`, created if new.
    pub fn entry(&self, path: &str) -> Arc<ArrayEntry> {
        let mut m = self.map.lock();
        Arc::clone(
            m.entry(path.to_string())
                .or_insert_with(|| Arc::new(ArrayEntry::new(path))),
        )
    }

    /// The entry of `path` if it has one.
    pub fn get(&self, path: &str) -> Option<Arc<ArrayEntry>> {
        self.map.lock().get(path).cloned()
    }

    /// Every entry.
    pub fn all(&self) -> Vec<Arc<ArrayEntry>> {
        self.map.lock().values().cloned().collect()
    }

    /// Paths of arrays being created (their header not yet stored).
    pub fn creating(&self) -> Vec<String> {
        self.map
            .lock()
            .values()
            .filter(|e| e.session().is_some_and(|s| s.create))
            .map(|e| e.path.clone())
            .collect()
    }
}

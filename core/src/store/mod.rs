//! Key/value stores that hold Zarr hierarchies.
//!
//! Implementations: [`DirectoryStore`] (a directory tree), [`ZipStore`] (a zip
//! file, read directly; written by building a new zip), [`MemoryStore`] and,
//! with the `object-store` feature, [`RemoteStore`] (`s3://`, `gs://`,
//! `az://`, `http(s)://`).
//! Every implementation passes the same conformance suite
//! (`core/tests/store_conformance.rs`).

mod directory;
mod key;
mod lock;
mod memory;
#[cfg(feature = "object-store")]
mod object;
mod replace;
mod zip;

use std::fmt;
use std::sync::Arc;

pub use bytes::Bytes;

pub use self::directory::DirectoryStore;
pub use self::key::{is_temp_name, join as join_key, normalize_path, validate_key, TEMP_MARKER};
pub use self::lock::ModeLock;
pub use self::memory::MemoryStore;
#[cfg(feature = "object-store")]
pub use self::object::{is_remote_url, RemoteConfig, RemoteStats, RemoteStore};
pub use self::zip::ZipStore;
use crate::error::StoreError;

/// A byte range of a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `len` bytes starting at `offset`.
    Range {
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Resolves against a value of `size` bytes to `(start, end)`.
    pub fn resolve(&self, size: u64) -> Option<(u64, u64)> {
        match *self {
            ByteRange::Range { offset, len } => {
                let end = offset.checked_add(len)?;
                (end <= size).then_some((offset, end))
            }
            ByteRange::Suffix(n) => size.checked_sub(n).map(|start| (start, size)),
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ByteRange::Range { offset, len } => {
                write!(f, "{offset}..{}", offset.saturating_add(len))
            }
            ByteRange::Suffix(n) => write!(f, "last {n} bytes"),
        }
    }
}

/// One request of [`Store::get_many`]: a whole value or a byte range of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetRequest<'a> {
    /// The key.
    pub key: &'a str,
    /// `None` for the whole value.
    pub range: Option<ByteRange>,
}

/// Immediate children of a key prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDir {
    /// Keys directly under the prefix (full keys).
    pub keys: Vec<String>,
    /// Child prefixes (full, without trailing `/`).
    pub prefixes: Vec<String>,
}

/// The stored state of a key as a reader saw it: what a conditional write
/// ([`Store::set_if`]) compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generation {
    /// The key did not exist.
    Absent,
    /// An opaque tag that changes whenever the value is replaced: an object
    /// store's ETag; for a directory store, the file's identity and a
    /// checksum of its content.
    Tag(String),
}

/// What a store guarantees when several processes replace one key, which
/// decides how the engine merges partial-chunk writes (see
/// `docs/design.md`, "Several processes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concurrency {
    /// [`Store::set_if`] is atomic against every process that uses this
    /// store through zarrcore (directory stores: OFD locks; object stores:
    /// `If-Match`/`If-None-Match`; memory and zip stores: one process).
    Atomic,
    /// The user declared this process the only writer (the `single_writer`
    /// option): writes are unconditional.
    SingleWriter,
    /// The store cannot make a write conditional: partial-chunk writes from
    /// several processes could silently lose each other, so the engine
    /// refuses them.
    Unprotected {
        /// Why (what the server answered).
        reason: String,
    },
}

/// What a [`Store::lock_node`] lock admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAccess {
    /// Any number of readers, no writer.
    Read,
    /// Any number of writers, no reader.
    Write,
}

/// A key/value store.
///
/// # Contract
///
/// * **Keys** are `/`-separated relative paths (`a/b/zarr.json`, `a/c/0/1`).
///   Every method validates its key with [`validate_key`]: empty segments,
///   `.` and `..` segments, NUL bytes and backslashes are refused with
///   [`StoreError::InvalidKey`]; nothing outside the store is ever touched.
/// * **Missing keys**: [`get`](Store::get), [`get_range`](Store::get_range)
///   and [`size`](Store::size) return `Ok(None)`; [`delete`](Store::delete) of
///   a missing key succeeds. Errors are reserved for real failures.
/// * **Atomicity**: [`set`](Store::set) replaces the whole value atomically:
///   a concurrent reader, in this process or another, sees the old value or
///   the new one, never a mix or a truncation. Directory stores write a
///   temporary file (its name contains [`TEMP_MARKER`]) in the same directory
///   and rename it; leftover temporaries are never returned by listings or
///   reads.
/// * **Byte ranges**: [`get_range`](Store::get_range) returns exactly the
///   requested bytes, or [`StoreError::RangeOutOfBounds`] if the range does
///   not fit the value.
/// * **Listing**: [`list_prefix`](Store::list_prefix) returns every key that
///   starts with the prefix, sorted; [`list_dir`](Store::list_dir) treats the
///   prefix as a directory and returns its immediate keys and sub-prefixes,
///   sorted. Listings reflect completed `set`/`delete` calls.
/// * **Concurrency**: every method takes `&self` and may be called from any
///   number of threads at once. Concurrent `set`s of *different* keys never
///   interfere; concurrent `set`s of the same key leave one of the values.
///   Reads concurrent with writes of the same key see old or new.
///   [`flush`](Store::flush) makes buffered writes visible to other processes
///   (a no-op for directory stores; builds the file for zip stores).
pub trait Store: Send + Sync + fmt::Debug {
    /// A human-readable description (`directory /data/x.zarr`).
    fn describe(&self) -> String;

    /// Whether writes are allowed.
    fn is_writable(&self) -> bool;

    /// The whole value, or `None` if the key is missing.
    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Part of a value, or `None` if the key is missing.
    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError>;

    /// The size of a value in bytes, or `None` if the key is missing.
    fn size(&self, key: &str) -> Result<Option<u64>, StoreError>;

    /// Stores a value, atomically replacing any previous one.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Deletes a key (no error if it is missing).
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Deletes every key under `prefix` (a node path, `""` for everything).
    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError>;

    /// Every key starting with `prefix`, sorted.
    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Immediate children of the directory-like `prefix` (`""` is the root).
    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError>;

    /// Makes completed writes durable/visible (see the contract).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A stable identity of the underlying storage (same for two handles on
    /// the same directory), used to share per-array state in a process.
    fn identity(&self) -> String {
        self.describe()
    }

    /// A cheap version tag of the value at `key` that changes whenever the
    /// value is replaced (by this process or another); `None` when the key
    /// is missing or the store cannot tell cheaply. The decoded-chunk cache
    /// checks it on every hit, so a long-lived reader never serves a chunk
    /// that another process has since rewritten.
    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// Whether reads are cheap enough that fetching inside a decode task is
    /// better than batching (local stores: true; remote stores: false).
    fn is_local(&self) -> bool {
        true
    }

    /// Fetches several values or byte ranges, returning one result per
    /// request in request order, each as [`get`](Store::get) or
    /// [`get_range`](Store::get_range) would. Remote stores issue the
    /// requests concurrently (bounded) off the engine's thread pool; the
    /// default runs them one after the other.
    fn get_many(&self, requests: &[GetRequest<'_>]) -> Vec<Result<Option<Bytes>, StoreError>> {
        requests
            .iter()
            .map(|r| match r.range {
                None => self.get(r.key),
                Some(range) => self.get_range(r.key, range),
            })
            .collect()
    }

    /// The whole value with its [`Generation`], read consistently (the tag
    /// is the one of the bytes returned). The default pairs
    /// [`get`](Store::get) with a tag of [`version`](Store::version), which
    /// is only as consistent as that store's versions.
    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        let v = self.get(key)?;
        let g = match (&v, self.version(key)?) {
            (None, _) => Generation::Absent,
            (Some(_), Some(t)) => Generation::Tag(t.to_string()),
            (Some(_), None) => Generation::Tag(String::new()),
        };
        Ok((v, g))
    }

    /// Replaces (`Some`) or deletes (`None`) the value of `key` if and only
    /// if it is still at generation `expected`, atomically with respect to
    /// every other process using this store (as far as
    /// [`concurrency`](Store::concurrency) promises). Returns `Ok(false)`,
    /// changing nothing, when the key has moved on: the caller re-reads,
    /// merges and tries again. Fails with [`StoreError::Unsupported`] where
    /// the store cannot make the operation conditional (object stores cannot
    /// delete conditionally: store the fill-valued chunk instead).
    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        let _ = (value, expected);
        Err(StoreError::Unsupported {
            store: self.describe(),
            op: "conditional write",
            reason: format!("this store cannot replace {key:?} conditionally"),
        })
    }

    /// What [`set_if`](Store::set_if) guarantees across processes. May make
    /// a request the first time (object stores check once that the server
    /// honours conditional requests).
    fn concurrency(&self) -> Concurrency {
        Concurrency::Unprotected {
            reason: "the store does not implement conditional writes".into(),
        }
    }

    /// Takes the cross-process lock of the read-or-write rule for the node
    /// at `node` ("" for the root), waiting up to `wait` (`None`: not at
    /// all) for processes holding it in the other mode. `Ok(None)`: the
    /// store has no such lock (object stores; see `docs/design.md`). The
    /// lock lasts as long as the returned value, or the process.
    fn lock_node(
        &self,
        node: &str,
        access: NodeAccess,
        wait: Option<std::time::Duration>,
    ) -> Result<Option<ModeLock>, StoreError> {
        let _ = (node, access, wait);
        Ok(None)
    }
}

/// A shared store handle.
pub type StoreRef = Arc<dyn Store>;

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreOptions {
    /// Allow writes.
    pub writable: bool,
    /// Create the store if it does not exist (implies `writable`).
    pub create: bool,
    /// `fsync` every written value and its directory before `set` returns.
    pub durable: bool,
}

impl StoreOptions {
    /// Read-only.
    pub fn read_only() -> Self {
        StoreOptions::default()
    }

    /// Writable, creating the store if needed.
    pub fn create() -> Self {
        StoreOptions {
            writable: true,
            create: true,
            durable: false,
        }
    }
}

/// Opens a store by path or URL: `memory://NAME`, a remote URL (`s3://`,
/// `gs://`, `az://`, `http(s)://`: [`RemoteStore`], configured from the
/// environment and URL query options, see `docs/object_store.md`), a path
/// ending in `.zip` (zip store) or any other path (directory store).
pub fn open_store(location: &str, opts: StoreOptions) -> Result<StoreRef, StoreError> {
    if let Some(name) = location.strip_prefix("memory://") {
        return Ok(MemoryStore::named(name));
    }
    #[cfg(feature = "object-store")]
    if is_remote_url(location) {
        return Ok(Arc::new(RemoteStore::open(location, opts)?));
    }
    if let Some((scheme, _)) = location.split_once("://") {
        if scheme != "file" {
            return Err(StoreError::Open {
                location: location.to_string(),
                reason: format!(
                    "unsupported URL scheme {scheme:?} (supported: file://, memory://{})",
                    if cfg!(feature = "object-store") {
                        ", s3://, gs://, az://, http(s)://"
                    } else {
                        "; remote URLs need the object-store feature"
                    }
                ),
            });
        }
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let is_zip = std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        Ok(Arc::new(ZipStore::open(path, opts)?))
    } else {
        Ok(Arc::new(DirectoryStore::open(path, opts)?))
    }
}

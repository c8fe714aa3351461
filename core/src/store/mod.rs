//! Key/value stores that hold Zarr hierarchies.
//!
//! Implementations: [`DirectoryStore`] (a directory tree), [`ZipStore`] (a zip
//! file, read directly; written by building a new zip) and [`MemoryStore`].
//! Every implementation passes the same conformance suite
//! (`core/tests/store_conformance.rs`).

mod directory;
mod key;
mod memory;
mod zip;

use std::fmt;
use std::sync::Arc;

pub use bytes::Bytes;

pub use self::directory::DirectoryStore;
pub use self::key::{is_temp_name, join as join_key, normalize_path, validate_key, TEMP_MARKER};
pub use self::memory::MemoryStore;
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

/// Immediate children of a key prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDir {
    /// Keys directly under the prefix (full keys).
    pub keys: Vec<String>,
    /// Child prefixes (full, without trailing `/`).
    pub prefixes: Vec<String>,
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

/// Opens a store by path or URL: `memory://NAME`, a path ending in `.zip`
/// (zip store) or any other path (directory store).
pub fn open_store(location: &str, opts: StoreOptions) -> Result<StoreRef, StoreError> {
    if let Some(name) = location.strip_prefix("memory://") {
        return Ok(MemoryStore::named(name));
    }
    if let Some((scheme, _)) = location.split_once("://") {
        if scheme != "file" {
            return Err(StoreError::Open {
                location: location.to_string(),
                reason: format!(
                    "unsupported URL scheme {scheme:?} (supported: file://, memory://)"
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

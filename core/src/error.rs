//! Errors, typed per domain (store, metadata, codec, region), each naming the
//! store key or array path it concerns, and one umbrella [`Error`].

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of a [`Store`](crate::store::Store) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error while accessing `key`.
    #[error("store key {key:?}: {op} failed: {source}")]
    Io {
        /// The key (or the store location for store-wide operations).
        key: String,
        /// What was being done (`read`, `write`, `list`, ...).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The key is malformed or would resolve outside the store.
    #[error("invalid store key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// The store was opened read-only (or cannot be written at all).
    #[error("store {store} is read-only: cannot {op} {key:?}")]
    ReadOnly {
        /// Description of the store.
        store: String,
        /// The operation refused.
        op: &'static str,
        /// The key concerned.
        key: String,
    },
    /// A byte range that does not fit the stored value.
    #[error("store key {key:?}: byte range {range} is outside the value of {size} bytes")]
    RangeOutOfBounds {
        /// The key.
        key: String,
        /// The range requested.
        range: String,
        /// The stored size.
        size: u64,
    },
    /// The store could not be opened.
    #[error("cannot open store {location:?}: {reason}")]
    Open {
        /// The path or URL.
        location: String,
        /// Why.
        reason: String,
    },
    /// The operation cannot be made safe on this store.
    #[error("store {store}: {op} is not supported: {reason}")]
    Unsupported {
        /// Description of the store.
        store: String,
        /// The operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// Another process holds a node in the other mode (reads and writes
    /// never mix).
    #[error("{node:?} is open for {held_by} by {who}")]
    Locked {
        /// The node (array path, or the zip file).
        node: String,
        /// `reading` or `writing`.
        held_by: &'static str,
        /// `process 1234` or `another process`.
        who: String,
        /// The holding process, where the OS tells.
        pid: Option<u32>,
    },
    /// Any other backend failure.
    #[error("store key {key:?}: {message}")]
    Backend {
        /// The key.
        key: String,
        /// The message from the backend.
        message: String,
    },
}

impl StoreError {
    /// Convenience constructor for [`StoreError::Io`].
    pub fn io(key: impl Into<String>, op: &'static str, source: std::io::Error) -> Self {
        StoreError::Io {
            key: key.into(),
            op,
            source,
        }
    }
}

/// Malformed, missing or unsupported metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// No metadata document where one is required.
    #[error("no Zarr array or group at {path:?} (looked for {looked_for})")]
    NotFound {
        /// The node path.
        path: String,
        /// Which keys were tried.
        looked_for: String,
    },
    /// The document is not valid JSON.
    #[error("metadata {key:?} is not valid JSON: {source}")]
    Json {
        /// The metadata key.
        key: String,
        /// The parser error.
        #[source]
        source: serde_json::Error,
    },
    /// A field is missing or has the wrong form.
    #[error("metadata {key:?}: {reason}")]
    Invalid {
        /// The metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A codec, data type, chunk grid or extension this engine does not implement.
    #[error("metadata {key:?}: unsupported {what} {name:?}{detail}")]
    Unsupported {
        /// The metadata key.
        key: String,
        /// `codec`, `data type`, `chunk grid`, `extension`, ...
        what: &'static str,
        /// Its name.
        name: String,
        /// Extra context (may be empty).
        detail: String,
    },
}

/// A codec failed to encode or decode (the key is added by [`Error::Chunk`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{codec}: {reason}")]
pub struct CodecError {
    /// The codec's name (`zstd`, `blosc`, `crc32c`, ...).
    pub codec: &'static str,
    /// What went wrong.
    pub reason: String,
}

impl CodecError {
    /// A new codec error.
    pub fn new(codec: &'static str, reason: impl Into<String>) -> Self {
        CodecError {
            codec,
            reason: reason.into(),
        }
    }
}

/// A region or buffer that does not fit the array.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// The region's rank differs from the array's.
    #[error("array {path:?}: region has {got} dimensions, the array has {expected}")]
    Rank {
        /// Array path.
        path: String,
        /// Array rank.
        expected: usize,
        /// Region rank.
        got: usize,
    },
    /// The region reaches outside the array.
    #[error("array {path:?}: region {region} is out of bounds for shape {shape:?}")]
    OutOfBounds {
        /// Array path.
        path: String,
        /// The region, as `start:stop` per axis.
        region: String,
        /// The array shape.
        shape: Vec<u64>,
    },
    /// The caller's buffer has the wrong length.
    #[error("array {path:?}: buffer has {got} bytes, the region needs {expected}")]
    BufferLength {
        /// Array path.
        path: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes given.
        got: u64,
    },
    /// The array's elements have a variable length (`string`, `bytes`): the
    /// fixed-size byte paths cannot serve it.
    #[error("array {path:?} has a variable-length data type (string or bytes): read and write it with Array::read_vlen / Array::write_vlen (zarrcore::array::strings), not as fixed-size bytes")]
    VariableLength {
        /// Array path.
        path: String,
    },
    /// Sizes overflow the address space.
    #[error("array {path:?}: {what} overflows")]
    Overflow {
        /// Array path.
        path: String,
        /// What overflowed.
        what: String,
    },
}

/// The umbrella error of every zarrcore operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Metadata is missing, malformed or unsupported.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A chunk (or shard) could not be encoded or decoded.
    #[error("chunk {key:?}: {source}")]
    Chunk {
        /// The chunk's store key.
        key: String,
        /// The codec failure.
        #[source]
        source: CodecError,
    },
    /// A region or buffer does not fit.
    #[error(transparent)]
    Region(#[from] RegionError),
    /// The array is open in the other mode (reads and writes never mix),
    /// in this process or another.
    #[error("array {path:?} is busy: {reason}")]
    Busy {
        /// Array path.
        path: String,
        /// Which handles are open, and where.
        reason: String,
        /// The process holding it, when another process does and the OS
        /// tells which.
        pid: Option<u32>,
    },
    /// A partial-chunk write on a store that cannot make writes
    /// conditional: it could silently lose another process's update.
    #[error("store {store} cannot protect partial writes across processes ({reason}): writing part of chunk {key:?} could silently lose another process's update to it; if this process is the array's only writer, open the store with the single_writer option")]
    Unprotected {
        /// Description of the store.
        store: String,
        /// The chunk or shard key.
        key: String,
        /// What the store answered.
        reason: String,
    },
    /// A node already exists where one was to be created.
    #[error("{path:?} already exists ({what})")]
    AlreadyExists {
        /// Node path.
        path: String,
        /// What is there.
        what: String,
    },
    /// The operation needs the other handle mode.
    #[error("array {path:?}: {reason}")]
    Mode {
        /// Array path.
        path: String,
        /// Explanation.
        reason: String,
    },
    /// An argument is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Wraps a codec failure with the chunk key it concerns.
    pub fn chunk(key: impl Into<String>, source: CodecError) -> Self {
        Error::Chunk {
            key: key.into(),
            source,
        }
    }

    /// A [`Error::InvalidArgument`] from anything printable.
    pub fn invalid(msg: impl fmt::Display) -> Self {
        Error::InvalidArgument(msg.to_string())
    }
}

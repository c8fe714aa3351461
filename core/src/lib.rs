//! # zarrcore
//!
//! An embedded storage engine for Zarr v2 and v3 arrays: chunked,
//! compressed N-dimensional arrays in a directory, a zip file or memory,
//! read and written in parallel — concurrent reads, or concurrent writes,
//! never both at once on one array.
//!
//! * [`open_store`] opens a store by path or URL.
//! * [`Array`] reads and writes hyper-rectangles ([`Region`]) and linear byte
//!   ranges; [`ArrayBuilder`] creates arrays.
//! * [`Group`] and the [`hierarchy`] functions manage groups, attributes,
//!   members and consolidated metadata.
//! * [`npy`] reads and writes NumPy `.npy` headers.
//!
//! The engine ([`engine`]) shares per-array state between handles of one
//! process: a lock table for read-modify-write, a write buffer that coalesces
//! partial writes, and a process-wide decoded-chunk cache.

pub mod array;
pub mod check;
pub mod codec;
pub mod dtype;
pub mod engine;
pub mod error;
pub mod fill;
pub mod hierarchy;
pub mod metadata;
pub mod nd;
pub mod npy;
pub mod ops;
pub mod store;
pub mod util;

pub use crate::array::{Array, ArrayBuilder, Layout, Region};
pub use crate::codec::CodecSpec;
pub use crate::dtype::{DataType, Endian};
pub use crate::engine::{Mode, OpenOptions};
pub use crate::error::{Error, Result};
pub use crate::fill::FillValue;
pub use crate::hierarchy::{Group, NodeKind};
pub use crate::metadata::{ArrayMetadata, Attributes, NodeMetadata, Order, ZarrFormat};
pub use crate::store::{open_store, Store, StoreOptions, StoreRef};

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

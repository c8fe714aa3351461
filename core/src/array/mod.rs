//! Arrays: open or create, read and write hyper-rectangles and byte ranges.
//!
//! ```no_run
//! use zarrcore::{open_store, Array, ArrayBuilder, DataType, Mode, Region, StoreOptions};
//! let store = open_store("data.zarr", StoreOptions::create())?;
//! let a = ArrayBuilder::new(vec![100, 100], DataType::Float64)
//!     .chunks(vec![32, 32])
//!     .create(&store, "temperature")?;
//! a.write_region(&Region::all(&[100, 100]), &vec![0u8; 100 * 100 * 8])?;
//! a.close()?;
//! let r = Array::open(&store, "temperature", Mode::Read)?;
//! let mut buf = vec![0u8; 10 * 10 * 8];
//! r.read_region(&Region::new(vec![5, 5], vec![10, 10]), &mut buf)?;
//! # Ok::<(), zarrcore::Error>(())
//! ```

mod builder;
mod info;
mod linear;
mod prefetch;
mod read;
pub mod region;
mod source;
pub mod strings;
mod write;

use std::sync::Arc;

pub use self::builder::{default_chunks, ArrayBuilder};
pub use self::info::{storage_summary_of, StorageSummary, StoredChunk};
pub use self::linear::{linear_regions, linear_regions_in};
pub use self::region::Region;
use crate::dtype::{DataType, Endian};
use crate::engine::{ArrayShared, Mode, OpenOptions};
use crate::error::{Error, Result};
use crate::fill::FillValue;
use crate::hierarchy;
use crate::metadata::{ArrayMetadata, Attributes, NodeMetadata, Order};
use crate::store::{normalize_path, StoreRef};

/// Memory layout of a caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Element order (C: last index fastest; F: first index fastest).
    pub order: Order,
    /// Byte order of the elements.
    pub endian: Endian,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::native()
    }
}

impl Layout {
    /// C order, the machine's byte order.
    pub const fn native() -> Layout {
        Layout {
            order: Order::C,
            endian: Endian::native(),
        }
    }

    /// C order in byte order `endian`.
    pub const fn c(endian: Endian) -> Layout {
        Layout {
            order: Order::C,
            endian,
        }
    }
}

/// An open array handle (read or write mode).
///
/// Handles are `Send + Sync`: share one between threads or open several.
/// Read and write handles of one array never coexist in a process (opening
/// the other kind fails with [`Error::Busy`]).
#[derive(Debug)]
pub struct Array {
    shared: Arc<ArrayShared>,
    /// The store and path this handle was opened with (the shared state may
    /// have been created through another root of the same storage).
    store: StoreRef,
    path: String,
    mode: Mode,
    released: bool,
}

impl Array {
    /// Opens the array at `path` ("" or "/" is the root) in `mode`; fails at
    /// once with [`Error::Busy`] if this or another process has it open in
    /// the other mode.
    pub fn open(store: &StoreRef, path: &str, mode: Mode) -> Result<Array> {
        Self::open_with(store, path, mode, &OpenOptions::default())
    }

    /// [`open`](Array::open) with options (how long to wait while the array
    /// is busy).
    pub fn open_with(
        store: &StoreRef,
        path: &str,
        mode: Mode,
        opts: &OpenOptions,
    ) -> Result<Array> {
        let path = normalize_path(path)?;
        if mode == Mode::Write && !store.is_writable() {
            return Err(crate::error::StoreError::ReadOnly {
                store: store.describe(),
                op: "open for writing",
                key: path,
            }
            .into());
        }
        let meta = match hierarchy::read_node(store, &path)? {
            Some(NodeMetadata::Array(m)) => *m,
            Some(NodeMetadata::Group(_)) => {
                return Err(Error::invalid(format!("{path:?} is a group, not an array")))
            }
            None => {
                return Err(crate::error::MetadataError::NotFound {
                    path,
                    looked_for: "zarr.json, .zarray".into(),
                }
                .into())
            }
        };
        Self::from_metadata(store, &path, meta, mode, opts)
    }

    pub(crate) fn from_metadata(
        store: &StoreRef,
        path: &str,
        meta: ArrayMetadata,
        mode: Mode,
        opts: &OpenOptions,
    ) -> Result<Array> {
        let shared = ArrayShared::acquire(store, path, meta, mode, opts)?;
        Ok(Array {
            shared,
            store: Arc::clone(store),
            path: path.to_string(),
            mode,
            released: false,
        })
    }

    /// Writes `meta` at `path` (creating parent groups) and opens the new
    /// array for writing. Fails if a node exists there, unless `overwrite`.
    pub fn create(
        store: &StoreRef,
        path: &str,
        meta: ArrayMetadata,
        overwrite: bool,
    ) -> Result<Array> {
        let path = normalize_path(path)?;
        meta.validate(&path)?;
        if let Some(existing) = hierarchy::read_node(store, &path)? {
            let (r, w) = ArrayShared::handles_of(store, &path);
            if r + w > 0 {
                return Err(Error::Busy {
                    path,
                    reason: format!(
                        "{r} read and {w} write handle(s) are open; close them before replacing the array"
                    ),
                    pid: None,
                });
            }
            if !overwrite {
                return Err(Error::AlreadyExists {
                    what: match existing {
                        NodeMetadata::Array(_) => "an array".into(),
                        NodeMetadata::Group(_) => "a group".into(),
                    },
                    path,
                });
            }
            // Readers in other processes keep the old array open: refuse
            // to replace it under them (held until the old one is gone).
            let _writers = store
                .lock_node(&path, crate::store::NodeAccess::Write, None)
                .map_err(|e| crate::engine::busy_error(&path, e))?;
            hierarchy::delete_node(store, &path)?;
        }
        hierarchy::ensure_parent_groups(store, &path, meta.zarr_format)?;
        hierarchy::write_array_metadata(store, &path, &meta)?;
        if !path.is_empty() {
            hierarchy::refresh_consolidated(store)?;
        }
        Self::from_metadata(store, &path, meta, Mode::Write, &OpenOptions::default())
    }

    /// Creates an array from a metadata document (v3 `zarr.json` or v2
    /// `.zarray`, the latter optionally with an `"attributes"` object).
    pub fn create_from_json(
        store: &StoreRef,
        path: &str,
        doc: &serde_json::Value,
        overwrite: bool,
    ) -> Result<Array> {
        let meta = crate::metadata::parse_array_document(doc)?;
        let meta = crate::hierarchy::reparse_array(&meta)?;
        Self::create(store, path, meta, overwrite)
    }

    /// The handle's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Node path ("" for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The store.
    pub fn store(&self) -> &StoreRef {
        &self.store
    }

    /// Current metadata.
    pub fn metadata(&self) -> Arc<ArrayMetadata> {
        self.shared.metadata()
    }

    /// Shape.
    pub fn shape(&self) -> Vec<u64> {
        self.metadata().shape.clone()
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.metadata().ndim()
    }

    /// Element type.
    pub fn data_type(&self) -> DataType {
        self.metadata().data_type
    }

    /// Fill value.
    pub fn fill_value(&self) -> FillValue {
        self.metadata().fill_value.clone()
    }

    /// Total size of the array in bytes, uncompressed.
    pub fn num_bytes(&self) -> u64 {
        let m = self.metadata();
        crate::nd::checked_num_elements(&m.shape).unwrap_or(0) * m.data_type.size() as u64
    }

    /// Attributes.
    pub fn attributes(&self) -> Attributes {
        self.metadata().attributes.clone()
    }

    /// Replaces the attributes (rewrites the metadata document). Needs a
    /// write handle.
    pub fn set_attributes(&self, attrs: Attributes) -> Result<()> {
        self.check_write()?;
        let mut meta = (*self.metadata()).clone();
        meta.attributes = attrs;
        hierarchy::write_array_metadata(&self.shared.store, &self.shared.path, &meta)?;
        *self.shared.meta.write() = Arc::new(meta);
        hierarchy::refresh_consolidated(&self.shared.store)?;
        Ok(())
    }

    /// Changes the attributes with `f` as one read-modify-write that a
    /// concurrent update from another process cannot undo (see
    /// [`hierarchy::update_attributes`]; `f` may run more than once). Needs
    /// a write handle. Returns the new attributes.
    pub fn update_attributes(&self, f: impl FnMut(&mut Attributes)) -> Result<Attributes> {
        self.check_write()?;
        let attrs = hierarchy::update_attributes(&self.shared.store, &self.shared.path, f)?;
        let mut meta = (*self.metadata()).clone();
        meta.attributes = attrs.clone();
        *self.shared.meta.write() = Arc::new(meta);
        Ok(attrs)
    }

    /// Number of open (read, write) handles of this array in the process.
    pub fn open_handles(&self) -> (usize, usize) {
        self.shared.open_handles()
    }

    /// Sets the byte budget of this array's write buffer (default 256 MiB).
    pub fn set_write_buffer(&self, bytes: usize) {
        self.shared.dirty.set_budget(bytes);
    }

    /// Reads `region` into `out` (C order, native byte order).
    pub fn read_region(&self, region: &Region, out: &mut [u8]) -> Result<()> {
        self.read_region_with(region, out, Layout::native())
    }

    /// Reads `region` into a new buffer (C order, native byte order).
    pub fn read_region_vec(&self, region: &Region) -> Result<Vec<u8>> {
        let m = self.metadata();
        let n = region.check(&m.shape, m.data_type.size(), &self.shared.path)?;
        // A region larger than memory is an error, not an allocation abort.
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| {
            Error::invalid(format!(
                "array {:?}: cannot allocate {n} bytes for region {region}",
                self.shared.path
            ))
        })?;
        v.resize(n, 0);
        self.read_region(region, &mut v)?;
        Ok(v)
    }

    /// Writes `data` (C order, native byte order) into `region`.
    pub fn write_region(&self, region: &Region, data: &[u8]) -> Result<()> {
        self.write_region_with(region, data, Layout::native())
    }

    /// Encodes and stores every buffered chunk; reports the first error (the
    /// chunks that failed stay buffered).
    pub fn flush(&self) -> Result<()> {
        if self.mode != Mode::Write {
            return Ok(());
        }
        self.flush_dirty(0)?;
        self.shared.store.flush()?;
        Ok(())
    }

    /// Flushes (write handles) and closes the handle, reporting errors that
    /// dropping would only print.
    pub fn close(mut self) -> Result<()> {
        let r = self.flush();
        self.released = true;
        self.shared.release(self.mode);
        r
    }

    fn check_write(&self) -> Result<()> {
        if self.mode != Mode::Write {
            return Err(Error::Mode {
                path: self.shared.path.clone(),
                reason: "handle is open for reading; open it with Mode::Write to write".into(),
            });
        }
        Ok(())
    }
}

impl Drop for Array {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if self.mode == Mode::Write {
            if let Err(e) = self.flush() {
                eprintln!(
                    "zarrcore: array {:?}: flushing on drop failed: {e} (use Array::close to handle this error)",
                    self.shared.path
                );
            }
        }
        self.shared.release(self.mode);
    }
}

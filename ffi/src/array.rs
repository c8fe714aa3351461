//! `zarrcore_array`: create (from a metadata document or a few
//! parameters), open, flush and close arrays.

use std::os::raw::c_char;

use zarrcore::{Array, ArrayBuilder, CodecSpec, DataType, Endian, FillValue, OpenOptions};

use crate::enums;
use crate::ffi::{
    borrow_handle, into_handle, opt_str_arg, slice_arg, str_arg, take_handle, HandleType, Out,
};
use crate::json;
use crate::panic::guard;
use crate::status::{FfiError, Status};
use crate::store::{store_arg, StoreHandle};

/// An open array (opaque), in read or write mode.
pub struct ArrayHandle {
    _private: [u8; 0],
}

/// What an array handle holds.
pub(crate) struct ArrayInner {
    pub array: Array,
}

impl HandleType for ArrayInner {
    type Opaque = ArrayHandle;
    const MAGIC: u64 = u64::from_le_bytes(*b"zcARRAY1");
    const C_NAME: &'static str = "zarrcore_array";
}

/// Borrows the engine array behind a handle argument.
///
/// # Safety
///
/// `p` is NULL or a live array handle.
pub(crate) unsafe fn array_arg<'a>(p: *const ArrayHandle) -> Result<&'a Array, FfiError> {
    // SAFETY: forwarded contract.
    unsafe { borrow_handle::<ArrayInner>(p, "array") }.map(|a| &a.array)
}

/// Creates an array from a few parameters and opens it for writing
/// (`ZARRCORE_MODE_WRITE`). Missing parent groups are created.
///
/// * `store`, `path`: borrowed; `path` `""` or `"/"` is the root.
/// * `zarr_format`: `ZARRCORE_FORMAT_V2` or `ZARRCORE_FORMAT_V3`.
/// * `dtype`: a Zarr v3 name (`"float32"`) or a NumPy type string
///   (`"<f4"`, `">i2"`, `"|S7"`, `"<U6"`, `"<M8[ns]"`, `"|V4"`); a
///   byte-order prefix sets the byte order on disk (default
///   little-endian). `"string"` and `"bytes"` create variable-length
///   arrays, whose elements the C API cannot read or write yet.
/// * `shape`: `ndim` extents (NULL allowed when `ndim` is 0).
/// * `chunks`: `ndim` chunk extents (the inner chunks when sharded), or
///   NULL for about 1 MiB chunks.
/// * `shards`: `ndim` shard extents, each a multiple of the chunk extent
///   (v3 only), or NULL for no sharding.
/// * `codec`: `"none"`, `"zstd:LEVEL"`, `"gzip:LEVEL"`,
///   `"blosc:CNAME:CLEVEL:SHUFFLE"` (SHUFFLE `noshuffle`, `shuffle` or
///   `bitshuffle`), and for v2 also `"zlib:LEVEL"`, `"lz4:ACCELERATION"`;
///   NULL means `"zstd:1"`.
/// * `fill_value`: text such as `"0"`, `"-1.5"`, `"nan"`, `"inf"`, `"true"`,
///   `"0x7fc00000"`, `"[1, 2]"` (complex) or any Zarr JSON form; NULL
///   means zero.
/// * `overwrite`: 1 replaces a node at `path` (refused with
///   `ZARRCORE_E_BUSY` while it has open handles), 0 fails with
///   `ZARRCORE_E_ALREADY_EXISTS`.
/// * `out_array`: receives a new write handle owned by the caller (release
///   it with `zarrcore_array_close`); NULL on failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_INVALID_ARGUMENT` (bad enum, dtype,
/// codec, fill value, chunks or shards); `ZARRCORE_E_ALREADY_EXISTS`;
/// `ZARRCORE_E_BUSY`; `ZARRCORE_E_READ_ONLY`; `ZARRCORE_E_NULL_ARGUMENT`;
/// `ZARRCORE_E_METADATA`; store errors.
///
/// Threads: any thread.
///
/// # Safety
///
/// Handle and string arguments are NULL or valid; `shape` (and `chunks`,
/// `shards` when not NULL) point to `ndim` readable `uint64_t`s;
/// `out_array` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C API's positional parameter form
pub unsafe extern "C" fn zarrcore_array_create(
    store: *const StoreHandle,
    path: *const c_char,
    zarr_format: i32,
    dtype: *const c_char,
    ndim: usize,
    shape: *const u64,
    chunks: *const u64,
    shards: *const u64,
    codec: *const c_char,
    fill_value: *const c_char,
    overwrite: i32,
    out_array: *mut *mut ArrayHandle,
) -> Status {
    guard("zarrcore_array_create", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path, dtype, shape, chunks, shards, codec, fill) = unsafe {
            let mut out = Out::new(out_array, "out_array")?;
            out.set(std::ptr::null_mut());
            (
                out,
                store_arg(store)?,
                str_arg(path, "path")?,
                str_arg(dtype, "dtype")?,
                slice_arg(shape, ndim, "shape")?,
                if chunks.is_null() {
                    None
                } else {
                    Some(slice_arg(chunks, ndim, "chunks")?)
                },
                if shards.is_null() {
                    None
                } else {
                    Some(slice_arg(shards, ndim, "shards")?)
                },
                opt_str_arg(codec, "codec")?,
                opt_str_arg(fill_value, "fill_value")?,
            )
        };
        let format = enums::format(zarr_format)?;
        let overwrite = enums::flag(overwrite, "overwrite")?;
        let (data_type, endian) =
            DataType::from_numpy_str(dtype).map_err(|e| FfiError::invalid("dtype", e))?;
        let mut b = ArrayBuilder::new(shape.to_vec(), data_type)
            .zarr_format(format)
            .endian(endian.unwrap_or(Endian::Little))
            .overwrite(overwrite);
        if let Some(c) = chunks {
            b = b.chunks(c.to_vec());
        }
        if let Some(s) = shards {
            b = b.shards(s.to_vec());
        }
        if let Some(c) = codec {
            let spec: CodecSpec = c.parse().map_err(|e| FfiError::invalid("codec", e))?;
            b = b.codec(spec);
        }
        if let Some(f) = fill {
            let fill = FillValue::parse_user(f, data_type)
                .map_err(|e| FfiError::invalid("fill_value", e))?;
            b = b.fill_value(fill);
        }
        let array = b.create(store, path)?;
        out.set(into_handle(ArrayInner { array }));
        Ok(())
    })
}

/// Creates an array from a metadata document and opens it for writing:
/// a Zarr v3 `zarr.json` array document, or a v2 `.zarray` document (which
/// may carry an `"attributes"` object). Missing parent groups are created.
///
/// * `metadata_json`: the document text, borrowed for the call.
/// * `overwrite`: 1 replaces a node at `path`, 0 fails with
///   `ZARRCORE_E_ALREADY_EXISTS`.
/// * `out_array`: receives a new write handle owned by the caller; NULL on
///   failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_INVALID_ARGUMENT` (not JSON, bad
/// flag); `ZARRCORE_E_METADATA` (not a valid array document);
/// `ZARRCORE_E_UNSUPPORTED` (codec or data type not implemented);
/// `ZARRCORE_E_ALREADY_EXISTS`; `ZARRCORE_E_BUSY`; `ZARRCORE_E_READ_ONLY`;
/// `ZARRCORE_E_NULL_ARGUMENT`; store errors.
///
/// Threads: any thread.
///
/// # Safety
///
/// `store` is NULL or a live store handle; `path` and `metadata_json` are
/// NULL or NUL-terminated strings; `out_array` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_create_json(
    store: *const StoreHandle,
    path: *const c_char,
    metadata_json: *const c_char,
    overwrite: i32,
    out_array: *mut *mut ArrayHandle,
) -> Status {
    guard("zarrcore_array_create_json", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path, text) = unsafe {
            let mut out = Out::new(out_array, "out_array")?;
            out.set(std::ptr::null_mut());
            (
                out,
                store_arg(store)?,
                str_arg(path, "path")?,
                str_arg(metadata_json, "metadata_json")?,
            )
        };
        let overwrite = enums::flag(overwrite, "overwrite")?;
        let doc = json::parse(text, "metadata_json")?;
        let array = Array::create_from_json(store, path, &doc, overwrite)?;
        out.set(into_handle(ArrayInner { array }));
        Ok(())
    })
}

/// Opens the array at `path` (`""` or `"/"` is the root) for reading
/// (`ZARRCORE_MODE_READ`) or writing (`ZARRCORE_MODE_WRITE`).
///
/// An array has read handles or write handles, never both, across every
/// process using the store (on directory and zip stores; see
/// docs/design.md): opening the other kind fails at once with
/// `ZARRCORE_E_BUSY` while such handles are open, here or in another
/// process (the message names that process where the OS tells).
/// `zarrcore_array_open_wait` waits for them instead.
///
/// `out_array` receives a new handle owned by the caller (release it with
/// `zarrcore_array_close`); NULL on failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_NOT_FOUND` (no array there);
/// `ZARRCORE_E_BUSY`; `ZARRCORE_E_READ_ONLY` (write mode on a read-only
/// store); `ZARRCORE_E_METADATA`; `ZARRCORE_E_UNSUPPORTED`;
/// `ZARRCORE_E_INVALID_ARGUMENT` (bad mode, a group is there);
/// `ZARRCORE_E_NULL_ARGUMENT`; store errors.
///
/// Threads: any thread.
///
/// # Safety
///
/// `store` is NULL or a live store handle; `path` is NULL or a
/// NUL-terminated string; `out_array` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_open(
    store: *const StoreHandle,
    path: *const c_char,
    mode: i32,
    out_array: *mut *mut ArrayHandle,
) -> Status {
    guard("zarrcore_array_open", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path) = unsafe {
            let mut out = Out::new(out_array, "out_array")?;
            out.set(std::ptr::null_mut());
            (out, store_arg(store)?, str_arg(path, "path")?)
        };
        let mode = enums::mode(mode)?;
        let array = Array::open(store, path, mode)?;
        out.set(into_handle(ArrayInner { array }));
        Ok(())
    })
}

/// Like `zarrcore_array_open`, but while the array is open in the other mode
/// (in this process or another), waits up to `timeout_ms` milliseconds for
/// it to be closed before failing with `ZARRCORE_E_BUSY`; `timeout_ms` 0
/// fails at once.
///
/// Returns what `zarrcore_array_open` returns.
///
/// Threads: any thread; the call blocks the calling thread while it waits.
///
/// # Safety
///
/// As `zarrcore_array_open`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_open_wait(
    store: *const StoreHandle,
    path: *const c_char,
    mode: i32,
    timeout_ms: u64,
    out_array: *mut *mut ArrayHandle,
) -> Status {
    guard("zarrcore_array_open_wait", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path) = unsafe {
            let mut out = Out::new(out_array, "out_array")?;
            out.set(std::ptr::null_mut());
            (out, store_arg(store)?, str_arg(path, "path")?)
        };
        let mode = enums::mode(mode)?;
        let mut opts = OpenOptions::new();
        if timeout_ms > 0 {
            opts = opts.wait(std::time::Duration::from_millis(timeout_ms));
        }
        let array = Array::open_with(store, path, mode, &opts)?;
        out.set(into_handle(ArrayInner { array }));
        Ok(())
    })
}

/// Encodes and stores every chunk buffered by write handles of this array
/// and flushes the store. A no-op for read handles.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_CODEC`, `ZARRCORE_E_IO`, store
/// errors (chunks that failed stay buffered); `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_flush(array: *const ArrayHandle) -> Status {
    guard("zarrcore_array_flush", || {
        // SAFETY: caller's contract.
        let a = unsafe { array_arg(array) }?;
        a.flush()?;
        Ok(())
    })
}

/// Flushes (write handles, see `zarrcore_array_flush`) and releases the
/// handle. The handle is released even when the flush fails; the error is
/// returned. NULL is accepted and does nothing (`ZARRCORE_OK`).
///
/// Threads: any thread, but no other call may use this handle during or
/// after this call.
///
/// # Safety
///
/// `array` is NULL or a live array handle not used after this call.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_close(array: *mut ArrayHandle) -> Status {
    guard("zarrcore_array_close", || {
        // SAFETY: caller's contract.
        let Some(inner) = (unsafe { take_handle::<ArrayInner>(array, "array") })? else {
            return Ok(());
        };
        inner.array.close()?;
        Ok(())
    })
}

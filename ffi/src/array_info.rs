//! What an array handle describes: rank, shapes, data type, fill value,
//! metadata and attributes.

use std::os::raw::{c_char, c_void};

use serde_json::Value;

use crate::array::{array_arg, ArrayHandle};
use crate::enums;
use crate::ffi::{copy_string_out, slice_out, str_arg, Out};
use crate::json;
use crate::panic::guard;
use crate::status::{FfiError, Status, ZARRCORE_E_BUFFER_LENGTH};

/// A shape buffer must hold exactly one value per dimension.
fn check_rank(len: usize, ndim: usize, arg: &str) -> Result<(), FfiError> {
    if len != ndim {
        return Err(FfiError::new(
            ZARRCORE_E_BUFFER_LENGTH,
            format!("argument `{arg}` has room for {len} values, the array has {ndim} dimensions"),
        ));
    }
    Ok(())
}

fn copy_shape(src: &[u64], out: &mut [u64], arg: &str) -> Result<(), FfiError> {
    check_rank(out.len(), src.len(), arg)?;
    out.copy_from_slice(src);
    Ok(())
}

/// The number of dimensions into `*out_ndim` (0 for a 0-d array).
///
/// Returns `ZARRCORE_OK` or `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_ndim` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_ndim(
    array: *const ArrayHandle,
    out_ndim: *mut usize,
) -> Status {
    guard("zarrcore_array_ndim", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_ndim, "out_ndim")?) };
        out.set(a.ndim());
        Ok(())
    })
}

/// The shape into the caller's `out_shape` of exactly `len` = ndim values
/// (NULL allowed when `len` is 0).
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_BUFFER_LENGTH` if `len` is not the
/// number of dimensions; `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_shape` is NULL or has
/// `len` writable `uint64_t`s.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_shape(
    array: *const ArrayHandle,
    out_shape: *mut u64,
    len: usize,
) -> Status {
    guard("zarrcore_array_shape", || {
        // SAFETY: caller's contract.
        let (a, out) = unsafe { (array_arg(array)?, slice_out(out_shape, len, "out_shape")?) };
        copy_shape(&a.metadata().shape, out, "out_shape")
    })
}

/// The chunk shape (the unit of reading and writing: the inner chunk when
/// the array is sharded) into `out_chunks` of exactly ndim values.
///
/// Returns as `zarrcore_array_shape`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// As for `zarrcore_array_shape`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_chunk_shape(
    array: *const ArrayHandle,
    out_chunks: *mut u64,
    len: usize,
) -> Status {
    guard("zarrcore_array_chunk_shape", || {
        // SAFETY: caller's contract.
        let (a, out) = unsafe { (array_arg(array)?, slice_out(out_chunks, len, "out_chunks")?) };
        copy_shape(&a.metadata().read_chunk_shape(), out, "out_chunks")
    })
}

/// Whether the array is sharded (`*out_sharded` 1 or 0) and, if it is, the
/// shard shape into `out_shards` of exactly ndim values (left untouched
/// when not sharded).
///
/// Returns as `zarrcore_array_shape`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// As for `zarrcore_array_shape`; `out_sharded` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_shard_shape(
    array: *const ArrayHandle,
    out_shards: *mut u64,
    len: usize,
    out_sharded: *mut i32,
) -> Status {
    guard("zarrcore_array_shard_shape", || {
        // SAFETY: caller's contract.
        let (a, out, mut sharded) = unsafe {
            (
                array_arg(array)?,
                slice_out(out_shards, len, "out_shards")?,
                Out::new(out_sharded, "out_sharded")?,
            )
        };
        let meta = a.metadata();
        // The length must be the rank whether or not the array is sharded.
        check_rank(out.len(), meta.ndim(), "out_shards")?;
        match meta.shard_shape() {
            Some(s) => {
                copy_shape(&s, out, "out_shards")?;
                sharded.set(1);
            }
            None => sharded.set(0),
        }
        Ok(())
    })
}

/// The data type as a `ZARRCORE_DTYPE_*` value into `*out_dtype`.
///
/// Returns `ZARRCORE_OK` or `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_dtype` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_dtype(
    array: *const ArrayHandle,
    out_dtype: *mut i32,
) -> Status {
    guard("zarrcore_array_dtype", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_dtype, "out_dtype")?) };
        out.set(enums::dtype_code(a.data_type()));
        Ok(())
    })
}

/// The data type as NumPy's type string in the array's stored byte order
/// (`"<f8"`, `">i2"`, `"|b1"`, `"|S7"`, `"<U6"`), NUL-terminated, into
/// `buf`. Buffers exchanged with the region and byte functions are always
/// in the machine's native byte order, whatever this string says.
///
/// `buf` is caller-owned with `buf_len` bytes (NULL allowed when `buf_len`
/// is 0); `out_len` receives the length without the NUL, also when `buf`
/// is too small (`ZARRCORE_E_BUFFER_LENGTH`, `buf` untouched).
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `buf` is NULL or has `buf_len`
/// writable bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_dtype_str(
    array: *const ArrayHandle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    guard("zarrcore_array_dtype_str", || {
        // SAFETY: caller's contract.
        let (a, mut out_len) = unsafe { (array_arg(array)?, Out::new(out_len, "out_len")?) };
        let s = a.metadata().numpy_dtype();
        // SAFETY: caller's contract for `buf`.
        unsafe { copy_string_out(&s, buf, buf_len, &mut out_len, "buf") }
    })
}

/// The size of one element in bytes into `*out_size`.
///
/// Returns `ZARRCORE_OK` or `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_item_size(
    array: *const ArrayHandle,
    out_size: *mut usize,
) -> Status {
    guard("zarrcore_array_item_size", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_size, "out_size")?) };
        out.set(a.data_type().size());
        Ok(())
    })
}

/// The size of the whole array in bytes (elements times item size), i.e. the
/// length of the C-order byte view used by `zarrcore_array_read_bytes`.
///
/// Returns `ZARRCORE_OK` or `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_bytes` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_num_bytes(
    array: *const ArrayHandle,
    out_bytes: *mut u64,
) -> Status {
    guard("zarrcore_array_num_bytes", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_bytes, "out_bytes")?) };
        out.set(a.num_bytes());
        Ok(())
    })
}

/// The fill value: one element in native byte order, copied into `buf`,
/// whose length `buf_len` must equal the item size. (A Zarr v2 `null` fill
/// value reads as zeros.)
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_BUFFER_LENGTH`;
/// `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `buf` is NULL or has `buf_len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_fill_value(
    array: *const ArrayHandle,
    buf: *mut c_void,
    buf_len: usize,
) -> Status {
    guard("zarrcore_array_fill_value", || {
        // SAFETY: caller's contract.
        let (a, out) = unsafe {
            (
                array_arg(array)?,
                slice_out(buf.cast::<u8>(), buf_len, "buf")?,
            )
        };
        let fill = a.fill_value();
        let bytes = fill.as_bytes();
        if out.len() != bytes.len() {
            return Err(FfiError::new(
                ZARRCORE_E_BUFFER_LENGTH,
                format!(
                    "argument `buf` has {} bytes, the item size is {}",
                    out.len(),
                    bytes.len()
                ),
            ));
        }
        out.copy_from_slice(bytes);
        Ok(())
    })
}

/// The array's metadata document as JSON text: the v3 `zarr.json`, or the
/// v2 `.zarray` (v2 attributes are separate: `zarrcore_array_attributes_get`).
/// Buffer rules as for `zarrcore_array_dtype_str`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// As for `zarrcore_array_dtype_str`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_metadata_json(
    array: *const ArrayHandle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    guard("zarrcore_array_metadata_json", || {
        // SAFETY: caller's contract.
        let (a, mut out_len) = unsafe { (array_arg(array)?, Out::new(out_len, "out_len")?) };
        let text = json::to_string(&a.metadata().to_json())?;
        // SAFETY: caller's contract for `buf`.
        unsafe { copy_string_out(&text, buf, buf_len, &mut out_len, "buf") }
    })
}

/// The Zarr format (`ZARRCORE_FORMAT_V2` or `_V3`) into `*out_format`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_format` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_zarr_format(
    array: *const ArrayHandle,
    out_format: *mut i32,
) -> Status {
    guard("zarrcore_array_zarr_format", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_format, "out_format")?) };
        out.set(enums::format_code(a.metadata().zarr_format));
        Ok(())
    })
}

/// The handle's mode (`ZARRCORE_MODE_READ` or `ZARRCORE_MODE_WRITE`) into
/// `*out_mode`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `out_mode` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_mode(
    array: *const ArrayHandle,
    out_mode: *mut i32,
) -> Status {
    guard("zarrcore_array_mode", || {
        // SAFETY: caller's contract.
        let (a, mut out) = unsafe { (array_arg(array)?, Out::new(out_mode, "out_mode")?) };
        out.set(enums::mode_code(a.mode()));
        Ok(())
    })
}

/// The array's attributes as a JSON object text (`{}` if none). Buffer
/// rules as for `zarrcore_array_dtype_str`.
///
/// Threads: any thread, concurrently with other calls on the handle.
///
/// # Safety
///
/// As for `zarrcore_array_dtype_str`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_attributes_get(
    array: *const ArrayHandle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    guard("zarrcore_array_attributes_get", || {
        // SAFETY: caller's contract.
        let (a, mut out_len) = unsafe { (array_arg(array)?, Out::new(out_len, "out_len")?) };
        let text = json::to_string(&Value::Object(a.attributes()))?;
        // SAFETY: caller's contract for `buf`.
        unsafe { copy_string_out(&text, buf, buf_len, &mut out_len, "buf") }
    })
}

/// Replaces the array's attributes with `attributes_json` (a JSON object
/// text, borrowed) and rewrites its metadata. Needs a write handle.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_INVALID_ARGUMENT` (not a JSON
/// object); `ZARRCORE_E_MODE` (a read handle); `ZARRCORE_E_READ_ONLY`;
/// store errors; `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `attributes_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_attributes_set(
    array: *const ArrayHandle,
    attributes_json: *const c_char,
) -> Status {
    guard("zarrcore_array_attributes_set", || {
        // SAFETY: caller's contract.
        let (a, text) = unsafe {
            (
                array_arg(array)?,
                str_arg(attributes_json, "attributes_json")?,
            )
        };
        let attrs = json::parse_object(text, "attributes_json")?;
        a.set_attributes(attrs)?;
        Ok(())
    })
}

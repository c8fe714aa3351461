//! Reading and writing: hyper-rectangular regions in C or F order, and
//! linear byte ranges of the C-order array.

use std::os::raw::c_void;

use zarrcore::{Array, Endian, Layout, Region};

use crate::array::{array_arg, ArrayHandle};
use crate::enums;
use crate::ffi::{slice_arg, slice_out};
use crate::panic::guard;
use crate::status::{FfiError, Status, ZARRCORE_E_OUT_OF_BOUNDS, ZARRCORE_E_UNSUPPORTED};

/// The region `start`/`count` of `ndim` dimensions, checked against the
/// array's rank.
///
/// # Safety
///
/// `start` and `count` are NULL or point to `ndim` readable `uint64_t`s.
unsafe fn region_arg(
    a: &Array,
    start: *const u64,
    count: *const u64,
    ndim: usize,
) -> Result<Region, FfiError> {
    // SAFETY: forwarded contract.
    let (start, count) = unsafe {
        (
            slice_arg(start, ndim, "start")?,
            slice_arg(count, ndim, "count")?,
        )
    };
    let rank = a.ndim();
    if ndim != rank {
        return Err(FfiError::invalid(
            "ndim",
            format!("is {ndim}, the array {:?} has {rank} dimensions", a.path()),
        ));
    }
    Ok(Region::new(start.to_vec(), count.to_vec()))
}

fn layout_arg(order: i32) -> Result<Layout, FfiError> {
    Ok(Layout {
        order: enums::order(order)?,
        endian: Endian::native(),
    })
}

/// Reads the region starting at `start` with extent `count` (each `ndim`
/// values, `ndim` equal to the array's rank; NULL allowed when `ndim` is
/// 0) into `buf`, elements in native byte order laid out in `order`
/// (`ZARRCORE_ORDER_C` or `ZARRCORE_ORDER_F`). `buf_len` must be exactly
/// the product of `count` times the item size. Missing chunks read as the
/// fill value.
///
/// * `buf`: caller-owned; written only during the call.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_BUFFER_LENGTH`;
/// `ZARRCORE_E_OUT_OF_BOUNDS`; `ZARRCORE_E_INVALID_ARGUMENT` (bad order,
/// `ndim` not the rank); `ZARRCORE_E_CODEC` (a corrupt chunk, named in the
/// message); `ZARRCORE_E_IO`; `ZARRCORE_E_NULL_ARGUMENT`;
/// `ZARRCORE_E_UNSUPPORTED` (a variable-length `ZARRCORE_DTYPE_STRING` or
/// `ZARRCORE_DTYPE_VLEN_BYTES` array).
///
/// Threads: any number of threads may read through one handle (of either
/// mode) at once; write handles read back what was written.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `start`/`count` are NULL or have
/// `ndim` readable values; `buf` is NULL or has `buf_len` writable bytes
/// not accessed by anyone else during the call.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_read_region(
    array: *const ArrayHandle,
    start: *const u64,
    count: *const u64,
    ndim: usize,
    order: i32,
    buf: *mut c_void,
    buf_len: usize,
) -> Status {
    guard("zarrcore_array_read_region", || {
        // SAFETY: caller's contract for every pointer.
        let (a, region, out) = unsafe {
            let a = array_arg(array)?;
            (
                a,
                region_arg(a, start, count, ndim)?,
                slice_out(buf.cast::<u8>(), buf_len, "buf")?,
            )
        };
        a.read_region_with(&region, out, layout_arg(order)?)?;
        Ok(())
    })
}

/// Writes `buf` (native byte order, laid out in `order`) into the region
/// `start`/`count`; arguments as for `zarrcore_array_read_region`. The
/// data may stay buffered until `zarrcore_array_flush` or
/// `zarrcore_array_close`.
///
/// Returns as `zarrcore_array_read_region`, plus `ZARRCORE_E_MODE` (a read
/// handle) and `ZARRCORE_E_READ_ONLY`.
///
/// Threads: any number of threads may write through one write handle (or
/// several) at once, also to overlapping regions: each element ends up
/// with the value of one of the writes that covered it.
///
/// # Safety
///
/// As for `zarrcore_array_read_region`, with `buf` readable and not
/// written by anyone during the call.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_write_region(
    array: *const ArrayHandle,
    start: *const u64,
    count: *const u64,
    ndim: usize,
    order: i32,
    buf: *const c_void,
    buf_len: usize,
) -> Status {
    guard("zarrcore_array_write_region", || {
        // SAFETY: caller's contract for every pointer.
        let (a, region, data) = unsafe {
            let a = array_arg(array)?;
            (
                a,
                region_arg(a, start, count, ndim)?,
                slice_arg(buf.cast::<u8>(), buf_len, "buf")?,
            )
        };
        a.write_region_with(&region, data, layout_arg(order)?)?;
        Ok(())
    })
}

fn check_range(a: &Array, offset: u64, len: usize) -> Result<(), FfiError> {
    if a.data_type().is_variable_length() {
        return Err(FfiError::new(
            ZARRCORE_E_UNSUPPORTED,
            format!(
                "array {:?} has a variable-length data type ({}): it has no byte view",
                a.path(),
                a.data_type()
            ),
        ));
    }
    let total = a.num_bytes();
    match offset.checked_add(len as u64) {
        Some(end) if end <= total => Ok(()),
        _ => Err(FfiError::new(
            ZARRCORE_E_OUT_OF_BOUNDS,
            format!(
                "bytes {offset}..{} are outside the {total} bytes of array {:?}",
                offset.saturating_add(len as u64),
                a.path()
            ),
        )),
    }
}

/// Reads `len` bytes at byte `offset` of the array viewed as one C-order
/// buffer of native-byte-order elements (what `mmap`-style and file-like
/// users need); any offset and length within `zarrcore_array_num_bytes`.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_OUT_OF_BOUNDS`; `ZARRCORE_E_CODEC`;
/// `ZARRCORE_E_IO`; `ZARRCORE_E_NULL_ARGUMENT` (`buf` NULL with `len` > 0);
/// `ZARRCORE_E_UNSUPPORTED` (a variable-length array).
///
/// Threads: as `zarrcore_array_read_region`.
///
/// # Safety
///
/// `array` is NULL or a live array handle; `buf` is NULL or has `len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_read_bytes(
    array: *const ArrayHandle,
    offset: u64,
    buf: *mut c_void,
    len: usize,
) -> Status {
    guard("zarrcore_array_read_bytes", || {
        // SAFETY: caller's contract.
        let (a, out) = unsafe { (array_arg(array)?, slice_out(buf.cast::<u8>(), len, "buf")?) };
        check_range(a, offset, len)?;
        a.read_bytes(offset, out, Endian::native())?;
        Ok(())
    })
}

/// Writes `len` bytes at byte `offset` of the C-order, native-byte-order
/// view of the array; partial elements at either end are merged with what
/// is stored.
///
/// Returns as `zarrcore_array_read_bytes`, plus `ZARRCORE_E_MODE` and
/// `ZARRCORE_E_READ_ONLY`.
///
/// Threads: as `zarrcore_array_write_region`. (Concurrent writes that
/// share a partially covered element may lose one another's bytes of that
/// element; write whole elements from different threads.)
///
/// # Safety
///
/// `array` is NULL or a live array handle; `buf` is NULL or has `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_array_write_bytes(
    array: *const ArrayHandle,
    offset: u64,
    buf: *const c_void,
    len: usize,
) -> Status {
    guard("zarrcore_array_write_bytes", || {
        // SAFETY: caller's contract.
        let (a, data) = unsafe { (array_arg(array)?, slice_arg(buf.cast::<u8>(), len, "buf")?) };
        check_range(a, offset, len)?;
        a.write_bytes(offset, data, Endian::native())?;
        Ok(())
    })
}

//! The only place that turns raw C pointers into Rust values: handles,
//! strings, slices and out-parameters, each checked for NULL and alignment
//! and reported as an error naming the argument.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_char;

use crate::status::{FfiError, ZARRCORE_E_BUFFER_LENGTH, ZARRCORE_E_OVERFLOW};

/// A heap object handed to C as an opaque pointer. Every `Boxed<T>` starts
/// with a `u64` tag, so a handle of the wrong type (possible from C, Julia or
/// ctypes, which see them all as `void *`) is refused instead of misused.
#[repr(C)]
struct Boxed<T> {
    magic: u64,
    value: T,
}

/// A Rust value that lives behind a C handle of type `Opaque`.
pub(crate) trait HandleType: Sized {
    /// The opaque type C sees.
    type Opaque;
    /// The tag of live handles of this type.
    const MAGIC: u64;
    /// The C type name, for messages.
    const C_NAME: &'static str;
}

/// Moves `value` to the heap and returns the handle C will own.
pub(crate) fn into_handle<T: HandleType>(value: T) -> *mut T::Opaque {
    Box::into_raw(Box::new(Boxed {
        magic: T::MAGIC,
        value,
    }))
    .cast()
}

fn check_tag<T: HandleType>(b: *const Boxed<T>, arg: &str) -> Result<(), FfiError> {
    if !b.is_aligned() {
        return Err(FfiError::invalid(
            arg,
            format!("is not a {} handle (misaligned pointer)", T::C_NAME),
        ));
    }
    // SAFETY: the caller of the export promised a live handle; every
    // `Boxed<_>` is `repr(C)` with a `u64` first, so reading the tag is
    // valid for a handle of any type.
    let magic = unsafe { b.cast::<u64>().read() };
    if magic != T::MAGIC {
        return Err(FfiError::invalid(
            arg,
            format!("is not a live {} handle (wrong type or closed)", T::C_NAME),
        ));
    }
    Ok(())
}

/// Borrows the value behind a handle.
///
/// # Safety
///
/// `p` is NULL or a live handle returned by this library.
pub(crate) unsafe fn borrow_handle<'a, T: HandleType>(
    p: *const T::Opaque,
    arg: &str,
) -> Result<&'a T, FfiError> {
    if p.is_null() {
        return Err(FfiError::null(arg));
    }
    let b = p.cast::<Boxed<T>>();
    check_tag(b, arg)?;
    // SAFETY: checked non-NULL, aligned and tagged; the caller promised it
    // is live and not being closed concurrently.
    Ok(unsafe { &(*b).value })
}

/// Takes back ownership of a handle (for close); `Ok(None)` for NULL.
///
/// # Safety
///
/// `p` is NULL or a live handle returned by this library, used by no other
/// thread during or after this call.
pub(crate) unsafe fn take_handle<T: HandleType>(
    p: *mut T::Opaque,
    arg: &str,
) -> Result<Option<T>, FfiError> {
    if p.is_null() {
        return Ok(None);
    }
    let b = p.cast::<Boxed<T>>();
    check_tag(b, arg)?;
    // SAFETY: a live handle made by `into_handle` (tag checked), owned by
    // the caller, who gives it up now. Clearing the tag first makes a
    // second close of the same pointer more likely to be refused (best
    // effort: using a closed handle is undefined behaviour).
    let boxed = unsafe {
        (*b).magic = 0;
        Box::from_raw(b)
    };
    Ok(Some(boxed.value))
}

/// A borrowed, NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, arg: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::null(arg));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| FfiError::invalid(arg, format!("is not valid UTF-8 ({e})")))
}

/// Like [`str_arg`], but NULL means "not given".
///
/// # Safety
///
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    arg: &str,
) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, arg) }.map(Some)
    }
}

fn check_extent<T>(len: usize, arg: &str) -> Result<(), FfiError> {
    len.checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .map(|_| ())
        .ok_or_else(|| {
            FfiError::new(
                ZARRCORE_E_OVERFLOW,
                format!("argument `{arg}`: length {len} is too large"),
            )
        })
}

/// A caller's input array of `len` elements (NULL allowed when `len` is 0).
///
/// # Safety
///
/// `p` is NULL or points to `len` readable, initialised `T`s that nobody
/// writes during the call.
pub(crate) unsafe fn slice_arg<'a, T>(
    p: *const T,
    len: usize,
    arg: &str,
) -> Result<&'a [T], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::null(arg));
    }
    if !p.is_aligned() {
        return Err(FfiError::invalid(
            arg,
            "is not aligned for its element type",
        ));
    }
    check_extent::<T>(len, arg)?;
    // SAFETY: non-NULL, aligned, `len` elements per the caller's contract,
    // total size checked to fit `isize`.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A caller's output buffer of `len` elements (NULL allowed when `len` is 0).
///
/// # Safety
///
/// `p` is NULL or points to `len` writable `T`s that nobody else accesses
/// during the call.
pub(crate) unsafe fn slice_out<'a, T: Copy>(
    p: *mut T,
    len: usize,
    arg: &str,
) -> Result<&'a mut [T], FfiError> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(FfiError::null(arg));
    }
    if !p.is_aligned() {
        return Err(FfiError::invalid(
            arg,
            "is not aligned for its element type",
        ));
    }
    check_extent::<T>(len, arg)?;
    // SAFETY: non-NULL, aligned, `len` writable elements per the caller's
    // contract, size checked. Only plain `Copy` integers/bytes are used, for
    // which any bit pattern the caller left there is a valid value.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// A checked, non-NULL out-parameter, written once at the end.
pub(crate) struct Out<'a, T> {
    ptr: *mut T,
    _life: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// Checks `p` (non-NULL, aligned).
    ///
    /// # Safety
    ///
    /// `p` is NULL or points to a writable `T` that nobody else accesses
    /// during the call.
    pub unsafe fn new(p: *mut T, arg: &str) -> Result<Self, FfiError> {
        if p.is_null() {
            return Err(FfiError::null(arg));
        }
        if !p.is_aligned() {
            return Err(FfiError::invalid(arg, "is not aligned for its type"));
        }
        Ok(Out {
            ptr: p,
            _life: PhantomData,
        })
    }

    /// Stores `v` (without dropping whatever bytes were there).
    pub fn set(&mut self, v: T) {
        // SAFETY: checked non-NULL and aligned in `new`; writable per the
        // contract of `new`.
        unsafe { self.ptr.write(v) }
    }
}

/// Copies `s` and a NUL into the caller's `buf` of `buf_len` bytes and its
/// length (without the NUL) into `out_len`. A buffer too small is an error
/// (`ZARRCORE_E_BUFFER_LENGTH`) that leaves `buf` untouched; `out_len` is
/// written in both cases, so the caller can retry with the right size.
///
/// # Safety
///
/// `buf` is NULL or has `buf_len` writable bytes.
pub(crate) unsafe fn copy_string_out(
    s: &str,
    buf: *mut c_char,
    buf_len: usize,
    out_len: &mut Out<'_, usize>,
    arg: &str,
) -> Result<(), FfiError> {
    out_len.set(s.len());
    if buf_len < s.len() + 1 {
        return Err(FfiError::new(
            ZARRCORE_E_BUFFER_LENGTH,
            format!(
                "argument `{arg}`: buffer of {buf_len} bytes is too small for {} bytes and a NUL \
                 (`out_len` holds the length)",
                s.len()
            ),
        ));
    }
    // SAFETY: forwarded contract; `buf_len >= 1` here.
    let dst = unsafe { slice_out(buf.cast::<u8>(), buf_len, arg) }?;
    dst[..s.len()].copy_from_slice(s.as_bytes());
    dst[s.len()] = 0;
    Ok(())
}

//! `zarrcore_store`: a directory, zip or memory store opened by path or URL.

use std::os::raw::c_char;

use zarrcore::{open_store, StoreRef};

use crate::enums;
use crate::ffi::{borrow_handle, into_handle, str_arg, take_handle, HandleType, Out};
use crate::panic::guard;
use crate::status::Status;

/// An open store (opaque). Groups and arrays opened on it keep their own
/// reference, so the store handle may be closed before them.
pub struct StoreHandle {
    _private: [u8; 0],
}

/// What a store handle holds.
pub(crate) struct StoreInner {
    pub store: StoreRef,
}

impl HandleType for StoreInner {
    type Opaque = StoreHandle;
    const MAGIC: u64 = u64::from_le_bytes(*b"zcSTORE1");
    const C_NAME: &'static str = "zarrcore_store";
}

/// Borrows the engine store behind a handle argument.
///
/// # Safety
///
/// `p` is NULL or a live store handle.
pub(crate) unsafe fn store_arg<'a>(
    p: *const StoreHandle,
) -> Result<&'a StoreRef, crate::status::FfiError> {
    // SAFETY: forwarded contract.
    unsafe { store_arg_named(p, "store") }
}

/// [`store_arg`] for an argument named `arg` (messages name it).
///
/// # Safety
///
/// `p` is NULL or a live store handle.
pub(crate) unsafe fn store_arg_named<'a>(
    p: *const StoreHandle,
    arg: &str,
) -> Result<&'a StoreRef, crate::status::FfiError> {
    // SAFETY: forwarded contract.
    unsafe { borrow_handle::<StoreInner>(p, arg) }.map(|s| &s.store)
}

/// Opens a store by path or URL: a path ending in `.zip` is a zip store,
/// any other path a directory store; `file://PATH` is the same as `PATH`;
/// `memory://NAME` is an in-process memory store shared by every open of
/// that name.
///
/// * `location`: borrowed for the call; UTF-8, NUL-terminated.
/// * `mode`: `ZARRCORE_STORE_READ_ONLY`, `ZARRCORE_STORE_READ_WRITE` or
///   `ZARRCORE_STORE_CREATE`.
/// * `out_store`: receives the new handle, owned by the caller, who
///   releases it with `zarrcore_store_close`; set to NULL on failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_STORE` if the store cannot be opened
/// (missing, not a directory/zip, unsupported URL scheme);
/// `ZARRCORE_E_NULL_ARGUMENT`, `ZARRCORE_E_INVALID_ARGUMENT`.
///
/// Threads: any thread. A store handle may be used by any number of threads
/// at once (except `zarrcore_store_close`).
///
/// # Safety
///
/// `location` is NULL or a NUL-terminated string; `out_store` is NULL or
/// points to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_store_open(
    location: *const c_char,
    mode: i32,
    out_store: *mut *mut StoreHandle,
) -> Status {
    guard("zarrcore_store_open", || {
        // SAFETY: caller's contract for `out_store`.
        let mut out = unsafe { Out::new(out_store, "out_store") }?;
        out.set(std::ptr::null_mut());
        // SAFETY: caller's contract for `location`.
        let location = unsafe { str_arg(location, "location") }?;
        let opts = enums::store_options(mode)?;
        let store = open_store(location, opts)?;
        out.set(into_handle(StoreInner { store }));
        Ok(())
    })
}

/// Makes completed writes durable and visible to other processes (a zip
/// store builds its file now). Array handles flush the store themselves in
/// `zarrcore_array_flush`/`zarrcore_array_close`.
///
/// Returns `ZARRCORE_OK`, `ZARRCORE_E_IO`, `ZARRCORE_E_STORE`,
/// `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently with other calls on the store.
///
/// # Safety
///
/// `store` is NULL or a live store handle.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_store_flush(store: *const StoreHandle) -> Status {
    guard("zarrcore_store_flush", || {
        // SAFETY: caller's contract.
        let store = unsafe { store_arg(store) }?;
        store.flush()?;
        Ok(())
    })
}

/// Flushes the store (see `zarrcore_store_flush`) and releases the handle.
/// The handle is released even when the flush fails (the error is
/// returned). NULL is accepted and does nothing (`ZARRCORE_OK`).
///
/// Threads: any thread, but no other call may use this handle during or
/// after this call.
///
/// # Safety
///
/// `store` is NULL or a live store handle not used after this call.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_store_close(store: *mut StoreHandle) -> Status {
    guard("zarrcore_store_close", || {
        // SAFETY: caller's contract.
        let Some(inner) = (unsafe { take_handle::<StoreInner>(store, "store") })? else {
            return Ok(());
        };
        inner.store.flush()?;
        Ok(())
    })
}

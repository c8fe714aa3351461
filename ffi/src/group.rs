//! `zarrcore_group`: create and open groups, list members, attributes as JSON.

use std::os::raw::c_char;

use parking_lot::Mutex;
use serde_json::{json, Value};
use zarrcore::{Attributes, Group, NodeKind};

use crate::enums;
use crate::ffi::{
    borrow_handle, copy_string_out, into_handle, opt_str_arg, str_arg, take_handle, HandleType, Out,
};
use crate::json;
use crate::panic::guard;
use crate::status::{FfiError, Status};
use crate::store::{store_arg, StoreHandle};

/// An open group (opaque).
pub struct GroupHandle {
    _private: [u8; 0],
}

/// What a group handle holds (locked: attribute updates replace it).
pub(crate) struct GroupInner {
    group: Mutex<Group>,
}

impl HandleType for GroupInner {
    type Opaque = GroupHandle;
    const MAGIC: u64 = u64::from_le_bytes(*b"zcGROUP1");
    const C_NAME: &'static str = "zarrcore_group";
}

unsafe fn group_arg<'a>(p: *const GroupHandle) -> Result<&'a GroupInner, FfiError> {
    // SAFETY: forwarded contract (NULL or a live group handle).
    unsafe { borrow_handle::<GroupInner>(p, "group") }
}

/// Creates a group at `path` (`""` or `"/"` is the root), and any missing
/// parent groups, and opens it. If a group exists there already it is
/// opened, and its attributes are replaced when `attributes_json` is a
/// non-empty object.
///
/// * `store`, `path`: borrowed for the call.
/// * `zarr_format`: `ZARRCORE_FORMAT_V2` or `ZARRCORE_FORMAT_V3`.
/// * `attributes_json`: a JSON object, or NULL for none; borrowed.
/// * `out_group`: receives a new handle owned by the caller (release it
///   with `zarrcore_group_close`); NULL on failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_ALREADY_EXISTS` (an array is there);
/// `ZARRCORE_E_READ_ONLY`; `ZARRCORE_E_INVALID_ARGUMENT` (bad format, bad
/// JSON, bad path); `ZARRCORE_E_NULL_ARGUMENT`; store errors.
///
/// Threads: any thread.
///
/// # Safety
///
/// `store` is NULL or a live store handle; `path` and `attributes_json` are
/// NULL or NUL-terminated strings; `out_group` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_create(
    store: *const StoreHandle,
    path: *const c_char,
    zarr_format: i32,
    attributes_json: *const c_char,
    out_group: *mut *mut GroupHandle,
) -> Status {
    guard("zarrcore_group_create", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path, attrs) = unsafe {
            let mut out = Out::new(out_group, "out_group")?;
            out.set(std::ptr::null_mut());
            (
                out,
                store_arg(store)?,
                str_arg(path, "path")?,
                opt_str_arg(attributes_json, "attributes_json")?,
            )
        };
        let format = enums::format(zarr_format)?;
        let attrs = match attrs {
            Some(t) => json::parse_object(t, "attributes_json")?,
            None => Attributes::new(),
        };
        let group = Group::create(store, path, format, attrs)?;
        out.set(into_handle(GroupInner {
            group: Mutex::new(group),
        }));
        Ok(())
    })
}

/// Opens the group at `path` (`""` or `"/"` is the root).
///
/// `out_group` receives a new handle owned by the caller (release it with
/// `zarrcore_group_close`); NULL on failure.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_NOT_FOUND` (nothing there);
/// `ZARRCORE_E_INVALID_ARGUMENT` (an array is there, or a bad path);
/// `ZARRCORE_E_METADATA` (malformed group metadata);
/// `ZARRCORE_E_NULL_ARGUMENT`; store errors.
///
/// Threads: any thread.
///
/// # Safety
///
/// `store` is NULL or a live store handle; `path` is NULL or a
/// NUL-terminated string; `out_group` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_open(
    store: *const StoreHandle,
    path: *const c_char,
    out_group: *mut *mut GroupHandle,
) -> Status {
    guard("zarrcore_group_open", || {
        // SAFETY: caller's contract for every pointer.
        let (mut out, store, path) = unsafe {
            let mut out = Out::new(out_group, "out_group")?;
            out.set(std::ptr::null_mut());
            (out, store_arg(store)?, str_arg(path, "path")?)
        };
        let group = Group::open(store, path)?;
        out.set(into_handle(GroupInner {
            group: Mutex::new(group),
        }));
        Ok(())
    })
}

/// Releases a group handle. NULL is accepted and does nothing. Never fails
/// for a live handle (`ZARRCORE_OK`).
///
/// Threads: any thread, but no other call may use this handle during or
/// after this call.
///
/// # Safety
///
/// `group` is NULL or a live group handle not used after this call.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_close(group: *mut GroupHandle) -> Status {
    guard("zarrcore_group_close", || {
        // SAFETY: caller's contract.
        drop(unsafe { take_handle::<GroupInner>(group, "group") }?);
        Ok(())
    })
}

/// The Zarr format of the group (`ZARRCORE_FORMAT_V2` or `_V3`) into
/// `*out_format`.
///
/// Threads: any thread, concurrently.
///
/// # Safety
///
/// `group` is NULL or a live group handle; `out_format` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_zarr_format(
    group: *const GroupHandle,
    out_format: *mut i32,
) -> Status {
    guard("zarrcore_group_zarr_format", || {
        // SAFETY: caller's contract.
        let (g, mut out) = unsafe { (group_arg(group)?, Out::new(out_format, "out_format")?) };
        out.set(enums::format_code(g.group.lock().metadata().zarr_format));
        Ok(())
    })
}

/// The direct members of the group as a JSON array sorted by name:
/// `[{"name":"a","kind":"array"},{"name":"sub","kind":"group"}]`, listed
/// from the store at the time of the call.
///
/// * `buf`: caller-owned, `buf_len` bytes; receives the NUL-terminated
///   JSON text. May be NULL when `buf_len` is 0 (to ask for the length).
/// * `out_len`: receives the text's length in bytes, without the NUL, also
///   when `buf` is too small.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_BUFFER_LENGTH` if `buf_len` is less
/// than the length plus 1 (`buf` is then untouched); store errors;
/// `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently.
///
/// # Safety
///
/// `group` is NULL or a live group handle; `buf` is NULL or has `buf_len`
/// writable bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_members(
    group: *const GroupHandle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    guard("zarrcore_group_members", || {
        // SAFETY: caller's contract.
        let (g, mut out_len) = unsafe { (group_arg(group)?, Out::new(out_len, "out_len")?) };
        let members = g.group.lock().members()?;
        let list: Vec<Value> = members
            .into_iter()
            .map(|(name, kind)| {
                json!({"name": name, "kind": match kind {
                    NodeKind::Array => "array",
                    NodeKind::Group => "group",
                }})
            })
            .collect();
        let text = json::to_string(&Value::Array(list))?;
        // SAFETY: caller's contract for `buf`.
        unsafe { copy_string_out(&text, buf, buf_len, &mut out_len, "buf") }
    })
}

/// The group's attributes as a JSON object text (`{}` if none); buffer
/// rules as for `zarrcore_group_members`.
///
/// Returns `ZARRCORE_OK`, `ZARRCORE_E_BUFFER_LENGTH`,
/// `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread, concurrently.
///
/// # Safety
///
/// As for `zarrcore_group_members`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_attributes_get(
    group: *const GroupHandle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    guard("zarrcore_group_attributes_get", || {
        // SAFETY: caller's contract.
        let (g, mut out_len) = unsafe { (group_arg(group)?, Out::new(out_len, "out_len")?) };
        let text = json::to_string(&Value::Object(g.group.lock().attributes().clone()))?;
        // SAFETY: caller's contract for `buf`.
        unsafe { copy_string_out(&text, buf, buf_len, &mut out_len, "buf") }
    })
}

/// Replaces the group's attributes with `attributes_json` (a JSON object
/// text, borrowed for the call) and rewrites its metadata document.
///
/// Returns `ZARRCORE_OK`; `ZARRCORE_E_INVALID_ARGUMENT` (not a JSON
/// object); `ZARRCORE_E_READ_ONLY`; store errors; `ZARRCORE_E_NULL_ARGUMENT`.
///
/// Threads: any thread; concurrent calls on one handle are serialised.
///
/// # Safety
///
/// `group` is NULL or a live group handle; `attributes_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_group_attributes_set(
    group: *const GroupHandle,
    attributes_json: *const c_char,
) -> Status {
    guard("zarrcore_group_attributes_set", || {
        // SAFETY: caller's contract.
        let (g, text) = unsafe {
            (
                group_arg(group)?,
                str_arg(attributes_json, "attributes_json")?,
            )
        };
        let attrs = json::parse_object(text, "attributes_json")?;
        g.group.lock().set_attributes(attrs)?;
        Ok(())
    })
}

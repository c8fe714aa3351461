//! The per-thread error message: set by every call that fails, copied into
//! the caller's buffer by `zarrcore_error_message`. There is no
//! process-global string and nothing for the caller to free.

use std::cell::RefCell;
use std::os::raw::c_char;

use crate::status::{Status, ZARRCORE_E_NULL_ARGUMENT, ZARRCORE_E_PANIC, ZARRCORE_OK};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the message of the failing call on this thread.
pub(crate) fn set_message(msg: String) {
    // During thread teardown the slot may be gone; the message is then lost.
    let _ = LAST_ERROR.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            *m = msg;
        }
    });
}

/// The largest prefix of `s` that fits `max` bytes on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Copies the message of the most recent failed call *on this thread* into
/// `buf` as a NUL-terminated UTF-8 string (an empty string if no call on
/// this thread has failed). Successful calls leave the message unchanged.
///
/// The message names the function, the argument, key or array path
/// concerned and the cause, e.g.
/// `zarrcore_array_open: no Zarr array or group at "a/b" (...)`.
///
/// * `buf`: caller-owned, `buf_len` bytes; may be NULL only if `buf_len` is
///   0. A message longer than `buf_len - 1` bytes is truncated (on a UTF-8
///   character boundary); this function never fails for lack of room.
/// * `out_len`: may be NULL; receives the full length of the message in
///   bytes, without the NUL, so a caller can size a buffer and call again.
///
/// Returns `ZARRCORE_OK`, or `ZARRCORE_E_NULL_ARGUMENT` if `buf` is NULL
/// while `buf_len` is not 0. This function never changes the message.
///
/// Threads: any thread; each thread sees only its own message.
///
/// # Safety
///
/// `buf` must be NULL or point to `buf_len` writable bytes; `out_len` must
/// be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn zarrcore_error_message(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Status {
    let r = std::panic::catch_unwind(|| {
        if buf.is_null() && buf_len > 0 {
            return ZARRCORE_E_NULL_ARGUMENT;
        }
        let _ = LAST_ERROR.try_with(|m| {
            let Ok(m) = m.try_borrow() else { return };
            if !out_len.is_null() && out_len.is_aligned() {
                // SAFETY: the caller promises `out_len` is NULL or writable;
                // it is not NULL and is aligned.
                unsafe { out_len.write(m.len()) };
            }
            if buf_len > 0 {
                let s = truncate(&m, buf_len - 1);
                // SAFETY: `buf` is not NULL (checked above) and has
                // `buf_len` writable bytes; `s.len() + 1 <= buf_len`.
                unsafe {
                    std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
                    buf.add(s.len()).write(0);
                }
            }
        });
        ZARRCORE_OK
    });
    r.unwrap_or(ZARRCORE_E_PANIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_utf8() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn copy_and_length() {
        set_message("zarrcore_x: größe".into());
        let mut len = 0usize;
        // SAFETY: NULL buffer with length 0 is allowed; `len` is writable.
        let st = unsafe { zarrcore_error_message(std::ptr::null_mut(), 0, &mut len) };
        assert_eq!(st, ZARRCORE_OK);
        assert_eq!(len, "zarrcore_x: größe".len());
        let mut buf = [0x55u8 as c_char; 8];
        // SAFETY: `buf` has 8 writable bytes.
        let st = unsafe { zarrcore_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(st, ZARRCORE_OK);
        // SAFETY: the function NUL-terminates within the buffer.
        let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "zarrcor");
        // SAFETY: NULL with a non-zero length is reported, not dereferenced.
        let st = unsafe { zarrcore_error_message(std::ptr::null_mut(), 4, std::ptr::null_mut()) };
        assert_eq!(st, ZARRCORE_E_NULL_ARGUMENT);
        // Other threads have their own (empty) message.
        std::thread::spawn(|| {
            let mut len = 99usize;
            // SAFETY: as above.
            unsafe { zarrcore_error_message(std::ptr::null_mut(), 0, &mut len) };
            assert_eq!(len, 0);
        })
        .join()
        .unwrap();
    }
}

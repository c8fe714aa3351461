//! Status codes: stable numbers, and the mapping of engine errors onto them.
//!
//! The numbers are part of the ABI: they are frozen forever, and a retired
//! code is never reused for another meaning. New codes take the next free
//! negative number.

use std::os::raw::c_char;

use zarrcore::error::{MetadataError, RegionError, StoreError};
use zarrcore::Error;

/// The result of every fallible call: `ZARRCORE_OK` (0) or a negative
/// `ZARRCORE_E_*` code. The numbers are frozen and never reused.
pub type Status = i32;

/// Success.
pub const ZARRCORE_OK: Status = 0;
/// A required pointer argument is NULL.
pub const ZARRCORE_E_NULL_ARGUMENT: Status = -1;
/// An argument is invalid: an out-of-range enum value, a string that is not
/// UTF-8, a malformed dtype, codec, fill value or JSON text, a wrong number
/// of dimensions, a handle of the wrong type.
pub const ZARRCORE_E_INVALID_ARGUMENT: Status = -2;
/// A caller's buffer has the wrong length (region and fill-value buffers
/// must match exactly; string buffers must hold the string and its NUL).
pub const ZARRCORE_E_BUFFER_LENGTH: Status = -3;
/// No array or group at the path.
pub const ZARRCORE_E_NOT_FOUND: Status = -4;
/// A node exists where one was to be created.
pub const ZARRCORE_E_ALREADY_EXISTS: Status = -5;
/// The array is open in the other mode, in this process or another (reads
/// and writes never mix; the message names the holding process where the
/// OS tells), a zip store is open for writing by another process, or an
/// array cannot be replaced while handles are open.
pub const ZARRCORE_E_BUSY: Status = -6;
/// The operation needs the other handle mode (a write through a read handle).
pub const ZARRCORE_E_MODE: Status = -7;
/// The store is read-only.
pub const ZARRCORE_E_READ_ONLY: Status = -8;
/// A region or byte range reaches outside the array.
pub const ZARRCORE_E_OUT_OF_BOUNDS: Status = -9;
/// Sizes overflow (a region or array too large to address).
pub const ZARRCORE_E_OVERFLOW: Status = -10;
/// Metadata (stored, or given as JSON) is malformed or inconsistent.
pub const ZARRCORE_E_METADATA: Status = -11;
/// A codec, data type or extension the engine does not implement.
pub const ZARRCORE_E_UNSUPPORTED: Status = -12;
/// A chunk could not be decoded or encoded (a corrupt chunk).
pub const ZARRCORE_E_CODEC: Status = -13;
/// An I/O error of the store.
pub const ZARRCORE_E_IO: Status = -14;
/// The store could not be opened, or another store failure.
pub const ZARRCORE_E_STORE: Status = -15;
/// A Rust panic was caught at the library boundary (a bug in zarrcore).
pub const ZARRCORE_E_PANIC: Status = -16;
/// An error of a kind this version of the C API does not classify.
pub const ZARRCORE_E_INTERNAL: Status = -17;
/// The operation was cancelled by the caller (a `zarrcore_copy` progress
/// callback returned nonzero); what finished is kept and can be resumed.
pub const ZARRCORE_E_CANCELLED: Status = -18;
/// A partial-chunk write on a store that cannot make writes conditional
/// (an S3-compatible server that ignores `If-Match`): it could silently lose
/// another process's update, so it is refused. Open the store with the
/// `single_writer` option if this process is the array's only writer.
pub const ZARRCORE_E_UNPROTECTED: Status = -19;

/// Every code with its static name, in order.
const NAMES: [(Status, &str); 20] = [
    (ZARRCORE_OK, "ZARRCORE_OK\0"),
    (ZARRCORE_E_NULL_ARGUMENT, "ZARRCORE_E_NULL_ARGUMENT\0"),
    (ZARRCORE_E_INVALID_ARGUMENT, "ZARRCORE_E_INVALID_ARGUMENT\0"),
    (ZARRCORE_E_BUFFER_LENGTH, "ZARRCORE_E_BUFFER_LENGTH\0"),
    (ZARRCORE_E_NOT_FOUND, "ZARRCORE_E_NOT_FOUND\0"),
    (ZARRCORE_E_ALREADY_EXISTS, "ZARRCORE_E_ALREADY_EXISTS\0"),
    (ZARRCORE_E_BUSY, "ZARRCORE_E_BUSY\0"),
    (ZARRCORE_E_MODE, "ZARRCORE_E_MODE\0"),
    (ZARRCORE_E_READ_ONLY, "ZARRCORE_E_READ_ONLY\0"),
    (ZARRCORE_E_OUT_OF_BOUNDS, "ZARRCORE_E_OUT_OF_BOUNDS\0"),
    (ZARRCORE_E_OVERFLOW, "ZARRCORE_E_OVERFLOW\0"),
    (ZARRCORE_E_METADATA, "ZARRCORE_E_METADATA\0"),
    (ZARRCORE_E_UNSUPPORTED, "ZARRCORE_E_UNSUPPORTED\0"),
    (ZARRCORE_E_CODEC, "ZARRCORE_E_CODEC\0"),
    (ZARRCORE_E_IO, "ZARRCORE_E_IO\0"),
    (ZARRCORE_E_STORE, "ZARRCORE_E_STORE\0"),
    (ZARRCORE_E_PANIC, "ZARRCORE_E_PANIC\0"),
    (ZARRCORE_E_INTERNAL, "ZARRCORE_E_INTERNAL\0"),
    (ZARRCORE_E_CANCELLED, "ZARRCORE_E_CANCELLED\0"),
    (ZARRCORE_E_UNPROTECTED, "ZARRCORE_E_UNPROTECTED\0"),
];

const UNKNOWN: &str = "ZARRCORE_E_UNKNOWN\0";

/// The static name of a status code (`"ZARRCORE_E_BUSY"`), or
/// `"ZARRCORE_E_UNKNOWN"` for a number that is not a code.
///
/// Ownership: the returned string is static; never free it.
/// Threads: any thread, at any time.
#[no_mangle]
pub extern "C" fn zarrcore_status_str(status: Status) -> *const c_char {
    let name = std::panic::catch_unwind(|| {
        NAMES
            .iter()
            .find(|(c, _)| *c == status)
            .map_or(UNKNOWN, |(_, n)| n)
    })
    .unwrap_or(UNKNOWN);
    name.as_ptr().cast()
}

/// An error on its way to C: a status code and the message for
/// `zarrcore_error_message`.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: Status,
    pub message: String,
}

impl FfiError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    /// `ZARRCORE_E_NULL_ARGUMENT` naming the argument.
    pub fn null(arg: &str) -> Self {
        FfiError::new(
            ZARRCORE_E_NULL_ARGUMENT,
            format!("argument `{arg}` is NULL"),
        )
    }

    /// `ZARRCORE_E_INVALID_ARGUMENT` naming the argument.
    pub fn invalid(arg: &str, reason: impl std::fmt::Display) -> Self {
        FfiError::new(
            ZARRCORE_E_INVALID_ARGUMENT,
            format!("argument `{arg}`: {reason}"),
        )
    }
}

/// The status code of an engine error, by kind.
pub(crate) fn status_of(e: &Error) -> Status {
    match e {
        Error::Store(s) => match s {
            StoreError::Io { .. } => ZARRCORE_E_IO,
            StoreError::InvalidKey { .. } => ZARRCORE_E_INVALID_ARGUMENT,
            StoreError::ReadOnly { .. } => ZARRCORE_E_READ_ONLY,
            // A stored value shorter than its index says: a corrupt shard.
            StoreError::RangeOutOfBounds { .. } => ZARRCORE_E_CODEC,
            StoreError::Locked { .. } => ZARRCORE_E_BUSY,
            StoreError::Unsupported { .. } => ZARRCORE_E_UNSUPPORTED,
            _ => ZARRCORE_E_STORE,
        },
        Error::Metadata(m) => match m {
            MetadataError::NotFound { .. } => ZARRCORE_E_NOT_FOUND,
            MetadataError::Unsupported { .. } => ZARRCORE_E_UNSUPPORTED,
            _ => ZARRCORE_E_METADATA,
        },
        Error::Chunk { .. } => ZARRCORE_E_CODEC,
        Error::Region(r) => match r {
            RegionError::Rank { .. } => ZARRCORE_E_INVALID_ARGUMENT,
            RegionError::OutOfBounds { .. } => ZARRCORE_E_OUT_OF_BOUNDS,
            RegionError::BufferLength { .. } => ZARRCORE_E_BUFFER_LENGTH,
            RegionError::Overflow { .. } => ZARRCORE_E_OVERFLOW,
            // string / bytes arrays: no fixed-size element buffers.
            RegionError::VariableLength { .. } => ZARRCORE_E_UNSUPPORTED,
            _ => ZARRCORE_E_INTERNAL,
        },
        Error::Busy { .. } => ZARRCORE_E_BUSY,
        Error::Unprotected { .. } => ZARRCORE_E_UNPROTECTED,
        Error::AlreadyExists { .. } => ZARRCORE_E_ALREADY_EXISTS,
        Error::Mode { .. } => ZARRCORE_E_MODE,
        Error::InvalidArgument(_) => ZARRCORE_E_INVALID_ARGUMENT,
        _ => ZARRCORE_E_INTERNAL,
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError::new(status_of(&e), e.to_string())
    }
}

impl From<StoreError> for FfiError {
    fn from(e: StoreError) -> Self {
        Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_named() {
        for (i, (code, name)) in NAMES.iter().enumerate() {
            assert!(*code <= 0, "codes are zero or negative");
            if i > 0 {
                assert!(*code < NAMES[i - 1].0, "codes are listed in order");
            }
            assert!(name.ends_with('\0'));
            let p = zarrcore_status_str(*code);
            // SAFETY: zarrcore_status_str returns a static NUL-terminated string.
            let s = unsafe { std::ffi::CStr::from_ptr(p) };
            assert_eq!(s.to_str().unwrap(), name.trim_end_matches('\0'));
        }
        // SAFETY: as above.
        let s = unsafe { std::ffi::CStr::from_ptr(zarrcore_status_str(-1000)) };
        assert_eq!(s.to_str().unwrap(), "ZARRCORE_E_UNKNOWN");
    }
}

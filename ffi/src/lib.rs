//! # libzarrcore — the C ABI of the zarrcore engine
//!
//! This crate builds `libzarrcore.so` (soname `libzarrcore.so.0`) and
//! `libzarrcore.a`; `include/zarrcore.h` is generated from it by cbindgen
//! (`ffi/cbindgen.toml`) and committed. See `docs/ffi.md`.
//!
//! Conventions (the same for every function):
//!
//! * names are `zarrcore_<object>_<verb>`; handles are opaque
//!   (`zarrcore_store`, `zarrcore_group`, `zarrcore_array`);
//! * every fallible call returns a `zarrcore_status` (0 or a negative,
//!   frozen code), results go through out-parameters, which come last;
//! * the message of the last failure is per thread, copied into a caller's
//!   buffer by `zarrcore_error_message`;
//! * every export runs behind a panic boundary (`panic::guard`);
//! * raw pointers are turned into Rust values only in `ffi.rs`.
//!
//! One file per C object: `store.rs`, `group.rs`, `array.rs` (life
//! cycle), `array_info.rs` (getters), `array_io.rs` (reads and writes);
//! `copy.rs` for the out-of-core copy between stores.

// Declaration order is the header's order (rustfmt keeps it because the
// groups are separated by blank lines): errors, enums, stores, groups,
// arrays, the copy, then the test hook.
pub mod status;

pub mod error;

pub mod enums;

pub mod store;

pub mod group;

pub mod array;

pub mod array_info;

pub mod array_io;

pub mod copy;

pub mod panic;

mod ffi;
mod json;

use std::os::raw::c_char;

pub use crate::status::Status;

/// Major version of this library (header macro; compare with
/// `zarrcore_version()` at run time).
pub const ZARRCORE_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const ZARRCORE_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const ZARRCORE_VERSION_PATCH: u32 = 0;
/// The version as one number: major * 10000 + minor * 100 + patch.
pub const ZARRCORE_VERSION_NUMBER: u32 =
    ZARRCORE_VERSION_MAJOR * 10000 + ZARRCORE_VERSION_MINOR * 100 + ZARRCORE_VERSION_PATCH;
/// The ABI version: the number in the soname (`libzarrcore.so.0`).
pub const ZARRCORE_ABI_VERSION: u32 = 0;

/// `CARGO_PKG_VERSION` with a NUL, for `zarrcore_version_string`.
const VERSION_CSTR: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version number (`ZARRCORE_VERSION_NUMBER` of the library
/// actually loaded, which may differ from the header the caller was
/// compiled with).
///
/// Threads: any thread, at any time.
#[no_mangle]
pub extern "C" fn zarrcore_version() -> u32 {
    std::panic::catch_unwind(|| ZARRCORE_VERSION_NUMBER).unwrap_or(0)
}

/// The library's version as a static NUL-terminated string (`"0.1.0"`).
///
/// Ownership: static; never free it.
/// Threads: any thread, at any time.
#[no_mangle]
pub extern "C" fn zarrcore_version_string() -> *const c_char {
    std::panic::catch_unwind(|| VERSION_CSTR)
        .unwrap_or("\0")
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_the_package() {
        let want =
            format!("{ZARRCORE_VERSION_MAJOR}.{ZARRCORE_VERSION_MINOR}.{ZARRCORE_VERSION_PATCH}");
        assert_eq!(want, env!("CARGO_PKG_VERSION"));
        // The string macro is written by cbindgen.toml (cbindgen emits no
        // string constants); keep it in step with the package.
        let toml = include_str!("../cbindgen.toml");
        assert!(toml.contains(&format!("#define ZARRCORE_VERSION_STRING \"{want}\"")));
        assert_eq!(zarrcore_version(), 100);
        // SAFETY: a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(zarrcore_version_string()) };
        assert_eq!(s.to_str().unwrap(), want);
    }
}

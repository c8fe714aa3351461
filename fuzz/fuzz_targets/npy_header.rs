//! Fuzz target `npy_header`: see `zarrcore_fuzz::targets::npy_header`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::npy_header(data));

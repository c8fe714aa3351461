//! Fuzz target `chunk`: see `zarrcore_fuzz::targets::chunk`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::chunk(data));

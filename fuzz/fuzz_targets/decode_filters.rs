//! Fuzz target `decode_filters`: see `zarrcore_fuzz::targets::decode_filters`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_filters(data));

//! Fuzz target `decode_vlen`: see `zarrcore_fuzz::targets::decode_vlen`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_vlen(data));

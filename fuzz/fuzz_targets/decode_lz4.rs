//! Fuzz target `decode_lz4`: see `zarrcore_fuzz::targets::decode_lz4`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_lz4(data));

//! Fuzz target `decode_zstd`: see `zarrcore_fuzz::targets::decode_zstd`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_zstd(data));

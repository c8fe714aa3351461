//! Fuzz target `decode_zlib`: see `zarrcore_fuzz::targets::decode_zlib`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_zlib(data));

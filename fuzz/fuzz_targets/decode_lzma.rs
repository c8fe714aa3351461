//! Fuzz target `decode_lzma`: see `zarrcore_fuzz::targets::decode_lzma`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_lzma(data));

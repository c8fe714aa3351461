//! Fuzz target `decode_gzip`: see `zarrcore_fuzz::targets::decode_gzip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_gzip(data));

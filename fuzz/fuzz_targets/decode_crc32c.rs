//! Fuzz target `decode_crc32c`: see `zarrcore_fuzz::targets::decode_crc32c`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_crc32c(data));

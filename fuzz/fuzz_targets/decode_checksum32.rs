//! Fuzz target `decode_checksum32`: see `zarrcore_fuzz::targets::decode_checksum32`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_checksum32(data));

//! Fuzz target `decode_blosc`: see `zarrcore_fuzz::targets::decode_blosc`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_blosc(data));

//! Fuzz target `decode_bz2`: see `zarrcore_fuzz::targets::decode_bz2`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::decode_bz2(data));

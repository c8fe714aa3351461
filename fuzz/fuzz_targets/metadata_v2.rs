//! Fuzz target `metadata_v2`: see `zarrcore_fuzz::targets::metadata_v2`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::metadata_v2(data));

//! Fuzz target `region`: see `zarrcore_fuzz::targets::region`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::region(data));

//! Fuzz target `sharding`: see `zarrcore_fuzz::targets::sharding`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zarrcore_fuzz::targets::sharding(data));

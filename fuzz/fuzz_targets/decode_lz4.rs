//! numcodecs' lz4 (size header + block) on arbitrary bytes (and a round trip).
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zarrcore::codec::{BytesToBytes, Lz4Codec};

fuzz_target!(|data: &[u8]| {
    let c = BytesToBytes::Lz4(Lz4Codec { acceleration: 1 });
    common::check_decoder(&c, data);
    if data.len() < 1 << 16 {
        common::check_roundtrip(&c, data);
    }
});

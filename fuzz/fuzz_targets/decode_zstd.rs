//! The zstd decoder on arbitrary bytes (and a round trip), with and without
//! a content checksum.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zarrcore::codec::{BytesToBytes, ZstdCodec};

fuzz_target!(|data: &[u8]| {
    let c = BytesToBytes::Zstd(ZstdCodec {
        level: 1,
        checksum: data.first().is_some_and(|b| b & 1 == 1),
    });
    common::check_decoder(&c, data);
    if data.len() < 1 << 16 {
        common::check_roundtrip(&c, data);
    }
});

//! The zlib decoder on arbitrary bytes (and a round trip).
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zarrcore::codec::{BytesToBytes, DeflateCodec, DeflateFormat};

fuzz_target!(|data: &[u8]| {
    let c = BytesToBytes::Deflate(DeflateCodec {
        format: DeflateFormat::Zlib,
        level: 1,
    });
    common::check_decoder(&c, data);
    if data.len() < 1 << 14 {
        common::check_roundtrip(&c, data);
    }
});

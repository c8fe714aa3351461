//! The blosc decoder (c-blosc through FFI) on arbitrary bytes, and a round
//! trip with the compressor and shuffle chosen by the first byte.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zarrcore::codec::{BloscCodec, BloscCompressor, BloscShuffle, BytesToBytes};

fuzz_target!(|data: &[u8]| {
    let sel = data.first().copied().unwrap_or(0);
    let cname = [
        BloscCompressor::BloscLz,
        BloscCompressor::Lz4,
        BloscCompressor::Lz4Hc,
        BloscCompressor::Zlib,
        BloscCompressor::Zstd,
    ][sel as usize % 5];
    let shuffle = [
        BloscShuffle::NoShuffle,
        BloscShuffle::Shuffle,
        BloscShuffle::BitShuffle,
    ][(sel as usize / 5) % 3];
    let c = BytesToBytes::Blosc(BloscCodec {
        cname,
        clevel: 5,
        shuffle,
        typesize: [1, 2, 4, 8][(sel as usize / 15) % 4],
        blocksize: 0,
    });
    common::check_decoder(&c, data);
    if data.len() < 1 << 16 {
        common::check_roundtrip(&c, data);
    }
});

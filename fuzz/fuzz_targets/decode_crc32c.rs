//! The crc32c codec on arbitrary bytes: a value with a correct trailing
//! checksum decodes to its prefix, anything else is refused.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zarrcore::codec::{BytesToBytes, Crc32cCodec};

fuzz_target!(|data: &[u8]| {
    let c = BytesToBytes::Crc32c(Crc32cCodec);
    common::check_decoder(&c, data);
    common::check_roundtrip(&c, data);
    // Any single-bit flip of a valid encoding is detected.
    if !data.is_empty() {
        let mut enc = c.encode(data).expect("encode");
        let bit = data[0] as usize % (enc.len() * 8);
        enc[bit / 8] ^= 1 << (bit % 8);
        let mut out = vec![0u8; data.len()];
        assert!(c.decode_into(&enc, &mut out).is_err(), "bit flip not detected");
    }
});

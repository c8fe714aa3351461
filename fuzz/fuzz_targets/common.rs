//! Helpers shared by the fuzz targets (included with `#[path]`).
#![allow(dead_code)]

use zarrcore::codec::{BytesToBytes, DecodedSize};

/// Largest decoded size a target lets a header ask for.
pub const MAX_DECODED: usize = 4 << 20;

/// Decodes `data` with `codec` along both paths and checks that they agree:
/// the header-sized decode (`AtMost`) and the exact-size decode into a
/// caller's buffer. Also exercises a wrong exact size (must fail cleanly).
pub fn check_decoder(codec: &BytesToBytes, data: &[u8]) {
    let bounded = codec.decode(data, DecodedSize::AtMost(MAX_DECODED));
    if let Ok(out) = &bounded {
        assert!(out.len() <= MAX_DECODED, "decode exceeded its bound");
        let mut exact = vec![0u8; out.len()];
        codec
            .decode_into(data, &mut exact)
            .expect("decode_into fails where decode succeeded");
        assert_eq!(&exact[..], &out[..], "decode and decode_into disagree");
        let again = codec
            .decode(data, DecodedSize::Exact(out.len()))
            .expect("exact decode fails where bounded decode succeeded");
        assert_eq!(&again[..], &out[..]);
        // A size one larger than the content must be refused, not padded.
        let mut bigger = vec![0u8; out.len() + 1];
        assert!(codec.decode_into(data, &mut bigger).is_err());
    }
    // A small, fixed, possibly wrong size: any outcome but a crash.
    let n = data.len() % 4096;
    let mut small = vec![0u8; n];
    let _ = codec.decode_into(data, &mut small);
    let _ = codec.decode(data, DecodedSize::AtMost(n));
}

/// Encodes `data` and decodes it back (the round trip must be exact).
pub fn check_roundtrip(codec: &BytesToBytes, data: &[u8]) {
    let enc = codec.encode(data).expect("encode");
    let mut back = vec![0u8; data.len()];
    codec.decode_into(&enc, &mut back).expect("decode of own encoding");
    assert_eq!(back, data);
}

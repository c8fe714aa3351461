//! The .npy header parser on arbitrary bytes; a parsed header's claims are
//! consistent, and what zarrcore writes parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zarrcore::npy::{header_bytes, parse_header, NpyError};

fuzz_target!(|data: &[u8]| {
    match parse_header(data) {
        Ok(h) => {
            assert!(h.data_offset <= data.len());
            assert!(h.data_len().is_some());
            let again = header_bytes(h.dtype, h.endian, &h.shape);
            let p = parse_header(&again).expect("own header parses");
            assert_eq!((p.dtype, p.shape.clone()), (h.dtype, h.shape.clone()));
            if h.dtype.has_byte_order() {
                assert_eq!(p.endian, h.endian);
            }
        }
        Err(NpyError::NeedMore(n)) => assert!(n > data.len()),
        Err(NpyError::Invalid(_)) => {}
    }
});

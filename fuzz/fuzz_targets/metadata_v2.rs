//! Zarr v2 metadata parsing (`.zarray`, `.zgroup`, `.zattrs`, `.zmetadata`)
//! on arbitrary bytes; a parsed array writes back to a document that parses
//! to the same metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zarrcore::metadata::{
    parse_v2_array, parse_v2_attrs, parse_v2_group, read_consolidated, v2_array_json, ZarrFormat,
};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(m) = parse_v2_array(&doc, None, ".zarray") {
        let _ = m.validate(".zarray");
        let spec = m.cell_spec();
        let _ = spec.num_bytes();
        let _ = (m.grid_shape(), m.numpy_dtype(), m.codecs.names());
        let back = v2_array_json(&m);
        let again = parse_v2_array(&back, None, ".zarray").expect("own document parses");
        assert_eq!(again.shape, m.shape);
        assert_eq!(again.chunk_shape, m.chunk_shape);
        assert_eq!(again.data_type, m.data_type);
        assert_eq!(again.codecs, m.codecs);
    }
    let _ = parse_v2_group(&doc, None, ".zgroup");
    let _ = parse_v2_attrs(Some(&doc), ".zattrs");
    let _ = read_consolidated(&doc, ZarrFormat::V2, ".zmetadata");
});

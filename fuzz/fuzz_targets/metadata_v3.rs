//! Zarr v3 metadata parsing (`zarr.json`, including inline consolidated
//! metadata) on arbitrary bytes; a parsed array writes back to a document
//! that parses to the same metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zarrcore::metadata::{parse_v3_node, read_consolidated, v3_array_json, NodeMetadata, ZarrFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(NodeMetadata::Array(m)) = parse_v3_node(&doc, "zarr.json") {
        let _ = m.validate("zarr.json");
        let _ = m.cell_spec().num_bytes();
        let _ = (m.grid_shape(), m.read_chunk_shape(), m.codecs.names());
        if let Some(sh) = m.codecs.sharding() {
            let shard: Vec<usize> = m.chunk_shape.iter().map(|&c| c as usize).collect();
            let _ = sh.index_len(&shard);
            let _ = sh.max_encoded_len(&m.cell_spec());
        }
        let back = v3_array_json(&m);
        match parse_v3_node(&back, "zarr.json") {
            Ok(NodeMetadata::Array(again)) => {
                assert_eq!(again.shape, m.shape);
                assert_eq!(again.chunk_shape, m.chunk_shape);
                assert_eq!(again.data_type, m.data_type);
                assert_eq!(again.codecs, m.codecs);
            }
            other => panic!("own document does not parse back: {other:?}"),
        }
    }
    let _ = read_consolidated(&doc, ZarrFormat::V3, "zarr.json");
});

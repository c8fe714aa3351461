//! The metadata documents of the benchmark's workloads, exactly as the
//! benchmark README specifies them (the same documents the zarrs runner
//! writes).

use serde_json::{json, Value};

use crate::Unsupported;

/// A v3 array: regular chunks `chunk`, `default` keys with `/`, fill 0,
/// `bytes(little)` + `zstd(level 1, checksum false)` (W1, and W5's output).
pub fn zstd_v3(shape: &[u64], data_type: &str, chunk: &[u64]) -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [
            {"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "zstd", "configuration": {"level": 1, "checksum": false}}
        ]
    })
}

/// W2: v3, shards 256^3 of inner chunks 32^3 (`bytes` + `zstd(1)`), index
/// `bytes` + `crc32c` at the end.
fn sharded_v3(shape: &[u64]) -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": "uint16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [256, 256, 256]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [32, 32, 32],
            "codecs": [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "zstd", "configuration": {"level": 1, "checksum": false}}
            ],
            "index_codecs": [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "crc32c"}
            ],
            "index_location": "end"
        }}]
    })
}

/// W3: v2, chunks 128^3, `<u2`, blosc lz4 clevel 5 shuffle 1 blocksize 0,
/// order C, no filters, `.` separator.
fn blosc_v2(shape: &[u64]) -> Value {
    json!({
        "zarr_format": 2,
        "shape": shape,
        "chunks": [128, 128, 128],
        "dtype": "<u2",
        "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
        "fill_value": 0,
        "order": "C",
        "filters": null,
        "dimension_separator": "."
    })
}

/// The metadata document of write workload `name` for a uint16 array of
/// `shape` (3-D: the workloads' chunk shapes are 3-D).
pub fn metadata(name: &str, shape: &[u64]) -> Result<Value, Unsupported> {
    if !matches!(name, "W1" | "W2" | "W3") {
        return Err(Unsupported(format!(
            "write workload {name:?} (supported: W1, W2, W3)"
        )));
    }
    if shape.len() != 3 {
        return Err(Unsupported(format!(
            "workload {name} is defined for 3-D arrays, the input has shape {shape:?}"
        )));
    }
    Ok(match name {
        "W1" => zstd_v3(shape, "uint16", &[64, 64, 64]),
        "W2" => sharded_v3(shape),
        _ => blosc_v2(shape),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_as_the_workloads() {
        use zarrcore::{DataType, ZarrFormat};
        let shape = [100, 90, 80];
        for (w, fmt, grid_cell) in [
            ("W1", ZarrFormat::V3, 64),
            ("W2", ZarrFormat::V3, 256),
            ("W3", ZarrFormat::V2, 128),
        ] {
            let doc = metadata(w, &shape).unwrap();
            let m = zarrcore::metadata::parse_array_document(&doc).unwrap();
            assert_eq!(m.zarr_format, fmt, "{w}");
            assert_eq!(m.shape, shape.to_vec(), "{w}");
            assert_eq!(m.data_type, DataType::UInt16, "{w}");
            assert_eq!(m.chunk_shape, vec![grid_cell; 3], "{w}");
        }
        let w2 =
            zarrcore::metadata::parse_array_document(&metadata("W2", &shape).unwrap()).unwrap();
        assert_eq!(w2.read_chunk_shape(), vec![32, 32, 32]);
        assert!(metadata("W4", &shape).is_err());
        assert!(metadata("W1", &[10, 10]).is_err());
    }
}

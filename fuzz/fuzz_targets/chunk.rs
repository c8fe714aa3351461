//! A whole stored chunk through a real codec chain. Input: a 2-byte
//! little-endian length, a metadata document (`zarr.json` or `.zarray`) of
//! that length, then the chunk bytes. The chunk is decoded with
//! `CodecChain::decode_into`, and read through an `Array` on a memory store
//! (whole array and a partial region), which exercises the read path:
//! partial shard reads, the cache, edge chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zarrcore::metadata::{parse_v2_array, parse_v3_node, ArrayMetadata, NodeMetadata};
use zarrcore::store::MemoryStore;
use zarrcore::{Array, Mode, Region, Store, StoreRef};

fn parse(doc: &Value) -> Option<ArrayMetadata> {
    match doc.get("zarr_format")?.as_u64()? {
        3 => match parse_v3_node(doc, "zarr.json").ok()? {
            NodeMetadata::Array(a) => Some(*a),
            NodeMetadata::Group(_) => None,
        },
        2 => parse_v2_array(doc, None, ".zarray").ok(),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let Some(meta_bytes) = data.get(2..2 + n) else {
        return;
    };
    let chunk = &data[2 + n..];
    let Ok(doc) = serde_json::from_slice::<Value>(meta_bytes) else {
        return;
    };
    let Some(meta) = parse(&doc) else {
        return;
    };
    let spec = meta.cell_spec();
    // Keep each run small: a chunk of at most 1 MiB, an array of at most 4 MiB.
    let total = zarrcore::nd::checked_num_elements(&meta.shape)
        .and_then(|e| e.checked_mul(meta.data_type.size() as u64));
    if spec.num_bytes() > 1 << 20 || total.is_none_or(|t| t > 4 << 20) {
        return;
    }
    let mut out = vec![0u8; spec.num_bytes()];
    let _ = meta.codecs.decode_into(chunk, &spec, &mut out);

    // The same bytes as the first chunk of an array in a memory store.
    let store: StoreRef = std::sync::Arc::new(MemoryStore::new());
    let key_doc = if meta.zarr_format.number() == 3 {
        "a/zarr.json"
    } else {
        "a/.zarray"
    };
    store.set(key_doc, meta_bytes).unwrap();
    let cell = vec![0u64; meta.ndim()];
    let key = format!("a/{}", meta.chunk_key_encoding.encode(&cell));
    store.set(&key, chunk).unwrap();
    let Ok(a) = Array::open(&store, "a", Mode::Read) else {
        return;
    };
    let shape = a.shape();
    let _ = a.read_region_vec(&Region::all(&shape));
    // A partial region inside the first chunk.
    let part = Region::new(
        vec![0; shape.len()],
        shape
            .iter()
            .zip(&meta.chunk_shape)
            .map(|(&s, &c)| s.min(c).div_ceil(2))
            .collect(),
    );
    let _ = a.read_region_vec(&part);
});

//! Shards: the index (at the start or the end, with or without crc32c) and
//! every inner chunk. Input: a 2-byte little-endian length, a v3 `zarr.json`
//! of that length whose codecs are sharded, then the shard bytes. Checks
//! that `decode_index` never yields an entry that `inner_slice` lets out of
//! the shard, and that the whole-shard decode agrees with decoding each inner
//! chunk on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zarrcore::metadata::{parse_v3_node, NodeMetadata};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let Some(meta_bytes) = data.get(2..2 + n) else {
        return;
    };
    let shard = &data[2 + n..];
    let Ok(doc) = serde_json::from_slice::<Value>(meta_bytes) else {
        return;
    };
    let Ok(NodeMetadata::Array(meta)) = parse_v3_node(&doc, "zarr.json") else {
        return;
    };
    let Some(sh) = meta.codecs.sharding() else {
        return;
    };
    let spec = meta.cell_spec();
    if spec.num_bytes() > 1 << 20 || sh.index_len(&spec.shape) > 1 << 20 {
        return;
    }
    let whole_ok = {
        let mut out = vec![0u8; spec.num_bytes()];
        meta.codecs.decode_into(shard, &spec, &mut out).is_ok()
    };
    let Ok(ib) = sh.index_bytes(shard, &spec.shape) else {
        assert!(!whole_ok || !meta.codecs.bytes_to_bytes.is_empty());
        return;
    };
    let Ok(index) = sh.decode_index(ib, &spec.shape) else {
        return;
    };
    assert_eq!(index.entries.len(), sh.inner_grid(&spec.shape).iter().product::<usize>());
    let inner = sh.inner_spec(&spec);
    let mut all_inner_ok = true;
    for i in 0..index.entries.len() {
        let Some(r) = index.range(i) else { continue };
        match sh.inner_slice(shard, r, i) {
            Ok(s) => {
                assert!(r.0.checked_add(r.1).is_some_and(|e| e <= shard.len() as u64));
                assert_eq!(s.len() as u64, r.1);
                let mut buf = vec![0u8; inner.num_bytes()];
                if sh.codecs.decode_into(s, &inner, &mut buf).is_err() {
                    all_inner_ok = false;
                }
            }
            Err(_) => all_inner_ok = false,
        }
    }
    if meta.codecs.array_to_array.is_empty() && meta.codecs.bytes_to_bytes.is_empty() {
        assert_eq!(whole_ok, all_inner_ok, "whole-shard and per-inner-chunk decodes disagree");
    }
});

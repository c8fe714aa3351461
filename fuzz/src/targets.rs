//! The bodies of the fuzz targets, one function per target, shared by the
//! libFuzzer binaries (`fuzz_targets/`) and by the regression test that
//! replays every saved crash on stable (`core/tests/fuzz_regressions.rs`,
//! which includes this file with `#[path]`). Only `zarrcore` and
//! `serde_json` may be used here.
#![allow(dead_code)]

use serde_json::Value;
use zarrcore::array::linear_regions;
use zarrcore::array::region::cell_parts;
use zarrcore::codec::numeric::NumType;
use zarrcore::codec::{
    AsTypeCodec, BitRoundCodec, BloscCodec, BloscCompressor, BloscShuffle, BytesToBytes, Bz2Codec,
    Checksum32Codec, ChecksumKind, Crc32cCodec, DecodedSize, DeflateCodec, DeflateFormat,
    DeltaCodec, Lz4Codec, LzmaCodec, LzmaFormat, PackBitsCodec, ShuffleCodec, ZstdCodec,
};
use zarrcore::metadata::{
    parse_v2_array, parse_v2_attrs, parse_v2_group, parse_v3_node, read_consolidated,
    v2_array_json, v3_array_json, ArrayMetadata, NodeMetadata, ZarrFormat,
};
use zarrcore::npy::{header_bytes, parse_header, NpyError};
use zarrcore::store::MemoryStore;
use zarrcore::{Array, Mode, Region, StoreRef};

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
    codec
        .decode_into(&enc, &mut back)
        .expect("decode of own encoding");
    assert_eq!(back, data);
}

/// Zarr v2 metadata parsing (`.zarray`, `.zgroup`, `.zattrs`, `.zmetadata`)
/// on arbitrary bytes; a parsed array writes back to a document that parses
/// to the same metadata.
pub fn metadata_v2(data: &[u8]) {
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
}

/// Zarr v3 metadata parsing (`zarr.json`, including inline consolidated
/// metadata) on arbitrary bytes; a parsed array writes back to a document
/// that parses to the same metadata.
pub fn metadata_v3(data: &[u8]) {
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
}

/// The zstd decoder on arbitrary bytes (and a round trip), with and without
/// a content checksum.
pub fn decode_zstd(data: &[u8]) {
    let c = BytesToBytes::Zstd(ZstdCodec {
        level: 1,
        checksum: data.first().is_some_and(|b| b & 1 == 1),
    });
    check_decoder(&c, data);
    if data.len() < 1 << 16 {
        check_roundtrip(&c, data);
    }
}

/// The blosc decoder (c-blosc through FFI) on arbitrary bytes, and a round
/// trip with the compressor and shuffle chosen by the first byte.
pub fn decode_blosc(data: &[u8]) {
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
    check_decoder(&c, data);
    if data.len() < 1 << 16 {
        check_roundtrip(&c, data);
    }
}

/// The gzip decoder on arbitrary bytes (and a round trip).
pub fn decode_gzip(data: &[u8]) {
    let c = BytesToBytes::Deflate(DeflateCodec {
        format: DeflateFormat::Gzip,
        level: 1,
    });
    check_decoder(&c, data);
    if data.len() < 1 << 14 {
        check_roundtrip(&c, data);
    }
}

/// The zlib decoder on arbitrary bytes (and a round trip).
pub fn decode_zlib(data: &[u8]) {
    let c = BytesToBytes::Deflate(DeflateCodec {
        format: DeflateFormat::Zlib,
        level: 1,
    });
    check_decoder(&c, data);
    if data.len() < 1 << 14 {
        check_roundtrip(&c, data);
    }
}

/// numcodecs' lz4 (size header + block) on arbitrary bytes (and a round trip).
pub fn decode_lz4(data: &[u8]) {
    let c = BytesToBytes::Lz4(Lz4Codec { acceleration: 1 });
    check_decoder(&c, data);
    if data.len() < 1 << 16 {
        check_roundtrip(&c, data);
    }
}

/// The crc32c codec on arbitrary bytes: a value with a correct trailing
/// checksum decodes to its prefix, anything else is refused.
pub fn decode_crc32c(data: &[u8]) {
    let c = BytesToBytes::Crc32c(Crc32cCodec);
    check_decoder(&c, data);
    check_roundtrip(&c, data);
    // Any single-bit flip of a valid encoding is detected.
    if !data.is_empty() {
        let mut enc = c.encode(data).expect("encode");
        let bit = data[0] as usize % (enc.len() * 8);
        enc[bit / 8] ^= 1 << (bit % 8);
        let mut out = vec![0u8; data.len()];
        assert!(
            c.decode_into(&enc, &mut out).is_err(),
            "bit flip not detected"
        );
    }
}

/// numcodecs' bz2 on arbitrary bytes (and a round trip).
pub fn decode_bz2(data: &[u8]) {
    let c = BytesToBytes::Bz2(Bz2Codec { level: 1 });
    check_decoder(&c, data);
    if data.len() < 1 << 12 {
        check_roundtrip(&c, data);
    }
}

/// numcodecs' lzma on arbitrary bytes, the container (xz, alone, auto)
/// chosen by the first byte, and a round trip.
pub fn decode_lzma(data: &[u8]) {
    let sel = data.first().copied().unwrap_or(0);
    let format = [LzmaFormat::Xz, LzmaFormat::Alone, LzmaFormat::Auto][sel as usize % 3];
    let c = BytesToBytes::Lzma(LzmaCodec {
        format,
        check: -1,
        preset: Some(0),
    });
    check_decoder(&c, data);
    if data.len() < 1 << 12 && format != LzmaFormat::Auto {
        check_roundtrip(&c, data);
    }
}

/// numcodecs' crc32, adler32, crc32c and fletcher32 (kind and location
/// chosen by the first byte): only a correct checksum decodes, any single
/// bit flip of a valid encoding is caught.
pub fn decode_checksum32(data: &[u8]) {
    let sel = data.first().copied().unwrap_or(0) as usize;
    let kind = [
        ChecksumKind::Crc32,
        ChecksumKind::Adler32,
        ChecksumKind::Crc32c,
        ChecksumKind::Fletcher32,
    ][sel % 4];
    let at_end = kind == ChecksumKind::Fletcher32 || (sel / 4) % 2 == 1;
    let c = BytesToBytes::Checksum(Checksum32Codec { kind, at_end });
    check_decoder(&c, data);
    check_roundtrip(&c, data);
    if !data.is_empty() {
        let mut enc = c.encode(data).expect("encode");
        let bit = data[data.len() - 1] as usize % (enc.len() * 8);
        enc[bit / 8] ^= 1 << (bit % 8);
        let mut out = vec![0u8; data.len()];
        // Adler-32 and Fletcher-32 are weak sums, but a single flip always
        // changes them.
        assert!(
            c.decode_into(&enc, &mut out).is_err(),
            "bit flip not detected"
        );
    }
}

/// The numcodecs filters on arbitrary bytes: the first byte picks the filter
/// and its element types, the rest is the encoded chunk. Decoders agree with
/// each other and refuse wrong sizes; lossless ones round-trip.
pub fn decode_filters(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let ty = |i: u8| {
        let names = ["<i1", "<u2", ">i4", "<u8", "<f2", ">f4", "<f8", "|u1"];
        NumType::parse(names[i as usize % names.len()]).expect("type")
    };
    let (a, b) = (ty(sel), ty(sel / 8));
    let (c, lossless) = match sel % 6 {
        0 => match DeltaCodec::new(a, b) {
            Ok(d) => (BytesToBytes::Delta(d), a == b && a.is_int()),
            Err(_) => return,
        },
        1 => (
            BytesToBytes::Shuffle(ShuffleCodec {
                elementsize: (sel / 6) as usize % 9,
            }),
            true,
        ),
        2 => (BytesToBytes::PackBits(PackBitsCodec), false),
        3 => (
            BytesToBytes::AsType(AsTypeCodec {
                encode_dtype: a,
                decode_dtype: b,
            }),
            a == b,
        ),
        4 => match BitRoundCodec::new(i64::from(sel / 6) % 11, a) {
            Ok(r) => (BytesToBytes::BitRound(r), false),
            Err(_) => return,
        },
        _ => {
            let doc = format!(
                r#"{{"id": "fixedscaleoffset", "offset": {}, "scale": {}, "dtype": "{}", "astype": "{}"}}"#,
                sel % 7,
                (sel % 5) + 1,
                a.numpy_str(),
                b.numpy_str()
            );
            let Ok(v) = serde_json::from_str::<Value>(&doc) else {
                return;
            };
            match zarrcore::codec::compressor_from_v2(&v, zarrcore::DataType::Float64, "fuzz") {
                Ok(c) => (c, false),
                Err(_) => return,
            }
        }
    };
    check_decoder(&c, rest);
    if let Ok(enc) = c.encode(rest) {
        let mut back = vec![0u8; rest.len()];
        let r = c.decode_into(&enc, &mut back);
        if lossless {
            r.expect("decode of own encoding");
            assert_eq!(back, rest, "lossless filter did not round-trip");
        }
    }
}

/// Shards: the index (at the start or the end, with or without crc32c) and
/// every inner chunk. Input: a 2-byte little-endian length, a v3 `zarr.json`
/// of that length whose codecs are sharded, then the shard bytes. Checks
/// that `decode_index` never yields an entry that `inner_slice` lets out of
/// the shard, and that the whole-shard decode agrees with decoding each inner
/// chunk on its own.
pub fn sharding(data: &[u8]) {
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
    assert_eq!(
        index.entries.len(),
        sh.inner_grid(&spec.shape).iter().product::<usize>()
    );
    let inner = sh.inner_spec(&spec);
    let mut all_inner_ok = true;
    for i in 0..index.entries.len() {
        let Some(r) = index.range(i) else { continue };
        match sh.inner_slice(shard, r, i) {
            Ok(s) => {
                assert!(r
                    .0
                    .checked_add(r.1)
                    .is_some_and(|e| e <= shard.len() as u64));
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
        assert_eq!(
            whole_ok, all_inner_ok,
            "whole-shard and per-inner-chunk decodes disagree"
        );
    }
}

fn parse_doc(doc: &Value) -> Option<ArrayMetadata> {
    match doc.get("zarr_format")?.as_u64()? {
        3 => match parse_v3_node(doc, "zarr.json").ok()? {
            NodeMetadata::Array(a) => Some(*a),
            NodeMetadata::Group(_) => None,
        },
        2 => parse_v2_array(doc, None, ".zarray").ok(),
        _ => None,
    }
}

/// A whole stored chunk through a real codec chain. Input: a 2-byte
/// little-endian length, a metadata document (`zarr.json` or `.zarray`) of
/// that length, then the chunk bytes. The chunk is decoded with
/// `CodecChain::decode_into`, and read through an `Array` on a memory store
/// (whole array and a partial region), which exercises the read path:
/// partial shard reads, the cache, edge chunks.
pub fn chunk(data: &[u8]) {
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
    let Some(meta) = parse_doc(&doc) else {
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
    // Reads bypass the decoded-chunk cache: setting up a cache slab for each
    // new chunk size costs O(32 MiB / chunk size) and would dominate every
    // run (the cache has its own tests in core/tests/unsafe_paths.rs).
    zarrcore::engine::cache::set_cache_budget(0);

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
}

/// The .npy header parser on arbitrary bytes; a parsed header's claims are
/// consistent, and what zarrcore writes parses back to itself.
pub fn npy_header(data: &[u8]) {
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
}

/// Region and selection arithmetic: `Region::parse` and `FromStr`,
/// `Region::check`, `cell_parts` and `linear_regions`, with invariants
/// (the parts of a region partition it; linear ranges are covered exactly,
/// in order, by C-contiguous regions).
///
/// Input: byte 0 is the rank (0-4); then per axis a 2-byte shape and a
/// 1-byte chunk size (0 becomes 1); then 4+4 bytes for a linear range; the
/// rest is the region text.
pub fn region(data: &[u8]) {
    let Some((&rank, mut rest)) = data.split_first() else {
        return;
    };
    let nd = rank as usize % 5;
    let mut shape = Vec::with_capacity(nd);
    let mut chunks = Vec::with_capacity(nd);
    for _ in 0..nd {
        if rest.len() < 3 {
            return;
        }
        shape.push(u16::from_le_bytes([rest[0], rest[1]]) as u64);
        chunks.push(u64::from(rest[2].max(1)));
        rest = &rest[3..];
    }
    if rest.len() < 8 {
        return;
    }
    let a = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
    let b = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as u64;
    let text = String::from_utf8_lossy(&rest[8..]);
    let _ = text.parse::<Region>();

    let total: u64 = shape.iter().product();
    if total > 0 {
        let (s, e) = (a % (total + 1), b % (total + 1));
        let (s, e) = (s.min(e), s.max(e));
        let regions = linear_regions(&shape, s, e);
        let mut pos = s;
        for r in &regions {
            r.check(&shape, 1, "x")
                .expect("linear region fits the array");
            let mut first = 0u64;
            let mut stride = 1u64;
            for d in (0..nd).rev() {
                first += r.start[d] * stride;
                stride *= shape[d];
            }
            assert_eq!(first, pos, "linear regions out of order");
            pos += r.num_elements().unwrap();
        }
        assert_eq!(pos, e, "linear range not covered");
        assert!(regions.len() <= 2 * nd + 1);
    }

    let Ok(region) = Region::parse(&text, &shape) else {
        return;
    };
    let bytes = match region.check(&shape, 8, "x") {
        Ok(b) => b,
        // Fits the array, but its size in bytes does not fit the address
        // space (a fuzzer find: a harness assumption, not an engine bug).
        Err(zarrcore::error::RegionError::Overflow { .. }) => return,
        Err(e) => panic!("a parsed region does not fit the array: {e}"),
    };
    let elems = region.num_elements().unwrap();
    assert_eq!(bytes as u64, elems * 8);
    // Cells the region spans, bounded so a run stays fast.
    let spanned: u64 = (0..nd)
        .map(|d| {
            if region.shape[d] == 0 {
                0
            } else {
                (region.start[d] + region.shape[d] - 1) / chunks[d] - region.start[d] / chunks[d]
                    + 1
            }
        })
        .product();
    if spanned > 100_000 {
        return;
    }
    let parts = cell_parts(&region, &chunks, &shape);
    let mut covered = 0u64;
    for p in &parts {
        let mut n = 1u64;
        for d in 0..nd {
            assert!(p.in_cell[d] as u64 + p.count[d] as u64 <= chunks[d]);
            assert!(p.in_region[d] as u64 + p.count[d] as u64 <= region.shape[d]);
            assert_eq!(
                p.cell[d] * chunks[d] + p.in_cell[d] as u64,
                region.start[d] + p.in_region[d] as u64
            );
            n *= p.count[d] as u64;
        }
        covered += n;
    }
    assert_eq!(covered, elems, "cell parts do not partition the region");
}

/// The numcodecs variable-length decoder (`vlen-utf8` / `vlen-bytes`) on
/// arbitrary bytes. The first byte picks the codec and whether the expected
/// item count is the one the header claims (to get past the count check) or
/// a small fixed one; the rest is the decoded vlen buffer. Decoding must
/// fail cleanly or yield items that re-encode to a buffer decoding to the
/// same items. The same bytes are then read as a stored chunk of a vlen
/// array on a memory store (whole array and a region) through
/// `Array::read_vlen`.
pub fn decode_vlen(data: &[u8]) {
    use zarrcore::array::strings::VlenData;
    use zarrcore::codec::vlen::{encode_items, VlenItems};
    use zarrcore::codec::VlenKind;
    use zarrcore::store::Bytes;
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let kind = if sel & 1 == 0 {
        VlenKind::Utf8
    } else {
        VlenKind::Bytes
    };
    let claimed = body
        .get(..4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let expected = if sel & 2 == 0 {
        claimed
    } else {
        (sel >> 2) as usize
    };
    if let Ok(items) = VlenItems::parse(Bytes::copy_from_slice(body), expected, kind) {
        assert_eq!(items.len(), expected);
        let again = encode_items(kind, items.len(), |i| items.get(i)).expect("re-encode");
        let back = VlenItems::parse(Bytes::from(again), expected, kind).expect("own encoding");
        for i in 0..expected {
            assert_eq!(back.get(i), items.get(i));
            if kind == VlenKind::Utf8 {
                assert!(std::str::from_utf8(items.get(i)).is_ok());
            }
        }
    }
    // As the only chunk of a 1-d array of `expected` items (capped).
    let n = expected.clamp(1, 1 << 16);
    let dtype = if kind == VlenKind::Utf8 {
        "string"
    } else {
        "variable_length_bytes"
    };
    let codec = if kind == VlenKind::Utf8 {
        "vlen-utf8"
    } else {
        "vlen-bytes"
    };
    let doc = serde_json::json!({"zarr_format": 3, "node_type": "array", "shape": [n],
        "data_type": dtype, "fill_value": "",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [n]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "codecs": [{"name": codec, "configuration": {}}]});
    let store: StoreRef = std::sync::Arc::new(MemoryStore::new());
    store
        .set("a/zarr.json", doc.to_string().as_bytes())
        .unwrap();
    store.set("a/c/0", body).unwrap();
    let a = Array::open(&store, "a", Mode::Read).expect("own metadata opens");
    let whole = a.read_vlen::<u64>(&Region::all(&[n as u64]));
    let part = a.read_vlen::<i32>(&Region::new(vec![(n / 2) as u64], vec![(n - n / 2) as u64]));
    if let (Ok(w), Ok(p)) = (&whole, &part) {
        let w: &VlenData<u64> = w;
        assert_eq!(w.len(), n);
        for i in 0..p.len() {
            assert_eq!(p.get(i), w.get(n / 2 + i));
        }
    }
    assert_eq!(whole.is_ok(), part.is_ok());
}

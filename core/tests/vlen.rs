//! Variable-length `string` / `bytes` arrays: metadata of both formats,
//! round trips through `Array::write_vlen` / `read_vlen` over several
//! chunkings, partial-chunk merges, fill values, v2 `order: F`, hostile
//! chunks, and the refusal of the fixed-size paths. (Interop with
//! zarr-python in both directions: tests/python/test_vlen.py.)

use std::sync::Arc;

use serde_json::json;
use zarrcore::array::strings::VlenData;
use zarrcore::error::RegionError;
use zarrcore::metadata::{parse_array_document, ZarrFormat};
use zarrcore::store::MemoryStore;
use zarrcore::{
    Array, ArrayBuilder, CodecSpec, DataType, Error, FillValue, Mode, Order, Region, StoreRef,
};

fn store() -> StoreRef {
    Arc::new(MemoryStore::new())
}

/// `n` items with empty strings, non-ASCII text, interior NULs, varied lengths.
fn items(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match i % 6 {
            0 => Vec::new(),
            1 => format!("item{i}").into_bytes(),
            2 => "héllo wörld 日本語 🙂".as_bytes().to_vec(),
            3 => "x\0y".as_bytes().to_vec(),
            4 => "z".repeat(i % 50).into_bytes(),
            _ => format!("{i}").into_bytes(),
        })
        .collect()
}

/// Items of `region` of a C-order array of `shape` holding `all`.
fn select(all: &[Vec<u8>], shape: &[u64], region: &Region) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let count = region.shape.clone();
    zarrcore::nd::for_each_index(&count, |k| {
        let mut flat = 0u64;
        for d in 0..shape.len() {
            flat = flat * shape[d] + region.start[d] + k[d];
        }
        out.push(all[flat as usize].clone());
    });
    out
}

fn as_vecs<O: zarrcore::array::strings::VlenOffset>(d: &VlenData<O>) -> Vec<Vec<u8>> {
    d.iter().map(<[u8]>::to_vec).collect()
}

fn build(
    s: &StoreRef,
    path: &str,
    dt: DataType,
    format: ZarrFormat,
    shape: &[u64],
    chunks: &[u64],
    codec: &str,
) -> Array {
    ArrayBuilder::new(shape.to_vec(), dt)
        .chunks(chunks.to_vec())
        .zarr_format(format)
        .codec(codec.parse::<CodecSpec>().unwrap())
        .create(s, path)
        .unwrap()
}

#[test]
fn round_trips_over_chunkings_formats_and_codecs() {
    let cases: &[(&[u64], &[u64])] = &[
        (&[10], &[3]),
        (&[10], &[10]),
        (&[10], &[20]),
        (&[4, 5], &[2, 2]),
        (&[4, 5], &[3, 5]),
        (&[3, 4, 5], &[2, 3, 2]),
        (&[], &[]),
    ];
    for dt in [DataType::VlenString, DataType::VlenBytes] {
        for format in [ZarrFormat::V2, ZarrFormat::V3] {
            for codec in ["none", "zstd:3", "gzip:5", "blosc:lz4:5:shuffle"] {
                for (shape, chunks) in cases {
                    let s = store();
                    let n: u64 = shape.iter().product();
                    let all = items(n as usize);
                    let a = build(&s, "a", dt, format, shape, chunks, codec);
                    let d = VlenData::<u64>::from_items(&all).unwrap();
                    a.write_vlen(&Region::all(shape), &d.offsets, &d.values)
                        .unwrap();
                    a.close().unwrap();
                    let r = Array::open(&s, "a", Mode::Read).unwrap();
                    assert_eq!(r.data_type(), dt);
                    let got: VlenData<i64> = r.read_vlen(&Region::all(shape)).unwrap();
                    let what = format!("{dt} {format:?} {codec} {shape:?}/{chunks:?}");
                    assert_eq!(as_vecs(&got), all, "{what}");
                    assert_eq!(
                        r.vlen_region_bytes(&Region::all(shape)).unwrap(),
                        got.values.len() as u64
                    );
                    if !shape.is_empty() {
                        // A region crossing chunk edges.
                        let region = Region::new(
                            shape.iter().map(|&x| x / 3).collect(),
                            shape.iter().map(|&x| x - x / 3).collect(),
                        );
                        let got: VlenData<u32> = r.read_vlen(&region).unwrap();
                        assert_eq!(as_vecs(&got), select(&all, shape, &region), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn partial_writes_merge_and_fill_chunks_are_deleted() {
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let s = store();
        let shape = [5u64, 7];
        let a = ArrayBuilder::new(shape.to_vec(), DataType::VlenString)
            .chunks(vec![2, 3])
            .zarr_format(format)
            .fill_value(FillValue::parse_user("fill", DataType::VlenString).unwrap())
            .create(&s, "p")
            .unwrap();
        let mut want = vec![b"fill".to_vec(); 35];
        // Nothing stored: every item is the fill value.
        assert_eq!(
            as_vecs(&a.read_vlen::<u64>(&Region::all(&shape)).unwrap()),
            want
        );
        let all = items(35);
        let d = VlenData::<u64>::from_items(&all).unwrap();
        a.write_vlen(&Region::all(&shape), &d.offsets, &d.values)
            .unwrap();
        want.clone_from(&all);
        // Overwrite an interior block crossing chunk edges.
        let region = Region::new(vec![1, 2], vec![3, 3]);
        let new: Vec<Vec<u8>> = (0..9).map(|i| format!("new{i}").into_bytes()).collect();
        a.write_strings(&region, &new).unwrap();
        let mut k = 0;
        for i in 1..4 {
            for j in 2..5 {
                want[i * 7 + j] = new[k].clone();
                k += 1;
            }
        }
        assert_eq!(
            as_vecs(&a.read_vlen::<u64>(&Region::all(&shape)).unwrap()),
            want
        );
        // Writing the fill value over a whole chunk deletes it.
        let key = if format == ZarrFormat::V2 {
            "p/0.0"
        } else {
            "p/c/0/0"
        };
        assert!(s.get(key).unwrap().is_some());
        a.write_strings(&Region::new(vec![0, 0], vec![2, 3]), &["fill"; 6])
            .unwrap();
        assert!(s.get(key).unwrap().is_none(), "{format:?}");
        a.close().unwrap();
        let r = Array::open(&s, "p", Mode::Read).unwrap();
        for i in 0..2 {
            for j in 0..3 {
                want[i * 7 + j] = b"fill".to_vec();
            }
        }
        assert_eq!(
            as_vecs(&r.read_vlen::<u64>(&Region::all(&shape)).unwrap()),
            want
        );
    }
}

#[test]
fn v2_fortran_order_stores_items_in_f_order() {
    let s = store();
    let a = ArrayBuilder::new(vec![2, 3], DataType::VlenString)
        .chunks(vec![2, 3])
        .zarr_format(ZarrFormat::V2)
        .order(Order::F)
        .codec("none".parse::<CodecSpec>().unwrap())
        .create(&s, "f")
        .unwrap();
    a.write_strings(&Region::all(&[2, 3]), &["a", "b", "c", "d", "e", "f"])
        .unwrap();
    a.close().unwrap();
    // As zarr-python writes it: items a d b e c f.
    let raw = s.get("f/0.0").unwrap().unwrap();
    let mut want = 6u32.to_le_bytes().to_vec();
    for c in ["a", "d", "b", "e", "c", "f"] {
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(c.as_bytes());
    }
    assert_eq!(&raw[..], &want[..]);
    let r = Array::open(&s, "f", Mode::Read).unwrap();
    assert_eq!(
        r.read_strings(&Region::new(vec![0, 1], vec![2, 2]))
            .unwrap(),
        ["b", "c", "e", "f"]
    );
}

#[test]
fn metadata_of_both_formats() {
    // v2: the object codec as the only filter, or as the compressor.
    for (filters, compressor, dt) in [
        (
            json!([{"id": "vlen-utf8"}]),
            json!({"id": "zstd", "level": 0}),
            DataType::VlenString,
        ),
        (
            json!([{"id": "vlen-bytes"}]),
            json!(null),
            DataType::VlenBytes,
        ),
        (
            json!(null),
            json!({"id": "vlen-utf8"}),
            DataType::VlenString,
        ),
        (json!([]), json!({"id": "vlen-bytes"}), DataType::VlenBytes),
    ] {
        let doc = json!({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "|O",
            "fill_value": null, "order": "C", "filters": filters, "compressor": compressor});
        let m = parse_array_document(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert_eq!(m.data_type, dt);
        assert_eq!(m.fill_value.as_bytes(), b"");
        let back = m.to_json();
        assert_eq!(back["dtype"], "|O");
        assert_eq!(back["filters"][0]["id"], m.codecs.names()[0]);
        assert_eq!(parse_array_document(&back).unwrap().codecs, m.codecs);
    }
    // zarr-python 2 wrote numbers as string fill values.
    let doc = json!({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "|O",
        "fill_value": 0, "filters": [{"id": "vlen-utf8"}], "compressor": null});
    assert_eq!(
        parse_array_document(&doc).unwrap().fill_value.as_bytes(),
        b"0"
    );
    // Refused, naming what is wrong.
    for (filters, compressor, needle) in [
        (json!(null), json!(null), "vlen-utf8 or vlen-bytes"),
        (json!([{"id": "pickle"}]), json!(null), "pickle"),
        (json!([{"id": "json2"}]), json!(null), "json2"),
        (
            json!([{"id": "vlen-utf8"}, {"id": "delta"}]),
            json!(null),
            "delta",
        ),
        (
            json!([{"id": "vlen-utf8"}]),
            json!({"id": "vlen-utf8"}),
            "vlen-utf8",
        ),
    ] {
        let doc = json!({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "|O",
            "fill_value": null, "filters": filters, "compressor": compressor});
        let e = parse_array_document(&doc).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    // v3: string / variable_length_bytes (and the alias bytes).
    let v3 = |dt: &str, codecs: serde_json::Value, fill: serde_json::Value| {
        json!({"zarr_format": 3, "node_type": "array", "shape": [4], "data_type": dt,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill, "codecs": codecs})
    };
    let utf8 = json!([{"name": "vlen-utf8", "configuration": {}}, {"name": "zstd", "configuration": {"level": 0, "checksum": false}}]);
    let m = parse_array_document(&v3("string", utf8.clone(), json!("xx"))).unwrap();
    assert_eq!(m.data_type, DataType::VlenString);
    assert_eq!(m.fill_value.as_bytes(), b"xx");
    assert_eq!(m.to_json()["data_type"], "string");
    assert_eq!(m.to_json()["codecs"], utf8);
    for name in ["variable_length_bytes", "bytes"] {
        let m = parse_array_document(&v3(name, json!(["vlen-bytes"]), json!("AP8="))).unwrap();
        assert_eq!(m.data_type, DataType::VlenBytes);
        assert_eq!(m.fill_value.as_bytes(), b"\x00\xff");
        assert_eq!(m.to_json()["data_type"], "variable_length_bytes");
        assert_eq!(m.data_type.to_string(), "bytes");
    }
    for (dt, codecs, needle) in [
        ("string", json!(["vlen-bytes"]), "vlen-utf8"),
        ("string", json!([{"name": "bytes"}]), "vlen-utf8"),
        ("int32", json!(["vlen-utf8"]), "needs data type string"),
        (
            "string",
            json!([{"name": "transpose", "configuration": {"order": [0]}}, "vlen-utf8"]),
            "transpose",
        ),
        (
            "string",
            json!([{"name": "vlen-utf8", "configuration": {"x": 1}}]),
            "no configuration",
        ),
        (
            "string",
            json!([{"name": "sharding_indexed", "configuration": {"chunk_shape": [1],
            "codecs": ["vlen-utf8"], "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}}]),
            "sharding_indexed",
        ),
    ] {
        let fill = if dt == "int32" { json!(0) } else { json!("") };
        let e = parse_array_document(&v3(dt, codecs, fill))
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{dt}: {e}");
    }
}

#[test]
fn fixed_size_paths_refuse_vlen_arrays() {
    let s = store();
    let a = build(
        &s,
        "v",
        DataType::VlenString,
        ZarrFormat::V3,
        &[4],
        &[2],
        "none",
    );
    let is_vlen_error = |e: Error| {
        assert!(
            matches!(e, Error::Region(RegionError::VariableLength { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("read_vlen"), "{e}");
    };
    is_vlen_error(a.write_region(&Region::all(&[4]), &[]).unwrap_err());
    is_vlen_error(a.read_region(&Region::all(&[4]), &mut []).unwrap_err());
    is_vlen_error(a.read_region_vec(&Region::all(&[4])).unwrap_err());
    a.close().unwrap();
    // And the vlen API refuses fixed-size arrays.
    let f = build(&s, "f", DataType::Int32, ZarrFormat::V3, &[4], &[2], "none");
    let e = f.read_vlen::<u64>(&Region::all(&[4])).unwrap_err();
    assert!(e.to_string().contains("read_region"), "{e}");
}

#[test]
fn bad_arguments_are_refused() {
    let s = store();
    let a = build(
        &s,
        "b",
        DataType::VlenString,
        ZarrFormat::V3,
        &[3],
        &[2],
        "none",
    );
    let r = Region::all(&[3]);
    // Wrong number of offsets, decreasing offsets, past the end, bad UTF-8.
    assert!(a.write_vlen(&r, &[0u64, 1, 2], b"ab").is_err());
    assert!(a.write_vlen(&r, &[0u64, 2, 1, 2], b"ab").is_err());
    assert!(a.write_vlen(&r, &[0u64, 1, 2, 9], b"ab").is_err());
    assert!(a.write_vlen(&r, &[0i32, -1, 1, 2], b"ab").is_err());
    let e = a.write_vlen(&r, &[0u64, 1, 2, 3], b"a\xffc").unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    // Out of bounds.
    assert!(a
        .write_vlen(&Region::new(vec![2], vec![2]), &[0u64, 0, 0], b"")
        .is_err());
    // Arrow offsets need not start at 0.
    a.write_vlen(&r, &[1u64, 2, 2, 4], b"xabc").unwrap();
    assert_eq!(a.read_strings(&r).unwrap(), ["a", "", "bc"]);
    // Appending to existing buffers.
    let (mut off, mut val) = (vec![0i64, 3], b"pre".to_vec());
    a.read_vlen_into(&r, &mut off, &mut val).unwrap();
    assert_eq!(off, [0, 3, 4, 4, 6]);
    assert_eq!(val, b"preabc");
    let (mut off, mut val) = (vec![0i64, 2], b"pre".to_vec());
    assert!(a.read_vlen_into(&r, &mut off, &mut val).is_err());
    a.close().unwrap();
    // A read handle cannot write.
    let rd = Array::open(&s, "b", Mode::Read).unwrap();
    assert!(rd.write_strings(&r, &["a", "b", "c"]).is_err());
}

#[test]
fn hostile_chunks_fail_naming_the_key() {
    let s = store();
    let a = build(
        &s,
        "h",
        DataType::VlenString,
        ZarrFormat::V3,
        &[4],
        &[2],
        "none",
    );
    a.close().unwrap();
    let mut wrong_count = 3u32.to_le_bytes().to_vec();
    wrong_count.extend_from_slice(&[0; 12]);
    let mut bad_utf8 = 2u32.to_le_bytes().to_vec();
    bad_utf8.extend_from_slice(&[1, 0, 0, 0, 0xff, 0, 0, 0, 0]);
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![2, 0],
        // A huge count must not allocate.
        vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        // A huge length must not allocate either.
        vec![2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, b'a'],
        wrong_count,
        bad_utf8,
    ];
    for bytes in cases {
        s.set("h/c/1", &bytes).unwrap();
        let r = Array::open(&s, "h", Mode::Read).unwrap();
        let e = r.read_vlen::<u64>(&Region::all(&[4])).unwrap_err();
        assert!(e.to_string().contains("h/c/1"), "{e}");
        assert!(r.vlen_region_bytes(&Region::all(&[4])).is_err());
        // The other chunk still reads.
        assert_eq!(
            r.read_strings(&Region::new(vec![0], vec![2])).unwrap(),
            ["", ""]
        );
    }
}

#[test]
fn narrow_offsets() {
    let s = store();
    let a = build(
        &s,
        "o",
        DataType::VlenBytes,
        ZarrFormat::V3,
        &[3],
        &[2],
        "zstd:1",
    );
    a.write_strings(&Region::all(&[3]), &[&b"ab"[..], b"", b"\x00c"])
        .unwrap();
    let d: VlenData<i32> = a.read_vlen(&Region::all(&[3])).unwrap();
    assert_eq!(d.offsets, [0, 2, 2, 4]);
    assert_eq!(d.values, b"ab\x00c");
}

#[test]
fn decoder_survives_mutated_chunks() {
    use zarrcore::codec::vlen::{encode_items, VlenItems};
    use zarrcore::codec::VlenKind;
    use zarrcore::store::Bytes;
    // Deterministic xorshift; mutations of a valid encoding (bit flips,
    // truncations, random count/length words) must decode or fail cleanly.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let all = items(9);
    let good = encode_items(VlenKind::Utf8, all.len(), |i| &all[i]).unwrap();
    for _ in 0..20_000 {
        let mut b = good.clone();
        match next() % 4 {
            0 => {
                let i = (next() as usize) % b.len();
                b[i] ^= 1 << (next() % 8);
            }
            1 => b.truncate((next() as usize) % b.len()),
            2 => {
                let i = (next() as usize) % (b.len() - 3);
                b[i..i + 4].copy_from_slice(&(next() as u32).to_le_bytes());
            }
            _ => b.extend((0..next() % 16).map(|_| next() as u8)),
        }
        for kind in [VlenKind::Utf8, VlenKind::Bytes] {
            if let Ok(d) = VlenItems::parse(Bytes::from(b.clone()), 9, kind) {
                let total: usize = (0..d.len()).map(|i| d.get(i).len()).sum();
                assert!(total <= b.len());
            }
        }
    }
}

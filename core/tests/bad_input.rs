//! Bad input gives a typed [`zarrcore::Error`] whose message names the store
//! key or array path and the reason — never a panic — and a failed write
//! leaves what was stored before intact.
//!
//! Covered: malformed and missing metadata (invalid JSON, missing fields,
//! wrong types), unknown codecs / data types / chunk grids / extensions that
//! must be understood, bad dtype strings, truncated and corrupted chunks for
//! every codec, checksum mismatches, chunks that decode to the wrong size,
//! shape × item size overflow, regions and buffers that do not fit, writes
//! that fail in the store or on an undecodable chunk; and fuzzed metadata
//! documents and chunk bytes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use zarrcore::codec::{
    BloscCodec, BloscCompressor, BloscShuffle, BytesToBytes, Crc32cCodec, DeflateCodec,
    DeflateFormat, Lz4Codec, ZstdCodec,
};
use zarrcore::error::{MetadataError, RegionError, StoreError};
use zarrcore::hierarchy;
use zarrcore::store::{ByteRange, Bytes, DirectoryStore, ListDir, MemoryStore};
use zarrcore::{
    Array, ArrayBuilder, DataType, Endian, Error, Group, Mode, Region, Store, StoreOptions,
    StoreRef,
};

// ---------------------------------------------------------------------------
// Helpers

fn mem() -> StoreRef {
    Arc::new(MemoryStore::new())
}

fn put(s: &StoreRef, key: &str, v: &[u8]) {
    s.set(key, v).unwrap();
}

fn put_json(s: &StoreRef, key: &str, v: &Value) {
    put(s, key, v.to_string().as_bytes());
}

/// Runs `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what}: panicked instead of returning an error: {msg}")
        }
    }
}

/// Asserts that the message of `e` contains every one of `parts`.
fn assert_mentions(e: &impl std::fmt::Display, parts: &[&str], what: &str) {
    let msg = e.to_string();
    for p in parts {
        assert!(
            msg.contains(p),
            "{what}: error {msg:?} does not mention {p:?}"
        );
    }
}

fn open_err(s: &StoreRef, path: &str, what: &str) -> Error {
    match no_panic(what, || Array::open(s, path, Mode::Read)) {
        Ok(_) => panic!("{what}: opened without error"),
        Err(e) => e,
    }
}

/// A deterministic pseudo-random fill.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Documents to store: `(key, bytes)`.
type Documents = Vec<(&'static str, Vec<u8>)>;

fn v3_doc() -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": [8, 8],
        "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0.0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {},
    })
}

fn v2_doc() -> Value {
    json!({
        "zarr_format": 2,
        "shape": [8, 8],
        "chunks": [4, 4],
        "dtype": "<f8",
        "fill_value": 0.0,
        "order": "C",
        "filters": null,
        "compressor": null,
        "dimension_separator": ".",
    })
}

fn bytes_le() -> Value {
    json!({"name": "bytes", "configuration": {"endian": "little"}})
}

// ---------------------------------------------------------------------------
// Metadata

#[test]
fn invalid_json_names_the_document() {
    let garbage: &[&[u8]] = &[
        b"",
        b"{",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2",
        b"{\"zarr_format\": 3,}",
        b"{\"zarr_format\": 3} trailing",
    ];
    for g in garbage {
        // v3 array and group documents, v2 .zarray / .zattrs / .zgroup.
        let cases: [(&str, Documents); 4] = [
            ("a/zarr.json", vec![("a/zarr.json", g.to_vec())]),
            ("a/.zarray", vec![("a/.zarray", g.to_vec())]),
            (
                "a/.zattrs",
                vec![
                    ("a/.zarray", v2_doc().to_string().into_bytes()),
                    ("a/.zattrs", g.to_vec()),
                ],
            ),
            ("a/.zgroup", vec![("a/.zgroup", g.to_vec())]),
        ];
        for (bad_key, docs) in cases {
            let s = mem();
            for (k, v) in &docs {
                put(&s, k, v);
            }
            let what = format!("{bad_key} = {:?}", String::from_utf8_lossy(g));
            let e = open_err(&s, "a", &what);
            assert!(
                matches!(e, Error::Metadata(MetadataError::Json { ref key, .. }) if key == bad_key),
                "{what}: {e:?}"
            );
            assert_mentions(&e, &[bad_key, "not valid JSON"], &what);
            let e = no_panic(&what, || hierarchy::read_node(&s, "a")).unwrap_err();
            assert_mentions(&e, &[bad_key], &what);
            let e = no_panic(&what, || Group::open(&s, "a")).unwrap_err();
            assert_mentions(&e, &[bad_key], &what);
        }
    }
    // Consolidated metadata.
    let s = mem();
    put(&s, ".zgroup", b"{\"zarr_format\": 2}");
    put(&s, ".zmetadata", b"{\"metadata\": ");
    let e = hierarchy::read_consolidated_metadata(&s, "").unwrap_err();
    assert_mentions(&e, &[".zmetadata", "not valid JSON"], "zmetadata");
    put(&s, ".zmetadata", b"{\"zarr_consolidated_format\": 1}");
    let e = hierarchy::read_consolidated_metadata(&s, "").unwrap_err();
    assert_mentions(
        &e,
        &[".zmetadata", "metadata"],
        "zmetadata without metadata",
    );
}

/// A change to a valid metadata document, merged into it: objects merge
/// recursively, `"__remove__"` deletes a field, anything else replaces.
/// A patch that is not an object replaces the whole document.
struct Mutation {
    name: &'static str,
    patch: Value,
    /// Words the error message must contain.
    words: &'static [&'static str],
}

fn m(name: &'static str, patch: Value, words: &'static [&'static str]) -> Mutation {
    Mutation { name, patch, words }
}

fn merge(doc: &mut Value, patch: &Value) {
    let (Some(d), Some(p)) = (doc.as_object_mut(), patch.as_object()) else {
        *doc = patch.clone();
        return;
    };
    for (k, v) in p {
        if v == "__remove__" {
            d.remove(k);
        } else if v.is_object() && d.get(k).is_some_and(Value::is_object) {
            merge(&mut d[k], v);
        } else {
            d.insert(k.clone(), v.clone());
        }
    }
}

const DEL: &str = "__remove__";

/// Codecs with the given list.
fn codecs(list: Value) -> Value {
    json!({ "codecs": list })
}

/// Codecs with one sharding codec of this configuration.
fn sharding(cfg: Value) -> Value {
    codecs(json!([{"name": "sharding_indexed", "configuration": cfg}]))
}

/// `bytes` then one more codec.
fn then(c: Value) -> Value {
    codecs(json!([bytes_le(), c]))
}

fn grid(chunk_shape: Value) -> Value {
    json!({"chunk_grid": {"configuration": {"chunk_shape": chunk_shape}}})
}

fn transpose(order: Value) -> Value {
    json!({"name": "transpose", "configuration": {"order": order}})
}

fn v3_mutations() -> Vec<Mutation> {
    let shard_cfg = |extra: Value| {
        let mut c = json!({"chunk_shape": [2, 2], "codecs": [bytes_le()]});
        merge(&mut c, &extra);
        sharding(c)
    };
    vec![
        m("no shape", json!({"shape": DEL}), &["shape"]),
        m("shape string", json!({"shape": "abc"}), &["shape"]),
        m("negative dim", json!({"shape": [-1, 8]}), &["shape", "-1"]),
        m(
            "fractional dim",
            json!({"shape": [1.5, 8]}),
            &["shape", "1.5"],
        ),
        m("no data_type", json!({"data_type": DEL}), &["data_type"]),
        m("data_type number", json!({"data_type": 5}), &["data_type"]),
        m("no chunk_grid", json!({"chunk_grid": DEL}), &["chunk_grid"]),
        m(
            "grid without configuration",
            json!({"chunk_grid": {"configuration": DEL}}),
            &["chunk_shape"],
        ),
        m(
            "grid without name",
            json!({"chunk_grid": {"name": DEL}}),
            &["chunk_grid", "name"],
        ),
        m("zero chunk", grid(json!([0, 4])), &["zero"]),
        m("chunk rank", grid(json!([4])), &["rank"]),
        m("chunk string", grid(json!(["4", 4])), &["chunk_shape"]),
        m("no fill_value", json!({"fill_value": DEL}), &["fill_value"]),
        m("fill word", json!({"fill_value": "abc"}), &["abc"]),
        m("fill null", json!({"fill_value": null}), &["null"]),
        m(
            "fill object",
            json!({"fill_value": {"x": 1}}),
            &["fill_value"],
        ),
        m("fill short hex", json!({"fill_value": "0x12"}), &["0x12"]),
        m(
            "fill bad hex",
            json!({"fill_value": "0xzzzzzzzzzzzzzzzz"}),
            &["hex"],
        ),
        m(
            "int fill out of range",
            json!({"data_type": "uint8", "fill_value": 300, "codecs": [{"name": "bytes"}]}),
            &["300", "uint8"],
        ),
        m(
            "int fill negative",
            json!({"data_type": "uint16", "fill_value": -1}),
            &["-1"],
        ),
        m(
            "bool fill",
            json!({"data_type": "bool", "fill_value": "yes", "codecs": [{"name": "bytes"}]}),
            &["boolean"],
        ),
        m(
            "complex fill",
            json!({"data_type": "complex64", "fill_value": [1, 2, 3]}),
            &["fill_value"],
        ),
        m("no codecs", json!({"codecs": DEL}), &["codecs"]),
        m("codecs object", codecs(json!({})), &["codecs"]),
        m("no serialiser", codecs(json!([])), &["array→bytes"]),
        m(
            "codec without name",
            codecs(json!([{"configuration": {}}])),
            &["name"],
        ),
        m("codec number", codecs(json!([7])), &["codec"]),
        m(
            "compressor first",
            codecs(json!([{"name": "zstd"}, bytes_le()])),
            &["zstd", "before"],
        ),
        m("two serialisers", then(bytes_le()), &["second"]),
        m(
            "transpose last",
            then(transpose(json!([1, 0]))),
            &["transpose", "after"],
        ),
        m(
            "bytes without endian",
            codecs(json!([{"name": "bytes"}])),
            &["endian"],
        ),
        m(
            "bytes odd endian",
            codecs(json!([{"name": "bytes", "configuration": {"endian": "middle"}}])),
            &["middle"],
        ),
        m(
            "transpose repeat",
            codecs(json!([transpose(json!([0, 0])), bytes_le()])),
            &["permutation"],
        ),
        m(
            "transpose rank",
            codecs(json!([transpose(json!([0, 1, 2])), bytes_le()])),
            &["permutation"],
        ),
        m(
            "transpose missing",
            codecs(json!([{"name": "transpose"}, bytes_le()])),
            &["order"],
        ),
        m(
            "zstd level",
            then(json!({"name": "zstd", "configuration": {"level": "x"}})),
            &["zstd", "level"],
        ),
        m(
            "zstd checksum",
            then(json!({"name": "zstd", "configuration": {"checksum": 1}})),
            &["checksum"],
        ),
        m(
            "gzip level",
            then(json!({"name": "gzip", "configuration": {"level": 12}})),
            &["gzip", "12"],
        ),
        m(
            "blosc cname",
            then(json!({"name": "blosc", "configuration": {"cname": "snappy"}})),
            &["snappy"],
        ),
        m(
            "blosc clevel",
            then(json!({"name": "blosc", "configuration": {"cname": "lz4", "clevel": 11}})),
            &["clevel"],
        ),
        m(
            "blosc shuffle",
            then(json!({"name": "blosc", "configuration": {"shuffle": "twist"}})),
            &["twist"],
        ),
        m(
            "blosc typesize",
            then(json!({"name": "blosc", "configuration": {"typesize": 0}})),
            &["typesize"],
        ),
        m(
            "blosc blocksize",
            then(json!({"name": "blosc", "configuration": {"blocksize": -4}})),
            &["blocksize"],
        ),
        m(
            "shard not a multiple",
            shard_cfg(json!({"chunk_shape": [3, 3]})),
            &["sharding_indexed", "multiple"],
        ),
        m(
            "shard rank",
            shard_cfg(json!({"chunk_shape": [2]})),
            &["sharding_indexed", "dimensions"],
        ),
        m(
            "shard zero chunk",
            shard_cfg(json!({"chunk_shape": [0, 2]})),
            &["sharding_indexed", "positive"],
        ),
        m(
            "shard without chunk_shape",
            shard_cfg(json!({"chunk_shape": DEL})),
            &["chunk_shape"],
        ),
        m(
            "shard without codecs",
            shard_cfg(json!({"codecs": DEL})),
            &["codecs"],
        ),
        m(
            "shard variable index",
            shard_cfg(json!({"index_codecs": [bytes_le(), {"name": "zstd"}]})),
            &["index_codecs", "fixed"],
        ),
        m(
            "shard index location",
            shard_cfg(json!({"index_location": "middle"})),
            &["middle"],
        ),
        m(
            "shard inner chain",
            shard_cfg(json!({"codecs": []})),
            &["array→bytes"],
        ),
        m(
            "attributes list",
            json!({"attributes": []}),
            &["attributes"],
        ),
        m(
            "zarr_format 4",
            json!({"zarr_format": 4}),
            &["zarr_format", "4"],
        ),
        m(
            "no zarr_format",
            json!({"zarr_format": DEL}),
            &["zarr_format"],
        ),
        m(
            "node_type",
            json!({"node_type": "thing"}),
            &["node_type", "thing"],
        ),
        m("not an object", json!([1, 2]), &["object"]),
        m(
            "dimension_names",
            json!({"dimension_names": ["x"]}),
            &["dimension_names"],
        ),
        m(
            "key separator",
            json!({"chunk_key_encoding": {"configuration": {"separator": "-"}}}),
            &["separator"],
        ),
        m(
            "storage_transformers",
            json!({"storage_transformers": "x"}),
            &["storage_transformers"],
        ),
    ]
}

/// Data types, codecs, grids and extensions this engine does not implement.
fn v3_unsupported() -> Vec<Mutation> {
    let shard_cfg = |extra: Value| {
        let mut c = json!({"chunk_shape": [2, 2], "codecs": [bytes_le()]});
        merge(&mut c, &extra);
        sharding(c)
    };
    vec![
        m(
            "codec",
            then(json!({"name": "foo_codec"})),
            &["codec", "foo_codec"],
        ),
        m(
            "serialiser",
            // vlen-utf8/vlen-bytes are known (tests/vlen.rs); numcodecs'
            // ragged-array codec is not.
            codecs(json!([{"name": "vlen-array"}])),
            &["codec", "vlen-array"],
        ),
        m(
            "inner codec",
            shard_cfg(json!({"codecs": [bytes_le(), {"name": "bar_codec"}]})),
            &["codec", "bar_codec"],
        ),
        m(
            "index codec",
            shard_cfg(json!({"index_codecs": [bytes_le(), {"name": "baz_codec"}]})),
            &["codec", "baz_codec"],
        ),
        m(
            "data type",
            json!({"data_type": "int128"}),
            &["data type", "int128"],
        ),
        m(
            "data type object",
            json!({"data_type": {"name": "float8_e4m3", "configuration": {}}}),
            &["data type", "float8_e4m3"],
        ),
        m(
            "string type",
            json!({"data_type": "string_view"}),
            &["data type", "string_view"],
        ),
        m(
            "chunk grid",
            json!({"chunk_grid": {"name": "rectilinear"}}),
            &["chunk grid", "rectilinear"],
        ),
        m(
            "key encoding",
            json!({"chunk_key_encoding": {"name": "fancy"}}),
            &["chunk key encoding", "fancy"],
        ),
        m(
            "extension must_understand",
            json!({"my_extension": {"must_understand": true, "x": 1}}),
            &["extension", "my_extension"],
        ),
        m(
            "extension unflagged",
            json!({"other_ext": {"x": 1}}),
            &["extension", "other_ext"],
        ),
        m(
            "extension scalar",
            json!({"flag_ext": true}),
            &["extension", "flag_ext"],
        ),
        m(
            "storage transformer",
            json!({"storage_transformers": [{"name": "xform"}]}),
            &["storage transformer", "xform"],
        ),
    ]
}

fn check_v3_mutations(list: &[Mutation], unsupported: bool) {
    for Mutation { name, patch, words } in list {
        let mut doc = v3_doc();
        merge(&mut doc, patch);
        let s = mem();
        put_json(&s, "g/a/zarr.json", &doc);
        let what = format!("v3 {name}: {doc}");
        let e = open_err(&s, "g/a", &what);
        match (&e, unsupported) {
            (Error::Metadata(MetadataError::Unsupported { key, .. }), true)
            | (Error::Metadata(MetadataError::Invalid { key, .. }), false) => {
                assert_eq!(key, "g/a/zarr.json", "{what}")
            }
            _ => panic!("{what}: unexpected error kind {e:?}"),
        }
        assert_mentions(&e, &["g/a/zarr.json"], &what);
        assert_mentions(&e, words, &what);
        if unsupported {
            assert_mentions(&e, &["unsupported"], &what);
        }
        // Creating from the same document fails the same way, storing nothing.
        let t = mem();
        let e = no_panic(&what, || Array::create_from_json(&t, "x", &doc, false))
            .map(|_| ())
            .unwrap_err();
        if doc.is_object() {
            assert_mentions(&e, words, &what);
        }
        assert!(
            t.list_prefix("").unwrap().is_empty(),
            "{what}: stored something"
        );
    }
}

#[test]
fn v3_metadata_missing_or_wrong_fields() {
    check_v3_mutations(&v3_mutations(), false);
}

#[test]
fn v3_unknown_names_are_refused_naming_them() {
    check_v3_mutations(&v3_unsupported(), true);
    // Groups: an extension that must be understood.
    let s = mem();
    put_json(
        &s,
        "zarr.json",
        &json!({"zarr_format": 3, "node_type": "group", "attributes": {},
                "group_ext": {"must_understand": true}}),
    );
    let e = Group::open(&s, "").unwrap_err();
    assert_mentions(&e, &["zarr.json", "extension", "group_ext"], "group");
    // An extension with must_understand false is kept, not refused.
    let mut doc = v3_doc();
    doc["optional_ext"] = json!({"must_understand": false, "v": 1});
    let s = mem();
    put_json(&s, "zarr.json", &doc);
    let a = Array::open(&s, "", Mode::Read).unwrap();
    assert_eq!(a.metadata().extra["optional_ext"]["v"], 1);
}

fn compressor(c: Value) -> Value {
    json!({ "compressor": c })
}

fn v2_mutations() -> Vec<Mutation> {
    vec![
        m("no shape", json!({"shape": DEL}), &["shape"]),
        m("no chunks", json!({"chunks": DEL}), &["chunks"]),
        m("chunks string", json!({"chunks": "4,4"}), &["chunks"]),
        m("zero chunk", json!({"chunks": [0, 4]}), &["zero"]),
        m("chunk rank", json!({"chunks": [4]}), &["rank"]),
        m("no dtype", json!({"dtype": DEL}), &["dtype"]),
        m("dtype |f8", json!({"dtype": "|f8"}), &["|f8", "byte order"]),
        m("order", json!({"order": "X"}), &["order", "X"]),
        m("filters string", json!({"filters": "delta"}), &["filters"]),
        m(
            "compressor without id",
            compressor(json!({"level": 1})),
            &["compressor", "id"],
        ),
        m(
            "blosc shuffle",
            compressor(json!({"id": "blosc", "shuffle": 7})),
            &["blosc", "shuffle"],
        ),
        m(
            "blosc cname",
            compressor(json!({"id": "blosc", "cname": "snappy"})),
            &["snappy"],
        ),
        m(
            "zstd level",
            compressor(json!({"id": "zstd", "level": "high"})),
            &["zstd", "level"],
        ),
        m(
            "zlib level",
            compressor(json!({"id": "zlib", "level": 10})),
            &["zlib", "10"],
        ),
        m(
            "lz4 acceleration",
            compressor(json!({"id": "lz4", "acceleration": "fast"})),
            &["lz4", "acceleration"],
        ),
        m(
            "separator",
            json!({"dimension_separator": "-"}),
            &["dimension_separator"],
        ),
        m(
            "fill word",
            json!({"dtype": "<i4", "fill_value": "abc"}),
            &["fill_value"],
        ),
        m(
            "fill range",
            json!({"dtype": "|i1", "fill_value": 200}),
            &["200"],
        ),
        m(
            "S fill",
            json!({"dtype": "|S2", "fill_value": "!!!"}),
            &["base64"],
        ),
        m(
            "U fill",
            json!({"dtype": "<U2", "fill_value": "abc"}),
            &["longer"],
        ),
        m("zarr_format", json!({"zarr_format": 3}), &["zarr_format"]),
    ]
}

fn v2_unsupported() -> Vec<Mutation> {
    vec![
        m("dtype <f3", json!({"dtype": "<f3"}), &["data type", "<f3"]),
        m("dtype O", json!({"dtype": "|O"}), &["data type", "|O"]),
        m("dtype empty", json!({"dtype": ""}), &["data type"]),
        m(
            "dtype datetime",
            json!({"dtype": "<M8[0s]"}),
            &["data type", "<M8[0s]", "scale"],
        ),
        m(
            "dtype structured",
            json!({"dtype": [["a", "|O"]]}),
            &["data type", "|O"],
        ),
        m(
            "dtype structured subarray",
            json!({"dtype": [["a", "<f8", ["x"]]]}),
            &["data type", "shape"],
        ),
        m("dtype number", json!({"dtype": 8}), &["data type"]),
        m(
            "filter",
            json!({"filters": [{"id": "categorize", "labels": ["a"], "dtype": "<U1"}]}),
            &["filter", "categorize"],
        ),
        m(
            "filter after a supported one",
            json!({"filters": [{"id": "delta", "dtype": "<f8"}, {"id": "vlen-utf8"}]}),
            &["filter", "vlen-utf8"],
        ),
        m(
            "compressor",
            compressor(json!({"id": "snappy"})),
            &["compressor", "snappy"],
        ),
    ]
}

fn check_v2_mutations(list: &[Mutation], unsupported: bool) {
    for Mutation { name, patch, words } in list {
        let mut doc = v2_doc();
        merge(&mut doc, patch);
        let s = mem();
        put_json(&s, "g/a/.zarray", &doc);
        let what = format!("v2 {name}: {doc}");
        let e = open_err(&s, "g/a", &what);
        match (&e, unsupported) {
            (Error::Metadata(MetadataError::Unsupported { key, .. }), true)
            | (Error::Metadata(MetadataError::Invalid { key, .. }), false) => {
                assert_eq!(key, "g/a/.zarray", "{what}")
            }
            _ => panic!("{what}: unexpected error kind {e:?}"),
        }
        assert_mentions(&e, &["g/a/.zarray"], &what);
        assert_mentions(&e, words, &what);
    }
}

#[test]
fn v2_metadata_missing_or_wrong_fields() {
    check_v2_mutations(&v2_mutations(), false);
    // .zattrs that is not an object.
    let s = mem();
    put_json(&s, "a/.zarray", &v2_doc());
    put(&s, "a/.zattrs", b"[1, 2]");
    let e = open_err(&s, "a", "zattrs list");
    assert_mentions(&e, &["a/.zarray", "attributes"], "zattrs list");
}

#[test]
fn v2_unknown_dtypes_filters_and_compressors_are_refused_naming_them() {
    check_v2_mutations(&v2_unsupported(), true);
}

#[test]
fn bad_dtype_strings() {
    for bad in [
        "", "<", "<f3", "f16", "O", "|O", "<M8[0s]", "<m8[xs]", "<M8[ns", "V0", "i3", "u16", "S0",
        "U0", "Sx", "float128", "int4", "<c4", "b2", "?",
    ] {
        let e = no_panic(bad, || DataType::from_numpy_str(bad)).unwrap_err();
        assert!(
            e.contains("data type") && (bad.is_empty() || e.contains(bad)),
            "{bad:?}: {e}"
        );
        assert!(DataType::parse(bad).is_err(), "{bad:?}");
    }
    for ok in [
        "<f8", ">i2", "|b1", "bool", "float32", "|S3", ">U2", "u8", "=i4", "<M8[ns]", "<m8",
        ">M8[10s]", "|V8",
    ] {
        DataType::from_numpy_str(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn missing_nodes_and_wrong_node_kinds() {
    let s = mem();
    let e = open_err(&s, "no/such/array", "missing array");
    assert!(matches!(
        e,
        Error::Metadata(MetadataError::NotFound { ref path, .. }) if path == "no/such/array"
    ));
    assert_mentions(&e, &["no/such/array", "zarr.json"], "missing array");
    let e = Group::open(&s, "nothing").unwrap_err();
    assert_mentions(&e, &["nothing"], "missing group");
    Group::create(&s, "grp", zarrcore::ZarrFormat::V3, Default::default()).unwrap();
    ArrayBuilder::new(vec![2], DataType::UInt8)
        .create(&s, "arr")
        .unwrap()
        .close()
        .unwrap();
    let e = open_err(&s, "grp", "group as array");
    assert_mentions(&e, &["grp", "group"], "group as array");
    let e = Group::open(&s, "arr").unwrap_err();
    assert_mentions(&e, &["arr", "array"], "array as group");
    for bad in ["../x", "a/../../b", "a\0b", "a//b"] {
        let e = open_err(&s, bad, bad);
        assert!(
            matches!(e, Error::Store(StoreError::InvalidKey { .. })),
            "{bad:?}: {e:?}"
        );
    }
    // Creating over an existing node.
    let e = ArrayBuilder::new(vec![2], DataType::UInt8)
        .create(&s, "grp")
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e:?}");
    assert_mentions(&e, &["grp", "group"], "create over group");
}

// ---------------------------------------------------------------------------
// Shapes and regions

#[test]
fn shape_times_item_size_overflow() {
    let huge: &[(&str, Value, &str)] = &[
        ("float64", json!([1u64 << 62, 4]), "overflows"),
        ("uint8", json!([u64::MAX, 2]), "overflows"),
        ("uint8", json!([1u64 << 32, 1u64 << 32]), "overflows"),
        ("complex128", json!([1u64 << 61]), "overflows"),
    ];
    for (dt, shape, word) in huge {
        let mut doc = v3_doc();
        doc["data_type"] = json!(dt);
        doc["shape"] = shape.clone();
        doc["chunk_grid"]["configuration"]["chunk_shape"] =
            json!(vec![1; shape.as_array().unwrap().len()]);
        if *dt == "uint8" {
            doc["codecs"] = json!([{"name": "bytes"}]);
        }
        let s = mem();
        put_json(&s, "zarr.json", &doc);
        let what = format!("{dt} {shape}");
        let e = open_err(&s, "", &what);
        assert_mentions(&e, &["zarr.json", word], &what);
        let e = Array::create_from_json(&mem(), "a", &doc, false).unwrap_err();
        assert_mentions(&e, &[word], &what);
        // v2 as well.
        let mut v2 = v2_doc();
        v2["shape"] = shape.clone();
        v2["chunks"] = json!(vec![1; shape.as_array().unwrap().len()]);
        let s = mem();
        put_json(&s, ".zarray", &v2);
        let e = open_err(&s, "", &what);
        assert_mentions(&e, &[".zarray", word], &what);
    }
    // A chunk too large to ever hold in memory.
    let mut doc = v3_doc();
    doc["shape"] = json!([10]);
    doc["chunk_grid"]["configuration"]["chunk_shape"] = json!([1u64 << 62]);
    let s = mem();
    put_json(&s, "zarr.json", &doc);
    let e = open_err(&s, "", "huge chunk");
    assert_mentions(&e, &["zarr.json", "too large"], "huge chunk");
    // The builder refuses the same.
    let e = ArrayBuilder::new(vec![u64::MAX, u64::MAX], DataType::Float64)
        .chunks(vec![1, 1])
        .create(&mem(), "a")
        .unwrap_err();
    assert_mentions(&e, &["overflows"], "builder");
}

#[test]
fn a_region_too_large_to_allocate_is_an_error() {
    // 2^48 one-byte elements: valid metadata, but more than a process can
    // address, so no buffer can hold the whole array.
    let s = mem();
    let a = ArrayBuilder::new(vec![1 << 24, 1 << 24], DataType::UInt8)
        .chunks(vec![1 << 10, 1 << 10])
        .create(&s, "big")
        .unwrap();
    let e = no_panic("read_region_vec", || {
        a.read_region_vec(&Region::all(&[1 << 24, 1 << 24]))
    })
    .unwrap_err();
    assert_mentions(&e, &["big", "allocate"], "huge region");
    // A small region of it reads as the fill value.
    let v = a
        .read_region_vec(&Region::new(vec![5, 5], vec![2, 3]))
        .unwrap();
    assert_eq!(v, vec![0; 6]);
}

#[test]
fn regions_and_buffers_that_do_not_fit() {
    let s = mem();
    let w = ArrayBuilder::new(vec![6, 5], DataType::Int32)
        .chunks(vec![4, 4])
        .create(&s, "g/arr")
        .unwrap();
    let data: Vec<u8> = noise(6 * 5 * 4, 1);
    w.write_region(&Region::all(&[6, 5]), &data).unwrap();
    let path = "g/arr";
    let region_cases = [
        (Region::new(vec![0], vec![6]), "dimensions"),
        (Region::new(vec![0, 0, 0], vec![1, 1, 1]), "dimensions"),
        (Region::new(vec![0, 0], vec![7, 5]), "out of bounds"),
        (Region::new(vec![6, 0], vec![1, 1]), "out of bounds"),
        (Region::new(vec![2, 4], vec![1, 2]), "out of bounds"),
        (Region::new(vec![u64::MAX, 0], vec![2, 1]), "out of bounds"),
        (Region::new(vec![0, 1], vec![1, u64::MAX]), "out of bounds"),
    ];
    for (r, word) in &region_cases {
        let what = format!("region {r:?}");
        let mut buf = vec![0u8; 4];
        let e = no_panic(&what, || w.read_region(r, &mut buf)).unwrap_err();
        assert!(matches!(e, Error::Region(_)), "{what}: {e:?}");
        assert_mentions(&e, &[path, word], &what);
        let e = no_panic(&what, || w.write_region(r, &buf)).unwrap_err();
        assert_mentions(&e, &[path, word], &what);
        let e = no_panic(&what, || w.read_region_vec(r)).unwrap_err();
        assert_mentions(&e, &[path, word], &what);
    }
    // Buffers of the wrong length, both ways.
    let r = Region::new(vec![1, 1], vec![2, 3]);
    for n in [0usize, 23, 25, 100] {
        let mut buf = vec![0u8; n];
        let e = w.read_region(&r, &mut buf).unwrap_err();
        assert!(
            matches!(e, Error::Region(RegionError::BufferLength { expected: 24, got, .. }) if got == n as u64),
            "{e:?}"
        );
        assert_mentions(&e, &[path, "24"], "read buffer");
        let e = w.write_region(&r, &buf).unwrap_err();
        assert_mentions(&e, &[path, "24", &n.to_string()], "write buffer");
    }
    // Linear byte ranges outside the array.
    let total = 6 * 5 * 4u64;
    for (off, len) in [
        (total, 1usize),
        (total - 3, 4),
        (u64::MAX, 2),
        (u64::MAX - 1, 8),
    ] {
        let mut buf = vec![0u8; len];
        let what = format!("bytes {off}+{len}");
        let e = no_panic(&what, || w.read_bytes(off, &mut buf, Endian::Little)).unwrap_err();
        assert_mentions(&e, &[path, "outside"], &what);
        let e = no_panic(&what, || w.write_bytes(off, &buf, Endian::Little)).unwrap_err();
        assert_mentions(&e, &[path, "outside"], &what);
    }
    // Region syntax.
    for bad in ["0:7", "1,2,3", "a:b", "5:2", "-9"] {
        assert!(Region::parse(bad, &[6, 5]).is_err(), "{bad}");
    }
    w.close().unwrap();
    // None of the refused writes changed anything.
    let r = Array::open(&s, path, Mode::Read).unwrap();
    assert_eq!(r.read_region_vec(&Region::all(&[6, 5])).unwrap(), data);
    // A read handle does not write.
    let e = r.write_region(&Region::all(&[6, 5]), &data).unwrap_err();
    assert!(matches!(e, Error::Mode { .. }), "{e:?}");
    assert_mentions(&e, &[path], "write through read handle");
    let e = Array::open(&s, path, Mode::Write).unwrap_err();
    assert!(matches!(e, Error::Busy { .. }), "{e:?}");
    assert_mentions(&e, &[path], "busy");
}

// ---------------------------------------------------------------------------
// Chunks

/// An array layout under test: its metadata document and the codec whose
/// name a decoding error should carry.
struct Layout {
    name: &'static str,
    doc: Value,
    codec: &'static str,
    /// How many trailing bytes are a checksum of the rest (any change
    /// there must be detected).
    checked_tail: usize,
    /// Whether every single-byte change anywhere must be detected.
    all_checked: bool,
}

fn v3_with(codecs: Value) -> Value {
    let mut d = v3_doc();
    d["codecs"] = codecs;
    d
}

fn v2_with(compressor: Value) -> Value {
    let mut d = v2_doc();
    d["compressor"] = compressor;
    d
}

fn blosc(cname: &str, shuffle: &str) -> Value {
    json!({"name": "blosc", "configuration": {"cname": cname, "clevel": 5, "shuffle": shuffle, "typesize": 8, "blocksize": 0}})
}

fn layouts() -> Vec<Layout> {
    let l = |name, doc, codec, checked_tail, all_checked| Layout {
        name,
        doc,
        codec,
        checked_tail,
        all_checked,
    };
    let shard = |loc: &str| {
        json!([{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 2],
            "codecs": [bytes_le(), {"name": "zstd", "configuration": {"level": 1, "checksum": false}}],
            "index_codecs": [bytes_le(), {"name": "crc32c"}],
            "index_location": loc}}])
    };
    vec![
        l("bytes", v3_with(json!([bytes_le()])), "bytes", 0, false),
        l(
            "bytes big",
            v3_with(json!([{"name": "bytes", "configuration": {"endian": "big"}}])),
            "bytes",
            0,
            false,
        ),
        l(
            "zstd",
            v3_with(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 3, "checksum": false}}]),
            ),
            "zstd",
            0,
            false,
        ),
        l(
            "zstd checksum",
            v3_with(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 3, "checksum": true}}]),
            ),
            "zstd",
            4,
            false,
        ),
        l(
            "gzip",
            v3_with(json!([bytes_le(), {"name": "gzip", "configuration": {"level": 5}}])),
            "gzip",
            8,
            false,
        ),
        l(
            "blosc lz4",
            v3_with(json!([bytes_le(), blosc("lz4", "shuffle")])),
            "blosc",
            0,
            false,
        ),
        l(
            "blosc lz4hc",
            v3_with(json!([bytes_le(), blosc("lz4hc", "bitshuffle")])),
            "blosc",
            0,
            false,
        ),
        l(
            "blosc blosclz",
            v3_with(json!([bytes_le(), blosc("blosclz", "noshuffle")])),
            "blosc",
            0,
            false,
        ),
        l(
            "blosc zlib",
            v3_with(json!([bytes_le(), blosc("zlib", "shuffle")])),
            "blosc",
            0,
            false,
        ),
        l(
            "blosc zstd",
            v3_with(json!([bytes_le(), blosc("zstd", "shuffle")])),
            "blosc",
            0,
            false,
        ),
        l(
            "crc32c",
            v3_with(json!([bytes_le(), {"name": "crc32c"}])),
            "crc32c",
            4,
            true,
        ),
        l(
            "transpose zstd",
            v3_with(
                json!([{"name": "transpose", "configuration": {"order": [1, 0]}}, bytes_le(), {"name": "zstd"}]),
            ),
            "zstd",
            0,
            false,
        ),
        l(
            "gzip crc32c",
            v3_with(json!([bytes_le(), {"name": "gzip"}, {"name": "crc32c"}])),
            "crc32c",
            4,
            true,
        ),
        l(
            "shard index end",
            v3_with(shard("end")),
            "sharding_indexed",
            0,
            false,
        ),
        l(
            "shard index start",
            v3_with(shard("start")),
            "sharding_indexed",
            0,
            false,
        ),
        l("v2 none", v2_doc(), "bytes", 0, false),
        l(
            "v2 zlib",
            v2_with(json!({"id": "zlib", "level": 1})),
            "zlib",
            4,
            false,
        ),
        l(
            "v2 gzip",
            v2_with(json!({"id": "gzip", "level": 1})),
            "gzip",
            8,
            false,
        ),
        l(
            "v2 lz4",
            v2_with(json!({"id": "lz4", "acceleration": 1})),
            "lz4",
            0,
            false,
        ),
        l(
            "v2 zstd",
            v2_with(json!({"id": "zstd", "level": 1})),
            "zstd",
            0,
            false,
        ),
        l(
            "v2 blosc",
            v2_with(
                json!({"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}),
            ),
            "blosc",
            0,
            false,
        ),
    ]
}

/// An 8×8 float64 array of `layout` at "g/a" with every chunk written;
/// returns the store, the key of chunk (0, 0) and the values.
fn written(layout: &Layout) -> (StoreRef, String, Vec<u8>) {
    let s = mem();
    let a = Array::create_from_json(&s, "g/a", &layout.doc, false)
        .unwrap_or_else(|e| panic!("{}: {e}", layout.name));
    // Smooth values compress (so compressed chunks have structure).
    let vals: Vec<u8> = (0..64)
        .flat_map(|i| ((i % 9) as f64 * 0.5 + 1.0).to_le_bytes())
        .collect();
    a.write_region(&Region::all(&[8, 8]), &vals).unwrap();
    a.close().unwrap();
    let key = if layout.doc["zarr_format"] == 2 {
        "g/a/0.0"
    } else {
        "g/a/c/0/0"
    };
    assert!(
        s.get(key).unwrap().is_some(),
        "{}: {key} stored",
        layout.name
    );
    (s, key.to_string(), vals)
}

/// Reads the array whole and in part, and writes part of chunk (0, 0):
/// each either succeeds or fails with a chunk error naming `key`; a failed
/// write leaves the stored bytes as they were. Returns whether reading failed.
fn exercise(s: &StoreRef, key: &str, layout: &Layout, what: &str) -> bool {
    let check = |e: &Error, op: &str| {
        match e {
            Error::Chunk { key: k, .. } => assert_eq!(k, key, "{what}: {op}"),
            other => panic!("{what}: {op}: expected a chunk error, got {other:?}"),
        }
        assert_mentions(e, &[key], &format!("{what}: {op}"));
    };
    let before = s.get(key).unwrap();
    let a = no_panic(what, || Array::open(s, "g/a", Mode::Read)).unwrap();
    let whole = no_panic(what, || a.read_region_vec(&Region::all(&[8, 8])));
    if let Err(e) = &whole {
        check(e, "read all");
    }
    let part = no_panic(what, || {
        a.read_region_vec(&Region::new(vec![1, 1], vec![2, 2]))
    });
    if let Err(e) = &part {
        check(e, "read part");
    }
    assert_eq!(whole.is_err(), part.is_err(), "{what}: whole vs part");
    drop(a);
    let w = no_panic(what, || Array::open(s, "g/a", Mode::Write)).unwrap();
    let write = no_panic(what, || {
        w.write_region(&Region::new(vec![1, 1], vec![1, 1]), &[0x11; 8])
    });
    match &write {
        Err(e) => {
            check(e, "partial write");
            no_panic(what, || w.close()).unwrap();
            assert_eq!(
                s.get(key).unwrap(),
                before,
                "{what}: failed write changed the chunk"
            );
        }
        Ok(()) => {
            no_panic(what, || w.close()).unwrap();
        }
    }
    let _ = layout;
    whole.is_err()
}

#[test]
fn truncated_chunks_fail_naming_the_chunk_and_codec() {
    for layout in layouts() {
        let (s, key, _) = written(&layout);
        let full = s.get(&key).unwrap().unwrap().to_vec();
        let n = full.len();
        let mut cuts = vec![0, 1, 4, n / 2, n - 1];
        cuts.sort();
        cuts.dedup();
        for cut in cuts.into_iter().filter(|&c| c < n) {
            put(&s, &key, &full[..cut]);
            let what = format!("{}: chunk truncated to {cut} of {n} bytes", layout.name);
            assert!(exercise(&s, &key, &layout, &what), "{what}: read succeeded");
            let a = Array::open(&s, "g/a", Mode::Read).unwrap();
            let e = a.read_region_vec(&Region::all(&[8, 8])).unwrap_err();
            assert_mentions(&e, &[&key, layout.codec], &what);
        }
    }
}

#[test]
fn corrupted_chunks_never_panic_and_checksums_catch_them() {
    for layout in layouts() {
        let (s, key, vals) = written(&layout);
        let full = s.get(&key).unwrap().unwrap().to_vec();
        let n = full.len();
        for pos in (0..n)
            .step_by((n / 40).max(1))
            .chain(n.saturating_sub(8)..n)
        {
            let mut bad = full.clone();
            bad[pos] ^= 0x5a;
            put(&s, &key, &bad);
            let what = format!("{}: byte {pos} of {n} flipped", layout.name);
            let failed = exercise(&s, &key, &layout, &what);
            let checked = layout.all_checked || pos >= n - layout.checked_tail;
            if checked {
                assert!(failed, "{what}: the corruption went unnoticed");
            }
        }
        // Restored, the array reads exactly again.
        put(&s, &key, &full);
        let a = Array::open(&s, "g/a", Mode::Read).unwrap();
        assert_eq!(
            a.read_region_vec(&Region::new(vec![0, 0], vec![4, 4]))
                .unwrap(),
            zarrcore_region(&vals, 8, 0, 0, 4, 4),
            "{}",
            layout.name
        );
    }
}

fn zarrcore_region(
    vals: &[u8],
    cols: usize,
    r0: usize,
    c0: usize,
    nr: usize,
    nc: usize,
) -> Vec<u8> {
    let mut out = vec![];
    for r in r0..r0 + nr {
        let start = (r * cols + c0) * 8;
        out.extend_from_slice(&vals[start..start + nc * 8]);
    }
    out
}

#[test]
fn crc32c_mismatch_is_reported() {
    let layout = &layouts()[10];
    assert_eq!(layout.name, "crc32c");
    let (s, key, _) = written(layout);
    let mut v = s.get(&key).unwrap().unwrap().to_vec();
    v[3] ^= 1;
    put(&s, &key, &v);
    let a = Array::open(&s, "g/a", Mode::Read).unwrap();
    let e = a.read_region_vec(&Region::all(&[8, 8])).unwrap_err();
    assert_mentions(&e, &["g/a/c/0/0", "crc32c", "checksum mismatch"], "crc32c");
    // Inside a shard: the index checksum, and an inner chunk's checksum.
    let doc = v3_with(json!([{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2],
        "codecs": [bytes_le(), {"name": "crc32c"}],
        "index_codecs": [bytes_le(), {"name": "crc32c"}],
        "index_location": "end"}}]));
    let s = mem();
    let w = Array::create_from_json(&s, "g/a", &doc, false).unwrap();
    w.write_region(&Region::all(&[8, 8]), &noise(512, 3))
        .unwrap();
    w.close().unwrap();
    let key = "g/a/c/0/0";
    let full = s.get(key).unwrap().unwrap().to_vec();
    let n = full.len();
    let mut idx = full.clone();
    idx[n - 10] ^= 1;
    put(&s, key, &idx);
    let a = Array::open(&s, "g/a", Mode::Read).unwrap();
    for r in [Region::all(&[8, 8]), Region::new(vec![0, 0], vec![1, 1])] {
        let e = a.read_region_vec(&r).unwrap_err();
        assert_mentions(&e, &[key, "shard index", "checksum mismatch"], "index crc");
    }
    drop(a);
    let mut inner = full.clone();
    inner[5] ^= 1; // inside inner chunk 0
    put(&s, key, &inner);
    let a = Array::open(&s, "g/a", Mode::Read).unwrap();
    for r in [Region::all(&[8, 8]), Region::new(vec![0, 0], vec![1, 1])] {
        let e = a.read_region_vec(&r).unwrap_err();
        assert_mentions(
            &e,
            &[key, "inner chunk 0", "crc32c", "checksum mismatch"],
            "inner crc",
        );
    }
}

#[test]
fn chunks_that_decode_to_the_wrong_size_are_refused() {
    // Chunk (0, 0) of the 8×8 float64 array holds 4×4×8 = 128 bytes.
    let compressors: Vec<(&str, Value, BytesToBytes)> = vec![
        (
            "zstd",
            v3_with(json!([bytes_le(), {"name": "zstd"}])),
            BytesToBytes::Zstd(ZstdCodec {
                level: 1,
                checksum: false,
            }),
        ),
        (
            "gzip",
            v3_with(json!([bytes_le(), {"name": "gzip"}])),
            BytesToBytes::Deflate(DeflateCodec {
                format: DeflateFormat::Gzip,
                level: 1,
            }),
        ),
        (
            "zlib",
            v2_with(json!({"id": "zlib", "level": 1})),
            BytesToBytes::Deflate(DeflateCodec {
                format: DeflateFormat::Zlib,
                level: 1,
            }),
        ),
        (
            "lz4",
            v2_with(json!({"id": "lz4"})),
            BytesToBytes::Lz4(Lz4Codec { acceleration: 1 }),
        ),
        (
            "blosc",
            v3_with(json!([bytes_le(), blosc("lz4", "shuffle")])),
            BytesToBytes::Blosc(BloscCodec {
                cname: BloscCompressor::Lz4,
                clevel: 5,
                shuffle: BloscShuffle::Shuffle,
                typesize: 8,
                blocksize: 0,
            }),
        ),
        (
            "crc32c",
            v3_with(json!([bytes_le(), {"name": "crc32c"}])),
            BytesToBytes::Crc32c(Crc32cCodec),
        ),
    ];
    for (name, doc, codec) in compressors {
        let s = mem();
        Array::create_from_json(&s, "g/a", &doc, false)
            .unwrap()
            .close()
            .unwrap();
        let key = if doc["zarr_format"] == 2 {
            "g/a/0.0"
        } else {
            "g/a/c/0/0"
        };
        // Including a decompression bomb: 64 MiB for a 128-byte chunk.
        for size in [0usize, 8, 120, 136, 256, 64 << 20] {
            let what = format!("{name}: decodes to {size} bytes instead of 128");
            put(&s, key, &codec.encode(&vec![0x3c; size]).unwrap());
            let a = Array::open(&s, "g/a", Mode::Read).unwrap();
            for r in [Region::all(&[8, 8]), Region::new(vec![1, 1], vec![1, 1])] {
                let e = no_panic(&what, || a.read_region_vec(&r)).unwrap_err();
                assert!(matches!(e, Error::Chunk { .. }), "{what}: {e:?}");
                assert_mentions(&e, &[key, name], &what);
            }
        }
    }
    // No compression: stored bytes of the wrong length.
    for doc in [v3_doc(), v2_doc()] {
        let s = mem();
        Array::create_from_json(&s, "g/a", &doc, false)
            .unwrap()
            .close()
            .unwrap();
        let key = if doc["zarr_format"] == 2 {
            "g/a/0.0"
        } else {
            "g/a/c/0/0"
        };
        for size in [0usize, 1, 127, 129, 1000] {
            put(&s, key, &vec![1; size]);
            let a = Array::open(&s, "g/a", Mode::Read).unwrap();
            for r in [Region::all(&[8, 8]), Region::new(vec![1, 1], vec![1, 1])] {
                let e = a.read_region_vec(&r).unwrap_err();
                assert_mentions(&e, &[key, &size.to_string(), "128"], "raw size");
            }
        }
    }
    // An inner chunk of a shard with the wrong size, and index entries that
    // point outside the shard.
    let doc = v3_with(json!([{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2], "codecs": [bytes_le()],
        "index_codecs": [bytes_le(), {"name": "crc32c"}], "index_location": "end"}}]));
    let s = mem();
    Array::create_from_json(&s, "g/a", &doc, false)
        .unwrap()
        .close()
        .unwrap();
    let key = "g/a/c/0/0";
    let shard = |data: &[u8], entries: &[(u64, u64)]| -> Vec<u8> {
        let mut index = vec![];
        for i in 0..4 {
            let (o, n) = entries.get(i).copied().unwrap_or((u64::MAX, u64::MAX));
            index.extend_from_slice(&o.to_le_bytes());
            index.extend_from_slice(&n.to_le_bytes());
        }
        let mut out = data.to_vec();
        out.extend(BytesToBytes::Crc32c(Crc32cCodec).encode(&index).unwrap());
        out
    };
    let cases: Vec<(Vec<u8>, &[&str])> = vec![
        (shard(&[7; 24], &[(0, 24)]), &["inner chunk 0", "24"]),
        (shard(&[7; 40], &[(0, 40)]), &["inner chunk 0", "40"]),
        (shard(&[7; 32], &[(16, 200)]), &["outside"]),
        (shard(&[7; 32], &[(u64::MAX - 4, 32)]), &["outside"]),
        (shard(&[7; 32], &[(8, u64::MAX)]), &["outside"]),
        (vec![1, 2, 3], &["68"]),
    ];
    for (bytes, words) in cases {
        put(&s, key, &bytes);
        let a = Array::open(&s, "g/a", Mode::Read).unwrap();
        // The whole shard (fetched at once) and one element (byte ranges).
        for r in [
            Region::new(vec![0, 0], vec![4, 4]),
            Region::new(vec![1, 1], vec![1, 1]),
        ] {
            let what = format!("shard {words:?} {r}");
            let e = no_panic(&what, || a.read_region_vec(&r)).unwrap_err();
            assert!(matches!(e, Error::Chunk { .. }), "{what}: {e:?}");
            assert_mentions(&e, &[key], &what);
            assert_mentions(&e, words, &what);
        }
    }
}

// ---------------------------------------------------------------------------
// Failed writes

/// A store whose writes can be made to fail (a disk turned read-only, a
/// lost connection): delegates to a memory store.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail: AtomicBool,
}

impl FlakyStore {
    fn refuse(&self, key: &str) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            Err(StoreError::Backend {
                key: key.to_string(),
                message: "injected write failure".into(),
            })
        } else {
            Ok(())
        }
    }

    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        self.inner
            .list_prefix("")
            .unwrap()
            .into_iter()
            .map(|k| {
                let v = self.inner.get(&k).unwrap().unwrap().to_vec();
                (k, v)
            })
            .collect()
    }
}

impl Store for FlakyStore {
    fn describe(&self) -> String {
        "flaky test store".into()
    }
    fn identity(&self) -> String {
        format!("flaky#{:p}", self as *const Self)
    }
    fn is_writable(&self) -> bool {
        true
    }
    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        self.inner.get_range(key, range)
    }
    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.size(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.refuse(key)?;
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.refuse(key)?;
        self.inner.delete(key)
    }
    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        self.refuse(prefix)?;
        self.inner.delete_prefix(prefix)
    }
    fn get_versioned(
        &self,
        key: &str,
    ) -> Result<(Option<Bytes>, zarrcore::store::Generation), StoreError> {
        self.inner.get_versioned(key)
    }
    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &zarrcore::store::Generation,
    ) -> Result<bool, StoreError> {
        self.refuse(key)?;
        self.inner.set_if(key, value, expected)
    }
    fn concurrency(&self) -> zarrcore::store::Concurrency {
        self.inner.concurrency()
    }
    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_prefix(prefix)
    }
    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        self.inner.list_dir(prefix)
    }
}

#[test]
fn a_write_the_store_refuses_leaves_the_stored_data_intact() {
    let flaky = Arc::new(FlakyStore::default());
    let s: StoreRef = flaky.clone();
    let shape = [8u64, 8];
    let old = noise(8 * 8 * 4, 7);
    let w = ArrayBuilder::new(shape.to_vec(), DataType::Float32)
        .chunks(vec![4, 4])
        .create(&s, "g/a")
        .unwrap();
    w.write_region(&Region::all(&shape), &old).unwrap();
    w.close().unwrap();
    let before = flaky.snapshot();
    let w = Array::open(&s, "g/a", Mode::Write).unwrap();
    flaky.fail.store(true, Ordering::SeqCst);
    // Whole chunks: refused at once.
    let e = w
        .write_region(&Region::all(&shape), &noise(256, 8))
        .unwrap_err();
    assert_mentions(&e, &["g/a/c/", "injected write failure"], "whole write");
    // A chunk that becomes all fill value: its deletion is refused too.
    let e = w
        .write_region(&Region::new(vec![0, 0], vec![4, 4]), &[0; 64])
        .unwrap_err();
    assert_mentions(&e, &["g/a/c/0/0", "injected"], "delete");
    // Partial writes are buffered; flushing reports the failure.
    w.write_region(&Region::new(vec![1, 1], vec![2, 2]), &[9; 16])
        .unwrap();
    let e = w.flush().unwrap_err();
    assert_mentions(&e, &["g/a/c/0/0", "injected"], "flush");
    // Attribute changes as well.
    let mut attrs = zarrcore::Attributes::new();
    attrs.insert("k".into(), json!(1));
    assert!(w.set_attributes(attrs).is_err());
    assert_eq!(
        flaky.snapshot(),
        before,
        "a refused write changed the store"
    );
    let e = w.close().unwrap_err();
    assert_mentions(&e, &["injected"], "close");
    assert_eq!(flaky.snapshot(), before);
    flaky.fail.store(false, Ordering::SeqCst);
    let r = Array::open(&s, "g/a", Mode::Read).unwrap();
    assert_eq!(r.read_region_vec(&Region::all(&shape)).unwrap(), old);
    assert!(r.attributes().is_empty());
    drop(r);
    // Creating a node in a failing store leaves nothing half-made.
    flaky.fail.store(true, Ordering::SeqCst);
    assert!(ArrayBuilder::new(vec![2], DataType::UInt8)
        .create(&s, "new/arr")
        .is_err());
    assert_eq!(flaky.snapshot(), before);
}

#[test]
fn a_read_only_store_refuses_writes_and_keeps_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ro.zarr");
    let rw: StoreRef = Arc::new(DirectoryStore::open(&root, StoreOptions::create()).unwrap());
    let old = noise(6 * 4 * 2, 2);
    let w = ArrayBuilder::new(vec![6, 4], DataType::Int16)
        .chunks(vec![4, 4])
        .create(&rw, "a")
        .unwrap();
    w.write_region(&Region::all(&[6, 4]), &old).unwrap();
    w.close().unwrap();
    drop(rw);
    let files = |p: &std::path::Path| {
        let mut v = vec![];
        let mut stack = vec![p.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    v.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
        v.sort();
        v
    };
    let before = files(&root);
    let ro: StoreRef = Arc::new(DirectoryStore::open(&root, StoreOptions::read_only()).unwrap());
    let e = Array::open(&ro, "a", Mode::Write).unwrap_err();
    assert!(
        matches!(e, Error::Store(StoreError::ReadOnly { .. })),
        "{e:?}"
    );
    assert_mentions(&e, &["read-only", "a"], "open for writing");
    let e = ArrayBuilder::new(vec![2], DataType::UInt8)
        .create(&ro, "b")
        .unwrap_err();
    assert_mentions(&e, &["read-only"], "create");
    let e = hierarchy::set_attributes(&ro, "a", Default::default()).unwrap_err();
    assert_mentions(&e, &["read-only"], "attributes");
    let e = hierarchy::delete_node(&ro, "a").unwrap_err();
    assert_mentions(&e, &["read-only"], "delete");
    assert_eq!(files(&root), before);
    let r = Array::open(&ro, "a", Mode::Read).unwrap();
    assert_eq!(r.read_region_vec(&Region::all(&[6, 4])).unwrap(), old);
}

#[test]
fn a_partial_write_over_an_undecodable_chunk_changes_nothing() {
    let s = mem();
    let doc = v3_with(json!([bytes_le(), {"name": "zstd"}]));
    let w = Array::create_from_json(&s, "g/a", &doc, false).unwrap();
    let vals = noise(512, 4);
    w.write_region(&Region::all(&[8, 8]), &vals).unwrap();
    w.close().unwrap();
    let garbage = b"definitely not zstd".to_vec();
    put(&s, "g/a/c/0/0", &garbage);
    let other_before = s.get("g/a/c/1/1").unwrap();
    let w = Array::open(&s, "g/a", Mode::Write).unwrap();
    // Entirely inside the bad chunk.
    let e = w
        .write_region(&Region::new(vec![1, 1], vec![2, 2]), &[5; 32])
        .unwrap_err();
    assert!(
        matches!(e, Error::Chunk { ref key, .. } if key == "g/a/c/0/0"),
        "{e:?}"
    );
    assert_mentions(&e, &["g/a/c/0/0", "zstd"], "partial write");
    // Across the bad chunk and a good one.
    let e = w
        .write_region(&Region::new(vec![2, 2], vec![4, 4]), &[6; 128])
        .unwrap_err();
    assert_mentions(&e, &["g/a/c/0/0"], "spanning write");
    // A linear byte write at an odd offset inside it.
    assert!(w.write_bytes(13, &[1, 2, 3], Endian::Little).is_err());
    w.close().unwrap();
    assert_eq!(s.get("g/a/c/0/0").unwrap().unwrap().to_vec(), garbage);
    // Whole-chunk writes replace the bad chunk without decoding it.
    let w = Array::open(&s, "g/a", Mode::Write).unwrap();
    w.write_region(&Region::new(vec![0, 0], vec![4, 4]), &vals[..128])
        .unwrap();
    w.close().unwrap();
    let r = Array::open(&s, "g/a", Mode::Read).unwrap();
    let got = r
        .read_region_vec(&Region::new(vec![0, 0], vec![4, 4]))
        .unwrap();
    assert_eq!(got, vals[..128].to_vec());
    let _ = other_before;
}

// ---------------------------------------------------------------------------
// Fuzzing: arbitrary documents and chunk bytes never panic

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        prop::sample::select(vec![
            "NaN",
            "Infinity",
            "-Infinity",
            "0x7fc00000",
            "",
            "float64",
            "bytes",
            "<f8",
            "|S0",
            "zstd",
            "regular",
            "C",
            "F",
            "/",
            ".",
            "..",
            "end",
            "start",
            "big",
            "0xzz",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "name",
                        "configuration",
                        "chunk_shape",
                        "endian",
                        "order",
                        "codecs",
                        "level",
                        "x"
                    ]),
                    inner
                ),
                0..3
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// Replaces the value at a random path of `doc` (descending into objects
/// and arrays) with `new`.
fn mutate(doc: &mut Value, mut choice: Vec<usize>, new: Value) {
    let mut cur = doc;
    loop {
        let next = choice.pop();
        let n = match cur {
            Value::Object(o) => o.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        match next {
            Some(c) if n > 0 && (c % 4 != 0 || choice.is_empty()) => {
                let i = c % n;
                cur = match cur {
                    Value::Object(o) => o.values_mut().nth(i).unwrap(),
                    Value::Array(a) => &mut a[i],
                    _ => unreachable!(),
                };
            }
            _ => {
                *cur = new;
                return;
            }
        }
    }
}

fn sharded_doc() -> Value {
    v3_with(json!([{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2],
        "codecs": [{"name": "transpose", "configuration": {"order": [1, 0]}}, bytes_le(),
                   {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 1, "shuffle": "shuffle", "typesize": 8}}],
        "index_codecs": [bytes_le(), {"name": "crc32c"}],
        "index_location": "start"}}]))
}

#[test]
fn fuzzed_metadata_documents_never_panic() {
    let mut runner = TestRunner::new(fuzz_config(384));
    let docs = [v3_doc(), v2_doc(), sharded_doc()];
    let strategy = (
        0usize..3,
        prop::collection::vec(any::<usize>(), 1..5),
        json_value(),
    );
    runner
        .run(&strategy, |(which, choice, new)| {
            let mut doc = docs[which].clone();
            mutate(&mut doc, choice, new);
            let key = if which == 1 { ".zarray" } else { "zarr.json" };
            let s = mem();
            put_json(&s, key, &doc);
            let what = format!("{doc}");
            let opened = no_panic(&what, || Array::open(&s, "", Mode::Read));
            match opened {
                Ok(a) => {
                    // Whatever opened must also read (one element, or nothing).
                    let shape = a.shape();
                    let r = Region::new(
                        vec![0; shape.len()],
                        shape.iter().map(|&n| n.min(1)).collect(),
                    );
                    let v = no_panic(&what, || a.read_region_vec(&r));
                    prop_assert!(v.is_ok(), "{}: {:?}", what, v.err());
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(
                        msg.contains(key),
                        "{}: error {:?} does not name {}",
                        what,
                        msg,
                        key
                    );
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn fuzzed_chunk_bytes_never_panic() {
    let all = layouts();
    let mut runner = TestRunner::new(fuzz_config(384));
    let strategy = (
        0..all.len(),
        prop_oneof![
            // Arbitrary bytes.
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| (b, vec![], 0usize)),
            // A valid chunk with a few bytes changed, maybe cut or extended.
            (
                prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                0usize..3
            )
                .prop_map(|(edits, cut)| (vec![], edits, cut)),
        ],
    );
    let written_all: Vec<(StoreRef, String, Vec<u8>)> = all.iter().map(written).collect();
    runner
        .run(&strategy, |(i, (raw, edits, cut))| {
            let layout = &all[i];
            let (s, key, _) = &written_all[i];
            let original = s.get(key).unwrap().unwrap().to_vec();
            let bytes = if edits.is_empty() {
                raw
            } else {
                let mut b = original.clone();
                for (pos, x) in edits {
                    let p = pos % b.len();
                    b[p] ^= x | 1;
                }
                match cut {
                    1 => b.truncate(b.len() / 3),
                    2 => b.extend_from_slice(&[0xee; 37]),
                    _ => {}
                }
                b
            };
            put(s, key, &bytes);
            let what = format!("{}: {} bytes", layout.name, bytes.len());
            exercise(s, key, layout, &what);
            put(s, key, &original);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

fn fuzz_config(cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var("PROPTEST_CASES").is_err() {
        c.cases = cases;
    }
    // Failures print the whole failing case; nothing is written to the tree.
    c.failure_persistence = None;
    c
}

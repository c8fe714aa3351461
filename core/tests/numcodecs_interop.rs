//! numcodecs filters and compressors against the pinned zarr-python, both
//! ways: `numcodecs/gen.py` writes one array per case (v2 `filters` and
//! `compressor`, v3 `numcodecs.*` codecs), zarrcore reads each exactly
//! (whole and a sub-region), writes the same data with the same metadata,
//! and `numcodecs/verify.py` checks that zarr-python reads zarrcore's arrays
//! exactly and (v2) that every chunk matches zarr-python's before
//! compression, so lossy filters encode bit for bit as numcodecs.
//!
//! The interpreter is `$ZARRCORE_PYTHON`, else the project's `.venv`, else
//! `python3` (it needs zarr 3.1.6 and numcodecs: `scripts/setup.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use zarrcore::{open_store, Array, Mode, Region, StoreOptions};

fn python() -> String {
    if let Ok(p) = std::env::var("ZARRCORE_PYTHON") {
        return p;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv.to_string_lossy().into_owned();
    }
    "python3".into()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/numcodecs")
        .join(name)
}

fn run_python(name: &str, dir: &Path) -> String {
    let out = Command::new(python())
        .arg(script(name))
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {name}: {e}", python()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{text}");
    text
}

fn check_read(a: &Array, want: &common::Npy) -> Result<(), String> {
    let m = a.metadata();
    if m.shape != want.shape {
        return Err(format!("shape {:?} != {:?}", m.shape, want.shape));
    }
    let dt = m.data_type;
    let native = want.native();
    let all = a
        .read_region_vec(&Region::all(&m.shape))
        .map_err(|e| format!("read all: {e}"))?;
    common::compare(dt, &all, &native).map_err(|e| format!("values: {e}"))?;
    let start: Vec<u64> = m.shape.iter().map(|&s| s / 3).collect();
    let count: Vec<u64> = m.shape.iter().zip(&start).map(|(&s, &t)| s - t).collect();
    let got = a
        .read_region_vec(&Region::new(start.clone(), count.clone()))
        .map_err(|e| format!("read region: {e}"))?;
    let w = common::slice(&native, &m.shape, &start, &count, dt.size());
    common::compare(dt, &got, &w).map_err(|e| format!("region values: {e}"))
}

fn case(dir: &Path, entry: &Value) -> Result<(), String> {
    let id = entry["id"].as_str().unwrap_or("?");
    let expected = common::load_npy(&dir.join(entry["expected"].as_str().unwrap_or("")));
    // zarr-python's array, read by zarrcore.
    let src = dir.join(entry["store"].as_str().unwrap_or(""));
    let store = open_store(src.to_str().unwrap_or(""), StoreOptions::read_only())
        .map_err(|e| format!("open store: {e}"))?;
    let a = Array::open(&store, "", Mode::Read).map_err(|e| format!("open: {e}"))?;
    check_read(&a, &expected).map_err(|e| format!("reading zarr-python's array: {e}"))?;
    // The same data written by zarrcore with zarr-python's metadata.
    let input = common::load_npy(&dir.join(entry["input"].as_str().unwrap_or("")));
    let dst = dir.join("zc").join(id);
    let store = open_store(dst.to_str().unwrap_or(""), StoreOptions::create())
        .map_err(|e| format!("create store: {e}"))?;
    let w = Array::create_from_json(&store, "", &entry["metadata"], true)
        .map_err(|e| format!("create from zarr-python's metadata: {e}"))?;
    w.write_region(&Region::all(&input.shape), &input.native())
        .map_err(|e| format!("write: {e}"))?;
    w.close().map_err(|e| format!("close: {e}"))?;
    let a = Array::open(&store, "", Mode::Read).map_err(|e| format!("reopen: {e}"))?;
    check_read(&a, &expected).map_err(|e| format!("reading back zarrcore's array: {e}"))
}

#[test]
fn numcodecs_both_ways_with_zarr_python() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_python("gen.py", dir);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let cases = manifest.as_array().expect("manifest is a list");
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|e| case(dir, e).err().map(|why| format!("{}: {why}", e["id"])))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    run_python("verify.py", dir);
}

#[test]
fn unsupported_numcodecs_are_refused_by_name() {
    use serde_json::json;
    let v2 = |filters: Value, compressor: Value| {
        json!({"zarr_format": 2, "shape": [10], "chunks": [5], "dtype": "<f8",
            "fill_value": 0, "order": "C", "filters": filters, "compressor": compressor})
    };
    let v3 = |codecs: Value| {
        json!({"zarr_format": 3, "node_type": "array", "shape": [10], "data_type": "float64",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5]}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": 0, "codecs": codecs})
    };
    let cases = [
        (
            v2(
                json!([{"id": "categorize", "labels": ["a"], "dtype": "<U1"}]),
                Value::Null,
            ),
            "categorize",
        ),
        (v2(Value::Null, json!({"id": "zfpy", "mode": 4})), "zfpy"),
        (v2(json!([{"id": "nonesuch"}]), Value::Null), "nonesuch"),
        (
            v2(json!([{"id": "bitround", "keepbits": 60}]), Value::Null),
            "keepbits",
        ),
        (
            v2(json!([{"id": "delta"}]), Value::Null),
            "dtype is required",
        ),
        (
            v2(
                json!([{"id": "quantize", "digits": 2, "dtype": "<i4"}]),
                Value::Null,
            ),
            "quantize",
        ),
        (
            v2(
                Value::Null,
                json!({"id": "lzma", "format": 3, "filters": [{"id": 33}]}),
            ),
            "FORMAT_RAW",
        ),
        (
            v3(
                json!([{"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "numcodecs.pcodec", "configuration": {}}]),
            ),
            "numcodecs.pcodec",
        ),
        (
            v3(
                json!([{"name": "numcodecs.delta", "configuration": {"dtype": "float64"}},
            {"name": "bytes", "configuration": {"endian": "big"}}]),
            ),
            "numcodecs.delta",
        ),
        (
            v3(
                json!([{"name": "numcodecs.delta", "configuration": {"dtype": ">f8"}},
            {"name": "bytes", "configuration": {"endian": "little"}}]),
            ),
            "big-endian",
        ),
        (
            v3(
                json!([{"name": "numcodecs.delta", "configuration": {"dtype": "float64"}},
            {"name": "sharding_indexed", "configuration": {"chunk_shape": [5]}}]),
            ),
            "sharding_indexed",
        ),
    ];
    for (doc, needle) in cases {
        let err = zarrcore::metadata::parse_array_document(&doc)
            .expect_err(&doc.to_string())
            .to_string();
        assert!(err.contains(needle), "{err:?} does not name {needle:?}");
    }
}

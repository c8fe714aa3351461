//! Writes a corpus of Zarr stores with zarrcore, for zarr-python to check
//! (the write direction of the interop tests; `tests/suites/interop_write.sh`
//! runs this and then `verify_with_zarr_python.py` on the result).
//!
//! ```text
//! cargo run --release -p zarrcore --example interop_corpus -- OUT_DIR [FIXTURES_DIR]
//! ```
//!
//! Two parts, both in the fixture corpus format (`OUT_DIR/manifest.json`,
//! `OUT_DIR/stores/`, `OUT_DIR/expected/<id>.npy`):
//!
//! * **mirror**: every array and group of the zarr-python fixture manifest
//!   is created again by zarrcore with the same metadata (format, dtype and
//!   byte order, order, chunk key encoding, codec chain, fill value,
//!   attributes), in a store of the same name and kind (directory or zip),
//!   with consolidated metadata where the fixture has it. So every
//!   format/dtype/codec combination of the corpus is written by zarrcore,
//!   and a new fixture is covered with no new code. The manifest entries keep
//!   the fixture's expectations (chunks, shards, fill value, attributes,
//!   members), so zarr-python checks zarrcore's metadata in full.
//! * **builder**: arrays made with [`ArrayBuilder`] (what the CLI's `import`
//!   uses) for every data type × byte order × codec choice, v2 orders and
//!   separators, shards, shapes from 0-d to 4-d, zero-length dimensions,
//!   chunks larger than the array, nested groups with attributes,
//!   consolidated metadata and zip stores; plus v3 chains given as JSON
//!   (transpose, crc32c, index at the start, nested sharding).
//!
//! Values: random, with special values mixed in (NaN, ±inf, -0.0,
//! subnormals, extreme integers). Each array gets a write of a region across
//! chunk edges, then per chunk (inner chunk when sharded) one of: a whole
//! write, a partial write, a write of only fill value (the chunk must then
//! be absent), or nothing — so missing chunks read as the fill value. Arrays
//! whose v2 fill value is `null` are written whole (missing chunks are
//! undefined for them). Before writing an expected `.npy`, the array is read
//! back with zarrcore and compared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zarrcore::nd::for_each_index;

use serde_json::{json, Map, Value};
use zarrcore::codec::{BloscCompressor, BloscShuffle};
use zarrcore::hierarchy;
use zarrcore::metadata::ZarrFormat;
use zarrcore::{
    open_store, Array, ArrayBuilder, CodecSpec, DataType, Endian, FillValue, Group, Mode, Order,
    Region, StoreOptions, StoreRef,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

// ---------------------------------------------------------------------------
// Values

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bytes reversed by a byte-order change.
fn swap_unit(dt: DataType) -> usize {
    match dt {
        DataType::Complex64 => 4,
        DataType::Complex128 => 8,
        DataType::Unicode(_) => 4,
        DataType::Bytes(_) => 1,
        other => other.size(),
    }
}

/// Little-endian bytes to native order.
fn native(mut le: Vec<u8>, unit: usize) -> Vec<u8> {
    if Endian::native() == Endian::Big && unit > 1 {
        for c in le.chunks_mut(unit) {
            c.reverse();
        }
    }
    le
}

/// One element of `dt`, little-endian; a special value one time in three.
fn element_le(dt: DataType, rng: &mut Rng) -> Vec<u8> {
    let special = rng.below(3) == 0;
    let pick = |rng: &mut Rng, v: &[u64]| v[rng.below(v.len() as u64) as usize];
    match dt {
        DataType::Bool => vec![rng.below(2) as u8],
        DataType::Float16 if special => {
            // NaN, inf, -inf, -0.0, smallest subnormal, max, min normal.
            let b = pick(
                rng,
                &[0x7e00, 0x7c00, 0xfc00, 0x8000, 0x0001, 0x7bff, 0x0400],
            );
            (b as u16).to_le_bytes().to_vec()
        }
        DataType::Float16 => {
            // Finite values (exponent not all ones).
            let b = (rng.next() as u16) & 0xbfff;
            b.to_le_bytes().to_vec()
        }
        DataType::Float32 if special => {
            let v = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                -0.0,
                f32::from_bits(1),
                f32::MAX,
                f32::MIN,
                f32::MIN_POSITIVE,
            ];
            v[rng.below(8) as usize].to_le_bytes().to_vec()
        }
        DataType::Float32 => ((rng.below(2_000_001) as f32 - 1e6) / 64.0)
            .to_le_bytes()
            .to_vec(),
        DataType::Float64 if special => {
            let v = [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                f64::from_bits(1),
                f64::MAX,
                f64::MIN,
                f64::EPSILON,
            ];
            v[rng.below(8) as usize].to_le_bytes().to_vec()
        }
        DataType::Float64 => f64::from_bits(rng.next() & !(0x7ffu64 << 52) | (0x3f0u64 << 52))
            .to_le_bytes()
            .to_vec(),
        DataType::Complex64 => [
            element_le(DataType::Float32, rng),
            element_le(DataType::Float32, rng),
        ]
        .concat(),
        DataType::Complex128 => [
            element_le(DataType::Float64, rng),
            element_le(DataType::Float64, rng),
        ]
        .concat(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 if special => {
            let n = dt.size();
            let min = 1u64 << (n * 8 - 1);
            pick(rng, &[min, min - 1, 0, u64::MAX]).to_le_bytes()[..n].to_vec()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 if special => {
            pick(rng, &[u64::MAX, 0, 1]).to_le_bytes()[..dt.size()].to_vec()
        }
        DataType::Bytes(n) => {
            // Letters, sometimes shorter (NUL-padded).
            let len = n - rng.below(n as u64 / 2 + 1) as usize;
            let mut v: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
            v.resize(n, 0);
            v
        }
        DataType::Unicode(n) => {
            let len = n - rng.below(n as u64 / 2 + 1) as usize;
            let mut v: Vec<u8> = (0..len)
                .flat_map(|_| {
                    let c = match rng.below(4) {
                        0 => 0xe9,
                        1 => 0x4e00 + rng.below(64) as u32,
                        2 => 0x1f600 + rng.below(16) as u32,
                        _ => 0x41 + rng.below(26) as u32,
                    };
                    c.to_le_bytes()
                })
                .collect();
            v.resize(n * 4, 0);
            v
        }
        other => rng.next().to_le_bytes()[..other.size()].to_vec(),
    }
}

fn values(dt: DataType, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * dt.size());
    for _ in 0..n {
        out.extend(native(element_le(dt, rng), swap_unit(dt)));
    }
    out
}

// ---------------------------------------------------------------------------
// The reference model and the write pattern

struct Model {
    shape: Vec<u64>,
    elem: usize,
    data: Vec<u8>,
}

impl Model {
    fn write(&mut self, r: &Region, src: &[u8]) {
        let e = self.elem;
        let mut k = 0;
        for_each_index(&r.shape, |i| {
            let p = i
                .iter()
                .zip(&r.start)
                .zip(&self.shape)
                .fold(0u64, |acc, ((&a, &s), &n)| acc * n + a + s) as usize
                * e;
            self.data[p..p + e].copy_from_slice(&src[k * e..(k + 1) * e]);
            k += 1;
        });
    }
}

/// Writes the array's values (see the module docs) and returns the model.
fn fill_array(a: &Array, seed: u64, whole: bool) -> Res<Model> {
    let meta = a.metadata();
    let dt = meta.data_type;
    let shape = meta.shape.clone();
    let elem = dt.size();
    let fill = meta.fill_value.as_bytes().to_vec();
    let n: usize = shape.iter().product::<u64>() as usize;
    let mut m = Model {
        shape: shape.clone(),
        elem,
        data: fill.repeat(n),
    };
    let mut rng = Rng(seed);
    let put = |m: &mut Model, r: Region, v: Vec<u8>| -> Res<()> {
        a.write_region(&r, &v)
            .map_err(|e| format!("write {r}: {e}"))?;
        m.write(&r, &v);
        Ok(())
    };
    if whole || n == 0 {
        let v = values(dt, n, &mut rng);
        put(&mut m, Region::all(&shape), v)?;
        return Ok(m);
    }
    // A region across chunk edges.
    let start: Vec<u64> = shape.iter().map(|&s| s / 3).collect();
    let count: Vec<u64> = shape
        .iter()
        .zip(&start)
        .map(|(&s, &b)| (s - b).min(s / 3 + 1))
        .collect();
    let r = Region::new(start, count);
    let v = values(dt, r.num_elements().unwrap_or(0) as usize, &mut rng);
    put(&mut m, r, v)?;
    // Then each read chunk: whole, partial, fill value only, or nothing.
    let chunks = meta.read_chunk_shape();
    let grid: Vec<u64> = shape
        .iter()
        .zip(&chunks)
        .map(|(&s, &c)| s.div_ceil(c))
        .collect();
    let mut cells = vec![];
    for_each_index(&grid, |g| cells.push(g.to_vec()));
    for (k, g) in cells.into_iter().enumerate() {
        let start: Vec<u64> = g.iter().zip(&chunks).map(|(i, c)| i * c).collect();
        let full: Vec<u64> = start
            .iter()
            .zip(&chunks)
            .zip(&shape)
            .map(|((s, c), n)| (*c).min(n - s))
            .collect();
        match k % 4 {
            0 => {
                let r = Region::new(start, full);
                let v = values(dt, r.num_elements().unwrap_or(0) as usize, &mut rng);
                put(&mut m, r, v)?;
            }
            1 => {
                let part: Vec<u64> = full.iter().map(|&c| c.div_ceil(2)).collect();
                let r = Region::new(start, part);
                let v = values(dt, r.num_elements().unwrap_or(0) as usize, &mut rng);
                put(&mut m, r, v)?;
            }
            2 => {
                let r = Region::new(start, full);
                let v = fill.repeat(r.num_elements().unwrap_or(0) as usize);
                put(&mut m, r, v)?;
            }
            _ => {}
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// The corpus

struct Corpus {
    out: PathBuf,
    stores: BTreeMap<String, StoreRef>,
    arrays: Vec<Value>,
    groups: Vec<Value>,
    /// Node paths created per store (for the builder part's group members).
    nodes: BTreeMap<String, BTreeSet<String>>,
}

impl Corpus {
    fn store(&mut self, rel: &str) -> Res<StoreRef> {
        if let Some(s) = self.stores.get(rel) {
            return Ok(StoreRef::clone(s));
        }
        let p = self.out.join(rel);
        let s = open_store(&p.to_string_lossy(), StoreOptions::create())
            .map_err(|e| format!("{rel}: {e}"))?;
        self.stores.insert(rel.to_string(), StoreRef::clone(&s));
        Ok(s)
    }

    /// Writes values into the new array `a`, closes it, checks what zarrcore
    /// reads back, and saves the expected `.npy`. Returns the path of that
    /// file (relative to the corpus) and how many grid cells are stored.
    fn write_values(&mut self, store: &StoreRef, a: Array, id: &str, whole: bool) -> Res<Value> {
        let path = a.path().to_string();
        let model = fill_array(&a, seed_of(id), whole).map_err(|e| format!("{id}: {e}"))?;
        let dt = a.data_type();
        a.close().map_err(|e| format!("{id}: close: {e}"))?;
        let r = Array::open(store, &path, Mode::Read).map_err(|e| format!("{id}: reopen: {e}"))?;
        let got = r
            .read_region_vec(&Region::all(&model.shape))
            .map_err(|e| format!("{id}: read back: {e}"))?;
        if got != model.data {
            return Err(format!("{id}: zarrcore reads back different values").into());
        }
        let summary = r.storage_summary()?;
        let rel = format!("expected/{id}.npy");
        let mut npy = zarrcore::npy::header_bytes(dt, Endian::native(), &model.shape);
        npy.extend_from_slice(&model.data);
        std::fs::write(self.out.join(&rel), npy)?;
        Ok(json!({
            "expected": rel,
            "stored_chunk_objects": summary.stored_cells,
            "total_chunk_objects": summary.total_cells,
        }))
    }

    fn finish(self) -> Res<(usize, usize)> {
        for (rel, s) in &self.stores {
            s.flush().map_err(|e| format!("{rel}: flush: {e}"))?;
        }
        let (na, ng) = (self.arrays.len(), self.groups.len());
        let manifest = json!({
            "manifest_version": 1,
            "set": "zarrcore-written",
            "generated_with": {"zarrcore": zarrcore::VERSION},
            "paths_relative_to": "directory containing this manifest",
            "arrays": self.arrays,
            "groups": self.groups,
        });
        drop(self.stores);
        std::fs::write(
            self.out.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest)?,
        )?;
        Ok((na, ng))
    }
}

fn store_type(rel: &str) -> &'static str {
    if rel.ends_with(".zip") {
        "zip"
    } else {
        "directory"
    }
}

fn depth(p: &str) -> usize {
    if p.is_empty() {
        0
    } else {
        p.split('/').count()
    }
}

// ---------------------------------------------------------------------------
// Mirror: the fixture corpus, written again by zarrcore

fn mirror(c: &mut Corpus, fixtures: &Path) -> Res<()> {
    let text = std::fs::read_to_string(fixtures.join("manifest.json"))
        .map_err(|e| format!("{}: {e}", fixtures.join("manifest.json").display()))?;
    let manifest: Value = serde_json::from_str(&text)?;
    let arrays = manifest["arrays"]
        .as_array()
        .ok_or("manifest has no arrays")?;
    let groups = manifest["groups"]
        .as_array()
        .ok_or("manifest has no groups")?;
    // Groups first, parents before children.
    let mut gs: Vec<&Value> = groups.iter().collect();
    gs.sort_by_key(|g| depth(g["path"].as_str().unwrap_or("")));
    for g in &gs {
        let rel = g["store"].as_str().ok_or("group without store")?;
        let path = g["path"].as_str().ok_or("group without path")?;
        let format = ZarrFormat::from_number(g["zarr_format"].as_u64().unwrap_or(0))
            .ok_or("bad zarr_format")?;
        let attrs = g["attributes"].as_object().cloned().unwrap_or_default();
        let s = c.store(rel)?;
        Group::create(&s, path, format, attrs).map_err(|e| format!("{rel}:{path}: {e}"))?;
    }
    let mut fixture_stores: BTreeMap<String, StoreRef> = BTreeMap::new();
    for e in arrays {
        let id = e["id"].as_str().ok_or("array without id")?;
        let rel = e["store"].as_str().ok_or("array without store")?;
        let path = e["array_path"].as_str().ok_or("array without path")?;
        let fs = match fixture_stores.get(rel) {
            Some(s) => StoreRef::clone(s),
            None => {
                let p = fixtures.join(rel);
                let s = open_store(&p.to_string_lossy(), StoreOptions::read_only())?;
                fixture_stores.insert(rel.to_string(), StoreRef::clone(&s));
                s
            }
        };
        let meta = (*Array::open(&fs, path, Mode::Read)
            .map_err(|err| format!("fixture {id}: {err}"))?
            .metadata())
        .clone();
        let s = c.store(rel)?;
        let a = Array::create(&s, path, meta, false).map_err(|err| format!("{id}: {err}"))?;
        let whole = e["fill_value"].is_null();
        let new_id = format!("zc_{id}");
        let written = c.write_values(&s, a, &new_id, whole)?;
        let mut entry = e.clone();
        let o = entry.as_object_mut().ok_or("entry is not an object")?;
        o.insert("id".into(), Value::from(new_id));
        o.insert("writer".into(), Value::from("zarrcore"));
        o.insert("writer_family".into(), Value::from("zarrcore"));
        o.remove("readers_checked");
        o.remove("inner_chunks_in_stored_shards");
        o.remove("empty_inner_chunks_in_stored_shards");
        o.remove("notes");
        for (k, v) in written.as_object().ok_or("bad summary")? {
            o.insert(k.clone(), v.clone());
        }
        c.arrays.push(entry);
    }
    for g in groups {
        let mut entry = g.clone();
        let o = entry.as_object_mut().ok_or("entry is not an object")?;
        let id = o["id"].as_str().unwrap_or("").to_string();
        o.insert("id".into(), Value::from(format!("zc_{id}")));
        o.insert("writer".into(), Value::from("zarrcore"));
        o.insert("writer_family".into(), Value::from("zarrcore"));
        if o.get("consolidated").and_then(Value::as_bool) == Some(true)
            && o["path"].as_str() == Some("")
        {
            let rel = o["store"]
                .as_str()
                .ok_or("group without store")?
                .to_string();
            let s = c.store(&rel)?;
            hierarchy::consolidate(&s, "").map_err(|e| format!("{rel}: consolidate: {e}"))?;
        }
        c.groups.push(entry);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Builder: arrays made the way `zarrcore import` makes them

#[derive(Clone)]
struct Spec {
    store: &'static str,
    path: String,
    format: ZarrFormat,
    dtype: DataType,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    shards: Option<Vec<u64>>,
    codec: CodecSpec,
    endian: Endian,
    order: Order,
    separator: Option<char>,
    fill: Option<FillValue>,
}

impl Spec {
    fn new(store: &'static str, path: String, format: ZarrFormat, dtype: DataType) -> Spec {
        Spec {
            store,
            path,
            format,
            dtype,
            shape: vec![13, 7],
            chunks: vec![5, 4],
            shards: None,
            codec: CodecSpec::None,
            endian: Endian::Little,
            order: Order::C,
            separator: None,
            fill: None,
        }
    }
}

fn v3_codecs() -> Vec<CodecSpec> {
    let mut v = vec![
        CodecSpec::None,
        CodecSpec::Zstd {
            level: 3,
            checksum: false,
        },
        CodecSpec::Zstd {
            level: 5,
            checksum: true,
        },
        CodecSpec::Gzip(6),
    ];
    for cname in [
        BloscCompressor::Lz4,
        BloscCompressor::Lz4Hc,
        BloscCompressor::BloscLz,
        BloscCompressor::Zstd,
        BloscCompressor::Zlib,
    ] {
        for shuffle in [
            BloscShuffle::NoShuffle,
            BloscShuffle::Shuffle,
            BloscShuffle::BitShuffle,
        ] {
            v.push(CodecSpec::Blosc {
                cname,
                clevel: 5,
                shuffle,
            });
        }
    }
    v
}

fn v2_codecs() -> Vec<CodecSpec> {
    let mut v = v3_codecs();
    v.insert(1, CodecSpec::Zlib(1));
    v.insert(2, CodecSpec::Lz4(1));
    v.push(CodecSpec::Zlib(9));
    v.push(CodecSpec::Lz4(8));
    v
}

/// Fill values worth trying for `dt` (v2 adds `null`).
fn fills(dt: DataType, format: ZarrFormat) -> Vec<FillValue> {
    let j = |v: Value| FillValue::from_json(&v, dt, format).expect("valid fill");
    let mut out = vec![FillValue::zero(dt)];
    match dt {
        DataType::Bool => out.push(j(json!(true))),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            out.extend([
                j(json!("NaN")),
                j(json!(-1.5)),
                j(json!("Infinity")),
                j(json!("-Infinity")),
            ]);
        }
        DataType::Complex64 | DataType::Complex128 => {
            out.extend([j(json!([1.5, -2.0])), j(json!(["NaN", "Infinity"]))]);
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            out.push(j(json!(-7)));
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            out.push(j(json!(200)));
        }
        DataType::Bytes(_) => out.push(j(json!("eA=="))),
        DataType::Unicode(_) => out.push(j(json!("é"))),
        DataType::DateTime64(_) | DataType::TimeDelta64(_) => out.push(j(json!("NaT"))),
        DataType::RawBytes(_) | DataType::RawBits(_) | DataType::Structured(_) => {
            out.push(j(json!("eA==")))
        }
        // Not in this corpus (variable-length arrays: tests/python/test_vlen.py).
        DataType::VlenString | DataType::VlenBytes => {}
    }
    if format == ZarrFormat::V2 {
        out.push(FillValue::null(dt));
    }
    out
}

fn dt_name(dt: DataType) -> String {
    dt.to_string()
}

fn codec_name(c: &CodecSpec) -> String {
    c.to_string().replace(':', "_")
}

fn builder_specs() -> Vec<Spec> {
    use ZarrFormat::{V2, V3};
    let mut specs = vec![];
    for (format, store) in [
        (V3, "stores/builder_v3.zarr"),
        (V2, "stores/builder_v2.zarr"),
    ] {
        let codecs = if format == V3 {
            v3_codecs()
        } else {
            v2_codecs()
        };
        // Every numeric type in both byte orders, codecs and fills rotating.
        let mut i = 0usize;
        for dt in DataType::NUMERIC {
            for endian in [Endian::Little, Endian::Big] {
                if endian == Endian::Big && !dt.has_byte_order() {
                    continue;
                }
                let mut s = Spec::new(
                    store,
                    format!("dtypes/{}/{}", endian.as_str(), dt_name(dt)),
                    format,
                    dt,
                );
                s.endian = endian;
                s.codec = codecs[i % codecs.len()].clone();
                let f = fills(dt, format);
                s.fill = Some(f[i % f.len()].clone());
                if format == V2 && i % 3 == 1 {
                    s.order = Order::F;
                }
                specs.push(s);
                i += 1;
            }
        }
        // Every codec choice, over types of several sizes (blosc typesize).
        let dts = [
            DataType::Float32,
            DataType::Int16,
            DataType::UInt8,
            DataType::Float64,
            DataType::Complex64,
        ];
        for (k, codec) in codecs.iter().enumerate() {
            let dt = dts[k % dts.len()];
            let mut s = Spec::new(store, format!("codecs/{}", codec_name(codec)), format, dt);
            s.shape = vec![20, 9];
            s.chunks = vec![8, 4];
            s.codec = codec.clone();
            s.endian = if k % 4 == 3 {
                Endian::Big
            } else {
                Endian::Little
            };
            if format == V2 && k % 2 == 1 {
                s.order = Order::F;
            }
            specs.push(s);
        }
        // Shapes.
        let shapes: [(&str, Vec<u64>, Vec<u64>); 9] = [
            ("d0", vec![], vec![]),
            ("d1", vec![100], vec![7]),
            ("d3", vec![6, 5, 4], vec![4, 2, 3]),
            ("d4", vec![3, 4, 5, 2], vec![2, 3, 2, 2]),
            ("zero_len", vec![0, 5], vec![2, 2]),
            ("zero_len_3d", vec![4, 0, 3], vec![2, 2, 2]),
            ("chunk_larger", vec![3, 4], vec![10, 10]),
            ("edge_chunk1", vec![5], vec![1]),
            ("exact_fit", vec![8, 6], vec![4, 3]),
        ];
        for (k, (name, shape, chunks)) in shapes.into_iter().enumerate() {
            let dt = [DataType::Float64, DataType::Int8, DataType::UInt32][k % 3];
            let mut s = Spec::new(store, format!("shapes/{name}"), format, dt);
            s.shape = shape;
            s.chunks = chunks;
            s.codec = CodecSpec::Zstd {
                level: 1,
                checksum: false,
            };
            let f = fills(dt, format);
            s.fill = Some(f[k % 2].clone());
            if format == V2 && k % 2 == 0 {
                s.order = Order::F;
            }
            specs.push(s);
        }
        // Chunk key separators.
        for sep in ['.', '/'] {
            let name = if sep == '.' { "dot" } else { "slash" };
            let mut s = Spec::new(store, format!("separators/{name}"), format, DataType::Int32);
            s.shape = vec![6, 5, 4];
            s.chunks = vec![4, 2, 3];
            s.separator = Some(sep);
            specs.push(s);
        }
    }
    // v2 strings.
    for (name, dt, endian) in [
        ("S5", DataType::Bytes(5), Endian::Little),
        ("S1", DataType::Bytes(1), Endian::Little),
        ("leU3", DataType::Unicode(3), Endian::Little),
        ("beU4", DataType::Unicode(4), Endian::Big),
    ] {
        for (k, fill) in fills(dt, ZarrFormat::V2).into_iter().enumerate() {
            let mut s = Spec::new(
                "stores/builder_v2.zarr",
                format!("strings/{name}_fill{k}"),
                ZarrFormat::V2,
                dt,
            );
            s.shape = vec![11];
            s.chunks = vec![4];
            s.endian = endian;
            s.fill = Some(fill);
            s.codec = CodecSpec::Zstd {
                level: 1,
                checksum: false,
            };
            specs.push(s);
        }
    }
    // v3 shards (edge shards, empty inner chunks).
    let shard = |k: usize,
                 name: &str,
                 dt: DataType,
                 shape: Vec<u64>,
                 chunks: Vec<u64>,
                 shards: Vec<u64>,
                 codec: CodecSpec| {
        let mut s = Spec::new(
            "stores/builder_v3.zarr",
            format!("sharded/{name}"),
            ZarrFormat::V3,
            dt,
        );
        s.shape = shape;
        s.chunks = chunks;
        s.shards = Some(shards);
        s.codec = codec;
        s.fill = Some(fills(dt, ZarrFormat::V3)[k % 2].clone());
        s
    };
    let zstd = CodecSpec::Zstd {
        level: 3,
        checksum: false,
    };
    let bitshuffle = CodecSpec::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 5,
        shuffle: BloscShuffle::BitShuffle,
    };
    let mut big = shard(
        2,
        "gzip_3d_big",
        DataType::Int32,
        vec![5, 6, 7],
        vec![2, 3, 2],
        vec![4, 6, 4],
        CodecSpec::Gzip(5),
    );
    big.endian = Endian::Big;
    specs.extend([
        shard(
            0,
            "zstd",
            DataType::Float64,
            vec![17, 11],
            vec![4, 3],
            vec![8, 6],
            zstd,
        ),
        shard(
            1,
            "blosc_1d_nan",
            DataType::Float32,
            vec![30],
            vec![5],
            vec![10],
            bitshuffle,
        ),
        big,
        shard(
            3,
            "none",
            DataType::UInt16,
            vec![9, 9],
            vec![3, 3],
            vec![9, 9],
            CodecSpec::None,
        ),
    ]);
    // Zip stores.
    for (format, store) in [
        (ZarrFormat::V3, "stores/builder_v3.zip"),
        (ZarrFormat::V2, "stores/builder_v2.zip"),
    ] {
        let mut a = Spec::new(store, "a_zstd".into(), format, DataType::Float32);
        a.codec = CodecSpec::Zstd {
            level: 3,
            checksum: false,
        };
        a.fill = Some(fills(DataType::Float32, format)[1].clone());
        let mut b = Spec::new(store, "inner/b_blosc".into(), format, DataType::Int64);
        b.codec = CodecSpec::Blosc {
            cname: BloscCompressor::Zstd,
            clevel: 3,
            shuffle: BloscShuffle::Shuffle,
        };
        b.endian = Endian::Big;
        let mut cc = Spec::new(store, "inner/c".into(), format, DataType::UInt8);
        cc.shape = vec![10, 10, 3];
        cc.chunks = vec![4, 4, 3];
        if format == ZarrFormat::V3 {
            cc.chunks = vec![2, 2, 3];
            cc.shards = Some(vec![4, 4, 3]);
        } else {
            cc.order = Order::F;
            cc.codec = CodecSpec::Zlib(1);
        }
        specs.extend([a, b, cc]);
    }
    specs
}

/// Exact v3 chains given as JSON: what the builder cannot choose.
fn json_specs() -> Vec<(&'static str, Value)> {
    let bytes = |e: &str| json!({"name": "bytes", "configuration": {"endian": e}});
    let doc = |shape: Value, chunks: Value, dt: &str, fill: Value, codecs: Value| {
        json!({
            "zarr_format": 3, "node_type": "array", "shape": shape, "data_type": dt,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill, "codecs": codecs, "attributes": {"chain": "json"},
        })
    };
    vec![
        (
            "transpose_crc32c_big",
            doc(
                json!([7, 6, 5]),
                json!([3, 4, 5]),
                "float32",
                json!("NaN"),
                json!([{"name": "transpose", "configuration": {"order": [2, 0, 1]}}, bytes("big"),
                       {"name": "zstd", "configuration": {"level": 1, "checksum": false}}, {"name": "crc32c"}]),
            ),
        ),
        (
            "shard_index_start",
            doc(
                json!([12, 10]),
                json!([6, 10]),
                "int16",
                json!(-3),
                json!([{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [3, 5],
                    "codecs": [bytes("little"), {"name": "gzip", "configuration": {"level": 1}}],
                    "index_codecs": [bytes("little"), {"name": "crc32c"}],
                    "index_location": "start"}}]),
            ),
        ),
        (
            "shard_nested",
            doc(
                json!([16, 16]),
                json!([8, 8]),
                "uint32",
                json!(0),
                json!([{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [4, 4],
                    "codecs": [{"name": "sharding_indexed", "configuration": {
                        "chunk_shape": [2, 2],
                        "codecs": [bytes("little")],
                        "index_codecs": [bytes("little")],
                        "index_location": "end"}}],
                    "index_codecs": [bytes("little"), {"name": "crc32c"}],
                    "index_location": "end"}}]),
            ),
        ),
        (
            "shard_inner_transpose_crc",
            doc(
                json!([4, 6, 5]),
                json!([4, 6, 5]),
                "complex64",
                json!([1.0, "-Infinity"]),
                json!([{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [2, 3, 5],
                    "codecs": [{"name": "transpose", "configuration": {"order": [2, 1, 0]}},
                               bytes("big"), {"name": "crc32c"}],
                    "index_codecs": [bytes("big")],
                    "index_location": "start"}}]),
            ),
        ),
    ]
}

fn builder(c: &mut Corpus) -> Res<()> {
    let root_attrs = |format: ZarrFormat| -> Map<String, Value> {
        json!({"writer": "zarrcore", "format": format.number(),
               "nested": {"list": [1, 2.5, "x", null, true], "empty": {}},
               "unicode": "Grüße ✓"})
        .as_object()
        .cloned()
        .unwrap_or_default()
    };
    let stores = [
        ("stores/builder_v3.zarr", ZarrFormat::V3, true),
        ("stores/builder_v2.zarr", ZarrFormat::V2, true),
        ("stores/builder_v3.zip", ZarrFormat::V3, true),
        ("stores/builder_v2.zip", ZarrFormat::V2, false),
    ];
    for (rel, format, _) in stores {
        let s = c.store(rel)?;
        Group::create(&s, "", format, root_attrs(format))?;
        c.nodes
            .entry(rel.to_string())
            .or_default()
            .insert(String::new());
        let mut attrs = Map::new();
        attrs.insert("depth".into(), json!(1));
        Group::create(&s, "empty_group", format, attrs)?;
        c.nodes
            .entry(rel.to_string())
            .or_default()
            .insert("empty_group".into());
    }
    let mut all: Vec<(Spec, Option<Value>)> =
        builder_specs().into_iter().map(|s| (s, None)).collect();
    for (name, doc) in json_specs() {
        let s = Spec::new(
            "stores/builder_v3.zarr",
            format!("json/{name}"),
            ZarrFormat::V3,
            DataType::UInt8,
        );
        all.push((s, Some(doc)));
    }
    for (spec, doc) in all {
        let s = c.store(spec.store)?;
        let id = format!(
            "zc_builder_v{}_{}{}",
            spec.format.number(),
            if spec.store.ends_with(".zip") {
                "zip_"
            } else {
                ""
            },
            spec.path.replace('/', "_")
        );
        let mut attrs = Map::new();
        attrs.insert("id".into(), json!(id));
        let a = match &doc {
            Some(d) => Array::create_from_json(&s, &spec.path, d, false),
            None => {
                let mut b = ArrayBuilder::new(spec.shape.clone(), spec.dtype)
                    .zarr_format(spec.format)
                    .chunks(spec.chunks.clone())
                    .codec(spec.codec.clone())
                    .endian(spec.endian)
                    .order(spec.order)
                    .attributes(attrs);
                if let Some(sh) = &spec.shards {
                    b = b.shards(sh.clone());
                }
                if let Some(sep) = spec.separator {
                    b = b.separator(sep);
                }
                if let Some(f) = &spec.fill {
                    b = b.fill_value(f.clone());
                }
                b.create(&s, &spec.path)
            }
        }
        .map_err(|e| format!("{id}: create: {e}"))?;
        let meta = a.metadata();
        let whole = meta.fill_value.is_null();
        let dt = meta.data_type;
        let dtype = match meta.zarr_format {
            ZarrFormat::V2 => meta.numpy_dtype(),
            ZarrFormat::V3 => dt.numpy_str(Endian::Little),
        };
        let mut entry = json!({
            "id": id,
            "store": spec.store,
            "store_type": store_type(spec.store),
            "array_path": spec.path,
            "zarr_format": meta.zarr_format.number(),
            "dtype": dtype,
            "shape": meta.shape,
            "chunks": meta.read_chunk_shape(),
            "shards": meta.shard_shape(),
            "fill_value": meta.fill_value.to_json(dt, meta.zarr_format),
            "attributes": meta.attributes,
            "codec_names": meta.codecs.names(),
            "order": match meta.order { Order::C => "C", Order::F => "F" },
            "writer": "zarrcore",
            "writer_family": "zarrcore",
            "features": ["writer:zarrcore-builder"],
        });
        drop(meta);
        let written = c.write_values(&s, a, &id, whole)?;
        if let (Some(o), Some(w)) = (entry.as_object_mut(), written.as_object()) {
            for (k, v) in w {
                o.insert(k.clone(), v.clone());
            }
        }
        c.arrays.push(entry);
        let nodes = c.nodes.entry(spec.store.to_string()).or_default();
        let segs: Vec<&str> = spec.path.split('/').collect();
        for n in 1..=segs.len() {
            nodes.insert(segs[..n].join("/"));
        }
    }
    // Groups: members from the paths created; consolidate where asked.
    let arrays: BTreeSet<(String, String)> = c
        .arrays
        .iter()
        .filter_map(|a| {
            Some((
                a["store"].as_str()?.to_string(),
                a["array_path"].as_str()?.to_string(),
            ))
        })
        .collect();
    for (rel, format, consolidated) in stores {
        let s = c.store(rel)?;
        let nodes = c.nodes.get(rel).cloned().unwrap_or_default();
        for p in &nodes {
            if arrays.contains(&(rel.to_string(), p.clone())) {
                continue;
            }
            let prefix = if p.is_empty() {
                String::new()
            } else {
                format!("{p}/")
            };
            let members: Vec<&str> = nodes
                .iter()
                .filter_map(|q| q.strip_prefix(&prefix))
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .collect();
            let attrs = match p.as_str() {
                "" => Value::Object(root_attrs(format)),
                "empty_group" => json!({"depth": 1}),
                _ => json!({}),
            };
            c.groups.push(json!({
                "id": format!("zc_{rel}:/{p}"),
                "store": rel,
                "store_type": store_type(rel),
                "path": p,
                "zarr_format": format.number(),
                "attributes": attrs,
                "members": members,
                "consolidated": consolidated && p.is_empty(),
                "writer": "zarrcore",
            }));
        }
        if consolidated {
            hierarchy::consolidate(&s, "").map_err(|e| format!("{rel}: consolidate: {e}"))?;
        }
    }
    Ok(())
}

fn run() -> Res<(usize, usize)> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().ok_or(
        "usage: interop_corpus OUT_DIR [FIXTURES_DIR]  (FIXTURES_DIR: the folder of manifest.json)",
    )?);
    let fixtures = match args.next() {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("ZARRCORE_FIXTURES") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/zarr"),
        },
    };
    std::fs::create_dir_all(out.join("stores"))?;
    std::fs::create_dir_all(out.join("expected"))?;
    let mut c = Corpus {
        out,
        stores: BTreeMap::new(),
        arrays: vec![],
        groups: vec![],
        nodes: BTreeMap::new(),
    };
    mirror(&mut c, &fixtures)?;
    builder(&mut c)?;
    c.finish()
}

fn main() -> ExitCode {
    match run() {
        Ok((a, g)) => {
            println!("interop_corpus: wrote {a} arrays and {g} groups");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("interop_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Property tests of round trips: random arrays (0-d to 4-d shapes with
//! zero-length dimensions, chunk shapes up to larger than the array, every
//! data type, Zarr v2 and v3, codec chains from `none` to nested sharding,
//! fill values) get random writes — hyper-rectangles in C or F order and
//! either byte order, linear byte ranges at odd offsets, regions of fill
//! value — and every read is compared with a reference model: a plain
//! C-order buffer updated by an independent element-by-element
//! implementation written here.
//!
//! Each case runs in phases: writes (reads through the write handle see
//! them), close, reads through a read handle (whole, random regions, odd
//! byte ranges, and which chunks are stored), then partial writes over the
//! stored data, close, and all reads again.
//!
//! `PROPTEST_CASES` overrides the number of cases.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use zarrcore::nd::for_each_index;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use zarrcore::codec::{BloscCompressor, BloscShuffle};
use zarrcore::metadata::ZarrFormat;
use zarrcore::store::{DirectoryStore, MemoryStore, ZipStore};
use zarrcore::{
    Array, ArrayBuilder, CodecSpec, DataType, Endian, FillValue, Layout, Mode, Order, Region,
    StoreOptions, StoreRef,
};

// ---------------------------------------------------------------------------
// A small deterministic generator for data and regions (proptest chooses the
// seeds).

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

// ---------------------------------------------------------------------------
// The reference model: element-by-element, independent of the engine's
// geometry code.

/// Bytes reversed by a byte-order change (1: the type has no byte order).
fn swap_unit(dt: DataType) -> usize {
    match dt {
        DataType::Complex64 => 4,
        DataType::Complex128 => 8,
        DataType::Bytes(_) | DataType::Bool | DataType::Int8 | DataType::UInt8 => 1,
        DataType::Unicode(_) => 4,
        other => other.size(),
    }
}

fn swapped(buf: &[u8], unit: usize) -> Vec<u8> {
    let mut v = buf.to_vec();
    if unit > 1 {
        for c in v.chunks_mut(unit) {
            c.reverse();
        }
    }
    v
}

fn c_pos(idx: &[u64], shape: &[u64]) -> usize {
    idx.iter()
        .zip(shape)
        .fold(0u64, |acc, (&i, &n)| acc * n + i) as usize
}

fn f_pos(idx: &[u64], shape: &[u64]) -> usize {
    idx.iter()
        .zip(shape)
        .rev()
        .fold(0u64, |acc, (&i, &n)| acc * n + i) as usize
}

fn num_elements(shape: &[u64]) -> usize {
    shape.iter().product::<u64>() as usize
}

struct Model {
    shape: Vec<u64>,
    elem: usize,
    data: Vec<u8>,
}

impl Model {
    fn read(&self, r: &Region) -> Vec<u8> {
        let e = self.elem;
        let mut out = vec![0u8; num_elements(&r.shape) * e];
        let mut k = 0;
        for_each_index(&r.shape, |i| {
            let g: Vec<u64> = i.iter().zip(&r.start).map(|(a, b)| a + b).collect();
            let p = c_pos(&g, &self.shape) * e;
            out[k * e..(k + 1) * e].copy_from_slice(&self.data[p..p + e]);
            k += 1;
        });
        out
    }

    fn write(&mut self, r: &Region, src: &[u8]) {
        let e = self.elem;
        let mut k = 0;
        for_each_index(&r.shape, |i| {
            let g: Vec<u64> = i.iter().zip(&r.start).map(|(a, b)| a + b).collect();
            let p = c_pos(&g, &self.shape) * e;
            self.data[p..p + e].copy_from_slice(&src[k * e..(k + 1) * e]);
            k += 1;
        });
    }
}

/// A C-order native buffer of `shape` in `layout`.
fn to_layout(
    c: &[u8],
    shape: &[u64],
    elem: usize,
    order: Order,
    unit: usize,
    swap: bool,
) -> Vec<u8> {
    let mut out = vec![0u8; c.len()];
    let mut k = 0;
    for_each_index(shape, |i| {
        let p = match order {
            Order::C => k,
            Order::F => f_pos(i, shape),
        };
        out[p * elem..(p + 1) * elem].copy_from_slice(&c[k * elem..(k + 1) * elem]);
        k += 1;
    });
    if swap {
        swapped(&out, unit)
    } else {
        out
    }
}

fn from_layout(
    buf: &[u8],
    shape: &[u64],
    elem: usize,
    order: Order,
    unit: usize,
    swap: bool,
) -> Vec<u8> {
    let buf = if swap {
        swapped(buf, unit)
    } else {
        buf.to_vec()
    };
    let mut out = vec![0u8; buf.len()];
    let mut k = 0;
    for_each_index(shape, |i| {
        let p = match order {
            Order::C => k,
            Order::F => f_pos(i, shape),
        };
        out[k * elem..(k + 1) * elem].copy_from_slice(&buf[p * elem..(p + 1) * elem]);
        k += 1;
    });
    out
}

fn first_difference(got: &[u8], want: &[u8], elem: usize) -> String {
    if got.len() != want.len() {
        return format!("{} bytes, expected {}", got.len(), want.len());
    }
    let i = got
        .chunks(elem.max(1))
        .zip(want.chunks(elem.max(1)))
        .position(|(a, b)| a != b)
        .unwrap_or(0);
    let e = elem.max(1);
    format!(
        "element {i}: got {:?}, expected {:?}",
        &got[i * e..(i + 1) * e],
        &want[i * e..(i + 1) * e]
    )
}

// ---------------------------------------------------------------------------
// Values

/// One random element of `dt` in native byte order, often a special value.
fn element(dt: DataType, rng: &mut Rng) -> Vec<u8> {
    let le = element_le(dt, rng);
    if Endian::native() == Endian::Little {
        le
    } else {
        swapped(&le, swap_unit(dt))
    }
}

/// One random element of `dt`, little-endian.
fn element_le(dt: DataType, rng: &mut Rng) -> Vec<u8> {
    let special = rng.below(3) == 0;
    match dt {
        DataType::Bool => vec![rng.below(2) as u8],
        DataType::Float16 if special => {
            let v: [u16; 7] = [0x7e00, 0x7c00, 0xfc00, 0x8000, 0x0001, 0x7bff, 0x7d01];
            v[rng.below(7) as usize].to_le_bytes().to_vec()
        }
        DataType::Float32 if special => {
            let v = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                -0.0,
                f32::from_bits(1),
                f32::MAX,
                f32::MIN_POSITIVE,
            ];
            v[rng.below(7) as usize].to_le_bytes().to_vec()
        }
        DataType::Float64 if special => {
            let v = [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                f64::from_bits(1),
                f64::MAX,
                f64::from_bits(0x7ff0_0000_0000_0abc),
            ];
            v[rng.below(7) as usize].to_le_bytes().to_vec()
        }
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
            let v = [min, min - 1, 0, u64::MAX];
            v[rng.below(4) as usize].to_le_bytes()[..n].to_vec()
        }
        DataType::Bytes(n) => (0..n)
            .map(|_| match rng.below(4) {
                0 => 0,
                _ => b'a' + rng.below(26) as u8,
            })
            .collect(),
        DataType::Unicode(n) => (0..n)
            .flat_map(|_| {
                let c = match rng.below(4) {
                    0 => 0,
                    1 => 0x4e00 + rng.below(100) as u32,
                    2 => 0x1f600 + rng.below(50) as u32,
                    _ => 0x41 + rng.below(26) as u32,
                };
                c.to_le_bytes()
            })
            .collect(),
        other => {
            let n = other.size();
            rng.next().to_le_bytes()[..n].to_vec()
        }
    }
}

/// `n` elements, about `fill_pct`% of them the fill value.
fn values(dt: DataType, n: usize, seed: u64, fill_pct: u8, fill: &[u8]) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n * dt.size());
    for _ in 0..n {
        if rng.below(100) < fill_pct as u64 {
            out.extend_from_slice(fill);
        } else {
            out.extend(element(dt, &mut rng));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Cases

#[derive(Debug, Clone)]
enum Fill {
    Zero,
    Random(u64),
    /// v2 `null`.
    Null,
}

#[derive(Debug, Clone)]
enum Compressor {
    Zstd {
        level: i32,
        checksum: bool,
    },
    Gzip(u32),
    Blosc {
        cname: &'static str,
        clevel: u8,
        shuffle: &'static str,
        typesize: Option<usize>,
    },
    /// v3 `numcodecs.zlib` / `numcodecs.lz4`.
    Zlib,
    Lz4,
}

impl Compressor {
    fn json(&self, item: usize) -> Value {
        match self {
            Compressor::Zstd { level, checksum } => {
                json!({"name": "zstd", "configuration": {"level": level, "checksum": checksum}})
            }
            Compressor::Gzip(l) => json!({"name": "gzip", "configuration": {"level": l}}),
            Compressor::Blosc {
                cname,
                clevel,
                shuffle,
                typesize,
            } => json!({"name": "blosc", "configuration": {
                "cname": cname, "clevel": clevel, "shuffle": shuffle,
                "typesize": typesize.unwrap_or(item), "blocksize": 0}}),
            Compressor::Zlib => json!({"name": "numcodecs.zlib", "configuration": {"level": 1}}),
            Compressor::Lz4 => {
                json!({"name": "numcodecs.lz4", "configuration": {"acceleration": 1}})
            }
        }
    }
}

/// A `sharding_indexed` codec: shards of `factor` inner chunks per dimension.
#[derive(Debug, Clone)]
struct Sharding {
    factor: Vec<u64>,
    /// Transpose inside the shard's inner chain (when not nested).
    inner_transpose: Option<Vec<usize>>,
    /// A second level of sharding inside.
    nested: Option<Box<Sharding>>,
    endian: Endian,
    compressor: Option<Compressor>,
    crc: bool,
    index_crc: bool,
    index_big_endian: bool,
    index_at_start: bool,
}

#[derive(Debug, Clone)]
enum Storage {
    /// Through [`ArrayBuilder`].
    Builder {
        format: ZarrFormat,
        codec: CodecSpec,
        endian: Endian,
        order: Order,
        separator: char,
        shard_factor: Option<Vec<u64>>,
    },
    /// An exact v3 codec chain through [`Array::create_from_json`].
    V3Chain {
        transpose: Option<Vec<usize>>,
        sharding: Option<Sharding>,
        endian: Endian,
        compressor: Option<Compressor>,
        crc: bool,
        v2_keys: bool,
        separator: char,
    },
}

#[derive(Debug, Clone, Copy)]
enum StoreKind {
    Memory,
    Directory,
    Zip,
}

#[derive(Debug, Clone)]
enum Op {
    /// Write a hyper-rectangle (chosen by `seed`) in a layout.
    Region {
        seed: u64,
        fill_pct: u8,
        f_order: bool,
        swap: bool,
    },
    /// Write a linear byte range (any offset and length).
    Bytes { seed: u64, swap: bool },
}

#[derive(Debug, Clone)]
struct Case {
    shape: Vec<u64>,
    /// The read chunk shape (inner chunks when sharded).
    chunks: Vec<u64>,
    dtype: DataType,
    fill: Fill,
    storage: Storage,
    store: StoreKind,
    first: Vec<Op>,
    second: Vec<Op>,
    read_seed: u64,
}

const NUMERIC: [DataType; 14] = DataType::NUMERIC;
const MAX_CELL_ELEMENTS: u64 = 2048;

fn compressor_v3() -> impl Strategy<Value = Compressor> {
    prop_oneof![
        (-2i32..=5, any::<bool>())
            .prop_map(|(level, checksum)| Compressor::Zstd { level, checksum }),
        (0u32..=9).prop_map(Compressor::Gzip),
        (
            prop::sample::select(vec!["lz4", "lz4hc", "blosclz", "zstd", "zlib"]),
            0u8..=9,
            prop::sample::select(vec!["noshuffle", "shuffle", "bitshuffle"]),
            prop::option::of(1usize..=8),
        )
            .prop_map(|(cname, clevel, shuffle, typesize)| Compressor::Blosc {
                cname,
                clevel,
                shuffle,
                typesize,
            }),
        Just(Compressor::Zlib),
        Just(Compressor::Lz4),
    ]
}

fn codec_spec(v2: bool) -> BoxedStrategy<CodecSpec> {
    let blosc = (
        prop::sample::select(vec![
            BloscCompressor::Lz4,
            BloscCompressor::Lz4Hc,
            BloscCompressor::BloscLz,
            BloscCompressor::Zstd,
            BloscCompressor::Zlib,
        ]),
        1u8..=9,
        prop::sample::select(vec![
            BloscShuffle::NoShuffle,
            BloscShuffle::Shuffle,
            BloscShuffle::BitShuffle,
        ]),
    )
        .prop_map(|(cname, clevel, shuffle)| CodecSpec::Blosc {
            cname,
            clevel,
            shuffle,
        });
    let common = prop_oneof![
        Just(CodecSpec::None),
        (1i32..=5, any::<bool>()).prop_map(|(level, checksum)| CodecSpec::Zstd { level, checksum }),
        (1u32..=9).prop_map(CodecSpec::Gzip),
        blosc,
    ];
    if v2 {
        prop_oneof![
            4 => common,
            1 => (0u32..=9).prop_map(CodecSpec::Zlib),
            1 => (1i64..=8).prop_map(CodecSpec::Lz4),
        ]
        .boxed()
    } else {
        common.boxed()
    }
}

fn endian() -> impl Strategy<Value = Endian> {
    prop_oneof![Just(Endian::Little), Just(Endian::Big)]
}

fn permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
}

fn sharding(nd: usize, depth: u32) -> BoxedStrategy<Sharding> {
    let nested = if depth == 0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(0.3, sharding(nd, depth - 1).prop_map(Box::new)).boxed()
    };
    (
        prop::collection::vec(1u64..=3, nd),
        prop::option::weighted(0.3, permutation(nd)),
        nested,
        endian(),
        prop::option::weighted(0.5, compressor_v3()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                factor,
                inner_transpose,
                nested,
                endian,
                compressor,
                crc,
                index_crc,
                index_big_endian,
                index_at_start,
            )| Sharding {
                inner_transpose: if nested.is_some() {
                    None
                } else {
                    inner_transpose
                },
                factor,
                nested,
                endian,
                compressor,
                crc,
                index_crc,
                index_big_endian,
                index_at_start,
            },
        )
        .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u64>(), prop::sample::select(vec![0u8, 0, 30, 100]), any::<bool>(), any::<bool>())
            .prop_map(|(seed, fill_pct, f_order, swap)| Op::Region { seed, fill_pct, f_order, swap }),
        1 => (any::<u64>(), any::<bool>()).prop_map(|(seed, swap)| Op::Bytes { seed, swap }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (0usize..=4, any::<bool>()).prop_flat_map(|(nd, v2)| {
        let dims = prop::collection::vec(prop_oneof![1 => Just(0u64), 12 => 1u64..=9], nd);
        let chunks = prop::collection::vec(1u64..=11, nd);
        let dtype = if v2 {
            prop_oneof![
                8 => prop::sample::select(NUMERIC.to_vec()),
                1 => (1usize..=5).prop_map(DataType::Bytes),
                1 => (1usize..=3).prop_map(DataType::Unicode),
            ]
            .boxed()
        } else {
            prop::sample::select(NUMERIC.to_vec()).boxed()
        };
        let fill = if v2 {
            prop_oneof![
                2 => Just(Fill::Zero),
                2 => any::<u64>().prop_map(Fill::Random),
                1 => Just(Fill::Null)
            ]
            .boxed()
        } else {
            prop_oneof![Just(Fill::Zero), any::<u64>().prop_map(Fill::Random)].boxed()
        };
        let storage = if v2 {
            (
                codec_spec(true),
                endian(),
                prop_oneof![Just(Order::C), Just(Order::F)],
                prop_oneof![Just('.'), Just('/')],
            )
                .prop_map(|(codec, endian, order, separator)| Storage::Builder {
                    format: ZarrFormat::V2,
                    codec,
                    endian,
                    order,
                    separator,
                    shard_factor: None,
                })
                .boxed()
        } else {
            prop_oneof![
                (
                    codec_spec(false),
                    endian(),
                    prop_oneof![Just('.'), Just('/')],
                    prop::option::weighted(0.3, prop::collection::vec(1u64..=3, nd)),
                )
                    .prop_map(|(codec, endian, separator, shard_factor)| {
                        Storage::Builder {
                            format: ZarrFormat::V3,
                            codec,
                            endian,
                            order: Order::C,
                            separator,
                            shard_factor,
                        }
                    }),
                (
                    prop::option::weighted(0.4, permutation(nd)),
                    prop::option::weighted(0.5, sharding(nd, 1)),
                    endian(),
                    prop::option::weighted(0.4, compressor_v3()),
                    any::<bool>(),
                    any::<bool>(),
                    prop_oneof![Just('.'), Just('/')],
                )
                    .prop_map(
                        |(transpose, sharding, endian, compressor, crc, v2_keys, separator)| {
                            Storage::V3Chain {
                                transpose,
                                sharding,
                                endian,
                                compressor,
                                crc,
                                v2_keys,
                                separator,
                            }
                        }
                    ),
            ]
            .boxed()
        };
        let store = prop_oneof![
            6 => Just(StoreKind::Memory),
            1 => Just(StoreKind::Directory),
            1 => Just(StoreKind::Zip),
        ];
        (
            dims,
            chunks,
            dtype,
            fill,
            storage,
            store,
            prop::collection::vec(op(), 1..=4),
            prop::collection::vec(op(), 0..=3),
            any::<u64>(),
        )
            .prop_map(
                |(shape, chunks, dtype, fill, storage, store, first, second, read_seed)| Case {
                    shape,
                    chunks,
                    dtype,
                    fill,
                    storage,
                    store,
                    first,
                    second,
                    read_seed,
                },
            )
    })
}

// ---------------------------------------------------------------------------
// Building the array

/// Total factor of the sharding levels per dimension.
fn shard_multiplier(s: &Sharding) -> Vec<u64> {
    let mut f = s.factor.clone();
    if let Some(n) = &s.nested {
        for (a, b) in f.iter_mut().zip(shard_multiplier(n)) {
            *a *= b;
        }
    }
    f
}

/// Shrinks `chunks` until a grid cell of `chunks × mult` is small enough
/// for a debug build (or every chunk dimension is 1).
fn clamp_chunks(chunks: &mut [u64], mult: &[u64]) {
    loop {
        let cell: u64 = chunks.iter().zip(mult).map(|(c, m)| c * m).product();
        if cell <= MAX_CELL_ELEMENTS {
            return;
        }
        let Some((i, _)) = chunks
            .iter()
            .zip(mult)
            .enumerate()
            .filter(|(_, (c, _))| **c > 1)
            .max_by_key(|(_, (c, m))| *c * *m)
        else {
            return;
        };
        chunks[i] = chunks[i].div_ceil(2);
    }
}

fn permute(shape: &[u64], p: &[usize]) -> Vec<u64> {
    p.iter().map(|&i| shape[i]).collect()
}

fn bytes_json(dt: DataType, e: Endian) -> Value {
    if dt.size() > 1 {
        json!({"name": "bytes", "configuration": {"endian": e.as_str()}})
    } else {
        json!({"name": "bytes"})
    }
}

/// The sharding codec's JSON for shards of `shard` (array coordinates),
/// seen through the cumulative axis permutation `perm`.
fn sharding_json(s: &Sharding, shard: &[u64], perm: &[usize], dt: DataType) -> Value {
    let inner: Vec<u64> = shard.iter().zip(&s.factor).map(|(a, f)| a / f).collect();
    let mut codecs = vec![];
    let mut inner_perm = perm.to_vec();
    if let Some(t) = &s.inner_transpose {
        codecs.push(json!({"name": "transpose", "configuration": {"order": t}}));
        inner_perm = t.iter().map(|&i| perm[i]).collect();
    }
    codecs.push(match &s.nested {
        Some(n) => sharding_json(n, &inner, &inner_perm, dt),
        None => bytes_json(dt, s.endian),
    });
    if let Some(c) = &s.compressor {
        codecs.push(c.json(dt.size()));
    }
    if s.crc {
        codecs.push(json!({"name": "crc32c"}));
    }
    let mut index = vec![json!({"name": "bytes", "configuration": {
        "endian": if s.index_big_endian { "big" } else { "little" }}})];
    if s.index_crc {
        index.push(json!({"name": "crc32c"}));
    }
    json!({"name": "sharding_indexed", "configuration": {
        "chunk_shape": permute(&inner, perm),
        "codecs": codecs,
        "index_codecs": index,
        "index_location": if s.index_at_start { "start" } else { "end" },
    }})
}

fn fill_value(c: &Case) -> FillValue {
    let dt = c.dtype;
    match &c.fill {
        Fill::Zero => FillValue::zero(dt),
        Fill::Null => FillValue::null(dt),
        Fill::Random(seed) => {
            let mut rng = Rng(*seed);
            let mut e = element(dt, &mut rng);
            if let DataType::Unicode(_) = dt {
                // A representable string: no NUL before the end.
                let le: Vec<u8> = "ab✓"
                    .chars()
                    .cycle()
                    .take(e.len() / 4)
                    .flat_map(|c| (c as u32).to_le_bytes())
                    .collect();
                e = if Endian::native() == Endian::Little {
                    le
                } else {
                    swapped(&le, 4)
                };
            }
            FillValue::from_native_bytes(dt, &e).expect("element has the type's size")
        }
    }
}

/// The store and the guard that keeps its files alive.
fn make_store(
    kind: StoreKind,
) -> (
    StoreRef,
    Option<tempfile::TempDir>,
    Option<std::path::PathBuf>,
) {
    match kind {
        StoreKind::Memory => (Arc::new(MemoryStore::new()), None, None),
        StoreKind::Directory => {
            let t = tempfile::tempdir().unwrap();
            let s = DirectoryStore::open(t.path().join("a.zarr"), StoreOptions::create()).unwrap();
            (Arc::new(s), Some(t), None)
        }
        StoreKind::Zip => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().join("a.zip");
            let s = ZipStore::open(&p, StoreOptions::create()).unwrap();
            (Arc::new(s), Some(t), Some(p))
        }
    }
}

/// Creates the array of `c` at `path`; returns the handle and the grid cell
/// shape (shards when sharded).
fn create(c: &mut Case, store: &StoreRef, path: &str) -> (Array, Vec<u64>) {
    let nd = c.shape.len();
    let fill = fill_value(c);
    match &c.storage {
        Storage::Builder {
            format,
            codec,
            endian,
            order,
            separator,
            shard_factor,
        } => {
            let mult = shard_factor.clone().unwrap_or(vec![1; nd]);
            clamp_chunks(&mut c.chunks, &mult);
            let mut b = ArrayBuilder::new(c.shape.clone(), c.dtype)
                .chunks(c.chunks.clone())
                .zarr_format(*format)
                .codec(codec.clone())
                .endian(*endian)
                .order(*order)
                .separator(*separator)
                .fill_value(fill);
            let mut cell = c.chunks.clone();
            if let Some(f) = shard_factor {
                cell = c.chunks.iter().zip(f).map(|(a, b)| a * b).collect();
                b = b.shards(cell.clone());
            }
            let a = b
                .create(store, path)
                .unwrap_or_else(|e| panic!("create {c:?}: {e}"));
            (a, cell)
        }
        Storage::V3Chain {
            transpose,
            sharding,
            endian,
            compressor,
            crc,
            v2_keys,
            separator,
        } => {
            let mult = sharding
                .as_ref()
                .map(shard_multiplier)
                .unwrap_or(vec![1; nd]);
            clamp_chunks(&mut c.chunks, &mult);
            let cell: Vec<u64> = c.chunks.iter().zip(&mult).map(|(a, b)| a * b).collect();
            let dt = c.dtype;
            let identity: Vec<usize> = (0..nd).collect();
            let mut codecs = vec![];
            let mut perm = identity;
            if let Some(t) = transpose {
                codecs.push(json!({"name": "transpose", "configuration": {"order": t}}));
                perm = t.clone();
            }
            codecs.push(match sharding {
                Some(s) => sharding_json(s, &cell, &perm, dt),
                None => bytes_json(dt, *endian),
            });
            if let Some(cmp) = compressor {
                codecs.push(cmp.json(dt.size()));
            }
            if *crc {
                codecs.push(json!({"name": "crc32c"}));
            }
            let doc = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": c.shape,
                "data_type": dt.to_string(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": cell}},
                "chunk_key_encoding": {
                    "name": if *v2_keys { "v2" } else { "default" },
                    "configuration": {"separator": separator.to_string()}},
                "fill_value": fill.to_json(dt, ZarrFormat::V3),
                "codecs": codecs,
                "attributes": {"case": "property"},
            });
            let a = Array::create_from_json(store, path, &doc, false)
                .unwrap_or_else(|e| panic!("create {doc}: {e}"));
            (a, cell)
        }
    }
}

// ---------------------------------------------------------------------------
// Running a case

/// A region of `shape` chosen by `seed`: random, whole, grid-aligned cells,
/// or one element.
fn region(shape: &[u64], cell: &[u64], seed: u64) -> Region {
    let mut rng = Rng(seed);
    let mode = rng.below(5);
    let mut start = vec![];
    let mut count = vec![];
    for (&n, &c) in shape.iter().zip(cell) {
        let (s, k) = match mode {
            1 => (0, n),
            2 if n > 0 => {
                let cells = n.div_ceil(c);
                let a = rng.below(cells);
                let b = a + 1 + rng.below(cells - a);
                (a * c, (b * c).min(n) - a * c)
            }
            3 if n > 0 => (rng.below(n), 1),
            _ => {
                let s = rng.below(n + 1);
                (s, rng.below(n - s + 1))
            }
        };
        start.push(s);
        count.push(k);
    }
    Region::new(start, count)
}

struct Ctx<'a> {
    case: &'a Case,
    elem: usize,
    unit: usize,
    fill: Vec<u8>,
    cell: Vec<u64>,
}

fn apply(a: &Array, m: &mut Model, op: &Op, cx: &Ctx<'_>) {
    let (e, u) = (cx.elem, cx.unit);
    match *op {
        Op::Region {
            seed,
            fill_pct,
            f_order,
            swap,
        } => {
            let r = region(&m.shape, &cx.cell, seed);
            let n = num_elements(&r.shape);
            let data = values(cx.case.dtype, n, seed ^ 0x5eed, fill_pct, &cx.fill);
            let order = if f_order { Order::F } else { Order::C };
            let endian = if swap {
                opposite(Endian::native())
            } else {
                Endian::native()
            };
            let buf = to_layout(&data, &r.shape, e, order, u, swap);
            a.write_region_with(&r, &buf, Layout { order, endian })
                .unwrap_or_else(|err| panic!("write {r} ({order:?}, {endian:?}): {err}"));
            m.write(&r, &data);
        }
        Op::Bytes { seed, swap } => {
            let total = m.data.len() as u64;
            let mut rng = Rng(seed);
            let off = rng.below(total + 1);
            let len = rng.below(total - off + 1);
            let data = values(DataType::UInt8, len as usize, seed, 0, &[0]);
            let endian = if swap {
                opposite(Endian::native())
            } else {
                Endian::native()
            };
            a.write_bytes(off, &data, endian)
                .unwrap_or_else(|err| panic!("write_bytes {off}+{len}: {err}"));
            // The model: the array's bytes in that byte order, spliced.
            let mut view = if swap {
                swapped(&m.data, u)
            } else {
                m.data.clone()
            };
            view[off as usize..(off + len) as usize].copy_from_slice(&data);
            m.data = if swap { swapped(&view, u) } else { view };
        }
    }
}

fn opposite(e: Endian) -> Endian {
    match e {
        Endian::Little => Endian::Big,
        Endian::Big => Endian::Little,
    }
}

/// Reads `r` in a layout chosen by `seed` and compares with the model.
fn check_region(a: &Array, m: &Model, r: &Region, seed: u64, cx: &Ctx<'_>, when: &str) {
    let (e, u) = (cx.elem, cx.unit);
    let order = if seed & 1 == 1 { Order::F } else { Order::C };
    let swap = seed & 2 == 2;
    let endian = if swap {
        opposite(Endian::native())
    } else {
        Endian::native()
    };
    let mut buf = vec![0u8; num_elements(&r.shape) * e];
    a.read_region_with(r, &mut buf, Layout { order, endian })
        .unwrap_or_else(|err| panic!("{when}: read {r} ({order:?}, {endian:?}): {err}"));
    let got = from_layout(&buf, &r.shape, e, order, u, swap);
    let want = m.read(r);
    assert!(
        got == want,
        "{when}: read {r} ({order:?}, {endian:?}) differs: {}",
        first_difference(&got, &want, e)
    );
}

fn check_all(a: &Array, m: &Model, cx: &Ctx<'_>, seed: u64, when: &str) {
    let all = Region::all(&m.shape);
    let got = a
        .read_region_vec(&all)
        .unwrap_or_else(|err| panic!("{when}: read all: {err}"));
    assert!(
        got == m.data,
        "{when}: whole array differs: {}",
        first_difference(&got, &m.data, cx.elem)
    );
    let mut rng = Rng(seed);
    for _ in 0..3 {
        let r = region(&m.shape, &cx.cell, rng.next());
        check_region(a, m, &r, rng.next(), cx, when);
    }
    // Linear byte ranges at odd offsets, in both byte orders.
    let total = m.data.len() as u64;
    for _ in 0..2 {
        let off = rng.below(total + 1);
        let len = rng.below(total - off + 1);
        let swap = rng.below(2) == 1;
        let endian = if swap {
            opposite(Endian::native())
        } else {
            Endian::native()
        };
        let mut buf = vec![0u8; len as usize];
        a.read_bytes(off, &mut buf, endian)
            .unwrap_or_else(|err| panic!("{when}: read_bytes {off}+{len}: {err}"));
        let view = if swap {
            swapped(&m.data, cx.unit)
        } else {
            m.data.clone()
        };
        assert!(
            buf == view[off as usize..(off + len) as usize],
            "{when}: read_bytes {off}+{len} ({endian:?}) differs"
        );
    }
}

/// Exactly the grid cells that hold something other than the fill value
/// are stored (a cell that ends up all fill value is deleted).
fn check_stored_cells(a: &Array, m: &Model, cx: &Ctx<'_>, when: &str) {
    let grid: Vec<u64> = m
        .shape
        .iter()
        .zip(&cx.cell)
        .map(|(n, c)| n.div_ceil(*c))
        .collect();
    let mut want = vec![];
    for_each_index(&grid, |g| {
        let start: Vec<u64> = g.iter().zip(&cx.cell).map(|(i, c)| i * c).collect();
        let count: Vec<u64> = start
            .iter()
            .zip(&cx.cell)
            .zip(&m.shape)
            .map(|((s, c), n)| (*c).min(n - s))
            .collect();
        let v = m.read(&Region::new(start, count));
        if !v.chunks(cx.elem).all(|x| x == cx.fill.as_slice()) {
            want.push(g.to_vec());
        }
    });
    let got: Vec<Vec<u64>> = a
        .stored_chunks()
        .unwrap_or_else(|e| panic!("{when}: stored_chunks: {e}"))
        .into_iter()
        .map(|c| c.cell)
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "{when}: stored grid cells");
}

/// The case being run (reported if the test times out).
static CURRENT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn run_case(mut c: Case) {
    if let Ok(mut cur) = CURRENT.lock() {
        *cur = format!("{c:?}");
    }
    let (store, _guard, _zip) = make_store(c.store);
    let path = "g/arr";
    let (a, cell) = create(&mut c, &store, path);
    let c = &c;
    let meta = a.metadata();
    let fill = meta.fill_value.as_bytes().to_vec();
    let elem = c.dtype.size();
    let cx = Ctx {
        case: c,
        elem,
        unit: swap_unit(c.dtype),
        fill: fill.clone(),
        cell,
    };
    let n = num_elements(&c.shape);
    let mut m = Model {
        shape: c.shape.clone(),
        elem,
        data: fill.repeat(n),
    };
    drop(meta);
    // Phase 1: writes on a new array; reads through the write handle see them.
    let mut rng = Rng(c.read_seed);
    for (i, op) in c.first.iter().enumerate() {
        apply(&a, &mut m, op, &cx);
        let r = region(&m.shape, &cx.cell, rng.next());
        check_region(
            &a,
            &m,
            &r,
            rng.next(),
            &cx,
            &format!("write handle after op {i}"),
        );
    }
    check_all(&a, &m, &cx, rng.next(), "write handle");
    a.close().unwrap_or_else(|e| panic!("close: {e}"));
    // Phase 2: a read handle sees exactly the model; only non-fill cells are stored.
    let r = Array::open(&store, path, Mode::Read).unwrap_or_else(|e| panic!("open: {e}"));
    check_all(&r, &m, &cx, rng.next(), "read handle");
    check_stored_cells(&r, &m, &cx, "after first writes");
    r.close().unwrap();
    if c.second.is_empty() {
        return;
    }
    // Phase 3: partial writes over stored chunks (read-modify-write).
    let w = Array::open(&store, path, Mode::Write).unwrap_or_else(|e| panic!("reopen: {e}"));
    for op in &c.second {
        apply(&w, &mut m, op, &cx);
    }
    check_all(&w, &m, &cx, rng.next(), "second write handle");
    w.close().unwrap();
    let r = Array::open(&store, path, Mode::Read).unwrap();
    check_all(&r, &m, &cx, rng.next(), "after second writes");
    check_stored_cells(&r, &m, &cx, "after second writes");
}

/// Runs `f` on its own thread, failing if it takes longer than `secs`.
fn with_timeout(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let cur = CURRENT.lock().map(|c| c.clone()).unwrap_or_default();
            panic!("property test timed out after {secs} s; running case: {cur}")
        }
    }
}

fn config(default_cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var("PROPTEST_CASES").is_err() {
        c.cases = default_cases;
    }
    c.max_shrink_iters = 300;
    // Failures print the whole failing case; nothing is written to the tree.
    c.failure_persistence = None;
    c
}

#[test]
fn writes_then_reads_match_the_model() {
    with_timeout(600, || {
        let mut runner = TestRunner::new(config(128));
        let result = runner.run(&case(), |c| {
            let t = std::time::Instant::now();
            let d = format!("{c:?}");
            run_case(c);
            if t.elapsed().as_millis() > 500 {
                eprintln!("SLOW {:?} {d}", t.elapsed());
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    });
}

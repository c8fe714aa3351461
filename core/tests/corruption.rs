//! The corruption suite: for every codec, chunks that are truncated,
//! zero-length, bit-flipped, oversized (trailing bytes, or headers and
//! streams claiming far more than the chunk holds), encoded with the wrong
//! codec, and shards with broken indexes.
//!
//! Each case must give a typed [`Error::Chunk`] naming the chunk's key (or,
//! for a bit flip a codec cannot detect, read without error), never a panic,
//! an abort, a hang or an over-allocation; and `check` must report exactly
//! the cases that reading refuses.
//!
//! Over-allocation is caught twice: a counting global allocator records the
//! largest single Rust allocation during each read, and the suite runs in a
//! child process whose address space is limited (`RLIMIT_AS`), so that an
//! allocation by the C libraries (zstd, c-blosc) trusting a header fails too.
//! The table of outcomes is printed (`--nocapture`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use zarrcore::check::{check_location, CheckOptions, ProblemKind};
use zarrcore::codec::{BytesToBytes, DeflateCodec, DeflateFormat, ZstdCodec};
use zarrcore::error::Error;
use zarrcore::{open_store, Array, Mode, Region, StoreOptions, StoreRef};

struct Counting;

static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's (valid) layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        PEAK.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr`/`layout` come from this allocator (i.e. `System`).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Largest single allocation a corrupted read may make (the arrays here
/// are a few KiB; codec state such as zlib-rs' window is below this).
const ALLOC_BOUND: usize = 1 << 20;
/// The child's address-space limit.
const AS_LIMIT: u64 = 1 << 30;
const CHILD_ENV: &str = "ZARRCORE_CORRUPTION_CHILD";

const SHAPE: [u64; 2] = [20, 30];

fn v2(compressor: Value) -> Value {
    v2_filters(Value::Null, compressor)
}

fn v2_filters(filters: Value, compressor: Value) -> Value {
    json!({"zarr_format": 2, "shape": SHAPE, "chunks": [8, 16], "dtype": "<u2",
        "compressor": compressor, "fill_value": 0, "order": "C", "filters": filters})
}

fn v3(codecs: Value) -> Value {
    v3_grid(codecs, [8, 16])
}

fn v3_grid(codecs: Value, chunks: [u64; 2]) -> Value {
    json!({"zarr_format": 3, "node_type": "array", "shape": SHAPE, "data_type": "uint16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0, "codecs": codecs})
}

fn bytes_le() -> Value {
    json!({"name": "bytes", "configuration": {"endian": "little"}})
}

/// How a shard's index is laid out (for crafting broken indexes).
#[derive(Clone, Copy)]
struct ShardLayout {
    entries: usize,
    at_start: bool,
    crc: bool,
}

struct Config {
    name: &'static str,
    doc: Value,
    /// The codec detects any bit flip (a checksum covers the whole value).
    integrity: bool,
    shard: Option<ShardLayout>,
}

fn sharded(inner: Value, index: Value, location: &str) -> Value {
    v3_grid(
        json!([{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [4, 8], "codecs": inner, "index_codecs": index,
            "index_location": location}}]),
        [8, 16],
    )
}

fn configs() -> Vec<Config> {
    let c = |name, doc, integrity| Config {
        name,
        doc,
        integrity,
        shard: None,
    };
    let blosc = |cname: &str, shuffle: i64| json!({"id": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle, "blocksize": 0});
    let shard = |entries, at_start, crc| {
        Some(ShardLayout {
            entries,
            at_start,
            crc,
        })
    };
    vec![
        c("v2 none", v2(Value::Null), false),
        c("v2 zstd", v2(json!({"id": "zstd", "level": 3})), false),
        c(
            "v2 zstd+checksum",
            v2(json!({"id": "zstd", "level": 3, "checksum": true})),
            true,
        ),
        c("v2 blosc lz4 shuffle", v2(blosc("lz4", 1)), false),
        c("v2 blosc zstd bitshuffle", v2(blosc("zstd", 2)), false),
        c("v2 blosc blosclz noshuffle", v2(blosc("blosclz", 0)), false),
        c("v2 blosc zlib shuffle", v2(blosc("zlib", 1)), false),
        c("v2 gzip", v2(json!({"id": "gzip", "level": 5})), true),
        c("v2 zlib", v2(json!({"id": "zlib", "level": 5})), true),
        c("v2 lz4", v2(json!({"id": "lz4", "acceleration": 1})), false),
        c("v3 bytes", v3(json!([bytes_le()])), false),
        c(
            "v3 zstd",
            v3(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 0, "checksum": false}}]),
            ),
            false,
        ),
        c(
            "v3 zstd+checksum",
            v3(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 0, "checksum": true}}]),
            ),
            true,
        ),
        c(
            "v3 gzip",
            v3(json!([bytes_le(), {"name": "gzip", "configuration": {"level": 5}}])),
            true,
        ),
        c(
            "v3 blosc",
            v3(json!([bytes_le(), {"name": "blosc", "configuration": {
                "cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 2, "blocksize": 0}}])),
            false,
        ),
        c(
            "v3 crc32c",
            v3(json!([bytes_le(), {"name": "crc32c"}])),
            true,
        ),
        c(
            "v3 zstd+crc32c",
            v3(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 0, "checksum": false}},
                {"name": "crc32c"}]),
            ),
            true,
        ),
        c(
            "v3 transpose+zstd",
            v3(
                json!([{"name": "transpose", "configuration": {"order": [1, 0]}}, bytes_le(),
                {"name": "zstd", "configuration": {"level": 0, "checksum": false}}]),
            ),
            false,
        ),
        c(
            "v3 zlib",
            v3(json!([bytes_le(), {"name": "numcodecs.zlib", "configuration": {"level": 1}}])),
            true,
        ),
        c(
            "v3 lz4",
            v3(
                json!([bytes_le(), {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}}]),
            ),
            false,
        ),
        // numcodecs filters, bz2, lzma and checksums (bzip2 and xz carry
        // CRCs of their own).
        c(
            "v2 delta+zstd",
            v2_filters(
                json!([{"id": "delta", "dtype": "<u2", "astype": "<u2"}]),
                json!({"id": "zstd", "level": 3}),
            ),
            false,
        ),
        c(
            "v2 delta",
            v2_filters(json!([{"id": "delta", "dtype": "<u2"}]), Value::Null),
            false,
        ),
        c(
            "v2 shuffle+bz2",
            v2_filters(
                json!([{"id": "shuffle", "elementsize": 2}]),
                json!({"id": "bz2", "level": 1}),
            ),
            true,
        ),
        c("v2 lzma", v2(json!({"id": "lzma", "preset": 1})), true),
        c(
            "v2 lzma alone",
            v2(json!({"id": "lzma", "format": 2, "preset": 1})),
            false,
        ),
        c(
            "v2 astype+crc32",
            v2_filters(
                json!([{"id": "astype", "encode_dtype": "<u4", "decode_dtype": "<u2"}]),
                json!({"id": "crc32"}),
            ),
            true,
        ),
        c("v2 adler32", v2(json!({"id": "adler32"})), true),
        c("v2 fletcher32", v2(json!({"id": "fletcher32"})), true),
        c(
            "v3 numcodecs delta+bz2",
            v3(
                json!([{"name": "numcodecs.delta", "configuration": {"dtype": "uint16"}},
                bytes_le(), {"name": "numcodecs.bz2", "configuration": {"level": 1}}]),
            ),
            true,
        ),
        c(
            "v3 numcodecs shuffle+lzma+fletcher32",
            v3(
                json!([bytes_le(), {"name": "numcodecs.shuffle", "configuration": {"elementsize": 2}},
                {"name": "numcodecs.lzma", "configuration": {"preset": 0}},
                {"name": "numcodecs.fletcher32", "configuration": {}}]),
            ),
            true,
        ),
        Config {
            name: "v3 shard end, crc index, inner zstd",
            doc: sharded(
                json!([bytes_le(), {"name": "zstd", "configuration": {"level": 0, "checksum": false}}]),
                json!([bytes_le(), {"name": "crc32c"}]),
                "end",
            ),
            integrity: false,
            shard: shard(4, false, true),
        },
        Config {
            name: "v3 shard start, crc index, inner crc32c",
            doc: sharded(
                json!([bytes_le(), {"name": "crc32c"}]),
                json!([bytes_le(), {"name": "crc32c"}]),
                "start",
            ),
            integrity: true,
            shard: shard(4, true, true),
        },
        Config {
            name: "v3 shard end, plain index, inner bytes",
            doc: sharded(json!([bytes_le()]), json!([bytes_le()]), "end"),
            integrity: false,
            shard: shard(4, false, false),
        },
        Config {
            name: "v3 shard end, plain index, inner gzip",
            doc: sharded(
                json!([bytes_le(), {"name": "gzip", "configuration": {"level": 1}}]),
                json!([bytes_le()]),
                "end",
            ),
            integrity: false,
            shard: shard(4, false, false),
        },
    ]
}

/// The array's values, in native byte order (what `write_region` takes).
#[allow(clippy::host_endian_bytes)]
fn data() -> Vec<u8> {
    (0..SHAPE[0] * SHAPE[1])
        .flat_map(|i| (((i * 7919) % 1000) as u16 + 1).to_ne_bytes())
        .collect()
}

fn flip(b: &[u8], at: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    if !v.is_empty() {
        let i = at.min(v.len() - 1);
        v[i] ^= 0x10;
    }
    v
}

/// A zstd frame that declares a content size of `claim` bytes but holds
/// one raw block of `payload`.
fn zstd_claiming(claim: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor: 8-byte content size, single segment.
    f.push(0xe0);
    f.extend_from_slice(&claim.to_le_bytes());
    let n = payload.len() as u32;
    let bh = (n << 3) | 1; // last block, raw
    f.extend_from_slice(&bh.to_le_bytes()[..3]);
    f.extend_from_slice(payload);
    f
}

/// A DEFLATE bomb: `n` zero bytes, compressed.
fn bomb(format: DeflateFormat, n: usize) -> Vec<u8> {
    BytesToBytes::Deflate(DeflateCodec { format, level: 9 })
        .encode(&vec![0u8; n])
        .unwrap()
}

type Entries = Vec<(u64, u64)>;

/// Index entries of a shard, and a way to write them back (with a fresh
/// CRC-32C when the index has one, so the entries themselves are what is
/// broken, not only the checksum).
fn index_entries(shard: &[u8], l: ShardLayout) -> Vec<(u64, u64)> {
    let len = l.entries * 16;
    let start = if l.at_start {
        0
    } else {
        shard.len() - len - if l.crc { 4 } else { 0 }
    };
    shard[start..start + len]
        .chunks_exact(16)
        .map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().unwrap()),
                u64::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
        .collect()
}

fn with_entries(shard: &[u8], l: ShardLayout, entries: &[(u64, u64)]) -> Vec<u8> {
    let mut idx = Vec::new();
    for &(o, n) in entries {
        idx.extend_from_slice(&o.to_le_bytes());
        idx.extend_from_slice(&n.to_le_bytes());
    }
    if l.crc {
        let sum = crc32c::crc32c(&idx);
        idx.extend_from_slice(&sum.to_le_bytes());
    }
    let mut out = shard.to_vec();
    let at = if l.at_start { 0 } else { out.len() - idx.len() };
    out[at..at + idx.len()].copy_from_slice(&idx);
    out
}

/// The shard with inner chunk `i`'s bytes replaced (the index rebuilt to
/// match, with a fresh checksum when it has one).
fn replace_inner(orig: &[u8], l: ShardLayout, i: usize, bytes: &[u8]) -> Vec<u8> {
    let e = index_entries(orig, l);
    let idx_len = l.entries * 16 + if l.crc { 4 } else { 0 };
    let base = if l.at_start { idx_len as u64 } else { 0 };
    let mut data = Vec::new();
    let mut entries = Vec::new();
    for (k, &(o, n)) in e.iter().enumerate() {
        let part: &[u8] = if k == i {
            bytes
        } else if o == u64::MAX {
            entries.push((u64::MAX, u64::MAX));
            continue;
        } else {
            &orig[o as usize..(o + n) as usize]
        };
        entries.push((base + data.len() as u64, part.len() as u64));
        data.extend_from_slice(part);
    }
    let placeholder = vec![0u8; idx_len];
    let shard = if l.at_start {
        [&placeholder[..], &data[..]].concat()
    } else {
        [&data[..], &placeholder[..]].concat()
    };
    with_entries(&shard, l, &entries)
}

/// Every corruption of `orig` for a config: `(name, bytes, must_fail)`.
fn corruptions(cfg: &Config, orig: &[u8], decoded_chunk: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
    let n = orig.len();
    let detectable = cfg.shard.is_none_or(|l| l.crc);
    let mut v: Vec<(String, Vec<u8>, bool)> = vec![
        ("zero-length".into(), vec![], true),
        ("truncated to half".into(), orig[..n / 2].to_vec(), true),
        ("truncated by 1 byte".into(), orig[..n - 1].to_vec(), true),
        ("bit flip at byte 1".into(), flip(orig, 1), cfg.integrity),
        (
            "bit flip in the middle".into(),
            flip(orig, n / 2),
            cfg.integrity,
        ),
        (
            "bit flip at the end".into(),
            flip(orig, n - 2),
            cfg.integrity,
        ),
        (
            "64 garbage bytes appended".into(),
            [orig, &[0xab; 64][..]].concat(),
            // A shard with its index at the start never reads what follows
            // its last inner chunk.
            cfg.shard.is_none_or(|l| !l.at_start),
        ),
        // A plain shard index of all 0xff is valid: every inner chunk empty.
        ("4 KiB of 0xff".into(), vec![0xff; 4096], detectable),
    ];
    let name = cfg.name;
    // The decoded chunk in the wrong codec.
    let wrong = if name.contains("zstd") || name.contains("shard") {
        BytesToBytes::Deflate(DeflateCodec {
            format: DeflateFormat::Gzip,
            level: 5,
        })
    } else {
        BytesToBytes::Zstd(ZstdCodec {
            level: 3,
            checksum: false,
        })
    };
    let wrong_bytes = wrong.encode(decoded_chunk).unwrap();
    // Unless the stored bytes happen to be raw (bytes codec): then the
    // wrong-codec value has the wrong length, still an error.
    v.push(("wrong codec".into(), wrong_bytes, detectable));
    // Headers and streams claiming far more than the chunk.
    if name.contains("zstd")
        && !name.contains("crc32c")
        && !name.contains("shard")
        && !name.contains("blosc")
    {
        v.push((
            "zstd frame claiming 4 GiB".into(),
            zstd_claiming(4 << 30, &orig[..n.min(100)]),
            true,
        ));
        v.push((
            "40-byte zstd frame claiming 4 GiB".into(),
            zstd_claiming(4 << 30, &[7; 24]),
            true,
        ));
        v.push((
            "zstd frame without size, 64 MiB of zeros".into(),
            zstd::stream::encode_all(std::io::Cursor::new(vec![0u8; 64 << 20]), 3).unwrap(),
            true,
        ));
    }
    if name.contains("lz4") && !name.contains("blosc") {
        let mut b = orig.to_vec();
        b[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        v.push(("lz4 header claiming 4 GiB".into(), b, true));
    }
    if name.contains("blosc") {
        let mut b = orig.to_vec();
        b[4..8].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
        v.push(("blosc header claiming 2 GiB".into(), b, true));
        let mut b = orig.to_vec();
        b[8..12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
        v.push(("blosc blocksize 2 GiB".into(), b, true));
    }
    if name.contains("gzip") && cfg.shard.is_none() {
        v.push((
            "gzip bomb (64 MiB of zeros)".into(),
            bomb(DeflateFormat::Gzip, 64 << 20),
            true,
        ));
        let mut b = orig.to_vec();
        let l = b.len();
        b[l - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        v.push(("gzip trailer claiming 4 GiB".into(), b, true));
    }
    if name.contains("zlib") && !name.contains("blosc") {
        v.push((
            "zlib bomb (64 MiB of zeros)".into(),
            bomb(DeflateFormat::Zlib, 64 << 20),
            true,
        ));
    }
    if let Some(l) = cfg.shard {
        let e = index_entries(orig, l);
        let mut set = |what: &str, f: &dyn Fn(&mut Entries)| {
            let mut x = e.clone();
            f(&mut x);
            v.push((format!("index: {what}"), with_entries(orig, l, &x), true));
        };
        set("offset past the end", &|x| x[0].0 = n as u64 + 100);
        set("nbytes 2^64-6", &|x| x[0].1 = u64::MAX - 5);
        set("offset+nbytes overflows", &|x| x[0] = (u64::MAX - 1, 10));
        set("nbytes 4 GiB", &|x| x[0].1 = 4 << 30);
        let into_index = if l.at_start {
            // Inner chunk 0 then *is* the (valid, checksummed) index: as
            // undetectable as any other well-formed value.
            (0, e[0].1)
        } else {
            ((n - 20) as u64, e[0].1)
        };
        set("entry points into the index", &|x| x[0] = into_index);
        if l.at_start {
            if let Some(last) = v.last_mut() {
                last.2 = false;
            }
        }
        if l.crc {
            // Valid entries, checksum of the index broken.
            let mut b = orig.to_vec();
            let at = if l.at_start { 3 } else { n - 10 };
            b[at] ^= 1;
            v.push(("index checksum mismatch".into(), b, true));
        }
        // Inner chunks whose own headers or streams claim far more than
        // an inner chunk (the index is valid).
        let inner: Vec<(&str, Vec<u8>)> = if name.contains("inner zstd") {
            vec![
                (
                    "inner zstd frame claiming 4 GiB",
                    zstd_claiming(4 << 30, &[0; 24]),
                ),
                (
                    "inner zstd frame without size, 64 MiB of zeros",
                    zstd::stream::encode_all(std::io::Cursor::new(vec![0u8; 64 << 20]), 3).unwrap(),
                ),
            ]
        } else if name.contains("inner gzip") {
            vec![(
                "inner gzip bomb (64 MiB of zeros)",
                bomb(DeflateFormat::Gzip, 64 << 20),
            )]
        } else {
            vec![("inner chunk of 256 KiB", vec![0u8; 256 << 10])]
        };
        for (what, b) in inner {
            v.push((what.to_string(), replace_inner(orig, l, 0, &b), true));
        }
        let idx_len = l.entries * 16 + if l.crc { 4 } else { 0 };
        v.push((
            "shard shorter than its index".into(),
            orig[..idx_len - 1].to_vec(),
            true,
        ));
    }
    v
}

/// Runs `f` on another thread; fails the test if it takes longer than 60 s.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no result within 60 s (hang?)"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Reads the whole array and a region inside the first chunk.
fn read_both(store: &StoreRef, path: &str) -> (Result<(), Error>, Result<(), Error>) {
    let a = Array::open(store, path, Mode::Read).expect("metadata is intact");
    let whole = a.read_region_vec(&Region::all(&SHAPE)).map(|_| ());
    let part = a
        .read_region_vec(&Region::new(vec![1, 2], vec![3, 5]))
        .map(|_| ());
    (whole, part)
}

fn names_key(r: &Result<(), Error>, key: &str) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(false),
        Err(Error::Chunk { key: k, .. }) if k == key => Ok(true),
        Err(e) => Err(format!(
            "error does not name the chunk as Error::Chunk: {e}"
        )),
    }
}

fn run_suite() {
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let mut total = 0usize;
    for cfg in configs() {
        let dir = tempfile::tempdir().unwrap();
        let loc = dir.path().join("s.zarr");
        let loc = loc.to_str().unwrap().to_string();
        let store = open_store(&loc, StoreOptions::create()).unwrap();
        let a = Array::create_from_json(&store, "a", &cfg.doc, false)
            .unwrap_or_else(|e| panic!("{}: create: {e}", cfg.name));
        a.write_region(&Region::all(&SHAPE), &data()).unwrap();
        a.close().unwrap();
        let a = Array::open(&store, "a", Mode::Read).unwrap();
        let chunks = a.stored_chunks().unwrap();
        let key = chunks[0].key.clone();
        let mut decoded_chunk = vec![0u8; a.metadata().cell_spec().num_bytes()];
        let orig = store.get(&key).unwrap().unwrap().to_vec();
        a.metadata()
            .codecs
            .decode_into(&orig, &a.metadata().cell_spec(), &mut decoded_chunk)
            .unwrap();
        drop(a);
        // Warm up: a clean read sets up the engine (thread pool, the cache's
        // slab for this chunk size), which is not what a case measures.
        let (w, p) = read_both(&store, "a");
        w.and(p)
            .unwrap_or_else(|e| panic!("{}: clean read: {e}", cfg.name));
        let file = dir.path().join("s.zarr").join(&key);
        for (what, bytes, must_fail) in corruptions(&cfg, &orig, &decoded_chunk) {
            total += 1;
            std::fs::write(&file, &bytes).unwrap();
            PEAK.store(0, Ordering::SeqCst);
            let s2 = store.clone();
            let (whole, part) = bounded(what.as_str(), move || read_both(&s2, "a"));
            let peak_read = PEAK.load(Ordering::SeqCst);
            PEAK.store(0, Ordering::SeqCst);
            let loc2 = loc.clone();
            let report = bounded(what.as_str(), move || {
                check_location(&loc2, "", CheckOptions::default())
            })
            .expect("check runs");
            let peak_check = PEAK.load(Ordering::SeqCst);
            let case = format!("{} / {what}", cfg.name);
            let mut outcome = String::new();
            match (names_key(&whole, &key), names_key(&part, &key)) {
                (Ok(w), Ok(p)) => {
                    // A partial read of a shard reads only the inner chunks
                    // it needs, so it may succeed where the whole read fails;
                    // never the other way round.
                    if w != p && !(cfg.shard.is_some() && w) {
                        failures.push(format!(
                            "{case}: whole read {} but partial read {}",
                            if w { "fails" } else { "succeeds" },
                            if p { "fails" } else { "succeeds" }
                        ));
                    }
                    if must_fail && !w {
                        failures.push(format!("{case}: read succeeded"));
                    }
                    let flagged = report.problems.iter().any(|p| {
                        p.key == key
                            && matches!(
                                p.kind,
                                ProblemKind::CorruptChunk | ProblemKind::CorruptInnerChunk
                            )
                    });
                    let consistent = if w {
                        flagged
                    } else {
                        report.problems.is_empty()
                    };
                    if !consistent {
                        failures.push(format!(
                            "{case}: read {} but check reports {:?}",
                            if w { "fails" } else { "succeeds" },
                            report.problems
                        ));
                    }
                    outcome.push_str(
                        match (w, &whole) {
                            (true, Err(e)) => {
                                let s = e.to_string();
                                let s = s.strip_prefix(&format!("chunk {key:?}: ")).unwrap_or(&s);
                                outcome_short(s)
                            }
                            _ => "reads (undetectable without a checksum)".into(),
                        }
                        .as_str(),
                    );
                }
                (Err(e), _) | (_, Err(e)) => failures.push(format!("{case}: {e}")),
            }
            for (phase, peak) in [("read", peak_read), ("check", peak_check)] {
                if peak > ALLOC_BOUND {
                    failures.push(format!(
                        "{case}: {phase} made a single allocation of {peak} bytes"
                    ));
                }
            }
            table.push(format!(
                "| {} | {what} | {outcome} | {} KiB |",
                cfg.name,
                peak_read.max(peak_check).div_ceil(1024)
            ));
        }
        std::fs::write(&file, &orig).unwrap();
        let clean = check_location(&loc, "", CheckOptions::default()).unwrap();
        assert!(clean.is_clean(), "{}: restored store not clean", cfg.name);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| codec chain | corruption | outcome | largest allocation |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for l in &table {
        writeln!(out, "{l}").unwrap();
    }
    writeln!(out, "{total} corruption cases").unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A short form of an error message for the table.
fn outcome_short(s: &str) -> String {
    let s = s.replace('|', "/");
    let s = if s.chars().count() > 110 {
        format!("{}…", s.chars().take(110).collect::<String>())
    } else {
        s
    };
    format!("error: {s}")
}

fn limit_address_space() {
    let lim = libc::rlimit {
        rlim_cur: AS_LIMIT,
        rlim_max: AS_LIMIT,
    };
    // SAFETY: setrlimit reads a valid, initialised struct.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    assert_eq!(rc, 0, "setrlimit failed");
}

#[test]
fn corruption_suite() {
    if std::env::var_os(CHILD_ENV).is_some() {
        limit_address_space();
        run_suite();
        return;
    }
    // Parent: run the suite in a child with a limited address space, so an
    // over-allocation anywhere (Rust or C) fails instead of succeeding.
    let exe = std::env::current_exe().unwrap();
    let child = std::process::Command::new(exe)
        .args([
            "corruption_suite",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("ZARRCORE_THREADS", "2")
        .env("MALLOC_ARENA_MAX", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(600)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("the corruption suite did not finish within 600 s");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "corruption suite child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("corruption cases"), "{stdout}");
}

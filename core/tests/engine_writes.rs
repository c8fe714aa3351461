//! Concurrent writes against a reference model: 16 threads × many
//! overlapping partial writes never lose an update, for plain chunks and for
//! shards (the shard is the unit), through one shared handle and through a
//! handle per thread, with a tiny write buffer (flushes interleave with
//! writes) and a large one. Each thread reads back what it wrote while the
//! others keep writing (read-your-writes under contention).
//!
//! Ownership makes the final content deterministic: the array is cut into
//! small tiles that straddle chunk (and shard) boundaries, every tile belongs
//! to one thread, so many threads patch every chunk concurrently but never
//! the same element. The bottom band is owned chunk by chunk, and its owners
//! mix whole-chunk writes (the no-read path) with partial ones.

mod engine_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_common::{from_bytes, to_bytes, u32_array, watchdog, Rng};
use zarrcore::{
    open_store, Array, ArrayBuilder, DataType, Endian, Mode, Region, StoreOptions, StoreRef,
    ZarrFormat,
};

const THREADS: usize = 16;
const TILE_ROWS: u64 = 96; // rows 0..96 are tiles
const SHAPE: [u64; 2] = [128, 84]; // rows 96..128 are owned by chunk
const TILE: [u64; 2] = [3, 4];

#[derive(Debug, Clone, Copy)]
struct Config {
    sharded: bool,
    separate_handles: bool,
    write_buffer: usize,
    format: ZarrFormat,
    writes_per_thread: usize,
}

/// The grid cell shape that owns the bottom band (a chunk, or a shard).
fn cell(cfg: &Config) -> [u64; 2] {
    if cfg.sharded {
        [32, 32]
    } else {
        [16, 16]
    }
}

/// A region and who owns it.
#[derive(Debug, Clone)]
struct Piece {
    region: Region,
    owner: usize,
    whole_cell: bool,
}

fn pieces(cfg: &Config, seed: u64) -> Vec<Piece> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut r = 0;
    while r < TILE_ROWS {
        let mut c = 0;
        while c < SHAPE[1] {
            let h = TILE[0].min(TILE_ROWS - r);
            let w = TILE[1].min(SHAPE[1] - c);
            out.push(Piece {
                region: Region::new(vec![r, c], vec![h, w]),
                owner: rng.below(THREADS as u64) as usize,
                whole_cell: false,
            });
            c += TILE[1];
        }
        r += TILE[0];
    }
    let cs = cell(cfg);
    let mut r = TILE_ROWS;
    while r < SHAPE[0] {
        let mut c = 0;
        while c < SHAPE[1] {
            let h = cs[0].min(SHAPE[0] - r);
            let w = cs[1].min(SHAPE[1] - c);
            out.push(Piece {
                region: Region::new(vec![r, c], vec![h, w]),
                owner: rng.below(THREADS as u64) as usize,
                whole_cell: true,
            });
            c += cs[1];
        }
        r += cs[0];
    }
    out
}

fn base(i: usize) -> u32 {
    (i as u32).wrapping_mul(7).wrapping_add(1)
}

fn value(thread: usize, iter: usize, k: usize) -> u32 {
    ((thread as u32 + 1) << 24) | ((iter as u32 & 0xffff) << 8) | (k as u32 & 0xff)
}

/// Linear indices (C order) of the elements of `r`.
fn indices(r: &Region) -> Vec<usize> {
    let mut out = Vec::new();
    for i in r.start[0]..r.start[0] + r.shape[0] {
        for j in r.start[1]..r.start[1] + r.shape[1] {
            out.push((i * SHAPE[1] + j) as usize);
        }
    }
    out
}

fn create(store: &StoreRef, cfg: &Config) -> Array {
    let cs = cell(cfg);
    let b = if cfg.sharded {
        u32_array(&SHAPE, &[16, 16], Some(&cs))
    } else {
        u32_array(&SHAPE, &cs, None).zarr_format(cfg.format)
    };
    let a = b.create(store, "a").unwrap();
    let init: Vec<u32> = (0..(SHAPE[0] * SHAPE[1]) as usize).map(base).collect();
    a.write_region(&Region::all(&SHAPE), &to_bytes(&init))
        .unwrap();
    a.close().unwrap();
    Array::open(store, "a", Mode::Write).unwrap()
}

/// One thread's work: `n` writes to its own pieces, each followed (often) by
/// a read-back. Returns the thread's expected final values of its elements.
fn worker(a: &Array, cfg: &Config, t: usize, mine: &[Piece], seed: u64) -> Vec<(usize, u32)> {
    let mut rng = Rng::new(seed);
    let mut last: Vec<Option<usize>> = vec![None; mine.len()];
    let mut partial_in_cell: Vec<Vec<(usize, Region)>> = vec![vec![]; mine.len()];
    for iter in 0..cfg.writes_per_thread {
        if mine.is_empty() {
            break;
        }
        let p = rng.below(mine.len() as u64) as usize;
        let piece = &mine[p];
        // Whole-cell pieces: a whole write two times in three, else a
        // partial block inside the cell.
        let region = if piece.whole_cell && rng.below(3) != 0 {
            partial_in_cell[p].clear();
            piece.region.clone()
        } else if piece.whole_cell {
            let pr = &piece.region;
            let h = 1 + rng.below(pr.shape[0]);
            let w = 1 + rng.below(pr.shape[1]);
            let r0 = pr.start[0] + rng.below(pr.shape[0] - h + 1);
            let c0 = pr.start[1] + rng.below(pr.shape[1] - w + 1);
            let sub = Region::new(vec![r0, c0], vec![h, w]);
            partial_in_cell[p].push((iter, sub.clone()));
            sub
        } else {
            piece.region.clone()
        };
        let vals: Vec<u32> = (0..region.num_elements().unwrap() as usize)
            .map(|k| value(t, iter, k))
            .collect();
        a.write_region(&region, &to_bytes(&vals)).unwrap();
        if !piece.whole_cell || region == piece.region {
            last[p] = Some(iter);
        }
        if rng.below(4) == 0 {
            let back = from_bytes(&a.read_region_vec(&region).unwrap());
            assert_eq!(
                back, vals,
                "thread {t} write {iter}: read-your-writes of {region} failed"
            );
        }
    }
    // Replay this thread's pieces to get the expected final values.
    let mut out = Vec::new();
    for (p, piece) in mine.iter().enumerate() {
        let idx = indices(&piece.region);
        let mut vals: Vec<u32> = match last[p] {
            Some(iter) => (0..idx.len()).map(|k| value(t, iter, k)).collect(),
            None => idx.iter().map(|&i| base(i)).collect(),
        };
        for (iter, sub) in &partial_in_cell[p] {
            for (k, i) in indices(sub).into_iter().enumerate() {
                let pos = idx.iter().position(|&x| x == i).unwrap();
                vals[pos] = value(t, *iter, k);
            }
        }
        out.extend(idx.into_iter().zip(vals));
    }
    out
}

fn run(cfg: Config, seed: u64) {
    let _wd = watchdog("engine_writes", Duration::from_secs(120));
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    let shared = create(&store, &cfg);
    shared.set_write_buffer(cfg.write_buffer);
    let all = pieces(&cfg, seed);
    let started = Instant::now();
    let shared = Arc::new(shared);
    let results: Vec<Vec<(usize, u32)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let mine: Vec<Piece> = all.iter().filter(|p| p.owner == t).cloned().collect();
                let shared = Arc::clone(&shared);
                let store = Arc::clone(&store);
                s.spawn(move || {
                    if cfg.separate_handles {
                        let own = Array::open(&store, "a", Mode::Write).unwrap();
                        let r = worker(&own, &cfg, t, &mine, seed * 100 + t as u64);
                        own.close().unwrap();
                        r
                    } else {
                        worker(&shared, &cfg, t, &mine, seed * 100 + t as u64)
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    Arc::try_unwrap(shared).unwrap().close().unwrap();

    let n = (SHAPE[0] * SHAPE[1]) as usize;
    let mut expected: Vec<Option<u32>> = vec![None; n];
    for r in results {
        for (i, v) in r {
            assert!(expected[i].is_none(), "element {i} owned twice");
            expected[i] = Some(v);
        }
    }
    let expected: Vec<u32> = expected
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.unwrap_or_else(|| panic!("element {i} has no owner")))
        .collect();

    // A fresh store handle and a read handle: what is on disk.
    let store2 = open_store(dir.path().to_str().unwrap(), StoreOptions::read_only()).unwrap();
    let r = Array::open(&store2, "a", Mode::Read).unwrap();
    let got = from_bytes(&r.read_region_vec(&Region::all(&SHAPE)).unwrap());
    let lost: Vec<usize> = (0..n).filter(|&i| got[i] != expected[i]).collect();
    assert!(
        lost.is_empty(),
        "{cfg:?}: {} of {n} elements differ from the model (lost updates), first at {:?}: got {:#x}, want {:#x}",
        lost.len(),
        lost.first().map(|&i| (i / SHAPE[1] as usize, i % SHAPE[1] as usize)),
        got[lost[0]],
        expected[lost[0]]
    );
    // Normal operation leaves no temporary files behind.
    let temps = zarrcore::store::DirectoryStore::open(dir.path(), StoreOptions::read_only())
        .unwrap()
        .list_temporaries("")
        .unwrap();
    assert!(temps.is_empty(), "leftover temporaries: {temps:?}");
    eprintln!(
        "{cfg:?}: {} writes in {elapsed:?}",
        THREADS * cfg.writes_per_thread
    );
}

const TINY: usize = 2 << 10; // under one shard: flushes follow almost every write
const LARGE: usize = 256 << 20;

fn cfg(sharded: bool, separate_handles: bool, write_buffer: usize) -> Config {
    Config {
        sharded,
        separate_handles,
        write_buffer,
        format: ZarrFormat::V3,
        writes_per_thread: 150,
    }
}

#[test]
fn plain_shared_handle_tiny_buffer() {
    run(cfg(false, false, TINY), 1);
}

#[test]
fn plain_shared_handle_large_buffer() {
    run(cfg(false, false, LARGE), 2);
}

#[test]
fn plain_separate_handles_tiny_buffer() {
    run(cfg(false, true, TINY), 3);
}

#[test]
fn plain_separate_handles_large_buffer_v2() {
    run(
        Config {
            format: ZarrFormat::V2,
            ..cfg(false, true, LARGE)
        },
        4,
    );
}

#[test]
fn sharded_shared_handle_tiny_buffer() {
    run(cfg(true, false, TINY), 5);
}

#[test]
fn sharded_shared_handle_large_buffer() {
    run(cfg(true, false, LARGE), 6);
}

#[test]
fn sharded_separate_handles_tiny_buffer() {
    run(cfg(true, true, TINY), 7);
}

#[test]
fn sharded_separate_handles_large_buffer() {
    run(cfg(true, true, LARGE), 8);
}

/// Byte-granular writes (the FUSE `r+` path): 16 threads each own every
/// 16th byte of a `u64` array and write their bytes one by one with
/// unaligned `write_bytes`, three passes over, so eight threads patch every
/// element. No byte may be lost.
#[test]
fn unaligned_byte_writes_never_lose_bytes() {
    let _wd = watchdog("unaligned_byte_writes", Duration::from_secs(60));
    let store: StoreRef = Arc::new(zarrcore::store::MemoryStore::new());
    let a = ArrayBuilder::new(vec![32, 32], DataType::UInt64)
        .chunks(vec![8, 8])
        .create(&store, "b")
        .unwrap();
    a.set_write_buffer(4 << 10);
    let total = 32 * 32 * 8u64;
    let want = |pass: u64, i: u64| ((i * (pass + 3)) % 251) as u8 + 1;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let a = &a;
            s.spawn(move || {
                let mut mine: Vec<u64> = (0..total).filter(|i| i % 16 == t as u64).collect();
                let mut rng = Rng::new(t as u64);
                for pass in 0..3 {
                    rng.shuffle(&mut mine);
                    for &i in &mine {
                        a.write_bytes(i, &[want(pass, i)], Endian::Big).unwrap();
                    }
                }
            });
        }
    });
    let mut got = vec![0u8; total as usize];
    a.read_bytes(0, &mut got, Endian::Big).unwrap();
    a.close().unwrap();
    let lost: Vec<u64> = (0..total)
        .filter(|&i| got[i as usize] != want(2, i))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {total} bytes lost by concurrent unaligned write_bytes (first at {:?})",
        lost.len(),
        lost.first()
    );
    // The stored content (read by a fresh handle) agrees.
    let r = Array::open(&store, "b", Mode::Read).unwrap();
    let mut again = vec![0u8; total as usize];
    r.read_bytes(0, &mut again, Endian::Big).unwrap();
    assert_eq!(again, got);
}

/// A cell filled piece by piece by misaligned streaming writes is written out
/// as soon as it is complete, before any flush.
#[test]
fn completed_cells_are_written_before_flush() {
    let store: StoreRef = Arc::new(zarrcore::store::MemoryStore::new());
    let a = u32_array(&[64, 64], &[16, 64], None)
        .create(&store, "s")
        .unwrap();
    let total = 64 * 64 * 4;
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    // 100-byte pieces: never aligned to a chunk (4 KiB each).
    let mut off = 0;
    while off < total / 2 + 100 {
        let n = 100.min(total - off);
        a.write_bytes(off as u64, &data[off..off + n], zarrcore::Endian::native())
            .unwrap();
        off += n;
    }
    assert!(
        store.get("s/c/0/0").unwrap().is_some(),
        "first chunk not written when complete"
    );
    assert!(
        store.get("s/c/1/0").unwrap().is_some(),
        "second chunk not written when complete"
    );
    assert!(
        store.get("s/c/3/0").unwrap().is_none(),
        "an untouched chunk was written"
    );
    let mut back = vec![0u8; off];
    a.read_bytes(0, &mut back, zarrcore::Endian::native())
        .unwrap();
    assert_eq!(back, data[..off]);
    a.close().unwrap();
}

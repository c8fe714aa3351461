//! The decoded-chunk cache: a read hammer from many threads with a tiny, a
//! middling (evicting) and a large budget returns exact values; concurrent
//! misses on one chunk fetch and decode it once (single flight), for plain
//! chunks and for inner chunks of shards; a chunk rewritten by a write
//! handle is fetched again once readers reopen.
//!
//! The cache budget is process-wide, so these tests live in their own test
//! binary and take a lock: one budget at a time.

mod engine_common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use engine_common::{from_bytes, to_bytes, u32_array, watchdog, CountingStore, Rng};
use parking_lot::Mutex;
use zarrcore::engine::cache::{cache, set_cache_budget};
use zarrcore::{open_store, Array, CodecSpec, Mode, Region, StoreOptions, StoreRef};

static BUDGET: Mutex<()> = Mutex::new(());

fn f(i: u64, j: u64) -> u32 {
    (i as u32).wrapping_mul(100_003) ^ (j as u32).wrapping_mul(7919) ^ 0x5a5a_0000
}

fn pattern(shape: &[u64; 2]) -> Vec<u32> {
    let mut v = Vec::with_capacity((shape[0] * shape[1]) as usize);
    for i in 0..shape[0] {
        for j in 0..shape[1] {
            v.push(f(i, j));
        }
    }
    v
}

const SHAPE: [u64; 2] = [512, 384];

/// Three arrays in one directory store: zstd chunks, sharded zstd, and
/// uncompressed 1 MiB chunks (mapped, not read, by the directory store).
fn make_store() -> (tempfile::TempDir, StoreRef) {
    let d = tempfile::tempdir().unwrap();
    let store = open_store(d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    let data = to_bytes(&pattern(&SHAPE));
    for (name, b) in [
        ("plain", u32_array(&SHAPE, &[32, 32], None)),
        ("sharded", u32_array(&SHAPE, &[16, 16], Some(&[64, 128]))),
        (
            "raw",
            u32_array(&SHAPE, &[512, 512], None).codec(CodecSpec::None),
        ),
    ] {
        let a = b.create(&store, name).unwrap();
        a.write_region(&Region::all(&SHAPE), &data).unwrap();
        a.close().unwrap();
    }
    (d, store)
}

fn hammer(budget: usize, seed: u64) {
    let _g = BUDGET.lock();
    let _wd = watchdog("hammer", Duration::from_secs(120));
    set_cache_budget(budget);
    cache().clear();
    let (_d, store) = make_store();
    let readers: Vec<Array> = ["plain", "sharded", "raw"]
        .iter()
        .map(|n| Array::open(&store, n, Mode::Read).unwrap())
        .collect();
    let max_used = Mutex::new(0usize);
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let (readers, store, max_used) = (&readers, &store, &max_used);
            s.spawn(move || {
                let mut rng = Rng::new(seed * 1000 + t);
                // Odd threads use their own handles, even ones the shared ones.
                let own: Vec<Array> = if t % 2 == 1 {
                    ["plain", "sharded", "raw"]
                        .iter()
                        .map(|n| Array::open(store, n, Mode::Read).unwrap())
                        .collect()
                } else {
                    vec![]
                };
                let handles = if own.is_empty() { readers } else { &own };
                for k in 0..150 {
                    let a = &handles[k % 3];
                    // Mostly small regions (cache path), sometimes large ones.
                    let big = rng.below(10) == 0;
                    let (mh, mw) = if big { (200, 200) } else { (40, 40) };
                    let h = 1 + rng.below(mh);
                    let w = 1 + rng.below(mw);
                    let r0 = rng.below(SHAPE[0] - h + 1);
                    let c0 = rng.below(SHAPE[1] - w + 1);
                    let reg = Region::new(vec![r0, c0], vec![h, w]);
                    let got = from_bytes(&a.read_region_vec(&reg).unwrap());
                    let mut idx = 0;
                    for i in r0..r0 + h {
                        for j in c0..c0 + w {
                            assert_eq!(
                                got[idx],
                                f(i, j),
                                "{} {reg} at ({i}, {j}), budget {budget}",
                                a.path()
                            );
                            idx += 1;
                        }
                    }
                    if k % 50 == 0 {
                        let u = cache().used();
                        let mut m = max_used.lock();
                        *m = (*m).max(u);
                    }
                }
            });
        }
    });
    let used = cache().used();
    let max_used = *max_used.lock();
    // Bounded: at most the budget plus per-entry bookkeeping slack.
    let slack = 16 * 64 * 64 + budget / 8;
    assert!(
        used <= budget + slack && max_used <= budget + slack,
        "cache holds {used} (max seen {max_used}) bytes with a budget of {budget}"
    );
    eprintln!("budget {budget}: cache used {used}, max seen {max_used}");
    drop(readers);
    // Every handle closed: nothing of these arrays stays cached.
    assert_eq!(cache().used(), 0, "closed arrays still hold cache memory");
}

#[test]
fn read_hammer_disabled_cache() {
    hammer(0, 1);
}

#[test]
fn read_hammer_tiny_cache() {
    hammer(64 << 10, 2);
}

#[test]
fn read_hammer_evicting_cache() {
    hammer(1 << 20, 3);
}

#[test]
fn read_hammer_large_cache() {
    hammer(256 << 20, 4);
}

/// 16 threads miss on the same chunk at once; the store sees one fetch.
#[test]
fn single_flight_plain_chunks() {
    let _g = BUDGET.lock();
    let _wd = watchdog("single_flight_plain", Duration::from_secs(60));
    set_cache_budget(256 << 20);
    let counting = CountingStore::memory();
    let store: StoreRef = counting.clone();
    let a = u32_array(&[64, 64], &[32, 32], None)
        .create(&store, "x")
        .unwrap();
    a.write_region(&Region::all(&[64, 64]), &to_bytes(&pattern(&[64, 64])))
        .unwrap();
    a.close().unwrap();
    counting.reset();
    counting.set_read_delay(Duration::from_millis(30));
    let r = Array::open(&store, "x", Mode::Read).unwrap();
    for round in 0..4u64 {
        let (ci, cj) = (round / 2, round % 2);
        let barrier = Barrier::new(16);
        std::thread::scope(|s| {
            for t in 0..16u64 {
                let (r, barrier) = (&r, &barrier);
                s.spawn(move || {
                    let (i, j) = (ci * 32 + t, cj * 32 + (t * 7) % 32);
                    barrier.wait();
                    let v = r
                        .read_region_vec(&Region::new(vec![i, j], vec![1, 1]))
                        .unwrap();
                    assert_eq!(from_bytes(&v), vec![f(i, j)]);
                });
            }
        });
        let key = format!("x/c/{ci}/{cj}");
        assert_eq!(
            counting.counts(&key).get,
            1,
            "16 concurrent misses on {key} fetched it {} times",
            counting.counts(&key).get
        );
    }
    // Hits do not fetch again.
    counting.set_read_delay(Duration::ZERO);
    for t in 0..32 {
        r.read_region_vec(&Region::new(vec![t, t], vec![1, 1]))
            .unwrap();
    }
    assert_eq!(counting.counts("x/c/0/0").get, 1);
}

/// Inner chunks of a shard: concurrent misses on one inner chunk fetch its
/// bytes once.
#[test]
fn single_flight_inner_chunks_of_shards() {
    let _g = BUDGET.lock();
    let _wd = watchdog("single_flight_shards", Duration::from_secs(60));
    set_cache_budget(256 << 20);
    let counting = CountingStore::memory();
    let store: StoreRef = counting.clone();
    let a = u32_array(&[64, 64], &[16, 16], Some(&[64, 64]))
        .create(&store, "s")
        .unwrap();
    a.write_region(&Region::all(&[64, 64]), &to_bytes(&pattern(&[64, 64])))
        .unwrap();
    a.close().unwrap();
    counting.reset();
    counting.set_read_delay(Duration::from_millis(20));
    let r = Array::open(&store, "s", Mode::Read).unwrap();
    let barrier = Barrier::new(16);
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let (r, barrier) = (&r, &barrier);
            s.spawn(move || {
                barrier.wait();
                // All inside inner chunk (1, 2): rows 16..32, cols 32..48.
                let (i, j) = (16 + t, 32 + (t * 5) % 16);
                let v = r
                    .read_region_vec(&Region::new(vec![i, j], vec![1, 1]))
                    .unwrap();
                assert_eq!(from_bytes(&v), vec![f(i, j)]);
            });
        }
    });
    let c = counting.counts("s/c/0/0");
    assert_eq!(
        c.range, 1,
        "16 concurrent misses on one inner chunk fetched it {} times ({c:?})",
        c.range
    );
    assert_eq!(
        c.suffix, 1,
        "16 concurrent misses fetched the shard index {} times",
        c.suffix
    );
}

/// A cached chunk is fetched again (with its new content) after a write
/// handle rewrote it and readers reopened; untouched chunks keep their
/// values.
#[test]
fn rewritten_chunks_are_refetched_after_reopen() {
    let _g = BUDGET.lock();
    set_cache_budget(256 << 20);
    for sharded in [false, true] {
        let counting = CountingStore::memory();
        let store: StoreRef = counting.clone();
        let b = if sharded {
            u32_array(&[64, 64], &[16, 16], Some(&[32, 32]))
        } else {
            u32_array(&[64, 64], &[32, 32], None)
        };
        let w = b.create(&store, "x").unwrap();
        w.write_region(&Region::all(&[64, 64]), &to_bytes(&pattern(&[64, 64])))
            .unwrap();
        w.close().unwrap();
        let fetches = |key: &str| {
            let c = counting.counts(key);
            if sharded {
                c.range
            } else {
                c.get
            }
        };
        let (ka, kb) = ("x/c/0/0", "x/c/1/1");
        let one = |a: &Array, i: u64, j: u64| {
            from_bytes(
                &a.read_region_vec(&Region::new(vec![i, j], vec![1, 1]))
                    .unwrap(),
            )[0]
        };

        counting.reset();
        let r = Array::open(&store, "x", Mode::Read).unwrap();
        assert_eq!(one(&r, 1, 1), f(1, 1));
        assert_eq!(one(&r, 40, 40), f(40, 40));
        assert_eq!(one(&r, 2, 3), f(2, 3));
        assert_eq!(one(&r, 41, 42), f(41, 42));
        assert_eq!((fetches(ka), fetches(kb)), (1, 1), "second reads were hits");
        drop(r);

        // Rewrite one element of chunk A only (a partial write).
        let w = Array::open(&store, "x", Mode::Write).unwrap();
        w.write_region(&Region::new(vec![1, 1], vec![1, 1]), &to_bytes(&[77]))
            .unwrap();
        w.close().unwrap();
        assert_eq!(counting.counts(ka).set, 1);
        assert_eq!(
            counting.counts(kb).set,
            0,
            "an untouched chunk was rewritten"
        );

        let r = Array::open(&store, "x", Mode::Read).unwrap();
        assert_eq!(one(&r, 1, 1), 77, "stale cached chunk after a rewrite");
        assert_eq!(one(&r, 2, 3), f(2, 3));
        assert_eq!(one(&r, 40, 40), f(40, 40));
        assert!(fetches(ka) >= 2, "rewritten chunk not fetched again");
        drop(r);

        // Written by another store identity (as another process would):
        // readers that reopen see it too.
        let other: StoreRef = CountingStore::new(Arc::clone(counting.inner()));
        let w = Array::open(&other, "x", Mode::Write).unwrap();
        w.write_region(&Region::new(vec![40, 40], vec![1, 1]), &to_bytes(&[88]))
            .unwrap();
        w.close().unwrap();
        let r = Array::open(&store, "x", Mode::Read).unwrap();
        assert_eq!(one(&r, 40, 40), 88);
        assert_eq!(one(&r, 1, 1), 77);
    }
}

#[test]
fn an_open_reader_sees_chunks_another_process_replaced() {
    let _g = BUDGET.lock();
    set_cache_budget(256 << 20);
    let d = tempfile::tempdir().unwrap();
    let store = open_store(d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    for (name, val) in [("x", 1u32), ("y", 2u32)] {
        let a = u32_array(&[64, 64], &[32, 32], None)
            .create(&store, name)
            .unwrap();
        a.write_region(&Region::all(&[64, 64]), &to_bytes(&vec![val; 64 * 64]))
            .unwrap();
        a.close().unwrap();
    }
    let r = Array::open(&store, "x", Mode::Read).unwrap();
    let one = |i: u64| {
        from_bytes(
            &r.read_region_vec(&Region::new(vec![i, 0], vec![1, 1]))
                .unwrap(),
        )[0]
    };
    assert_eq!(one(3), 1);
    assert_eq!(one(4), 1, "cached");
    // Another process replaces chunk (0, 0) of x the way zarrcore writes:
    // a new file renamed over the old one.
    std::fs::rename(d.path().join("y/c/0/0"), d.path().join("x/c/0/0")).unwrap();
    assert_eq!(
        one(5),
        2,
        "the open reader served a chunk that was replaced on disk"
    );
    assert_eq!(one(40), 1, "an untouched chunk");
}

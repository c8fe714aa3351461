//! Handle modes: read and write handles of one array never coexist in a
//! process (`Busy`), across threads too, and the registration is released on
//! close and on drop; a write handle reads back what it wrote
//! (read-your-writes) before and after flushing, through regions and byte
//! ranges, plain and sharded.

mod engine_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use engine_common::{from_bytes, to_bytes, u32_array, watchdog, CountingStore, Rng};
use zarrcore::{
    open_store, Array, Endian, Error, Layout, Mode, Order, Region, StoreOptions, StoreRef,
};

fn dir_store() -> (tempfile::TempDir, StoreRef) {
    let d = tempfile::tempdir().unwrap();
    let s = open_store(d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    (d, s)
}

fn is_busy(r: Result<Array, Error>) -> bool {
    matches!(r, Err(Error::Busy { .. }))
}

#[test]
fn busy_on_mixed_modes_and_released_on_close_and_drop() {
    let (_d, store) = dir_store();
    u32_array(&[10, 10], &[5, 5], None)
        .create(&store, "x")
        .unwrap()
        .close()
        .unwrap();

    // Read open → write refused, until every reader is gone.
    let r1 = Array::open(&store, "x", Mode::Read).unwrap();
    let r2 = Array::open(&store, "x", Mode::Read).unwrap();
    assert!(is_busy(Array::open(&store, "x", Mode::Write)));
    // A second store handle on the same directory is the same array.
    let same = open_store(_d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    assert!(is_busy(Array::open(&same, "x", Mode::Write)));
    r1.close().unwrap();
    assert!(is_busy(Array::open(&store, "x", Mode::Write)));
    drop(r2);
    let w1 = Array::open(&store, "x", Mode::Write).unwrap();

    // Write open → read refused; message names the array.
    match Array::open(&store, "x", Mode::Read) {
        Err(e @ Error::Busy { .. }) => assert!(e.to_string().contains("\"x\""), "{e}"),
        other => panic!("expected Busy, got {other:?}"),
    }
    let w2 = Array::open(&store, "x", Mode::Write).unwrap();
    assert_eq!(w1.open_handles(), (0, 2));
    drop(w1);
    assert!(is_busy(Array::open(&store, "x", Mode::Read)));
    w2.close().unwrap();
    let r = Array::open(&store, "x", Mode::Read).unwrap();
    assert_eq!(r.open_handles(), (1, 0));
    // A read handle refuses writes with a mode error.
    assert!(matches!(
        r.write_region(&Region::all(&[10, 10]), &[0u8; 400]),
        Err(Error::Mode { .. })
    ));
    // Another array of the same store is independent.
    let other = u32_array(&[4], &[2], None).create(&store, "y").unwrap();
    other.close().unwrap();
    drop(r);
}

#[test]
fn busy_across_threads() {
    let _wd = watchdog("busy_across_threads", Duration::from_secs(60));
    let (_d, store) = dir_store();
    u32_array(&[8], &[4], None)
        .create(&store, "x")
        .unwrap()
        .close()
        .unwrap();
    // Thread A holds a reader; thread B's writer is refused until A drops.
    let reader = Array::open(&store, "x", Mode::Read).unwrap();
    let s2 = Arc::clone(&store);
    let refused = std::thread::spawn(move || is_busy(Array::open(&s2, "x", Mode::Write)))
        .join()
        .unwrap();
    assert!(refused);
    std::thread::spawn(move || drop(reader)).join().unwrap();
    let s2 = Arc::clone(&store);
    let writer = std::thread::spawn(move || Array::open(&s2, "x", Mode::Write).unwrap())
        .join()
        .unwrap();
    let s2 = Arc::clone(&store);
    assert!(
        std::thread::spawn(move || is_busy(Array::open(&s2, "x", Mode::Read)))
            .join()
            .unwrap()
    );
    writer.close().unwrap();

    // Stress: threads open and close handles of random modes. Whenever a
    // thread holds a handle, the counters of the other mode must be zero.
    // (Counters go up after a successful open and down before the close, so
    // they never exceed the real registrations.)
    let readers = AtomicUsize::new(0);
    let writers = AtomicUsize::new(0);
    let violation = AtomicBool::new(false);
    let opened = [AtomicUsize::new(0), AtomicUsize::new(0)];
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (store, readers, writers, violation, opened) =
                (&store, &readers, &writers, &violation, &opened);
            s.spawn(move || {
                let mut rng = Rng::new(t);
                for _ in 0..300 {
                    let mode = if rng.below(2) == 0 {
                        Mode::Read
                    } else {
                        Mode::Write
                    };
                    let (mine, theirs) = match mode {
                        Mode::Read => (readers, writers),
                        Mode::Write => (writers, readers),
                    };
                    match Array::open(store, "x", mode) {
                        Ok(a) => {
                            mine.fetch_add(1, Ordering::SeqCst);
                            opened[(mode == Mode::Write) as usize].fetch_add(1, Ordering::Relaxed);
                            if theirs.load(Ordering::SeqCst) != 0 {
                                violation.store(true, Ordering::SeqCst);
                            }
                            let _ = a.read_region_vec(&Region::new(vec![0], vec![3])).unwrap();
                            std::thread::yield_now();
                            if theirs.load(Ordering::SeqCst) != 0 {
                                violation.store(true, Ordering::SeqCst);
                            }
                            mine.fetch_sub(1, Ordering::SeqCst);
                            if rng.below(2) == 0 {
                                a.close().unwrap();
                            } else {
                                drop(a);
                            }
                            // Leave gaps, or one mode would hold the array forever.
                            std::thread::sleep(Duration::from_micros(rng.below(300)));
                        }
                        Err(Error::Busy { .. }) => {}
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
            });
        }
    });
    assert!(
        !violation.load(Ordering::SeqCst),
        "read and write handles coexisted"
    );
    assert!(opened[0].load(Ordering::Relaxed) > 0 && opened[1].load(Ordering::Relaxed) > 0);
    // Everything released: both modes open again.
    Array::open(&store, "x", Mode::Write)
        .unwrap()
        .close()
        .unwrap();
    Array::open(&store, "x", Mode::Read).unwrap();
}

/// `create(overwrite)` is a write open: with a reader open it must fail with
/// `Busy` before it deletes anything the reader is reading.
#[test]
fn overwrite_while_reading_is_busy_and_destroys_nothing() {
    let (_d, store) = dir_store();
    let a = u32_array(&[8], &[4], None).create(&store, "x").unwrap();
    a.write_region(&Region::all(&[8]), &to_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]))
        .unwrap();
    a.close().unwrap();
    let r = Array::open(&store, "x", Mode::Read).unwrap();
    let again = u32_array(&[8], &[4], None)
        .overwrite(true)
        .create(&store, "x");
    assert!(is_busy(again), "overwrite with a reader open must be Busy");
    let got = from_bytes(&r.read_region_vec(&Region::all(&[8])).unwrap());
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    drop(r);
    // With no handle open the overwrite works (and resets to the fill value).
    let w = u32_array(&[8], &[4], None)
        .overwrite(true)
        .create(&store, "x")
        .unwrap();
    assert_eq!(
        from_bytes(&w.read_region_vec(&Region::all(&[8])).unwrap()),
        vec![0; 8]
    );
}

fn ryw(sharded: bool) {
    // A counting wrapper: writes become visible to a second, independent
    // view of the same data (like another process) only when flushed.
    let mem: StoreRef = Arc::new(zarrcore::store::MemoryStore::new());
    let view = CountingStore::new(Arc::clone(&mem));
    let view: StoreRef = view;
    let shape = [40u64, 36];
    let b = if sharded {
        u32_array(&shape, &[8, 6], Some(&[16, 12]))
    } else {
        u32_array(&shape, &[8, 6], None)
    };
    let w = b.create(&mem, "z").unwrap();
    w.set_write_buffer(usize::MAX / 2);
    let n = (shape[0] * shape[1]) as usize;
    let mut model = vec![0u32; n];
    let mut rng = Rng::new(if sharded { 11 } else { 12 });
    for step in 0..200u32 {
        let h = 1 + rng.below(12);
        let wd = 1 + rng.below(12);
        let r0 = rng.below(shape[0] - h + 1);
        let c0 = rng.below(shape[1] - wd + 1);
        let reg = Region::new(vec![r0, c0], vec![h, wd]);
        let vals: Vec<u32> = (0..(h * wd) as u32).map(|k| step << 16 | k).collect();
        w.write_region(&reg, &to_bytes(&vals)).unwrap();
        let mut k = 0;
        for i in r0..r0 + h {
            for j in c0..c0 + wd {
                model[(i * shape[1] + j) as usize] = vals[k];
                k += 1;
            }
        }
        // The region just written, a random other region, and the whole array.
        assert_eq!(from_bytes(&w.read_region_vec(&reg).unwrap()), vals);
        let q = Region::new(vec![rng.below(shape[0]), rng.below(shape[1])], vec![1, 1]);
        let want = model[(q.start[0] * shape[1] + q.start[1]) as usize];
        assert_eq!(from_bytes(&w.read_region_vec(&q).unwrap()), vec![want]);
        if step % 50 == 49 {
            assert_eq!(
                from_bytes(&w.read_region_vec(&Region::all(&shape)).unwrap()),
                model
            );
        }
    }
    // Partial writes are buffered: an independent view of the store does
    // not see the last one yet (it patched a buffered chunk).
    let last = Region::new(vec![5, 7], vec![1, 1]);
    w.write_region(&last, &to_bytes(&[0xfeed])).unwrap();
    model[(5 * shape[1] + 7) as usize] = 0xfeed;
    let other = Array::open(&view, "z", Mode::Read).unwrap();
    assert_ne!(
        from_bytes(&other.read_region_vec(&last).unwrap()),
        vec![0xfeed]
    );
    drop(other);

    // Byte ranges: aligned and unaligned, both byte orders.
    let total = n as u64 * 4;
    for step in 0..100u64 {
        let off = rng.below(total - 1);
        let len = 1 + rng.below((total - off).min(64));
        let endian = if step % 2 == 0 {
            Endian::Big
        } else {
            Endian::Little
        };
        let data: Vec<u8> = (0..len).map(|k| (step * 31 + k) as u8).collect();
        w.write_bytes(off, &data, endian).unwrap();
        // Apply to the model in that byte order.
        for (k, &byte) in data.iter().enumerate() {
            let pos = off as usize + k;
            let (e, b) = (pos / 4, pos % 4);
            let mut bytes = match endian {
                Endian::Big => model[e].to_be_bytes(),
                Endian::Little => model[e].to_le_bytes(),
            };
            bytes[b] = byte;
            model[e] = match endian {
                Endian::Big => u32::from_be_bytes(bytes),
                Endian::Little => u32::from_le_bytes(bytes),
            };
        }
        let mut back = vec![0u8; len as usize];
        w.read_bytes(off, &mut back, endian).unwrap();
        assert_eq!(back, data, "byte range {off}+{len} not read back");
    }
    // F-order, big-endian read of everything agrees with the model.
    let mut f = vec![0u8; n * 4];
    w.read_region_with(
        &Region::all(&shape),
        &mut f,
        Layout {
            order: Order::F,
            endian: Endian::Big,
        },
    )
    .unwrap();
    for i in 0..shape[0] as usize {
        for j in 0..shape[1] as usize {
            let p = (j * shape[0] as usize + i) * 4;
            let v = u32::from_be_bytes([f[p], f[p + 1], f[p + 2], f[p + 3]]);
            assert_eq!(v, model[i * shape[1] as usize + j]);
        }
    }

    // After the flush: still read back, and now visible to the other view.
    w.flush().unwrap();
    assert_eq!(
        from_bytes(&w.read_region_vec(&Region::all(&shape)).unwrap()),
        model
    );
    let other = Array::open(&view, "z", Mode::Read).unwrap();
    assert_eq!(
        from_bytes(&other.read_region_vec(&Region::all(&shape)).unwrap()),
        model
    );
    drop(other);
    // Writes after the flush are buffered again and read back again.
    w.write_region(&Region::new(vec![0, 0], vec![1, 1]), &to_bytes(&[0xdead]))
        .unwrap();
    assert_eq!(
        from_bytes(
            &w.read_region_vec(&Region::new(vec![0, 0], vec![1, 2]))
                .unwrap()
        ),
        vec![0xdead, model[1]]
    );
    w.close().unwrap();
    model[0] = 0xdead;
    let r = Array::open(&mem, "z", Mode::Read).unwrap();
    assert_eq!(
        from_bytes(&r.read_region_vec(&Region::all(&shape)).unwrap()),
        model
    );
}

#[test]
fn read_your_writes_plain() {
    ryw(false);
}

#[test]
fn read_your_writes_sharded() {
    ryw(true);
}

/// Several write handles of one array see each other's buffered writes (they
/// share one write buffer), from different threads.
#[test]
fn read_your_writes_across_handles_and_threads() {
    let (_d, store) = dir_store();
    let a = u32_array(&[32, 32], &[8, 8], None)
        .create(&store, "x")
        .unwrap();
    a.set_write_buffer(1 << 30);
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            let b = Array::open(&store, "x", Mode::Write).unwrap();
            b.write_region(
                &Region::new(vec![3, 3], vec![2, 2]),
                &to_bytes(&[1, 2, 3, 4]),
            )
            .unwrap();
            barrier.wait(); // written, not flushed
            barrier.wait(); // other side has checked
            drop(b);
        });
        barrier.wait();
        assert_eq!(
            from_bytes(
                &a.read_region_vec(&Region::new(vec![3, 3], vec![2, 2]))
                    .unwrap()
            ),
            vec![1, 2, 3, 4]
        );
        barrier.wait();
    });
    a.close().unwrap();
}

/// One array reached through two store roots (the store's root, and a
/// store opened at the group directory) is still one array in the process:
/// modes never mix, and partial writes through both share one write buffer
/// (neither is lost).
#[test]
fn one_array_through_two_store_roots_is_one_array() {
    let d = tempfile::tempdir().unwrap();
    let root = open_store(d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    let a = u32_array(&[8], &[8], None).create(&root, "g/x").unwrap();
    a.close().unwrap();
    let sub = open_store(d.path().join("g").to_str().unwrap(), StoreOptions::create()).unwrap();

    let r = Array::open(&root, "g/x", Mode::Read).unwrap();
    assert!(
        is_busy(Array::open(&sub, "x", Mode::Write)),
        "a writer opened beside a reader of the same array"
    );
    drop(r);

    let w1 = Array::open(&root, "g/x", Mode::Write).unwrap();
    let w2 = Array::open(&sub, "x", Mode::Write).unwrap();
    // Each handle keeps the store and path it was opened with.
    assert_eq!((w1.path(), w2.path()), ("g/x", "x"));
    assert!(Arc::ptr_eq(w2.store(), &sub));
    assert_eq!(w2.stored_chunks().unwrap().len(), 0);
    // Deleting the group through the root sees the handle opened beside it.
    drop(w1);
    match zarrcore::hierarchy::delete_node(&root, "g") {
        Err(Error::Busy { reason, .. }) => assert!(reason.contains("g/x"), "{reason}"),
        other => panic!("expected Busy, got {other:?}"),
    }
    let w1 = Array::open(&root, "g/x", Mode::Write).unwrap();
    w1.write_region(&Region::new(vec![0], vec![1]), &to_bytes(&[11]))
        .unwrap();
    w2.write_region(&Region::new(vec![1], vec![1]), &to_bytes(&[22]))
        .unwrap();
    w1.close().unwrap();
    w2.close().unwrap();
    let r = Array::open(&root, "g/x", Mode::Read).unwrap();
    assert_eq!(
        from_bytes(&r.read_region_vec(&Region::new(vec![0], vec![2])).unwrap()),
        vec![11, 22],
        "a partial write was lost"
    );
}

/// A store that fails writes: `flush` reports the error and keeps the data
/// buffered (still read back), a later `flush` stores it; a failing
/// whole-chunk write reports the error and stores nothing.
#[test]
fn failed_flush_keeps_buffered_writes() {
    use std::sync::atomic::Ordering::SeqCst;
    for sharded in [false, true] {
        let counting = CountingStore::memory();
        let store: StoreRef = counting.clone();
        let b = if sharded {
            u32_array(&[16, 16], &[4, 4], Some(&[8, 8]))
        } else {
            u32_array(&[16, 16], &[8, 8], None)
        };
        let w = b.create(&store, "f").unwrap();
        w.set_write_buffer(1 << 30);
        let part = Region::new(vec![1, 1], vec![2, 3]);
        let vals: Vec<u32> = (1..=6).collect();
        w.write_region(&part, &to_bytes(&vals)).unwrap();
        counting.fail_writes.store(true, SeqCst);
        let err = w.flush().unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert!(
            err.to_string().contains("f/c/0/0"),
            "error names the chunk: {err}"
        );
        assert_eq!(from_bytes(&w.read_region_vec(&part).unwrap()), vals);
        // A whole-cell write fails without storing anything.
        let whole = Region::new(vec![8, 8], vec![8, 8]);
        assert!(w.write_region(&whole, &to_bytes(&[9; 64])).is_err());
        assert_eq!(counting.counts("f/c/1/1").set, 0);
        counting.fail_writes.store(false, SeqCst);
        w.flush().unwrap();
        w.close().unwrap();
        let r = Array::open(&store, "f", Mode::Read).unwrap();
        assert_eq!(from_bytes(&r.read_region_vec(&part).unwrap()), vals);
        assert_eq!(
            from_bytes(&r.read_region_vec(&whole).unwrap()),
            vec![0; 64],
            "sharded: {sharded}"
        );
    }
}

/// Read-your-writes with the cache in write mode: a thread that stored a
/// chunk and then reads it must not be handed the result of another
/// thread's fetch that started before the store (it holds the old bytes).
#[test]
fn a_read_after_a_store_does_not_join_an_older_fetch() {
    let _wd = watchdog("older_fetch", Duration::from_secs(60));
    let counting = CountingStore::memory();
    let store: StoreRef = counting.clone();
    let w = u32_array(&[64], &[32], None).create(&store, "x").unwrap();
    w.write_region(&Region::all(&[64]), &to_bytes(&[1; 64]))
        .unwrap();
    w.flush().unwrap();
    counting.set_read_delay(Duration::from_millis(400));
    std::thread::scope(|s| {
        // A: a partial read of chunk 0 whose fetch takes 400 ms.
        let slow =
            s.spawn(|| from_bytes(&w.read_region_vec(&Region::new(vec![1], vec![1])).unwrap()));
        std::thread::sleep(Duration::from_millis(100));
        // C: rewrites chunk 0 whole (stored at once, no read), then reads it.
        w.write_region(&Region::new(vec![0], vec![32]), &to_bytes(&[2; 32]))
            .unwrap();
        let mine = from_bytes(&w.read_region_vec(&Region::new(vec![2], vec![1])).unwrap());
        assert_eq!(
            mine,
            vec![2],
            "a read after a completed store returned the old chunk"
        );
        // A's read overlapped the store: old or new are both fine.
        let theirs = slow.join().unwrap();
        assert!(theirs == vec![1] || theirs == vec![2]);
    });
    counting.set_read_delay(Duration::ZERO);
    w.close().unwrap();
}

//! The store conformance suite: one set of checks of the contract written on
//! [`zarrcore::Store`], run against every implementation.
//!
//! A backend plugs in by implementing [`Backend`] (how to make a fresh store,
//! and optionally how to reopen it, open it read-only, or plant raw entries
//! behind its back) and adding one line at the bottom of this file:
//!
//! ```text
//! conformance_suite!(my_store, MyBackend::new());
//! ```
//!
//! Every check then runs as its own test, named `my_store::<check>`.
//! Behaviour only some backends have (symbolic links of directory stores,
//! zip archives' entry names) is tested after the generic checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use zarrcore::error::StoreError;
use zarrcore::store::{
    ByteRange, Concurrency, DirectoryStore, Generation, MemoryStore, ZipStore, TEMP_MARKER,
};
use zarrcore::{Store, StoreOptions, StoreRef};

// ---------------------------------------------------------------------------
// The backend interface

/// A writable store under test, with the capabilities its backend offers.
struct Instance {
    /// A fresh, empty, writable store.
    store: StoreRef,
    /// Opens the same storage again as a new writable handle (the caller
    /// flushes and drops other writable handles first).
    reopen: Option<Opener>,
    /// Opens the same storage read-only.
    read_only: Option<Opener>,
    /// Replaces the storage with exactly these raw entries, bypassing key
    /// validation (what a crashed writer or a foreign tool leaves behind),
    /// and returns a handle that sees them. Called on a fresh instance.
    plant: Option<Planter>,
    /// Keeps the storage alive (temporary directories, a memory store).
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

type Opener = Box<dyn Fn() -> StoreRef + Send + Sync>;
type Planter = Box<dyn Fn(&[(&str, &[u8])]) -> StoreRef + Send + Sync>;

/// A store implementation under test.
trait Backend: Send + Sync + 'static {
    /// A fresh instance (empty storage).
    fn create(&self) -> Instance;
}

// ---------------------------------------------------------------------------
// The backends

struct DirectoryBackend;

impl Backend for DirectoryBackend {
    fn create(&self) -> Instance {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("store.zarr");
        let store: StoreRef =
            Arc::new(DirectoryStore::open(&root, StoreOptions::create()).unwrap());
        let (r1, r2, r3) = (root.clone(), root.clone(), root);
        Instance {
            store,
            reopen: Some(Box::new(move || {
                Arc::new(DirectoryStore::open(&r1, StoreOptions::create()).unwrap())
            })),
            read_only: Some(Box::new(move || {
                Arc::new(DirectoryStore::open(&r2, StoreOptions::read_only()).unwrap())
            })),
            plant: Some(Box::new(move |entries| {
                for (k, v) in entries {
                    let p = r3.join(k);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, v).unwrap();
                }
                Arc::new(DirectoryStore::open(&r3, StoreOptions::create()).unwrap())
            })),
            _guard: Some(Box::new(tmp)),
        }
    }
}

struct ZipBackend;

/// Writes a zip file with exactly these entries (names not validated).
fn write_raw_zip(path: &Path, entries: &[(&str, &[u8])], deflate: bool) {
    use std::io::Write;
    let f = std::fs::File::create(path).unwrap();
    let mut w = zip::ZipWriter::new(f);
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    for (k, v) in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file(*k, opts).unwrap();
        w.write_all(v).unwrap();
    }
    w.finish().unwrap();
}

impl Backend for ZipBackend {
    fn create(&self) -> Instance {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store.zip");
        let store: StoreRef = Arc::new(ZipStore::open(&path, StoreOptions::create()).unwrap());
        let (p1, p2, p3) = (path.clone(), path.clone(), path);
        Instance {
            store,
            reopen: Some(Box::new(move || {
                Arc::new(ZipStore::open(&p1, StoreOptions::create()).unwrap())
            })),
            read_only: Some(Box::new(move || {
                Arc::new(ZipStore::open(&p2, StoreOptions::read_only()).unwrap())
            })),
            plant: Some(Box::new(move |entries| {
                write_raw_zip(&p3, entries, false);
                Arc::new(ZipStore::open(&p3, StoreOptions::create()).unwrap())
            })),
            _guard: Some(Box::new(tmp)),
        }
    }
}

struct MemoryBackend;

impl Backend for MemoryBackend {
    fn create(&self) -> Instance {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("conformance-{}", N.fetch_add(1, Ordering::Relaxed));
        let store: StoreRef = MemoryStore::named(&name);
        Instance {
            store: Arc::clone(&store),
            // Named memory stores share their contents while a handle lives
            // (the instance keeps one).
            reopen: Some(Box::new(move || MemoryStore::named(&name))),
            read_only: None,
            plant: None,
            _guard: Some(Box::new(store)),
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `secs` (a hung store must not hang the suite).
fn with_timeout(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
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
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("check timed out after {secs} s"),
    }
}

fn get(s: &StoreRef, k: &str) -> Option<Vec<u8>> {
    s.get(k)
        .unwrap_or_else(|e| panic!("get {k:?}: {e}"))
        .map(|b| b.to_vec())
}

fn range(s: &StoreRef, k: &str, r: ByteRange) -> Result<Option<Vec<u8>>, StoreError> {
    s.get_range(k, r).map(|o| o.map(|b| b.to_vec()))
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn is_invalid_key(r: &Result<impl std::fmt::Debug, StoreError>, key: &str) -> bool {
    matches!(r, Err(StoreError::InvalidKey { key: k, .. }) if k == key)
}

// ---------------------------------------------------------------------------
// The checks (generic over the backend)

/// Missing keys are `Ok(None)`; deleting what is missing succeeds.
fn missing_keys(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    for k in ["nope", "a/b/c", "c/0/0", "zarr.json"] {
        assert_eq!(get(s, k), None, "{k}");
        assert_eq!(s.size(k).unwrap(), None, "{k}");
        assert_eq!(
            range(s, k, ByteRange::Range { offset: 0, len: 1 }).unwrap(),
            None
        );
        assert_eq!(range(s, k, ByteRange::Suffix(4)).unwrap(), None);
        s.delete(k).unwrap();
    }
    s.set("k", b"value").unwrap();
    s.set("dir/v", b"x").unwrap();
    // Below a value, and a directory-like prefix itself, are not values.
    assert_eq!(get(s, "k/sub"), None);
    assert_eq!(s.size("k/sub").unwrap(), None);
    assert_eq!(get(s, "dir"), None);
    assert_eq!(s.size("dir").unwrap(), None);
    s.delete("k/sub").unwrap();
    s.delete("missing/deeper/key").unwrap();
    s.delete_prefix("missing").unwrap();
    assert!(s.list_prefix("missing").unwrap().is_empty());
    assert_eq!(s.list_dir("missing").unwrap(), Default::default());
    assert_eq!(get(s, "k").as_deref(), Some(&b"value"[..]));
}

/// `set` stores exactly the bytes given and replaces any previous value.
fn set_get_replace(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    assert!(s.is_writable());
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    s.set("a/b/c", &all_bytes).unwrap();
    assert_eq!(get(s, "a/b/c").unwrap(), all_bytes);
    assert_eq!(s.size("a/b/c").unwrap(), Some(256));
    // Replace with longer, shorter, empty values.
    for v in [pattern(5000, 1), pattern(3, 2), vec![], pattern(17, 3)] {
        s.set("a/b/c", &v).unwrap();
        assert_eq!(get(s, "a/b/c").as_deref(), Some(&v[..]));
        assert_eq!(s.size("a/b/c").unwrap(), Some(v.len() as u64));
    }
    // An empty value is present, not missing.
    s.set("empty", b"").unwrap();
    assert_eq!(get(s, "empty"), Some(vec![]));
    assert_eq!(s.size("empty").unwrap(), Some(0));
    // Large values (directory stores map these).
    let big = pattern(3 << 20, 9);
    s.set("big/chunk", &big).unwrap();
    assert!(get(s, "big/chunk").unwrap() == big);
    // Key spellings Zarr uses: dotted names, v2 chunk keys, unicode.
    for k in [
        ".zarray",
        "g/.zattrs",
        "x/0.1.2",
        "..a",
        "a..",
        "grüße/✓",
        "c/0/1",
    ] {
        let v = pattern(11, k.len() as u8);
        s.set(k, &v).unwrap();
        assert_eq!(get(s, k).unwrap(), v, "{k}");
    }
    s.flush().unwrap();
    assert!(get(s, "big/chunk").unwrap() == big);
    assert_eq!(get(s, "x/0.1.2").unwrap(), pattern(11, 7));
}

/// `delete` and `delete_prefix` remove exactly what they name.
fn deletion(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    for k in ["g/a", "g/sub/b", "g2/a", "gx", "h/zarr.json"] {
        s.set(k, k.as_bytes()).unwrap();
    }
    s.delete("g/a").unwrap();
    assert_eq!(get(s, "g/a"), None);
    s.delete("g/a").unwrap();
    s.delete_prefix("g").unwrap();
    assert_eq!(
        sorted(&["g2/a", "gx", "h/zarr.json"]),
        s.list_prefix("").unwrap()
    );
    s.delete_prefix("h/").unwrap();
    assert_eq!(sorted(&["g2/a", "gx"]), s.list_prefix("").unwrap());
    s.flush().unwrap();
    assert_eq!(sorted(&["g2/a", "gx"]), s.list_prefix("").unwrap());
    s.delete_prefix("").unwrap();
    assert!(s.list_prefix("").unwrap().is_empty());
    assert_eq!(get(s, "gx"), None);
    // The store is still usable.
    s.set("again", b"1").unwrap();
    assert_eq!(get(s, "again").as_deref(), Some(&b"1"[..]));
}

/// Byte ranges return exactly the bytes asked for, or `RangeOutOfBounds`.
fn byte_ranges(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    let small = pattern(1000, 5);
    let big = pattern((1 << 20) + 4321, 6);
    s.set("small", &small).unwrap();
    s.set("sub/big", &big).unwrap();
    for _pass in 0..2 {
        for (key, v) in [("small", &small), ("sub/big", &big)] {
            let n = v.len() as u64;
            let cases = [
                (0, 1),
                (0, n),
                (1, n - 1),
                (n - 1, 1),
                (n, 0),
                (0, 0),
                (13, 977),
                (n / 2, n / 3),
            ];
            for (o, l) in cases {
                let got = range(s, key, ByteRange::Range { offset: o, len: l })
                    .unwrap_or_else(|e| panic!("{key} {o}+{l}: {e}"))
                    .unwrap();
                assert_eq!(got, v[o as usize..(o + l) as usize], "{key} {o}+{l}");
            }
            for k in [0, 1, 4, 16, n - 1, n] {
                let got = range(s, key, ByteRange::Suffix(k)).unwrap().unwrap();
                assert_eq!(got, v[(n - k) as usize..], "{key} suffix {k}");
            }
            for bad in [
                ByteRange::Range { offset: n, len: 1 },
                ByteRange::Range {
                    offset: n - 10,
                    len: 11,
                },
                ByteRange::Range {
                    offset: n + 5,
                    len: 0,
                },
                ByteRange::Range {
                    offset: u64::MAX,
                    len: 2,
                },
                ByteRange::Range {
                    offset: 1,
                    len: u64::MAX,
                },
                ByteRange::Suffix(n + 1),
                ByteRange::Suffix(u64::MAX),
            ] {
                match range(s, key, bad) {
                    Err(StoreError::RangeOutOfBounds { key: k, size, .. }) => {
                        assert_eq!(k, key);
                        assert_eq!(size, n);
                    }
                    other => panic!("{key} {bad:?}: expected RangeOutOfBounds, got {other:?}"),
                }
            }
        }
        // The same after the store has been flushed (zip: read from the archive).
        s.flush().unwrap();
    }
    // An empty value: only empty ranges fit.
    s.set("e", b"").unwrap();
    assert_eq!(range(s, "e", ByteRange::Suffix(0)).unwrap(), Some(vec![]));
    assert!(matches!(
        range(s, "e", ByteRange::Range { offset: 0, len: 1 }),
        Err(StoreError::RangeOutOfBounds { .. })
    ));
}

/// `list_prefix` is sorted and complete; `list_dir` gives immediate children.
fn listing(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    let keys = [
        "zarr.json",
        "a/b/c",
        "a/b/d",
        "a/bc",
        "a/e",
        "b",
        "a/b/.zarray",
        "c/0/1",
        "c/0/0",
        "c/10/0",
        "c/2/0",
    ];
    // Insert in a scrambled order.
    for k in keys.iter().rev().chain(keys.iter()) {
        s.set(k, k.as_bytes()).unwrap();
    }
    for _pass in 0..2 {
        assert_eq!(s.list_prefix("").unwrap(), sorted(&keys));
        assert_eq!(
            s.list_prefix("a/b").unwrap(),
            sorted(&["a/b/.zarray", "a/b/c", "a/b/d", "a/bc"])
        );
        assert_eq!(
            s.list_prefix("a/b/").unwrap(),
            sorted(&["a/b/.zarray", "a/b/c", "a/b/d"])
        );
        assert_eq!(
            s.list_prefix("c/").unwrap(),
            sorted(&["c/0/0", "c/0/1", "c/10/0", "c/2/0"])
        );
        assert_eq!(s.list_prefix("c/1").unwrap(), sorted(&["c/10/0"]));
        assert_eq!(s.list_prefix("zarr.json").unwrap(), sorted(&["zarr.json"]));
        assert!(s.list_prefix("q").unwrap().is_empty());

        let root = s.list_dir("").unwrap();
        assert_eq!(root.keys, sorted(&["b", "zarr.json"]));
        assert_eq!(root.prefixes, sorted(&["a", "c"]));
        for p in ["a", "a/"] {
            let d = s.list_dir(p).unwrap();
            assert_eq!(d.keys, sorted(&["a/bc", "a/e"]), "{p}");
            assert_eq!(d.prefixes, sorted(&["a/b"]), "{p}");
        }
        let d = s.list_dir("a/b").unwrap();
        assert_eq!(d.keys, sorted(&["a/b/.zarray", "a/b/c", "a/b/d"]));
        assert!(d.prefixes.is_empty());
        let d = s.list_dir("c").unwrap();
        assert!(d.keys.is_empty());
        assert_eq!(d.prefixes, sorted(&["c/0", "c/10", "c/2"]));
        // A value is not a directory.
        assert_eq!(s.list_dir("b").unwrap(), Default::default());
        s.flush().unwrap();
    }
    // Listings reflect completed deletes.
    s.delete("a/e").unwrap();
    s.delete_prefix("c").unwrap();
    assert_eq!(s.list_dir("a").unwrap().keys, sorted(&["a/bc"]));
    assert_eq!(s.list_dir("").unwrap().prefixes, sorted(&["a"]));
    assert!(!s
        .list_prefix("")
        .unwrap()
        .iter()
        .any(|k| k.starts_with("c/")));
}

/// Keys naming temporaries are refused; temporaries in the storage (left by
/// a crashed writer) are never listed or read.
fn temporaries_ignored(b: &dyn Backend) {
    let inst = b.create();
    let tmp_key = format!("a/.c{TEMP_MARKER}123.4");
    assert!(is_invalid_key(&inst.store.set(&tmp_key, b"x"), &tmp_key));
    assert!(is_invalid_key(&inst.store.get(&tmp_key), &tmp_key));
    let Some(plant) = &inst.plant else {
        return;
    };
    let root_tmp = format!(".zarr.json{TEMP_MARKER}9.9");
    let s = plant(&[
        ("a/x", b"ok"),
        (&tmp_key, b"half-written"),
        (&root_tmp, b"{"),
        ("zarr.json", b"{}"),
    ]);
    assert_eq!(s.list_prefix("").unwrap(), sorted(&["a/x", "zarr.json"]));
    assert_eq!(s.list_prefix("a/").unwrap(), sorted(&["a/x"]));
    assert_eq!(s.list_dir("a").unwrap().keys, sorted(&["a/x"]));
    assert_eq!(s.list_dir("").unwrap().keys, sorted(&["zarr.json"]));
    assert!(is_invalid_key(&s.get(&tmp_key), &tmp_key));
    assert!(is_invalid_key(&s.size(&root_tmp), &root_tmp));
    assert_eq!(get(&s, "a/x").as_deref(), Some(&b"ok"[..]));
    // Writing through the store does not trip over (or expose) them.
    s.set("a/y", b"new").unwrap();
    s.flush().unwrap();
    assert_eq!(s.list_prefix("a/").unwrap(), sorted(&["a/x", "a/y"]));
}

const BAD_KEYS: &[&str] = &[
    "",
    "/a",
    "/",
    "a//b",
    "a/",
    "..",
    "a/..",
    "a/../b",
    "../../etc/passwd",
    ".",
    "a/./b",
    "a\0b",
    "a\\b",
    "..\\..\\x",
];

/// Every operation refuses malformed keys with `InvalidKey` naming the key.
fn key_validation(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    s.set("a/b", b"inside").unwrap();
    for &k in BAD_KEYS {
        assert!(is_invalid_key(&s.get(k), k), "get {k:?}");
        assert!(
            is_invalid_key(&s.get_range(k, ByteRange::Suffix(1)), k),
            "get_range {k:?}"
        );
        assert!(is_invalid_key(&s.size(k), k), "size {k:?}");
        assert!(is_invalid_key(&s.set(k, b"x"), k), "set {k:?}");
        assert!(is_invalid_key(&s.delete(k), k), "delete {k:?}");
    }
    for p in ["..", "a/..", "../x", "a/../..", "a\0", "x\\y", "a//b"] {
        assert!(
            matches!(s.delete_prefix(p), Err(StoreError::InvalidKey { .. })),
            "delete_prefix {p:?}"
        );
        assert!(
            matches!(s.list_dir(p), Err(StoreError::InvalidKey { .. })),
            "list_dir {p:?}"
        );
    }
    let msg = s.get("a/../b").unwrap_err().to_string();
    assert!(msg.contains("a/../b") && msg.contains(".."), "{msg}");
    // Nothing was written or deleted by the refused calls.
    s.flush().unwrap();
    assert_eq!(s.list_prefix("").unwrap(), sorted(&["a/b"]));
    assert_eq!(get(s, "a/b").as_deref(), Some(&b"inside"[..]));
}

/// A concurrent reader never sees a torn or truncated value: every value it
/// reads is one that was set, whole.
fn atomic_replace_under_concurrent_readers(b: &dyn Backend) {
    let inst = b.create();
    with_timeout(60, move || {
        let s = Arc::clone(&inst.store);
        // Value `i` is `len(i)` bytes of byte `i`; some exceed 1 MiB.
        let len = |i: u8| -> usize {
            match i % 4 {
                0 => (1 << 20) + 4096 + i as usize * 3,
                1 => 1,
                _ => 1000 + i as usize * 997,
            }
        };
        let check = move |v: &[u8]| {
            assert!(!v.is_empty(), "read an empty (truncated) value");
            let i = v[0];
            assert_eq!(
                v.len(),
                len(i),
                "value {i} has the wrong length (torn write)"
            );
            assert!(v.iter().all(|&x| x == i), "value {i} is mixed (torn write)");
        };
        s.set("k/v", &vec![0u8; len(0)]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let mut readers = vec![];
        for r in 0..3 {
            let (s, stop, reads) = (Arc::clone(&s), Arc::clone(&stop), Arc::clone(&reads));
            readers.push(thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match r {
                        0 => check(&s.get("k/v").unwrap().expect("value vanished")),
                        1 => {
                            // A suffix read: one byte, whichever value it hits.
                            let v = s.get_range("k/v", ByteRange::Suffix(1)).unwrap().unwrap();
                            assert_eq!(v.len(), 1);
                            let n = s.size("k/v").unwrap().expect("value vanished");
                            assert!((0..=255u8).any(|i| len(i) as u64 == n), "size {n}");
                        }
                        _ => {
                            let l = s.list_prefix("k/").unwrap();
                            assert_eq!(l, vec!["k/v".to_string()], "listing during writes");
                            check(&s.get("k/v").unwrap().expect("value vanished"));
                        }
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let deadline = Instant::now() + Duration::from_millis(1500);
        let mut i: u8 = 0;
        let mut writes = 0;
        while writes < 40 || Instant::now() < deadline {
            i = i.wrapping_add(1);
            s.set("k/v", &vec![i; len(i)]).unwrap();
            writes += 1;
            if writes % 7 == 0 {
                // Zip stores rebuild their archive here; readers keep going.
                s.flush().unwrap();
            }
            if writes > 400 {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().expect("reader saw a torn value");
        }
        assert!(reads.load(Ordering::Relaxed) > 0);
        check(&s.get("k/v").unwrap().unwrap());
        assert_eq!(s.get("k/v").unwrap().unwrap()[0], i);
    });
}

/// Concurrent `set`s of different keys never interfere.
fn concurrent_writers(b: &dyn Backend) {
    let inst = b.create();
    with_timeout(60, move || {
        let s = Arc::clone(&inst.store);
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    for j in 0..40 {
                        let k = format!("t{t}/c/{j}");
                        s.set(&k, &pattern(100 + j * 13, t as u8)).unwrap();
                        // Same directory, same key from several threads.
                        s.set("shared/v", &[t as u8; 64]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        s.flush().unwrap();
        let listed = s.list_prefix("").unwrap();
        assert_eq!(listed.len(), 6 * 40 + 1);
        for t in 0..6u8 {
            for j in 0..40 {
                let k = format!("t{t}/c/{j}");
                assert_eq!(get(&s, &k).unwrap(), pattern(100 + j * 13, t), "{k}");
            }
        }
        let v = get(&s, "shared/v").unwrap();
        assert!(v.len() == 64 && v.iter().all(|&x| x == v[0]) && v[0] < 6);
    });
}

/// `set_if` replaces or deletes a value only at the generation the caller
/// read, and `get_versioned` reports generations that change on every
/// replacement.
fn conditional_writes(b: &dyn Backend) {
    let inst = b.create();
    let s = &inst.store;
    assert_eq!(s.concurrency(), Concurrency::Atomic);
    let (v, g0) = s.get_versioned("a/k").unwrap();
    assert!(v.is_none());
    assert_eq!(g0, Generation::Absent);
    assert!(s.set_if("a/k", Some(b"one"), &Generation::Absent).unwrap());
    // A second create-only write finds the key taken.
    assert!(!s.set_if("a/k", Some(b"two"), &Generation::Absent).unwrap());
    assert_eq!(get(s, "a/k").unwrap(), b"one");
    let (v, g1) = s.get_versioned("a/k").unwrap();
    assert_eq!(v.as_deref(), Some(&b"one"[..]));
    assert!(matches!(g1, Generation::Tag(_)));
    assert!(s.set_if("a/k", Some(b"two"), &g1).unwrap());
    // The generation read before that replacement is stale now, even
    // though the value has the same length.
    assert!(!s.set_if("a/k", Some(b"six"), &g1).unwrap());
    assert!(!s.set_if("a/k", None, &g1).unwrap());
    assert_eq!(get(s, "a/k").unwrap(), b"two");
    let (_, g2) = s.get_versioned("a/k").unwrap();
    assert_ne!(g1, g2);
    // An unconditional write moves the generation on too.
    s.set("a/k", b"two").unwrap();
    let (_, g3) = s.get_versioned("a/k").unwrap();
    if g3 != g2 {
        assert!(!s.set_if("a/k", Some(b"x"), &g2).unwrap());
    }
    assert!(s.set_if("a/k", None, &g3).unwrap());
    assert!(get(s, "a/k").is_none());
    assert!(!s.set_if("a/k", Some(b"y"), &g3).unwrap());
    assert!(s.set_if("a/k", None, &Generation::Absent).unwrap());
    s.flush().unwrap();
}

/// Threads that each read, modify and conditionally write one value
/// (retrying on a conflict), with store handles of their own where the
/// backend can open more, never lose an increment.
fn conditional_increments(b: &dyn Backend) {
    let inst = b.create();
    with_timeout(120, move || {
        let (threads, rounds) = (6u64, 60u64);
        let handles: Vec<StoreRef> = (0..threads)
            .map(|_| match &inst.reopen {
                Some(open) if !inst.store.describe().starts_with("zip") => open(),
                _ => Arc::clone(&inst.store),
            })
            .collect();
        let joins: Vec<_> = handles
            .into_iter()
            .map(|s| {
                thread::spawn(move || {
                    let mut conflicts = 0u64;
                    for _ in 0..rounds {
                        loop {
                            let (v, g) = s.get_versioned("n/count").unwrap();
                            let n = v.map_or(0, |b| u64::from_le_bytes(b[..8].try_into().unwrap()));
                            if s.set_if("n/count", Some(&(n + 1).to_le_bytes()), &g)
                                .unwrap()
                            {
                                break;
                            }
                            conflicts += 1;
                        }
                        // Blind writes of the same key from others must not
                        // slip between a conditional check and its write.
                        s.set("n/other", b"x").unwrap();
                    }
                    conflicts
                })
            })
            .collect();
        let conflicts: u64 = joins.into_iter().map(|j| j.join().unwrap()).sum();
        let s = &inst.store;
        let v = get(s, "n/count").unwrap();
        assert_eq!(
            u64::from_le_bytes(v[..8].try_into().unwrap()),
            threads * rounds,
            "increments lost ({conflicts} conflicts seen)"
        );
    });
}

/// Flushed writes are seen by a new handle on the same storage, and writes
/// through it (replace, delete, add) persist in turn.
fn reopen_persists(b: &dyn Backend) {
    let Instance {
        store,
        reopen,
        read_only,
        _guard,
        ..
    } = b.create();
    let Some(reopen) = reopen else {
        return;
    };
    let big = pattern(2 << 20, 4);
    store.set("zarr.json", b"{\"a\": 1}").unwrap();
    store.set("x/c/0", &big).unwrap();
    store.set("x/c/1", b"one").unwrap();
    store.set("gone", b"soon").unwrap();
    store.flush().unwrap();
    // One writable handle at a time (zip stores stage writes per file).
    drop(store);
    let s = reopen();
    assert_eq!(
        s.list_prefix("").unwrap(),
        sorted(&["gone", "x/c/0", "x/c/1", "zarr.json"])
    );
    assert!(get(&s, "x/c/0").unwrap() == big);
    assert_eq!(
        range(&s, "x/c/0", ByteRange::Range { offset: 7, len: 9 })
            .unwrap()
            .unwrap(),
        big[7..16]
    );
    s.set("x/c/1", b"ONE!").unwrap();
    s.delete("gone").unwrap();
    s.set("x/c/2", b"two").unwrap();
    s.flush().unwrap();
    drop(s);
    let s = reopen();
    assert_eq!(
        s.list_prefix("").unwrap(),
        sorted(&["x/c/0", "x/c/1", "x/c/2", "zarr.json"])
    );
    assert_eq!(get(&s, "x/c/1").as_deref(), Some(&b"ONE!"[..]));
    assert_eq!(get(&s, "gone"), None);
    drop(s);
    if let Some(ro) = read_only {
        let r = ro();
        assert_eq!(get(&r, "x/c/2").as_deref(), Some(&b"two"[..]));
        assert!(get(&r, "x/c/0").unwrap() == big);
    }
}

/// A read-only store refuses every write with `ReadOnly` and keeps its data.
fn read_only_refuses_writes(b: &dyn Backend) {
    let inst = b.create();
    let Some(ro) = &inst.read_only else {
        return;
    };
    inst.store.set("g/zarr.json", b"{}").unwrap();
    inst.store.set("g/c/0", b"data").unwrap();
    inst.store.flush().unwrap();
    let r = ro();
    assert!(!r.is_writable());
    let refused = |res: Result<(), StoreError>, what: &str| match res {
        Err(StoreError::ReadOnly { .. }) => {}
        other => panic!("{what}: expected ReadOnly, got {other:?}"),
    };
    refused(r.set("g/c/0", b"new"), "set existing");
    refused(r.set("g/c/9", b"new"), "set new");
    refused(r.delete("g/c/0"), "delete");
    refused(r.delete_prefix("g"), "delete_prefix");
    refused(r.delete_prefix(""), "delete_prefix root");
    let msg = r.set("g/c/0", b"x").unwrap_err().to_string();
    assert!(msg.contains("read-only") && msg.contains("g/c/0"), "{msg}");
    r.flush().unwrap();
    assert_eq!(get(&r, "g/c/0").as_deref(), Some(&b"data"[..]));
    assert_eq!(
        r.list_prefix("").unwrap(),
        sorted(&["g/c/0", "g/zarr.json"])
    );
    drop(r);
    // Nothing changed underneath either.
    let r = ro();
    assert_eq!(get(&r, "g/c/0").as_deref(), Some(&b"data"[..]));
    assert_eq!(get(&r, "g/c/9"), None);
}

macro_rules! conformance_suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            use super::*;

            fn backend() -> impl Backend {
                $backend
            }

            #[test]
            fn missing_keys() {
                super::missing_keys(&backend())
            }
            #[test]
            fn set_get_replace() {
                super::set_get_replace(&backend())
            }
            #[test]
            fn deletion() {
                super::deletion(&backend())
            }
            #[test]
            fn byte_ranges() {
                super::byte_ranges(&backend())
            }
            #[test]
            fn listing() {
                super::listing(&backend())
            }
            #[test]
            fn temporaries_ignored() {
                super::temporaries_ignored(&backend())
            }
            #[test]
            fn key_validation() {
                super::key_validation(&backend())
            }
            #[test]
            fn atomic_replace_under_concurrent_readers() {
                super::atomic_replace_under_concurrent_readers(&backend())
            }
            #[test]
            fn concurrent_writers() {
                super::concurrent_writers(&backend())
            }
            #[test]
            fn conditional_writes() {
                super::conditional_writes(&backend())
            }
            #[test]
            fn conditional_increments() {
                super::conditional_increments(&backend())
            }
            #[test]
            fn reopen_persists() {
                super::reopen_persists(&backend())
            }
            #[test]
            fn read_only_refuses_writes() {
                super::read_only_refuses_writes(&backend())
            }
        }
    };
}

conformance_suite!(directory_store, DirectoryBackend);
conformance_suite!(zip_store, ZipBackend);
conformance_suite!(memory_store, MemoryBackend);

// ---------------------------------------------------------------------------
// Directory stores: symbolic links and files on disk

fn dir_store(root: &Path, writable: bool) -> StoreRef {
    let opts = if writable {
        StoreOptions::create()
    } else {
        StoreOptions::read_only()
    };
    Arc::new(DirectoryStore::open(root, opts).unwrap())
}

fn no_temporaries_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(TEMP_MARKER)
            {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn directory_symlinks_escaping_the_root_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    let root = tmp.path().join("store");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("abs_dir")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("rel_dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), root.join("abs_file")).unwrap();
    std::os::unix::fs::symlink("../outside/secret", root.join("rel_file")).unwrap();
    std::fs::create_dir(root.join("g")).unwrap();
    std::os::unix::fs::symlink("../../outside", root.join("g/up")).unwrap();
    let s = dir_store(&root, true);
    for k in [
        "abs_dir/secret",
        "rel_dir/secret",
        "abs_file",
        "rel_file",
        "g/up/secret",
    ] {
        assert!(s.get(k).is_err(), "get {k} must be refused");
        assert!(s.size(k).is_err(), "size {k} must be refused");
        assert!(
            s.get_range(k, ByteRange::Suffix(1)).is_err(),
            "get_range {k} must be refused"
        );
    }
    for k in ["abs_dir/new", "rel_dir/new", "g/up/new", "rel_dir/deep/new"] {
        assert!(s.set(k, b"x").is_err(), "set {k} must be refused");
    }
    for k in ["abs_dir/secret", "rel_dir/secret", "g/up/secret"] {
        assert!(s.delete(k).is_err(), "delete {k} must be refused");
    }
    for p in ["abs_dir", "rel_dir", "g/up"] {
        assert!(s.delete_prefix(p).is_err(), "delete_prefix {p}");
        assert!(s.list_dir(p).is_err(), "list_dir {p}");
    }
    // Nothing outside was created, changed or removed.
    let mut names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");
    // Removing the whole store removes the links, not their targets.
    s.delete_prefix("").unwrap();
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");
    assert!(root.exists());
}

#[test]
fn directory_symlinks_inside_the_root_are_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    std::fs::create_dir_all(root.join("data/c")).unwrap();
    std::fs::write(root.join("data/c/0"), b"chunk").unwrap();
    std::os::unix::fs::symlink("data", root.join("alias")).unwrap();
    std::os::unix::fs::symlink("../data/c/0", root.join("data/c0link")).unwrap();
    let s = dir_store(&root, true);
    assert_eq!(get(&s, "alias/c/0").as_deref(), Some(&b"chunk"[..]));
    assert_eq!(get(&s, "data/c0link").as_deref(), Some(&b"chunk"[..]));
    assert_eq!(s.size("alias/c/0").unwrap(), Some(5));
    assert_eq!(
        range(&s, "alias/c/0", ByteRange::Suffix(3)).unwrap(),
        Some(b"unk".to_vec())
    );
    let d = s.list_dir("").unwrap();
    assert_eq!(d.prefixes, sorted(&["alias", "data"]));
    assert_eq!(s.list_dir("alias/c").unwrap().keys, sorted(&["alias/c/0"]));
    s.set("alias/c/1", b"via link").unwrap();
    assert_eq!(std::fs::read(root.join("data/c/1")).unwrap(), b"via link");
}

#[test]
fn directory_writes_leave_no_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = dir_store(&root, true);
    for i in 0..50 {
        s.set(&format!("a/c/{}", i % 7), &pattern(i * 100, i as u8))
            .unwrap();
    }
    assert!(no_temporaries_under(&root).is_empty());
    // A refused write (target is a directory) cleans up its temporary too.
    assert!(s.set("a/c", b"x").is_err());
    assert!(no_temporaries_under(&root).is_empty());
    assert_eq!(s.list_prefix("a/c/").unwrap().len(), 7);
}

#[test]
fn directory_open_errors_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no/such/store");
    let e = DirectoryStore::open(&missing, StoreOptions::read_only()).unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }));
    assert!(e.to_string().contains("no/such/store"), "{e}");
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = DirectoryStore::open(&file, StoreOptions::read_only()).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

// ---------------------------------------------------------------------------
// Zip stores: archives written by other tools

#[test]
fn zip_entries_that_are_not_valid_keys_are_never_exposed() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("odd.zip");
    write_raw_zip(
        &p,
        &[
            ("zarr.json", b"{}"),
            ("../evil", b"x"),
            ("/abs", b"x"),
            ("a//b", b"x"),
            ("a\\b", b"x"),
            ("dir/", b""),
            ("c/0", b"chunk"),
        ],
        false,
    );
    let s: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::read_only()).unwrap());
    assert_eq!(s.list_prefix("").unwrap(), sorted(&["c/0", "zarr.json"]));
    assert_eq!(get(&s, "c/0").as_deref(), Some(&b"chunk"[..]));
    assert!(s.get("../evil").is_err());
}

#[test]
fn zip_deflated_entries_read_whole_and_in_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("deflated.zip");
    let v = pattern(70_000, 3);
    write_raw_zip(&p, &[("c/0", &v), ("zarr.json", b"{}")], true);
    let s: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::read_only()).unwrap());
    assert!(get(&s, "c/0").unwrap() == v);
    assert_eq!(
        range(
            &s,
            "c/0",
            ByteRange::Range {
                offset: 65_000,
                len: 10
            }
        )
        .unwrap()
        .unwrap(),
        v[65_000..65_010]
    );
    assert_eq!(
        range(&s, "c/0", ByteRange::Suffix(5)).unwrap().unwrap(),
        v[v.len() - 5..]
    );
    assert!(matches!(
        range(&s, "c/0", ByteRange::Suffix(70_001)),
        Err(StoreError::RangeOutOfBounds { .. })
    ));
}

#[test]
fn zip_dropping_a_writer_builds_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("w.zip");
    {
        let s = ZipStore::open(&p, StoreOptions::create()).unwrap();
        s.set("zarr.json", b"{}").unwrap();
        s.set("c/0", b"abc").unwrap();
        assert!(!p.exists(), "nothing is written before flush or drop");
    }
    let s: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::read_only()).unwrap());
    assert_eq!(get(&s, "c/0").as_deref(), Some(&b"abc"[..]));
    // No staging directory or temporary zip is left beside the file.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec!["w.zip".to_string()]);
}

#[test]
fn zip_two_writable_handles_keep_each_others_writes() {
    // Regression: handles shared one staging directory per process, so one
    // handle's flush wiped the other's staged values and the other's flush
    // then wrote an archive without either.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("two.zip");
    let a: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::create()).unwrap());
    let b: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::create()).unwrap());
    a.set("x", b"from a").unwrap();
    b.set("y", b"from b").unwrap();
    b.flush().unwrap();
    assert_eq!(get(&a, "x").as_deref(), Some(&b"from a"[..]));
    a.delete("gone").unwrap();
    a.flush().unwrap();
    drop((a, b));
    let r: StoreRef = Arc::new(ZipStore::open(&p, StoreOptions::read_only()).unwrap());
    assert_eq!(r.list_prefix("").unwrap(), sorted(&["x", "y"]));
    assert_eq!(get(&r, "y").as_deref(), Some(&b"from b"[..]));
}

#[test]
fn zip_open_errors_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("not-a.zip");
    std::fs::write(&p, b"this is not a zip archive").unwrap();
    let e = ZipStore::open(&p, StoreOptions::read_only()).unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }));
    assert!(e.to_string().contains("not-a.zip"), "{e}");
    let e = ZipStore::open(tmp.path().join("missing.zip"), StoreOptions::read_only()).unwrap_err();
    assert!(e.to_string().contains("missing.zip"), "{e}");
    // A truncated archive.
    let good = tmp.path().join("good.zip");
    write_raw_zip(&good, &[("zarr.json", &pattern(5000, 1))], false);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 30]).unwrap();
    assert!(ZipStore::open(&p, StoreOptions::read_only()).is_err());
}

// ---------------------------------------------------------------------------
// Memory stores

#[test]
fn memory_named_stores_share_contents_while_alive() {
    let a = MemoryStore::named("conformance-shared");
    a.set("k", b"v").unwrap();
    let b = MemoryStore::named("conformance-shared");
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    let private = MemoryStore::new();
    assert_eq!(private.get("k").unwrap(), None);
    let names: BTreeSet<String> = [a.identity(), private.identity()].into_iter().collect();
    assert_eq!(names.len(), 2);
}

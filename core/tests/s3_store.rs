//! The remote store against a real S3-compatible server.
//!
//! * With `ZARRCORE_TEST_S3_ENDPOINT` (and optionally
//!   `ZARRCORE_TEST_S3_BUCKET`, default `zarrcore-test`; the bucket must
//!   exist): the store contract ([`store_contract`], also run here against
//!   the memory and directory stores), arrays of both formats (plain and
//!   sharded) written and read back with request counts, the zarr-python
//!   fixture corpus copied to S3 and read exactly, and eight processes
//!   writing disjoint regions of one array.
//! * With `ZARRCORE_TEST_MOTO_PYTHON` (a Python with `moto[server]`): the
//!   failure tests start their own server, then kill it (and restart it with
//!   its state replayed) or pause it in the middle of a write.
//!
//! `tests/suites/s3.sh` starts the server and sets both; without them these
//! tests print why they are skipped and pass.
#![cfg(feature = "object-store")]

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zarrcore::store::{ByteRange, GetRequest, ListDir, MemoryStore, RemoteStore};
use zarrcore::{
    open_store, Array, ArrayBuilder, CodecSpec, DataType, Mode, Region, Store, StoreOptions,
    StoreRef, ZarrFormat,
};

// ---------------------------------------------------------------------------
// The store contract (see `zarrcore::store::Store`), in one function so that
// any backend can be pointed at it.

fn missing(s: &dyn Store, key: &str) {
    assert_eq!(s.get(key).unwrap(), None, "get {key}");
    assert_eq!(s.size(key).unwrap(), None, "size {key}");
    assert_eq!(
        s.get_range(key, ByteRange::Range { offset: 0, len: 1 })
            .unwrap(),
        None,
        "get_range {key}"
    );
    assert_eq!(
        s.get_range(key, ByteRange::Suffix(1)).unwrap(),
        None,
        "suffix {key}"
    );
}

fn oob(r: Result<Option<zarrcore::store::Bytes>, zarrcore::error::StoreError>, what: &str) {
    match r {
        Err(zarrcore::error::StoreError::RangeOutOfBounds { .. }) => {}
        other => panic!("{what}: expected RangeOutOfBounds, got {other:?}"),
    }
}

/// Checks the [`Store`] contract on an empty, writable store.
pub fn store_contract(s: &dyn Store) {
    assert!(s.is_writable());
    assert!(
        s.list_prefix("").unwrap().is_empty(),
        "store must start empty"
    );
    assert_eq!(s.list_dir("").unwrap(), ListDir::default());
    missing(s, "a/b");
    s.delete("a/b").unwrap();
    s.delete_prefix("a").unwrap();

    // Values.
    let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s.set("a/b", &big).unwrap();
    s.set("a/c/0", b"x").unwrap();
    s.set("a/c/1", b"").unwrap();
    s.set("a/cc", b"yy").unwrap();
    s.set("zarr.json", b"{}").unwrap();
    s.set(".zattrs", b"{}").unwrap();
    s.flush().unwrap();
    assert_eq!(s.get("a/b").unwrap().unwrap(), &big[..]);
    assert_eq!(s.get("a/c/1").unwrap().unwrap().len(), 0);
    assert_eq!(s.size("a/b").unwrap(), Some(10_000));
    assert_eq!(s.size("a/c/1").unwrap(), Some(0));
    missing(s, "a");
    missing(s, "a/c");

    // Byte ranges.
    let r = |o: u64, l: u64| ByteRange::Range { offset: o, len: l };
    let got = |range| s.get_range("a/b", range).unwrap().unwrap();
    assert_eq!(got(r(0, 10)), &big[..10]);
    assert_eq!(got(r(1234, 4321)), &big[1234..5555]);
    assert_eq!(got(r(9990, 10)), &big[9990..]);
    assert_eq!(got(r(100, 0)).len(), 0);
    assert_eq!(got(r(10_000, 0)).len(), 0);
    assert_eq!(got(ByteRange::Suffix(16)), &big[9984..]);
    assert_eq!(got(ByteRange::Suffix(10_000)), &big[..]);
    assert_eq!(got(ByteRange::Suffix(0)).len(), 0);
    oob(s.get_range("a/b", r(9995, 10)), "range past the end");
    oob(s.get_range("a/b", r(10_001, 0)), "empty range past the end");
    oob(s.get_range("a/b", r(20_000, 5)), "range after the end");
    oob(s.get_range("a/b", r(u64::MAX, 2)), "overflowing range");
    oob(
        s.get_range("a/b", ByteRange::Suffix(10_001)),
        "suffix too long",
    );
    oob(s.get_range("a/c/1", r(0, 1)), "range of an empty value");

    // Overwrite (shorter), atomically replacing.
    s.set("a/b", b"short").unwrap();
    s.flush().unwrap();
    assert_eq!(s.get("a/b").unwrap().unwrap(), &b"short"[..]);
    assert_eq!(s.size("a/b").unwrap(), Some(5));

    // Listings: sorted, string prefixes, directory view.
    let all = s.list_prefix("").unwrap();
    assert_eq!(
        all,
        vec![".zattrs", "a/b", "a/c/0", "a/c/1", "a/cc", "zarr.json"]
    );
    assert_eq!(
        s.list_prefix("a/c").unwrap(),
        vec!["a/c/0", "a/c/1", "a/cc"]
    );
    assert_eq!(s.list_prefix("a/c/").unwrap(), vec!["a/c/0", "a/c/1"]);
    assert!(s.list_prefix("nope/").unwrap().is_empty());
    let root = s.list_dir("").unwrap();
    assert_eq!(root.keys, vec![".zattrs", "zarr.json"]);
    assert_eq!(root.prefixes, vec!["a"]);
    for p in ["a", "a/"] {
        let d = s.list_dir(p).unwrap();
        assert_eq!(d.keys, vec!["a/b", "a/cc"], "list_dir {p:?}");
        assert_eq!(d.prefixes, vec!["a/c"], "list_dir {p:?}");
    }
    assert_eq!(s.list_dir("a/c").unwrap().keys, vec!["a/c/0", "a/c/1"]);
    assert_eq!(s.list_dir("nope").unwrap(), ListDir::default());

    // Invalid keys never reach the backend.
    for bad in [
        "", "/a", "a//b", "../x", "a/../b", "a/./b", "a\\b", "a\0b", "a/",
    ] {
        let invalid = |r: Result<(), zarrcore::error::StoreError>, op: &str| match r {
            Err(zarrcore::error::StoreError::InvalidKey { .. }) => {}
            other => panic!("{op} {bad:?}: expected InvalidKey, got {other:?}"),
        };
        invalid(s.get(bad).map(|_| ()), "get");
        invalid(s.get_range(bad, r(0, 1)).map(|_| ()), "get_range");
        invalid(s.size(bad).map(|_| ()), "size");
        invalid(s.set(bad, b"1"), "set");
        invalid(s.delete(bad), "delete");
    }

    // Batch reads answer like single ones, in order.
    let reqs = [
        GetRequest {
            key: "a/cc",
            range: None,
        },
        GetRequest {
            key: "missing",
            range: None,
        },
        GetRequest {
            key: "a/b",
            range: Some(r(1, 3)),
        },
        GetRequest {
            key: "a/b",
            range: Some(ByteRange::Suffix(2)),
        },
        GetRequest {
            key: "a/b",
            range: Some(r(0, 2)),
        },
        GetRequest {
            key: "missing",
            range: Some(r(0, 2)),
        },
        GetRequest {
            key: "a/b",
            range: Some(r(4, 9)),
        },
        GetRequest {
            key: "../x",
            range: None,
        },
    ];
    let res = s.get_many(&reqs);
    assert_eq!(res.len(), reqs.len());
    assert_eq!(res[0].as_ref().unwrap().as_deref(), Some(&b"yy"[..]));
    assert_eq!(res[1].as_ref().unwrap(), &None);
    assert_eq!(res[2].as_ref().unwrap().as_deref(), Some(&b"hor"[..]));
    assert_eq!(res[3].as_ref().unwrap().as_deref(), Some(&b"rt"[..]));
    assert_eq!(res[4].as_ref().unwrap().as_deref(), Some(&b"sh"[..]));
    assert_eq!(res[5].as_ref().unwrap(), &None);
    assert!(matches!(
        res[6],
        Err(zarrcore::error::StoreError::RangeOutOfBounds { .. })
    ));
    assert!(matches!(
        res[7],
        Err(zarrcore::error::StoreError::InvalidKey { .. })
    ));

    // Deletes.
    s.delete("a/c/0").unwrap();
    s.delete("a/c/0").unwrap();
    s.flush().unwrap();
    missing(s, "a/c/0");
    assert_eq!(s.list_prefix("a/c/").unwrap(), vec!["a/c/1"]);
    s.delete_prefix("a/c").unwrap();
    assert!(s.list_prefix("a/c/").unwrap().is_empty());
    assert_eq!(s.get("a/cc").unwrap().unwrap(), &b"yy"[..], "sibling kept");

    // Concurrency: different keys never interfere; one key ends whole.
    let value = |t: usize, i: usize| -> Vec<u8> {
        (0..(100 + 37 * i))
            .map(|k| (t * 31 + i + k) as u8)
            .collect()
    };
    std::thread::scope(|sc| {
        for t in 0..8 {
            sc.spawn(move || {
                for i in 0..12 {
                    s.set(&format!("conc/{t}/{i}"), &value(t, i)).unwrap();
                }
                s.set("conc/same", &vec![t as u8; 4096]).unwrap();
            });
        }
    });
    s.flush().unwrap();
    for t in 0..8 {
        for i in 0..12 {
            let v = s.get(&format!("conc/{t}/{i}")).unwrap().unwrap();
            assert_eq!(v, &value(t, i)[..], "conc/{t}/{i}");
        }
    }
    let same = s.get("conc/same").unwrap().unwrap();
    assert_eq!(same.len(), 4096);
    assert!(same.iter().all(|&b| b == same[0] && b < 8));
    assert_eq!(s.list_prefix("conc/").unwrap().len(), 8 * 12 + 1);

    // Everything goes.
    s.delete_prefix("").unwrap();
    s.flush().unwrap();
    assert!(s.list_prefix("").unwrap().is_empty());
}

#[test]
fn contract_holds_for_memory_and_directory_stores() {
    // The checks above are the contract every store already meets.
    store_contract(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let d = open_store(dir.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    store_contract(&*d);
}

// ---------------------------------------------------------------------------
// Against the server of tests/suites/s3.sh.

struct S3 {
    endpoint: String,
    bucket: String,
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn s3() -> Option<S3> {
    match std::env::var("ZARRCORE_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(S3 {
            endpoint,
            bucket: std::env::var("ZARRCORE_TEST_S3_BUCKET")
                .unwrap_or_else(|_| "zarrcore-test".into()),
        }),
        _ => {
            eprintln!(
                "skipped: ZARRCORE_TEST_S3_ENDPOINT is not set (tests/suites/s3.sh starts a server and sets it)"
            );
            None
        }
    }
}

impl S3 {
    /// A URL for a fresh prefix, with the connection options in its query.
    fn url(&self, name: &str, extra: &str) -> String {
        format!(
            "s3://{}/{name}-{}-{}?endpoint={}&region=us-east-1&access_key_id=test&secret_access_key=test&retries=3&retry_timeout=20{extra}",
            self.bucket,
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::SeqCst),
            self.endpoint
        )
    }

    fn open(&self, url: &str, opts: StoreOptions) -> (Arc<RemoteStore>, StoreRef) {
        let r = Arc::new(RemoteStore::open(url, opts).unwrap());
        let s: StoreRef = r.clone();
        (r, s)
    }
}

#[test]
fn s3_store_contract() {
    let Some(s3) = s3() else { return };
    for extra in ["", "&write_behind=false&concurrency=4"] {
        let (_, s) = s3.open(&s3.url("contract", extra), StoreOptions::create());
        store_contract(&*s);
    }
}

#[test]
fn s3_http_read_only_and_errors() {
    let Some(s3) = s3() else { return };
    let url = s3.url("errors", "");
    let (_, s) = s3.open(&url, StoreOptions::create());
    s.set("k", b"v").unwrap();
    s.flush().unwrap();
    // A read-only handle refuses writes.
    let (_, ro) = s3.open(&url, StoreOptions::read_only());
    assert!(!ro.is_writable());
    let e = ro.set("k", b"w").unwrap_err().to_string();
    assert!(e.contains("read-only"), "{e}");
    // A missing bucket: a permanent error naming the URL and the key.
    let bad = url.replacen(&s3.bucket, "no-such-bucket-zarrcore", 1);
    let (_, b) = s3.open(&bad, StoreOptions::create());
    let e = b.get("a/zarr.json").unwrap_err().to_string();
    assert!(e.contains("a/zarr.json"), "{e}");
    assert!(e.contains("s3://no-such-bucket-zarrcore/"), "{e}");
    b.set("x", b"1").unwrap();
    let e = b.flush().unwrap_err().to_string();
    assert!(e.contains("PUT") && e.contains("x"), "{e}");
    let (_, sync) = s3.open(&(bad + "&write_behind=false"), StoreOptions::create());
    let e = sync.set("y", b"1").unwrap_err().to_string();
    assert!(
        e.contains("PUT") && e.contains("no-such-bucket-zarrcore"),
        "{e}"
    );
}

/// Native byte order, as `read_region`/`write_region` use.
fn ne32(v: i32) -> [u8; 4] {
    if cfg!(target_endian = "little") {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

fn ne64(v: i64) -> [u8; 8] {
    if cfg!(target_endian = "little") {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

fn pattern(n: usize, seed: i64) -> Vec<i64> {
    (0..n as i64).map(|i| i * 3 + seed).collect()
}

fn to_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|&x| ne64(x)).collect()
}

#[test]
fn s3_arrays_round_trip_with_few_requests() {
    let Some(s3) = s3() else { return };
    let shape = vec![96u64, 80];
    let n = 96 * 80;
    let data = to_bytes(&pattern(n, 5));
    for (fmt, shards) in [
        (ZarrFormat::V2, None),
        (ZarrFormat::V3, None),
        (ZarrFormat::V3, Some(vec![48u64, 40])),
    ] {
        let url = s3.url("arrays", "");
        let (_, store) = s3.open(&url, StoreOptions::create());
        let mut b = ArrayBuilder::new(shape.clone(), DataType::Int64)
            .chunks(vec![16, 20])
            .zarr_format(fmt)
            .codec("zstd:3".parse::<CodecSpec>().unwrap());
        if let Some(sh) = &shards {
            b = b.shards(sh.clone());
        }
        let a = b.create(&store, "g/x").unwrap();
        a.write_region(&Region::all(&shape), &data).unwrap();
        a.close().unwrap();
        drop(store);

        // A fresh handle reads everything back exactly.
        let (remote, store) = s3.open(&url, StoreOptions::read_only());
        let a = Array::open(&store, "g/x", Mode::Read).unwrap();
        assert_eq!(
            a.read_region_vec(&Region::all(&shape)).unwrap(),
            data,
            "{fmt:?} {shards:?}"
        );
        // A partial read fetches only what it needs.
        let before = remote.stats();
        let r = Region::new(vec![17, 21], vec![10, 10]);
        let got = a.read_region_vec(&r).unwrap();
        let mut want = Vec::new();
        for i in 17..27 {
            want.extend_from_slice(&data[(i * 80 + 21) * 8..(i * 80 + 31) * 8]);
        }
        assert_eq!(got, want, "{fmt:?} {shards:?} partial");
        let after = remote.stats();
        let requests = (after.get_requests + after.range_requests)
            - (before.get_requests + before.range_requests);
        let fetched = after.bytes_read - before.bytes_read;
        if shards.is_some() {
            // One shard: its index, then the one inner chunk (16x20 i64
            // compressed) - never the whole 48x40 shard.
            assert!(requests <= 2, "{requests} requests");
            assert!(fetched < 48 * 40 * 8 / 2, "{fetched} bytes fetched");
        } else {
            // One chunk (the partial read may be served from the cache).
            assert!(requests <= 1, "{requests} requests");
        }
        a.close().unwrap();
    }
}

#[test]
fn s3_cached_chunks_replaced_by_another_writer_are_not_served() {
    let Some(s3) = s3() else { return };
    // A long-lived reader (a mount, a library host) revalidates cached
    // chunks with the object's ETag once `version_ttl` has passed (0 here:
    // on every hit).
    let url = s3.url("reval", "");
    let (_, w) = s3.open(&url, StoreOptions::create());
    let shape = [8u64, 8];
    for (name, seed) in [("x", 1), ("y", 2)] {
        let a = ArrayBuilder::new(shape.to_vec(), DataType::Int64)
            .chunks(vec![4, 8])
            .create(&w, name)
            .unwrap();
        a.write_region(&Region::all(&shape), &to_bytes(&pattern(64, seed)))
            .unwrap();
        a.close().unwrap();
    }
    w.flush().unwrap();
    let (_, r) = s3.open(&format!("{url}&version_ttl=0"), StoreOptions::read_only());
    let a = Array::open(&r, "x", Mode::Read).unwrap();
    let first = a.read_region_vec(&Region::all(&shape)).unwrap();
    assert_eq!(first, to_bytes(&pattern(64, 1)));
    // Another writer (a separate handle: nothing in this process knows)
    // replaces chunk 0 of x by y's.
    let (_, other) = s3.open(&url, StoreOptions::create());
    let y0 = other.get("y/c/0/0").unwrap().unwrap();
    other.set("x/c/0/0", &y0).unwrap();
    other.flush().unwrap();
    let again = a.read_region_vec(&Region::all(&shape)).unwrap();
    let mut want = to_bytes(&pattern(64, 2))[..4 * 8 * 8].to_vec();
    want.extend_from_slice(&to_bytes(&pattern(64, 1))[4 * 8 * 8..]);
    assert_eq!(again, want, "a replaced chunk was served from the cache");
}

#[test]
fn s3_zarr_python_fixtures_read_exactly() {
    let Some(s3) = s3() else { return };
    let dir = common::fixtures_dir();
    let manifest = common::manifest();
    let url = s3.url("fixtures", "");
    let (_, remote) = s3.open(&url, StoreOptions::create());
    // Copy every directory store of the corpus to S3, key by key.
    let mut stores: Vec<String> = manifest["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["store_type"] == "directory")
        .map(|e| e["store"].as_str().unwrap().to_string())
        .collect();
    stores.sort();
    stores.dedup();
    assert!(!stores.is_empty());
    for rel in &stores {
        let local = open_store(dir.join(rel).to_str().unwrap(), StoreOptions::read_only()).unwrap();
        for key in local.list_prefix("").unwrap() {
            let v = local.get(&key).unwrap().unwrap();
            remote.set(&format!("{rel}/{key}"), &v).unwrap();
        }
    }
    remote.flush().unwrap();
    drop(remote);
    let (_, remote) = s3.open(&url, StoreOptions::read_only());
    let mut checked = 0;
    for e in manifest["arrays"].as_array().unwrap() {
        if e["store_type"] != "directory" {
            continue;
        }
        let rel = e["store"].as_str().unwrap();
        let path = e["array_path"].as_str().unwrap();
        let local = open_store(dir.join(rel).to_str().unwrap(), StoreOptions::read_only()).unwrap();
        let full = if path.is_empty() {
            rel.to_string()
        } else {
            format!("{rel}/{path}")
        };
        let a = Array::open(&local, path, Mode::Read).unwrap();
        let b = Array::open(&remote, &full, Mode::Read)
            .unwrap_or_else(|err| panic!("{}: {err}", e["id"]));
        assert_eq!(a.metadata().shape, b.metadata().shape);
        let all = Region::all(&a.shape());
        let want = a.read_region_vec(&all).unwrap();
        let got = b.read_region_vec(&all).unwrap();
        assert!(want == got, "fixture {} differs when read from S3", e["id"]);
        let expected = common::load_npy(&dir.join(e["expected"].as_str().unwrap()));
        assert_eq!(got.len(), expected.data.len(), "{}", e["id"]);
        checked += 1;
    }
    assert!(checked > 50, "only {checked} fixtures checked");
}

// ---------------------------------------------------------------------------
// Eight writer processes. The test re-runs its own binary with
// ZARRCORE_S3_WORKER set; `worker_entry` is the child's entry point and does
// nothing in a normal run.

const WORKERS: usize = 8;
const BAND: u64 = 16;

fn worker_value(row: u64, col: u64) -> i32 {
    (row * 1000 + col) as i32 * 7 - 3
}

#[test]
fn worker_entry() {
    let Ok(spec) = std::env::var("ZARRCORE_S3_WORKER") else {
        return;
    };
    let (i, url) = spec.split_once(' ').unwrap();
    let i: u64 = i.parse().unwrap();
    let store = open_store(url, StoreOptions::create()).unwrap();
    for path in ["plain", "sharded"] {
        let a = Array::open(&store, path, Mode::Write).unwrap();
        let cols = a.shape()[1];
        let mut data = Vec::new();
        for r in i * BAND..(i + 1) * BAND {
            for c in 0..cols {
                data.extend_from_slice(&ne32(worker_value(r, c)));
            }
        }
        // In two halves, to have several requests in flight per process.
        let half = (BAND / 2) as usize * cols as usize * 4;
        a.write_region(
            &Region::new(vec![i * BAND, 0], vec![BAND / 2, cols]),
            &data[..half],
        )
        .unwrap();
        a.write_region(
            &Region::new(vec![i * BAND + BAND / 2, 0], vec![BAND / 2, cols]),
            &data[half..],
        )
        .unwrap();
        a.close().unwrap();
    }
    store.flush().unwrap();
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("a worker process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn s3_eight_processes_write_disjoint_regions() {
    let Some(s3) = s3() else { return };
    let url = s3.url("procs", "");
    let (_, store) = s3.open(&url, StoreOptions::create());
    let shape = vec![WORKERS as u64 * BAND, 48];
    ArrayBuilder::new(shape.clone(), DataType::Int32)
        .chunks(vec![8, 16])
        .create(&store, "plain")
        .unwrap()
        .close()
        .unwrap();
    ArrayBuilder::new(shape.clone(), DataType::Int32)
        .chunks(vec![4, 8])
        .shards(vec![BAND, 48])
        .create(&store, "sharded")
        .unwrap()
        .close()
        .unwrap();
    store.flush().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<Child> = (0..WORKERS)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "worker_entry", "--nocapture", "--test-threads=1"])
                .env("ZARRCORE_S3_WORKER", format!("{i} {url}"))
                .env("ZARRCORE_THREADS", "1")
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in &mut children {
        let st = wait_with_timeout(c, Duration::from_secs(300));
        assert!(st.success(), "worker failed: {st}");
    }
    let (_, fresh) = s3.open(&url, StoreOptions::read_only());
    let want: Vec<u8> = (0..shape[0])
        .flat_map(|r| (0..shape[1]).flat_map(move |c| ne32(worker_value(r, c))))
        .collect();
    for path in ["plain", "sharded"] {
        let a = Array::open(&fresh, path, Mode::Read).unwrap();
        assert_eq!(
            a.read_region_vec(&Region::all(&shape)).unwrap(),
            want,
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------
// Server failures. These start their own moto server (they kill, restart and
// pause it), with moto's request recorder on so that a restarted server can
// be given back the state of the killed one.

struct Moto {
    python: String,
    port: u16,
    record: std::path::PathBuf,
    child: Option<Child>,
}

fn http(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text[9..12]
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad status line {text:?}")))
}

impl Moto {
    fn new(python: String, dir: &std::path::Path) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Moto {
            python,
            port,
            record: dir.join("moto-recording.jsonl"),
            child: None,
        }
    }

    fn start(&mut self) {
        let child = Command::new(&self.python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", &self.record)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        self.child = Some(child);
        let t = Instant::now();
        while http(self.port, "GET", "/moto-api/").is_err() {
            assert!(t.elapsed() < Duration::from_secs(60), "moto did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let st = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(st.success());
    }

    fn url(&self, extra: &str) -> String {
        format!(
            "s3://bucket/data?endpoint=http://127.0.0.1:{}&region=us-east-1&access_key_id=test&secret_access_key=test&retries=2&retry_timeout=2&retry_backoff=0.05&timeout=2s&connect_timeout=1s{extra}",
            self.port
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("-CONT");
        }
        self.kill();
    }
}

fn moto() -> Option<(Moto, tempfile::TempDir)> {
    match std::env::var("ZARRCORE_TEST_MOTO_PYTHON") {
        Ok(p) if !p.is_empty() => {
            let dir = tempfile::tempdir().unwrap();
            let mut m = Moto::new(p, dir.path());
            m.start();
            assert_eq!(http(m.port, "PUT", "/bucket").unwrap(), 200);
            Some((m, dir))
        }
        _ => {
            eprintln!(
                "skipped: ZARRCORE_TEST_MOTO_PYTHON is not set (a Python with moto[server]; tests/suites/s3.sh sets it)"
            );
            None
        }
    }
}

const SIDE: u64 = 64;
const CHUNK: u64 = 8;

/// The value of element (r, c) in generation `g` of the array: 0 is the
/// baseline, 1 the confirmed first two chunk rows, 2.. the passes of the
/// interrupted writer.
fn value(r: u64, c: u64, g: u64) -> i32 {
    (r * SIDE + c + g * 100_000) as i32
}

fn band(rows: std::ops::Range<u64>, g: u64) -> Vec<u8> {
    rows.flat_map(|r| (0..SIDE).flat_map(move |c| ne32(value(r, c, g))))
        .collect()
}

/// Writes the baseline array (generation 0), then the first two chunk rows
/// as generation 1, confirmed by a flush.
fn baseline(url: &str) {
    let store = open_store(url, StoreOptions::create()).unwrap();
    let a = ArrayBuilder::new(vec![SIDE, SIDE], DataType::Int32)
        .chunks(vec![CHUNK, CHUNK])
        .create(&store, "a")
        .unwrap();
    a.write_region(&Region::all(&[SIDE, SIDE]), &band(0..SIDE, 0))
        .unwrap();
    a.close().unwrap();
    let a = Array::open(&store, "a", Mode::Write).unwrap();
    a.write_region(
        &Region::new(vec![0, 0], vec![2 * CHUNK, SIDE]),
        &band(0..2 * CHUNK, 1),
    )
    .unwrap();
    a.close().unwrap();
    store.flush().unwrap();
}

/// Rewrites chunk rows 2.. pass after pass (generation 2, 3, ...) until a
/// write fails; returns the error, when it came, and the last generation.
fn write_until_error(url: &str) -> (String, Instant, u64) {
    let store = open_store(url, StoreOptions::create()).unwrap();
    let a = Array::open(&store, "a", Mode::Write).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    for g in 2.. {
        assert!(Instant::now() < deadline, "writes never failed");
        for row in 2..SIDE / CHUNK {
            let rows = row * CHUNK..(row + 1) * CHUNK;
            let r = a
                .write_region(
                    &Region::new(vec![rows.start, 0], vec![CHUNK, SIDE]),
                    &band(rows, g),
                )
                .and_then(|_| a.flush());
            if let Err(e) = r {
                let when = Instant::now();
                drop(a);
                return (e.to_string(), when, g);
            }
        }
    }
    unreachable!()
}

/// Every chunk holds one generation, whole; the first two chunk rows
/// (confirmed before the failure) hold generation 1. Returns how many
/// chunks hold each generation.
fn check_whole_chunks(url: &str, last: u64) -> std::collections::BTreeMap<u64, usize> {
    let store = open_store(url, StoreOptions::read_only()).unwrap();
    let a = Array::open(&store, "a", Mode::Read).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for cr in 0..SIDE / CHUNK {
        for cc in 0..SIDE / CHUNK {
            let r = Region::new(vec![cr * CHUNK, cc * CHUNK], vec![CHUNK, CHUNK]);
            let got = a.read_region_vec(&r).unwrap();
            let block = |g: u64| -> Vec<u8> {
                (cr * CHUNK..(cr + 1) * CHUNK)
                    .flat_map(|i| {
                        (cc * CHUNK..(cc + 1) * CHUNK).flat_map(move |j| ne32(value(i, j, g)))
                    })
                    .collect()
            };
            let gens: Vec<u64> = if cr < 2 {
                vec![1]
            } else {
                (0..=last).filter(|&g| g != 1).collect()
            };
            let g = gens
                .into_iter()
                .find(|&g| got == block(g))
                .unwrap_or_else(|| {
                    panic!("chunk ({cr}, {cc}) is not one whole generation of its values")
                });
            *seen.entry(g).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn s3_server_killed_mid_write_then_restarted() {
    let Some((mut m, _dir)) = moto() else { return };
    let url = m.url("");
    baseline(&url);
    let writer = {
        let url = url.clone();
        std::thread::spawn(move || write_until_error(&url))
    };
    std::thread::sleep(Duration::from_millis(400));
    let killed = Instant::now();
    m.kill();
    let (err, when, last) = writer.join().unwrap();
    let waited = when.duration_since(killed);
    eprintln!("write failed {waited:?} after the kill: {err}");
    // Retry budget: 2 retries within 2 s, 1 s connect timeout.
    assert!(waited < Duration::from_secs(20), "hung for {waited:?}");
    assert!(err.contains("s3://bucket/data/a/c/"), "{err}");
    // Restart with the state of the killed server.
    m.start();
    assert_eq!(
        http(m.port, "POST", "/moto-api/recorder/replay-recording").unwrap(),
        200
    );
    let seen = check_whole_chunks(&url, last);
    eprintln!("after restart: chunks per generation {seen:?}");
    assert_eq!(seen.get(&1), Some(&16));
}

#[test]
fn s3_server_paused_mid_write() {
    let Some((m, _dir)) = moto() else { return };
    let url = m.url("");
    baseline(&url);
    let writer = {
        let url = url.clone();
        std::thread::spawn(move || write_until_error(&url))
    };
    std::thread::sleep(Duration::from_millis(400));
    let paused = Instant::now();
    m.signal("-STOP");
    let (err, when, last) = writer.join().unwrap();
    let waited = when.duration_since(paused);
    eprintln!("write failed {waited:?} after the pause: {err}");
    // Requests time out (2 s each, 3 attempts, backoff) instead of hanging.
    assert!(waited < Duration::from_secs(30), "hung for {waited:?}");
    assert!(err.contains("s3://bucket/data/a/c/"), "{err}");
    m.signal("-CONT");
    // Requests the paused server had queued may still land: whole objects.
    std::thread::sleep(Duration::from_millis(500));
    let seen = check_whole_chunks(&url, last);
    eprintln!("after resume: chunks per generation {seen:?}");
    assert_eq!(seen.get(&1), Some(&16));
}

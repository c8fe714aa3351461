//! Temporary files of atomic writes (`.NAME.zarrcore-tmp.PID.N`): leftovers
//! of crashed writers are ignored by reads and listings, and never get in
//! the way of a later writer — not even one that happens to get the crashed
//! writer's process id back (PID reuse), nor a second store handle of the
//! same directory in one process.

mod engine_common;

use std::sync::Arc;

use engine_common::{from_bytes, to_bytes, u32_array};
use zarrcore::store::{DirectoryStore, Store};
use zarrcore::{open_store, Array, Mode, Region, StoreOptions, StoreRef};

fn setup() -> (tempfile::TempDir, StoreRef) {
    let d = tempfile::tempdir().unwrap();
    let s = open_store(d.path().to_str().unwrap(), StoreOptions::create()).unwrap();
    let a = u32_array(&[8, 8], &[4, 4], None).create(&s, "a").unwrap();
    a.write_region(
        &Region::all(&[8, 8]),
        &to_bytes(&(0..64).collect::<Vec<u32>>()),
    )
    .unwrap();
    a.close().unwrap();
    (d, s)
}

#[test]
fn leftover_temporaries_are_ignored_by_reads_and_listings() {
    let (d, _) = setup();
    let chunk_dir = d.path().join("a/c/0");
    std::fs::write(chunk_dir.join(".0.zarrcore-tmp.99999.0"), b"torn garbage").unwrap();
    std::fs::write(d.path().join("a/.zarr.json.zarrcore-tmp.99999.3"), b"{").unwrap();
    std::fs::write(d.path().join(".zarrcore-tmp.1.1"), b"").unwrap();
    let s = open_store(d.path().to_str().unwrap(), StoreOptions::read_only()).unwrap();
    let keys = s.list_prefix("").unwrap();
    assert!(
        keys.iter().all(|k| !k.contains(".zarrcore-tmp.")),
        "{keys:?}"
    );
    let dir = s.list_dir("a/c/0").unwrap();
    assert!(
        dir.keys.iter().all(|k| !k.contains(".zarrcore-tmp.")),
        "{dir:?}"
    );
    // Naming a temporary directly is refused, not served.
    assert!(s.get("a/c/0/.0.zarrcore-tmp.99999.0").is_err());
    let r = Array::open(&s, "a", Mode::Read).unwrap();
    assert_eq!(r.stored_chunks().unwrap().len(), 4);
    assert_eq!(
        from_bytes(&r.read_region_vec(&Region::all(&[8, 8])).unwrap()),
        (0..64).collect::<Vec<u32>>()
    );
    let ds = DirectoryStore::open(d.path(), StoreOptions::read_only()).unwrap();
    assert_eq!(ds.list_temporaries("").unwrap().len(), 3);
}

/// A crashed writer left `.0.zarrcore-tmp.<pid>.0`; a new process with the
/// same pid (pids are reused) writes the same chunk first thing. The write
/// must succeed.
#[test]
fn a_temporary_with_our_pid_does_not_block_writes() {
    let (d, _) = setup();
    let pid = std::process::id();
    for n in 0..4 {
        std::fs::write(
            d.path().join(format!("a/c/0/.0.zarrcore-tmp.{pid}.{n}")),
            b"left by a crashed writer with the same pid",
        )
        .unwrap();
    }
    // A fresh store handle: its temporary counter starts at 0 again.
    let s = DirectoryStore::open(d.path(), StoreOptions::create()).unwrap();
    s.set("a/c/0/0", b"x")
        .expect("write blocked by a stale temporary");
    assert_eq!(&s.get("a/c/0/0").unwrap().unwrap()[..], b"x");
}

/// Two store handles of one directory in one process (each with its own
/// temporary counter) writing the same keys at the same time never fail.
#[test]
fn two_store_handles_write_the_same_keys_concurrently() {
    let d = tempfile::tempdir().unwrap();
    let a = Arc::new(DirectoryStore::open(d.path(), StoreOptions::create()).unwrap());
    let b = Arc::new(DirectoryStore::open(d.path(), StoreOptions::create()).unwrap());
    std::thread::scope(|s| {
        for (t, st) in [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
        {
            s.spawn(move || {
                for i in 0..300 {
                    st.set(&format!("k/{}", i % 3), &[t as u8; 64])
                        .unwrap_or_else(|e| panic!("writer {t} set {i}: {e}"));
                }
            });
        }
    });
    for i in 0..3 {
        let v = a.get(&format!("k/{i}")).unwrap().unwrap();
        assert_eq!(v.len(), 64);
        assert!(v.iter().all(|&x| x == v[0]), "torn value");
    }
    assert!(a.list_temporaries("").unwrap().is_empty());
}

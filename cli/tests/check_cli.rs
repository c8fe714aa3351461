//! `zarrcore check`: reports, exit status, JSON, and what `--repair` and
//! `--delete-corrupt` change (and never change).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{run, stdout, u32_data, write_npy};
use serde_json::Value;
use zarrcore::{open_store, Array, DataType, Mode, Region, StoreOptions};

const SHAPE: [u64; 2] = [40, 60];

/// A store with a v3 zstd array `a` (16x32 chunks: 3x2 grid) and a sharded
/// array `s` (shards 20x30 of 10x15 inner chunks, crc32c index).
fn make_store(dir: &Path) -> String {
    let npy = dir.join("in.npy");
    write_npy(&npy, DataType::UInt32, &SHAPE, &u32_data(2400, 7));
    let store = dir.join("s.zarr").display().to_string();
    let n = npy.to_str().unwrap();
    let o = run(&[
        "import", n, &store, "a", "--chunks", "16,32", "--codec", "zstd:1",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = run(&[
        "import", n, &store, "g/s", "--chunks", "10,15", "--shards", "20,30", "--codec", "zstd:1",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    store
}

fn check_json(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["check"];
    a.extend_from_slice(args);
    a.push("--json");
    let o = run(&a);
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("check --json output is not JSON ({e}): {}", stdout(&o)));
    (o.status.code().unwrap_or(-1), v)
}

fn read_all(store: &str, path: &str) -> zarrcore::Result<Vec<u8>> {
    let s = open_store(store, StoreOptions::read_only())?;
    let a = Array::open(&s, path, Mode::Read)?;
    a.read_region_vec(&Region::all(&SHAPE))
}

/// `(len, inode, mtime)` of every file, to prove untouched files untouched.
fn fingerprints(root: &Path) -> Vec<(String, u64, u64, i64, Vec<u8>)> {
    common::tree(root)
        .into_iter()
        .filter_map(|rel| {
            let p = root.join(&rel);
            let m = std::fs::symlink_metadata(&p).ok()?;
            m.is_file().then(|| {
                (
                    rel,
                    m.len(),
                    m.ino(),
                    m.mtime_nsec() + m.mtime() * 1_000_000_000,
                    std::fs::read(&p).unwrap(),
                )
            })
        })
        .collect()
}

#[test]
fn clean_store_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = make_store(dir.path());
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["clean"], true);
    assert_eq!(v["arrays"], 2);
    assert_eq!(v["nodes"], 4, "root, a, g, g/s: {v}");
    assert_eq!(v["chunks"], 6 + 4, "{v}");
    assert_eq!(v["inner_chunks"], 4 * 4, "{v}");
    // Text mode and a sub-path.
    let o = run(&["check", &store, "/g"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("result: clean"), "{}", stdout(&o));
    // Errors that stop the check: exit 2.
    let o = run(&["check", &store, "nothing/here"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    let o = run(&["check", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // --delete-corrupt needs --repair.
    let o = run(&["check", &store, "--delete-corrupt"]);
    assert!(!o.status.success());
}

#[test]
fn corrupt_chunk_reported_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = make_store(dir.path());
    let root = dir.path().join("s.zarr");
    let bad = root.join("a/c/1/0");
    let mut b = std::fs::read(&bad).unwrap();
    let n = b.len();
    b.truncate(n / 2);
    std::fs::write(&bad, &b).unwrap();
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 1, "{v}");
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "corrupt_chunk");
    assert_eq!(p["key"], "a/c/1/0");
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
    assert!(read_all(&store, "a").is_err());

    // --repair alone does not delete data.
    let (code, v) = check_json(&[&store, "--repair"]);
    assert_eq!(code, 1, "{v}");
    assert!(bad.exists());
    assert_eq!(v["problems"][0]["action"], "none");

    let before = fingerprints(&root);
    let (code, v) = check_json(&[&store, "--repair", "--delete-corrupt"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["problems"][0]["action"], "deleted");
    assert!(!bad.exists());
    // Every other file is untouched: same inode, time and bytes.
    let after = fingerprints(&root);
    let expected: Vec<_> = before.into_iter().filter(|f| f.0 != "a/c/1/0").collect();
    assert_eq!(after, expected);
    // The chunk reads as the fill value; the rest as imported.
    let got = read_all(&store, "a").unwrap();
    let want = u32_data(2400, 7);
    for r in 0..40usize {
        for c in 0..60usize {
            let i = (r * 60 + c) * 4;
            let in_bad = (16..32).contains(&r) && c < 32;
            let w = if in_bad {
                &[0u8; 4][..]
            } else {
                &want[i..i + 4]
            };
            assert_eq!(&got[i..i + 4], w, "element ({r}, {c})");
        }
    }
    let (code, _) = check_json(&[&store]);
    assert_eq!(code, 0);
}

#[test]
fn corrupt_inner_chunk_cleared_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = make_store(dir.path());
    let root = dir.path().join("s.zarr");
    let shard = root.join("g/s/c/0/1");
    let orig = std::fs::read(&shard).unwrap();
    // Break inner chunk 2 (row 1, column 0 of the 2x2 inner grid) and
    // nothing else: flip a byte inside its zstd frame.
    let idx = &orig[orig.len() - 4 - 64..orig.len() - 4];
    let entry = |i: usize| {
        let o = u64::from_le_bytes(idx[i * 16..i * 16 + 8].try_into().unwrap()) as usize;
        let n = u64::from_le_bytes(idx[i * 16 + 8..i * 16 + 16].try_into().unwrap()) as usize;
        (o, n)
    };
    let (o, n) = entry(2);
    let mut b = orig.clone();
    for x in &mut b[o + n / 2..o + n] {
        *x = 0x5a;
    }
    std::fs::write(&shard, &b).unwrap();
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 1, "{v}");
    let probs = v["problems"].as_array().unwrap();
    assert_eq!(probs.len(), 1, "{v}");
    assert_eq!(probs[0]["kind"], "corrupt_inner_chunk");
    assert_eq!(probs[0]["key"], "g/s/c/0/1");
    assert_eq!(probs[0]["inner_chunk"], 2);

    let (code, v) = check_json(&[&store, "--repair", "--delete-corrupt"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["problems"][0]["action"], "index entry cleared");
    // The shard keeps every byte of the healthy inner chunks in place.
    let fixed = std::fs::read(&shard).unwrap();
    assert_eq!(fixed.len(), orig.len());
    for i in [0, 1, 3] {
        let (o, n) = entry(i);
        assert_eq!(&fixed[o..o + n], &orig[o..o + n], "inner chunk {i}");
    }
    let got = read_all(&store, "g/s").unwrap();
    let want = u32_data(2400, 7);
    for r in 0..40usize {
        for c in 0..60usize {
            let i = (r * 60 + c) * 4;
            // Shard (0, 1) covers rows 0..20, cols 30..60; inner chunk 2
            // is its rows 10..20, cols 30..45.
            let cleared = (10..20).contains(&r) && (30..45).contains(&c);
            let w = if cleared {
                &[0u8; 4][..]
            } else {
                &want[i..i + 4]
            };
            assert_eq!(&got[i..i + 4], w, "element ({r}, {c})");
        }
    }
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn temporaries_removed_unless_their_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = make_store(dir.path());
    let root = dir.path().join("s.zarr");
    // A leftover of a dead writer (pid 2^22+1 is above the usual pid_max),
    // and one of this running test process.
    let dead = root.join("a/c/1/.0.zarrcore-tmp.4194305.3");
    let live_name = format!(".1.zarrcore-tmp.{}.0", std::process::id());
    let live = root.join("a/c/0").join(&live_name);
    std::fs::write(&dead, b"partial").unwrap();
    std::fs::write(&live, b"in progress").unwrap();
    // Leftovers are invisible to readers.
    assert_eq!(read_all(&store, "a").unwrap(), u32_data(2400, 7));
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["problems"][0]["kind"], "temporary");
    assert_eq!(v["problems"][0]["key"], "a/c/1/.0.zarrcore-tmp.4194305.3");
    assert_eq!(
        v["active_temporaries"][0]["key"],
        format!("a/c/0/{live_name}")
    );
    let (code, v) = check_json(&[&store, "--repair"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["problems"][0]["action"], "removed");
    assert!(!dead.exists());
    assert!(live.exists(), "a running writer's temporary was removed");
    // Only under the path checked.
    std::fs::write(&dead, b"partial").unwrap();
    let (code, _) = check_json(&[&store, "g", "--repair"]);
    assert_eq!(code, 0);
    assert!(dead.exists());
}

#[test]
fn broken_metadata_reported_and_walk_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = make_store(dir.path());
    let root = dir.path().join("s.zarr");
    std::fs::write(
        root.join("a/zarr.json"),
        b"{\"zarr_format\": 3, \"node_type\": ",
    )
    .unwrap();
    let (code, v) = check_json(&[&store]);
    assert_eq!(code, 1, "{v}");
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "metadata");
    assert_eq!(p["key"], "a/zarr.json");
    // g/s is still checked.
    assert_eq!(v["arrays"], 1);
    assert_eq!(v["inner_chunks"], 16);
    // --repair never touches metadata.
    let (code, _) = check_json(&[&store, "--repair", "--delete-corrupt"]);
    assert_eq!(code, 1);
    assert!(root.join("a/zarr.json").exists());
}

#[test]
fn zip_store_and_its_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("in.npy");
    write_npy(&npy, DataType::UInt32, &SHAPE, &u32_data(2400, 3));
    let zip = dir.path().join("z.zip").display().to_string();
    let o = run(&[
        "import",
        npy.to_str().unwrap(),
        &zip,
        "x",
        "--chunks",
        "20,20",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (code, v) = check_json(&[&zip]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["chunks"], 6);
    // Leftovers of a killed writer beside the zip.
    let staging = dir.path().join(".z.zip.zarrcore-tmp.4194305.staging");
    std::fs::create_dir_all(staging.join("x/c/0")).unwrap();
    std::fs::write(staging.join("x/c/0/0"), b"x").unwrap();
    let half = dir.path().join(".z.zip.zarrcore-tmp.4194305.zip");
    std::fs::write(&half, b"PK").unwrap();
    let (code, v) = check_json(&[&zip]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["problems"].as_array().unwrap().len(), 2, "{v}");
    let (code, v) = check_json(&[&zip, "--repair"]);
    assert_eq!(code, 0, "{v}");
    assert!(!staging.exists() && !half.exists());
    assert_eq!(
        common::tree(dir.path()),
        vec!["in.npy".to_string(), "z.zip".to_string()]
    );
    // A zip that was never completed: only leftovers.
    let never = dir.path().join("never.zip").display().to_string();
    std::fs::create_dir(dir.path().join(".never.zip.zarrcore-tmp.4194305.staging")).unwrap();
    let (code, v) = check_json(&[&never, "--repair"]);
    assert_eq!(code, 0, "{v}");
    let (code, _) = check_json(&[&never]);
    assert_eq!(code, 2);
}

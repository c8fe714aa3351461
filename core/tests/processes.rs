//! Several real processes, one array: the read-or-write rule and no lost
//! update (the cross-process protocol of `docs/design.md`).
//!
//! The test binary re-runs itself as the worker processes
//! (`ZARRCORE_TEST_WORKER` set): each opens the array through its own
//! store handle, so nothing is shared but the directory.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use zarrcore::store::DirectoryStore;
use zarrcore::{
    Array, ArrayBuilder, DataType, Error, Mode, OpenOptions, Region, StoreOptions, StoreRef,
    ZarrFormat,
};

const SIDE: u64 = 24;

fn store(root: &str) -> StoreRef {
    Arc::new(DirectoryStore::open(root, StoreOptions::create()).unwrap())
}

/// The value every element ends up with (never the fill value 0).
fn expected(i: u64) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761) | 1
}

/// Worker: writes every element `i` with `i % nprocs == proc` as its own
/// 1×1 write, flushing every `flush_every` writes.
// Elements travel in native byte order (what write_region/read_region take).
#[allow(clippy::host_endian_bytes)]
fn worker(root: &str, path: &str, proc_: u64, nprocs: u64, flush_every: u64) {
    let s = store(root);
    let a = Array::open_with(
        &s,
        path,
        Mode::Write,
        &OpenOptions::new().wait(Duration::from_secs(60)),
    )
    .unwrap();
    let mut n = 0;
    for i in (proc_..SIDE * SIDE).step_by(nprocs as usize) {
        let r = Region::new(vec![i / SIDE, i % SIDE], vec![1, 1]);
        a.write_region(&r, &expected(i).to_ne_bytes()).unwrap();
        n += 1;
        if n % flush_every == 0 {
            a.flush().unwrap();
        }
    }
    a.close().unwrap();
}

fn maybe_worker() -> bool {
    let Ok(spec) = std::env::var("ZARRCORE_TEST_WORKER") else {
        return false;
    };
    let f: Vec<&str> = spec.split('|').collect();
    match f[0] {
        "write" => worker(
            f[1],
            f[2],
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].parse().unwrap(),
        ),
        "hold" => {
            let mode = if f[3] == "read" {
                Mode::Read
            } else {
                Mode::Write
            };
            let s = store(f[1]);
            match Array::open(&s, f[2], mode) {
                Ok(a) => {
                    println!("ready");
                    std::thread::sleep(Duration::from_secs(f[4].parse().unwrap()));
                    drop(a);
                }
                Err(e @ Error::Busy { .. }) => {
                    println!("busy: {e}");
                    std::process::exit(3);
                }
                Err(e) => panic!("{e}"),
            }
        }
        "attrs" => {
            let s = store(f[1]);
            let a = Array::open_with(
                &s,
                f[2],
                Mode::Write,
                &OpenOptions::new().wait(Duration::from_secs(60)),
            )
            .unwrap();
            for i in 0..25 {
                a.update_attributes(|m| {
                    m.insert(format!("p{}_{i}", f[3]), serde_json::json!(i));
                })
                .unwrap();
            }
            a.close().unwrap();
        }
        "hold-zip" => {
            let s = zarrcore::open_store(f[1], StoreOptions::create()).unwrap();
            s.set("k", b"v").unwrap();
            println!("ready");
            std::thread::sleep(Duration::from_secs(f[2].parse().unwrap()));
            drop(s);
        }
        other => panic!("unknown worker {other}"),
    }
    true
}

fn spawn(spec: String, test: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env("ZARRCORE_TEST_WORKER", spec)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a holder worker to print `ready` (the test harness prints
/// lines of its own first).
fn wait_ready(holder: &mut std::process::Child) {
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "holder ended early");
        if line.trim_end().ends_with("ready") {
            return;
        }
    }
}

#[allow(clippy::host_endian_bytes)]
fn check_all(root: &str, path: &str) -> usize {
    let s = store(root);
    let a = Array::open(&s, path, Mode::Read).unwrap();
    let v = a.read_region_vec(&Region::all(&[SIDE, SIDE])).unwrap();
    let mut lost = 0;
    for i in 0..SIDE * SIDE {
        let k = i as usize * 4;
        let got = u32::from_ne_bytes(v[k..k + 4].try_into().unwrap());
        if got != expected(i) {
            lost += 1;
        }
    }
    lost
}

fn run_writers(format: ZarrFormat, shards: bool, nprocs: u64, flush_every: u64) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s.zarr").to_str().unwrap().to_string();
    let s = store(&root);
    let mut b = ArrayBuilder::new(vec![SIDE, SIDE], DataType::UInt32)
        .chunks(vec![8, 8])
        .zarr_format(format);
    if shards {
        b = b.shards(vec![16, 16]);
    }
    b.create(&s, "g/a").unwrap().close().unwrap();
    let children: Vec<_> = (0..nprocs)
        .map(|p| {
            spawn(
                format!("write|{root}|g/a|{p}|{nprocs}|{flush_every}"),
                "partial_writes_of_processes_lose_nothing",
            )
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a writer failed: {out:?}");
    }
    let lost = check_all(&root, "g/a");
    assert_eq!(
        lost, 0,
        "{lost} elements lost ({format:?}, shards {shards}, {nprocs} processes, flush every {flush_every})"
    );
}

#[test]
fn partial_writes_of_processes_lose_nothing() {
    if maybe_worker() {
        return;
    }
    for (format, shards) in [
        (ZarrFormat::V3, false),
        (ZarrFormat::V3, true),
        (ZarrFormat::V2, false),
    ] {
        for (nprocs, flush_every) in [(4, 1), (8, 3)] {
            run_writers(format, shards, nprocs, flush_every);
        }
    }
}

#[test]
fn readers_and_writers_of_processes_exclude_each_other() {
    if maybe_worker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s.zarr").to_str().unwrap().to_string();
    let s = store(&root);
    ArrayBuilder::new(vec![4], DataType::UInt8)
        .create(&s, "a")
        .unwrap()
        .close()
        .unwrap();
    let test = "readers_and_writers_of_processes_exclude_each_other";
    for (held, other) in [("read", Mode::Write), ("write", Mode::Read)] {
        let mut holder = spawn(format!("hold|{root}|a|{held}|30"), test);
        wait_ready(&mut holder);
        match Array::open(&s, "a", other) {
            Err(Error::Busy { path, reason, pid }) => {
                assert_eq!(path, "a");
                assert_eq!(pid, Some(holder.id()), "{reason}");
                assert!(reason.contains(&holder.id().to_string()), "{reason}");
            }
            r => panic!("expected Busy while another process holds it for {held}: {r:?}"),
        }
        if held == "read" {
            // Replacing the array under another process's readers is
            // refused too, and destroys nothing.
            let r = ArrayBuilder::new(vec![8], DataType::UInt8)
                .overwrite(true)
                .create(&s, "a");
            assert!(matches!(r, Err(Error::Busy { .. })), "{r:?}");
            assert!(s.get("a/zarr.json").unwrap().is_some());
        }
        // A second process of the same mode is welcome.
        let same = if held == "read" {
            Mode::Read
        } else {
            Mode::Write
        };
        drop(Array::open(&s, "a", same).unwrap());
        // Killed, the holder's lock goes with it at once.
        holder.kill().unwrap();
        holder.wait().unwrap();
        drop(Array::open(&s, "a", other).unwrap());
    }
}

#[test]
fn a_zip_store_has_one_writer_process() {
    if maybe_worker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("s.zip").to_str().unwrap().to_string();
    let mut holder = spawn(
        format!("hold-zip|{zip}|30"),
        "a_zip_store_has_one_writer_process",
    );
    wait_ready(&mut holder);
    match zarrcore::open_store(&zip, StoreOptions::create()) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("s.zip") && msg.contains("writing"), "{msg}");
            assert!(msg.contains(&holder.id().to_string()), "{msg}");
        }
        Ok(_) => panic!("a second process opened the zip store for writing"),
    }
    // Another zip in the same directory is independent.
    let other = dir.path().join("t.zip");
    drop(zarrcore::open_store(other.to_str().unwrap(), StoreOptions::create()).unwrap());
    holder.kill().unwrap();
    holder.wait().unwrap();
    drop(zarrcore::open_store(&zip, StoreOptions::create()).unwrap());
}

#[test]
fn attribute_updates_of_processes_lose_nothing() {
    if maybe_worker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s.zarr").to_str().unwrap().to_string();
    let s = store(&root);
    zarrcore::Group::create(&s, "", ZarrFormat::V3, Default::default()).unwrap();
    ArrayBuilder::new(vec![4], DataType::UInt8)
        .create(&s, "a")
        .unwrap()
        .close()
        .unwrap();
    zarrcore::hierarchy::consolidate(&s, "").unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| {
            spawn(
                format!("attrs|{root}|a|{p}"),
                "attribute_updates_of_processes_lose_nothing",
            )
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "an updater failed: {out:?}");
    }
    let a = Array::open(&s, "a", Mode::Read).unwrap();
    assert_eq!(a.attributes().len(), 100, "{:?}", a.attributes());
    // The consolidated metadata, rebuilt by every update, saw the last.
    let doc: serde_json::Value =
        serde_json::from_slice(&s.get("zarr.json").unwrap().unwrap()).unwrap();
    let attrs = &doc["consolidated_metadata"]["metadata"]["a"]["attributes"];
    assert_eq!(attrs.as_object().map(|m| m.len()), Some(100), "{attrs}");
}

//! Crash tests of the CLI writer: `zarrcore import` killed with SIGKILL at
//! random moments, many times. Afterwards every stored chunk decodes and
//! holds its old or its new content (never a mix, never torn), and
//! `zarrcore check --repair` leaves a clean store (`check` then exits 0, no
//! temporary is left).
//!
//! Scenarios: a fresh import into a directory store; an `--overwrite` import
//! of new values over an existing array; a fresh import into a zip store.
//! Iterations per scenario: `$ZARRCORE_CRASH_ITERS` (default 12); the seed
//! is printed (`$ZARRCORE_CRASH_SEED` replays one).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, run, u32_data, write_npy};
use zarrcore::metadata::parse_v3_node;
use zarrcore::{open_store, ArrayMetadata, DataType, NodeMetadata, StoreOptions};

const SHAPE: [u64; 2] = [256, 384];
const CHUNKS: [u64; 2] = [32, 64];
const N: usize = 256 * 384;
/// Grid cells of the array.
const CELLS: u64 = (256 / 32) * (384 / 64);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn iterations() -> usize {
    std::env::var("ZARRCORE_CRASH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

fn seed() -> u64 {
    std::env::var("ZARRCORE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// The decoded content of grid cell `(i, j)` of a C-order array.
fn cell_of(data: &[u8], i: u64, j: u64) -> Vec<u8> {
    let mut out = vec![0u8; (CHUNKS[0] * CHUNKS[1] * 4) as usize];
    for r in 0..CHUNKS[0] {
        for c in 0..CHUNKS[1] {
            let (gr, gc) = (i * CHUNKS[0] + r, j * CHUNKS[1] + c);
            let o = ((r * CHUNKS[1] + c) * 4) as usize;
            if gr < SHAPE[0] && gc < SHAPE[1] {
                let s = ((gr * SHAPE[1] + gc) * 4) as usize;
                out[o..o + 4].copy_from_slice(&data[s..s + 4]);
            }
        }
    }
    out
}

/// Starts an import and kills it after `delay`; returns whether it had
/// already finished.
fn import_killed(args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "import {args:?} failed on its own");
            return true;
        }
        if t0.elapsed() >= delay {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Checks every chunk of the array at `arr` in `store`: it decodes and equals
/// one of `allowed` contents. Returns (chunks present, chunks new).
fn verify_chunks(store: &str, arr: &str, meta: &ArrayMetadata, allowed: &[&[u8]]) -> (u64, u64) {
    let s = open_store(store, StoreOptions::read_only()).expect("store opens");
    let spec = meta.cell_spec();
    let (mut present, mut newest) = (0, 0);
    for i in 0..SHAPE[0].div_ceil(CHUNKS[0]) {
        for j in 0..SHAPE[1].div_ceil(CHUNKS[1]) {
            let key = format!("{arr}/c/{i}/{j}");
            let Some(bytes) = s.get(&key).unwrap() else {
                continue;
            };
            present += 1;
            let mut out = vec![0u8; spec.num_bytes()];
            meta.codecs
                .decode_into(&bytes, &spec, &mut out)
                .unwrap_or_else(|e| panic!("{store} {key}: does not decode: {e}"));
            let which = allowed
                .iter()
                .position(|a| cell_of(a, i, j) == out)
                .unwrap_or_else(|| panic!("{store} {key}: neither old nor new content"));
            if which + 1 == allowed.len() {
                newest += 1;
            }
        }
    }
    (present, newest)
}

fn has_temporaries(dir: &Path) -> Vec<String> {
    common::tree(dir)
        .into_iter()
        .filter(|p| p.contains(".zarrcore-tmp."))
        .collect()
}

/// `check --repair` then `check`: both exit 0 and nothing is left over.
fn repair_and_recheck(store: &str, parent: &Path, ctx: &str) {
    let o = run(&["check", store, "--repair"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{ctx}: check --repair: {}{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    let o = run(&["check", store]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{ctx}: check: {}",
        common::stdout(&o)
    );
    let left = has_temporaries(parent);
    assert!(left.is_empty(), "{ctx}: temporaries left: {left:?}");
}

/// The array's metadata, as the import writes it.
fn metadata(dir: &Path, npy: &str) -> ArrayMetadata {
    let store = dir.join("m.zarr").display().to_string();
    let o = run(&[
        "import", npy, &store, "x", "--chunks", "32,64", "--codec", "zstd:1",
    ]);
    assert!(o.status.success());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("m.zarr/x/zarr.json")).unwrap()).unwrap();
    match parse_v3_node(&doc, "zarr.json").unwrap() {
        NodeMetadata::Array(m) => *m,
        NodeMetadata::Group(_) => unreachable!(),
    }
}

/// How long an uninterrupted import takes (kill delays are drawn below it).
fn timed(args: &[&str]) -> Duration {
    let t0 = Instant::now();
    let o = run(args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    t0.elapsed()
}

#[test]
fn import_killed_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let old = u32_data(N, 1);
    let new = u32_data(N, 2);
    let old_npy = dir.path().join("old.npy");
    let new_npy = dir.path().join("new.npy");
    write_npy(&old_npy, DataType::UInt32, &SHAPE, &old);
    write_npy(&new_npy, DataType::UInt32, &SHAPE, &new);
    let (old_npy, new_npy) = (old_npy.to_str().unwrap(), new_npy.to_str().unwrap());
    let meta = metadata(dir.path(), new_npy);
    let seed = seed();
    let mut rng = Rng(seed);
    let iters = iterations();
    println!("crash test: seed {seed}, {iters} iterations per scenario");
    let base = ["--chunks", "32,64", "--codec", "zstd:1"];

    // 1. Fresh import into a directory store.
    let d1 = dir.path().join("fresh");
    std::fs::create_dir(&d1).unwrap();
    let full = timed(
        &[
            &["import", new_npy, d1.join("t.zarr").to_str().unwrap(), "x"][..],
            &base[..],
        ]
        .concat(),
    );
    let mut killed = 0;
    let mut partial = 0;
    for it in 0..iters {
        let store = d1.join(format!("s{it}.zarr")).display().to_string();
        let delay = Duration::from_micros(rng.next() % (full.as_micros() as u64 + 1));
        let args = [&["import", new_npy, &store, "x"][..], &base[..]].concat();
        let done = import_killed(&args, delay);
        killed += usize::from(!done);
        if !Path::new(&store).exists() {
            continue;
        }
        let (present, _) = verify_chunks(&store, "x", &meta, &[&new]);
        if present > 0 && present < CELLS {
            partial += 1;
        }
        repair_and_recheck(
            &store,
            Path::new(&store),
            &format!("fresh #{it} ({delay:?})"),
        );
        // After the repair the array (if its metadata was written) reads.
        verify_chunks(&store, "x", &meta, &[&new]);
        std::fs::remove_dir_all(&store).unwrap();
    }
    println!("fresh import: {iters} runs, {killed} killed, {partial} with some chunks written");

    // 2. --overwrite of new values over an existing array.
    let d2 = dir.path().join("over");
    std::fs::create_dir(&d2).unwrap();
    let store = d2.join("s.zarr").display().to_string();
    let mut killed = 0;
    let mut partial = 0;
    let over = [
        &["import", new_npy, &store, "x", "--overwrite"][..],
        &base[..],
    ]
    .concat();
    let full = {
        let o = run(&[&["import", old_npy, &store, "x"][..], &base[..]].concat());
        assert!(o.status.success());
        timed(&over)
    };
    for it in 0..iters {
        // Reset to the old values.
        let o = run(&[
            &["import", old_npy, &store, "x", "--overwrite"][..],
            &base[..],
        ]
        .concat());
        assert!(o.status.success());
        let delay = Duration::from_micros(rng.next() % (full.as_micros() as u64 + 1));
        let done = import_killed(&over, delay);
        killed += usize::from(!done);
        // `--overwrite` deletes the old array before writing the new one, so
        // a killed overwrite leaves new chunks and missing ones (fill
        // value); any chunk present is whole, old or new.
        let (present, _) = verify_chunks(&store, "x", &meta, &[&old, &new]);
        if present < CELLS {
            partial += 1;
        }
        repair_and_recheck(&store, &d2, &format!("overwrite #{it} ({delay:?})"));
    }
    println!("overwrite import: {iters} runs, {killed} killed, {partial} with chunks missing");

    // 3. Fresh import into a zip store.
    let d3 = dir.path().join("zip");
    std::fs::create_dir(&d3).unwrap();
    let full = timed(
        &[
            &["import", new_npy, d3.join("t.zip").to_str().unwrap(), "x"][..],
            &base[..],
        ]
        .concat(),
    );
    std::fs::remove_file(d3.join("t.zip")).unwrap();
    let mut killed = 0;
    let mut complete = 0;
    for it in 0..iters {
        let zip = d3.join(format!("s{it}.zip")).display().to_string();
        let delay = Duration::from_micros(rng.next() % (full.as_micros() as u64 + 1));
        let args = [&["import", new_npy, &zip, "x"][..], &base[..]].concat();
        let done = import_killed(&args, delay);
        killed += usize::from(!done);
        if Path::new(&zip).exists() {
            // The zip is only ever renamed into place complete.
            let (present, _) = verify_chunks(&zip, "x", &meta, &[&new]);
            assert_eq!(present, CELLS, "zip #{it}: the zip holds a partial array");
            complete += 1;
        }
        let ctx = format!("zip #{it} ({delay:?})");
        if Path::new(&zip).exists() {
            repair_and_recheck(&zip, &d3, &ctx);
        } else {
            // Killed before the first archive was built: only leftovers
            // beside it, which the repair removes; then there is no store.
            let o = run(&["check", &zip, "--repair"]);
            let code = o.status.code();
            let left = has_temporaries(&d3);
            assert!(left.is_empty(), "{ctx}: temporaries left: {left:?}");
            assert!(code == Some(0) || code == Some(2), "{ctx}: {code:?}");
            assert_eq!(run(&["check", &zip]).status.code(), Some(2), "{ctx}");
        }
        let _ = std::fs::remove_file(&zip);
    }
    println!("zip import: {iters} runs, {killed} killed, {complete} zips complete");
}

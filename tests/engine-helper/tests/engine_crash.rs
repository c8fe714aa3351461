//! Crash safety: a writer process is killed with SIGKILL at random moments,
//! 24 times over; after every kill each stored chunk (shard, for sharded
//! arrays) decodes and holds either its old or its new content, and leftover
//! temporary files are ignored by readers and listings.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zarrcore::{open_store, Array, Mode, Region, StoreOptions};
use zarrcore_engine_helper::{crash, u32_bytes};

const ROUNDS: usize = 24;

fn done_generations(progress: &Path) -> (bool, Vec<u32>) {
    let text = std::fs::read_to_string(progress).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let ready = complete.lines().any(|l| l == "ready");
    let gens = complete.lines().filter_map(|l| l.parse().ok()).collect();
    (ready, gens)
}

#[test]
fn sigkill_at_random_moments_leaves_old_or_new_chunks() {
    let exe = env!("CARGO_BIN_EXE_zarrcore-engine-helper");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store.zarr");
    crash::create(&store).unwrap();
    // Stale temporaries of a long-gone writer, with garbage in them, next to
    // real chunks: readers and listings must ignore them.
    std::fs::write(store.join("plain/c/0/.0.zarrcore-tmp.1.0"), b"garbage").unwrap();
    std::fs::write(store.join("v2/.0.0.zarrcore-tmp.1.1"), b"\x00\x01").unwrap();
    std::fs::write(store.join("sharded/c/0/.1.zarrcore-tmp.1.2"), b"").unwrap();

    let arrays = crash::arrays();
    let mut state: Vec<Vec<u32>> = arrays.iter().map(|a| vec![1; a.units()]).collect();
    let mut seed: u64 = 0x1234_5678;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let started = Instant::now();
    let (mut mixed_rounds, mut completed_gens, mut max_temps) = (0, 0, 0);
    for round in 0..ROUNDS {
        let start = state.iter().flatten().copied().max().unwrap() + 1;
        let progress = tmp.path().join(format!("progress.{round}"));
        let mut cmd = Command::new(exe);
        cmd.arg("crash-writer")
            .arg(&store)
            .arg(start.to_string())
            .arg(&progress)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if round % 4 == 2 {
            cmd.arg("durable");
        }
        let mut child = cmd.spawn().unwrap();
        // Wait until the writer has its arrays open (even rounds) or has
        // completed a generation (odd rounds), then let it run a random
        // while (sometimes not at all) and kill it.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ready, done) = done_generations(&progress);
            if ready && (round % 2 == 0 || !done.is_empty()) {
                break;
            }
            if let Some(st) = child.try_wait().unwrap() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("round {round}: writer exited early ({st}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: writer never got ready"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let max_us = if round % 2 == 0 { 30_000 } else { 150_000 };
        std::thread::sleep(Duration::from_micros(rand(max_us)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let (_, done) = done_generations(&progress);
        completed_gens += done.len();
        let last = done.last().copied();
        let prev = state.clone();
        let report = crash::check(&store, |k, u| match last {
            Some(d) => vec![d, d + 1],
            None => vec![prev[k][u], start],
        })
        .unwrap_or_else(|e| panic!("round {round} (start {start}, done {done:?}): {e:#}"));
        let all: Vec<u32> = report.gens.iter().flatten().copied().collect();
        if all.iter().any(|&g| g != all[0]) {
            mixed_rounds += 1;
        }
        max_temps = max_temps.max(report.temporaries);
        state = report.gens;
    }
    eprintln!(
        "{ROUNDS} kills in {:?}: {completed_gens} generations completed, {mixed_rounds} kills left units of two generations, up to {max_temps} temporaries in the store",
        started.elapsed()
    );
    assert!(
        mixed_rounds > 0,
        "no kill landed in the middle of a generation; the test does not test anything"
    );
    assert!(completed_gens > 0, "no generation completed before a kill");
    assert!(max_temps >= 3, "the planted temporaries went missing");

    // After all that, a normal writer still works (temporaries with its pid
    // or any other do not get in the way) and the store is exactly the
    // last generation.
    let g = state.iter().flatten().copied().max().unwrap() + 1;
    let s = open_store(store.to_str().unwrap(), StoreOptions::create()).unwrap();
    for a in &arrays {
        let arr = Array::open(&s, a.name, Mode::Write).unwrap();
        let all = Region::all(&a.shape);
        arr.write_region(&all, &u32_bytes(&a.content(g, &all)))
            .unwrap();
        arr.close().unwrap();
    }
    let report = crash::check(&store, |_, _| vec![g]).unwrap();
    assert!(report.gens.iter().flatten().all(|&x| x == g));
}

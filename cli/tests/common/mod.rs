//! Helpers of the CLI integration tests: the binary, `.npy` files, running
//! commands with a timeout.
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use zarrcore::{npy, DataType, Endian};

/// The binary under test: `$ZARRCORE_BIN` (a release build) or Cargo's.
pub fn bin() -> PathBuf {
    std::env::var_os("ZARRCORE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_zarrcore")))
}

/// Runs `zarrcore ARGS` to completion (at most 120 s).
pub fn run(args: &[&str]) -> Output {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zarrcore");
    let (tx, rx) = mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(o) => o.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("zarrcore {args:?} did not finish within 120 s");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a C-order little-endian `.npy` file.
pub fn write_npy(path: &Path, dtype: DataType, shape: &[u64], data: &[u8]) {
    let mut b = npy::header_bytes(dtype, Endian::Little, shape);
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

/// `n` little-endian u32 values from a seed (distinct per seed).
pub fn u32_data(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .flat_map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Compressible but never all zero.
            ((x % 64) + (i as u32 % 7) * 1000 + 1).to_le_bytes()
        })
        .collect()
}

/// Every path under `dir` (files, directories, links), relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

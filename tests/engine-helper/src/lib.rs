//! Test-only helpers for the chunk engine's multi-process tests.
//!
//! * [`crash`]: a writer that rewrites arrays generation after generation
//!   until it is killed, and the checker that proves every stored chunk
//!   (or shard) holds exactly one generation: its old or its new content.
//! * [`dask`]: the Dask pattern: several processes write disjoint,
//!   chunk-aligned (shard-aligned when sharded) regions of one array; the
//!   result must be byte-for-byte the store one process writes.
//! * [`procs`]: many processes, one array (issue 12): the strip writer
//!   (interleaved partial writes into chunks shared by every process) and
//!   the holder of an open handle (the read-or-write rule across processes);
//!   driven by `tests/python/test_procs.py`.
//!
//! The binary `zarrcore-engine-helper` runs the roles (see `src/main.rs`);
//! the tests in `tests/` drive it.

pub mod crash;
pub mod dask;
pub mod procs;

use std::path::Path;

use anyhow::{Context, Result};
use zarrcore::{open_store, StoreOptions, StoreRef};

/// Opens a directory store (creating it if `create`).
pub fn dir_store(path: &Path, create: bool, durable: bool) -> Result<StoreRef> {
    let opts = StoreOptions {
        writable: true,
        create,
        durable,
    };
    open_store(path.to_str().context("store path is not UTF-8")?, opts)
        .with_context(|| format!("opening store {}", path.display()))
}

/// Native-endian bytes of `u32` values.
#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
pub fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// `u32` values from native-endian bytes.
#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
pub fn u32_values(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Every file under `root` (relative paths, sorted) with its bytes.
pub fn snapshot(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let key = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type()?.is_dir() {
                walk(&e.path(), &key, out)?;
            } else {
                out.push((key, std::fs::read(e.path())?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort();
    Ok(out)
}

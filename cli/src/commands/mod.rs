//! One module per subcommand.

pub mod check;
pub mod copy;
pub mod export;
pub mod import;
pub mod info;
pub mod mount;
pub mod strings;
pub mod tree;

use anyhow::{Context, Result};
use zarrcore::{open_store, StoreOptions, StoreRef};

/// Opens a store read-only, naming it on failure.
pub fn open_read(location: &str) -> Result<StoreRef> {
    open_store(location, StoreOptions::read_only())
        .with_context(|| format!("store {}", shown(location)))
}

/// A store location as shown in messages: without its URL query, which may
/// hold credentials.
pub fn shown(location: &str) -> &str {
    location.split('?').next().unwrap_or_default()
}

static WAIT: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();

/// Sets how long array opens wait for the other mode to close (`--wait`).
pub fn set_wait(wait: Option<std::time::Duration>) {
    let _ = WAIT.set(wait);
}

/// Options for opening arrays (`--wait`).
pub fn open_options() -> zarrcore::OpenOptions {
    match WAIT.get().copied().flatten() {
        Some(d) => zarrcore::OpenOptions::new().wait(d),
        None => zarrcore::OpenOptions::new(),
    }
}

/// Opens (creating if needed) a store for writing.
pub fn open_write(location: &str) -> Result<StoreRef> {
    open_store(location, StoreOptions::create())
        .with_context(|| format!("store {}", shown(location)))
}

/// Rows of an array's first axis processed per step of a streaming copy so
/// that each step is whole grid cells and about `target` bytes.
pub fn slab_rows(shape: &[u64], cell: &[u64], item: usize, target: u64) -> u64 {
    if shape.is_empty() {
        return 1;
    }
    let row_bytes: u64 = shape[1..].iter().product::<u64>().max(1) * item as u64;
    let unit = cell[0].max(1);
    let units = (target / (row_bytes * unit).max(1)).max(1);
    (units * unit).min(shape[0].max(1))
}

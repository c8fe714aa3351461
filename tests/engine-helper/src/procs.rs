//! Many processes, one array (issue 12): the strip writer and the holder.
//!
//! # The strip pattern
//!
//! Shared by this writer, the C writer (`tests/ffi/test_procs.c`) and the
//! pytest driver (`tests/python/test_procs.py`), which recomputes it:
//!
//! * the array has two or more dimensions; a *row* is an index `i` of axis 0;
//! * process `P` of `N` owns the rows `i ≡ P (mod N)`; with chunks (and
//!   shards) at least `N` rows high, every chunk is shared by all processes;
//! * a *strip* is `1 × … × 1 × K` elements along the last axis (the last one
//!   of a row clipped); the process's strips are every strip of its rows,
//!   shuffled with `seed` ([`SplitMix64`], Fisher–Yates);
//! * it makes `writes` partial writes: strip `w mod count` of the shuffled
//!   list for `w` in `0..writes` (so `writes ≥ count` covers all its rows),
//!   flushing after every `flush_every` writes and closing at the end;
//! * element `f` (flat C-order index in the whole array) is [`base_value`]
//!   `(f) = 1 + (f · 7919 + 13) mod 1 000 003`: as `int32`, or `+ 0.5` as
//!   `float64`. It is never 0, the fill value of the test arrays.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use zarrcore::{open_store, Array, DataType, Error, Mode, Region, StoreOptions};

/// Exit code of `hold` when the open fails with [`Error::Busy`].
pub const EXIT_BUSY: i32 = 3;

/// The value pattern (see the module docs).
pub fn base_value(flat: u64) -> i64 {
    1 + ((flat.wrapping_mul(7919) + 13) % 1_000_003) as i64
}

/// SplitMix64: a tiny seeded generator (the C writer has the same one).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The arguments of `strips`.
#[derive(Debug, Clone)]
pub struct StripArgs {
    /// Store location (directory or URL).
    pub store: String,
    /// Array path.
    pub path: String,
    /// This process's number `P`.
    pub proc: u64,
    /// Number of processes `N`.
    pub nprocs: u64,
    /// Partial writes to make (0: one pass over the process's strips).
    pub writes: u64,
    /// Flush after every this many writes (0: only at close).
    pub flush_every: u64,
    /// Shuffle seed.
    pub seed: u64,
    /// Strip length `K` along the last axis.
    pub strip: u64,
}

/// The strips (start of each, as a multi-index) owned by process `proc` of
/// `nprocs` in an array of `shape`, in enumeration order (unshuffled).
pub fn owned_strips(shape: &[u64], proc: u64, nprocs: u64, strip: u64) -> Vec<Vec<u64>> {
    let nd = shape.len();
    let per_row_last = shape[nd - 1].div_ceil(strip);
    let middle: u64 = shape[1..nd - 1].iter().product();
    let mut out = Vec::new();
    let mut i = proc;
    while i < shape[0] {
        for m in 0..middle {
            // The middle multi-index of `m` (C order over axes 1..nd-1).
            let mut idx = vec![0u64; nd];
            idx[0] = i;
            let mut rest = m;
            for d in (1..nd - 1).rev() {
                idx[d] = rest % shape[d];
                rest /= shape[d];
            }
            for s in 0..per_row_last {
                let mut start = idx.clone();
                start[nd - 1] = s * strip;
                out.push(start);
            }
        }
        i += nprocs;
    }
    out
}

/// The native-endian bytes of the strip at `start` of length `len`.
#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
pub fn strip_bytes(shape: &[u64], dtype: DataType, start: &[u64], len: u64) -> Vec<u8> {
    let mut flat = 0u64;
    for (d, &s) in start.iter().enumerate() {
        flat = flat * shape[d] + s;
    }
    let mut out = Vec::with_capacity(len as usize * dtype.size());
    for f in flat..flat + len {
        let v = base_value(f);
        match dtype {
            DataType::Int32 => out.extend_from_slice(&(v as i32).to_ne_bytes()),
            _ => out.extend_from_slice(&(v as f64 + 0.5).to_ne_bytes()),
        }
    }
    out
}

fn open_rw(location: &str) -> Result<zarrcore::StoreRef> {
    let opts = StoreOptions {
        writable: true,
        create: false,
        durable: false,
    };
    open_store(location, opts).with_context(|| format!("opening store {}", shown(location)))
}

/// A store location without its URL query (which may hold a secret).
fn shown(location: &str) -> &str {
    location.split('?').next().unwrap_or_default()
}

/// Runs the strip writer (see the module docs). Returns the number of
/// partial writes made.
pub fn run_strips(a: &StripArgs) -> Result<u64> {
    ensure!(
        a.nprocs > 0 && a.proc < a.nprocs,
        "--proc must be below --nprocs"
    );
    ensure!(a.strip > 0, "--strip must be positive");
    let store = open_rw(&a.store)?;
    let arr = Array::open(&store, &a.path, Mode::Write)
        .with_context(|| format!("opening array {:?} for writing", a.path))?;
    let shape = arr.shape();
    let dtype = arr.data_type();
    ensure!(
        shape.len() >= 2,
        "the strip pattern needs 2 or more dimensions"
    );
    if !matches!(dtype, DataType::Int32 | DataType::Float64) {
        bail!("the strip pattern writes int32 or float64 arrays, not {dtype}");
    }
    let mut strips = owned_strips(&shape, a.proc, a.nprocs, a.strip);
    ensure!(!strips.is_empty(), "process {} owns no rows", a.proc);
    let mut rng = SplitMix64::new(a.seed ^ a.proc.wrapping_mul(0x5851_f42d_4c95_7f2d));
    for i in (1..strips.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        strips.swap(i, j);
    }
    let writes = if a.writes == 0 {
        strips.len() as u64
    } else {
        a.writes
    };
    let nd = shape.len();
    let last = shape[nd - 1];
    let mut flushes = 0u64;
    for w in 0..writes {
        let start = &strips[(w % strips.len() as u64) as usize];
        let len = a.strip.min(last - start[nd - 1]);
        let mut count = vec![1u64; nd];
        count[nd - 1] = len;
        let region = Region::new(start.clone(), count);
        arr.write_region(&region, &strip_bytes(&shape, dtype, start, len))
            .with_context(|| format!("write {w} ({region})"))?;
        if a.flush_every > 0 && (w + 1) % a.flush_every == 0 {
            arr.flush()
                .with_context(|| format!("flush after write {w}"))?;
            flushes += 1;
        }
    }
    arr.close().context("close")?;
    println!(
        "strips: process {}/{} wrote {writes} strips ({} owned) with {flushes} flushes, {} merge retries",
        a.proc,
        a.nprocs,
        strips.len(),
        zarrcore::engine::stats::merge_retries()
    );
    Ok(writes)
}

/// `hold`: opens the array in `mode`, prints `ready`, keeps it open for
/// `seconds`, closes it. On an open failure prints the error and returns
/// the exit code: [`EXIT_BUSY`] for [`Error::Busy`], 1 otherwise.
pub fn run_hold(location: &str, path: &str, mode: Mode, seconds: f64) -> i32 {
    let store = match if mode == Mode::Write {
        open_rw(location)
    } else {
        open_store(location, StoreOptions::read_only())
            .with_context(|| format!("opening store {}", shown(location)))
    } {
        Ok(s) => s,
        Err(e) => {
            println!("error: {e:#}");
            return 1;
        }
    };
    let arr = match Array::open(&store, path, mode) {
        Ok(a) => a,
        Err(e) => {
            let code = if matches!(e, Error::Busy { .. }) {
                EXIT_BUSY
            } else {
                1
            };
            println!("error: {e}");
            eprintln!("zarrcore-engine-helper hold: {e}");
            return code;
        }
    };
    println!("ready {}", std::process::id());
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs_f64(seconds.max(0.0)));
    match arr.close() {
        Ok(()) => 0,
        Err(e) => {
            println!("error: closing: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_partition_every_element() {
        let shape = [10u64, 3, 11];
        let mut seen = vec![0u32; 10 * 3 * 11];
        for p in 0..4 {
            for s in owned_strips(&shape, p, 4, 4) {
                assert_eq!(s[0] % 4, p);
                let len = 4.min(11 - s[2]);
                for l in s[2]..s[2] + len {
                    seen[((s[0] * 3 + s[1]) * 11 + l) as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn values_are_never_the_fill_value() {
        assert!((0..2_000_000u64).all(|f| base_value(f) >= 1));
        assert_eq!(base_value(0), 14);
    }
}

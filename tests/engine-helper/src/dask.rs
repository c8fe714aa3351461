//! The Dask pattern: `n` processes write disjoint regions of one array, each
//! region a block of whole units (chunks, or shards when sharded), and the
//! store must be exactly what one process writes.
//!
//! Block `b` (two unit rows × one unit column) goes to worker `b % n`. Its
//! values follow [`value`] (the pytest recomputes them with NumPy), except
//! that blocks with `b % 7 == 3` are written as the fill value (their chunks
//! are deleted or never stored) and blocks with `b % 11 == 5` are never
//! written.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use zarrcore::{Array, ArrayBuilder, CodecSpec, DataType, Mode, Region, ZarrFormat};

use crate::dir_store;

/// One array of the Dask test.
#[derive(Debug, Clone)]
pub struct DaskArray {
    /// Node path.
    pub name: &'static str,
    /// Shape.
    pub shape: [u64; 2],
    /// The write unit: the chunk, or the shard.
    pub unit: [u64; 2],
    builder: fn() -> ArrayBuilder,
}

/// The arrays: v3 zstd int32, v3 sharded int32, v2 blosc float64.
pub fn arrays() -> Vec<DaskArray> {
    vec![
        DaskArray {
            name: "v3_zstd",
            shape: [300, 250],
            unit: [32, 50],
            builder: || ArrayBuilder::new(vec![300, 250], DataType::Int32).chunks(vec![32, 50]),
        },
        DaskArray {
            name: "v3_sharded",
            shape: [300, 250],
            unit: [64, 50],
            builder: || {
                ArrayBuilder::new(vec![300, 250], DataType::Int32)
                    .chunks(vec![16, 25])
                    .shards(vec![64, 50])
            },
        },
        DaskArray {
            name: "v2_blosc",
            shape: [300, 250],
            unit: [40, 64],
            builder: || {
                ArrayBuilder::new(vec![300, 250], DataType::Float64)
                    .chunks(vec![40, 64])
                    .zarr_format(ZarrFormat::V2)
                    .codec("blosc:lz4:5:shuffle".parse::<CodecSpec>().expect("codec"))
            },
        },
    ]
}

/// The integer pattern at `(i, j)`.
pub fn value(i: u64, j: u64) -> i64 {
    ((i * 7919 + j * 104_729 + 13) % 1_000_003) as i64 - 500_000
}

impl DaskArray {
    fn blocks(&self) -> (u64, u64) {
        let rows = self.shape[0].div_ceil(self.unit[0]).div_ceil(2);
        let cols = self.shape[1].div_ceil(self.unit[1]);
        (rows, cols)
    }

    /// Number of blocks.
    pub fn num_blocks(&self) -> u64 {
        let (r, c) = self.blocks();
        r * c
    }

    /// The region of block `b` (clipped).
    pub fn block_region(&self, b: u64) -> Region {
        let (_, cols) = self.blocks();
        let (br, bc) = (b / cols, b % cols);
        let r0 = br * 2 * self.unit[0];
        let c0 = bc * self.unit[1];
        Region::new(
            vec![r0, c0],
            vec![
                (2 * self.unit[0]).min(self.shape[0] - r0),
                self.unit[1].min(self.shape[1] - c0),
            ],
        )
    }

    /// The bytes block `b` is written with (`None`: not written), in
    /// native byte order.
    #[allow(clippy::host_endian_bytes)] // the array API takes native byte order
    pub fn block_bytes(&self, b: u64) -> Option<Vec<u8>> {
        if b % 11 == 5 {
            return None;
        }
        let r = self.block_region(b);
        let fill = b % 7 == 3;
        let mut out = Vec::new();
        for i in r.start[0]..r.start[0] + r.shape[0] {
            for j in r.start[1]..r.start[1] + r.shape[1] {
                let v = if fill { 0 } else { value(i, j) };
                if self.name == "v2_blosc" {
                    out.extend_from_slice(&(v as f64 / 7.0).to_ne_bytes());
                } else {
                    out.extend_from_slice(&(v as i32).to_ne_bytes());
                }
            }
        }
        Some(out)
    }
}

/// Creates the arrays (metadata only) in a new store.
pub fn create(dir: &Path) -> Result<()> {
    let store = dir_store(dir, true, false)?;
    for a in arrays() {
        (a.builder)().create(&store, a.name)?.close()?;
    }
    Ok(())
}

/// Worker `worker` of `count`: writes its blocks of every array.
pub fn run_worker(dir: &Path, worker: u64, count: u64) -> Result<()> {
    let store = dir_store(dir, false, false)?;
    for a in arrays() {
        let arr = Array::open(&store, a.name, Mode::Write)?;
        // Every block goes through the write buffer's direct path: whole
        // units. Shuffle the order so workers interleave in time.
        let mut mine: Vec<u64> = (0..a.num_blocks())
            .filter(|b| b % count == worker)
            .collect();
        mine.reverse();
        for b in mine {
            if let Some(bytes) = a.block_bytes(b) {
                arr.write_region(&a.block_region(b), &bytes)
                    .with_context(|| format!("{} block {b}", a.name))?;
            }
        }
        arr.close()?;
    }
    Ok(())
}

/// Runs the pattern: `procs` worker processes (this executable, role
/// `dask-worker`) write `dir/multi`; one process writes `dir/single`; the
/// two stores must be identical file by file, byte for byte.
pub fn run(exe: &Path, dir: &Path, procs: u64) -> Result<()> {
    let multi = dir.join("multi");
    let single = dir.join("single");
    create(&multi)?;
    create(&single)?;
    let mut children = Vec::new();
    for w in 0..procs {
        let child = Command::new(exe)
            .arg("dask-worker")
            .arg(&multi)
            .arg(w.to_string())
            .arg(procs.to_string())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        children.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (w, mut c) in children.into_iter().enumerate() {
        loop {
            if let Some(st) = c.try_wait()? {
                ensure!(st.success(), "worker {w} failed: {st}");
                break;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("worker {w} did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    run_worker(&single, 0, 1)?;
    compare(&multi, &single)
}

/// Compares two stores file by file.
pub fn compare(a: &Path, b: &Path) -> Result<()> {
    let sa = crate::snapshot(a)?;
    let sb = crate::snapshot(b)?;
    let ka: Vec<&str> = sa.iter().map(|(k, _)| k.as_str()).collect();
    let kb: Vec<&str> = sb.iter().map(|(k, _)| k.as_str()).collect();
    if ka != kb {
        let only_a: Vec<_> = ka.iter().filter(|k| !kb.contains(k)).collect();
        let only_b: Vec<_> = kb.iter().filter(|k| !ka.contains(k)).collect();
        bail!(
            "different files: only in {}: {only_a:?}; only in {}: {only_b:?}",
            a.display(),
            b.display()
        );
    }
    for ((k, x), (_, y)) in sa.iter().zip(&sb) {
        ensure!(x == y, "{k} differs ({} vs {} bytes)", x.len(), y.len());
    }
    ensure!(
        ka.iter().any(|k| k.contains("/c/")) && ka.iter().any(|k| k.starts_with("v2_blosc/")),
        "no chunks were written"
    );
    Ok(())
}

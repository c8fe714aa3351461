//! The four ops of the runner contract. Each loads its inputs, then times
//! exactly the section the contract names (from just before opening or
//! creating the array to after the last byte is read or written, closing
//! included), and computes the checksum afterwards.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{bail, Context};
use rayon::prelude::*;
use serde_json::{Map, Value};
use zarrcore::ops::{copy, CopyOptions};
use zarrcore::{
    npy, open_store, Array, DataType, Endian, Layout, Mode, Region, StoreOptions, StoreRef,
    ZarrFormat,
};

use crate::stats::{quantile, sum_u16_le, Timer};
use crate::{workload, Args, Outcome, Usage};

/// The layout of every buffer the runner hands to the engine: C order,
/// little-endian (the `.npy` input's and the checksum's byte order).
const LE: Layout = Layout::c(Endian::Little);

/// A `.npy` file read whole into memory.
struct Npy {
    shape: Vec<u64>,
    file: Vec<u8>,
    data_offset: usize,
}

impl Npy {
    fn data(&self) -> &[u8] {
        &self.file[self.data_offset..]
    }
}

/// Reads a little-endian uint16 C-order `.npy` file into memory.
fn load_npy(path: &str) -> anyhow::Result<Npy> {
    let file = std::fs::read(path).with_context(|| format!("read {path}"))?;
    let h = npy::parse_header(&file).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    if h.dtype != DataType::UInt16 || h.endian != Endian::Little || h.fortran_order {
        bail!(
            "{path}: the workloads need little-endian uint16 data in C order, the file holds {} (fortran_order {})",
            h.dtype.numpy_str(h.endian),
            h.fortran_order
        );
    }
    let len = h.data_len().unwrap_or(u64::MAX);
    let have = (file.len() - h.data_offset) as u64;
    if have != len {
        bail!("{path}: the header describes {len} data bytes, the file holds {have}");
    }
    Ok(Npy {
        shape: h.shape,
        data_offset: h.data_offset,
        file,
    })
}

/// Removes whatever is at `path` (the driver already does this outside the
/// timing; this only matters when the runner is called by hand).
fn remove_existing(path: &str) -> anyhow::Result<()> {
    let p = Path::new(path);
    match std::fs::symlink_metadata(p) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).with_context(|| format!("remove {path}")),
        Ok(_) => std::fs::remove_file(p).with_context(|| format!("remove {path}")),
    }
}

fn open_read(path: &str) -> anyhow::Result<(StoreRef, Array)> {
    let store = open_store(path, StoreOptions::read_only())?;
    let array = Array::open(&store, "", Mode::Read)?;
    Ok((store, array))
}

fn buffer_len(array: &Array) -> anyhow::Result<usize> {
    usize::try_from(array.num_bytes()).context("the array does not fit in memory")
}

/// `write --workload W1|W2|W3 --npy FILE --store PATH`.
pub fn write(args: &Args) -> anyhow::Result<Outcome> {
    let name = args.get("workload")?;
    let store_path = args.get("store")?;
    let npy_path = args.get("npy")?;
    let input = load_npy(npy_path)?;
    let doc = workload::metadata(name, &input.shape)?;
    remove_existing(store_path)?;

    let t = Timer::start();
    let store = open_store(store_path, StoreOptions::create())?;
    let array = Array::create_from_json(&store, "", &doc, true)?;
    array.write_region_with(&Region::all(&input.shape), input.data(), LE)?;
    array.close()?;
    let (seconds, cpu_seconds) = t.stop();

    let mut extra = Map::new();
    extra.insert("workload".into(), name.into());
    extra.insert("shape".into(), input.shape.clone().into());
    Ok(Outcome {
        seconds,
        cpu_seconds,
        bytes: input.data().len() as u64,
        checksum: Some(sum_u16_le(input.data())),
        extra,
    })
}

/// An optional byte size argument (`1234`, `256MiB`, ...), `default` when
/// absent; a malformed one is a usage error naming the key.
fn size_arg(args: &Args, key: &str, default: u64) -> Result<u64, Usage> {
    match args.parsed::<String>(key)? {
        None => Ok(default),
        Some(v) => zarrcore::util::parse_size(&v).map_err(|e| Usage(format!("--{key}: {e}"))),
    }
}

/// `touch [--bytes SIZE]` (default 1 GiB): not a workload but the floor
/// under the whole-array reads. It allocates a fresh buffer and writes every
/// byte once, in 1 MiB blocks on the engine's pool: what any engine's
/// whole-array read pays for its output (the kernel faults in and zeroes
/// each page on first write) before it has decoded anything.
pub fn touch(args: &Args) -> anyhow::Result<Outcome> {
    let n = size_arg(args, "bytes", 1 << 30)?;
    let n = usize::try_from(n).context("--bytes does not fit in memory")?;
    let t = Timer::start();
    let mut buf = vec![0u8; n];
    zarrcore::engine::pool::install(|| buf.par_chunks_mut(1 << 20).for_each(|c| c.fill(1)));
    let (seconds, cpu_seconds) = t.stop();
    Ok(Outcome {
        seconds,
        cpu_seconds,
        bytes: n as u64,
        checksum: Some(sum_u16_le(&buf)),
        extra: Map::new(),
    })
}

/// `read --store PATH`: the whole array into one C-order buffer.
pub fn read(args: &Args) -> anyhow::Result<Outcome> {
    let store_path = args.get("store")?;

    let t = Timer::start();
    let (_store, array) = open_read(store_path)?;
    let opened = t.wall();
    let shape = array.shape();
    let mut buf = vec![0u8; buffer_len(&array)?];
    array.read_region_with(&Region::all(&shape), &mut buf, LE)?;
    let (seconds, cpu_seconds) = t.stop();

    let is_u16 = array.data_type() == DataType::UInt16;
    let mut extra = Map::new();
    extra.insert("open_seconds".into(), opened.into());
    extra.insert("shape".into(), shape.into());
    extra.insert(
        "dtype".into(),
        array.metadata().numpy_dtype().as_str().into(),
    );
    Ok(Outcome {
        seconds,
        cpu_seconds,
        bytes: buf.len() as u64,
        checksum: is_u16.then(|| sum_u16_le(&buf)),
        extra,
    })
}

/// Parses a regions file: one start per line, whitespace-separated.
fn parse_regions(path: &str) -> anyhow::Result<Vec<Vec<u64>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
    let mut starts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{path}:{}: {line:?} is not a list of integers", i + 1))?;
        if starts
            .first()
            .is_some_and(|f: &Vec<u64>| f.len() != s.len())
        {
            bail!(
                "{path}:{}: {} coordinates, earlier lines have {}",
                i + 1,
                s.len(),
                starts[0].len()
            );
        }
        starts.push(s);
    }
    Ok(starts)
}

/// `random --store PATH --regions FILE [--size 16]`: one request after
/// another, each region into its own slice of one preallocated buffer (the
/// checksum is taken from that buffer after the timer).
pub fn random(args: &Args) -> anyhow::Result<Outcome> {
    let store_path = args.get("store")?;
    let starts = parse_regions(args.get("regions")?)?;
    let size: u64 = args.parsed("size")?.unwrap_or(16);
    let ndim = starts.first().map_or(0, Vec::len);
    let elems = (size as usize).pow(ndim as u32);
    // Sized for uint16 (the benchmark's data) and touched before the timer,
    // so the timed loop does not page-fault a fresh buffer.
    let mut out = vec![1u8; starts.len() * elems * 2];
    let mut lat = Vec::with_capacity(starts.len());

    let t = Timer::start();
    let (_store, array) = open_read(store_path)?;
    if array.ndim() != ndim && !starts.is_empty() {
        bail!(
            "the regions have {ndim} coordinates, the array has {} dimensions",
            array.ndim()
        );
    }
    let per = elems * array.data_type().size();
    if out.len() != starts.len() * per {
        out = vec![0u8; starts.len() * per];
    }
    for (s, o) in starts.iter().zip(out.chunks_exact_mut(per.max(1))) {
        let r0 = Instant::now();
        array.read_region_with(&Region::new(s.clone(), vec![size; ndim]), o, LE)?;
        lat.push(r0.elapsed().as_secs_f64() * 1e3);
    }
    let (seconds, cpu_seconds) = t.stop();

    let is_u16 = array.data_type() == DataType::UInt16;
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().sum::<f64>() / lat.len() as f64
    };
    lat.sort_by(f64::total_cmp);
    let mut extra = Map::new();
    extra.insert("n_regions".into(), starts.len().into());
    extra.insert(
        "mean_latency_ms".into(),
        (seconds * 1e3 / starts.len().max(1) as f64).into(),
    );
    extra.insert("mean_request_ms".into(), mean.into());
    extra.insert("p50_latency_ms".into(), quantile(&lat, 0.5).into());
    extra.insert("p99_latency_ms".into(), quantile(&lat, 0.99).into());
    extra.insert("max_latency_ms".into(), lat.last().copied().into());
    Ok(Outcome {
        seconds,
        cpu_seconds,
        bytes: out.len() as u64,
        checksum: is_u16.then(|| sum_u16_le(&out)),
        extra,
    })
}

/// Sum of all uint16 values of a stored array, read in bounded slabs (one
/// row of chunks along the first two axes at a time).
fn stored_sum_u16(store_path: &str) -> anyhow::Result<u64> {
    let (_store, array) = open_read(store_path)?;
    let shape = array.shape();
    let cell = array.metadata().chunk_shape.clone();
    let k = shape.len().min(2);
    let steps: Vec<u64> = (0..k).map(|d| shape[d].div_ceil(cell[d])).collect();
    let mut sum = 0u64;
    let mut buf = Vec::new();
    for i in 0..steps.iter().product::<u64>() {
        let mut start = vec![0u64; shape.len()];
        let mut count = shape.clone();
        let mut rem = i;
        for d in (0..k).rev() {
            start[d] = (rem % steps[d]) * cell[d];
            count[d] = cell[d].min(shape[d] - start[d]);
            rem /= steps[d];
        }
        buf.resize(count.iter().product::<u64>() as usize * 2, 0);
        array.read_region_with(&Region::new(start, count), &mut buf, LE)?;
        sum += sum_u16_le(&buf);
    }
    Ok(sum)
}

/// Memory budget of the transpose when `--memory` is not given.
const TRANSPOSE_MEMORY: u64 = 256 << 20;

/// `transpose --store SRC --out-store DST [--memory SIZE]`: axes reversed,
/// into a v3 array with 64^n chunks, `bytes` + `zstd(1)`, fill 0, by the
/// engine's out-of-core copy ([`zarrcore::ops::copy()`]) under a memory
/// budget (default 256 MiB).
pub fn transpose(args: &Args) -> anyhow::Result<Outcome> {
    let src_path = args.get("store")?;
    let dst_path = args.get("out-store")?;
    let memory = size_arg(args, "memory", TRANSPOSE_MEMORY)?;
    remove_existing(dst_path)?;

    let t = Timer::start();
    let src_store = open_store(src_path, StoreOptions::read_only())?;
    let dst_store = open_store(dst_path, StoreOptions::create())?;
    let src = Array::open(&src_store, "", Mode::Read)?;
    let dtype = src.data_type();
    let dshape: Vec<u64> = src.shape().into_iter().rev().collect();
    let ndim = dshape.len();
    drop(src);
    let mut opts = CopyOptions::new(src_store, "", dst_store, "");
    opts.transpose = Some((0..ndim).rev().collect());
    opts.chunks = Some(vec![64; ndim]);
    opts.codec = Some("zstd:1".parse().map_err(anyhow::Error::msg)?);
    opts.zarr_format = Some(ZarrFormat::V3);
    opts.memory = memory;
    opts.overwrite = true;
    let report = copy(&opts, &|_| {}, &AtomicBool::new(false))?;
    let (seconds, cpu_seconds) = t.stop();
    let rss_during = crate::stats::peak_rss_mb();

    let n: u64 = dshape.iter().product::<u64>() * dtype.size() as u64;
    let checksum = if dtype == DataType::UInt16 {
        Some(stored_sum_u16(dst_path)?)
    } else {
        None
    };
    let mut extra = Map::new();
    extra.insert("shape".into(), Value::from(dshape));
    extra.insert("vm_hwm_mb_timed".into(), rss_during.into());
    extra.insert(
        "memory_budget_mb".into(),
        (memory as f64 / (1 << 20) as f64).into(),
    );
    extra.insert("plan".into(), report.plan.to_json());
    extra.insert("source_decodes".into(), report.source_decodes.into());
    extra.insert("stored_bytes".into(), report.stored_bytes.into());
    extra.insert(
        "method".into(),
        "zarrcore::ops::copy (the out-of-core copy of `zarrcore copy`)".into(),
    );
    Ok(Outcome {
        seconds,
        cpu_seconds,
        bytes: n,
        checksum,
        extra,
    })
}

//! `copy`: transpose, rechunk, re-encode and convert an array into another
//! (any store, either format) under a memory budget, with progress,
//! cancellation and resume.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use zarrcore::ops::{copy, CopyOptions};
//! use zarrcore::{open_store, StoreOptions};
//! let src = open_store("in.zarr", StoreOptions::read_only())?;
//! let dst = open_store("out.zarr", StoreOptions::create())?;
//! let mut opts = CopyOptions::new(src, "data", dst, "data_t");
//! opts.transpose = Some(vec![2, 1, 0]);
//! opts.memory = 256 << 20;
//! let report = copy(&opts, &|p| eprintln!("{} / {} bytes", p.done_bytes, p.total_bytes), &AtomicBool::new(false))?;
//! println!("{}", report.plan);
//! # Ok::<(), zarrcore::Error>(())
//! ```
//!
//! Semantics: the destination is `source[region].transpose(perm)` (NumPy's
//! meaning of both), converted with `astype(dtype, casting=...)` when a data
//! type is given (see [`super::cast`]). See [`super::plan`] for how the work
//! is ordered and how memory is bounded, and [`super::journal`] for resume.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::json;

use super::cast::Casting;
use super::exec::Exec;
use super::meta::{destination_metadata, DestLayout, Shards};
use super::plan::{plan, Plan, PlanInput};
use crate::array::{Array, Region};
use crate::codec::{ArrayToBytes, CodecChain, CodecSpec};
use crate::dtype::DataType;
use crate::engine::{pool, Mode};
use crate::error::{Error, Result};
use crate::metadata::{ArrayMetadata, ZarrFormat};
use crate::store::{normalize_path, StoreRef};

/// Default memory budget: 1 GiB.
pub const DEFAULT_MEMORY: u64 = 1 << 30;

/// What to copy where, and how.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Source store.
    pub src_store: StoreRef,
    /// Source array path.
    pub src_path: String,
    /// Destination store.
    pub dst_store: StoreRef,
    /// Destination array path.
    pub dst_path: String,
    /// Axis permutation in NumPy's sense: destination axis `j` is source
    /// axis `transpose[j]` (`None`: identity).
    pub transpose: Option<Vec<usize>>,
    /// Source region to copy (`None`: all of it), before transposing.
    pub region: Option<Region>,
    /// Destination chunk shape (inner chunk shape when sharded).
    pub chunks: Option<Vec<u64>>,
    /// Destination sharding.
    pub shards: Shards,
    /// Destination compressor.
    pub codec: Option<CodecSpec>,
    /// Destination format.
    pub zarr_format: Option<ZarrFormat>,
    /// Destination data type.
    pub dtype: Option<DataType>,
    /// How far a data type conversion may go.
    pub casting: Casting,
    /// Memory budget in bytes for everything the copy holds.
    pub memory: u64,
    /// Concurrent workers (at most the engine pool's threads; `None`: all).
    pub threads: Option<usize>,
    /// Continue an interrupted copy into the existing destination.
    pub resume: bool,
    /// Replace an existing destination node.
    pub overwrite: bool,
}

impl CopyOptions {
    /// A plain copy of `src_path` to `dst_path` with the default budget.
    pub fn new(
        src_store: StoreRef,
        src_path: impl Into<String>,
        dst_store: StoreRef,
        dst_path: impl Into<String>,
    ) -> CopyOptions {
        CopyOptions {
            src_store,
            src_path: src_path.into(),
            dst_store,
            dst_path: dst_path.into(),
            transpose: None,
            region: None,
            chunks: None,
            shards: Shards::Inherit,
            codec: None,
            zarr_format: None,
            dtype: None,
            casting: Casting::Safe,
            memory: DEFAULT_MEMORY,
            threads: None,
            resume: false,
            overwrite: false,
        }
    }

    fn layout(&self) -> DestLayout {
        DestLayout {
            chunks: self.chunks.clone(),
            shards: self.shards.clone(),
            codec: self.codec.clone(),
            zarr_format: self.zarr_format,
            dtype: self.dtype,
            casting: self.casting,
        }
    }
}

/// Progress of a running copy (destination bytes are uncompressed bytes of
/// the destination's data type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyProgress {
    /// Destination bytes finished (including those finished by the run a
    /// resume continues).
    pub done_bytes: u64,
    /// Destination bytes in all.
    pub total_bytes: u64,
    /// Destination cells finished.
    pub done_cells: u64,
    /// Destination cells in all.
    pub total_cells: u64,
}

/// How a copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every destination cell is written.
    Complete,
    /// Stopped by the cancel flag; finished cells are kept and the journal
    /// allows a resume.
    Cancelled,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// The plan it followed.
    pub plan: Plan,
    /// How it ended.
    pub outcome: Outcome,
    /// Destination cells written (stored or, when all fill value, left out) by this run.
    pub cells_written: u64,
    /// Of those, cells that were all fill value and so not stored.
    pub cells_empty: u64,
    /// Cells skipped because an interrupted run had finished them.
    pub cells_resumed: u64,
    /// Uncompressed destination bytes produced by this run.
    pub bytes: u64,
    /// Encoded bytes stored by this run.
    pub stored_bytes: u64,
    /// Source chunk decodes performed by this run.
    pub source_decodes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl CopyReport {
    /// The report's counts as a JSON object (`outcome`, `cells_total`,
    /// `cells_written`, `cells_empty`, `cells_resumed`, `bytes`,
    /// `stored_bytes`, `source_decodes`, `seconds`): what the CLI's `--json`
    /// and the C API's report carry.
    pub fn summary_json(&self) -> serde_json::Value {
        json!({
            "outcome": match self.outcome {
                Outcome::Complete => "complete",
                Outcome::Cancelled => "cancelled",
            },
            "cells_total": self.plan.dst_cells,
            "cells_written": self.cells_written,
            "cells_empty": self.cells_empty,
            "cells_resumed": self.cells_resumed,
            "bytes": self.bytes,
            "stored_bytes": self.stored_bytes,
            "source_decodes": self.source_decodes,
            "seconds": self.seconds,
        })
    }
}

/// A copy resolved against the source: the destination metadata and the plan.
#[derive(Debug, Clone)]
pub struct PreparedCopy {
    /// Source metadata.
    pub src_meta: Arc<ArrayMetadata>,
    /// The source region copied.
    pub region: Region,
    /// The permutation (destination axis `j` is source axis `perm[j]`).
    pub perm: Vec<usize>,
    /// The destination metadata.
    pub dst_meta: ArrayMetadata,
    /// The plan.
    pub plan: Plan,
    /// The source grid the reads are split on (shards or chunks).
    pub read_unit: Vec<u64>,
}

fn vol(shape: &[u64]) -> u64 {
    shape.iter().fold(1u64, |a, &b| a.saturating_mul(b))
}

/// A generous bound on the encoded size of `n` decoded bytes.
fn encoded_bound(n: u64) -> u64 {
    n + n / 8 + (64 << 10)
}

fn inner_bytes(s: &crate::codec::ShardingCodec) -> u64 {
    s.chunk_shape
        .iter()
        .fold(1u64, |a, &c| a.saturating_mul(c as u64))
}

/// Bytes alive at once while encoding a chunk of `n` bytes with `chain`,
/// the encoded output included (compressor outputs are allocated at their
/// bound).
fn encode_bytes(chain: &CodecChain, n: u64) -> u64 {
    // A transposing codec allocates its output; two are alive at a time.
    let a2a = n * chain.array_to_array.len().min(2) as u64;
    let stages = chain.bytes_to_bytes.len().min(2) as u64 * encoded_bound(n);
    let body = match &chain.array_to_bytes {
        ArrayToBytes::Bytes(b) => {
            // A byte swap copies; with no compressor the output is a copy.
            let copy = if !b.is_native() || chain.bytes_to_bytes.is_empty() {
                n
            } else {
                0
            };
            copy + stages
        }
        ArrayToBytes::Sharding(s) => {
            // One inner chunk (and its encoding) at a time, every encoded
            // inner chunk kept until the shard is assembled, then the shard.
            let inner = inner_bytes(s);
            inner + encode_bytes(&s.codecs, inner) + 2 * encoded_bound(n) + stages
        }
        // Variable-length arrays are refused before a copy is planned.
        ArrayToBytes::Vlen(_) => n + stages,
    };
    a2a + body
}

/// Bytes alive at once while decoding a chunk of `n` bytes with `chain`,
/// beyond the encoded input and the output buffer.
fn decode_bytes(chain: &CodecChain, n: u64) -> u64 {
    let direct = chain.array_to_array.is_empty()
        && chain.bytes_to_bytes.len() <= 1
        && matches!(&chain.array_to_bytes, ArrayToBytes::Bytes(b) if b.is_native());
    if direct {
        return 0;
    }
    let a2a = if chain.array_to_array.is_empty() {
        0
    } else {
        2 * n
    };
    let stages = chain.bytes_to_bytes.len().min(2) as u64 * encoded_bound(n);
    let inner = match &chain.array_to_bytes {
        ArrayToBytes::Sharding(s) => {
            let i = inner_bytes(s);
            i + decode_bytes(&s.codecs, i)
        }
        ArrayToBytes::Bytes(_) | ArrayToBytes::Vlen(_) => 0,
    };
    a2a + stages + inner
}

/// Validates a permutation of `nd` axes.
fn check_perm(perm: &[usize], nd: usize) -> Result<()> {
    let mut seen = vec![false; nd];
    if perm.len() != nd {
        return Err(Error::invalid(format!(
            "transpose {perm:?} has {} axes, the array has {nd}",
            perm.len()
        )));
    }
    for &p in perm {
        if p >= nd || seen[p] {
            return Err(Error::invalid(format!(
                "transpose {perm:?} is not a permutation of 0..{nd}"
            )));
        }
        seen[p] = true;
    }
    Ok(())
}

/// Resolves a copy: opens the source, derives the destination metadata and
/// plans the work. Nothing is written.
pub fn plan_copy(opts: &CopyOptions) -> Result<PreparedCopy> {
    let src = Array::open(&opts.src_store, &opts.src_path, Mode::Read)?;
    prepare(opts, &src)
}

pub(crate) fn prepare(opts: &CopyOptions, src: &Array) -> Result<PreparedCopy> {
    let src_meta = src.metadata();
    let nd = src_meta.ndim();
    let perm = opts.transpose.clone().unwrap_or_else(|| (0..nd).collect());
    check_perm(&perm, nd)?;
    let region = opts
        .region
        .clone()
        .unwrap_or_else(|| Region::all(&src_meta.shape));
    region.check(&src_meta.shape, src_meta.data_type.size(), src.path())?;
    let dst_meta = destination_metadata(&src_meta, &region.shape, &perm, &opts.layout())?;
    let es = src_meta.data_type.size() as u64;
    let ed = dst_meta.data_type.size() as u64;
    let pool_threads = pool::threads();
    let workers = opts.threads.unwrap_or(pool_threads).clamp(1, pool_threads);
    // Source decode unit, and the read unit (a whole shard when it is small
    // enough to be a worker's scratch).
    let src_chunk = src_meta.read_chunk_shape();
    let chunk_bytes = vol(&src_chunk) * es;
    let cell_bytes = vol(&src_meta.chunk_shape) * es;
    let sharded = src_meta.codecs.sharding().is_some();
    let shard_unit = sharded
        && cell_bytes <= 64 << 20
        && cell_bytes.saturating_mul(8 * workers as u64) <= opts.memory;
    let read_unit = if shard_unit {
        src_meta.chunk_shape.clone()
    } else {
        src_chunk.clone()
    };
    let unit_bytes = vol(&read_unit) * es;
    let fetched = if sharded && !shard_unit {
        encoded_bound(chunk_bytes) + (1 << 20)
    } else {
        encoded_bound(cell_bytes)
    };
    let read_transient = fetched
        + decode_bytes(
            &src_meta.codecs,
            cell_bytes.min(unit_bytes.max(chunk_bytes)),
        );
    // Destination cell working set.
    let dst_cell = vol(&dst_meta.chunk_shape);
    let cast = dst_meta.data_type != src_meta.data_type;
    let cell_src = dst_cell * es;
    let cell_dst = dst_cell * ed;
    let encode_transient = encode_bytes(&dst_meta.codecs, cell_dst);
    let worker_bytes = unit_bytes.max(cell_src)
        + if cast { cell_dst } else { 0 }
        + read_transient.max(encode_transient);
    // The engine decodes a source chunk into its per-thread scratch (kept
    // up to 64 MiB) only when a read takes part of it: at the region's (and
    // the array's) edges when they cut chunks, inside shards, or at box edges
    // when the plan decodes some chunks more than once.
    let cuts = |start: u64, len: u64, c: u64| start % c != 0 || (start + len) % c != 0;
    let edges_cut = sharded
        || region
            .start
            .iter()
            .zip(&region.shape)
            .zip(&src_chunk)
            .any(|((&s, &n), &c)| cuts(s, n, c));
    let input = |scratch: bool| {
        let (per_thread, transient) = match (scratch, chunk_bytes <= 64 << 20) {
            (false, _) => (0, 0),
            (true, true) => (chunk_bytes, 0),
            (true, false) => (0, chunk_bytes),
        };
        PlanInput {
            region_start: region.start.clone(),
            region_shape: region.shape.clone(),
            src_chunk: src_chunk.clone(),
            perm: perm.clone(),
            dst_cell: dst_meta.chunk_shape.clone(),
            src_elem: es,
            budget: opts.memory,
            workers,
            pool_threads,
            worker_bytes: worker_bytes + transient,
            engine_scratch_per_thread: per_thread,
        }
    };
    let mut plan = plan(&input(edges_cut)).map_err(|e| Error::invalid(e.to_string()))?;
    if !edges_cut && plan.source_decodes > plan.source_chunks {
        plan = super::plan::plan(&input(true)).map_err(|e| Error::invalid(e.to_string()))?;
    }
    Ok(PreparedCopy {
        src_meta,
        region,
        perm,
        dst_meta,
        plan,
        read_unit,
    })
}

/// The fingerprint a resume must match.
fn fingerprint(opts: &CopyOptions, p: &PreparedCopy) -> serde_json::Value {
    json!({
        "source": {
            "store": opts.src_store.identity(),
            "path": normalize_path(&opts.src_path).unwrap_or_default(),
            "metadata": p.src_meta.to_json(),
        },
        "region": {"start": p.region.start, "shape": p.region.shape},
        "transpose": p.perm,
        "casting": opts.casting.to_string(),
        "destination": p.dst_meta.to_json(),
    })
}

/// Copies (see the module docs). `progress` is called from worker threads
/// after each destination cell; `cancel` stops the copy cleanly (finished
/// cells are kept, the journal is saved and the report says
/// [`Outcome::Cancelled`]).
///
/// Must not be called from a thread of the engine pool. The engine's
/// decoded-chunk cache is suspended while the copy runs ([`crate::engine::cache::suspend_cache`];
/// overlapping copies are fine), so that the memory budget holds.
pub fn copy(
    opts: &CopyOptions,
    progress: &(dyn Fn(&CopyProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<CopyReport> {
    if pool::pool().current_thread_index().is_some() {
        return Err(Error::invalid(
            "copy must not be called from a thread of the engine pool",
        ));
    }
    let src = Array::open(&opts.src_store, &opts.src_path, Mode::Read)?;
    let prepared = prepare(opts, &src)?;
    let _no_cache = crate::engine::cache::suspend_cache();
    Exec::run(
        opts,
        &src,
        &prepared,
        fingerprint(opts, &prepared),
        progress,
        cancel,
    )
}

//! The copy planner: which destination cells to produce together so that
//! source chunks are decoded as few times as possible within a memory budget.
//!
//! # Model
//!
//! The destination grid is tiled by *batches*: blocks of `batch_cells[j]`
//! destination cells (chunks, or shards when sharded) along each destination
//! axis `j`. A batch's source footprint is a box (the destination box mapped
//! back through the axis permutation); a batch reads its box once — decoding
//! every source chunk the box touches — then cuts each destination cell out of
//! it, encodes it and stores it. So
//!
//! * every destination cell is encoded and written exactly once, whatever the
//!   batch shape;
//! * a source chunk is decoded once per batch whose box touches it. When box
//!   edges fall on source chunk edges every chunk is decoded once; otherwise
//!   the chunks straddling box edges are decoded by each batch they straddle.
//!   The planner counts these decodes exactly
//!   ([`Plan::source_decodes`] versus [`Plan::source_chunks`]).
//!
//! Decodes separate by axis: the number of chunks a box touches is the
//! product over axes of the chunks its interval touches, so the total over all
//! batches is the product over axes of per-axis sums. The planner computes,
//! per axis, the decode sum and the box extent for candidate tile sizes,
//! keeps the Pareto front (larger tiles that do not decode less are useless),
//! and searches the product of the fronts for the fewest decodes whose box
//! fits the memory left after the fixed costs.
//!
//! # Memory
//!
//! The budget covers (see [`MemoryEstimate`]): a fixed allowance for the
//! process (code, allocator, stacks, codec contexts), the engine's per-thread
//! decode scratch, each worker's working set (one source chunk being decoded
//! or one destination cell being cut out, converted and encoded, with the
//! codecs' temporaries), and the source boxes of the batches in flight.

use std::fmt;

use crate::util::human_bytes;

/// Fixed allowance for the process itself: code, allocator, metadata.
pub const FIXED_OVERHEAD: u64 = 16 << 20;
/// Allowance per pool thread: stack, allocator arena, codec contexts.
pub const PER_THREAD_OVERHEAD: u64 = 2 << 20;

/// What the planner needs to know.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// The copied source region's start (source axis order).
    pub region_start: Vec<u64>,
    /// The copied source region's shape (source axis order).
    pub region_shape: Vec<u64>,
    /// The source's decode unit (the inner chunk shape when sharded).
    pub src_chunk: Vec<u64>,
    /// Destination axis `j` is source axis `perm[j]`.
    pub perm: Vec<usize>,
    /// The destination grid cell (shard shape when sharded), destination
    /// axis order.
    pub dst_cell: Vec<u64>,
    /// Source element size in bytes.
    pub src_elem: u64,
    /// The memory budget in bytes.
    pub budget: u64,
    /// Worker threads wanted (concurrent decode/encode tasks).
    pub workers: usize,
    /// Threads of the engine pool (each may keep a decode scratch buffer).
    pub pool_threads: usize,
    /// Working memory of one worker (see the module docs).
    pub worker_bytes: u64,
    /// Decode scratch the engine keeps per pool thread.
    pub engine_scratch_per_thread: u64,
}

/// How the budget is spent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Fixed allowance ([`FIXED_OVERHEAD`] plus [`PER_THREAD_OVERHEAD`] per pool thread).
    pub fixed: u64,
    /// The engine's per-thread decode scratch.
    pub engine_scratch: u64,
    /// Working memory of all workers.
    pub workers: u64,
    /// Source boxes of the batches in flight.
    pub boxes: u64,
}

impl MemoryEstimate {
    /// The total.
    pub fn total(&self) -> u64 {
        self.fixed + self.engine_scratch + self.workers + self.boxes
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Destination cells per batch along each destination axis.
    pub batch_cells: Vec<u64>,
    /// Batches along each destination axis.
    pub batch_grid: Vec<u64>,
    /// Destination cells along each destination axis.
    pub cell_grid: Vec<u64>,
    /// Number of batches.
    pub num_batches: u64,
    /// Bytes of the largest batch's source box.
    pub box_bytes: u64,
    /// Batches admitted at once.
    pub in_flight: usize,
    /// Concurrent worker tasks.
    pub workers: usize,
    /// Source chunks (decode units) the region touches.
    pub source_chunks: u64,
    /// Source chunk decodes the plan performs (≥ `source_chunks`).
    pub source_decodes: u64,
    /// Destination cells.
    pub dst_cells: u64,
    /// The memory estimate of the plan.
    pub memory: MemoryEstimate,
    /// The smallest budget this copy can run in (with one worker).
    pub min_budget: u64,
}

impl Plan {
    /// Decodes per source chunk (1.0 when every chunk is decoded once).
    pub fn decode_factor(&self) -> f64 {
        if self.source_chunks == 0 {
            1.0
        } else {
            self.source_decodes as f64 / self.source_chunks as f64
        }
    }

    /// The plan as a JSON object (`batches`, `batch_cells`, `box_bytes`,
    /// `in_flight`, `workers`, `source_chunks`, `source_decodes`,
    /// `decode_factor`, `destination_cells`, `memory` {`fixed`,
    /// `engine_scratch`, `workers`, `boxes`, `total`}, `min_budget`): what
    /// the CLI's `copy --json` and `--dry-run --json` print.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "batches": self.num_batches,
            "batch_cells": self.batch_cells,
            "box_bytes": self.box_bytes,
            "in_flight": self.in_flight,
            "workers": self.workers,
            "source_chunks": self.source_chunks,
            "source_decodes": self.source_decodes,
            "decode_factor": self.decode_factor(),
            "destination_cells": self.dst_cells,
            "memory": {
                "fixed": self.memory.fixed,
                "engine_scratch": self.memory.engine_scratch,
                "workers": self.memory.workers,
                "boxes": self.memory.boxes,
                "total": self.memory.total(),
            },
            "min_budget": self.min_budget,
        })
    }

    /// The destination cell range `[lo, hi)` of batch `index` (a batch grid
    /// index, destination axis order).
    pub fn batch_cells_range(&self, index: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let lo: Vec<u64> = index
            .iter()
            .zip(&self.batch_cells)
            .map(|(&i, &b)| i * b)
            .collect();
        let hi: Vec<u64> = lo
            .iter()
            .zip(&self.batch_cells)
            .zip(&self.cell_grid)
            .map(|((&l, &b), &g)| (l + b).min(g))
            .collect();
        (lo, hi)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} batches of up to {:?} destination cells ({} of source each), up to {} in flight, {} workers; \
             {} source chunk decodes for {} chunks ({:.2}x); memory estimate {}",
            self.num_batches,
            self.batch_cells,
            human_bytes(self.box_bytes),
            self.in_flight,
            self.workers,
            self.source_decodes,
            self.source_chunks,
            self.decode_factor(),
            human_bytes(self.memory.total()),
        )
    }
}

/// Why no plan exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The budget cannot hold even the smallest batch.
    #[error(
        "memory budget {} is too small for this copy: it needs at least {} ({}){}",
        human_bytes(*.budget), human_bytes(*.minimum), .detail, .hint
    )]
    BudgetTooSmall {
        /// The budget given.
        budget: u64,
        /// The smallest budget that works.
        minimum: u64,
        /// What the minimum is made of.
        detail: String,
        /// How to lower it, if anything helps.
        hint: String,
    },
    /// The geometry is inconsistent (a caller bug or bad input).
    #[error("cannot plan the copy: {0}")]
    Invalid(String),
}

/// One axis's candidates: tile size in cells, box extent, decode sum.
#[derive(Debug, Clone, Copy)]
struct Cand {
    cells: u64,
    extent: u64,
    decodes: u64,
}

/// Per-axis geometry (destination axis `j`, source axis `perm[j]`).
struct Axis {
    /// Elements along the axis.
    n: u64,
    /// Destination cell extent.
    w: u64,
    /// Source chunk extent.
    c: u64,
    /// Region start on the source axis.
    r: u64,
}

impl Axis {
    fn cells(&self) -> u64 {
        self.n.div_ceil(self.w)
    }

    /// Source chunks touched by the interval `[lo, hi)` of the region.
    fn touched(&self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return 0;
        }
        (self.r + hi - 1) / self.c - (self.r + lo) / self.c + 1
    }

    /// Box extent and total decodes along this axis for tiles of `b` cells.
    fn cand(&self, b: u64) -> Cand {
        let tile = b.saturating_mul(self.w);
        let mut decodes = 0u64;
        let mut lo = 0u64;
        while lo < self.n {
            let hi = lo.saturating_add(tile).min(self.n);
            decodes = decodes.saturating_add(self.touched(lo, hi));
            lo = hi;
        }
        Cand {
            cells: b,
            extent: tile.min(self.n),
            decodes,
        }
    }

    /// The Pareto front of tile sizes: increasing extent, strictly
    /// decreasing decodes, at most `limit` entries.
    fn front(&self, limit: usize) -> Vec<Cand> {
        let g = self.cells().max(1);
        let mut sizes: Vec<u64> = (1..=g.min(64)).collect();
        // Tiles whose edges fall on source chunk edges (for a region
        // starting on a chunk edge): multiples of lcm(w, c) / w.
        let align = lcm(self.w, self.c) / self.w;
        if align > 1 {
            let mut k = align;
            let mut n = 0;
            while k <= g && n < 256 {
                sizes.push(k);
                k += align;
                n += 1;
            }
        }
        let mut k = 64f64;
        while (k as u64) < g {
            sizes.push(k as u64);
            k *= 1.2;
        }
        sizes.push(g);
        sizes.sort_unstable();
        sizes.dedup();
        let mut front: Vec<Cand> = Vec::new();
        for b in sizes {
            let c = self.cand(b);
            if front.last().is_none_or(|l| c.decodes < l.decodes) {
                if front.last().is_some_and(|l| l.extent == c.extent) {
                    front.pop();
                }
                front.push(c);
            }
        }
        thin(front, limit)
    }
}

/// Keeps at most `limit` entries: the first, the last and evenly spaced ones.
fn thin(v: Vec<Cand>, limit: usize) -> Vec<Cand> {
    if v.len() <= limit || limit < 2 {
        return v;
    }
    let n = v.len();
    let mut out = Vec::with_capacity(limit);
    let mut last = usize::MAX;
    for i in 0..limit {
        let k = i * (n - 1) / (limit - 1);
        if k != last {
            out.push(v[k]);
            last = k;
        }
    }
    out
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        return a.max(b);
    }
    (a / gcd(a, b)).saturating_mul(b)
}

/// Plans a copy.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let nd = input.perm.len();
    if input.region_shape.len() != nd
        || input.region_start.len() != nd
        || input.src_chunk.len() != nd
        || input.dst_cell.len() != nd
    {
        return Err(PlanError::Invalid(format!(
            "ranks differ: region {:?}, source chunk {:?}, permutation {:?}, destination cell {:?}",
            input.region_shape, input.src_chunk, input.perm, input.dst_cell
        )));
    }
    if input.src_chunk.contains(&0) || input.dst_cell.contains(&0) {
        return Err(PlanError::Invalid("a chunk shape has a zero extent".into()));
    }
    let axes: Vec<Axis> = (0..nd)
        .map(|j| {
            let k = input.perm[j];
            Axis {
                n: input.region_shape[k],
                w: input.dst_cell[j],
                c: input.src_chunk[k],
                r: input.region_start[k],
            }
        })
        .collect();
    let cell_grid: Vec<u64> = axes.iter().map(Axis::cells).collect();
    let dst_cells = cell_grid.iter().product::<u64>();
    let source_chunks: u64 = axes.iter().map(|a| a.touched(0, a.n)).product();
    let elem = input.src_elem.max(1);
    let pool_threads = input.pool_threads.max(1) as u64;
    let fixed = FIXED_OVERHEAD + PER_THREAD_OVERHEAD * pool_threads;
    let engine_scratch = input.engine_scratch_per_thread * pool_threads;
    let box_of = |extents: &mut dyn Iterator<Item = u64>| -> u64 {
        extents.fold(elem, |a, e| a.saturating_mul(e))
    };
    let min_box = box_of(&mut axes.iter().map(|a| a.w.min(a.n)));
    let minimum = fixed + engine_scratch + input.worker_bytes + min_box;
    if dst_cells == 0 {
        // Nothing to copy: an empty region.
        return Ok(Plan {
            batch_cells: vec![1; nd],
            batch_grid: vec![0; nd],
            cell_grid,
            num_batches: 0,
            box_bytes: 0,
            in_flight: 1,
            workers: 1,
            source_chunks: 0,
            source_decodes: 0,
            dst_cells: 0,
            memory: MemoryEstimate {
                fixed,
                engine_scratch,
                workers: input.worker_bytes,
                boxes: 0,
            },
            min_budget: minimum,
        });
    }
    if input.budget < minimum {
        let one_thread = FIXED_OVERHEAD
            + PER_THREAD_OVERHEAD
            + input.engine_scratch_per_thread
            + input.worker_bytes
            + min_box;
        let hint = if pool_threads > 1 && input.budget >= one_thread {
            format!(
                "; with one thread (--threads 1) it needs {}",
                human_bytes(one_thread)
            )
        } else if pool_threads > 1 {
            format!(
                "; with one thread (--threads 1) it would need {}",
                human_bytes(one_thread)
            )
        } else {
            String::new()
        };
        return Err(PlanError::BudgetTooSmall {
            budget: input.budget,
            minimum,
            detail: format!(
                "one destination cell's source box of {}, one worker's {} of buffers, {} of engine scratch, {} fixed",
                human_bytes(min_box),
                human_bytes(input.worker_bytes),
                human_bytes(engine_scratch),
                human_bytes(fixed)
            ),
            hint,
        });
    }
    // As many workers as fit beside the smallest box.
    let spare = input.budget - fixed - engine_scratch - min_box;
    let workers =
        (spare / input.worker_bytes.max(1)).clamp(1, input.workers.max(1) as u64) as usize;
    let cap = input.budget - fixed - engine_scratch - workers as u64 * input.worker_bytes;
    // Search the product of the per-axis fronts.
    let limit = match nd {
        0 | 1 => 100_000,
        2 => 400,
        3 => 60,
        4 => 24,
        5 => 12,
        _ => 6,
    };
    let fronts: Vec<Vec<Cand>> = axes.iter().map(|a| a.front(limit)).collect();
    let mut best: Vec<(u64, u64, Vec<Cand>)> = Vec::new(); // (decodes, box, choice)
    let mut idx = vec![0usize; nd];
    loop {
        let choice: Vec<Cand> = (0..nd).map(|j| fronts[j][idx[j]]).collect();
        let bx = box_of(&mut choice.iter().map(|c| c.extent));
        if bx <= cap {
            let dec = choice.iter().fold(1u64, |a, c| a.saturating_mul(c.decodes));
            best.push((dec, bx, choice));
        }
        // Odometer.
        let mut d = nd;
        loop {
            if d == 0 {
                break;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < fronts[d].len() {
                break;
            }
            idx[d] = 0;
        }
        if idx.iter().all(|&i| i == 0) {
            break;
        }
    }
    let min_dec = best
        .iter()
        .map(|b| b.0)
        .min()
        .ok_or_else(|| PlanError::Invalid("no batch shape fits (planner bug)".into()))?;
    // Prefer boxes of at most half the room (so that reading the next batch
    // overlaps encoding this one) when that costs at most 5% more decodes.
    let tolerance = min_dec + min_dec / 20;
    let half = best.iter().any(|b| b.1 <= cap / 2 && b.0 <= tolerance);
    let (dec, bx, choice) = best
        .into_iter()
        .filter(|b| !half || (b.1 <= cap / 2 && b.0 <= tolerance))
        .min_by_key(|b| (b.0, b.1))
        .ok_or_else(|| PlanError::Invalid("no batch shape chosen (planner bug)".into()))?;
    let batch_cells: Vec<u64> = choice.iter().map(|c| c.cells).collect();
    let batch_grid: Vec<u64> = cell_grid
        .iter()
        .zip(&batch_cells)
        .map(|(&g, &b)| g.div_ceil(b))
        .collect();
    let num_batches = batch_grid.iter().product();
    let in_flight = (cap / bx.max(1)).clamp(1, 2 * workers as u64 + 2) as usize;
    Ok(Plan {
        batch_cells,
        batch_grid,
        cell_grid,
        num_batches,
        box_bytes: bx,
        in_flight,
        workers,
        source_chunks,
        source_decodes: dec,
        dst_cells,
        memory: MemoryEstimate {
            fixed,
            engine_scratch,
            workers: workers as u64 * input.worker_bytes,
            boxes: in_flight as u64 * bx,
        },
        min_budget: minimum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        shape: &[u64],
        src_chunk: &[u64],
        perm: &[usize],
        dst_cell: &[u64],
        budget: u64,
    ) -> PlanInput {
        PlanInput {
            region_start: vec![0; shape.len()],
            region_shape: shape.to_vec(),
            src_chunk: src_chunk.to_vec(),
            perm: perm.to_vec(),
            dst_cell: dst_cell.to_vec(),
            src_elem: 2,
            budget,
            workers: 2,
            pool_threads: 2,
            worker_bytes: 2 << 20,
            engine_scratch_per_thread: 512 << 10,
        }
    }

    /// Brute force: decodes of a batch shape by visiting every batch.
    fn brute_decodes(inp: &PlanInput, p: &Plan) -> u64 {
        let nd = inp.perm.len();
        let mut total = 0;
        let mut idx = vec![0u64; nd];
        loop {
            let (lo, hi) = p.batch_cells_range(&idx);
            let mut prod = 1;
            for j in 0..nd {
                let k = inp.perm[j];
                let a = lo[j] * inp.dst_cell[j];
                let b = (hi[j] * inp.dst_cell[j]).min(inp.region_shape[k]);
                let r = inp.region_start[k];
                let c = inp.src_chunk[k];
                prod *= (r + b - 1) / c - (r + a) / c + 1;
            }
            total += prod;
            let mut d = nd;
            loop {
                if d == 0 {
                    return total;
                }
                d -= 1;
                idx[d] += 1;
                if idx[d] < p.batch_grid[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    #[test]
    fn aligned_transpose_decodes_each_chunk_once_in_small_batches() {
        // W5: 1024x1024x512 u16, 64^3 chunks, reversed into 64^3 chunks.
        let inp = input(
            &[1024, 1024, 512],
            &[64; 3],
            &[2, 1, 0],
            &[64; 3],
            256 << 20,
        );
        let p = plan(&inp).unwrap();
        assert_eq!(p.source_chunks, 16 * 16 * 8);
        assert_eq!(p.source_decodes, p.source_chunks);
        assert_eq!(p.batch_cells, vec![1, 1, 1]);
        assert_eq!(p.box_bytes, 64 * 64 * 64 * 2);
        assert_eq!(p.num_batches, 2048);
        assert!(p.memory.total() <= 256 << 20);
        assert_eq!(brute_decodes(&inp, &p), p.source_decodes);
    }

    #[test]
    fn slab_rechunk_batches_whole_source_chunks() {
        // Source chunks are z-slices, destination chunks are x-columns: one
        // destination chunk needs every source chunk, so batches must span
        // many destination cells to avoid decoding each slice many times.
        let inp = input(
            &[64, 256, 256],
            &[1, 256, 256],
            &[0, 1, 2],
            &[64, 16, 16],
            64 << 20,
        );
        let p = plan(&inp).unwrap();
        assert_eq!(p.source_chunks, 64);
        assert_eq!(brute_decodes(&inp, &p), p.source_decodes);
        // A one-cell batch would decode every slice 256 times.
        assert!(p.decode_factor() <= 4.0, "{p}");
        assert!(p.memory.total() <= 64 << 20, "{p}");
        // More memory, fewer decodes.
        let big = plan(&PlanInput {
            budget: 1 << 30,
            ..inp.clone()
        })
        .unwrap();
        assert_eq!(big.source_decodes, 64, "{big}");
    }

    #[test]
    fn misaligned_rechunk_counts_decodes_exactly() {
        let mut inp = input(
            &[1000, 700, 50],
            &[64, 64, 64],
            &[1, 2, 0],
            &[100, 30, 7],
            48 << 20,
        );
        inp.region_start = vec![3, 5, 1];
        let p = plan(&inp).unwrap();
        assert_eq!(brute_decodes(&inp, &p), p.source_decodes);
        assert!(p.source_decodes >= p.source_chunks);
        assert!(p.memory.total() <= inp.budget, "{p}");
        let cells: u64 = p.cell_grid.iter().product();
        assert_eq!(cells, 7 * 2 * 143);
    }

    #[test]
    fn refuses_a_budget_too_small_and_names_the_minimum() {
        let inp = input(&[512, 512, 512], &[256; 3], &[2, 1, 0], &[256; 3], 20 << 20);
        let e = plan(&inp).unwrap_err();
        let PlanError::BudgetTooSmall { minimum, .. } = &e else {
            panic!("{e}")
        };
        assert!(*minimum > 32 << 20);
        assert!(e.to_string().contains("at least"), "{e}");
        let ok = plan(&PlanInput {
            budget: *minimum,
            ..inp.clone()
        })
        .unwrap();
        assert_eq!(ok.workers, 1);
        assert!(ok.memory.total() <= *minimum);
    }

    #[test]
    fn four_d_and_empty() {
        let inp = input(
            &[9, 10, 11, 12],
            &[4, 5, 3, 6],
            &[3, 0, 2, 1],
            &[5, 2, 4, 3],
            64 << 20,
        );
        let p = plan(&inp).unwrap();
        assert_eq!(brute_decodes(&inp, &p), p.source_decodes);
        let e = plan(&input(&[0, 5], &[2, 2], &[1, 0], &[2, 2], 64 << 20)).unwrap();
        assert_eq!(e.num_batches, 0);
        let z = plan(&input(&[], &[], &[], &[], 64 << 20)).unwrap();
        assert_eq!(z.num_batches, 1);
        assert_eq!(z.source_decodes, 1);
    }
}

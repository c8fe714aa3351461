//! Running a planned copy.
//!
//! The calling thread is the coordinator: it walks the batches in source
//! order, reserves each batch's source box from a [`Gate`] (which holds at
//! most the plan's boxes, reusing their buffers), and hands the batch to the
//! engine pool. A batch reads its box — one task per source shard or chunk
//! it touches — then produces each destination cell — one task per cell:
//! cut out with the blocked transpose kernel, converted, encoded, stored,
//! marked in the journal.
//!
//! Every task holds one of the plan's worker slots ([`Slots`]) while it runs,
//! with that slot's reusable buffers, and runs its codecs sequentially
//! ([`pool::Sequential`]): a task never waits for other tasks, so slots are
//! always released and the number of working sets in memory is the number
//! of slots.

use crate::nd::for_each_index;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rayon::prelude::*;

use super::cast::cast;
use super::copy::{CopyOptions, CopyProgress, CopyReport, Outcome, PreparedCopy};
use super::journal::Journal;
use super::permute::copy_permuted;
use crate::array::region::{cell_parts, CellPart};
use crate::array::{Array, Region};
use crate::codec::ChunkSpec;
use crate::engine::pool;
use crate::error::{Error, Result};
use crate::hierarchy;
use crate::nd::{self, DisjointOut, Strides};
use crate::store::{join_key, normalize_path, Store};

/// How often the journal is rewritten.
const CHECKPOINT: Duration = Duration::from_secs(2);

/// The unfinished cells of a batch (grid index, linear index).
type Cells = Vec<(Vec<u64>, u64)>;

/// Reusable buffers of one worker slot.
#[derive(Debug, Default)]
struct LeafBufs {
    a: Vec<u8>,
    b: Vec<u8>,
}

/// `n` bytes of `v` (grown, never shrunk; contents unspecified).
fn sized(v: &mut Vec<u8>, n: usize) -> &mut [u8] {
    if v.len() < n {
        v.resize(n, 0);
    }
    &mut v[..n]
}

/// The worker slots: a task takes one (waiting if none is free) and gives
/// it back when done.
struct Slots {
    free: Mutex<Vec<LeafBufs>>,
    cv: Condvar,
}

struct Slot<'a> {
    slots: &'a Slots,
    bufs: LeafBufs,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new((0..n.max(1)).map(|_| LeafBufs::default()).collect()),
            cv: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock();
        loop {
            if let Some(bufs) = free.pop() {
                return Slot { slots: self, bufs };
            }
            self.cv.wait(&mut free);
        }
    }
}

impl Deref for Slot<'_> {
    type Target = LeafBufs;

    fn deref(&self) -> &LeafBufs {
        &self.bufs
    }
}

impl DerefMut for Slot<'_> {
    fn deref_mut(&mut self) -> &mut LeafBufs {
        &mut self.bufs
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let bufs = std::mem::take(&mut self.bufs);
        self.slots.free.lock().push(bufs);
        self.slots.cv.notify_one();
    }
}

/// Source boxes: at most `max` out at once and `cap` bytes allocated in all;
/// returned buffers are kept for reuse.
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
    cap: u64,
    max: usize,
}

struct GateState {
    used: u64,
    out: usize,
    idle: Vec<Vec<u8>>,
}

impl Gate {
    fn new(cap: u64, max: usize) -> Gate {
        Gate {
            state: Mutex::new(GateState {
                used: 0,
                out: 0,
                idle: Vec::new(),
            }),
            cv: Condvar::new(),
            cap,
            max: max.max(1),
        }
    }

    /// A buffer of at least `n` bytes; while waiting, calls `tick` every
    /// 200 ms and gives up (returns `None`) when it returns false.
    fn acquire(&self, n: usize, mut tick: impl FnMut() -> bool) -> Option<Vec<u8>> {
        let need = n as u64;
        loop {
            let mut s = self.state.lock();
            if s.out < self.max {
                let fit = s
                    .idle
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.len() >= n)
                    .min_by_key(|(_, b)| b.len())
                    .map(|(i, _)| i);
                if let Some(i) = fit {
                    s.out += 1;
                    return Some(s.idle.swap_remove(i));
                }
                while s.used + need > self.cap && !s.idle.is_empty() {
                    if let Some(b) = s.idle.pop() {
                        s.used -= b.len() as u64;
                    }
                }
                if s.used + need <= self.cap {
                    s.used += need;
                    s.out += 1;
                    drop(s);
                    return Some(vec![0u8; n]);
                }
            }
            self.cv.wait_for(&mut s, Duration::from_millis(200));
            drop(s);
            if !tick() {
                return None;
            }
        }
    }

    fn release(&self, buf: Vec<u8>) {
        let mut s = self.state.lock();
        s.out -= 1;
        s.idle.push(buf);
        drop(s);
        self.cv.notify_all();
    }
}

/// Whether a block `count` at `start` of a C-order `shape` is one
/// contiguous run.
fn contiguous(count: &[usize], shape: &[usize]) -> bool {
    let mut outer_seen = false;
    for (&c, &s) in count.iter().zip(shape) {
        if outer_seen && c != s {
            return false;
        }
        if c > 1 {
            outer_seen = true;
        }
    }
    true
}

/// One running copy.
pub(crate) struct Exec<'a> {
    src: &'a Array,
    /// The destination's write handle: every cell is stored through it.
    dst: &'a Array,
    p: &'a PreparedCopy,
    store: &'a dyn Store,
    dst_path: String,
    spec: ChunkSpec,
    es: usize,
    ed: usize,
    cast: bool,
    src_fill: Vec<u8>,
    cell_elems: usize,
    cell_strides: Vec<isize>,
    cell_grid_strides: Vec<u64>,
    src_shape: Vec<u64>,
    journal: Journal,
    slots: Slots,
    fresh: bool,
    total_bytes: u64,
    total_cells: u64,
    done_bytes: AtomicU64,
    done_cells: AtomicU64,
    written: AtomicU64,
    empty: AtomicU64,
    bytes: AtomicU64,
    stored: AtomicU64,
    decodes: AtomicU64,
    error: Mutex<Option<Error>>,
    failed: AtomicBool,
    cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(&CopyProgress) + Sync),
}

fn overlaps(a: &str, b: &str) -> bool {
    a == b
        || a.is_empty()
        || b.is_empty()
        || b.starts_with(&format!("{a}/"))
        || a.starts_with(&format!("{b}/"))
}

impl<'a> Exec<'a> {
    /// Opens or creates the destination and runs the copy.
    pub(crate) fn run(
        opts: &'a CopyOptions,
        src: &'a Array,
        p: &'a PreparedCopy,
        fingerprint: serde_json::Value,
        progress: &'a (dyn Fn(&CopyProgress) + Sync),
        cancel: &'a AtomicBool,
    ) -> Result<CopyReport> {
        let started = Instant::now();
        let dst_path = normalize_path(&opts.dst_path)?;
        let src_path = normalize_path(&opts.src_path)?;
        if opts.src_store.identity() == opts.dst_store.identity() && overlaps(&src_path, &dst_path)
        {
            return Err(Error::invalid(format!(
                "source {src_path:?} and destination {dst_path:?} overlap in the same store"
            )));
        }
        let store = &opts.dst_store;
        let existing = hierarchy::read_node(store, &dst_path)?;
        let (dst, fresh) = match existing {
            Some(_) if opts.resume => {
                let a = Array::open(store, &dst_path, crate::Mode::Write)?;
                if *a.metadata() != p.dst_meta {
                    return Err(Error::invalid(format!(
                        "cannot resume into {dst_path:?}: its metadata differs from what this copy \
                         creates (different options?); start over with --overwrite"
                    )));
                }
                (a, false)
            }
            Some(_) if !opts.overwrite => {
                return Err(Error::AlreadyExists {
                    path: dst_path,
                    what: "a node; pass --resume to continue an interrupted copy or --overwrite to replace it".into(),
                })
            }
            _ => (
                Array::create(store, &dst_path, p.dst_meta.clone(), opts.overwrite)?,
                true,
            ),
        };
        let meta = &p.dst_meta;
        let nd = meta.ndim();
        let cell_grid = &p.plan.cell_grid;
        let mut cell_grid_strides = vec![1u64; nd];
        for j in (0..nd.saturating_sub(1)).rev() {
            cell_grid_strides[j] = cell_grid_strides[j + 1] * cell_grid[j + 1];
        }
        let cell_shape: Vec<usize> = meta.chunk_shape.iter().map(|&c| c as usize).collect();
        let es = p.src_meta.data_type.size();
        let ed = meta.data_type.size();
        let total_cells = p.plan.dst_cells;
        let journal = Journal::new(&dst_path, fingerprint, total_cells)?;
        let exec = Exec {
            src,
            dst: &dst,
            p,
            store: &**store,
            dst_path,
            spec: meta.cell_spec(),
            es,
            ed,
            cast: meta.data_type != p.src_meta.data_type,
            src_fill: p.src_meta.fill_value.as_bytes().to_vec(),
            cell_elems: nd::num_elements(&cell_shape),
            cell_strides: Strides::c_order(&cell_shape, es).0,
            cell_grid_strides,
            src_shape: p.src_meta.shape.clone(),
            journal,
            slots: Slots::new(p.plan.workers),
            fresh,
            total_bytes: crate::nd::checked_num_elements(&meta.shape).unwrap_or(0) * ed as u64,
            total_cells,
            done_bytes: AtomicU64::new(0),
            done_cells: AtomicU64::new(0),
            written: AtomicU64::new(0),
            empty: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            decodes: AtomicU64::new(0),
            error: Mutex::new(None),
            failed: AtomicBool::new(false),
            cancel,
            progress,
        };
        let mut resumed = 0;
        if !fresh && exec.journal.load(exec.store)? {
            resumed = exec.journal.done_count();
            exec.count_resumed();
        }
        exec.journal.save(exec.store)?;
        exec.report_progress();
        exec.coordinate();
        let err = exec.error.lock().take();
        if let Some(e) = err {
            // Keep what is finished resumable; the first error is the report.
            let _ = exec.journal.save(exec.store);
            drop(exec);
            let _ = dst.close();
            let _ = store.flush();
            return Err(e);
        }
        let complete = exec.journal.done_count() == total_cells;
        if complete {
            exec.journal.remove(exec.store)?;
        } else {
            exec.journal.save(exec.store)?;
        }
        let report = CopyReport {
            plan: p.plan.clone(),
            outcome: if complete {
                Outcome::Complete
            } else {
                Outcome::Cancelled
            },
            cells_written: exec.written.load(Ordering::Relaxed),
            cells_empty: exec.empty.load(Ordering::Relaxed),
            cells_resumed: resumed,
            bytes: exec.bytes.load(Ordering::Relaxed),
            stored_bytes: exec.stored.load(Ordering::Relaxed),
            source_decodes: exec.decodes.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
        };
        drop(exec);
        dst.close()?;
        store.flush()?;
        Ok(report)
    }

    fn stop(&self) -> bool {
        self.failed.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }

    fn fail(&self, e: Error) {
        let mut slot = self.error.lock();
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Destination cell index `cell`: its origin, its extent inside the
    /// array, and its linear index.
    fn cell_geometry(&self, cell: &[u64]) -> (Vec<u64>, Vec<usize>, u64) {
        let m = &self.p.dst_meta;
        let origin: Vec<u64> = cell
            .iter()
            .zip(&m.chunk_shape)
            .map(|(&c, &w)| c * w)
            .collect();
        let count: Vec<usize> = origin
            .iter()
            .zip(&m.chunk_shape)
            .zip(&m.shape)
            .map(|((&o, &w), &n)| w.min(n - o) as usize)
            .collect();
        let lin = cell
            .iter()
            .zip(&self.cell_grid_strides)
            .map(|(&c, &s)| c * s)
            .sum();
        (origin, count, lin)
    }

    fn cell_bytes(&self, count: &[usize]) -> u64 {
        nd::num_elements(count) as u64 * self.ed as u64
    }

    fn count_resumed(&self) {
        let grid = &self.p.plan.cell_grid;
        let mut bytes = 0;
        for_each_index(grid, |cell| {
            let (_, count, lin) = self.cell_geometry(cell);
            if self.journal.is_done(lin) {
                bytes += self.cell_bytes(&count);
            }
        });
        self.done_bytes.store(bytes, Ordering::Relaxed);
        self.done_cells
            .store(self.journal.done_count(), Ordering::Relaxed);
    }

    fn report_progress(&self) {
        (self.progress)(&CopyProgress {
            done_bytes: self.done_bytes.load(Ordering::Relaxed),
            total_bytes: self.total_bytes,
            done_cells: self.done_cells.load(Ordering::Relaxed),
            total_cells: self.total_cells,
        });
    }

    /// Walks the batches, admitting each through the gate and spawning it.
    fn coordinate(&self) {
        let plan = &self.p.plan;
        if plan.num_batches == 0 {
            return;
        }
        let nd = plan.batch_grid.len();
        let gate = Gate::new(plan.in_flight as u64 * plan.box_bytes, plan.in_flight);
        let mut last_save = Instant::now();
        let mut tick = || {
            if last_save.elapsed() >= CHECKPOINT {
                if let Err(e) = self.journal.save(self.store) {
                    self.fail(e);
                }
                last_save = Instant::now();
            }
            !self.stop()
        };
        // Source axis order: the destination axis of source axis 0 outermost.
        let inv = nd::inverse_permutation(&self.p.perm);
        let order_grid: Vec<u64> = inv.iter().map(|&j| plan.batch_grid[j]).collect();
        let gate = &gate;
        pool::pool().in_place_scope(|s| {
            let mut stopped = false;
            for_each_index(&order_grid, |ord| {
                if stopped || !tick() {
                    stopped = true;
                    return;
                }
                let mut idx = vec![0u64; nd];
                for (k, &j) in inv.iter().enumerate() {
                    idx[j] = ord[k];
                }
                let Some((cells, bx)) = self.batch_work(&idx) else {
                    return;
                };
                let n = (nd::checked_num_elements(&bx.shape).unwrap_or(0) as usize) * self.es;
                let Some(buf) = gate.acquire(n, &mut tick) else {
                    stopped = true;
                    return;
                };
                s.spawn(move |_| {
                    let mut buf = buf;
                    if let Err(e) = self.run_batch(&cells, &bx, &mut buf[..n]) {
                        self.fail(e);
                    }
                    gate.release(buf);
                });
            });
        });
    }

    /// The unfinished cells of batch `idx` and the source box they need.
    fn batch_work(&self, idx: &[u64]) -> Option<(Cells, Region)> {
        let plan = &self.p.plan;
        let (lo, hi) = plan.batch_cells_range(idx);
        let nd = lo.len();
        let extent: Vec<u64> = lo.iter().zip(&hi).map(|(&l, &h)| h - l).collect();
        let mut cells = Vec::new();
        let (mut blo, mut bhi) = (hi.clone(), lo.clone());
        for_each_index(&extent, |rel| {
            let cell: Vec<u64> = rel.iter().zip(&lo).map(|(&r, &l)| r + l).collect();
            let (_, _, lin) = self.cell_geometry(&cell);
            if !self.journal.is_done(lin) {
                for j in 0..nd {
                    blo[j] = blo[j].min(cell[j]);
                    bhi[j] = bhi[j].max(cell[j] + 1);
                }
                cells.push((cell, lin));
            }
        });
        if cells.is_empty() {
            return None;
        }
        // The source box of the bounding box of those cells.
        let m = &self.p.dst_meta;
        let r = &self.p.region;
        let mut start = vec![0u64; nd];
        let mut shape = vec![0u64; nd];
        for j in 0..nd {
            let k = self.p.perm[j];
            let a = blo[j] * m.chunk_shape[j];
            let b = (bhi[j] * m.chunk_shape[j]).min(m.shape[j]);
            start[k] = r.start[k] + a;
            shape[k] = b - a;
        }
        Some((cells, Region::new(start, shape)))
    }

    /// Reads the box, then produces the cells.
    fn run_batch(&self, cells: &[(Vec<u64>, u64)], bx: &Region, buf: &mut [u8]) -> Result<()> {
        let es = self.es;
        let box_shape: Vec<usize> = bx.shape.iter().map(|&n| n as usize).collect();
        let box_strides = Strides::c_order(&box_shape, es);
        let parts = cell_parts(bx, &self.p.read_unit, &self.src_shape);
        let skipped = AtomicBool::new(false);
        {
            let out = DisjointOut::new(buf);
            let read_one = |part: &CellPart| -> Result<()> {
                if self.stop() {
                    skipped.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                self.read_part(bx, part, &out, &box_shape, &box_strides)
            };
            if parts.len() == 1 {
                read_one(&parts[0])?;
            } else {
                parts.par_iter().try_for_each(read_one)?;
            }
        }
        if skipped.load(Ordering::Relaxed) {
            return Ok(());
        }
        let data: &[u8] = buf;
        let make_one = |(cell, lin): &(Vec<u64>, u64)| -> Result<()> {
            if self.stop() {
                return Ok(());
            }
            self.make_cell(cell, *lin, data, bx, &box_strides)
        };
        if cells.len() == 1 {
            make_one(&cells[0])
        } else {
            cells.par_iter().try_for_each(make_one)
        }
    }

    /// Reads one source shard or chunk's part of the box into the box.
    fn read_part(
        &self,
        bx: &Region,
        part: &CellPart,
        out: &DisjointOut<'_>,
        box_shape: &[usize],
        box_strides: &Strides,
    ) -> Result<()> {
        let mut slot = self.slots.acquire();
        let _seq = pool::Sequential::enter();
        let es = self.es;
        let start: Vec<u64> = bx
            .start
            .iter()
            .zip(&part.in_region)
            .map(|(&s, &o)| s + o as u64)
            .collect();
        let count: Vec<u64> = part.count.iter().map(|&c| c as u64).collect();
        // Decode units (inner chunks) this part touches.
        let chunk = self.p.src_meta.read_chunk_shape();
        let decodes: u64 = start
            .iter()
            .zip(&count)
            .zip(&chunk)
            .map(|((&s, &n), &c)| (s + n - 1) / c - s / c + 1)
            .product();
        self.decodes.fetch_add(decodes, Ordering::Relaxed);
        let region = Region::new(start, count);
        let n = nd::num_elements(&part.count) * es;
        let off = box_strides.offset(&part.in_region) as usize;
        if contiguous(&part.count, box_shape) {
            // SAFETY: the parts of a box are disjoint blocks of it (the read
            // grid partitions the box), so no other task touches these bytes;
            // the run is contiguous and inside the buffer (checked).
            let dst = unsafe { out.slice_mut(off, n) };
            return self.src.read_region(&region, dst);
        }
        let scratch = sized(&mut slot.a, n);
        self.src.read_region(&region, scratch)?;
        // SAFETY: as above, this task alone writes this block of the box.
        unsafe {
            out.write_block(
                scratch,
                0,
                &Strides::c_order(&part.count, es),
                off,
                box_strides,
                &part.count,
                es,
            )
        };
        Ok(())
    }

    /// Cuts destination cell `cell` out of the box, converts, encodes and
    /// stores it.
    fn make_cell(
        &self,
        cell: &[u64],
        lin: u64,
        data: &[u8],
        bx: &Region,
        box_strides: &Strides,
    ) -> Result<()> {
        let mut slot = self.slots.acquire();
        let _seq = pool::Sequential::enter();
        let m = &self.p.dst_meta;
        let (origin, count, _) = self.cell_geometry(cell);
        let edge = count
            .iter()
            .zip(&m.chunk_shape)
            .any(|(&c, &w)| c as u64 != w);
        let LeafBufs { a, b } = &mut *slot;
        let cellbuf = sized(a, self.cell_elems * self.es);
        if edge {
            nd::fill_with(cellbuf, &self.src_fill);
        }
        let mut off = 0isize;
        let mut strides = Vec::with_capacity(count.len());
        for (j, &o) in origin.iter().enumerate() {
            let k = self.p.perm[j];
            let rel = self.p.region.start[k] + o - bx.start[k];
            off += rel as isize * box_strides.0[k];
            strides.push(box_strides.0[k]);
        }
        copy_permuted(
            data,
            off as usize,
            &strides,
            cellbuf,
            0,
            &self.cell_strides,
            &count,
            self.es,
        );
        let out: &[u8] = if self.cast {
            let conv = sized(b, self.cell_elems * self.ed);
            cast(cellbuf, self.p.src_meta.data_type, conv, m.data_type);
            conv
        } else {
            cellbuf
        };
        let key = join_key(&self.dst_path, &m.chunk_key_encoding.encode(cell));
        // Through the engine's write path: the cell's lock, the buffered
        // state of the destination's write handles, the cache.
        if nd::all_equal(out, self.spec.fill.as_bytes()) {
            if !self.fresh {
                self.dst.store_whole_cell(cell, None)?;
            }
            self.empty.fetch_add(1, Ordering::Relaxed);
        } else {
            let enc = m
                .codecs
                .encode(out, &self.spec)
                .map_err(|e| Error::chunk(&key, e))?;
            self.dst.store_whole_cell(cell, Some(&enc))?;
            self.stored.fetch_add(enc.len() as u64, Ordering::Relaxed);
        }
        drop(slot);
        self.journal.mark_done(lin);
        let nbytes = self.cell_bytes(&count);
        self.written.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(nbytes, Ordering::Relaxed);
        self.done_bytes.fetch_add(nbytes, Ordering::Relaxed);
        self.done_cells.fetch_add(1, Ordering::Relaxed);
        self.report_progress();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguity() {
        assert!(contiguous(&[1, 4, 8], &[3, 4, 8]));
        assert!(contiguous(&[2, 4, 8], &[3, 4, 8]));
        assert!(!contiguous(&[2, 2, 8], &[3, 4, 8]));
        assert!(contiguous(&[1, 1, 5], &[3, 4, 8]));
        assert!(contiguous(&[], &[]));
    }

    #[test]
    fn gate_reuses_and_bounds() {
        let g = Gate::new(100, 2);
        let a = g.acquire(60, || true).unwrap();
        let mut ticks = 0;
        // 60 + 50 > 100: waits, and gives up when told to.
        assert!(g
            .acquire(50, || {
                ticks += 1;
                false
            })
            .is_none());
        assert_eq!(ticks, 1);
        g.release(a);
        let b = g.acquire(40, || true).unwrap();
        assert_eq!(b.len(), 60, "the idle buffer is reused");
        g.release(b);
        let c = g.acquire(90, || true).unwrap();
        assert_eq!(c.len(), 90, "the idle buffer is dropped to make room");
        assert_eq!(g.state.lock().used, 90);
    }

    #[test]
    fn grid_walk() {
        let mut v = vec![];
        for_each_index(&[2, 3], |i| v.push(i.to_vec()));
        assert_eq!(v.len(), 6);
        assert_eq!(v[5], vec![1, 2]);
        let mut n = 0;
        for_each_index(&[], |_| n += 1);
        assert_eq!(n, 1);
        for_each_index(&[3, 0], |_| n += 1);
        assert_eq!(n, 1);
    }
}

//! The write path.
//!
//! * A part that covers a whole grid cell is assembled, encoded (in
//!   parallel, no lock held) and stored; then, under the cell's lock, any
//!   buffered partial state of that cell is dropped and the value replaced.
//! * A partial part takes the cell's lock, loads the cell once (from the
//!   write buffer, or decoded from the store, or the fill value) and patches
//!   it in the write buffer. Several partial writes to one cell coalesce into
//!   one encode when the buffer is flushed (on `flush`, `close`, drop, or
//!   when it exceeds its byte budget).
//! * A cell that ends up entirely fill value is deleted instead of stored.
//! * An error while loading or encoding leaves the stored value untouched.
//!
//! # Several processes
//! A buffered cell remembers which elements this process wrote and the
//! [`Generation`] of the stored value it was loaded from. Unless every
//! element of the cell was written, its flush stores it with
//! [`Store::set_if`](crate::store::Store::set_if) against that generation;
//! when another process replaced the value meanwhile, the flush re-reads
//! it, copies this process's elements over it and tries again, so both
//! processes' writes end up in it. Whole-cell writes need no condition:
//! they replace whatever is stored. On stores that cannot make writes
//! conditional ([`Concurrency::Unprotected`]) partial writes are refused
//! ([`Error::Unprotected`]) unless the store was opened as the single
//! writer.

use std::borrow::Cow;

use rayon::prelude::*;

use super::read::with_scratch;
use super::region::{cell_parts, CellPart, Region};
use super::{Array, Layout};
use crate::codec::ChunkSpec;
use crate::dtype::{swap_bytes_in_place, Endian};
use crate::engine::CellState;
use crate::engine::{cache, pool};
use crate::error::{Error, RegionError, Result, StoreError};
use crate::metadata::{ArrayMetadata, Order};
use crate::nd::{self, Strides};
use crate::store::{Concurrency, Generation};

impl Array {
    /// Writes `data` (laid out as `layout`) into `region`.
    pub fn write_region_with(&self, region: &Region, data: &[u8], layout: Layout) -> Result<()> {
        self.check_write()?;
        let meta = self.metadata();
        let elem = meta.data_type.size();
        let need = region.check(&meta.shape, elem, &self.shared.path)?;
        if data.len() != need {
            return Err(RegionError::BufferLength {
                path: self.shared.path.clone(),
                expected: need as u64,
                got: data.len() as u64,
            }
            .into());
        }
        if region.is_empty() {
            return Ok(());
        }
        let rshape: Vec<usize> = region.shape.iter().map(|&n| n as usize).collect();
        // Bring the input to C order, native byte order.
        let mut data: Cow<[u8]> = Cow::Borrowed(data);
        if layout.order == Order::F && rshape.len() > 1 {
            let mut c = vec![0u8; data.len()];
            nd::copy_strided(
                &data,
                0,
                &Strides::f_order(&rshape, elem),
                &mut c,
                0,
                &Strides::c_order(&rshape, elem),
                &rshape,
                elem,
            );
            data = Cow::Owned(c);
        }
        if layout.endian != Endian::native() && meta.data_type.has_byte_order() {
            let mut v = data.into_owned();
            swap_bytes_in_place(&mut v, meta.data_type.swap_unit());
            data = Cow::Owned(v);
        }
        let strides = Strides::c_order(&rshape, elem);
        let parts = cell_parts(region, &meta.chunk_shape, &meta.shape);
        let one = |p: &CellPart| self.write_part(&meta, p, &data, &strides);
        if parts.len() == 1 && meta.codecs.sharding().is_none() && !parts[0].covers_cell {
            one(&parts[0])?;
        } else {
            pool::install(|| parts.par_iter().try_for_each(one))?;
        }
        if self.shared.dirty.over_budget() {
            // Write out the oldest half of the buffer.
            self.flush_dirty(self.shared.dirty.bytes() / 2)?;
        }
        Ok(())
    }

    fn write_part(
        &self,
        meta: &ArrayMetadata,
        p: &CellPart,
        data: &[u8],
        strides: &Strides,
    ) -> Result<()> {
        let key = self.shared.chunk_key(meta, &p.cell);
        let spec = meta.cell_spec();
        let elem = spec.dtype.size();
        let src_off = strides.offset(&p.in_region) as usize;
        let cell_strides = Strides::c_order(&spec.shape, elem);
        let dst_off = cell_strides.offset(&p.in_cell) as usize;
        if p.covers_cell {
            let encoded = with_scratch(spec.num_bytes(), |cell| -> Result<Option<Vec<u8>>> {
                if !p.whole_cell {
                    nd::fill_with(cell, spec.fill.as_bytes());
                }
                nd::copy_strided(
                    data,
                    src_off,
                    strides,
                    cell,
                    dst_off,
                    &cell_strides,
                    &p.count,
                    elem,
                );
                if nd::all_equal(cell, spec.fill.as_bytes()) {
                    Ok(None)
                } else {
                    meta.codecs
                        .encode(cell, &spec)
                        .map(Some)
                        .map_err(|e| Error::chunk(&key, e))
                }
            })?;
            let _lock = self.shared.locks.lock(&key);
            self.shared.dirty.remove(&key);
            self.store_cell(&key, encoded.as_deref())?;
            return Ok(());
        }
        self.check_partial_writes(&key)?;
        let _lock = self.shared.locks.lock(&key);
        let cell = match self.shared.dirty.get(&key) {
            Some(c) => c,
            None => {
                let (loaded, base) = self.load_cell(meta, &key, &spec)?;
                let n = nd::num_elements(&spec.shape);
                let inside = cell_elements_in_array(meta, &p.cell) as usize;
                self.shared
                    .dirty
                    .insert(key.clone(), loaded, n, inside, base)
            }
        };
        let mut st = cell.state.lock();
        nd::copy_strided(
            data,
            src_off,
            strides,
            &mut st.data,
            dst_off,
            &cell_strides,
            &p.count,
            elem,
        );
        mark_box(&mut st, &spec.shape, &p.in_cell, &p.count);
        let complete = st.complete();
        drop(st);
        // A cell filled piece by piece (streaming writes not aligned to
        // chunks: a file copied into the mount, an .npy after its header) is
        // written out as soon as it is complete, not at the next flush. A
        // failure here keeps the cell buffered; `flush` reports it.
        if complete {
            let _ = self.flush_cell_locked(meta, &spec, &key);
        }
        Ok(())
    }

    /// Stores the encoded value of a whole grid cell (`None`: the cell is
    /// all fill value, delete it) through the write path: under the cell's
    /// lock, replacing any buffered partial state of it. For writers that
    /// encode cells themselves (the out-of-core copy).
    pub(crate) fn store_whole_cell(&self, cell: &[u64], encoded: Option<&[u8]>) -> Result<()> {
        self.check_write()?;
        let meta = self.metadata();
        let key = self.shared.chunk_key(&meta, cell);
        let _lock = self.shared.locks.lock(&key);
        self.shared.dirty.remove(&key);
        self.store_cell(&key, encoded)
    }

    /// Refuses a partial-cell write where the store cannot keep it from
    /// losing another process's update.
    fn check_partial_writes(&self, key: &str) -> Result<()> {
        match self.shared.concurrency() {
            Concurrency::Unprotected { reason } => Err(Error::Unprotected {
                store: self.shared.store.describe(),
                key: key.to_string(),
                reason,
            }),
            Concurrency::Atomic | Concurrency::SingleWriter => Ok(()),
        }
    }

    /// Writes out the buffered cell `key`; the caller holds its lock. On
    /// failure the data stays buffered.
    fn flush_cell_locked(&self, meta: &ArrayMetadata, spec: &ChunkSpec, key: &str) -> Result<()> {
        let Some(cell) = self.shared.dirty.remove(key) else {
            return Ok(());
        };
        let mut st = std::mem::replace(
            &mut *cell.state.lock(),
            CellState {
                data: Vec::new(),
                mask: Default::default(),
                written: 0,
                inside: 0,
                base: Generation::Absent,
            },
        );
        let result = self.store_merged(meta, spec, key, &mut st);
        if result.is_err() {
            // Keep the data buffered so that nothing is lost.
            self.shared.dirty.insert_state(key.to_string(), st);
        }
        result
    }

    /// Stores a buffered cell. A cell whose every element (inside the
    /// array) was written replaces the stored value outright; otherwise the
    /// value is replaced only if it is still the one the cell was loaded
    /// from, and on a conflict the cell's written elements are merged into
    /// the value as it is now, and the write tried again.
    fn store_merged(
        &self,
        meta: &ArrayMetadata,
        spec: &ChunkSpec,
        key: &str,
        st: &mut CellState,
    ) -> Result<()> {
        let blind = st.complete() || matches!(self.shared.concurrency(), Concurrency::SingleWriter);
        let elem = spec.dtype.size();
        let mut pause = std::time::Duration::from_micros(200);
        for attempt in 0u32.. {
            let fill = nd::all_equal(&st.data, spec.fill.as_bytes());
            let encoded = if fill {
                None
            } else {
                Some(
                    meta.codecs
                        .encode(&st.data, spec)
                        .map_err(|e| Error::chunk(key, e))?,
                )
            };
            if blind {
                return self.store_cell(key, encoded.as_deref());
            }
            let store = &self.shared.store;
            let stored = match store.set_if(key, encoded.as_deref(), &st.base) {
                Err(StoreError::Unsupported { .. }) if encoded.is_none() => {
                    // The store cannot delete conditionally: store the
                    // all-fill cell instead, conditionally.
                    let e = meta
                        .codecs
                        .encode(&st.data, spec)
                        .map_err(|e| Error::chunk(key, e))?;
                    store.set_if(key, Some(&e), &st.base)?
                }
                r => r?,
            };
            if stored {
                cache::cache().invalidate(self.shared.id, key);
                if attempt > 0 {
                    crate::engine::stats::add_conflicts(attempt as u64);
                }
                return Ok(());
            }
            if attempt >= MAX_MERGE_ATTEMPTS {
                return Err(Error::Store(StoreError::Backend {
                    key: key.to_string(),
                    message: format!(
                        "gave up after {attempt} attempts to merge this process's writes into a value other processes kept replacing"
                    ),
                }));
            }
            // Another process replaced the value: merge into it.
            let (fresh, base) = self.load_cell(meta, key, spec)?;
            st.merge_into(fresh, elem, base);
            if attempt >= 2 {
                std::thread::sleep(pause + pause.mul_f64(jitter()));
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
        }
        unreachable!("the loop returns")
    }

    /// Sets bytes `first..first + bytes.len()` of element `elem` (C-order
    /// index; the bytes as laid out in byte order `endian`) under the cell's
    /// lock, so concurrent patches of one element never lose each other.
    pub(crate) fn patch_element(
        &self,
        elem: u64,
        first: usize,
        bytes: &[u8],
        endian: Endian,
    ) -> Result<()> {
        let meta = self.metadata();
        let spec = meta.cell_spec();
        let size = spec.dtype.size();
        let nd = meta.ndim();
        let (mut cell, mut in_cell, mut rest) = (vec![0u64; nd], vec![0usize; nd], elem);
        for d in (0..nd).rev() {
            let i = rest % meta.shape[d];
            rest /= meta.shape[d];
            cell[d] = i / meta.chunk_shape[d];
            in_cell[d] = (i % meta.chunk_shape[d]) as usize;
        }
        let key = self.shared.chunk_key(&meta, &cell);
        let off = Strides::c_order(&spec.shape, size).offset(&in_cell) as usize;
        self.check_partial_writes(&key)?;
        let _lock = self.shared.locks.lock(&key);
        let dirty = match self.shared.dirty.get(&key) {
            Some(c) => c,
            None => {
                let (loaded, base) = self.load_cell(&meta, &key, &spec)?;
                let n = nd::num_elements(&spec.shape);
                let inside = cell_elements_in_array(&meta, &cell) as usize;
                self.shared
                    .dirty
                    .insert(key.clone(), loaded, n, inside, base)
            }
        };
        let mut st = dirty.state.lock();
        // The element counts as written: a merge after another process's
        // replacement keeps this process's bytes of it, and takes the
        // element's other bytes from what this process loaded.
        st.mark(off / size, 1);
        let buf = &mut st.data;
        let swap = endian != Endian::native() && meta.data_type.has_byte_order();
        let unit = meta.data_type.swap_unit();
        for (k, &b) in bytes.iter().enumerate() {
            let pos = first + k;
            let native = if swap {
                pos / unit * unit + (unit - 1 - pos % unit)
            } else {
                pos
            };
            buf[off + native] = b;
        }
        Ok(())
    }

    /// The decoded content of a cell as stored (fill value if absent), with
    /// the generation of the stored value.
    fn load_cell(
        &self,
        meta: &ArrayMetadata,
        key: &str,
        spec: &ChunkSpec,
    ) -> Result<(Vec<u8>, Generation)> {
        let mut v = crate::util::try_zeroed(spec.num_bytes())
            .map_err(|e| Error::invalid(format!("chunk {key:?}: {e}")))?;
        let (stored, base) = self.shared.store.get_versioned(key)?;
        match stored {
            None => nd::fill_with(&mut v, spec.fill.as_bytes()),
            Some(bytes) => meta
                .codecs
                .decode_into(&bytes, spec, &mut v)
                .map_err(|e| Error::chunk(key, e))?,
        }
        Ok((v, base))
    }

    /// Stores an encoded cell (or deletes it when `None`: all fill value).
    fn store_cell(&self, key: &str, encoded: Option<&[u8]>) -> Result<()> {
        match encoded {
            Some(e) => self.shared.store.set(key, e)?,
            None => self.shared.store.delete(key)?,
        }
        cache::cache().invalidate(self.shared.id, key);
        Ok(())
    }

    /// Encodes and stores buffered cells, oldest first, until at most
    /// `keep_bytes` remain buffered.
    pub(crate) fn flush_dirty(&self, keep_bytes: usize) -> Result<()> {
        if self.shared.dirty.is_empty() {
            return Ok(());
        }
        let meta = self.metadata();
        let spec = meta.cell_spec();
        let keys = self.shared.dirty.keys_oldest_first();
        let total = self.shared.dirty.bytes();
        let cell_bytes = spec.num_bytes().max(1);
        let n = if keep_bytes == 0 {
            keys.len()
        } else {
            (total.saturating_sub(keep_bytes))
                .div_ceil(cell_bytes)
                .min(keys.len())
        };
        let one = |key: &String| -> Result<()> {
            let _lock = self.shared.locks.lock(key);
            self.flush_cell_locked(&meta, &spec, key)
        };
        let keys = &keys[..n];
        if keys.len() <= 1 {
            keys.iter().try_for_each(one)
        } else {
            pool::install(|| {
                // Try every cell, then report the first failure.
                let errors: Vec<Error> = keys.par_iter().filter_map(|k| one(k).err()).collect();
                errors.into_iter().next().map_or(Ok(()), Err)
            })
        }
    }
}

/// How often a flush re-reads and merges a cell that other processes keep
/// replacing before it reports the contention as an error.
const MAX_MERGE_ATTEMPTS: u32 = 1000;

/// A number in [0, 1) that differs between threads and calls.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    (h.finish() % 1024) as f64 / 1024.0
}

/// Marks the box `start..start + count` (in the cell's element indices,
/// C order over `shape`) written.
fn mark_box(st: &mut CellState, shape: &[usize], start: &[usize], count: &[usize]) {
    let nd = shape.len();
    if count.contains(&0) {
        return;
    }
    if nd == 0 {
        st.mark(0, 1);
        return;
    }
    let strides = nd::c_strides(shape);
    let outer: Vec<u64> = count[..nd - 1].iter().map(|&c| c as u64).collect();
    nd::for_each_index(&outer, |idx| {
        let first: usize = (0..nd - 1)
            .map(|d| (start[d] + idx[d] as usize) * strides[d])
            .sum::<usize>()
            + start[nd - 1];
        st.mark(first, count[nd - 1]);
    });
}

/// Elements of grid cell `cell` that lie inside the array.
fn cell_elements_in_array(meta: &ArrayMetadata, cell: &[u64]) -> u64 {
    meta.shape
        .iter()
        .zip(&meta.chunk_shape)
        .zip(cell)
        .map(|((&s, &c), &i)| c.min(s.saturating_sub(i * c)))
        .product()
}

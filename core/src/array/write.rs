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

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::read::with_scratch;
use super::region::{cell_parts, CellPart, Region};
use super::source::Source;
use super::{Array, Layout};
use crate::codec::ChunkSpec;
use crate::dtype::{swap_bytes_in_place, Endian};
use crate::engine::{cache, pool};
use crate::error::{Error, RegionError, Result};
use crate::metadata::{ArrayMetadata, Order};
use crate::nd::{self, Strides};

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
        let _lock = self.shared.locks.lock(&key);
        let cell = match self.shared.dirty.get(&key) {
            Some(c) => c,
            None => {
                let loaded = self.load_cell(meta, &key, &spec)?;
                self.shared.dirty.insert(key.clone(), loaded)
            }
        };
        let mut buf = cell.data.lock();
        nd::copy_strided(
            data,
            src_off,
            strides,
            &mut buf,
            dst_off,
            &cell_strides,
            &p.count,
            elem,
        );
        drop(buf);
        // A cell filled piece by piece (streaming writes not aligned to
        // chunks: a file copied into the mount, an .npy after its header) is
        // written out as soon as it is complete, not at the next flush. A
        // failure here keeps the cell buffered; `flush` reports it.
        let n: u64 = p.count.iter().map(|&c| c as u64).product();
        let written = cell.written.fetch_add(n, Ordering::Relaxed) + n;
        if written >= cell_elements_in_array(meta, &p.cell) {
            let _ = self.flush_cell_locked(meta, &spec, &key);
        }
        Ok(())
    }

    /// Writes out the buffered cell `key`; the caller holds its lock. On
    /// failure the data stays buffered.
    fn flush_cell_locked(&self, meta: &ArrayMetadata, spec: &ChunkSpec, key: &str) -> Result<()> {
        let Some(cell) = self.shared.dirty.remove(key) else {
            return Ok(());
        };
        let data = cell.data.lock();
        let result = if nd::all_equal(&data, spec.fill.as_bytes()) {
            self.store_cell(key, None)
        } else {
            match meta.codecs.encode(&data, spec) {
                Ok(e) => self.store_cell(key, Some(&e)),
                Err(e) => Err(Error::chunk(key, e)),
            }
        };
        if result.is_err() {
            // Keep the data buffered so that nothing is lost.
            drop(data);
            let v = std::mem::take(&mut *cell.data.lock());
            self.shared.dirty.insert(key.to_string(), v);
        }
        result
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
        let _lock = self.shared.locks.lock(&key);
        let dirty = match self.shared.dirty.get(&key) {
            Some(c) => c,
            None => {
                let loaded = self.load_cell(&meta, &key, &spec)?;
                self.shared.dirty.insert(key.clone(), loaded)
            }
        };
        let mut buf = dirty.data.lock();
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

    /// The decoded content of a cell as stored (fill value if absent).
    fn load_cell(&self, meta: &ArrayMetadata, key: &str, spec: &ChunkSpec) -> Result<Vec<u8>> {
        let mut v = vec![0u8; spec.num_bytes()];
        match Source::key(self.store_dyn(), key).get_all()? {
            None => nd::fill_with(&mut v, spec.fill.as_bytes()),
            Some(bytes) => meta
                .codecs
                .decode_into(&bytes, spec, &mut v)
                .map_err(|e| Error::chunk(key, e))?,
        }
        Ok(v)
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

/// Elements of grid cell `cell` that lie inside the array.
fn cell_elements_in_array(meta: &ArrayMetadata, cell: &[u64]) -> u64 {
    meta.shape
        .iter()
        .zip(&meta.chunk_shape)
        .zip(cell)
        .map(|((&s, &c), &i)| c.min(s.saturating_sub(i * c)))
        .product()
}

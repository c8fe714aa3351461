//! Linear byte ranges of the C-order array (what file-like users need: the
//! FUSE mount, `mmap`-style C callers): decomposed into a few hyper-rectangles.

use super::{Array, Layout, Region};
use crate::dtype::Endian;
use crate::error::{Error, Result};
use crate::metadata::Order;
use crate::nd;

/// Splits the C-order element range `[start, end)` of an array of `shape`
/// into regions, each contiguous in C order, in order.
pub fn linear_regions(shape: &[u64], start: u64, end: u64) -> Vec<Region> {
    let nd = shape.len();
    let mut out = Vec::new();
    if start >= end {
        return out;
    }
    if nd == 0 {
        out.push(Region::all(&[]));
        return out;
    }
    let mut strides = vec![1u64; nd];
    for d in (0..nd - 1).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let mut pos = start;
    while pos < end {
        let idx: Vec<u64> = (0..nd).map(|d| (pos / strides[d]) % shape[d]).collect();
        // The coarsest dimension whose trailing indices are all zero.
        let k0 = (0..nd)
            .find(|&d| idx[d + 1..].iter().all(|&i| i == 0))
            .unwrap_or(nd - 1);
        let mut done = false;
        for k in k0..nd {
            let count = (shape[k] - idx[k]).min((end - pos) / strides[k]);
            if count == 0 {
                continue;
            }
            let mut rstart = idx.clone();
            let mut rshape = vec![1u64; nd];
            rshape[k] = count;
            for d in k + 1..nd {
                rstart[d] = 0;
                rshape[d] = shape[d];
            }
            out.push(Region::new(rstart, rshape));
            pos += count * strides[k];
            done = true;
            break;
        }
        if !done {
            break;
        }
    }
    out
}

impl Array {
    /// Total bytes of the C-order array.
    fn linear_len(&self) -> u64 {
        self.num_bytes()
    }

    /// Reads bytes `[offset, offset + out.len())` of the array laid out in C
    /// order with elements in byte order `endian` (any offset and length
    /// within the array).
    pub fn read_bytes(&self, offset: u64, out: &mut [u8], endian: Endian) -> Result<()> {
        let total = self.linear_len();
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "array {:?}: bytes {offset}..{} are outside its {total} bytes",
                    self.shared.path,
                    offset.saturating_add(out.len() as u64)
                ))
            })?;
        if out.is_empty() {
            return Ok(());
        }
        let meta = self.metadata();
        let elem = meta.data_type.size() as u64;
        let e0 = offset / elem;
        let e1 = end.div_ceil(elem);
        let layout = Layout::c(endian);
        if offset % elem == 0 && end % elem == 0 {
            let mut pos = 0usize;
            for r in linear_regions(&meta.shape, e0, e1) {
                let n = (nd::checked_num_elements(&r.shape).unwrap_or(0) * elem) as usize;
                self.read_region_with(&r, &mut out[pos..pos + n], layout)?;
                pos += n;
            }
            return Ok(());
        }
        let mut tmp = vec![0u8; ((e1 - e0) * elem) as usize];
        self.read_bytes(e0 * elem, &mut tmp, endian)?;
        let skip = (offset - e0 * elem) as usize;
        out.copy_from_slice(&tmp[skip..skip + out.len()]);
        Ok(())
    }

    /// Writes bytes at `offset` of the C-order array (elements in byte order
    /// `endian`); partial elements at either end are merged with what is
    /// stored.
    pub fn write_bytes(&self, offset: u64, data: &[u8], endian: Endian) -> Result<()> {
        self.write_bytes_in(offset, data, Layout::c(endian))
    }

    /// Writes bytes at `offset` of the array laid out in `layout` (C or
    /// Fortran element order, either byte order): what a `.npy` file's data
    /// is. Partial elements at either end are patched under their chunk's
    /// lock (a read here and a write later would lose concurrent patches of
    /// the element's other bytes); whole elements go through
    /// [`write_region_with`](Array::write_region_with).
    pub fn write_bytes_in(&self, offset: u64, data: &[u8], layout: Layout) -> Result<()> {
        self.check_write()?;
        let total = self.linear_len();
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "array {:?}: bytes {offset}..{} are outside its {total} bytes",
                    self.shared.path,
                    offset.saturating_add(data.len() as u64)
                ))
            })?;
        if data.is_empty() {
            return Ok(());
        }
        let meta = self.metadata();
        let elem = meta.data_type.size() as u64;
        let e0 = offset / elem;
        let e1 = end.div_ceil(elem);
        if offset % elem == 0 && end % elem == 0 {
            let mut pos = 0usize;
            for r in linear_regions_in(&meta.shape, layout.order, e0, e1) {
                let n = (nd::checked_num_elements(&r.shape).unwrap_or(0) * elem) as usize;
                self.write_region_with(&r, &data[pos..pos + n], layout)?;
                pos += n;
            }
            return Ok(());
        }
        let c_index = |e: u64| c_index_of(&meta.shape, layout.order, e);
        let (mut pos, mut data) = (offset, data);
        let skip = (pos % elem) as usize;
        if skip != 0 {
            let n = (elem as usize - skip).min(data.len());
            self.patch_element(c_index(pos / elem), skip, &data[..n], layout.endian)?;
            pos += n as u64;
            data = &data[n..];
        }
        let whole = data.len() / elem as usize * elem as usize;
        if whole > 0 {
            self.write_bytes_in(pos, &data[..whole], layout)?;
            pos += whole as u64;
            data = &data[whole..];
        }
        if !data.is_empty() {
            self.patch_element(c_index(pos / elem), 0, data, layout.endian)?;
        }
        if self.shared.dirty.over_budget() {
            self.flush_dirty(self.shared.dirty.bytes() / 2)?;
        }
        Ok(())
    }
}

/// The element range `[e0, e1)` of an array laid out in `order`, as regions
/// each contiguous in that order, in order.
pub fn linear_regions_in(shape: &[u64], order: Order, e0: u64, e1: u64) -> Vec<Region> {
    if order == Order::C || shape.len() < 2 {
        return linear_regions(shape, e0, e1);
    }
    let rev: Vec<u64> = shape.iter().rev().copied().collect();
    linear_regions(&rev, e0, e1)
        .into_iter()
        .map(|r| {
            Region::new(
                r.start.into_iter().rev().collect(),
                r.shape.into_iter().rev().collect(),
            )
        })
        .collect()
}

/// The C-order index of the element at index `e` of the array laid out in
/// `order`.
fn c_index_of(shape: &[u64], order: Order, e: u64) -> u64 {
    if order == Order::C || shape.len() < 2 {
        return e;
    }
    let (mut rest, mut c, mut stride) = (e, 0u64, 1u64);
    let mut strides = vec![0u64; shape.len()];
    for d in (0..shape.len()).rev() {
        strides[d] = stride;
        stride *= shape[d];
    }
    for (d, &n) in shape.iter().enumerate() {
        c += (rest % n) * strides[d];
        rest /= n;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(shape: &[u64], a: u64, b: u64) {
        let regions = linear_regions(shape, a, b);
        let strides = crate::nd::c_strides(&shape.iter().map(|&s| s as usize).collect::<Vec<_>>());
        let mut pos = a;
        for r in &regions {
            // Each region starts where the previous ended and is C-contiguous.
            let first: u64 = r
                .start
                .iter()
                .zip(&strides)
                .map(|(&i, &s)| i * s as u64)
                .sum();
            assert_eq!(first, pos, "{shape:?} {a}..{b}: {regions:?}");
            pos += r.num_elements().unwrap();
        }
        assert_eq!(pos, b, "{shape:?} {a}..{b}");
        assert!(regions.len() <= 2 * shape.len() + 1);
    }

    #[test]
    fn decomposition() {
        let shape = [4u64, 5, 6];
        for a in 0..120 {
            for b in a + 1..=120 {
                covered(&shape, a, b);
            }
        }
        covered(&[7], 2, 5);
        assert_eq!(linear_regions(&[], 0, 1).len(), 1);
    }
}

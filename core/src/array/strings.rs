//! Variable-length arrays (`string`, `bytes`): regions read into and
//! written from Arrow's layout — `n + 1` offsets and one contiguous values
//! buffer, item `i` being `values[offsets[i]..offsets[i + 1]]`.
//!
//! ```no_run
//! use zarrcore::array::strings::VlenData;
//! use zarrcore::{open_store, Array, ArrayBuilder, DataType, Mode, Region, StoreOptions};
//! let store = open_store("data.zarr", StoreOptions::create())?;
//! let a = ArrayBuilder::new(vec![3], DataType::VlenString).create(&store, "names")?;
//! let items = VlenData::<u64>::from_items(["a", "", "héllo"])?;
//! a.write_vlen(&Region::all(&[3]), &items.offsets, &items.values)?;
//! a.close()?;
//! let r = Array::open(&store, "names", Mode::Read)?;
//! let d: VlenData<i64> = r.read_vlen(&Region::new(vec![1], vec![2]))?;
//! assert_eq!(d.get_str(1), Some("héllo"));
//! # Ok::<(), zarrcore::Error>(())
//! ```
//!
//! Chunks are decoded straight into that layout (no object per element):
//! each chunk's items are located in its decoded buffer once, then copied
//! into `values` in the region's C order. Writes encode whole chunks from
//! the caller's buffers; a chunk the region covers only in part is decoded,
//! merged and re-encoded under the chunk's lock. Like zarr-python, a chunk
//! whose items all equal the fill value is deleted rather than stored, and
//! the padding of edge chunks holds the fill value.
//!
//! The fixed-size region paths (`read_region`, `write_region`, byte ranges)
//! refuse these arrays with [`crate::error::RegionError::VariableLength`].

use rayon::prelude::*;

use super::region::{cell_parts, CellPart, Region};
use super::source::Source;
use super::Array;
use crate::codec::vlen::VlenItems;
use crate::codec::{ArrayToBytes, VlenCodec};
use crate::dtype::DataType;
use crate::engine::{cache, pool};
use crate::error::{Error, Result};
use crate::metadata::{ArrayMetadata, Order};
use crate::nd;

mod sealed {
    pub trait Sealed {}
}

/// An integer type usable for Arrow offsets (`i32`, `u32`, `i64`, `u64`).
pub trait VlenOffset: sealed::Sealed + Copy + Send + Sync + std::fmt::Debug + 'static {
    /// The offset `n`, if it fits.
    fn from_usize(n: usize) -> Option<Self>;
    /// The offset as `usize`, if it is a valid (non-negative) one.
    fn to_usize(self) -> Option<usize>;
}

macro_rules! vlen_offset {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl VlenOffset for $t {
            fn from_usize(n: usize) -> Option<Self> {
                <$t>::try_from(n).ok()
            }
            fn to_usize(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
        }
    )*};
}
vlen_offset!(i32, u32, i64, u64, usize);

fn offset_overflow<O: VlenOffset>(total: usize) -> Error {
    Error::invalid(format!(
        "{total} bytes of values do not fit {} offsets",
        std::any::type_name::<O>()
    ))
}

/// Variable-length items in Arrow's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlenData<O: VlenOffset = u64> {
    /// `len() + 1` offsets into `values`, non-decreasing.
    pub offsets: Vec<O>,
    /// The items' bytes, back to back.
    pub values: Vec<u8>,
}

impl<O: VlenOffset> Default for VlenData<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: VlenOffset> VlenData<O> {
    /// No items (offsets `[0]`).
    pub fn new() -> Self {
        VlenData {
            offsets: vec![
                O::from_usize(0).unwrap_or_else(|| unreachable!("0 fits every offset type"))
            ],
            values: Vec::new(),
        }
    }

    /// The items of `items`, copied into one buffer.
    pub fn from_items<T: AsRef<[u8]>>(items: impl IntoIterator<Item = T>) -> Result<Self> {
        let mut d = Self::new();
        for it in items {
            d.values.extend_from_slice(it.as_ref());
            let end = d.values.len();
            d.offsets
                .push(O::from_usize(end).ok_or_else(|| offset_overflow::<O>(end))?);
        }
        Ok(d)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i` (panics if `i >= len()` or the offsets are invalid).
    pub fn get(&self, i: usize) -> &[u8] {
        let a = self.offsets[i].to_usize().unwrap_or(usize::MAX);
        let b = self.offsets[i + 1].to_usize().unwrap_or(usize::MAX);
        &self.values[a..b]
    }

    /// Item `i` as text, if it is valid UTF-8 (always, for `string` arrays).
    pub fn get_str(&self, i: usize) -> Option<&str> {
        std::str::from_utf8(self.get(i)).ok()
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The largest item length in Unicode code points (bytes for non-UTF-8
    /// items): the width NumPy's `<U` needs.
    pub fn max_chars(&self) -> usize {
        self.iter()
            .map(|b| match std::str::from_utf8(b) {
                Ok(s) => s.chars().count(),
                Err(_) => b.len(),
            })
            .max()
            .unwrap_or(0)
    }
}

/// Strides, in elements, of a chunk's items in stored order (v2 `order`).
fn storage_strides(shape: &[usize], order: Order) -> Vec<usize> {
    match order {
        Order::C => nd::c_strides(shape),
        Order::F => {
            let mut s = vec![0; shape.len()];
            let mut acc = 1usize;
            for (d, &n) in shape.iter().enumerate() {
                s[d] = acc;
                acc = acc.saturating_mul(n);
            }
            s
        }
    }
}

/// Calls `f(index in region (C order), index in the chunk's storage order)`
/// for every element of part `p`.
fn for_each_element(
    p: &CellPart,
    region_strides: &[usize],
    chunk_strides: &[usize],
    mut f: impl FnMut(usize, usize),
) {
    let count: Vec<u64> = p.count.iter().map(|&c| c as u64).collect();
    nd::for_each_index(&count, |k| {
        let (mut out, mut src) = (0usize, 0usize);
        for d in 0..k.len() {
            let k = k[d] as usize;
            out += (p.in_region[d] + k) * region_strides[d];
            src += (p.in_cell[d] + k) * chunk_strides[d];
        }
        f(out, src)
    });
}

/// What a region read needs: the parts, their decoded chunks (`None`: not
/// stored, all fill value) and the source of every output element.
struct Gathered {
    chunks: Vec<Option<VlenItems>>,
    /// Per output element: (part, index in the chunk's storage order).
    map: Vec<(usize, usize)>,
}

impl Array {
    /// The vlen codec of this array, or an error naming its type.
    fn vlen_codec(&self, meta: &ArrayMetadata) -> Result<VlenCodec> {
        match &meta.codecs.array_to_bytes {
            ArrayToBytes::Vlen(v) => Ok(*v),
            _ => Err(Error::invalid(format!(
                "array {:?} has data type {}; the variable-length API serves string and bytes arrays (use read_region / write_region)",
                self.shared.path, meta.data_type
            ))),
        }
    }

    /// Checks `region` against the array and returns its number of elements.
    fn vlen_region_len(&self, meta: &ArrayMetadata, region: &Region) -> Result<usize> {
        // Item size 1: bounds, rank and overflow as for a byte array.
        Ok(region.check(&meta.shape, 1, &self.shared.path)?)
    }

    /// Fetches and decodes the chunk at grid index `cell` (`None` if absent).
    fn load_vlen_chunk(
        &self,
        meta: &ArrayMetadata,
        codec: VlenCodec,
        cell: &[u64],
    ) -> Result<(String, Option<VlenItems>)> {
        let key = self.shared.chunk_key(meta, cell);
        let n = meta.chunk_shape.iter().product::<u64>() as usize;
        let got = Source::key(self.store_dyn(), &key).get_all()?;
        let items = match got {
            None => None,
            Some(bytes) => Some(
                codec
                    .decode(&meta.codecs, bytes, n)
                    .map_err(|e| Error::chunk(&key, e))?,
            ),
        };
        Ok((key, items))
    }

    fn gather(&self, meta: &ArrayMetadata, region: &Region) -> Result<Gathered> {
        let codec = self.vlen_codec(meta)?;
        let n = self.vlen_region_len(meta, region)?;
        let parts = cell_parts(region, &meta.chunk_shape, &meta.shape);
        let load = |p: &CellPart| self.load_vlen_chunk(meta, codec, &p.cell).map(|(_, c)| c);
        let chunks: Vec<Option<VlenItems>> = if parts.len() > 1 {
            pool::install(|| parts.par_iter().map(load).collect::<Result<_>>())?
        } else {
            parts.iter().map(load).collect::<Result<_>>()?
        };
        let rshape: Vec<usize> = region.shape.iter().map(|&s| s as usize).collect();
        let cshape: Vec<usize> = meta.chunk_shape.iter().map(|&s| s as usize).collect();
        let rs = nd::c_strides(&rshape);
        let cs = storage_strides(&cshape, meta.order);
        let mut map = Vec::new();
        map.try_reserve_exact(n)
            .map_err(|_| Error::invalid(format!("cannot allocate the index of {n} elements")))?;
        map.resize(n, (0, 0));
        for (pi, p) in parts.iter().enumerate() {
            for_each_element(p, &rs, &cs, |out, src| map[out] = (pi, src));
        }
        Ok(Gathered { chunks, map })
    }

    /// Total bytes of the items of `region` (what [`Array::read_vlen`] puts
    /// in `values`). Decodes the chunks involved.
    pub fn vlen_region_bytes(&self, region: &Region) -> Result<u64> {
        let meta = self.metadata();
        let g = self.gather(&meta, region)?;
        let fill = meta.fill_value.as_bytes();
        Ok(g.map
            .iter()
            .map(|&(pi, src)| match &g.chunks[pi] {
                Some(c) => c.get(src).len() as u64,
                None => fill.len() as u64,
            })
            .sum())
    }

    /// Reads the items of `region` (C order) in Arrow's layout.
    pub fn read_vlen<O: VlenOffset>(&self, region: &Region) -> Result<VlenData<O>> {
        let mut d = VlenData::new();
        self.read_vlen_into(region, &mut d.offsets, &mut d.values)?;
        Ok(d)
    }

    /// Appends the items of `region` (C order) to Arrow buffers: `values`
    /// grows by their bytes and `offsets` by one end offset per item (a
    /// leading 0 is pushed first if `offsets` is empty; otherwise its last
    /// entry must be `values.len()`).
    pub fn read_vlen_into<O: VlenOffset>(
        &self,
        region: &Region,
        offsets: &mut Vec<O>,
        values: &mut Vec<u8>,
    ) -> Result<()> {
        let meta = self.metadata();
        match offsets.last() {
            None => offsets.push(
                O::from_usize(values.len()).ok_or_else(|| offset_overflow::<O>(values.len()))?,
            ),
            Some(&o) if o.to_usize() == Some(values.len()) => {}
            Some(o) => {
                return Err(Error::invalid(format!(
                    "the last offset ({o:?}) is not the length of the values ({})",
                    values.len()
                )))
            }
        }
        let g = self.gather(&meta, region)?;
        let fill = meta.fill_value.as_bytes();
        let item = |&(pi, src): &(usize, usize)| -> &[u8] {
            match &g.chunks[pi] {
                Some(c) => c.get(src),
                None => fill,
            }
        };
        let total: usize = g.map.iter().map(|e| item(e).len()).sum();
        let end = values
            .len()
            .checked_add(total)
            .filter(|&e| O::from_usize(e).is_some());
        let Some(end) = end else {
            return Err(offset_overflow::<O>(values.len().saturating_add(total)));
        };
        values.try_reserve(total).map_err(|_| {
            Error::invalid(format!("cannot allocate {total} bytes for region {region}"))
        })?;
        offsets.try_reserve(g.map.len()).map_err(|_| {
            Error::invalid(format!("cannot allocate the offsets of region {region}"))
        })?;
        for e in &g.map {
            values.extend_from_slice(item(e));
            // Cannot fail: every offset is at most `end`, which fits.
            offsets.push(O::from_usize(values.len()).ok_or_else(|| offset_overflow::<O>(end))?);
        }
        Ok(())
    }

    /// Reads the items of a `string` region as Rust strings (one allocation
    /// per item; [`Array::read_vlen`] avoids that).
    pub fn read_strings(&self, region: &Region) -> Result<Vec<String>> {
        let d: VlenData<usize> = self.read_vlen(region)?;
        d.iter()
            .enumerate()
            .map(|(i, b)| {
                String::from_utf8(b.to_vec()).map_err(|_| {
                    Error::invalid(format!("item {i} of region {region} is not UTF-8 text"))
                })
            })
            .collect()
    }

    /// Writes the items of `region` (C order) from Arrow buffers: item `i`
    /// is `values[offsets[i]..offsets[i + 1]]` (`offsets` has one entry
    /// more than the region has elements). `string` arrays need valid
    /// UTF-8 items.
    pub fn write_vlen<O: VlenOffset>(
        &self,
        region: &Region,
        offsets: &[O],
        values: &[u8],
    ) -> Result<()> {
        self.check_write()?;
        let meta = self.metadata();
        let codec = self.vlen_codec(&meta)?;
        let n = self.vlen_region_len(&meta, region)?;
        if offsets.len() != n + 1 {
            return Err(Error::invalid(format!(
                "array {:?}: region {region} has {n} elements, so it needs {} offsets, got {}",
                self.shared.path,
                n + 1,
                offsets.len()
            )));
        }
        let mut ends = Vec::new();
        ends.try_reserve_exact(n + 1)
            .map_err(|_| Error::invalid(format!("cannot allocate the offsets of {n} items")))?;
        for (i, o) in offsets.iter().enumerate() {
            let v = o
                .to_usize()
                .filter(|&v| v <= values.len() && ends.last().is_none_or(|&p| p <= v))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "offset {i} ({o:?}) is negative, decreasing or past the {} bytes of values",
                        values.len()
                    ))
                })?;
            ends.push(v);
        }
        let item = |i: usize| &values[ends[i]..ends[i + 1]];
        if meta.data_type == DataType::VlenString {
            for i in 0..n {
                if std::str::from_utf8(item(i)).is_err() {
                    return Err(Error::invalid(format!(
                        "array {:?}: item {i} of region {region} is not valid UTF-8",
                        self.shared.path
                    )));
                }
            }
        }
        if n == 0 {
            return Ok(());
        }
        let parts = cell_parts(region, &meta.chunk_shape, &meta.shape);
        let rshape: Vec<usize> = region.shape.iter().map(|&s| s as usize).collect();
        let rs = nd::c_strides(&rshape);
        let one = |p: &CellPart| self.write_vlen_part(&meta, codec, p, &rs, &item);
        if parts.len() > 1 {
            pool::install(|| parts.par_iter().try_for_each(one))
        } else {
            parts.iter().try_for_each(one)
        }
    }

    /// Convenience: writes `items` (C order) into a `string` or `bytes` region.
    pub fn write_strings<T: AsRef<[u8]>>(&self, region: &Region, items: &[T]) -> Result<()> {
        let d = VlenData::<usize>::from_items(items)?;
        self.write_vlen(region, &d.offsets, &d.values)
    }

    /// Writes one part: the whole chunk from the input when the part covers
    /// all of it that lies in the array, else merged with the stored chunk,
    /// under the chunk's lock either way.
    fn write_vlen_part<'v>(
        &self,
        meta: &ArrayMetadata,
        codec: VlenCodec,
        p: &CellPart,
        region_strides: &[usize],
        item: &(impl Fn(usize) -> &'v [u8] + Sync),
    ) -> Result<()> {
        let cshape: Vec<usize> = meta.chunk_shape.iter().map(|&s| s as usize).collect();
        let cs = storage_strides(&cshape, meta.order);
        let n_chunk = nd::num_elements(&cshape);
        // Input element for each stored item (usize::MAX: not written here).
        let mut from = Vec::new();
        from.try_reserve_exact(n_chunk)
            .map_err(|_| Error::invalid(format!("cannot allocate a {n_chunk}-item chunk index")))?;
        from.resize(n_chunk, usize::MAX);
        for_each_element(p, region_strides, &cs, |out, src| from[src] = out);
        let key = self.shared.chunk_key(meta, &p.cell);
        let fill = meta.fill_value.as_bytes();
        let _lock = self.shared.locks.lock(&key);
        let old = if p.covers_cell {
            None
        } else {
            self.load_vlen_chunk(meta, codec, &p.cell)?.1
        };
        let get = |s: usize| -> &[u8] {
            match (from[s], &old) {
                (usize::MAX, Some(o)) => o.get(s),
                (usize::MAX, None) => fill,
                (i, _) => item(i),
            }
        };
        let all_fill = (0..n_chunk).all(|s| get(s) == fill);
        let store = &self.shared.store;
        if all_fill {
            store.delete(&key)?;
        } else {
            let encoded = codec
                .encode(&meta.codecs, n_chunk, get)
                .map_err(|e| Error::chunk(&key, e))?;
            store.set(&key, &encoded)?;
        }
        cache::cache().invalidate(self.shared.id, &key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_by_order() {
        assert_eq!(storage_strides(&[2, 3], Order::C), vec![3, 1]);
        assert_eq!(storage_strides(&[2, 3], Order::F), vec![1, 2]);
    }

    #[test]
    fn vlen_data() {
        let d = VlenData::<i32>::from_items(["a", "", "日本"]).unwrap();
        assert_eq!(d.offsets, vec![0, 1, 1, 7]);
        assert_eq!(d.get_str(2), Some("日本"));
        assert_eq!(d.max_chars(), 2);
        assert_eq!(VlenData::<u64>::new().len(), 0);
    }
}

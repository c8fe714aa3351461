//! The read path: split a region over the chunk grid, fetch and decode the
//! chunks in parallel, and place each part straight into the caller's buffer.
//!
//! * A chunk fully covered by the request whose block in the output is
//!   contiguous is decoded straight into the output (no copy).
//! * Other fully covered chunks are decoded into a per-thread scratch buffer
//!   and copied; they bypass the cache (a whole-array read would only churn
//!   it).
//! * Partly covered chunks go through the decoded-chunk cache.
//! * Sharded arrays read the shard index with one byte-range request and then
//!   only the inner chunks the region needs (the whole shard in one request
//!   when all of it is wanted). Nested shards recurse.

use std::cell::RefCell;

use rayon::prelude::*;

use super::region::{cell_parts, Region};
use super::source::Source;
use super::{Array, Layout};
use crate::codec::sharding::ShardIndex;
use crate::codec::{ArrayToBytes, ChunkSpec, CodecChain, IndexLocation, ShardingCodec};
use crate::dtype::{swap_bytes_in_place, Endian};
use crate::engine::{cache, pool, Mode};
use crate::error::{Error, Result};
use crate::metadata::Order;
use crate::nd::{self, DisjointOut, Strides};
use crate::store::{ByteRange, Store};

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a per-thread scratch buffer of `n` bytes (contents
/// unspecified).
pub(crate) fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [u8]) -> Result<R>) -> Result<R> {
    let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if buf.len() < n {
        buf.try_reserve_exact(n - buf.len())
            .map_err(|_| Error::invalid(format!("cannot allocate a {n}-byte chunk buffer")))?;
        buf.resize(n, 0);
    }
    let r = f(&mut buf[..n]);
    SCRATCH.with(|s| {
        let mut slot = s.borrow_mut();
        if slot.capacity() < buf.capacity() && buf.capacity() <= 64 << 20 {
            *slot = buf;
        }
    });
    r
}

/// Whether a block of `count` elements with `strides` occupies one
/// contiguous run of bytes.
fn is_contiguous(strides: &Strides, count: &[usize], elem: usize) -> bool {
    let mut expected = elem as isize;
    for d in (0..count.len()).rev() {
        if count[d] == 1 {
            continue;
        }
        if strides.0[d] != expected {
            return false;
        }
        expected *= count[d] as isize;
    }
    true
}

/// The sharding codec if the chain is exactly one (no other codecs).
pub(super) fn pure_sharding(chain: &CodecChain) -> Option<&ShardingCodec> {
    match &chain.array_to_bytes {
        ArrayToBytes::Sharding(s)
            if chain.array_to_array.is_empty() && chain.bytes_to_bytes.is_empty() =>
        {
            Some(s)
        }
        _ => None,
    }
}

/// Where a part of the output goes.
struct Target<'o, 'b> {
    out: &'o DisjointOut<'b>,
    strides: &'o Strides,
}

impl Target<'_, '_> {
    fn fill(&self, off: usize, count: &[usize], fill: &[u8]) {
        // SAFETY: every chunk part of a request maps to a distinct block of
        // the output (the grid partitions the region), so no other task
        // writes these elements.
        unsafe { self.out.fill_block(fill, off, self.strides, count) }
    }

    fn copy_from(
        &self,
        src: &[u8],
        src_shape: &[usize],
        src_start: &[usize],
        off: usize,
        count: &[usize],
        elem: usize,
    ) {
        let ss = Strides::c_order(src_shape, elem);
        let so = ss.offset(src_start) as usize;
        // SAFETY: as in `fill`: disjoint output blocks per task.
        unsafe {
            self.out
                .write_block(src, so, &ss, off, self.strides, count, elem)
        }
    }
}

/// Reads parts of chunks of one array.
pub(crate) struct Reader<'a> {
    pub array: &'a Array,
}

impl Reader<'_> {
    /// Partial reads go through the cache in both modes: in write mode the
    /// write buffer is consulted first, and stores invalidate (or mark stale)
    /// the entries they replace, so a cached chunk is never older than the
    /// last completed store of its key.
    fn use_cache(&self) -> bool {
        cache::cache_budget() > 0
    }

    /// Reads `count` elements at `start` of the decoded chunk behind `src`
    /// (chain `chain`, spec `spec`) into the target at byte offset `off`.
    #[allow(clippy::too_many_arguments)]
    fn read_chunk(
        &self,
        chain: &CodecChain,
        spec: &ChunkSpec,
        src: &Source<'_>,
        key: &str,
        inner_path: &str,
        start: &[usize],
        count: &[usize],
        t: &Target<'_, '_>,
        off: usize,
    ) -> Result<()> {
        let elem = spec.dtype.size();
        if let Some(sh) = pure_sharding(chain) {
            return self.read_shard(sh, spec, src, key, inner_path, start, count, t, off);
        }
        let whole = start.iter().all(|&s| s == 0) && count == spec.shape.as_slice();
        if whole || chain.is_passthrough() || !self.use_cache() {
            let Some(bytes) = src.get_all()? else {
                t.fill(off, count, spec.fill.as_bytes());
                return Ok(());
            };
            if chain.is_passthrough() {
                if bytes.len() != spec.num_bytes() {
                    return Err(Error::chunk(
                        key,
                        crate::error::CodecError::new(
                            "bytes",
                            format!(
                                "stored chunk has {} bytes, the decoded chunk has {}",
                                bytes.len(),
                                spec.num_bytes()
                            ),
                        ),
                    ));
                }
                t.copy_from(&bytes, &spec.shape, start, off, count, elem);
                return Ok(());
            }
            if whole && is_contiguous(t.strides, count, elem) {
                // SAFETY: this task owns the output block (see Target::fill),
                // which is contiguous and exactly the chunk's size.
                let dst = unsafe { t.out.slice_mut(off, spec.num_bytes()) };
                return chain
                    .decode_into(&bytes, spec, dst)
                    .map_err(|e| Error::chunk(key, e));
            }
            return with_scratch(spec.num_bytes(), |buf| {
                chain
                    .decode_into(&bytes, spec, buf)
                    .map_err(|e| Error::chunk(key, e))?;
                t.copy_from(buf, &spec.shape, start, off, count, elem);
                Ok(())
            });
        }
        let version = match src {
            Source::Store { store, key, .. } => store.version(key)?,
            Source::Bytes(_) => None,
        };
        let entry = cache::cache().get_or_load(
            (
                self.array.shared.id,
                key.to_string(),
                inner_path.to_string(),
            ),
            spec.num_bytes(),
            version,
            |buf| match src.get_all()? {
                None => Ok(false),
                Some(bytes) => {
                    chain
                        .decode_into(&bytes, spec, buf)
                        .map_err(|e| Error::chunk(key, e))?;
                    Ok(true)
                }
            },
        )?;
        match entry.bytes() {
            None => t.fill(off, count, spec.fill.as_bytes()),
            Some(b) => t.copy_from(b, &spec.shape, start, off, count, elem),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn read_shard(
        &self,
        sh: &ShardingCodec,
        spec: &ChunkSpec,
        src: &Source<'_>,
        key: &str,
        inner_path: &str,
        start: &[usize],
        count: &[usize],
        t: &Target<'_, '_>,
        off: usize,
    ) -> Result<()> {
        let whole = start.iter().all(|&s| s == 0) && count == spec.shape.as_slice();
        let index_len = sh.index_len(&spec.shape) as u64;
        let index_range = match sh.index_location {
            IndexLocation::Start => ByteRange::Range {
                offset: 0,
                len: index_len,
            },
            IndexLocation::End => ByteRange::Suffix(index_len),
        };
        // The whole shard in one request when all of it is wanted.
        let fetched;
        let src: &Source<'_> = if whole {
            match src.get_all()? {
                None => {
                    t.fill(off, count, spec.fill.as_bytes());
                    return Ok(());
                }
                Some(b) => {
                    fetched = Source::Bytes(b);
                    &fetched
                }
            }
        } else {
            src
        };
        let index_len_err = |size: u64| {
            Error::chunk(
                key,
                crate::error::CodecError::new(
                    "sharding_indexed",
                    format!("shard of {size} bytes is shorter than its {index_len}-byte index"),
                ),
            )
        };
        let fetch_index = |raw: &mut [u8]| -> Result<bool> {
            let bytes = match src.get_range(index_range, key) {
                Ok(Some(b)) => b,
                Ok(None) => return Ok(false),
                Err(Error::Store(crate::error::StoreError::RangeOutOfBounds { size, .. })) => {
                    return Err(index_len_err(size))
                }
                Err(e) => return Err(e),
            };
            sh.decode_index_into(&bytes, &spec.shape, raw)
                .map_err(|e| Error::chunk(key, e))?;
            Ok(true)
        };
        let raw_len = sh.index_entries(&spec.shape) * 16;
        let index = match src {
            // A stored shard read in part: its decoded index is cached (and
            // checked against the shard's version like any cached chunk).
            Source::Store {
                store,
                key: k,
                offset: 0,
                len: None,
            } if self.use_cache() => {
                let version = store.version(k)?;
                let entry = cache::cache().get_or_load(
                    (
                        self.array.shared.id,
                        key.to_string(),
                        format!("{inner_path}#index"),
                    ),
                    raw_len,
                    version,
                    fetch_index,
                )?;
                match entry.bytes() {
                    None => {
                        t.fill(off, count, spec.fill.as_bytes());
                        return Ok(());
                    }
                    Some(raw) => ShardIndex::from_raw(raw),
                }
            }
            _ => {
                let mut raw = vec![0u8; raw_len];
                if !fetch_index(&mut raw)? {
                    t.fill(off, count, spec.fill.as_bytes());
                    return Ok(());
                }
                ShardIndex::from_raw(&raw)
            }
        };
        let inner_spec = sh.inner_spec(spec);
        let inner_shape: Vec<u64> = sh.chunk_shape.iter().map(|&c| c as u64).collect();
        let shard_shape: Vec<u64> = spec.shape.iter().map(|&c| c as u64).collect();
        let region = Region::new(
            start.iter().map(|&s| s as u64).collect(),
            count.iter().map(|&c| c as u64).collect(),
        );
        let parts = cell_parts(&region, &inner_shape, &shard_shape);
        let grid = sh.inner_grid(&spec.shape);
        let grid_strides = nd::c_strides(&grid);
        let one = |p: &super::region::CellPart| -> Result<()> {
            let i: usize = p
                .cell
                .iter()
                .zip(&grid_strides)
                .map(|(&c, &s)| c as usize * s)
                .sum();
            let poff = off + t.strides.offset(&p.in_region) as usize;
            match index.range(i) {
                None => {
                    t.fill(poff, &p.count, spec.fill.as_bytes());
                    Ok(())
                }
                Some((o, n)) => {
                    let sub = src.sub(o, n, key)?;
                    let path = if inner_path.is_empty() {
                        i.to_string()
                    } else {
                        format!("{inner_path}/{i}")
                    };
                    self.read_chunk(
                        &sh.codecs,
                        &inner_spec,
                        &sub,
                        key,
                        &path,
                        &p.in_cell,
                        &p.count,
                        t,
                        poff,
                    )
                    .map_err(|e| match e {
                        Error::Chunk { key, source } => Error::Chunk {
                            key,
                            source: crate::error::CodecError::new(
                                source.codec,
                                format!("inner chunk {path}: {}", source.reason),
                            ),
                        },
                        // The index points past the end of the stored shard.
                        Error::Store(crate::error::StoreError::RangeOutOfBounds {
                            size, ..
                        }) => Error::chunk(
                            key,
                            crate::error::CodecError::new(
                                "sharding_indexed",
                                format!(
                                    "inner chunk {path} (offset {o}, {n} bytes) lies outside the shard of {size} bytes"
                                ),
                            ),
                        ),
                        other => other,
                    })
                }
            }
        };
        if parts.len() > 1 && pool::may_parallelize() {
            parts.par_iter().try_for_each(one)
        } else {
            parts.iter().try_for_each(one)
        }
    }
}

impl Array {
    /// Reads `region` into `out` in `layout`.
    pub fn read_region_with(&self, region: &Region, out: &mut [u8], layout: Layout) -> Result<()> {
        let meta = self.metadata();
        let elem = meta.data_type.size();
        let need = region.check(&meta.shape, elem, &self.shared.path)?;
        if out.len() != need {
            return Err(crate::error::RegionError::BufferLength {
                path: self.shared.path.clone(),
                expected: need as u64,
                got: out.len() as u64,
            }
            .into());
        }
        if region.is_empty() {
            return Ok(());
        }
        let rshape: Vec<usize> = region.shape.iter().map(|&n| n as usize).collect();
        let strides = match layout.order {
            Order::C => Strides::c_order(&rshape, elem),
            Order::F => Strides::f_order(&rshape, elem),
        };
        let parts = cell_parts(region, &meta.chunk_shape, &meta.shape);
        let reader = Reader { array: self };
        let spec = meta.cell_spec();
        {
            let dst = DisjointOut::new(out);
            let t = Target {
                out: &dst,
                strides: &strides,
            };
            let one = |store: &dyn Store, p: &super::region::CellPart| -> Result<()> {
                let key = self.shared.chunk_key(&meta, &p.cell);
                let off = strides.offset(&p.in_region) as usize;
                // A write handle reads under the chunk's lock: buffered
                // chunks first (read-your-writes), and a stored shard is not
                // replaced by a concurrent flush between the read of its
                // index and the reads of its inner chunks.
                let _lock = (self.mode == Mode::Write).then(|| self.shared.locks.lock(&key));
                if _lock.is_some() {
                    if let Some(cell) = self.shared.dirty.get(&key) {
                        let data = &cell.state.lock().data;
                        t.copy_from(data, &spec.shape, &p.in_cell, off, &p.count, elem);
                        return Ok(());
                    }
                }
                let src = Source::key(store, &key);
                reader.read_chunk(
                    &meta.codecs,
                    &spec,
                    &src,
                    &key,
                    "",
                    &p.in_cell,
                    &p.count,
                    &t,
                    off,
                )
            };
            let sharded = meta.codecs.sharding().is_some();
            let store = self.store_dyn();
            if !store.is_local() && self.mode == Mode::Read {
                // Remote: fetch batches concurrently off the pool, decode in it.
                super::prefetch::read_batches(self, &meta, &parts, |s, batch| {
                    pool::install(|| batch.par_iter().try_for_each(|p| one(s, p)))
                })?;
            } else if parts.len() == 1 && !sharded {
                one(store, &parts[0])?;
            } else {
                pool::install(|| parts.par_iter().try_for_each(|p| one(store, p)))?;
            }
        }
        if layout.endian != Endian::native() && meta.data_type.has_byte_order() {
            let unit = meta.data_type.swap_unit();
            if out.len() >= 1 << 22 {
                let block = (1 << 20) / unit * unit;
                pool::install(|| {
                    out.par_chunks_mut(block)
                        .for_each(|c| swap_bytes_in_place(c, unit))
                });
            } else {
                swap_bytes_in_place(out, unit);
            }
        }
        Ok(())
    }

    pub(crate) fn store_dyn(&self) -> &dyn crate::store::Store {
        &*self.shared.store
    }
}

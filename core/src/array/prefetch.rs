//! Batched fetching for remote stores ([`Store::is_local`] false).
//!
//! Fetching a chunk inside a decode task would park one of the engine's
//! workers on every network round trip, and with one worker per core only a
//! handful of requests would ever be in flight. Instead, a read of a remote
//! array is split into batches of chunks (at most [`BATCH_BYTES`] decoded
//! bytes each); for each batch the calling thread asks the store for all of
//! the batch's encoded bytes at once with [`Store::get_many`] (the store
//! keeps many requests in flight on its own I/O threads), and the engine's
//! pool then decodes from memory through a [`Prefetched`] view. The next
//! batch is fetched while the current one is decoded.
//!
//! * Plain chunks: one whole-object GET each (skipped when a partial read
//!   would be served from the decoded-chunk cache anyway).
//! * Shards read in full: one GET each.
//! * Shards read in part: one range request for each index, then one range
//!   request for each needed inner chunk (the store merges nearby ranges).
//!
//! Anything not prefetched (or whose prefetch failed in a way the read path
//! reports better itself, like a shard shorter than its index) falls through
//! to the store as usual.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::read::pure_sharding;
use super::region::{cell_parts, CellPart, Region};
use super::Array;

use crate::codec::sharding::ShardIndex;
use crate::codec::IndexLocation;
use crate::engine::cache::{self, CachedChunk};
use crate::error::{Error, Result, StoreError};
use crate::metadata::ArrayMetadata;
use crate::nd;
use crate::store::{ByteRange, Bytes, GetRequest, ListDir, Store};

/// Decoded bytes per batch.
pub(crate) const BATCH_BYTES: usize = 128 << 20;
/// Chunks per batch at most.
const BATCH_PARTS: usize = 1024;

/// Fetched values of one batch in front of the real store.
#[derive(Debug)]
pub(crate) struct Prefetched<'s> {
    inner: &'s dyn Store,
    /// Whole values (`None`: the key is missing).
    whole: HashMap<String, Option<Bytes>>,
    /// Fetched byte ranges per key.
    ranges: HashMap<String, Vec<(ByteRange, Bytes)>>,
    /// Keys found missing by a range request.
    missing: HashSet<String>,
}

impl<'s> Prefetched<'s> {
    fn new(inner: &'s dyn Store) -> Self {
        Prefetched {
            inner,
            whole: HashMap::new(),
            ranges: HashMap::new(),
            missing: HashSet::new(),
        }
    }

    /// Fetches `reqs` with one `get_many` and remembers the answers. Errors
    /// that the read path words better (range outside the value, invalid
    /// key) are left for it to hit again; other errors fail the batch.
    fn load(&mut self, reqs: Vec<(String, Option<ByteRange>)>) -> Result<()> {
        if reqs.is_empty() {
            return Ok(());
        }
        let gets: Vec<GetRequest<'_>> = reqs
            .iter()
            .map(|(k, r)| GetRequest { key: k, range: *r })
            .collect();
        let results = self.inner.get_many(&gets);
        drop(gets);
        for ((key, range), result) in reqs.into_iter().zip(results) {
            match (range, result) {
                (None, Ok(v)) => {
                    self.whole.insert(key, v);
                }
                (Some(_), Ok(None)) => {
                    self.missing.insert(key);
                }
                (Some(r), Ok(Some(b))) => self.ranges.entry(key).or_default().push((r, b)),
                (_, Err(StoreError::RangeOutOfBounds { .. }))
                | (_, Err(StoreError::InvalidKey { .. })) => {}
                (_, Err(e)) => return Err(Error::Store(e)),
            }
        }
        Ok(())
    }

    /// A prefetched answer for a range of `key`, if there is one.
    fn lookup_range(
        &self,
        key: &str,
        range: ByteRange,
    ) -> Option<Result<Option<Bytes>, StoreError>> {
        if let Some(v) = self.whole.get(key) {
            return Some(match v {
                None => Ok(None),
                Some(b) => match range.resolve(b.len() as u64) {
                    Some((s, e)) => Ok(Some(b.slice(s as usize..e as usize))),
                    None => Err(StoreError::RangeOutOfBounds {
                        key: key.to_string(),
                        range: range.to_string(),
                        size: b.len() as u64,
                    }),
                },
            });
        }
        if self.missing.contains(key) {
            return Some(Ok(None));
        }
        for (r, b) in self.ranges.get(key)? {
            match (*r, range) {
                (ByteRange::Suffix(m), ByteRange::Suffix(n)) if m == n => {
                    return Some(Ok(Some(b.clone())))
                }
                (ByteRange::Range { offset: o, .. }, ByteRange::Range { offset, len }) => {
                    let end = offset.checked_add(len)?;
                    if offset >= o && end <= o + b.len() as u64 {
                        let s = (offset - o) as usize;
                        return Some(Ok(Some(b.slice(s..s + len as usize))));
                    }
                }
                _ => {}
            }
        }
        None
    }
}

impl Store for Prefetched<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }

    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.version(key)
    }

    fn is_writable(&self) -> bool {
        false
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.whole.get(key) {
            Some(v) => Ok(v.clone()),
            None if self.missing.contains(key) => Ok(None),
            None => self.inner.get(key),
        }
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        match self.lookup_range(key, range) {
            Some(r) => r,
            None => self.inner.get_range(key, range),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.whole.get(key) {
            Some(v) => Ok(v.as_ref().map(|b| b.len() as u64)),
            None => self.inner.size(key),
        }
    }

    fn set(&self, key: &str, _value: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            store: self.describe(),
            op: "write (during a read)",
            key: key.to_string(),
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.set(key, &[])
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        self.set(prefix, &[])
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        self.inner.list_dir(prefix)
    }
}

/// Splits `parts` into batches of at most [`BATCH_BYTES`] decoded bytes.
fn batches(parts: &[CellPart], cell_bytes: usize) -> Vec<&[CellPart]> {
    let per = (BATCH_BYTES / cell_bytes.max(1)).clamp(1, BATCH_PARTS);
    parts.chunks(per).collect()
}

/// Fetches what reading `batch` of `array` will need.
fn fetch<'s>(
    store: &'s dyn Store,
    array: &Array,
    meta: &ArrayMetadata,
    batch: &[CellPart],
) -> Result<Prefetched<'s>> {
    let spec = meta.cell_spec();
    let id = array.shared.id;
    let use_cache = cache::cache_budget() > 0;
    let peek = |key: &str, inner: String| -> Result<Option<Arc<CachedChunk>>> {
        if !use_cache {
            return Ok(None);
        }
        Ok(cache::cache().peek(&(id, key.to_string(), inner), store.version(key)?))
    };
    let is_whole = |start: &[usize], count: &[usize], shape: &[usize]| {
        start.iter().all(|&s| s == 0) && count == shape
    };
    let sharding = pure_sharding(&meta.codecs);
    let mut pf = Prefetched::new(store);
    let mut first = Vec::with_capacity(batch.len());
    let mut partial: Vec<(String, &CellPart, Option<ShardIndex>)> = Vec::new();
    let index_range = sharding.map(|sh| {
        let n = sh.index_len(&spec.shape) as u64;
        match sh.index_location {
            IndexLocation::Start => ByteRange::Range { offset: 0, len: n },
            IndexLocation::End => ByteRange::Suffix(n),
        }
    });
    for p in batch {
        let key = array.shared.chunk_key(meta, &p.cell);
        let whole = is_whole(&p.in_cell, &p.count, &spec.shape);
        match index_range {
            None => {
                let via_cache = !whole && !meta.codecs.is_passthrough();
                if !(via_cache && peek(&key, String::new())?.is_some()) {
                    first.push((key, None));
                }
            }
            Some(_) if whole => first.push((key, None)),
            Some(r) => {
                // The read path caches decoded shard indexes.
                match peek(&key, "#index".to_string())? {
                    Some(entry) => {
                        // (An absent shard has nothing to fetch.)
                        if let Some(raw) = entry.bytes() {
                            partial.push((key, p, Some(ShardIndex::from_raw(raw))));
                        }
                    }
                    None => {
                        first.push((key.clone(), Some(r)));
                        partial.push((key, p, None));
                    }
                }
            }
        }
    }
    pf.load(first)?;
    let (Some(sh), Some(index_range)) = (sharding, index_range) else {
        return Ok(pf);
    };
    let inner_spec = sh.inner_spec(&spec);
    let inner_shape: Vec<u64> = sh.chunk_shape.iter().map(|&c| c as u64).collect();
    let shard_shape: Vec<u64> = spec.shape.iter().map(|&c| c as u64).collect();
    let grid_strides = nd::c_strides(&sh.inner_grid(&spec.shape));
    let mut second = Vec::new();
    for (key, p, cached_index) in partial {
        let index = match cached_index {
            Some(index) => index,
            None => {
                let Some(Ok(Some(index_bytes))) = pf.lookup_range(&key, index_range) else {
                    continue;
                };
                let Ok(index) = sh.decode_index(&index_bytes, &spec.shape) else {
                    continue;
                };
                index
            }
        };
        let region = Region::new(
            p.in_cell.iter().map(|&s| s as u64).collect(),
            p.count.iter().map(|&c| c as u64).collect(),
        );
        for ip in cell_parts(&region, &inner_shape, &shard_shape) {
            let i: usize = ip
                .cell
                .iter()
                .zip(&grid_strides)
                .map(|(&c, &s)| c as usize * s)
                .sum();
            let Some((offset, len)) = index.range(i) else {
                continue;
            };
            let whole = is_whole(&ip.in_cell, &ip.count, &inner_spec.shape);
            let via_cache = !whole && !sh.codecs.is_passthrough();
            if !(via_cache && peek(&key, i.to_string())?.is_some()) {
                second.push((key.clone(), Some(ByteRange::Range { offset, len })));
            }
        }
    }
    pf.load(second)?;
    Ok(pf)
}

/// Reads `parts` of `array` batch by batch: fetches each batch with
/// [`Store::get_many`] (the next one while the current one decodes) and runs
/// `decode` on it with a store view that serves the fetched bytes.
pub(crate) fn read_batches(
    array: &Array,
    meta: &ArrayMetadata,
    parts: &[CellPart],
    decode: impl Fn(&dyn Store, &[CellPart]) -> Result<()> + Sync,
) -> Result<()> {
    let store = array.store_dyn();
    let list = batches(parts, meta.cell_spec().num_bytes());
    if list.len() <= 1 {
        for b in list {
            let pf = fetch(store, array, meta, b)?;
            decode(&pf, b)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let first = list[0];
        let mut next = Some(scope.spawn(move || fetch(store, array, meta, first)));
        for (i, b) in list.iter().enumerate() {
            let fetched = match next.take() {
                Some(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(Error::invalid("a prefetch thread panicked"))),
                None => Err(Error::invalid("prefetch batch missing")),
            };
            if let Some(&nb) = list.get(i + 1) {
                next = Some(scope.spawn(move || fetch(store, array, meta, nb)));
            }
            decode(&fetched?, b)?;
        }
        Ok(())
    })
}

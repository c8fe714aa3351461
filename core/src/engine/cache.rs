//! The decoded-chunk cache.
//!
//! * One cache per process, shared by every read handle of every array;
//!   keys are `(array id, chunk key)`.
//! * Bounded in bytes ([`set_cache_budget`], default 1 GiB or 1/8 of RAM,
//!   whichever is smaller); split into independently locked shards.
//! * Eviction is S3-FIFO (a small probationary FIFO, a main FIFO with
//!   frequency bits, a ghost list): a one-off scan passes through the small
//!   queue without pushing out chunks that are used repeatedly.
//! * Single flight: concurrent misses on one chunk decode it once; the others
//!   wait for that result.
//! * Decoded chunks live in anonymous memory-mapped segments (one slab per
//!   chunk size, fixed-size slots), not on the heap: a cache of many large
//!   equally-sized chunks reuses its slots instead of fragmenting the
//!   allocator, and the memory goes back to the OS when the slab is dropped.
//! * While the cache still has room to grow, each slab keeps one spare
//!   segment that a background thread maps and pre-faults
//!   (`MADV_POPULATE_WRITE`), so a miss decodes into memory whose pages
//!   already exist instead of taking a page fault (and the kernel's page
//!   zeroing) per 4 KiB on the request path. Spares count against the
//!   budget: one is made only while the bytes held, the spares and two
//!   more segments fit it, and all are dropped once the cache fills.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};

use crate::error::Error;

/// `(array id, stored key, inner path)`: the inner path names an inner chunk
/// of a shard (`"17"`, `"17/3"` when nested) and is empty otherwise.
pub type CacheKey = (u64, String, String);

const SEGMENT_BYTES: usize = 32 << 20;

/// A fixed-slot allocator over anonymous mappings.
#[derive(Debug)]
struct Slab {
    slot: usize,
    per_segment: usize,
    segments: Mutex<Vec<memmap2::MmapMut>>,
    free: Mutex<Vec<(u32, u32)>>,
    /// A mapped, pre-faulted segment to take when the free list runs dry.
    spare: Mutex<Option<memmap2::MmapMut>>,
    /// Whether a background thread is making the spare.
    refilling: AtomicBool,
    /// Bytes in spare segments, over all slabs of the cache.
    spare_bytes: Arc<AtomicUsize>,
}

impl Slab {
    fn new(slot: usize, spare_bytes: Arc<AtomicUsize>) -> Slab {
        Slab {
            slot,
            // Small chunks get small segments (64 slots), large ones up to
            // 32 MiB, so a slab of a rarely used size pins little memory.
            per_segment: (SEGMENT_BYTES / slot).clamp(1, 64),
            segments: Mutex::new(Vec::new()),
            free: Mutex::new(Vec::new()),
            spare: Mutex::new(None),
            refilling: AtomicBool::new(false),
            spare_bytes,
        }
    }

    /// Takes the spare segment, if any.
    fn take_spare(&self) -> Option<memmap2::MmapMut> {
        let m = self.spare.lock().take()?;
        self.spare_bytes.fetch_sub(m.len(), Ordering::AcqRel);
        Some(m)
    }

    /// The bytes of one segment.
    fn segment_bytes(&self) -> usize {
        self.slot * self.per_segment
    }

    fn map_segment(&self) -> Option<memmap2::MmapMut> {
        let map = memmap2::MmapMut::map_anon(self.segment_bytes()).ok()?;
        // Fewer page faults and TLB misses for large decoded chunks; a hint
        // only (ignored where transparent huge pages are off; skipped under
        // Miri, which cannot run madvise). Not for small slots: a huge page
        // would make every touched slot cost 2 MiB.
        if !cfg!(miri) && self.slot >= 1 << 20 {
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        Some(map)
    }

    /// Makes the spare segment on a background thread, unless one is
    /// already there or being made. The pages are populated without
    /// being written (their contents stay zero), and nobody else can see
    /// the mapping until it is stored as the spare.
    fn refill_spare(self: &Arc<Self>) {
        if cfg!(miri) || self.spare.lock().is_some() || self.refilling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("zarrcore-prefault".into())
            .spawn(move || {
                let Some(slab) = weak.upgrade() else { return };
                if let Some(map) = slab.map_segment() {
                    // A hint: kernels before 5.14 refuse it, and the pages
                    // are then faulted on first use as usual.
                    let _ = map.advise(memmap2::Advice::PopulateWrite);
                    slab.spare_bytes.fetch_add(map.len(), Ordering::AcqRel);
                    *slab.spare.lock() = Some(map);
                }
                slab.refilling.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.refilling.store(false, Ordering::Release);
        }
    }

    /// A free slot. When this call takes a new segment and `room(segment
    /// bytes)` says the cache may grow by two more, a pre-faulted spare
    /// segment is made in the background.
    fn alloc(self: &Arc<Self>, room: impl FnOnce(usize) -> bool) -> Option<SlabBuf> {
        if let Some((seg, idx)) = self.free.lock().pop() {
            return Some(self.buf(seg, idx));
        }
        // Asked before taking the segment lock (it locks the cache's shards).
        let grow_spare = room(self.segment_bytes());
        let mut segs = self.segments.lock();
        let spare = self.take_spare();
        let map = match spare {
            Some(m) => m,
            None => self.map_segment()?,
        };
        if grow_spare {
            self.refill_spare();
        }
        segs.push(map);
        let seg = (segs.len() - 1) as u32;
        drop(segs);
        let mut free = self.free.lock();
        for idx in (1..self.per_segment as u32).rev() {
            free.push((seg, idx));
        }
        drop(free);
        Some(self.buf(seg, 0))
    }

    fn buf(self: &Arc<Self>, seg: u32, idx: u32) -> SlabBuf {
        let mut segs = self.segments.lock();
        let base = segs[seg as usize].as_mut_ptr();
        // SAFETY: `idx < per_segment`, so the slot lies inside the mapping.
        let ptr = unsafe { base.add(idx as usize * self.slot) };
        SlabBuf {
            slab: Arc::clone(self),
            seg,
            idx,
            ptr,
        }
    }
}

/// One slot of a slab: exclusively owned memory of `slot` bytes.
#[derive(Debug)]
pub struct SlabBuf {
    slab: Arc<Slab>,
    seg: u32,
    idx: u32,
    ptr: *mut u8,
}

// SAFETY: a SlabBuf is the unique owner of its slot's bytes (slots are handed
// out once until dropped), and the mapping lives as long as the slab, which
// the buffer keeps alive.
unsafe impl Send for SlabBuf {}
// SAFETY: shared access only reads the bytes.
unsafe impl Sync for SlabBuf {}

impl SlabBuf {
    fn as_slice(&self) -> &[u8] {
        // SAFETY: the slot is `slab.slot` bytes inside a live mapping, owned
        // exclusively by this buffer.
        unsafe { std::slice::from_raw_parts(self.ptr, self.slab.slot) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` guarantees no other view exists.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.slab.slot) }
    }
}

impl Drop for SlabBuf {
    fn drop(&mut self) {
        let mut free = self.slab.free.lock();
        // Beyond one segment's worth of idle slots, give the pages back to the
        // OS (the mapping stays; the pages refault as zeros when reused), so
        // slabs of chunk sizes no longer in use do not pin memory.
        if free.len() >= self.slab.per_segment {
            release_pages(self.ptr, self.slab.slot);
        }
        free.push((self.seg, self.idx));
    }
}

/// `madvise(MADV_DONTNEED)` on the whole pages inside `[ptr, ptr + len)`.
fn release_pages(ptr: *mut u8, len: usize) {
    if cfg!(miri) {
        // A hint only (Miri cannot run madvise).
        return;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let start = (ptr as usize).div_ceil(page) * page;
    let end = (ptr as usize + len) / page * page;
    if end > start {
        // SAFETY: the range lies inside a slot of a live anonymous private
        // mapping that nobody references any more (the slot is being freed);
        // MADV_DONTNEED only drops its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// A cached decoded chunk.
#[derive(Debug)]
pub enum CachedChunk {
    /// The chunk is not stored (reads as the fill value).
    Absent,
    /// Decoded bytes in a slab slot.
    Slab(SlabBuf),
    /// Decoded bytes on the heap (too large for the cache; not retained).
    Heap(Vec<u8>),
}

impl CachedChunk {
    /// The decoded bytes, `None` if the chunk is absent.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            CachedChunk::Absent => None,
            CachedChunk::Slab(s) => Some(s.as_slice()),
            CachedChunk::Heap(v) => Some(v),
        }
    }

    fn cost(&self) -> usize {
        match self {
            CachedChunk::Absent => 64,
            CachedChunk::Slab(s) => s.slab.slot + 64,
            CachedChunk::Heap(v) => v.len() + 64,
        }
    }
}

#[derive(Debug)]
struct Flight {
    result: Mutex<Option<Option<Arc<CachedChunk>>>>,
    cv: Condvar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
}

#[derive(Debug)]
enum Slot {
    Loading(Arc<Flight>, bool),
    Ready {
        chunk: Arc<CachedChunk>,
        freq: u8,
        queue: Queue,
        /// The stored value's version when it was fetched (`None`: the
        /// store cannot tell).
        version: Option<u64>,
    },
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<CacheKey, Slot>,
    small: VecDeque<CacheKey>,
    main: VecDeque<CacheKey>,
    ghost: VecDeque<CacheKey>,
    ghost_set: HashSet<CacheKey>,
    small_bytes: usize,
    main_bytes: usize,
}

impl Shard {
    fn used(&self) -> usize {
        self.small_bytes + self.main_bytes
    }

    fn account(&mut self, q: Queue, cost: usize, add: bool) {
        let b = match q {
            Queue::Small => &mut self.small_bytes,
            Queue::Main => &mut self.main_bytes,
        };
        if add {
            *b += cost;
        } else {
            *b = b.saturating_sub(cost);
        }
    }

    fn remember_ghost(&mut self, key: CacheKey, cap: usize) {
        if self.ghost_set.insert(key.clone()) {
            self.ghost.push_back(key);
        }
        while self.ghost.len() > cap {
            if let Some(k) = self.ghost.pop_front() {
                self.ghost_set.remove(&k);
            }
        }
    }

    /// Removes an entry (a loading one is marked stale instead, so its result
    /// is returned to its waiters but not kept).
    fn remove(&mut self, key: &CacheKey) {
        match self.map.get_mut(key) {
            Some(Slot::Loading(_, stale)) => *stale = true,
            Some(Slot::Ready { chunk, queue, .. }) => {
                let (q, cost) = (*queue, chunk.cost());
                self.map.remove(key);
                self.account(q, cost, false);
            }
            None => {}
        }
    }

    /// Evicts until `used <= budget` (S3-FIFO).
    fn evict(&mut self, budget: usize, ghost_cap: usize) {
        let mut guard = 0usize;
        while self.used() > budget && guard < 1 << 20 {
            guard += 1;
            let from_small = self.small_bytes > budget / 10 || self.main.is_empty();
            let q = if from_small {
                &mut self.small
            } else {
                &mut self.main
            };
            let Some(key) = q.pop_front() else {
                if self.small.is_empty() && self.main.is_empty() {
                    return;
                }
                continue;
            };
            let (queue, freq, cost) = match self.map.get(&key) {
                Some(Slot::Ready {
                    chunk, freq, queue, ..
                }) => (*queue, *freq, chunk.cost()),
                _ => continue,
            };
            let expected = if from_small {
                Queue::Small
            } else {
                Queue::Main
            };
            if queue != expected {
                continue; // stale queue entry
            }
            match (queue, freq) {
                (Queue::Small, f) if f > 0 => {
                    // Used again while probationary: promote.
                    if let Some(Slot::Ready { queue, freq, .. }) = self.map.get_mut(&key) {
                        *queue = Queue::Main;
                        *freq = 0;
                    }
                    self.account(Queue::Small, cost, false);
                    self.account(Queue::Main, cost, true);
                    self.main.push_back(key);
                }
                (Queue::Main, f) if f > 0 => {
                    if let Some(Slot::Ready { freq, .. }) = self.map.get_mut(&key) {
                        *freq = f - 1;
                    }
                    self.main.push_back(key);
                }
                (q, _) => {
                    self.map.remove(&key);
                    self.account(q, cost, false);
                    if q == Queue::Small {
                        self.remember_ghost(key, ghost_cap);
                    }
                }
            }
        }
    }
}

/// The process-wide decoded-chunk cache.
#[derive(Debug)]
pub struct ChunkCache {
    shards: Box<[Mutex<Shard>]>,
    budget: AtomicUsize,
    /// Number of live [`CacheSuspension`]s.
    suspended: AtomicUsize,
    slabs: Mutex<HashMap<usize, Arc<Slab>>>,
    /// Bytes in the slabs' spare segments (see the module docs).
    spare_bytes: Arc<AtomicUsize>,
}

fn default_budget() -> usize {
    if let Some(b) = std::env::var("ZARRCORE_CACHE_BYTES")
        .ok()
        .and_then(|v| crate::util::parse_size(&v).ok())
    {
        return b as usize;
    }
    let ram = {
        // SAFETY: sysconf has no preconditions.
        let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
        // SAFETY: as above.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if pages > 0 && page > 0 {
            pages as usize * page as usize
        } else {
            8 << 30
        }
    };
    (ram / 8).min(1 << 30)
}

static CACHE: OnceLock<ChunkCache> = OnceLock::new();

/// The process-wide cache.
pub fn cache() -> &'static ChunkCache {
    CACHE.get_or_init(|| ChunkCache::new(default_budget()))
}

/// Sets the cache budget in bytes (0 disables caching); shrinking takes effect
/// as entries are next inserted.
pub fn set_cache_budget(bytes: usize) {
    cache().budget.store(bytes, Ordering::SeqCst);
}

/// The cache budget in bytes in effect: 0 while any [`CacheSuspension`] is
/// alive, else the budget last set.
pub fn cache_budget() -> usize {
    let c = cache();
    if c.suspended.load(Ordering::SeqCst) > 0 {
        0
    } else {
        c.budget.load(Ordering::SeqCst)
    }
}

/// Turns caching off until the returned guard is dropped (for work that
/// must stay inside a memory budget, like `ops::copy`). Suspensions nest and
/// may overlap from several threads: caching resumes, with the budget set by
/// [`set_cache_budget`], once the last guard is gone. Cached entries stay
/// until evicted.
pub fn suspend_cache() -> CacheSuspension {
    cache().suspended.fetch_add(1, Ordering::SeqCst);
    CacheSuspension { _private: () }
}

/// Guard of [`suspend_cache`].
#[derive(Debug)]
pub struct CacheSuspension {
    _private: (),
}

impl Drop for CacheSuspension {
    fn drop(&mut self) {
        cache().suspended.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ChunkCache {
    fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            shards: (0..16).map(|_| Mutex::new(Shard::default())).collect(),
            budget: AtomicUsize::new(budget),
            suspended: AtomicUsize::new(0),
            slabs: Mutex::new(HashMap::new()),
            spare_bytes: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Drops every slab's spare segment (the cache is full, so they would
    /// only be held beside the budget).
    fn drop_spares(&self) {
        let slabs: Vec<Arc<Slab>> = self.slabs.lock().values().cloned().collect();
        for slab in slabs {
            drop(slab.take_spare());
        }
    }

    /// The shard of a key: chosen by array and stored key only, so all inner
    /// chunks of one shard file live together and are invalidated together.
    fn shard_of(&self, array: u64, stored_key: &str) -> &Mutex<Shard> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        array.hash(&mut h);
        stored_key.hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }

    fn shard_budget(&self) -> usize {
        if self.suspended.load(Ordering::Relaxed) > 0 {
            return 0;
        }
        self.budget.load(Ordering::Relaxed) / self.shards.len()
    }

    fn slab(&self, size: usize) -> Arc<Slab> {
        Arc::clone(
            self.slabs
                .lock()
                .entry(size)
                .or_insert_with(|| Arc::new(Slab::new(size, Arc::clone(&self.spare_bytes)))),
        )
    }

    /// The entry of `key` if it is ready and not stale for `version` (as
    /// [`get_or_load`](Self::get_or_load) would judge); never loads, and
    /// does not count as a use.
    pub fn peek(&self, key: &CacheKey, version: Option<u64>) -> Option<Arc<CachedChunk>> {
        let s = self.shard_of(key.0, &key.1).lock();
        match s.map.get(key) {
            Some(Slot::Ready {
                chunk, version: v, ..
            }) if !matches!((v, version), (Some(v), Some(now)) if *v != now) => {
                Some(Arc::clone(chunk))
            }
            _ => None,
        }
    }

    /// Bytes currently held.
    pub fn used(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used()).sum()
    }

    /// Returns the decoded chunk for `key`, loading it with `load` on a miss.
    ///
    /// `load` fills a zeroed-or-stale buffer of `size` bytes completely and
    /// returns `false` if the chunk is not stored. Concurrent callers with the
    /// same key wait for one load. Errors are not cached.
    ///
    /// `version` is the stored value's current version (see
    /// [`Store::version`](crate::store::Store::version)): an entry fetched at
    /// another version (the value was replaced, e.g. by another process) is
    /// dropped and loaded again.
    pub fn get_or_load(
        &self,
        key: CacheKey,
        size: usize,
        version: Option<u64>,
        load: impl FnOnce(&mut [u8]) -> Result<bool, Error>,
    ) -> Result<Arc<CachedChunk>, Error> {
        let shard_budget = self.shard_budget();
        if size == 0 || size > shard_budget / 4 {
            // Too large to cache: load into a private buffer.
            let mut v = crate::util::try_zeroed(size).map_err(Error::InvalidArgument)?;
            return Ok(Arc::new(if load(&mut v)? {
                CachedChunk::Heap(v)
            } else {
                CachedChunk::Absent
            }));
        }
        let shard = self.shard_of(key.0, &key.1);
        let mut load = Some(load);
        loop {
            let flight = {
                let mut s = shard.lock();
                if matches!(
                    s.map.get(&key),
                    Some(Slot::Ready { version: Some(v), .. }) if version.is_some_and(|now| now != *v)
                ) {
                    s.remove(&key);
                }
                match s.map.get_mut(&key) {
                    Some(Slot::Ready { chunk, freq, .. }) => {
                        *freq = (*freq + 1).min(3);
                        return Ok(Arc::clone(chunk));
                    }
                    Some(Slot::Loading(_, true)) => {
                        // That fetch began before the last store of this key
                        // and may return older bytes than this caller must
                        // see (read-your-writes): load privately instead.
                        drop(s);
                        let load = load
                            .take()
                            .ok_or_else(|| Error::invalid("chunk loader used twice"))?;
                        let mut v =
                            crate::util::try_zeroed(size).map_err(Error::InvalidArgument)?;
                        return Ok(Arc::new(if load(&mut v)? {
                            CachedChunk::Heap(v)
                        } else {
                            CachedChunk::Absent
                        }));
                    }
                    Some(Slot::Loading(f, _)) => Some(Arc::clone(f)),
                    None => {
                        let f = Arc::new(Flight {
                            result: Mutex::new(None),
                            cv: Condvar::new(),
                        });
                        s.map
                            .insert(key.clone(), Slot::Loading(Arc::clone(&f), false));
                        drop(s);
                        return self.run_load(
                            shard,
                            key,
                            size,
                            version,
                            f,
                            load.take(),
                            shard_budget,
                        );
                    }
                }
            };
            if let Some(f) = flight {
                let mut r = f.result.lock();
                while r.is_none() {
                    f.cv.wait(&mut r);
                }
                if let Some(Some(chunk)) = r.as_ref() {
                    return Ok(Arc::clone(chunk));
                }
                // The loader failed: try ourselves.
                if load.is_none() {
                    return Err(Error::invalid("chunk load failed"));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_load(
        &self,
        shard: &Mutex<Shard>,
        key: CacheKey,
        size: usize,
        version: Option<u64>,
        flight: Arc<Flight>,
        load: Option<impl FnOnce(&mut [u8]) -> Result<bool, Error>>,
        shard_budget: usize,
    ) -> Result<Arc<CachedChunk>, Error> {
        let result = (|| -> Result<Arc<CachedChunk>, Error> {
            let load = load.ok_or_else(|| Error::invalid("chunk loader used twice"))?;
            let slab = self.slab(size);
            let room = |segment: usize| {
                self.used() + self.spare_bytes.load(Ordering::Acquire) + 2 * segment
                    <= self.shard_budget() * self.shards.len()
            };
            match slab.alloc(room) {
                Some(mut buf) => {
                    let present = load(buf.as_mut_slice())?;
                    Ok(Arc::new(if present {
                        CachedChunk::Slab(buf)
                    } else {
                        CachedChunk::Absent
                    }))
                }
                None => {
                    let mut v = crate::util::try_zeroed(size).map_err(Error::InvalidArgument)?;
                    Ok(Arc::new(if load(&mut v)? {
                        CachedChunk::Heap(v)
                    } else {
                        CachedChunk::Absent
                    }))
                }
            }
        })();
        let mut full = false;
        let mut s = shard.lock();
        let stale = matches!(s.map.get(&key), Some(Slot::Loading(_, true)));
        match &result {
            Ok(chunk) if !stale && !matches!(**chunk, CachedChunk::Heap(_)) => {
                let cost = chunk.cost();
                let queue = if s.ghost_set.remove(&key) {
                    Queue::Main
                } else {
                    Queue::Small
                };
                s.map.insert(
                    key.clone(),
                    Slot::Ready {
                        chunk: Arc::clone(chunk),
                        freq: 0,
                        queue,
                        version,
                    },
                );
                s.account(queue, cost, true);
                match queue {
                    Queue::Small => s.small.push_back(key),
                    Queue::Main => s.main.push_back(key),
                }
                let ghost_cap = (shard_budget / cost.max(1)).max(16);
                // A full shard means a (nearly) full cache.
                full = s.used() > shard_budget;
                s.evict(shard_budget, ghost_cap);
            }
            _ => {
                s.map.remove(&key);
            }
        }
        drop(s);
        *flight.result.lock() = Some(result.as_ref().ok().cloned());
        flight.cv.notify_all();
        if full && self.spare_bytes.load(Ordering::Acquire) > 0 {
            self.drop_spares();
        }
        result
    }

    /// Drops the cached chunks of one stored key of an array (the chunk, or
    /// every inner chunk of the shard).
    pub fn invalidate(&self, array: u64, stored_key: &str) {
        let mut s = self.shard_of(array, stored_key).lock();
        let doomed: Vec<CacheKey> = s
            .map
            .keys()
            .filter(|(a, k, _)| *a == array && k == stored_key)
            .cloned()
            .collect();
        for key in doomed {
            s.remove(&key);
        }
    }

    /// Drops every cached chunk of an array.
    pub fn invalidate_array(&self, array: u64) {
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let doomed: Vec<CacheKey> = s.map.keys().filter(|k| k.0 == array).cloned().collect();
            for key in doomed {
                s.remove(&key);
            }
        }
    }

    /// Drops everything (tests and benchmarks).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            s.map.retain(|_, v| matches!(v, Slot::Loading(..)));
            s.small.clear();
            s.main.clear();
            s.small_bytes = 0;
            s.main_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn single_flight_and_bounds() {
        let c = ChunkCache::new(16 * 4096 * 8);
        let loads = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let e = c
                        .get_or_load((1, "k".into(), String::new()), 4096, None, |b| {
                            loads.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            b.fill(7);
                            Ok(true)
                        })
                        .unwrap();
                    assert!(e.bytes().unwrap().iter().all(|&x| x == 7));
                });
            }
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        for i in 0..1000 {
            c.get_or_load((1, format!("x{i}"), String::new()), 4096, None, |b| {
                b.fill(1);
                Ok(true)
            })
            .unwrap();
        }
        assert!(c.used() <= 16 * 4096 * 8 + 16 * 5000, "used {}", c.used());
        c.invalidate(1, "k");
        let e = c
            .get_or_load((1, "k".into(), String::new()), 4096, None, |_| Ok(false))
            .unwrap();
        assert!(e.bytes().is_none());
    }

    #[test]
    fn scan_resistance() {
        // A hot set used repeatedly survives a long one-off scan.
        let c = ChunkCache::new(16 * 1024 * 64);
        let hot: Vec<String> = (0..16).map(|i| format!("hot{i}")).collect();
        for _ in 0..4 {
            for k in &hot {
                c.get_or_load((2, k.clone(), String::new()), 1024, None, |_| Ok(true))
                    .unwrap();
            }
        }
        for i in 0..5000 {
            c.get_or_load((2, format!("scan{i}"), String::new()), 1024, None, |_| {
                Ok(true)
            })
            .unwrap();
        }
        let mut misses = 0;
        for k in &hot {
            c.get_or_load((2, k.clone(), String::new()), 1024, None, |_| {
                misses += 1;
                Ok(true)
            })
            .unwrap();
        }
        assert!(
            misses <= 4,
            "{misses} of 16 hot chunks were evicted by a scan"
        );
    }

    /// Waits (up to 10 s) until no background refill is running.
    fn settle(slab: &Slab) {
        let t = std::time::Instant::now();
        while slab.refilling.load(Ordering::Acquire) {
            assert!(t.elapsed().as_secs() < 10, "the spare segment never came");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn spare_segment_is_prefaulted_in_the_background_and_taken_next() {
        let slab = Arc::new(Slab::new(4096, Arc::default()));
        let per = slab.per_segment;
        let mut held: Vec<SlabBuf> = (0..per).map(|_| slab.alloc(|_| true).unwrap()).collect();
        settle(&slab);
        assert!(
            slab.spare.lock().is_some(),
            "a spare after the first segment"
        );
        let spare_ptr = slab.spare.lock().as_ref().map(|m| m.as_ptr() as usize);
        // The next allocation takes the spare (zeroed memory) and asks for
        // another one.
        let mut b = slab.alloc(|_| true).unwrap();
        assert_eq!(Some(b.ptr as usize), spare_ptr);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        b.as_mut_slice().fill(9);
        held.push(b);
        settle(&slab);
        assert!(slab.spare.lock().is_some());
        assert_eq!(slab.segments.lock().len(), 2);
        // Slots stay distinct and keep their contents.
        for (i, h) in held.iter_mut().enumerate().take(per) {
            h.as_mut_slice().fill(i as u8);
        }
        for (i, h) in held.iter().enumerate().take(per) {
            assert!(h.as_slice().iter().all(|&x| x == i as u8));
        }
        assert!(held[per].as_slice().iter().all(|&x| x == 9));
        assert_eq!(
            slab.spare_bytes.load(Ordering::Acquire),
            slab.segment_bytes(),
            "the spare is counted"
        );
    }

    #[test]
    fn spares_count_against_the_budget_and_go_when_the_cache_fills() {
        let c = ChunkCache::new(4 << 20);
        let load = |c: &ChunkCache, i: usize| {
            c.get_or_load((4, format!("k{i}"), String::new()), 4096, None, |b| {
                b.fill(1);
                Ok(true)
            })
            .unwrap();
        };
        load(&c, 0);
        let slab = c.slab(4096);
        settle(&slab);
        assert_eq!(c.spare_bytes.load(Ordering::Acquire), slab.segment_bytes());
        // Fill past the budget: the spares are dropped (a refill that was
        // still running when that happened is dropped by the next insert).
        for i in 1..2000 {
            load(&c, i);
        }
        settle(&slab);
        load(&c, 2000);
        assert_eq!(c.spare_bytes.load(Ordering::Acquire), 0);
        assert!(slab.spare.lock().is_none());
    }

    #[test]
    fn no_spare_without_room() {
        let slab = Arc::new(Slab::new(4096, Arc::default()));
        let held: Vec<SlabBuf> = (0..slab.per_segment + 1)
            .map(|_| slab.alloc(|_| false).unwrap())
            .collect();
        settle(&slab);
        assert!(slab.spare.lock().is_none());
        assert_eq!(slab.segments.lock().len(), 2);
        drop(held);
        // A cache near its budget makes no spare either.
        let c = ChunkCache::new(64 * 4096);
        for i in 0..200 {
            c.get_or_load((3, format!("k{i}"), String::new()), 4096, None, |_| {
                Ok(true)
            })
            .unwrap();
        }
        let slab = c.slab(4096);
        settle(&slab);
        assert!(slab.spare.lock().is_none(), "a spare beyond the budget");
    }
}

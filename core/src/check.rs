//! `zarrcore check`: validates a store and optionally repairs it.
//!
//! A check walks every node under a path and
//!
//! * parses its metadata (and the consolidated metadata of groups);
//! * decodes every stored chunk or shard of every array, in parallel on the
//!   engine's pool, with the array's codec chain — so checksums are verified
//!   where the codecs carry them (`crc32c`, zstd content checksums, the gzip
//!   CRC-32 and the zlib Adler-32) and every inner chunk of every shard is
//!   decoded on its own, so a report names the inner chunk that is broken;
//! * lists leftover temporary files of interrupted writes (names containing
//!   [`TEMP_MARKER`]; for zip stores, the staging directories and half-built
//!   archives beside the zip file).
//!
//! With [`CheckOptions::repair`] it removes leftover temporaries, and with
//! [`CheckOptions::delete_corrupt`] as well it deletes corrupt chunks so that
//! they read as the fill value. A shard whose index is intact but some of
//! whose inner chunks are corrupt is rewritten with only those index entries
//! cleared: healthy chunks and healthy inner chunks are never touched.
//!
//! Temporaries that belong to a writer that is still running (their name
//! carries its process id, and that process started before the file was last
//! written) are reported as active and never removed.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::array::Array;
use crate::codec::sharding::{ShardingCodec, EMPTY};
use crate::codec::{ArrayToBytes, ChunkSpec, CodecChain};
use crate::dtype::{u64_to_native, DataType};
use crate::engine::{pool, Mode};
use crate::error::{Error, Result};
use crate::fill::FillValue;
use crate::hierarchy;
use crate::metadata::{ArrayMetadata, NodeMetadata};
use crate::store::{
    join_key, normalize_path, DirectoryStore, MemoryStore, Store, StoreOptions, StoreRef, ZipStore,
    TEMP_MARKER,
};

/// What a check may change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Remove leftover temporary files of interrupted writes.
    pub repair: bool,
    /// With `repair`: delete corrupt chunks (and clear the index entries of
    /// corrupt inner chunks of shards) so that they read as the fill value.
    pub delete_corrupt: bool,
}

/// The kind of a problem found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A metadata document is missing, unreadable, malformed or unsupported.
    Metadata,
    /// Part of the store could not be listed or read.
    Store,
    /// A stored chunk (or a whole shard) does not decode.
    CorruptChunk,
    /// One inner chunk of a shard does not decode.
    CorruptInnerChunk,
    /// A temporary file (or zip staging directory) left by an interrupted write.
    Temporary,
}

impl ProblemKind {
    /// The name used in reports (`corrupt_chunk`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Metadata => "metadata",
            ProblemKind::Store => "store",
            ProblemKind::CorruptChunk => "corrupt_chunk",
            ProblemKind::CorruptInnerChunk => "corrupt_inner_chunk",
            ProblemKind::Temporary => "temporary",
        }
    }
}

/// What a repair did about a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing (no repair asked, or none possible).
    None,
    /// A temporary file or staging directory was removed.
    Removed,
    /// A corrupt chunk or shard was deleted (it reads as the fill value).
    Deleted,
    /// The shard was rewritten with this inner chunk's index entry cleared.
    EntryCleared,
    /// The repair was attempted and failed.
    Failed(String),
}

impl Action {
    /// Whether the problem is gone.
    pub fn fixed(&self) -> bool {
        matches!(
            self,
            Action::Removed | Action::Deleted | Action::EntryCleared
        )
    }

    fn describe(&self) -> String {
        match self {
            Action::None => "none".into(),
            Action::Removed => "removed".into(),
            Action::Deleted => "deleted".into(),
            Action::EntryCleared => "index entry cleared".into(),
            Action::Failed(e) => format!("repair failed: {e}"),
        }
    }
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// The store key (for zip temporaries: the file name beside the zip).
    pub key: String,
    /// For [`ProblemKind::CorruptInnerChunk`]: the inner chunk's index in the
    /// shard (C order of the inner grid).
    pub inner_chunk: Option<usize>,
    /// What is wrong.
    pub detail: String,
    /// What the repair did.
    pub action: Action,
}

/// A temporary file of a writer that is still running (not a problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTemporary {
    /// Its key (or file name beside a zip store).
    pub key: String,
    /// The writer's process id.
    pub pid: u32,
}

/// The result of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The store, as described by the store.
    pub store: String,
    /// The node path checked ("" is the root).
    pub path: String,
    /// Nodes (groups and arrays) whose metadata was read.
    pub nodes: u64,
    /// Arrays among them.
    pub arrays: u64,
    /// Stored chunks (or shards) decoded.
    pub chunks: u64,
    /// Inner chunks of shards decoded.
    pub inner_chunks: u64,
    /// Encoded bytes read.
    pub bytes: u64,
    /// Problems found, in the order found.
    pub problems: Vec<Problem>,
    /// Temporaries of running writers (left alone).
    pub active_temporaries: Vec<ActiveTemporary>,
}

impl CheckReport {
    /// Whether nothing is wrong any more (no problem, or every one repaired).
    pub fn is_clean(&self) -> bool {
        self.problems.iter().all(|p| p.action.fixed())
    }

    /// Problems that were repaired.
    pub fn repaired(&self) -> usize {
        self.problems.iter().filter(|p| p.action.fixed()).count()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "store": self.store,
            "path": self.path,
            "clean": self.is_clean(),
            "nodes": self.nodes,
            "arrays": self.arrays,
            "chunks": self.chunks,
            "inner_chunks": self.inner_chunks,
            "bytes": self.bytes,
            "problems": self.problems.iter().map(|p| json!({
                "kind": p.kind.name(),
                "key": p.key,
                "inner_chunk": p.inner_chunk,
                "detail": p.detail,
                "action": p.action.describe(),
                "fixed": p.action.fixed(),
            })).collect::<Vec<_>>(),
            "repaired": self.repaired(),
            "remaining": self.problems.len() - self.repaired(),
            "active_temporaries": self.active_temporaries.iter()
                .map(|t| json!({"key": t.key, "pid": t.pid})).collect::<Vec<_>>(),
        })
    }

    /// The report as lines of text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "checked {} node(s) ({} array(s)), {} chunk(s), {} inner chunk(s), {} byte(s) in {}{}\n",
            self.nodes,
            self.arrays,
            self.chunks,
            self.inner_chunks,
            self.bytes,
            self.store,
            if self.path.is_empty() {
                String::new()
            } else {
                format!(" under /{}", self.path)
            }
        );
        for p in &self.problems {
            let what = match p.inner_chunk {
                Some(i) => format!("{} (inner chunk {i})", p.key),
                None => p.key.clone(),
            };
            s.push_str(&format!(
                "{:<20} {what}: {} [{}]\n",
                p.kind.name(),
                p.detail,
                p.action.describe()
            ));
        }
        for t in &self.active_temporaries {
            s.push_str(&format!(
                "{:<20} {} (writer pid {} is running; left alone)\n",
                "active_temporary", t.key, t.pid
            ));
        }
        let remaining = self.problems.len() - self.repaired();
        if self.problems.is_empty() {
            s.push_str("result: clean\n");
        } else {
            s.push_str(&format!(
                "result: {} problem(s), {} repaired, {remaining} remaining\n",
                self.problems.len(),
                self.repaired()
            ));
        }
        s
    }
}

/// Where leftover temporaries live.
enum Temps {
    None,
    Directory(Arc<DirectoryStore>),
    Zip(PathBuf),
}

/// Checks the store at `location` (a directory, a `.zip` file or a URL as for
/// [`crate::open_store`]) under `path`. The store is opened writable only
/// when `opts.repair` is set; a missing store is an error, never created.
pub fn check_location(location: &str, path: &str, opts: CheckOptions) -> Result<CheckReport> {
    let store_opts = StoreOptions {
        writable: opts.repair,
        create: false,
        durable: true,
    };
    if let Some(name) = location.strip_prefix("memory://") {
        let store: StoreRef = MemoryStore::named(name);
        return check_with(&store, Temps::None, path, opts);
    }
    let fs_path = location.strip_prefix("file://").unwrap_or(location);
    if location.contains("://") && !location.starts_with("file://") {
        // Let open_store produce its usual error for unknown schemes.
        let store = crate::store::open_store(location, store_opts)?;
        return check_with(&store, Temps::None, path, opts);
    }
    let is_zip = Path::new(fs_path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        if !Path::new(fs_path).is_file() {
            // A zip whose first write was interrupted: only its leftovers
            // beside it may exist.
            let mut report = CheckReport {
                store: format!("zip {fs_path}"),
                path: normalize_path(path)?,
                ..Default::default()
            };
            zip_temporaries(Path::new(fs_path), opts, &mut report)?;
            if report.problems.is_empty() && report.active_temporaries.is_empty() {
                return Err(crate::error::StoreError::Open {
                    location: location.to_string(),
                    reason: "no such file".into(),
                }
                .into());
            }
            return Ok(report);
        }
        let store: StoreRef = Arc::new(ZipStore::open(fs_path, store_opts)?);
        let report = check_with(&store, Temps::Zip(PathBuf::from(fs_path)), path, opts)?;
        store.flush()?;
        return Ok(report);
    }
    let dir = Arc::new(DirectoryStore::open(fs_path, store_opts)?);
    let store: StoreRef = dir.clone();
    check_with(&store, Temps::Directory(dir), path, opts)
}

/// Checks an open store under `path` (no temporaries are looked for: only
/// [`check_location`] knows where a store keeps them).
pub fn check_store(store: &StoreRef, path: &str, opts: CheckOptions) -> Result<CheckReport> {
    check_with(store, Temps::None, path, opts)
}

fn check_with(
    store: &StoreRef,
    temps: Temps,
    path: &str,
    opts: CheckOptions,
) -> Result<CheckReport> {
    let path = normalize_path(path)?;
    let mut report = CheckReport {
        store: store.describe(),
        path: path.clone(),
        ..Default::default()
    };
    // Temporaries first: the repair below may itself write (and so create
    // temporaries of this process).
    match &temps {
        Temps::None => {}
        Temps::Directory(d) => directory_temporaries(d, &path, opts, &mut report)?,
        Temps::Zip(p) => zip_temporaries(p, opts, &mut report)?,
    }
    let root = match hierarchy::read_node_dyn(&**store, &path) {
        Ok(Some(n)) => Some(n),
        // A store without root metadata (empty, or arrays without a root
        // group): check whatever nodes are below.
        Ok(None) if path.is_empty() => {
            Checker {
                store,
                opts,
                report: &mut report,
            }
            .children("");
            return Ok(report);
        }
        Ok(None) => {
            return Err(crate::error::MetadataError::NotFound {
                path,
                looked_for: "zarr.json, .zgroup, .zarray".into(),
            }
            .into())
        }
        // The node asked for cannot even be read (I/O, a path out of the
        // store): nothing to check.
        Err(e @ Error::Store(_)) => return Err(e),
        Err(e) => {
            report.problems.push(problem(
                ProblemKind::Metadata,
                metadata_key(&**store, &path),
                e.to_string(),
            ));
            None
        }
    };
    let mut checker = Checker {
        store,
        opts,
        report: &mut report,
    };
    match root {
        Some(n) => checker.node(&path, n),
        None => checker.descend_if_group(&path),
    }
    Ok(report)
}

fn problem(kind: ProblemKind, key: String, detail: String) -> Problem {
    Problem {
        kind,
        key,
        inner_chunk: None,
        detail,
        action: Action::None,
    }
}

/// The metadata key a node's error most likely concerns.
fn metadata_key(store: &dyn Store, path: &str) -> String {
    for name in ["zarr.json", ".zarray", ".zgroup", ".zattrs"] {
        let k = join_key(path, name);
        if matches!(store.size(&k), Ok(Some(_))) {
            return k;
        }
    }
    join_key(path, "zarr.json")
}

struct Checker<'a> {
    store: &'a StoreRef,
    opts: CheckOptions,
    report: &'a mut CheckReport,
}

/// The outcome of decoding one stored value.
enum Outcome {
    Ok {
        inner: u64,
    },
    Corrupt(String),
    /// Pure sharding, index intact: these inner chunks are corrupt.
    Inner {
        inner: u64,
        bad: Vec<(usize, String)>,
    },
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a per-thread buffer of `n` bytes (contents unspecified).
fn with_buf<R>(n: usize, f: impl FnOnce(&mut [u8]) -> R) -> std::result::Result<R, String> {
    let mut buf = BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if buf.len() < n {
        buf.clear();
        buf.try_reserve_exact(n)
            .map_err(|_| format!("cannot allocate {n} bytes for the decoded chunk"))?;
        buf.resize(n, 0);
    }
    let r = f(&mut buf[..n]);
    if buf.capacity() <= 64 << 20 {
        BUF.with(|b| *b.borrow_mut() = buf);
    }
    Ok(r)
}

/// Decodes `bytes` with `chain`, turning a panic into an error.
fn decode(chain: &CodecChain, spec: &ChunkSpec, bytes: &[u8]) -> std::result::Result<(), String> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let ArrayToBytes::Vlen(v) = &chain.array_to_bytes {
            // Variable-length chunks decode to items, not a fixed-size buffer.
            let n = crate::nd::num_elements(&spec.shape);
            return Ok(v
                .decode(chain, crate::store::Bytes::copy_from_slice(bytes), n)
                .map(|_| ()));
        }
        with_buf(spec.num_bytes(), |buf| chain.decode_into(bytes, spec, buf))
    }));
    match r {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the decoder panicked (a bug: please report it)".into()),
    }
}

fn pure_sharding(chain: &CodecChain) -> Option<&ShardingCodec> {
    match &chain.array_to_bytes {
        ArrayToBytes::Sharding(s)
            if chain.array_to_array.is_empty() && chain.bytes_to_bytes.is_empty() =>
        {
            Some(s)
        }
        _ => None,
    }
}

fn check_value(meta: &ArrayMetadata, spec: &ChunkSpec, bytes: &[u8]) -> Outcome {
    let Some(sh) = pure_sharding(&meta.codecs) else {
        return match decode(&meta.codecs, spec, bytes) {
            Ok(()) => Outcome::Ok { inner: 0 },
            Err(e) => Outcome::Corrupt(e),
        };
    };
    let index = match sh
        .index_bytes(bytes, &spec.shape)
        .and_then(|ib| sh.decode_index(ib, &spec.shape))
    {
        Ok(i) => i,
        Err(e) => return Outcome::Corrupt(e.to_string()),
    };
    let inner_spec = sh.inner_spec(spec);
    let results: Vec<Option<(usize, String)>> = (0..index.entries.len())
        .into_par_iter()
        .map(|i| {
            let r = index.range(i)?;
            let res = sh
                .inner_slice(bytes, r, i)
                .map_err(|e| e.to_string())
                .and_then(|slice| decode(&sh.codecs, &inner_spec, slice));
            Some(match res {
                Ok(()) => (usize::MAX, String::new()),
                Err(e) => (i, e),
            })
        })
        .collect();
    let inner = results.iter().flatten().count() as u64;
    let bad: Vec<(usize, String)> = results
        .into_iter()
        .flatten()
        .filter(|(i, _)| *i != usize::MAX)
        .collect();
    if bad.is_empty() {
        Outcome::Ok { inner }
    } else {
        Outcome::Inner { inner, bad }
    }
}

impl Checker<'_> {
    fn node(&mut self, path: &str, node: NodeMetadata) {
        self.report.nodes += 1;
        match node {
            NodeMetadata::Array(meta) => {
                self.report.arrays += 1;
                self.array(path, *meta);
            }
            NodeMetadata::Group(_) => {
                if let Err(e) = hierarchy::read_consolidated_metadata(self.store, path) {
                    self.report.problems.push(problem(
                        ProblemKind::Metadata,
                        metadata_key(&**self.store, path),
                        format!("consolidated metadata: {e}"),
                    ));
                }
                self.children(path);
            }
        }
    }

    fn children(&mut self, path: &str) {
        let listing = match self.store.list_dir(path) {
            Ok(l) => l,
            Err(e) => {
                self.report.problems.push(problem(
                    ProblemKind::Store,
                    path.to_string(),
                    format!("cannot list: {e}"),
                ));
                return;
            }
        };
        for child in listing.prefixes {
            match hierarchy::read_node_dyn(&**self.store, &child) {
                Ok(Some(n)) => self.node(&child, n),
                Ok(None) => {}
                Err(e) => {
                    self.report.problems.push(problem(
                        ProblemKind::Metadata,
                        metadata_key(&**self.store, &child),
                        e.to_string(),
                    ));
                    self.descend_if_group(&child);
                }
            }
        }
    }

    /// After a metadata error: keep walking if the node claims to be a v2
    /// group (a broken group must not hide the arrays under it).
    fn descend_if_group(&mut self, path: &str) {
        let has = |name: &str| matches!(self.store.size(&join_key(path, name)), Ok(Some(_)));
        if has(".zgroup") && !has(".zarray") && !has("zarr.json") {
            self.children(path);
        }
    }

    fn array(&mut self, path: &str, meta: ArrayMetadata) {
        let store = self.store;
        let chunks = match Array::from_metadata(
            store,
            path,
            meta.clone(),
            Mode::Read,
            &crate::engine::OpenOptions::default(),
        )
        .and_then(|a| a.stored_chunks())
        {
            Ok(c) => c,
            Err(e) => {
                self.report.problems.push(problem(
                    ProblemKind::Store,
                    path.to_string(),
                    format!("cannot list the chunks: {e}"),
                ));
                return;
            }
        };
        let spec = meta.cell_spec();
        let outcomes: Vec<(String, u64, std::result::Result<Outcome, Error>)> =
            pool::install(|| {
                chunks
                    .par_iter()
                    .map(|c| match store.get(&c.key) {
                        Ok(None) => (c.key.clone(), 0, Ok(Outcome::Ok { inner: 0 })),
                        Ok(Some(b)) => (
                            c.key.clone(),
                            b.len() as u64,
                            Ok(check_value(&meta, &spec, &b)),
                        ),
                        Err(e) => (c.key.clone(), 0, Err(e.into())),
                    })
                    .collect()
            });
        for (key, nbytes, outcome) in outcomes {
            self.report.chunks += 1;
            self.report.bytes += nbytes;
            match outcome {
                Err(e) => self.report.problems.push(problem(
                    ProblemKind::Store,
                    key,
                    format!("cannot read: {e}"),
                )),
                Ok(Outcome::Ok { inner }) => self.report.inner_chunks += inner,
                Ok(Outcome::Corrupt(detail)) => {
                    let action = self.delete_chunk(&key);
                    self.report.problems.push(Problem {
                        kind: ProblemKind::CorruptChunk,
                        key,
                        inner_chunk: None,
                        detail,
                        action,
                    });
                }
                Ok(Outcome::Inner { inner, bad }) => {
                    self.report.inner_chunks += inner;
                    let action = self.clear_inner(&meta, &spec, &key, &bad);
                    for (i, detail) in bad {
                        self.report.problems.push(Problem {
                            kind: ProblemKind::CorruptInnerChunk,
                            key: key.clone(),
                            inner_chunk: Some(i),
                            detail,
                            action: action.clone(),
                        });
                    }
                }
            }
        }
    }

    fn delete_chunk(&self, key: &str) -> Action {
        if !(self.opts.repair && self.opts.delete_corrupt) {
            return Action::None;
        }
        match self.store.delete(key) {
            Ok(()) => Action::Deleted,
            Err(e) => Action::Failed(e.to_string()),
        }
    }

    /// Rewrites a shard with the index entries of `bad` inner chunks cleared
    /// (every other byte, and so every healthy inner chunk, is kept as is).
    fn clear_inner(
        &self,
        meta: &ArrayMetadata,
        spec: &ChunkSpec,
        key: &str,
        bad: &[(usize, String)],
    ) -> Action {
        if !(self.opts.repair && self.opts.delete_corrupt) {
            return Action::None;
        }
        match rewrite_shard(&**self.store, meta, spec, key, bad) {
            Ok(a) => a,
            Err(e) => Action::Failed(e),
        }
    }
}

fn rewrite_shard(
    store: &dyn Store,
    meta: &ArrayMetadata,
    spec: &ChunkSpec,
    key: &str,
    bad: &[(usize, String)],
) -> std::result::Result<Action, String> {
    let sh = pure_sharding(&meta.codecs).ok_or("not a sharded array")?;
    let bytes = store
        .get(key)
        .map_err(|e| e.to_string())?
        .ok_or("the shard vanished")?;
    let index_bytes = sh
        .index_bytes(&bytes, &spec.shape)
        .map_err(|e| e.to_string())?;
    let mut index = sh
        .decode_index(index_bytes, &spec.shape)
        .map_err(|e| e.to_string())?;
    for &(i, _) in bad {
        if let Some(e) = index.entries.get_mut(i) {
            *e = (EMPTY, EMPTY);
        }
    }
    if index.entries.iter().all(|&(o, n)| o == EMPTY && n == EMPTY) {
        store.delete(key).map_err(|e| e.to_string())?;
        return Ok(Action::Deleted);
    }
    let grid = sh.inner_grid(&spec.shape);
    let mut shape = grid.clone();
    shape.push(2);
    let index_spec = ChunkSpec {
        shape,
        dtype: DataType::UInt64,
        fill: FillValue::zero(DataType::UInt64),
    };
    let mut raw = Vec::with_capacity(index.entries.len() * 16);
    for &(o, n) in &index.entries {
        raw.extend_from_slice(&u64_to_native(o));
        raw.extend_from_slice(&u64_to_native(n));
    }
    let new_index = sh
        .index_codecs
        .encode(&raw, &index_spec)
        .map_err(|e| e.to_string())?;
    if new_index.len() != index_bytes.len() {
        return Err("the re-encoded index has a different size".into());
    }
    let mut out = bytes.to_vec();
    let at = match sh.index_location {
        crate::codec::IndexLocation::Start => 0,
        crate::codec::IndexLocation::End => out.len() - new_index.len(),
    };
    out[at..at + new_index.len()].copy_from_slice(&new_index);
    // The rewritten shard must decode in full before it replaces the old one.
    decode(&meta.codecs, spec, &out).map_err(|e| format!("rewritten shard: {e}"))?;
    store.set(key, &out).map_err(|e| e.to_string())?;
    Ok(Action::EntryCleared)
}

/// The writer pid in a temporary's name (`.x.zarrcore-tmp.PID.N`).
fn temp_pid(name: &str) -> Option<u32> {
    let rest = &name[name.find(TEMP_MARKER)? + TEMP_MARKER.len()..];
    rest.split('.').next()?.parse().ok()
}

/// Whether process `pid` is running and started no later than `mtime` (a
/// process started after the file was last written cannot be its writer: the
/// pid was reused).
fn writer_alive(pid: u32, mtime: Option<std::time::SystemTime>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let (Some(start), Some(mtime)) = (process_start(&stat), mtime) else {
        return true;
    };
    // One second of slack for the clock-tick resolution of the start time.
    start <= mtime + std::time::Duration::from_secs(1)
}

/// The start time of a process from its `/proc/PID/stat` line.
fn process_start(stat: &str) -> Option<std::time::SystemTime> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after the command: state is field 3, starttime field 22.
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    let secs = btime.checked_add(ticks / hz)?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::symlink_metadata(p).ok()?.modified().ok()
}

fn directory_temporaries(
    store: &DirectoryStore,
    path: &str,
    opts: CheckOptions,
    report: &mut CheckReport,
) -> Result<()> {
    let temps = match store.list_temporaries(path) {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(problem(
                ProblemKind::Store,
                path.to_string(),
                format!("cannot list temporaries: {e}"),
            ));
            return Ok(());
        }
    };
    for key in temps {
        let name = key.rsplit('/').next().unwrap_or(&key);
        if let Some(pid) = temp_pid(name) {
            if writer_alive(pid, mtime(&store.root().join(&key))) {
                report.active_temporaries.push(ActiveTemporary { key, pid });
                continue;
            }
        }
        let action = if opts.repair {
            match store.remove_temporary(&key) {
                Ok(()) => Action::Removed,
                Err(e) => Action::Failed(e.to_string()),
            }
        } else {
            Action::None
        };
        report.problems.push(Problem {
            kind: ProblemKind::Temporary,
            key,
            inner_chunk: None,
            detail: "leftover temporary file of an interrupted write".into(),
            action,
        });
    }
    Ok(())
}

/// Staging directories (`.NAME.zarrcore-tmp.PID.staging/`) and half-built
/// archives (`.NAME.zarrcore-tmp.PID.zip`) beside a zip store.
fn zip_temporaries(zip: &Path, opts: CheckOptions, report: &mut CheckReport) -> Result<()> {
    let Some(name) = zip.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let dir = match zip.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}{TEMP_MARKER}");
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            report.problems.push(problem(
                ProblemKind::Store,
                dir.display().to_string(),
                format!("cannot list temporaries: {e}"),
            ));
            return Ok(());
        }
    };
    let mut found: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            n.starts_with(&prefix).then(|| (n, e.path()))
        })
        .collect();
    found.sort();
    for (fname, p) in found {
        if let Some(pid) = temp_pid(&fname) {
            if writer_alive(pid, mtime(&p)) {
                report
                    .active_temporaries
                    .push(ActiveTemporary { key: fname, pid });
                continue;
            }
        }
        let is_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        let action = if opts.repair {
            let r = if is_dir {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match r {
                Ok(()) => Action::Removed,
                Err(e) => Action::Failed(e.to_string()),
            }
        } else {
            Action::None
        };
        report.problems.push(Problem {
            kind: ProblemKind::Temporary,
            key: fname,
            inner_chunk: None,
            detail: if is_dir {
                "leftover staging directory of an interrupted zip write".into()
            } else {
                "leftover temporary archive of an interrupted zip write".into()
            },
            action,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert_eq!(temp_pid(".0.zarrcore-tmp.1234.7"), Some(1234));
        assert_eq!(temp_pid(".x.zip.zarrcore-tmp.99.staging"), Some(99));
        assert_eq!(temp_pid(".x.zarrcore-tmp.abc.1"), None);
        assert_eq!(temp_pid("plain"), None);
    }

    #[test]
    fn process_liveness() {
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        let start = process_start(&me).unwrap();
        assert!(start <= std::time::SystemTime::now());
        // A file written before this process started is not ours.
        assert!(!writer_alive(
            1,
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1))
        ));
        // An unused pid is not alive.
        assert!(!writer_alive(u32::MAX - 1, None));
    }
}

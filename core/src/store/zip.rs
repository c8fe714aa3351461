//! A store in a zip file (as zarr-python's `ZipStore` writes them).
//!
//! Reading: the central directory is read once; values of *stored* entries
//! are read with positioned reads straight from the file (so byte ranges cost
//! only what they fetch); *deflated* entries are inflated whole.
//!
//! Writing: a zip cannot be updated in place safely, so writes go to a
//! staging directory beside the file (`.NAME.zarrcore-tmp.PID.staging/`) and
//! [`Store::flush`] (or dropping the store) builds a complete new zip next to
//! the old one and renames it into place: readers of the file see either
//! the old archive or the new one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use super::directory::DirectoryStore;
use super::key::{validate_key, TEMP_MARKER};
use super::lock::{lock_node_on, slot_of, Group, ModeLock};
use super::memory::list_dir_from_keys;
use super::{
    ByteRange, Bytes, Concurrency, Generation, ListDir, NodeAccess, Store, StoreError, StoreOptions,
};

/// A generation from the content alone (stores without file identities).
pub(crate) fn content_generation(v: Option<&[u8]>) -> Generation {
    match v {
        None => Generation::Absent,
        Some(b) => Generation::Tag(format!("{}:{:08x}", b.len(), crc32c::crc32c(b))),
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    data_start: u64,
    compressed: u64,
    size: u64,
    deflated: bool,
}

#[derive(Debug)]
struct Archive {
    file: File,
    /// The zip file's length: no entry's data may reach past it.
    file_len: u64,
    entries: BTreeMap<String, Entry>,
}

#[allow(clippy::enum_variant_names)]
enum Staged {
    Value(Bytes),
    Deleted,
    Absent,
}

#[derive(Debug)]
struct Staging {
    dir: PathBuf,
    store: DirectoryStore,
    deleted: BTreeSet<String>,
    dirty: bool,
}

/// Distinguishes the staging areas of handles in one process.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(0);

/// A zip-file store.
#[derive(Debug)]
pub struct ZipStore {
    path: PathBuf,
    /// `PID.N`, unique to this handle: names its staging area and temporaries.
    handle: String,
    archive: RwLock<Option<Archive>>,
    staging: Mutex<Option<Staging>>,
    writable: bool,
    /// Held while writable: one writer process per zip file.
    _writer: Option<Arc<ModeLock>>,
    /// Serialises conditional writes of this handle.
    cas: Mutex<()>,
}

/// The writer locks of zip files this process holds (several handles of
/// one process share one; another process is refused).
static WRITERS: Mutex<Option<HashMap<PathBuf, Weak<ModeLock>>>> = Mutex::new(None);

/// The directory holding the zip file, for its locks (the zip itself is
/// replaced by rename on every flush, so it cannot carry them), and the
/// lock slot of `what` in it.
fn lock_place(path: &Path, what: &str) -> Result<(File, u64), StoreError> {
    let abs = path.canonicalize().or_else(|_| {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        parent
            .canonicalize()
            .map(|p| p.join(path.file_name().unwrap_or_default()))
    });
    let abs = abs.map_err(|e| open_err(path, format!("cannot resolve its directory: {e}")))?;
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let f = File::open(dir)
        .map_err(|e| open_err(path, format!("cannot open its directory for locking: {e}")))?;
    Ok((f, slot_of(&format!("{}\n{what}", abs.display()))))
}

fn writer_lock(path: &Path) -> Result<Arc<ModeLock>, StoreError> {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut guard = WRITERS.lock();
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(l) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(l);
    }
    let (dir, slot) = lock_place(path, "")?;
    match ModeLock::acquire(dir, slot, Group::SoleWriter, None) {
        Ok(Ok(l)) => {
            let l = Arc::new(l);
            map.retain(|_, w| w.strong_count() > 0);
            map.insert(key, Arc::downgrade(&l));
            Ok(l)
        }
        Ok(Err(holder)) => Err(holder.into_error(&path.display().to_string())),
        Err(e) => Err(open_err(path, format!("cannot lock: {e}"))),
    }
}

fn open_err(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::Open {
        location: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_archive(path: &Path) -> Result<Archive, StoreError> {
    let file = File::open(path).map_err(|e| open_err(path, e))?;
    let mut za = zip::ZipArchive::new(file.try_clone().map_err(|e| open_err(path, e))?)
        .map_err(|e| open_err(path, format!("not a readable zip file: {e}")))?;
    let mut entries = BTreeMap::new();
    for i in 0..za.len() {
        let f = za
            .by_index_raw(i)
            .map_err(|e| open_err(path, format!("zip entry {i}: {e}")))?;
        if f.is_dir() {
            continue;
        }
        let name = f
            .name()
            .map_err(|e| open_err(path, format!("zip entry {i}: {e}")))?
            .to_string();
        let deflated = match f.compression() {
            zip::CompressionMethod::Stored => false,
            zip::CompressionMethod::Deflated => true,
            other => {
                return Err(open_err(
                    path,
                    format!("zip entry {name:?} uses unsupported compression {other:?}"),
                ))
            }
        };
        let data_start = f
            .data_start()
            .ok_or_else(|| open_err(path, format!("zip entry {name:?} has no data offset")))?;
        if validate_key(&name).is_err() {
            // Entries with names that are not valid keys ("../x", "/abs")
            // can never be addressed; skip them rather than expose them.
            continue;
        }
        entries.insert(
            name,
            Entry {
                data_start,
                compressed: f.compressed_size(),
                size: f.size(),
                deflated,
            },
        );
    }
    let file_len = file.metadata().map_err(|e| open_err(path, e))?.len();
    Ok(Archive {
        file,
        file_len,
        entries,
    })
}

impl ZipStore {
    /// Opens a zip store; with `opts.create` (or `writable`) a missing file is
    /// created on the first flush.
    pub fn open(path: impl AsRef<Path>, opts: StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writable = opts.writable || opts.create;
        let archive = if path.exists() {
            Some(read_archive(&path)?)
        } else if writable {
            None
        } else {
            return Err(open_err(&path, "no such file"));
        };
        let writer = if writable {
            Some(writer_lock(&path)?)
        } else {
            None
        };
        Ok(ZipStore {
            path,
            handle: format!(
                "{}.{}",
                std::process::id(),
                NEXT_HANDLE.fetch_add(1, Ordering::Relaxed)
            ),
            archive: RwLock::new(archive),
            staging: Mutex::new(None),
            writable,
            _writer: writer,
            cas: Mutex::new(()),
        })
    }

    fn staging_dir(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        self.path
            .with_file_name(format!(".{name}{TEMP_MARKER}{}.staging", self.handle))
    }

    fn with_staging<T>(
        &self,
        key: &str,
        op: &'static str,
        f: impl FnOnce(&mut Staging) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if !self.writable {
            return Err(StoreError::ReadOnly {
                store: self.describe(),
                op,
                key: key.to_string(),
            });
        }
        let mut guard = self.staging.lock();
        if guard.is_none() {
            let dir = self.staging_dir();
            let store = DirectoryStore::open(&dir, StoreOptions::create())?;
            *guard = Some(Staging {
                dir,
                store,
                deleted: BTreeSet::new(),
                dirty: false,
            });
        }
        let st = guard.as_mut().ok_or_else(|| StoreError::Backend {
            key: key.to_string(),
            message: "no staging area".into(),
        })?;
        f(st)
    }

    fn staged(&self, key: &str) -> Result<Staged, StoreError> {
        let guard = self.staging.lock();
        if let Some(st) = guard.as_ref() {
            if let Some(v) = st.store.get(key)? {
                return Ok(Staged::Value(v));
            }
            if st.deleted.contains(key) {
                return Ok(Staged::Deleted);
            }
        }
        Ok(Staged::Absent)
    }

    fn archive_get(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<Option<Bytes>, StoreError> {
        let guard = self.archive.read();
        let Some(ar) = guard.as_ref() else {
            return Ok(None);
        };
        let Some(e) = ar.entries.get(key).copied() else {
            return Ok(None);
        };
        let (start, end) = match range {
            None => (0, e.size),
            Some(r) => r
                .resolve(e.size)
                .ok_or_else(|| StoreError::RangeOutOfBounds {
                    key: key.to_string(),
                    range: r.to_string(),
                    size: e.size,
                })?,
        };
        // Sizes come from the (untrusted) central directory: check them
        // against the file before allocating anything.
        let bad = |what: String| StoreError::Backend {
            key: key.to_string(),
            message: format!("corrupt zip entry: {what}"),
        };
        if e.data_start
            .checked_add(e.compressed)
            .is_none_or(|end| end > ar.file_len)
        {
            return Err(bad(format!(
                "{} bytes at offset {} lie outside the {}-byte file",
                e.compressed, e.data_start, ar.file_len
            )));
        }
        if !e.deflated && e.size != e.compressed {
            return Err(bad(format!(
                "stored entry of {} bytes claims {} bytes",
                e.compressed, e.size
            )));
        }
        if !e.deflated {
            let mut buf = vec![0u8; (end - start) as usize];
            ar.file
                .read_exact_at(&mut buf, e.data_start + start)
                .map_err(|err| StoreError::io(key, "read", err))?;
            return Ok(Some(Bytes::from(buf)));
        }
        let mut comp = vec![0u8; e.compressed as usize];
        ar.file
            .read_exact_at(&mut comp, e.data_start)
            .map_err(|err| StoreError::io(key, "read", err))?;
        // DEFLATE expands at most 1032:1; the claimed size is only a hint.
        let cap = e
            .size
            .min(e.compressed.saturating_mul(1032).saturating_add(64));
        let mut out = Vec::with_capacity(cap as usize);
        flate2::read::DeflateDecoder::new(&comp[..])
            .take(e.size)
            .read_to_end(&mut out)
            .map_err(|err| StoreError::io(key, "inflate", err))?;
        if out.len() as u64 != e.size {
            return Err(StoreError::Backend {
                key: key.to_string(),
                message: format!(
                    "zip entry inflated to {} bytes, expected {}",
                    out.len(),
                    e.size
                ),
            });
        }
        Ok(Some(Bytes::from(out).slice(start as usize..end as usize)))
    }

    fn all_keys(&self) -> Result<Vec<String>, StoreError> {
        match self.staging.lock().as_ref() {
            Some(st) => self.all_keys_locked(st),
            None => Ok(self
                .archive
                .read()
                .as_ref()
                .map(|a| a.entries.keys().cloned().collect())
                .unwrap_or_default()),
        }
    }

    /// Writes the archive (old entries not deleted or replaced, plus staged
    /// values) to a temporary file and renames it over the zip.
    fn rebuild(&self, st: &mut Staging) -> Result<(), StoreError> {
        // Start from the archive as it is now: another handle may have
        // rebuilt it since this one read it.
        if self.path.exists() {
            *self.archive.write() = Some(read_archive(&self.path)?);
        }
        let keys = self.all_keys_locked(st)?;
        let tmp = self.path.with_file_name(format!(
            ".{}{TEMP_MARKER}{}.zip",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            self.handle
        ));
        let loc = self.path.display().to_string();
        let result = (|| -> Result<(), StoreError> {
            let f = File::create(&tmp).map_err(|e| StoreError::io(&loc, "write zip", e))?;
            let mut w = zip::ZipWriter::new(io::BufWriter::new(f));
            for k in &keys {
                let v = match st.store.get(k)? {
                    Some(v) => v,
                    None => self.archive_get(k, None)?.unwrap_or_default(),
                };
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(v.len() as u64 >= u32::MAX as u64);
                w.start_file(k.as_str(), opts)
                    .map_err(|e| StoreError::Backend {
                        key: k.clone(),
                        message: e.to_string(),
                    })?;
                w.write_all(&v)
                    .map_err(|e| StoreError::io(k, "write zip", e))?;
            }
            let mut inner = w.finish().map_err(|e| StoreError::Backend {
                key: loc.clone(),
                message: e.to_string(),
            })?;
            inner
                .flush()
                .map_err(|e| StoreError::io(&loc, "write zip", e))?;
            let f = inner
                .into_inner()
                .map_err(|e| StoreError::io(&loc, "write zip", e.into_error()))?;
            f.sync_all()
                .map_err(|e| StoreError::io(&loc, "fsync zip", e))?;
            std::fs::rename(&tmp, &self.path).map_err(|e| StoreError::io(&loc, "rename zip", e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return result;
        }
        *self.archive.write() = Some(read_archive(&self.path)?);
        st.store.delete_prefix("")?;
        st.deleted.clear();
        st.dirty = false;
        Ok(())
    }

    fn all_keys_locked(&self, st: &Staging) -> Result<Vec<String>, StoreError> {
        let mut keys: BTreeSet<String> = self
            .archive
            .read()
            .as_ref()
            .map(|a| a.entries.keys().cloned().collect())
            .unwrap_or_default();
        for k in &st.deleted {
            keys.remove(k);
        }
        keys.extend(st.store.list_prefix("")?);
        Ok(keys.into_iter().collect())
    }
}

impl Drop for ZipStore {
    fn drop(&mut self) {
        let mut guard = self.staging.lock();
        if let Some(mut st) = guard.take() {
            if st.dirty {
                if let Err(e) = self.rebuild(&mut st) {
                    eprintln!(
                        "zarrcore: could not write zip store {}: {e}",
                        self.path.display()
                    );
                }
            }
            let _ = std::fs::remove_dir_all(&st.dir);
        }
    }
}

impl Store for ZipStore {
    fn describe(&self) -> String {
        format!("zip {}", self.path.display())
    }

    fn identity(&self) -> String {
        let p = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        format!("zip://{}", p.display())
    }

    fn is_writable(&self) -> bool {
        self.writable
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        validate_key(key)?;
        match self.staged(key)? {
            Staged::Value(v) => Ok(Some(v)),
            Staged::Deleted => Ok(None),
            Staged::Absent => self.archive_get(key, None),
        }
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        validate_key(key)?;
        match self.staged(key)? {
            Staged::Value(v) => {
                let (s, e) =
                    range
                        .resolve(v.len() as u64)
                        .ok_or_else(|| StoreError::RangeOutOfBounds {
                            key: key.to_string(),
                            range: range.to_string(),
                            size: v.len() as u64,
                        })?;
                Ok(Some(v.slice(s as usize..e as usize)))
            }
            Staged::Deleted => Ok(None),
            Staged::Absent => self.archive_get(key, Some(range)),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        match self.staged(key)? {
            Staged::Value(v) => return Ok(Some(v.len() as u64)),
            Staged::Deleted => return Ok(None),
            Staged::Absent => {}
        }
        Ok(self
            .archive
            .read()
            .as_ref()
            .and_then(|a| a.entries.get(key).map(|e| e.size)))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        self.with_staging(key, "write", |st| {
            st.store.set(key, value)?;
            st.deleted.remove(key);
            st.dirty = true;
            Ok(())
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.with_staging(key, "delete", |st| {
            st.store.delete(key)?;
            st.deleted.insert(key.to_string());
            st.dirty = true;
            Ok(())
        })
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let p = prefix.trim_end_matches('/');
        if !p.is_empty() {
            validate_key(p)?;
        }
        let dir = if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
        let doomed: Vec<String> = self
            .all_keys()?
            .into_iter()
            .filter(|k| k.starts_with(&dir) || k == p)
            .collect();
        self.with_staging(p, "delete", |st| {
            for k in doomed {
                st.store.delete(&k)?;
                st.deleted.insert(k);
            }
            st.dirty = true;
            Ok(())
        })
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut v = self.all_keys()?;
        v.retain(|k| k.starts_with(prefix));
        Ok(v)
    }

    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        let p = prefix.trim_end_matches('/');
        let dir = if p.is_empty() {
            String::new()
        } else {
            validate_key(p)?;
            format!("{p}/")
        };
        Ok(list_dir_from_keys(self.list_prefix(&dir)?, &dir))
    }

    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        let v = self.get(key)?;
        let g = content_generation(v.as_deref());
        Ok((v, g))
    }

    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        // Other processes cannot write this zip (the writer lock), so
        // serialising this handle's writes is enough.
        let _cas = self.cas.lock();
        if content_generation(self.get(key)?.as_deref()) != *expected {
            return Ok(false);
        }
        match value {
            Some(v) => self.set(key, v)?,
            None => self.delete(key)?,
        }
        Ok(true)
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Atomic
    }

    fn lock_node(
        &self,
        node: &str,
        access: NodeAccess,
        wait: Option<std::time::Duration>,
    ) -> Result<Option<ModeLock>, StoreError> {
        let (dir, slot) = lock_place(&self.path, &format!("/{node}"))?;
        lock_node_on(dir, slot, node, access, wait)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut guard = self.staging.lock();
        match guard.as_mut() {
            Some(st) if st.dirty => self.rebuild(st),
            _ => Ok(()),
        }
    }
}

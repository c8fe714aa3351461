//! An in-memory store (`memory://NAME`), for tests and scratch work.
//!
//! Stores opened with the same name in one process share their contents;
//! the contents live as long as some handle does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use super::key::validate_key;
use super::{ByteRange, Bytes, Concurrency, Generation, ListDir, Store, StoreError};

/// An in-memory key/value store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    name: String,
    /// Values with a version number that is new for every `set`.
    map: RwLock<BTreeMap<String, (Bytes, u64)>>,
}

static VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static NAMED: Mutex<Option<HashMap<String, Weak<MemoryStore>>>> = Mutex::new(None);

impl MemoryStore {
    /// A new, private, empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The shared store called `name` (created empty on first use).
    pub fn named(name: &str) -> Arc<MemoryStore> {
        let mut guard = NAMED.lock();
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(s) = map.get(name).and_then(Weak::upgrade) {
            return s;
        }
        let s = Arc::new(MemoryStore {
            name: name.to_string(),
            map: RwLock::new(BTreeMap::new()),
        });
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(name.to_string(), Arc::downgrade(&s));
        s
    }
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        format!("memory://{}", self.name)
    }

    fn identity(&self) -> String {
        format!("memory://{}#{:p}", self.name, self as *const Self)
    }

    fn is_writable(&self) -> bool {
        true
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        validate_key(key)?;
        Ok(self.map.read().get(key).map(|(b, _)| b.clone()))
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let (s, e) = range
            .resolve(v.len() as u64)
            .ok_or_else(|| StoreError::RangeOutOfBounds {
                key: key.to_string(),
                range: range.to_string(),
                size: v.len() as u64,
            })?;
        Ok(Some(v.slice(s as usize..e as usize)))
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.get(key)?.map(|v| v.len() as u64))
    }

    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        Ok(self.map.read().get(key).map(|(_, v)| *v))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        let version = VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.map
            .write()
            .insert(key.to_string(), (Bytes::copy_from_slice(value), version));
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.map.write().remove(key);
        Ok(())
    }

    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        validate_key(key)?;
        Ok(match self.map.read().get(key) {
            Some((b, v)) => (Some(b.clone()), Generation::Tag(v.to_string())),
            None => (None, Generation::Absent),
        })
    }

    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        validate_key(key)?;
        let mut map = self.map.write();
        let current = match map.get(key) {
            Some((_, v)) => Generation::Tag(v.to_string()),
            None => Generation::Absent,
        };
        if current != *expected {
            return Ok(false);
        }
        match value {
            Some(value) => {
                let version = VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                map.insert(key.to_string(), (Bytes::copy_from_slice(value), version));
            }
            None => {
                map.remove(key);
            }
        }
        Ok(true)
    }

    fn concurrency(&self) -> Concurrency {
        // Only this process sees a memory store.
        Concurrency::Atomic
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let p = prefix.trim_end_matches('/');
        let dir = if p.is_empty() {
            String::new()
        } else {
            validate_key(p)?;
            format!("{p}/")
        };
        self.map
            .write()
            .retain(|k, _| !(k.starts_with(&dir) || (!p.is_empty() && k == p)));
        Ok(())
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .map
            .read()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
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
}

/// Groups a sorted list of keys under `dir` (empty or ending in `/`) into
/// immediate keys and child prefixes.
pub(crate) fn list_dir_from_keys(keys: impl IntoIterator<Item = String>, dir: &str) -> ListDir {
    let mut out = ListDir::default();
    for k in keys {
        let Some(rest) = k.strip_prefix(dir) else {
            continue;
        };
        match rest.split_once('/') {
            Some((child, _)) => {
                let p = format!("{dir}{child}");
                if out.prefixes.last() != Some(&p) {
                    out.prefixes.push(p);
                }
            }
            None => out.keys.push(k.clone()),
        }
    }
    out.prefixes.dedup();
    out
}

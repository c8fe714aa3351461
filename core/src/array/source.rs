//! Where the encoded bytes of a chunk come from: a store key (or a byte range
//! of one, for inner chunks of shards), or bytes already fetched.

use crate::error::{CodecError, Error, Result};
use crate::store::{ByteRange, Bytes, Store};

/// A readable span of encoded bytes.
#[derive(Clone)]
pub(crate) enum Source<'a> {
    /// `key` in `store`, from `offset`, `len` bytes (`None`: to the end).
    Store {
        store: &'a dyn Store,
        key: &'a str,
        offset: u64,
        len: Option<u64>,
    },
    /// Bytes in memory.
    Bytes(Bytes),
}

fn outside(key: &str, what: String) -> Error {
    Error::chunk(key, CodecError::new("sharding_indexed", what))
}

impl<'a> Source<'a> {
    /// A whole stored value.
    pub fn key(store: &'a dyn Store, key: &'a str) -> Self {
        Source::Store {
            store,
            key,
            offset: 0,
            len: None,
        }
    }

    /// All bytes of the span (`None` if the stored key is missing).
    pub fn get_all(&self) -> Result<Option<Bytes>> {
        match self {
            Source::Bytes(b) => Ok(Some(b.clone())),
            Source::Store {
                store,
                key,
                offset: 0,
                len: None,
            } => Ok(store.get(key)?),
            Source::Store {
                store,
                key,
                offset,
                len,
            } => {
                let r = match len {
                    Some(l) => ByteRange::Range {
                        offset: *offset,
                        len: *l,
                    },
                    None => {
                        let size = store.size(key)?.unwrap_or(0);
                        ByteRange::Range {
                            offset: *offset,
                            len: size.saturating_sub(*offset),
                        }
                    }
                };
                Ok(store.get_range(key, r)?)
            }
        }
    }

    /// A byte range of the span.
    pub fn get_range(&self, r: ByteRange, key: &str) -> Result<Option<Bytes>> {
        match self {
            Source::Bytes(b) => {
                let (s, e) = r
                    .resolve(b.len() as u64)
                    .ok_or_else(|| outside(key, format!("range {r} outside {} bytes", b.len())))?;
                Ok(Some(b.slice(s as usize..e as usize)))
            }
            Source::Store {
                store,
                key: k,
                offset: 0,
                len: None,
            } => Ok(store.get_range(k, r)?),
            Source::Store {
                store,
                key: k,
                offset,
                len: Some(len),
            } => {
                let (s, e) = r
                    .resolve(*len)
                    .ok_or_else(|| outside(key, format!("range {r} outside {len} bytes")))?;
                Ok(store.get_range(
                    k,
                    ByteRange::Range {
                        offset: offset + s,
                        len: e - s,
                    },
                )?)
            }
            Source::Store { .. } => {
                let all = self.get_all()?;
                match all {
                    None => Ok(None),
                    Some(b) => Source::Bytes(b).get_range(r, key),
                }
            }
        }
    }

    /// A sub-span `[offset, offset + len)` of this span.
    pub fn sub(&self, offset: u64, len: u64, key: &str) -> Result<Source<'a>> {
        match self {
            Source::Bytes(b) => {
                let end = offset
                    .checked_add(len)
                    .filter(|&e| e <= b.len() as u64)
                    .ok_or_else(|| {
                        outside(
                            key,
                            format!(
                                "inner chunk at offset {offset} ({len} bytes) lies outside the shard of {} bytes",
                                b.len()
                            ),
                        )
                    })?;
                Ok(Source::Bytes(b.slice(offset as usize..end as usize)))
            }
            Source::Store {
                store,
                key: k,
                offset: base,
                len: outer,
            } => {
                if let Some(outer) = outer {
                    if offset.checked_add(len).is_none_or(|e| e > *outer) {
                        return Err(outside(
                            key,
                            format!(
                                "inner chunk at offset {offset} ({len} bytes) lies outside its shard of {outer} bytes"
                            ),
                        ));
                    }
                }
                let abs = base.checked_add(offset).ok_or_else(|| {
                    outside(key, format!("inner chunk offset {offset} overflows"))
                })?;
                Ok(Source::Store {
                    store: *store,
                    key: k,
                    offset: abs,
                    len: Some(len),
                })
            }
        }
    }
}

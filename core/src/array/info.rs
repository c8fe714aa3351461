//! What is stored for an array: its chunk (or shard) objects and their sizes.

use super::Array;
use crate::error::Result;
use crate::metadata::ArrayMetadata;
use crate::store::{join_key, StoreRef};

/// One stored grid cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    /// Grid index.
    pub cell: Vec<u64>,
    /// Store key.
    pub key: String,
    /// Stored (encoded) size in bytes.
    pub size: u64,
}

/// Summary of an array's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageSummary {
    /// Grid cells in the array (chunks, or shards when sharded).
    pub total_cells: u64,
    /// Cells present in the store.
    pub stored_cells: u64,
    /// Bytes stored for them.
    pub stored_bytes: u64,
    /// Uncompressed size of the whole array.
    pub uncompressed_bytes: u64,
}

impl Array {
    /// Every stored chunk (or shard) of the array, in key order. Keys that are
    /// not chunk keys of this array (metadata, strays) are ignored.
    pub fn stored_chunks(&self) -> Result<Vec<StoredChunk>> {
        stored_chunks_of(self.store(), self.path(), &self.metadata())
    }

    /// Counts and sizes of what is stored.
    pub fn storage_summary(&self) -> Result<StorageSummary> {
        storage_summary_of(self.store(), self.path(), &self.metadata())
    }
}

/// [`Array::storage_summary`] of the array at `path` with metadata `meta`,
/// without opening a handle (so without joining the array's readers, which
/// would make a writer in another process wait).
pub fn storage_summary_of(
    store: &StoreRef,
    path: &str,
    meta: &ArrayMetadata,
) -> Result<StorageSummary> {
    let chunks = stored_chunks_of(store, path, meta)?;
    Ok(StorageSummary {
        total_cells: crate::nd::checked_num_elements(&meta.grid_shape()).unwrap_or(0),
        stored_cells: chunks.len() as u64,
        stored_bytes: chunks.iter().map(|c| c.size).sum(),
        uncompressed_bytes: crate::nd::checked_num_elements(&meta.shape).unwrap_or(0)
            * meta.data_type.size() as u64,
    })
}

fn stored_chunks_of(
    store: &StoreRef,
    path: &str,
    meta: &ArrayMetadata,
) -> Result<Vec<StoredChunk>> {
    {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let grid = meta.grid_shape();
        let mut out = Vec::new();
        for key in store.list_prefix(&prefix)? {
            let rel = &key[prefix.len()..];
            let Some(cell) = meta.chunk_key_encoding.decode(rel, meta.ndim()) else {
                continue;
            };
            if cell.iter().zip(&grid).any(|(&c, &g)| c >= g) {
                continue;
            }
            // Skip keys of nested nodes that happen to look like chunk keys.
            if join_key(path, rel) != key {
                continue;
            }
            let size = store.size(&key)?.unwrap_or(0);
            out.push(StoredChunk { cell, key, size });
        }
        Ok(out)
    }
}

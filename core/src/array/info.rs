//! What is stored for an array: its chunk (or shard) objects and their sizes.

use super::Array;
use crate::error::Result;
use crate::store::join_key;

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
        let meta = self.metadata();
        let store = self.store();
        let prefix = if self.path().is_empty() {
            String::new()
        } else {
            format!("{}/", self.path())
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
            if join_key(self.path(), rel) != key {
                continue;
            }
            let size = store.size(&key)?.unwrap_or(0);
            out.push(StoredChunk { cell, key, size });
        }
        Ok(out)
    }

    /// Counts and sizes of what is stored.
    pub fn storage_summary(&self) -> Result<StorageSummary> {
        let meta = self.metadata();
        let chunks = self.stored_chunks()?;
        Ok(StorageSummary {
            total_cells: crate::nd::checked_num_elements(&meta.grid_shape()).unwrap_or(0),
            stored_cells: chunks.len() as u64,
            stored_bytes: chunks.iter().map(|c| c.size).sum(),
            uncompressed_bytes: self.num_bytes(),
        })
    }
}

//! The resume journal of a copy: which destination cells are finished.
//!
//! The journal is one small value stored beside the destination array's
//! chunks (key [`JOURNAL_NAME`] under the array's path), so it lives in the
//! same store as the chunks and shares its atomicity and durability: a
//! directory store replaces it atomically (write, rename), a zip store keeps
//! it with the staged chunks until the archive is rebuilt.
//!
//! It holds a fingerprint of the copy (source and destination metadata,
//! region, permutation, casting) and a bitmap with one bit per destination
//! cell, set only after the cell's `Store::set` (or `delete`, for a cell that
//! is all fill value) has returned. The copy rewrites the journal every few
//! seconds; cells finished after the last rewrite are simply redone on resume.
//! Encoding is deterministic, so redoing a cell stores the same bytes, and
//! a resumed copy ends with exactly the store an uninterrupted one leaves.
//! The journal is deleted when the copy completes.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::{Error, MetadataError, Result};
use crate::store::{join_key, Store};

/// Name of the journal key inside the destination array.
pub const JOURNAL_NAME: &str = ".zarrcore-copy-journal.json";

/// The set of finished destination cells (shared by the workers).
#[derive(Debug)]
pub struct Journal {
    key: String,
    fingerprint: Value,
    cells: u64,
    words: Vec<AtomicU64>,
}

impl Journal {
    /// An empty journal for `cells` cells of the array at `dst_path`.
    pub fn new(dst_path: &str, fingerprint: Value, cells: u64) -> Result<Journal> {
        let n = usize::try_from(cells.div_ceil(64))
            .map_err(|_| Error::invalid(format!("{cells} destination cells is too many")))?;
        Ok(Journal {
            key: join_key(dst_path, JOURNAL_NAME),
            fingerprint,
            cells,
            words: (0..n).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The store key of the journal.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Loads the journal stored for this copy; `Ok(false)` if there is none.
    /// A journal of a different copy (fingerprint or size differs) is an
    /// error naming the difference.
    pub fn load(&self, store: &dyn Store) -> Result<bool> {
        let Some(bytes) = store.get(&self.key)? else {
            return Ok(false);
        };
        let bad = |reason: String| -> Error {
            MetadataError::Invalid {
                key: self.key.clone(),
                reason,
            }
            .into()
        };
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("copy journal is not valid JSON: {e}")))?;
        if doc.get("zarrcore_copy_journal").and_then(Value::as_u64) != Some(1) {
            return Err(bad("not a version-1 zarrcore copy journal".into()));
        }
        if doc.get("fingerprint") != Some(&self.fingerprint) {
            return Err(bad(
                "the interrupted copy had different options or a different source; \
                 it cannot be resumed by this one (start over without --resume, with --overwrite)"
                    .into(),
            ));
        }
        if doc.get("cells").and_then(Value::as_u64) != Some(self.cells) {
            return Err(bad("the journal's cell count differs".into()));
        }
        let raw = doc
            .get("done")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing \"done\" bitmap".into()))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| bad(format!("\"done\" is not base64: {e}")))?;
        if raw.len() != self.words.len() * 8 {
            return Err(bad(format!(
                "\"done\" has {} bytes, expected {}",
                raw.len(),
                self.words.len() * 8
            )));
        }
        for (w, b) in self.words.iter().zip(raw.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            w.store(u64::from_le_bytes(a), Ordering::Relaxed);
        }
        // Bits beyond the last cell must be clear.
        if let Some(last) = self.words.last() {
            let used = self.cells % 64;
            if used != 0 && last.load(Ordering::Relaxed) >> used != 0 {
                return Err(bad("\"done\" marks cells beyond the grid".into()));
            }
        }
        Ok(true)
    }

    /// Writes the journal (a snapshot of the finished cells).
    pub fn save(&self, store: &dyn Store) -> Result<()> {
        let mut raw = Vec::with_capacity(self.words.len() * 8);
        for w in &self.words {
            raw.extend_from_slice(&w.load(Ordering::Acquire).to_le_bytes());
        }
        let doc = json!({
            "zarrcore_copy_journal": 1,
            "fingerprint": self.fingerprint,
            "cells": self.cells,
            "done_count": self.done_count(),
            "done": base64::engine::general_purpose::STANDARD.encode(&raw),
        });
        let bytes = serde_json::to_vec(&doc).map_err(|e| Error::invalid(e.to_string()))?;
        store.set(&self.key, &bytes)?;
        Ok(())
    }

    /// Deletes the stored journal.
    pub fn remove(&self, store: &dyn Store) -> Result<()> {
        store.delete(&self.key)?;
        Ok(())
    }

    /// Whether cell `i` (C-order index in the destination grid) is finished.
    pub fn is_done(&self, i: u64) -> bool {
        self.words[(i / 64) as usize].load(Ordering::Acquire) & (1 << (i % 64)) != 0
    }

    /// Marks cell `i` finished.
    pub fn mark_done(&self, i: u64) {
        self.words[(i / 64) as usize].fetch_or(1 << (i % 64), Ordering::AcqRel);
    }

    /// Number of finished cells.
    pub fn done_count(&self) -> u64 {
        self.words
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn round_trip_and_mismatch() {
        let store = MemoryStore::named("journal-test");
        let j = Journal::new("a/b", json!({"x": 1}), 130).unwrap();
        assert!(!j.load(&*store).unwrap());
        j.mark_done(0);
        j.mark_done(64);
        j.mark_done(129);
        j.save(&*store).unwrap();
        let k = Journal::new("a/b", json!({"x": 1}), 130).unwrap();
        assert!(k.load(&*store).unwrap());
        assert!(k.is_done(0) && k.is_done(64) && k.is_done(129) && !k.is_done(1));
        assert_eq!(k.done_count(), 3);
        let other = Journal::new("a/b", json!({"x": 2}), 130).unwrap();
        let e = other.load(&*store).unwrap_err().to_string();
        assert!(e.contains("different options"), "{e}");
        k.remove(&*store).unwrap();
        assert!(!k.load(&*store).unwrap());
    }
}

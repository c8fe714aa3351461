//! The v3 `sharding_indexed` codec: a shard holds inner chunks, each encoded
//! with an inner chain, plus an index of `(offset, nbytes)` pairs (`u64`,
//! `2^64-1` for an empty inner chunk) encoded with the index chain, at the
//! start or the end of the shard.

use rayon::prelude::*;
use serde_json::{json, Value};

use super::{ChunkSpec, CodecChain};
use crate::dtype::{u64_from_native, u64_to_native, DataType};
use crate::engine::pool;
use crate::error::{CodecError, MetadataError};
use crate::fill::FillValue;
use crate::nd::{self, DisjointOut, Strides};

/// Where the index sits in a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLocation {
    /// Before the inner chunks.
    Start,
    /// After the inner chunks.
    End,
}

/// The sharding codec.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardingCodec {
    /// Inner chunk shape.
    pub chunk_shape: Vec<usize>,
    /// Chain of each inner chunk.
    pub codecs: CodecChain,
    /// Chain of the index.
    pub index_codecs: CodecChain,
    /// Where the index is.
    pub index_location: IndexLocation,
}

/// The empty-entry marker.
pub const EMPTY: u64 = u64::MAX;

/// A decoded shard index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    /// `(offset, nbytes)` per inner chunk, C order of the inner grid.
    pub entries: Vec<(u64, u64)>,
}

impl ShardIndex {
    /// The byte range of inner chunk `i`, `None` if it is empty.
    pub fn range(&self, i: usize) -> Option<(u64, u64)> {
        match self.entries.get(i) {
            Some(&(o, n)) if o != EMPTY || n != EMPTY => Some((o, n)),
            _ => None,
        }
    }
}

fn index_spec(n_inner: usize, grid: &[usize]) -> ChunkSpec {
    let mut shape = grid.to_vec();
    shape.push(2);
    debug_assert_eq!(nd::num_elements(&shape), n_inner * 2);
    ChunkSpec {
        shape,
        dtype: DataType::UInt64,
        fill: FillValue::from_native_bytes(DataType::UInt64, &[0xff; 8])
            .unwrap_or_else(|_| FillValue::zero(DataType::UInt64)),
    }
}

impl ShardingCodec {
    /// Parses the configuration for shards described by `spec`.
    pub(crate) fn from_config(
        cfg: &Value,
        spec: &ChunkSpec,
        key: &str,
    ) -> Result<Self, MetadataError> {
        let invalid = |reason: String| MetadataError::Invalid {
            key: key.to_string(),
            reason: format!("sharding_indexed: {reason}"),
        };
        let chunk_shape: Vec<usize> = cfg
            .get("chunk_shape")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("chunk_shape is required".into()))?
            .iter()
            .map(|v| v.as_u64().filter(|&x| x > 0).map(|x| x as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("chunk_shape must hold positive integers".into()))?;
        if chunk_shape.len() != spec.shape.len() {
            return Err(invalid(format!(
                "chunk_shape {chunk_shape:?} has {} dimensions, the shard has {}",
                chunk_shape.len(),
                spec.shape.len()
            )));
        }
        if spec
            .shape
            .iter()
            .zip(&chunk_shape)
            .any(|(&s, &c)| s % c != 0)
        {
            return Err(invalid(format!(
                "shard shape {:?} is not a multiple of the inner chunk shape {chunk_shape:?}",
                spec.shape
            )));
        }
        let inner_spec = ChunkSpec {
            shape: chunk_shape.clone(),
            ..spec.clone()
        };
        let codecs = CodecChain::from_v3_json(
            cfg.get("codecs")
                .ok_or_else(|| invalid("codecs is required".into()))?,
            &inner_spec,
            key,
        )?;
        let grid: Vec<usize> = spec
            .shape
            .iter()
            .zip(&chunk_shape)
            .map(|(&s, &c)| s / c)
            .collect();
        let n = nd::num_elements(&grid);
        let default_index =
            json!([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]);
        let index_codecs = CodecChain::from_v3_json(
            cfg.get("index_codecs").unwrap_or(&default_index),
            &index_spec(n, &grid),
            key,
        )?;
        if !index_codecs.fixed_size() {
            return Err(invalid(
                "index_codecs must have a fixed encoded size (bytes, crc32c, transpose)".into(),
            ));
        }
        let index_location = match cfg.get("index_location").and_then(Value::as_str) {
            None | Some("end") => IndexLocation::End,
            Some("start") => IndexLocation::Start,
            Some(other) => return Err(invalid(format!("index_location {other:?}"))),
        };
        Ok(ShardingCodec {
            chunk_shape,
            codecs,
            index_codecs,
            index_location,
        })
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "sharding_indexed", "configuration": {
            "chunk_shape": self.chunk_shape,
            "codecs": self.codecs.to_v3_json(),
            "index_codecs": self.index_codecs.to_v3_json(),
            "index_location": match self.index_location { IndexLocation::Start => "start", IndexLocation::End => "end" },
        }})
    }

    /// Inner chunks per dimension of a shard of `shard_shape`.
    pub fn inner_grid(&self, shard_shape: &[usize]) -> Vec<usize> {
        shard_shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(&s, &c)| s / c)
            .collect()
    }

    /// The spec of one inner chunk.
    pub fn inner_spec(&self, shard: &ChunkSpec) -> ChunkSpec {
        ChunkSpec {
            shape: self.chunk_shape.clone(),
            ..shard.clone()
        }
    }

    /// Encoded size of the index for a shard of `shard_shape`.
    pub fn index_len(&self, shard_shape: &[usize]) -> usize {
        let n = nd::num_elements(&self.inner_grid(shard_shape));
        self.index_codecs.encoded_len(n * 16).unwrap_or(n * 16)
    }

    /// Largest encoded shard accepted when decoding (bounds allocations).
    pub fn max_encoded_len(&self, shard: &ChunkSpec) -> usize {
        shard
            .num_bytes()
            .saturating_mul(2)
            .saturating_add(self.index_len(&shard.shape))
            .saturating_add(1 << 20)
    }

    /// Decodes the index from its encoded bytes.
    pub fn decode_index(
        &self,
        encoded: &[u8],
        shard_shape: &[usize],
    ) -> Result<ShardIndex, CodecError> {
        let mut raw = vec![0u8; self.index_entries(shard_shape) * 16];
        self.decode_index_into(encoded, shard_shape, &mut raw)?;
        Ok(ShardIndex::from_raw(&raw))
    }

    /// Number of index entries (inner chunks) of a shard.
    pub fn index_entries(&self, shard_shape: &[usize]) -> usize {
        nd::num_elements(&self.inner_grid(shard_shape))
    }

    /// Decodes the index into its raw form: `index_entries × 16` bytes of
    /// native-endian `u64` pairs (what [`ShardIndex::from_raw`] reads).
    pub fn decode_index_into(
        &self,
        encoded: &[u8],
        shard_shape: &[usize],
        raw: &mut [u8],
    ) -> Result<(), CodecError> {
        let grid = self.inner_grid(shard_shape);
        let n = nd::num_elements(&grid);
        self.index_codecs
            .decode_into(encoded, &index_spec(n, &grid), raw)
            .map_err(|e| CodecError::new("sharding_indexed", format!("shard index: {e}")))
    }
}

impl ShardIndex {
    /// Reads a raw decoded index (native-endian `u64` pairs).
    pub fn from_raw(raw: &[u8]) -> ShardIndex {
        let entries = raw
            .chunks_exact(16)
            .map(|c| {
                let mut a = [0u8; 8];
                let mut b = [0u8; 8];
                a.copy_from_slice(&c[..8]);
                b.copy_from_slice(&c[8..]);
                // Decoded chunks are native-endian.
                (u64_from_native(a), u64_from_native(b))
            })
            .collect();
        ShardIndex { entries }
    }
}

impl ShardingCodec {
    /// Extracts the index bytes from a whole shard.
    pub fn index_bytes<'a>(
        &self,
        shard: &'a [u8],
        shard_shape: &[usize],
    ) -> Result<&'a [u8], CodecError> {
        let len = self.index_len(shard_shape);
        if shard.len() < len {
            return Err(CodecError::new(
                "sharding_indexed",
                format!(
                    "shard of {} bytes is shorter than its {len}-byte index",
                    shard.len()
                ),
            ));
        }
        Ok(match self.index_location {
            IndexLocation::Start => &shard[..len],
            IndexLocation::End => &shard[shard.len() - len..],
        })
    }

    /// Checks an index entry against the shard's data area and returns the slice.
    pub fn inner_slice<'a>(
        &self,
        shard: &'a [u8],
        range: (u64, u64),
        i: usize,
    ) -> Result<&'a [u8], CodecError> {
        let (o, n) = range;
        match o.checked_add(n) {
            Some(end) if end <= shard.len() as u64 => Ok(&shard[o as usize..end as usize]),
            _ => Err(CodecError::new(
                "sharding_indexed",
                format!(
                    "index entry {i} (offset {o}, {n} bytes) lies outside the shard of {} bytes",
                    shard.len()
                ),
            )),
        }
    }

    /// Encodes a decoded shard (C order, native byte order).
    pub fn encode(&self, decoded: &[u8], shard: &ChunkSpec) -> Result<Vec<u8>, CodecError> {
        let grid = self.inner_grid(&shard.shape);
        let n = nd::num_elements(&grid);
        let inner = self.inner_spec(shard);
        let elem = shard.dtype.size();
        let grid_strides = nd::c_strides(&grid);
        let encode_one = |i: usize| {
            let start: Vec<usize> = grid_strides
                .iter()
                .zip(&grid)
                .zip(&self.chunk_shape)
                .map(|((&st, &g), &c)| (i / st % g) * c)
                .collect();
            let mut buf = vec![0u8; inner.num_bytes()];
            nd::copy_block(
                decoded,
                &shard.shape,
                &start,
                &mut buf,
                &self.chunk_shape,
                &vec![0; start.len()],
                &self.chunk_shape,
                elem,
            );
            if nd::all_equal(&buf, shard.fill.as_bytes()) {
                Ok(None)
            } else {
                self.codecs.encode(&buf, &inner).map(Some)
            }
        };
        let encoded: Vec<Option<Vec<u8>>> = if pool::may_parallelize() {
            (0..n)
                .into_par_iter()
                .map(encode_one)
                .collect::<Result<_, CodecError>>()?
        } else {
            (0..n).map(encode_one).collect::<Result<_, CodecError>>()?
        };
        let index_len = self.index_len(&shard.shape);
        let data_len: usize = encoded.iter().flatten().map(Vec::len).sum();
        let mut out = Vec::with_capacity(data_len + index_len);
        let base = match self.index_location {
            IndexLocation::Start => index_len as u64,
            IndexLocation::End => 0,
        };
        let mut index = Vec::with_capacity(n * 16);
        let mut offset = base;
        for e in &encoded {
            let (o, l) = match e {
                Some(b) => {
                    let r = (offset, b.len() as u64);
                    offset += b.len() as u64;
                    r
                }
                None => (EMPTY, EMPTY),
            };
            index.extend_from_slice(&u64_to_native(o));
            index.extend_from_slice(&u64_to_native(l));
        }
        let index_enc = self.index_codecs.encode(&index, &index_spec(n, &grid))?;
        if self.index_location == IndexLocation::Start {
            out.extend_from_slice(&index_enc);
        }
        for b in encoded.iter().flatten() {
            out.extend_from_slice(b);
        }
        if self.index_location == IndexLocation::End {
            out.extend_from_slice(&index_enc);
        }
        Ok(out)
    }

    /// Decodes a whole shard into `out` (inner chunks in parallel).
    pub fn decode_into(
        &self,
        encoded: &[u8],
        shard: &ChunkSpec,
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        let index = self.decode_index(self.index_bytes(encoded, &shard.shape)?, &shard.shape)?;
        let grid = self.inner_grid(&shard.shape);
        let inner = self.inner_spec(shard);
        let elem = shard.dtype.size();
        let grid_strides = nd::c_strides(&grid);
        let out_strides = Strides::c_order(&shard.shape, elem);
        let inner_strides = Strides::c_order(&self.chunk_shape, elem);
        let dst = DisjointOut::new(out);
        let decode_one = |i: usize| -> Result<(), CodecError> {
            let start: Vec<usize> = grid_strides
                .iter()
                .zip(&grid)
                .zip(&self.chunk_shape)
                .map(|((&st, &g), &c)| (i / st % g) * c)
                .collect();
            let off = out_strides.offset(&start) as usize;
            match index.range(i) {
                None => {
                    // SAFETY: inner chunk `i` covers a block of the shard that no
                    // other iteration touches.
                    unsafe {
                        dst.fill_block(shard.fill.as_bytes(), off, &out_strides, &self.chunk_shape)
                    };
                    Ok(())
                }
                Some(r) => {
                    let bytes = self.inner_slice(encoded, r, i)?;
                    let mut buf = vec![0u8; inner.num_bytes()];
                    self.codecs
                        .decode_into(bytes, &inner, &mut buf)
                        .map_err(|e| {
                            CodecError::new(e.codec, format!("inner chunk {i}: {}", e.reason))
                        })?;
                    // SAFETY: as above, disjoint blocks per iteration.
                    unsafe {
                        dst.write_block(
                            &buf,
                            0,
                            &inner_strides,
                            off,
                            &out_strides,
                            &self.chunk_shape,
                            elem,
                        )
                    };
                    Ok(())
                }
            }
        };
        if pool::may_parallelize() {
            (0..index.entries.len())
                .into_par_iter()
                .try_for_each(decode_one)
        } else {
            (0..index.entries.len()).try_for_each(decode_one)
        }
    }
}

//! Building the metadata of a new array from a few choices.

use serde_json::Value;

use super::Array;
use crate::codec::{
    ArrayToBytes, BytesCodec, BytesToBytes, CodecChain, CodecSpec, Crc32cCodec, IndexLocation,
    ShardingCodec,
};
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::fill::FillValue;
use crate::metadata::{ArrayMetadata, Attributes, ChunkKeyEncoding, Order, ZarrFormat};
use crate::store::StoreRef;

/// Chooses chunk, shard, codec, fill value and format for a new array.
#[derive(Debug, Clone)]
pub struct ArrayBuilder {
    shape: Vec<u64>,
    data_type: DataType,
    chunks: Option<Vec<u64>>,
    shards: Option<Vec<u64>>,
    codec: CodecSpec,
    fill: Option<FillValue>,
    format: ZarrFormat,
    endian: Endian,
    order: Order,
    separator: Option<char>,
    attributes: Attributes,
    dimension_names: Option<Vec<Value>>,
    overwrite: bool,
}

/// Default target size of one chunk in bytes.
const TARGET_CHUNK_BYTES: u64 = 1 << 20;

/// A chunk shape of about 1 MiB for `shape`: halves the largest dimension
/// until the chunk is small enough.
pub fn default_chunks(shape: &[u64], item_size: usize) -> Vec<u64> {
    let mut c: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    loop {
        let bytes = c.iter().product::<u64>().saturating_mul(item_size as u64);
        if bytes <= TARGET_CHUNK_BYTES {
            return c;
        }
        let Some((i, _)) = c.iter().enumerate().max_by_key(|(_, &v)| v) else {
            return c;
        };
        if c[i] <= 1 {
            return c;
        }
        c[i] = c[i].div_ceil(2);
    }
}

impl ArrayBuilder {
    /// An array of `shape` and `data_type` (v3, ~1 MiB chunks, zstd level 1,
    /// fill value 0).
    pub fn new(shape: Vec<u64>, data_type: DataType) -> ArrayBuilder {
        ArrayBuilder {
            shape,
            data_type,
            chunks: None,
            shards: None,
            codec: CodecSpec::default(),
            fill: None,
            format: ZarrFormat::V3,
            endian: Endian::Little,
            order: Order::C,
            separator: None,
            attributes: Attributes::new(),
            dimension_names: None,
            overwrite: false,
        }
    }

    /// Chunk shape (the inner chunk shape when sharded).
    pub fn chunks(mut self, chunks: Vec<u64>) -> Self {
        self.chunks = Some(chunks);
        self
    }

    /// Shard shape (v3 only; a multiple of the chunk shape).
    pub fn shards(mut self, shards: Vec<u64>) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Compressor.
    pub fn codec(mut self, codec: CodecSpec) -> Self {
        self.codec = codec;
        self
    }

    /// Fill value.
    pub fn fill_value(mut self, fill: FillValue) -> Self {
        self.fill = Some(fill);
        self
    }

    /// Zarr format.
    pub fn zarr_format(mut self, format: ZarrFormat) -> Self {
        self.format = format;
        self
    }

    /// Byte order on disk (v3 `bytes` codec, v2 dtype prefix).
    pub fn endian(mut self, endian: Endian) -> Self {
        self.endian = endian;
        self
    }

    /// v2 memory order of chunks.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Chunk key separator (`/` or `.`; default `/` for v3, `.` for v2).
    pub fn separator(mut self, sep: char) -> Self {
        self.separator = Some(sep);
        self
    }

    /// Attributes.
    pub fn attributes(mut self, attrs: Attributes) -> Self {
        self.attributes = attrs;
        self
    }

    /// v3 dimension names.
    pub fn dimension_names(mut self, names: Vec<Value>) -> Self {
        self.dimension_names = Some(names);
        self
    }

    /// Replace an existing node at the path.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// The metadata this builder describes.
    pub fn metadata(&self) -> Result<ArrayMetadata> {
        let nd = self.shape.len();
        let chunks = self
            .chunks
            .clone()
            // Variable-length elements: plan for ~16 bytes each.
            .unwrap_or_else(|| default_chunks(&self.shape, self.data_type.size().max(16)));
        if chunks.len() != nd {
            return Err(Error::invalid(format!(
                "chunks {chunks:?} have {} dimensions, the shape {:?} has {nd}",
                chunks.len(),
                self.shape
            )));
        }
        if chunks.contains(&0) {
            return Err(Error::invalid(format!("chunks {chunks:?} contain a zero")));
        }
        let fill = self
            .fill
            .clone()
            .unwrap_or_else(|| FillValue::zero(self.data_type));
        let compressor: Option<BytesToBytes> = self.codec.to_codec(self.data_type);
        let sep = self.separator.unwrap_or(match self.format {
            ZarrFormat::V2 => '.',
            ZarrFormat::V3 => '/',
        });
        if sep != '.' && sep != '/' {
            return Err(Error::invalid(format!(
                "separator {sep:?} must be '/' or '.'"
            )));
        }
        let meta = match self.format {
            ZarrFormat::V2 => {
                if self.shards.is_some() {
                    return Err(Error::invalid("shards need Zarr v3 (--zarr-format 3)"));
                }
                let mut chain = crate::codec::chain_from_v2(
                    self.data_type,
                    Some(self.endian),
                    self.order == Order::F,
                    nd,
                    None,
                    "",
                )?;
                chain.bytes_to_bytes = compressor.into_iter().collect();
                if let Some(v) = crate::codec::VlenCodec::for_type(self.data_type) {
                    chain.array_to_array.clear();
                    chain.array_to_bytes = ArrayToBytes::Vlen(v);
                }
                ArrayMetadata {
                    zarr_format: ZarrFormat::V2,
                    shape: self.shape.clone(),
                    chunk_shape: chunks,
                    data_type: self.data_type,
                    endian: self.endian,
                    fill_value: fill,
                    chunk_key_encoding: ChunkKeyEncoding::V2 { separator: sep },
                    codecs: chain,
                    order: self.order,
                    attributes: self.attributes.clone(),
                    dimension_names: None,
                    extra: Attributes::new(),
                }
            }
            ZarrFormat::V3 => {
                if self.data_type.v3_name().is_none() {
                    return Err(Error::invalid(format!(
                        "data type {} has no Zarr v3 core equivalent; use --zarr-format 2",
                        self.data_type
                    )));
                }
                if !self.codec.is_v3() {
                    return Err(Error::invalid(format!(
                        "codec {} is only available for Zarr v2 (use zstd, gzip, blosc or none)",
                        self.codec
                    )));
                }
                let inner = CodecChain {
                    array_to_array: vec![],
                    array_to_bytes: match crate::codec::VlenCodec::for_type(self.data_type) {
                        Some(v) => ArrayToBytes::Vlen(v),
                        None => {
                            ArrayToBytes::Bytes(BytesCodec::for_type(self.data_type, self.endian))
                        }
                    },
                    bytes_to_bytes: compressor.into_iter().collect(),
                };
                let (grid, codecs) = match &self.shards {
                    None => (chunks, inner),
                    Some(shards) => {
                        if shards.len() != nd
                            || shards
                                .iter()
                                .zip(&chunks)
                                .any(|(&s, &c)| s == 0 || s % c != 0)
                        {
                            return Err(Error::invalid(format!(
                                "shards {shards:?} must have {nd} dimensions, each a multiple of chunks {chunks:?}"
                            )));
                        }
                        let index = CodecChain {
                            array_to_array: vec![],
                            array_to_bytes: ArrayToBytes::Bytes(BytesCodec::for_type(
                                DataType::UInt64,
                                Endian::Little,
                            )),
                            bytes_to_bytes: vec![BytesToBytes::Crc32c(Crc32cCodec)],
                        };
                        let sharding = ShardingCodec {
                            chunk_shape: chunks.iter().map(|&c| c as usize).collect(),
                            codecs: inner,
                            index_codecs: index,
                            index_location: IndexLocation::End,
                        };
                        (
                            shards.clone(),
                            CodecChain {
                                array_to_array: vec![],
                                array_to_bytes: ArrayToBytes::Sharding(Box::new(sharding)),
                                bytes_to_bytes: vec![],
                            },
                        )
                    }
                };
                ArrayMetadata {
                    zarr_format: ZarrFormat::V3,
                    shape: self.shape.clone(),
                    chunk_shape: grid,
                    data_type: self.data_type,
                    endian: Endian::Little,
                    fill_value: fill,
                    chunk_key_encoding: ChunkKeyEncoding::Default { separator: sep },
                    codecs,
                    order: Order::C,
                    attributes: self.attributes.clone(),
                    dimension_names: self.dimension_names.clone(),
                    extra: Attributes::new(),
                }
            }
        };
        meta.validate("")?;
        // Return what a reader parses from the documents we will write, so
        // that the handle and any later open agree exactly.
        crate::hierarchy::reparse_array(&meta)
    }

    /// Creates the array at `path` and opens it for writing.
    pub fn create(&self, store: &StoreRef, path: &str) -> Result<Array> {
        let meta = self.metadata()?;
        Array::create(store, path, meta, self.overwrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_defaults() {
        assert_eq!(default_chunks(&[1024, 1024, 512], 2), vec![128, 64, 64]);
        assert_eq!(default_chunks(&[10], 8), vec![10]);
        assert_eq!(default_chunks(&[0, 5], 4), vec![1, 5]);
        assert_eq!(default_chunks(&[], 4), Vec::<u64>::new());
    }
}

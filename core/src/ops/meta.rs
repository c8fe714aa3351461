//! The metadata of a copy's destination array.
//!
//! * With no layout option, the destination is the source's layout moved
//!   through the permutation: same format, codecs, fill value, key encoding,
//!   attributes and extensions; chunk (and inner chunk) shapes and dimension
//!   names permuted.
//! * Any of chunks, shards, codec, format or data type builds new metadata
//!   with [`ArrayBuilder`]; whatever is not given still comes from the
//!   source: chunk shape (the source's inner chunk shape, permuted), shards
//!   (the source's, permuted, when the source is sharded, the destination is
//!   v3 and no chunk shape is given), the compressors, fill value (converted
//!   to the new data type), attributes, byte order and separator (same
//!   format only).

use super::cast::{cast_one, check_cast, Casting};
use crate::array::ArrayBuilder;
use crate::codec::{ArrayToBytes, BytesToBytes, CodecChain, CodecSpec};
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::fill::FillValue;
use crate::metadata::{ArrayMetadata, ZarrFormat};

/// How the destination is sharded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shards {
    /// Like the source (permuted) when possible, see the module docs.
    #[default]
    Inherit,
    /// Not sharded.
    Unsharded,
    /// Sharded with this shard shape (destination axis order).
    Shape(Vec<u64>),
}

/// Layout choices for the destination (all optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestLayout {
    /// Chunk shape (the inner chunk shape when sharded), destination axis order.
    pub chunks: Option<Vec<u64>>,
    /// Sharding.
    pub shards: Shards,
    /// Compressor.
    pub codec: Option<CodecSpec>,
    /// Zarr format.
    pub zarr_format: Option<ZarrFormat>,
    /// Element type.
    pub dtype: Option<DataType>,
    /// How far a data type conversion may go.
    pub casting: Casting,
}

impl DestLayout {
    fn changes_layout(&self) -> bool {
        self.chunks.is_some()
            || self.shards != Shards::Inherit
            || self.codec.is_some()
            || self.zarr_format.is_some()
            || self.dtype.is_some()
    }
}

fn permute<T: Clone>(v: &[T], perm: &[usize]) -> Vec<T> {
    perm.iter().map(|&k| v[k].clone()).collect()
}

/// The compressors of a chain (of its inner chain when sharded).
fn compressors(chain: &CodecChain) -> Vec<BytesToBytes> {
    match &chain.array_to_bytes {
        ArrayToBytes::Sharding(s) if chain.bytes_to_bytes.is_empty() => {
            s.codecs.bytes_to_bytes.clone()
        }
        _ => chain.bytes_to_bytes.clone(),
    }
}

/// The destination metadata for copying `region_shape` of `src` permuted
/// by `perm` (destination axis `j` is source axis `perm[j]`).
pub fn destination_metadata(
    src: &ArrayMetadata,
    region_shape: &[u64],
    perm: &[usize],
    layout: &DestLayout,
) -> Result<ArrayMetadata> {
    let shape = permute(region_shape, perm);
    let dims = src
        .dimension_names
        .as_ref()
        .map(|names| permute(names, perm));
    if !layout.changes_layout() {
        let mut m = src.clone();
        m.shape = shape;
        m.chunk_shape = permute(&src.chunk_shape, perm);
        if let ArrayToBytes::Sharding(s) = &mut m.codecs.array_to_bytes {
            s.chunk_shape = permute(&s.chunk_shape, perm);
        }
        m.dimension_names = dims;
        m.validate("")?;
        return crate::hierarchy::reparse_array(&m);
    }
    let format = layout.zarr_format.unwrap_or(src.zarr_format);
    let dtype = layout.dtype.unwrap_or(src.data_type);
    check_cast(src.data_type, dtype, layout.casting).map_err(Error::invalid)?;
    let fill = if dtype == src.data_type {
        if format == ZarrFormat::V3 && src.fill_value.is_null() {
            FillValue::zero(dtype)
        } else {
            src.fill_value.clone()
        }
    } else {
        FillValue::from_native_bytes(
            dtype,
            &cast_one(src.fill_value.as_bytes(), src.data_type, dtype),
        )
        .map_err(Error::invalid)?
    };
    let src_inner = permute(&src.read_chunk_shape(), perm);
    let chunks = layout.chunks.clone().unwrap_or(src_inner);
    let shards = match &layout.shards {
        Shards::Shape(s) => Some(s.clone()),
        Shards::Unsharded => None,
        Shards::Inherit => match src.shard_shape() {
            Some(s) if layout.chunks.is_none() && format == ZarrFormat::V3 => {
                Some(permute(&s, perm))
            }
            _ => None,
        },
    };
    let mut b = ArrayBuilder::new(shape, dtype)
        .chunks(chunks)
        .zarr_format(format)
        .fill_value(fill)
        .attributes(src.attributes.clone())
        .codec(layout.codec.clone().unwrap_or(CodecSpec::None));
    if let Some(s) = shards {
        b = b.shards(s);
    }
    if format == src.zarr_format {
        b = b.separator(src.chunk_key_encoding.separator());
    }
    if format == ZarrFormat::V2 {
        b = b.endian(if src.zarr_format == ZarrFormat::V2 {
            src.endian
        } else {
            Endian::Little
        });
        if src.zarr_format == ZarrFormat::V2 {
            b = b.order(src.order);
        }
    } else if let Some(d) = dims {
        b = b.dimension_names(d);
    }
    let mut m = b.metadata()?;
    if layout.codec.is_none() {
        // Keep the source's compressors.
        let mut comp = compressors(&src.codecs);
        for c in &mut comp {
            if let BytesToBytes::Blosc(bl) = c {
                bl.typesize = dtype.size().max(1);
            }
        }
        if format == ZarrFormat::V2 && (comp.len() > 1 || comp.iter().any(|c| c.to_v2().is_none()))
        {
            let names: Vec<&str> = comp.iter().map(BytesToBytes::name).collect();
            return Err(Error::invalid(format!(
                "the source's compressors ({}) have no Zarr v2 form; choose one with --codec",
                names.join(", ")
            )));
        }
        match &mut m.codecs.array_to_bytes {
            ArrayToBytes::Sharding(s) => s.codecs.bytes_to_bytes = comp,
            ArrayToBytes::Bytes(_) | ArrayToBytes::Vlen(_) => m.codecs.bytes_to_bytes = comp,
        }
        m = crate::hierarchy::reparse_array(&m)?;
    }
    Ok(m)
}

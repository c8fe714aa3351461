//! Codecs and the codec chain (Zarr v3 model; v2's `order` / `dtype` /
//! `compressor` are mapped onto the same chain).
//!
//! A chain is `array→array` codecs (transpose), exactly one `array→bytes`
//! codec (`bytes` or `sharding_indexed`) and `bytes→bytes` codecs (zstd, gzip,
//! zlib, lz4, blosc, bz2, lzma, checksums, and the numcodecs filters, which
//! run after `bytes` with element types of their own: see [`numcodecs`]).
//! Decoded chunks are always C-order, native byte order, full chunk shape
//! (edge chunks are padded with the fill value).

mod astype;
mod bitround;
mod blosc;
mod bytes;
mod bz2;
mod checksum32;
mod crc32c;
mod deflate;
mod delta;
mod fixedscaleoffset;
mod lz4;
mod lzma;
pub mod numcodecs;
pub mod numeric;
mod packbits;
mod quantize;
pub mod sharding;
mod shuffle;
mod spec;
mod stream;
mod transpose;
pub mod vlen;
mod zstd;

use std::borrow::Cow;

use serde_json::Value;

pub use self::astype::AsTypeCodec;
pub use self::bitround::BitRoundCodec;
pub use self::blosc::{BloscCodec, BloscCompressor, BloscShuffle};
pub use self::bytes::BytesCodec;
pub use self::bz2::Bz2Codec;
pub use self::checksum32::{Checksum32Codec, ChecksumKind};
pub use self::crc32c::Crc32cCodec;
pub use self::deflate::{DeflateCodec, DeflateFormat};
pub use self::delta::DeltaCodec;
pub use self::fixedscaleoffset::FixedScaleOffsetCodec;
pub use self::lz4::Lz4Codec;
pub use self::lzma::{LzmaCodec, LzmaFormat};
pub use self::packbits::PackBitsCodec;
pub use self::quantize::QuantizeCodec;
pub use self::sharding::{IndexLocation, ShardingCodec};
pub use self::shuffle::ShuffleCodec;
pub use self::spec::CodecSpec;
pub use self::transpose::TransposeCodec;
pub use self::vlen::{VlenCodec, VlenKind};
pub use self::zstd::ZstdCodec;
use crate::dtype::{DataType, Endian};
use crate::error::{CodecError, MetadataError};
use crate::fill::FillValue;

/// What a codec stage knows of the decoded chunk it handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSpec {
    /// Chunk shape (full chunk, including padding of edge chunks).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DataType,
    /// Fill value (for empty inner chunks of shards).
    pub fill: FillValue,
}

impl ChunkSpec {
    /// Decoded size in bytes.
    pub fn num_bytes(&self) -> usize {
        crate::nd::num_elements(&self.shape) * self.dtype.size()
    }
}

/// How large the output of a `bytes→bytes` decode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodedSize {
    /// Exactly this many bytes.
    Exact(usize),
    /// At most this many bytes (refuse headers claiming more).
    AtMost(usize),
}

/// An `array→array` codec.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayToArray {
    /// Axis permutation.
    Transpose(TransposeCodec),
}

/// The `array→bytes` codec.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayToBytes {
    /// Plain serialisation in a byte order.
    Bytes(BytesCodec),
    /// Sharding (inner chunks plus an index).
    Sharding(Box<ShardingCodec>),
    /// `vlen-utf8` / `vlen-bytes` (variable-length types only).
    Vlen(VlenCodec),
}

/// A `bytes→bytes` codec.
#[derive(Debug, Clone, PartialEq)]
pub enum BytesToBytes {
    /// Zstandard.
    Zstd(ZstdCodec),
    /// gzip or zlib.
    Deflate(DeflateCodec),
    /// LZ4 with numcodecs' size header.
    Lz4(Lz4Codec),
    /// Blosc.
    Blosc(BloscCodec),
    /// CRC-32C checksum.
    Crc32c(Crc32cCodec),
    /// bzip2 (numcodecs `bz2`).
    Bz2(Bz2Codec),
    /// LZMA / xz (numcodecs `lzma`).
    Lzma(LzmaCodec),
    /// numcodecs' 32-bit checksums (`crc32`, `adler32`, `crc32c`, `fletcher32`).
    Checksum(Checksum32Codec),
    /// numcodecs `delta` filter.
    Delta(DeltaCodec),
    /// numcodecs `fixedscaleoffset` filter.
    FixedScaleOffset(Box<FixedScaleOffsetCodec>),
    /// numcodecs `quantize` filter.
    Quantize(QuantizeCodec),
    /// numcodecs `bitround` filter.
    BitRound(BitRoundCodec),
    /// numcodecs `shuffle` filter.
    Shuffle(ShuffleCodec),
    /// numcodecs `packbits` filter.
    PackBits(PackBitsCodec),
    /// numcodecs `astype` filter.
    AsType(AsTypeCodec),
}

impl BytesToBytes {
    /// The codec's name (as used in error messages).
    pub fn name(&self) -> &'static str {
        match self {
            BytesToBytes::Zstd(_) => "zstd",
            BytesToBytes::Deflate(d) => match d.format {
                DeflateFormat::Gzip => "gzip",
                DeflateFormat::Zlib => "zlib",
            },
            BytesToBytes::Lz4(_) => "lz4",
            BytesToBytes::Blosc(_) => "blosc",
            BytesToBytes::Crc32c(_) => "crc32c",
            BytesToBytes::Bz2(_) => "bz2",
            BytesToBytes::Lzma(_) => "lzma",
            BytesToBytes::Checksum(c) => c.kind.name(),
            BytesToBytes::Delta(_) => "delta",
            BytesToBytes::FixedScaleOffset(_) => "fixedscaleoffset",
            BytesToBytes::Quantize(_) => "quantize",
            BytesToBytes::BitRound(_) => "bitround",
            BytesToBytes::Shuffle(_) => "shuffle",
            BytesToBytes::PackBits(_) => "packbits",
            BytesToBytes::AsType(_) => "astype",
        }
    }

    /// Whether this is a numcodecs filter (a v2 `filters` entry rather than
    /// the `compressor`).
    pub fn is_filter(&self) -> bool {
        matches!(
            self,
            BytesToBytes::Delta(_)
                | BytesToBytes::FixedScaleOffset(_)
                | BytesToBytes::Quantize(_)
                | BytesToBytes::BitRound(_)
                | BytesToBytes::Shuffle(_)
                | BytesToBytes::PackBits(_)
                | BytesToBytes::AsType(_)
        )
    }

    /// Whether zarr-python runs this as an array→array codec (v3 documents
    /// list it before `bytes`).
    pub fn is_array_filter(&self) -> bool {
        self.is_filter() && !matches!(self, BytesToBytes::Shuffle(_))
    }

    /// Encodes.
    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        match self {
            BytesToBytes::Zstd(c) => c.encode(input),
            BytesToBytes::Deflate(c) => c.encode(input),
            BytesToBytes::Lz4(c) => c.encode(input),
            BytesToBytes::Blosc(c) => c.encode(input),
            BytesToBytes::Crc32c(c) => Ok(c.encode(input)),
            BytesToBytes::Bz2(c) => c.encode(input),
            BytesToBytes::Lzma(c) => c.encode(input),
            BytesToBytes::Checksum(c) => Ok(c.encode(input)),
            BytesToBytes::Delta(c) => c.encode(input),
            BytesToBytes::FixedScaleOffset(c) => c.encode(input),
            BytesToBytes::Quantize(c) => c.encode(input),
            BytesToBytes::BitRound(c) => c.encode(input),
            BytesToBytes::Shuffle(c) => c.encode(input),
            BytesToBytes::PackBits(c) => c.encode(input),
            BytesToBytes::AsType(c) => c.encode(input),
        }
    }

    /// Decodes to a buffer of the given size bound.
    pub fn decode<'a>(
        &self,
        input: &'a [u8],
        size: DecodedSize,
    ) -> Result<Cow<'a, [u8]>, CodecError> {
        let out = match self {
            BytesToBytes::Zstd(c) => c.decode(input, size),
            BytesToBytes::Deflate(c) => c.decode(input, size),
            BytesToBytes::Lz4(c) => c.decode(input, size),
            BytesToBytes::Blosc(c) => c.decode(input, size),
            BytesToBytes::Crc32c(c) => c.decode(input),
            BytesToBytes::Checksum(c) => c.decode(input),
            BytesToBytes::Bz2(c) => c.decode(input, size),
            BytesToBytes::Lzma(c) => c.decode(input, size),
            // Decoding bitround is the identity.
            BytesToBytes::BitRound(_) => Ok(Cow::Borrowed(input)),
            _ => self.decode_filter(input, size),
        }?;
        if let DecodedSize::Exact(n) = size {
            if out.len() != n {
                return Err(CodecError::new(
                    self.name(),
                    format!("decoded {} bytes, expected {n}", out.len()),
                ));
            }
        }
        Ok(out)
    }

    /// A filter's decode into a new buffer, its size known from the input.
    fn decode_filter<'a>(
        &self,
        input: &[u8],
        size: DecodedSize,
    ) -> Result<Cow<'a, [u8]>, CodecError> {
        let n = match size {
            DecodedSize::Exact(n) => n,
            DecodedSize::AtMost(max) => {
                let n = match self {
                    BytesToBytes::PackBits(_) => input
                        .split_first()
                        .and_then(|(&pad, rest)| (rest.len() * 8).checked_sub(usize::from(pad))),
                    _ => self.decoded_len(input.len()),
                };
                n.filter(|&n| n <= max).ok_or_else(|| {
                    CodecError::new(
                        self.name(),
                        format!(
                            "{} encoded bytes do not decode within {max} bytes",
                            input.len()
                        ),
                    )
                })?
            }
        };
        let mut out = crate::util::try_zeroed(n).map_err(|e| CodecError::new(self.name(), e))?;
        self.decode_into(input, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// Decodes into `out`, which is exactly the decoded size.
    pub fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let copy = |name: &'static str, d: &[u8], out: &mut [u8]| {
            if d.len() != out.len() {
                return Err(CodecError::new(
                    name,
                    format!("decoded {} bytes, expected {}", d.len(), out.len()),
                ));
            }
            out.copy_from_slice(d);
            Ok(())
        };
        match self {
            BytesToBytes::Zstd(c) => c.decode_into(input, out),
            BytesToBytes::Deflate(c) => c.decode_into(input, out),
            BytesToBytes::Lz4(c) => c.decode_into(input, out),
            BytesToBytes::Blosc(c) => c.decode_into(input, out),
            BytesToBytes::Crc32c(c) => copy("crc32c", &c.decode(input)?, out),
            BytesToBytes::Checksum(c) => copy(c.kind.name(), &c.decode(input)?, out),
            BytesToBytes::Bz2(c) => c.decode_into(input, out),
            BytesToBytes::Lzma(c) => c.decode_into(input, out),
            BytesToBytes::Delta(c) => c.decode_into(input, out),
            BytesToBytes::FixedScaleOffset(c) => c.decode_into(input, out),
            BytesToBytes::Quantize(c) => c.decode_into(input, out),
            BytesToBytes::BitRound(_) => copy("bitround", input, out),
            BytesToBytes::Shuffle(c) => c.decode_into(input, out),
            BytesToBytes::PackBits(c) => c.decode_into(input, out),
            BytesToBytes::AsType(c) => c.decode_into(input, out),
        }
    }

    /// Whether [`Self::decode_in_place`] works (same size, no scratch).
    fn decodes_in_place(&self) -> bool {
        match self {
            BytesToBytes::Delta(d) => d.dtype == d.astype,
            BytesToBytes::BitRound(_) => true,
            BytesToBytes::AsType(a) => a.encode_dtype == a.decode_dtype,
            _ => false,
        }
    }

    /// Decodes `buf` in place (only where [`Self::decodes_in_place`]).
    fn decode_in_place(&self, buf: &mut [u8]) -> Result<(), CodecError> {
        match self {
            BytesToBytes::Delta(d) => d.decode_in_place(buf).unwrap_or(Ok(())),
            _ => Ok(()),
        }
    }

    /// Encoded size when it follows from the decoded size (checksums and
    /// filters), else `None`.
    pub fn encoded_len(&self, decoded: usize) -> Option<usize> {
        match self {
            BytesToBytes::Crc32c(_) | BytesToBytes::Checksum(_) => Some(decoded + 4),
            BytesToBytes::Delta(c) => c.encoded_len(decoded),
            BytesToBytes::FixedScaleOffset(c) => c.encoded_len(decoded),
            BytesToBytes::Quantize(c) => c.encoded_len(decoded),
            BytesToBytes::AsType(c) => c.encoded_len(decoded),
            BytesToBytes::PackBits(c) => c.encoded_len(decoded),
            BytesToBytes::BitRound(_) | BytesToBytes::Shuffle(_) => Some(decoded),
            _ => None,
        }
    }

    /// The inverse of [`Self::encoded_len`] where it is one-to-one.
    fn decoded_len(&self, encoded: usize) -> Option<usize> {
        match self {
            BytesToBytes::Crc32c(_) | BytesToBytes::Checksum(_) => encoded.checked_sub(4),
            BytesToBytes::Delta(c) => c.decoded_len(encoded),
            BytesToBytes::FixedScaleOffset(c) => c.decoded_len(encoded),
            BytesToBytes::Quantize(c) => c.decoded_len(encoded),
            BytesToBytes::AsType(c) => c.decoded_len(encoded),
            BytesToBytes::BitRound(_) | BytesToBytes::Shuffle(_) => Some(encoded),
            _ => None,
        }
    }

    fn to_v3(&self) -> Value {
        match self {
            BytesToBytes::Zstd(c) => c.to_v3(),
            BytesToBytes::Deflate(c) => c.to_v3(),
            BytesToBytes::Lz4(c) => c.to_v3(),
            BytesToBytes::Blosc(c) => c.to_v3(),
            BytesToBytes::Crc32c(c) => c.to_v3(),
            BytesToBytes::Bz2(c) => c.to_v3(),
            BytesToBytes::Lzma(c) => c.to_v3(),
            BytesToBytes::Checksum(c) => c.to_v3(),
            BytesToBytes::Delta(c) => c.to_v3(),
            BytesToBytes::FixedScaleOffset(c) => c.to_v3(),
            BytesToBytes::Quantize(c) => c.to_v3(),
            BytesToBytes::BitRound(c) => c.to_v3(),
            BytesToBytes::Shuffle(c) => c.to_v3(),
            BytesToBytes::PackBits(c) => c.to_v3(),
            BytesToBytes::AsType(c) => c.to_v3(),
        }
    }

    /// The numcodecs (v2 `compressor` / `filters` entry) JSON.
    pub fn to_v2(&self) -> Option<Value> {
        Some(match self {
            BytesToBytes::Zstd(c) => c.to_v2(),
            BytesToBytes::Deflate(c) => c.to_v2(),
            BytesToBytes::Lz4(c) => c.to_v2(),
            BytesToBytes::Blosc(c) => c.to_v2(),
            // numcodecs' CRC32C stores the checksum last, as v3's crc32c.
            BytesToBytes::Crc32c(_) => serde_json::json!({"id": "crc32c"}),
            BytesToBytes::Bz2(c) => c.to_v2(),
            BytesToBytes::Lzma(c) => c.to_v2(),
            BytesToBytes::Checksum(c) => c.to_v2(),
            BytesToBytes::Delta(c) => c.to_v2(),
            BytesToBytes::FixedScaleOffset(c) => c.to_v2(),
            BytesToBytes::Quantize(c) => c.to_v2(),
            BytesToBytes::BitRound(c) => c.to_v2(),
            BytesToBytes::Shuffle(c) => c.to_v2(),
            BytesToBytes::PackBits(c) => c.to_v2(),
            BytesToBytes::AsType(c) => c.to_v2(),
        })
    }
}

/// A full codec chain.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecChain {
    /// `array→array` codecs, applied in order when encoding.
    pub array_to_array: Vec<ArrayToArray>,
    /// The serialising codec.
    pub array_to_bytes: ArrayToBytes,
    /// `bytes→bytes` codecs, applied in order when encoding.
    pub bytes_to_bytes: Vec<BytesToBytes>,
}

pub(crate) fn cfg_i64(cfg: &Value, key: &str) -> Result<Option<i64>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} {v} is not an integer")),
    }
}

pub(crate) fn cfg_bool(cfg: &Value, key: &str) -> Result<Option<bool>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(format!("{key} {v} is not a boolean")),
    }
}

pub(crate) fn cfg_str<'a>(cfg: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{key} {v} is not a string")),
    }
}

impl CodecChain {
    /// The plain chain: `bytes` in little-endian (v3's default), nothing else.
    pub fn plain(dtype: DataType) -> CodecChain {
        CodecChain {
            array_to_array: vec![],
            array_to_bytes: ArrayToBytes::Bytes(BytesCodec::for_type(dtype, Endian::Little)),
            bytes_to_bytes: vec![],
        }
    }

    /// Parses a v3 `codecs` list for chunks described by `spec`.
    pub fn from_v3_json(list: &Value, spec: &ChunkSpec, key: &str) -> Result<Self, MetadataError> {
        let invalid = |reason: String| MetadataError::Invalid {
            key: key.to_string(),
            reason,
        };
        let items = list
            .as_array()
            .ok_or_else(|| invalid(format!("codecs must be a list, got {list}")))?;
        let mut a2a = Vec::new();
        let mut a2b: Option<ArrayToBytes> = None;
        let mut b2b = Vec::new();
        let mut pending: Vec<(&str, Value)> = Vec::new();
        let mut shape = spec.shape.clone();
        for item in items {
            let (name, cfg) = match item {
                Value::String(s) => (s.as_str(), Value::Object(Default::default())),
                Value::Object(o) => {
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(format!("codec {item} has no \"name\"")))?;
                    let cfg = o
                        .get("configuration")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Default::default()));
                    (name, cfg)
                }
                _ => return Err(invalid(format!("codec {item} is not an object"))),
            };
            let bad = |e: String| invalid(format!("codec {name:?}: {e}"));
            let stage_is = |stage: &str| -> Result<(), MetadataError> {
                match (stage, a2b.is_some()) {
                    ("a2a", true) => Err(invalid(format!(
                        "array→array codec {name:?} after the array→bytes codec"
                    ))),
                    ("a2b", true) => Err(invalid(format!("second array→bytes codec {name:?}"))),
                    ("b2b", false) => Err(invalid(format!(
                        "bytes→bytes codec {name:?} before an array→bytes codec"
                    ))),
                    _ => Ok(()),
                }
            };
            match name {
                "transpose" => {
                    stage_is("a2a")?;
                    if let Some((nc, _)) = pending.first() {
                        return Err(invalid(format!("transpose after {nc:?} is not supported")));
                    }
                    let t = TransposeCodec::from_config(&cfg, shape.len()).map_err(bad)?;
                    shape = t.encoded_shape(&shape);
                    a2a.push(ArrayToArray::Transpose(t));
                }
                "bytes" | "endian" => {
                    stage_is("a2b")?;
                    let b = match BytesCodec::from_config(&cfg, spec.dtype) {
                        // A filter turned the elements into single bytes
                        // (packbits, astype u1...): any order serves inside.
                        Err(_)
                            if !pending.is_empty()
                                && cfg_str(&cfg, "endian").ok().flatten().is_none() =>
                        {
                            BytesCodec::for_type(spec.dtype, Endian::Little)
                        }
                        r => r.map_err(bad)?,
                    };
                    a2b = Some(ArrayToBytes::Bytes(b));
                }
                "vlen-utf8" | "vlen-bytes" => {
                    stage_is("a2b")?;
                    VlenCodec::check_config(&cfg).map_err(bad)?;
                    a2b = VlenCodec::from_name(name).map(ArrayToBytes::Vlen);
                }
                "sharding_indexed" => {
                    stage_is("a2b")?;
                    let inner_spec = ChunkSpec {
                        shape: shape.clone(),
                        ..spec.clone()
                    };
                    a2b = Some(ArrayToBytes::Sharding(Box::new(
                        ShardingCodec::from_config(&cfg, &inner_spec, key)?,
                    )));
                }
                "zstd" => {
                    stage_is("b2b")?;
                    b2b.push(BytesToBytes::Zstd(
                        ZstdCodec::from_config(&cfg).map_err(bad)?,
                    ));
                }
                "gzip" => {
                    stage_is("b2b")?;
                    b2b.push(BytesToBytes::Deflate(
                        DeflateCodec::from_config(DeflateFormat::Gzip, &cfg).map_err(bad)?,
                    ));
                }
                "blosc" => {
                    stage_is("b2b")?;
                    b2b.push(BytesToBytes::Blosc(
                        BloscCodec::from_v3_config(&cfg, spec.dtype.size()).map_err(bad)?,
                    ));
                }
                "crc32c" => {
                    stage_is("b2b")?;
                    b2b.push(BytesToBytes::Crc32c(Crc32cCodec));
                }
                nc if nc.starts_with("numcodecs.")
                    && numcodecs::is_v3_array_codec(&nc["numcodecs.".len()..]) =>
                {
                    stage_is("a2a")?;
                    pending.push((nc, cfg));
                }
                nc if nc.starts_with("numcodecs.")
                    && numcodecs::SUPPORTED.contains(&&nc["numcodecs.".len()..]) =>
                {
                    stage_is("b2b")?;
                    let mut ctx = numcodecs::Ctx {
                        cur: None,
                        v3_endian: Some(Endian::Little),
                        array_item: spec.dtype.size(),
                    };
                    if let Some(c) =
                        numcodecs::parse(&nc["numcodecs.".len()..], &cfg, &mut ctx).map_err(bad)?
                    {
                        b2b.push(c);
                    }
                }
                other => {
                    let reason = other
                        .strip_prefix("numcodecs.")
                        .and_then(numcodecs::unsupported_reason);
                    return Err(MetadataError::Unsupported {
                        key: key.to_string(),
                        what: "codec",
                        name: other.to_string(),
                        detail: reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                    });
                }
            }
            // The numcodecs array filters become bytes→bytes codecs right
            // after `bytes`, in its byte order.
            if let (Some(a), false) = (&a2b, pending.is_empty()) {
                let endian = match a {
                    ArrayToBytes::Bytes(b) => b.endian.unwrap_or(Endian::Little),
                    ArrayToBytes::Sharding(_) => {
                        return Err(invalid(format!(
                            "codec {:?} before sharding_indexed is not supported (put it in the \
                             sharding codec's inner codecs)",
                            pending[0].0
                        )))
                    }
                    ArrayToBytes::Vlen(v) => {
                        return Err(MetadataError::Unsupported {
                            key: key.to_string(),
                            what: "codec",
                            name: pending[0].0.to_string(),
                            detail: format!(
                                " before {} (numcodecs array filters need fixed-size elements)",
                                v.name()
                            ),
                        })
                    }
                };
                if endian == Endian::Big {
                    // zarr-python 3.1.6 does not read back its own chunks
                    // here: its numcodecs filters reinterpret the big-endian
                    // buffer `bytes` hands them as native values.
                    return Err(MetadataError::Unsupported {
                        key: key.to_string(),
                        what: "codec",
                        name: pending[0].0.to_string(),
                        detail: " before a big-endian bytes codec (zarr-python reads such \
                                 chunks inconsistently; use endian \"little\")"
                            .into(),
                    });
                }
                let mut ctx = numcodecs::Ctx {
                    cur: numeric::NumType::of_data_type(spec.dtype, endian),
                    v3_endian: Some(endian),
                    array_item: spec.dtype.size(),
                };
                for (nc, cfg) in pending.drain(..) {
                    let c = numcodecs::parse(&nc["numcodecs.".len()..], &cfg, &mut ctx)
                        .map_err(|e| invalid(format!("codec {nc:?}: {e}")))?;
                    b2b.extend(c);
                }
            }
        }
        let a2b = a2b.ok_or_else(|| {
            invalid("codecs has no array→bytes codec (bytes or sharding_indexed)".into())
        })?;
        check_vlen_chain(spec.dtype, &a2a, &a2b, key)?;
        Ok(CodecChain {
            array_to_array: a2a,
            array_to_bytes: a2b,
            bytes_to_bytes: b2b,
        })
    }

    /// The v3 `codecs` list.
    pub fn to_v3_json(&self) -> Value {
        let mut out: Vec<Value> = self
            .array_to_array
            .iter()
            .map(|ArrayToArray::Transpose(t)| t.to_v3())
            .collect();
        // zarr-python's array→array numcodecs filters come before `bytes`.
        let lead = self.leading_array_filters();
        out.extend(self.bytes_to_bytes[..lead].iter().map(BytesToBytes::to_v3));
        out.push(match &self.array_to_bytes {
            ArrayToBytes::Bytes(b) => b.to_v3(),
            ArrayToBytes::Sharding(s) => s.to_v3(),
            ArrayToBytes::Vlen(v) => v.to_v3(),
        });
        out.extend(self.bytes_to_bytes[lead..].iter().map(BytesToBytes::to_v3));
        Value::Array(out)
    }

    /// How many `bytes→bytes` codecs at the start are numcodecs array
    /// filters (listed before `bytes` in v3 documents).
    fn leading_array_filters(&self) -> usize {
        match self.array_to_bytes {
            ArrayToBytes::Bytes(_) => self
                .bytes_to_bytes
                .iter()
                .take_while(|c| c.is_array_filter())
                .count(),
            ArrayToBytes::Sharding(_) | ArrayToBytes::Vlen(_) => 0,
        }
    }

    /// The sharding codec, if the chain is sharded.
    pub fn sharding(&self) -> Option<&ShardingCodec> {
        match &self.array_to_bytes {
            ArrayToBytes::Sharding(s) => Some(s),
            ArrayToBytes::Bytes(_) | ArrayToBytes::Vlen(_) => None,
        }
    }

    /// Whether the stored bytes *are* the decoded chunk (native order, no
    /// transform), so a region can be copied straight out of them.
    pub fn is_passthrough(&self) -> bool {
        self.array_to_array.is_empty()
            && self.bytes_to_bytes.is_empty()
            && matches!(&self.array_to_bytes, ArrayToBytes::Bytes(b) if b.is_native())
    }

    /// Whether every codec has a fixed encoded size (what a shard index needs).
    pub fn fixed_size(&self) -> bool {
        matches!(self.array_to_bytes, ArrayToBytes::Bytes(_))
            && self
                .bytes_to_bytes
                .iter()
                .all(|c| c.encoded_len(0).is_some())
    }

    /// Encoded size of a chunk of `decoded` bytes when fixed.
    pub fn encoded_len(&self, decoded: usize) -> Option<usize> {
        if !self.fixed_size() {
            return None;
        }
        self.bytes_to_bytes
            .iter()
            .try_fold(decoded, |n, c| c.encoded_len(n))
    }

    /// Names of the codecs in order (`transpose`, `bytes`, `zstd`, ...).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .array_to_array
            .iter()
            .map(|_| "transpose".to_string())
            .collect();
        let lead = self.leading_array_filters();
        v.extend(
            self.bytes_to_bytes[..lead]
                .iter()
                .map(|c| c.name().to_string()),
        );
        v.push(match &self.array_to_bytes {
            ArrayToBytes::Bytes(_) => "bytes".into(),
            ArrayToBytes::Sharding(_) => "sharding_indexed".into(),
            ArrayToBytes::Vlen(v) => v.name().into(),
        });
        v.extend(
            self.bytes_to_bytes[lead..]
                .iter()
                .map(|c| c.name().to_string()),
        );
        v
    }

    /// Encodes one decoded chunk (C order, native byte order).
    pub fn encode(&self, decoded: &[u8], spec: &ChunkSpec) -> Result<Vec<u8>, CodecError> {
        if decoded.len() != spec.num_bytes() {
            return Err(CodecError::new(
                "chunk",
                format!(
                    "{} bytes given, the chunk has {}",
                    decoded.len(),
                    spec.num_bytes()
                ),
            ));
        }
        let mut cur: Cow<[u8]> = Cow::Borrowed(decoded);
        let mut shape = spec.shape.clone();
        for ArrayToArray::Transpose(t) in &self.array_to_array {
            let mut out =
                crate::util::try_zeroed(cur.len()).map_err(|e| CodecError::new("chunk", e))?;
            t.encode(&cur, &shape, &mut out, spec.dtype.size());
            shape = t.encoded_shape(&shape);
            cur = Cow::Owned(out);
        }
        let inner_spec = ChunkSpec {
            shape,
            ..spec.clone()
        };
        let mut bytes: Cow<[u8]> = match &self.array_to_bytes {
            ArrayToBytes::Bytes(b) => b.encode(cur, spec.dtype),
            ArrayToBytes::Sharding(s) => Cow::Owned(s.encode(&cur, &inner_spec)?),
            ArrayToBytes::Vlen(v) => return Err(vlen_fixed_error(*v)),
        };
        for c in &self.bytes_to_bytes {
            bytes = Cow::Owned(c.encode(&bytes)?);
        }
        Ok(bytes.into_owned())
    }

    /// Upper bound accepted for the encoded-by-`array→bytes` size when it is
    /// not fixed (sharded): what a sane shard of this chunk can occupy.
    fn a2b_size(&self, spec: &ChunkSpec) -> DecodedSize {
        match &self.array_to_bytes {
            ArrayToBytes::Bytes(_) => DecodedSize::Exact(spec.num_bytes()),
            ArrayToBytes::Sharding(s) => DecodedSize::AtMost(s.max_encoded_len(spec)),
            ArrayToBytes::Vlen(_) => DecodedSize::AtMost(vlen::VLEN_MAX_DECODED),
        }
    }

    /// Decodes one stored chunk into `out` (exactly the decoded size).
    pub fn decode_into(
        &self,
        encoded: &[u8],
        spec: &ChunkSpec,
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        if out.len() != spec.num_bytes() {
            return Err(CodecError::new(
                "chunk",
                format!(
                    "output has {} bytes, the chunk has {}",
                    out.len(),
                    spec.num_bytes()
                ),
            ));
        }
        // Sizes after each bytes→bytes stage, from the array→bytes output up.
        let mut sizes = vec![self.a2b_size(spec)];
        for c in &self.bytes_to_bytes {
            let next = match sizes.last() {
                Some(DecodedSize::Exact(n)) => match c.encoded_len(*n) {
                    Some(m) => DecodedSize::Exact(m),
                    None => DecodedSize::AtMost(usize::MAX),
                },
                _ => DecodedSize::AtMost(usize::MAX),
            };
            sizes.push(next);
        }
        // The outermost stage's size may be pinned by the stored length.
        let direct = self.array_to_array.is_empty()
            && matches!(&self.array_to_bytes, ArrayToBytes::Bytes(b) if b.is_native());
        // Filters at the bottom that decode in place (delta, bitround) run on
        // `out` after the codec above them decoded straight into it.
        let in_place = self
            .bytes_to_bytes
            .iter()
            .take_while(|c| c.decodes_in_place())
            .count();
        let mut cur: Cow<[u8]> = Cow::Borrowed(encoded);
        for (i, c) in self.bytes_to_bytes.iter().enumerate().rev() {
            let mut want = sizes[i];
            if let DecodedSize::AtMost(_) = want {
                // A bound from the chunk size rather than "anything".
                want = match sizes[0] {
                    DecodedSize::Exact(n) | DecodedSize::AtMost(n) => {
                        DecodedSize::AtMost(size_bound(n))
                    }
                };
                if let Some(d) = c.decoded_len(cur.len()) {
                    want = DecodedSize::Exact(d);
                }
            }
            if i == in_place.min(self.bytes_to_bytes.len() - 1)
                && direct
                && want == DecodedSize::Exact(out.len())
            {
                c.decode_into(&cur, out)?;
                for f in self.bytes_to_bytes[..i].iter().rev() {
                    f.decode_in_place(out)?;
                }
                return Ok(());
            }
            cur = Cow::Owned(c.decode(&cur, want)?.into_owned());
        }
        self.decode_a2b(&cur, spec, out)
    }

    fn decode_a2b(&self, bytes: &[u8], spec: &ChunkSpec, out: &mut [u8]) -> Result<(), CodecError> {
        let elem = spec.dtype.size();
        if self.array_to_array.is_empty() {
            return match &self.array_to_bytes {
                ArrayToBytes::Bytes(b) => b.decode_into(bytes, spec.dtype, out),
                ArrayToBytes::Sharding(s) => s.decode_into(bytes, spec, out),
                ArrayToBytes::Vlen(v) => Err(vlen_fixed_error(*v)),
            };
        }
        // Shapes seen by each array→array stage.
        let mut shapes = vec![spec.shape.clone()];
        for ArrayToArray::Transpose(t) in &self.array_to_array {
            let next = t.encoded_shape(shapes.last().map_or(&[][..], |v| v));
            shapes.push(next);
        }
        let mut cur =
            crate::util::try_zeroed(out.len()).map_err(|e| CodecError::new("chunk", e))?;
        let inner = ChunkSpec {
            shape: shapes.last().cloned().unwrap_or_default(),
            ..spec.clone()
        };
        match &self.array_to_bytes {
            ArrayToBytes::Bytes(b) => b.decode_into(bytes, spec.dtype, &mut cur)?,
            ArrayToBytes::Sharding(s) => s.decode_into(bytes, &inner, &mut cur)?,
            ArrayToBytes::Vlen(v) => return Err(vlen_fixed_error(*v)),
        }
        for (i, ArrayToArray::Transpose(t)) in self.array_to_array.iter().enumerate().rev() {
            if i == 0 {
                t.decode(&cur, &shapes[i + 1], out, elem);
                return Ok(());
            }
            let mut next =
                crate::util::try_zeroed(cur.len()).map_err(|e| CodecError::new("chunk", e))?;
            t.decode(&cur, &shapes[i + 1], &mut next, elem);
            cur = next;
        }
        Ok(())
    }
}

/// The error of a fixed-size encode or decode of a variable-length chunk.
fn vlen_fixed_error(v: VlenCodec) -> CodecError {
    CodecError::new(
        v.name(),
        "variable-length chunks have no fixed-size form; use Array::read_vlen / Array::write_vlen",
    )
}

/// A variable-length data type needs its vlen codec as the array→bytes codec
/// (no transpose, no sharding), and a vlen codec needs its data type.
fn check_vlen_chain(
    dtype: DataType,
    a2a: &[ArrayToArray],
    a2b: &ArrayToBytes,
    key: &str,
) -> Result<(), MetadataError> {
    let unsupported = |name: &str, detail: String| MetadataError::Unsupported {
        key: key.to_string(),
        what: "codec",
        name: name.to_string(),
        detail,
    };
    match (VlenCodec::for_type(dtype), a2b) {
        (None, ArrayToBytes::Vlen(v)) => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!(
                "codec {:?} needs data type {}, not {dtype}",
                v.name(),
                v.data_type().v3_name().unwrap_or("?")
            ),
        }),
        (Some(want), ArrayToBytes::Vlen(v)) if want != *v => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!(
                "data type {dtype} needs codec {:?}, not {:?}",
                want.name(),
                v.name()
            ),
        }),
        (Some(_), ArrayToBytes::Vlen(v)) if !a2a.is_empty() => Err(unsupported(
            "transpose",
            format!(" before {:?} (variable-length arrays support no transpose)", v.name()),
        )),
        (Some(want), ArrayToBytes::Sharding(_)) => Err(unsupported(
            "sharding_indexed",
            format!(
                " with data type {dtype} (variable-length arrays are supported with {:?} directly, unsharded)",
                want.name()
            ),
        )),
        (Some(want), ArrayToBytes::Bytes(_)) => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!(
                "data type {dtype} needs the {:?} codec, not \"bytes\"",
                want.name()
            ),
        }),
        _ => Ok(()),
    }
}

/// Size bound for a non-final stage: the decoded chunk plus generous slack
/// (a misbehaving header still cannot make us allocate more than this).
fn size_bound(n: usize) -> usize {
    n.saturating_mul(2).saturating_add(1 << 20)
}

/// Builds the v2 chain: `order` F becomes a reversing transpose, the dtype's
/// byte order a `bytes` codec, the compressor the only `bytes→bytes` codec.
pub fn chain_from_v2(
    dtype: DataType,
    endian: Option<Endian>,
    fortran: bool,
    ndim: usize,
    compressor: Option<&Value>,
    key: &str,
) -> Result<CodecChain, MetadataError> {
    chain_from_v2_with_filters(dtype, endian, fortran, ndim, None, compressor, key)
}

/// Builds the v2 chain with numcodecs `filters` (applied in order after the
/// `bytes` codec, then the compressor).
pub fn chain_from_v2_with_filters(
    dtype: DataType,
    endian: Option<Endian>,
    fortran: bool,
    ndim: usize,
    filters: Option<&Value>,
    compressor: Option<&Value>,
    key: &str,
) -> Result<CodecChain, MetadataError> {
    let mut a2a = vec![];
    if fortran && ndim > 1 {
        a2a.push(ArrayToArray::Transpose(TransposeCodec {
            order: (0..ndim).rev().collect(),
        }));
    }
    let endian = endian.unwrap_or(Endian::Little);
    let a2b = ArrayToBytes::Bytes(BytesCodec::for_type(dtype, endian));
    let mut ctx = numcodecs::Ctx {
        cur: numeric::NumType::of_data_type(dtype, endian),
        v3_endian: None,
        array_item: dtype.size(),
    };
    let mut b2b = vec![];
    match filters {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for f in list {
                b2b.push(numcodec_from_v2(f, "filter", &mut ctx, key)?);
            }
        }
        Some(other) => {
            return Err(MetadataError::Invalid {
                key: key.to_string(),
                reason: format!("filters {other} is not a list"),
            })
        }
    }
    if let Some(c) = compressor.filter(|c| !c.is_null()) {
        b2b.push(numcodec_from_v2(c, "compressor", &mut ctx, key)?);
    }
    Ok(CodecChain {
        array_to_array: a2a,
        array_to_bytes: a2b,
        bytes_to_bytes: b2b,
    })
}

/// Parses a numcodecs compressor config (`{"id": "zstd", ...}`).
pub fn compressor_from_v2(
    c: &Value,
    dtype: DataType,
    key: &str,
) -> Result<BytesToBytes, MetadataError> {
    let mut ctx = numcodecs::Ctx {
        cur: numeric::NumType::of_data_type(dtype, Endian::Little),
        v3_endian: None,
        array_item: dtype.size(),
    };
    numcodec_from_v2(c, "compressor", &mut ctx, key)
}

/// Parses one numcodecs config of a v2 `filters` list or `compressor`.
fn numcodec_from_v2(
    c: &Value,
    what: &'static str,
    ctx: &mut numcodecs::Ctx,
    key: &str,
) -> Result<BytesToBytes, MetadataError> {
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| MetadataError::Invalid {
            key: key.to_string(),
            reason: format!("{what} {c} has no \"id\""),
        })?;
    match numcodecs::parse(id, c, ctx) {
        Ok(Some(codec)) => Ok(codec),
        Ok(None) => Err(MetadataError::Unsupported {
            key: key.to_string(),
            what,
            name: id.to_string(),
            detail: match numcodecs::unsupported_reason(id) {
                Some(r) => format!(" ({r})"),
                None => format!(" (supported: {})", numcodecs::SUPPORTED.join(", ")),
            },
        }),
        Err(e) => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!("{what} {id:?}: {e}"),
        }),
    }
}

//! numcodecs configurations: v2 `filters`/`compressor` entries (`{"id":
//! "delta", ...}`) and zarr-python's v3 `numcodecs.<id>` codecs, parsed into
//! `bytes→bytes` codecs of the chain.
//!
//! numcodecs filters see a chunk as a flat buffer of elements (after the
//! array's memory order and byte order are applied) and reinterpret it with
//! their own declared `dtype`; so each becomes a `bytes→bytes` codec placed
//! after the `bytes` codec, which knows its element types. The type each
//! filter hands to the next is tracked while parsing (`Ctx::cur`), for the
//! filters that take it from their input (`bitround`, `shuffle`, blosc's
//! typesize, defaults of `dtype`).
//!
//! In v3, zarr-python runs the array→array `numcodecs.*` filters on native
//! in-memory arrays before `bytes`; their dtypes are therefore read as
//! native (little-endian) and applied in the `bytes` codec's byte order.

use serde_json::Value;

use super::numeric::{NumKind, NumType, PyNumber};
use super::{
    AsTypeCodec, BitRoundCodec, BloscCodec, BytesToBytes, Bz2Codec, Checksum32Codec, ChecksumKind,
    DeflateCodec, DeflateFormat, DeltaCodec, FixedScaleOffsetCodec, Lz4Codec, LzmaCodec,
    PackBitsCodec, QuantizeCodec, ShuffleCodec, ZstdCodec,
};
use crate::dtype::Endian;

/// What is known of the chunk a codec receives.
pub(crate) struct Ctx {
    /// Element type of the incoming buffer (`None`: not numeric, e.g. strings).
    pub cur: Option<NumType>,
    /// v3: the `bytes` codec's byte order (declared dtypes are native).
    pub v3_endian: Option<Endian>,
    /// Item size of the array's data type.
    pub array_item: usize,
}

/// The ids of the numcodecs codecs zarrcore reads and writes.
pub const SUPPORTED: &[&str] = &[
    "delta",
    "fixedscaleoffset",
    "quantize",
    "bitround",
    "shuffle",
    "packbits",
    "astype",
    "zstd",
    "blosc",
    "gzip",
    "zlib",
    "lz4",
    "bz2",
    "lzma",
    "crc32",
    "crc32c",
    "adler32",
    "fletcher32",
];

/// numcodecs ids zarrcore knows but refuses, with the reason.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "categorize",
        "needs string (object or U) arrays with labels; not implemented",
    ),
    ("vlen-utf8", "variable-length strings are not supported"),
    ("vlen-bytes", "variable-length bytes are not supported"),
    ("vlen-array", "variable-length arrays are not supported"),
    ("json2", "object arrays are not supported"),
    ("msgpack2", "object arrays are not supported"),
    ("pickle", "object arrays (Python pickles) are not supported"),
    ("base64", "not implemented"),
    ("jenkins_lookup3", "not implemented"),
    (
        "pcodec",
        "no maintained Rust decoder compatible with numcodecs' framing",
    ),
    ("zfpy", "needs the ZFP library; not implemented"),
];

/// Why an id is refused (for error messages).
pub fn unsupported_reason(id: &str) -> Option<&'static str> {
    UNSUPPORTED.iter().find(|(n, _)| *n == id).map(|(_, r)| *r)
}

impl Ctx {
    /// A dtype setting (`None` when absent).
    fn ty(&self, cfg: &Value, key: &str) -> Result<Option<NumType>, String> {
        let Some(s) = super::cfg_str(cfg, key)? else {
            return Ok(None);
        };
        let t = NumType::parse(s).map_err(|e| format!("{key}: {e}"))?;
        match self.v3_endian {
            None => Ok(Some(t)),
            Some(_) if t.endian == Endian::Big && t.size > 1 => Err(format!(
                "{key} {s:?} is big-endian; zarr-python keeps v3 chunks native (little-endian) \
                 in memory, so only native dtypes are supported"
            )),
            Some(e) => Ok(Some(t.with_endian(e))),
        }
    }

    fn need_ty(&self, cfg: &Value, key: &str) -> Result<NumType, String> {
        self.ty(cfg, key)?
            .ok_or_else(|| format!("{key} is required"))
    }

    /// The dtype setting, or the incoming type.
    fn ty_or_cur(&self, cfg: &Value, key: &str) -> Result<NumType, String> {
        match self.ty(cfg, key)? {
            Some(t) => Ok(t),
            None => self
                .cur
                .ok_or_else(|| format!("{key} is required (the chunk is not numeric here)")),
        }
    }

    fn bytes_out(&mut self) {
        self.cur = Some(NumType::U8);
    }
}

fn number(cfg: &Value, key: &str) -> Result<PyNumber, String> {
    PyNumber::from_json(
        cfg.get(key).ok_or_else(|| format!("{key} is required"))?,
        key,
    )
}

fn int(cfg: &Value, key: &str) -> Result<i64, String> {
    super::cfg_i64(cfg, key)?.ok_or_else(|| format!("{key} is required"))
}

/// Parses one numcodecs codec by id; `Ok(None)` if the id is not one of
/// [`SUPPORTED`]. Updates `ctx.cur` to the type the codec hands on.
pub(crate) fn parse(id: &str, cfg: &Value, ctx: &mut Ctx) -> Result<Option<BytesToBytes>, String> {
    let c = match id {
        "delta" => {
            let dtype = ctx.need_ty(cfg, "dtype")?;
            let astype = ctx.ty(cfg, "astype")?.unwrap_or(dtype);
            ctx.cur = Some(astype);
            BytesToBytes::Delta(DeltaCodec::new(dtype, astype)?)
        }
        "fixedscaleoffset" => {
            let dtype = ctx.ty_or_cur(cfg, "dtype")?;
            let astype = ctx.ty(cfg, "astype")?.unwrap_or(dtype);
            ctx.cur = Some(astype);
            BytesToBytes::FixedScaleOffset(Box::new(FixedScaleOffsetCodec::new(
                number(cfg, "offset")?,
                number(cfg, "scale")?,
                dtype,
                astype,
            )?))
        }
        "quantize" => {
            let dtype = ctx.ty_or_cur(cfg, "dtype")?;
            let astype = ctx.ty(cfg, "astype")?.unwrap_or(dtype);
            ctx.cur = Some(astype);
            BytesToBytes::Quantize(QuantizeCodec::new(int(cfg, "digits")?, dtype, astype)?)
        }
        "bitround" => {
            let dtype = ctx.cur.ok_or(
                "only float data (16-64 bit) can be bit-rounded, the chunk is not numeric",
            )?;
            BytesToBytes::BitRound(BitRoundCodec::new(int(cfg, "keepbits")?, dtype)?)
        }
        "astype" => {
            let encode = ctx.need_ty(cfg, "encode_dtype")?;
            let decode = ctx.ty_or_cur(cfg, "decode_dtype")?;
            ctx.cur = Some(encode);
            BytesToBytes::AsType(AsTypeCodec {
                encode_dtype: encode,
                decode_dtype: decode,
            })
        }
        "packbits" => {
            if let Some(t) = ctx
                .cur
                .filter(|t| t.kind != NumKind::Bool && ctx.v3_endian.is_some())
            {
                return Err(format!(
                    "packbits needs bool data, the chunk is {}",
                    t.numpy_str()
                ));
            }
            ctx.bytes_out();
            BytesToBytes::PackBits(PackBitsCodec)
        }
        "shuffle" => {
            let default = if ctx.v3_endian.is_some() {
                ctx.array_item as i64
            } else {
                4
            };
            let es = super::cfg_i64(cfg, "elementsize")?.unwrap_or(default);
            if es < 0 {
                return Err(format!("elementsize {es} is negative"));
            }
            ctx.bytes_out();
            BytesToBytes::Shuffle(ShuffleCodec {
                elementsize: es as usize,
            })
        }
        "zstd" => BytesToBytes::Zstd(ZstdCodec::from_config(cfg)?),
        "gzip" => BytesToBytes::Deflate(DeflateCodec::from_config(DeflateFormat::Gzip, cfg)?),
        "zlib" => BytesToBytes::Deflate(DeflateCodec::from_config(DeflateFormat::Zlib, cfg)?),
        "lz4" => BytesToBytes::Lz4(Lz4Codec::from_config(cfg)?),
        // numcodecs' Blosc takes the typesize from the buffer it is given:
        // the elements in v2, bytes (1) in zarr-python's v3 wrapper.
        "blosc" => {
            let item = match ctx.v3_endian {
                Some(_) => 1,
                None => ctx.cur.map_or(ctx.array_item, |t| t.size),
            };
            BytesToBytes::Blosc(BloscCodec::from_v2_config(cfg, item)?)
        }
        "bz2" => BytesToBytes::Bz2(Bz2Codec::from_config(cfg)?),
        "lzma" => BytesToBytes::Lzma(LzmaCodec::from_config(cfg)?),
        "crc32" | "crc32c" | "adler32" | "fletcher32" => {
            let kind = match id {
                "crc32" => ChecksumKind::Crc32,
                "crc32c" => ChecksumKind::Crc32c,
                "adler32" => ChecksumKind::Adler32,
                _ => ChecksumKind::Fletcher32,
            };
            BytesToBytes::Checksum(Checksum32Codec::from_config(kind, cfg)?)
        }
        _ => return Ok(None),
    };
    if !c.is_filter() {
        ctx.bytes_out();
    }
    Ok(Some(c))
}

/// Whether a v3 `numcodecs.<id>` is an array→array codec in zarr-python
/// (placed before `bytes`).
pub(crate) fn is_v3_array_codec(id: &str) -> bool {
    matches!(
        id,
        "delta" | "fixedscaleoffset" | "quantize" | "bitround" | "packbits" | "astype"
    )
}

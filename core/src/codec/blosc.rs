//! The `blosc` codec (v3 `blosc`, numcodecs `blosc`), through c-blosc 1.x
//! built by `blosc-src`. Only the thread-safe `_ctx` entry points are used.

use std::borrow::Cow;
use std::ffi::CString;
use std::os::raw::{c_int, c_void};

use serde_json::{json, Value};

use super::{cfg_i64, cfg_str, DecodedSize};
use crate::error::CodecError;

/// Blosc's internal compressors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloscCompressor {
    /// BloscLZ.
    BloscLz,
    /// LZ4.
    Lz4,
    /// LZ4 high compression.
    Lz4Hc,
    /// zlib.
    Zlib,
    /// Zstandard.
    Zstd,
}

impl BloscCompressor {
    /// The name used in metadata and by c-blosc.
    pub fn name(self) -> &'static str {
        match self {
            BloscCompressor::BloscLz => "blosclz",
            BloscCompressor::Lz4 => "lz4",
            BloscCompressor::Lz4Hc => "lz4hc",
            BloscCompressor::Zlib => "zlib",
            BloscCompressor::Zstd => "zstd",
        }
    }

    /// Parses a compressor name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "blosclz" => BloscCompressor::BloscLz,
            "lz4" => BloscCompressor::Lz4,
            "lz4hc" => BloscCompressor::Lz4Hc,
            "zlib" => BloscCompressor::Zlib,
            "zstd" => BloscCompressor::Zstd,
            other => {
                return Err(format!(
                    "unknown blosc cname {other:?} (expected blosclz, lz4, lz4hc, zlib or zstd)"
                ))
            }
        })
    }
}

/// Blosc's pre-compression shuffle filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloscShuffle {
    /// No shuffle.
    NoShuffle,
    /// Byte shuffle.
    Shuffle,
    /// Bit shuffle.
    BitShuffle,
    /// numcodecs' `-1`: bit shuffle for 1-byte items, byte shuffle otherwise.
    Auto,
}

impl BloscShuffle {
    /// The v3 spelling.
    pub fn name(self) -> &'static str {
        match self {
            BloscShuffle::NoShuffle => "noshuffle",
            BloscShuffle::Shuffle | BloscShuffle::Auto => "shuffle",
            BloscShuffle::BitShuffle => "bitshuffle",
        }
    }

    /// Parses the v3 spelling.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "noshuffle" => BloscShuffle::NoShuffle,
            "shuffle" => BloscShuffle::Shuffle,
            "bitshuffle" => BloscShuffle::BitShuffle,
            other => {
                return Err(format!(
                    "unknown blosc shuffle {other:?} (expected noshuffle, shuffle or bitshuffle)"
                ))
            }
        })
    }

    fn code(self) -> i64 {
        match self {
            BloscShuffle::NoShuffle => 0,
            BloscShuffle::Shuffle => 1,
            BloscShuffle::BitShuffle => 2,
            BloscShuffle::Auto => -1,
        }
    }

    fn resolve(self, typesize: usize) -> c_int {
        match self {
            BloscShuffle::NoShuffle => 0,
            BloscShuffle::Shuffle => 1,
            BloscShuffle::BitShuffle => 2,
            BloscShuffle::Auto => {
                if typesize == 1 {
                    2
                } else {
                    1
                }
            }
        }
    }
}

/// Blosc meta-compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BloscCodec {
    /// Internal compressor.
    pub cname: BloscCompressor,
    /// Level 0-9.
    pub clevel: u8,
    /// Shuffle filter.
    pub shuffle: BloscShuffle,
    /// Item size for the shuffle (v3 config; v2 takes the dtype's).
    pub typesize: usize,
    /// Block size in bytes (0 = automatic).
    pub blocksize: usize,
}

fn err(e: impl std::fmt::Display) -> CodecError {
    CodecError::new("blosc", e.to_string())
}

const MAX_OVERHEAD: usize = blosc_src::BLOSC_MAX_OVERHEAD as usize;
const MAX_BUFFERSIZE: usize = blosc_src::BLOSC_MAX_BUFFERSIZE as usize;

impl BloscCodec {
    /// Parses a v3 `configuration` (`item_size` fills a missing `typesize`).
    pub(crate) fn from_v3_config(cfg: &Value, item_size: usize) -> Result<Self, String> {
        let cname = BloscCompressor::parse(cfg_str(cfg, "cname")?.unwrap_or("zstd"))?;
        let shuffle = match cfg.get("shuffle") {
            None | Some(Value::Null) => BloscShuffle::NoShuffle,
            Some(Value::String(s)) => BloscShuffle::parse(s)?,
            Some(other) => return Err(format!("blosc shuffle {other} is not a string")),
        };
        Self::build(cname, cfg, shuffle, cfg_i64(cfg, "typesize")?, item_size)
    }

    /// Parses a numcodecs (v2) config; `item_size` is the dtype's size.
    pub(crate) fn from_v2_config(cfg: &Value, item_size: usize) -> Result<Self, String> {
        let cname = BloscCompressor::parse(cfg_str(cfg, "cname")?.unwrap_or("lz4"))?;
        let shuffle = match cfg_i64(cfg, "shuffle")?.unwrap_or(1) {
            0 => BloscShuffle::NoShuffle,
            1 => BloscShuffle::Shuffle,
            2 => BloscShuffle::BitShuffle,
            -1 => BloscShuffle::Auto,
            s => return Err(format!("blosc shuffle {s} (expected -1, 0, 1 or 2)")),
        };
        Self::build(cname, cfg, shuffle, None, item_size)
    }

    fn build(
        cname: BloscCompressor,
        cfg: &Value,
        shuffle: BloscShuffle,
        typesize: Option<i64>,
        item_size: usize,
    ) -> Result<Self, String> {
        let clevel = cfg_i64(cfg, "clevel")?.unwrap_or(5);
        if !(0..=9).contains(&clevel) {
            return Err(format!("blosc clevel {clevel} out of range 0..=9"));
        }
        let typesize = match typesize {
            Some(t) if t >= 1 => t as usize,
            Some(t) => return Err(format!("blosc typesize {t} must be at least 1")),
            None => item_size.max(1),
        };
        let blocksize = cfg_i64(cfg, "blocksize")?.unwrap_or(0);
        if blocksize < 0 {
            return Err(format!("blosc blocksize {blocksize} is negative"));
        }
        Ok(BloscCodec {
            cname,
            clevel: clevel as u8,
            shuffle,
            typesize,
            blocksize: blocksize as usize,
        })
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "blosc", "configuration": {
            "typesize": self.typesize, "cname": self.cname.name(), "clevel": self.clevel,
            "shuffle": self.shuffle.name(), "blocksize": self.blocksize}})
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": "blosc", "cname": self.cname.name(), "clevel": self.clevel,
            "shuffle": self.shuffle.code(), "blocksize": self.blocksize})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        if input.len() > MAX_BUFFERSIZE {
            return Err(err(format!(
                "{} bytes exceed blosc's limit of {MAX_BUFFERSIZE}",
                input.len()
            )));
        }
        // Not zeroed: c-blosc writes the first `n` bytes and only those are
        // kept (zeroing a chunk-sized buffer per chunk cost ~2% of a write).
        let cap = input.len() + MAX_OVERHEAD;
        let mut out: Vec<u8> = Vec::new();
        out.try_reserve_exact(cap)
            .map_err(|_| err(format!("cannot allocate a {cap}-byte output buffer")))?;
        let cname = CString::new(self.cname.name()).map_err(err)?;
        // SAFETY: `input` is valid for reads of its length; `out`'s allocation
        // is valid for writes of `cap` bytes (reserved above; c-blosc only
        // writes, never reads, the destination), and `cap` =
        // `input.len() + BLOSC_MAX_OVERHEAD` is what c-blosc guarantees is
        // enough; the buffers do not overlap; `cname` is a NUL-terminated
        // string that outlives the call. The `_ctx` variant uses no global
        // state.
        let n = unsafe {
            blosc_src::blosc_compress_ctx(
                c_int::from(self.clevel),
                self.shuffle.resolve(self.typesize),
                self.typesize,
                input.len(),
                input.as_ptr().cast::<c_void>(),
                out.as_mut_ptr().cast::<c_void>(),
                cap,
                cname.as_ptr(),
                self.blocksize,
                1,
            )
        };
        if n <= 0 || n as usize > cap {
            return Err(err(format!("compression failed (c-blosc returned {n})")));
        }
        // SAFETY: c-blosc initialised the first `n` bytes (its return value),
        // and `n <= cap` = the capacity.
        unsafe { out.set_len(n as usize) };
        Ok(out)
    }

    /// The decoded size the header claims, after validating the header
    /// against the input length.
    fn claimed_size(input: &[u8]) -> Result<usize, CodecError> {
        if input.len() < blosc_src::BLOSC_MIN_HEADER_LENGTH as usize {
            return Err(err(format!(
                "{} bytes is too short for a blosc header",
                input.len()
            )));
        }
        let mut nbytes: usize = 0;
        // SAFETY: `input` is valid for `input.len()` bytes and `nbytes` is a
        // valid out-pointer; c-blosc only reads the header within `cbytes`.
        let rc = unsafe {
            blosc_src::blosc_cbuffer_validate(
                input.as_ptr().cast::<c_void>(),
                input.len(),
                &mut nbytes,
            )
        };
        if rc < 0 {
            return Err(err(
                "invalid blosc header (sizes inconsistent with the data)",
            ));
        }
        Ok(nbytes)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let claimed = Self::claimed_size(input)?;
        if claimed != out.len() {
            return Err(err(format!(
                "header claims {claimed} decoded bytes, the chunk has {}",
                out.len()
            )));
        }
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: `input` is valid for reads of its length (validated above to
        // hold a consistent header), `out` is valid for writes of `out.len()`
        // bytes, which c-blosc never exceeds; the buffers do not overlap.
        let n = unsafe {
            blosc_src::blosc_decompress_ctx(
                input.as_ptr().cast::<c_void>(),
                out.as_mut_ptr().cast::<c_void>(),
                out.len(),
                1,
            )
        };
        if n < 0 || n as usize != out.len() {
            return Err(err(format!(
                "decompression failed (c-blosc returned {n}, expected {})",
                out.len()
            )));
        }
        Ok(())
    }

    pub(crate) fn decode<'a>(
        &self,
        input: &'a [u8],
        size: DecodedSize,
    ) -> Result<Cow<'a, [u8]>, CodecError> {
        let claimed = Self::claimed_size(input)?;
        let n = match size {
            DecodedSize::Exact(n) => n,
            DecodedSize::AtMost(max) if claimed <= max => claimed,
            DecodedSize::AtMost(max) => {
                return Err(err(format!(
                    "header claims {claimed} decoded bytes, more than the {max} allowed"
                )))
            }
        };
        let mut out = crate::util::try_zeroed(n).map_err(|e| CodecError::new("blosc", e))?;
        self.decode_into(input, &mut out)?;
        Ok(Cow::Owned(out))
    }
}

//! The `zstd` codec (v3 `zstd`, numcodecs `zstd`), through the `zstd` crate.

use std::borrow::Cow;
use std::cell::RefCell;

use serde_json::{json, Value};

use super::{cfg_bool, cfg_i64, DecodedSize};
use crate::error::CodecError;

/// Zstandard compression at `level`, optionally with a frame checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZstdCodec {
    /// Compression level (negative levels are fast modes; 0 is zstd's default).
    pub level: i32,
    /// Whether frames carry (and decoding verifies) a content checksum.
    pub checksum: bool,
}

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn err(e: impl std::fmt::Display) -> CodecError {
    CodecError::new("zstd", e.to_string())
}

impl ZstdCodec {
    pub(crate) fn from_config(cfg: &Value) -> Result<Self, String> {
        let level = cfg_i64(cfg, "level")?.unwrap_or(0);
        let level = i32::try_from(level).map_err(|_| format!("zstd level {level} out of range"))?;
        if !(-131072..=22).contains(&level) {
            return Err(format!("zstd level {level} out of range -131072..=22"));
        }
        Ok(ZstdCodec {
            level,
            checksum: cfg_bool(cfg, "checksum")?.unwrap_or(false),
        })
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "zstd", "configuration": {"level": self.level, "checksum": self.checksum}})
    }

    pub(crate) fn to_v2(&self) -> Value {
        if self.checksum {
            json!({"id": "zstd", "level": self.level, "checksum": true})
        } else {
            json!({"id": "zstd", "level": self.level})
        }
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        COMPRESSOR.with(|c| {
            let mut slot = c.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Compressor::new(self.level).map_err(err)?);
            }
            let comp = slot.as_mut().ok_or_else(|| err("no compressor"))?;
            comp.set_compression_level(self.level).map_err(err)?;
            comp.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(self.checksum))
                .map_err(err)?;
            comp.compress(input).map_err(err)
        })
    }

    fn with_decompressor<T>(
        f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        DECOMPRESSOR.with(|d| {
            let mut slot = d.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(err)?);
            }
            f(slot.as_mut().ok_or_else(|| err("no decompressor"))?)
        })
    }

    /// Decodes into `out`, which must be exactly the decoded size.
    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        check_claimed_size(input, out.len())?;
        let n = Self::with_decompressor(|d| d.decompress_to_buffer(input, out).map_err(err))?;
        if n != out.len() {
            return Err(err(format!("decoded {n} bytes, expected {}", out.len())));
        }
        Ok(())
    }

    pub(crate) fn decode<'a>(
        &self,
        input: &'a [u8],
        size: DecodedSize,
    ) -> Result<Cow<'a, [u8]>, CodecError> {
        match size {
            DecodedSize::Exact(n) => {
                let mut out = crate::util::try_zeroed(n).map_err(|e| CodecError::new("zstd", e))?;
                self.decode_into(input, &mut out)?;
                Ok(Cow::Owned(out))
            }
            DecodedSize::AtMost(max) => {
                let claimed = frame_content_size(input)?;
                if let Some(c) = claimed {
                    if c > max as u64 {
                        return Err(err(format!(
                            "frame claims {c} decoded bytes, more than the {max} allowed"
                        )));
                    }
                }
                let cap = claimed.map_or(max, |c| c as usize);
                Self::with_decompressor(|d| d.decompress(input, cap).map_err(err)).map(Cow::Owned)
            }
        }
    }
}

fn frame_content_size(input: &[u8]) -> Result<Option<u64>, CodecError> {
    zstd::zstd_safe::get_frame_content_size(input)
        .map_err(|_| err("not a zstd frame (bad magic number or header)"))
}

/// Rejects a frame whose header claims a size other than `expected` before
/// any allocation or decoding.
fn check_claimed_size(input: &[u8], expected: usize) -> Result<(), CodecError> {
    if let Some(c) = frame_content_size(input)? {
        // Several concatenated frames may each claim part of the total.
        let single = zstd::zstd_safe::find_frame_compressed_size(input).ok() == Some(input.len());
        if (single && c != expected as u64) || c > expected as u64 {
            return Err(err(format!(
                "frame claims {c} decoded bytes, the chunk has {expected}"
            )));
        }
    }
    Ok(())
}

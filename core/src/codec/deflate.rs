//! The `gzip` (v3 and numcodecs) and `zlib` (numcodecs) codecs, through `flate2`.

use std::borrow::Cow;
use std::io::{Read, Write};

use serde_json::{json, Value};

use super::{cfg_i64, DecodedSize};
use crate::error::CodecError;

/// Which DEFLATE container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateFormat {
    /// RFC 1952 (gzip header and CRC-32 trailer).
    Gzip,
    /// RFC 1950 (zlib header and Adler-32 trailer).
    Zlib,
}

/// DEFLATE compression in a gzip or zlib container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateCodec {
    /// The container.
    pub format: DeflateFormat,
    /// Compression level 0-9.
    pub level: u32,
}

impl DeflateCodec {
    fn name(&self) -> &'static str {
        match self.format {
            DeflateFormat::Gzip => "gzip",
            DeflateFormat::Zlib => "zlib",
        }
    }

    pub(crate) fn from_config(format: DeflateFormat, cfg: &Value) -> Result<Self, String> {
        let level = cfg_i64(cfg, "level")?.unwrap_or(match format {
            DeflateFormat::Gzip => 5,
            DeflateFormat::Zlib => 1,
        });
        // numcodecs' zlib accepts -1 (the library default, 6).
        let level = if level == -1 { 6 } else { level };
        if !(0..=9).contains(&level) {
            return Err(format!("level {level} out of range 0..=9"));
        }
        Ok(DeflateCodec {
            format,
            level: level as u32,
        })
    }

    pub(crate) fn to_v3(&self) -> Value {
        match self.format {
            DeflateFormat::Gzip => json!({"name": "gzip", "configuration": {"level": self.level}}),
            DeflateFormat::Zlib => {
                json!({"name": "numcodecs.zlib", "configuration": {"level": self.level}})
            }
        }
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": self.name(), "level": self.level})
    }

    fn err(&self, e: impl std::fmt::Display) -> CodecError {
        CodecError::new(self.name(), e.to_string())
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let level = flate2::Compression::new(self.level);
        let out = Vec::with_capacity(input.len() / 2 + 64);
        match self.format {
            DeflateFormat::Gzip => {
                let mut e = flate2::write::GzEncoder::new(out, level);
                e.write_all(input).map_err(|e| self.err(e))?;
                e.finish().map_err(|e| self.err(e))
            }
            DeflateFormat::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(out, level);
                e.write_all(input).map_err(|e| self.err(e))?;
                e.finish().map_err(|e| self.err(e))
            }
        }
    }

    /// Runs `f` on a decoder reading `input`; afterwards every input byte
    /// must have been consumed (bytes after the end of a zlib stream, or
    /// after the last gzip member, are corruption, not padding).
    fn with_reader<T>(
        &self,
        input: &[u8],
        f: impl FnOnce(&mut dyn Read) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        let (v, left) = match self.format {
            DeflateFormat::Gzip => {
                let mut d = flate2::bufread::MultiGzDecoder::new(input);
                (f(&mut d)?, d.get_ref().len())
            }
            DeflateFormat::Zlib => {
                let mut d = flate2::bufread::ZlibDecoder::new(input);
                (f(&mut d)?, d.get_ref().len())
            }
        };
        if left != 0 {
            return Err(self.err(format!("{left} bytes follow the end of the stream")));
        }
        Ok(v)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        self.with_reader(input, |r| {
            r.read_exact(out)
                .map_err(|e| self.err(format!("could not decode {} bytes: {e}", out.len())))?;
            let mut extra = [0u8; 1];
            match r.read(&mut extra) {
                Ok(0) => Ok(()),
                Ok(_) => Err(self.err(format!(
                    "decoded data is longer than the expected {} bytes",
                    out.len()
                ))),
                Err(e) => Err(self.err(e)),
            }
        })
    }

    pub(crate) fn decode<'a>(
        &self,
        input: &'a [u8],
        size: DecodedSize,
    ) -> Result<Cow<'a, [u8]>, CodecError> {
        match size {
            DecodedSize::Exact(n) => {
                let mut out = crate::util::try_zeroed(n).map_err(|e| self.err(e))?;
                self.decode_into(input, &mut out)?;
                Ok(Cow::Owned(out))
            }
            DecodedSize::AtMost(max) => {
                let out = self.with_reader(input, |r| {
                    let mut out = Vec::new();
                    r.take(max as u64 + 1)
                        .read_to_end(&mut out)
                        .map_err(|e| self.err(e))?;
                    if out.len() > max {
                        return Err(self.err(format!("decoded data exceeds {max} bytes")));
                    }
                    Ok(out)
                })?;
                Ok(Cow::Owned(out))
            }
        }
    }
}

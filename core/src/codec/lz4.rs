//! numcodecs' `lz4` codec: a 4-byte little-endian decoded size, then one LZ4
//! block; through `lz4_flex`.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::{cfg_i64, DecodedSize};
use crate::error::CodecError;

/// LZ4 block compression with numcodecs' size header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lz4Codec {
    /// numcodecs' acceleration (recorded in metadata; `lz4_flex` has one speed).
    pub acceleration: i64,
}

fn err(e: impl std::fmt::Display) -> CodecError {
    CodecError::new("lz4", e.to_string())
}

impl Lz4Codec {
    pub(crate) fn from_config(cfg: &Value) -> Result<Self, String> {
        Ok(Lz4Codec {
            acceleration: cfg_i64(cfg, "acceleration")?.unwrap_or(1),
        })
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.lz4", "configuration": {"acceleration": self.acceleration}})
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": "lz4", "acceleration": self.acceleration})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let n = u32::try_from(input.len())
            .map_err(|_| err("input larger than 4 GiB cannot be framed"))?;
        let mut out = vec![0u8; 4 + lz4_flex::block::get_maximum_output_size(input.len())];
        out[..4].copy_from_slice(&n.to_le_bytes());
        let written = lz4_flex::block::compress_into(input, &mut out[4..]).map_err(err)?;
        out.truncate(4 + written);
        Ok(out)
    }

    fn header(input: &[u8]) -> Result<usize, CodecError> {
        if input.len() < 4 {
            return Err(err(format!(
                "{} bytes is too short for the 4-byte size header",
                input.len()
            )));
        }
        Ok(u32::from_le_bytes([input[0], input[1], input[2], input[3]]) as usize)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let claimed = Self::header(input)?;
        if claimed != out.len() {
            return Err(err(format!(
                "header claims {claimed} decoded bytes, the chunk has {}",
                out.len()
            )));
        }
        let n = lz4_flex::block::decompress_into(&input[4..], out).map_err(err)?;
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
        let claimed = Self::header(input)?;
        let n = match size {
            DecodedSize::Exact(n) => n,
            DecodedSize::AtMost(max) if claimed <= max => claimed,
            DecodedSize::AtMost(max) => {
                return Err(err(format!(
                    "header claims {claimed} decoded bytes, more than the {max} allowed"
                )))
            }
        };
        let mut out = crate::util::try_zeroed(n).map_err(|e| CodecError::new("lz4", e))?;
        self.decode_into(input, &mut out)?;
        Ok(Cow::Owned(out))
    }
}

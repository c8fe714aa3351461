//! The v3 `crc32c` codec: appends the CRC-32C of the data, little-endian.

use std::borrow::Cow;

use serde_json::{json, Value};

use crate::error::CodecError;

/// CRC-32C checksum codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crc32cCodec;

impl Crc32cCodec {
    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "crc32c"})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 4);
        out.extend_from_slice(input);
        out.extend_from_slice(&crc32c::crc32c(input).to_le_bytes());
        out
    }

    /// Verifies the checksum and returns the data without it (no copy).
    pub(crate) fn decode<'a>(&self, input: &'a [u8]) -> Result<Cow<'a, [u8]>, CodecError> {
        if input.len() < 4 {
            return Err(CodecError::new(
                "crc32c",
                format!("{} bytes is too short to hold a checksum", input.len()),
            ));
        }
        let (data, sum) = input.split_at(input.len() - 4);
        let stored = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
        let actual = crc32c::crc32c(data);
        if stored != actual {
            return Err(CodecError::new(
                "crc32c",
                format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"),
            ));
        }
        Ok(Cow::Borrowed(data))
    }
}

//! The v3 `bytes` codec (and v2's dtype byte order): serialises elements in a
//! fixed byte order.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::cfg_str;
use crate::dtype::{swap_bytes_in_place, DataType, Endian};
use crate::error::CodecError;

/// Serialise in `endian` byte order (`None`: the type has no byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BytesCodec {
    /// Byte order on disk; `None` for single-byte types.
    pub endian: Option<Endian>,
    /// Bytes reversed per element unit when the order differs from native.
    swap_unit: usize,
}

impl BytesCodec {
    /// The codec for `dtype` stored in `endian` order.
    pub fn for_type(dtype: DataType, endian: Endian) -> BytesCodec {
        BytesCodec {
            endian: dtype.has_byte_order().then_some(endian),
            swap_unit: dtype.swap_unit(),
        }
    }

    pub(crate) fn from_config(cfg: &Value, dtype: DataType) -> Result<Self, String> {
        let endian = match cfg_str(cfg, "endian")? {
            Some("little") => Some(Endian::Little),
            Some("big") => Some(Endian::Big),
            Some(other) => return Err(format!("endian {other:?} (expected little or big)")),
            None => None,
        };
        match (endian, dtype.has_byte_order()) {
            (None, true) => Err(format!("endian is required for {dtype}")),
            (e, true) => Ok(BytesCodec {
                endian: e,
                swap_unit: dtype.swap_unit(),
            }),
            (e, false) => Ok(BytesCodec {
                endian: e,
                swap_unit: 1,
            }),
        }
    }

    pub(crate) fn to_v3(&self) -> Value {
        match self.endian {
            Some(e) => json!({"name": "bytes", "configuration": {"endian": e.as_str()}}),
            None => json!({"name": "bytes"}),
        }
    }

    /// Whether stored bytes equal the native in-memory bytes.
    pub fn is_native(&self) -> bool {
        self.swap_unit <= 1 || self.endian.is_none_or(|e| e == Endian::native())
    }

    pub(crate) fn encode<'a>(&self, decoded: Cow<'a, [u8]>, _dtype: DataType) -> Cow<'a, [u8]> {
        if self.is_native() {
            return decoded;
        }
        let mut v = decoded.into_owned();
        swap_bytes_in_place(&mut v, self.swap_unit);
        Cow::Owned(v)
    }

    pub(crate) fn decode_into(
        &self,
        encoded: &[u8],
        _dtype: DataType,
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        if encoded.len() != out.len() {
            return Err(CodecError::new(
                "bytes",
                format!(
                    "stored chunk has {} bytes, the decoded chunk has {}",
                    encoded.len(),
                    out.len()
                ),
            ));
        }
        out.copy_from_slice(encoded);
        if !self.is_native() {
            swap_bytes_in_place(out, self.swap_unit);
        }
        Ok(())
    }
}

//! The numcodecs variable-length codecs `vlen-utf8` and `vlen-bytes`: v3
//! `array→bytes` codecs, v2 object codecs (in `filters` or as the
//! `compressor`).
//!
//! An encoded chunk is a little-endian `u32` item count, then per item (in
//! the chunk's storage order) a little-endian `u32` byte length and the
//! bytes. Decoding does not build one object per item: it records where each
//! item ends in the decoded buffer ([`VlenItems`]), from which the region
//! reader copies straight into Arrow's layout (`n + 1` offsets and one
//! values buffer). Like numcodecs, bytes after the last item are ignored.

use serde_json::{json, Value};

use super::{BytesToBytes, CodecChain, DecodedSize};
use crate::dtype::DataType;
use crate::error::{CodecError, MetadataError};
use crate::store::Bytes;

/// Largest decoded (pre-compression) vlen chunk accepted: a compressor
/// header claiming more is refused before anything is allocated.
pub const VLEN_MAX_DECODED: usize = 1 << 31;

/// Which vlen codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VlenKind {
    /// `vlen-utf8`: items are UTF-8 text.
    Utf8,
    /// `vlen-bytes`: items are arbitrary bytes.
    Bytes,
}

/// The `vlen-utf8` / `vlen-bytes` codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlenCodec {
    /// UTF-8 or bytes.
    pub kind: VlenKind,
}

impl VlenCodec {
    /// The codec serialising `dtype`, if it is a variable-length type.
    pub fn for_type(dtype: DataType) -> Option<VlenCodec> {
        match dtype {
            DataType::VlenString => Some(VlenCodec {
                kind: VlenKind::Utf8,
            }),
            DataType::VlenBytes => Some(VlenCodec {
                kind: VlenKind::Bytes,
            }),
            _ => None,
        }
    }

    /// The codec with this v3 name or numcodecs id.
    pub fn from_name(name: &str) -> Option<VlenCodec> {
        match name {
            "vlen-utf8" => Some(VlenCodec {
                kind: VlenKind::Utf8,
            }),
            "vlen-bytes" => Some(VlenCodec {
                kind: VlenKind::Bytes,
            }),
            _ => None,
        }
    }

    /// The data type this codec serialises.
    pub fn data_type(self) -> DataType {
        match self.kind {
            VlenKind::Utf8 => DataType::VlenString,
            VlenKind::Bytes => DataType::VlenBytes,
        }
    }

    /// `vlen-utf8` or `vlen-bytes`.
    pub fn name(self) -> &'static str {
        match self.kind {
            VlenKind::Utf8 => "vlen-utf8",
            VlenKind::Bytes => "vlen-bytes",
        }
    }

    /// Checks a v3 `configuration` (the codecs take none).
    pub(crate) fn check_config(cfg: &Value) -> Result<(), String> {
        match cfg {
            Value::Null => Ok(()),
            Value::Object(o) if o.is_empty() => Ok(()),
            other => Err(format!("takes no configuration, got {other}")),
        }
    }

    /// The v3 codec JSON, as zarr-python writes it.
    pub(crate) fn to_v3(self) -> Value {
        json!({"name": self.name(), "configuration": {}})
    }

    /// The numcodecs (v2 `filters` entry) JSON.
    pub fn to_v2(self) -> Value {
        json!({"id": self.name()})
    }

    /// Decodes the stored value of one chunk through the chain's
    /// `bytes→bytes` codecs and then this codec's format, checking that it
    /// holds exactly `expected` items.
    pub fn decode(
        self,
        chain: &CodecChain,
        encoded: Bytes,
        expected: usize,
    ) -> Result<VlenItems, CodecError> {
        let raw = unwrap_bytes(chain, encoded)?;
        VlenItems::parse(raw, expected, self.kind)
    }

    /// Encodes `n` items (item `i` is `item(i)`, in storage order) and
    /// applies the chain's `bytes→bytes` codecs: the stored value.
    pub fn encode<'b>(
        self,
        chain: &CodecChain,
        n: usize,
        item: impl Fn(usize) -> &'b [u8],
    ) -> Result<Vec<u8>, CodecError> {
        let mut cur = encode_items(self.kind, n, item)?;
        for c in &chain.bytes_to_bytes {
            cur = BytesToBytes::encode(c, &cur)?;
        }
        Ok(cur)
    }
}

/// Undoes the chain's `bytes→bytes` codecs, bounded by [`VLEN_MAX_DECODED`].
fn unwrap_bytes(chain: &CodecChain, encoded: Bytes) -> Result<Bytes, CodecError> {
    let mut cur = encoded;
    for c in chain.bytes_to_bytes.iter().rev() {
        let next = c
            .decode(&cur, DecodedSize::AtMost(VLEN_MAX_DECODED))?
            .into_owned();
        cur = Bytes::from(next);
    }
    Ok(cur)
}

/// Where a v2 array keeps its object codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V2ObjectCodec {
    /// The codec.
    pub codec: VlenCodec,
    /// `true`: it is the `compressor`; `false`: it is the only filter.
    pub in_compressor: bool,
}

/// The object codec of a v2 `|O` array, found as zarr-python finds it (in
/// `filters`, else as the `compressor`); `None` for any other dtype.
pub(crate) fn v2_object_codec(
    dtype: &str,
    filters: Option<&Value>,
    compressor: Option<&Value>,
    key: &str,
) -> Result<Option<V2ObjectCodec>, MetadataError> {
    if dtype != "|O" && dtype != "O" {
        return Ok(None);
    }
    let id = |v: &Value| v.get("id").and_then(Value::as_str).map(str::to_string);
    let unsupported = |what: &'static str, name: String, detail: &str| MetadataError::Unsupported {
        key: key.to_string(),
        what,
        name,
        detail: detail.to_string(),
    };
    let filter_ids: Vec<String> = match filters {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| id(f).unwrap_or_else(|| "?".into()))
            .collect(),
        Some(other) => {
            return Err(MetadataError::Invalid {
                key: key.to_string(),
                reason: format!("filters {other} is not a list"),
            })
        }
    };
    let compressor_id = compressor.filter(|c| !c.is_null()).and_then(id);
    let found = match (filter_ids.as_slice(), compressor_id.as_deref()) {
        ([only], c) if VlenCodec::from_name(only).is_some() => {
            if c.and_then(VlenCodec::from_name).is_some() {
                return Err(unsupported(
                    "compressor",
                    c.unwrap_or_default().to_string(),
                    " (an object codec both as filter and as compressor)",
                ));
            }
            VlenCodec::from_name(only).map(|codec| V2ObjectCodec {
                codec,
                in_compressor: false,
            })
        }
        ([], Some(c)) => VlenCodec::from_name(c).map(|codec| V2ObjectCodec {
            codec,
            in_compressor: true,
        }),
        _ => None,
    };
    match found {
        Some(f) => Ok(Some(f)),
        None => {
            let mut names = filter_ids;
            names.extend(compressor_id);
            Err(unsupported(
                "data type",
                dtype.to_string(),
                &format!(
                    " with filters/compressor [{}] (object arrays are supported with the vlen-utf8 or vlen-bytes object codec as the only filter or as the compressor)",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// The items of one decoded chunk, in storage order, without a copy.
#[derive(Debug, Clone)]
pub struct VlenItems {
    /// The decoded vlen buffer (header, prefixes and items).
    buf: Bytes,
    /// `ends[i]` is where item `i` ends; item `i` starts 4 bytes after
    /// `ends[i - 1]` (after the header for item 0).
    ends: Vec<usize>,
}

impl VlenItems {
    /// Parses a decoded vlen buffer that must hold `expected` items.
    ///
    /// Nothing proportional to a count or length read from `buf` is
    /// allocated before it is checked against `buf`'s length.
    pub fn parse(buf: Bytes, expected: usize, kind: VlenKind) -> Result<VlenItems, CodecError> {
        let name = match kind {
            VlenKind::Utf8 => "vlen-utf8",
            VlenKind::Bytes => "vlen-bytes",
        };
        let err = |reason: String| CodecError::new(name, reason);
        let b: &[u8] = &buf;
        let count = read_u32(b, 0)
            .ok_or_else(|| err(format!("{} bytes: missing or truncated header", b.len())))?
            as usize;
        if count != expected {
            return Err(err(format!(
                "chunk holds {count} items, the chunk shape has {expected}"
            )));
        }
        // Every item takes at least its 4-byte length prefix.
        if count > (b.len() - 4) / 4 {
            return Err(err(format!(
                "{count} items cannot fit in {} bytes (truncated)",
                b.len()
            )));
        }
        let mut ends = Vec::new();
        ends.try_reserve_exact(count)
            .map_err(|_| err(format!("cannot allocate the index of {count} items")))?;
        let mut pos = 4usize;
        for i in 0..count {
            let len = read_u32(b, pos).ok_or_else(|| {
                err(format!(
                    "item {i}: length prefix at byte {pos} is truncated"
                ))
            })? as usize;
            let start = pos + 4;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= b.len())
                .ok_or_else(|| {
                    err(format!(
                        "item {i}: {len} bytes at byte {start} run past the end ({} bytes; truncated)",
                        b.len()
                    ))
                })?;
            if kind == VlenKind::Utf8 && std::str::from_utf8(&b[start..end]).is_err() {
                return Err(err(format!("item {i} is not valid UTF-8")));
            }
            ends.push(end);
            pos = end;
        }
        Ok(VlenItems { buf, ends })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Item `i` (in storage order).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 8 } else { self.ends[i - 1] + 4 };
        &self.buf[start..self.ends[i]]
    }
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Encodes `n` items, item `i` being `item(i)`, in the numcodecs format.
pub fn encode_items<'b>(
    kind: VlenKind,
    n: usize,
    item: impl Fn(usize) -> &'b [u8],
) -> Result<Vec<u8>, CodecError> {
    let name = match kind {
        VlenKind::Utf8 => "vlen-utf8",
        VlenKind::Bytes => "vlen-bytes",
    };
    let count = u32::try_from(n)
        .map_err(|_| CodecError::new(name, format!("{n} items do not fit a u32 count")))?;
    let mut total = 4usize;
    for i in 0..n {
        let len = item(i).len();
        if u32::try_from(len).is_err() {
            return Err(CodecError::new(
                name,
                format!("item {i} has {len} bytes, more than a u32 length allows"),
            ));
        }
        total = total
            .checked_add(4 + len)
            .ok_or_else(|| CodecError::new(name, "encoded chunk size overflows"))?;
    }
    let mut out = Vec::new();
    out.try_reserve_exact(total)
        .map_err(|_| CodecError::new(name, format!("cannot allocate {total} bytes")))?;
    out.extend_from_slice(&count.to_le_bytes());
    for i in 0..n {
        let it = item(i);
        out.extend_from_slice(&(it.len() as u32).to_le_bytes());
        out.extend_from_slice(it);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(items: &[&[u8]]) -> Vec<u8> {
        encode_items(VlenKind::Bytes, items.len(), |i| items[i]).unwrap()
    }

    #[test]
    fn round_trip() {
        let items: [&[u8]; 4] = [b"a", b"", "héllo".as_bytes(), b"xyz"];
        let e = enc(&items);
        assert_eq!(&e[..9], b"\x04\x00\x00\x00\x01\x00\x00\x00a");
        let d = VlenItems::parse(Bytes::from(e.clone()), 4, VlenKind::Utf8).unwrap();
        for (i, it) in items.iter().enumerate() {
            assert_eq!(d.get(i), *it);
        }
        // Trailing bytes are ignored, as numcodecs does.
        let mut t = e.clone();
        t.extend_from_slice(b"junk");
        assert_eq!(
            VlenItems::parse(Bytes::from(t.clone()), 4, VlenKind::Utf8)
                .unwrap()
                .get(3),
            b"xyz"
        );
    }

    #[test]
    fn hostile_input() {
        let cases: [&[u8]; 5] = [
            b"",
            b"\x01\x00",
            b"\xff\xff\xff\xff",
            b"\x01\x00\x00\x00\xff\xff\xff\xff",
            b"\x01\x00\x00\x00\x02\x00\x00\x00a",
        ];
        for c in cases {
            assert!(VlenItems::parse(Bytes::from(c.to_vec()), 1, VlenKind::Bytes).is_err());
        }
        // A count larger than the buffer can hold is refused before allocating.
        let huge = b"\xff\xff\xff\x7f\x00\x00\x00\x00";
        assert!(
            VlenItems::parse(Bytes::from(huge.to_vec()), 0x7fff_ffff, VlenKind::Bytes).is_err()
        );
        // Wrong count.
        assert!(VlenItems::parse(Bytes::from(enc(&[b"a"])), 2, VlenKind::Bytes).is_err());
        // Invalid UTF-8 only matters for vlen-utf8.
        let bad = enc(&[b"\xff"]);
        assert!(VlenItems::parse(Bytes::from(bad.clone()), 1, VlenKind::Utf8).is_err());
        assert!(VlenItems::parse(Bytes::from(bad.clone()), 1, VlenKind::Bytes).is_ok());
    }
}

//! numcodecs' 32-bit checksums: `crc32` and `adler32` (zlib's, stored first
//! by default), `crc32c` (stored last by default) and `fletcher32` (HDF5's,
//! always last); each is 4 bytes, little-endian, beside the data.

use std::borrow::Cow;

use serde_json::{json, Value};

use crate::error::CodecError;

/// Which checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    /// zlib's CRC-32.
    Crc32,
    /// zlib's Adler-32.
    Adler32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// HDF5's Fletcher-32 (big-endian 16-bit words).
    Fletcher32,
}

impl ChecksumKind {
    /// numcodecs' id.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::Crc32 => "crc32",
            ChecksumKind::Adler32 => "adler32",
            ChecksumKind::Crc32c => "crc32c",
            ChecksumKind::Fletcher32 => "fletcher32",
        }
    }

    /// Where numcodecs puts it unless told otherwise.
    pub fn default_at_end(self) -> bool {
        matches!(self, ChecksumKind::Crc32c | ChecksumKind::Fletcher32)
    }

    fn compute(self, data: &[u8]) -> u32 {
        match self {
            ChecksumKind::Crc32 => crc32fast::hash(data),
            ChecksumKind::Adler32 => adler32(data),
            ChecksumKind::Crc32c => crc32c::crc32c(data),
            ChecksumKind::Fletcher32 => fletcher32(data),
        }
    }
}

/// A numcodecs checksum codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum32Codec {
    /// Which checksum.
    pub kind: ChecksumKind,
    /// Stored after the data (`location: "end"`) rather than before it.
    pub at_end: bool,
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 bytes is the most that cannot overflow `b` before the modulo.
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn fletcher32(data: &[u8]) -> u32 {
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    let (mut s1, mut s2) = (0u32, 0u32);
    let words = data.chunks_exact(2);
    let odd = words.remainder().first().copied();
    // 360 words at most between folds (HDF5's H5_checksum_fletcher32).
    let mut it = words.peekable();
    while it.peek().is_some() {
        for w in it.by_ref().take(360) {
            s1 += (u32::from(w[0]) << 8) | u32::from(w[1]);
            s2 += s1;
        }
        s1 = fold(s1);
        s2 = fold(s2);
    }
    if let Some(x) = odd {
        s1 += u32::from(x) << 8;
        s2 += s1;
        s1 = fold(s1);
        s2 = fold(s2);
    }
    s1 = fold(s1);
    s2 = fold(s2);
    (s2 << 16) | s1
}

impl Checksum32Codec {
    /// The codec with numcodecs' default location.
    pub fn new(kind: ChecksumKind) -> Self {
        Checksum32Codec {
            kind,
            at_end: kind.default_at_end(),
        }
    }

    /// Parses a `location` setting (`"start"` or `"end"`; fletcher32 has none).
    pub(crate) fn from_config(kind: ChecksumKind, cfg: &Value) -> Result<Self, String> {
        let at_end = match (kind, super::cfg_str(cfg, "location")?) {
            (_, None) => kind.default_at_end(),
            (ChecksumKind::Fletcher32, Some(l)) => {
                return Err(format!("location {l:?}: fletcher32 is always stored last"))
            }
            (_, Some("start")) => false,
            (_, Some("end")) => true,
            (_, Some(l)) => return Err(format!("location {l:?} (expected \"start\" or \"end\")")),
        };
        Ok(Checksum32Codec { kind, at_end })
    }

    fn config(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if self.at_end != self.kind.default_at_end() {
            m.insert(
                "location".into(),
                json!(if self.at_end { "end" } else { "start" }),
            );
        }
        m
    }

    pub(crate) fn to_v2(&self) -> Value {
        let mut m = self.config();
        m.insert("id".into(), json!(self.kind.name()));
        Value::Object(m)
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": format!("numcodecs.{}", self.kind.name()), "configuration": self.config()})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Vec<u8> {
        let sum = self.kind.compute(input).to_le_bytes();
        let mut out = Vec::with_capacity(input.len() + 4);
        if self.at_end {
            out.extend_from_slice(input);
            out.extend_from_slice(&sum);
        } else {
            out.extend_from_slice(&sum);
            out.extend_from_slice(input);
        }
        out
    }

    /// Verifies the checksum and returns the data without it (no copy).
    pub(crate) fn decode<'a>(&self, input: &'a [u8]) -> Result<Cow<'a, [u8]>, CodecError> {
        let name = self.kind.name();
        if input.len() < 4 {
            return Err(CodecError::new(
                name,
                format!("{} bytes is too short to hold a checksum", input.len()),
            ));
        }
        let (data, sum) = if self.at_end {
            input.split_at(input.len() - 4)
        } else {
            let (s, d) = input.split_at(4);
            (d, s)
        };
        let stored = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
        let actual = self.kind.compute(data);
        if stored != actual {
            return Err(CodecError::new(
                name,
                format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"),
            ));
        }
        Ok(Cow::Borrowed(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_numcodecs() {
        // numcodecs 0.16: each codec's encode(b"abc").
        for (kind, hex) in [
            (ChecksumKind::Crc32, "c2412435616263"),
            (ChecksumKind::Adler32, "27014d02616263"),
            (ChecksumKind::Fletcher32, "61626362c4c525"),
            (ChecksumKind::Crc32c, "616263b73f4b36"),
        ] {
            let c = Checksum32Codec::new(kind);
            let enc = c.encode(b"abc");
            let got: String = enc.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "{kind:?}");
            assert_eq!(&c.decode(&enc).unwrap()[..], b"abc");
            let mut bad = enc.clone();
            bad[5] ^= 1;
            assert!(c.decode(&bad).is_err());
            assert!(c.decode(&enc[..3]).is_err());
        }
        let long: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let c = Checksum32Codec::new(ChecksumKind::Adler32);
        assert_eq!(&c.decode(&c.encode(&long)).unwrap()[..], &long[..]);
    }
}

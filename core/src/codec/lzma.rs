//! numcodecs `LZMA`: Python's `lzma.compress(data, format, check, preset)`
//! in the `.xz` (format 1) or legacy `.lzma` (format 2) container, through
//! liblzma (built from source by the `liblzma` crate). Custom filter chains
//! and raw streams (format 3) are refused.

use std::borrow::Cow;

use liblzma::stream::{Action, Check, LzmaOptions, Status, Stream};
use serde_json::{json, Value};

use super::stream::{self as streams, StreamDecoder};
use super::DecodedSize;
use crate::error::CodecError;

const NAME: &str = "lzma";
/// liblzma's `LZMA_PRESET_EXTREME` flag.
const EXTREME: u32 = 0x8000_0000;
/// Memory a decoder may use (preset 9 needs 65 MiB; a forged header could ask
/// for 4 GiB).
const MEMLIMIT: u64 = 512 << 20;

/// The container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzmaFormat {
    /// `FORMAT_AUTO` (0): reads `.xz` or `.lzma`; cannot write.
    Auto,
    /// `FORMAT_XZ` (1).
    Xz,
    /// `FORMAT_ALONE` (2), the legacy `.lzma`.
    Alone,
}

/// The `lzma` compressor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LzmaCodec {
    /// Container.
    pub format: LzmaFormat,
    /// Integrity check code as numcodecs stores it (-1 default, 0 none,
    /// 1 CRC32, 4 CRC64, 10 SHA-256).
    pub check: i64,
    /// Preset (level 0-9, optionally with the extreme flag); `None` is 6.
    pub preset: Option<u32>,
}

struct Decoder(Stream);

impl StreamDecoder for Decoder {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String> {
        let (i0, o0) = (self.0.total_in(), self.0.total_out());
        let st = self
            .0
            .process(input, output, Action::Run)
            .map_err(|e| format!("invalid lzma data: {e}"))?;
        Ok((
            (self.0.total_in() - i0) as usize,
            (self.0.total_out() - o0) as usize,
            st == Status::StreamEnd,
        ))
    }
}

impl LzmaCodec {
    pub(crate) fn from_config(cfg: &Value) -> Result<Self, String> {
        let format = match super::cfg_i64(cfg, "format")?.unwrap_or(1) {
            0 => LzmaFormat::Auto,
            1 => LzmaFormat::Xz,
            2 => LzmaFormat::Alone,
            3 => return Err("format 3 (FORMAT_RAW, custom filter chains) is not supported".into()),
            f => return Err(format!("format {f} (expected 0, 1 or 2)")),
        };
        let check = super::cfg_i64(cfg, "check")?.unwrap_or(-1);
        match (format, check) {
            (_, -1)
            | (LzmaFormat::Xz | LzmaFormat::Auto, 0 | 1 | 4 | 10)
            | (LzmaFormat::Alone, 0) => {}
            _ => return Err(format!("check {check} is not valid for this format")),
        }
        let preset = match super::cfg_i64(cfg, "preset")? {
            None => None,
            Some(p) if (0..=9).contains(&(p & !i64::from(EXTREME))) && p >= 0 => Some(p as u32),
            Some(p) => {
                return Err(format!(
                    "preset {p} (expected 0-9, optionally | PRESET_EXTREME)"
                ))
            }
        };
        match cfg.get("filters") {
            None | Some(Value::Null) => {}
            Some(f) => {
                return Err(format!(
                    "custom filter chains ({f}) are not supported; use a preset"
                ))
            }
        }
        Ok(LzmaCodec {
            format,
            check,
            preset,
        })
    }

    fn config(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        let f = match self.format {
            LzmaFormat::Auto => 0,
            LzmaFormat::Xz => 1,
            LzmaFormat::Alone => 2,
        };
        m.insert("format".into(), json!(f));
        m.insert("check".into(), json!(self.check));
        m.insert("preset".into(), json!(self.preset));
        m.insert("filters".into(), Value::Null);
        m
    }

    pub(crate) fn to_v2(&self) -> Value {
        let mut m = self.config();
        m.insert("id".into(), json!(NAME));
        Value::Object(m)
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.lzma", "configuration": self.config()})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let e = |e: liblzma::stream::Error| CodecError::new(NAME, e.to_string());
        let preset = self.preset.unwrap_or(6);
        let mut s = match self.format {
            LzmaFormat::Xz => {
                let check = match self.check {
                    0 => Check::None,
                    1 => Check::Crc32,
                    10 => Check::Sha256,
                    _ => Check::Crc64,
                };
                Stream::new_easy_encoder(preset, check).map_err(e)?
            }
            LzmaFormat::Alone => {
                Stream::new_lzma_encoder(&LzmaOptions::new_preset(preset).map_err(e)?).map_err(e)?
            }
            LzmaFormat::Auto => {
                return Err(CodecError::new(
                    NAME,
                    "format 0 (FORMAT_AUTO) can only decode; choose 1 (xz) or 2 (alone) to write",
                ))
            }
        };
        let mut out = Vec::with_capacity(input.len() / 2 + 1024);
        loop {
            let consumed = s.total_in() as usize;
            let st = s
                .process_vec(&input[consumed..], &mut out, Action::Finish)
                .map_err(e)?;
            if st == Status::StreamEnd {
                return Ok(out);
            }
            out.reserve(out.capacity().max(1024));
        }
    }

    fn decoder(&self) -> impl Fn() -> Result<Decoder, String> {
        let format = self.format;
        move || {
            let s = match format {
                LzmaFormat::Xz => Stream::new_stream_decoder(MEMLIMIT, 0),
                LzmaFormat::Alone => Stream::new_lzma_decoder(MEMLIMIT),
                LzmaFormat::Auto => Stream::new_auto_decoder(MEMLIMIT, 0),
            };
            s.map(Decoder).map_err(|e| e.to_string())
        }
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        streams::decode_into(NAME, &self.decoder(), input, out)
    }

    pub(crate) fn decode(
        &self,
        input: &[u8],
        size: DecodedSize,
    ) -> Result<Cow<'static, [u8]>, CodecError> {
        streams::decode(NAME, &self.decoder(), input, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_input() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        for format in [1, 2] {
            let c = LzmaCodec::from_config(&json!({"format": format, "preset": 1})).unwrap();
            let enc = c.encode(&data).unwrap();
            let mut out = vec![0u8; data.len()];
            c.decode_into(&enc, &mut out).unwrap();
            assert_eq!(out, data);
            let auto = LzmaCodec::from_config(&json!({"format": 0})).unwrap();
            assert_eq!(
                &auto.decode(&enc, DecodedSize::AtMost(1 << 20)).unwrap()[..],
                &data[..]
            );
            assert!(c.decode_into(&enc[..enc.len() - 3], &mut out).is_err());
            assert!(c.decode_into(&enc, &mut out[1..]).is_err());
            assert!(c.decode_into(b"\xfd7zXZ\0garbage", &mut out).is_err());
        }
        for bad in [
            json!({"format": 3}),
            json!({"filters": [{"id": 33}]}),
            json!({"preset": 12}),
            json!({"format": 2, "check": 4}),
        ] {
            assert!(LzmaCodec::from_config(&bad).is_err(), "{bad}");
        }
    }
}

//! numcodecs `BZ2`: a bzip2 stream (Python's `bz2.compress(data, level)`),
//! through the `bzip2` crate's pure-Rust libbzip2 port.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::stream::{self, StreamDecoder};
use super::DecodedSize;
use crate::error::CodecError;

const NAME: &str = "bz2";

/// The `bz2` compressor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bz2Codec {
    /// Block size level 1-9 (numcodecs' default 1).
    pub level: u32,
}

struct Decoder(bzip2::Decompress);

impl StreamDecoder for Decoder {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String> {
        let (i0, o0) = (self.0.total_in(), self.0.total_out());
        let st = self
            .0
            .decompress(input, output)
            .map_err(|e| format!("invalid bzip2 data: {e}"))?;
        Ok((
            (self.0.total_in() - i0) as usize,
            (self.0.total_out() - o0) as usize,
            st == bzip2::Status::StreamEnd,
        ))
    }
}

fn new_decoder() -> Result<Decoder, String> {
    Ok(Decoder(bzip2::Decompress::new(false)))
}

impl Bz2Codec {
    pub(crate) fn from_config(cfg: &Value) -> Result<Self, String> {
        let level = super::cfg_i64(cfg, "level")?.unwrap_or(1);
        if !(1..=9).contains(&level) {
            return Err(format!("level {level} out of range 1..=9"));
        }
        Ok(Bz2Codec {
            level: level as u32,
        })
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "level": self.level})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.bz2", "configuration": {"level": self.level}})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut c = bzip2::Compress::new(bzip2::Compression::new(self.level), 30);
        let mut out = Vec::with_capacity(input.len() / 2 + 1024);
        loop {
            let consumed = c.total_in() as usize;
            let st = c
                .compress_vec(&input[consumed..], &mut out, bzip2::Action::Finish)
                .map_err(|e| CodecError::new(NAME, e.to_string()))?;
            if st == bzip2::Status::StreamEnd {
                return Ok(out);
            }
            out.reserve(out.capacity().max(1024));
        }
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        stream::decode_into(NAME, &new_decoder, input, out)
    }

    pub(crate) fn decode(
        &self,
        input: &[u8],
        size: DecodedSize,
    ) -> Result<Cow<'static, [u8]>, CodecError> {
        stream::decode(NAME, &new_decoder, input, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_input() {
        let c = Bz2Codec { level: 1 };
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let enc = c.encode(&data).unwrap();
        let mut out = vec![0u8; data.len()];
        c.decode_into(&enc, &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(
            &c.decode(&enc, DecodedSize::AtMost(1 << 20)).unwrap()[..],
            &data[..]
        );
        // Two streams back to back decode as one (Python's bz2.decompress).
        let mut two = c.encode(b"ab").unwrap();
        two.extend(c.encode(b"cd").unwrap());
        assert_eq!(&c.decode(&two, DecodedSize::Exact(4)).unwrap()[..], b"abcd");
        assert!(c.decode_into(&enc, &mut out[1..]).is_err());
        assert!(c.decode_into(&enc[..enc.len() / 2], &mut out).is_err());
        assert!(c.decode_into(b"BZh9garbage", &mut out).is_err());
        assert!(c.decode(&enc, DecodedSize::AtMost(10)).is_err());
    }
}

//! numcodecs `PackBits`: booleans packed eight to a byte (most significant
//! bit first) after one byte counting the padding bits of the last byte.

use serde_json::{json, Value};

use crate::error::CodecError;

const NAME: &str = "packbits";

/// The `packbits` filter (input: one byte per boolean, nonzero is true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackBitsCodec;

fn err(e: impl Into<String>) -> CodecError {
    CodecError::new(NAME, e)
}

impl PackBitsCodec {
    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.packbits", "configuration": {}})
    }

    pub(crate) fn encoded_len(&self, n: usize) -> Option<usize> {
        Some(1 + n.div_ceil(8))
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![0u8; 1 + input.len().div_ceil(8)];
        out[0] = ((8 - input.len() % 8) % 8) as u8;
        for (o, bits) in out[1..].iter_mut().zip(input.chunks(8)) {
            *o = bits
                .iter()
                .enumerate()
                .fold(0u8, |acc, (k, &b)| acc | (u8::from(b != 0) << (7 - k)));
        }
        Ok(out)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let (&pad, packed) = input
            .split_first()
            .ok_or_else(|| err("empty input has no padding byte"))?;
        if pad > 7 {
            return Err(err(format!("padding {pad} bits (at most 7)")));
        }
        let n = (packed.len() * 8).checked_sub(usize::from(pad));
        if n != Some(out.len()) || (packed.is_empty() && pad != 0) {
            return Err(err(format!(
                "{} packed bytes with {pad} padding bits do not hold {} booleans",
                packed.len(),
                out.len()
            )));
        }
        for (bits, &p) in out.chunks_mut(8).zip(packed) {
            for (k, o) in bits.iter_mut().enumerate() {
                *o = (p >> (7 - k)) & 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcodecs_example() {
        // numcodecs' docstring: [True, False, False, True] -> [4, 144].
        let y = PackBitsCodec.encode(&[1, 0, 0, 1]).unwrap();
        assert_eq!(y, [4, 144]);
        let mut back = [0u8; 4];
        PackBitsCodec.decode_into(&y, &mut back).unwrap();
        assert_eq!(back, [1, 0, 0, 1]);
        assert!(PackBitsCodec.decode_into(&[9, 0], &mut [0u8; 4]).is_err());
        assert!(PackBitsCodec.decode_into(&[], &mut []).is_err());
        assert!(PackBitsCodec.decode_into(&[0, 1], &mut [0u8; 4]).is_err());
        assert_eq!(PackBitsCodec.encode(&[]).unwrap(), [0]);
    }
}

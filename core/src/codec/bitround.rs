//! numcodecs `BitRound`: keeps `keepbits` bits of a float's mantissa,
//! rounding to nearest (ties to even) on the bits; decoding is the identity.

use serde_json::{json, Value};

use super::numeric::{whole, Elem, NumKind, NumType};
use crate::dtype::Endian;
use crate::error::CodecError;

const NAME: &str = "bitround";

/// The `bitround` filter, for the float type of the chunk it sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitRoundCodec {
    /// Mantissa bits kept.
    pub keepbits: u32,
    /// The float type rounded (the array's, or the preceding filter's output).
    pub dtype: NumType,
}

/// Mantissa bits of a float type (numcodecs' `max_bits`).
fn mantissa_bits(t: NumType) -> u32 {
    match t.size {
        2 => 10,
        4 => 23,
        _ => 52,
    }
}

fn round_bits<T, const BIG: bool>(buf: &mut [u8], maskbits: u32)
where
    T: Elem + RoundBits,
{
    for c in buf.chunks_exact_mut(T::N) {
        T::load::<BIG>(c).round_bits(maskbits).store::<BIG>(c);
    }
}

trait RoundBits {
    fn round_bits(self, maskbits: u32) -> Self;
}

macro_rules! round_bits {
    ($($t:ty),*) => {$(
        impl RoundBits for $t {
            #[inline(always)]
            fn round_bits(self, m: u32) -> Self {
                // b += ((b >> m) & 1) + (1 << (m - 1)) - 1; b &= mask
                // (two's-complement wrapping, as NumPy's int arithmetic).
                let half: $t = (1 << (m - 1)) - 1;
                let b = self.wrapping_add(((self >> m) & 1).wrapping_add(half));
                b & (<$t>::MAX << m)
            }
        }
    )*};
}
round_bits!(u16, u32, u64);

impl BitRoundCodec {
    /// A bitround filter for `dtype` (a float type).
    pub fn new(keepbits: i64, dtype: NumType) -> Result<Self, String> {
        if keepbits < 0 {
            return Err(format!("keepbits {keepbits} must be zero or positive"));
        }
        if dtype.kind != NumKind::Float {
            return Err(format!(
                "only float data (16-64 bit) can be bit-rounded, the chunk is {} here",
                dtype.numpy_str()
            ));
        }
        let max = mantissa_bits(dtype);
        if keepbits > i64::from(max) {
            return Err(format!(
                "keepbits {keepbits} too large for {} (at most {max})",
                dtype.numpy_str()
            ));
        }
        Ok(BitRoundCodec {
            keepbits: keepbits as u32,
            dtype,
        })
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "keepbits": self.keepbits})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.bitround", "configuration": {"keepbits": self.keepbits}})
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        whole(input.len(), self.dtype, NAME)?;
        let mut out = input.to_vec();
        let m = mantissa_bits(self.dtype) - self.keepbits;
        if m == 0 {
            return Ok(out);
        }
        let big = self.dtype.endian == Endian::Big;
        match (self.dtype.size, big) {
            (2, false) => round_bits::<u16, false>(&mut out, m),
            (2, true) => round_bits::<u16, true>(&mut out, m),
            (4, false) => round_bits::<u32, false>(&mut out, m),
            (4, true) => round_bits::<u32, true>(&mut out, m),
            (_, false) => round_bits::<u64, false>(&mut out, m),
            (_, true) => round_bits::<u64, true>(&mut out, m),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_mantissa() {
        let f4 = NumType::parse("<f4").unwrap();
        let c = BitRoundCodec::new(3, f4).unwrap();
        let x = 1.2345f32.to_le_bytes();
        let y = c.encode(&x).unwrap();
        assert_eq!(f32::from_le_bytes(y[..4].try_into().unwrap()), 1.25);
        assert!(BitRoundCodec::new(24, f4).is_err());
        assert!(BitRoundCodec::new(3, NumType::parse("<i4").unwrap()).is_err());
        assert_eq!(BitRoundCodec::new(23, f4).unwrap().encode(&x).unwrap(), x);
    }
}

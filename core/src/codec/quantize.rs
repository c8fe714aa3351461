//! numcodecs `Quantize`: floats rounded to `digits` decimal digits through a
//! power-of-two scale (`around(scale * x) / scale`, in the array's float
//! precision), stored as `astype`.

use serde_json::{json, Value};

use super::numeric::{whole, NumKind, NumType, Prec};
use crate::error::CodecError;

const NAME: &str = "quantize";

/// The `quantize` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeCodec {
    /// Decimal digits kept.
    pub digits: i64,
    /// Decoded (float) type.
    pub dtype: NumType,
    /// Encoded (float) type.
    pub astype: NumType,
    /// `2 ** bits` as numcodecs computes it.
    scale: f64,
}

/// numcodecs' scale: `2 ** ceil(log2(10 ** -exp))` with `exp` the rounded
/// `log10(10 ** -digits)` (libm's `pow`, `log10` and `log2`, as CPython).
fn scale_for(digits: i64) -> f64 {
    let precision = 10f64.powf(-(digits as f64));
    let e = precision.log10();
    let exp = if e < 0.0 { e.floor() } else { e.ceil() };
    let bits = 10f64.powf(-exp).log2().ceil();
    2f64.powf(bits)
}

impl QuantizeCodec {
    /// A quantize filter between float types.
    pub fn new(digits: i64, dtype: NumType, astype: NumType) -> Result<Self, String> {
        if dtype.kind != NumKind::Float || astype.kind != NumKind::Float {
            return Err(format!(
                "only floating point types are supported, got dtype {} astype {}",
                dtype.numpy_str(),
                astype.numpy_str()
            ));
        }
        if !(-300..=300).contains(&digits) {
            return Err(format!("digits {digits} out of range -300..=300"));
        }
        Ok(QuantizeCodec {
            digits,
            dtype,
            astype,
            scale: scale_for(digits),
        })
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "digits": self.digits, "dtype": self.dtype.numpy_str(),
            "astype": self.astype.numpy_str()})
    }

    pub(crate) fn to_v3(&self) -> Value {
        let mut cfg = json!({"digits": self.digits, "dtype": self.dtype.v3_str()});
        if self.astype != self.dtype {
            cfg["astype"] = Value::String(self.astype.v3_str());
        }
        json!({"name": "numcodecs.quantize", "configuration": cfg})
    }

    pub(crate) fn encoded_len(&self, n: usize) -> Option<usize> {
        (n % self.dtype.size == 0).then(|| n / self.dtype.size * self.astype.size)
    }

    pub(crate) fn decoded_len(&self, n: usize) -> Option<usize> {
        (n % self.astype.size == 0).then(|| n / self.astype.size * self.dtype.size)
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let n = whole(input.len(), self.dtype, NAME)?;
        let (d, a) = (self.dtype, self.astype);
        let p = d.prec().unwrap_or(Prec::F64);
        let s = p.round(self.scale);
        let mut out = vec![0u8; n * a.size];
        for (x, o) in input.chunks_exact(d.size).zip(out.chunks_exact_mut(a.size)) {
            let x = match d.read(x) {
                super::numeric::Num::Float(f) => f,
                super::numeric::Num::Int(i) => i as f64,
            };
            let q = p.div(p.mul(s, x).round_ties_even(), s);
            a.write(super::numeric::Num::Float(q), o);
        }
        Ok(out)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        super::astype::convert(NAME, self.astype, self.dtype, input, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcodecs_examples() {
        // numcodecs' docstring: linspace(0, 1, 10) with digits 1 and 2.
        let f8 = NumType::parse("<f8").unwrap();
        let x: Vec<u8> = (0..10)
            .flat_map(|i| (f64::from(i) / 9.0).to_le_bytes())
            .collect();
        for (digits, want) in [
            (
                1,
                [
                    0.0, 0.125, 0.25, 0.3125, 0.4375, 0.5625, 0.6875, 0.75, 0.875, 1.0,
                ],
            ),
            (
                2,
                [
                    0.0, 0.109375, 0.21875, 0.3359375, 0.4453125, 0.5546875, 0.6640625, 0.78125,
                    0.890625, 1.0,
                ],
            ),
        ] {
            let c = QuantizeCodec::new(digits, f8, f8).unwrap();
            let y = c.encode(&x).unwrap();
            let got: Vec<f64> = y
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            assert_eq!(got, want, "digits {digits}");
        }
        assert!(QuantizeCodec::new(1, NumType::parse("i4").unwrap(), f8).is_err());
    }
}

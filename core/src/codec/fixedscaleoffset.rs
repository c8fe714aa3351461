//! numcodecs `FixedScaleOffset`: `round((x - offset) * scale)` stored as
//! `astype`; decoded as `enc / scale + offset`, with NumPy's type promotion
//! (Python scalars are "weak": a `float32` array stays `float32`, an integer
//! array meeting a float goes to `float64`).

use serde_json::{json, Value};

use super::numeric::{whole, Num, NumKind, NumType, Prec, PyNumber};
use crate::error::CodecError;

const NAME: &str = "fixedscaleoffset";

/// The `fixedscaleoffset` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedScaleOffsetCodec {
    /// Subtracted before scaling.
    pub offset: PyNumber,
    /// Multiplied after subtracting the offset.
    pub scale: PyNumber,
    /// Decoded element type.
    pub dtype: NumType,
    /// Encoded element type.
    pub astype: NumType,
}

/// A value during the computation, with the type NumPy holds it in.
#[derive(Clone, Copy)]
enum V {
    I(i128, NumType),
    F(f64, Prec),
}

impl V {
    fn of(t: NumType, n: Num) -> V {
        match (n, t.prec()) {
            (Num::Float(f), Some(p)) => V::F(f, p),
            (Num::Int(i), _) => V::I(i, t),
            (Num::Float(f), None) => V::F(f, Prec::F64),
        }
    }

    /// `self OP k` with `k` a Python scalar; `int_op` for integer arrays
    /// meeting an `int` (wrapping in the array's type).
    fn with(
        self,
        k: &PyNumber,
        fop: fn(Prec, f64, f64) -> f64,
        int_op: fn(i128, i128) -> i128,
    ) -> V {
        match (self, k.value) {
            (V::F(x, p), _) => V::F(fop(p, x, p.round(k.as_f64())), p),
            (V::I(x, t), Num::Int(i)) => V::I(t.wrap(int_op(x, i)), t),
            (V::I(x, _), Num::Float(f)) => V::F(fop(Prec::F64, x as f64, f), Prec::F64),
        }
    }

    fn num(self) -> Num {
        match self {
            V::I(i, _) => Num::Int(i),
            V::F(f, _) => Num::Float(f),
        }
    }
}

impl FixedScaleOffsetCodec {
    /// Checks the types and that integer scalars fit the integer arrays they
    /// meet (NumPy refuses them otherwise).
    pub fn new(
        offset: PyNumber,
        scale: PyNumber,
        dtype: NumType,
        astype: NumType,
    ) -> Result<Self, String> {
        for t in [dtype, astype] {
            if t.kind == NumKind::Bool {
                return Err(format!(
                    "type {} is not supported (numeric only)",
                    t.numpy_str()
                ));
            }
        }
        let fits = |k: &PyNumber, t: NumType, what: &str| match k.value {
            Num::Int(i) if t.is_int() && !t.holds(i) => Err(format!(
                "{what} {i} does not fit {} (NumPy refuses it)",
                t.numpy_str()
            )),
            _ => Ok(()),
        };
        fits(&offset, dtype, "offset")?;
        fits(&scale, dtype, "scale")?;
        fits(&scale, astype, "scale")?;
        Ok(FixedScaleOffsetCodec {
            offset,
            scale,
            dtype,
            astype,
        })
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "scale": self.scale.json, "offset": self.offset.json,
            "dtype": self.dtype.numpy_str(), "astype": self.astype.numpy_str()})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.fixedscaleoffset", "configuration": {
            "offset": self.offset.json, "scale": self.scale.json,
            "dtype": self.dtype.v3_str(), "astype": self.astype.v3_str()}})
    }

    pub(crate) fn encoded_len(&self, n: usize) -> Option<usize> {
        (n % self.dtype.size == 0).then(|| n / self.dtype.size * self.astype.size)
    }

    pub(crate) fn decoded_len(&self, n: usize) -> Option<usize> {
        (n % self.astype.size == 0).then(|| n / self.astype.size * self.dtype.size)
    }

    /// One element: `around((x - offset) * scale).astype(astype)`.
    fn encode_one(&self, x: Num) -> Num {
        let v = V::of(self.dtype, x)
            .with(&self.offset, Prec::sub, |a, b| a - b)
            .with(&self.scale, Prec::mul, i128::wrapping_mul);
        let v = match v {
            V::F(f, p) => V::F(f.round_ties_even(), p),
            i => i,
        };
        self.astype.cast(v.num())
    }

    /// One element: `(enc / scale + offset).astype(dtype)`.
    fn decode_one(&self, e: Num) -> Num {
        let v = match V::of(self.astype, e) {
            // True division of integers is float64 division.
            V::I(i, _) => V::F(i as f64 / self.scale.as_f64(), Prec::F64),
            f => f.with(&self.scale, Prec::div, |a, _| a),
        };
        let v = v.with(&self.offset, Prec::add, |a, _| a);
        self.dtype.cast(v.num())
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let n = whole(input.len(), self.dtype, NAME)?;
        let (d, a) = (self.dtype, self.astype);
        let mut out = vec![0u8; n * a.size];
        for (x, o) in input.chunks_exact(d.size).zip(out.chunks_exact_mut(a.size)) {
            a.write(self.encode_one(d.read(x)), o);
        }
        Ok(out)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let n = whole(input.len(), self.astype, NAME)?;
        let (d, a) = (self.dtype, self.astype);
        if out.len() != n * d.size {
            return Err(CodecError::new(
                NAME,
                format!(
                    "{} encoded bytes decode to {} bytes, expected {}",
                    input.len(),
                    n * d.size,
                    out.len()
                ),
            ));
        }
        for (e, o) in input.chunks_exact(a.size).zip(out.chunks_exact_mut(d.size)) {
            d.write(self.decode_one(a.read(e)), o);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: Value) -> PyNumber {
        PyNumber::from_json(&v, "x").unwrap()
    }

    #[test]
    fn numcodecs_example() {
        // numcodecs' docstring: linspace(1000, 1001, 10) with offset 1000,
        // scale 10, f8 -> u1 gives 0 1 2 3 4 6 7 8 9 10.
        let c = FixedScaleOffsetCodec::new(
            num(json!(1000)),
            num(json!(10)),
            NumType::parse("<f8").unwrap(),
            NumType::parse("u1").unwrap(),
        )
        .unwrap();
        let x: Vec<u8> = (0..10)
            .flat_map(|i| (1000.0 + f64::from(i) / 9.0).to_le_bytes())
            .collect();
        let y = c.encode(&x).unwrap();
        assert_eq!(y, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
        let mut back = vec![0u8; x.len()];
        c.decode_into(&y, &mut back).unwrap();
        assert_eq!(&back[8..16], &1000.1f64.to_le_bytes());
    }

    #[test]
    fn integer_scalars_must_fit() {
        let u1 = NumType::parse("u1").unwrap();
        assert!(FixedScaleOffsetCodec::new(num(json!(1000)), num(json!(1)), u1, u1).is_err());
        assert!(FixedScaleOffsetCodec::new(num(json!(1.5)), num(json!(1)), u1, u1).is_ok());
    }
}

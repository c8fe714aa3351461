//! numcodecs `Delta`: each element minus the one before it (the first kept),
//! in `dtype` arithmetic, stored as `astype`.

use serde_json::{json, Value};

use super::numeric::{whole, with_elem, Elem, Num, NumKind, NumType};
use crate::error::CodecError;

const NAME: &str = "delta";

/// The `delta` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaCodec {
    /// Decoded element type.
    pub dtype: NumType,
    /// Encoded element type.
    pub astype: NumType,
}

fn err(e: impl Into<String>) -> CodecError {
    CodecError::new(NAME, e)
}

fn encode_same<T: Elem, const BIG: bool>(buf: &mut [u8]) {
    let mut it = buf.chunks_exact_mut(T::N);
    let Some(first) = it.next() else { return };
    let mut prev = T::load::<BIG>(first);
    for c in it {
        let x = T::load::<BIG>(c);
        x.sub(prev).store::<BIG>(c);
        prev = x;
    }
}

fn decode_same<T: Elem, const BIG: bool>(buf: &mut [u8]) {
    let mut it = buf.chunks_exact_mut(T::N);
    let Some(first) = it.next() else { return };
    let mut acc = T::load::<BIG>(first);
    for c in it {
        acc = acc.add(T::load::<BIG>(c));
        acc.store::<BIG>(c);
    }
}

impl DeltaCodec {
    /// A delta filter (refuses types NumPy cannot subtract).
    pub fn new(dtype: NumType, astype: NumType) -> Result<Self, String> {
        if dtype.kind == NumKind::Bool || astype.kind == NumKind::Bool {
            return Err(
                "boolean data cannot be delta-encoded (NumPy has no bool subtraction)".into(),
            );
        }
        Ok(DeltaCodec { dtype, astype })
    }

    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "dtype": self.dtype.numpy_str(), "astype": self.astype.numpy_str()})
    }

    pub(crate) fn to_v3(&self) -> Value {
        let mut cfg = json!({"dtype": self.dtype.v3_str()});
        if self.astype != self.dtype {
            cfg["astype"] = Value::String(self.astype.v3_str());
        }
        json!({"name": "numcodecs.delta", "configuration": cfg})
    }

    fn same(&self) -> bool {
        self.dtype == self.astype
    }

    pub(crate) fn encoded_len(&self, n: usize) -> Option<usize> {
        (n % self.dtype.size == 0).then(|| n / self.dtype.size * self.astype.size)
    }

    pub(crate) fn decoded_len(&self, n: usize) -> Option<usize> {
        (n % self.astype.size == 0).then(|| n / self.astype.size * self.dtype.size)
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let n = whole(input.len(), self.dtype, NAME)?;
        if self.same() {
            let mut out = input.to_vec();
            with_elem!(self.dtype, T, BIG, encode_same::<T, BIG>(&mut out));
            return Ok(out);
        }
        let (d, a) = (self.dtype, self.astype);
        let mut out = vec![0u8; n * a.size];
        let mut prev = None;
        for (x, o) in input.chunks_exact(d.size).zip(out.chunks_exact_mut(a.size)) {
            let x = d.read(x);
            let v = match prev {
                // `enc[0] = arr[0]` goes through a Python scalar.
                None => first_value(x, a)?,
                Some(p) => sub(d, x, p),
            };
            a.write(v, o);
            prev = Some(x);
        }
        Ok(out)
    }

    /// Decodes in place when the encoded and decoded types are the same.
    pub(crate) fn decode_in_place(&self, buf: &mut [u8]) -> Option<Result<(), CodecError>> {
        if !self.same() {
            return None;
        }
        Some(whole(buf.len(), self.dtype, NAME).map(|_| {
            with_elem!(self.dtype, T, BIG, decode_same::<T, BIG>(buf));
        }))
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        let n = whole(input.len(), self.astype, NAME)?;
        if out.len() != n * self.dtype.size {
            return Err(err(format!(
                "{} encoded bytes decode to {} bytes, expected {}",
                input.len(),
                n * self.dtype.size,
                out.len()
            )));
        }
        if self.same() {
            out.copy_from_slice(input);
            with_elem!(self.dtype, T, BIG, decode_same::<T, BIG>(out));
            return Ok(());
        }
        let (d, a) = (self.dtype, self.astype);
        let mut acc: Option<Num> = None;
        for (e, o) in input.chunks_exact(a.size).zip(out.chunks_exact_mut(d.size)) {
            let e = d.cast(a.read(e));
            let v = match acc {
                None => e,
                Some(p) => add(d, p, e),
            };
            d.write(v, o);
            acc = Some(v);
        }
        Ok(())
    }
}

fn sub(t: NumType, a: Num, b: Num) -> Num {
    match (a, b, t.prec()) {
        (Num::Float(x), Num::Float(y), Some(p)) => Num::Float(p.sub(x, y)),
        (Num::Int(x), Num::Int(y), _) => Num::Int(t.wrap(x - y)),
        _ => a,
    }
}

fn add(t: NumType, a: Num, b: Num) -> Num {
    match (a, b, t.prec()) {
        (Num::Float(x), Num::Float(y), Some(p)) => Num::Float(p.add(x, y)),
        (Num::Int(x), Num::Int(y), _) => Num::Int(t.wrap(x + y)),
        _ => a,
    }
}

/// NumPy's `enc[0] = scalar`: an integer target refuses values it cannot
/// hold (and non-finite floats) instead of wrapping.
fn first_value(x: Num, to: NumType) -> Result<Num, CodecError> {
    if !to.is_int() {
        return Ok(to.cast(x));
    }
    let i = match x {
        Num::Int(i) => i,
        Num::Float(f) if f.is_finite() && f.abs() < 1e30 => f.trunc() as i128,
        Num::Float(f) => {
            return Err(err(format!(
                "first value {f} cannot be stored as {}",
                to.numpy_str()
            )))
        }
    };
    if !to.holds(i) {
        return Err(err(format!(
            "first value {i} is out of range for {}",
            to.numpy_str()
        )));
    }
    Ok(Num::Int(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NumType {
        NumType::parse(s).unwrap()
    }

    #[test]
    fn numcodecs_example() {
        // numcodecs' docstring: Delta(dtype='i2', astype='i1').
        let c = DeltaCodec::new(t("<i2"), t("i1")).unwrap();
        let x: Vec<u8> = (0..10)
            .flat_map(|i: i16| (100 + 2 * i).to_le_bytes())
            .collect();
        let y = c.encode(&x).unwrap();
        assert_eq!(y, [100, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
        let mut back = vec![0u8; x.len()];
        c.decode_into(&y, &mut back).unwrap();
        assert_eq!(back, x);
    }

    #[test]
    fn same_type_round_trips() {
        for ty in ["<i4", ">i4", "<u2", "<f8", ">f4", "<f2", "|u1", "<i8"] {
            let c = DeltaCodec::new(t(ty), t(ty)).unwrap();
            let x: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
            let y = c.encode(&x).unwrap();
            let mut back = vec![0u8; x.len()];
            c.decode_into(&y, &mut back).unwrap();
            if ty.contains('i') || ty.contains('u') {
                assert_eq!(back, x, "{ty}");
            }
            let mut inplace = y.clone();
            c.decode_in_place(&mut inplace).unwrap().unwrap();
            assert_eq!(inplace, back, "{ty}");
        }
        let c = DeltaCodec::new(t("<i4"), t("<i4")).unwrap();
        assert!(c.encode(&[1, 2, 3]).is_err());
        assert!(c.decode_into(&[1, 2, 3], &mut [0; 3]).is_err());
        assert!(c.decode_into(&[0; 8], &mut [0; 4]).is_err());
    }
}

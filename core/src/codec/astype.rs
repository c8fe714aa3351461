//! numcodecs `AsType`: elements cast from `decode_dtype` to `encode_dtype`
//! (NumPy's `astype`) and back.

use serde_json::{json, Value};

use super::numeric::{whole, NumType};
use crate::error::CodecError;

const NAME: &str = "astype";

/// The `astype` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsTypeCodec {
    /// Stored type.
    pub encode_dtype: NumType,
    /// In-memory type.
    pub decode_dtype: NumType,
}

/// Casts every element of `input` (type `from`) into `out` (type `to`).
pub(crate) fn convert(
    codec: &'static str,
    from: NumType,
    to: NumType,
    input: &[u8],
    out: &mut [u8],
) -> Result<(), CodecError> {
    let n = whole(input.len(), from, codec)?;
    if out.len() != n * to.size {
        return Err(CodecError::new(
            codec,
            format!(
                "{} bytes of {} convert to {} bytes of {}, expected {}",
                input.len(),
                from.numpy_str(),
                n * to.size,
                to.numpy_str(),
                out.len()
            ),
        ));
    }
    if from == to {
        out.copy_from_slice(input);
        return Ok(());
    }
    for (x, o) in input
        .chunks_exact(from.size)
        .zip(out.chunks_exact_mut(to.size))
    {
        to.write(from.read(x), o);
    }
    Ok(())
}

impl AsTypeCodec {
    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "encode_dtype": self.encode_dtype.numpy_str(),
            "decode_dtype": self.decode_dtype.numpy_str()})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.astype", "configuration": {
            "encode_dtype": self.encode_dtype.v3_str(), "decode_dtype": self.decode_dtype.v3_str()}})
    }

    pub(crate) fn encoded_len(&self, n: usize) -> Option<usize> {
        let (d, e) = (self.decode_dtype.size, self.encode_dtype.size);
        (n % d == 0).then(|| n / d * e)
    }

    pub(crate) fn decoded_len(&self, n: usize) -> Option<usize> {
        let (d, e) = (self.decode_dtype.size, self.encode_dtype.size);
        (n % e == 0).then(|| n / e * d)
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        let n = whole(input.len(), self.decode_dtype, NAME)?;
        let mut out = vec![0u8; n * self.encode_dtype.size];
        convert(NAME, self.decode_dtype, self.encode_dtype, input, &mut out)?;
        Ok(out)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        convert(NAME, self.encode_dtype, self.decode_dtype, input, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f8_to_f4_and_back() {
        let c = AsTypeCodec {
            encode_dtype: NumType::parse("<f4").unwrap(),
            decode_dtype: NumType::parse("<f8").unwrap(),
        };
        let x: Vec<u8> = [0.1f64, -2.5, 1e300]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let y = c.encode(&x).unwrap();
        assert_eq!(&y[..4], &0.1f32.to_le_bytes());
        assert_eq!(&y[8..], &f32::INFINITY.to_le_bytes());
        let mut back = vec![0u8; 24];
        c.decode_into(&y, &mut back).unwrap();
        assert_eq!(&back[8..16], &(-2.5f64).to_le_bytes());
        assert!(c.decode_into(&y[..5], &mut back).is_err());
    }
}

//! numcodecs `Shuffle`: the bytes of `elementsize`-byte elements regrouped
//! by position (all first bytes, then all second bytes, ...).

use serde_json::{json, Value};

use crate::error::CodecError;

const NAME: &str = "shuffle";

/// The `shuffle` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShuffleCodec {
    /// Element size in bytes (0 and 1: no shuffling).
    pub elementsize: usize,
}

impl ShuffleCodec {
    pub(crate) fn to_v2(&self) -> Value {
        json!({"id": NAME, "elementsize": self.elementsize})
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "numcodecs.shuffle", "configuration": {"elementsize": self.elementsize}})
    }

    fn check(&self, n: usize) -> Result<usize, CodecError> {
        if self.elementsize > 1 && n % self.elementsize != 0 {
            return Err(CodecError::new(
                NAME,
                format!(
                    "{n} bytes is not a whole number of {}-byte elements",
                    self.elementsize
                ),
            ));
        }
        Ok(n)
    }

    pub(crate) fn encode(&self, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        self.check(input.len())?;
        let es = self.elementsize;
        if es <= 1 {
            return Ok(input.to_vec());
        }
        let count = input.len() / es;
        let mut out = vec![0u8; input.len()];
        for (i, e) in input.chunks_exact(es).enumerate() {
            for (j, &b) in e.iter().enumerate() {
                out[j * count + i] = b;
            }
        }
        Ok(out)
    }

    pub(crate) fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        self.check(input.len())?;
        if out.len() != input.len() {
            return Err(CodecError::new(
                NAME,
                format!("{} bytes given, {} expected", input.len(), out.len()),
            ));
        }
        let es = self.elementsize;
        if es <= 1 {
            out.copy_from_slice(input);
            return Ok(());
        }
        let count = input.len() / es;
        for (j, plane) in input.chunks_exact(count.max(1)).enumerate().take(es) {
            for (i, &b) in plane.iter().enumerate() {
                out[i * es + j] = b;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_as_numcodecs() {
        // numcodecs: Shuffle(4).encode(arange(3, '<u4')) = 000102 then zeros.
        let c = ShuffleCodec { elementsize: 4 };
        let x: Vec<u8> = (0u32..3).flat_map(|v| v.to_le_bytes()).collect();
        let y = c.encode(&x).unwrap();
        assert_eq!(y, [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut back = vec![0u8; 12];
        c.decode_into(&y, &mut back).unwrap();
        assert_eq!(back, x);
        assert!(c.encode(&[1, 2, 3]).is_err());
        assert!(c.decode_into(&[], &mut []).is_ok());
    }
}

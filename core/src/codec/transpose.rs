//! The v3 `transpose` codec (and v2's `order: "F"`).

use serde_json::{json, Value};

use crate::nd;

/// Permutes the axes of a chunk: encoded axis `i` is decoded axis `order[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransposeCodec {
    /// The permutation.
    pub order: Vec<usize>,
}

impl TransposeCodec {
    pub(crate) fn from_config(cfg: &Value, ndim: usize) -> Result<Self, String> {
        let order: Vec<usize> = match cfg.get("order") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_u64()
                        .map(|x| x as usize)
                        .ok_or_else(|| format!("order entry {v} is not a non-negative integer"))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) if s == "C" => (0..ndim).collect(),
            Some(Value::String(s)) if s == "F" => (0..ndim).rev().collect(),
            Some(v) => return Err(format!("order {v} is not a permutation")),
            None => return Err("order is required".into()),
        };
        let mut seen = vec![false; ndim];
        if order.len() != ndim
            || !order
                .iter()
                .all(|&o| o < ndim && !std::mem::replace(&mut seen[o], true))
        {
            return Err(format!("order {order:?} is not a permutation of 0..{ndim}"));
        }
        Ok(TransposeCodec { order })
    }

    pub(crate) fn to_v3(&self) -> Value {
        json!({"name": "transpose", "configuration": {"order": self.order}})
    }

    /// Shape after encoding.
    pub fn encoded_shape(&self, shape: &[usize]) -> Vec<usize> {
        self.order.iter().map(|&o| shape[o]).collect()
    }

    pub(crate) fn encode(&self, src: &[u8], shape: &[usize], dst: &mut [u8], elem: usize) {
        nd::permute(src, shape, &self.order, dst, elem);
    }

    /// `src` has the encoded shape `enc_shape`.
    pub(crate) fn decode(&self, src: &[u8], enc_shape: &[usize], dst: &mut [u8], elem: usize) {
        nd::permute(
            src,
            enc_shape,
            &nd::inverse_permutation(&self.order),
            dst,
            elem,
        );
    }
}

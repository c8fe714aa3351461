//! Array and group metadata: one model for Zarr v2 (`.zarray`, `.zgroup`,
//! `.zattrs`, `.zmetadata`) and v3 (`zarr.json`), parsed and written exactly.

mod consolidated;
mod v2;
mod v3;

use serde_json::{Map, Value};

pub use self::consolidated::{consolidated_v2, consolidated_v3_inline, read_consolidated};
use crate::codec::{ChunkSpec, CodecChain};
use crate::dtype::{DataType, Endian};
use crate::error::MetadataError;
use crate::fill::FillValue;

/// JSON object type used for attributes.
pub type Attributes = Map<String, Value>;

/// Zarr format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZarrFormat {
    /// Zarr v2.
    V2,
    /// Zarr v3.
    V3,
}

impl ZarrFormat {
    /// 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            ZarrFormat::V2 => 2,
            ZarrFormat::V3 => 3,
        }
    }

    /// From 2 or 3.
    pub fn from_number(n: u64) -> Option<ZarrFormat> {
        match n {
            2 => Some(ZarrFormat::V2),
            3 => Some(ZarrFormat::V3),
            _ => None,
        }
    }
}

/// Memory order of v2 chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Row-major.
    C,
    /// Column-major.
    F,
}

/// How chunk grid indices become store keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKeyEncoding {
    /// v3 `default`: `c/1/2` (or `c.1.2`); `c` for 0-d arrays.
    Default {
        /// `/` or `.`.
        separator: char,
    },
    /// v2 style: `1.2` (or `1/2`); `0` for 0-d arrays.
    V2 {
        /// `.` or `/`.
        separator: char,
    },
}

impl ChunkKeyEncoding {
    /// The key, relative to the array, of the chunk at grid index `idx`.
    pub fn encode(&self, idx: &[u64]) -> String {
        let mut s = String::with_capacity(4 + idx.len() * 4);
        match *self {
            ChunkKeyEncoding::Default { separator } => {
                s.push('c');
                for i in idx {
                    s.push(separator);
                    s.push_str(&i.to_string());
                }
            }
            ChunkKeyEncoding::V2 { separator } => {
                if idx.is_empty() {
                    s.push('0');
                }
                for (n, i) in idx.iter().enumerate() {
                    if n > 0 {
                        s.push(separator);
                    }
                    s.push_str(&i.to_string());
                }
            }
        }
        s
    }

    /// The separator.
    pub fn separator(&self) -> char {
        match *self {
            ChunkKeyEncoding::Default { separator } | ChunkKeyEncoding::V2 { separator } => {
                separator
            }
        }
    }

    /// Parses a chunk key (relative to the array) back into a grid index;
    /// `None` if it is not a chunk key of this encoding and rank.
    pub fn decode(&self, key: &str, ndim: usize) -> Option<Vec<u64>> {
        let sep = self.separator();
        let body = match *self {
            ChunkKeyEncoding::Default { .. } => {
                if ndim == 0 {
                    return (key == "c").then(Vec::new);
                }
                key.strip_prefix('c')?.strip_prefix(sep)?
            }
            ChunkKeyEncoding::V2 { .. } => {
                if ndim == 0 {
                    return (key == "0").then(Vec::new);
                }
                key
            }
        };
        let parts: Vec<&str> = body.split(sep).collect();
        if parts.len() != ndim {
            return None;
        }
        parts
            .iter()
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse().ok()
                }
            })
            .collect()
    }

    fn to_v3_json(self) -> Value {
        let (name, sep) = match self {
            ChunkKeyEncoding::Default { separator } => ("default", separator),
            ChunkKeyEncoding::V2 { separator } => ("v2", separator),
        };
        serde_json::json!({"name": name, "configuration": {"separator": sep.to_string()}})
    }
}

/// Everything known about an array.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayMetadata {
    /// v2 or v3.
    pub zarr_format: ZarrFormat,
    /// Array shape.
    pub shape: Vec<u64>,
    /// Shape of one cell of the chunk grid (the shard shape when sharded).
    pub chunk_shape: Vec<u64>,
    /// Element type.
    pub data_type: DataType,
    /// Byte order in which the array is presented (v2: as declared; v3: little).
    pub endian: Endian,
    /// Fill value.
    pub fill_value: FillValue,
    /// Chunk key encoding.
    pub chunk_key_encoding: ChunkKeyEncoding,
    /// Codec chain of one grid cell.
    pub codecs: CodecChain,
    /// v2 memory order (v3 arrays report `C`; their transposes are codecs).
    pub order: Order,
    /// User attributes.
    pub attributes: Attributes,
    /// v3 dimension names.
    pub dimension_names: Option<Vec<Value>>,
    /// v3 top-level fields that are extensions with `must_understand: false`,
    /// kept so that a rewrite does not lose them.
    pub extra: Attributes,
}

/// Metadata of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetadata {
    /// v2 or v3.
    pub zarr_format: ZarrFormat,
    /// User attributes.
    pub attributes: Attributes,
    /// v3 top-level extension fields kept for rewriting (includes zarr-python's
    /// `consolidated_metadata`).
    pub extra: Attributes,
}

/// An array or a group.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeMetadata {
    /// An array.
    Array(Box<ArrayMetadata>),
    /// A group.
    Group(GroupMetadata),
}

impl NodeMetadata {
    /// The node's format.
    pub fn zarr_format(&self) -> ZarrFormat {
        match self {
            NodeMetadata::Array(a) => a.zarr_format,
            NodeMetadata::Group(g) => g.zarr_format,
        }
    }

    /// The node's attributes.
    pub fn attributes(&self) -> &Attributes {
        match self {
            NodeMetadata::Array(a) => &a.attributes,
            NodeMetadata::Group(g) => &g.attributes,
        }
    }
}

pub use self::v2::{parse_v2_array, parse_v2_attrs, parse_v2_group, v2_array_json};
pub use self::v3::{parse_v3_node, v3_array_json, v3_group_json};

impl ArrayMetadata {
    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Grid cells per dimension (`ceil(shape / chunk_shape)`).
    pub fn grid_shape(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect()
    }

    /// The read/write unit: inner chunk shape if sharded, else the grid cell.
    pub fn read_chunk_shape(&self) -> Vec<u64> {
        match self.codecs.sharding() {
            Some(s) => s.chunk_shape.iter().map(|&c| c as u64).collect(),
            None => self.chunk_shape.clone(),
        }
    }

    /// Shard shape when sharded.
    pub fn shard_shape(&self) -> Option<Vec<u64>> {
        self.codecs.sharding().map(|_| self.chunk_shape.clone())
    }

    /// The spec of one grid cell as seen by the codec chain.
    pub fn cell_spec(&self) -> ChunkSpec {
        ChunkSpec {
            shape: self.chunk_shape.iter().map(|&c| c as usize).collect(),
            dtype: self.data_type,
            fill: self.fill_value.clone(),
        }
    }

    /// NumPy's type string for the presented byte order (`<f8`, `>i2`,
    /// `|b1`, `<M8[ns]`; `|V<n>` for structured types, whose layout is
    /// [`DataType::struct_layout`]).
    pub fn numpy_dtype(&self) -> String {
        self.data_type.numpy_str(self.endian)
    }

    /// The metadata document(s) as JSON: v3 `zarr.json`, or v2 `.zarray`.
    pub fn to_json(&self) -> Value {
        match self.zarr_format {
            ZarrFormat::V2 => v2_array_json(self),
            ZarrFormat::V3 => v3_array_json(self),
        }
    }

    /// Checks internal consistency (called by parsers and builders).
    pub fn validate(&self, key: &str) -> Result<(), MetadataError> {
        let invalid = |reason: String| MetadataError::Invalid {
            key: key.to_string(),
            reason,
        };
        if self.shape.len() != self.chunk_shape.len() {
            return Err(invalid(format!(
                "shape {:?} and chunk shape {:?} have different ranks",
                self.shape, self.chunk_shape
            )));
        }
        if self.zarr_format == ZarrFormat::V3 && self.data_type.v3_json().is_none() {
            return Err(invalid(format!(
                "data type {} cannot be stored in Zarr v3 (zarr-python's structured type has \
                 no sub-array or big-endian fields); use Zarr v2",
                self.data_type
            )));
        }
        if self.chunk_shape.contains(&0) {
            return Err(invalid(format!(
                "chunk shape {:?} has a zero dimension",
                self.chunk_shape
            )));
        }
        let cell_elems = crate::nd::checked_num_elements(&self.chunk_shape)
            .and_then(|n| n.checked_mul(self.data_type.size() as u64))
            .filter(|&n| n <= isize::MAX as u64 / 2)
            .ok_or_else(|| invalid(format!("chunk shape {:?} is too large", self.chunk_shape)))?;
        let _ = cell_elems;
        crate::nd::checked_num_elements(&self.shape)
            .and_then(|n| n.checked_mul(self.data_type.size() as u64))
            .ok_or_else(|| {
                invalid(format!(
                    "shape {:?} × item size {} overflows 64 bits",
                    self.shape,
                    self.data_type.size()
                ))
            })?;
        Ok(())
    }
}

/// Parses an array metadata document given by a user: a v3 `zarr.json`, or a
/// v2 `.zarray` (which may carry an `"attributes"` object for convenience).
pub fn parse_array_document(doc: &Value) -> Result<ArrayMetadata, MetadataError> {
    match doc.get("zarr_format").and_then(Value::as_u64) {
        Some(3) => match parse_v3_node(doc, "zarr.json")? {
            NodeMetadata::Array(a) => Ok(*a),
            NodeMetadata::Group(_) => Err(MetadataError::Invalid {
                key: "zarr.json".into(),
                reason: "node_type is \"group\", expected \"array\"".into(),
            }),
        },
        Some(2) => parse_v2_array(doc, doc.get("attributes"), ".zarray"),
        other => Err(MetadataError::Invalid {
            key: "metadata".into(),
            reason: format!(
                "zarr_format is {}, expected 2 or 3",
                other.map_or("missing".to_string(), |v| v.to_string())
            ),
        }),
    }
}

/// Reads a JSON document, naming the key on failure.
pub(crate) fn parse_json(bytes: &[u8], key: &str) -> Result<Value, MetadataError> {
    serde_json::from_slice(bytes).map_err(|source| MetadataError::Json {
        key: key.to_string(),
        source,
    })
}

/// Serialises a metadata document as zarr-python does (2-space indent).
pub fn to_pretty_json(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

pub(crate) fn shape_from_json(
    v: Option<&Value>,
    field: &str,
    key: &str,
) -> Result<Vec<u64>, MetadataError> {
    let invalid = |reason: String| MetadataError::Invalid {
        key: key.to_string(),
        reason,
    };
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{field} must be a list of non-negative integers")))?;
    arr.iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| invalid(format!("{field} entry {x} is not a non-negative integer")))
        })
        .collect()
}

pub(crate) fn attributes_from(v: Option<&Value>, key: &str) -> Result<Attributes, MetadataError> {
    match v {
        None | Some(Value::Null) => Ok(Attributes::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!("attributes must be an object, got {other}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys() {
        let d = ChunkKeyEncoding::Default { separator: '/' };
        assert_eq!(d.encode(&[1, 2]), "c/1/2");
        assert_eq!(d.encode(&[]), "c");
        assert_eq!(d.decode("c/1/2", 2), Some(vec![1, 2]));
        assert_eq!(d.decode("c/1/x", 2), None);
        let v = ChunkKeyEncoding::V2 { separator: '.' };
        assert_eq!(v.encode(&[3, 0]), "3.0");
        assert_eq!(v.encode(&[]), "0");
        assert_eq!(v.decode("3.0", 2), Some(vec![3, 0]));
        assert_eq!(v.decode(".zarray", 2), None);
    }
}

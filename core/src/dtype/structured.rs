//! Structured (record) data types: NumPy `[('a', '<i4'), ('b', '<f8', (2,))]`,
//! Zarr v2 `[["a", "<i4"], ["b", "<f8", [2]]]` and zarr-python's v3
//! `{"name": "structured", "configuration": {"fields": [["a", "int32"], ...]}}`.
//!
//! Records are packed (each field starts where the previous one ends) and
//! kept as raw bytes: every field keeps the byte order its layout declares
//! (v2: as written in `.zarray`; v3: little-endian, as zarr-python stores
//! them). [`DataType::Structured`](super::DataType::Structured) holds an
//! interned `&'static StructLayout`, so that `DataType` stays `Copy`; the
//! interner keeps one copy per distinct layout.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use super::{DataType, Endian};

/// Deepest nesting of structured fields accepted.
pub const MAX_DEPTH: usize = 16;
/// Most fields accepted in one structured type.
pub const MAX_FIELDS: usize = 4096;
/// Most distinct layouts interned per process (bounds memory on hostile input).
const MAX_INTERNED: usize = 1 << 16;
/// Largest record accepted, in bytes.
const MAX_RECORD: usize = 1 << 30;

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    /// Field name (`""` for NumPy's padding fields).
    pub name: String,
    /// Element type of the field (itself structured for nested records).
    pub dtype: DataType,
    /// Byte order of the field's elements (`None` for types without one,
    /// and for nested records, whose fields carry their own).
    pub endian: Option<Endian>,
    /// Sub-array shape (`[]` for a scalar field).
    pub shape: Vec<u64>,
    /// Byte offset of the field in the record.
    pub offset: usize,
}

impl StructField {
    /// Bytes of the field in a record.
    pub fn size(&self) -> usize {
        self.dtype.size() * self.shape.iter().product::<u64>() as usize
    }

    /// NumPy's type string of one element of the field (`<i4`, `|S3`); for
    /// a nested record, NumPy's `|V<n>`.
    pub fn numpy_str(&self) -> String {
        self.dtype.numpy_str(self.endian.unwrap_or(Endian::Little))
    }
}

/// The layout of a record: its fields in order, packed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructLayout {
    fields: Vec<StructField>,
    size: usize,
}

/// A field as given to [`StructLayout::new`]: name, type, byte order, shape.
pub type FieldSpec = (String, DataType, Option<Endian>, Vec<u64>);

impl StructLayout {
    /// Builds and interns a packed layout from `(name, type, byte order,
    /// sub-array shape)`; refuses no fields, duplicate names, oversized records.
    pub fn new(fields: Vec<FieldSpec>) -> Result<&'static StructLayout, String> {
        if fields.is_empty() {
            return Err("a structured data type needs at least one field".into());
        }
        if fields.len() > MAX_FIELDS {
            return Err(format!(
                "structured data type has {} fields, more than {MAX_FIELDS}",
                fields.len()
            ));
        }
        let mut out = Vec::with_capacity(fields.len());
        let mut offset = 0usize;
        let mut names = HashSet::new();
        for (name, dtype, endian, shape) in fields {
            if !name.is_empty() && !names.insert(name.clone()) {
                return Err(format!(
                    "structured data type has two fields named {name:?}"
                ));
            }
            if dtype.is_variable_length() {
                // NumPy's object fields hold pointers; records are fixed-size.
                return Err(format!(
                    "field {name:?}: variable-length type {dtype} cannot be a record field"
                ));
            }
            let count = shape
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .ok_or_else(|| format!("field {name:?}: shape {shape:?} overflows"))?;
            let size = usize::try_from(count)
                .ok()
                .and_then(|c| c.checked_mul(dtype.size()))
                .filter(|&s| s <= MAX_RECORD)
                .ok_or_else(|| format!("field {name:?} is too large"))?;
            let endian = if dtype.has_byte_order() {
                Some(endian.unwrap_or(Endian::Little))
            } else {
                None
            };
            out.push(StructField {
                name,
                dtype,
                endian,
                shape,
                offset,
            });
            offset = offset
                .checked_add(size)
                .filter(|&s| s <= MAX_RECORD)
                .ok_or("structured record is too large")?;
        }
        if offset == 0 {
            return Err("structured data type has zero bytes per record".into());
        }
        intern(StructLayout {
            fields: out,
            size: offset,
        })
    }

    /// The fields, in record order.
    pub fn fields(&self) -> &[StructField] {
        &self.fields
    }

    /// Bytes per record.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Nesting depth (1 for a record of scalars).
    pub fn depth(&self) -> usize {
        1 + self
            .fields
            .iter()
            .map(|f| match f.dtype {
                DataType::Structured(l) => l.depth(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The same layout with every field (recursively) in byte order `endian`.
    pub fn with_endian(&'static self, endian: Endian) -> Result<&'static StructLayout, String> {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                let dtype = match f.dtype {
                    DataType::Structured(l) => DataType::Structured(l.with_endian(endian)?),
                    d => d,
                };
                Ok((f.name.clone(), dtype, Some(endian), f.shape.clone()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        StructLayout::new(fields)
    }

    /// Whether every field with a byte order (recursively) is little-endian
    /// and no field is a sub-array: what zarr-python's v3 type can express.
    pub fn is_v3_expressible(&self) -> bool {
        self.fields.iter().all(|f| {
            f.shape.is_empty()
                && match f.dtype {
                    DataType::Structured(l) => l.is_v3_expressible(),
                    d => d.v3_json().is_some() && f.endian.is_none_or(|e| e == Endian::Little),
                }
        })
    }

    /// Rewrites records laid out as `self` into the byte orders of `to`
    /// (same fields and shapes, other byte orders) in place.
    pub fn convert_records(&self, to: &StructLayout, buf: &mut [u8]) -> Result<(), String> {
        if self.size == 0 {
            return Ok(());
        }
        if self.fields.len() != to.fields.len() || self.size != to.size {
            return Err("structured layouts differ in their fields".into());
        }
        for rec in buf.chunks_exact_mut(self.size) {
            self.convert_one(to, rec)?;
        }
        Ok(())
    }

    fn convert_one(&self, to: &StructLayout, rec: &mut [u8]) -> Result<(), String> {
        for (a, b) in self.fields.iter().zip(&to.fields) {
            if a.name != b.name || a.shape != b.shape || a.size() != b.size() {
                return Err(format!(
                    "structured layouts differ at field {:?} / {:?}",
                    a.name, b.name
                ));
            }
            let part = &mut rec[a.offset..a.offset + a.size()];
            match (a.dtype, b.dtype) {
                (DataType::Structured(la), DataType::Structured(lb)) => {
                    for r in part.chunks_exact_mut(la.size.max(1)) {
                        la.convert_one(lb, r)?;
                    }
                }
                (da, db) if da.size() == db.size() && a.endian != b.endian => {
                    super::swap_bytes_in_place(part, da.swap_unit());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The Zarr v2 `dtype` list: `[["a", "<i4"], ["b", "<f8", [2]]]`.
    pub fn v2_json(&self) -> Value {
        Value::Array(
            self.fields
                .iter()
                .map(|f| {
                    let t = match f.dtype {
                        DataType::Structured(l) => l.v2_json(),
                        _ => Value::from(f.numpy_str()),
                    };
                    if f.shape.is_empty() {
                        json!([f.name, t])
                    } else {
                        json!([f.name, t, f.shape])
                    }
                })
                .collect(),
        )
    }

    /// Parses a Zarr v2 `dtype` list.
    pub fn from_v2_json(v: &Value) -> Result<&'static StructLayout, String> {
        from_v2_json_depth(v, 1)
    }

    /// zarr-python's v3 `data_type` object, `None` if the layout has
    /// sub-arrays or big-endian fields (which it cannot express).
    pub fn v3_json(&self) -> Option<Value> {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                if !f.shape.is_empty() || f.endian.is_some_and(|e| e != Endian::Little) {
                    return None;
                }
                Some(json!([f.name, f.dtype.v3_json()?]))
            })
            .collect::<Option<Vec<Value>>>()?;
        Some(json!({"name": "structured", "configuration": {"fields": fields}}))
    }

    /// Parses the `configuration` of zarr-python's v3 `structured` type
    /// (fields little-endian).
    pub fn from_v3_config(cfg: &Value) -> Result<&'static StructLayout, String> {
        from_v3_config_depth(cfg, 1)
    }

    /// NumPy's `descr` of the record, as Python source:
    /// `[('a', '<i4'), ('b', '<f8', (2,))]`.
    pub fn numpy_descr(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|f| {
                let t = match f.dtype {
                    DataType::Structured(l) => l.numpy_descr(),
                    _ => py_str(&f.numpy_str()),
                };
                if f.shape.is_empty() {
                    format!("({}, {t})", py_str(&f.name))
                } else {
                    format!("({}, {t}, {})", py_str(&f.name), py_tuple(&f.shape))
                }
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    /// The field layout as JSON: `{"itemsize": 12, "fields": [{"name": "a",
    /// "dtype": "<i4", "offset": 0, "size": 4, "shape": []}, ...]}` (a nested
    /// record's `dtype` is its own layout object).
    pub fn layout_json(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|f| {
                let t = match f.dtype {
                    DataType::Structured(l) => l.layout_json(),
                    _ => Value::from(f.numpy_str()),
                };
                json!({
                    "name": f.name,
                    "dtype": t,
                    "offset": f.offset,
                    "size": f.size(),
                    "shape": f.shape,
                })
            })
            .collect();
        json!({"itemsize": self.size, "fields": fields})
    }
}

fn intern(layout: StructLayout) -> Result<&'static StructLayout, String> {
    static TABLE: OnceLock<Mutex<HashSet<&'static StructLayout>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| Mutex::new(HashSet::new()));
    // A panic while holding this lock cannot leave the set inconsistent
    // (inserts are single calls), so a poisoned lock is still usable.
    let mut set = table.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&l) = set.get(&layout) {
        return Ok(l);
    }
    if set.len() >= MAX_INTERNED {
        return Err(format!(
            "more than {MAX_INTERNED} distinct structured data types in this process"
        ));
    }
    let l: &'static StructLayout = Box::leak(Box::new(layout));
    set.insert(l);
    Ok(l)
}

fn from_v2_json_depth(v: &Value, depth: usize) -> Result<&'static StructLayout, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "structured data type nests deeper than {MAX_DEPTH}"
        ));
    }
    let list = v
        .as_array()
        .ok_or_else(|| format!("structured dtype {v} is not a list"))?;
    let mut fields = Vec::with_capacity(list.len());
    for entry in list {
        let e = entry
            .as_array()
            .filter(|e| e.len() == 2 || e.len() == 3)
            .ok_or_else(|| {
                format!(
                    "structured dtype field {entry} is not [name, dtype] or [name, dtype, shape]"
                )
            })?;
        let name = e[0]
            .as_str()
            .ok_or_else(|| format!("structured dtype field name {} is not a string", e[0]))?;
        let (dtype, endian) = match &e[1] {
            Value::String(s) => {
                let (d, en) = DataType::from_numpy_str(s)?;
                if s.starts_with('|') && d.has_byte_order() {
                    return Err(format!("field {name:?}: dtype {s:?} needs a byte order"));
                }
                (d, en)
            }
            inner @ Value::Array(_) => (
                DataType::Structured(from_v2_json_depth(inner, depth + 1)?),
                None,
            ),
            other => {
                return Err(format!(
                    "field {name:?}: dtype {other} is not a string or a list"
                ))
            }
        };
        let shape = match e.get(2) {
            None => Vec::new(),
            Some(s) => s
                .as_array()
                .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
                .ok_or_else(|| format!("field {name:?}: shape {s} is not a list of integers"))?,
        };
        fields.push((name.to_string(), dtype, endian, shape));
    }
    StructLayout::new(fields)
}

fn from_v3_config_depth(cfg: &Value, depth: usize) -> Result<&'static StructLayout, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "structured data type nests deeper than {MAX_DEPTH}"
        ));
    }
    let list = cfg
        .get("fields")
        .and_then(Value::as_array)
        .ok_or("structured configuration has no \"fields\" list")?;
    let mut fields = Vec::with_capacity(list.len());
    for entry in list {
        let e = entry
            .as_array()
            .filter(|e| e.len() == 2)
            .ok_or_else(|| format!("structured field {entry} is not [name, data_type]"))?;
        let name = e[0]
            .as_str()
            .ok_or_else(|| format!("structured field name {} is not a string", e[0]))?;
        let dtype = match &e[1] {
            Value::Object(o) if o.get("name").and_then(Value::as_str) == Some("structured") => {
                let c = o.get("configuration").ok_or_else(|| {
                    format!("field {name:?}: structured type without configuration")
                })?;
                DataType::Structured(from_v3_config_depth(c, depth + 1)?)
            }
            t => DataType::from_v3_json(t).map_err(|e| format!("field {name:?}: {e}"))?,
        };
        fields.push((name.to_string(), dtype, Some(Endian::Little), Vec::new()));
    }
    StructLayout::new(fields)
}

/// Python's `repr` of a `str` (as NumPy writes field names and type strings).
pub(crate) fn py_str(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Python's `repr` of a tuple of integers: `(2,)`, `(2, 3)`, `()`.
pub(crate) fn py_tuple(shape: &[u64]) -> String {
    match shape {
        [] => "()".into(),
        [a] => format!("({a},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_json_round_trip_and_layout() {
        let v = json!([
            ["a", "<i4"],
            ["b", ">f8", [2]],
            ["c", [["x", "|u1"], ["y", "<M8[s]"]]]
        ]);
        let l = StructLayout::from_v2_json(&v).unwrap();
        assert_eq!(l.size(), 4 + 16 + 9);
        assert_eq!(l.v2_json(), v);
        assert_eq!(l.fields()[2].offset, 20);
        assert_eq!(l.fields()[1].endian, Some(Endian::Big));
        assert!(l.v3_json().is_none());
        assert!(std::ptr::eq(l, StructLayout::from_v2_json(&v).unwrap()));
        assert_eq!(
            l.numpy_descr(),
            "[('a', '<i4'), ('b', '>f8', (2,)), ('c', [('x', '|u1'), ('y', '<M8[s]')])]"
        );
        assert_eq!(l.layout_json()["fields"][1]["size"], 16);
        assert!(StructLayout::from_v2_json(&json!([])).is_err());
        assert!(StructLayout::from_v2_json(&json!([["a", "<i4"], ["a", "<i4"]])).is_err());
        assert!(StructLayout::from_v2_json(&json!([["a", "|i4"]])).is_err());
        assert!(StructLayout::from_v2_json(&json!([["a", "<i4", [u64::MAX, 4]]])).is_err());
        let mut deep = json!([["x", "<i4"]]);
        for _ in 0..40 {
            deep = json!([["n", deep]]);
        }
        assert!(StructLayout::from_v2_json(&deep).is_err());
    }

    #[test]
    fn v3_json_and_conversion() {
        let cfg = json!({"fields": [["a", "int32"], ["p", {"name": "structured",
            "configuration": {"fields": [["x", "float32"], ["y", "uint8"]]}}]]});
        let l = StructLayout::from_v3_config(&cfg).unwrap();
        assert_eq!(l.size(), 9);
        assert_eq!(l.v3_json().unwrap()["configuration"], cfg);
        assert!(l.is_v3_expressible());
        let be = l.with_endian(Endian::Big).unwrap();
        assert!(!be.is_v3_expressible());
        let mut rec = vec![1, 0, 0, 0, 0, 0, 0x80, 0x3f, 7];
        l.convert_records(be, &mut rec).unwrap();
        assert_eq!(rec, [0, 0, 0, 1, 0x3f, 0x80, 0, 0, 7]);
        be.convert_records(l, &mut rec).unwrap();
        assert_eq!(rec, [1, 0, 0, 0, 0, 0, 0x80, 0x3f, 7]);
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a'\""), "'a\\'\"'");
    }
}

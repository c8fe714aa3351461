//! Data types: the Zarr v3 core types and the v2 (NumPy `typestr`) types,
//! including fixed-length `S` and `U` strings, NumPy `datetime64` /
//! `timedelta64`, raw bytes (`V`) and structured records, spelled in v2 and
//! v3 exactly as zarr-python 3.1 spells them.
//!
//! In memory zarrcore keeps decoded chunks in the *native* byte order of the
//! machine; the byte order of a type on disk is a codec detail (v3 `bytes`
//! codec, v2 `dtype` prefix). Byte order is always explicit: see [`Endian`].

use std::fmt;

use serde_json::{json, Value};

mod structured;
mod time;

pub use self::structured::{FieldSpec, StructField, StructLayout};
pub use self::time::{TimeSpec, TimeUnit, NAT};

/// A byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl Endian {
    /// The byte order of the machine running this code.
    pub const fn native() -> Endian {
        if cfg!(target_endian = "little") {
            Endian::Little
        } else {
            Endian::Big
        }
    }

    /// NumPy's prefix character (`<` or `>`).
    pub const fn numpy_char(self) -> char {
        match self {
            Endian::Little => '<',
            Endian::Big => '>',
        }
    }

    /// The v3 `bytes` codec spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Endian::Little => "little",
            Endian::Big => "big",
        }
    }
}

/// The element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool` / `|b1`: one byte, 0 or 1.
    Bool,
    /// `int8` / `|i1`.
    Int8,
    /// `int16` / `i2`.
    Int16,
    /// `int32` / `i4`.
    Int32,
    /// `int64` / `i8`.
    Int64,
    /// `uint8` / `|u1`.
    UInt8,
    /// `uint16` / `u2`.
    UInt16,
    /// `uint32` / `u4`.
    UInt32,
    /// `uint64` / `u8`.
    UInt64,
    /// `float16` / `f2` (IEEE 754 half).
    Float16,
    /// `float32` / `f4`.
    Float32,
    /// `float64` / `f8`.
    Float64,
    /// `complex64` / `c8`: two float32 (real, imaginary).
    Complex64,
    /// `complex128` / `c16`: two float64.
    Complex128,
    /// Fixed-length byte string of this many bytes (v2 `|S<n>`).
    Bytes(usize),
    /// Fixed-length UTF-32 string of this many code points (v2 `U<n>`).
    Unicode(usize),
    // Fixed-size types of issue 13 (dtypes branch): keep them together.
    /// NumPy `datetime64` (v2 `<M8[10s]`, v3 `numpy.datetime64`): an `int64`
    /// count of `scale × unit` since 1970-01-01; [`NAT`] is NaT.
    DateTime64(TimeSpec),
    /// NumPy `timedelta64` (v2 `<m8[ms]`, v3 `numpy.timedelta64`): an `int64`
    /// count of `scale × unit`; [`NAT`] is NaT.
    TimeDelta64(TimeSpec),
    /// Raw bytes of this length (NumPy `V<n>`, v2 `|V<n>`, v3 `raw_bytes`).
    RawBytes(usize),
    /// The v3 core `r<bits>` raw-bits type, held as this many bytes (NumPy `V<n>`).
    RawBits(usize),
    /// A structured record (v2 dtype list, v3 `structured`), kept as raw
    /// records laid out as the layout says.
    Structured(&'static StructLayout),
    // Variable-length types (issue 13). Their elements have no fixed size
    // (`size()` is 0): the fixed-size region paths refuse them, and they are
    // read and written through `array::strings` in Arrow's layout.
    /// Variable-length UTF-8 string: v3 `string` (codec `vlen-utf8`), v2 `|O`
    /// with the `vlen-utf8` object codec.
    VlenString,
    /// Variable-length bytes: v3 `variable_length_bytes` (or `bytes`, codec
    /// `vlen-bytes`), v2 `|O` with the `vlen-bytes` object codec.
    VlenBytes,
}

/// The broad family of a data type, for fill values and formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Boolean.
    Bool,
    /// Signed integer.
    Int,
    /// Unsigned integer.
    UInt,
    /// IEEE float.
    Float,
    /// Pair of IEEE floats.
    Complex,
    /// Fixed-length bytes.
    Bytes,
    /// Fixed-length UTF-32 text.
    Unicode,
    /// NumPy `datetime64`.
    DateTime,
    /// NumPy `timedelta64`.
    TimeDelta,
    /// Raw bytes (`V`, `raw_bytes`, `r*`).
    Raw,
    /// Structured records.
    Structured,
    /// Variable-length UTF-8 text.
    VlenString,
    /// Variable-length bytes.
    VlenBytes,
}

impl DataType {
    /// Every numeric type (the v3 core types), in a fixed order.
    pub const NUMERIC: [DataType; 14] = [
        DataType::Bool,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float16,
        DataType::Float32,
        DataType::Float64,
        DataType::Complex64,
        DataType::Complex128,
    ];

    /// Size of one element in bytes (0 for the variable-length types, whose
    /// elements have no fixed size).
    pub const fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::Int8 | DataType::UInt8 => 1,
            DataType::Int16 | DataType::UInt16 | DataType::Float16 => 2,
            DataType::Int32 | DataType::UInt32 | DataType::Float32 => 4,
            DataType::Int64 | DataType::UInt64 | DataType::Float64 | DataType::Complex64 => 8,
            DataType::Complex128 => 16,
            DataType::Bytes(n) => n,
            DataType::Unicode(n) => n * 4,
            DataType::DateTime64(_) | DataType::TimeDelta64(_) => 8,
            DataType::RawBytes(n) | DataType::RawBits(n) => n,
            DataType::Structured(l) => l.size(),
            DataType::VlenString | DataType::VlenBytes => 0,
        }
    }

    /// Whether elements have a variable length (`string`, `bytes`): such
    /// arrays are read and written with [`crate::array::strings`].
    pub const fn is_variable_length(self) -> bool {
        matches!(self, DataType::VlenString | DataType::VlenBytes)
    }

    /// Width of the unit whose bytes a byte-order change reverses
    /// (1 means the type has no byte order).
    pub const fn swap_unit(self) -> usize {
        match self {
            DataType::Complex64 => 4,
            DataType::Complex128 => 8,
            DataType::Bytes(_)
            | DataType::RawBytes(_)
            | DataType::RawBits(_)
            | DataType::Structured(_)
            | DataType::VlenString
            | DataType::VlenBytes => 1,
            DataType::Unicode(n) => {
                if n == 0 {
                    1
                } else {
                    4
                }
            }
            other => other.size(),
        }
    }

    /// Whether the byte order matters for this type.
    pub const fn has_byte_order(self) -> bool {
        self.swap_unit() > 1
    }

    /// The family of the type.
    pub const fn kind(self) -> Kind {
        match self {
            DataType::Bool => Kind::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Kind::UInt,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Kind::Float,
            DataType::Complex64 | DataType::Complex128 => Kind::Complex,
            DataType::Bytes(_) => Kind::Bytes,
            DataType::Unicode(_) => Kind::Unicode,
            DataType::DateTime64(_) => Kind::DateTime,
            DataType::TimeDelta64(_) => Kind::TimeDelta,
            DataType::RawBytes(_) | DataType::RawBits(_) => Kind::Raw,
            DataType::Structured(_) => Kind::Structured,
            DataType::VlenString => Kind::VlenString,
            DataType::VlenBytes => Kind::VlenBytes,
        }
    }

    /// The Zarr v3 name (`float32`, `numpy.datetime64`, `structured`, ...),
    /// or `None` for a type v3 cannot express (a structured type with
    /// sub-array or big-endian fields). The full v3 `data_type` value is
    /// [`DataType::v3_json`].
    pub fn v3_name(self) -> Option<&'static str> {
        Some(match self {
            DataType::Bool => "bool",
            DataType::Int8 => "int8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::UInt8 => "uint8",
            DataType::UInt16 => "uint16",
            DataType::UInt32 => "uint32",
            DataType::UInt64 => "uint64",
            DataType::Float16 => "float16",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::Complex64 => "complex64",
            DataType::Complex128 => "complex128",
            DataType::Bytes(_) => "null_terminated_bytes",
            DataType::Unicode(_) => "fixed_length_utf32",
            DataType::DateTime64(_) => "numpy.datetime64",
            DataType::TimeDelta64(_) => "numpy.timedelta64",
            DataType::RawBytes(_) => "raw_bytes",
            DataType::RawBits(_) => "r*",
            DataType::Structured(l) => {
                if l.is_v3_expressible() {
                    "structured"
                } else {
                    return None;
                }
            }
            DataType::VlenString => "string",
            DataType::VlenBytes => "variable_length_bytes",
        })
    }

    /// Parses a Zarr v3 core data type name (the numeric types; the others
    /// need their configuration: [`DataType::from_v3_json`]).
    pub fn from_v3_name(name: &str) -> Option<DataType> {
        match name {
            "string" => return Some(DataType::VlenString),
            // zarr-python 3.1 writes `variable_length_bytes` and reads `bytes` too.
            "variable_length_bytes" | "bytes" => return Some(DataType::VlenBytes),
            _ => {}
        }
        DataType::NUMERIC
            .into_iter()
            .find(|d| d.v3_name() == Some(name))
    }

    /// The v3 `data_type` value as zarr-python writes it: a name
    /// (`"int32"`, `"r16"`) or `{"name", "configuration"}`; `None` if v3
    /// cannot express the type (see [`DataType::v3_name`]).
    pub fn v3_json(self) -> Option<Value> {
        Some(match self {
            DataType::Bytes(n) | DataType::RawBytes(n) => {
                json!({"name": self.v3_name()?, "configuration": {"length_bytes": n}})
            }
            DataType::Unicode(n) => {
                json!({"name": "fixed_length_utf32", "configuration": {"length_bytes": n * 4}})
            }
            DataType::DateTime64(t) | DataType::TimeDelta64(t) => json!({
                "name": self.v3_name()?,
                "configuration": {"unit": t.unit.as_str(), "scale_factor": t.scale},
            }),
            DataType::RawBits(n) => Value::from(format!("r{}", n * 8)),
            DataType::Structured(l) => l.v3_json()?,
            numeric => Value::from(numeric.v3_name()?),
        })
    }

    /// Parses a v3 `data_type` value (a name or `{"name", "configuration"}`),
    /// as zarr-python 3.1 reads it.
    pub fn from_v3_json(v: &Value) -> Result<DataType, String> {
        let (name, cfg) = match v {
            Value::String(s) => (s.as_str(), None),
            Value::Object(o) => (
                o.get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("data_type {v} has no \"name\""))?,
                o.get("configuration"),
            ),
            other => return Err(format!("data_type {other} is neither a name nor an object")),
        };
        if let Some(d) = DataType::from_v3_name(name) {
            return Ok(d);
        }
        if let Some(bits) = name.strip_prefix('r') {
            if let Ok(b) = bits.parse::<usize>() {
                if b == 0 || b % 8 != 0 {
                    return Err(format!(
                        "raw bits type {name:?}: bits must be a positive multiple of 8"
                    ));
                }
                return Ok(DataType::RawBits(b / 8));
            }
        }
        let cfg = cfg.ok_or_else(|| {
            format!("unsupported data type {name:?} (or it lacks its configuration)")
        })?;
        let length = |per: usize| -> Result<usize, String> {
            let n = cfg
                .get("length_bytes")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    format!("{name}: configuration {cfg} needs an integer length_bytes")
                })?;
            if n == 0 || n % per as u64 != 0 || n > 1 << 30 {
                return Err(format!(
                    "{name}: length_bytes {n} is not a positive multiple of {per}"
                ));
            }
            Ok(n as usize / per)
        };
        let time = || -> Result<TimeSpec, String> {
            let unit = cfg
                .get("unit")
                .and_then(Value::as_str)
                .and_then(TimeUnit::parse)
                .ok_or_else(|| format!("{name}: configuration {cfg} has no valid unit"))?;
            let scale = cfg
                .get("scale_factor")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{name}: configuration {cfg} has no valid scale_factor"))?;
            TimeSpec::new(unit, scale).map_err(|e| format!("{name}: {e}"))
        };
        Ok(match name {
            "null_terminated_bytes" => DataType::Bytes(length(1)?),
            "raw_bytes" => DataType::RawBytes(length(1)?),
            "fixed_length_utf32" => DataType::Unicode(length(4)?),
            "numpy.datetime64" => DataType::DateTime64(time()?),
            "numpy.timedelta64" => DataType::TimeDelta64(time()?),
            "structured" => DataType::Structured(StructLayout::from_v3_config(cfg)?),
            other => return Err(format!("unsupported data type {other:?}")),
        })
    }

    /// The v2 `dtype` value in byte order `endian`: a NumPy type string, or
    /// for a structured type the list of fields (each keeps its own order).
    pub fn v2_json(self, endian: Endian) -> Value {
        match self {
            DataType::Structured(l) => l.v2_json(),
            d => Value::from(d.numpy_str(endian)),
        }
    }

    /// Parses a v2 `dtype` value: a NumPy type string or a structured list.
    /// Returns the type and the byte order it names (as [`DataType::from_numpy_str`]).
    pub fn from_v2_json(v: &Value) -> Result<(DataType, Option<Endian>), String> {
        match v {
            Value::String(s) => DataType::from_numpy_str(s),
            Value::Array(_) => Ok((DataType::Structured(StructLayout::from_v2_json(v)?), None)),
            other => Err(format!("data type {other} is not a string or a list")),
        }
    }

    /// NumPy's `descr` in a `.npy` header, as Python source: `'<f8'`, or
    /// `[('a', '<i4'), ('b', '<f8', (2,))]` for a structured type.
    pub fn numpy_descr(self, endian: Endian) -> String {
        match self {
            DataType::Structured(l) => l.numpy_descr(),
            d => structured::py_str(&d.numpy_str(endian)),
        }
    }

    /// The record layout of a structured type.
    pub fn struct_layout(self) -> Option<&'static StructLayout> {
        match self {
            DataType::Structured(l) => Some(l),
            _ => None,
        }
    }

    /// The unit and multiplier of a `datetime64` / `timedelta64` type.
    pub fn time_spec(self) -> Option<TimeSpec> {
        match self {
            DataType::DateTime64(t) | DataType::TimeDelta64(t) => Some(t),
            _ => None,
        }
    }

    /// The NumPy type character and size (`b1`, `i4`, `f8`, `S7`, `U6`), without byte order.
    fn numpy_code(self) -> String {
        match self {
            DataType::Bool => "b1".into(),
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                format!("i{}", self.size())
            }
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                format!("u{}", self.size())
            }
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                format!("f{}", self.size())
            }
            DataType::Complex64 | DataType::Complex128 => format!("c{}", self.size()),
            DataType::Bytes(n) => format!("S{n}"),
            DataType::Unicode(n) => format!("U{n}"),
            DataType::DateTime64(t) => format!("M8{}", t.numpy_suffix()),
            DataType::TimeDelta64(t) => format!("m8{}", t.numpy_suffix()),
            DataType::RawBytes(n) | DataType::RawBits(n) => format!("V{n}"),
            DataType::Structured(l) => format!("V{}", l.size()),
            DataType::VlenString | DataType::VlenBytes => "O".into(),
        }
    }

    /// NumPy's `dtype.str` for this type in byte order `endian`
    /// (`|` for types without byte order): `<f8`, `>i2`, `|b1`, `|S7`, `<U6`,
    /// `<M8[10s]`, `|V3` (also for structured types, as NumPy's `dtype.str`).
    pub fn numpy_str(self, endian: Endian) -> String {
        let prefix = if self.has_byte_order() || matches!(self, DataType::Unicode(_)) {
            endian.numpy_char()
        } else {
            '|'
        };
        format!("{prefix}{}", self.numpy_code())
    }

    /// Parses a NumPy type string (`<f8`, `>u2`, `|b1`, `|S7`, `<U6`, `i4`,
    /// `bool`, `<M8[ns]`, `>m8[10s]`, `|V3`...).
    ///
    /// Returns the type and the byte order it names (`None` when the string
    /// gives none, or the type has none).
    pub fn from_numpy_str(s: &str) -> Result<(DataType, Option<Endian>), String> {
        let (endian, body) = match s.as_bytes().first() {
            Some(b'<') => (Some(Endian::Little), &s[1..]),
            Some(b'>') => (Some(Endian::Big), &s[1..]),
            Some(b'|') | Some(b'=') => (None, &s[1..]),
            _ => (None, s),
        };
        let endian = if s.starts_with('=') {
            Some(Endian::native())
        } else {
            endian
        };
        if let Some(dt) = DataType::from_v3_name(body) {
            return Ok((dt, endian.filter(|_| dt.has_byte_order())));
        }
        for (prefix, datetime) in [("M8", true), ("m8", false)] {
            if let Some(rest) = body.strip_prefix(prefix) {
                let t = TimeSpec::parse_numpy_suffix(rest)
                    .map_err(|e| format!("unsupported data type {s:?}: {e}"))?;
                let dt = if datetime {
                    DataType::DateTime64(t)
                } else {
                    DataType::TimeDelta64(t)
                };
                return Ok((dt, endian));
            }
        }
        let mut chars = body.chars();
        let code = chars
            .next()
            .ok_or_else(|| format!("empty data type {s:?}"))?;
        let digits = chars.as_str();
        let n: usize = digits
            .parse()
            .map_err(|_| format!("unsupported data type {s:?}"))?;
        let dt = match (code, n) {
            ('b', 1) => DataType::Bool,
            ('i', 1) => DataType::Int8,
            ('i', 2) => DataType::Int16,
            ('i', 4) => DataType::Int32,
            ('i', 8) => DataType::Int64,
            ('u', 1) => DataType::UInt8,
            ('u', 2) => DataType::UInt16,
            ('u', 4) => DataType::UInt32,
            ('u', 8) => DataType::UInt64,
            ('f', 2) => DataType::Float16,
            ('f', 4) => DataType::Float32,
            ('f', 8) => DataType::Float64,
            ('c', 8) => DataType::Complex64,
            ('c', 16) => DataType::Complex128,
            ('S', n) if n > 0 => DataType::Bytes(n),
            ('U', n) if n > 0 => DataType::Unicode(n),
            ('V', n) if n > 0 && n <= 1 << 30 => DataType::RawBytes(n),
            _ => return Err(format!("unsupported data type {s:?}")),
        };
        Ok((dt, endian.filter(|_| dt.has_byte_order())))
    }

    /// Parses a user-facing type name: a v3 name (`float32`) or a NumPy string (`<f4`).
    pub fn parse(s: &str) -> Result<DataType, String> {
        for (long, short) in [("datetime64", "M8"), ("timedelta64", "m8")] {
            if let Some(rest) = s.strip_prefix(long) {
                return DataType::from_numpy_str(&format!("{short}{rest}")).map(|(d, _)| d);
            }
        }
        DataType::from_numpy_str(s).map(|(d, _)| d)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::DateTime64(t) => write!(f, "datetime64[{t}]"),
            DataType::TimeDelta64(t) => write!(f, "timedelta64[{t}]"),
            DataType::RawBits(n) => write!(f, "r{}", n * 8),
            DataType::Structured(l) => f.write_str(&l.numpy_descr()),
            DataType::VlenString => f.write_str("string"),
            DataType::VlenBytes => f.write_str("bytes"),
            d if DataType::NUMERIC.contains(d) => f.write_str(d.v3_name().unwrap_or("")),
            d => f.write_str(&d.numpy_code()),
        }
    }
}

/// Deepest nesting of structured types accepted by the parsers.
pub(crate) const fn structured_max_depth() -> usize {
    structured::MAX_DEPTH
}

/// Reverses the byte order of every `unit`-byte group of `buf` in place.
///
/// `buf.len()` must be a multiple of `unit`; `unit` 1 is a no-op.
pub fn swap_bytes_in_place(buf: &mut [u8], unit: usize) {
    match unit {
        0 | 1 => {}
        2 => buf
            .chunks_exact_mut(2)
            .for_each(|c| c.copy_from_slice(&u16::from_le_bytes([c[0], c[1]]).to_be_bytes())),
        4 => buf.chunks_exact_mut(4).for_each(|c| {
            let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            c.copy_from_slice(&v.to_be_bytes())
        }),
        8 => buf.chunks_exact_mut(8).for_each(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            c.copy_from_slice(&u64::from_le_bytes(a).to_be_bytes())
        }),
        n => buf.chunks_exact_mut(n).for_each(|c| c.reverse()),
    }
}

/// The native-endian bytes of a `u64` (explicit about the target's order).
pub fn u64_to_native(v: u64) -> [u8; 8] {
    if cfg!(target_endian = "little") {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

/// A `u64` from its native-endian bytes.
pub fn u64_from_native(b: [u8; 8]) -> u64 {
    if cfg!(target_endian = "little") {
        u64::from_le_bytes(b)
    } else {
        u64::from_be_bytes(b)
    }
}

/// Copies `src` into `dst` (same length) reversing every `unit`-byte group.
pub fn copy_swapped(src: &[u8], dst: &mut [u8], unit: usize) {
    dst.copy_from_slice(src);
    swap_bytes_in_place(dst, unit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_strings_round_trip() {
        for dt in DataType::NUMERIC {
            for e in [Endian::Little, Endian::Big] {
                let s = dt.numpy_str(e);
                let (back, be) = DataType::from_numpy_str(&s).unwrap();
                assert_eq!(back, dt, "{s}");
                if dt.has_byte_order() {
                    assert_eq!(be, Some(e));
                } else {
                    assert!(s.starts_with('|'), "{s}");
                }
            }
        }
        assert_eq!(
            DataType::from_numpy_str("|S7").unwrap(),
            (DataType::Bytes(7), None)
        );
        assert_eq!(
            DataType::from_numpy_str(">U4").unwrap(),
            (DataType::Unicode(4), Some(Endian::Big))
        );
        assert_eq!(DataType::Unicode(4).numpy_str(Endian::Little), "<U4");
        assert!(DataType::from_numpy_str("<f3").is_err());
        assert!(DataType::from_numpy_str("O").is_err());
        assert!(DataType::from_numpy_str("").is_err());
    }

    #[test]
    fn swapping() {
        let mut b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        swap_bytes_in_place(&mut b, 4);
        assert_eq!(b, [4, 3, 2, 1, 8, 7, 6, 5]);
        swap_bytes_in_place(&mut b, 8);
        assert_eq!(b, [5, 6, 7, 8, 1, 2, 3, 4]);
    }
}

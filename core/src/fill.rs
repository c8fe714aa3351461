//! Fill values: parsed from and written to v2 and v3 JSON, held as the bytes
//! of one element in native byte order.

use base64::Engine as _;
use serde_json::Value;

use crate::dtype::{DataType, Endian, Kind};
use crate::metadata::ZarrFormat;

/// The fill value of an array: one element, native byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillValue {
    bytes: Vec<u8>,
    /// v2 `null` (reads as zeros; written back as `null`).
    null: bool,
}

const NAN16: u16 = 0x7e00;
const NAN32: u32 = 0x7fc0_0000;
const NAN64: u64 = 0x7ff8_0000_0000_0000;

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Writes `v` as `size` native-endian bytes (`size` 2, 4 or 8), from the
/// little-endian encoding so that the conversion is explicit.
fn native_from_le(mut le: Vec<u8>, unit: usize) -> Vec<u8> {
    if Endian::native() == Endian::Big {
        crate::dtype::swap_bytes_in_place(&mut le, unit);
    }
    le
}

fn native_to_le(bytes: &[u8], unit: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if Endian::native() == Endian::Big {
        crate::dtype::swap_bytes_in_place(&mut v, unit);
    }
    v
}

impl FillValue {
    /// The all-zero fill value of a type.
    pub fn zero(dtype: DataType) -> FillValue {
        FillValue {
            bytes: vec![0; dtype.size()],
            null: false,
        }
    }

    /// v2's `null` fill value (reads as zeros).
    pub fn null(dtype: DataType) -> FillValue {
        FillValue {
            bytes: vec![0; dtype.size()],
            null: true,
        }
    }

    /// A fill value from the element's native-endian bytes.
    pub fn from_native_bytes(dtype: DataType, bytes: &[u8]) -> Result<FillValue, String> {
        if dtype == DataType::VlenString && std::str::from_utf8(bytes).is_err() {
            return Err("fill value is not valid UTF-8".into());
        }
        if !dtype.is_variable_length() && bytes.len() != dtype.size() {
            return Err(format!(
                "fill value has {} bytes, {dtype} needs {}",
                bytes.len(),
                dtype.size()
            ));
        }
        Ok(FillValue {
            bytes: bytes.to_vec(),
            null: false,
        })
    }

    /// The element's bytes in native byte order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether this is v2's `null`.
    pub fn is_null(&self) -> bool {
        self.null
    }

    /// Whether every byte is zero (lets buffers be filled with `memset`).
    pub fn is_zero(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// Parses the JSON `fill_value` of a `format` document for `dtype`.
    pub fn from_json(v: &Value, dtype: DataType, format: ZarrFormat) -> Result<FillValue, String> {
        if v.is_null() {
            return match format {
                ZarrFormat::V2 => Ok(FillValue::null(dtype)),
                ZarrFormat::V3 => Err("fill_value null is not allowed in Zarr v3".into()),
            };
        }
        let bytes = match dtype.kind() {
            Kind::Bool => match v {
                Value::Bool(b) => vec![*b as u8],
                Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                    vec![n.as_u64().unwrap_or(0) as u8]
                }
                _ => return Err(format!("fill_value {v} is not a boolean")),
            },
            Kind::Int | Kind::UInt => int_bytes(v, dtype)?,
            Kind::Float => float_bytes(v, dtype)?,
            Kind::Complex => {
                let half = if dtype == DataType::Complex64 {
                    DataType::Float32
                } else {
                    DataType::Float64
                };
                match v {
                    Value::Array(pair) if pair.len() == 2 => {
                        let mut b = float_bytes(&pair[0], half)?;
                        b.extend(float_bytes(&pair[1], half)?);
                        b
                    }
                    // A bare real number (written by some v2 writers).
                    other => {
                        let mut b = float_bytes(other, half)?;
                        b.extend(vec![0; half.size()]);
                        b
                    }
                }
            }
            Kind::Bytes => {
                let n = dtype.size();
                let raw = match v {
                    Value::String(s) => base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map_err(|e| format!("fill_value {s:?} is not base64: {e}"))?,
                    Value::Number(n) if n.as_u64() == Some(0) => vec![],
                    _ => return Err(format!("fill_value {v} is not a base64 string")),
                };
                if raw.len() > n {
                    return Err(format!("fill_value has {} bytes, more than {n}", raw.len()));
                }
                let mut b = raw;
                b.resize(n, 0);
                b
            }
            Kind::Unicode => {
                let n = dtype.size() / 4;
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(x) if x.as_u64() == Some(0) => String::new(),
                    _ => return Err(format!("fill_value {v} is not a string")),
                };
                let mut le = Vec::with_capacity(n * 4);
                for c in s.chars() {
                    le.extend_from_slice(&(c as u32).to_le_bytes());
                }
                if le.len() > n * 4 {
                    return Err(format!("fill_value {s:?} is longer than {n} characters"));
                }
                le.resize(n * 4, 0);
                native_from_le(le, 4)
            }
            Kind::DateTime | Kind::TimeDelta => {
                let x = match v {
                    Value::String(s) if s == "NaT" => crate::dtype::NAT,
                    Value::Number(n) => n
                        .as_i64()
                        .ok_or_else(|| format!("fill_value {v} is not a 64-bit integer"))?,
                    _ => return Err(format!("fill_value {v} is not an integer or \"NaT\"")),
                };
                native_from_le(x.to_le_bytes().to_vec(), 8)
            }
            Kind::Raw | Kind::Structured => raw_bytes(v, dtype)?,
            Kind::VlenString | Kind::VlenBytes => vlen_fill_bytes(v, dtype)?,
        };
        Ok(FillValue { bytes, null: false })
    }

    /// The JSON `fill_value` for a `format` document.
    pub fn to_json(&self, dtype: DataType, format: ZarrFormat) -> Value {
        if self.null && format == ZarrFormat::V2 {
            return Value::Null;
        }
        match dtype.kind() {
            Kind::Bool => Value::Bool(self.bytes[0] != 0),
            Kind::Int => {
                let le = native_to_le(&self.bytes, dtype.size());
                let v: i64 = match dtype.size() {
                    1 => le[0] as i8 as i64,
                    2 => i16::from_le_bytes(arr(&le)) as i64,
                    4 => i32::from_le_bytes(arr(&le)) as i64,
                    _ => i64::from_le_bytes(arr(&le)),
                };
                Value::from(v)
            }
            Kind::UInt => {
                let le = native_to_le(&self.bytes, dtype.size());
                let v: u64 = match dtype.size() {
                    1 => le[0] as u64,
                    2 => u16::from_le_bytes(arr(&le)) as u64,
                    4 => u32::from_le_bytes(arr(&le)) as u64,
                    _ => u64::from_le_bytes(arr(&le)),
                };
                Value::from(v)
            }
            Kind::Float => float_json(&self.bytes, dtype, format),
            Kind::Complex => {
                let h = dtype.size() / 2;
                let half = if h == 4 {
                    DataType::Float32
                } else {
                    DataType::Float64
                };
                Value::Array(vec![
                    float_json(&self.bytes[..h], half, format),
                    float_json(&self.bytes[h..], half, format),
                ])
            }
            Kind::Bytes => {
                let end = self
                    .bytes
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |p| p + 1);
                Value::String(base64::engine::general_purpose::STANDARD.encode(&self.bytes[..end]))
            }
            Kind::Unicode => {
                let le = native_to_le(&self.bytes, 4);
                let s: String = le
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(arr(c)))
                    .take_while(|&c| c != 0)
                    .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect();
                Value::String(s)
            }
            Kind::DateTime | Kind::TimeDelta => {
                Value::from(i64::from_le_bytes(arr(&native_to_le(&self.bytes, 8))))
            }
            // r<bits> (v3 core): one integer per byte.
            Kind::Raw if matches!(dtype, DataType::RawBits(_)) && format == ZarrFormat::V3 => {
                Value::Array(self.bytes.iter().map(|&b| Value::from(b)).collect())
            }
            Kind::VlenString => Value::String(String::from_utf8_lossy(&self.bytes).into_owned()),
            // raw_bytes / |V and structured records: base64 of every byte,
            // as zarr-python writes them (no trimming, unlike `S`); vlen
            // bytes: base64 too.
            Kind::Raw | Kind::Structured | Kind::VlenBytes => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(&self.bytes))
            }
        }
    }

    /// Parses a fill value typed by a user (`0`, `-1.5`, `nan`, `inf`,
    /// `-inf`, `true`, `0x7fc00000`, `[1, 2]` for complex, or any JSON form).
    pub fn parse_user(s: &str, dtype: DataType) -> Result<FillValue, String> {
        let t = s.trim();
        let v = match t.to_ascii_lowercase().as_str() {
            "nan" => Value::from("NaN"),
            "inf" | "+inf" | "infinity" => Value::from("Infinity"),
            "-inf" | "-infinity" => Value::from("-Infinity"),
            _ if t.starts_with("0x") => Value::from(t),
            _ => match serde_json::from_str::<Value>(t) {
                Ok(v) => v,
                Err(_) => Value::from(t),
            },
        };
        let fmt = if matches!(
            dtype.kind(),
            Kind::Bytes | Kind::Unicode | Kind::Raw | Kind::Structured
        ) {
            ZarrFormat::V2
        } else {
            ZarrFormat::V3
        };
        FillValue::from_json(&v, dtype, fmt).map_err(|e| format!("fill value {s:?}: {e}"))
    }
}

/// Raw bytes and structured records: base64 (zarr-python), a list of byte
/// values (v3 `r*`), or `0` for all zeros; shorter values are zero-padded.
fn raw_bytes(v: &Value, dtype: DataType) -> Result<Vec<u8>, String> {
    let n = dtype.size();
    let mut b = match v {
        Value::String(s) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("fill_value {s:?} is not base64: {e}"))?,
        Value::Array(items) => items
            .iter()
            .map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| format!("fill_value {v} is not a list of byte values"))?,
        Value::Number(x) if x.as_u64() == Some(0) => vec![],
        _ => return Err(format!("fill_value {v} is not a base64 string")),
    };
    if b.len() > n {
        return Err(format!("fill_value has {} bytes, {dtype} has {n}", b.len()));
    }
    b.resize(n, 0);
    Ok(b)
}

/// The fill value of a variable-length type as zarr-python reads it: text
/// for `string` (numbers and booleans become their Python `str`, as
/// zarr-python 2 wrote them), base64 for `bytes`.
fn vlen_fill_bytes(v: &Value, dtype: DataType) -> Result<Vec<u8>, String> {
    match (dtype, v) {
        (DataType::VlenString, Value::String(s)) => Ok(s.as_bytes().to_vec()),
        (DataType::VlenString, Value::Number(n)) => Ok(n.to_string().into_bytes()),
        (DataType::VlenString, Value::Bool(b)) => {
            Ok(if *b { "True" } else { "False" }.as_bytes().to_vec())
        }
        (DataType::VlenBytes, Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("fill_value {s:?} is not base64: {e}")),
        (DataType::VlenBytes, Value::Number(n)) if n.as_u64() == Some(0) => Ok(vec![]),
        _ => Err(format!("fill_value {v} is not a {dtype} scalar")),
    }
}

fn int_bytes(v: &Value, dtype: DataType) -> Result<Vec<u8>, String> {
    let n = match v {
        Value::Number(n) => n,
        _ => return Err(format!("fill_value {v} is not an integer")),
    };
    let out_of_range = || format!("fill_value {v} does not fit {dtype}");
    let le: Vec<u8> = if dtype.kind() == Kind::Int {
        let x = match (n.as_i64(), n.as_f64()) {
            (Some(x), _) => x,
            (None, Some(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                f as i64
            }
            _ => return Err(out_of_range()),
        };
        match dtype.size() {
            1 => i8::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            2 => i16::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            4 => i32::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            _ => x.to_le_bytes().to_vec(),
        }
    } else {
        let x = match (n.as_u64(), n.as_f64()) {
            (Some(x), _) => x,
            (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => f as u64,
            _ => return Err(out_of_range()),
        };
        match dtype.size() {
            1 => u8::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            2 => u16::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            4 => u32::try_from(x)
                .map_err(|_| out_of_range())?
                .to_le_bytes()
                .to_vec(),
            _ => x.to_le_bytes().to_vec(),
        }
    };
    Ok(native_from_le(le, dtype.size()))
}

fn float_bytes(v: &Value, dtype: DataType) -> Result<Vec<u8>, String> {
    let size = dtype.size();
    let le: Vec<u8> = match v {
        Value::String(s) if s.starts_with("0x") => {
            let hex = &s[2..];
            if hex.len() != size * 2 {
                return Err(format!(
                    "hex fill_value {s:?} must have {} hex digits for {dtype}",
                    size * 2
                ));
            }
            let bits = u64::from_str_radix(hex, 16)
                .map_err(|_| format!("fill_value {s:?} is not valid hex"))?;
            bits.to_le_bytes()[..size].to_vec()
        }
        Value::String(s) => {
            let x = match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return Err(format!("fill_value {s:?} is not a number for {dtype}")),
            };
            match size {
                2 => {
                    if x.is_nan() {
                        NAN16.to_le_bytes().to_vec()
                    } else {
                        half::f16::from_f64(x).to_bits().to_le_bytes().to_vec()
                    }
                }
                4 => {
                    if x.is_nan() {
                        NAN32.to_le_bytes().to_vec()
                    } else {
                        (x as f32).to_le_bytes().to_vec()
                    }
                }
                _ => {
                    if x.is_nan() {
                        NAN64.to_le_bytes().to_vec()
                    } else {
                        x.to_le_bytes().to_vec()
                    }
                }
            }
        }
        Value::Number(n) => {
            let x = n
                .as_f64()
                .ok_or_else(|| format!("fill_value {v} is not a number"))?;
            match size {
                2 => half::f16::from_f64(x).to_bits().to_le_bytes().to_vec(),
                4 => (x as f32).to_le_bytes().to_vec(),
                _ => x.to_le_bytes().to_vec(),
            }
        }
        _ => return Err(format!("fill_value {v} is not a number for {dtype}")),
    };
    Ok(native_from_le(le, size))
}

fn float_json(native: &[u8], dtype: DataType, format: ZarrFormat) -> Value {
    let le = native_to_le(native, dtype.size());
    let (x, bits, canonical_nan, digits): (f64, u64, u64, usize) = match dtype.size() {
        2 => {
            let b = u16::from_le_bytes(arr(&le));
            (half::f16::from_bits(b).to_f64(), b as u64, NAN16 as u64, 4)
        }
        4 => {
            let b = u32::from_le_bytes(arr(&le));
            (f32::from_bits(b) as f64, b as u64, NAN32 as u64, 8)
        }
        _ => {
            let b = u64::from_le_bytes(arr(&le));
            (f64::from_bits(b), b, NAN64, 16)
        }
    };
    if x.is_nan() {
        if bits == canonical_nan || format == ZarrFormat::V2 {
            Value::from("NaN")
        } else {
            Value::from(format!("0x{bits:0digits$x}"))
        }
    } else if x == f64::INFINITY {
        Value::from("Infinity")
    } else if x == f64::NEG_INFINITY {
        Value::from("-Infinity")
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(v: Value, dt: DataType, f: ZarrFormat) -> Value {
        FillValue::from_json(&v, dt, f).unwrap().to_json(dt, f)
    }

    #[test]
    fn floats() {
        for f in [ZarrFormat::V2, ZarrFormat::V3] {
            for dt in [DataType::Float16, DataType::Float32, DataType::Float64] {
                assert_eq!(rt(json!("NaN"), dt, f), json!("NaN"));
                assert_eq!(rt(json!("Infinity"), dt, f), json!("Infinity"));
                assert_eq!(rt(json!("-Infinity"), dt, f), json!("-Infinity"));
                assert_eq!(rt(json!(-1.5), dt, f), json!(-1.5));
            }
        }
        let v =
            FillValue::from_json(&json!("0x7fc00001"), DataType::Float32, ZarrFormat::V3).unwrap();
        assert_eq!(
            v.to_json(DataType::Float32, ZarrFormat::V3),
            json!("0x7fc00001")
        );
        let v = FillValue::from_json(
            &json!("0x3ff0000000000000"),
            DataType::Float64,
            ZarrFormat::V3,
        )
        .unwrap();
        assert_eq!(v.as_bytes(), &1.0f64.to_le_bytes()[..]);
        assert!(FillValue::from_json(&json!("0x3ff0"), DataType::Float64, ZarrFormat::V3).is_err());
    }

    #[test]
    fn ints_and_ranges() {
        assert_eq!(rt(json!(-128), DataType::Int8, ZarrFormat::V3), json!(-128));
        assert!(FillValue::from_json(&json!(128), DataType::Int8, ZarrFormat::V3).is_err());
        assert_eq!(
            rt(json!(u64::MAX), DataType::UInt64, ZarrFormat::V3),
            json!(u64::MAX)
        );
        assert!(FillValue::from_json(&json!(-1), DataType::UInt16, ZarrFormat::V3).is_err());
        assert!(FillValue::from_json(&json!(null), DataType::UInt16, ZarrFormat::V3).is_err());
        assert!(
            FillValue::from_json(&json!(null), DataType::UInt16, ZarrFormat::V2)
                .unwrap()
                .is_null()
        );
    }

    #[test]
    fn complex_and_strings() {
        assert_eq!(
            rt(
                json!(["NaN", "Infinity"]),
                DataType::Complex64,
                ZarrFormat::V3
            ),
            json!(["NaN", "Infinity"])
        );
        assert_eq!(
            rt(json!("YWI="), DataType::Bytes(4), ZarrFormat::V2),
            json!("YWI=")
        );
        let u = FillValue::from_json(&json!("ab"), DataType::Unicode(3), ZarrFormat::V2).unwrap();
        assert_eq!(u.as_bytes().len(), 12);
        assert_eq!(u.to_json(DataType::Unicode(3), ZarrFormat::V2), json!("ab"));
    }

    #[test]
    fn times_raw_and_records() {
        use crate::dtype::{TimeSpec, TimeUnit, NAT};
        let t = DataType::DateTime64(TimeSpec::new(TimeUnit::Nanos, 1).unwrap());
        for f in [ZarrFormat::V2, ZarrFormat::V3] {
            assert_eq!(rt(json!("NaT"), t, f), json!(NAT));
            assert_eq!(rt(json!(NAT), t, f), json!(-9223372036854775808i64));
            assert_eq!(rt(json!(-5), t, f), json!(-5));
        }
        assert!(FillValue::from_json(&json!(1.5), t, ZarrFormat::V3).is_err());
        assert!(FillValue::from_json(&json!("nat"), t, ZarrFormat::V3).is_err());
        let v = DataType::RawBytes(3);
        assert_eq!(rt(json!("AAAA"), v, ZarrFormat::V3), json!("AAAA"));
        assert_eq!(rt(json!("AQ=="), v, ZarrFormat::V2), json!("AQAA"));
        assert!(FillValue::from_json(&json!("AAAAAA=="), v, ZarrFormat::V3).is_err());
        let r = DataType::RawBits(2);
        assert_eq!(rt(json!([1, 255]), r, ZarrFormat::V3), json!([1, 255]));
        assert!(FillValue::from_json(&json!([256, 0]), r, ZarrFormat::V3).is_err());
        let s = DataType::from_v2_json(&json!([["a", "<i4"], ["b", "|u1"]]))
            .unwrap()
            .0;
        assert_eq!(rt(json!("AQAAAAI="), s, ZarrFormat::V2), json!("AQAAAAI="));
        assert_eq!(
            FillValue::from_json(&json!("AQAAAAI="), s, ZarrFormat::V3)
                .unwrap()
                .as_bytes(),
            &[1, 0, 0, 0, 2]
        );
        assert_eq!(
            FillValue::parse_user("NaT", t).unwrap().as_bytes(),
            &NAT.to_le_bytes()[..]
        );
    }

    #[test]
    fn user_forms() {
        let n = FillValue::parse_user("nan", DataType::Float32).unwrap();
        assert_eq!(n.as_bytes(), &NAN32.to_le_bytes()[..]);
        assert!(FillValue::parse_user("abc", DataType::Int32).is_err());
        assert_eq!(
            FillValue::parse_user("7", DataType::UInt8)
                .unwrap()
                .as_bytes(),
            &[7]
        );
    }
}

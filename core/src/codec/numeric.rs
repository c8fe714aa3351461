//! Element types of the numcodecs filters (NumPy dtype strings such as
//! `<f8`, `|u1` or `uint32`) and NumPy's arithmetic and casting rules for
//! them, so that lossy filters produce exactly the bytes numcodecs does.
//!
//! Values travel as [`Num`]: integers exactly (`i128`), floats as the `f64`
//! holding the exact value of the narrower type. Arithmetic in `float16` and
//! `float32` is done as NumPy does it (in `float32`, rounded once to the
//! type), and casts follow `ndarray.astype` (float to integer: C truncation;
//! out-of-range values, undefined in NumPy, follow what NumPy's scalar loops
//! give on x86-64).

use half::f16;

use crate::dtype::{DataType, Endian};

/// Kind of a numeric element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumKind {
    /// `bool` (one byte, 0 or 1).
    Bool,
    /// Signed integer.
    Int,
    /// Unsigned integer.
    UInt,
    /// IEEE float (2, 4 or 8 bytes).
    Float,
}

/// A numeric element type with its byte order (a NumPy dtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumType {
    /// Kind.
    pub kind: NumKind,
    /// Size in bytes (1, 2, 4 or 8).
    pub size: usize,
    /// Byte order of its bytes (meaningless for one-byte types, kept little).
    pub endian: Endian,
}

/// One value of a [`NumType`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer or bool, exactly.
    Int(i128),
    /// A float (its exact value).
    Float(f64),
}

/// Precision in which NumPy evaluates float arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prec {
    /// `float16` (computed in `float32`, rounded to half).
    F16,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

impl Prec {
    /// Rounds an `f64` to this precision (a weak Python scalar meeting an
    /// array of this type).
    pub fn round(self, x: f64) -> f64 {
        match self {
            Prec::F16 => f16::from_f64(x).to_f64(),
            Prec::F32 => f64::from(x as f32),
            Prec::F64 => x,
        }
    }

    fn op(self, a: f64, b: f64, f32op: fn(f32, f32) -> f32, f64op: fn(f64, f64) -> f64) -> f64 {
        match self {
            Prec::F64 => f64op(a, b),
            Prec::F32 => f64::from(f32op(a as f32, b as f32)),
            Prec::F16 => f16::from_f32(f32op(a as f32, b as f32)).to_f64(),
        }
    }

    /// `a + b` in this precision.
    pub fn add(self, a: f64, b: f64) -> f64 {
        self.op(a, b, |x, y| x + y, |x, y| x + y)
    }

    /// `a - b` in this precision.
    pub fn sub(self, a: f64, b: f64) -> f64 {
        self.op(a, b, |x, y| x - y, |x, y| x - y)
    }

    /// `a * b` in this precision.
    pub fn mul(self, a: f64, b: f64) -> f64 {
        self.op(a, b, |x, y| x * y, |x, y| x * y)
    }

    /// `a / b` in this precision.
    pub fn div(self, a: f64, b: f64) -> f64 {
        self.op(a, b, |x, y| x / y, |x, y| x / y)
    }
}

impl NumType {
    /// A little-endian type.
    pub const fn le(kind: NumKind, size: usize) -> NumType {
        NumType {
            kind,
            size,
            endian: Endian::Little,
        }
    }

    /// `uint8`.
    pub const U8: NumType = NumType::le(NumKind::UInt, 1);

    /// The same type in another byte order (one-byte types stay as they are).
    pub fn with_endian(self, endian: Endian) -> NumType {
        if self.size == 1 {
            self
        } else {
            NumType { endian, ..self }
        }
    }

    /// The precision of a float type.
    pub fn prec(self) -> Option<Prec> {
        match (self.kind, self.size) {
            (NumKind::Float, 2) => Some(Prec::F16),
            (NumKind::Float, 4) => Some(Prec::F32),
            (NumKind::Float, 8) => Some(Prec::F64),
            _ => None,
        }
    }

    /// Whether this is an integer type (signed or unsigned).
    pub fn is_int(self) -> bool {
        matches!(self.kind, NumKind::Int | NumKind::UInt)
    }

    /// The numeric type of an array data type (none for complex, strings).
    pub fn of_data_type(dtype: DataType, endian: Endian) -> Option<NumType> {
        let (kind, size) = match dtype {
            DataType::Bool => (NumKind::Bool, 1),
            DataType::Int8 => (NumKind::Int, 1),
            DataType::Int16 => (NumKind::Int, 2),
            DataType::Int32 => (NumKind::Int, 4),
            DataType::Int64 => (NumKind::Int, 8),
            DataType::UInt8 => (NumKind::UInt, 1),
            DataType::UInt16 => (NumKind::UInt, 2),
            DataType::UInt32 => (NumKind::UInt, 4),
            DataType::UInt64 => (NumKind::UInt, 8),
            DataType::Float16 => (NumKind::Float, 2),
            DataType::Float32 => (NumKind::Float, 4),
            DataType::Float64 => (NumKind::Float, 8),
            _ => return None,
        };
        Some(NumType::le(kind, size).with_endian(endian))
    }

    /// Parses a NumPy dtype string: `<f8`, `>i2`, `|u1`, `b1`, `?`,
    /// `uint32`, `float64`, `f4`, `d`... (no byte order, `=` and `|` mean
    /// little-endian: the native order of the machines that write Zarr).
    pub fn parse(s: &str) -> Result<NumType, String> {
        let bad = || format!("dtype {s:?} is not a numeric NumPy dtype zarrcore supports");
        let (endian, body) = match s.as_bytes().first() {
            Some(b'<') | Some(b'=') | Some(b'|') => (Endian::Little, &s[1..]),
            Some(b'>') => (Endian::Big, &s[1..]),
            _ => (Endian::Little, s),
        };
        use NumKind::*;
        let (kind, size) = match body {
            "bool" | "bool_" | "?" | "b1" => (Bool, 1),
            "int8" | "byte" | "b" => (Int, 1),
            "int16" | "short" | "h" => (Int, 2),
            "int32" | "intc" | "i" => (Int, 4),
            "int64" | "int" | "long" | "longlong" | "intp" | "l" | "q" | "p" => (Int, 8),
            "uint8" | "ubyte" | "B" => (UInt, 1),
            "uint16" | "ushort" | "H" => (UInt, 2),
            "uint32" | "uintc" | "I" => (UInt, 4),
            "uint64" | "uint" | "ulong" | "ulonglong" | "uintp" | "L" | "Q" | "P" => (UInt, 8),
            "float16" | "half" | "e" => (Float, 2),
            "float32" | "single" | "f" => (Float, 4),
            "float64" | "double" | "float" | "d" => (Float, 8),
            _ => {
                let mut it = body.chars();
                let k = match it.next() {
                    Some('i') => Int,
                    Some('u') => UInt,
                    Some('f') => Float,
                    _ => return Err(bad()),
                };
                let n: usize = it.as_str().parse().map_err(|_| bad())?;
                (k, n)
            }
        };
        let ok = match kind {
            Bool => size == 1,
            Int | UInt => matches!(size, 1 | 2 | 4 | 8),
            Float => matches!(size, 2 | 4 | 8),
        };
        if !ok {
            return Err(bad());
        }
        Ok(NumType::le(kind, size).with_endian(endian))
    }

    /// NumPy's `dtype.str`: `<f8`, `>i2`, `|u1`, `|b1`.
    pub fn numpy_str(self) -> String {
        let c = match self.kind {
            NumKind::Bool => 'b',
            NumKind::Int => 'i',
            NumKind::UInt => 'u',
            NumKind::Float => 'f',
        };
        let o = match (self.size, self.endian) {
            (1, _) => '|',
            (_, Endian::Little) => '<',
            (_, Endian::Big) => '>',
        };
        format!("{o}{c}{}", self.size)
    }

    /// The dtype string of a v3 `numcodecs.*` configuration: the type in
    /// memory, which zarr-python keeps native (little-endian).
    pub fn v3_str(self) -> String {
        self.with_endian(Endian::Little).numpy_str()
    }

    fn bits(self, b: &[u8]) -> u64 {
        let mut v = [0u8; 8];
        let n = self.size;
        match self.endian {
            Endian::Little => {
                v[..n].copy_from_slice(&b[..n]);
                u64::from_le_bytes(v)
            }
            Endian::Big => {
                v[8 - n..].copy_from_slice(&b[..n]);
                u64::from_be_bytes(v)
            }
        }
    }

    fn put_bits(self, x: u64, out: &mut [u8]) {
        let n = self.size;
        match self.endian {
            Endian::Little => out[..n].copy_from_slice(&x.to_le_bytes()[..n]),
            Endian::Big => out[..n].copy_from_slice(&x.to_be_bytes()[8 - n..]),
        }
    }

    /// Reads one element from the first `size` bytes of `b`.
    pub fn read(self, b: &[u8]) -> Num {
        let x = self.bits(b);
        match (self.kind, self.size) {
            (NumKind::Bool, _) => Num::Int(i128::from(x != 0)),
            (NumKind::UInt, _) => Num::Int(i128::from(x)),
            (NumKind::Int, 1) => Num::Int(i128::from(x as u8 as i8)),
            (NumKind::Int, 2) => Num::Int(i128::from(x as u16 as i16)),
            (NumKind::Int, 4) => Num::Int(i128::from(x as u32 as i32)),
            (NumKind::Int, _) => Num::Int(i128::from(x as i64)),
            (NumKind::Float, 2) => Num::Float(f16::from_bits(x as u16).to_f64()),
            (NumKind::Float, 4) => Num::Float(f64::from(f32::from_bits(x as u32))),
            (NumKind::Float, _) => Num::Float(f64::from_bits(x)),
        }
    }

    /// Writes `v` (cast to this type first) into the first `size` bytes.
    pub fn write(self, v: Num, out: &mut [u8]) {
        let bits = match (self.cast(v), self.kind, self.size) {
            (Num::Int(i), _, _) => i as u64,
            (Num::Float(f), _, 2) => u64::from(f16::from_f64(f).to_bits()),
            (Num::Float(f), _, 4) => u64::from((f as f32).to_bits()),
            (Num::Float(f), _, _) => f.to_bits(),
        };
        self.put_bits(bits, out);
    }

    /// NumPy's `astype` of one value to this type.
    pub fn cast(self, v: Num) -> Num {
        match self.kind {
            NumKind::Bool => Num::Int(i128::from(match v {
                Num::Int(i) => i != 0,
                Num::Float(f) => f != 0.0,
            })),
            NumKind::Int | NumKind::UInt => Num::Int(match v {
                Num::Int(i) => self.wrap(i),
                Num::Float(f) => self.float_to_int(f),
            }),
            NumKind::Float => Num::Float(match v {
                Num::Int(i) => match self.size {
                    2 => f16::from_f64(i as f64).to_f64(),
                    4 => f64::from(i as f32),
                    _ => i as f64,
                },
                Num::Float(f) => self.prec().map_or(f, |p| p.round(f)),
            }),
        }
    }

    /// Two's-complement wrap of an integer to this integer type.
    pub fn wrap(self, i: i128) -> i128 {
        let bits = 8 * self.size as u32;
        let m = i as u128 & (u128::MAX >> (128 - bits));
        if self.kind == NumKind::Int && m >> (bits - 1) == 1 {
            m as i128 - (1i128 << bits)
        } else {
            m as i128
        }
    }

    /// Whether `i` is a value of this integer type.
    pub fn holds(self, i: i128) -> bool {
        self.wrap(i) == i
    }

    /// C's float-to-integer conversion as NumPy's x86-64 scalar loops do it.
    fn float_to_int(self, f: f64) -> i128 {
        const I32_LO: f64 = -2_147_483_648.0;
        const I32_HI: f64 = 2_147_483_648.0;
        const I64_LO: f64 = -9_223_372_036_854_775_808.0;
        const I64_HI: f64 = 9_223_372_036_854_775_808.0;
        let cvt32 = |f: f64| -> i128 {
            if f > I32_LO - 1.0 && f < I32_HI {
                f.trunc() as i128
            } else {
                i128::from(i32::MIN)
            }
        };
        let cvt64 = |f: f64| -> i128 {
            if (I64_LO..I64_HI).contains(&f) {
                f.trunc() as i128
            } else {
                i128::from(i64::MIN)
            }
        };
        match (self.kind, self.size) {
            (_, 1) | (_, 2) | (NumKind::Int, 4) => self.wrap(cvt32(f)),
            (NumKind::Int, _) => cvt64(f),
            (_, 4) => {
                if (I64_LO..4_294_967_296.0).contains(&f) {
                    self.wrap(cvt64(f))
                } else if f >= 4_294_967_296.0 {
                    0
                } else {
                    1 << 31
                }
            }
            _ => {
                if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    f.trunc() as i128
                } else if (I64_LO..0.0).contains(&f) {
                    self.wrap(f.trunc() as i128)
                } else if f >= 18_446_744_073_709_551_616.0 {
                    0
                } else {
                    1 << 63
                }
            }
        }
    }
}

/// Checks that a buffer holds whole elements of `t`.
pub(crate) fn whole(
    len: usize,
    t: NumType,
    codec: &'static str,
) -> Result<usize, crate::error::CodecError> {
    if len % t.size != 0 {
        return Err(crate::error::CodecError::new(
            codec,
            format!(
                "{len} bytes is not a whole number of {} elements",
                t.numpy_str()
            ),
        ));
    }
    Ok(len / t.size)
}

/// A JSON number of a codec configuration, kept as written (for rewriting)
/// and as the Python scalar it is (int or float).
#[derive(Debug, Clone, PartialEq)]
pub struct PyNumber {
    /// The JSON value as found.
    pub json: serde_json::Value,
    /// The value.
    pub value: Num,
}

impl PyNumber {
    /// Parses a JSON number (a Python `int` or `float`).
    pub fn from_json(v: &serde_json::Value, what: &str) -> Result<PyNumber, String> {
        let value = match v {
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Num::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Num::Int(i128::from(u))
                } else if let Some(f) = n.as_f64() {
                    Num::Float(f)
                } else {
                    return Err(format!("{what} {v} is not a number"));
                }
            }
            // numcodecs writes NaN/Infinity as these strings in JSON.
            serde_json::Value::String(s) if s == "NaN" => Num::Float(f64::NAN),
            serde_json::Value::String(s) if s == "Infinity" => Num::Float(f64::INFINITY),
            serde_json::Value::String(s) if s == "-Infinity" => Num::Float(f64::NEG_INFINITY),
            _ => return Err(format!("{what} {v} is not a number")),
        };
        Ok(PyNumber {
            json: v.clone(),
            value,
        })
    }

    /// The value as a Python float would be (`float(x)`).
    pub fn as_f64(&self) -> f64 {
        match self.value {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        for (s, want) in [
            ("<f8", "<f8"),
            ("float32", "<f4"),
            (">i2", ">i2"),
            ("u1", "|u1"),
            ("|b1", "|b1"),
            ("bool", "|b1"),
            ("uint32", "<u4"),
            ("d", "<f8"),
            ("f2", "<f2"),
        ] {
            assert_eq!(NumType::parse(s).unwrap().numpy_str(), want, "{s}");
        }
        for bad in ["c16", "<U4", "f3", "x", "", "O", "complex128"] {
            assert!(NumType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn casts_like_numpy() {
        // Values from NumPy 2.4 (`np.array(v, 'f8').astype(t)`).
        let vals = [
            300.0,
            -1.0,
            -129.0,
            1e20,
            -1e20,
            f64::NAN,
            70000.5,
            -2.5,
            3e9,
            -3e9,
        ];
        let cases: [(&str, [i128; 10]); 8] = [
            ("i1", [44, -1, 127, 0, 0, 0, 112, -2, 0, 0]),
            ("u1", [44, 255, 127, 0, 0, 0, 112, 254, 0, 0]),
            ("i2", [300, -1, -129, 0, 0, 0, 4464, -2, 0, 0]),
            ("u2", [300, 65535, 65407, 0, 0, 0, 4464, 65534, 0, 0]),
            (
                "i4",
                [
                    300,
                    -1,
                    -129,
                    -1 << 31,
                    -1 << 31,
                    -1 << 31,
                    70000,
                    -2,
                    -1 << 31,
                    -1 << 31,
                ],
            ),
            (
                "u4",
                [
                    300,
                    4294967295,
                    4294967167,
                    0,
                    1 << 31,
                    1 << 31,
                    70000,
                    4294967294,
                    3000000000,
                    1294967296,
                ],
            ),
            (
                "i8",
                [
                    300,
                    -1,
                    -129,
                    -1 << 63,
                    -1 << 63,
                    -1 << 63,
                    70000,
                    -2,
                    3000000000,
                    -3000000000,
                ],
            ),
            (
                "u8",
                [
                    300,
                    18446744073709551615,
                    18446744073709551487,
                    0,
                    1 << 63,
                    1 << 63,
                    70000,
                    18446744073709551614,
                    3000000000,
                    18446744070709551616,
                ],
            ),
        ];
        for (t, want) in cases {
            let ty = NumType::parse(t).unwrap();
            for (v, w) in vals.iter().zip(want) {
                assert_eq!(ty.cast(Num::Float(*v)), Num::Int(w), "{v} as {t}");
            }
        }
        let f2 = NumType::parse("f2").unwrap();
        assert_eq!(f2.cast(Num::Int(70000)), Num::Float(f64::INFINITY));
        assert_eq!(f2.cast(Num::Int(2049)), Num::Float(2048.0));
    }

    #[test]
    fn read_write_round_trip() {
        let t = NumType::parse(">i2").unwrap();
        let mut b = [0u8; 2];
        t.write(Num::Int(-2), &mut b);
        assert_eq!(b, [0xff, 0xfe]);
        assert_eq!(t.read(&b), Num::Int(-2));
        let f = NumType::parse("<f2").unwrap();
        f.write(Num::Float(1.5), &mut b);
        assert_eq!(f.read(&b), Num::Float(1.5));
    }
}

/// A fixed-size element read and written in an explicit byte order, for the
/// monomorphised loops of the filters (no per-element dispatch).
pub(crate) trait Elem: Copy {
    /// Size in bytes.
    const N: usize;
    /// Reads the first `N` bytes (big-endian if `BIG`).
    fn load<const BIG: bool>(b: &[u8]) -> Self;
    /// Writes the first `N` bytes.
    fn store<const BIG: bool>(self, b: &mut [u8]);
    /// `self - o` as NumPy computes it for the type (wrapping for integers).
    fn sub(self, o: Self) -> Self;
    /// `self + o` as NumPy computes it for the type.
    fn add(self, o: Self) -> Self;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load<const BIG: bool>(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::N]);
                if BIG { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
            }
            #[inline(always)]
            fn store<const BIG: bool>(self, b: &mut [u8]) {
                let a = if BIG { self.to_be_bytes() } else { self.to_le_bytes() };
                b[..Self::N].copy_from_slice(&a);
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)]
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
        }
    )*};
}
int_elem!(u8, u16, u32, u64);

macro_rules! float_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load<const BIG: bool>(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::N]);
                if BIG { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
            }
            #[inline(always)]
            fn store<const BIG: bool>(self, b: &mut [u8]) {
                let a = if BIG { self.to_be_bytes() } else { self.to_le_bytes() };
                b[..Self::N].copy_from_slice(&a);
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)]
            fn add(self, o: Self) -> Self { self + o }
        }
    )*};
}
float_elem!(f32, f64);

/// `float16` with NumPy's arithmetic (through `float32`, rounded once).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Half(pub f16);

impl Elem for Half {
    const N: usize = 2;
    #[inline(always)]
    fn load<const BIG: bool>(b: &[u8]) -> Self {
        Half(f16::from_bits(u16::load::<BIG>(b)))
    }
    #[inline(always)]
    fn store<const BIG: bool>(self, b: &mut [u8]) {
        self.0.to_bits().store::<BIG>(b)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Half(f16::from_f32(self.0.to_f32() - o.0.to_f32()))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Half(f16::from_f32(self.0.to_f32() + o.0.to_f32()))
    }
}

/// Runs `$body` with `$T` the [`Elem`] of the numeric type `$t` and `$BIG`
/// its byte order (booleans as `u8`).
macro_rules! with_elem {
    ($t:expr, $T:ident, $BIG:ident, $body:expr) => {{
        let t: $crate::codec::numeric::NumType = $t;
        let big = t.endian == $crate::dtype::Endian::Big && t.size > 1;
        macro_rules! go {
            ($ty:ty) => {{
                type $T = $ty;
                if big {
                    const $BIG: bool = true;
                    $body
                } else {
                    const $BIG: bool = false;
                    $body
                }
            }};
        }
        use $crate::codec::numeric::NumKind as K;
        match (t.kind, t.size) {
            (K::Float, 2) => go!($crate::codec::numeric::Half),
            (K::Float, 4) => go!(f32),
            (K::Float, _) => go!(f64),
            (_, 1) => go!(u8),
            (_, 2) => go!(u16),
            (_, 4) => go!(u32),
            (_, _) => go!(u64),
        }
    }};
}
pub(crate) use with_elem;

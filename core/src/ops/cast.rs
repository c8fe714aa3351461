//! Element type conversion with NumPy's `astype` semantics.
//!
//! * Which conversions are allowed follows `numpy.can_cast(from, to,
//!   casting)` for the numeric types: [`Casting::Safe`] (the default; note
//!   that NumPy counts `int64`/`uint64` → `float64` as safe although values
//!   beyond 2^53 round) and [`Casting::SameKind`] (adds narrowing within a
//!   kind: `float64` → `float32`, `int32` → `int8`, `uint16` → `int16`, ...).
//!   Float → integer and anything → `bool` (other than `bool`) are refused,
//!   as NumPy refuses them under `same_kind`. `S`/`U` strings convert only to
//!   themselves.
//! * Values convert as `ndarray.astype` does: integers narrow by wrapping
//!   (two's complement truncation), floats round to nearest (overflow to ±inf),
//!   integers to floats round to nearest, `bool` is 0 or 1, real → complex has
//!   a zero imaginary part, complex128 → complex64 narrows each part.
//!
//! Buffers are native byte order, as decoded chunks are.

use std::fmt;
use std::str::FromStr;

use half::f16;

use crate::dtype::{DataType, Kind};

/// How far a conversion may go (NumPy's `casting` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Casting {
    /// Only conversions that preserve values (NumPy's `safe`).
    #[default]
    Safe,
    /// Also narrowing within a kind (NumPy's `same_kind`).
    SameKind,
}

impl FromStr for Casting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "safe" => Ok(Casting::Safe),
            "same_kind" | "same-kind" => Ok(Casting::SameKind),
            other => Err(format!(
                "casting {other:?} not understood; use safe or same_kind"
            )),
        }
    }
}

impl fmt::Display for Casting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Casting::Safe => "safe",
            Casting::SameKind => "same_kind",
        })
    }
}

/// Position of a kind in NumPy's kind order (`b < u < i < f < c`).
fn kind_rank(k: Kind) -> Option<u8> {
    Some(match k {
        Kind::Bool => 0,
        Kind::UInt => 1,
        Kind::Int => 2,
        Kind::Float => 3,
        Kind::Complex => 4,
        Kind::Bytes
        | Kind::Unicode
        | Kind::DateTime
        | Kind::TimeDelta
        | Kind::Raw
        | Kind::Structured
        | Kind::VlenString
        | Kind::VlenBytes => return None,
    })
}

/// Whether NumPy's `can_cast(from, to, "safe")` holds.
fn safe(from: DataType, to: DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    // Exact integer range / float mantissa capacity, as NumPy tabulates it.
    match (from, to) {
        (Bool, _) => kind_rank(to.kind()).is_some(),
        (_, Bool) => false,
        (UInt8, UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64) => true,
        (UInt16, UInt32 | UInt64 | Int32 | Int64) => true,
        (UInt32, UInt64 | Int64) => true,
        (Int8, Int16 | Int32 | Int64) => true,
        (Int16, Int32 | Int64) => true,
        (Int32, Int64) => true,
        (UInt8 | Int8, Float16 | Float32 | Float64 | Complex64 | Complex128) => true,
        (UInt16 | Int16, Float32 | Float64 | Complex64 | Complex128) => true,
        (UInt32 | Int32 | UInt64 | Int64, Float64 | Complex128) => true,
        (Float16, Float32 | Float64 | Complex64 | Complex128) => true,
        (Float32, Float64 | Complex64 | Complex128) => true,
        (Float64, Complex128) => true,
        (Complex64, Complex128) => true,
        _ => false,
    }
}

/// Whether a conversion is allowed under `casting`; an error names why not.
pub fn check_cast(from: DataType, to: DataType, casting: Casting) -> Result<(), String> {
    if from == to || safe(from, to) {
        return Ok(());
    }
    let (Some(a), Some(b)) = (kind_rank(from.kind()), kind_rank(to.kind())) else {
        return Err(format!(
            "cannot convert {from} to {to}: string, time, raw and structured types convert only to themselves"
        ));
    };
    match casting {
        Casting::SameKind if a <= b || (from.kind() == Kind::Int && to.kind() == Kind::UInt) => {
            // NumPy: same_kind allows safe casts and casts within a kind;
            // int → uint is a different kind going down and is refused.
            if from.kind() == Kind::Int && to.kind() == Kind::UInt {
                return Err(format!(
                    "cannot convert {from} to {to} with same_kind casting (signed to unsigned)"
                ));
            }
            if to.kind() == Kind::Bool {
                return Err(format!("cannot convert {from} to bool"));
            }
            Ok(())
        }
        Casting::SameKind => Err(format!(
            "cannot convert {from} to {to} even with same_kind casting ({} to {})",
            kind_name(from.kind()),
            kind_name(to.kind())
        )),
        Casting::Safe => Err(format!(
            "converting {from} to {to} can lose values; pass casting same_kind (--casting same_kind) to allow it"
        )),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Bool => "bool",
        Kind::Int => "signed integer",
        Kind::UInt => "unsigned integer",
        Kind::Float => "float",
        Kind::Complex => "complex",
        Kind::Bytes => "bytes",
        Kind::Unicode => "unicode",
        Kind::DateTime => "datetime",
        Kind::TimeDelta => "timedelta",
        Kind::Raw => "raw bytes",
        Kind::Structured => "structured",
        Kind::VlenString => "string",
        Kind::VlenBytes => "bytes",
    }
}

/// One element as the widest value of its family (exact for every type).
#[derive(Debug, Clone, Copy)]
enum Val {
    Int(i128),
    Float(f64),
    Complex(f64, f64),
}

fn rd<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Native-endian reads and writes, spelled out per target byte order.
macro_rules! native {
    ($t:ty, $b:expr) => {{
        let a = rd::<{ std::mem::size_of::<$t>() }>($b);
        if cfg!(target_endian = "little") {
            <$t>::from_le_bytes(a)
        } else {
            <$t>::from_be_bytes(a)
        }
    }};
}

macro_rules! put {
    ($v:expr, $out:expr) => {{
        let v = $v;
        let bytes = if cfg!(target_endian = "little") {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        $out.copy_from_slice(&bytes);
    }};
}

#[inline(always)]
fn read(dt: DataType, b: &[u8]) -> Val {
    use DataType::*;
    match dt {
        Bool => Val::Int((b[0] != 0) as i128),
        Int8 => Val::Int(native!(i8, b) as i128),
        Int16 => Val::Int(native!(i16, b) as i128),
        Int32 => Val::Int(native!(i32, b) as i128),
        Int64 => Val::Int(native!(i64, b) as i128),
        UInt8 => Val::Int(b[0] as i128),
        UInt16 => Val::Int(native!(u16, b) as i128),
        UInt32 => Val::Int(native!(u32, b) as i128),
        UInt64 => Val::Int(native!(u64, b) as i128),
        Float16 => Val::Float(f16::from_bits(native!(u16, b)).to_f64()),
        Float32 => Val::Float(native!(f32, b) as f64),
        Float64 => Val::Float(native!(f64, b)),
        Complex64 => Val::Complex(native!(f32, &b[..4]) as f64, native!(f32, &b[4..]) as f64),
        Complex128 => Val::Complex(native!(f64, &b[..8]), native!(f64, &b[8..])),
        Bytes(_) | Unicode(_) | DateTime64(_) | TimeDelta64(_) | RawBytes(_) | RawBits(_)
        | Structured(_) | VlenString | VlenBytes => Val::Int(0),
    }
}

/// An integer to float conversion that rounds once, to the target's
/// precision (as C's `(float)x` does), rather than through f64.
fn int_to_f32(i: i128) -> f32 {
    i as f32
}

/// `f64` → `f16` rounded once, to nearest even, as NumPy's
/// `npy_double_to_half` does. (`half::f16::from_f64` rounds twice on x86 —
/// through `f32` with F16C, or by dropping the low mantissa word in its
/// fallback — and so differs from NumPy on values just past a tie.) The
/// value is first narrowed to `f32` rounding to odd, which keeps enough
/// information for the second rounding to be exact: `f32` has more than
/// two bits of precision beyond `f16`'s.
fn f64_to_f16(x: f64) -> f16 {
    let f = x as f32;
    if x.is_nan() || f as f64 == x || f.is_infinite() {
        return f16::from_f32(f);
    }
    // Inexact: truncate toward zero, then set the lowest bit (round to odd).
    let mut bits = f.to_bits();
    if (f as f64).abs() > x.abs() {
        bits -= 1;
    }
    if bits & 0x7fff_ffff == 0 {
        // Truncated to zero: the smallest subnormal of x's sign stands for it.
        bits |= 1;
    }
    f16::from_f32(f32::from_bits(bits | 1))
}

fn int_to_f16(i: i128) -> f16 {
    // NumPy converts integers to half through float (npy_float_to_half
    // of (float)x); every integer that fits float16's range is exact in f32
    // up to 2^24, and larger ones overflow float16 anyway.
    f16::from_f32(i as f32)
}

#[inline(always)]
fn write(dt: DataType, v: Val, out: &mut [u8]) {
    use DataType::*;
    match dt {
        Bool => {
            out[0] = match v {
                Val::Int(i) => (i != 0) as u8,
                Val::Float(f) => (f != 0.0) as u8,
                Val::Complex(r, i) => (r != 0.0 || i != 0.0) as u8,
            }
        }
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            // Only integer sources reach here (checked by check_cast);
            // narrowing wraps, as NumPy's C casts do.
            let i = match v {
                Val::Int(i) => i,
                Val::Float(f) => f as i128,
                Val::Complex(r, _) => r as i128,
            };
            match dt {
                Int8 => put!(i as i8, out),
                Int16 => put!(i as i16, out),
                Int32 => put!(i as i32, out),
                Int64 => put!(i as i64, out),
                UInt8 => out[0] = i as u8,
                UInt16 => put!(i as u16, out),
                UInt32 => put!(i as u32, out),
                _ => put!(i as u64, out),
            }
        }
        Float16 => {
            let h = match v {
                Val::Int(i) => int_to_f16(i),
                Val::Float(f) => f64_to_f16(f),
                Val::Complex(r, _) => f64_to_f16(r),
            };
            put!(h.to_bits(), out)
        }
        Float32 => {
            let f = match v {
                Val::Int(i) => int_to_f32(i),
                Val::Float(f) => f as f32,
                Val::Complex(r, _) => r as f32,
            };
            put!(f, out)
        }
        Float64 => {
            let f = match v {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                Val::Complex(r, _) => r,
            };
            put!(f, out)
        }
        Complex64 | Complex128 => {
            let (r, i) = match v {
                Val::Int(i) => match dt {
                    Complex64 => (int_to_f32(i) as f64, 0.0),
                    _ => (i as f64, 0.0),
                },
                Val::Float(f) => (f, 0.0),
                Val::Complex(r, i) => (r, i),
            };
            if dt == Complex64 {
                put!(r as f32, &mut out[..4]);
                put!(i as f32, &mut out[4..]);
            } else {
                put!(r, &mut out[..8]);
                put!(i, &mut out[8..]);
            }
        }
        Bytes(_) | Unicode(_) | DateTime64(_) | TimeDelta64(_) | RawBytes(_) | RawBits(_)
        | Structured(_) | VlenString | VlenBytes => {}
    }
}

/// The conversion loop for one pair of numeric types (indices into
/// [`DataType::NUMERIC`]): `read` and `write` are inlined with a constant
/// type, so their dispatch folds away and the loop is specialised.
fn run<const F: usize, const T: usize>(src: &[u8], dst: &mut [u8]) {
    let (from, to) = (DataType::NUMERIC[F], DataType::NUMERIC[T]);
    for (s, d) in src
        .chunks_exact(from.size())
        .zip(dst.chunks_exact_mut(to.size()))
    {
        write(to, read(from, s), d);
    }
}

type Loop = fn(&[u8], &mut [u8]);

macro_rules! row {
    ($f:literal) => {
        [
            run::<$f, 0>,
            run::<$f, 1>,
            run::<$f, 2>,
            run::<$f, 3>,
            run::<$f, 4>,
            run::<$f, 5>,
            run::<$f, 6>,
            run::<$f, 7>,
            run::<$f, 8>,
            run::<$f, 9>,
            run::<$f, 10>,
            run::<$f, 11>,
            run::<$f, 12>,
            run::<$f, 13>,
        ]
    };
}

/// Every numeric conversion loop, `[from][to]`.
static LOOPS: [[Loop; 14]; 14] = [
    row!(0),
    row!(1),
    row!(2),
    row!(3),
    row!(4),
    row!(5),
    row!(6),
    row!(7),
    row!(8),
    row!(9),
    row!(10),
    row!(11),
    row!(12),
    row!(13),
];

/// Converts every element of `src` (type `from`) into `dst` (type `to`).
/// Both are native byte order; `dst` holds as many elements as `src`.
/// The conversion must have passed [`check_cast`].
pub fn cast(src: &[u8], from: DataType, dst: &mut [u8], to: DataType) {
    if from == to {
        dst.copy_from_slice(src);
        return;
    }
    let index = |d: DataType| DataType::NUMERIC.iter().position(|&n| n == d);
    // Strings only convert to themselves (handled above).
    if let (Some(f), Some(t)) = (index(from), index(to)) {
        LOOPS[f][t](src, dst);
    }
}

/// Converts one element (a fill value) from `from` to `to`.
pub fn cast_one(src: &[u8], from: DataType, to: DataType) -> Vec<u8> {
    let mut out = vec![0u8; to.size()];
    cast(src, from, &mut out, to);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn numpy_safe_table() {
        // numpy 2.4: [b for b in types if np.can_cast(a, b, "safe")]
        let table: [(DataType, &[DataType]); 14] = [
            (
                Bool,
                &[
                    Bool, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float16,
                    Float32, Float64, Complex64, Complex128,
                ],
            ),
            (
                Int8,
                &[
                    Int8, Int16, Int32, Int64, Float16, Float32, Float64, Complex64, Complex128,
                ],
            ),
            (
                Int16,
                &[Int16, Int32, Int64, Float32, Float64, Complex64, Complex128],
            ),
            (Int32, &[Int32, Int64, Float64, Complex128]),
            (Int64, &[Int64, Float64, Complex128]),
            (
                UInt8,
                &[
                    Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float16, Float32, Float64,
                    Complex64, Complex128,
                ],
            ),
            (
                UInt16,
                &[
                    Int32, Int64, UInt16, UInt32, UInt64, Float32, Float64, Complex64, Complex128,
                ],
            ),
            (UInt32, &[Int64, UInt32, UInt64, Float64, Complex128]),
            (UInt64, &[UInt64, Float64, Complex128]),
            (Float16, &[Float16, Float32, Float64, Complex64, Complex128]),
            (Float32, &[Float32, Float64, Complex64, Complex128]),
            (Float64, &[Float64, Complex128]),
            (Complex64, &[Complex64, Complex128]),
            (Complex128, &[Complex128]),
        ];
        for (from, allowed) in table {
            for to in DataType::NUMERIC {
                assert_eq!(
                    check_cast(from, to, Casting::Safe).is_ok(),
                    allowed.contains(&to),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn numpy_same_kind_table() {
        let ints = [Int8, Int16, Int32, Int64];
        let uints = [UInt8, UInt16, UInt32, UInt64];
        let floats = [Float16, Float32, Float64];
        for from in DataType::NUMERIC {
            for to in DataType::NUMERIC {
                let ok = check_cast(from, to, Casting::SameKind).is_ok();
                let want = match from.kind() {
                    Kind::Bool => true,
                    Kind::Int => {
                        ints.contains(&to) || floats.contains(&to) || to.kind() == Kind::Complex
                    }
                    Kind::UInt => to != Bool,
                    Kind::Float => floats.contains(&to) || to.kind() == Kind::Complex,
                    Kind::Complex => to.kind() == Kind::Complex,
                    _ => unreachable!(),
                };
                let _ = uints;
                assert_eq!(ok, want, "{from} -> {to}");
            }
        }
        assert!(check_cast(Bytes(3), Bytes(3), Casting::Safe).is_ok());
        assert!(check_cast(Bytes(3), Int8, Casting::SameKind).is_err());
    }

    #[test]
    fn values() {
        let v: i16 = -2;
        let out = cast_one(&native_bytes_i16(v), Int16, UInt8);
        assert_eq!(out, vec![254]);
        let f = cast_one(&native_bytes_i16(300), Int16, Float32);
        assert_eq!(f32_from(&f), 300.0);
        let c = cast_one(&native_bytes_i16(-7), Int16, Complex64);
        assert_eq!(f32_from(&c[..4]), -7.0);
        assert_eq!(f32_from(&c[4..]), 0.0);
        let b = cast_one(&[1], Bool, Float64);
        assert_eq!(b.len(), 8);
    }

    #[test]
    fn f64_to_f16_rounds_once() {
        // Just past a tie: NumPy gives -905.5 and 859.5 (one rounding);
        // rounding through f32 first gives -905.0 and 860.0.
        assert_eq!(f64_to_f16(-905.2500068874787).to_f64(), -905.5);
        assert_eq!(f64_to_f16(859.7499845212891).to_f64(), 859.5);
        // Exact ties round to even, overflow to inf, tiny to zero, NaN stays.
        assert_eq!(f64_to_f16(905.25).to_f64(), 905.0);
        assert_eq!(f64_to_f16(65520.0).to_f64(), f64::INFINITY);
        assert_eq!(f64_to_f16(65519.99).to_f64(), 65504.0);
        assert_eq!(f64_to_f16(1e-30).to_bits(), 0);
        assert_eq!(f64_to_f16(-1e-30).to_bits(), 0x8000);
        assert_eq!(f64_to_f16(2f64.powi(-25) * 1.000_000_1).to_bits(), 1);
        assert_eq!(f64_to_f16(2f64.powi(-25)).to_bits(), 0);
        assert!(f64_to_f16(f64::NAN).is_nan());
        assert_eq!(f64_to_f16(1e300).to_f64(), f64::INFINITY);
    }

    fn native_bytes_i16(v: i16) -> Vec<u8> {
        if cfg!(target_endian = "little") {
            v.to_le_bytes().to_vec()
        } else {
            v.to_be_bytes().to_vec()
        }
    }

    fn f32_from(b: &[u8]) -> f32 {
        native!(f32, b)
    }
}

//! The enumerations of the C API: plain `int32_t` constants, validated on
//! every call (an out-of-range value is `ZARRCORE_E_INVALID_ARGUMENT`, never
//! undefined behaviour). Like status codes, the numbers are frozen.

use zarrcore::metadata::ZarrFormat;
use zarrcore::{DataType, Mode, Order, StoreOptions};

use crate::status::FfiError;

/// `zarrcore_store_open`: open an existing store for reading only.
pub const ZARRCORE_STORE_READ_ONLY: i32 = 0;
/// `zarrcore_store_open`: open an existing store for reading and writing.
pub const ZARRCORE_STORE_READ_WRITE: i32 = 1;
/// `zarrcore_store_open`: open for reading and writing, creating the store
/// (directory, or zip file on flush) if it does not exist.
pub const ZARRCORE_STORE_CREATE: i32 = 2;

/// Array handle mode: reads only (any number of read handles at once).
pub const ZARRCORE_MODE_READ: i32 = 0;
/// Array handle mode: writes, and reads of what was written (any number of
/// write handles at once; never together with read handles).
pub const ZARRCORE_MODE_WRITE: i32 = 1;

/// Element order of a caller's region buffer: C (row-major, last index fastest).
pub const ZARRCORE_ORDER_C: i32 = 0;
/// Element order of a caller's region buffer: Fortran (column-major, first
/// index fastest; what Julia and Fortran arrays use).
pub const ZARRCORE_ORDER_F: i32 = 1;

/// Zarr format version 2.
pub const ZARRCORE_FORMAT_V2: i32 = 2;
/// Zarr format version 3.
pub const ZARRCORE_FORMAT_V3: i32 = 3;

/// Data type: `bool` / `|b1` (one byte, 0 or 1).
pub const ZARRCORE_DTYPE_BOOL: i32 = 1;
/// Data type: `int8`.
pub const ZARRCORE_DTYPE_INT8: i32 = 2;
/// Data type: `int16`.
pub const ZARRCORE_DTYPE_INT16: i32 = 3;
/// Data type: `int32`.
pub const ZARRCORE_DTYPE_INT32: i32 = 4;
/// Data type: `int64`.
pub const ZARRCORE_DTYPE_INT64: i32 = 5;
/// Data type: `uint8`.
pub const ZARRCORE_DTYPE_UINT8: i32 = 6;
/// Data type: `uint16`.
pub const ZARRCORE_DTYPE_UINT16: i32 = 7;
/// Data type: `uint32`.
pub const ZARRCORE_DTYPE_UINT32: i32 = 8;
/// Data type: `uint64`.
pub const ZARRCORE_DTYPE_UINT64: i32 = 9;
/// Data type: `float16` (IEEE 754 half precision).
pub const ZARRCORE_DTYPE_FLOAT16: i32 = 10;
/// Data type: `float32`.
pub const ZARRCORE_DTYPE_FLOAT32: i32 = 11;
/// Data type: `float64`.
pub const ZARRCORE_DTYPE_FLOAT64: i32 = 12;
/// Data type: `complex64` (two float32: real, imaginary).
pub const ZARRCORE_DTYPE_COMPLEX64: i32 = 13;
/// Data type: `complex128` (two float64).
pub const ZARRCORE_DTYPE_COMPLEX128: i32 = 14;
/// Data type: fixed-length byte string (v2 `|S<n>`; item size n).
pub const ZARRCORE_DTYPE_BYTES: i32 = 15;
/// Data type: fixed-length UTF-32 string (v2 `<U<n>`; item size 4n).
pub const ZARRCORE_DTYPE_UNICODE: i32 = 16;
/// Data type: NumPy `datetime64` (v2 `<M8[unit]`, v3 `numpy.datetime64`):
/// an `int64` count of the unit (see `zarrcore_array_dtype_str`, e.g.
/// `"<M8[ns]"`, for the unit and scale) since 1970-01-01; INT64_MIN is NaT.
/// Item size 8.
pub const ZARRCORE_DTYPE_DATETIME64: i32 = 17;
/// Data type: NumPy `timedelta64` (v2 `<m8[unit]`, v3 `numpy.timedelta64`):
/// an `int64` count of the unit (see `zarrcore_array_dtype_str`); INT64_MIN
/// is NaT. Item size 8.
pub const ZARRCORE_DTYPE_TIMEDELTA64: i32 = 18;
/// Data type: raw bytes (NumPy `V<n>`, v2 `|V<n>`, v3 `raw_bytes`); item
/// size n, no byte order.
pub const ZARRCORE_DTYPE_RAW_BYTES: i32 = 19;
/// Data type: the v3 core raw-bits type `r<bits>` (NumPy `V<bits/8>`); item
/// size bits/8, no byte order.
pub const ZARRCORE_DTYPE_RAW_BITS: i32 = 20;
/// Data type: a structured record (v2 list of fields, v3 `structured`),
/// exchanged as NumPy lays the record out; `zarrcore_array_dtype_str` gives
/// `"|V<size>"`, the fields are in the array's metadata
/// (`zarrcore_array_metadata_json`). Item size: the record size.
pub const ZARRCORE_DTYPE_STRUCTURED: i32 = 21;
/// Data type: variable-length UTF-8 string (v3 `string` with `vlen-utf8`,
/// v2 `|O` with the `vlen-utf8` object codec). Elements have no fixed size:
/// `zarrcore_array_item_size` and `zarrcore_array_num_bytes` give 0, and
/// the region and byte functions refuse such arrays with
/// `ZARRCORE_E_UNSUPPORTED` (the C API does not read or write their
/// elements yet; their metadata and attributes work, and the fill value is
/// in `zarrcore_array_metadata_json`).
pub const ZARRCORE_DTYPE_STRING: i32 = 22;
/// Data type: variable-length bytes (v3 `variable_length_bytes`/`bytes` with
/// `vlen-bytes`, v2 `|O` with the `vlen-bytes` object codec). As for
/// `ZARRCORE_DTYPE_STRING`: item size 0, elements not readable or writable
/// through the C API yet (`ZARRCORE_E_UNSUPPORTED`).
pub const ZARRCORE_DTYPE_VLEN_BYTES: i32 = 23;

pub(crate) fn store_options(v: i32) -> Result<StoreOptions, FfiError> {
    Ok(match v {
        ZARRCORE_STORE_READ_ONLY => StoreOptions::read_only(),
        ZARRCORE_STORE_READ_WRITE => StoreOptions {
            writable: true,
            ..StoreOptions::default()
        },
        ZARRCORE_STORE_CREATE => StoreOptions::create(),
        other => {
            return Err(FfiError::invalid(
                "mode",
                format!(
                    "is {other}; expected ZARRCORE_STORE_READ_ONLY (0), \
                     ZARRCORE_STORE_READ_WRITE (1) or ZARRCORE_STORE_CREATE (2)"
                ),
            ))
        }
    })
}

pub(crate) fn mode(v: i32) -> Result<Mode, FfiError> {
    match v {
        ZARRCORE_MODE_READ => Ok(Mode::Read),
        ZARRCORE_MODE_WRITE => Ok(Mode::Write),
        other => Err(FfiError::invalid(
            "mode",
            format!("is {other}; expected ZARRCORE_MODE_READ (0) or ZARRCORE_MODE_WRITE (1)"),
        )),
    }
}

pub(crate) fn mode_code(m: Mode) -> i32 {
    match m {
        Mode::Read => ZARRCORE_MODE_READ,
        Mode::Write => ZARRCORE_MODE_WRITE,
    }
}

pub(crate) fn order(v: i32) -> Result<Order, FfiError> {
    match v {
        ZARRCORE_ORDER_C => Ok(Order::C),
        ZARRCORE_ORDER_F => Ok(Order::F),
        other => Err(FfiError::invalid(
            "order",
            format!("is {other}; expected ZARRCORE_ORDER_C (0) or ZARRCORE_ORDER_F (1)"),
        )),
    }
}

pub(crate) fn format(v: i32) -> Result<ZarrFormat, FfiError> {
    match v {
        ZARRCORE_FORMAT_V2 => Ok(ZarrFormat::V2),
        ZARRCORE_FORMAT_V3 => Ok(ZarrFormat::V3),
        other => Err(FfiError::invalid(
            "zarr_format",
            format!("is {other}; expected ZARRCORE_FORMAT_V2 (2) or ZARRCORE_FORMAT_V3 (3)"),
        )),
    }
}

pub(crate) fn format_code(f: ZarrFormat) -> i32 {
    match f {
        ZarrFormat::V2 => ZARRCORE_FORMAT_V2,
        ZarrFormat::V3 => ZARRCORE_FORMAT_V3,
    }
}

/// A 0/1 flag argument.
pub(crate) fn flag(v: i32, arg: &str) -> Result<bool, FfiError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(FfiError::invalid(
            arg,
            format!("is {other}; expected 0 or 1"),
        )),
    }
}

pub(crate) fn dtype_code(d: DataType) -> i32 {
    match d {
        DataType::Bool => ZARRCORE_DTYPE_BOOL,
        DataType::Int8 => ZARRCORE_DTYPE_INT8,
        DataType::Int16 => ZARRCORE_DTYPE_INT16,
        DataType::Int32 => ZARRCORE_DTYPE_INT32,
        DataType::Int64 => ZARRCORE_DTYPE_INT64,
        DataType::UInt8 => ZARRCORE_DTYPE_UINT8,
        DataType::UInt16 => ZARRCORE_DTYPE_UINT16,
        DataType::UInt32 => ZARRCORE_DTYPE_UINT32,
        DataType::UInt64 => ZARRCORE_DTYPE_UINT64,
        DataType::Float16 => ZARRCORE_DTYPE_FLOAT16,
        DataType::Float32 => ZARRCORE_DTYPE_FLOAT32,
        DataType::Float64 => ZARRCORE_DTYPE_FLOAT64,
        DataType::Complex64 => ZARRCORE_DTYPE_COMPLEX64,
        DataType::Complex128 => ZARRCORE_DTYPE_COMPLEX128,
        DataType::Bytes(_) => ZARRCORE_DTYPE_BYTES,
        DataType::Unicode(_) => ZARRCORE_DTYPE_UNICODE,
        DataType::DateTime64(_) => ZARRCORE_DTYPE_DATETIME64,
        DataType::TimeDelta64(_) => ZARRCORE_DTYPE_TIMEDELTA64,
        DataType::RawBytes(_) => ZARRCORE_DTYPE_RAW_BYTES,
        DataType::RawBits(_) => ZARRCORE_DTYPE_RAW_BITS,
        DataType::Structured(_) => ZARRCORE_DTYPE_STRUCTURED,
        DataType::VlenString => ZARRCORE_DTYPE_STRING,
        DataType::VlenBytes => ZARRCORE_DTYPE_VLEN_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_codes_are_distinct_and_dense() {
        let mut codes: Vec<i32> = DataType::NUMERIC.iter().map(|&d| dtype_code(d)).collect();
        codes.push(dtype_code(DataType::Bytes(3)));
        codes.push(dtype_code(DataType::Unicode(3)));
        let t = zarrcore::dtype::TimeSpec::new(zarrcore::dtype::TimeUnit::parse("s").unwrap(), 1)
            .unwrap();
        codes.push(dtype_code(DataType::DateTime64(t)));
        codes.push(dtype_code(DataType::TimeDelta64(t)));
        codes.push(dtype_code(DataType::RawBytes(3)));
        codes.push(dtype_code(DataType::RawBits(2)));
        let (rec, _) = DataType::from_v2_json(&serde_json::json!([["a", "<i4"]])).unwrap();
        codes.push(dtype_code(rec));
        codes.push(dtype_code(DataType::VlenString));
        codes.push(dtype_code(DataType::VlenBytes));
        assert_eq!(codes, (1..=23).collect::<Vec<_>>());
    }

    #[test]
    fn out_of_range_values_are_errors() {
        assert!(store_options(3).is_err());
        assert!(mode(-1).is_err());
        assert!(order(2).is_err());
        assert!(format(4).is_err());
        assert!(flag(2, "x").is_err());
        assert_eq!(mode_code(mode(1).unwrap()), 1);
        assert_eq!(format_code(format(2).unwrap()), 2);
    }
}

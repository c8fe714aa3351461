//! NumPy `.npy` headers: synthesized byte-exact with `numpy.save`, and parsed
//! (versions 1.0, 2.0 and 3.0) for import and the mount.

use crate::dtype::{DataType, Endian};

/// `\x93NUMPY`.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy aligns the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// numpy leaves room to grow the first axis in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Largest header accepted when parsing.
pub const MAX_HEADER: usize = 1 << 20;

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: DataType,
    /// Byte order of the data (little for types without one).
    pub endian: Endian,
    /// Whether the data is in Fortran order.
    pub fortran_order: bool,
    /// Shape.
    pub shape: Vec<u64>,
    /// Bytes before the data (magic, version, length, header text).
    pub data_offset: usize,
}

impl NpyHeader {
    /// Bytes of data that follow the header.
    pub fn data_len(&self) -> Option<u64> {
        crate::nd::checked_num_elements(&self.shape)?.checked_mul(self.dtype.size() as u64)
    }
}

/// Why a header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NpyError {
    /// More bytes are needed (at least this many in total).
    NeedMore(usize),
    /// Not a valid (or not a supported) `.npy` header.
    Invalid(String),
}

impl std::fmt::Display for NpyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NpyError::NeedMore(n) => write!(f, "truncated .npy header (need {n} bytes)"),
            NpyError::Invalid(s) => write!(f, "invalid .npy header: {s}"),
        }
    }
}

impl std::error::Error for NpyError {}

fn shape_repr(shape: &[u64]) -> String {
    match shape.len() {
        0 => "()".into(),
        1 => format!("({},)", shape[0]),
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

/// The header `numpy.save` writes for a C-order array of `dtype` in byte
/// order `endian` and `shape`, byte for byte.
pub fn header_bytes(dtype: DataType, endian: Endian, shape: &[u64]) -> Vec<u8> {
    let mut text = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.numpy_str(endian),
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        text.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    let hlen = text.len() + 1;
    // Version 1.0 (2-byte length) unless the header is too long for it.
    let (version, len_bytes) = {
        let pad = ARRAY_ALIGN - ((MAGIC.len() + 2 + 2 + hlen) % ARRAY_ALIGN);
        if hlen + pad < 65536 {
            (1u8, 2usize)
        } else {
            (2u8, 4usize)
        }
    };
    let pad = ARRAY_ALIGN - ((MAGIC.len() + 2 + len_bytes + hlen) % ARRAY_ALIGN);
    let total_hlen = hlen + pad;
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + len_bytes + total_hlen);
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.push(0);
    if len_bytes == 2 {
        out.extend_from_slice(&(total_hlen as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(total_hlen as u32).to_le_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

fn invalid(s: impl Into<String>) -> NpyError {
    NpyError::Invalid(s.into())
}

/// Parses the header at the start of `buf`.
pub fn parse_header(buf: &[u8]) -> Result<NpyHeader, NpyError> {
    if buf.len() < 10 {
        if !MAGIC.starts_with(&buf[..buf.len().min(6)]) {
            return Err(invalid("not a .npy file (bad magic)"));
        }
        return Err(NpyError::NeedMore(10));
    }
    if &buf[..6] != MAGIC {
        return Err(invalid("not a .npy file (bad magic)"));
    }
    let (len_bytes, utf8) = match buf[6] {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        v => return Err(invalid(format!("unsupported .npy version {v}.{}", buf[7]))),
    };
    let pre = 8 + len_bytes;
    if buf.len() < pre {
        return Err(NpyError::NeedMore(pre));
    }
    let hlen = if len_bytes == 2 {
        u16::from_le_bytes([buf[8], buf[9]]) as usize
    } else {
        u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize
    };
    if hlen > MAX_HEADER {
        return Err(invalid(format!("header of {hlen} bytes is too large")));
    }
    let total = pre + hlen;
    if buf.len() < total {
        return Err(NpyError::NeedMore(total));
    }
    let raw = &buf[pre..total];
    let text: String = if utf8 {
        std::str::from_utf8(raw)
            .map_err(|_| invalid("header is not UTF-8"))?
            .to_string()
    } else {
        raw.iter().map(|&b| b as char).collect()
    };
    let descr = dict_value(&text, "descr")?;
    let descr = parse_quoted(descr).ok_or_else(|| {
        invalid(format!(
            "descr {} is not a simple type (structured dtypes are not supported)",
            descr.trim()
        ))
    })?;
    let (dtype, endian) = DataType::from_numpy_str(&descr).map_err(invalid)?;
    if dtype.is_variable_length() {
        return Err(invalid(format!("descr {descr:?} is not a NumPy type")));
    }
    if matches!(descr.as_bytes().first(), Some(b'|')) && dtype.has_byte_order() {
        return Err(invalid(format!("descr {descr:?} lacks a byte order")));
    }
    let fortran = match dict_value(&text, "fortran_order")?.trim_start() {
        s if s.starts_with("True") => true,
        s if s.starts_with("False") => false,
        s => return Err(invalid(format!("fortran_order {s:?}"))),
    };
    let shape = parse_shape(dict_value(&text, "shape")?)?;
    let h = NpyHeader {
        dtype,
        endian: endian.unwrap_or(Endian::Little),
        fortran_order: fortran,
        shape,
        data_offset: total,
    };
    if h.data_len().is_none() {
        return Err(invalid("shape × item size overflows"));
    }
    Ok(h)
}

/// The text after `'key':` in a dict literal.
fn dict_value<'a>(text: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let t = text.trim();
    if !t.starts_with('{') {
        return Err(invalid("header is not a dict literal"));
    }
    for q in ['\'', '"'] {
        let pat = format!("{q}{key}{q}");
        if let Some(i) = t.find(&pat) {
            let rest = t[i + pat.len()..].trim_start();
            if let Some(r) = rest.strip_prefix(':') {
                return Ok(r.trim_start());
            }
        }
    }
    Err(invalid(format!("header has no {key:?}")))
}

fn parse_quoted(s: &str) -> Option<String> {
    let s = s.trim_start();
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = s[1..].find(q)?;
    Some(s[1..1 + end].to_string())
}

fn parse_shape(s: &str) -> Result<Vec<u64>, NpyError> {
    let s = s.trim_start();
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.find(')').map(|e| &r[..e]))
        .ok_or_else(|| invalid(format!("shape {s:?} is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.trim_end_matches('L')
                .parse::<u64>()
                .map_err(|_| invalid(format!("shape entry {p:?} is not a non-negative integer")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numpy_headers() {
        // Bytes from numpy 2.4 `np.save`.
        let h = header_bytes(DataType::UInt16, Endian::Little, &[3, 4]);
        let mut want =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<u2', 'fortran_order': False, 'shape': (3, 4), }"
                .to_vec();
        want.extend(std::iter::repeat_n(b' ', 128 - want.len() - 1));
        want.push(b'\n');
        assert_eq!(h, want);
        assert_eq!(h.len() % 64, 0);
        let h0 = header_bytes(DataType::Float64, Endian::Big, &[]);
        assert!(String::from_utf8_lossy(&h0)
            .contains("'descr': '>f8', 'fortran_order': False, 'shape': (), }"));
        let p = parse_header(&h).unwrap();
        assert_eq!(p.shape, vec![3, 4]);
        assert_eq!(p.dtype, DataType::UInt16);
        assert_eq!(p.data_offset, 128);
        let long = header_bytes(DataType::UInt8, Endian::Little, &vec![1u64; 30]);
        assert_eq!(&long[8..10], &[0xb6, 0x00]);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse_header(b"\x93NUM"), Err(NpyError::NeedMore(10)));
        assert!(matches!(
            parse_header(b"PK\x03\x04......"),
            Err(NpyError::Invalid(_))
        ));
        let mut h = header_bytes(DataType::Int32, Endian::Little, &[5]);
        assert!(matches!(parse_header(&h[..20]), Err(NpyError::NeedMore(_))));
        let at = h.windows(3).position(|w| w == b"<i4").unwrap();
        h[at + 1] = b'O';
        assert!(matches!(parse_header(&h), Err(NpyError::Invalid(_))));
    }
}

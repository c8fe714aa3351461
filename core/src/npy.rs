//! NumPy `.npy` headers: synthesized byte-exact with `numpy.save`, and parsed
//! (versions 1.0, 2.0 and 3.0) for import and the mount. The `descr` is a
//! type string (`'<f8'`, `'<M8[ns]'`, `'|V3'`) or a structured list
//! (`[('a', '<i4'), ('b', '<f8', (2,))]`).

use crate::dtype::{DataType, Endian, StructLayout};

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
        "{{'descr': {}, 'fortran_order': False, 'shape': {}, }}",
        dtype.numpy_descr(endian),
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        text.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // numpy encodes the header as Latin-1 (versions 1.0 and 2.0), or as
    // UTF-8 in version 3.0 when a field name is not Latin-1.
    let latin1: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c as u32).ok()).collect();
    let utf8 = latin1.is_none();
    let text_bytes = latin1.unwrap_or_else(|| text.as_bytes().to_vec());
    let hlen = text_bytes.len() + 1;
    // Version 1.0 (2-byte length) unless the header is too long for it.
    let (version, len_bytes) = {
        let pad = ARRAY_ALIGN - ((MAGIC.len() + 2 + 2 + hlen) % ARRAY_ALIGN);
        if utf8 {
            (3u8, 4usize)
        } else if hlen + pad < 65536 {
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
    out.extend_from_slice(&text_bytes);
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
    let descr_text = dict_value(&text, "descr")?;
    let mut lit = Lit::parser(descr_text);
    let descr = lit
        .value(0)
        .map_err(|e| invalid(format!("descr {}: {e}", descr_text.trim())))?;
    let (dtype, endian) = match &descr {
        Lit::Str(s) => {
            let (dtype, endian) = DataType::from_numpy_str(s).map_err(invalid)?;
            if dtype.is_variable_length() {
                return Err(invalid(format!("descr {s:?} is not a NumPy type")));
            }
            if s.starts_with('|') && dtype.has_byte_order() {
                return Err(invalid(format!("descr {s:?} lacks a byte order")));
            }
            (dtype, endian)
        }
        list => (
            DataType::Structured(
                descr_layout(list, 1).map_err(|e| invalid(format!("descr: {e}")))?,
            ),
            None,
        ),
    };
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

/// A Python literal of a `descr`: a string, an integer, or a list/tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lit {
    Str(String),
    Int(u64),
    Seq(Vec<Lit>),
}

struct LitParser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Lit {
    fn parser(text: &str) -> LitParser<'_> {
        LitParser {
            s: text.as_bytes(),
            text,
            pos: 0,
        }
    }
}

impl LitParser<'_> {
    fn skip_ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > 2 * crate::dtype::structured_max_depth() + 4 {
            return Err("nested too deeply".into());
        }
        self.skip_ws();
        match self.s.get(self.pos) {
            Some(&q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let mut out = String::new();
                loop {
                    let rest = self.text.get(self.pos..).ok_or("bad string")?;
                    let mut chars = rest.chars();
                    let c = chars.next().ok_or("unterminated string")?;
                    self.pos += c.len_utf8();
                    match c {
                        c if c as u32 == q as u32 => return Ok(Lit::Str(out)),
                        '\\' => {
                            let e = chars.next().ok_or("unterminated string")?;
                            self.pos += e.len_utf8();
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                'x' => {
                                    let h = self
                                        .text
                                        .get(self.pos..self.pos + 2)
                                        .ok_or("bad \\x escape")?;
                                    self.pos += 2;
                                    u8::from_str_radix(h, 16).map_err(|_| "bad \\x escape")? as char
                                }
                                other => other,
                            });
                        }
                        c => out.push(c),
                    }
                }
            }
            Some(&open @ (b'[' | b'(')) => {
                let close = if open == b'[' { b']' } else { b')' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.s.get(self.pos) == Some(&close) {
                        self.pos += 1;
                        return Ok(Lit::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(&c) if c == close => {}
                        _ => return Err("expected , or a closing bracket".into()),
                    }
                }
            }
            Some(b) if b.is_ascii_digit() => {
                let start = self.pos;
                while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
                let n = self.text[start..self.pos]
                    .parse()
                    .map_err(|_| "integer too large")?;
                if self.s.get(self.pos) == Some(&b'L') {
                    self.pos += 1;
                }
                Ok(Lit::Int(n))
            }
            _ => Err("expected a string, a list or a tuple".into()),
        }
    }
}

/// A structured `descr` list: `[(name, type), (name, type, shape), ...]`.
fn descr_layout(v: &Lit, depth: usize) -> Result<&'static StructLayout, String> {
    if depth > crate::dtype::structured_max_depth() {
        return Err("structured type nests too deeply".into());
    }
    let Lit::Seq(entries) = v else {
        return Err("not a list of fields".into());
    };
    let mut fields = Vec::with_capacity(entries.len());
    for e in entries {
        let (name, t, shape) = match e {
            Lit::Seq(p) if p.len() == 2 || p.len() == 3 => (&p[0], &p[1], p.get(2)),
            _ => return Err("a field is not (name, type) or (name, type, shape)".into()),
        };
        let Lit::Str(name) = name else {
            return Err("a field name is not a string (titles are not supported)".into());
        };
        let (dtype, endian) = match t {
            Lit::Str(s) => {
                let (d, en) = DataType::from_numpy_str(s)?;
                if s.starts_with('|') && d.has_byte_order() {
                    return Err(format!("field {name:?}: {s:?} lacks a byte order"));
                }
                (d, en)
            }
            list => (DataType::Structured(descr_layout(list, depth + 1)?), None),
        };
        let shape = match shape {
            None => Vec::new(),
            Some(Lit::Int(n)) => vec![*n],
            Some(Lit::Seq(dims)) => dims
                .iter()
                .map(|d| match d {
                    Lit::Int(n) => Ok(*n),
                    _ => Err(format!("field {name:?}: shape entry is not an integer")),
                })
                .collect::<Result<_, _>>()?,
            Some(Lit::Str(_)) => return Err(format!("field {name:?}: shape is a string")),
        };
        fields.push((name.clone(), dtype, endian, shape));
    }
    StructLayout::new(fields)
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
    fn new_dtypes_match_numpy() {
        // Header texts from numpy 2.x `np.save`.
        let cases = [
            ("'<M8[10s]'", "{'descr': '<M8[10s]', 'fortran_order': False, 'shape': (2,), }"),
            ("'|V3'", "{'descr': '|V3', 'fortran_order': False, 'shape': (2,), }"),
            ("'<m8'", "{'descr': '<m8', 'fortran_order': False, 'shape': (2,), }"),
            (
                "[('a', '<i4'), ('b', '<f8', (2,))]",
                "{'descr': [('a', '<i4'), ('b', '<f8', (2,))], 'fortran_order': False, 'shape': (2,), }",
            ),
            (
                "[('p', [('x', '<f4'), ('y', '|u1')]), ('t', '<M8[s]')]",
                "{'descr': [('p', [('x', '<f4'), ('y', '|u1')]), ('t', '<M8[s]')], 'fortran_order': False, 'shape': (2,), }",
            ),
            (
                "[('a', '|u1'), ('', '|V3'), ('b', '<i4')]",
                "{'descr': [('a', '|u1'), ('', '|V3'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }",
            ),
        ];
        let hdr = |text: &str| {
            let mut h = b"\x93NUMPY\x01\x00".to_vec();
            let body = format!("{text}{}", " ".repeat(20));
            let total = (10 + body.len() + 1).div_ceil(64) * 64;
            let body = format!("{body:<width$}\n", width = total - 11);
            h.extend_from_slice(&((total - 10) as u16).to_le_bytes());
            h.extend_from_slice(body.as_bytes());
            h
        };
        for (descr, text) in cases {
            let h = hdr(text);
            let p = parse_header(&h).unwrap_or_else(|e| panic!("{descr}: {e}"));
            assert_eq!(p.dtype.numpy_descr(p.endian), descr);
            assert_eq!(header_bytes(p.dtype, p.endian, &[2]), h, "{descr}");
        }
        let u = parse_header(&header_bytes(
            DataType::from_v2_json(&serde_json::json!([["é€", "<i4"]]))
                .unwrap()
                .0,
            Endian::Little,
            &[1],
        ))
        .unwrap();
        assert_eq!(u.dtype.numpy_descr(Endian::Little), "[('é€', '<i4')]");
        for bad in [
            "[('a', '<i4'",
            "[('a',)]",
            "[(1, '<i4')]",
            "[('a', '|i4')]",
            "[]",
            "[('a', '<i4', 'x')]",
            "'<M8[0s]'",
        ] {
            let text = format!("{{'descr': {bad}, 'fortran_order': False, 'shape': (2,), }}");
            assert!(parse_header(&hdr(&text)).is_err(), "{bad}");
        }
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

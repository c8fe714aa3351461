//! A `.npy` being written into the mount, byte by byte: collects the header
//! until it parses, checks it, and routes every later byte to its offset in
//! the array's data. Pure bookkeeping; the caller does the array I/O.

use std::borrow::Cow;

use zarrcore::npy::{parse_header, NpyError, NpyHeader};
use zarrcore::DataType;

use crate::ranges::RangeSet;

/// Most bytes held before the header is complete.
const HEAD_CAP: u64 = 16 << 20;

/// What the written file is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A new file: any valid header creates an array.
    Create,
    /// An existing array's `.npy` truncated and rewritten: the header must
    /// keep its data type and shape.
    Rewrite {
        /// The array's data type.
        dtype: DataType,
        /// The array's shape.
        shape: Vec<u64>,
    },
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// Not a valid `.npy`, or not one that fits the array (EINVAL).
    Invalid(String),
    /// Bytes past the end the header promises (EFBIG).
    TooBig(String),
    /// A size change that is not allowed (EPERM).
    NotPermitted(String),
}

/// Data bytes at `offset` of the array's C- or F-order data.
#[derive(Debug)]
pub(crate) struct DataPiece<'a> {
    /// Offset into the data (after the header).
    pub offset: u64,
    /// The bytes.
    pub bytes: Cow<'a, [u8]>,
}

/// What one write produced.
#[derive(Debug, Default)]
pub(crate) struct Routed<'a> {
    /// The header became complete with this write: the caller checks or
    /// creates the array before storing `pieces`.
    pub parsed_now: bool,
    /// Data to store, in order.
    pub pieces: Vec<DataPiece<'a>>,
}

/// The outcome of a size change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resize {
    /// Nothing changed.
    Same,
    /// Truncated to zero: the stream starts over.
    Reset,
    /// Extended (the new bytes read as zeros).
    Extended,
}

/// The state of one `.npy` being written.
#[derive(Debug)]
pub(crate) struct NpyStream {
    purpose: Purpose,
    /// Bytes below the data offset (all bytes before the header parses).
    head: Vec<u8>,
    head_written: RangeSet,
    header: Option<NpyHeader>,
    data_written: RangeSet,
    /// The file's size as the writer sees it.
    size: u64,
    failed: Option<String>,
}

/// Whether two headers describe the same array layout.
fn same_layout(a: &NpyHeader, b: &NpyHeader) -> bool {
    a.dtype == b.dtype
        && a.endian == b.endian
        && a.fortran_order == b.fortran_order
        && a.shape == b.shape
        && a.data_offset == b.data_offset
}

/// Checks a write of `part` at `offset` into the header bytes `head`: the
/// result must describe the same array. Returns the patched header.
pub(crate) fn patch_header(head: &[u8], offset: u64, part: &[u8]) -> Result<Vec<u8>, StreamError> {
    let o = offset as usize;
    let end = o + part.len();
    if end > head.len() {
        return Err(StreamError::Invalid("header write past the header".into()));
    }
    let mut patched = head.to_vec();
    patched[o..end].copy_from_slice(part);
    if patched == head {
        return Ok(patched);
    }
    let rewritten = |why: String| {
        StreamError::Invalid(format!(
            "the .npy header was rewritten with a different data type or shape ({why}); \
             delete the array first to change them"
        ))
    };
    let old = parse_header(head).map_err(|e| rewritten(e.to_string()))?;
    match parse_header(&patched) {
        Ok(new) if same_layout(&old, &new) => Ok(patched),
        Ok(new) => Err(rewritten(format!(
            "{} {:?} instead of {} {:?}",
            new.dtype.numpy_str(new.endian),
            new.shape,
            old.dtype.numpy_str(old.endian),
            old.shape
        ))),
        Err(e) => Err(rewritten(e.to_string())),
    }
}

impl NpyStream {
    /// A new, empty stream.
    pub fn new(purpose: Purpose) -> NpyStream {
        NpyStream {
            purpose,
            head: Vec::new(),
            head_written: RangeSet::default(),
            header: None,
            data_written: RangeSet::default(),
            size: 0,
            failed: None,
        }
    }

    /// The parsed header, once complete.
    pub fn header(&self) -> Option<&NpyHeader> {
        self.header.as_ref()
    }

    /// What the stream is for.
    pub fn purpose(&self) -> &Purpose {
        &self.purpose
    }

    /// The file size the writer has produced.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The size of the complete file (header and data), once known.
    pub fn total(&self) -> Option<u64> {
        let h = self.header.as_ref()?;
        h.data_len()?.checked_add(h.data_offset as u64)
    }

    /// Whether the header is valid and the file has its full size.
    pub fn is_complete(&self) -> bool {
        self.total() == Some(self.size)
    }

    /// Why the stream was refused, if it was.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Marks the stream as refused; every later write fails with `msg`.
    pub fn fail(&mut self, msg: impl Into<String>) -> StreamError {
        let msg = msg.into();
        self.failed = Some(msg.clone());
        StreamError::Invalid(msg)
    }

    /// Bytes below the data offset, as written (zeros where not written).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Data byte ranges never written, within the data.
    pub fn data_gaps(&self) -> Vec<std::ops::Range<u64>> {
        let n = self
            .header
            .as_ref()
            .and_then(NpyHeader::data_len)
            .unwrap_or(0);
        self.data_written.gaps(n)
    }

    /// Records that every data byte has been written (after zero-filling the gaps).
    pub fn mark_data_written(&mut self) {
        if let Some(n) = self.header.as_ref().and_then(NpyHeader::data_len) {
            self.data_written.insert(0..n);
        }
    }

    /// Accepts `bytes` at file offset `offset`.
    pub fn write<'a>(&mut self, offset: u64, bytes: &'a [u8]) -> Result<Routed<'a>, StreamError> {
        if let Some(msg) = &self.failed {
            return Err(StreamError::Invalid(msg.clone()));
        }
        let end = offset
            .checked_add(bytes.len() as u64)
            .ok_or_else(|| StreamError::TooBig("offset overflows".into()))?;
        if self.header.is_some() {
            self.write_parsed(offset, bytes, end)
        } else {
            self.write_unparsed(offset, bytes, end)
        }
    }

    fn write_unparsed<'a>(
        &mut self,
        offset: u64,
        bytes: &'a [u8],
        end: u64,
    ) -> Result<Routed<'a>, StreamError> {
        if end > HEAD_CAP {
            return Err(self.fail(format!(
                "bytes {offset}..{end} written before a complete .npy header \
                 (at most {HEAD_CAP} bytes are held until the header parses)"
            )));
        }
        if bytes.is_empty() {
            return Ok(Routed::default());
        }
        let (o, e) = (offset as usize, end as usize);
        if self.head.len() < e {
            self.head.resize(e, 0);
        }
        self.head[o..e].copy_from_slice(bytes);
        self.head_written.insert(offset..end);
        self.size = self.size.max(end);
        let prefix = self.head_written.covered_prefix() as usize;
        let h = match parse_header(&self.head[..prefix]) {
            Err(NpyError::NeedMore(_)) => return Ok(Routed::default()),
            Err(NpyError::Invalid(m)) => return Err(self.fail(format!("not a valid .npy: {m}"))),
            Ok(h) => h,
        };
        if let Purpose::Rewrite { dtype, shape } = &self.purpose {
            if h.dtype != *dtype || h.shape != *shape {
                let msg = format!(
                    "the new .npy header describes {} {:?}, the array is {} {:?}; \
                     delete the array first to change its data type or shape",
                    h.dtype.numpy_str(h.endian),
                    h.shape,
                    dtype,
                    shape
                );
                return Err(self.fail(msg));
            }
        }
        let d = h.data_offset as u64;
        let Some(total) = h.data_len().and_then(|n| n.checked_add(d)) else {
            return Err(self.fail("the .npy header describes more bytes than fit in 64 bits"));
        };
        if self.size > total {
            let msg = format!(
                "{} bytes written, but the .npy header describes {total} bytes",
                self.size
            );
            self.failed = Some(msg.clone());
            return Err(StreamError::TooBig(msg));
        }
        let mut pieces = Vec::new();
        for r in self.head_written.iter() {
            let s = r.start.max(d);
            if s < r.end {
                pieces.push(DataPiece {
                    offset: s - d,
                    bytes: Cow::Owned(self.head[s as usize..r.end as usize].to_vec()),
                });
            }
        }
        for p in &pieces {
            self.data_written
                .insert(p.offset..p.offset + p.bytes.len() as u64);
        }
        self.head.truncate(d as usize);
        self.head.resize(d as usize, 0);
        self.head_written.clip(d);
        self.header = Some(h);
        Ok(Routed {
            parsed_now: true,
            pieces,
        })
    }

    fn write_parsed<'a>(
        &mut self,
        offset: u64,
        bytes: &'a [u8],
        end: u64,
    ) -> Result<Routed<'a>, StreamError> {
        let total = self.total().unwrap_or(0);
        let d = self.head.len() as u64;
        if end > total {
            return Err(StreamError::TooBig(format!(
                "bytes {offset}..{end} pass the end of the .npy ({total} bytes)"
            )));
        }
        if offset < d {
            let hend = end.min(d);
            let part = &bytes[..(hend - offset) as usize];
            self.head = patch_header(&self.head, offset, part)?;
            self.head_written.insert(offset..hend);
        }
        let mut pieces = Vec::new();
        if end > d {
            let s = offset.max(d);
            pieces.push(DataPiece {
                offset: s - d,
                bytes: Cow::Borrowed(&bytes[(s - offset) as usize..]),
            });
            self.data_written.insert(s - d..end - d);
        }
        self.size = self.size.max(end);
        Ok(Routed {
            parsed_now: false,
            pieces,
        })
    }

    /// Changes the file size (`ftruncate`, `O_TRUNC`).
    pub fn set_size(&mut self, n: u64) -> Result<Resize, StreamError> {
        if n == self.size {
            return Ok(Resize::Same);
        }
        if n == 0 {
            if self.header.is_some() && self.purpose == Purpose::Create {
                return Err(StreamError::NotPermitted(
                    "a new array's .npy cannot be truncated once its header is written".into(),
                ));
            }
            *self = NpyStream::new(self.purpose.clone());
            return Ok(Resize::Reset);
        }
        if n < self.size {
            return Err(StreamError::NotPermitted(format!(
                "cannot shorten a .npy being written from {} to {n} bytes",
                self.size
            )));
        }
        match self.total() {
            Some(total) if n <= total => {
                self.size = n;
                Ok(Resize::Extended)
            }
            Some(total) => Err(StreamError::TooBig(format!(
                "size {n} is past the end of the .npy ({total} bytes)"
            ))),
            None => Err(StreamError::NotPermitted(
                "cannot extend a .npy before its header is written".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zarrcore::npy::header_bytes;
    use zarrcore::Endian;

    fn npy(shape: &[u64]) -> Vec<u8> {
        let mut v = header_bytes(DataType::Int16, Endian::Little, shape);
        let n: u64 = shape.iter().product();
        for i in 0..n {
            v.extend_from_slice(&(i as i16).to_le_bytes());
        }
        v
    }

    fn collect(s: &mut NpyStream, file: &[u8], step: usize) -> Vec<u8> {
        let mut data = Vec::new();
        let mut off = 0;
        while off < file.len() {
            let end = (off + step).min(file.len());
            let r = s.write(off as u64, &file[off..end]).unwrap();
            for p in r.pieces {
                let o = p.offset as usize;
                if data.len() < o + p.bytes.len() {
                    data.resize(o + p.bytes.len(), 0);
                }
                data[o..o + p.bytes.len()].copy_from_slice(&p.bytes);
            }
            off = end;
        }
        data
    }

    #[test]
    fn routes_data_for_any_write_sizes() {
        let file = npy(&[3, 50]);
        let hlen = header_bytes(DataType::Int16, Endian::Little, &[3, 50]).len();
        for step in [1, 7, 64, 127, 128, 129, 1000, 10_000] {
            let mut s = NpyStream::new(Purpose::Create);
            let data = collect(&mut s, &file, step);
            assert_eq!(data, &file[hlen..], "step {step}");
            assert!(s.is_complete());
            assert!(s.data_gaps().is_empty());
            assert_eq!(s.header().unwrap().shape, vec![3, 50]);
        }
    }

    #[test]
    fn refusals() {
        let mut s = NpyStream::new(Purpose::Create);
        assert!(matches!(
            s.write(0, b"PK\x03\x04hello world"),
            Err(StreamError::Invalid(_))
        ));
        // Every later write fails too.
        assert!(matches!(s.write(20, b"x"), Err(StreamError::Invalid(_))));

        let file = npy(&[4]);
        let mut s = NpyStream::new(Purpose::Rewrite {
            dtype: DataType::Int16,
            shape: vec![5],
        });
        assert!(matches!(s.write(0, &file), Err(StreamError::Invalid(_))));

        let mut s = NpyStream::new(Purpose::Create);
        let mut long = file.clone();
        long.extend_from_slice(b"xx");
        assert!(matches!(s.write(0, &long), Err(StreamError::TooBig(_))));

        let mut s = NpyStream::new(Purpose::Create);
        s.write(0, &file).unwrap();
        assert!(matches!(
            s.write(file.len() as u64, b"x"),
            Err(StreamError::TooBig(_))
        ));
        // Rewriting the header with another shape is refused; the same bytes are fine.
        let other = header_bytes(DataType::Int16, Endian::Little, &[5]);
        assert!(matches!(s.write(0, &other), Err(StreamError::Invalid(_))));
        s.write(0, &file[..10]).unwrap();
        assert!(matches!(s.set_size(0), Err(StreamError::NotPermitted(_))));
    }

    #[test]
    fn sparse_then_extend() {
        // open_memmap(mode="w+"): header, then the last byte, then memmap writes.
        let file = npy(&[10]);
        let hlen = file.len() - 20;
        let mut s = NpyStream::new(Purpose::Create);
        let r = s.write(0, &file[..hlen]).unwrap();
        assert!(r.parsed_now && r.pieces.is_empty());
        assert!(!s.is_complete());
        let r = s.write(file.len() as u64 - 1, &[0]).unwrap();
        assert_eq!(r.pieces[0].offset, 19);
        assert!(s.is_complete());
        assert_eq!(s.data_gaps(), vec![0..19]);
        let mut t = NpyStream::new(Purpose::Create);
        t.write(0, &file[..hlen]).unwrap();
        assert_eq!(t.set_size(file.len() as u64).unwrap(), Resize::Extended);
        assert!(t.is_complete());
        assert!(matches!(t.set_size(5), Err(StreamError::NotPermitted(_))));
    }

    #[test]
    fn header_patch_rules() {
        let h = header_bytes(DataType::Float64, Endian::Little, &[2, 3]);
        assert_eq!(patch_header(&h, 0, &h[..12]).unwrap(), h);
        let other = header_bytes(DataType::Float32, Endian::Little, &[2, 3]);
        assert!(patch_header(&h, 0, &other).is_err());
    }
}

//! The read path: any offset and length of a `.npy`, `.raw` or `.json`.
//! Header bytes come from the synthesized header, data bytes from the
//! engine (which decodes the chunks a request touches in parallel, through
//! its decoded-chunk cache).

use fuser::Errno;

use crate::errno::{fail, FsResult};
use crate::handles::{Body, Fixed, OpenFile, Stream};
use crate::linear::read_linear;

/// Bytes `[offset, offset + size)` of the file, short at its end.
pub(crate) fn read(f: &OpenFile, offset: u64, size: u32) -> FsResult<Vec<u8>> {
    match &f.body {
        Body::Json(doc) => Ok(slice_of(doc, offset, size).to_vec()),
        Body::Data { fixed, stream } => {
            if f.writable {
                if let Some(st) = stream.lock().as_ref() {
                    return read_stream(f, st, offset, size);
                }
            }
            match fixed {
                Some(fx) => read_fixed(f, fx, offset, size),
                None => Ok(Vec::new()),
            }
        }
    }
}

fn slice_of(b: &[u8], offset: u64, size: u32) -> &[u8] {
    let start = (offset.min(b.len() as u64)) as usize;
    let end = (offset.saturating_add(size as u64).min(b.len() as u64)) as usize;
    &b[start..end]
}

/// The span `[start, end)` of a read of `size` at `offset` in a file of `len` bytes.
fn span(offset: u64, size: u32, len: u64) -> (u64, u64) {
    let start = offset.min(len);
    (start, offset.saturating_add(size as u64).min(len))
}

fn read_fixed(f: &OpenFile, fx: &Fixed, offset: u64, size: u32) -> FsResult<Vec<u8>> {
    let (start, end) = span(offset, size, fx.file_len());
    let mut buf = vec![0u8; (end - start) as usize];
    let h = fx.header.len() as u64;
    let mut pos = 0usize;
    if start < h {
        let part = slice_of(&fx.header, start, (end.min(h) - start) as u32);
        buf[..part.len()].copy_from_slice(part);
        pos = part.len();
    }
    if end > h {
        let d0 = start.max(h) - h;
        let array = f.entry.current().ok_or(Errno::EBADF)?;
        array
            .read_bytes(d0, &mut buf[pos..], fx.endian)
            .map_err(fail(format_args!("read {:?} bytes {start}..{end}", f.path)))?;
    }
    Ok(buf)
}

/// Reads a file being written from its first byte: what was written so far.
fn read_stream(f: &OpenFile, st: &Stream, offset: u64, size: u32) -> FsResult<Vec<u8>> {
    let (start, end) = span(offset, size, st.npy.size());
    let mut buf = vec![0u8; (end - start) as usize];
    let head = st.npy.head();
    let (array, header) = match (f.entry.current(), st.npy.header()) {
        (Some(a), Some(h)) if st.has_array => (a, h),
        _ => {
            // No header yet: everything written is held in `head`.
            let part = slice_of(head, start, (end - start) as u32);
            buf[..part.len()].copy_from_slice(part);
            return Ok(buf);
        }
    };
    let d = header.data_offset as u64;
    let mut pos = 0usize;
    if start < d {
        let part = slice_of(head, start, (end.min(d) - start) as u32);
        buf[..part.len()].copy_from_slice(part);
        pos = (end.min(d) - start) as usize;
    }
    if end > d {
        let (order, endian) = st.layout();
        read_linear(&array, start.max(d) - d, &mut buf[pos..], order, endian)
            .map_err(fail(format_args!("read {:?} bytes {start}..{end}", f.path)))?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span(0, 10, 5), (0, 5));
        assert_eq!(span(7, 10, 5), (5, 5));
        assert_eq!(span(2, 2, 5), (2, 4));
        assert_eq!(slice_of(b"abcdef", 4, 10), b"ef");
        assert_eq!(slice_of(b"abcdef", 9, 10), b"");
    }
}

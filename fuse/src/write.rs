//! The write path (`--rw`).
//!
//! * A write into an open `.npy`/`.raw` goes to the engine's write path
//!   (partial chunks coalesce in its write buffer). Header bytes of a `.npy`
//!   may be rewritten only with a header for the same array.
//! * A `.npy` written from its first byte (a new file, or an existing one
//!   truncated to zero) runs through an [`NpyStream`]: a new file creates
//!   the array once its header is complete; a rewrite must keep the data
//!   type and shape.
//! * `flush` (every `close`), `fsync` and the last close store the dirty
//!   chunks and report any encode or store error; an error at a point where
//!   nobody can be told (last close of a memory map, unmount) is logged and
//!   reported by the array's next `close`/`fsync`.

use std::sync::atomic::Ordering;

use fuser::{Errno, FileHandle};
use zarrcore::npy::NpyHeader;
use zarrcore::{Array, ArrayBuilder, Mode, ZarrFormat};

use crate::arrays::Session;
use crate::errno::{fail, log, refuse, stream_errno, FsResult};
use crate::handles::{Body, Fixed, OpenFile, Stream};
use crate::inode::{Inode, NodeRef};
use crate::linear::write_linear;
use crate::names::{parent_path, view_name, ViewKind};
use crate::npy_stream::{patch_header, NpyStream, Purpose};
use crate::options::chunks_for;
use crate::shared::Shared;
use crate::tree::{self, format_for_children};

/// Zeros written per step when filling the parts of a rewrite never written.
const ZERO_STEP: u64 = 8 << 20;

fn name_of(f: &OpenFile) -> String {
    view_name(&f.path, f.kind)
}

/// The engine handle a write goes to.
fn write_handle(f: &OpenFile) -> FsResult<std::sync::Arc<Array>> {
    f.entry
        .current()
        .filter(|a| a.mode() == Mode::Write)
        .ok_or(Errno::EBADF)
}

/// Writes `data` at `offset` of an open file.
pub(crate) fn write(sh: &Shared, f: &OpenFile, offset: u64, data: &[u8]) -> FsResult<u32> {
    if !f.writable {
        return Err(Errno::EBADF);
    }
    let Body::Data { fixed, stream } = &f.body else {
        return Err(refuse(
            Errno::EPERM,
            format_args!("{} is read-only", name_of(f)),
        ));
    };
    let mut guard = stream.lock();
    let r = match guard.as_mut() {
        Some(st) => write_stream(sh, f, st, offset, data),
        None => {
            drop(guard);
            let fx = fixed.as_ref().ok_or(Errno::EBADF)?;
            write_fixed(f, fx, offset, data)
        }
    };
    if r.is_ok() {
        f.entry.bump();
    }
    r.map(|()| data.len() as u32)
}

fn write_fixed(f: &OpenFile, fx: &Fixed, offset: u64, data: &[u8]) -> FsResult<()> {
    let total = fx.file_len();
    let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
    if end > total {
        return Err(refuse(
            Errno::EFBIG,
            format_args!(
                "{}: bytes {offset}..{end} are past its end ({total} bytes); an array keeps its size",
                name_of(f)
            ),
        ));
    }
    let h = fx.header.len() as u64;
    if offset < h {
        let part = &data[..(end.min(h) - offset) as usize];
        patch_header(&fx.header, offset, part).map_err(|e| stream_errno(name_of(f), e))?;
    }
    if end > h {
        let s = offset.max(h);
        write_handle(f)?
            .write_bytes(s - h, &data[(s - offset) as usize..], fx.endian)
            .map_err(fail(format_args!(
                "write {} bytes {offset}..{end}",
                name_of(f)
            )))?;
    }
    Ok(())
}

fn write_stream(
    sh: &Shared,
    f: &OpenFile,
    st: &mut Stream,
    offset: u64,
    data: &[u8],
) -> FsResult<()> {
    let what = format!("write {}", name_of(f));
    let routed = st
        .npy
        .write(offset, data)
        .map_err(|e| stream_errno(&what, e))?;
    if routed.parsed_now && *st.npy.purpose() == Purpose::Create {
        let h = st.npy.header().cloned().ok_or(Errno::EIO)?;
        match create_array(sh, f, &h) {
            Ok(()) => st.has_array = true,
            Err(msg) => {
                let e = st.npy.fail(msg);
                return Err(stream_errno(&what, e));
            }
        }
    }
    if routed.pieces.is_empty() {
        return Ok(());
    }
    let (order, endian) = st.layout();
    let array = write_handle(f)?;
    for p in routed.pieces {
        write_linear(&array, p.offset, &p.bytes, order, endian)
            .map_err(fail(format_args!("{what}: data bytes at {}", p.offset)))?;
    }
    Ok(())
}

/// Creates the array a new `.npy` describes.
fn create_array(sh: &Shared, f: &OpenFile, h: &NpyHeader) -> Result<(), String> {
    let format = format_for_children(sh, parent_path(&f.path))
        .map_err(|e| format!("cannot read the parent group: {e:?}"))?;
    let opts = &sh.opts.new_arrays;
    let mut b = ArrayBuilder::new(h.shape.clone(), h.dtype)
        .zarr_format(format)
        .codec(opts.codec.clone())
        .chunks(chunks_for(&h.shape, h.dtype.size(), opts.chunk_bytes));
    if format == ZarrFormat::V2 {
        b = b.endian(h.endian);
    }
    let a = b
        .create(&sh.store, &f.path)
        .map_err(|e| format!("cannot create array {:?} from the .npy header: {e}", f.path))?;
    f.entry
        .adopt(a, f.pid)
        .map_err(|_| format!("array {:?} is busy", f.path))
}

/// Changes the size of a file (`truncate`, `ftruncate`, `O_TRUNC`).
pub(crate) fn set_size(
    sh: &Shared,
    inode: &Inode,
    fh: Option<FileHandle>,
    size: u64,
) -> FsResult<()> {
    let NodeRef::View(_, _) = &inode.node else {
        return Err(Errno::EISDIR);
    };
    if !sh.opts.read_write {
        return Err(Errno::EROFS);
    }
    let file = match fh.and_then(|fh| sh.handles.file(fh)) {
        Some(f) => Some(f),
        None => sh
            .handles
            .files_of(inode.ino)
            .into_iter()
            .map(|(_, f)| f)
            .find(|f| f.writable),
    };
    match file {
        Some(f) if f.writable => truncate_open(&f, size),
        _ => {
            let (attr, _) = tree::attr(sh, inode)?;
            if attr.size == size {
                Ok(())
            } else {
                Err(refuse(
                    Errno::EPERM,
                    format_args!(
                        "{:?}: truncating needs the file open for writing",
                        inode.node
                    ),
                ))
            }
        }
    }
}

fn truncate_open(f: &OpenFile, size: u64) -> FsResult<()> {
    let (fixed, stream) = match &f.body {
        Body::Json(d) if d.len() as u64 == size => return Ok(()),
        Body::Json(_) => {
            return Err(refuse(
                Errno::EPERM,
                format_args!("{} is read-only", name_of(f)),
            ))
        }
        Body::Data { fixed, stream } => (fixed, stream),
    };
    let mut guard = stream.lock();
    if let Some(st) = guard.as_mut() {
        st.npy
            .set_size(size)
            .map_err(|e| stream_errno(format_args!("truncate {}", name_of(f)), e))?;
        f.entry.bump();
        return Ok(());
    }
    let fx = fixed.as_ref().ok_or(Errno::EBADF)?;
    if size == fx.file_len() {
        return Ok(());
    }
    if f.kind == ViewKind::Npy && size == 0 {
        *guard = Some(Box::new(rewrite_stream(f)?));
        f.entry.bump();
        return Ok(());
    }
    Err(refuse(
        Errno::EPERM,
        format_args!(
            "{} has a fixed size of {} bytes; it cannot be truncated to {size}",
            name_of(f),
            fx.file_len()
        ),
    ))
}

/// Starts rewriting an existing array's `.npy` from its first byte.
pub(crate) fn rewrite_stream(f: &OpenFile) -> FsResult<Stream> {
    let array = write_handle(f)?;
    f.entry.begin_session(Session {
        fh: f.fh,
        create: false,
    })?;
    Ok(Stream {
        npy: NpyStream::new(Purpose::Rewrite {
            dtype: array.data_type(),
            shape: array.shape(),
        }),
        has_array: true,
    })
}

/// Completes a stream whose file has its full size: data a rewrite never
/// wrote becomes zeros, as in a file truncated and extended.
fn finish_stream(f: &OpenFile, st: &mut Stream) -> FsResult<()> {
    if *st.npy.purpose() == Purpose::Create {
        // Never-written parts of a new array read as its fill value, zero.
        st.npy.mark_data_written();
        return Ok(());
    }
    let gaps = st.npy.data_gaps();
    if gaps.is_empty() {
        return Ok(());
    }
    let (order, endian) = st.layout();
    let array = write_handle(f)?;
    let zeros =
        vec![0u8; ZERO_STEP.min(gaps.iter().map(|g| g.end - g.start).max().unwrap_or(0)) as usize];
    for g in gaps {
        let mut pos = g.start;
        while pos < g.end {
            let n = (g.end - pos).min(zeros.len() as u64);
            write_linear(&array, pos, &zeros[..n as usize], order, endian)
                .map_err(fail(format_args!("zero-fill {}", name_of(f))))?;
            pos += n;
        }
    }
    st.npy.mark_data_written();
    Ok(())
}

/// `flush` (each `close`, with `closing`) and `fsync`: completes a `.npy`
/// written from its first byte and stores the dirty chunks.
pub(crate) fn flush(f: &OpenFile, closing: bool) -> FsResult<()> {
    if !f.writable {
        return Ok(());
    }
    let mut result = Ok(());
    if let Body::Data { stream, .. } = &f.body {
        let mut guard = stream.lock();
        if let Some(st) = guard.as_mut() {
            if st.npy.failure().is_some() {
                // Refused (and logged) at the write that failed.
                return Err(Errno::EINVAL);
            }
            if st.npy.is_complete() {
                finish_stream(f, st)?;
            } else if closing {
                result = Err(refuse(Errno::EINVAL, incomplete(f, st)));
            }
        }
    }
    f.entry
        .flush()
        .map_err(fail(format_args!("store {}", name_of(f))))?;
    if let Some(m) = f.entry.take_deferred_error() {
        return Err(refuse(
            Errno::EIO,
            format_args!("{}: an earlier store failed: {m}", name_of(f)),
        ));
    }
    result
}

fn incomplete(f: &OpenFile, st: &Stream) -> String {
    match st.npy.total() {
        Some(t) => format!(
            "{}: not a complete .npy: its header describes {t} bytes, {} were written",
            name_of(f),
            st.npy.size()
        ),
        None => format!(
            "{}: not a valid .npy: {} bytes written and no complete header",
            name_of(f),
            st.npy.size()
        ),
    }
}

/// The last close of a handle.
pub(crate) fn release(sh: &Shared, f: &OpenFile) {
    let Body::Data { fixed, stream } = &f.body else {
        return;
    };
    let mut abandoned_create = None;
    let mut holds_array = fixed.is_some();
    if let Some(mut st) = stream.lock().take() {
        f.entry.end_session(f.fh);
        holds_array |= st.has_array;
        if st.npy.failure().is_some() {
            // Refused and logged at the write; a new array is removed.
            if *st.npy.purpose() == Purpose::Create {
                abandoned_create = Some(st.has_array);
            }
        } else if st.npy.is_complete() {
            if let Err(e) = finish_stream(f, &mut st) {
                f.entry
                    .defer_error(format!("completing the rewrite failed ({e:?})"));
            }
        } else {
            let why = incomplete(f, &st);
            match st.npy.purpose() {
                Purpose::Create => {
                    log(format_args!("{why}; no array created"));
                    abandoned_create = Some(st.has_array);
                }
                Purpose::Rewrite { .. } if st.npy.header().is_none() => {
                    log(format_args!("{why}; the array is unchanged"));
                }
                Purpose::Rewrite { .. } => log(format_args!(
                    "{why}; the bytes never written keep their previous values"
                )),
            }
        }
    }
    if holds_array {
        if let Err(e) = f.entry.release(&sh.store, f.mode(), f.pid) {
            let msg = format!("storing {} on its last close failed: {e}", name_of(f));
            log(&msg);
            f.entry.defer_error(msg);
            sh.unreported_failure.store(true, Ordering::SeqCst);
        }
    }
    if let Some(created) = abandoned_create {
        if created {
            let _ = f.entry.delete(&sh.store);
        }
        forget_array(sh, &f.path);
    }
    if f.writable {
        f.entry.bump();
        for k in ViewKind::ALL {
            if let Some(i) = sh.inodes.lookup(&NodeRef::View(f.path.clone(), k)) {
                sh.inval.inode(i.ino);
            }
        }
    }
}

/// Drops the inodes and cached names of a deleted array.
pub(crate) fn forget_array(sh: &Shared, path: &str) {
    let parent = sh
        .inodes
        .lookup(&NodeRef::Dir(parent_path(path).to_string()));
    for i in sh.inodes.remove_tree(path) {
        if let (Some(p), NodeRef::View(ap, k)) = (&parent, &i.node) {
            if ap == path {
                sh.inval.entry(p.ino, view_name(path, *k));
            }
        }
    }
}

/// Stores every dirty chunk of every array open for writing (fsync of a
/// directory, unmount). Returns the errors.
pub(crate) fn flush_all(sh: &Shared) -> Vec<String> {
    let mut errors = Vec::new();
    for e in sh.arrays.all() {
        if let Err(err) = e.flush() {
            errors.push(format!("array {:?}: {err}", e.path));
        }
        if let Some(m) = e.take_deferred_error() {
            errors.push(m);
        }
    }
    errors
}

/// Closes every file the kernel did not release (the session ended).
pub(crate) fn release_all(sh: &Shared) {
    for (fh, f) in sh.handles.all_files() {
        sh.handles.remove_file(fh);
        if f.writable {
            let _ = flush(&f, false);
        }
        release(sh, &f);
    }
}

//! Opening files: the engine handle in the right mode (EBUSY when reads and
//! writes would mix), and whether the kernel may keep its page cache.

use std::sync::Arc;

use fuser::{Errno, FileHandle, FopenFlags, OpenAccMode, OpenFlags};
use zarrcore::Mode;

use crate::errno::{refuse, FsResult};
use crate::handles::{Body, Fixed, OpenFile};
use crate::inode::{Inode, NodeRef};
use crate::names::{view_name, ViewKind};
use crate::shared::Shared;
use crate::tree::{array_meta, data_len, json_doc, npy_header};
use crate::write::rewrite_stream;

/// The process (thread group) of thread `tid`: the kernel names the
/// calling thread in a request.
pub(crate) fn process_of(tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

/// Opens inode `inode` with `flags` for process `pid`.
pub(crate) fn open(
    sh: &Shared,
    inode: &Arc<Inode>,
    flags: OpenFlags,
    pid: u32,
) -> FsResult<(FileHandle, FopenFlags)> {
    let NodeRef::View(path, kind) = &inode.node else {
        return Err(Errno::EISDIR);
    };
    let (path, kind) = (path.clone(), *kind);
    let name = view_name(&path, kind);
    let writable = flags.acc_mode() != OpenAccMode::O_RDONLY;
    let truncate = flags.0 & libc::O_TRUNC != 0;
    if (writable || truncate) && !sh.opts.read_write {
        return Err(Errno::EROFS);
    }
    if truncate && !writable {
        return Err(refuse(
            Errno::EINVAL,
            format_args!("{name}: O_TRUNC needs write access"),
        ));
    }
    if writable && kind == ViewKind::Json {
        return Err(refuse(
            Errno::EPERM,
            format_args!(
                "{name} is read-only; change attributes with the user.zarr.attributes xattr"
            ),
        ));
    }
    if truncate && kind == ViewKind::Raw {
        return Err(refuse(
            Errno::EPERM,
            format_args!("{name} has a fixed size; it cannot be truncated"),
        ));
    }
    let entry = sh.arrays.entry(&path);
    if kind == ViewKind::Json && !entry.wait_not_creating() {
        return Err(refuse(
            Errno::EBUSY,
            format_args!("{name} is being created"),
        ));
    }
    let fh = sh.handles.reserve();
    let gen_before = entry.generation();
    let body = if kind == ViewKind::Json {
        Body::Json(json_doc(&array_meta(sh, &path)?))
    } else {
        let mode = if writable { Mode::Write } else { Mode::Read };
        entry.open(&sh.store, mode, pid)?;
        let meta = match entry.current() {
            Some(a) => a.metadata(),
            None => {
                let _ = entry.release(&sh.store, mode, pid);
                return Err(Errno::EIO);
            }
        };
        let fixed = Fixed {
            header: if kind == ViewKind::Npy {
                npy_header(&meta)
            } else {
                Vec::new()
            },
            data_len: data_len(&meta),
            endian: meta.endian,
        };
        Body::Data {
            fixed: Some(fixed),
            stream: parking_lot::Mutex::new(None),
        }
    };
    let file = sh.handles.put_file(OpenFile {
        fh,
        ino: inode.ino,
        path,
        kind,
        entry: Arc::clone(&entry),
        writable,
        pid,
        body,
    });
    if truncate {
        if let Body::Data { stream, .. } = &file.body {
            match rewrite_stream(&file) {
                Ok(st) => *stream.lock() = Some(Box::new(st)),
                Err(e) => {
                    sh.handles.remove_file(fh);
                    crate::write::release(sh, &file);
                    return Err(e);
                }
            }
            entry.bump();
        }
    }
    // The kernel keeps the pages it has if the array has not changed since
    // they were read; otherwise it drops them now.
    let gen = entry.generation();
    let mut fl = FopenFlags::empty();
    if kind.is_data() && !truncate && gen == gen_before && inode.cache_valid_for(gen) {
        fl |= FopenFlags::FOPEN_KEEP_CACHE;
    } else {
        inode.set_cached_gen(Some(gen));
    }
    if !writable {
        fl |= FopenFlags::FOPEN_NOFLUSH;
    }
    Ok((fh, fl))
}

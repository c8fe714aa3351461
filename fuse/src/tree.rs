//! The hierarchy seen as directories and files: resolving a name, listing
//! a directory, and the attributes (`stat`) of each inode.

use std::time::{Duration, SystemTime};

use fuser::{Errno, FileAttr, FileType, INodeNo};
use zarrcore::hierarchy::{self, NodeKind};
use zarrcore::metadata::to_pretty_json;
use zarrcore::{npy, ArrayMetadata, NodeMetadata, ZarrFormat};

use crate::arrays::ArrayEntry;
use crate::errno::{fail, FsResult};
use crate::handles::{Body, DirEntry};
use crate::inode::{Inode, NodeRef};
use crate::names::{child_path, parent_path, view_name, ViewKind, ROOT_ARRAY_STEM};
use crate::shared::Shared;

/// How long the kernel may keep names and attributes.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// The metadata of the node at `path`, if there is one.
pub(crate) fn node_of(sh: &Shared, path: &str) -> FsResult<Option<NodeMetadata>> {
    hierarchy::read_node(&sh.store, path).map_err(fail(format_args!("read metadata of {path:?}")))
}

/// The array metadata at `path`, or ENOENT.
pub(crate) fn array_meta(sh: &Shared, path: &str) -> FsResult<ArrayMetadata> {
    match node_of(sh, path)? {
        Some(NodeMetadata::Array(m)) => Ok(*m),
        _ => Err(Errno::ENOENT),
    }
}

/// The format new nodes in directory `dir` get: the group's own format, v3
/// in an empty store.
pub(crate) fn format_for_children(sh: &Shared, dir: &str) -> FsResult<ZarrFormat> {
    Ok(match node_of(sh, dir)? {
        Some(n) => n.zarr_format(),
        None => ZarrFormat::V3,
    })
}

/// Whether the store root is an array.
pub(crate) fn root_is_array(sh: &Shared) -> FsResult<bool> {
    Ok(matches!(node_of(sh, "")?, Some(NodeMetadata::Array(_))))
}

/// What `name` in directory `dir` is.
pub(crate) fn resolve(sh: &Shared, dir: &str, name: &str) -> FsResult<NodeRef> {
    if dir.is_empty() && root_is_array(sh)? {
        return match ViewKind::split(name) {
            Some((ROOT_ARRAY_STEM, kind)) => Ok(NodeRef::View(String::new(), kind)),
            _ => Err(Errno::ENOENT),
        };
    }
    if let Some(p) = child_path(dir, name) {
        if let Some(NodeMetadata::Group(_)) = node_of(sh, &p)? {
            return Ok(NodeRef::Dir(p));
        }
    }
    let Some((stem, kind)) = ViewKind::split(name) else {
        return Err(Errno::ENOENT);
    };
    let p = child_path(dir, stem).ok_or(Errno::ENOENT)?;
    if kind == ViewKind::Npy {
        if let Some(e) = sh.arrays.get(&p) {
            if e.session().is_some_and(|s| s.create) {
                return Ok(NodeRef::View(p, kind));
            }
        }
    }
    match node_of(sh, &p)? {
        Some(NodeMetadata::Array(_)) => Ok(NodeRef::View(p, kind)),
        _ => Err(Errno::ENOENT),
    }
}

/// The `.json` document of an array: its metadata as zarrcore writes it
/// (v3 `zarr.json`; v2 `.zarray` with an `"attributes"` member).
pub(crate) fn json_doc(meta: &ArrayMetadata) -> Vec<u8> {
    let mut v = meta.to_json();
    if meta.zarr_format == ZarrFormat::V2 && !meta.attributes.is_empty() {
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "attributes".into(),
                serde_json::Value::Object(meta.attributes.clone()),
            );
        }
    }
    to_pretty_json(&v)
}

/// The `.npy` header of an array: what `numpy.save` writes for it.
pub(crate) fn npy_header(meta: &ArrayMetadata) -> Vec<u8> {
    npy::header_bytes(meta.data_type, meta.endian, &meta.shape)
}

/// Bytes of an array's data.
pub(crate) fn data_len(meta: &ArrayMetadata) -> u64 {
    meta.shape.iter().product::<u64>() * meta.data_type.size() as u64
}

fn base_attr(sh: &Shared, ino: INodeNo, kind: FileType, perm: u16, mtime: SystemTime) -> FileAttr {
    FileAttr {
        ino,
        size: 0,
        blocks: 0,
        atime: mtime,
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: sh.uid,
        gid: sh.gid,
        rdev: 0,
        blksize: 1 << 20,
        flags: 0,
    }
}

/// Attributes of a directory.
pub(crate) fn dir_attr(sh: &Shared, ino: INodeNo) -> FileAttr {
    let perm = if sh.opts.read_write { 0o755 } else { 0o555 };
    base_attr(sh, ino, FileType::Directory, perm, sh.started)
}

/// Attributes of a file of `size` bytes taking `stored` bytes in the store.
pub(crate) fn file_attr(
    sh: &Shared,
    ino: INodeNo,
    kind: ViewKind,
    size: u64,
    stored: u64,
    mtime: SystemTime,
) -> FileAttr {
    let perm = match (sh.opts.read_write, kind) {
        (true, ViewKind::Npy | ViewKind::Raw) => 0o644,
        _ => 0o444,
    };
    FileAttr {
        size,
        blocks: stored.div_ceil(512),
        ..base_attr(sh, ino, FileType::RegularFile, perm, mtime)
    }
}

/// The size of the `.npy` being written through `entry`'s session, if any.
pub(crate) fn session_size(sh: &Shared, entry: &ArrayEntry) -> Option<u64> {
    let s = entry.session()?;
    let f = sh.handles.file(s.fh)?;
    match &f.body {
        Body::Data { stream, .. } => stream.lock().as_ref().map(|st| st.npy.size()),
        Body::Json(_) => None,
    }
}

/// Attributes of an inode, with how long the kernel may keep them.
pub(crate) fn attr(sh: &Shared, inode: &Inode) -> FsResult<(FileAttr, Duration)> {
    let (path, kind) = match &inode.node {
        NodeRef::Dir(p) => {
            if !p.is_empty() && !matches!(node_of(sh, p)?, Some(NodeMetadata::Group(_))) {
                return Err(Errno::ENOENT);
            }
            return Ok((dir_attr(sh, inode.ino), TTL));
        }
        NodeRef::View(p, k) => (p, *k),
    };
    let entry = sh.arrays.get(path);
    let mtime = entry
        .as_ref()
        .and_then(|e| e.changed())
        .unwrap_or(sh.started);
    if kind == ViewKind::Npy {
        if let Some(size) = entry.as_ref().and_then(|e| session_size(sh, e)) {
            return Ok((
                file_attr(sh, inode.ino, kind, size, 0, mtime),
                Duration::ZERO,
            ));
        }
    }
    let meta = array_meta(sh, path)?;
    let attr = match kind {
        ViewKind::Npy => {
            let stored = sh.arrays.entry(path).stored_bytes(&sh.store).unwrap_or(0);
            file_attr(
                sh,
                inode.ino,
                kind,
                npy_header(&meta).len() as u64 + data_len(&meta),
                stored,
                mtime,
            )
        }
        ViewKind::Raw => file_attr(sh, inode.ino, kind, data_len(&meta), 0, mtime),
        ViewKind::Json => {
            let n = json_doc(&meta).len() as u64;
            file_attr(sh, inode.ino, kind, n, n, mtime)
        }
    };
    Ok((attr, TTL))
}

/// The entries of directory `dir` (inode `ino`), `.` and `..` first.
pub(crate) fn listing(sh: &Shared, dir: &str, ino: INodeNo) -> FsResult<Vec<DirEntry>> {
    let parent = if dir.is_empty() {
        INodeNo::ROOT
    } else {
        sh.inodes
            .intern(NodeRef::Dir(parent_path(dir).to_string()))
            .ino
    };
    let mut out = vec![
        DirEntry {
            ino,
            kind: FileType::Directory,
            name: ".".into(),
        },
        DirEntry {
            ino: parent,
            kind: FileType::Directory,
            name: "..".into(),
        },
    ];
    let add_array = |out: &mut Vec<DirEntry>, path: &str| {
        for k in ViewKind::ALL {
            let i = sh.inodes.intern(NodeRef::View(path.to_string(), k));
            out.push(DirEntry {
                ino: i.ino,
                kind: FileType::RegularFile,
                name: view_name(path, k),
            });
        }
    };
    match node_of(sh, dir)? {
        Some(NodeMetadata::Array(_)) if dir.is_empty() => {
            add_array(&mut out, "");
            return Ok(out);
        }
        Some(NodeMetadata::Group(_)) => {}
        None if dir.is_empty() => {}
        _ => return Err(Errno::ENOENT),
    }
    let members =
        hierarchy::members(&sh.store, dir).map_err(fail(format_args!("list group {dir:?}")))?;
    let mut listed = std::collections::HashSet::new();
    for (name, kind) in members {
        let Some(p) = child_path(dir, &name) else {
            continue;
        };
        match kind {
            NodeKind::Group => {
                let i = sh.inodes.intern(NodeRef::Dir(p));
                out.push(DirEntry {
                    ino: i.ino,
                    kind: FileType::Directory,
                    name,
                });
            }
            NodeKind::Array => {
                add_array(&mut out, &p);
                listed.insert(p);
            }
        }
    }
    for p in sh.arrays.creating() {
        if parent_path(&p) == dir && !p.is_empty() && !listed.contains(&p) {
            let i = sh.inodes.intern(NodeRef::View(p.clone(), ViewKind::Npy));
            out.push(DirEntry {
                ino: i.ino,
                kind: FileType::RegularFile,
                name: view_name(&p, ViewKind::Npy),
            });
        }
    }
    Ok(out)
}

//! Changing the hierarchy (`--rw`): a new `.npy` file (a new array once its
//! header is written), `mkdir` (a group), `unlink` of a `.npy` or `.raw`
//! (deletes the array), `rmdir` (an empty group).

use std::sync::Arc;

use fuser::{Errno, FileAttr, FileHandle};
use zarrcore::{hierarchy, Attributes, Group, NodeMetadata};

use crate::arrays::Session;
use crate::errno::{fail, refuse, FsResult};
use crate::handles::{Body, OpenFile};
use crate::inode::{Inode, NodeRef};
use crate::names::{child_path, ViewKind};
use crate::npy_stream::{NpyStream, Purpose};
use crate::shared::Shared;
use crate::tree::{dir_attr, file_attr, format_for_children, node_of, root_is_array};
use crate::write::forget_array;

fn dir_path(parent: &Inode) -> FsResult<&str> {
    match &parent.node {
        NodeRef::Dir(p) => Ok(p),
        NodeRef::View(..) => Err(Errno::ENOTDIR),
    }
}

fn writable(sh: &Shared) -> FsResult<()> {
    if sh.opts.read_write {
        Ok(())
    } else {
        Err(Errno::EROFS)
    }
}

/// The directory must be a group (or the store root, if it holds no array).
fn group_dir<'a>(sh: &Shared, parent: &'a Inode) -> FsResult<&'a str> {
    let dir = dir_path(parent)?;
    if dir.is_empty() && root_is_array(sh)? {
        return Err(refuse(
            Errno::EPERM,
            "the store root is an array; nothing can be created beside it",
        ));
    }
    Ok(dir)
}

/// Creates `name` in `parent`: only `X.npy`, which becomes array `X` once a
/// complete `.npy` header is written into it.
pub(crate) fn create(
    sh: &Shared,
    parent: &Inode,
    name: &str,
    pid: u32,
) -> FsResult<(FileAttr, FileHandle)> {
    writable(sh)?;
    let dir = group_dir(sh, parent)?;
    let stem = match ViewKind::split(name) {
        Some((stem, ViewKind::Npy)) => stem,
        _ => {
            return Err(refuse(
                Errno::EPERM,
                format_args!("cannot create {name:?}: only NAME.npy files can be created (each becomes an array)"),
            ))
        }
    };
    let path = child_path(dir, stem).ok_or_else(|| {
        refuse(
            Errno::EINVAL,
            format_args!("{stem:?} is not a valid array name"),
        )
    })?;
    if node_of(sh, &path)?.is_some() {
        return Err(Errno::EEXIST);
    }
    let entry = sh.arrays.entry(&path);
    let fh = sh.handles.reserve();
    entry
        .begin_session(Session { fh, create: true })
        .map_err(|_| Errno::EEXIST)?;
    let inode = sh.inodes.intern(NodeRef::View(path.clone(), ViewKind::Npy));
    inode.set_cached_gen(None);
    sh.handles.put_file(OpenFile {
        fh,
        ino: inode.ino,
        path,
        kind: ViewKind::Npy,
        entry: Arc::clone(&entry),
        writable: true,
        pid,
        body: Body::Data {
            fixed: None,
            stream: parking_lot::Mutex::new(Some(Box::new(crate::handles::Stream {
                npy: NpyStream::new(Purpose::Create),
                has_array: false,
            }))),
        },
    });
    let attr = file_attr(
        sh,
        inode.ino,
        ViewKind::Npy,
        0,
        0,
        std::time::SystemTime::now(),
    );
    Ok((attr, fh))
}

/// `mkdir`: a new group, in the format of its parent.
pub(crate) fn mkdir(sh: &Shared, parent: &Inode, name: &str) -> FsResult<FileAttr> {
    writable(sh)?;
    let dir = group_dir(sh, parent)?;
    if ViewKind::split(name).is_some() {
        return Err(refuse(
            Errno::EINVAL,
            format_args!("group name {name:?} ends like an array's file (.npy, .raw, .json)"),
        ));
    }
    let path = child_path(dir, name).ok_or_else(|| {
        refuse(
            Errno::EINVAL,
            format_args!("{name:?} is not a valid group name"),
        )
    })?;
    if node_of(sh, &path)?.is_some() {
        return Err(Errno::EEXIST);
    }
    let format = format_for_children(sh, dir)?;
    Group::create(&sh.store, &path, format, Attributes::new())
        .map_err(fail(format_args!("create group {path:?}")))?;
    let inode = sh.inodes.intern(NodeRef::Dir(path));
    Ok(dir_attr(sh, inode.ino))
}

/// `unlink`: removing `X.npy` or `X.raw` deletes array `X`.
pub(crate) fn unlink(sh: &Shared, parent: &Inode, name: &str) -> FsResult<()> {
    writable(sh)?;
    let dir = dir_path(parent)?;
    let node = crate::tree::resolve(sh, dir, name)?;
    let NodeRef::View(path, kind) = node else {
        return Err(Errno::EISDIR);
    };
    if kind == ViewKind::Json {
        return Err(refuse(
            Errno::EPERM,
            format_args!("{name}: remove the array's .npy (or .raw) to delete it"),
        ));
    }
    let entry = sh.arrays.entry(&path);
    entry.delete(&sh.store)?;
    forget_array(sh, &path);
    Ok(())
}

/// `rmdir`: removes an empty group.
pub(crate) fn rmdir(sh: &Shared, parent: &Inode, name: &str) -> FsResult<()> {
    writable(sh)?;
    let dir = dir_path(parent)?;
    let path = child_path(dir, name).ok_or(Errno::ENOENT)?;
    match node_of(sh, &path)? {
        Some(NodeMetadata::Group(_)) => {}
        Some(NodeMetadata::Array(_)) => return Err(Errno::ENOTDIR),
        None => return Err(Errno::ENOENT),
    }
    let members =
        hierarchy::members(&sh.store, &path).map_err(fail(format_args!("list group {path:?}")))?;
    let creating = sh
        .arrays
        .creating()
        .iter()
        .any(|p| crate::names::parent_path(p) == path);
    if !members.is_empty() || creating {
        return Err(Errno::ENOTEMPTY);
    }
    hierarchy::delete_node(&sh.store, &path)
        .map_err(fail(format_args!("delete group {path:?}")))?;
    let parent_ino = parent.ino;
    sh.inodes.remove_tree(&path);
    sh.inval.entry(parent_ino, name.to_string());
    Ok(())
}

//! Extended attributes: `user.zarr.shape`, `.dtype`, `.chunks`, `.shards`
//! (sharded arrays), `.codecs`, `.fill_value` (read-only, on an array's
//! files) and `user.zarr.attributes` (JSON; on arrays and groups, writable
//! with `--rw`). Every value is JSON text.

use fuser::Errno;
use serde_json::{json, Value};
use zarrcore::{hierarchy, ArrayMetadata, NodeMetadata, ZarrFormat};

use crate::errno::{fail, refuse, FsResult};
use crate::inode::{Inode, NodeRef};
use crate::names::ViewKind;
use crate::shared::Shared;
use crate::tree::node_of;

/// The writable attribute.
pub(crate) const ATTRIBUTES: &str = "user.zarr.attributes";

fn array_values(m: &ArrayMetadata) -> Vec<(&'static str, Value)> {
    let doc = m.to_json();
    let codecs = match m.zarr_format {
        ZarrFormat::V3 => doc.get("codecs").cloned().unwrap_or(Value::Null),
        ZarrFormat::V2 => json!({
            "compressor": doc.get("compressor").cloned().unwrap_or(Value::Null),
            "filters": doc.get("filters").cloned().unwrap_or(Value::Null),
        }),
    };
    let mut v = vec![
        ("user.zarr.shape", json!(m.shape)),
        ("user.zarr.dtype", json!(m.numpy_dtype())),
        ("user.zarr.chunks", json!(m.read_chunk_shape())),
    ];
    if let Some(s) = m.shard_shape() {
        v.push(("user.zarr.shards", json!(s)));
    }
    v.push(("user.zarr.codecs", codecs));
    v.push((
        "user.zarr.fill_value",
        m.fill_value.to_json(m.data_type, m.zarr_format),
    ));
    v.push((ATTRIBUTES, Value::Object(m.attributes.clone())));
    v
}

/// Every attribute of an inode with its value.
fn values(sh: &Shared, inode: &Inode) -> FsResult<Vec<(&'static str, Value)>> {
    match node_of(sh, inode.node.path())? {
        Some(NodeMetadata::Array(m)) if matches!(inode.node, NodeRef::View(..)) => {
            Ok(array_values(&m))
        }
        Some(NodeMetadata::Group(g)) if matches!(inode.node, NodeRef::Dir(_)) => {
            Ok(vec![(ATTRIBUTES, Value::Object(g.attributes))])
        }
        // The root of an empty store, or a file still being created.
        _ => Ok(Vec::new()),
    }
}

/// The value of `name`.
pub(crate) fn get(sh: &Shared, inode: &Inode, name: &str) -> FsResult<Vec<u8>> {
    if !name.starts_with("user.zarr.") {
        return Err(Errno::NO_XATTR);
    }
    values(sh, inode)?
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| serde_json::to_vec(&v).unwrap_or_default())
        .ok_or(Errno::NO_XATTR)
}

/// The names, each followed by a NUL.
pub(crate) fn list(sh: &Shared, inode: &Inode) -> FsResult<Vec<u8>> {
    let mut out = Vec::new();
    for (n, _) in values(sh, inode)? {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// Sets `name` (only `user.zarr.attributes`, a JSON object).
pub(crate) fn set(sh: &Shared, inode: &Inode, name: &str, value: &[u8]) -> FsResult<()> {
    if !name.starts_with("user.zarr.") {
        return Err(refuse(
            Errno::ENOTSUP,
            format_args!("xattr {name:?}: only user.zarr.* attributes exist here"),
        ));
    }
    if name != ATTRIBUTES {
        if values(sh, inode)?.iter().any(|(n, _)| *n == name) {
            return Err(refuse(
                Errno::EPERM,
                format_args!("xattr {name} is read-only"),
            ));
        }
        return Err(refuse(Errno::ENOTSUP, format_args!("no xattr {name}")));
    }
    if !sh.opts.read_write {
        return Err(Errno::EROFS);
    }
    let attrs = match serde_json::from_slice::<Value>(value) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return Err(refuse(
                Errno::EINVAL,
                format_args!("{ATTRIBUTES} must be a JSON object"),
            ))
        }
        Err(e) => {
            return Err(refuse(
                Errno::EINVAL,
                format_args!("{ATTRIBUTES} is not valid JSON: {e}"),
            ))
        }
    };
    set_attributes(sh, inode, attrs)
}

/// Removing `user.zarr.attributes` empties it.
pub(crate) fn remove(sh: &Shared, inode: &Inode, name: &str) -> FsResult<()> {
    if name != ATTRIBUTES {
        return Err(if values(sh, inode)?.iter().any(|(n, _)| *n == name) {
            refuse(Errno::EPERM, format_args!("xattr {name} is read-only"))
        } else {
            Errno::NO_XATTR
        });
    }
    if !sh.opts.read_write {
        return Err(Errno::EROFS);
    }
    set_attributes(sh, inode, zarrcore::Attributes::new())
}

fn set_attributes(sh: &Shared, inode: &Inode, attrs: zarrcore::Attributes) -> FsResult<()> {
    let path = inode.node.path().to_string();
    if values(sh, inode)?.is_empty() {
        return Err(Errno::NO_XATTR);
    }
    hierarchy::set_attributes(&sh.store, &path, attrs)
        .and_then(|()| hierarchy::refresh_consolidated(&sh.store))
        .map_err(fail(format_args!("set attributes of {path:?}")))?;
    if let NodeRef::View(..) = inode.node {
        if let Some(i) = sh.inodes.lookup(&NodeRef::View(path, ViewKind::Json)) {
            sh.inval.inode(i.ino);
        }
    }
    Ok(())
}

//! Nodes of a hierarchy: reading and writing metadata documents, groups,
//! members, deletion, and consolidated metadata.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, MetadataError, Result};
use crate::metadata::{
    consolidated_v2, consolidated_v3_inline, parse_json, parse_v2_array, parse_v2_group,
    parse_v3_node, read_consolidated, to_pretty_json, v2_array_json, v3_array_json, v3_group_json,
    ArrayMetadata, Attributes, GroupMetadata, NodeMetadata, ZarrFormat,
};
use crate::store::{join_key, normalize_path, Concurrency, Generation, Store, StoreRef};

fn get_json(store: &dyn Store, key: &str) -> Result<Option<Value>> {
    match store.get(key)? {
        None => Ok(None),
        Some(b) => Ok(Some(parse_json(&b, key)?)),
    }
}

/// Reads the metadata of the node at `path`, `None` if there is none.
/// A v3 `zarr.json` wins over v2 documents at the same path.
pub fn read_node(store: &StoreRef, path: &str) -> Result<Option<NodeMetadata>> {
    read_node_dyn(&**store, path)
}

pub(crate) fn read_node_dyn(store: &dyn Store, path: &str) -> Result<Option<NodeMetadata>> {
    let path = normalize_path(path)?;
    let k3 = join_key(&path, "zarr.json");
    if let Some(doc) = get_json(store, &k3)? {
        return Ok(Some(parse_v3_node(&doc, &k3)?));
    }
    let ka = join_key(&path, ".zarray");
    let kg = join_key(&path, ".zgroup");
    let kattrs = join_key(&path, ".zattrs");
    if let Some(doc) = get_json(store, &ka)? {
        let attrs = get_json(store, &kattrs)?;
        return Ok(Some(NodeMetadata::Array(Box::new(parse_v2_array(
            &doc,
            attrs.as_ref(),
            &ka,
        )?))));
    }
    if let Some(doc) = get_json(store, &kg)? {
        let attrs = get_json(store, &kattrs)?;
        return Ok(Some(NodeMetadata::Group(parse_v2_group(
            &doc,
            attrs.as_ref(),
            &kg,
        )?)));
    }
    Ok(None)
}

/// Parses back the documents `meta` would be written as.
pub(crate) fn reparse_array(meta: &ArrayMetadata) -> Result<ArrayMetadata> {
    match meta.zarr_format {
        ZarrFormat::V2 => Ok(parse_v2_array(
            &v2_array_json(meta),
            Some(&Value::Object(meta.attributes.clone())),
            ".zarray",
        )?),
        ZarrFormat::V3 => match parse_v3_node(&v3_array_json(meta), "zarr.json")? {
            NodeMetadata::Array(a) => Ok(*a),
            NodeMetadata::Group(_) => Err(Error::invalid("array metadata parsed as a group")),
        },
    }
}

fn write_attrs_v2(store: &dyn Store, path: &str, attrs: &Attributes) -> Result<()> {
    let key = join_key(path, ".zattrs");
    if attrs.is_empty() {
        if store.size(&key)?.is_some() {
            store.delete(&key)?;
        }
    } else {
        store.set(&key, &to_pretty_json(&Value::Object(attrs.clone())))?;
    }
    Ok(())
}

/// Writes an array's metadata document(s).
pub fn write_array_metadata(store: &StoreRef, path: &str, meta: &ArrayMetadata) -> Result<()> {
    let path = normalize_path(path)?;
    match meta.zarr_format {
        ZarrFormat::V3 => {
            store.set(
                &join_key(&path, "zarr.json"),
                &to_pretty_json(&v3_array_json(meta)),
            )?;
        }
        ZarrFormat::V2 => {
            store.set(
                &join_key(&path, ".zarray"),
                &to_pretty_json(&v2_array_json(meta)),
            )?;
            write_attrs_v2(&**store, &path, &meta.attributes)?;
        }
    }
    Ok(())
}

/// Writes a group's metadata document(s).
pub fn write_group_metadata(store: &StoreRef, path: &str, meta: &GroupMetadata) -> Result<()> {
    let path = normalize_path(path)?;
    match meta.zarr_format {
        ZarrFormat::V3 => {
            store.set(
                &join_key(&path, "zarr.json"),
                &to_pretty_json(&v3_group_json(meta)),
            )?;
        }
        ZarrFormat::V2 => {
            store.set(
                &join_key(&path, ".zgroup"),
                &to_pretty_json(&serde_json::json!({"zarr_format": 2})),
            )?;
            write_attrs_v2(&**store, &path, &meta.attributes)?;
        }
    }
    Ok(())
}

/// Creates the missing groups above `path` (not `path` itself).
pub fn ensure_parent_groups(store: &StoreRef, path: &str, format: ZarrFormat) -> Result<()> {
    let path = normalize_path(path)?;
    if path.is_empty() {
        return Ok(());
    }
    let segs: Vec<&str> = path.split('/').collect();
    for n in 0..segs.len() {
        let parent = segs[..n].join("/");
        match read_node(store, &parent)? {
            Some(NodeMetadata::Group(_)) => {}
            Some(NodeMetadata::Array(_)) => {
                return Err(Error::invalid(format!(
                    "cannot create {path:?}: {parent:?} is an array"
                )))
            }
            None => write_group_metadata(
                store,
                &parent,
                &GroupMetadata {
                    zarr_format: format,
                    attributes: Attributes::new(),
                    extra: Attributes::new(),
                },
            )?,
        }
    }
    Ok(())
}

/// Deletes the node at `path` and everything under it (the root node's
/// deletion empties the store).
pub fn delete_node(store: &StoreRef, path: &str) -> Result<()> {
    let path = normalize_path(path)?;
    let open = crate::engine::ArrayShared::open_under(store, &path);
    if !open.is_empty() {
        return Err(Error::Busy {
            path,
            reason: format!("arrays with open handles: {}", open.join(", ")),
            pid: None,
        });
    }
    store.delete_prefix(&path)?;
    if !path.is_empty() {
        refresh_consolidated(store)?;
    }
    Ok(())
}

/// Kind of a hierarchy member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    /// An array.
    Array,
    /// A group.
    Group,
}

/// Direct children of the group at `path`: `(name, kind)`, sorted by name.
pub fn members(store: &StoreRef, path: &str) -> Result<Vec<(String, NodeKind)>> {
    let path = normalize_path(path)?;
    let listing = store.list_dir(&path)?;
    let mut out = Vec::new();
    for prefix in listing.prefixes {
        let name = prefix.rsplit('/').next().unwrap_or(&prefix).to_string();
        match read_node(store, &prefix) {
            Ok(Some(NodeMetadata::Array(_))) => out.push((name, NodeKind::Array)),
            Ok(Some(NodeMetadata::Group(_))) => out.push((name, NodeKind::Group)),
            Ok(None) => {}
            // A child whose metadata is broken is still a member; report it
            // as what its documents claim to be when it is opened.
            Err(_) => {
                let kind = if store.size(&join_key(&prefix, ".zarray"))?.is_some()
                    || store.size(&join_key(&prefix, "zarr.json"))?.is_some()
                {
                    NodeKind::Array
                } else {
                    NodeKind::Group
                };
                out.push((name, kind));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A node found while listing a hierarchy, whether or not zarrcore can
/// read its metadata: listing never fails because one node has an
/// unsupported data type or codec (or broken metadata); only opening it does.
#[derive(Debug)]
pub struct NodeEntry {
    /// Node path ("" for the root).
    pub path: String,
    /// What the node's documents say it is.
    pub kind: NodeKind,
    /// The format of its documents.
    pub zarr_format: ZarrFormat,
    /// The parsed metadata, or why it cannot be parsed (naming the key).
    pub metadata: Result<NodeMetadata>,
    /// The stored document (`zarr.json`, `.zarray` or `.zgroup`) when it is
    /// valid JSON.
    pub raw: Option<Value>,
    /// v2: the stored `.zattrs`, when present and valid JSON.
    pub raw_attrs: Option<Value>,
}

/// Reads the node at `path` for listing: `None` if there is none; store
/// failures are errors, metadata failures are kept in the entry.
pub fn read_entry(store: &StoreRef, path: &str) -> Result<Option<NodeEntry>> {
    read_entry_dyn(&**store, path)
}

fn read_entry_dyn(store: &dyn Store, path: &str) -> Result<Option<NodeEntry>> {
    let path = normalize_path(path)?;
    let k3 = join_key(&path, "zarr.json");
    if let Some(bytes) = store.get(&k3)? {
        let (raw, metadata) = match parse_json(&bytes, &k3) {
            Ok(doc) => {
                let m = parse_v3_node(&doc, &k3).map_err(Error::from);
                (Some(doc), m)
            }
            Err(e) => (None, Err(e.into())),
        };
        let kind = match (&metadata, &raw) {
            (Ok(NodeMetadata::Group(_)), _) => NodeKind::Group,
            (Ok(NodeMetadata::Array(_)), _) => NodeKind::Array,
            (Err(_), Some(doc))
                if doc.get("node_type").and_then(Value::as_str) == Some("group") =>
            {
                NodeKind::Group
            }
            (Err(_), _) => NodeKind::Array,
        };
        return Ok(Some(NodeEntry {
            path,
            kind,
            zarr_format: ZarrFormat::V3,
            metadata,
            raw,
            raw_attrs: None,
        }));
    }
    let kattrs = join_key(&path, ".zattrs");
    for (name, kind) in [(".zarray", NodeKind::Array), (".zgroup", NodeKind::Group)] {
        let key = join_key(&path, name);
        let Some(bytes) = store.get(&key)? else {
            continue;
        };
        let raw = parse_json(&bytes, &key);
        let attrs = match store.get(&kattrs)? {
            None => Ok(None),
            Some(b) => parse_json(&b, &kattrs).map(Some),
        };
        let (raw, raw_attrs, metadata) = match (raw, attrs) {
            (Err(e), a) => (None, a.ok().flatten(), Err(e.into())),
            (Ok(r), Err(e)) => (Some(r), None, Err(e.into())),
            (Ok(r), Ok(a)) => {
                let m = match kind {
                    NodeKind::Array => parse_v2_array(&r, a.as_ref(), &key)
                        .map(|m| NodeMetadata::Array(Box::new(m))),
                    NodeKind::Group => {
                        parse_v2_group(&r, a.as_ref(), &key).map(NodeMetadata::Group)
                    }
                };
                (Some(r), a, m.map_err(Error::from))
            }
        };
        return Ok(Some(NodeEntry {
            path,
            kind,
            zarr_format: ZarrFormat::V2,
            metadata,
            raw,
            raw_attrs,
        }));
    }
    Ok(None)
}

/// Direct children of the group at `path` as entries (see [`NodeEntry`]), sorted by name.
pub fn member_entries(store: &StoreRef, path: &str) -> Result<Vec<NodeEntry>> {
    let path = normalize_path(path)?;
    let mut out = Vec::new();
    for prefix in store.list_dir(&path)?.prefixes {
        if let Some(e) = read_entry(store, &prefix)? {
            out.push(e);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Every node under `path` (inclusive), depth first, including nodes whose
/// metadata zarrcore cannot read (each keeps its error): what `tree` lists.
pub fn walk_entries(store: &StoreRef, path: &str) -> Result<Vec<NodeEntry>> {
    let path = normalize_path(path)?;
    let Some(root) = read_entry(store, &path)? else {
        return Err(MetadataError::NotFound {
            path,
            looked_for: "zarr.json, .zgroup, .zarray".into(),
        }
        .into());
    };
    let mut out = Vec::new();
    walk_entries_into(store, root, &mut out)?;
    Ok(out)
}

fn walk_entries_into(store: &StoreRef, node: NodeEntry, out: &mut Vec<NodeEntry>) -> Result<()> {
    let descend = node.kind == NodeKind::Group;
    let path = node.path.clone();
    out.push(node);
    if descend {
        for child in member_entries(store, &path)? {
            walk_entries_into(store, child, out)?;
        }
    }
    Ok(())
}

/// Whether the hierarchy rooted at `path` has consolidated metadata (v2
/// `.zmetadata` or v3 inline), without parsing its entries.
pub fn has_consolidated_metadata(store: &StoreRef, path: &str) -> Result<bool> {
    let path = normalize_path(path)?;
    if store.size(&join_key(&path, ".zmetadata"))?.is_some() {
        return Ok(true);
    }
    let k3 = join_key(&path, "zarr.json");
    Ok(matches!(
        get_json(&**store, &k3)?,
        Some(ref d) if d.get("consolidated_metadata").is_some_and(|c| !c.is_null())
    ))
}

/// Every node under `path` (inclusive), depth first: `(path, metadata)`.
/// Fails on the first node whose metadata cannot be read; [`walk_entries`]
/// lists such nodes instead.
pub fn walk(store: &StoreRef, path: &str) -> Result<Vec<(String, NodeMetadata)>> {
    let path = normalize_path(path)?;
    let mut out = Vec::new();
    let Some(root) = read_node(store, &path)? else {
        return Err(MetadataError::NotFound {
            path,
            looked_for: "zarr.json, .zgroup, .zarray".into(),
        }
        .into());
    };
    let is_group = matches!(root, NodeMetadata::Group(_));
    out.push((path.clone(), root));
    if is_group {
        for (name, _) in members(store, &path)? {
            out.extend(walk(store, &join_key(&path, &name))?);
        }
    }
    Ok(out)
}

/// An open group.
#[derive(Debug, Clone)]
pub struct Group {
    store: StoreRef,
    path: String,
    meta: GroupMetadata,
}

impl Group {
    /// Opens the group at `path`.
    pub fn open(store: &StoreRef, path: &str) -> Result<Group> {
        let path = normalize_path(path)?;
        match read_node(store, &path)? {
            Some(NodeMetadata::Group(meta)) => Ok(Group {
                store: StoreRef::clone(store),
                path,
                meta,
            }),
            Some(NodeMetadata::Array(_)) => {
                Err(Error::invalid(format!("{path:?} is an array, not a group")))
            }
            None => Err(MetadataError::NotFound {
                path,
                looked_for: "zarr.json, .zgroup".into(),
            }
            .into()),
        }
    }

    /// Creates a group (and missing parents). Succeeds if a group exists
    /// already (its attributes are then replaced when `attrs` is non-empty).
    pub fn create(
        store: &StoreRef,
        path: &str,
        format: ZarrFormat,
        attrs: Attributes,
    ) -> Result<Group> {
        let path = normalize_path(path)?;
        match read_node(store, &path)? {
            Some(NodeMetadata::Array(_)) => {
                return Err(Error::AlreadyExists {
                    path,
                    what: "an array".into(),
                })
            }
            Some(NodeMetadata::Group(g)) if attrs.is_empty() => {
                return Ok(Group {
                    store: StoreRef::clone(store),
                    path,
                    meta: g,
                })
            }
            _ => {}
        }
        ensure_parent_groups(store, &path, format)?;
        let meta = GroupMetadata {
            zarr_format: format,
            attributes: attrs,
            extra: Attributes::new(),
        };
        write_group_metadata(store, &path, &meta)?;
        if !path.is_empty() {
            refresh_consolidated(store)?;
        }
        Ok(Group {
            store: StoreRef::clone(store),
            path,
            meta,
        })
    }

    /// Path ("" for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Metadata.
    pub fn metadata(&self) -> &GroupMetadata {
        &self.meta
    }

    /// Attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.meta.attributes
    }

    /// Replaces the attributes.
    pub fn set_attributes(&mut self, attrs: Attributes) -> Result<()> {
        let mut meta = self.meta.clone();
        meta.attributes = attrs;
        write_group_metadata(&self.store, &self.path, &meta)?;
        refresh_consolidated(&self.store)?;
        self.meta = match read_node(&self.store, &self.path)? {
            Some(NodeMetadata::Group(g)) => g,
            _ => meta,
        };
        Ok(())
    }

    /// Direct children.
    pub fn members(&self) -> Result<Vec<(String, NodeKind)>> {
        members(&self.store, &self.path)
    }
}

/// Sets the attributes of any node (array or group).
pub fn set_attributes(store: &StoreRef, path: &str, attrs: Attributes) -> Result<()> {
    let path = normalize_path(path)?;
    match read_node(store, &path)? {
        Some(NodeMetadata::Array(mut a)) => {
            a.attributes = attrs;
            write_array_metadata(store, &path, &a)?;
            refresh_consolidated(store)
        }
        Some(NodeMetadata::Group(mut g)) => {
            g.attributes = attrs;
            write_group_metadata(store, &path, &g)?;
            refresh_consolidated(store)
        }
        None => Err(MetadataError::NotFound {
            path,
            looked_for: "zarr.json, .zgroup, .zarray".into(),
        }
        .into()),
    }
}

/// Changes the attributes of any node with `f`, as one read-modify-write
/// that another process's concurrent update cannot undo: the stored
/// document is replaced only if it is still the one `f` saw, and otherwise
/// re-read and `f` applied again (so `f` may run more than once). Other
/// fields of the document are kept as stored. Returns the new attributes.
pub fn update_attributes(
    store: &StoreRef,
    path: &str,
    mut f: impl FnMut(&mut Attributes),
) -> Result<Attributes> {
    let path = normalize_path(path)?;
    let v3 = match read_node(store, &path)? {
        Some(NodeMetadata::Array(a)) => a.zarr_format == ZarrFormat::V3,
        Some(NodeMetadata::Group(g)) => g.zarr_format == ZarrFormat::V3,
        None => {
            return Err(MetadataError::NotFound {
                path,
                looked_for: "zarr.json, .zgroup, .zarray".into(),
            }
            .into())
        }
    };
    let key = join_key(&path, if v3 { "zarr.json" } else { ".zattrs" });
    let conditional = matches!(store.concurrency(), Concurrency::Atomic);
    for attempt in 0u32.. {
        let (stored, gen) = store.get_versioned(&key)?;
        let mut doc = match &stored {
            Some(b) => parse_json(b, &key)?,
            None if v3 => {
                return Err(MetadataError::NotFound {
                    path,
                    looked_for: "zarr.json".into(),
                }
                .into())
            }
            None => Value::Object(Attributes::new()),
        };
        let invalid = |reason: &str| MetadataError::Invalid {
            key: key.clone(),
            reason: reason.into(),
        };
        let attrs_slot = if v3 {
            let obj = doc
                .as_object_mut()
                .ok_or_else(|| invalid("not a JSON object"))?;
            obj.entry("attributes")
                .or_insert_with(|| Value::Object(Attributes::new()))
        } else {
            &mut doc
        };
        let attrs = attrs_slot
            .as_object_mut()
            .ok_or_else(|| invalid("attributes are not a JSON object"))?;
        f(attrs);
        let result = attrs.clone();
        let value = if !v3 && result.is_empty() {
            None
        } else {
            Some(to_pretty_json(&doc))
        };
        let done = if conditional {
            store.set_if(&key, value.as_deref(), &gen)?
        } else {
            match &value {
                Some(v) => store.set(&key, v)?,
                None => store.delete(&key)?,
            }
            true
        };
        if done {
            refresh_consolidated(store)?;
            return Ok(result);
        }
        if attempt >= 100 {
            return Err(Error::Store(crate::error::StoreError::Backend {
                key,
                message: "other processes kept changing the attributes; gave up after 100 attempts"
                    .into(),
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(1 + attempt as u64 % 8));
    }
    unreachable!("the loop returns")
}

/// Reads the consolidated metadata of the hierarchy rooted at `path`
/// (v2 `.zmetadata`, or zarr-python's inline v3 form), `None` if absent.
/// Paths in the result are relative to `path`.
pub fn read_consolidated_metadata(
    store: &StoreRef,
    path: &str,
) -> Result<Option<BTreeMap<String, NodeMetadata>>> {
    let path = normalize_path(path)?;
    let kz = join_key(&path, ".zmetadata");
    if let Some(doc) = get_json(&**store, &kz)? {
        return Ok(Some(read_consolidated(&doc, ZarrFormat::V2, &kz)?));
    }
    let k3 = join_key(&path, "zarr.json");
    if let Some(doc) = get_json(&**store, &k3)? {
        if let Some(c) = doc.get("consolidated_metadata").filter(|c| !c.is_null()) {
            return Ok(Some(read_consolidated(c, ZarrFormat::V3, &k3)?));
        }
    }
    Ok(None)
}

/// Writes consolidated metadata for the hierarchy rooted at the group
/// `path`: `.zmetadata` for v2, the inline `consolidated_metadata` for v3.
pub fn consolidate(store: &StoreRef, path: &str) -> Result<()> {
    let path = normalize_path(path)?;
    // Several processes may consolidate at once (each after changing some
    // node): the document is replaced only if nobody replaced it since this
    // process read it — read *before* the nodes, so that the last
    // successful consolidation read every node after the change that
    // triggered any earlier one. On a conflict, start over.
    let conditional = matches!(store.concurrency(), Concurrency::Atomic);
    for attempt in 0u32.. {
        let v2_key = join_key(&path, ".zmetadata");
        let v3_key = join_key(&path, "zarr.json");
        let (_, g2) = store.get_versioned(&v2_key)?;
        let (_, g3) = store.get_versioned(&v3_key)?;
        let (key, doc, gen) = consolidated_document(store, &path, v2_key, v3_key, g2, g3)?;
        let bytes = to_pretty_json(&doc);
        if !conditional {
            store.set(&key, &bytes)?;
            return Ok(());
        }
        if store.set_if(&key, Some(&bytes), &gen)? {
            return Ok(());
        }
        if attempt >= 100 {
            return Err(Error::Store(crate::error::StoreError::Backend {
                key,
                message: "other processes kept changing the consolidated metadata; gave up after 100 attempts".into(),
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(1 + attempt as u64));
    }
    unreachable!("the loop returns")
}

/// The consolidated document of the group at `path` from its nodes as
/// stored now: (its key, the document, the generation it replaces).
fn consolidated_document(
    store: &StoreRef,
    path: &str,
    v2_key: String,
    v3_key: String,
    g2: Generation,
    g3: Generation,
) -> Result<(String, Value, Generation)> {
    let prefix_len = if path.is_empty() { 0 } else { path.len() + 1 };
    let mut rel: BTreeMap<String, NodeMetadata> = BTreeMap::new();
    // Nodes zarrcore cannot parse (an unsupported data type or codec) are
    // carried over as stored, so that consolidating never drops a node.
    let mut raw: Vec<(String, NodeEntry)> = Vec::new();
    for e in walk_entries(store, path)? {
        let p = e.path.get(prefix_len..).unwrap_or("").to_string();
        match e.metadata {
            Ok(m) => {
                rel.insert(p, m);
            }
            Err(err) if e.raw.is_none() || p.is_empty() => return Err(err),
            Err(_) => raw.push((p, e)),
        }
    }
    match rel.get("") {
        Some(NodeMetadata::Group(g)) if g.zarr_format == ZarrFormat::V2 => {
            let mut doc = consolidated_v2(&rel);
            if let Some(m) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
                for (p, e) in raw {
                    let doc_name = match e.kind {
                        NodeKind::Array => ".zarray",
                        NodeKind::Group => ".zgroup",
                    };
                    if let Some(r) = e.raw {
                        m.insert(join_key(&p, doc_name), r);
                    }
                    if let Some(a) = e
                        .raw_attrs
                        .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
                    {
                        m.insert(join_key(&p, ".zattrs"), a);
                    }
                }
            }
            Ok((v2_key, doc, g2))
        }
        Some(NodeMetadata::Group(g)) => {
            let mut g = g.clone();
            let mut inline = consolidated_v3_inline(&rel);
            if let Some(m) = inline.get_mut("metadata").and_then(Value::as_object_mut) {
                for (p, e) in raw {
                    if let Some(r) = e.raw {
                        m.insert(p, r);
                    }
                }
            }
            g.extra.insert("consolidated_metadata".into(), inline);
            Ok((v3_key, v3_group_json(&g), g3))
        }
        _ => Err(Error::invalid(format!("{path:?} is not a group"))),
    }
}

/// Rewrites the root's consolidated metadata if the store has some, so that
/// readers that trust it (zarr-python) see nodes created or deleted since.
pub fn refresh_consolidated(store: &StoreRef) -> Result<()> {
    let has = store.size(".zmetadata")?.is_some()
        || matches!(
            get_json(&**store, "zarr.json")?,
            Some(ref d) if d.get("consolidated_metadata").is_some_and(|c| !c.is_null())
        );
    if has && matches!(read_node(store, "")?, Some(NodeMetadata::Group(_))) {
        consolidate(store, "")?;
    }
    Ok(())
}

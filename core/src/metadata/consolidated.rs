//! Consolidated metadata: v2's `.zmetadata` and zarr-python's inline v3
//! `consolidated_metadata` in the root group's `zarr.json`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    parse_v2_array, parse_v2_group, parse_v3_node, v2_array_json, v3_array_json, v3_group_json,
    NodeMetadata, ZarrFormat,
};
use crate::error::MetadataError;

/// Parses consolidated metadata into `relative path → node`.
///
/// For v2 `doc` is the `.zmetadata` document; for v3 it is the value of the
/// root group's `consolidated_metadata` field. Entries of nodes with an
/// unsupported data type, codec or extension are left out (they are listed
/// by [`crate::hierarchy::walk_entries`], and fail only when opened); any
/// other malformed entry is an error.
pub fn read_consolidated(
    doc: &Value,
    format: ZarrFormat,
    key: &str,
) -> Result<BTreeMap<String, NodeMetadata>, MetadataError> {
    let invalid = |reason: String| MetadataError::Invalid {
        key: key.to_string(),
        reason,
    };
    let meta = doc
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("consolidated metadata has no \"metadata\" object".into()))?;
    let mut out = BTreeMap::new();
    match format {
        ZarrFormat::V3 => {
            for (path, node) in meta {
                let node_key = format!("{key}#{path}");
                match parse_v3_node(node, &node_key) {
                    Ok(n) => {
                        out.insert(path.clone(), n);
                    }
                    Err(MetadataError::Unsupported { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        ZarrFormat::V2 => {
            for (k, v) in meta {
                let (dir, file) = match k.rsplit_once('/') {
                    Some((d, f)) => (d, f),
                    None => ("", k.as_str()),
                };
                let attrs_key = if dir.is_empty() {
                    ".zattrs".to_string()
                } else {
                    format!("{dir}/.zattrs")
                };
                let node_key = format!("{key}#{k}");
                let node = match file {
                    ".zarray" => match parse_v2_array(v, meta.get(&attrs_key), &node_key) {
                        Ok(a) => NodeMetadata::Array(Box::new(a)),
                        Err(MetadataError::Unsupported { .. }) => continue,
                        Err(e) => return Err(e),
                    },
                    ".zgroup" => {
                        NodeMetadata::Group(parse_v2_group(v, meta.get(&attrs_key), &node_key)?)
                    }
                    _ => continue,
                };
                out.insert(dir.to_string(), node);
            }
        }
    }
    Ok(out)
}

/// Builds a v2 `.zmetadata` document from `relative path → node` (the root
/// group is the path `""`).
pub fn consolidated_v2(nodes: &BTreeMap<String, NodeMetadata>) -> Value {
    let mut meta = Map::new();
    for (path, node) in nodes {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let attrs = match node {
            NodeMetadata::Array(a) => {
                meta.insert(format!("{prefix}.zarray"), v2_array_json(a));
                &a.attributes
            }
            NodeMetadata::Group(g) => {
                meta.insert(format!("{prefix}.zgroup"), json!({"zarr_format": 2}));
                &g.attributes
            }
        };
        if !attrs.is_empty() {
            meta.insert(format!("{prefix}.zattrs"), Value::Object(attrs.clone()));
        }
    }
    json!({"metadata": meta, "zarr_consolidated_format": 1})
}

/// Builds zarr-python's inline `consolidated_metadata` value for a v3 group
/// from `relative path → node` (descendants only, not the group itself).
pub fn consolidated_v3_inline(nodes: &BTreeMap<String, NodeMetadata>) -> Value {
    let mut meta = Map::new();
    for (path, node) in nodes {
        if path.is_empty() {
            continue;
        }
        let doc = match node {
            NodeMetadata::Array(a) => v3_array_json(a),
            NodeMetadata::Group(g) => {
                // zarr-python nests an empty inline block in child groups.
                let mut g = g.clone();
                g.extra.insert(
                    "consolidated_metadata".into(),
                    json!({"kind": "inline", "must_understand": false, "metadata": {}}),
                );
                v3_group_json(&g)
            }
        };
        meta.insert(path.clone(), doc);
    }
    json!({"kind": "inline", "must_understand": false, "metadata": meta})
}

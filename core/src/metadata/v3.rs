//! Zarr v3: `zarr.json` of arrays and groups.

use serde_json::{json, Map, Value};

use super::v2::unsupported_detail;
use super::{
    attributes_from, shape_from_json, ArrayMetadata, Attributes, ChunkKeyEncoding, GroupMetadata,
    NodeMetadata, Order, ZarrFormat,
};
use crate::codec::{ChunkSpec, CodecChain};
use crate::dtype::{DataType, Endian};
use crate::error::MetadataError;
use crate::fill::FillValue;

const ARRAY_KEYS: &[&str] = &[
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "storage_transformers",
];
/// v3 data type names with a configuration that zarrcore reads (a bad
/// configuration of one of these is invalid metadata, not an unsupported type).
const KNOWN_DATA_TYPES: &[&str] = &[
    "null_terminated_bytes",
    "raw_bytes",
    "fixed_length_utf32",
    "numpy.datetime64",
    "numpy.timedelta64",
    "structured",
];
const GROUP_KEYS: &[&str] = &["zarr_format", "node_type", "attributes"];

/// Splits unknown top-level keys: extensions with `must_understand: false` are
/// kept; anything else is refused, naming it.
fn extensions(
    doc: &Map<String, Value>,
    known: &[&str],
    key: &str,
) -> Result<Attributes, MetadataError> {
    let mut extra = Attributes::new();
    for (k, v) in doc {
        if known.contains(&k.as_str()) {
            continue;
        }
        let optional = v.get("must_understand").and_then(Value::as_bool) == Some(false)
            // zarr-python writes `consolidated_metadata` (null, or an object
            // with must_understand false) on groups.
            || (k == "consolidated_metadata" && (v.is_null() || v.is_object()));
        if optional {
            extra.insert(k.clone(), v.clone());
        } else {
            return Err(MetadataError::Unsupported {
                key: key.to_string(),
                what: "extension",
                name: k.clone(),
                detail: " (it does not set must_understand: false)".into(),
            });
        }
    }
    Ok(extra)
}

fn named<'a>(v: &'a Value, field: &str, key: &str) -> Result<(&'a str, Value), MetadataError> {
    match v {
        Value::String(s) => Ok((s, Value::Object(Map::new()))),
        Value::Object(o) => {
            let name =
                o.get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| MetadataError::Invalid {
                        key: key.to_string(),
                        reason: format!("{field} has no \"name\""),
                    })?;
            Ok((
                name,
                o.get("configuration")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            ))
        }
        other => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!("{field} {other} is neither a name nor an object"),
        }),
    }
}

/// Parses a `zarr.json` document.
pub fn parse_v3_node(doc: &Value, key: &str) -> Result<NodeMetadata, MetadataError> {
    let invalid = |reason: String| MetadataError::Invalid {
        key: key.to_string(),
        reason,
    };
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("zarr.json is not a JSON object".into()))?;
    match obj.get("zarr_format").and_then(Value::as_u64) {
        Some(3) => {}
        other => {
            return Err(invalid(format!(
                "zarr_format is {}, expected 3",
                other.map_or("missing".to_string(), |v| v.to_string())
            )))
        }
    }
    match obj.get("node_type").and_then(Value::as_str) {
        Some("group") => Ok(NodeMetadata::Group(GroupMetadata {
            zarr_format: ZarrFormat::V3,
            attributes: attributes_from(obj.get("attributes"), key)?,
            extra: extensions(obj, GROUP_KEYS, key)?,
        })),
        Some("array") => parse_array(obj, key).map(|a| NodeMetadata::Array(Box::new(a))),
        other => Err(invalid(format!(
            "node_type {other:?} (expected \"array\" or \"group\")"
        ))),
    }
}

fn parse_array(obj: &Map<String, Value>, key: &str) -> Result<ArrayMetadata, MetadataError> {
    let invalid = |reason: String| MetadataError::Invalid {
        key: key.to_string(),
        reason,
    };
    let shape = shape_from_json(obj.get("shape"), "shape", key)?;
    let dt_json = obj
        .get("data_type")
        .ok_or_else(|| invalid("data_type is required".into()))?;
    let (dt_name, _) = named(dt_json, "data_type", key)?;
    let data_type = DataType::from_v3_json(dt_json).map_err(|reason| {
        if KNOWN_DATA_TYPES.contains(&dt_name) {
            invalid(format!("data_type {dt_json}: {reason}"))
        } else {
            MetadataError::Unsupported {
                key: key.to_string(),
                what: "data type",
                name: dt_name.to_string(),
                detail: unsupported_detail(&reason),
            }
        }
    })?;
    let (grid_name, grid_cfg) = named(
        obj.get("chunk_grid")
            .ok_or_else(|| invalid("chunk_grid is required".into()))?,
        "chunk_grid",
        key,
    )?;
    if grid_name != "regular" {
        return Err(MetadataError::Unsupported {
            key: key.to_string(),
            what: "chunk grid",
            name: grid_name.to_string(),
            detail: String::new(),
        });
    }
    let chunk_shape = shape_from_json(grid_cfg.get("chunk_shape"), "chunk_shape", key)?;
    let chunk_key_encoding = match obj.get("chunk_key_encoding") {
        None => ChunkKeyEncoding::Default { separator: '/' },
        Some(v) => {
            let (name, cfg) = named(v, "chunk_key_encoding", key)?;
            let sep = match cfg.get("separator") {
                None => None,
                Some(Value::String(s)) if s == "/" => Some('/'),
                Some(Value::String(s)) if s == "." => Some('.'),
                Some(other) => {
                    return Err(invalid(format!(
                        "chunk_key_encoding separator {other} (expected \"/\" or \".\")"
                    )))
                }
            };
            match name {
                "default" => ChunkKeyEncoding::Default {
                    separator: sep.unwrap_or('/'),
                },
                "v2" => ChunkKeyEncoding::V2 {
                    separator: sep.unwrap_or('.'),
                },
                other => {
                    return Err(MetadataError::Unsupported {
                        key: key.to_string(),
                        what: "chunk key encoding",
                        name: other.to_string(),
                        detail: String::new(),
                    })
                }
            }
        }
    };
    let fill_value = FillValue::from_json(
        obj.get("fill_value")
            .ok_or_else(|| invalid("fill_value is required".into()))?,
        data_type,
        ZarrFormat::V3,
    )
    .map_err(invalid)?;
    if shape.len() != chunk_shape.len() {
        return Err(invalid(format!(
            "shape {shape:?} and chunk_shape {chunk_shape:?} have different ranks"
        )));
    }
    if chunk_shape.contains(&0) {
        return Err(invalid(format!(
            "chunk_shape {chunk_shape:?} has a zero dimension"
        )));
    }
    let spec = ChunkSpec {
        shape: chunk_shape.iter().map(|&c| c as usize).collect(),
        dtype: data_type,
        fill: fill_value.clone(),
    };
    let codecs = CodecChain::from_v3_json(
        obj.get("codecs")
            .ok_or_else(|| invalid("codecs is required".into()))?,
        &spec,
        key,
    )?;
    match obj.get("storage_transformers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) => {
            let name = a
                .first()
                .and_then(|t| named(t, "storage transformer", key).ok())
                .map_or("?".to_string(), |(n, _)| n.to_string());
            return Err(MetadataError::Unsupported {
                key: key.to_string(),
                what: "storage transformer",
                name,
                detail: String::new(),
            });
        }
        Some(other) => {
            return Err(invalid(format!(
                "storage_transformers {other} is not a list"
            )))
        }
    }
    let dimension_names = match obj.get("dimension_names") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.len() == shape.len() => Some(a.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "dimension_names {other} must be a list of {} names",
                shape.len()
            )))
        }
    };
    let meta = ArrayMetadata {
        zarr_format: ZarrFormat::V3,
        shape,
        chunk_shape,
        data_type,
        endian: Endian::Little,
        fill_value,
        chunk_key_encoding,
        codecs,
        order: Order::C,
        attributes: attributes_from(obj.get("attributes"), key)?,
        dimension_names,
        extra: extensions(obj, ARRAY_KEYS, key)?,
    };
    meta.validate(key)?;
    Ok(meta)
}

/// The `zarr.json` document of an array.
pub fn v3_array_json(m: &ArrayMetadata) -> Value {
    let mut doc = json!({
        "shape": m.shape,
        "data_type": m.data_type.v3_json().unwrap_or_else(|| Value::from("unsupported")),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": m.chunk_shape}},
        "chunk_key_encoding": m.chunk_key_encoding.to_v3_json(),
        "fill_value": m.fill_value.to_json(m.data_type, ZarrFormat::V3),
        "codecs": m.codecs.to_v3_json(),
        "attributes": m.attributes,
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    });
    if let (Some(names), Some(o)) = (&m.dimension_names, doc.as_object_mut()) {
        o.insert("dimension_names".into(), Value::Array(names.clone()));
    }
    if let Some(o) = doc.as_object_mut() {
        for (k, v) in &m.extra {
            o.insert(k.clone(), v.clone());
        }
    }
    doc
}

/// The `zarr.json` document of a group.
pub fn v3_group_json(g: &GroupMetadata) -> Value {
    let mut doc = json!({
        "attributes": g.attributes,
        "zarr_format": 3,
        "node_type": "group",
    });
    if let Some(o) = doc.as_object_mut() {
        for (k, v) in &g.extra {
            o.insert(k.clone(), v.clone());
        }
    }
    doc
}

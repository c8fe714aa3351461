//! Zarr v2: `.zarray`, `.zgroup`, `.zattrs`.

use serde_json::{json, Value};

use super::{
    attributes_from, shape_from_json, ArrayMetadata, Attributes, ChunkKeyEncoding, GroupMetadata,
    Order, ZarrFormat,
};
use crate::codec::{chain_from_v2_with_filters, ArrayToArray, ArrayToBytes};
use crate::dtype::{DataType, Endian};
use crate::error::MetadataError;
use crate::fill::FillValue;

fn check_format(doc: &Value, key: &str) -> Result<(), MetadataError> {
    match doc.get("zarr_format").and_then(Value::as_u64) {
        Some(2) => Ok(()),
        other => Err(MetadataError::Invalid {
            key: key.to_string(),
            reason: format!(
                "zarr_format is {}, expected 2",
                other.map_or("missing".to_string(), |v| v.to_string())
            ),
        }),
    }
}

/// Parses `.zattrs` (absent means no attributes).
pub fn parse_v2_attrs(doc: Option<&Value>, key: &str) -> Result<Attributes, MetadataError> {
    attributes_from(doc, key)
}

/// Parses `.zgroup` and the group's `.zattrs`.
pub fn parse_v2_group(
    doc: &Value,
    attrs: Option<&Value>,
    key: &str,
) -> Result<GroupMetadata, MetadataError> {
    check_format(doc, key)?;
    Ok(GroupMetadata {
        zarr_format: ZarrFormat::V2,
        attributes: parse_v2_attrs(attrs, key)?,
        extra: Attributes::new(),
    })
}

/// Parses `.zarray` and the array's `.zattrs`.
pub fn parse_v2_array(
    doc: &Value,
    attrs: Option<&Value>,
    key: &str,
) -> Result<ArrayMetadata, MetadataError> {
    check_format(doc, key)?;
    let invalid = |reason: String| MetadataError::Invalid {
        key: key.to_string(),
        reason,
    };
    let shape = shape_from_json(doc.get("shape"), "shape", key)?;
    let chunk_shape = shape_from_json(doc.get("chunks"), "chunks", key)?;
    let dtype_json = doc
        .get("dtype")
        .ok_or_else(|| invalid("dtype is required".into()))?;
    // A `|O` array: its object codec (vlen-utf8 / vlen-bytes) is the only
    // filter or the compressor, and gives the data type.
    let object = match dtype_json {
        Value::String(s) => {
            crate::codec::vlen::v2_object_codec(s, doc.get("filters"), doc.get("compressor"), key)?
        }
        _ => None,
    };
    let (data_type, endian) = match object {
        Some(o) => (o.codec.data_type(), None),
        None => {
            DataType::from_v2_json(dtype_json).map_err(|reason| MetadataError::Unsupported {
                key: key.to_string(),
                what: "data type",
                name: match dtype_json {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                detail: unsupported_detail(&reason),
            })?
        }
    };
    if dtype_json.as_str().is_some_and(|s| s.starts_with('|')) && data_type.has_byte_order() {
        return Err(invalid(format!(
            "dtype {dtype_json} needs a byte order (< or >)"
        )));
    }
    let order = match doc.get("order").and_then(Value::as_str) {
        Some("C") | None => Order::C,
        Some("F") => Order::F,
        Some(o) => return Err(invalid(format!("order {o:?} (expected \"C\" or \"F\")"))),
    };
    let separator = match doc.get("dimension_separator") {
        None | Some(Value::Null) => '.',
        Some(Value::String(s)) if s == "." => '.',
        Some(Value::String(s)) if s == "/" => '/',
        Some(other) => {
            return Err(invalid(format!(
                "dimension_separator {other} (expected \".\" or \"/\")"
            )))
        }
    };
    let fill_value = FillValue::from_json(
        doc.get("fill_value").unwrap_or(&Value::Null),
        data_type,
        ZarrFormat::V2,
    )
    .map_err(invalid)?;
    let mut codecs = chain_from_v2_with_filters(
        data_type,
        endian,
        order == Order::F,
        shape.len(),
        // The object codec of a `|O` array was taken from the filters or
        // the compressor above.
        doc.get("filters").filter(|_| object.is_none()),
        doc.get("compressor")
            .filter(|_| !object.is_some_and(|o| o.in_compressor)),
        key,
    )?;
    if let Some(o) = object {
        // Items are stored in `order`; the string reader applies it itself.
        codecs.array_to_array.clear();
        codecs.array_to_bytes = ArrayToBytes::Vlen(o.codec);
    }
    let meta = ArrayMetadata {
        zarr_format: ZarrFormat::V2,
        shape,
        chunk_shape,
        data_type,
        endian: endian.unwrap_or(Endian::Little),
        fill_value,
        chunk_key_encoding: ChunkKeyEncoding::V2 { separator },
        codecs,
        order,
        attributes: parse_v2_attrs(attrs, key)?,
        dimension_names: None,
        extra: Attributes::new(),
    };
    meta.validate(key)?;
    Ok(meta)
}

/// The `.zarray` document of a v2 array (attributes go to `.zattrs`).
pub fn v2_array_json(m: &ArrayMetadata) -> Value {
    // The last bytes→bytes codec is the compressor unless it is a filter;
    // everything before it is a numcodecs filter.
    let b2b = &m.codecs.bytes_to_bytes;
    let (filters, compressor) = match b2b.split_last() {
        Some((last, rest)) if !last.is_filter() => (rest, last.to_v2()),
        _ => (&b2b[..], None),
    };
    let compressor = compressor.unwrap_or(Value::Null);
    let filters: Vec<Value> = filters.iter().filter_map(|c| c.to_v2()).collect();
    let filters = if filters.is_empty() {
        Value::Null
    } else {
        Value::Array(filters)
    };
    let sep = match m.chunk_key_encoding {
        ChunkKeyEncoding::V2 { separator } | ChunkKeyEncoding::Default { separator } => separator,
    };
    let order = if m
        .codecs
        .array_to_array
        .iter()
        .any(|ArrayToArray::Transpose(t)| t.order.first().is_some_and(|&o| o != 0))
        || m.order == Order::F
    {
        "F"
    } else {
        "C"
    };
    let endian = match &m.codecs.array_to_bytes {
        ArrayToBytes::Bytes(b) => b.endian.unwrap_or(m.endian),
        ArrayToBytes::Sharding(_) | ArrayToBytes::Vlen(_) => m.endian,
    };
    // A `|O` array's object codec (vlen-utf8 / vlen-bytes) is its first filter.
    let filters = match (&m.codecs.array_to_bytes, filters) {
        (ArrayToBytes::Vlen(v), Value::Array(mut rest)) => {
            rest.insert(0, v.to_v2());
            Value::Array(rest)
        }
        (ArrayToBytes::Vlen(v), _) => json!([v.to_v2()]),
        (_, filters) => filters,
    };
    json!({
        "shape": m.shape,
        "chunks": m.chunk_shape,
        "dtype": m.data_type.v2_json(endian),
        "fill_value": m.fill_value.to_json(m.data_type, ZarrFormat::V2),
        "order": order,
        "filters": filters,
        "dimension_separator": sep.to_string(),
        "compressor": compressor,
        "zarr_format": 2,
    })
}

/// The detail of an unsupported-data-type error: what the parser said after
/// naming the type (the error names it already).
pub(super) fn unsupported_detail(reason: &str) -> String {
    match reason.strip_prefix("unsupported data type ") {
        Some(rest) => match rest.find("\": ") {
            Some(i) => rest[i + 1..].to_string(),
            None => String::new(),
        },
        None => format!(": {reason}"),
    }
}

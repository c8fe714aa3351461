//! JSON text in and out of the C API.

use serde_json::{Map, Value};

use crate::status::{FfiError, ZARRCORE_E_INTERNAL};

/// Parses a JSON argument.
pub(crate) fn parse(text: &str, arg: &str) -> Result<Value, FfiError> {
    serde_json::from_str(text)
        .map_err(|e| FfiError::invalid(arg, format!("is not valid JSON: {e}")))
}

/// Parses a JSON object argument (attributes).
pub(crate) fn parse_object(text: &str, arg: &str) -> Result<Map<String, Value>, FfiError> {
    match parse(text, arg)? {
        Value::Object(m) => Ok(m),
        other => Err(FfiError::invalid(
            arg,
            format!("must be a JSON object, not {}", kind(&other)),
        )),
    }
}

/// What kind of JSON value `v` is, for messages ("an array").
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Serialises a value (compact).
pub(crate) fn to_string(v: &Value) -> Result<String, FfiError> {
    serde_json::to_string(v)
        .map_err(|e| FfiError::new(ZARRCORE_E_INTERNAL, format!("cannot serialise JSON: {e}")))
}

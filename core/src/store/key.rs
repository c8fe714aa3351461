//! Key and node-path validation: the single gate that keeps every entry point
//! (Rust API, C API, CLI, mount) inside its store.

use crate::error::StoreError;

/// Marker in the names of temporary files written by atomic `set`s.
pub const TEMP_MARKER: &str = ".zarrcore-tmp.";

/// Whether a file name (last key segment) is a temporary of an atomic write.
pub fn is_temp_name(name: &str) -> bool {
    name.contains(TEMP_MARKER)
}

fn invalid(key: &str, reason: &str) -> StoreError {
    StoreError::InvalidKey {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// Checks a store key: non-empty `/`-separated segments, none `.` or `..`, no
/// NUL, no backslash, no leading `/`, and not a temporary-file name.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(invalid(key, "empty key"));
    }
    if key.starts_with('/') {
        return Err(invalid(key, "keys are relative (no leading '/')"));
    }
    check_segments(key)
}

fn check_segments(key: &str) -> Result<(), StoreError> {
    if key.contains('\0') {
        return Err(invalid(key, "contains a NUL byte"));
    }
    if key.contains('\\') {
        return Err(invalid(key, "contains a backslash"));
    }
    for seg in key.split('/') {
        match seg {
            "" => return Err(invalid(key, "has an empty path segment")),
            "." | ".." => return Err(invalid(key, "has a '.' or '..' segment")),
            s if is_temp_name(s) => return Err(invalid(key, "names a temporary file")),
            _ => {}
        }
    }
    Ok(())
}

/// Normalises a node path given by a user: leading and trailing `/` mean the
/// store root and are stripped (`""`, `/` → root); the rest must be valid
/// key segments.
pub fn normalize_path(path: &str) -> Result<String, StoreError> {
    let p = path.trim_start_matches('/').trim_end_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    check_segments(p).map_err(|e| match e {
        StoreError::InvalidKey { reason, .. } => StoreError::InvalidKey {
            key: path.to_string(),
            reason,
        },
        other => other,
    })?;
    Ok(p.to_string())
}

/// Joins a node path and a relative key.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in [
            "a",
            "a/b/zarr.json",
            "c/0/1",
            ".zarray",
            "x/.zattrs",
            "..a",
            "a..",
        ] {
            validate_key(ok).unwrap();
        }
        for bad in [
            "",
            "/a",
            "a//b",
            "a/../b",
            "..",
            ".",
            "a/./b",
            "a\0b",
            "a\\b",
            "a/",
            "x/.c.zarrcore-tmp.1.2",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize_path("/").unwrap(), "");
        assert_eq!(normalize_path("/g/a/").unwrap(), "g/a");
        assert!(normalize_path("g/../../etc").is_err());
    }
}

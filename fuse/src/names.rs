//! How nodes of the hierarchy are named in the mount: a group is a
//! directory; an array `a` is the files `a.npy`, `a.raw` and `a.json`; a
//! root array is `array.npy`, `array.raw` and `array.json`.

use zarrcore::store::{join_key, validate_key};

/// Stem of the files of an array at the store root.
pub(crate) const ROOT_ARRAY_STEM: &str = "array";

/// One of the three files of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ViewKind {
    /// `.npy`: a NumPy header, then the data.
    Npy,
    /// `.raw`: the data alone.
    Raw,
    /// `.json`: the metadata document.
    Json,
}

impl ViewKind {
    /// All kinds, in listing order.
    pub const ALL: [ViewKind; 3] = [ViewKind::Npy, ViewKind::Raw, ViewKind::Json];

    /// The file extension, with its dot.
    pub fn ext(self) -> &'static str {
        match self {
            ViewKind::Npy => ".npy",
            ViewKind::Raw => ".raw",
            ViewKind::Json => ".json",
        }
    }

    /// Splits `x.npy` into `("x", Npy)`.
    pub fn split(name: &str) -> Option<(&str, ViewKind)> {
        ViewKind::ALL.into_iter().find_map(|k| {
            name.strip_suffix(k.ext())
                .filter(|stem| !stem.is_empty())
                .map(|stem| (stem, k))
        })
    }

    /// Whether the file holds array data (`.npy`, `.raw`).
    pub fn is_data(self) -> bool {
        !matches!(self, ViewKind::Json)
    }
}

/// The file name of view `kind` of the array at `array_path`.
pub(crate) fn view_name(array_path: &str, kind: ViewKind) -> String {
    let stem = if array_path.is_empty() {
        ROOT_ARRAY_STEM
    } else {
        array_path.rsplit('/').next().unwrap_or(array_path)
    };
    format!("{stem}{}", kind.ext())
}

/// The node path of child `name` of the directory at `dir`, if `name` is a
/// valid node name.
pub(crate) fn child_path(dir: &str, name: &str) -> Option<String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let p = join_key(dir, name);
    validate_key(&p).ok()?;
    Some(p)
}

/// The directory part of a node path ("" for top-level nodes).
pub(crate) fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(ViewKind::split("a.npy"), Some(("a", ViewKind::Npy)));
        assert_eq!(ViewKind::split("a.b.json"), Some(("a.b", ViewKind::Json)));
        assert_eq!(ViewKind::split(".npy"), None);
        assert_eq!(ViewKind::split("a"), None);
        assert_eq!(view_name("g/h/a", ViewKind::Raw), "a.raw");
        assert_eq!(view_name("", ViewKind::Npy), "array.npy");
        assert_eq!(child_path("g", "a").as_deref(), Some("g/a"));
        assert_eq!(child_path("", "a").as_deref(), Some("a"));
        assert_eq!(child_path("", ".."), None);
        assert_eq!(parent_path("g/h/a"), "g/h");
        assert_eq!(parent_path("a"), "");
    }
}

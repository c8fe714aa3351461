//! Path-escape attempts through every Rust entry point: `..` segments, NUL
//! bytes, backslashes, empty segments, temporary-file names, and symbolic
//! links out of a directory store. Each attempt fails with a clear error and
//! creates, changes or deletes nothing outside the store (a sentinel
//! directory beside the store is compared before and after). A leading `/`
//! means the store root.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use zarrcore::error::{Error, StoreError};
use zarrcore::hierarchy::{self, Group};
use zarrcore::store::ByteRange;
use zarrcore::{
    open_store, Array, ArrayBuilder, Attributes, DataType, Mode, Region, StoreOptions, StoreRef,
    ZarrFormat,
};

/// Every path under `dir` with its content (files) or target (links).
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, String)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.push((
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                ));
            } else if ft.is_dir() {
                out.push((rel, "dir".into()));
                walk(base, &p, out);
            } else {
                out.push((rel, format!("{:?}", std::fs::read(&p).unwrap())));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

struct Setup {
    _tmp: tempfile::TempDir,
    top: PathBuf,
    store_dir: PathBuf,
    store: StoreRef,
}

/// `top/outside/` (the sentinel, with a secret file and a fake array),
/// `top/store/` with links `link_dir -> ../outside`, `link_file ->
/// ../outside/secret`, `link_abs -> /` and a normal array `ok`.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().to_path_buf();
    let outside = top.join("outside");
    std::fs::create_dir_all(outside.join("arr")).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::fs::write(
        outside.join("arr/.zarray"),
        br#"{"zarr_format":2,"shape":[4],"chunks":[4],"dtype":"|u1","compressor":null,"fill_value":0,"order":"C","filters":null}"#,
    )
    .unwrap();
    std::fs::write(outside.join("arr/0"), [1u8, 2, 3, 4]).unwrap();
    let store_dir = top.join("store");
    std::fs::create_dir(&store_dir).unwrap();
    symlink("../outside", store_dir.join("link_dir")).unwrap();
    symlink("../outside/secret", store_dir.join("link_file")).unwrap();
    symlink("/", store_dir.join("link_abs")).unwrap();
    let store = open_store(store_dir.to_str().unwrap(), StoreOptions::create()).unwrap();
    let a = ArrayBuilder::new(vec![4], DataType::UInt8)
        .chunks(vec![2])
        .create(&store, "ok")
        .unwrap();
    a.write_region(&Region::all(&[4]), &[9, 8, 7, 6]).unwrap();
    a.close().unwrap();
    Setup {
        _tmp: tmp,
        top,
        store_dir,
        store,
    }
}

const BAD_KEYS: &[&str] = &[
    "../x",
    "../outside/secret",
    "a/../../outside/secret",
    "ok/../../outside/secret",
    "..",
    ".",
    "a/./b",
    "a//b",
    "a\0b",
    "a\\..\\b",
    "/abs/key",
    "",
    "ok/c/.0.zarrcore-tmp.1.1",
];

/// Keys that are lexically fine but resolve outside through a link.
const LINK_KEYS: &[&str] = &[
    "link_dir/secret",
    "link_dir/arr/.zarray",
    "link_file",
    "link_abs/etc/passwd",
    "link_dir/new/zarr.json",
];

const BAD_PATHS: &[&str] = &[
    "..",
    "../outside",
    "g/../../outside",
    "/../outside",
    "a\0b",
    "a\\b",
    "g//h",
    "./g",
];

fn is_refusal(e: &Error) -> bool {
    let s = e.to_string();
    matches!(e, Error::Store(StoreError::InvalidKey { .. }))
        || s.contains("outside the store")
        || matches!(e, Error::Metadata(_))
}

#[test]
fn store_methods_refuse_escaping_keys() {
    let s = setup();
    let outside_before = snapshot(&s.top.join("outside"));
    let top_before: Vec<String> = std::fs::read_dir(&s.top)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let st = &s.store;
    for key in BAD_KEYS {
        for (op, r) in [
            ("get", st.get(key).map(|_| ())),
            (
                "get_range",
                st.get_range(key, ByteRange::Range { offset: 0, len: 1 })
                    .map(|_| ()),
            ),
            ("size", st.size(key).map(|_| ())),
            ("set", st.set(key, b"pwned")),
            ("delete", st.delete(key)),
        ] {
            match r {
                Err(StoreError::InvalidKey { key: k, reason }) => {
                    assert_eq!(&k, key, "{op} {key:?}");
                    assert!(!reason.is_empty());
                }
                other => panic!("{op} {key:?}: expected InvalidKey, got {other:?}"),
            }
        }
    }
    for prefix in ["..", "../outside", "a/../..", "a\0"] {
        assert!(st.list_dir(prefix).is_err(), "list_dir {prefix:?}");
        assert!(
            st.delete_prefix(prefix).is_err(),
            "delete_prefix {prefix:?}"
        );
        assert!(
            st.list_prefix(&format!("{prefix}/")).is_err(),
            "list_prefix {prefix:?}"
        );
    }
    for key in LINK_KEYS {
        match st.get(key) {
            Err(e) => assert!(
                e.to_string().contains("outside the store"),
                "get {key}: {e}"
            ),
            Ok(v) => panic!("get {key:?} through a link out of the store: {v:?}"),
        }
        assert!(st.size(key).is_err(), "size {key}");
        // A write either fails or, when the key itself is the link,
        // replaces the link by a file inside the store (rename never
        // follows it); either way nothing outside changes (checked below).
        if let Err(e) = st.set(key, b"pwned") {
            assert!(
                e.to_string().contains("outside the store"),
                "set {key}: {e}"
            );
        } else {
            assert_eq!(*key, "link_file", "set {key:?} succeeded");
            let p = s.store_dir.join(key);
            assert!(std::fs::symlink_metadata(&p).unwrap().is_file());
            assert_eq!(st.get(key).unwrap().unwrap().as_ref(), b"pwned");
        }
        let _ = st.delete(key);
    }
    // Listing through a link out of the store fails instead of listing.
    assert!(st.list_dir("link_dir").is_err());
    assert!(st.list_prefix("link_dir/").is_err());
    let _ = st.delete_prefix("link_dir");
    let _ = st.delete_prefix("link_abs");
    assert_eq!(snapshot(&s.top.join("outside")), outside_before);
    let mut top_after: Vec<String> = std::fs::read_dir(&s.top)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top_after.sort();
    let mut tb = top_before;
    tb.sort();
    assert_eq!(top_after, tb);
    assert!(Path::new("/etc/passwd").exists());
}

#[test]
fn array_and_group_entry_points_refuse_escaping_paths() {
    let s = setup();
    let before = snapshot(&s.top.join("outside"));
    let st = &s.store;
    let doc = serde_json::json!({"zarr_format": 3, "node_type": "array", "shape": [4],
        "data_type": "uint8", "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0, "codecs": [{"name": "bytes"}]});
    for path in BAD_PATHS
        .iter()
        .chain(["link_dir/arr", "link_dir/new", "link_abs/tmp/x"].iter())
    {
        let fails: Vec<(&str, Result<(), Error>)> = vec![
            ("Array::open", Array::open(st, path, Mode::Read).map(|_| ())),
            (
                "Array::open write",
                Array::open(st, path, Mode::Write).map(|_| ()),
            ),
            (
                "ArrayBuilder::create",
                ArrayBuilder::new(vec![4], DataType::UInt8)
                    .create(st, path)
                    .map(|_| ()),
            ),
            (
                "Array::create_from_json",
                Array::create_from_json(st, path, &doc, true).map(|_| ()),
            ),
            ("Group::open", Group::open(st, path).map(|_| ())),
            (
                "Group::create",
                Group::create(st, path, ZarrFormat::V3, Attributes::new()).map(|_| ()),
            ),
            (
                "hierarchy::read_node",
                hierarchy::read_node(st, path).map(|_| ()),
            ),
            (
                "hierarchy::members",
                hierarchy::members(st, path).map(|_| ()),
            ),
            ("hierarchy::walk", hierarchy::walk(st, path).map(|_| ())),
            (
                "hierarchy::set_attributes",
                hierarchy::set_attributes(st, path, Attributes::new()),
            ),
            ("hierarchy::consolidate", hierarchy::consolidate(st, path)),
            (
                "hierarchy::ensure_parent_groups",
                hierarchy::ensure_parent_groups(st, &format!("{path}/x"), ZarrFormat::V3),
            ),
            ("hierarchy::delete_node", hierarchy::delete_node(st, path)),
            (
                "check",
                zarrcore::check::check_store(st, path, Default::default()).map(|_| ()),
            ),
        ];
        for (what, r) in fails {
            match r {
                Err(e) => assert!(is_refusal(&e), "{what} {path:?}: unclear error {e}"),
                Ok(()) => {
                    // Only a lexically valid path through a link may "succeed"
                    // when it reads nothing (read_node of a missing node).
                    assert!(
                        path.starts_with("link_") && what == "hierarchy::read_node",
                        "{what} {path:?} succeeded"
                    );
                }
            }
        }
    }
    assert_eq!(snapshot(&s.top.join("outside")), before);
    // The array outside is never reachable.
    assert!(Array::open(st, "link_dir/arr", Mode::Read).is_err());
    // The store itself is intact.
    let a = Array::open(st, "/ok", Mode::Read).unwrap();
    assert_eq!(a.read_region_vec(&Region::all(&[4])).unwrap(), [9, 8, 7, 6]);
}

#[test]
fn leading_slash_means_the_root() {
    let s = setup();
    let st = &s.store;
    let a = ArrayBuilder::new(vec![3], DataType::UInt8)
        .create(st, "/g/h/")
        .unwrap();
    a.write_region(&Region::all(&[3]), &[1, 2, 3]).unwrap();
    a.close().unwrap();
    assert!(s.store_dir.join("g/h/zarr.json").is_file());
    let a = Array::open(st, "g/h", Mode::Read).unwrap();
    assert_eq!(a.path(), "g/h");
    let a2 = Array::open(st, "//g/h", Mode::Read).unwrap();
    assert_eq!(a2.read_region_vec(&Region::all(&[3])).unwrap(), [1, 2, 3]);
    assert!(Group::open(st, "/").is_ok());
    assert!(Group::open(st, "").is_ok());
}

#[test]
fn zip_store_refuses_escaping_keys_and_hides_bad_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("evil.zip");
    {
        let f = std::fs::File::create(&zip_path).unwrap();
        let mut w = zip::ZipWriter::new(f);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for name in ["../escape", "/abs", "ok/../../x", "zarr.json"] {
            w.start_file(name, o).unwrap();
            use std::io::Write;
            w.write_all(br#"{"zarr_format":3,"node_type":"group"}"#)
                .unwrap();
        }
        w.finish().unwrap();
    }
    let before = snapshot(tmp.path());
    let st = open_store(zip_path.to_str().unwrap(), StoreOptions::read_only()).unwrap();
    assert_eq!(st.list_prefix("").unwrap(), vec!["zarr.json".to_string()]);
    for key in BAD_KEYS {
        assert!(
            matches!(st.get(key), Err(StoreError::InvalidKey { .. })),
            "{key:?}"
        );
    }
    drop(st);
    let st = open_store(zip_path.to_str().unwrap(), StoreOptions::create()).unwrap();
    for key in BAD_KEYS {
        assert!(st.set(key, b"x").is_err(), "{key:?}");
    }
    st.flush().unwrap();
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);
}

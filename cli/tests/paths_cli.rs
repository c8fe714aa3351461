//! Path-escape attempts through the command line: array paths with `..`,
//! paths through symbolic links out of the store, and malformed `--region`
//! values fail with one clear error line and a non-zero exit, creating
//! nothing outside the store. (A STORE argument itself is a filesystem path
//! chosen by the user and is taken as given; ARRAY_PATH is inside it.)

mod common;

use std::os::unix::fs::symlink;

use common::{run, stderr, tree, u32_data, write_npy};
use zarrcore::DataType;

#[test]
fn cli_refuses_paths_out_of_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path();
    let outside = top.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    let npy = top.join("in.npy");
    write_npy(&npy, DataType::UInt32, &[8, 8], &u32_data(64, 1));
    let npy = npy.to_str().unwrap();
    let store = top.join("s.zarr");
    let s = store.to_str().unwrap();
    let o = run(&["import", npy, s, "ok"]);
    assert!(o.status.success(), "{}", stderr(&o));
    symlink("../outside", store.join("link_dir")).unwrap();
    let before = tree(top);
    let out_npy = top.join("out.npy");
    let out = out_npy.to_str().unwrap();
    let bad_paths = [
        "..",
        "../outside",
        "ok/../../outside",
        "/../outside",
        "a\\b",
        "g//h",
        "link_dir",
        "link_dir/new",
    ];
    for p in bad_paths {
        for args in [
            vec!["import", npy, s, p],
            vec!["import", npy, s, p, "--overwrite"],
            vec!["export", s, p, out],
            vec!["info", s, p],
            vec!["check", s, p],
            vec!["check", s, p, "--repair", "--delete-corrupt"],
        ] {
            let o = run(&args);
            assert!(!o.status.success(), "{args:?} succeeded");
            let e = stderr(&o);
            assert!(
                e.starts_with("zarrcore: error: ") && e.trim_end().lines().count() == 1,
                "{args:?}: not one clear error line: {e:?}"
            );
            assert!(
                e.contains("invalid store key")
                    || e.contains("outside the store")
                    || e.contains("no Zarr array or group")
                    || e.contains("no array or group"),
                "{args:?}: unclear error: {e}"
            );
        }
    }
    // Importing into a fresh store with a bad path does not even create it.
    let fresh = top.join("fresh.zarr");
    let o = run(&["import", npy, fresh.to_str().unwrap(), "../x"]);
    assert!(!o.status.success());
    assert!(!fresh.exists());
    // Malformed regions: a clear error, no output file.
    for r in [
        "0:99999999999999999999",
        "18446744073709551615",
        "-18446744073709551615:",
        "5:2",
        "0:9",
        "1,2,3",
        "a:b",
    ] {
        let arg = format!("--region={r}");
        let o = run(&["export", s, "ok", out, &arg]);
        assert!(!o.status.success(), "--region {r:?} succeeded");
        assert!(
            stderr(&o).starts_with("zarrcore: error: "),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(tree(top), before);
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");
    // A leading "/" is the store root.
    let o = run(&["export", s, "/ok", out, "--region=-2:,:3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Negative starts need no `=`.
    let o = run(&["export", s, "ok", out, "--region", "-2:,-3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = zarrcore::npy::parse_header(&std::fs::read(out).unwrap()).unwrap();
    assert_eq!(h.shape, vec![2, 1]);
}

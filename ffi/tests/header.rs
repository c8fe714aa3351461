//! The committed `include/zarrcore.h` is exactly what the pinned cbindgen
//! generates from the sources. `ZARRCORE_BLESS_HEADER=1` rewrites it
//! (that is what `make header` does).
#![allow(missing_docs)]

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let header = crate_dir.join("../include/zarrcore.h");
    if std::env::var_os("ZARRCORE_BLESS_HEADER").is_some() {
        std::fs::write(&header, &fresh).expect("write include/zarrcore.h");
        return;
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    if committed != fresh {
        let fresh = String::from_utf8_lossy(&fresh);
        let committed = String::from_utf8_lossy(&committed);
        let first = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "(one is a prefix of the other)".to_string(),
                |i| {
                    format!(
                        "line {}:\n  generated: {}\n  committed: {}",
                        i + 1,
                        fresh.lines().nth(i).unwrap_or(""),
                        committed.lines().nth(i).unwrap_or("")
                    )
                },
            );
        panic!(
            "include/zarrcore.h differs from what cbindgen generates (first difference at {first}); \
             run `make header` and commit the result"
        );
    }
}

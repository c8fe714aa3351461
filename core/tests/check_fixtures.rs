//! `check` on every store of the zarr-python fixture corpus: all clean, every
//! array and every stored chunk (and inner chunk) decoded, nothing changed.

mod common;

use zarrcore::check::{check_location, CheckOptions};

#[test]
fn every_fixture_store_is_clean() {
    let dir = common::fixtures_dir().join("stores");
    let manifest = common::manifest();
    let mut arrays = 0;
    let mut stores = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = entry.path();
        let r = check_location(p.to_str().unwrap(), "", CheckOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(r.is_clean(), "{}: {}", p.display(), r.to_text());
        assert!(r.chunks > 0, "{}: no chunk decoded", p.display());
        arrays += r.arrays;
        stores += 1;
    }
    let want = manifest["arrays"].as_array().unwrap().len() as u64;
    assert_eq!(arrays, want, "arrays checked vs manifest ({stores} stores)");
}

//! The Dask pattern: 6 processes write disjoint, chunk-aligned (shard-aligned
//! when sharded) regions of three arrays; the store is byte for byte the one
//! a single process writes, and reads back the intended values.
//! (`tests/python/test_engine_dask.py` runs the same with zarr-python reading.)

use zarrcore::{open_store, Array, Mode, Region, StoreOptions};
use zarrcore_engine_helper::dask;

#[test]
fn six_processes_write_what_one_process_writes() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_zarrcore-engine-helper"));
    let tmp = tempfile::tempdir().unwrap();
    dask::run(exe, tmp.path(), 6).unwrap();

    // And the values are the intended ones.
    let store = open_store(
        tmp.path().join("multi").to_str().unwrap(),
        StoreOptions::read_only(),
    )
    .unwrap();
    for a in dask::arrays() {
        let arr = Array::open(&store, a.name, Mode::Read).unwrap();
        let elem = arr.data_type().size();
        for b in 0..a.num_blocks() {
            let r = a.block_region(b);
            let got = arr.read_region_vec(&r).unwrap();
            let want = a
                .block_bytes(b)
                .unwrap_or_else(|| vec![0u8; r.num_elements().unwrap() as usize * elem]);
            assert!(got == want, "{} block {b} ({r}) differs", a.name);
        }
        let all = arr.read_region_vec(&Region::all(&a.shape)).unwrap();
        assert!(all.iter().any(|&x| x != 0));
    }
}

#[allow(clippy::host_endian_bytes)] // the array API takes native byte order
fn dask_value_bytes(v: i32) -> [u8; 4] {
    v.to_ne_bytes()
}

/// The comparison is not vacuous: a store with one chunk rewritten
/// differently does not compare equal.
#[test]
fn comparison_detects_a_different_chunk() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_zarrcore-engine-helper"));
    let tmp = tempfile::tempdir().unwrap();
    dask::run(exe, tmp.path(), 2).unwrap();
    let multi = tmp.path().join("multi");
    let store = open_store(multi.to_str().unwrap(), StoreOptions::create()).unwrap();
    let arr = Array::open(&store, "v3_zstd", Mode::Write).unwrap();
    arr.write_region(
        &Region::new(vec![0, 0], vec![1, 1]),
        &dask_value_bytes(12345),
    )
    .unwrap();
    arr.close().unwrap();
    let err = dask::compare(&multi, &tmp.path().join("single")).unwrap_err();
    assert!(err.to_string().contains("v3_zstd/c/0/0"), "{err}");
}

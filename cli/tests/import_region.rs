//! `zarrcore import IN.npy STORE ARRAY_PATH --region R`: the `.npy` lands in
//! that region of the existing array (v2 and v3, plain and sharded), every
//! other element keeps its value, the array is not recreated (metadata and
//! attributes unchanged), axes given as one index may be left out of the
//! `.npy`, byte order, Fortran order and safe conversions are honoured, and
//! mistakes are one clear error line that changes nothing.

mod common;

use std::path::Path;

use common::{run, stderr, u32_data, write_npy};
use zarrcore::{npy, DataType, Endian};

/// `zarrcore export` of the whole array, as little-endian `u32` values.
fn export_u32(dir: &Path, store: &str, path: &str) -> Vec<u32> {
    let out = dir.join("out.npy");
    let o = run(&["export", store, path, out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    let h = npy::parse_header(&bytes).unwrap();
    assert_eq!(h.dtype, DataType::UInt32);
    bytes[h.data_offset..]
        .chunks_exact(4)
        .map(|c| {
            let b = [c[0], c[1], c[2], c[3]];
            match h.endian {
                Endian::Big => u32::from_be_bytes(b),
                Endian::Little => u32::from_le_bytes(b),
            }
        })
        .collect()
}

fn le(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `want` with the box `start`/`count` of a `shape` array set from `vals`
/// (C order).
fn patch(want: &mut [u32], shape: [u64; 3], start: [u64; 3], count: [u64; 3], vals: &[u32]) {
    let mut k = 0;
    for i in start[0]..start[0] + count[0] {
        for j in start[1]..start[1] + count[1] {
            for l in start[2]..start[2] + count[2] {
                want[((i * shape[1] + j) * shape[2] + l) as usize] = vals[k];
                k += 1;
            }
        }
    }
    assert_eq!(k, vals.len());
}

fn values(n: usize, seed: u32) -> Vec<u32> {
    u32_data(n, seed)
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn region_import_patches_existing_arrays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shape = [9u64, 10, 12];
    let base = values(9 * 10 * 12, 1);
    let base_npy = dir.join("base.npy");
    write_npy(&base_npy, DataType::UInt32, &shape, &le(&base));
    let store = dir.join("s.zarr");
    let s = store.to_str().unwrap();
    let cases: [(&str, &[&str]); 3] = [
        ("v3", &["--chunks", "4,4,4"]),
        ("v3_sharded", &["--chunks", "2,2,4", "--shards", "4,4,8"]),
        ("v2", &["--zarr-format", "2", "--chunks", "4,3,5"]),
    ];
    for (name, opts) in cases {
        let mut args = vec!["import", base_npy.to_str().unwrap(), s, name];
        args.extend_from_slice(opts);
        let o = run(&args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let meta_file = if name == "v2" { ".zarray" } else { "zarr.json" };
        let meta = std::fs::read(store.join(name).join(meta_file)).unwrap();
        let mut want = base.clone();

        // A box across chunk (and shard) edges.
        let vals = values(2 * 3 * 5, 2);
        let npy_path = dir.join("box.npy");
        write_npy(&npy_path, DataType::UInt32, &[2, 3, 5], &le(&vals));
        let o = run(&[
            "import",
            npy_path.to_str().unwrap(),
            s,
            name,
            "--region",
            "3:5,2:5,6:11",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        patch(&mut want, shape, [3, 2, 6], [2, 3, 5], &vals);
        assert!(export_u32(dir, s, name) == want, "{name}: box");

        // One row given as a single index: the .npy leaves that axis out.
        let vals = values(10 * 12, 3);
        write_npy(&npy_path, DataType::UInt32, &[10, 12], &le(&vals));
        let o = run(&[
            "import",
            npy_path.to_str().unwrap(),
            s,
            name,
            "--region",
            "7",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        patch(&mut want, shape, [7, 0, 0], [1, 10, 12], &vals);
        assert!(export_u32(dir, s, name) == want, "{name}: row");

        // The same with the axis kept (shape 1), big-endian, 1×1×k strip.
        let vals = values(4, 4);
        let mut bytes = npy::header_bytes(DataType::UInt32, Endian::Big, &[1, 1, 4]);
        bytes.extend(vals.iter().flat_map(|x| x.to_be_bytes()));
        std::fs::write(&npy_path, bytes).unwrap();
        let o = run(&[
            "import",
            npy_path.to_str().unwrap(),
            s,
            name,
            "--region",
            "0,9,8:12",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        patch(&mut want, shape, [0, 9, 8], [1, 1, 4], &vals);
        assert!(export_u32(dir, s, name) == want, "{name}: big-endian strip");

        // Fortran order, and a safe conversion (uint16 into uint32).
        let small: Vec<u16> = (0..2 * 2 * 3).map(|x| 60_000 + x as u16).collect();
        let mut bytes = npy::header_bytes(DataType::UInt16, Endian::Little, &[2, 2, 3]);
        let at = bytes
            .windows(22)
            .position(|w| w == b"'fortran_order': False")
            .expect("fortran_order in the header");
        bytes[at..at + 22].copy_from_slice(b"'fortran_order': True ");
        bytes.extend(small.iter().flat_map(|x| x.to_le_bytes()));
        std::fs::write(&npy_path, bytes).unwrap();
        let o = run(&[
            "import",
            npy_path.to_str().unwrap(),
            s,
            name,
            "--region",
            "-2:,0:2,1:4",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        // Element (a, b, c) of the F-order data is at a + 2b + 4c.
        let mut c_order = Vec::new();
        for a in 0..2 {
            for b in 0..2 {
                for c in 0..3 {
                    c_order.push(u32::from(small[a + 2 * b + 4 * c]));
                }
            }
        }
        patch(&mut want, shape, [7, 0, 1], [2, 2, 3], &c_order);
        assert!(export_u32(dir, s, name) == want, "{name}: fortran + cast");

        // The array was never recreated.
        let meta_after = std::fs::read(store.join(name).join(meta_file)).unwrap();
        assert!(meta == meta_after, "{name}: metadata rewritten");
    }
}

#[test]
fn region_import_errors_are_clear_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = values(6 * 8, 1);
    let base_npy = dir.join("base.npy");
    write_npy(&base_npy, DataType::UInt32, &[6, 8], &le(&base));
    let store = dir.join("s.zarr");
    let s = store.to_str().unwrap();
    let o = run(&[
        "import",
        base_npy.to_str().unwrap(),
        s,
        "a",
        "--chunks",
        "4,4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = common::tree(&store);
    let files: Vec<Vec<u8>> = before
        .iter()
        .filter(|p| store.join(p).is_file())
        .map(|p| std::fs::read(store.join(p)).unwrap())
        .collect();

    let npy_path = dir.join("in.npy");
    let npy = npy_path.to_str().unwrap();
    let expect_err = |args: &[&str], needles: &[&str]| {
        let o = run(args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err:?} does not mention {n:?}");
        }
    };

    // Shape mismatch.
    write_npy(&npy_path, DataType::UInt32, &[2, 3], &le(&values(6, 2)));
    expect_err(
        &["import", npy, s, "a", "--region", "0:2,0:4"],
        &["in.npy", "[2, 3]", "0:2,0:4", "\"a\""],
    );
    // Region outside the array, and malformed.
    expect_err(
        &["import", npy, s, "a", "--region", "5:7,0:3"],
        &["region", "\"a\""],
    );
    expect_err(
        &["import", npy, s, "a", "--region", "0:2,0:3,0:1"],
        &["dimensions"],
    );
    expect_err(
        &["import", npy, s, "a", "--region", "x:2,0:3"],
        &["bad index"],
    );
    // An unsafe conversion (int64 into uint32) is refused.
    write_npy(&npy_path, DataType::Int64, &[2, 3], &[1u8; 48]);
    expect_err(
        &["import", npy, s, "a", "--region", "0:2,0:3"],
        &["cannot write", "int64", "\"a\""],
    );
    // No array there; a missing store is not created.
    write_npy(&npy_path, DataType::UInt32, &[2, 3], &le(&values(6, 2)));
    expect_err(
        &["import", npy, s, "nope", "--region", "0:2,0:3"],
        &["nope"],
    );
    let missing = dir.join("missing.zarr");
    expect_err(
        &[
            "import",
            npy,
            missing.to_str().unwrap(),
            "a",
            "--region",
            "0:2,0:3",
        ],
        &["missing.zarr"],
    );
    assert!(!missing.exists());
    // Creation options make no sense with --region.
    for extra in [
        ["--chunks", "2,2"],
        ["--codec", "none"],
        ["--zarr-format", "2"],
        ["--fill", "1"],
    ] {
        let mut args = vec!["import", npy, s, "a", "--region", "0:2,0:3"];
        args.extend_from_slice(&extra);
        let o = run(&args);
        assert!(
            !o.status.success() && stderr(&o).contains("cannot be used with"),
            "{extra:?}"
        );
    }
    let o = run(&["import", npy, s, "a", "--region", "0:2,0:3", "--overwrite"]);
    assert!(!o.status.success() && stderr(&o).contains("cannot be used with"));

    assert_eq!(common::tree(&store), before);
    let after: Vec<Vec<u8>> = before
        .iter()
        .filter(|p| store.join(p).is_file())
        .map(|p| std::fs::read(store.join(p)).unwrap())
        .collect();
    assert!(files == after, "a failed import changed the store");
}

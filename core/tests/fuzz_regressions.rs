//! Replays, on stable and without libFuzzer, every input saved in
//! `fuzz/regressions/<target>/` (each crash the fuzzers found, kept after
//! its fix) through the same target code the fuzzers run
//! (`fuzz/src/targets.rs`), plus the fixture corpus's metadata documents and
//! `.npy` headers as a smoke test of the targets themselves.

mod common;

#[allow(dead_code, missing_docs, clippy::all)]
#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("metadata_v2", targets::metadata_v2),
    ("metadata_v3", targets::metadata_v3),
    ("decode_zstd", targets::decode_zstd),
    ("decode_blosc", targets::decode_blosc),
    ("decode_gzip", targets::decode_gzip),
    ("decode_zlib", targets::decode_zlib),
    ("decode_lz4", targets::decode_lz4),
    ("decode_crc32c", targets::decode_crc32c),
    ("decode_bz2", targets::decode_bz2),
    ("decode_lzma", targets::decode_lzma),
    ("decode_checksum32", targets::decode_checksum32),
    ("decode_filters", targets::decode_filters),
    ("decode_vlen", targets::decode_vlen),
    ("sharding", targets::sharding),
    ("chunk", targets::chunk),
    ("npy_header", targets::npy_header),
    ("region", targets::region),
];

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn saved_crashes_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut n = 0;
    for (name, f) in TARGETS {
        for p in files(&root.join(name)) {
            let data = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| f(&data));
            assert!(r.is_ok(), "{name}: {} crashes again", p.display());
            n += 1;
        }
    }
    // Every target directory that exists holds only known targets.
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        if !d.path().is_dir() {
            continue;
        }
        let name = d.file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "unknown target directory {name}"
        );
    }
    println!("{n} saved inputs replayed");
}

#[test]
fn targets_accept_the_fixture_documents() {
    let stores = common::fixtures_dir().join("stores");
    let mut seen = 0;
    let mut stack = vec![stores];
    while let Some(d) = stack.pop() {
        for p in files(&d) {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&p).unwrap();
            match name.as_str() {
                ".zarray" | ".zgroup" | ".zattrs" | ".zmetadata" => targets::metadata_v2(&data),
                "zarr.json" => targets::metadata_v3(&data),
                _ => continue,
            }
            seen += 1;
        }
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(seen > 100, "{seen} documents");
    for p in files(&common::fixtures_dir().join("expected"))
        .iter()
        .take(40)
    {
        targets::npy_header(&std::fs::read(p).unwrap());
    }
    // A decoder round trip of each codec on a small input.
    let data: Vec<u8> = (0..1000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    for (name, f) in TARGETS {
        if name.starts_with("decode_") {
            f(&data);
            f(&data[..7]);
            f(&[]);
        }
    }
}

/// The numcodecs targets on pseudo-random inputs and on valid encodings with
/// bytes flipped (a few thousand cases; the fuzzers go much further).
#[test]
fn numcodecs_targets_survive_random_inputs() {
    use zarrcore::codec::{BytesToBytes, Bz2Codec, LzmaCodec, LzmaFormat};
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let bz2 = BytesToBytes::Bz2(Bz2Codec { level: 1 });
    let xz = BytesToBytes::Lzma(LzmaCodec {
        format: LzmaFormat::Xz,
        check: -1,
        preset: Some(0),
    });
    for i in 0..3000usize {
        let len = (next() % 300) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| (next() % 7) as u8 * 37).collect();
        let r = std::panic::catch_unwind(|| {
            targets::decode_filters(&data);
            targets::decode_checksum32(&data);
        });
        assert!(r.is_ok(), "filters/checksums crash on {data:?}");
        if i % 10 == 0 {
            // Valid streams with one byte changed, and cut short.
            let codec = if i % 20 == 0 { &bz2 } else { &xz };
            let mut enc = codec.encode(&data).unwrap();
            let cut = (next() as usize) % (enc.len() + 1);
            let k = (next() as usize) % enc.len();
            enc[k] ^= 1 << (next() % 8);
            data = enc;
            let r = std::panic::catch_unwind(|| {
                targets::decode_bz2(&data);
                targets::decode_lzma(&data);
                targets::decode_bz2(&data[..cut]);
                targets::decode_lzma(&data[..cut]);
            });
            assert!(r.is_ok(), "bz2/lzma crash on {data:?}");
        }
    }
}

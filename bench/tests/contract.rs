//! Runs the `zarrcore-bench` binary as the benchmark driver does and checks
//! the runner contract: JSON line, checksums, the stored metadata of every
//! workload, values read back, the transposed output, and exit statuses.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zarrcore::{open_store, Array, DataType, Endian, Mode, Region, StoreOptions};

const SHAPE: [u64; 3] = [40, 36, 20];
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the runner with `args` (bounded by [`TIMEOUT`]); returns the exit
/// status, the last JSON line of stdout (if any) and stderr.
fn run(args: &[&str]) -> (i32, Option<Value>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zarrcore-bench"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zarrcore-bench");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("zarrcore-bench {args:?} timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("valid JSON line"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (status.code().unwrap_or(-1), json, stderr)
}

fn ok(args: &[&str]) -> Value {
    let (code, json, err) = run(args);
    assert_eq!(code, 0, "{args:?} failed: {err}");
    let j = json.expect("a JSON line");
    assert_eq!(j["engine"], "zarrcore");
    assert!(j["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{j}");
    assert!(j["threads"].as_u64().is_some_and(|t| t >= 1), "{j}");
    assert!(j["cpu_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{j}");
    j
}

/// Deterministic uint16 test data (with runs of the fill value 0).
fn values() -> Vec<u16> {
    let n = SHAPE.iter().product::<u64>();
    (0..n)
        .map(|i| {
            if (i / 500) % 4 == 0 {
                0
            } else {
                (i.wrapping_mul(2654435761) >> 11) as u16
            }
        })
        .collect()
}

fn le_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_npy(path: &Path, v: &[u16]) {
    let mut f = zarrcore::npy::header_bytes(DataType::UInt16, Endian::Little, &SHAPE);
    f.extend(le_bytes(v));
    std::fs::write(path, f).unwrap();
}

fn read_all(store: &str) -> Vec<u8> {
    let s = open_store(store, StoreOptions::read_only()).unwrap();
    let a = Array::open(&s, "", Mode::Read).unwrap();
    let mut buf = vec![0u8; a.num_bytes() as usize];
    a.read_region_with(
        &Region::all(&a.shape()),
        &mut buf,
        zarrcore::Layout::c(Endian::Little),
    )
    .unwrap();
    buf
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn every_op_and_workload() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |s: &str| tmp.path().join(s).to_str().unwrap().to_string();
    let data = values();
    let total: u64 = data.iter().map(|&x| u64::from(x)).sum();
    let nbytes = data.len() as u64 * 2;
    write_npy(Path::new(&d("in.npy")), &data);

    for w in ["W1", "W2", "W3"] {
        let store = d(&format!("{w}.zarr"));
        let j = ok(&[
            "write",
            "--workload",
            w,
            "--npy",
            &d("in.npy"),
            "--store",
            &store,
            "--ignored",
            "x",
        ]);
        assert_eq!(j["bytes"], nbytes, "{w}");
        assert_eq!(j["checksum"], total, "{w}");
        let j = ok(&["read", "--store", &store]);
        assert_eq!(j["bytes"], nbytes, "{w}");
        assert_eq!(j["checksum"], total, "{w}");
        assert_eq!(read_all(&store), le_bytes(&data), "{w} values");
    }

    // The stored metadata is the workload's.
    let w1 = json_file(&tmp.path().join("W1.zarr/zarr.json"));
    assert_eq!(
        w1["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([64, 64, 64])
    );
    assert_eq!(w1["codecs"][1]["name"], "zstd");
    assert_eq!(w1["codecs"][1]["configuration"]["level"], 1);
    assert_eq!(w1["codecs"][1]["configuration"]["checksum"], false);
    assert!(tmp.path().join("W1.zarr/c/0/0/0").is_file());
    let w2 = json_file(&tmp.path().join("W2.zarr/zarr.json"));
    let sh = &w2["codecs"][0];
    assert_eq!(sh["name"], "sharding_indexed");
    assert_eq!(
        sh["configuration"]["chunk_shape"],
        serde_json::json!([32, 32, 32])
    );
    assert_eq!(sh["configuration"]["index_codecs"][1]["name"], "crc32c");
    assert_eq!(sh["configuration"]["index_location"], "end");
    let w3 = json_file(&tmp.path().join("W3.zarr/.zarray"));
    assert_eq!(w3["dtype"], "<u2");
    assert_eq!(w3["dimension_separator"], ".");
    assert_eq!(w3["compressor"]["id"], "blosc");
    assert_eq!(w3["compressor"]["cname"], "lz4");
    assert_eq!(w3["compressor"]["clevel"], 5);
    assert_eq!(w3["compressor"]["shuffle"], 1);
    assert!(w3["filters"].is_null());
    assert!(tmp.path().join("W3.zarr/0.0.0").is_file());

    // random: one request after another; checksum over every region.
    let size = 5u64;
    let starts = [[0u64, 0, 0], [35, 31, 15], [17, 3, 9], [0, 20, 15]];
    let text: String = starts
        .iter()
        .map(|s| format!("{} {} {}\n", s[0], s[1], s[2]))
        .collect();
    std::fs::write(d("regions.txt"), text).unwrap();
    let mut want = 0u64;
    for s in &starts {
        for z in s[0]..s[0] + size {
            for y in s[1]..s[1] + size {
                for x in s[2]..s[2] + size {
                    want += u64::from(data[((z * SHAPE[1] + y) * SHAPE[2] + x) as usize]);
                }
            }
        }
    }
    for w in ["W1", "W2", "W3"] {
        let j = ok(&[
            "random",
            "--store",
            &d(&format!("{w}.zarr")),
            "--regions",
            &d("regions.txt"),
            "--size",
            "5",
        ]);
        assert_eq!(j["checksum"], want, "{w}");
        assert_eq!(j["bytes"], starts.len() as u64 * size.pow(3) * 2);
        assert_eq!(j["n_regions"], starts.len());
    }

    // transpose (W5): axes reversed into v3 64^3 bytes+zstd(1), fill 0.
    let out = d("W5T.zarr");
    let j = ok(&["transpose", "--store", &d("W1.zarr"), "--out-store", &out]);
    assert_eq!(j["checksum"], total);
    assert_eq!(j["bytes"], nbytes);
    let t = json_file(&tmp.path().join("W5T.zarr/zarr.json"));
    assert_eq!(t["shape"], serde_json::json!([20, 36, 40]));
    assert_eq!(
        t["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([64, 64, 64])
    );
    assert_eq!(t["codecs"][1]["name"], "zstd");
    assert_eq!(t["fill_value"], 0);
    let got = read_all(&out);
    let (z, y, x) = (SHAPE[0] as usize, SHAPE[1] as usize, SHAPE[2] as usize);
    for i in 0..x {
        for j in 0..y {
            for k in 0..z {
                let o = (i * y + j) * z + k;
                let v = u16::from_le_bytes([got[2 * o], got[2 * o + 1]]);
                assert_eq!(v, data[(k * y + j) * x + i], "transposed [{i},{j},{k}]");
            }
        }
    }
}

#[test]
fn exit_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let npy = tmp.path().join("in.npy");
    write_npy(&npy, &values());
    let store = tmp.path().join("s.zarr");
    let (s, n) = (store.to_str().unwrap(), npy.to_str().unwrap());
    // Unsupported op or workload: 64, and nothing is written.
    assert_eq!(run(&["frobnicate", "--store", s]).0, 64);
    let (code, json, err) = run(&["write", "--workload", "W4", "--npy", n, "--store", s]);
    assert_eq!(code, 64, "{err}");
    assert!(json.is_none());
    assert!(err.contains("W4"), "{err}");
    assert!(!store.exists());
    // Missing arguments: usage error naming the key.
    let (code, _, err) = run(&["read"]);
    assert_eq!(code, 2);
    assert!(err.contains("--store"), "{err}");
    // Real errors: 1, with the reason.
    let (code, _, err) = run(&["read", "--store", tmp.path().join("nope").to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    std::fs::write(&npy, b"not an npy file").unwrap();
    let (code, _, err) = run(&["write", "--workload", "W1", "--npy", n, "--store", s]);
    assert_eq!(code, 1);
    assert!(err.contains("in.npy"), "{err}");
}

#[test]
fn touch_floor() {
    let j = ok(&["touch", "--bytes", "4MiB"]);
    assert_eq!(j["bytes"], 4u64 << 20);
    // Every byte is 1: each uint16 is 0x0101.
    assert_eq!(j["checksum"], (2u64 << 20) * 257);
    let (code, _, err) = run(&["touch", "--bytes", "lots"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--bytes"), "{err}");
}

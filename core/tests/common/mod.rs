//! Helpers shared by the integration tests: the fixture manifest, `.npy`
//! loading and exact comparison (floats bit for bit, any NaN equals any NaN).
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use zarrcore::{DataType, Endian};

/// `../shared/fixtures/zarr` beside the project root (or `$ZARRCORE_FIXTURES`).
pub fn fixtures_dir() -> PathBuf {
    if let Ok(p) = std::env::var("ZARRCORE_FIXTURES") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/zarr")
}

pub fn manifest() -> Value {
    let p = fixtures_dir().join("manifest.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read the fixture manifest {}: {e}", p.display()));
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

/// A loaded `.npy`: type, byte order, shape and data bytes.
pub struct Npy {
    pub dtype: DataType,
    pub endian: Endian,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
}

pub fn load_npy(path: &Path) -> Npy {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h =
        zarrcore::npy::parse_header(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        !h.fortran_order,
        "{}: Fortran-order expected files are not used",
        path.display()
    );
    Npy {
        dtype: h.dtype,
        endian: h.endian,
        shape: h.shape.clone(),
        data: bytes[h.data_offset..].to_vec(),
    }
}

impl Npy {
    /// Data converted to native byte order.
    pub fn native(&self) -> Vec<u8> {
        let mut d = self.data.clone();
        if self.endian != Endian::native() {
            zarrcore::dtype::swap_bytes_in_place(&mut d, self.dtype.swap_unit());
        }
        d
    }
}

/// Compares two native-order buffers of `dtype`: floats bit for bit except
/// that NaN equals NaN. Returns a description of the first difference.
pub fn compare(dtype: DataType, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} bytes, expected {}", got.len(), want.len()));
    }
    let unit = match dtype {
        DataType::Float16 => 2,
        DataType::Float32 | DataType::Complex64 => 4,
        DataType::Float64 | DataType::Complex128 => 8,
        _ => 0,
    };
    let is_nan = |b: &[u8]| -> bool {
        match b.len() {
            2 => {
                let v = u16::from_le_bytes([b[0], b[1]]);
                (v & 0x7c00) == 0x7c00 && (v & 0x03ff) != 0
            }
            4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_nan(),
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_le_bytes(a).is_nan()
            }
        }
    };
    let elem = dtype.size().max(1);
    for (i, (g, w)) in got.chunks(elem).zip(want.chunks(elem)).enumerate() {
        if g == w {
            continue;
        }
        if unit > 0
            && g.chunks(unit)
                .zip(w.chunks(unit))
                .all(|(a, b)| a == b || (is_nan(a) && is_nan(b)))
        {
            continue;
        }
        return Err(format!("element {i} differs: got {g:?}, expected {w:?}"));
    }
    Ok(())
}

/// Extracts `region` from a C-order native buffer of `shape`.
pub fn slice(data: &[u8], shape: &[u64], start: &[u64], count: &[u64], elem: usize) -> Vec<u8> {
    let n: u64 = count.iter().product();
    let mut out = vec![0u8; n as usize * elem];
    let s: Vec<usize> = shape.iter().map(|&x| x as usize).collect();
    let st: Vec<usize> = start.iter().map(|&x| x as usize).collect();
    let c: Vec<usize> = count.iter().map(|&x| x as usize).collect();
    zarrcore::nd::copy_block(data, &s, &st, &mut out, &c, &vec![0; c.len()], &c, elem);
    out
}

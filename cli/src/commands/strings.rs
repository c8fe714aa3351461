//! `export` and `import` of variable-length (`string`, `bytes`) arrays:
//! NumPy has no variable-length type in `.npy` files (object arrays are
//! pickles), so they travel as fixed width: `<U{longest}` (UTF-32LE) for
//! strings and `|S{longest}` for bytes, NUL-padded as NumPy pads them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use zarrcore::array::strings::VlenData;
use zarrcore::npy::NpyHeader;
use zarrcore::{npy, Array, ArrayBuilder, DataType, Endian, Region};

/// How `import` stores a NumPy `U`/`S` array.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringMode {
    /// Fixed width, as zarr-python 3.1 stores NumPy `U`/`S` arrays
    /// (v2 `<U`/`|S`, v3 `fixed_length_utf32`/`null_terminated_bytes`).
    Fixed,
    /// Variable length: `string` / `bytes` (`vlen-utf8` / `vlen-bytes`).
    Vlen,
}

/// Writes `region` of the vlen array `a` to `out` as a fixed-width `.npy`.
pub fn export(a: &Array, region: &Region, out: &Path) -> Result<()> {
    let m = a.metadata();
    let d: VlenData<usize> = a.read_vlen(region)?;
    // NumPy gives an array of empty strings width 1, not 0.
    let dtype = match m.data_type {
        DataType::VlenString => DataType::Unicode(d.max_chars().max(1)),
        _ => DataType::Bytes(d.iter().map(<[u8]>::len).max().unwrap_or(0).max(1)),
    };
    let tmp = out.with_extension("npy.zarrcore-partial");
    let result = (|| -> Result<()> {
        let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(8 << 20, f);
        w.write_all(&npy::header_bytes(dtype, Endian::Little, &region.shape))?;
        let mut cell = Vec::with_capacity(dtype.size());
        for item in d.iter() {
            cell.clear();
            if m.data_type == DataType::VlenString {
                let s = std::str::from_utf8(item).context("a string item is not UTF-8")?;
                for c in s.chars() {
                    cell.extend_from_slice(&(c as u32).to_le_bytes());
                }
            } else {
                cell.extend_from_slice(item);
            }
            cell.resize(dtype.size(), 0);
            w.write_all(&cell)?;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, out).with_context(|| format!("write {}", out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The variable-length type that stores a NumPy `U` or `S` array.
pub fn vlen_type(dtype: DataType) -> Result<DataType> {
    match dtype {
        DataType::Unicode(_) => Ok(DataType::VlenString),
        DataType::Bytes(_) => Ok(DataType::VlenBytes),
        other => bail!("--string vlen needs a U or S array, this one is {other}"),
    }
}

/// The items of a fixed-width `U`/`S` `.npy` body in C order, trailing
/// NULs stripped as NumPy strips them.
fn items(h: &NpyHeader, data: &[u8]) -> Result<VlenData<usize>> {
    let size = h.dtype.size();
    let n = data.len().checked_div(size).unwrap_or(0);
    // The C-order element `i` is at position pos(i) in the file.
    let shape: Vec<usize> = h.shape.iter().map(|&s| s as usize).collect();
    let pos = |mut i: usize| -> usize {
        if !h.fortran_order {
            return i;
        }
        let (mut p, mut stride) = (0usize, 1usize);
        let mut idx = vec![0usize; shape.len()];
        for d in (0..shape.len()).rev() {
            idx[d] = i % shape[d].max(1);
            i /= shape[d].max(1);
        }
        for (d, &k) in idx.iter().enumerate() {
            p += k * stride;
            stride *= shape[d];
        }
        p
    };
    let mut out = VlenData::<usize>::new();
    let mut text = String::new();
    for i in 0..n {
        let e = &data[pos(i) * size..(pos(i) + 1) * size];
        match h.dtype {
            DataType::Unicode(_) => {
                text.clear();
                for c in e.chunks_exact(4) {
                    let b = [c[0], c[1], c[2], c[3]];
                    let u = match h.endian {
                        Endian::Little => u32::from_le_bytes(b),
                        Endian::Big => u32::from_be_bytes(b),
                    };
                    text.push(char::from_u32(u).with_context(|| {
                        format!("element {i}: {u:#x} is not a Unicode scalar value")
                    })?);
                }
                out.values
                    .extend_from_slice(text.trim_end_matches('\0').as_bytes());
            }
            _ => {
                let end = e.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                out.values.extend_from_slice(&e[..end]);
            }
        }
        out.offsets.push(out.values.len());
    }
    Ok(out)
}

/// Creates the vlen array described by `b` and writes the `.npy` body into it.
pub fn import(
    b: ArrayBuilder,
    store: &zarrcore::StoreRef,
    path: &str,
    h: &NpyHeader,
    data: &[u8],
) -> Result<()> {
    let d = items(h, data)?;
    let a = b.create(store, path)?;
    a.write_vlen(&Region::all(&h.shape), &d.offsets, &d.values)?;
    a.close()?;
    Ok(())
}

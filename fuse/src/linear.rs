//! Byte ranges of an array's data laid out in C or Fortran order (a `.npy`
//! may be written in either), in any byte order.

use zarrcore::array::linear_regions_in;
use zarrcore::{Array, Endian, Layout, Order, Region, Result};

/// The F-order element range `[e0, e1)` as regions of the array, each
/// contiguous in F order, in order.
fn f_regions(shape: &[u64], e0: u64, e1: u64) -> Vec<Region> {
    linear_regions_in(shape, Order::F, e0, e1)
}

fn is_f(a: &Array, order: Order) -> bool {
    order == Order::F && a.ndim() > 1
}

/// Reads data bytes `[offset, offset + out.len())` in `order` and `endian`.
pub(crate) fn read_linear(
    a: &Array,
    offset: u64,
    out: &mut [u8],
    order: Order,
    endian: Endian,
) -> Result<()> {
    if !is_f(a, order) {
        return a.read_bytes(offset, out, endian);
    }
    let elem = a.data_type().size() as u64;
    let end = offset + out.len() as u64;
    let (e0, e1) = (offset / elem, end.div_ceil(elem));
    if offset % elem != 0 || end % elem != 0 {
        let mut tmp = vec![0u8; ((e1 - e0) * elem) as usize];
        read_linear(a, e0 * elem, &mut tmp, order, endian)?;
        let skip = (offset - e0 * elem) as usize;
        out.copy_from_slice(&tmp[skip..skip + out.len()]);
        return Ok(());
    }
    let layout = Layout {
        order: Order::F,
        endian,
    };
    let mut pos = 0usize;
    for r in f_regions(&a.shape(), e0, e1) {
        let n = r.num_elements().unwrap_or(0) as usize * elem as usize;
        a.read_region_with(&r, &mut out[pos..pos + n], layout)?;
        pos += n;
    }
    Ok(())
}

/// Writes data bytes at `offset` in `order` and `endian` (partial elements
/// at either end are patched under their chunk's lock by the engine).
pub(crate) fn write_linear(
    a: &Array,
    offset: u64,
    data: &[u8],
    order: Order,
    endian: Endian,
) -> Result<()> {
    let order = if is_f(a, order) { Order::F } else { Order::C };
    a.write_bytes_in(offset, data, Layout { order, endian })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zarrcore::{open_store, ArrayBuilder, DataType, Mode, StoreOptions};

    #[test]
    fn fortran_bytes_round_trip() {
        let store = open_store("memory://linear-f", StoreOptions::create()).unwrap();
        let shape = vec![3u64, 4, 5];
        let a = ArrayBuilder::new(shape.clone(), DataType::UInt16)
            .chunks(vec![2, 3, 2])
            .create(&store, "f")
            .unwrap();
        let n = 60usize;
        // F-order data: element (i, j, k) sits at i + 3 j + 12 k.
        let mut f = vec![0u8; n * 2];
        for k in 0..5 {
            for j in 0..4 {
                for i in 0..3 {
                    let v = (i * 100 + j * 10 + k) as u16;
                    let at = (i + 3 * j + 12 * k) * 2;
                    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        // Written in odd pieces that split elements.
        let mut off = 0;
        for step in [3usize, 7, 1, 50, 9] {
            let end = (off + step).min(f.len());
            write_linear(&a, off as u64, &f[off..end], Order::F, Endian::Big).unwrap();
            off = end;
        }
        write_linear(&a, off as u64, &f[off..], Order::F, Endian::Big).unwrap();
        a.close().unwrap();
        let r = Array::open(&store, "f", Mode::Read).unwrap();
        let mut c = vec![0u8; n * 2];
        r.read_bytes(0, &mut c, Endian::Little).unwrap();
        for i in 0..3 {
            for j in 0..4 {
                for k in 0..5 {
                    let at = (i * 20 + j * 5 + k) * 2;
                    let v = u16::from_le_bytes([c[at], c[at + 1]]);
                    assert_eq!(v as usize, i * 100 + j * 10 + k);
                }
            }
        }
        let mut back = vec![0u8; 37];
        read_linear(&r, 11, &mut back, Order::F, Endian::Big).unwrap();
        assert_eq!(back, &f[11..48]);
    }
}

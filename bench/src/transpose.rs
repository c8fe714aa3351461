//! W5: out-of-core transpose (axes reversed) of one array into another,
//! with memory bounded by a few chunks per worker thread.
//!
//! This is written against the public `Array` API only; when the core gains
//! its own out-of-core copy/transpose operation, [`transpose_reversed`] is
//! the one function to replace with it.

use rayon::prelude::*;
use zarrcore::{engine::pool, nd, Array, Error, Layout, Region, Result};

/// Writes the transpose of `src` with its axes reversed into `dst`, whose
/// shape must be `src`'s reversed and whose data type must match.
///
/// The unit of work is one grid cell (chunk, or shard) of `dst`: each task
/// reads the matching block of `src` (for W1 exactly one source chunk, as the
/// 64^3 grids of source and destination map onto each other), permutes it
/// with [`nd::permute`] and writes it as a whole destination cell, which the
/// engine encodes and stores without a read-modify-write. Tasks run on the
/// engine's pool (its default size), each with two reusable buffers of one
/// cell, so peak memory is about `2 × threads × cell bytes` on top of the
/// engine's own per-thread scratch: never the whole array.
pub fn transpose_reversed(src: &Array, dst: &Array) -> Result<()> {
    let sshape = src.shape();
    let dshape = dst.shape();
    let nd_ = sshape.len();
    let reversed: Vec<u64> = sshape.iter().rev().copied().collect();
    if dshape != reversed {
        return Err(Error::invalid(format!(
            "transpose: destination shape {dshape:?} is not the reverse of the source shape {sshape:?}"
        )));
    }
    if src.data_type() != dst.data_type() {
        return Err(Error::invalid(format!(
            "transpose: data types differ (source {:?}, destination {:?})",
            src.data_type(),
            dst.data_type()
        )));
    }
    let elem = src.data_type().size();
    let dmeta = dst.metadata();
    let cell = dmeta.chunk_shape.clone();
    let grid = dmeta.grid_shape();
    let n_cells: u64 = grid.iter().product();
    // Reversing the axes: destination axis k is source axis nd-1-k, and the
    // permutation that maps the source block onto the destination block is
    // also the reversal.
    let order: Vec<usize> = (0..nd_).rev().collect();
    let layout = Layout::native();

    let one = |bufs: &mut (Vec<u8>, Vec<u8>), i: u64| -> Result<()> {
        // Unravel the cell index (C order over the destination grid).
        let mut idx = vec![0u64; nd_];
        let mut rem = i;
        for d in (0..nd_).rev() {
            idx[d] = rem % grid[d];
            rem /= grid[d];
        }
        let dstart: Vec<u64> = idx.iter().zip(&cell).map(|(&g, &c)| g * c).collect();
        let dcount: Vec<u64> = dstart
            .iter()
            .zip(&cell)
            .zip(&dshape)
            .map(|((&s, &c), &n)| c.min(n - s))
            .collect();
        let sstart: Vec<u64> = dstart.iter().rev().copied().collect();
        let scount: Vec<u64> = dcount.iter().rev().copied().collect();
        let n = dcount.iter().product::<u64>() as usize * elem;
        let (a, b) = bufs;
        a.resize(n, 0);
        b.resize(n, 0);
        src.read_region_with(&Region::new(sstart, scount.clone()), a, layout)?;
        let sc: Vec<usize> = scount.iter().map(|&c| c as usize).collect();
        nd::permute(a, &sc, &order, b, elem);
        dst.write_region_with(&Region::new(dstart, dcount), b, layout)
    };

    pool::install(|| {
        (0..n_cells)
            .into_par_iter()
            .try_for_each_init(|| (Vec::new(), Vec::new()), one)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zarrcore::{ArrayBuilder, DataType, Mode, StoreRef};

    /// Reverses the axes of a C-order buffer of `shape`, element by element.
    fn reference(src: &[u8], shape: &[usize], elem: usize) -> Vec<u8> {
        let n = shape.iter().product::<usize>();
        let rshape: Vec<usize> = shape.iter().rev().copied().collect();
        let mut out = vec![0u8; n * elem];
        for i in 0..n {
            let mut idx = vec![0usize; shape.len()];
            let mut r = i;
            for d in (0..shape.len()).rev() {
                idx[d] = r % shape[d];
                r /= shape[d];
            }
            let mut j = 0;
            for (d, &x) in idx.iter().rev().enumerate() {
                j = j * rshape[d] + x;
            }
            out[j * elem..(j + 1) * elem].copy_from_slice(&src[i * elem..(i + 1) * elem]);
        }
        out
    }

    fn case(name: &str, shape: &[u64], src_chunks: &[u64], dst_chunks: &[u64], dt: DataType) {
        let store: StoreRef = zarrcore::store::MemoryStore::named(name);
        let elem = dt.size();
        let n = shape.iter().product::<u64>() as usize * elem;
        // Deterministic, non-repeating content (and some fill-valued zeros).
        let data: Vec<u8> = (0..n as u64)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8 & if i % 97 < 20 { 0 } else { 0xff })
            .collect();
        let src = ArrayBuilder::new(shape.to_vec(), dt)
            .chunks(src_chunks.to_vec())
            .create(&store, "src")
            .unwrap();
        src.write_region(&Region::all(shape), &data).unwrap();
        src.close().unwrap();
        let rshape: Vec<u64> = shape.iter().rev().copied().collect();
        let dst = ArrayBuilder::new(rshape.clone(), dt)
            .chunks(dst_chunks.to_vec())
            .create(&store, "dst")
            .unwrap();
        let src = Array::open(&store, "src", Mode::Read).unwrap();
        transpose_reversed(&src, &dst).unwrap();
        dst.close().unwrap();
        let dst = Array::open(&store, "dst", Mode::Read).unwrap();
        let got = dst.read_region_vec(&Region::all(&rshape)).unwrap();
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        assert_eq!(got, reference(&data, &ushape, elem), "{name}");
    }

    #[test]
    fn reverses_axes_exactly() {
        // Aligned grids (the W1 -> W5 case), misaligned grids with edge
        // chunks, and other ranks and element sizes.
        case(
            "t-aligned",
            &[32, 48, 16],
            &[16, 16, 16],
            &[16, 16, 16],
            DataType::UInt16,
        );
        case(
            "t-edges",
            &[37, 29, 11],
            &[8, 16, 5],
            &[6, 7, 9],
            DataType::UInt16,
        );
        case("t-2d", &[45, 70], &[16, 32], &[32, 16], DataType::Float64);
        case(
            "t-4d",
            &[5, 6, 7, 3],
            &[2, 3, 4, 3],
            &[3, 4, 2, 2],
            DataType::UInt8,
        );
        case("t-1d", &[100], &[30], &[64], DataType::Int32);
    }

    #[test]
    fn refuses_mismatched_destinations() {
        let store: StoreRef = zarrcore::store::MemoryStore::named("t-bad");
        let src = ArrayBuilder::new(vec![4, 6], DataType::UInt16)
            .create(&store, "src")
            .unwrap();
        src.close().unwrap();
        let same = ArrayBuilder::new(vec![4, 6], DataType::UInt16)
            .create(&store, "same")
            .unwrap();
        let wide = ArrayBuilder::new(vec![6, 4], DataType::UInt32)
            .create(&store, "wide")
            .unwrap();
        let src = Array::open(&store, "src", Mode::Read).unwrap();
        let e = transpose_reversed(&src, &same).unwrap_err().to_string();
        assert!(e.contains("not the reverse"), "{e}");
        let e = transpose_reversed(&src, &wide).unwrap_err().to_string();
        assert!(e.contains("data types differ"), "{e}");
    }
}

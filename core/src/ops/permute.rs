//! A blocked kernel for permuted (transposing) block copies.
//!
//! [`crate::nd::copy_strided`] copies a block element by element along the
//! destination's innermost axis; when that axis is not the source's innermost
//! one, every read lands on a different cache line (and, for large strides, a
//! different page), which makes transposes of small elements run at a few
//! hundred MB/s. This kernel finds the two axes involved — the destination's
//! contiguous axis and the source's contiguous axis — and copies the plane
//! they span in small square tiles that fit the L1 cache, so that both the
//! reads and the writes touch whole cache lines. Every other axis is walked
//! by an odometer. Blocks that need no transposition go to
//! [`crate::nd::copy_strided`], which merges contiguous runs into `memcpy`s.

use crate::nd::{copy_strided, span, Strides};

/// Copies a block of `count` elements (one entry per axis) of `elem` bytes
/// from `src` (byte offset `src_off`, byte strides `src_strides`) to `dst`
/// (`dst_off`, `dst_strides`). Same contract as [`crate::nd::copy_strided`],
/// but fast when the block is transposed (the source's contiguous axis is not
/// the destination's).
///
/// Panics if the block does not fit either buffer (a bug in the caller's
/// geometry).
#[allow(clippy::too_many_arguments)]
pub fn copy_permuted(
    src: &[u8],
    src_off: usize,
    src_strides: &[isize],
    dst: &mut [u8],
    dst_off: usize,
    dst_strides: &[isize],
    count: &[usize],
    elem: usize,
) {
    assert!(
        src_strides.len() == count.len() && dst_strides.len() == count.len(),
        "stride and count ranks differ"
    );
    let (slo, shi) = span(src_strides, count, elem);
    if shi == slo {
        return;
    }
    let (dlo, dhi) = span(dst_strides, count, elem);
    assert!(
        src_off as isize + slo >= 0 && src_off as isize + shi <= src.len() as isize,
        "source block out of bounds"
    );
    assert!(
        dst_off as isize + dlo >= 0 && dst_off as isize + dhi <= dst.len() as isize,
        "destination block out of bounds"
    );
    // Axes that matter (extent > 1).
    let axes: Vec<usize> = (0..count.len()).filter(|&d| count[d] > 1).collect();
    let e = elem as isize;
    // The destination's contiguous axis (innermost with stride elem) and the
    // source's.
    let a = axes.iter().rev().copied().find(|&d| dst_strides[d] == e);
    let b = axes.iter().rev().copied().find(|&d| src_strides[d] == e);
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) if a != b => (a, b),
        _ => {
            copy_strided(
                src,
                src_off,
                &Strides(src_strides.to_vec()),
                dst,
                dst_off,
                &Strides(dst_strides.to_vec()),
                count,
                elem,
            );
            return;
        }
    };
    let outer: Vec<usize> = axes.iter().copied().filter(|&d| d != a && d != b).collect();
    let plane = Plane {
        na: count[a],
        nb: count[b],
        // Source stride along a (the destination's contiguous axis) and
        // destination stride along b (the source's contiguous axis).
        sa: src_strides[a],
        db: dst_strides[b],
    };
    let walk = Walk {
        outer: &outer,
        count,
        src_strides,
        dst_strides,
    };
    // SAFETY: the whole block was checked to lie inside `src` and `dst` (span
    // checks above); every offset the walk and the plane copy compute is the
    // offset of an element of that block. `src` and `dst` are distinct
    // borrows, so they do not overlap.
    unsafe {
        let sp = src.as_ptr().add(src_off);
        let dp = dst.as_mut_ptr().add(dst_off);
        match elem {
            1 => walk.run::<1>(&plane, sp, dp),
            2 => walk.run::<2>(&plane, sp, dp),
            4 => walk.run::<4>(&plane, sp, dp),
            8 => walk.run::<8>(&plane, sp, dp),
            16 => walk.run::<16>(&plane, sp, dp),
            _ => walk.run_any(&plane, sp, dp, elem),
        }
    }
}

/// The axes of a block other than the plane's, walked by an odometer.
struct Walk<'a> {
    outer: &'a [usize],
    count: &'a [usize],
    src_strides: &'a [isize],
    dst_strides: &'a [isize],
}

impl Walk<'_> {
    /// Calls `f` with the source and destination byte offsets of every plane.
    fn each(&self, mut f: impl FnMut(isize, isize)) {
        let mut idx = vec![0usize; self.outer.len()];
        loop {
            let mut so = 0isize;
            let mut dof = 0isize;
            for (i, &d) in self.outer.iter().enumerate() {
                so += self.src_strides[d] * idx[i] as isize;
                dof += self.dst_strides[d] * idx[i] as isize;
            }
            f(so, dof);
            let mut k = self.outer.len();
            loop {
                if k == 0 {
                    return;
                }
                k -= 1;
                idx[k] += 1;
                if idx[k] < self.count[self.outer[k]] {
                    break;
                }
                idx[k] = 0;
            }
        }
    }

    /// Copies every plane with `E`-byte elements.
    ///
    /// # Safety
    /// `sp`/`dp` are the block bases; every element of the block must be
    /// readable at the source and writable at the destination, without overlap.
    unsafe fn run<const E: usize>(&self, plane: &Plane, sp: *const u8, dp: *mut u8) {
        let t = tile(E);
        let mut buf = vec![[0u8; E]; t * t];
        self.each(|so, dof| {
            // SAFETY: the plane at these offsets is part of the block (caller).
            unsafe { plane.copy::<E>(sp.offset(so), dp.offset(dof), &mut buf) }
        });
    }

    /// As [`Self::run`] for any element size.
    ///
    /// # Safety
    /// As for [`Self::run`].
    unsafe fn run_any(&self, plane: &Plane, sp: *const u8, dp: *mut u8, elem: usize) {
        self.each(|so, dof| {
            // SAFETY: as in `run`.
            unsafe { plane.copy_any(sp.offset(so), dp.offset(dof), elem) }
        });
    }
}

/// One 2-D plane of a transposing copy: `na × nb` elements where the source
/// is contiguous along `b` and the destination along `a`.
struct Plane {
    na: usize,
    nb: usize,
    sa: isize,
    db: isize,
}

/// Tile edge in elements: about 64 bytes of contiguous data per tile row.
const fn tile(elem: usize) -> usize {
    let t = 64 / elem;
    if t < 8 {
        8
    } else {
        t
    }
}

impl Plane {
    /// Copies the plane with `E`-byte elements.
    ///
    /// # Safety
    /// For `i < na`, `j < nb`: `sp + i·sa + j·E` must be readable and
    /// `dp + j·db + i·E` writable for `E` bytes, and the two must not overlap;
    /// `buf` holds at least `tile(E)²` elements.
    unsafe fn copy<const E: usize>(&self, sp: *const u8, dp: *mut u8, buf: &mut [[u8; E]]) {
        let t = tile(E);
        let e = E as isize;
        // The tile goes through a small buffer that stays in L1: rows of the
        // source are read whole (contiguous), rows of the destination are
        // written whole. Large power-of-two strides would otherwise map every
        // row of a tile to the same cache set.
        let mut i0 = 0;
        while i0 < self.na {
            let ti = (i0 + t).min(self.na) - i0;
            let mut j0 = 0;
            while j0 < self.nb {
                let tj = (j0 + t).min(self.nb) - j0;
                for i in 0..ti {
                    // SAFETY: i0 + i < na and j0 + tj <= nb (caller's contract
                    // covers every such element); row i of `buf` (t elements
                    // from i*t) has room for tj <= t elements.
                    unsafe {
                        let s = sp.offset((i0 + i) as isize * self.sa + j0 as isize * e);
                        std::ptr::copy_nonoverlapping(
                            s,
                            buf.as_mut_ptr().add(i * t) as *mut u8,
                            tj * E,
                        );
                    }
                }
                for j in 0..tj {
                    // SAFETY: as above, for the destination row j0 + j.
                    unsafe {
                        let d = dp.offset((j0 + j) as isize * self.db + i0 as isize * e);
                        let d = d as *mut [u8; E];
                        for i in 0..ti {
                            std::ptr::write_unaligned(d.add(i), buf[i * t + j]);
                        }
                    }
                }
                j0 += tj;
            }
            i0 += ti;
        }
    }

    /// As [`Self::copy`] for any element size.
    ///
    /// # Safety
    /// As for [`Self::copy`] with `E = elem`.
    unsafe fn copy_any(&self, sp: *const u8, dp: *mut u8, elem: usize) {
        let t = tile(elem.max(1));
        let e = elem as isize;
        let mut i0 = 0;
        while i0 < self.na {
            let i1 = (i0 + t).min(self.na);
            let mut j0 = 0;
            while j0 < self.nb {
                let j1 = (j0 + t).min(self.nb);
                for j in j0..j1 {
                    for i in i0..i1 {
                        // SAFETY: as in `copy`.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                sp.offset(i as isize * self.sa + j as isize * e),
                                dp.offset(j as isize * self.db + i as isize * e),
                                elem,
                            );
                        }
                    }
                }
                j0 = j1;
            }
            i0 = i1;
        }
    }
}

/// Writes `src` (C order, `shape`) transposed by `order` into `dst`, as
/// [`crate::nd::permute`] does, with the blocked kernel.
pub fn permute(src: &[u8], shape: &[usize], order: &[usize], dst: &mut [u8], elem: usize) {
    let out_shape: Vec<usize> = order.iter().map(|&o| shape[o]).collect();
    let ss = Strides::c_order(shape, elem);
    let perm: Vec<isize> = order.iter().map(|&o| ss.0[o]).collect();
    let ds = Strides::c_order(&out_shape, elem);
    copy_permuted(src, 0, &perm, dst, 0, &ds.0, &out_shape, elem);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_perms(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = vec![];
        for p in all_perms(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn matches_reference_permute() {
        let shapes: [&[usize]; 6] = [
            &[7, 5],
            &[1, 9, 3],
            &[33, 2, 17],
            &[4, 3, 2, 5],
            &[65, 70],
            &[3, 1, 1, 4],
        ];
        for shape in shapes {
            for elem in [1usize, 2, 3, 4, 8, 16] {
                let n: usize = shape.iter().product::<usize>() * elem;
                let src: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
                for order in all_perms(shape.len()) {
                    let mut want = vec![0u8; n];
                    crate::nd::permute(&src, shape, &order, &mut want, elem);
                    let mut got = vec![0u8; n];
                    permute(&src, shape, &order, &mut got, elem);
                    assert_eq!(got, want, "shape {shape:?} order {order:?} elem {elem}");
                }
            }
        }
    }

    #[test]
    fn sub_block_with_offsets() {
        // A 3x4x5 block at (1,2,3) of a 6x8x10 u16 source, reversed into a
        // 6x5x5 destination at (1,0,0).
        let (ss, es) = ([6usize, 8, 10], 2usize);
        let src: Vec<u8> = (0..ss.iter().product::<usize>() * es)
            .map(|i| i as u8)
            .collect();
        let sst = Strides::c_order(&ss, es);
        let ds = [6usize, 5, 5];
        let dst_st = Strides::c_order(&ds, es);
        let count = [5usize, 4, 3]; // destination axes = source axes 2, 1, 0
        let perm_src: Vec<isize> = [2, 1, 0].iter().map(|&o| sst.0[o]).collect();
        let so = sst.offset(&[1, 2, 3]) as usize;
        let dof = dst_st.offset(&[1, 0, 0]) as usize;
        let mut a = vec![0u8; ds.iter().product::<usize>() * es];
        let mut b = a.clone();
        copy_permuted(&src, so, &perm_src, &mut a, dof, &dst_st.0, &count, es);
        copy_strided(
            &src,
            so,
            &Strides(perm_src.clone()),
            &mut b,
            dof,
            &dst_st,
            &count,
            es,
        );
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != 0));
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn refuses_out_of_bounds() {
        let src = [0u8; 4];
        let mut dst = [0u8; 4];
        copy_permuted(&src, 0, &[2, 1], &mut dst, 0, &[1, 2], &[2, 3], 1);
    }
}

//! N-dimensional geometry and copy kernels on byte buffers.
//!
//! Everything here works on element sizes in bytes and C-order (row-major)
//! layouts unless strides are given explicitly. The kernels merge trailing
//! dimensions that are contiguous in both source and destination, so a copy
//! of whole rows becomes one `memcpy` per run.

/// C-order strides, in elements, of `shape`.
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Number of elements of `shape` (1 for a 0-d shape).
pub fn num_elements(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements of a `u64` shape, or `None` on overflow.
pub fn checked_num_elements(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |a, &b| a.checked_mul(b))
}

/// A strided view for [`copy_strided`]: byte strides per dimension.
#[derive(Debug, Clone)]
pub struct Strides(pub Vec<isize>);

impl Strides {
    /// C-order byte strides of `shape` with `elem`-byte elements.
    pub fn c_order(shape: &[usize], elem: usize) -> Strides {
        Strides(
            c_strides(shape)
                .into_iter()
                .map(|s| (s * elem) as isize)
                .collect(),
        )
    }

    /// Fortran-order (column-major) byte strides of `shape`.
    pub fn f_order(shape: &[usize], elem: usize) -> Strides {
        let mut s = vec![0isize; shape.len()];
        let mut acc = elem as isize;
        for (i, &n) in shape.iter().enumerate() {
            s[i] = acc;
            acc *= n as isize;
        }
        Strides(s)
    }

    /// Byte offset of the element at `index`.
    pub fn offset(&self, index: &[usize]) -> isize {
        self.0
            .iter()
            .zip(index)
            .map(|(&s, &i)| s * i as isize)
            .sum()
    }
}

/// Copies a block of `count` elements (per dimension) between two strided
/// layouts.
///
/// # Safety
/// For every index `i` with `i[d] < count[d]`, `src + src_strides·i` must be
/// valid for reads of `elem` bytes and `dst + dst_strides·i` valid for writes of
/// `elem` bytes; the two regions must not overlap, and no other thread may
/// write the destination elements during the call.
pub unsafe fn copy_strided_raw(
    src: *const u8,
    src_strides: &[isize],
    dst: *mut u8,
    dst_strides: &[isize],
    count: &[usize],
    elem: usize,
) {
    if count.contains(&0) {
        return;
    }
    // Merge trailing dimensions that are contiguous in both layouts into one
    // run of bytes.
    let nd = count.len();
    let mut run = elem;
    let mut outer = nd;
    while outer > 0 {
        let d = outer - 1;
        if src_strides[d] == run as isize && dst_strides[d] == run as isize {
            run *= count[d];
            outer -= 1;
        } else {
            break;
        }
    }
    // Within the innermost non-merged dimension, copy element runs.
    if outer == 0 {
        // SAFETY: the caller guarantees `run` bytes are valid at both ends.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, run) };
        return;
    }
    let inner = outer - 1;
    let n_inner = count[inner];
    let (ss, ds) = (src_strides[inner], dst_strides[inner]);
    let mut idx = vec![0usize; inner];
    loop {
        let mut so = 0isize;
        let mut dof = 0isize;
        for d in 0..inner {
            so += src_strides[d] * idx[d] as isize;
            dof += dst_strides[d] * idx[d] as isize;
        }
        // SAFETY: every pointer dereferenced stays within the block the
        // caller vouched for. Stepping past the last element of a row uses
        // `wrapping_offset`: that pointer may lie outside the allocation
        // (by a stride) and is never dereferenced; `offset` there would be
        // undefined behaviour (found by Miri).
        unsafe {
            let mut sp = src.offset(so);
            let mut dp = dst.offset(dof);
            match run {
                1 => {
                    for _ in 0..n_inner {
                        *dp = *sp;
                        sp = sp.wrapping_offset(ss);
                        dp = dp.wrapping_offset(ds);
                    }
                }
                2 => {
                    for _ in 0..n_inner {
                        std::ptr::copy_nonoverlapping(sp, dp, 2);
                        sp = sp.wrapping_offset(ss);
                        dp = dp.wrapping_offset(ds);
                    }
                }
                4 => {
                    for _ in 0..n_inner {
                        std::ptr::copy_nonoverlapping(sp, dp, 4);
                        sp = sp.wrapping_offset(ss);
                        dp = dp.wrapping_offset(ds);
                    }
                }
                8 => {
                    for _ in 0..n_inner {
                        std::ptr::copy_nonoverlapping(sp, dp, 8);
                        sp = sp.wrapping_offset(ss);
                        dp = dp.wrapping_offset(ds);
                    }
                }
                _ => {
                    for _ in 0..n_inner {
                        std::ptr::copy_nonoverlapping(sp, dp, run);
                        sp = sp.wrapping_offset(ss);
                        dp = dp.wrapping_offset(ds);
                    }
                }
            }
        }
        if !next_index(&mut idx, &count[..inner]) {
            return;
        }
    }
}

/// Advances `idx` to the next index of a grid of `shape` in C order (last
/// axis fastest); `false` (and `idx` back at all zeros) after the last one.
fn next_index<T>(idx: &mut [T], shape: &[T]) -> bool
where
    T: Copy + PartialOrd + std::ops::AddAssign + From<u8>,
{
    for d in (0..idx.len()).rev() {
        idx[d] += T::from(1);
        if idx[d] < shape[d] {
            return true;
        }
        idx[d] = T::from(0);
    }
    false
}

/// Calls `f` with every index of a grid of `shape`, in C order (once, with an
/// empty index, for a 0-d grid; never for a grid with a zero extent).
pub fn for_each_index(shape: &[u64], mut f: impl FnMut(&[u64])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0u64; shape.len()];
    loop {
        f(&idx);
        if !next_index(&mut idx, shape) {
            return;
        }
    }
}

/// The byte span `[min, max)` touched by a strided block, relative to its base.
pub(crate) fn span(strides: &[isize], count: &[usize], elem: usize) -> (isize, isize) {
    let (mut lo, mut hi) = (0isize, elem as isize);
    for (&s, &n) in strides.iter().zip(count) {
        if n == 0 {
            return (0, 0);
        }
        let ext = s * (n as isize - 1);
        if ext < 0 {
            lo += ext;
        } else {
            hi += ext;
        }
    }
    (lo, hi)
}

/// Safe strided copy: `src[src_off + ...]` to `dst[dst_off + ...]`.
///
/// Panics if the block does not fit either buffer (a bug in the caller's
/// geometry, never reachable from input that passed validation).
#[allow(clippy::too_many_arguments)]
pub fn copy_strided(
    src: &[u8],
    src_off: usize,
    src_strides: &Strides,
    dst: &mut [u8],
    dst_off: usize,
    dst_strides: &Strides,
    count: &[usize],
    elem: usize,
) {
    let (slo, shi) = span(&src_strides.0, count, elem);
    let (dlo, dhi) = span(&dst_strides.0, count, elem);
    if shi == slo {
        return;
    }
    assert!(
        src_off as isize + slo >= 0 && src_off as isize + shi <= src.len() as isize,
        "source block out of bounds"
    );
    assert!(
        dst_off as isize + dlo >= 0 && dst_off as isize + dhi <= dst.len() as isize,
        "destination block out of bounds"
    );
    // SAFETY: both blocks were checked to lie inside their slices; `&[u8]` and
    // `&mut [u8]` cannot overlap.
    unsafe {
        copy_strided_raw(
            src.as_ptr().add(src_off),
            &src_strides.0,
            dst.as_mut_ptr().add(dst_off),
            &dst_strides.0,
            count,
            elem,
        )
    }
}

/// Copies the block `count` at `src_start` of a C-order `src_shape` buffer to
/// `dst_start` of a C-order `dst_shape` buffer.
#[allow(clippy::too_many_arguments)]
pub fn copy_block(
    src: &[u8],
    src_shape: &[usize],
    src_start: &[usize],
    dst: &mut [u8],
    dst_shape: &[usize],
    dst_start: &[usize],
    count: &[usize],
    elem: usize,
) {
    let ss = Strides::c_order(src_shape, elem);
    let ds = Strides::c_order(dst_shape, elem);
    let so = ss.offset(src_start) as usize;
    let dof = ds.offset(dst_start) as usize;
    copy_strided(src, so, &ss, dst, dof, &ds, count, elem);
}

/// Writes `src` (C order, shape `shape`) into `dst` as its transpose by
/// `order`: `dst` has shape `shape[order[i]]` and
/// `dst[j_0, ..] = src[i]` with `j_k = i[order[k]]`.
pub fn permute(src: &[u8], shape: &[usize], order: &[usize], dst: &mut [u8], elem: usize) {
    let out_shape: Vec<usize> = order.iter().map(|&o| shape[o]).collect();
    let src_strides = Strides::c_order(shape, elem);
    // Walk the destination in C order; source strides permuted.
    let perm_src = Strides(order.iter().map(|&o| src_strides.0[o]).collect());
    let dst_strides = Strides::c_order(&out_shape, elem);
    copy_strided(src, 0, &perm_src, dst, 0, &dst_strides, &out_shape, elem);
}

/// Inverse of a permutation.
pub fn inverse_permutation(order: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; order.len()];
    for (i, &o) in order.iter().enumerate() {
        inv[o] = i;
    }
    inv
}

/// Fills `dst` with repetitions of `pattern` (one element).
pub fn fill_with(dst: &mut [u8], pattern: &[u8]) {
    if pattern.iter().all(|&b| b == pattern[0]) {
        dst.fill(pattern.first().copied().unwrap_or(0));
        return;
    }
    for c in dst.chunks_exact_mut(pattern.len()) {
        c.copy_from_slice(pattern);
    }
}

/// Whether every element of `buf` equals `pattern`.
pub fn all_equal(buf: &[u8], pattern: &[u8]) -> bool {
    if pattern.is_empty() {
        return true;
    }
    if pattern.iter().all(|&b| b == pattern[0]) {
        let p = pattern[0];
        // Word-at-a-time comparison.
        let (head, body, tail) = {
            // SAFETY: reinterpreting aligned bytes as u64 is valid for any bit
            // pattern; `align_to` returns correctly aligned middle part.
            unsafe { buf.align_to::<u64>() }
        };
        let w = u64::from_le_bytes([p; 8]);
        return head.iter().all(|&b| b == p)
            && body.iter().all(|&x| x == w)
            && tail.iter().all(|&b| b == p);
    }
    buf.chunks_exact(pattern.len()).all(|c| c == pattern)
}

/// A mutable output buffer that several threads fill at once, each writing a
/// disjoint set of elements (chunks of a region, inner chunks of a shard).
///
/// Bounds are checked on every call; disjointness is the caller's promise
/// (hence the `unsafe` methods).
pub struct DisjointOut<'a> {
    ptr: *mut u8,
    len: usize,
    _buf: std::marker::PhantomData<&'a mut [u8]>,
}

// SAFETY: the pointer comes from a `&'a mut [u8]` that the value borrows for
// its whole life; concurrent use is restricted by the `unsafe` methods'
// contract to disjoint elements.
unsafe impl Send for DisjointOut<'_> {}
// SAFETY: as above.
unsafe impl Sync for DisjointOut<'_> {}

impl<'a> DisjointOut<'a> {
    /// Wraps a buffer.
    pub fn new(buf: &'a mut [u8]) -> Self {
        DisjointOut {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            _buf: std::marker::PhantomData,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, off: usize, strides: &Strides, count: &[usize], elem: usize) {
        let (lo, hi) = span(&strides.0, count, elem);
        assert!(
            hi == lo || (off as isize + lo >= 0 && off as isize + hi <= self.len as isize),
            "output block out of bounds"
        );
    }

    /// Copies a strided block of `src` into the buffer.
    ///
    /// # Safety
    /// No other thread may access the destination elements during the call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn write_block(
        &self,
        src: &[u8],
        src_off: usize,
        src_strides: &Strides,
        dst_off: usize,
        dst_strides: &Strides,
        count: &[usize],
        elem: usize,
    ) {
        let (slo, shi) = span(&src_strides.0, count, elem);
        if shi == slo {
            return;
        }
        assert!(
            src_off as isize + slo >= 0 && src_off as isize + shi <= src.len() as isize,
            "source block out of bounds"
        );
        self.check(dst_off, dst_strides, count, elem);
        // SAFETY: both blocks are in bounds (checked above); exclusivity of the
        // destination elements is the caller's contract; `src` is a shared
        // slice distinct from the output buffer.
        unsafe {
            copy_strided_raw(
                src.as_ptr().add(src_off),
                &src_strides.0,
                self.ptr.add(dst_off),
                &dst_strides.0,
                count,
                elem,
            )
        }
    }

    /// Fills a strided block with repetitions of `pattern` (one element).
    ///
    /// # Safety
    /// As for [`Self::write_block`].
    pub unsafe fn fill_block(
        &self,
        pattern: &[u8],
        dst_off: usize,
        dst_strides: &Strides,
        count: &[usize],
    ) {
        let elem = pattern.len();
        let n = num_elements(count);
        if n == 0 || elem == 0 {
            return;
        }
        // One row of the innermost dimension, reused as a strided source
        // with stride 0 on the outer dimensions.
        let inner = count.last().copied().unwrap_or(1);
        let mut row = vec![0u8; inner * elem];
        fill_with(&mut row, pattern);
        let mut src_strides = vec![0isize; count.len()];
        if let Some(l) = src_strides.last_mut() {
            *l = elem as isize;
        }
        self.check(dst_off, dst_strides, count, elem);
        // SAFETY: the source pointer with these strides only touches `row`
        // (outer strides are 0); the destination is in bounds (checked) and
        // exclusively ours per the caller's contract.
        unsafe {
            copy_strided_raw(
                row.as_ptr(),
                &src_strides,
                self.ptr.add(dst_off),
                &dst_strides.0,
                count,
                elem,
            )
        }
    }

    /// A contiguous sub-slice, for decoding straight into the output.
    ///
    /// # Safety
    /// No other thread may access these bytes while the slice lives, and at
    /// most one such slice over any byte may exist at a time.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, off: usize, len: usize) -> &mut [u8] {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.len),
            "slice out of bounds"
        );
        // SAFETY: in bounds (checked); exclusivity is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_copy_and_permute() {
        // 3x4 u8 source
        let src: Vec<u8> = (0..12).collect();
        let mut dst = vec![0u8; 6];
        copy_block(
            &src,
            &[3, 4],
            &[1, 1],
            &mut dst,
            &[2, 3],
            &[0, 0],
            &[2, 3],
            1,
        );
        assert_eq!(dst, vec![5, 6, 7, 9, 10, 11]);
        let mut t = vec![0u8; 12];
        permute(&src, &[3, 4], &[1, 0], &mut t, 1);
        assert_eq!(t, vec![0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
        let mut back = vec![0u8; 12];
        permute(&t, &[4, 3], &inverse_permutation(&[1, 0]), &mut back, 1);
        assert_eq!(back, src);
    }

    #[test]
    fn f_order_copy() {
        let src: Vec<u8> = (0..6).collect(); // 2x3 C
        let mut dst = vec![0u8; 6];
        let fs = Strides::f_order(&[2, 3], 1);
        copy_strided(
            &src,
            0,
            &Strides::c_order(&[2, 3], 1),
            &mut dst,
            0,
            &fs,
            &[2, 3],
            1,
        );
        assert_eq!(dst, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn equality() {
        assert!(all_equal(&[0u8; 100], &[0, 0]));
        assert!(!all_equal(&[0u8, 0, 1, 0], &[0, 0]));
        assert!(all_equal(&[1u8, 2, 1, 2], &[1, 2]));
    }
}

//! Heavy tests of the core's `unsafe` code, written to run three ways:
//! under `cargo test`, under Miri (`scripts/miri.sh`: undefined behaviour,
//! out-of-bounds and data races in the Rust code) and under valgrind's
//! memcheck (`tests/suites/reliability.sh`: also the C code behind FFI,
//! which Miri cannot run).
//!
//! * `nd::copy_strided` / `copy_strided_raw` against a naive reference,
//!   for many shapes, strides (C, F, permuted, negative-free subblocks) and
//!   element sizes;
//! * `nd::DisjointOut`: blocks written and filled from several threads at
//!   once, contiguous slices handed out to threads;
//! * `nd::all_equal` on every alignment;
//! * the decoded-chunk cache's slabs: slots written and read from several
//!   threads, evicted, reused;
//! * the blosc FFI (`blosc_compress_ctx`, `blosc_decompress_ctx`,
//!   `blosc_cbuffer_validate`) from several threads (not under Miri).

use std::sync::Arc;

use zarrcore::codec::{BloscCodec, BloscCompressor, BloscShuffle, BytesToBytes};
use zarrcore::engine::cache;
use zarrcore::nd::{self, DisjointOut, Strides};

/// A small deterministic generator (no dependency, Miri-friendly).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Iterations: fewer under Miri, and under valgrind (which the reliability
/// suite signals with `ZARRCORE_TEST_LIGHT`).
fn iters(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else if std::env::var_os("ZARRCORE_TEST_LIGHT").is_some() {
        normal / 4
    } else {
        normal
    }
}

/// Index of `idx` in C order of `shape`.
fn c_index(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |a, (&i, &s)| a * s + i)
}

/// Every index of `shape` in C order.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut k| {
            let mut idx = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                idx[d] = k % shape[d];
                k /= shape[d];
            }
            idx
        })
        .collect()
}

#[test]
fn copy_block_matches_reference() {
    let mut rng = Lcg(1);
    for _ in 0..iters(400, 25) {
        let nd = 1 + rng.below(4) as usize;
        let elem = [1, 2, 3, 4, 8, 16][rng.below(6) as usize];
        let src_shape: Vec<usize> = (0..nd).map(|_| 1 + rng.below(5) as usize).collect();
        let count: Vec<usize> = src_shape
            .iter()
            .map(|&s| rng.below(s as u64 + 1) as usize)
            .collect();
        let src_start: Vec<usize> = src_shape
            .iter()
            .zip(&count)
            .map(|(&s, &c)| rng.below((s - c) as u64 + 1) as usize)
            .collect();
        let dst_shape: Vec<usize> = count.iter().map(|&c| c + rng.below(3) as usize).collect();
        let dst_start: Vec<usize> = dst_shape
            .iter()
            .zip(&count)
            .map(|(&s, &c)| rng.below((s - c) as u64 + 1) as usize)
            .collect();
        let n_src: usize = src_shape.iter().product::<usize>() * elem;
        let n_dst: usize = dst_shape.iter().product::<usize>() * elem;
        let src: Vec<u8> = (0..n_src).map(|i| (i * 31 % 251) as u8).collect();
        let mut dst = vec![0xeeu8; n_dst];
        nd::copy_block(
            &src, &src_shape, &src_start, &mut dst, &dst_shape, &dst_start, &count, elem,
        );
        let mut want = vec![0xeeu8; n_dst];
        for idx in indices(&count) {
            let s: Vec<usize> = idx.iter().zip(&src_start).map(|(a, b)| a + b).collect();
            let d: Vec<usize> = idx.iter().zip(&dst_start).map(|(a, b)| a + b).collect();
            let so = c_index(&s, &src_shape) * elem;
            let dof = c_index(&d, &dst_shape) * elem;
            want[dof..dof + elem].copy_from_slice(&src[so..so + elem]);
        }
        assert_eq!(
            dst, want,
            "{src_shape:?} {src_start:?} {count:?} -> {dst_shape:?} elem {elem}"
        );
    }
}

#[test]
fn permute_and_f_order_match_reference() {
    let mut rng = Lcg(2);
    for _ in 0..iters(200, 15) {
        let nd = 1 + rng.below(4) as usize;
        let elem = [1, 2, 4, 8][rng.below(4) as usize];
        let shape: Vec<usize> = (0..nd).map(|_| 1 + rng.below(4) as usize).collect();
        let mut order: Vec<usize> = (0..nd).collect();
        for i in (1..nd).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let n: usize = shape.iter().product::<usize>() * elem;
        let src: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let mut dst = vec![0u8; n];
        nd::permute(&src, &shape, &order, &mut dst, elem);
        let out_shape: Vec<usize> = order.iter().map(|&o| shape[o]).collect();
        for idx in indices(&shape) {
            let j: Vec<usize> = order.iter().map(|&o| idx[o]).collect();
            let so = c_index(&idx, &shape) * elem;
            let dof = c_index(&j, &out_shape) * elem;
            assert_eq!(&dst[dof..dof + elem], &src[so..so + elem]);
        }
        // C order to F order through explicit strides.
        let mut f = vec![0u8; n];
        nd::copy_strided(
            &src,
            0,
            &Strides::c_order(&shape, elem),
            &mut f,
            0,
            &Strides::f_order(&shape, elem),
            &shape,
            elem,
        );
        for idx in indices(&shape) {
            let so = c_index(&idx, &shape) * elem;
            let fo: usize = idx
                .iter()
                .zip(&shape)
                .rev()
                .fold(0, |a, (&i, &s)| a * s + i)
                * elem;
            assert_eq!(&f[fo..fo + elem], &src[so..so + elem]);
        }
    }
}

#[test]
#[should_panic(expected = "out of bounds")]
fn copy_strided_checks_bounds() {
    let src = [0u8; 8];
    let mut dst = [0u8; 8];
    // A block of 3x3 one-byte elements does not fit 8 bytes.
    nd::copy_strided(
        &src,
        0,
        &Strides(vec![3, 1]),
        &mut dst,
        0,
        &Strides(vec![3, 1]),
        &[3, 3],
        1,
    );
}

#[test]
fn disjoint_out_from_many_threads() {
    // A 2-d output of 4x3 blocks of 5x7 two-byte elements; each thread
    // writes or fills some blocks, one takes a contiguous row slice.
    let (bh, bw, gh, gw, elem) = (5usize, 7usize, 4usize, 3usize, 2usize);
    let shape = [bh * gh, bw * gw];
    let mut out = vec![0u8; shape[0] * shape[1] * elem];
    let strides = Strides::c_order(&shape, elem);
    let block_strides = Strides::c_order(&[bh, bw], elem);
    {
        let d = DisjointOut::new(&mut out);
        assert_eq!(d.len(), shape[0] * shape[1] * elem);
        std::thread::scope(|s| {
            for b in 0..gh * gw {
                let (d, strides, block_strides) = (&d, &strides, &block_strides);
                s.spawn(move || {
                    let (r, c) = (b / gw, b % gw);
                    let off = strides.offset(&[r * bh, c * bw]) as usize;
                    if b % 2 == 0 {
                        let src: Vec<u8> =
                            (0..bh * bw * elem).map(|i| (b * 17 + i) as u8).collect();
                        // SAFETY: block `b` is written by this thread only.
                        unsafe {
                            d.write_block(&src, 0, block_strides, off, strides, &[bh, bw], elem)
                        };
                    } else {
                        // SAFETY: as above.
                        unsafe { d.fill_block(&[b as u8, 0xa5], off, strides, &[bh, bw]) };
                    }
                });
            }
        });
        // Contiguous slices of disjoint rows, one per thread.
        let row = shape[1] * elem;
        std::thread::scope(|s| {
            for r in [0usize, shape[0] - 1] {
                let d = &d;
                s.spawn(move || {
                    // SAFETY: each thread takes a different row.
                    let sl = unsafe { d.slice_mut(r * row, row) };
                    sl.fill(0x77);
                });
            }
        });
    }
    for r in 0..shape[0] {
        for c in 0..shape[1] {
            let b = (r / bh) * gw + c / bw;
            let o = (r * shape[1] + c) * elem;
            let got = &out[o..o + elem];
            if r == 0 || r == shape[0] - 1 {
                assert_eq!(got, [0x77, 0x77]);
            } else if b % 2 == 0 {
                let i = ((r % bh) * bw + c % bw) * elem;
                assert_eq!(got, [(b * 17 + i) as u8, (b * 17 + i + 1) as u8]);
            } else {
                assert_eq!(got, [b as u8, 0xa5]);
            }
        }
    }
}

#[test]
#[should_panic(expected = "out of bounds")]
fn disjoint_out_checks_bounds() {
    let mut out = vec![0u8; 16];
    let d = DisjointOut::new(&mut out);
    // SAFETY: single thread; the call must panic before writing.
    unsafe { d.fill_block(&[1], 10, &Strides(vec![1]), &[7]) };
}

#[test]
fn all_equal_every_alignment() {
    let buf: Vec<u8> = vec![7u8; 80];
    for start in 0..9 {
        for end in (start..80).step_by(5) {
            assert!(nd::all_equal(&buf[start..end], &[7]));
            assert!(nd::all_equal(&buf[start..end], &[7, 7]));
            let mut b = buf[start..end].to_vec();
            if !b.is_empty() {
                let k = b.len() / 2;
                b[k] = 8;
                assert!(!nd::all_equal(&b, &[7]));
            }
        }
    }
    assert!(nd::all_equal(&[1, 2, 1, 2], &[1, 2]));
    assert!(!nd::all_equal(&[1, 2, 2, 1], &[1, 2]));
}

#[test]
fn cache_slabs_from_many_threads() {
    let c = cache::cache();
    let threads = if cfg!(miri) { 3 } else { 8 };
    let per = iters(300, 6);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                for i in 0..per {
                    // A few chunk sizes, so several slabs, and keys shared
                    // between threads (single-flight loads).
                    let size = [48usize, 64, 1000, 4096][(i % 7) % 4];
                    let key = (
                        9_000_000 + (i % 7) as u64,
                        format!("k{}", i % 5),
                        String::new(),
                    );
                    let fill = (key.0 as usize * 31 + key.1.len() + size) as u8;
                    let e = c
                        .get_or_load(key.clone(), size, None, |buf| {
                            assert_eq!(buf.len(), size);
                            buf.fill(fill);
                            Ok(true)
                        })
                        .unwrap();
                    let b = e.bytes().unwrap();
                    assert_eq!(b.len(), size);
                    assert!(b.iter().all(|&x| x == fill), "slot shared or torn");
                    if i % 11 == 0 {
                        c.invalidate(key.0, &key.1);
                    }
                }
            });
        }
    });
    // Absent chunks and loads that fail are not cached.
    let e = c
        .get_or_load((9_999_999, "gone".into(), String::new()), 64, None, |_| {
            Ok(false)
        })
        .unwrap();
    assert!(e.bytes().is_none());
    let err = c.get_or_load((9_999_998, "bad".into(), String::new()), 64, None, |_| {
        Err(zarrcore::Error::invalid("load failed"))
    });
    assert!(err.is_err());
    let again = c
        .get_or_load((9_999_998, "bad".into(), String::new()), 64, None, |b| {
            b.fill(3);
            Ok(true)
        })
        .unwrap();
    assert_eq!(again.bytes().unwrap(), &[3u8; 64][..]);
    for id in 9_000_000..9_000_007 {
        c.invalidate_array(id);
    }
    let held: Arc<_> = again;
    c.invalidate_array(9_999_998);
    // An entry handed out stays valid after invalidation.
    assert_eq!(held.bytes().unwrap(), &[3u8; 64][..]);
}

#[test]
#[cfg_attr(miri, ignore = "FFI into c-blosc")]
fn blosc_ffi_round_trips_from_many_threads() {
    let cnames = [
        BloscCompressor::BloscLz,
        BloscCompressor::Lz4,
        BloscCompressor::Lz4Hc,
        BloscCompressor::Zlib,
        BloscCompressor::Zstd,
    ];
    let shuffles = [
        BloscShuffle::NoShuffle,
        BloscShuffle::Shuffle,
        BloscShuffle::BitShuffle,
        BloscShuffle::Auto,
    ];
    std::thread::scope(|s| {
        for (t, &cname) in cnames.iter().enumerate() {
            s.spawn(move || {
                let mut rng = Lcg(t as u64 + 10);
                for i in 0..iters(60, 0) {
                    let typesize = [1usize, 2, 4, 8, 3, 16][i % 6];
                    let len = match i % 5 {
                        0 => 0,
                        1 => rng.below(64) as usize,
                        _ => rng.below(if iters(4, 0) < 4 { 20_000 } else { 70_000 }) as usize,
                    };
                    let data: Vec<u8> = (0..len)
                        .map(|k| ((k / 7) as u64 ^ rng.below(4)) as u8)
                        .collect();
                    let c = BytesToBytes::Blosc(BloscCodec {
                        cname,
                        clevel: (i % 10) as u8,
                        shuffle: shuffles[i % 4],
                        typesize,
                        blocksize: [0, 256, 4096][i % 3],
                    });
                    let enc = c.encode(&data).unwrap();
                    let mut back = vec![0u8; len];
                    c.decode_into(&enc, &mut back).unwrap();
                    assert_eq!(back, data);
                    // Wrong sizes and damaged buffers fail cleanly.
                    let mut short = vec![0u8; len.saturating_sub(1)];
                    if len > 0 {
                        assert!(c.decode_into(&enc, &mut short).is_err());
                    }
                    for cut in [0, 1, 15, 16, enc.len() / 2, enc.len().saturating_sub(1)] {
                        let mut out = vec![0u8; len];
                        let _ = c.decode_into(&enc[..cut.min(enc.len())], &mut out);
                    }
                    let mut bad = enc.clone();
                    let k = rng.below(bad.len() as u64) as usize;
                    bad[k] ^= 0xff;
                    let mut out = vec![0u8; len];
                    let _ = c.decode_into(&bad, &mut out);
                }
            });
        }
    });
}

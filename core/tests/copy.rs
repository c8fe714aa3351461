//! `ops::copy` against a reference model: the destination must equal the
//! source region read whole, permuted with `nd::permute` (and converted
//! element by element), for many shapes, types, chunkings, shardings,
//! permutations (including 4-D), formats and budgets; stored chunks are
//! exactly the cells holding a non-fill value; a cancelled copy resumed
//! ends with exactly the store an uninterrupted one leaves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use zarrcore::metadata::ZarrFormat;
use zarrcore::ops::{copy, plan_copy, Casting, CopyOptions, CopyProgress, Outcome, Shards};
use zarrcore::store::MemoryStore;
use zarrcore::{
    nd, Array, ArrayBuilder, DataType, Endian, FillValue, Mode, Order, Region, StoreRef,
};

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

fn store(name: &str) -> StoreRef {
    static N: AtomicU64 = AtomicU64::new(0);
    MemoryStore::named(&format!(
        "copy-test-{name}-{}",
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Random data where about a third of the elements are the fill value (0),
/// in runs, so that some chunks are all fill.
fn data(rng: &mut Rng, n_elems: usize, elem: usize, dtype: DataType) -> Vec<u8> {
    let mut v = vec![0u8; n_elems * elem];
    let mut i = 0;
    while i < n_elems {
        let run = 1 + rng.below(40) as usize;
        let zero = rng.below(3) == 0;
        for k in i..(i + run).min(n_elems) {
            if !zero {
                for b in &mut v[k * elem..(k + 1) * elem] {
                    *b = rng.next() as u8;
                }
                if dtype == DataType::Bool {
                    v[k] &= 1;
                }
                if matches!(
                    dtype,
                    DataType::Float32 | DataType::Float64 | DataType::Float16
                ) {
                    // Keep floats finite and not NaN so that == holds.
                    let top = if cfg!(target_endian = "little") {
                        elem - 1
                    } else {
                        0
                    };
                    v[k * elem + top] &= 0x3f;
                }
            }
        }
        i += run;
    }
    v
}

fn make_source(
    store: &StoreRef,
    shape: &[u64],
    dtype: DataType,
    b: ArrayBuilder,
    rng: &mut Rng,
) -> Vec<u8> {
    let n: usize = shape.iter().product::<u64>() as usize;
    let d = data(rng, n, dtype.size(), dtype);
    let a = b.create(store, "src").unwrap();
    a.write_region(&Region::all(shape), &d).unwrap();
    a.close().unwrap();
    d
}

/// The reference: `src[region].transpose(perm)`.
fn reference(src: &[u8], shape: &[u64], region: &Region, perm: &[usize], elem: usize) -> Vec<u8> {
    let rshape: Vec<usize> = region.shape.iter().map(|&n| n as usize).collect();
    let n: usize = rshape.iter().product();
    let mut sub = vec![0u8; n * elem];
    let full: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
    let start: Vec<usize> = region.start.iter().map(|&s| s as usize).collect();
    nd::copy_block(
        src,
        &full,
        &start,
        &mut sub,
        &rshape,
        &vec![0; rshape.len()],
        &rshape,
        elem,
    );
    let mut out = vec![0u8; n * elem];
    nd::permute(&sub, &rshape, perm, &mut out, elem);
    out
}

fn read_all(store: &StoreRef, path: &str) -> (Vec<u8>, Arc<zarrcore::ArrayMetadata>) {
    let a = Array::open(store, path, Mode::Read).unwrap();
    let m = a.metadata();
    let v = a.read_region_vec(&Region::all(&m.shape)).unwrap();
    (v, m)
}

/// Every stored key under `prefix` with its bytes.
fn contents(store: &StoreRef, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    store
        .list_prefix(prefix)
        .unwrap()
        .into_iter()
        .map(|k| {
            let v = store.get(&k).unwrap().unwrap().to_vec();
            (k, v)
        })
        .collect()
}

/// Destination cells holding a value other than fill must be stored, the
/// others must not.
fn check_stored_cells(store: &StoreRef, path: &str, data: &[u8]) {
    let a = Array::open(store, path, Mode::Read).unwrap();
    let m = a.metadata();
    let elem = m.data_type.size();
    let stored: Vec<Vec<u64>> = a
        .stored_chunks()
        .unwrap()
        .into_iter()
        .map(|c| c.cell)
        .collect();
    let grid = m.grid_shape();
    let fill = m.fill_value.as_bytes().to_vec();
    let shape: Vec<usize> = m.shape.iter().map(|&n| n as usize).collect();
    if grid.contains(&0) {
        assert!(stored.is_empty());
        return;
    }
    nd::for_each_index(&grid, |idx| {
        let start: Vec<usize> = idx
            .iter()
            .zip(&m.chunk_shape)
            .map(|(&i, &c)| (i * c) as usize)
            .collect();
        let count: Vec<usize> = start
            .iter()
            .zip(&m.chunk_shape)
            .zip(&shape)
            .map(|((&s, &c), &n)| (c as usize).min(n - s))
            .collect();
        let mut block = vec![0u8; count.iter().product::<usize>() * elem];
        nd::copy_block(
            data,
            &shape,
            &start,
            &mut block,
            &count,
            &vec![0; count.len()],
            &count,
            elem,
        );
        let has_value = !nd::all_equal(&block, &fill);
        assert_eq!(
            stored.iter().any(|c| c.as_slice() == idx),
            has_value,
            "cell {idx:?} of {path}"
        );
    });
}

fn no_progress() -> impl Fn(&CopyProgress) + Sync {
    |_: &CopyProgress| {}
}

fn run(opts: &CopyOptions) -> zarrcore::ops::CopyReport {
    copy(opts, &no_progress(), &AtomicBool::new(false)).unwrap()
}

#[test]
fn random_transposes_and_rechunks_equal_the_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dtypes = [
        DataType::UInt8,
        DataType::UInt16,
        DataType::Int32,
        DataType::Float64,
        DataType::Complex128,
        DataType::Bool,
        DataType::Int16,
    ];
    for case in 0..40 {
        let nd_ = 1 + case % 4;
        let shape: Vec<u64> = (0..nd_)
            .map(|_| 1 + rng.below(if nd_ == 4 { 9 } else { 40 }))
            .collect();
        let chunks: Vec<u64> = shape.iter().map(|&n| 1 + rng.below(n + 3)).collect();
        let dtype = dtypes[case % dtypes.len()];
        let src_store = store("rand-src");
        let mut b = ArrayBuilder::new(shape.clone(), dtype).chunks(chunks.clone());
        if case % 5 == 1 {
            b = b
                .zarr_format(ZarrFormat::V2)
                .order(Order::F)
                .endian(Endian::Big);
        }
        if case % 7 == 3 && dtype != DataType::Bool {
            b = b.codec("blosc:lz4:5:shuffle".parse().unwrap());
        }
        let d = make_source(&src_store, &shape, dtype, b, &mut rng);
        let perm = rng.perm(nd_);
        let region = if case % 3 == 0 {
            let start: Vec<u64> = shape.iter().map(|&n| rng.below(n)).collect();
            let ext: Vec<u64> = shape
                .iter()
                .zip(&start)
                .map(|(&n, &s)| 1 + rng.below(n - s))
                .collect();
            Region::new(start, ext)
        } else {
            Region::all(&shape)
        };
        let dst_store = store("rand-dst");
        let mut opts = CopyOptions::new(src_store.clone(), "src", dst_store.clone(), "out/t");
        opts.transpose = Some(perm.clone());
        opts.region = Some(region.clone());
        if case % 2 == 0 {
            opts.chunks = Some((0..nd_).map(|_| 1 + rng.below(12)).collect());
        }
        if case % 4 == 2 {
            opts.codec = Some("zstd:3".parse().unwrap());
        }
        // Small budgets force multi-cell batches and several in flight.
        opts.memory = [24 << 20, 64 << 20, 1 << 30][case % 3];
        let report = run(&opts);
        assert_eq!(report.outcome, Outcome::Complete);
        let (got, m) = read_all(&dst_store, "out/t");
        let want = reference(&d, &shape, &region, &perm, dtype.size());
        let dshape: Vec<u64> = perm.iter().map(|&k| region.shape[k]).collect();
        assert_eq!(m.shape, dshape, "case {case}");
        assert_eq!(
            got, want,
            "case {case}: shape {shape:?} chunks {chunks:?} perm {perm:?} {dtype}"
        );
        assert!(report.source_decodes >= report.plan.source_chunks || report.cells_written == 0);
        assert_eq!(
            report.source_decodes, report.plan.source_decodes,
            "case {case}"
        );
        assert_eq!(report.cells_written, report.plan.dst_cells);
        check_stored_cells(&dst_store, "out/t", &want);
        // No journal is left behind.
        assert!(dst_store
            .list_prefix("out/t/")
            .unwrap()
            .iter()
            .all(|k| !k.contains("journal")));
    }
}

#[test]
fn sharded_to_sharded_and_v2_round_trip() {
    let mut rng = Rng(42);
    let shape = vec![40u64, 36, 20];
    let src_store = store("shard-src");
    let d = make_source(
        &src_store,
        &shape,
        DataType::UInt16,
        ArrayBuilder::new(shape.clone(), DataType::UInt16)
            .chunks(vec![8, 6, 5])
            .shards(vec![16, 12, 10]),
        &mut rng,
    );
    // Inherit sharding, permuted.
    let dst_store = store("shard-dst");
    let mut opts = CopyOptions::new(src_store.clone(), "src", dst_store.clone(), "t");
    opts.transpose = Some(vec![2, 0, 1]);
    run(&opts);
    let (got, m) = read_all(&dst_store, "t");
    assert_eq!(m.chunk_shape, vec![10, 16, 12]);
    assert_eq!(m.read_chunk_shape(), vec![5, 8, 6]);
    assert_eq!(
        got,
        reference(&d, &shape, &Region::all(&shape), &[2, 0, 1], 2)
    );
    // To v2 (unsharded), gzip, then back to v3 with new shards.
    let v2 = store("v2");
    let mut o2 = CopyOptions::new(dst_store.clone(), "t", v2.clone(), "a");
    o2.zarr_format = Some(ZarrFormat::V2);
    o2.codec = Some("gzip:1".parse().unwrap());
    o2.transpose = Some(vec![1, 2, 0]);
    run(&o2);
    let (back, m2) = read_all(&v2, "a");
    assert_eq!(m2.zarr_format, ZarrFormat::V2);
    assert_eq!(back, d, "transposing back gives the source");
    let v3 = store("v3");
    let mut o3 = CopyOptions::new(v2.clone(), "a", v3.clone(), "b");
    o3.zarr_format = Some(ZarrFormat::V3);
    o3.chunks = Some(vec![4, 4, 4]);
    o3.shards = Shards::Shape(vec![8, 12, 20]);
    o3.memory = 32 << 20;
    run(&o3);
    let (again, m3) = read_all(&v3, "b");
    assert_eq!(m3.shard_shape(), Some(vec![8, 12, 20]));
    assert_eq!(again, d);
}

fn cast_ref(src: &[u8], from: DataType, to: DataType) -> Vec<u8> {
    // Independent model of NumPy astype for the pairs used below.
    let n = src.len() / from.size();
    let mut out = Vec::with_capacity(n * to.size());
    for i in 0..n {
        let e = &src[i * from.size()..(i + 1) * from.size()];
        match (from, to) {
            (DataType::UInt16, DataType::Float32) => {
                let v = if cfg!(target_endian = "little") {
                    u16::from_le_bytes([e[0], e[1]])
                } else {
                    u16::from_be_bytes([e[0], e[1]])
                };
                let f = v as f32;
                out.extend_from_slice(&if cfg!(target_endian = "little") {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            (DataType::Int32, DataType::Int8) => {
                // Wrapping: the low byte.
                let low = if cfg!(target_endian = "little") {
                    e[0]
                } else {
                    e[3]
                };
                out.push(low);
            }
            _ => unreachable!(),
        }
    }
    out
}

#[test]
fn dtype_conversion_follows_astype() {
    let mut rng = Rng(7);
    let shape = vec![30u64, 17];
    let src_store = store("cast-src");
    let d = make_source(
        &src_store,
        &shape,
        DataType::UInt16,
        ArrayBuilder::new(shape.clone(), DataType::UInt16)
            .chunks(vec![7, 5])
            .fill_value(FillValue::from_native_bytes(DataType::UInt16, &[3, 0]).unwrap()),
        &mut rng,
    );
    let dst = store("cast-dst");
    let mut o = CopyOptions::new(src_store.clone(), "src", dst.clone(), "f");
    o.dtype = Some(DataType::Float32);
    o.transpose = Some(vec![1, 0]);
    run(&o);
    let (got, m) = read_all(&dst, "f");
    assert_eq!(m.data_type, DataType::Float32);
    assert_eq!(
        m.fill_value.as_bytes(),
        &cast_ref(&[3, 0], DataType::UInt16, DataType::Float32)[..]
    );
    let t = reference(&d, &shape, &Region::all(&shape), &[1, 0], 2);
    assert_eq!(got, cast_ref(&t, DataType::UInt16, DataType::Float32));

    // A lossy conversion is refused unless same_kind casting is asked for.
    let src32 = store("cast32");
    let d32 = make_source(
        &src32,
        &shape,
        DataType::Int32,
        ArrayBuilder::new(shape.clone(), DataType::Int32).chunks(vec![9, 9]),
        &mut rng,
    );
    let out = store("cast8");
    let mut o8 = CopyOptions::new(src32.clone(), "src", out.clone(), "i8");
    o8.dtype = Some(DataType::Int8);
    let e = copy(&o8, &no_progress(), &AtomicBool::new(false)).unwrap_err();
    assert!(e.to_string().contains("same_kind"), "{e}");
    o8.casting = Casting::SameKind;
    run(&o8);
    let (got8, _) = read_all(&out, "i8");
    assert_eq!(got8, cast_ref(&d32, DataType::Int32, DataType::Int8));
    // Float to integer is refused even then.
    o8.dtype = Some(DataType::Float32);
    o8.casting = Casting::SameKind;
    let mut of = CopyOptions::new(out.clone(), "i8", store("x"), "y");
    of.dtype = Some(DataType::Bool);
    of.casting = Casting::SameKind;
    assert!(copy(&of, &no_progress(), &AtomicBool::new(false)).is_err());
}

#[test]
fn misaligned_rechunk_under_a_small_budget_decodes_little() {
    // Source chunks are slices along axis 0, destination chunks are columns
    // along it: each destination chunk needs every source chunk.
    let mut rng = Rng(99);
    let shape = vec![64u64, 128, 128];
    let src_store = store("slab-src");
    let d = make_source(
        &src_store,
        &shape,
        DataType::UInt8,
        ArrayBuilder::new(shape.clone(), DataType::UInt8).chunks(vec![1, 128, 128]),
        &mut rng,
    );
    let dst = store("slab-dst");
    let mut o = CopyOptions::new(src_store.clone(), "src", dst.clone(), "c");
    o.chunks = Some(vec![64, 8, 8]);
    o.memory = 24 << 20;
    let p = plan_copy(&o).unwrap();
    assert!(p.plan.decode_factor() <= 2.0, "{}", p.plan);
    assert!(p.plan.memory.total() <= o.memory);
    let r = run(&o);
    assert_eq!(r.source_decodes, p.plan.source_decodes);
    let (got, _) = read_all(&dst, "c");
    assert_eq!(got, d);
}

#[test]
fn cancelled_copy_resumes_to_the_same_store() {
    let mut rng = Rng(2024);
    let shape = vec![48u64, 40, 36];
    let src_store = store("resume-src");
    make_source(
        &src_store,
        &shape,
        DataType::Int16,
        ArrayBuilder::new(shape.clone(), DataType::Int16).chunks(vec![8, 8, 8]),
        &mut rng,
    );
    let opts_for = |dst: &StoreRef| {
        let mut o = CopyOptions::new(src_store.clone(), "src", dst.clone(), "g/t");
        o.transpose = Some(vec![2, 0, 1]);
        o.chunks = Some(vec![6, 10, 16]);
        o.memory = 24 << 20;
        o
    };
    let whole = store("resume-whole");
    run(&opts_for(&whole));
    let want = contents(&whole, "");

    for stop_after in [1u64, 17, 60] {
        let part = store("resume-part");
        let cancel = AtomicBool::new(false);
        let seen = AtomicU64::new(0);
        let progress = |_: &CopyProgress| {
            if seen.fetch_add(1, Ordering::SeqCst) >= stop_after {
                cancel.store(true, Ordering::SeqCst);
            }
        };
        let r = copy(&opts_for(&part), &progress, &cancel).unwrap();
        assert_eq!(r.outcome, Outcome::Cancelled, "stop after {stop_after}");
        assert!(r.cells_written < r.plan.dst_cells);
        assert!(part
            .list_prefix("g/t/")
            .unwrap()
            .iter()
            .any(|k| k.ends_with(zarrcore::ops::journal::JOURNAL_NAME)));
        // Without --resume the existing destination is refused.
        let e = copy(&opts_for(&part), &no_progress(), &AtomicBool::new(false)).unwrap_err();
        assert!(e.to_string().contains("--resume"), "{e}");
        let mut o = opts_for(&part);
        o.resume = true;
        o.memory = 64 << 20; // a different plan resumes the same copy
        let r2 = run(&o);
        assert_eq!(r2.outcome, Outcome::Complete);
        assert_eq!(r2.cells_resumed, r.cells_written);
        assert_eq!(r2.cells_resumed + r2.cells_written, r2.plan.dst_cells);
        assert_eq!(contents(&part, ""), want, "stop after {stop_after}");
        // A resume with different options is refused.
        let mut other = opts_for(&part);
        other.resume = true;
        other.transpose = Some(vec![0, 1, 2]);
        assert!(copy(&other, &no_progress(), &AtomicBool::new(false)).is_err());
    }
}

#[test]
fn budget_errors_and_overlap() {
    let mut rng = Rng(5);
    let shape = vec![256u64, 256, 64];
    let s = store("budget");
    make_source(
        &s,
        &shape,
        DataType::Float64,
        ArrayBuilder::new(shape.clone(), DataType::Float64).chunks(vec![256, 256, 64]),
        &mut rng,
    );
    let mut o = CopyOptions::new(s.clone(), "src", s.clone(), "dst");
    o.memory = 8 << 20;
    let e = copy(&o, &no_progress(), &AtomicBool::new(false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("too small") && e.contains("at least"), "{e}");
    // Copying an array onto itself (or over its parent) is refused.
    let mut same = CopyOptions::new(s.clone(), "src", s.clone(), "src");
    same.overwrite = true;
    assert!(copy(&same, &no_progress(), &AtomicBool::new(false)).is_err());
    let mut root = CopyOptions::new(s.clone(), "src", s.clone(), "");
    root.overwrite = true;
    assert!(copy(&root, &no_progress(), &AtomicBool::new(false)).is_err());
    assert!(
        Array::open(&s, "src", Mode::Read).is_ok(),
        "the source survives"
    );
    // A bad permutation.
    let mut bad = CopyOptions::new(s.clone(), "src", store("b"), "x");
    bad.transpose = Some(vec![0, 0, 1]);
    assert!(copy(&bad, &no_progress(), &AtomicBool::new(false)).is_err());
}

#[test]
fn zero_d_and_empty_arrays() {
    let s = store("small");
    let a = ArrayBuilder::new(vec![], DataType::Float32)
        .create(&s, "scalar")
        .unwrap();
    a.write_region(&Region::all(&[]), &2.5f32.to_le_bytes())
        .unwrap();
    a.close().unwrap();
    let e = ArrayBuilder::new(vec![0, 5], DataType::UInt8)
        .chunks(vec![2, 2])
        .create(&s, "empty")
        .unwrap();
    e.close().unwrap();
    let d = store("small-dst");
    run(&CopyOptions::new(s.clone(), "scalar", d.clone(), "scalar"));
    let (v, _) = read_all(&d, "scalar");
    assert_eq!(v, 2.5f32.to_le_bytes());
    let mut o = CopyOptions::new(s.clone(), "empty", d.clone(), "empty");
    o.transpose = Some(vec![1, 0]);
    let r = run(&o);
    assert_eq!(r.cells_written, 0);
    let (_, m) = read_all(&d, "empty");
    assert_eq!(m.shape, vec![5, 0]);
}

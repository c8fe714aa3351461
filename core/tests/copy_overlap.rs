//! Copies running at the same time in one process switch the shared
//! decoded-chunk cache off while any of them runs, and leave its budget as
//! it was when the last one ends. (Each copy used to save and restore the
//! budget itself, so overlapping copies could leave it at 0.) A test binary
//! of its own: the cache budget is process-wide.

use std::sync::atomic::AtomicBool;

use zarrcore::engine::cache::{cache_budget, set_cache_budget, suspend_cache};
use zarrcore::ops::{copy, CopyOptions, CopyProgress};
use zarrcore::store::MemoryStore;
use zarrcore::{nd, Array, ArrayBuilder, DataType, Endian, Layout, Mode, Region, StoreRef};

const LE: Layout = Layout::c(Endian::Little);

#[test]
fn overlapping_copies_restore_the_cache_budget() {
    let budget = 48 << 20;
    set_cache_budget(budget);
    {
        let a = suspend_cache();
        let b = suspend_cache();
        assert_eq!(cache_budget(), 0);
        drop(a);
        assert_eq!(cache_budget(), 0, "one suspension is still alive");
        drop(b);
    }
    assert_eq!(cache_budget(), budget);

    let shape = [60u64, 44, 9];
    let dims = [60usize, 44, 9];
    let n: usize = dims.iter().product();
    let mut jobs = Vec::new();
    for i in 0..4u64 {
        let src: StoreRef = MemoryStore::named(&format!("copy-overlap-src{i}"));
        let data: Vec<u8> = (0..n as u64)
            .flat_map(|k| ((k * 7919 + i * 31) as u16).to_le_bytes())
            .collect();
        let a = ArrayBuilder::new(shape.to_vec(), DataType::UInt16)
            .chunks(vec![8, 8, 9])
            .create(&src, "src")
            .unwrap();
        a.write_region_with(&Region::all(&shape), &data, LE)
            .unwrap();
        a.close().unwrap();
        let mut want = vec![0u8; data.len()];
        nd::permute(&data, &dims, &[2, 0, 1], &mut want, 2);
        let dst: StoreRef = MemoryStore::named(&format!("copy-overlap-dst{i}"));
        let mut o = CopyOptions::new(src, "src", dst.clone(), "t");
        o.transpose = Some(vec![2, 0, 1]);
        o.chunks = Some(vec![9, 16, 8]);
        jobs.push((o, want, dst));
    }
    std::thread::scope(|s| {
        for (o, _, _) in &jobs {
            s.spawn(move || {
                copy(o, &|_: &CopyProgress| {}, &AtomicBool::new(false)).unwrap();
            });
        }
    });
    assert_eq!(
        cache_budget(),
        budget,
        "the cache budget after overlapping copies"
    );
    for (_, want, dst) in &jobs {
        let t = Array::open(dst, "t", Mode::Read).unwrap();
        let mut got = vec![0u8; want.len()];
        t.read_region_with(&Region::all(&[9, 60, 44]), &mut got, LE)
            .unwrap();
        assert_eq!(&got, want);
    }
}

//! Region and selection arithmetic: `Region::parse` and `FromStr`,
//! `Region::check`, `cell_parts` and `linear_regions`, with invariants
//! (the parts of a region partition it; linear ranges are covered exactly,
//! in order, by C-contiguous regions).
//!
//! Input: byte 0 is the rank (0-4); then per axis a 2-byte shape and a
//! 1-byte chunk size (0 becomes 1); then 4+4 bytes for a linear range; the
//! rest is the region text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zarrcore::array::region::cell_parts;
use zarrcore::array::linear_regions;
use zarrcore::Region;

fuzz_target!(|data: &[u8]| {
    let Some((&rank, mut rest)) = data.split_first() else {
        return;
    };
    let nd = rank as usize % 5;
    let mut shape = Vec::with_capacity(nd);
    let mut chunks = Vec::with_capacity(nd);
    for _ in 0..nd {
        if rest.len() < 3 {
            return;
        }
        shape.push(u16::from_le_bytes([rest[0], rest[1]]) as u64);
        chunks.push(u64::from(rest[2].max(1)));
        rest = &rest[3..];
    }
    if rest.len() < 8 {
        return;
    }
    let a = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
    let b = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as u64;
    let text = String::from_utf8_lossy(&rest[8..]);
    let _ = text.parse::<Region>();

    let total: u64 = shape.iter().product();
    if total > 0 {
        let (s, e) = (a % (total + 1), b % (total + 1));
        let (s, e) = (s.min(e), s.max(e));
        let regions = linear_regions(&shape, s, e);
        let mut pos = s;
        for r in &regions {
            r.check(&shape, 1, "x").expect("linear region fits the array");
            let mut first = 0u64;
            let mut stride = 1u64;
            for d in (0..nd).rev() {
                first += r.start[d] * stride;
                stride *= shape[d];
            }
            assert_eq!(first, pos, "linear regions out of order");
            pos += r.num_elements().unwrap();
        }
        assert_eq!(pos, e, "linear range not covered");
        assert!(regions.len() <= 2 * nd + 1);
    }

    let Ok(region) = Region::parse(&text, &shape) else {
        return;
    };
    let bytes = region.check(&shape, 8, "x").expect("a parsed region fits the array");
    let elems = region.num_elements().unwrap();
    assert_eq!(bytes as u64, elems * 8);
    // Cells the region spans, bounded so a run stays fast.
    let spanned: u64 = (0..nd)
        .map(|d| {
            if region.shape[d] == 0 {
                0
            } else {
                (region.start[d] + region.shape[d] - 1) / chunks[d] - region.start[d] / chunks[d] + 1
            }
        })
        .product();
    if spanned > 100_000 {
        return;
    }
    let parts = cell_parts(&region, &chunks, &shape);
    let mut covered = 0u64;
    for p in &parts {
        let mut n = 1u64;
        for d in 0..nd {
            assert!(p.in_cell[d] as u64 + p.count[d] as u64 <= chunks[d]);
            assert!(p.in_region[d] as u64 + p.count[d] as u64 <= region.shape[d]);
            assert_eq!(
                p.cell[d] * chunks[d] + p.in_cell[d] as u64,
                region.start[d] + p.in_region[d] as u64
            );
            n *= p.count[d] as u64;
        }
        covered += n;
    }
    assert_eq!(covered, elems, "cell parts do not partition the region");
});

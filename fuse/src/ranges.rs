//! A set of byte ranges: which parts of a file a writer has covered.

use std::ops::Range;

/// Disjoint, sorted, non-adjacent half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// Adds `r` (empty ranges are ignored), merging overlapping and adjacent ranges.
    pub fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        // First range that ends at or after r.start (may touch it).
        let i = self.ranges.partition_point(|x| x.end < r.start);
        let mut j = i;
        let mut merged = r;
        while j < self.ranges.len() && self.ranges[j].start <= merged.end {
            merged.start = merged.start.min(self.ranges[j].start);
            merged.end = merged.end.max(self.ranges[j].end);
            j += 1;
        }
        self.ranges.splice(i..j, std::iter::once(merged));
    }

    /// Length of the prefix `[0, n)` that is covered.
    pub fn covered_prefix(&self) -> u64 {
        match self.ranges.first() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Range<u64>> {
        self.ranges.iter()
    }

    /// Parts of `[0, len)` not covered, in order.
    pub fn gaps(&self, len: u64) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = 0;
        for r in &self.ranges {
            if r.start >= len {
                break;
            }
            if r.start > pos {
                out.push(pos..r.start);
            }
            pos = pos.max(r.end);
        }
        if pos < len {
            out.push(pos..len);
        }
        out
    }

    /// Keeps only what lies below `end`.
    pub fn clip(&mut self, end: u64) {
        self.ranges.retain_mut(|r| {
            r.end = r.end.min(end);
            r.start < r.end
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_gaps() {
        let mut s = RangeSet::default();
        s.insert(10..20);
        s.insert(30..40);
        s.insert(20..25);
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), vec![10..25, 30..40]);
        assert_eq!(s.gaps(50), vec![0..10, 25..30, 40..50]);
        assert_eq!(s.covered_prefix(), 0);
        s.insert(0..35);
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), vec![0..40]);
        assert_eq!(s.covered_prefix(), 40);
        assert!(s.gaps(40).is_empty());
        s.insert(5..5);
        s.clip(12);
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), vec![0..12]);
        s.insert(50..60);
        s.insert(45..55);
        assert_eq!(s.gaps(70), vec![12..45, 60..70]);
    }
}

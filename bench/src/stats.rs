//! Checksums, peak memory and latency figures (all computed outside the
//! timed sections).

use rayon::prelude::*;

/// Sum of the little-endian uint16 values in `bytes` (a trailing odd byte
/// is ignored), in parallel on the engine's pool.
pub fn sum_u16_le(bytes: &[u8]) -> u64 {
    fn part(b: &[u8]) -> u64 {
        b.chunks_exact(2)
            .map(|p| u64::from(u16::from_le_bytes([p[0], p[1]])))
            .sum()
    }
    if bytes.len() < 1 << 20 {
        return part(bytes);
    }
    zarrcore::engine::pool::install(|| bytes.par_chunks(1 << 20).map(part).sum())
}

/// The process's peak resident set size in MiB (`VmHWM` of
/// `/proc/self/status`), `None` where that is not available.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The `q`-quantile (0..=1, nearest rank) of `sorted` (ascending).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_little_endian_pairs() {
        assert_eq!(sum_u16_le(&[1, 0, 0, 1, 255, 255, 7]), 1 + 256 + 65535);
        let big: Vec<u8> = (0..(3 << 20) + 6).map(|i| (i % 251) as u8).collect();
        let want: u64 = big
            .chunks_exact(2)
            .map(|p| p[0] as u64 + 256 * p[1] as u64)
            .sum();
        assert_eq!(sum_u16_le(&big), want);
    }

    #[test]
    fn quantiles_and_rss() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mb().is_some_and(|m| m > 0.0));
        }
    }
}

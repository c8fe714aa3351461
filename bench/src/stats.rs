//! Checksums, peak memory and latency figures (all computed outside the
//! timed sections).

use std::time::Instant;

use rayon::prelude::*;

/// CPU seconds (user + system, all threads) this process has used so far,
/// `None` where `getrusage` fails.
pub fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: `rusage` is plain old data, so all-zero bytes are a valid
    // value, and getrusage only writes through the pointer it is given,
    // which points to that local for the duration of the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is a valid `who`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(secs(ru.ru_utime) + secs(ru.ru_stime))
}

/// Wall-clock and CPU time of a timed section. CPU time is less sensitive
/// than wall time to other tenants of a shared machine, so the runner
/// reports both (`seconds`, `cpu_seconds`).
pub struct Timer {
    wall: Instant,
    cpu: Option<f64>,
}

impl Timer {
    /// Starts timing now.
    pub fn start() -> Timer {
        Timer {
            cpu: process_cpu_seconds(),
            wall: Instant::now(),
        }
    }

    /// Wall seconds since the start.
    pub fn wall(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// (wall seconds, CPU seconds) since the start.
    pub fn stop(&self) -> (f64, Option<f64>) {
        let wall = self.wall();
        let cpu = match (self.cpu, process_cpu_seconds()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        (wall, cpu)
    }
}

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
    fn timer_counts_cpu_time() {
        let t = Timer::start();
        let mut x = 0u64;
        while t.wall() < 0.05 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let (wall, cpu) = t.stop();
        assert!(wall >= 0.05);
        let cpu = cpu.expect("getrusage works on Linux");
        assert!(
            cpu > 0.0 && cpu <= wall * 64.0,
            "cpu {cpu} s, wall {wall} s"
        );
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

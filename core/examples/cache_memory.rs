//! Measures what the decoded-chunk cache keeps its chunks in slabs for: the
//! process's resident memory while a bounded cache churns through chunks of
//! several sizes, and after it is emptied, against the same access pattern
//! with every chunk a `Vec<u8>` on the malloc heap (a FIFO under the same
//! byte budget).
//!
//! ```text
//! cargo run --release -p zarrcore --example cache_memory -- slab [BUDGET_MIB]
//! cargo run --release -p zarrcore --example cache_memory -- heap [BUDGET_MIB]
//! ```
//!
//! Run each in its own process (they measure the whole process). Prints one
//! JSON line: resident MiB after each phase. Phases: chunks of 48 KiB, then
//! 80 KiB, then 200 KiB, then 48 KiB again (each phase loads twice the
//! budget, so the cache evicts throughout), then everything dropped.

use std::collections::{HashMap, VecDeque};

use zarrcore::engine::cache;

/// Chunk sizes of the phases, in bytes.
const PHASES: [usize; 4] = [48 << 10, 80 << 10, 200 << 10, 48 << 10];

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The same pattern on the heap: FIFO eviction under `budget` bytes.
struct HeapCache {
    budget: usize,
    used: usize,
    order: VecDeque<u64>,
    map: HashMap<u64, Vec<u8>>,
}

impl HeapCache {
    fn insert(&mut self, key: u64, size: usize) {
        let v = vec![(key % 251) as u8; size];
        self.used += v.len();
        self.map.insert(key, v);
        self.order.push_back(key);
        while self.used > self.budget {
            let Some(k) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.map.remove(&k) {
                self.used -= v.len();
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("slab", String::as_str);
    let budget_mib: usize = args.get(1).and_then(|b| b.parse().ok()).unwrap_or(512);
    let budget = budget_mib << 20;
    let mut after = Vec::new();
    let mut key = 0u64;
    match mode {
        "slab" => {
            cache::set_cache_budget(budget);
            let c = cache::cache();
            for size in PHASES {
                for _ in 0..2 * budget / size {
                    key += 1;
                    c.get_or_load((1, key.to_string(), String::new()), size, None, |b| {
                        b.fill((key % 251) as u8);
                        Ok(true)
                    })
                    .expect("cache load");
                }
                after.push(rss_mib());
            }
            c.clear();
            // Slots go back to their slabs as the entries drop; the pages of
            // all but one segment's worth of free slots per slab are released.
            after.push(rss_mib());
        }
        "heap" => {
            let mut h = HeapCache {
                budget,
                used: 0,
                order: VecDeque::new(),
                map: HashMap::new(),
            };
            for size in PHASES {
                for _ in 0..2 * budget / size {
                    key += 1;
                    h.insert(key, size);
                }
                after.push(rss_mib());
            }
            h.map.clear();
            h.order.clear();
            after.push(rss_mib());
        }
        other => {
            eprintln!("cache_memory: mode {other:?}: use slab or heap");
            std::process::exit(2);
        }
    }
    let names = ["48k", "80k", "200k", "48k_again", "emptied"];
    let fields: Vec<String> = names
        .iter()
        .zip(&after)
        .map(|(n, v)| format!("\"rss_mib_after_{n}\": {v:.0}"))
        .collect();
    println!(
        "{{\"mode\": \"{mode}\", \"budget_mib\": {budget_mib}, {}}}",
        fields.join(", ")
    );
}

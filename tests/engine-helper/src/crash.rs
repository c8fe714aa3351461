//! Crash safety: a writer rewrites three arrays generation after generation
//! until it is killed with SIGKILL; the checker then proves that every stored
//! unit (chunk, or shard for sharded arrays) holds exactly one generation.
//!
//! Content is chosen so generations are distinguishable per unit: in
//! generation `g`, every element of value cell `c` (a chunk, or an inner
//! chunk of a shard) in unit `u` is `g << 16 | c`, except that a whole unit is
//! the fill value (0, so the unit is deleted) when `(g + u) % 5 == 0`. A torn
//! or mixed unit matches no single generation.
//!
//! Generations are written four ways in turn: one whole-array write; whole
//! units from four threads; each unit as two partial halves then a flush;
//! one-row stripes from four threads (every unit patched by several threads)
//! then a flush. The write buffer is large, so a partially patched unit is
//! never stored: each unit goes from generation `g - 1` to `g` in one store.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use zarrcore::{
    Array, ArrayBuilder, CodecSpec, DataType, Mode, Region, StoreOptions, StoreRef, ZarrFormat,
};

use crate::{dir_store, u32_bytes, u32_values};

/// One array of the crash test.
#[derive(Debug, Clone)]
pub struct CrashArray {
    /// Node path.
    pub name: &'static str,
    /// Shape.
    pub shape: [u64; 2],
    /// Value cell: the chunk (inner chunk when sharded).
    pub cell: [u64; 2],
    /// Stored unit: the chunk, or the shard.
    pub unit: [u64; 2],
}

/// The arrays: plain v3 zstd, sharded v3, v2 blosc with `.` keys.
pub fn arrays() -> Vec<CrashArray> {
    vec![
        CrashArray {
            name: "plain",
            shape: [128, 96],
            cell: [16, 16],
            unit: [16, 16],
        },
        CrashArray {
            name: "sharded",
            shape: [128, 96],
            cell: [16, 16],
            unit: [32, 48],
        },
        CrashArray {
            name: "v2",
            shape: [128, 96],
            cell: [20, 30],
            unit: [20, 30],
        },
    ]
}

impl CrashArray {
    fn builder(&self) -> ArrayBuilder {
        let b = ArrayBuilder::new(self.shape.to_vec(), DataType::UInt32).chunks(self.cell.to_vec());
        match self.name {
            "sharded" => b.shards(self.unit.to_vec()),
            "v2" => b
                .zarr_format(ZarrFormat::V2)
                .codec("blosc:lz4:5:shuffle".parse::<CodecSpec>().expect("codec")),
            _ => b,
        }
    }

    fn grid(&self, of: [u64; 2]) -> [u64; 2] {
        [self.shape[0].div_ceil(of[0]), self.shape[1].div_ceil(of[1])]
    }

    /// Number of stored units.
    pub fn units(&self) -> usize {
        let g = self.grid(self.unit);
        (g[0] * g[1]) as usize
    }

    /// The region of unit `u` (clipped to the array).
    pub fn unit_region(&self, u: usize) -> Region {
        let g = self.grid(self.unit);
        let (ui, uj) = (u as u64 / g[1], u as u64 % g[1]);
        let (r0, c0) = (ui * self.unit[0], uj * self.unit[1]);
        Region::new(
            vec![r0, c0],
            vec![
                self.unit[0].min(self.shape[0] - r0),
                self.unit[1].min(self.shape[1] - c0),
            ],
        )
    }

    /// The value of element `(i, j)` in generation `g`.
    pub fn value(&self, g: u32, i: u64, j: u64) -> u32 {
        let ug = self.grid(self.unit);
        let u = (i / self.unit[0]) * ug[1] + j / self.unit[1];
        if (g as u64 + u) % 5 == 0 {
            return 0;
        }
        let cg = self.grid(self.cell);
        let c = (i / self.cell[0]) * cg[1] + j / self.cell[1];
        (g << 16) | (c as u32 & 0xffff)
    }

    /// The values of `region` in generation `g` (C order).
    pub fn content(&self, g: u32, region: &Region) -> Vec<u32> {
        let mut v = Vec::with_capacity(region.num_elements().unwrap_or(0) as usize);
        for i in region.start[0]..region.start[0] + region.shape[0] {
            for j in region.start[1]..region.start[1] + region.shape[1] {
                v.push(self.value(g, i, j));
            }
        }
        v
    }
}

/// Creates the arrays in a new store and writes generation 1 completely.
pub fn create(dir: &Path) -> Result<()> {
    let store = dir_store(dir, true, false)?;
    for a in arrays() {
        let arr = a.builder().create(&store, a.name)?;
        let all = Region::all(&a.shape);
        arr.write_region(&all, &u32_bytes(&a.content(1, &all)))?;
        arr.close()?;
    }
    Ok(())
}

fn write_generation(a: &CrashArray, arr: &Array, g: u32) -> Result<()> {
    let all = Region::all(&a.shape);
    match g % 4 {
        0 => arr.write_region(&all, &u32_bytes(&a.content(g, &all)))?,
        1 => std::thread::scope(|s| -> Result<()> {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || -> Result<()> {
                        for u in (t..a.units()).step_by(4) {
                            let r = a.unit_region(u);
                            arr.write_region(&r, &u32_bytes(&a.content(g, &r)))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in hs {
                h.join().expect("writer thread")?;
            }
            Ok(())
        })?,
        2 => {
            for u in 0..a.units() {
                let r = a.unit_region(u);
                let top = r.shape[0] / 2;
                for (start, rows) in [(0, top), (top, r.shape[0] - top)] {
                    if rows == 0 {
                        continue;
                    }
                    let part =
                        Region::new(vec![r.start[0] + start, r.start[1]], vec![rows, r.shape[1]]);
                    arr.write_region(&part, &u32_bytes(&a.content(g, &part)))?;
                }
            }
        }
        _ => std::thread::scope(|s| -> Result<()> {
            let hs: Vec<_> = (0..4u64)
                .map(|t| {
                    s.spawn(move || -> Result<()> {
                        for row in (t..a.shape[0]).step_by(4) {
                            let r = Region::new(vec![row, 0], vec![1, a.shape[1]]);
                            arr.write_region(&r, &u32_bytes(&a.content(g, &r)))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in hs {
                h.join().expect("writer thread")?;
            }
            Ok(())
        })?,
    }
    arr.flush()?;
    Ok(())
}

/// Writes generations `start, start + 1, ...` forever, appending `ready`
/// once the arrays are open and `g` after generation `g` is flushed.
pub fn run_writer(dir: &Path, start: u32, progress: &Path, durable: bool) -> Result<()> {
    let store = dir_store(dir, false, durable)?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(progress)
        .with_context(|| format!("opening {}", progress.display()))?;
    let list = arrays();
    let handles: Vec<Array> = list
        .iter()
        .map(|a| {
            let h = Array::open(&store, a.name, Mode::Write)?;
            h.set_write_buffer(1 << 30);
            Ok(h)
        })
        .collect::<Result<_>>()?;
    log.write_all(b"ready\n")?;
    for g in start.. {
        for (a, h) in list.iter().zip(&handles) {
            write_generation(a, h, g)?;
        }
        log.write_all(format!("{g}\n").as_bytes())?;
    }
    Ok(())
}

/// What the checker found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Per array, per unit: the generation it holds.
    pub gens: Vec<Vec<u32>>,
    /// Temporary files of interrupted writes found in the store.
    pub temporaries: usize,
}

/// Checks the store: every listing is free of temporaries, every stored
/// unit decodes, and unit `u` of array `k` holds exactly one of the
/// generations `allowed(k, u)`.
pub fn check(dir: &Path, allowed: impl Fn(usize, usize) -> Vec<u32>) -> Result<CheckReport> {
    let store: StoreRef = zarrcore::open_store(
        dir.to_str().context("UTF-8 path")?,
        StoreOptions::read_only(),
    )?;
    let temporaries = zarrcore::store::DirectoryStore::open(dir, StoreOptions::read_only())?
        .list_temporaries("")?
        .len();
    for k in store.list_prefix("")? {
        if zarrcore::store::is_temp_name(&k) {
            bail!("listing returned the temporary {k:?}");
        }
    }
    let mut report = CheckReport {
        temporaries,
        ..Default::default()
    };
    for (ai, a) in arrays().iter().enumerate() {
        let arr = Array::open(&store, a.name, Mode::Read)?;
        for c in arr.stored_chunks()? {
            if zarrcore::store::is_temp_name(&c.key) {
                bail!("stored_chunks returned the temporary {:?}", c.key);
            }
        }
        let mut gens = Vec::with_capacity(a.units());
        for u in 0..a.units() {
            let r = a.unit_region(u);
            let got = u32_values(
                &arr.read_region_vec(&r)
                    .with_context(|| format!("{} unit {u} ({r}) does not decode", a.name))?,
            );
            let cands = allowed(ai, u);
            match cands.iter().find(|&&g| a.content(g, &r) == got) {
                Some(&g) => gens.push(g),
                None => {
                    let mixed: Vec<u32> = got.iter().map(|v| v >> 16).collect();
                    let mut seen = mixed.clone();
                    seen.sort_unstable();
                    seen.dedup();
                    bail!(
                        "{} unit {u} ({r}) holds none of generations {cands:?}: it has values of generations {seen:?}",
                        a.name
                    );
                }
            }
        }
        report.gens.push(gens);
    }
    Ok(report)
}

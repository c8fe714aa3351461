//! Hyper-rectangular regions and their decomposition over a chunk grid.

use std::fmt;
use std::str::FromStr;

use crate::error::RegionError;

/// A hyper-rectangle of an array: `start` and `shape` per dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region {
    /// First index per dimension.
    pub start: Vec<u64>,
    /// Extent per dimension.
    pub shape: Vec<u64>,
}

impl Region {
    /// A region from start and shape.
    pub fn new(start: Vec<u64>, shape: Vec<u64>) -> Region {
        Region { start, shape }
    }

    /// The whole of an array of `shape`.
    pub fn all(shape: &[u64]) -> Region {
        Region {
            start: vec![0; shape.len()],
            shape: shape.to_vec(),
        }
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (`None` on overflow).
    pub fn num_elements(&self) -> Option<u64> {
        crate::nd::checked_num_elements(&self.shape)
    }

    /// Whether the region holds no element.
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }

    /// Checks that the region fits an array of `shape` and returns its size
    /// in bytes for `item_size`-byte elements (as `usize`).
    pub fn check(
        &self,
        array_shape: &[u64],
        item_size: usize,
        path: &str,
    ) -> Result<usize, RegionError> {
        if self.start.len() != array_shape.len() || self.shape.len() != array_shape.len() {
            return Err(RegionError::Rank {
                path: path.to_string(),
                expected: array_shape.len(),
                got: self.start.len().max(self.shape.len()),
            });
        }
        for ((&s, &n), &dim) in self.start.iter().zip(&self.shape).zip(array_shape) {
            if s.checked_add(n).is_none_or(|e| e > dim) {
                return Err(RegionError::OutOfBounds {
                    path: path.to_string(),
                    region: self.to_string(),
                    shape: array_shape.to_vec(),
                });
            }
        }
        if item_size == 0 {
            // Only the variable-length types have no fixed item size.
            return Err(RegionError::VariableLength {
                path: path.to_string(),
            });
        }
        self.num_elements()
            .and_then(|n| n.checked_mul(item_size as u64))
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| RegionError::Overflow {
                path: path.to_string(),
                what: format!("region {self} × item size {item_size}"),
            })
    }

    /// Parses the slice syntax of an array of `shape`: `0:10,5:20,...`
    /// (`a:b`, `a:`, `:b`, `:`, a single index `a`; missing trailing
    /// dimensions are whole).
    pub fn parse(s: &str, shape: &[u64]) -> Result<Region, String> {
        let s = s.trim();
        let parts: Vec<&str> = if s.is_empty() {
            vec![]
        } else {
            s.split(',').collect()
        };
        if parts.len() > shape.len() {
            return Err(format!(
                "region {s:?} has {} dimensions, the array has {}",
                parts.len(),
                shape.len()
            ));
        }
        let mut start = Vec::with_capacity(shape.len());
        let mut ext = Vec::with_capacity(shape.len());
        for (d, &dim) in shape.iter().enumerate() {
            let (a, b) = match parts.get(d).map(|p| p.trim()) {
                None | Some(":") | Some("") => (0, dim),
                Some(p) => match p.split_once(':') {
                    Some((a, b)) => {
                        let a = if a.trim().is_empty() {
                            0
                        } else {
                            parse_index(a, dim)?
                        };
                        let b = if b.trim().is_empty() {
                            dim
                        } else {
                            parse_index(b, dim)?
                        };
                        (a, b)
                    }
                    None => {
                        let a = parse_index(p, dim)?;
                        let b = a
                            .checked_add(1)
                            .ok_or_else(|| format!("index {a} is out of range for size {dim}"))?;
                        (a, b)
                    }
                },
            };
            if a > b || b > dim {
                return Err(format!(
                    "region {s:?}: {a}:{b} does not fit dimension {d} of size {dim}"
                ));
            }
            start.push(a);
            ext.push(b - a);
        }
        Ok(Region { start, shape: ext })
    }
}

fn parse_index(s: &str, dim: u64) -> Result<u64, String> {
    let s = s.trim();
    if let Some(neg) = s.strip_prefix('-') {
        let n: u64 = neg.parse().map_err(|_| format!("bad index {s:?}"))?;
        return dim
            .checked_sub(n)
            .ok_or_else(|| format!("index {s} is out of range for size {dim}"));
    }
    s.parse().map_err(|_| format!("bad index {s:?}"))
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .start
            .iter()
            .zip(&self.shape)
            .map(|(&s, &n)| format!("{s}:{}", s.saturating_add(n)))
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

impl FromStr for Region {
    type Err = String;

    /// Parses `start:stop,...` with explicit bounds (no array shape known).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut start = vec![];
        let mut shape = vec![];
        for p in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (a, b) = p
                .split_once(':')
                .ok_or_else(|| format!("region part {p:?} is not start:stop"))?;
            let a: u64 = a.trim().parse().map_err(|_| format!("bad start {a:?}"))?;
            let b: u64 = b.trim().parse().map_err(|_| format!("bad stop {b:?}"))?;
            if b < a {
                return Err(format!("region part {p:?} has stop < start"));
            }
            start.push(a);
            shape.push(b - a);
        }
        Ok(Region { start, shape })
    }
}

/// The part of a region that falls in one grid cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellPart {
    /// Grid index of the cell.
    pub cell: Vec<u64>,
    /// Start of the part inside the cell.
    pub in_cell: Vec<usize>,
    /// Start of the part inside the region.
    pub in_region: Vec<usize>,
    /// Extent of the part.
    pub count: Vec<usize>,
    /// Whether the part covers all of the cell that lies inside the array.
    pub covers_cell: bool,
    /// Whether the part is the whole cell (covers it and it is not an edge cell).
    pub whole_cell: bool,
}

/// Splits `region` over a grid of `cell_shape` cells on an array of `array_shape`.
pub fn cell_parts(region: &Region, cell_shape: &[u64], array_shape: &[u64]) -> Vec<CellPart> {
    if region.is_empty() {
        return vec![];
    }
    let nd = region.ndim();
    let lo: Vec<u64> = (0..nd).map(|d| region.start[d] / cell_shape[d]).collect();
    let hi: Vec<u64> = (0..nd)
        .map(|d| (region.start[d] + region.shape[d] - 1) / cell_shape[d])
        .collect();
    let mut out = Vec::new();
    let mut idx = lo.clone();
    loop {
        let mut part = CellPart {
            cell: idx.clone(),
            in_cell: Vec::with_capacity(nd),
            in_region: Vec::with_capacity(nd),
            count: Vec::with_capacity(nd),
            covers_cell: true,
            whole_cell: true,
        };
        for d in 0..nd {
            let origin = idx[d] * cell_shape[d];
            let cell_end_in_array = (origin + cell_shape[d]).min(array_shape[d]);
            let a = region.start[d].max(origin);
            let b = (region.start[d] + region.shape[d]).min(origin + cell_shape[d]);
            part.in_cell.push((a - origin) as usize);
            part.in_region.push((a - region.start[d]) as usize);
            part.count.push((b - a) as usize);
            if a != origin || b != cell_end_in_array {
                part.covers_cell = false;
            }
            if a != origin || b != origin + cell_shape[d] {
                part.whole_cell = false;
            }
        }
        out.push(part);
        // Odometer, C order.
        let mut d = nd;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] <= hi[d] {
                break;
            }
            idx[d] = lo[d];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_region() {
        let r = Region::new(vec![3, 0], vec![6, 5]);
        let parts = cell_parts(&r, &[4, 4], &[10, 5]);
        let total: usize = parts
            .iter()
            .map(|p| p.count.iter().product::<usize>())
            .sum();
        assert_eq!(total, 30);
        assert_eq!(parts.len(), 3 * 2);
        // cell (1, 1): rows 4..8, cols 4..5 -> edge cell fully covered
        let p = parts.iter().find(|p| p.cell == vec![1, 1]).unwrap();
        assert!(p.covers_cell && !p.whole_cell);
        let zero_d = cell_parts(&Region::all(&[]), &[], &[]);
        assert_eq!(zero_d.len(), 1);
        assert!(zero_d[0].whole_cell);
    }

    #[test]
    fn parse_regions() {
        let r = Region::parse("0:10, 5:, -2", &[20, 30, 4]).unwrap();
        assert_eq!(r.start, vec![0, 5, 2]);
        assert_eq!(r.shape, vec![10, 25, 1]);
        assert!(Region::parse("0:30", &[20]).is_err());
        assert!(Region::parse("1,2", &[20]).is_err());
        let all = Region::parse("", &[3, 4]).unwrap();
        assert_eq!(all, Region::all(&[3, 4]));
    }

    #[test]
    fn bounds() {
        let r = Region::new(vec![u64::MAX], vec![2]);
        assert!(r.check(&[10], 1, "a").is_err());
        assert!(Region::new(vec![0], vec![11]).check(&[10], 1, "a").is_err());
        assert_eq!(
            Region::new(vec![2], vec![3]).check(&[10], 8, "a").unwrap(),
            24
        );
    }
}

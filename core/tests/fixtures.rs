//! Every array and group of the zarr-python fixture corpus reads exactly:
//! metadata, attributes, members, values, and sub-regions across chunk edges.
//! One test walks the manifest; a new fixture needs no new code.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;
use zarrcore::hierarchy;
use zarrcore::metadata::ZarrFormat;
use zarrcore::{
    open_store, Array, DataType, Endian, FillValue, Layout, Mode, Order, Region, StoreOptions,
    StoreRef,
};

struct Stores(BTreeMap<String, StoreRef>);

impl Stores {
    fn get(&mut self, entry: &Value) -> StoreRef {
        let rel = entry["store"].as_str().expect("store");
        self.0
            .entry(rel.to_string())
            .or_insert_with(|| {
                let p = common::fixtures_dir().join(rel);
                open_store(p.to_str().unwrap(), StoreOptions::read_only())
                    .unwrap_or_else(|e| panic!("open {rel}: {e}"))
            })
            .clone()
    }
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_u64().unwrap()).collect())
        .unwrap_or_default()
}

fn check_array(entry: &Value, stores: &mut Stores) -> Result<(), String> {
    let store = stores.get(entry);
    let path = entry["array_path"].as_str().unwrap();
    let a = Array::open(&store, path, Mode::Read).map_err(|e| format!("open: {e}"))?;
    let m = a.metadata();
    let fmt = entry["zarr_format"].as_u64().unwrap();
    if m.zarr_format.number() as u64 != fmt {
        return Err(format!("zarr_format {:?}", m.zarr_format));
    }
    let shape = u64s(&entry["shape"]);
    if m.shape != shape {
        return Err(format!("shape {:?} != {shape:?}", m.shape));
    }
    let want_dtype = entry["dtype"].as_str().unwrap();
    let (dt, _) = DataType::from_numpy_str(want_dtype).unwrap();
    if m.data_type != dt {
        return Err(format!("data type {} != {want_dtype}", m.data_type));
    }
    if m.zarr_format == ZarrFormat::V2 && m.numpy_dtype() != want_dtype {
        return Err(format!("v2 dtype {} != {want_dtype}", m.numpy_dtype()));
    }
    let chunks = u64s(&entry["chunks"]);
    if m.read_chunk_shape() != chunks {
        return Err(format!("chunks {:?} != {chunks:?}", m.read_chunk_shape()));
    }
    let shards = entry["shards"].as_array().map(|_| u64s(&entry["shards"]));
    if m.shard_shape() != shards {
        return Err(format!("shards {:?} != {shards:?}", m.shard_shape()));
    }
    // Fill value: compare through JSON of the same format.
    let fmt_enum = m.zarr_format;
    let want_fill = FillValue::from_json(&entry["fill_value"], dt, ZarrFormat::V2)
        .or_else(|_| FillValue::from_json(&entry["fill_value"], dt, fmt_enum))
        .map_err(|e| format!("manifest fill value: {e}"))?;
    common::compare(dt, m.fill_value.as_bytes(), want_fill.as_bytes())
        .map_err(|e| format!("fill value: {e}"))?;
    if let Some(attrs) = entry.get("attributes") {
        if Value::Object(m.attributes.clone()) != *attrs {
            return Err(format!("attributes {:?} != {attrs}", m.attributes));
        }
    }
    // Values.
    let exp = common::load_npy(&common::fixtures_dir().join(entry["expected"].as_str().unwrap()));
    if exp.shape != shape {
        return Err(format!("expected file shape {:?}", exp.shape));
    }
    let want = exp.native();
    let all = a
        .read_region_vec(&Region::all(&shape))
        .map_err(|e| format!("read all: {e}"))?;
    common::compare(dt, &all, &want).map_err(|e| format!("values: {e}"))?;
    let elem = dt.size();
    // Sub-regions crossing chunk edges.
    if !shape.is_empty() && !shape.contains(&0) {
        let grid = m.read_chunk_shape();
        let mut regions = vec![];
        let start: Vec<u64> = shape
            .iter()
            .zip(&grid)
            .map(|(&s, &c)| (c / 2).min(s - 1))
            .collect();
        let count: Vec<u64> = shape
            .iter()
            .zip(&start)
            .zip(&grid)
            .map(|((&s, &st), &c)| (c + 1).min(s - st).max(1))
            .collect();
        regions.push((start.clone(), count));
        let tail_start: Vec<u64> = shape.iter().map(|&s| s / 3).collect();
        let tail_count: Vec<u64> = shape
            .iter()
            .zip(&tail_start)
            .map(|(&s, &t)| s - t)
            .collect();
        regions.push((tail_start, tail_count));
        let one: Vec<u64> = shape.iter().map(|&s| s - 1).collect();
        regions.push((one, vec![1; shape.len()]));
        for (st, ct) in regions {
            let r = Region::new(st.clone(), ct.clone());
            let got = a
                .read_region_vec(&r)
                .map_err(|e| format!("read {r}: {e}"))?;
            let w = common::slice(&want, &shape, &st, &ct, elem);
            common::compare(dt, &got, &w).map_err(|e| format!("region {r}: {e}"))?;
        }
        // Fortran order and the opposite byte order give the same values.
        let mut f = vec![0u8; all.len()];
        a.read_region_with(
            &Region::all(&shape),
            &mut f,
            Layout {
                order: Order::F,
                endian: Endian::native(),
            },
        )
        .map_err(|e| format!("F-order read: {e}"))?;
        let rs: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let mut back = vec![0u8; all.len()];
        zarrcore::nd::copy_strided(
            &f,
            0,
            &zarrcore::nd::Strides::f_order(&rs, elem),
            &mut back,
            0,
            &zarrcore::nd::Strides::c_order(&rs, elem),
            &rs,
            elem,
        );
        common::compare(dt, &back, &want).map_err(|e| format!("F-order values: {e}"))?;
        let other = if Endian::native() == Endian::Little {
            Endian::Big
        } else {
            Endian::Little
        };
        let mut swapped = vec![0u8; all.len()];
        a.read_region_with(&Region::all(&shape), &mut swapped, Layout::c(other))
            .map_err(|e| format!("swapped read: {e}"))?;
        zarrcore::dtype::swap_bytes_in_place(&mut swapped, dt.swap_unit());
        common::compare(dt, &swapped, &want).map_err(|e| format!("swapped values: {e}"))?;
        // Linear byte ranges at odd offsets.
        let total = all.len() as u64;
        for (off, len) in [(1u64, total.saturating_sub(2)), (total / 3, total / 3 + 1)] {
            if len == 0 || off + len > total {
                continue;
            }
            let mut buf = vec![0u8; len as usize];
            a.read_bytes(off, &mut buf, Endian::native())
                .map_err(|e| format!("read_bytes {off}+{len}: {e}"))?;
            if buf != all[off as usize..(off + len) as usize] {
                return Err(format!("read_bytes {off}+{len} differs"));
            }
        }
    }
    Ok(())
}

fn check_group(entry: &Value, stores: &mut Stores) -> Result<(), String> {
    let store = stores.get(entry);
    let path = entry["path"].as_str().unwrap();
    let g = zarrcore::Group::open(&store, path).map_err(|e| format!("open group: {e}"))?;
    if g.metadata().zarr_format.number() as u64 != entry["zarr_format"].as_u64().unwrap() {
        return Err("zarr_format".into());
    }
    let want_attrs = entry
        .get("attributes")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    if Value::Object(g.attributes().clone()) != want_attrs {
        return Err(format!("attributes {:?} != {want_attrs}", g.attributes()));
    }
    let mut members: Vec<String> = g
        .members()
        .map_err(|e| format!("members: {e}"))?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    members.sort();
    let mut want: Vec<String> = entry["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    want.sort();
    if members != want {
        return Err(format!("members {members:?} != {want:?}"));
    }
    if entry.get("consolidated").and_then(Value::as_bool) == Some(true) && path.is_empty() {
        let c = hierarchy::read_consolidated_metadata(&store, "")
            .map_err(|e| format!("consolidated: {e}"))?
            .ok_or("consolidated metadata missing")?;
        for m in &want {
            let node = c.get(m.as_str()).ok_or(format!("consolidated lacks {m}"))?;
            let listed = hierarchy::read_node(&store, m)
                .map_err(|e| e.to_string())?
                .unwrap();
            // Arrays must match exactly; groups in their attributes (zarr-python
            // nests an extra inline block in consolidated child groups).
            let same = match (node, &listed) {
                (zarrcore::NodeMetadata::Group(a), zarrcore::NodeMetadata::Group(b)) => {
                    a.attributes == b.attributes && a.zarr_format == b.zarr_format
                }
                (a, b) => a == b,
            };
            if !same {
                return Err(format!(
                    "consolidated metadata of {m} differs from its document"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_fixture_reads_exactly() {
    let manifest = common::manifest();
    let mut stores = Stores(BTreeMap::new());
    let mut failures = vec![];
    let arrays = manifest["arrays"].as_array().unwrap();
    for entry in arrays {
        if let Err(e) = check_array(entry, &mut stores) {
            failures.push(format!("{}: {e}", entry["id"].as_str().unwrap()));
        }
    }
    let groups = manifest["groups"].as_array().unwrap();
    for entry in groups {
        if let Err(e) = check_group(entry, &mut stores) {
            failures.push(format!("group {}: {e}", entry["id"].as_str().unwrap()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        arrays.len() + groups.len(),
        failures.join("\n")
    );
    assert!(
        arrays.len() >= 192 && groups.len() >= 27,
        "manifest unexpectedly small"
    );
}

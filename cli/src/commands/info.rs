//! `zarrcore info STORE [ARRAY_PATH] [--json]`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use zarrcore::hierarchy::{self, NodeKind};
use zarrcore::util::human_bytes;
use zarrcore::{Array, Mode, NodeMetadata};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store: a directory, a .zip file or a URL.
    pub store: String,
    /// Node path inside the store ("" or "/" is the root).
    #[arg(default_value = "")]
    pub path: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn array_info(store: &zarrcore::StoreRef, path: &str) -> Result<Value> {
    let a = Array::open_with(store, path, Mode::Read, &super::open_options())?;
    let m = a.metadata();
    let s = a.storage_summary().context("listing stored chunks")?;
    Ok(json!({
        "node_type": "array",
        "path": a.path(),
        "zarr_format": m.zarr_format.number(),
        "shape": m.shape,
        "data_type": m.data_type.to_string(),
        "dtype": m.numpy_dtype(),
        "chunks": m.read_chunk_shape(),
        "shards": m.shard_shape(),
        "fill_value": m.fill_value.to_json(m.data_type, m.zarr_format),
        "time_unit": m.data_type.time_spec().map(|t| json!({"unit": t.unit.as_str(), "scale_factor": t.scale})),
        "fields": m.data_type.struct_layout().map(|l| l.layout_json()),
        "codecs": m.codecs.names(),
        "chunk_key_encoding": m.chunk_key_encoding.encode(&vec![0; m.ndim()]),
        "order": format!("{:?}", m.order),
        "attributes": m.attributes,
        "grid_cells": s.total_cells,
        "stored_cells": s.stored_cells,
        "stored_bytes": s.stored_bytes,
        "uncompressed_bytes": s.uncompressed_bytes,
        "compression_ratio": if s.stored_bytes > 0 { s.uncompressed_bytes as f64 / s.stored_bytes as f64 } else { 0.0 },
    }))
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let store = super::open_read(&args.store)?;
    let node = hierarchy::read_node(&store, &args.path)?
        .with_context(|| format!("no array or group at {:?} in {}", args.path, args.store))?;
    let info = match node {
        NodeMetadata::Array(_) => array_info(&store, &args.path)?,
        NodeMetadata::Group(g) => {
            // Members zarrcore cannot open are listed too, with their error.
            let members: Vec<Value> = hierarchy::member_entries(&store, &args.path)?
                .into_iter()
                .map(|e| {
                    let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
                    let kind = if e.kind == NodeKind::Array {
                        "array"
                    } else {
                        "group"
                    };
                    match e.metadata {
                        Ok(_) => json!({"name": name, "node_type": kind}),
                        Err(err) => {
                            json!({"name": name, "node_type": kind, "error": err.to_string()})
                        }
                    }
                })
                .collect();
            json!({
                "node_type": "group",
                "path": zarrcore::store::normalize_path(&args.path)?,
                "zarr_format": g.zarr_format.number(),
                "attributes": g.attributes,
                "members": members,
                "consolidated": hierarchy::has_consolidated_metadata(&store, &args.path)?,
            })
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&info);
    Ok(ExitCode::SUCCESS)
}

fn print_text(info: &Value) {
    let get = |k: &str| info.get(k).cloned().unwrap_or(Value::Null);
    if get("node_type") == "group" {
        println!("group        /{}", get("path").as_str().unwrap_or(""));
        println!("zarr_format  {}", get("zarr_format"));
        println!("attributes   {}", get("attributes"));
        println!("consolidated {}", get("consolidated"));
        let members = get("members");
        println!("members      {}", members.as_array().map_or(0, Vec::len));
        for m in members.as_array().into_iter().flatten() {
            println!(
                "  {:5}  {}{}",
                m["node_type"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or(""),
                m["error"]
                    .as_str()
                    .map(|e| format!("  (cannot be opened: {e})"))
                    .unwrap_or_default()
            );
        }
        return;
    }
    let n = |k: &str| get(k).as_u64().unwrap_or(0);
    println!("array        /{}", get("path").as_str().unwrap_or(""));
    println!("zarr_format  {}", get("zarr_format"));
    println!("shape        {}", get("shape"));
    println!(
        "dtype        {} ({})",
        get("data_type").as_str().unwrap_or(""),
        get("dtype").as_str().unwrap_or("")
    );
    if !get("time_unit").is_null() {
        println!("time_unit    {}", get("time_unit"));
    }
    if !get("fields").is_null() {
        println!("fields       {}", get("fields"));
    }
    println!("chunks       {}", get("chunks"));
    if !get("shards").is_null() {
        println!("shards       {}", get("shards"));
    }
    println!("codecs       {}", get("codecs"));
    println!("fill_value   {}", get("fill_value"));
    println!("order        {}", get("order").as_str().unwrap_or(""));
    println!("attributes   {}", get("attributes"));
    println!(
        "stored       {} of {} {} ({})",
        n("stored_cells"),
        n("grid_cells"),
        if get("shards").is_null() {
            "chunks"
        } else {
            "shards"
        },
        human_bytes(n("stored_bytes"))
    );
    println!(
        "uncompressed {} (ratio {:.2})",
        human_bytes(n("uncompressed_bytes")),
        get("compression_ratio").as_f64().unwrap_or(0.0)
    );
}

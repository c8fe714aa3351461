//! `zarrcore tree STORE`.

use std::process::ExitCode;

use anyhow::Result;
use zarrcore::hierarchy;
use zarrcore::{NodeKind, NodeMetadata};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store: a directory, a .zip file or a URL.
    pub store: String,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let store = super::open_read(&args.store)?;
    // Every node is listed, including those zarrcore cannot open (an
    // unsupported data type or codec): they show their error instead.
    for e in hierarchy::walk_entries(&store, "")? {
        let path = &e.path;
        let depth = if path.is_empty() {
            0
        } else {
            path.matches('/').count() + 1
        };
        let name = if path.is_empty() {
            "/"
        } else {
            path.rsplit('/').next().unwrap_or(path)
        };
        let indent = "  ".repeat(depth);
        match e.metadata {
            Ok(NodeMetadata::Group(g)) => println!(
                "{indent}{name}{} (group, v{})",
                if path.is_empty() { "" } else { "/" },
                g.zarr_format.number()
            ),
            Ok(NodeMetadata::Array(a)) => println!(
                "{indent}{name} {} {:?} chunks {:?}{} (v{})",
                a.data_type,
                a.shape,
                a.read_chunk_shape(),
                a.shard_shape()
                    .map(|s| format!(" shards {s:?}"))
                    .unwrap_or_default(),
                a.zarr_format.number()
            ),
            Err(err) => println!(
                "{indent}{name}{} ({}, v{}, cannot be opened: {err})",
                if e.kind == NodeKind::Group && !path.is_empty() {
                    "/"
                } else {
                    ""
                },
                if e.kind == NodeKind::Group {
                    "group"
                } else {
                    "array"
                },
                e.zarr_format.number()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

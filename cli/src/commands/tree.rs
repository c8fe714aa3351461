//! `zarrcore tree STORE`.

use std::process::ExitCode;

use anyhow::Result;
use zarrcore::hierarchy;
use zarrcore::NodeMetadata;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store: a directory, a .zip file or a URL.
    pub store: String,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let store = super::open_read(&args.store)?;
    for (path, node) in hierarchy::walk(&store, "")? {
        let depth = if path.is_empty() {
            0
        } else {
            path.matches('/').count() + 1
        };
        let name = if path.is_empty() {
            "/"
        } else {
            path.rsplit('/').next().unwrap_or(&path)
        };
        let indent = "  ".repeat(depth);
        match node {
            NodeMetadata::Group(g) => println!(
                "{indent}{name}{} (group, v{})",
                if path.is_empty() { "" } else { "/" },
                g.zarr_format.number()
            ),
            NodeMetadata::Array(a) => println!(
                "{indent}{name} {} {:?} chunks {:?}{} (v{})",
                a.data_type,
                a.shape,
                a.read_chunk_shape(),
                a.shard_shape()
                    .map(|s| format!(" shards {s:?}"))
                    .unwrap_or_default(),
                a.zarr_format.number()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

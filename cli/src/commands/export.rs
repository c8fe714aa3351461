//! `zarrcore export STORE ARRAY_PATH OUT.npy [--region 0:10,5:20,...]`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use zarrcore::{npy, Array, Layout, Mode, Region};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store: a directory, a .zip file or a URL.
    pub store: String,
    /// Array path inside the store ("" or "/" is the root).
    pub path: String,
    /// Output .npy file.
    pub out: PathBuf,
    /// Region to export, numpy-style per axis: `0:10,5:20` (missing axes are whole).
    #[arg(long, allow_hyphen_values = true)]
    pub region: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let store = super::open_read(&args.store)?;
    let a = Array::open_with(&store, &args.path, Mode::Read, &super::open_options())?;
    let m = a.metadata();
    let region = match &args.region {
        Some(r) => Region::parse(r, &m.shape).map_err(anyhow::Error::msg)?,
        None => Region::all(&m.shape),
    };
    if m.data_type.is_variable_length() {
        super::strings::export(&a, &region, &args.out)?;
        return Ok(ExitCode::SUCCESS);
    }
    // v2 keeps its declared byte order; v3 is presented little-endian.
    let endian = m.endian;
    let item = m.data_type.size();
    let total = region.check(&m.shape, item, a.path()).context("region")? as u64;
    let tmp = args.out.with_extension("npy.zarrcore-partial");
    let result = (|| -> Result<()> {
        let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(8 << 20, f);
        w.write_all(&npy::header_bytes(m.data_type, endian, &region.shape))?;
        let pb = crate::progress::bytes_bar(total, "export");
        if region.ndim() == 0 || region.is_empty() {
            let buf = {
                let mut b = vec![0u8; total as usize];
                a.read_region_with(&region, &mut b, Layout::c(endian))?;
                b
            };
            w.write_all(&buf)?;
        } else {
            let cell = m.chunk_shape.clone();
            let rows = super::slab_rows(&region.shape, &cell, item, 64 << 20);
            let end0 = region.start[0] + region.shape[0];
            let mut r0 = region.start[0];
            let mut buf = Vec::new();
            while r0 < end0 {
                // Cut at grid-cell boundaries so each step decodes whole cells.
                let next = ((r0 / cell[0]) * cell[0] + rows).max(r0 + 1).min(end0);
                let mut slab = region.clone();
                slab.start[0] = r0;
                slab.shape[0] = next - r0;
                let n = slab.check(&m.shape, item, a.path())?;
                buf.resize(n, 0);
                a.read_region_with(&slab, &mut buf, Layout::c(endian))?;
                w.write_all(&buf)?;
                pb.inc(n as u64);
                r0 = next;
            }
        }
        pb.finish_and_clear();
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &args.out)
            .with_context(|| format!("write {}", args.out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

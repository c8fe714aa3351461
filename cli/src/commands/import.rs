//! `zarrcore import IN.npy STORE ARRAY_PATH [--zarr-format 2|3] [--chunks ..]
//! [--shards ..] [--codec ..] [--fill VALUE]`.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use zarrcore::metadata::ZarrFormat;
use zarrcore::util::parse_shape;
use zarrcore::{npy, ArrayBuilder, CodecSpec, Endian, FillValue, Layout, Order, Region};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input .npy file.
    pub npy: PathBuf,
    /// Store: a directory, a .zip file or a URL (created if missing).
    pub store: String,
    /// Array path inside the store ("" or "/" is the root).
    pub path: String,
    /// Zarr format of the new array.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub zarr_format: u8,
    /// Chunk shape, e.g. 64,64,64 (default: about 1 MiB per chunk).
    #[arg(long)]
    pub chunks: Option<String>,
    /// Shard shape (v3 only), a multiple of the chunk shape, e.g. 256,256,256.
    #[arg(long)]
    pub shards: Option<String>,
    /// Compressor: none, zstd:LEVEL, gzip:LEVEL, blosc:CNAME:CLEVEL:SHUFFLE,
    /// and for v2 also zlib:LEVEL, lz4:ACCELERATION.
    #[arg(long, default_value = "zstd:1")]
    pub codec: String,
    /// Fill value (default 0): a number, nan, inf, -inf, true/false.
    #[arg(long, allow_hyphen_values = true)]
    pub fill: Option<String>,
    /// How to store a NumPy U/S array: `fixed` width (zarr-python 3.1's
    /// choice for NumPy U/S, both formats) or `vlen` (`string` / `bytes`).
    #[arg(long, value_enum, default_value_t = super::strings::StringMode::Fixed)]
    pub string: super::strings::StringMode,
    /// Replace an existing array or group at ARRAY_PATH.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let f = File::open(&args.npy).with_context(|| format!("open {}", args.npy.display()))?;
    // SAFETY: the file is mapped read-only; the mapping is only read, and a
    // concurrent truncation by another program is outside our control (as
    // for any reader of a regular file).
    let map =
        unsafe { memmap2::Mmap::map(&f) }.with_context(|| format!("map {}", args.npy.display()))?;
    let h = npy::parse_header(&map).map_err(|e| anyhow::anyhow!("{}: {e}", args.npy.display()))?;
    let len = h.data_len().context("data size overflows")?;
    let avail = map.len() as u64 - h.data_offset as u64;
    if avail < len {
        bail!(
            "{}: truncated: header promises {len} data bytes, the file has {avail}",
            args.npy.display()
        );
    }
    let data = &map[h.data_offset..h.data_offset + len as usize];
    let format = if args.zarr_format == 2 {
        ZarrFormat::V2
    } else {
        ZarrFormat::V3
    };
    let codec: CodecSpec = args.codec.parse().map_err(anyhow::Error::msg)?;
    let vlen = args.string == super::strings::StringMode::Vlen;
    let dtype = if vlen {
        super::strings::vlen_type(h.dtype)?
    } else {
        h.dtype
    };
    let mut b = ArrayBuilder::new(h.shape.clone(), dtype)
        .zarr_format(format)
        .codec(codec)
        .overwrite(args.overwrite)
        .endian(if format == ZarrFormat::V2 {
            h.endian
        } else {
            Endian::Little
        });
    if let Some(c) = &args.chunks {
        b = b.chunks(
            parse_shape(c)
                .map_err(anyhow::Error::msg)
                .context("--chunks")?,
        );
    }
    if let Some(s) = &args.shards {
        b = b.shards(
            parse_shape(s)
                .map_err(anyhow::Error::msg)
                .context("--shards")?,
        );
    }
    if let Some(v) = &args.fill {
        b = b.fill_value(FillValue::parse_user(v, dtype).map_err(anyhow::Error::msg)?);
    }
    // Refuse a bad array path before the store is created.
    zarrcore::store::normalize_path(&args.path)?;
    let store = super::open_write(&args.store)?;
    if vlen {
        super::strings::import(b, &store, &args.path, &h, data)?;
        store.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let a = b.create(&store, &args.path)?;
    let m = a.metadata();
    let item = h.dtype.size();
    let pb = crate::progress::bytes_bar(len, "import");
    if h.fortran_order || h.shape.is_empty() || len == 0 {
        a.write_region_with(
            &Region::all(&h.shape),
            data,
            Layout {
                order: if h.fortran_order { Order::F } else { Order::C },
                endian: h.endian,
            },
        )?;
        pb.inc(len);
    } else {
        let rows = super::slab_rows(&h.shape, &m.chunk_shape, item, 256 << 20);
        let row_bytes = (len / h.shape[0]) as usize;
        let mut r0 = 0u64;
        while r0 < h.shape[0] {
            let next = (r0 + rows).min(h.shape[0]);
            let mut slab = Region::all(&h.shape);
            slab.start[0] = r0;
            slab.shape[0] = next - r0;
            let bytes = &data[r0 as usize * row_bytes..next as usize * row_bytes];
            a.write_region_with(&slab, bytes, Layout::c(h.endian))?;
            pb.inc(bytes.len() as u64);
            r0 = next;
        }
    }
    a.close()?;
    store.flush()?;
    pb.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

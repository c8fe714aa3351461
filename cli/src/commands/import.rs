//! `zarrcore import IN.npy STORE ARRAY_PATH [--zarr-format 2|3] [--chunks ..]
//! [--shards ..] [--codec ..] [--fill VALUE]`.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use zarrcore::dtype::StructLayout;
use zarrcore::metadata::ZarrFormat;
use zarrcore::util::parse_shape;
use zarrcore::{
    dtype, npy, ArrayBuilder, CodecSpec, DataType, Endian, FillValue, Layout, Order, Region,
};

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
    /// Fill value (default 0; NaT for datetime64/timedelta64): a number, nan,
    /// inf, -inf, true/false, NaT, a string for S/U, base64 for V and records.
    #[arg(long, allow_hyphen_values = true)]
    pub fill: Option<String>,
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
    // v3 stores structured records with little-endian fields (as
    // zarr-python does): records of a .npy with big-endian fields are
    // converted on the way in; v2 keeps the fields' declared byte orders.
    let (dtype, convert) = match h.dtype.struct_layout() {
        Some(l) if format == ZarrFormat::V3 => {
            let little = l
                .with_endian(Endian::Little)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.npy.display()))?;
            (
                DataType::Structured(little),
                (!std::ptr::eq(l, little)).then_some((l, little)),
            )
        }
        _ => (h.dtype, None),
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
    match &args.fill {
        Some(v) => b = b.fill_value(FillValue::parse_user(v, dtype).map_err(anyhow::Error::msg)?),
        // zarr-python's default fill value of datetime64/timedelta64 is NaT.
        None if dtype.time_spec().is_some() => {
            b = b.fill_value(
                FillValue::from_native_bytes(dtype, &dtype::u64_to_native(dtype::NAT as u64))
                    .map_err(anyhow::Error::msg)?,
            )
        }
        None => {}
    }
    // Refuse a bad array path before the store is created.
    zarrcore::store::normalize_path(&args.path)?;
    let store = super::open_write(&args.store)?;
    let a = b.create(&store, &args.path)?;
    let m = a.metadata();
    let item = dtype.size();
    let pb = crate::progress::bytes_bar(len, "import");
    if h.fortran_order || h.shape.is_empty() || len == 0 {
        a.write_region_with(
            &Region::all(&h.shape),
            &records(data, convert, &args.npy)?,
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
            a.write_region_with(
                &slab,
                &records(bytes, convert, &args.npy)?,
                Layout::c(h.endian),
            )?;
            pb.inc(bytes.len() as u64);
            r0 = next;
        }
    }
    a.close()?;
    store.flush()?;
    pb.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

/// Records converted to the stored layout (a copy), or the input as is.
fn records<'a>(
    bytes: &'a [u8],
    convert: Option<(&StructLayout, &StructLayout)>,
    npy: &std::path::Path,
) -> Result<std::borrow::Cow<'a, [u8]>> {
    Ok(match convert {
        None => std::borrow::Cow::Borrowed(bytes),
        Some((from, to)) => {
            let mut v = bytes.to_vec();
            from.convert_records(to, &mut v)
                .map_err(|e| anyhow::anyhow!("{}: {e}", npy.display()))?;
            std::borrow::Cow::Owned(v)
        }
    })
}

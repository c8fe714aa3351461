//! `zarrcore import IN.npy STORE ARRAY_PATH [--zarr-format 2|3] [--chunks ..]
//! [--shards ..] [--codec ..] [--fill VALUE] [--string fixed|vlen]`: a new
//! array from a `.npy`;
//! `zarrcore import IN.npy STORE ARRAY_PATH --region 0:10,5:20,3`: the `.npy`
//! written into that region of an existing array.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use zarrcore::dtype::{swap_bytes_in_place, StructLayout};
use zarrcore::metadata::ZarrFormat;
use zarrcore::npy::NpyHeader;
use zarrcore::ops::cast::{cast, check_cast};
use zarrcore::ops::Casting;
use zarrcore::util::parse_shape;
use zarrcore::{
    dtype, npy, open_store, Array, ArrayBuilder, CodecSpec, DataType, Endian, FillValue, Layout,
    Mode, Order, Region, StoreOptions,
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
    /// How to store a NumPy U/S array: `fixed` width (zarr-python 3.1's
    /// choice for NumPy U/S, both formats) or `vlen` (`string` / `bytes`).
    #[arg(long, value_enum, default_value_t = super::strings::StringMode::Fixed)]
    pub string: super::strings::StringMode,
    /// Replace an existing array or group at ARRAY_PATH.
    #[arg(long)]
    pub overwrite: bool,
    /// Write into this region of the EXISTING array at ARRAY_PATH instead of
    /// creating one, numpy-style per axis as for export: `0:10,5:20,3`
    /// (missing axes are whole). The .npy has the region's shape (axes given
    /// as a single index may be left out) and the array's data type or one
    /// that converts to it safely.
    #[arg(long, allow_hyphen_values = true,
          conflicts_with_all = ["zarr_format", "chunks", "shards", "codec", "fill", "string", "overwrite"])]
    pub region: Option<String>,
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
    if let Some(r) = &args.region {
        return import_region(&args, r, &h, data);
    }
    let format = if args.zarr_format == 2 {
        ZarrFormat::V2
    } else {
        ZarrFormat::V3
    };
    let codec: CodecSpec = args.codec.parse().map_err(anyhow::Error::msg)?;
    let vlen = args.string == super::strings::StringMode::Vlen;
    // v3 stores structured records with little-endian fields (as
    // zarr-python does): records of a .npy with big-endian fields are
    // converted on the way in; v2 keeps the fields' declared byte orders.
    let (dtype, convert) = match h.dtype.struct_layout() {
        _ if vlen => (super::strings::vlen_type(h.dtype)?, None),
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
    if vlen {
        super::strings::import(b, &store, &args.path, &h, data)?;
        store.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
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

/// `--region`: writes the `.npy` (header `h`, payload `data`) into `spec` of
/// the existing array `args.path`, converting its elements when its data
/// type differs (safe conversions only).
fn import_region(args: &Args, spec: &str, h: &NpyHeader, data: &[u8]) -> Result<ExitCode> {
    let opts = StoreOptions {
        writable: true,
        create: false,
        durable: false,
    };
    // The error names the store without its URL query (which may hold a
    // secret); open_store's own message does the same.
    let shown = args.store.split('?').next().unwrap_or_default();
    let store = open_store(&args.store, opts).with_context(|| format!("store {shown}"))?;
    let a = Array::open_with(&store, &args.path, Mode::Write, &super::open_options())?;
    let m = a.metadata();
    let region = Region::parse(spec, &m.shape)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--region for array {:?} of shape {:?}", a.path(), m.shape))?;
    // Axes given as one index may be absent from the .npy (numpy's a[3, :]).
    let squeezed: Vec<u64> = spec
        .split(',')
        .map(str::trim)
        .chain(std::iter::repeat(":"))
        .zip(&region.shape)
        .filter(|(p, _)| p.contains(':') || p.is_empty())
        .map(|(_, &n)| n)
        .collect();
    if h.shape != region.shape && h.shape != squeezed {
        bail!(
            "{}: shape {:?} does not match region {spec} (shape {:?}) of array {:?}",
            args.npy.display(),
            h.shape,
            region.shape,
            a.path()
        );
    }
    let to = m.data_type;
    check_cast(h.dtype, to, Casting::Safe).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot write {} into array {:?} of {to}: {e}",
            args.npy.display(),
            h.dtype.numpy_str(h.endian),
            a.path()
        )
    })?;
    let order = if h.fortran_order { Order::F } else { Order::C };
    let from_item = h.dtype.size();
    let write = |r: &Region, bytes: &[u8]| -> Result<()> {
        if h.dtype == to {
            a.write_region_with(
                r,
                bytes,
                Layout {
                    order,
                    endian: h.endian,
                },
            )?;
            return Ok(());
        }
        let mut src = bytes.to_vec();
        if h.endian != Endian::native() {
            swap_bytes_in_place(&mut src, h.dtype.swap_unit());
        }
        let mut dst = vec![0u8; src.len() / from_item * to.size()];
        cast(&src, h.dtype, &mut dst, to);
        a.write_region_with(
            r,
            &dst,
            Layout {
                order,
                endian: Endian::native(),
            },
        )?;
        Ok(())
    };
    let pb = crate::progress::bytes_bar(data.len() as u64, "import");
    if h.fortran_order || region.ndim() == 0 || data.is_empty() {
        write(&region, data)?;
    } else {
        let rows = super::slab_rows(&region.shape, &m.chunk_shape, from_item, 256 << 20);
        let row_bytes = data.len() / region.shape[0] as usize;
        let mut r0 = 0u64;
        while r0 < region.shape[0] {
            let next = (r0 + rows).min(region.shape[0]);
            let mut slab = region.clone();
            slab.start[0] += r0;
            slab.shape[0] = next - r0;
            write(
                &slab,
                &data[r0 as usize * row_bytes..next as usize * row_bytes],
            )?;
            pb.inc(((next - r0) as usize * row_bytes) as u64);
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

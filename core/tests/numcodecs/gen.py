"""Writes the numcodecs interop corpus with the pinned zarr-python: one store
per case (v2 filters and compressors, v3 `numcodecs.*` codecs), the data
written (`<id>.input.npy`), what zarr-python reads back (`<id>.expected.npy`)
and manifest.json. Run by core/tests/numcodecs_interop.rs:

    python gen.py OUT_DIR

A new case is one line in CASES.
"""
import json
import sys
import warnings
from pathlib import Path

import numcodecs as n
import numpy as np
import zarr
import zarr.codecs.numcodecs as nc
from zarr.codecs import BytesCodec

warnings.simplefilter("ignore")
rng = np.random.default_rng(13)


def ramp(dtype, shape, start=0, step=3):
    size = int(np.prod(shape))
    return (start + step * np.arange(size)).astype(dtype).reshape(shape)


def noisy(dtype, shape, scale=1000.0, nan=True):
    x = (rng.standard_normal(int(np.prod(shape))) * scale).astype(dtype)
    if nan and x.size > 3:
        x[3] = np.nan
        x[-1] = np.inf
    return x.reshape(shape)


def ints(dtype, shape):
    dt = np.dtype(dtype)
    info = np.iinfo(dt)
    x = rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("="), endpoint=True)
    return x.astype(dt)


def linspace(dtype, shape, lo, hi):
    return np.linspace(lo, hi, int(np.prod(shape))).astype(dtype).reshape(shape)


# (id, zarr_format, dtype, shape, chunks, fill, data, filters, compressors, extra)
CASES = [
    # ---- v2: filters as numcodecs writes them -------------------------------
    ("v2_delta_i4", 2, "<i4", (37,), (10,), 0, ramp("<i4", (37,), 5, 7), [n.Delta("<i4")], n.Zstd(3), {}),
    ("v2_delta_i2_as_i1", 2, "<i2", (30,), (16,), 100, ramp("<i2", (30,), 0, 2), [n.Delta("<i2", astype="i1")], None, {}),
    ("v2_delta_be_i8", 2, ">i8", (5, 7), (2, 3), -1, ints(">i8", (5, 7)), [n.Delta(">i8")], None, {}),
    ("v2_delta_u2_wraps", 2, "<u2", (50,), (16,), 0, ints("<u2", (50,)), [n.Delta("<u2")], n.Zlib(1), {}),
    ("v2_delta_f8", 2, "<f8", (33,), (8,), np.nan, noisy("<f8", (33,)), [n.Delta("<f8")], n.Blosc("lz4", 5, 1), {}),
    ("v2_delta_f4_order_f", 2, "<f4", (7, 9), (4, 4), 1.5, noisy("<f4", (7, 9), nan=False), [n.Delta("<f4")], n.Zlib(1), {"order": "F"}),
    ("v2_delta_f2", 2, "<f2", (20,), (8,), 0, noisy("<f2", (20,), 10.0), [n.Delta("<f2")], None, {}),
    ("v2_fso_f8_u1", 2, "<f8", (30,), (8,), 1000.0, linspace("<f8", (30,), 1000, 1025), [n.FixedScaleOffset(1000, 10, "<f8", "u1")], None, {}),
    ("v2_fso_f4_i2", 2, "<f4", (6, 5), (4, 2), 0, noisy("<f4", (6, 5), 50.0, nan=False), [n.FixedScaleOffset(-3.5, 100, "<f4", "<i2")], n.Zstd(1), {}),
    ("v2_fso_be_f8_u2", 2, ">f8", (25,), (10,), 0, linspace(">f8", (25,), 0, 60), [n.FixedScaleOffset(0, 1000.0, ">f8", ">u2")], None, {}),
    ("v2_fso_i4_i2", 2, "<i4", (30,), (7,), 1000, ramp("<i4", (30,), 1000, 11), [n.FixedScaleOffset(1000, 1, "<i4", "<i2")], None, {}),
    ("v2_fso_i8_float_scale", 2, "<i8", (30,), (7,), 5, ramp("<i8", (30,), 5, 3), [n.FixedScaleOffset(5, 0.5, "<i8", "<i4")], None, {}),
    ("v2_fso_f2_u1", 2, "<f2", (20,), (8,), 0, linspace("<f2", (20,), 0, 20), [n.FixedScaleOffset(0.25, 10, "<f2", "u1")], None, {}),
    ("v2_quantize_f8", 2, "<f8", (41,), (16,), np.nan, noisy("<f8", (41,), 3.0), [n.Quantize(3, "<f8")], n.Zstd(3), {}),
    ("v2_quantize_f4", 2, "<f4", (41,), (16,), 0.1, noisy("<f4", (41,), 3.0), [n.Quantize(2, "<f4")], None, {}),
    ("v2_quantize_f8_as_f4", 2, "<f8", (41,), (16,), 0, noisy("<f8", (41,), 3.0), [n.Quantize(4, "<f8", astype="<f4")], None, {}),
    ("v2_quantize_f2", 2, "<f2", (20,), (8,), 0, noisy("<f2", (20,), 3.0), [n.Quantize(1, "<f2")], None, {}),
    ("v2_quantize_negative_digits", 2, "<f8", (20,), (8,), 0, noisy("<f8", (20,), 1e5), [n.Quantize(-2, "<f8")], None, {}),
    ("v2_bitround_f4", 2, "<f4", (40,), (16,), 0, noisy("<f4", (40,), 3.0), [n.BitRound(5)], n.Zstd(3), {}),
    ("v2_bitround_f8", 2, "<f8", (40,), (16,), np.nan, noisy("<f8", (40,), 3.0), [n.BitRound(12)], None, {}),
    ("v2_bitround_f2", 2, "<f2", (40,), (16,), 0, noisy("<f2", (40,), 3.0), [n.BitRound(3)], None, {}),
    ("v2_bitround_keep0", 2, "<f4", (10,), (4,), 0, noisy("<f4", (10,), 3.0), [n.BitRound(0)], None, {}),
    ("v2_shuffle_i4", 2, "<i4", (30,), (8,), 0, ints("<i4", (30,)), [n.Shuffle(4)], n.Zlib(1), {}),
    ("v2_shuffle_f8_es2", 2, "<f8", (30,), (8,), 0, noisy("<f8", (30,)), [n.Shuffle(2)], None, {}),
    ("v2_packbits", 2, "|b1", (37,), (10,), False, rng.integers(0, 2, 37).astype(bool), [n.PackBits()], None, {}),
    ("v2_packbits_2d_zstd", 2, "|b1", (9, 11), (4, 5), True, rng.integers(0, 2, (9, 11)).astype(bool), [n.PackBits()], n.Zstd(1), {}),
    ("v2_astype_f8_f4", 2, "<f8", (30,), (8,), 0, noisy("<f8", (30,)), [n.AsType("<f4", "<f8")], n.LZ4(), {}),
    ("v2_astype_i8_u1", 2, "<i8", (30,), (8,), 3, ramp("<i8", (30,), 3, 5), [n.AsType("u1", "<i8")], None, {}),
    ("v2_chain", 2, "<f8", (6, 10), (4, 4), 0, noisy("<f8", (6, 10), 5.0), [n.Quantize(3, "<f8"), n.Delta("<f8"), n.Shuffle(8)], n.BZ2(9), {}),
    ("v2_checksum_filter", 2, "<i2", (30,), (8,), 0, ramp("<i2", (30,)), [n.Delta("<i2"), n.CRC32()], n.Zstd(1), {}),
    ("v2_bz2", 2, "<u2", (3, 40), (2, 16), 0, ramp("<u2", (3, 40)), None, n.BZ2(1), {}),
    ("v2_lzma_xz", 2, "<f4", (50,), (16,), 0, noisy("<f4", (50,)), None, n.LZMA(), {}),
    ("v2_lzma_alone", 2, "<i8", (50,), (16,), 0, ramp("<i8", (50,)), None, n.LZMA(format=2, preset=1), {}),
    ("v2_lzma_check_none", 2, "<i4", (50,), (16,), 0, ramp("<i4", (50,)), None, n.LZMA(check=0, preset=9), {}),
    ("v2_crc32", 2, "<i4", (20,), (8,), 0, ramp("<i4", (20,)), None, n.CRC32(), {}),
    ("v2_adler32_end", 2, "<i4", (20,), (8,), 0, ramp("<i4", (20,)), None, n.Adler32(location="end"), {}),
    ("v2_fletcher32", 2, "<u1", (21,), (7,), 0, ramp("<u1", (21,)), None, n.Fletcher32(), {}),
    ("v2_crc32c", 2, "<f8", (20,), (8,), 0, noisy("<f8", (20,)), None, n.CRC32C(), {}),
    ("v2_partial_fill", 2, "<f8", (40,), (8,), 2.5, None, [n.Quantize(1, "<f8"), n.Delta("<f8")], n.Zstd(1), {"write": slice(5, 19)}),
    # ---- v3: zarr-python's numcodecs.* codecs --------------------------------
    ("v3_delta_u4_bz2", 3, "uint32", (64,), (16,), 0, ramp("<u4", (64,)), [nc.Delta(dtype="uint32")], [nc.BZ2(level=5)], {}),
    ("v3_delta_i2_as_i4", 3, "int16", (30,), (8,), 0, ints("<i2", (30,)), [nc.Delta(dtype="int16", astype="int32")], None, {}),
    ("v3_delta_2d", 3, "int32", (5, 6), (2, 4), 7, ints("<i4", (5, 6)), [nc.Delta(dtype="int32")], [nc.Zstd(level=1)], {}),
    ("v3_fso_u1", 3, "float64", (30,), (8,), 0, linspace("<f8", (30,), 1, 25), [nc.FixedScaleOffset(offset=1, scale=10, astype="u1")], None, {}),
    ("v3_fso_f4_i2", 3, "float32", (30,), (8,), 0, noisy("<f4", (30,), 20.0, nan=False), [nc.FixedScaleOffset(offset=0.5, scale=100, astype="<i2")], None, {}),
    ("v3_shuffle_big_endian", 3, "float64", (30,), (8,), 0, noisy("<f8", (30,)), None, [nc.Shuffle(), nc.Zstd(level=1)], {"serializer": BytesCodec(endian="big")}),
    ("v3_quantize_lzma", 3, "float32", (40,), (16,), 0, noisy("<f4", (40,), 3.0), [nc.Quantize(digits=2)], [nc.LZMA()], {}),
    ("v3_bitround_gzip_lz4", 3, "float32", (40,), (16,), 0, noisy("<f4", (40,), 3.0), [nc.BitRound(keepbits=3)], [nc.GZip(level=3), nc.LZ4()], {}),
    ("v3_shuffle_zlib", 3, "int16", (40,), (16,), 0, ints("<i2", (40,)), None, [nc.Shuffle(), nc.Zlib()], {}),
    ("v3_packbits_blosc", 3, "bool", (37,), (10,), False, rng.integers(0, 2, 37).astype(bool), [nc.PackBits()], [nc.Blosc(cname="zstd", shuffle=2)], {}),
    ("v3_astype_checksums", 3, "float64", (30,), (8,), 0, noisy("<f8", (30,)), [nc.AsType(encode_dtype="f4", decode_dtype="f8")], [nc.CRC32(), nc.Adler32(), nc.Fletcher32(), nc.CRC32C()], {}),
    ("v3_zstd", 3, "float32", (40,), (16,), np.nan, noisy("<f4", (40,)), None, [nc.Zstd(level=3)], {}),
    ("v3_blosc_lz4", 3, "int64", (40,), (16,), 0, ints("<i8", (40,)), None, [nc.Blosc(cname="lz4", clevel=5, shuffle=1)], {}),
    ("v3_crc32_start", 3, "uint8", (40,), (16,), 0, ramp("<u1", (40,)), None, [nc.CRC32(location="end"), nc.Adler32()], {}),
    ("v3_sharded_delta", 3, "int32", (32,), (8,), 0, ramp("<i4", (32,)), [nc.Delta(dtype="int32")], [nc.Zstd(level=1)], {"shards": (16,)}),
    ("v3_quantize_bitround_2d", 3, "float64", (9, 7), (4, 4), 0.5, noisy("<f8", (9, 7), 2.0), [nc.Quantize(digits=4), nc.BitRound(keepbits=20)], [nc.Zstd(level=1)], {}),
]


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for cid, fmt, dtype, shape, chunks, fill, data, filters, comp, extra in CASES:
        store = out / "py" / cid
        kw = dict(store=str(store), shape=shape, chunks=chunks, dtype=dtype,
                  fill_value=fill, zarr_format=fmt, overwrite=True)
        if fmt == 2:
            kw["filters"] = filters
            kw["compressors"] = comp
            kw["order"] = extra.get("order", "C")
        else:
            kw["filters"] = filters or ()
            kw["compressors"] = comp or ()
            if "serializer" in extra:
                kw["serializer"] = extra["serializer"]
            if "shards" in extra:
                kw["shards"] = extra["shards"]
        a = zarr.create_array(**kw)
        nd = np.dtype(dtype)
        if data is None:
            data = np.full(shape, fill, dtype=nd)
            sel = extra["write"]
            data[sel] = noisy(nd, shape)[sel]
            a[sel] = data[sel]
        else:
            data = np.asarray(data, dtype=nd)
            a[...] = data
        got = zarr.open_array(str(store), mode="r")[...]
        np.save(out / f"{cid}.input.npy", np.ascontiguousarray(data))
        np.save(out / f"{cid}.expected.npy", np.ascontiguousarray(got))
        doc_name = ".zarray" if fmt == 2 else "zarr.json"
        manifest.append({
            "id": cid,
            "zarr_format": fmt,
            "store": f"py/{cid}",
            "metadata": json.loads((store / doc_name).read_text()),
            "input": f"{cid}.input.npy",
            "expected": f"{cid}.expected.npy",
        })
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])

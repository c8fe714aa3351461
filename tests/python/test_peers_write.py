"""zarrcore reads exactly what TensorStore and zarrs write.

TensorStore (its `zarr` v2 and `zarr3` drivers) and zarrs (the zarrs Rust
crate, through zarrs-python's codec pipeline for zarr-python) write arrays
across data types, byte orders, memory orders, codecs, sharding layouts,
chunk key encodings and fill values, leaving some chunks unwritten; then
`zarrcore export` reads each whole array and the result must equal what was
written (unwritten chunks as the fill value) bit for bit.

The other direction (TensorStore and zarrs read what zarrcore writes) is
tests/python/verify_peers.py, run by tests/suites/interop_write.sh.

Needs the release binary: $ZARRCORE_BIN, else target/release/zarrcore.
"""
import os
import subprocess
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

ts = pytest.importorskip("tensorstore")
pytest.importorskip("zarrs")
import zarr  # noqa: E402
import zarr.storage  # noqa: E402
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ZstdCodec  # noqa: E402

from verify_peers import values_equal  # noqa: E402

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("ZARRCORE_BIN") or str(ROOT / "target" / "release" / "zarrcore")


def zarrcore_read(store: Path, path: str, tmp: Path) -> np.ndarray:
    out = tmp / "out.npy"
    p = subprocess.run([BIN, "export", str(store), path, str(out)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"zarrcore export {store} {path!r} failed: {p.stderr}"
    return np.load(out)


def values(rng, dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)
    if dt.kind == "f":
        v = (rng.standard_normal(shape) * 1000).astype(dt)
        v.flat[::7] = np.nan
        v.flat[3::11] = np.inf
        return v
    if dt.kind == "c":
        re = rng.standard_normal(shape) * 100
        im = rng.standard_normal(shape) * 100
        return (re + 1j * im).astype(dt)
    raise AssertionError(dt)


def partial(rng, dtype, shape, fill):
    """The data written (the leading 3/4 of every axis) and the whole
    array's expected values (fill elsewhere, so some chunks are never
    written)."""
    region = tuple(slice(0, max(1, (3 * n) // 4)) for n in shape)
    expected = np.full(shape, fill, dtype=np.dtype(dtype))
    data = values(rng, dtype, expected[region].shape)
    expected[region] = data
    return region, data, expected


# ----------------------------------------------------------------- TensorStore

TS_V3 = [
    # (name, data_type, shape, chunks, codecs, fill, key separator)
    ("u8_zstd", "uint8", [37, 21], [8, 8],
     [{"name": "bytes"}, {"name": "zstd", "configuration": {"level": 3}}], 7, "/"),
    ("i16_big_gzip", "int16", [30, 17, 5], [8, 8, 2],
     [{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip", "configuration": {"level": 5}}],
     -3, "."),
    ("f32_blosc", "float32", [64, 33], [16, 16],
     [{"name": "bytes", "configuration": {"endian": "little"}},
      {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4,
                                          "blocksize": 0}}], "NaN", "/"),
    ("f64_transpose_crc", "float64", [19, 23, 4], [5, 7, 4],
     [{"name": "transpose", "configuration": {"order": [2, 0, 1]}},
      {"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}], "-Infinity", "/"),
    ("c64_big", "complex64", [25, 9], [10, 4],
     [{"name": "bytes", "configuration": {"endian": "big"}}], [1.5, -2.0], "/"),
    ("bool_plain", "bool", [40], [16], [{"name": "bytes"}], False, "/"),
    ("f16_zstd", "float16", [33, 12], [8, 5],
     [{"name": "bytes"}, {"name": "zstd", "configuration": {"level": 1, "checksum": True}}], 0.5, "/"),
    ("u16_shard_end", "uint16", [64, 48], [32, 24],
     [{"name": "sharding_indexed", "configuration": {
         "chunk_shape": [8, 8],
         "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "zstd", "configuration": {"level": 1}}],
         "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
         "index_location": "end"}}], 0, "/"),
    ("i64_shard_start", "int64", [20, 20, 6], [10, 10, 6],
     [{"name": "sharding_indexed", "configuration": {
         "chunk_shape": [5, 5, 3],
         "codecs": [{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip",
                                                                             "configuration": {"level": 1}}],
         "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
         "index_location": "start"}}], -1, "/"),
]


def ts_fill(fill, dtype):
    if isinstance(fill, list):
        return complex(fill[0], fill[1])
    if isinstance(fill, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[fill])
    return np.array(fill, dtype=dtype)[()]


@pytest.mark.parametrize("case", TS_V3, ids=[c[0] for c in TS_V3])
def test_tensorstore_v3(case, tmp_path):
    name, dtype, shape, chunks, codecs, fill, sep = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    store = tmp_path / "ts_v3.zarr"
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(store / name) + "/"},
        "metadata": {
            "shape": shape, "data_type": dtype, "fill_value": fill, "codecs": codecs,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": sep}},
        },
        "create": True, "delete_existing": True,
    }
    arr = ts.open(spec).result()
    region, data, expected = partial(rng, dtype, shape, ts_fill(fill, dtype))
    arr[region].write(data).result()
    ok, why = values_equal(zarrcore_read(store, name, tmp_path), expected)
    assert ok, f"{name}: {why}"


TS_V2 = [
    # (name, dtype, shape, chunks, compressor, order, fill, separator)
    ("le_f8_blosc", "<f8", [31, 17], [8, 8],
     {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0}, "C", "NaN", "."),
    ("be_i4_zlib", ">i4", [20, 13, 3], [7, 5, 2], {"id": "zlib", "level": 4}, "C", 11, "/"),
    ("le_u2_F_zstd", "<u2", [33, 22], [10, 9], {"id": "zstd", "level": 2}, "F", 9, "."),
    ("be_c16_F_gzip", ">c16", [12, 9], [5, 4], {"id": "gzip", "level": 1}, "F", None, "."),
    ("u1_none", "|u1", [50], [16], None, "C", 255, "."),
    ("b1_blosc_bitshuffle", "|b1", [17, 19], [6, 6],
     {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 2, "blocksize": 0}, "C", True, "/"),
    ("be_f4_blosc_F", ">f4", [21, 14, 6], [8, 8, 4],
     {"id": "blosc", "cname": "blosclz", "clevel": 9, "shuffle": 1, "blocksize": 0}, "F", "-Infinity", "."),
]


@pytest.mark.parametrize("case", TS_V2, ids=[c[0] for c in TS_V2])
def test_tensorstore_v2(case, tmp_path):
    name, dtype, shape, chunks, compressor, order, fill, sep = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    store = tmp_path / "ts_v2.zarr"
    spec = {
        "driver": "zarr",
        "kvstore": {"driver": "file", "path": str(store / name) + "/"},
        "metadata": {"shape": shape, "chunks": chunks, "dtype": dtype, "compressor": compressor,
                     "order": order, "fill_value": fill, "filters": None, "dimension_separator": sep},
        "create": True, "delete_existing": True,
    }
    arr = ts.open(spec).result()
    fillv = 0 if fill is None else ts_fill(fill, dtype)
    region, data, expected = partial(rng, dtype, shape, fillv)
    arr[region].write(data).result()
    got = zarrcore_read(store, name, tmp_path)
    if fill is None:
        # A null fill value leaves unwritten chunks undefined; compare the
        # written region only.
        got, expected = got[region], expected[region]
    ok, why = values_equal(got, expected)
    assert ok, f"{name}: {why}"


# ----------------------------------------------------------------------- zarrs

ZARRS = [
    # (name, zarr_format, dtype, shape, chunks, shards, compressors, fill)
    ("v3_f4_zstd", 3, "float32", (45, 30), (16, 16), None, [ZstdCodec(level=3)], np.nan),
    ("v3_u2_sharded", 3, "uint16", (96, 80), (16, 16), (32, 48), [ZstdCodec(level=1)], 5),
    ("v3_i8_sharded_gzip", 3, "int64", (20, 18, 7), (5, 6, 7), (10, 18, 7), [GzipCodec(level=2)], -9),
    ("v3_c16_blosc", 3, "complex128", (23, 11), (8, 8), None,
     [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")], 0),
    ("v3_b1_crc", 3, "bool", (70,), (32,), None, [Crc32cCodec()], False),
    ("v3_big_endian", 3, "int32", (30, 9), (8, 9), None, [ZstdCodec(level=1)], 3),
    ("v2_u4_blosc", 2, "uint32", (40, 25), (16, 10), None, None, 1),
]


@pytest.mark.parametrize("case", ZARRS, ids=[c[0] for c in ZARRS])
def test_zarrs(case, tmp_path):
    import numcodecs

    name, fmt, dtype, shape, chunks, shards, compressors, fill = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    store_path = tmp_path / "zarrs.zarr"
    kw = {}
    if fmt == 3:
        kw["compressors"] = compressors
        endian = "big" if "big" in name else "little"
        kw["serializer"] = BytesCodec(endian=endian) if np.dtype(dtype).itemsize > 1 else "auto"
        if shards:
            kw["shards"] = shards
    else:
        kw["compressors"] = [numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)]
    with zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline",
                          "codec_pipeline.strict": True}):
        store = zarr.storage.LocalStore(str(store_path))
        arr = zarr.create_array(store, name=name, shape=shape, chunks=chunks, dtype=dtype,
                                fill_value=fill, zarr_format=fmt, **kw)
        region, data, expected = partial(rng, dtype, shape, fill)
        arr[region] = data
        # The zarrs pipeline did the encoding (strict: no silent fallback).
        assert type(arr._async_array.codec_pipeline).__name__ == "ZarrsCodecPipeline"
    ok, why = values_equal(zarrcore_read(store_path, name, tmp_path), expected)
    assert ok, f"{name}: {why}"

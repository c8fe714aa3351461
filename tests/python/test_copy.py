"""`zarrcore copy` against NumPy: the destination, read by zarr-python, equals
`src[region].transpose(perm).astype(dtype)` exactly, for many shapes, data
types, chunkings, shardings, permutations (including 4-D), formats, codecs
and stores (directory, zip); chunks that are all fill value are not stored
(as zarr-python leaves them out); an interrupted copy (SIGKILL or Ctrl-C at a
random point) resumed with --resume leaves exactly the files an
uninterrupted copy leaves.

Needs the release binary: $ZARRCORE_BIN, else target/release/zarrcore.
"""
import json
import os
import random
import signal
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ZstdCodec

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("ZARRCORE_BIN") or str(ROOT / "target" / "release" / "zarrcore")


def zc(*args, check=True, timeout=300):
    p = subprocess.run([BIN, "copy", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"zarrcore copy {args} failed ({p.returncode}): {p.stderr}")
    return p


def data(rng, shape, dtype, fill=0):
    """Random values with runs of the fill value (so some chunks are all fill)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = rng.integers(max(info.min, -(1 << 40)), min(info.max, 1 << 40), n, endpoint=True).astype(dtype)
    elif dtype.kind == "f":
        v = (rng.standard_normal(n) * 1000).astype(dtype)
    else:
        v = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    mask = np.repeat(rng.integers(0, 3, n // 16 + 1) == 0, 16)[:n]
    v[mask] = fill
    v = v.reshape(shape)
    if len(shape) >= 2 and shape[0] > 4:
        v[: shape[0] // 4] = fill  # whole all-fill chunks
    return v


def make(path, a, *, fmt=3, chunks=None, shards=None, codec="zstd", order="C", fill=0):
    kw = dict(shape=a.shape, dtype=a.dtype, chunks=chunks or a.shape, fill_value=fill,
              zarr_format=fmt, overwrite=True)
    if fmt == 3:
        kw["serializer"] = BytesCodec(endian="little") if a.dtype.itemsize > 1 else BytesCodec()
        kw["compressors"] = {
            "zstd": ZstdCodec(level=1), "blosc": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
            "gzip": GzipCodec(level=1), None: None}[codec]
        if shards:
            kw["shards"] = shards
    else:
        kw["compressors"] = {
            "zstd": numcodecs.Zstd(level=1), "blosc": numcodecs.Blosc(cname="lz4", clevel=5),
            "zlib": numcodecs.Zlib(level=1), None: None}[codec]
        kw["order"] = order
    store = zarr.storage.ZipStore(str(path), mode="w") if str(path).endswith(".zip") else str(path)
    z = zarr.create_array(store=store, **kw)
    z[...] = a
    if isinstance(store, zarr.storage.ZipStore):
        store.close()


def read(path, array=""):
    if str(path).endswith(".zip"):
        store = zarr.storage.ZipStore(str(path), mode="r")
        z = zarr.open_array(store=store, path=array, mode="r")
        v = z[...]
        store.close()
        return v, z
    z = zarr.open_array(store=str(path), path=array, mode="r")
    return z[...], z


def same(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        assert np.array_equal(got, want, equal_nan=True)
    else:
        assert np.array_equal(got, want)


def chunk_keys(path):
    """Stored chunk keys of a directory array (metadata and temporaries excluded)."""
    out = set()
    for p in Path(path).rglob("*"):
        if p.is_file() and not p.name.startswith(".") and p.name != "zarr.json":
            out.add(str(p.relative_to(path)))
    return out


CASES = [
    # id, shape, dtype, source layout, copy arguments, permutation
    ("w5-like", (40, 30, 20), "uint16", dict(chunks=(8, 8, 8)), [], (2, 1, 0)),
    ("v2-F-big-endian-to-v3", (17, 33), ">f8", dict(fmt=2, chunks=(5, 7), order="F", codec="blosc"),
     ["--zarr-format", "3", "--codec", "zstd:3"], (1, 0)),
    ("4d-rechunk", (9, 10, 11, 12), "int32", dict(chunks=(4, 5, 3, 6)),
     ["--chunks", "5,2,4,3"], (3, 0, 2, 1)),
    ("sharded-inherit", (64, 48), "uint8", dict(chunks=(8, 8), shards=(32, 16)), [], (1, 0)),
    ("region-reshard", (50, 40, 30), "int16", dict(chunks=(10, 10, 10)),
     ["--region", "3:47,5:,10:20", "--chunks", "4,8,8", "--shards", "8,16,16"], (1, 2, 0)),
    ("1d-widen", (100,), "float32", dict(chunks=(16,)), ["--chunks", "7", "--dtype", "float64"], (0,)),
    ("narrow-wraps", (30, 20), "int32", dict(chunks=(7, 6)),
     ["--dtype", "int8", "--casting", "same_kind"], (1, 0)),
    ("u16-to-f16", (30, 20), "uint16", dict(chunks=(16, 16)),
     ["--dtype", "float16", "--casting", "same_kind"], (0, 1)),
    ("f64-to-f16", (40, 40), "float64", dict(chunks=(16, 16)),
     ["--dtype", "float16", "--casting", "same_kind"], (1, 0)),
    ("f64-to-f16-near-ties", (30000,), "float64", dict(chunks=(4096,), near_ties=True),
     ["--dtype", "float16", "--casting", "same_kind", "--chunks", "1000"], (0,)),
    ("i64-to-f64", (12, 13, 14), "int64", dict(chunks=(5, 5, 5)), ["--dtype", "float64"], (2, 0, 1)),
    ("u64-to-f32", (50, 50), "uint64", dict(chunks=(16, 16)),
     ["--dtype", "float32", "--casting", "same_kind"], (1, 0)),
    ("i16-to-f16", (60, 60), "int16", dict(chunks=(32, 32)),
     ["--dtype", "float16", "--casting", "same_kind"], (1, 0)),
    ("complex-widen", (20, 20), "complex64", dict(chunks=(8, 8)), ["--dtype", "complex128"], (1, 0)),
    ("bool", (25, 15), "bool", dict(chunks=(10, 4)), ["--chunks", "3,9"], (1, 0)),
    ("v2-nan-fill-zlib", (31, 29), "float32", dict(fmt=2, chunks=(8, 8), codec="zlib", fill=np.nan),
     ["--codec", "zlib:1"], (1, 0)),
    ("v3-to-v2-blosc", (33, 22, 11), "uint32", dict(chunks=(16, 8, 4)),
     ["--zarr-format", "2", "--codec", "blosc:zstd:1:bitshuffle"], (2, 1, 0)),
    ("uncompressed", (16, 16, 16), "float64", dict(chunks=(16, 4, 8), codec=None),
     ["--codec", "none", "--chunks", "16,16,1"], (0, 2, 1)),
    ("unshard-negative-region", (64, 48), "uint8", dict(chunks=(8, 8), shards=(32, 16)),
     ["--shards", "none", "--region", "-40:-3,5:"], (0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_copy_equals_numpy(tmp_path, case):
    name, shape, dtype, layout, extra, perm = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    fill = layout.get("fill", 0)
    a = data(rng, shape, dtype, fill=fill)
    if layout.pop("near_ties", False):
        # float16 ties (odd multiples of half an ulp) nudged by tiny amounts:
        # rounding through float32 would get these wrong.
        ties = (rng.integers(-4000, 4000, shape) * 2 + 1) * 0.25
        a = ties + rng.choice([-1e-6, 1e-6, 0.0], shape) * np.abs(ties) * 1e-3
        a[::7] = rng.standard_normal(a[::7].shape) * 1e-6  # subnormal range
    src = tmp_path / "src.zarr"
    make(src, a, **layout)
    dst = tmp_path / "dst.zarr"
    zc(src, "", dst, "out/t", "--transpose", ",".join(map(str, perm)), "--memory", "64MiB", *extra)
    got, z = read(dst, "out/t")
    region = tuple(slice(None) for _ in shape)
    if "--region" in extra:
        spec = extra[extra.index("--region") + 1].split(",")
        region = tuple(slice(*[int(x) if x else None for x in s.split(":")]) for s in spec)
        region = tuple(slice(r.start, r.stop) for r in region)
        region += tuple(slice(None) for _ in range(len(shape) - len(region)))
    want = a[region].transpose(perm)
    if "--dtype" in extra:
        want = want.astype(extra[extra.index("--dtype") + 1])
    else:
        want = want.astype(want.dtype.newbyteorder("<")) if want.dtype.byteorder == ">" else want
    same(got.astype(got.dtype.newbyteorder("=")), want.astype(want.dtype.newbyteorder("=")))
    # zarr-python sees the layout asked for.
    if "--chunks" in extra:
        want_chunks = tuple(int(x) for x in extra[extra.index("--chunks") + 1].split(","))
        assert z.chunks == want_chunks
    if "--shards" in extra and extra[extra.index("--shards") + 1] != "none":
        assert z.shards == tuple(int(x) for x in extra[extra.index("--shards") + 1].split(","))
    if name == "sharded-inherit":
        assert z.shards == (16, 32) and z.chunks == (8, 8)
    if name == "unshard-negative-region":
        assert z.shards is None and z.chunks == (8, 8)
    # Chunks that are all fill value are not stored, like zarr-python does.
    ref = tmp_path / "ref.zarr"
    meta_doc = json.loads((dst / "out" / "t" / ("zarr.json" if z.metadata.zarr_format == 3 else ".zarray")).read_text())
    if z.metadata.zarr_format == 3:
        (ref).mkdir()
        (ref / "zarr.json").write_text(json.dumps(meta_doc))
    else:
        (ref).mkdir()
        (ref / ".zarray").write_text(json.dumps(meta_doc))
    r = zarr.open_array(store=str(ref), mode="r+")
    r[...] = got
    assert chunk_keys(dst / "out" / "t") - {".zarray", ".zattrs"} == chunk_keys(ref) - {".zarray", ".zattrs"}


def test_random_cases(tmp_path):
    rng = np.random.default_rng(20261130)
    dtypes = ["uint8", "int16", "uint16", "int32", "float32", "float64", "int64", "complex128"]
    for i in range(24):
        nd = 1 + i % 4
        shape = tuple(int(x) for x in rng.integers(1, 9 if nd == 4 else 26, nd))
        chunks = tuple(int(rng.integers(1, s + 3)) for s in shape)
        dtype = dtypes[i % len(dtypes)]
        a = data(rng, shape, dtype)
        fmt = 2 if i % 5 == 1 else 3
        src = tmp_path / f"s{i}.zarr"
        make(src, a, fmt=fmt, chunks=chunks, codec="blosc" if i % 3 == 0 else "zstd")
        perm = tuple(int(x) for x in rng.permutation(nd))
        dchunks = ",".join(str(int(rng.integers(1, 12))) for _ in range(nd))
        dst = tmp_path / f"d{i}.zarr"
        mem = ["24MiB", "64MiB", "1GiB"][i % 3]
        zc(src, "", dst, "", "--transpose", ",".join(map(str, perm)), "--chunks", dchunks,
           "--memory", mem, "--threads", str(1 + i % 2))
        got, _ = read(dst)
        same(got, a.transpose(perm))


def test_zip_stores(tmp_path):
    rng = np.random.default_rng(3)
    a = data(rng, (37, 41, 9), "uint16")
    src = tmp_path / "src.zip"
    make(src, a, chunks=(10, 10, 9))
    dst = tmp_path / "dst.zip"
    zc(src, "", dst, "g/t", "--transpose", "2,0,1", "--chunks", "9,16,16")
    got, _ = read(dst, "g/t")
    same(got, a.transpose(2, 0, 1))
    # zip -> directory, v3 -> v2
    d2 = tmp_path / "d2.zarr"
    zc(dst, "g/t", d2, "", "--transpose", "1,2,0", "--zarr-format", "2")
    got2, z2 = read(d2)
    assert z2.metadata.zarr_format == 2
    same(got2, a)
    assert not [n for n in zipfile.ZipFile(dst).namelist() if "journal" in n]


def test_errors(tmp_path):
    rng = np.random.default_rng(4)
    a = data(rng, (256, 256, 64), "float64")
    src = tmp_path / "src.zarr"
    make(src, a, chunks=(256, 256, 64))
    p = zc(src, "", tmp_path / "d.zarr", "", "--memory", "8MiB", check=False)
    assert p.returncode != 0 and "at least" in p.stderr, p.stderr
    p = zc(src, "", tmp_path / "d.zarr", "", "--dtype", "float32", check=False)
    assert p.returncode != 0 and "same_kind" in p.stderr, p.stderr
    p = zc(src, "", tmp_path / "d.zarr", "", "--transpose", "0,1", check=False)
    assert p.returncode != 0 and "transpose" in p.stderr, p.stderr
    # The plan (dry run) names the minimum budget and writes nothing.
    p = zc(src, "", tmp_path / "dry.zarr", "", "--dry-run", "--memory", "1GiB")
    plan = json.loads(p.stdout)["plan"]
    assert plan["min_budget"] > 32 << 20 and plan["source_decodes"] == 1
    assert not (tmp_path / "dry.zarr").exists()
    zc(src, "", tmp_path / "d.zarr", "")
    p = zc(src, "", tmp_path / "d.zarr", "", check=False)
    assert p.returncode != 0 and "--resume" in p.stderr


def test_progress_lines(tmp_path):
    rng = np.random.default_rng(8)
    a = data(rng, (64, 64, 64), "uint16")
    src = tmp_path / "src.zarr"
    make(src, a, chunks=(16, 16, 16))
    for mode in ["json", "plain"]:
        p = zc(src, "", tmp_path / f"{mode}.zarr", "", "--transpose", "2,1,0", "--progress", mode)
        last = p.stderr.strip().splitlines()
        if mode == "json":
            prog = [json.loads(l) for l in last if l.startswith("{")]
            assert prog and prog[-1]["done_bytes"] == prog[-1]["total_bytes"] == a.nbytes
            assert prog[-1]["done_chunks"] == prog[-1]["total_chunks"] == 64
        else:
            assert any("100.0%" in l and "64/64 chunks" in l for l in last), p.stderr
        assert "plan:" in p.stderr
    p = zc(src, "", tmp_path / "q.zarr", "", "--quiet", "--json")
    assert p.stderr == ""
    rep = json.loads(p.stdout)
    assert rep["outcome"] == "complete" and rep["bytes"] == a.nbytes
    assert rep["peak_rss_bytes"] > 0


def _listing(path):
    out = {}
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(path))] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def resume_source(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(11)
    a = data(rng, (256, 256, 256), "uint16")
    src = d / "src.zarr"
    make(src, a, chunks=(32, 32, 32))
    return d, src, a


RESUME_ARGS = ["--transpose", "2,0,1", "--chunks", "16,16,16", "--codec", "gzip:6",
               "--memory", "32MiB", "--threads", "1", "--quiet"]


@pytest.mark.parametrize("attempt", range(3))
def test_sigkill_then_resume_equals_uninterrupted(resume_source, attempt):
    d, src, a = resume_source
    whole = d / "whole.zarr"
    if not whole.exists():
        t = time.monotonic()
        zc(src, "", whole, "", *RESUME_ARGS)
        (d / "whole_seconds").write_text(str(time.monotonic() - t))
    secs = float((d / "whole_seconds").read_text())
    part = d / f"part{attempt}.zarr"
    rnd = random.Random(attempt * 7919 + int(time.time()))
    kill_at = rnd.uniform(0.1, 0.6) * secs
    proc = subprocess.Popen([BIN, "copy", str(src), "", str(part), "", *RESUME_ARGS])
    time.sleep(kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the copy finished before it was killed"
    assert (part / ".zarrcore-copy-journal.json").exists() or (part / "zarr.json").exists()
    p = zc(src, "", part, "", *RESUME_ARGS, "--resume")
    assert _listing(part) == _listing(whole)
    got, _ = read(part)
    same(got, a.transpose(2, 0, 1))


def test_ctrl_c_stops_cleanly_and_resumes_zip(resume_source, tmp_path):
    d, src, a = resume_source
    whole = tmp_path / "whole.zip"
    t = time.monotonic()
    zc(src, "", whole, "", *RESUME_ARGS)
    secs = time.monotonic() - t
    part = tmp_path / "part.zip"
    proc = subprocess.Popen([BIN, "copy", str(src), "", str(part), "", *RESUME_ARGS],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.4 * secs)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    names = zipfile.ZipFile(part).namelist()
    assert ".zarrcore-copy-journal.json" in names  # finished chunks kept, resumable
    zc(src, "", part, "", *RESUME_ARGS, "--resume")
    za, zb = zipfile.ZipFile(whole), zipfile.ZipFile(part)
    assert sorted(za.namelist()) == sorted(zb.namelist())
    for n in za.namelist():
        assert za.read(n) == zb.read(n), n
    # A SIGKILLed zip copy loses its staged writes; resume starts over and
    # removes the dead run's staging directory.
    part2 = tmp_path / "part2.zip"
    proc = subprocess.Popen([BIN, "copy", str(src), "", str(part2), "", *RESUME_ARGS])
    time.sleep(0.4 * secs)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    zc(src, "", part2, "", *RESUME_ARGS, "--resume")
    zc2 = zipfile.ZipFile(part2)
    assert sorted(zc2.namelist()) == sorted(za.namelist())
    assert not [p for p in tmp_path.iterdir() if "zarrcore-tmp" in p.name]

"""Variable-length strings and bytes against the pinned zarr-python, both
directions, for v2 and v3:

* zarr-python writes `string` / `bytes` arrays (several chunkings,
  compressors, empty strings, non-ASCII text, fill values, chunks left
  unwritten) and `zarrcore export` reads each exactly, whole and by region;
* `zarrcore import --string vlen` writes them and zarr-python reads exactly
  what was imported;
* v2 `|O` arrays with the object codec as the compressor, v2 `order: F`;
* the fixed-size paths (`copy`) refuse them, and a corrupt chunk fails
  naming its key.

Each case is one line of CASES. Needs the release binary ($ZARRCORE_BIN,
else target/release/zarrcore); a missing binary fails the tests.
"""
import json
import os
import subprocess
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("ZARRCORE_BIN") or str(ROOT / "target" / "release" / "zarrcore")

warnings.filterwarnings("ignore", category=UserWarning)  # v3 "unstable dtype" warnings

TEXT = ["", "a", "héllo wörld", "日本語テキスト", "x\x00y", "🙂" * 5, "tab\tnew\nline", "z" * 40]
BYTES = [b"", b"a", b"\x00\xffq", bytes(range(1, 60)), b"\x00", b"abc" * 7]

# id, zarr_format, kind, shape, chunks, compressor (None: none), fill value, order
CASES = [
    ("v3-str-1d", 3, "str", (11,), (4,), "zstd", "", "C"),
    ("v3-str-2d-fill", 3, "str", (5, 7), (2, 3), "zstd", "missing", "C"),
    ("v3-str-one-chunk", 3, "str", (6,), (6,), None, "", "C"),
    ("v3-str-chunk-larger", 3, "str", (5,), (8,), "gzip", "é", "C"),
    ("v3-str-3d", 3, "str", (3, 4, 5), (2, 3, 2), "blosc", "", "C"),
    ("v3-bytes-1d", 3, "bytes", (9,), (4,), "zstd", b"", "C"),
    ("v3-bytes-2d-fill", 3, "bytes", (4, 5), (3, 2), None, b"\x00fv", "C"),
    ("v2-str-1d", 2, "str", (11,), (4,), "zstd", "", "C"),
    ("v2-str-2d-fill", 2, "str", (5, 7), (2, 3), "zlib", "missing", "C"),
    ("v2-str-F", 2, "str", (5, 7), (2, 3), None, "", "F"),
    ("v2-str-3d", 2, "str", (3, 4, 5), (2, 3, 2), "blosc", "", "C"),
    ("v2-bytes-1d", 2, "bytes", (9,), (4,), "zstd", b"", "C"),
    ("v2-bytes-2d-fill", 2, "bytes", (4, 5), (3, 2), None, b"fv", "C"),
]
IDS = [c[0] for c in CASES]


def zc(*args, check=True):
    assert Path(BIN).is_file(), f"zarrcore binary {BIN} is missing (build it, or set ZARRCORE_BIN)"
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, f"zarrcore {args} failed ({p.returncode}): {p.stderr}"
    return p


def values(kind, shape):
    pool = TEXT if kind == "str" else BYTES
    n = int(np.prod(shape))
    return np.array([pool[(i * 7) % len(pool)] for i in range(n)], dtype=object).reshape(shape)


def compressors(name, fmt):
    if name is None:
        return None
    if fmt == 3:
        from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

        return {"zstd": ZstdCodec(level=3), "gzip": GzipCodec(level=5), "blosc": BloscCodec()}.get(
            name, ZstdCodec()
        )
    return {
        "zstd": numcodecs.Zstd(level=3),
        "zlib": numcodecs.Zlib(level=5),
        "blosc": numcodecs.Blosc(),
    }[name]


def dtype_of(kind):
    return str if kind == "str" else zarr.dtype.VariableLengthBytes()


def as_fixed(kind, a):
    """What `zarrcore export` writes: NumPy fixed width (`<U` / `|S`)."""
    return np.array(a.tolist(), dtype=str if kind == "str" else bytes)


def make(tmp_path, case):
    cid, fmt, kind, shape, chunks, comp, fill, order = case
    store = tmp_path / f"{cid}.zarr"
    kw = dict(shape=shape, chunks=chunks, dtype=dtype_of(kind), zarr_format=fmt, fill_value=fill,
              compressors=compressors(comp, fmt))
    if fmt == 2:
        kw["order"] = order
    z = zarr.create_array(store, **kw)
    data = values(kind, shape)
    # Leave the first chunk unwritten when there is more than one: it reads
    # as the fill value.
    sel = tuple(slice(c, None) if i == 0 and s > c else slice(None)
                for i, (s, c) in enumerate(zip(shape, chunks)))
    z[sel] = data[sel]
    return store, zarr.open_array(store, mode="r")[...]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_zarrcore_reads_what_zarr_python_wrote(case, tmp_path):
    cid, fmt, kind, shape = case[:4]
    store, want = make(tmp_path, case)
    out = tmp_path / "out.npy"
    zc("export", store, "/", out)
    got = np.load(out)
    assert got.dtype.kind == ("U" if kind == "str" else "S"), got.dtype
    np.testing.assert_array_equal(got, as_fixed(kind, want))
    # A region crossing chunk edges.
    spec = ",".join(f"{n // 3}:{n}" for n in shape)
    sel = tuple(slice(n // 3, n) for n in shape)
    zc("export", store, "/", out, "--region", spec)
    np.testing.assert_array_equal(np.load(out), as_fixed(kind, want[sel]))
    info = json.loads(zc("info", store, "/", "--json").stdout)
    assert info["data_type"] == ("string" if kind == "str" else "bytes")
    assert info["dtype"] == "|O"
    assert info["codecs"][0] == ("vlen-utf8" if kind == "str" else "vlen-bytes")
    assert ("string" if kind == "str" else "bytes") in zc("tree", store).stdout


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_zarr_python_reads_what_zarrcore_wrote(case, tmp_path):
    cid, fmt, kind, shape, chunks, comp, fill, order = case
    data = values(kind, shape)
    if kind == "str":
        # NumPy `U` cannot hold trailing NULs; the rest is exact.
        data = np.array([s.rstrip("\x00") for s in data.ravel()], dtype=object).reshape(shape)
    else:
        data = np.array([b.rstrip(b"\x00") for b in data.ravel()], dtype=object).reshape(shape)
    src = tmp_path / "in.npy"
    fixed = as_fixed(kind, data)
    np.save(src, np.asfortranarray(fixed) if order == "F" else fixed)
    store = tmp_path / "w.zarr"
    codec = {None: "none", "zstd": "zstd:3", "gzip": "gzip:5", "zlib": "zlib:5",
             "blosc": "blosc:lz4:5:shuffle"}[comp]
    if fmt == 3 and codec.startswith("zlib"):
        codec = "gzip:5"
    args = ["import", src, store, "a", "--string", "vlen", "--zarr-format", fmt,
            "--chunks", ",".join(map(str, chunks)), "--codec", codec]
    if kind == "str" and fill:
        args += ["--fill", fill]
    zc(*args)
    z = zarr.open_array(store / "a", mode="r")
    got = z[...]
    assert got.shape == data.shape
    assert got.tolist() == data.tolist(), cid
    if fmt == 2:
        doc = json.loads((store / "a" / ".zarray").read_text())
        assert doc["dtype"] == "|O"
        assert doc["filters"] == [{"id": "vlen-utf8" if kind == "str" else "vlen-bytes"}]
    else:
        doc = json.loads((store / "a" / "zarr.json").read_text())
        assert doc["data_type"] == ("string" if kind == "str" else "variable_length_bytes")
        assert doc["codecs"][0]["name"] == ("vlen-utf8" if kind == "str" else "vlen-bytes")
    if kind == "str" and fill:
        assert z.fill_value == fill
    # And zarrcore reads its own store back.
    out = tmp_path / "back.npy"
    zc("export", store, "a", out)
    np.testing.assert_array_equal(np.load(out), fixed)


def test_v2_object_codec_as_compressor(tmp_path):
    store = tmp_path / "c.zarr"
    store.mkdir()
    (store / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [5], "chunks": [2], "dtype": "|O", "fill_value": None,
        "order": "C", "filters": None, "compressor": {"id": "vlen-utf8"}}))
    codec = numcodecs.VLenUTF8()
    (store / "0").write_bytes(codec.encode(np.array(["a", "ü"], dtype=object)))
    (store / "2").write_bytes(codec.encode(np.array(["last", ""], dtype=object)))
    want = zarr.open_array(store, mode="r")[...]
    out = tmp_path / "c.npy"
    zc("export", store, "/", out)
    np.testing.assert_array_equal(np.load(out), as_fixed("str", want))
    assert np.load(out).tolist() == ["a", "ü", "", "", "last"]


def test_fixed_size_paths_refuse_and_corrupt_chunks_are_named(tmp_path):
    store, _ = make(tmp_path, CASES[0])
    p = zc("copy", store, "/", tmp_path / "dst.zarr", "/", check=False)
    assert p.returncode != 0
    assert "variable-length" in p.stderr, p.stderr
    (store / "c" / "1").write_bytes(b"\xff\xff\xff\xff\x00")
    p = zc("export", store, "/", tmp_path / "x.npy", check=False)
    assert p.returncode != 0
    assert "c/1" in p.stderr, p.stderr
    assert not (tmp_path / "x.npy").exists()


def test_import_default_is_fixed_width_as_zarr_python(tmp_path):
    """zarr-python 3.1.6 stores a NumPy `U` array fixed width in both formats."""
    src = tmp_path / "u.npy"
    np.save(src, np.array(["ab", "c"]))
    ref = zarr.create_array(tmp_path / "ref.zarr", data=np.array(["ab", "c"]), zarr_format=2)
    assert ref.metadata.to_dict()["dtype"] == "<U2"
    zc("import", src, tmp_path / "w.zarr", "a", "--zarr-format", "2")
    assert json.loads((tmp_path / "w.zarr" / "a" / ".zarray").read_text())["dtype"] == "<U2"

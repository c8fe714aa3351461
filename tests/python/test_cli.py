"""The `zarrcore` command on local stores: `export`, `info`, `tree` of every
fixture zarr-python wrote, and `import` with every codec spec read back by
zarr-python, plus the one-line errors.

Walks ../shared/fixtures/zarr/manifest.json (never special-cases an entry).
Needs the release binary: $ZARRCORE_BIN, else target/release/zarrcore.
"""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

from verify_peers import values_equal

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("ZARRCORE_BIN") or str(ROOT / "target" / "release" / "zarrcore")
FIXTURES = Path(os.environ.get("ZARRCORE_FIXTURES") or ROOT.parent / "shared" / "fixtures" / "zarr")
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
ARRAYS = MANIFEST["arrays"]


def zc(*args, check=True):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, f"zarrcore {args} failed ({p.returncode}): {p.stderr}"
    return p


def region_of(shape):
    """A region crossing chunk edges: from a third to the end of each axis."""
    starts = [n // 3 for n in shape]
    spec = ",".join(f"{s}:{n}" for s, n in zip(starts, shape))
    return spec, tuple(slice(s, n) for s, n in zip(starts, shape))


@pytest.mark.parametrize("entry", ARRAYS, ids=[a["id"] for a in ARRAYS])
def test_export_and_info_of_every_fixture(entry, tmp_path):
    store = FIXTURES / entry["store"]
    path = entry["array_path"] or "/"
    expected = np.load(FIXTURES / entry["expected"])
    out = tmp_path / "a.npy"
    zc("export", store, path, out)
    got = np.load(out)
    # A v2 array keeps its declared byte order; v3 is written little-endian.
    want_dtype = np.dtype(entry["dtype"]) if entry["zarr_format"] == 2 else expected.dtype.newbyteorder("<")
    if got.dtype.itemsize > 1 and got.dtype.kind not in "SUb":
        assert got.dtype == want_dtype, f"{entry['id']}: exported {got.dtype}, want {want_dtype}"
    ok, why = values_equal(got, expected)
    assert ok, f"{entry['id']}: {why}"
    if expected.ndim:
        spec, sel = region_of(expected.shape)
        zc("export", store, path, out, "--region", spec)
        ok, why = values_equal(np.load(out), expected[sel])
        assert ok, f"{entry['id']} region {spec}: {why}"

    info = json.loads(zc("info", store, path, "--json").stdout)
    assert info["node_type"] == "array"
    assert info["zarr_format"] == entry["zarr_format"]
    assert info["shape"] == entry["shape"]
    assert info["chunks"] == entry["chunks"]
    assert info["shards"] == entry["shards"]
    assert info["attributes"] == entry["attributes"]
    assert info["stored_cells"] <= info["grid_cells"]


@pytest.mark.parametrize("store", sorted({a["store"] for a in ARRAYS}))
def test_tree_lists_every_node(store):
    out = zc("tree", FIXTURES / store).stdout
    names = [line.strip().split(" ")[0].rstrip("/") for line in out.splitlines()]
    for a in ARRAYS:
        if a["store"] == store and a["array_path"]:
            assert a["array_path"].split("/")[-1] in names, f"{a['array_path']} missing from tree:\n{out}"
    for g in MANIFEST["groups"]:
        if g["store"] == store and g.get("path"):
            assert g["path"].split("/")[-1] in names


CODECS = {
    2: ["none", "zstd:3", "gzip:6", "zlib:4", "lz4:1", "blosc:lz4:5:shuffle", "blosc:zstd:3:bitshuffle",
        "blosc:blosclz:9:noshuffle"],
    3: ["none", "zstd:1", "gzip:1", "blosc:lz4hc:5:shuffle", "blosc:zlib:2:bitshuffle"],
}


@pytest.mark.parametrize("fmt,codec", [(f, c) for f, cs in CODECS.items() for c in cs])
@pytest.mark.parametrize("dtype", ["<f8", ">i4", "<u2", "|b1", "<c8"])
def test_import_read_by_zarr_python(fmt, codec, dtype, tmp_path):
    if fmt == 3 and dtype.startswith(">"):
        dtype = "<" + dtype[1:]
    rng = np.random.default_rng(7)
    shape = (37, 23, 5)
    data = (rng.standard_normal(shape) * 100).astype(dtype) if dtype != "|b1" else rng.integers(0, 2, shape) > 0
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.standard_normal(shape).astype(np.float32)
        data = data.astype(dtype)
    src = tmp_path / "in.npy"
    np.save(src, data)
    store = tmp_path / "s.zarr"
    zc("import", src, store, "g/a", "--zarr-format", fmt, "--chunks", "16,10,5", "--codec", codec)
    arr = zarr.open_array(str(store / "g" / "a"), mode="r")
    ok, why = values_equal(arr[...], data)
    assert ok, f"v{fmt} {codec} {dtype}: {why}"
    assert arr.metadata.zarr_format == fmt
    # Sharded v3.
    if fmt == 3:
        zc("import", src, store, "sh", "--chunks", "8,5,5", "--shards", "16,10,5", "--codec", codec)
        sh = zarr.open_array(str(store / "sh"), mode="r")
        assert sh.shards == (16, 10, 5)
        ok, why = values_equal(sh[...], data)
        assert ok, f"sharded {codec} {dtype}: {why}"


@pytest.mark.parametrize("args,needle", [
    (["export", "{t}/nope.zarr", "a", "{t}/o.npy"], "nope.zarr"),
    (["export", "{fx}", "no/such/array", "{t}/o.npy"], "no/such/array"),
    (["export", "{fx}", "../escape", "{t}/o.npy"], ".."),
    (["import", "{t}/missing.npy", "{t}/s.zarr", "a"], "missing.npy"),
    (["import", "{t}/x.npy", "{t}/s.zarr", "a", "--codec", "lzma:3"], "lzma"),
    (["import", "{t}/x.npy", "{t}/s.zarr", "a", "--chunks", "0,4"], "chunk"),
    (["info", "{fx}", "dtypes", "--json"], None),
])
def test_errors_are_one_line(args, needle, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 4)))
    fx = FIXTURES / "stores" / "hierarchy_v3.zarr"
    argv = [a.format(t=tmp_path, fx=fx) for a in args]
    p = zc(*argv, check=False)
    if needle is None:  # a group: info works
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["node_type"] == "group"
        return
    assert p.returncode != 0
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("zarrcore: error:") and needle in lines[0], lines[0]
    assert not (tmp_path / "s.zarr" / "a").exists()

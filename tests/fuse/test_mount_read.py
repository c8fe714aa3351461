"""Read-only mounts of every public fixture store: every array's .npy loads
(also memory-mapped) and its .raw reads exactly as the expected values;
sizes, st_blocks, xattrs, listings; concurrent readers."""

import json
import math
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from mountlib import FIXTURES, MANIFEST, mounted, presented_dtype, same_values, view_path

STORES = sorted({a["store"] for a in MANIFEST["arrays"]} | {g["store"] for g in MANIFEST["groups"]})
METADATA_FILES = {".zarray", ".zattrs", ".zgroup", "zarr.json", ".zmetadata"}


def stored_bytes(store_dir, array_path):
    """Bytes of an array's chunk files in a directory store."""
    d = Path(store_dir) / array_path if array_path else Path(store_dir)
    total = 0
    for p in d.rglob("*"):
        if p.is_file() and p.name not in METADATA_FILES:
            # Skip files of nested nodes (none under an array).
            total += p.stat().st_size
    return total


def check_array(mnt, a, store_path):
    e = np.load(FIXTURES / a["expected"])
    npy = view_path(mnt, a["array_path"], ".npy")
    raw = view_path(mnt, a["array_path"], ".raw")
    js = view_path(mnt, a["array_path"], ".json")
    want = presented_dtype(a)
    x = np.load(npy)
    assert x.dtype == want, (a["id"], x.dtype, want)
    assert list(x.shape) == a["shape"], a["id"]
    assert same_values(x, e), a["id"]
    data = x.tobytes()
    assert len(data) == e.nbytes
    with open(raw, "rb") as f:
        assert f.read() == data, a["id"]
    # Any offset and length.
    rng = random.Random(a["id"])
    with open(raw, "rb") as f:
        fd = f.fileno()
        for _ in range(6):
            if not data:
                break
            off = rng.randrange(len(data))
            n = rng.randrange(1, len(data) - off + 1)
            assert os.pread(fd, n, off) == data[off:off + n], (a["id"], off, n)
    if x.size:
        m = np.load(npy, mmap_mode="r")
        assert same_values(np.asarray(m), e), a["id"]
        del m
    # Exact sizes; blocks from the stored bytes.
    header = npy.stat().st_size - len(data)
    with open(npy, "rb") as f:
        head = f.read(header)
    assert head[:6] == b"\x93NUMPY" and header % 64 == 0
    assert raw.stat().st_size == len(data)
    if Path(store_path).is_dir():
        stored = stored_bytes(store_path, a["array_path"])
        assert npy.stat().st_blocks == math.ceil(stored / 512), a["id"]
    meta = json.loads(js.read_text())
    assert meta["shape"] == a["shape"]
    assert js.stat().st_size == len(js.read_bytes())
    # Extended attributes.
    assert json.loads(os.getxattr(npy, "user.zarr.shape")) == a["shape"]
    assert json.loads(os.getxattr(raw, "user.zarr.dtype")) == want.str
    assert json.loads(os.getxattr(npy, "user.zarr.chunks")) == a["chunks"]
    assert json.loads(os.getxattr(npy, "user.zarr.attributes")) == a["attributes"]
    names = set(os.listxattr(npy))
    assert {"user.zarr.shape", "user.zarr.dtype", "user.zarr.chunks", "user.zarr.codecs",
            "user.zarr.fill_value", "user.zarr.attributes"} <= names
    json.loads(os.getxattr(npy, "user.zarr.codecs"))
    json.loads(os.getxattr(npy, "user.zarr.fill_value"))


@pytest.mark.parametrize("store", STORES)
def test_fixture_store_reads_exactly(store, tmp_path):
    store_path = FIXTURES / store
    arrays = [a for a in MANIFEST["arrays"] if a["store"] == store]
    groups = [g for g in MANIFEST["groups"] if g["store"] == store]
    with mounted(store_path, tmp_path / "m") as mnt:
        for a in arrays:
            check_array(mnt, a, store_path)
        by_dir = defaultdict(set)
        for a in arrays:
            parent, _, name = a["array_path"].rpartition("/")
            if a["array_path"]:
                by_dir[parent] |= {name + ".npy", name + ".raw", name + ".json"}
            else:
                assert sorted(os.listdir(mnt)) == ["array.json", "array.npy", "array.raw"]
        for g in groups:
            d = mnt / g["path"] if g["path"] else mnt
            assert d.is_dir(), g["id"]
            listing = set(os.listdir(d))
            for m in g["members"]:
                child = f"{g['path']}/{m}" if g["path"] else m
                if (d / m).is_dir():
                    assert m in listing
                else:
                    assert m + ".npy" in listing, (g["id"], m)
                    assert child  # array members listed as files
            assert by_dir[g["path"]] <= listing, g["id"]
            assert json.loads(os.getxattr(d, "user.zarr.attributes")) == g["attributes"]
        # Read-only: any write is refused with EROFS.
        some = next((a for a in arrays), None)
        if some:
            with pytest.raises(OSError) as ei:
                open(view_path(mnt, some["array_path"], ".raw"), "r+b")
            assert ei.value.errno == 30


WORKER = Path(__file__).with_name("read_worker.py")


def test_eight_concurrent_readers(tmp_path):
    big = next(a for a in MANIFEST["arrays"] if a["store"] == "stores/large_v3.zarr")
    codecs = [a for a in MANIFEST["arrays"] if a["store"] == "stores/codecs_v3.zarr" and np.prod(a["shape"]) > 0][:4]
    with mounted(FIXTURES / big["store"], tmp_path / "big") as m1, \
            mounted(FIXTURES / "stores/codecs_v3.zarr", tmp_path / "codecs") as m2:
        jobs = []
        for i in range(4):
            jobs.append((view_path(m1, big["array_path"], ".raw"), big, i))
        for i, a in enumerate(codecs):
            jobs.append((view_path(m2, a["array_path"], ".npy"), a, 10 + i))
        procs = [
            subprocess.Popen([sys.executable, str(WORKER), str(path), str(FIXTURES / a["expected"]),
                              presented_dtype(a).str, str(seed)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for path, a, seed in jobs
        ]
        try:
            outs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "ok" in out

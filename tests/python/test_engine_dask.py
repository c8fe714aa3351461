"""The Dask pattern, read by zarr-python.

Six zarrcore processes write disjoint, chunk-aligned (shard-aligned when
sharded) blocks of three arrays; the helper checks that the store is byte for
byte what one process writes. Here zarr-python reads the result and every
value must be exactly what NumPy computes for it independently.
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest
import zarr

ROOT = pathlib.Path(__file__).resolve().parents[2]

# name -> (dtype, shape, write unit: the chunk, or the shard when sharded)
ARRAYS = {
    "v3_zstd": (np.int32, (300, 250), (32, 50)),
    "v3_sharded": (np.int32, (300, 250), (64, 50)),
    "v2_blosc": (np.float64, (300, 250), (40, 64)),
}


def helper() -> pathlib.Path:
    env = os.environ.get("ZARRCORE_ENGINE_HELPER")
    if env:
        return pathlib.Path(env)
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "zarrcore-engine-helper"
        if p.exists():
            return p
    pytest.fail(
        "zarrcore-engine-helper is not built: run `cargo build --workspace --release`"
        " or set ZARRCORE_ENGINE_HELPER"
    )


def expected(name: str) -> np.ndarray:
    dtype, shape, unit = ARRAYS[name]
    i, j = np.meshgrid(
        np.arange(shape[0], dtype=np.int64), np.arange(shape[1], dtype=np.int64), indexing="ij"
    )
    v = (i * 7919 + j * 104729 + 13) % 1000003 - 500000
    cols = -(-shape[1] // unit[1])
    block = (i // (2 * unit[0])) * cols + j // unit[1]
    v = np.where((block % 7 == 3) | (block % 11 == 5), 0, v)
    if dtype == np.float64:
        return v.astype(np.float64) / 7.0
    return v.astype(dtype)


def test_six_writer_processes_read_exactly_by_zarr_python(tmp_path):
    subprocess.run(
        [str(helper()), "dask", str(tmp_path), "6"], check=True, timeout=300
    )
    store = tmp_path / "multi"
    for name, (dtype, shape, _) in ARRAYS.items():
        a = zarr.open_array(store=str(store), path=name, mode="r")
        assert a.shape == shape
        got = a[...]
        want = expected(name)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want, err_msg=name)
        # Blocks never written or written as the fill value are not stored.
        assert (got == 0).any() and (got != 0).any()

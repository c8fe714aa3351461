"""zarrcore and zarr-python / Dask sharing arrays in S3.

A real S3-compatible server (moto's server mode, pinned in requirements.txt)
runs on 127.0.0.1 for this module (fixture `server`) and is stopped after it.
zarrcore reaches it through the usual AWS environment variables; zarr-python
and Dask through s3fs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import s3_server  # noqa: E402

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = s3_server.BUCKET


def zarrcore_bin() -> str:
    env = os.environ.get("ZARRCORE_BIN")
    if env:
        return env
    for kind in ("release", "debug"):
        p = ROOT / "target" / kind / "zarrcore"
        if p.exists():
            return str(p)
    pytest.fail("no zarrcore binary: build it (cargo build --release) or set ZARRCORE_BIN")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    s = s3_server.start(log_file=str(log))
    try:
        s.create_bucket()
        yield s
    finally:
        s.stop()


def run(server, *args, check=True, extra_env=None, timeout=300):
    env = dict(os.environ)
    env.update(server.env())
    env.update(extra_env or {})
    p = subprocess.run(
        [zarrcore_bin(), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and p.returncode != 0:
        raise AssertionError(f"zarrcore {' '.join(map(str, args))} failed:\n{p.stderr}")
    return p


def s3_array(server, url: str):
    import zarr

    return zarr.open_array(url, mode="r", storage_options=server.storage_options())


def exact(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


WRITE_CASES = {
    "v2": ["--zarr-format", "2", "--chunks", "16,20", "--codec", "zstd:3"],
    "v3": ["--zarr-format", "3", "--chunks", "16,20", "--codec", "blosc:lz4:5:shuffle"],
    "v3-sharded": ["--zarr-format", "3", "--chunks", "8,10", "--shards", "32,40", "--codec", "zstd:1"],
}


@pytest.mark.parametrize("case", sorted(WRITE_CASES))
@pytest.mark.parametrize("dtype", ["<f8", ">i2"])
def test_zarrcore_writes_zarr_python_and_dask_read(server, tmp_path, case, dtype):
    import dask.array as da

    if dtype.startswith(">") and case != "v2":
        dtype = "<i2"  # v3 arrays are stored in one byte order by the codec
    rng = np.random.default_rng(7)
    data = (rng.standard_normal((70, 90)) * 1000).astype(dtype)
    src = tmp_path / "in.npy"
    np.save(src, data)
    prefix = f"s3://{BUCKET}/w-{case}-{dtype[1:]}"
    run(server, "import", src, prefix, "grp/arr", *WRITE_CASES[case], "--overwrite")

    z = s3_array(server, f"{prefix}/grp/arr")
    assert z.shape == data.shape
    got = z[:]
    assert np.array_equal(got, data)
    assert got.tobytes() == data.astype(got.dtype).tobytes()
    if case == "v3-sharded":
        assert z.shards == (32, 40)
        assert z.chunks == (8, 10)
    assert np.array_equal(z[13:57, 21:88], data[13:57, 21:88])

    d = da.from_zarr(f"{prefix}/grp/arr", storage_options=server.storage_options())
    assert d.shape == data.shape
    assert np.array_equal(d.compute(), data)

    info = json.loads(run(server, "info", prefix, "grp/arr", "--json").stdout)
    assert list(info["shape"]) == [70, 90]


PY_CASES = {
    "v2": dict(zarr_format=2, chunks=(16, 20)),
    "v3": dict(zarr_format=3, chunks=(16, 20)),
    "v3-sharded": dict(zarr_format=3, chunks=(8, 10), shards=(32, 40)),
}


@pytest.mark.parametrize("case", sorted(PY_CASES))
def test_zarr_python_writes_zarrcore_reads(server, tmp_path, case):
    import zarr

    data = np.arange(70 * 90, dtype="<i4").reshape(70, 90) * 3 - 1000
    prefix = f"s3://{BUCKET}/p-{case}"
    z = zarr.create_array(
        store=f"{prefix}/arr",
        shape=data.shape,
        dtype=data.dtype,
        fill_value=-1,
        overwrite=True,
        storage_options=server.storage_options(),
        **PY_CASES[case],
    )
    z[:] = data
    z[60:, 80:] = -1  # edge chunks left as fill value (absent)

    want = data.copy()
    want[60:, 80:] = -1
    out = tmp_path / "out.npy"
    run(server, "export", prefix, "arr", out)
    assert exact(np.load(out), want)
    run(server, "export", prefix, "arr", out, "--region", "5:61,7:83")
    assert exact(np.load(out), want[5:61, 7:83])


def test_http_urls_are_read_only(server, tmp_path):
    import boto3

    data = np.arange(40 * 30, dtype="<f4").reshape(40, 30) / 7
    src = tmp_path / "in.npy"
    np.save(src, data)
    prefix = f"s3://{BUCKET}/http-case"
    run(server, "import", src, prefix, "arr", "--chunks", "16,16", "--shards", "32,32", "--overwrite")
    # Make the objects readable anonymously, as a public dataset would be.
    c = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=s3_server.KEY,
        aws_secret_access_key=s3_server.SECRET,
        region_name=s3_server.REGION,
    )
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=BUCKET, Prefix="http-case/")["Contents"]]
    assert any(k.endswith("zarr.json") for k in keys)
    for k in keys:
        c.put_object_acl(Bucket=BUCKET, Key=k, ACL="public-read")

    url = f"{server.endpoint}/{BUCKET}/http-case"
    out = tmp_path / "out.npy"
    run(server, "export", url, "arr", out, "--region", "3:37,5:29")
    assert exact(np.load(out), data[3:37, 5:29])
    p = run(server, "import", src, url, "arr2", check=False)
    assert p.returncode != 0
    assert "read-only" in p.stderr


def test_unreachable_server_fails_within_the_retry_budget(server):
    dead = s3_server.free_port()
    t = time.monotonic()
    p = run(
        server,
        "info",
        f"s3://{BUCKET}/nowhere",
        "arr",
        check=False,
        extra_env={
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead}",
            "ZARRCORE_OBJECT_RETRIES": "2",
            "ZARRCORE_OBJECT_RETRY_TIMEOUT": "1",
            "ZARRCORE_OBJECT_RETRY_BACKOFF": "0.05",
        },
        timeout=120,
    )
    elapsed = time.monotonic() - t
    assert p.returncode != 0
    assert f"s3://{BUCKET}/nowhere/arr/" in p.stderr, p.stderr
    assert elapsed < 30, elapsed
    # A bucket that does not exist: a permanent error, named.
    p = run(server, "info", "s3://no-such-bucket/x", "arr", check=False)
    assert p.returncode != 0
    assert "s3://no-such-bucket/x/arr/" in p.stderr, p.stderr
    # Nothing there: the usual "no array" error.
    p = run(server, "info", f"s3://{BUCKET}/empty-prefix", "arr", check=False)
    assert p.returncode != 0
    assert "no array or group" in p.stderr, p.stderr


def test_benchmark_smoke(tmp_path):
    """The benchmark script (its own moto server) runs end to end at a tiny size."""
    out = tmp_path / "bench.json"
    env = dict(os.environ)
    env["ZARRCORE_BIN"] = zarrcore_bin()
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_s3.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    result = json.loads(out.read_text())
    w1 = {r["tool"]: r for r in result["w1"]}
    assert set(w1) == {"zarrcore", "zarr-python+s3fs"}
    for r in w1.values():
        assert r["write_mb_s"] > 0 and r["read_mb_s"] > 0
    assert w1["zarrcore"]["write_requests"] > 0
    w2 = result["w2"]
    assert w2 and all(r["bytes_fetched"] >= r["bytes_needed"] > 0 for r in w2)


def _mounted(mnt: Path) -> bool:
    mnt = os.path.abspath(mnt)
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" ")[4] == mnt for line in f)


def test_mount_s3_store(server, tmp_path):
    """`zarrcore mount s3://...` shows the arrays as files; numpy reads them."""
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing (scripts/setup.sh installs fuse3)")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 60))
    b = np.arange(30 * 40, dtype=">i4").reshape(30, 40)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    prefix = f"s3://{BUCKET}/mount-case"
    run(server, "import", tmp_path / "a.npy", prefix, "grp/a", "--chunks", "8,10", "--shards", "16,20", "--overwrite")
    run(server, "import", tmp_path / "b.npy", prefix, "b", "--zarr-format", "2", "--chunks", "16,16", "--overwrite")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run(server, "mount", prefix, mnt, timeout=120)
    try:
        assert _mounted(mnt)
        assert {"grp", "b.npy", "b.raw", "b.json"} <= set(os.listdir(mnt))
        assert {"a.npy", "a.raw", "a.json"} <= set(os.listdir(mnt / "grp"))
        assert exact(np.load(mnt / "grp" / "a.npy"), a)
        assert exact(np.load(mnt / "b.npy"), b)
        m = np.load(mnt / "grp" / "a.npy", mmap_mode="r")
        assert exact(np.array(m[17:43, 5:59]), a[17:43, 5:59])
        del m
    finally:
        p = run(server, "umount", mnt, "--timeout", "30", check=False, timeout=90)
        if _mounted(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    assert not _mounted(mnt)


def test_copy_between_directory_and_s3(server, tmp_path):
    """`zarrcore copy` with an S3 source and an S3 destination: transposed,
    rechunked and re-encoded, read back exactly by zarr-python and by
    zarrcore."""
    rng = np.random.default_rng(11)
    data = (rng.standard_normal((48, 30, 7)) * 100).astype("<f4")
    src = tmp_path / "in.npy"
    np.save(src, data)
    local = tmp_path / "local.zarr"
    run(server, "import", src, local, "a", "--chunks", "16,16,7", "--codec", "zstd:1")
    up = f"s3://{BUCKET}/copy-up"
    run(server, "copy", local, "a", up, "t", "--transpose", "2,0,1", "--chunks", "7,8,8",
        "--shards", "7,16,16", "--codec", "blosc:lz4:5:shuffle", "--memory", "64MiB", "--quiet")
    want = data.transpose(2, 0, 1)
    assert exact(np.asarray(s3_array(server, f"{up}/t")[...]), want)
    back = tmp_path / "back.zarr"
    run(server, "copy", up, "t", back, "b", "--transpose", "1,2,0", "--zarr-format", "2",
        "--chunks", "16,16,7", "--codec", "zstd:3", "--quiet")
    out = tmp_path / "out.npy"
    run(server, "export", back, "b", out)
    assert exact(np.load(out), data)

#!/usr/bin/env python3
"""Object-store benchmark through a local S3 server (moto, started here).

W1  write then read one float64 array, 1 MiB chunks, zstd level 1:
    zarrcore (CLI import/export) vs zarr-python + s3fs. MB/s of array
    bytes, and requests as counted by the server's access log.
W2  partial reads of a sharded array (zarrcore export --region): bytes
    fetched (zarrcore's own count, includes metadata documents) vs bytes
    needed (the shard indexes plus the encoded inner chunks the region
    touches, read from the indexes), and requests, with range coalescing
    on (default 1 MiB) and off.

Not run by the tests except as a smoke test (--smoke: tiny sizes). Moto is a
Python server and is itself the bottleneck at high rates: these figures
compare the clients' request patterns on one machine, not S3 throughput.

    .venv/bin/python scripts/bench_s3.py [--mb 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
import s3_server  # noqa: E402

BUCKET = s3_server.BUCKET
STATS = re.compile(r"stats: (\{.*\})")
# werkzeug's access log; statuses other than 200 are wrapped in ANSI colours.
REQ = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|HEAD|POST|DELETE) ')


def zarrcore_bin() -> str:
    env = os.environ.get("ZARRCORE_BIN")
    if env:
        return env
    return str(ROOT / "target" / "release" / "zarrcore")


class Log:
    """Counts requests in the server's access log between two marks."""

    def __init__(self, path: str):
        self.path = path
        self.pos = 0

    def mark(self) -> None:
        self.pos = os.path.getsize(self.path)

    def requests(self) -> int:
        time.sleep(0.2)  # let the server finish writing its log
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            text = f.read().decode(errors="replace")
        return len(REQ.findall(text))


def zc(server, *args, env_extra=None) -> tuple[float, dict]:
    env = dict(os.environ)
    env.update(server.env())
    env["ZARRCORE_OBJECT_STATS"] = "1"
    env.update(env_extra or {})
    t = time.perf_counter()
    p = subprocess.run([zarrcore_bin(), *map(str, args)], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"zarrcore {args} failed:\n{p.stderr}")
    stats: dict = {}
    for m in STATS.finditer(p.stderr):
        for k, v in json.loads(m.group(1)).items():
            stats[k] = stats.get(k, 0) + v
    return dt, stats


def w1(server, log: Log, mb: int, tmp: Path) -> list[dict]:
    import numcodecs  # noqa: F401
    import zarr
    from zarr.codecs import ZstdCodec

    cols = 512
    rows = max(256, (mb << 20) // (8 * cols) // 256 * 256)
    rng = np.random.default_rng(0)
    # Moderately compressible: rounded normals.
    data = np.round(rng.standard_normal((rows, cols)) * 100) / 100
    nbytes = data.nbytes
    src = tmp / "w1.npy"
    np.save(src, data)
    out = []

    log.mark()
    tw, sw = zc(server, "import", src, f"s3://{BUCKET}/w1-zc", "a", "--chunks", f"256,{cols}", "--codec", "zstd:1", "--overwrite")
    wreq = log.requests()
    log.mark()
    tr, sr = zc(server, "export", f"s3://{BUCKET}/w1-zc", "a", tmp / "w1-out.npy")
    rreq = log.requests()
    assert np.array_equal(np.load(tmp / "w1-out.npy"), data)
    out.append(dict(tool="zarrcore", mb=nbytes / 2**20, write_s=tw, read_s=tr,
                    write_mb_s=nbytes / 2**20 / tw, read_mb_s=nbytes / 2**20 / tr,
                    write_requests=wreq, read_requests=rreq,
                    client_stats_write=sw, client_stats_read=sr))

    so = server.storage_options()
    log.mark()
    t = time.perf_counter()
    z = zarr.create_array(store=f"s3://{BUCKET}/w1-py/a", shape=data.shape, dtype=data.dtype,
                          chunks=(256, cols), compressors=ZstdCodec(level=1), overwrite=True,
                          storage_options=so)
    z[:] = data
    tw = time.perf_counter() - t
    wreq = log.requests()
    log.mark()
    t = time.perf_counter()
    got = zarr.open_array(f"s3://{BUCKET}/w1-py/a", mode="r", storage_options=so)[:]
    tr = time.perf_counter() - t
    rreq = log.requests()
    assert np.array_equal(got, data)
    out.append(dict(tool="zarr-python+s3fs", mb=nbytes / 2**20, write_s=tw, read_s=tr,
                    write_mb_s=nbytes / 2**20 / tw, read_mb_s=nbytes / 2**20 / tr,
                    write_requests=wreq, read_requests=rreq))
    return out


def shard_index(server, key: str, n_inner: int) -> list[tuple[int, int]]:
    import boto3

    c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=s3_server.KEY,
                     aws_secret_access_key=s3_server.SECRET, region_name=s3_server.REGION)
    n = n_inner * 16 + 4  # (offset, nbytes) u64 LE pairs + crc32c
    body = c.get_object(Bucket=BUCKET, Key=key, Range=f"bytes=-{n}")["Body"].read()
    return [struct.unpack_from("<QQ", body, 16 * i) for i in range(n_inner)]


def w2(server, log: Log, side: int, shard: int, inner: int, tmp: Path, regions: int) -> list[dict]:
    rng = np.random.default_rng(1)
    data = rng.standard_normal((side, side))
    src = tmp / "w2.npy"
    np.save(src, data)
    zc(server, "import", src, f"s3://{BUCKET}/w2", "a", "--chunks", f"{inner},{inner}",
       "--shards", f"{shard},{shard}", "--codec", "zstd:1", "--overwrite")
    per = shard // inner
    index_cache: dict[str, list] = {}
    out = []
    for i in range(regions):
        h = int(rng.integers(1, inner * 3))
        w = int(rng.integers(1, inner * 3))
        r0 = int(rng.integers(0, side - h))
        c0 = int(rng.integers(0, side - w))
        needed = 0
        for sr in range(r0 // shard, (r0 + h - 1) // shard + 1):
            for sc in range(c0 // shard, (c0 + w - 1) // shard + 1):
                key = f"w2/a/c/{sr}/{sc}"
                if key not in index_cache:
                    index_cache[key] = shard_index(server, key, per * per)
                idx = index_cache[key]
                needed += per * per * 16 + 4
                for ir in range(per):
                    for ic in range(per):
                        gr0, gc0 = sr * shard + ir * inner, sc * shard + ic * inner
                        if gr0 < r0 + h and gr0 + inner > r0 and gc0 < c0 + w and gc0 + inner > c0:
                            needed += idx[ir * per + ic][1]
        for coalesce in ("1048576", "0"):
            log.mark()
            _, st = zc(server, "export", f"s3://{BUCKET}/w2", "a", tmp / "w2-out.npy",
                       "--region", f"{r0}:{r0 + h},{c0}:{c0 + w}",
                       env_extra={"ZARRCORE_OBJECT_COALESCE": coalesce})
            reqs = log.requests()
            assert np.array_equal(np.load(tmp / "w2-out.npy"), data[r0:r0 + h, c0:c0 + w])
            out.append(dict(region=[r0, r0 + h, c0, c0 + w], coalesce=int(coalesce),
                            region_bytes=h * w * 8, bytes_needed=needed,
                            bytes_fetched=st.get("bytes_read", 0), requests=reqs,
                            client_stats=st))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=64, help="W1 array size in MiB")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check that the script works")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        logf = str(tmp / "moto.log")
        server = s3_server.start(log_file=logf)
        try:
            server.create_bucket()
            log = Log(logf)
            if args.smoke:
                r1 = w1(server, log, 1, tmp)
                r2 = w2(server, log, 256, 128, 32, tmp, 2)
            else:
                r1 = w1(server, log, args.mb, tmp)
                r2 = w2(server, log, 2048, 512, 64, tmp, 10)
        finally:
            server.stop()
    result = {"w1": r1, "w2": r2}
    print("W1 (write/read, MB/s of array bytes; requests seen by the server)")
    for r in r1:
        print(f"  {r['tool']:18s} {r['mb']:7.1f} MiB  write {r['write_mb_s']:7.1f} MB/s ({r['write_requests']} req)"
              f"  read {r['read_mb_s']:7.1f} MB/s ({r['read_requests']} req)")
    print("W2 (sharded partial reads: fetched vs needed bytes)")
    for r in r2:
        print(f"  region {r['region']} coalesce={r['coalesce']:>7}: fetched {r['bytes_fetched']:>9} "
              f"needed {r['bytes_needed']:>9} ({r['bytes_fetched'] / max(1, r['bytes_needed']):.2f}x) "
              f"region {r['region_bytes']:>8}  {r['requests']} req")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The cost of the cross-process write protocol (docs/design.md, "Several
processes"): N processes write interleaved 1 x 1 x K strips into shared
shards, flushing every F writes, on a directory store and on the local S3
server (moto); against the same writes made by ONE process (the same total
work, no conflicts possible). Reports MB/s of uncompressed data written,
partial writes per second, merge retries per flush and peak RSS; checks every
element afterwards.

    .venv/bin/python bench/procs_bench.py [--procs 4] [--reps 3] [--s3]

Binaries: $ZARRCORE_ENGINE_HELPER (default target/release/zarrcore-engine-helper).
Not a test: it asserts correctness (no lost element) but no speed.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))

SHAPE = (64, 64, 256)      # int32: 4 MiB
CHUNKS = (8, 8, 64)
SHARDS = (32, 32, 256)     # 8 shards of 64 inner chunks


def helper():
    return os.environ.get("ZARRCORE_ENGINE_HELPER",
                          str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
                              / "release" / "zarrcore-engine-helper"))


def expected(shape):
    f = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (1 + (f * 7919 + 13) % 1000003).astype(np.int32).reshape(shape)


def create(store, storage_options=None):
    zarr.create_array(store=store, name="a", shape=SHAPE, chunks=CHUNKS, shards=SHARDS,
                      dtype="int32", fill_value=0, zarr_format=3,
                      storage_options=storage_options)


def run(location, nprocs, strip, flush, env):
    """All writers of one configuration; returns (seconds, retries, peak RSS MB)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([helper(), "strips", location, "a", "--proc", str(p),
                               "--nprocs", str(nprocs), "--flush-every", str(flush),
                               "--strip", str(strip), "--seed", "7"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for p in range(nprocs)]
    retries = 0
    for p in procs:
        out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise SystemExit(f"writer failed: {out}{err}")
        retries += int(re.search(r"(\d+) merge retries", out).group(1))
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return secs, retries, rss


def strips_total(strip):
    return SHAPE[0] * SHAPE[1] * -(-SHAPE[2] // strip)


def bench(kind, make_location, check, nprocs, reps, strip, flush, env):
    rows = []
    for n in (1, nprocs):
        times, rets = [], []
        for _ in range(reps):
            loc = make_location()
            secs, retries, rss = run(loc, n, strip, flush, env)
            lost = check(loc)
            if lost:
                raise SystemExit(f"{kind}, {n} processes: {lost} elements lost")
            times.append(secs)
            rets.append(retries)
        writes = strips_total(strip)
        flushes = writes / flush
        med = statistics.median(times)
        rows.append((n, med, min(times), max(times), statistics.median(rets) / flushes, rss))
        mb = SHAPE[0] * SHAPE[1] * SHAPE[2] * 4 / 1e6
        print(f"{kind:10s} {n} proc: {med:7.2f} s (min {min(times):.2f}, max {max(times):.2f}) "
              f"{mb / med:7.2f} MB/s  {writes / med:8.0f} writes/s  "
              f"retries/flush {statistics.median(rets) / flushes:.3f}  peak RSS {rss:.0f} MB",
              flush=True)
    one, many = rows[0][1], rows[1][1]
    print(f"{kind:10s} {nprocs} processes / 1 process throughput: {one / many:.2f}x", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--strip", type=int, default=16)
    ap.add_argument("--flush", type=int, default=64)
    ap.add_argument("--s3", action="store_true", help="also against the local S3 server")
    args = ap.parse_args()
    env = dict(os.environ)
    want = expected(SHAPE)
    work = Path(tempfile.mkdtemp(prefix="zc-procs-bench-"))
    try:
        n = [0]

        def dir_location():
            n[0] += 1
            p = work / f"d{n[0]}.zarr"
            create(str(p))
            return str(p)

        def dir_check(loc):
            got = zarr.open_array(loc, path="a", mode="r")[...]
            lost = int((got != want).sum())
            shutil.rmtree(loc, ignore_errors=True)
            return lost

        print(f"array {SHAPE} int32, chunks {CHUNKS}, shards {SHARDS}; strips of {args.strip}, "
              f"flush every {args.flush}; {strips_total(args.strip)} partial writes per run",
              flush=True)
        bench("directory", dir_location, dir_check, args.procs, args.reps, args.strip,
              args.flush, env)
        if args.s3:
            import s3_server
            srv = s3_server.start()
            try:
                env.update(srv.env())
                os.environ.update(srv.env())

                def s3_location():
                    n[0] += 1
                    bucket = f"bench-{n[0]}"
                    srv.create_bucket(bucket)
                    url = f"s3://{bucket}/x.zarr"
                    create(url, storage_options=srv.storage_options())
                    return url

                def s3_check(loc):
                    got = zarr.open_array(loc, path="a", mode="r",
                                          storage_options=srv.storage_options())[...]
                    return int((got != want).sum())

                bench("s3 (moto)", s3_location, s3_check, args.procs, max(1, args.reps - 2),
                      args.strip, args.flush * 4, env)
            finally:
                srv.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

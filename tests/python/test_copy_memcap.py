"""Memory cap of `zarrcore copy`: a 2 GiB (uncompressed) uint16 array is
transposed with --memory 256MiB inside a memory cgroup whose limit is just
above the budget (v1: memory.limit_in_bytes; v2: memory.max). The copy must
complete (the kernel would kill it past the limit), its peak RSS must stay
under the budget, and sampled regions must equal the source's transposed
regions.

The data is generated to compress well (piecewise constant blocks with a
small in-block pattern that ties axes 0 and 2 together, so a wrong
transposition shows), which keeps generating it quick.

Skipped, saying why, only when no memory cgroup can be created (not root,
no memory controller). Needs the release binary ($ZARRCORE_BIN).
"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec, ZstdCodec

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("ZARRCORE_BIN") or str(ROOT / "target" / "release" / "zarrcore")

SHAPE = (1024, 1024, 1024)  # uint16: 2 GiB
BUDGET_MIB = 256
HEADROOM_MIB = 32  # the cgroup limit is the budget plus this


def values(z0, z1, y0, y1, x0, x1):
    """The test pattern for a block: coarse 8^3 blocks of a hash, plus a
    low nibble pattern from z and x."""
    z = np.arange(z0, z1, dtype=np.uint32)[:, None, None]
    y = np.arange(y0, y1, dtype=np.uint32)[None, :, None]
    x = np.arange(x0, x1, dtype=np.uint32)[None, None, :]
    h = ((z >> 3) * 2654435761 + (y >> 3) * 40503 + (x >> 3) * 97) & 0xFF00
    return (h | ((z & 7) << 4) | (x & 15)).astype(np.uint16)


def own_cgroup_v1():
    base = Path("/sys/fs/cgroup/memory")
    if not (base / "memory.limit_in_bytes").exists():
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            return base / path.lstrip("/")
    return base


def can_join(g):
    """Whether a process can be moved into group `g` (probed with a shell)."""
    p = subprocess.run(["sh", "-c", f'echo $$ > "{g / "cgroup.procs"}"'], capture_output=True,
                       text=True, timeout=30)
    return p.returncode == 0, p.stderr.strip()


def make_group(limit):
    """A fresh memory cgroup with `limit` bytes: (dir, procs file, kind)."""
    errors = []
    parent = own_cgroup_v1()
    if parent is not None:
        # A child of our own group: its usage still counts in ours.
        g = parent / f"zarrcore-copy-test-{os.getpid()}"
        try:
            g.mkdir(exist_ok=True)
            (g / "memory.limit_in_bytes").write_text(str(limit))
            ok, why = can_join(g)
            if not ok:
                raise OSError(f"cannot move a process into it: {why}")
            return g, g / "cgroup.procs", "v1"
        except OSError as e:
            errors.append(f"cgroup v1 {g}: {e}")
            try:
                g.rmdir()
            except OSError:
                pass
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.controllers").exists():
        g = v2 / f"zarrcore-copy-test-{os.getpid()}"
        try:
            if "memory" not in (v2 / "cgroup.subtree_control").read_text().split():
                (v2 / "cgroup.subtree_control").write_text("+memory")
            g.mkdir(exist_ok=True)
            (g / "memory.max").write_text(str(limit))
            if (g / "memory.swap.max").exists():
                (g / "memory.swap.max").write_text("0")
            ok, why = can_join(g)
            if not ok:
                raise OSError(f"cannot move a process into it: {why}")
            return g, g / "cgroup.procs", "v2"
        except OSError as e:
            errors.append(f"cgroup v2 {g}: {e}")
            try:
                g.rmdir()
            except OSError:
                pass
    pytest.skip("cannot create a memory cgroup for the memory-cap test: "
                + ("; ".join(errors) or "no cgroup memory controller mounted"))


def generate(src):
    z = zarr.create_array(store=str(src), shape=SHAPE, chunks=(64, 64, 64), dtype="uint16",
                          fill_value=0, serializer=BytesCodec(endian="little"),
                          compressors=ZstdCodec(level=1), zarr_format=3)
    slab = np.empty((64,) + SHAPE[1:], dtype=np.uint16)
    for z0 in range(0, SHAPE[0], 64):
        for k in range(0, 64, 8):
            slab[k:k + 8] = values(z0 + k, z0 + k + 8, 0, SHAPE[1], 0, SHAPE[2])
        z[z0:z0 + 64] = slab


def run_in_group(group, procs, kind, limit, src, dst, *extra):
    """Runs one copy inside the group; returns its JSON report, seconds and
    the group's peak usage (MiB, page cache included)."""
    if kind == "v1":
        (group / "memory.max_usage_in_bytes").write_text("0")
    cmd = (f'echo $$ > "{procs}" && exec "{BIN}" copy "{src}" "" "{dst}" "" '
           f'--memory {BUDGET_MIB}MiB --progress none --json ' + " ".join(extra))
    t = time.monotonic()
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=600)
    secs = time.monotonic() - t
    peak = None
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        if (group / name).exists():
            peak = int((group / name).read_text()) >> 20
    failcnt = (group / "memory.failcnt").read_text().strip() if kind == "v1" else "n/a"
    assert p.returncode == 0, (
        f"copy {extra} failed in the {limit >> 20} MiB cgroup (rc {p.returncode}, "
        f"failcnt {failcnt}): {p.stderr[-2000:]}")
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "complete"
    assert report["bytes"] == 2 << 30
    assert report["plan"]["memory"]["total"] <= BUDGET_MIB << 20
    # The copy's own peak RSS (VmHWM of its process image; a wait4
    # ru_maxrss would include this big Python process, which the child
    # shares until it execs).
    rss = report["peak_rss_bytes"]
    assert rss <= BUDGET_MIB << 20, f"copy {extra}: peak RSS {rss >> 20} MiB > budget"
    print(f"\nmemcap {' '.join(extra)}: {secs:.1f} s ({(2 << 30) / secs / 1e6:.0f} MB/s), "
          f"peak RSS {rss >> 20} MiB, cgroup ({kind}) peak {peak} MiB of {limit >> 20} MiB, "
          f"plan {report['plan']}")
    return report


def check_samples(dst):
    """Sampled regions (and a corner) equal the source's transposed regions."""
    d = zarr.open_array(str(dst), mode="r")
    assert d.shape == SHAPE[::-1]
    rng = np.random.default_rng(5)
    for _ in range(40):
        a0, a1, a2 = (int(rng.integers(0, n - 70)) for n in SHAPE)
        e0, e1, e2 = (int(x) for x in rng.integers(1, 70, 3))
        want = values(a0, a0 + e0, a1, a1 + e1, a2, a2 + e2).T
        got = d[a2:a2 + e2, a1:a1 + e1, a0:a0 + e0]
        assert np.array_equal(got, want), (dst, a0, a1, a2)
    got = d[-3:, -2:, -5:]
    assert np.array_equal(got, values(SHAPE[0] - 5, SHAPE[0], SHAPE[1] - 2, SHAPE[1],
                                      SHAPE[2] - 3, SHAPE[2]).T)


def test_transpose_2gib_under_256mib_in_a_cgroup(tmp_path):
    limit = (BUDGET_MIB + HEADROOM_MIB) << 20
    group, procs, kind = make_group(limit)
    work = tmp_path / "memcap"
    work.mkdir()
    try:
        src = work / "src.zarr"
        t = time.monotonic()
        generate(src)
        print(f"\nmemcap: generated {src} in {time.monotonic() - t:.1f} s")
        # The W5 shape of work: 64^3 chunks to transposed 64^3 chunks.
        run_in_group(group, procs, kind, limit, src, work / "t.zarr", "--transpose", "2,1,0")
        check_samples(work / "t.zarr")
        shutil.rmtree(work / "t.zarr")
        # A transpose into 1024x1024x4 chunks: every source chunk feeds 16
        # destination chunks of 8 MiB, so decoding it once needs batches of
        # 128 MiB of source: most of the budget.
        r = run_in_group(group, procs, kind, limit, src, work / "r.zarr",
                         "--transpose", "2,1,0", "--chunks", "1024,1024,4")
        assert r["plan"]["box_bytes"] >= 64 << 20, r["plan"]
        assert r["source_decodes"] == r["plan"]["source_decodes"]
        assert r["plan"]["decode_factor"] <= 2.0
        check_samples(work / "r.zarr")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)

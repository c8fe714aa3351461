"""Helpers of the mount tests: mount and unmount with timeouts (always
unmounting, even when a test fails), compare values exactly, fingerprint a
store."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("ZARRCORE_FIXTURES", ROOT.parent / "shared" / "fixtures" / "zarr"))
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


def zarrcore_bin():
    env = os.environ.get("ZARRCORE_BIN")
    if env:
        return env
    for kind in ("release", "debug"):
        p = ROOT / "target" / kind / "zarrcore"
        if p.exists():
            return str(p)
    raise RuntimeError("build zarrcore first (cargo build --release) or set ZARRCORE_BIN")


def zc(*args, timeout=60, check=True):
    r = subprocess.run([zarrcore_bin(), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"zarrcore {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r


def mount_entry(mnt):
    """(fstype, source) of the mount at `mnt`, or None."""
    mnt = os.path.abspath(mnt)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            point = pre.split(" ")[4].replace("\\040", " ")
            if point == mnt:
                fstype, source = post.split(" ")[:2]
                found = (fstype, source)
    return found


def is_mounted(mnt):
    return mount_entry(mnt) is not None


def mount_pid(mnt):
    e = mount_entry(mnt)
    if e and e[1].startswith("zarrcore:"):
        return int(e[1].split(":", 1)[1])
    return None


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_for(cond, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def force_unmount(mnt):
    """Last resort: detach the mount and kill its process."""
    pid = mount_pid(mnt)
    for cmd in (["fusermount3", "-u", "-z", str(mnt)], ["umount", "-l", str(mnt)]):
        if not is_mounted(mnt):
            break
        subprocess.run(cmd, capture_output=True, timeout=30)
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def unmount(mnt):
    """`zarrcore umount`; on failure, force it and raise."""
    if not is_mounted(mnt):
        return
    try:
        zc("umount", mnt, "--timeout", "30", timeout=90)
    except Exception:
        force_unmount(mnt)
        raise
    assert not is_mounted(mnt)


@contextlib.contextmanager
def mounted(store, mnt, *args):
    os.makedirs(mnt, exist_ok=True)
    zc("mount", store, mnt, *args, timeout=90)
    try:
        assert is_mounted(mnt)
        yield Path(mnt)
    finally:
        try:
            unmount(mnt)
        finally:
            if is_mounted(mnt):
                force_unmount(mnt)


def store_digest(path):
    """A fingerprint of every file of a store (or a zip's bytes)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def _bits_equal(a, b):
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype.kind == "c":
        a = np.stack([a.real, a.imag], axis=-1)
        b = np.stack([b.real, b.imag], axis=-1)
    if a.dtype.kind == "f":
        a = a.astype(a.dtype.newbyteorder("="))
        b = b.astype(b.dtype.newbyteorder("="))
        ui = np.dtype(f"u{a.dtype.itemsize}")
        same = a.view(ui) == b.view(ui)
        return bool(np.all(same | (np.isnan(a) & np.isnan(b))))
    return bool(np.array_equal(a, b))


def same_values(x, e):
    """Exactly equal values (floats bit for bit, any NaN equals any NaN)."""
    x = np.asarray(x)
    e = np.asarray(e)
    if x.shape != e.shape:
        return False
    if x.dtype.kind in "fc" and e.dtype.kind in "fc":
        return _bits_equal(x, e)
    return bool(np.array_equal(x, e))


def presented_dtype(entry):
    """The dtype the mount shows: v2 as declared, v3 little-endian."""
    dt = np.dtype(entry["dtype"])
    if entry["zarr_format"] == 3 and dt.byteorder == ">":
        dt = dt.newbyteorder("<")
    return dt


def view_path(mnt, array_path, ext):
    return Path(mnt) / ((array_path or "array") + ext)

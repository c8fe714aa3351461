"""Read-write mounts: new arrays from numpy.save read exactly by
zarr-python, rewrites, memory-mapped edits, every refusal (with the store
unchanged), groups, attributes, and unmounting: umount, SIGTERM, lazy with
open files, and a mount process killed with SIGKILL."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from mountlib import (FIXTURES, MANIFEST, force_unmount, is_mounted, mount_pid, mounted, pid_alive,
                      presented_dtype, same_values, store_digest, view_path, wait_for, zarrcore_bin, zc)

NEW_ARRAYS = {
    "f8_2d": np.random.default_rng(1).standard_normal((200, 300)),
    "i2_3d": np.arange(5 * 7 * 9, dtype="<i2").reshape(5, 7, 9) - 100,
    "u1_1d": (np.arange(1000) % 251).astype("|u1"),
    "bool": np.random.default_rng(2).random((17, 3)) > 0.5,
    "c16": (np.arange(16) + 1j * np.arange(16)[::-1]).reshape(4, 4),
    "i4_big_endian": np.arange(66, dtype=">i4").reshape(33, 2) * -7,
    "f4_fortran": np.asfortranarray(np.linspace(0, 1, 30, dtype="<f4").reshape(6, 5)),
    "u8_0d": np.array(2**63 + 5, dtype="<u8"),
    "f8_empty": np.zeros((0, 4)),
    "f2_nan": np.array([np.nan, 1.5, -np.inf, 0.0, -0.0], dtype="<f2"),
    "i8_large": np.arange(600_000, dtype="<i8").reshape(1000, 600),
}


def zarr_read(store, path):
    a = zarr.open_array(store=str(store), path=path, mode="r")
    return a[...]


def expect_errno(code, fn, *args, **kw):
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    assert ei.value.errno == code, (ei.value, errno.errorcode.get(code))


def test_numpy_save_creates_arrays_zarr_reads(tmp_path):
    store = tmp_path / "new.zarr"
    with mounted(store, tmp_path / "m", "--rw") as m:
        os.mkdir(m / "sub")
        for i, (name, arr) in enumerate(NEW_ARRAYS.items()):
            target = m / "sub" / f"{name}.npy" if i % 2 else m / f"{name}.npy"
            np.save(target, arr)
            back = np.load(target)
            assert same_values(back, arr), name
            assert back.dtype.newbyteorder("=") == arr.dtype.newbyteorder("=")
        names = set(os.listdir(m)) | set(os.listdir(m / "sub"))
        for name in NEW_ARRAYS:
            assert {f"{name}.npy", f"{name}.raw", f"{name}.json"} <= names
        # `cp` of a .npy made elsewhere works too.
        src = tmp_path / "src.npy"
        np.save(src, NEW_ARRAYS["i2_3d"])
        subprocess.run(["cp", str(src), str(m / "copied.npy")], check=True, timeout=60)
    for i, (name, arr) in enumerate(NEW_ARRAYS.items()):
        path = f"sub/{name}" if i % 2 else name
        got = zarr_read(store, path)
        assert same_values(got, arr), name
        assert got.dtype.newbyteorder("=") == arr.dtype.newbyteorder("="), name
        meta = json.loads((store / path / "zarr.json").read_text())
        assert meta["zarr_format"] == 3
    assert same_values(zarr_read(store, "copied"), NEW_ARRAYS["i2_3d"])
    assert zarr.open_group(store=str(store), mode="r")["sub"] is not None


def make_store(tmp_path):
    store = tmp_path / "s.zarr"
    a = np.arange(60_000, dtype="<f8").reshape(300, 200)
    with mounted(store, tmp_path / "m0", "--rw", "--chunk-size", "64KiB") as m:
        np.save(m / "a.npy", a)
        os.mkdir(m / "g")
        np.save(m / "g" / "b.npy", np.arange(10, dtype="<i4"))
    return store, a


def test_rewrite_memmap_and_raw_edits_persist(tmp_path):
    store, a = make_store(tmp_path)
    with mounted(store, tmp_path / "m", "--rw") as m:
        np.save(m / "a.npy", a * 3)  # same dtype and shape: truncate and rewrite
        assert same_values(np.load(m / "a.npy"), a * 3)
        mm = np.load(m / "a.npy", mmap_mode="r+")
        mm[5, 7] = -1.0
        mm[299, 199] = -2.0
        mm.flush()
        del mm
        hdr = os.path.getsize(m / "a.npy") - a.nbytes
        mm = np.memmap(m / "a.npy", mode="r+", dtype="<f8", shape=a.shape, offset=hdr)
        mm[0, :3] = [7, 8, 9]
        mm.flush()
        del mm
        with open(m / "a.raw", "r+b") as f:
            os.pwrite(f.fileno(), np.array([42.5], "<f8").tobytes(), (10 * 200 + 3) * 8)
            os.pwrite(f.fileno(), b"\x00\x00\x00", 8 * 1000 + 1)  # splits an element
    want = a * 3
    want[5, 7] = -1.0
    want[299, 199] = -2.0
    want[0, :3] = [7, 8, 9]
    want[10, 3] = 42.5
    raw = bytearray(want.tobytes())
    raw[8 * 1000 + 1:8 * 1000 + 4] = b"\x00\x00\x00"
    want = np.frombuffer(bytes(raw), "<f8").reshape(a.shape)
    assert same_values(zarr_read(store, "a"), want)


def hold_open(path, mode):
    """A separate process keeping `path` open (reads and writes of different
    processes never mix)."""
    code = f"import sys,time; f=open({str(path)!r}, {mode!r}); print('open', flush=True); sys.stdin.read()"
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "open", line
    return p


def release(p):
    p.stdin.close()
    p.wait(timeout=30)


def test_refusals_leave_store_unchanged(tmp_path):
    store, a = make_store(tmp_path)
    before = store_digest(store)
    with mounted(store, tmp_path / "m", "--rw") as m:
        # A header for another dtype or shape.
        expect_errno(errno.EINVAL, np.save, m / "a.npy", a.astype("<f4"))
        expect_errno(errno.EINVAL, np.save, m / "a.npy", a[:10])
        assert same_values(np.load(m / "a.npy"), a)
        # Header bytes rewritten in place with another shape.
        other = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2)))
        with open(m / "a.npy", "r+b") as f:
            import io
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, other)
            expect_errno(errno.EINVAL, os.pwrite, f.fileno(), buf.getvalue()[:64], 0)
        # Not a .npy at all: refused, no array.
        def write_garbage():
            with open(m / "bad.npy", "wb") as f:
                f.write(b"this is not a numpy file at all" * 10)
        expect_errno(errno.EINVAL, write_garbage)
        # A valid header with missing data: refused at close, no array.
        def write_truncated():
            with open(m / "short.npy", "wb") as f:
                np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(a))
                f.write(b"\0" * 100)
        expect_errno(errno.EINVAL, write_truncated)
        # New files other than .npy.
        expect_errno(errno.EPERM, open, m / "x.raw", "wb")
        # Writes past the end of .raw, truncation.
        with open(m / "a.raw", "r+b") as f:
            expect_errno(errno.EFBIG, os.pwrite, f.fileno(), b"x", a.nbytes)
            expect_errno(errno.EFBIG, os.pwrite, f.fileno(), b"xy", a.nbytes - 1)
            expect_errno(errno.EPERM, os.ftruncate, f.fileno(), 100)
            expect_errno(errno.EPERM, os.ftruncate, f.fileno(), a.nbytes + 8)
        expect_errno(errno.EPERM, open, m / "a.raw", "wb")
        with open(m / "a.npy", "r+b") as f:
            expect_errno(errno.EPERM, os.ftruncate, f.fileno(), 100)
            expect_errno(errno.EFBIG, os.pwrite, f.fileno(), b"x", os.fstat(f.fileno()).st_size)
        with pytest.raises(OSError) as ei:
            open(m / "a.json", "r+b")
        assert ei.value.errno in (errno.EPERM, errno.EACCES)
        # Reads and writes of different processes never mix.
        p = hold_open(m / "a.npy", "rb")
        try:
            expect_errno(errno.EBUSY, open, m / "a.raw", "r+b")
            expect_errno(errno.EBUSY, open, m / "a.npy", "r+b")
            expect_errno(errno.EBUSY, os.unlink, m / "a.npy")
        finally:
            release(p)
        p = hold_open(m / "a.raw", "r+b")
        try:
            expect_errno(errno.EBUSY, open, m / "a.npy", "rb")
        finally:
            release(p)
        listing = set(os.listdir(m))
        assert listing == {"a.npy", "a.raw", "a.json", "g"}, listing
        expect_errno(errno.ENOTEMPTY, os.rmdir, m / "g")
        expect_errno(errno.EXDEV, os.rename, m / "a.npy", m / "c.npy")
    assert store_digest(store) == before
    # A read-only mount refuses every write with EROFS.
    with mounted(store, tmp_path / "ro") as m:
        expect_errno(errno.EROFS, open, m / "a.raw", "r+b")
        expect_errno(errno.EROFS, open, m / "a.npy", "wb")
        expect_errno(errno.EROFS, np.save, m / "new.npy", a)
        expect_errno(errno.EROFS, os.mkdir, m / "h")
        expect_errno(errno.EROFS, os.unlink, m / "a.npy")
        expect_errno(errno.EROFS, os.rmdir, m / "g")
        expect_errno(errno.EROFS, os.setxattr, m / "a.npy", "user.zarr.attributes", b"{}")
    assert store_digest(store) == before
    assert same_values(zarr_read(store, "a"), a)


def test_two_mounts_never_mix_reads_and_writes(tmp_path):
    """Two mounts of one store, one read-write: a file open for writing in
    one makes opening the array for reading in the other fail with EBUSY,
    and the reverse; once closed, the other mount opens it; a program using
    the library directly is held to the same rule."""
    store, a = make_store(tmp_path)
    before = store_digest(store)
    with mounted(store, tmp_path / "rw", "--rw") as w, mounted(store, tmp_path / "ro") as r:
        p = hold_open(w / "a.raw", "r+b")
        try:
            expect_errno(errno.EBUSY, open, r / "a.npy", "rb")
            # The library (through the CLI) is refused too, naming the holder.
            out = subprocess.run([zarrcore_bin(), "export", str(store), "a", str(tmp_path / "x.npy")],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode != 0 and "busy" in out.stderr and "writing" in out.stderr, out
        finally:
            release(p)
        assert same_values(np.load(r / "a.npy"), a)
        p = hold_open(r / "a.npy", "rb")
        try:
            expect_errno(errno.EBUSY, open, w / "a.raw", "r+b")
            expect_errno(errno.EBUSY, np.save, w / "a.npy", a * 2)
        finally:
            release(p)
        with open(w / "a.raw", "r+b") as f:
            f.write(np.array([-5.0], dtype="<f8").tobytes())
    assert store_digest(store) != before
    got = zarr_read(store, "a")
    assert got[0, 0] == -5.0 and same_values(got.ravel()[1:], a.ravel()[1:])


def test_groups_deletion_and_attributes(tmp_path):
    store, a = make_store(tmp_path)
    with mounted(store, tmp_path / "m", "--rw") as m:
        os.mkdir(m / "g" / "h")
        np.save(m / "g" / "h" / "x.npy", np.ones(5))
        os.setxattr(m / "g" / "h" / "x.npy", "user.zarr.attributes", b'{"units": "m", "n": 3}')
        os.setxattr(m / "g", "user.zarr.attributes", b'{"title": "G"}')
        expect_errno(errno.EINVAL, os.setxattr, m / "g", "user.zarr.attributes", b"[1, 2]")
        expect_errno(errno.EPERM, os.setxattr, m / "a.npy", "user.zarr.shape", b"[1]")
        assert json.loads(os.getxattr(m / "g" / "h" / "x.raw", "user.zarr.attributes")) == {"units": "m", "n": 3}
        assert json.loads((m / "g" / "h" / "x.json").read_text())["attributes"] == {"units": "m", "n": 3}
        os.unlink(m / "g" / "b.npy")
        assert "b.raw" not in os.listdir(m / "g")
        expect_errno(errno.ENOTEMPTY, os.rmdir, m / "g" / "h")
        os.unlink(m / "g" / "h" / "x.raw")
        os.rmdir(m / "g" / "h")
        os.mkdir(m / "g" / "empty")
    grp = zarr.open_group(store=str(store), mode="r")
    assert dict(grp["g"].attrs) == {"title": "G"}
    assert set(grp["g"].keys()) == {"empty"}
    assert same_values(grp["a"][...], a)


def test_foreground_sigterm_stores_and_unmounts(tmp_path):
    store, a = make_store(tmp_path)
    mnt = tmp_path / "m"
    mnt.mkdir()
    p = subprocess.Popen([zarrcore_bin(), "mount", str(store), str(mnt), "--rw", "--foreground"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: is_mounted(mnt), what="the foreground mount")
        f = open(mnt / "a.raw", "r+b")
        os.pwrite(f.fileno(), np.full(3, 5.0).tobytes(), 800)  # a partial chunk: buffered
        p.send_signal(signal.SIGTERM)
        wait_for(lambda: not is_mounted(mnt), what="the unmount")
        os.pwrite(f.fileno(), np.full(1, 6.0).tobytes(), 8000)  # the open file keeps working
        f.close()
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
        force_unmount(mnt)
    want = a.copy().reshape(-1)
    want[100:103] = 5.0
    want[1000] = 6.0
    assert same_values(zarr_read(store, "a"), want.reshape(a.shape))


def test_umount_with_open_files_is_lazy(tmp_path):
    entry = next(e for e in MANIFEST["arrays"] if e["store"] == "stores/large_v3.zarr")
    expected = np.load(FIXTURES / entry["expected"]).astype(presented_dtype(entry)).tobytes()
    mnt = tmp_path / "m"
    mnt.mkdir()
    zc("mount", FIXTURES / entry["store"], mnt)
    pid = mount_pid(mnt)
    try:
        f = open(view_path(mnt, entry["array_path"], ".raw"), "rb")
        r = zc("umount", mnt, "--timeout", "30", timeout=90)
        assert "still open" in r.stderr
        assert not is_mounted(mnt)
        assert pid_alive(pid)
        assert f.read() == expected
        f.close()
        wait_for(lambda: not pid_alive(pid), what="the mount process to end")
    finally:
        force_unmount(mnt)


def test_sigkill_leaves_store_readable(tmp_path):
    store, a = make_store(tmp_path)
    mnt = tmp_path / "m"
    mnt.mkdir()
    zc("mount", store, mnt, "--rw")
    try:
        np.save(mnt / "c.npy", np.arange(1000, dtype="<i2"))  # completed: flushed on close
        wait_for(lambda: "c.raw" in os.listdir(mnt), what="c.npy")
        after_flush = store_digest(store)
        f = open(mnt / "a.raw", "r+b")
        os.pwrite(f.fileno(), b"\x01" * 16, 64)  # buffered, then lost with the process
        os.kill(mount_pid(mnt), signal.SIGKILL)
        with pytest.raises(OSError):
            os.listdir(mnt)
        f.close() if not f.closed else None
    except OSError:
        pass
    finally:
        r = subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, text=True, timeout=60)
        if is_mounted(mnt):
            force_unmount(mnt)
    assert r.returncode == 0, r.stderr
    assert not is_mounted(mnt)
    assert store_digest(store) == after_flush
    assert same_values(zarr_read(store, "a"), a)
    assert same_values(zarr_read(store, "c"), np.arange(1000, dtype="<i2"))
    # The mount point is usable again.
    with mounted(store, mnt) as m:
        assert same_values(np.load(m / "a.npy"), a)


def test_umount_cleans_a_stale_mount(tmp_path):
    store, a = make_store(tmp_path)
    mnt = tmp_path / "m"
    mnt.mkdir()
    zc("mount", store, mnt)
    pid = mount_pid(mnt)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="the kill")
    try:
        r = zc("umount", mnt, timeout=90)
        assert "stale" in r.stderr
        assert not is_mounted(mnt)
    finally:
        force_unmount(mnt)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_store_errors_are_reported_by_fsync_and_close(tmp_path):
    tfs = tmp_path / "tfs"
    tfs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tfs)], check=True, timeout=30)
    mnt = tmp_path / "m"
    try:
        shape = (512, 1024)  # 4 MiB of zeros: nothing stored
        src = tmp_path / "z.npy"
        np.save(src, np.zeros(shape))
        zc("import", src, tfs / "s.zarr", "a", "--chunks", "128,1024", "--codec", "none")
        with mounted(tfs / "s.zarr", mnt, "--rw"):
            f = open(mnt / "a.raw", "r+b")
            noise = np.random.default_rng(0).bytes(600_000)
            for k in range(4):  # part of each 1 MiB chunk: buffered
                os.pwrite(f.fileno(), noise, k * (1 << 20) + 8)
            with pytest.raises(OSError) as ei:
                os.fsync(f.fileno())
            assert ei.value.errno == errno.ENOSPC
            with pytest.raises(OSError) as ei:
                f.close()
            assert ei.value.errno == errno.ENOSPC
            # umount refuses while writes cannot be stored.
            r = zc("umount", mnt, check=False, timeout=90)
            assert r.returncode != 0 and "could not be stored" in r.stderr
            assert is_mounted(mnt)
            force_unmount(mnt)
    finally:
        force_unmount(mnt)
        subprocess.run(["umount", "-l", str(tfs)], timeout=30)

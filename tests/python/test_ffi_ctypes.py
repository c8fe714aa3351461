"""libzarrcore through Python's ctypes, with explicit argument and return
types for every function of include/zarrcore.h: the same calling mechanism
as Julia's `ccall` (examples/julia/ZarrCore.jl has not been run; this suite
exercises the same calls).

The library is target/release/libzarrcore.so (built if missing) or
$ZARRCORE_FFI_LIB. Every header function is declared below, checked against
the header's own declaration, and called at least once.
"""

import ctypes as C
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ffi"))
import header_api  # noqa: E402

HEADER = ROOT / "include" / "zarrcore.h"
FIXTURES = Path(os.environ.get("ZARRCORE_FIXTURES", ROOT / ".." / "shared" / "fixtures" / "zarr"))

P = C.c_void_p  # opaque handles
PP = C.POINTER(C.c_void_p)
U64P = C.POINTER(C.c_uint64)
SZP = C.POINTER(C.c_size_t)
I32P = C.POINTER(C.c_int32)
# zarrcore_copy_progress_fn
PROGRESS_FN = C.CFUNCTYPE(C.c_int32, C.c_void_p, C.c_uint64, C.c_uint64)
NO_PROGRESS = PROGRESS_FN()  # a NULL callback (ctypes refuses None here)

# name -> (restype, argtypes): the declarations a ccall user writes.
SIGNATURES = {
    "zarrcore_version": (C.c_uint32, []),
    "zarrcore_version_string": (C.c_char_p, []),
    "zarrcore_status_str": (C.c_char_p, [C.c_int32]),
    "zarrcore_error_message": (C.c_int32, [C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_store_open": (C.c_int32, [C.c_char_p, C.c_int32, PP]),
    "zarrcore_store_flush": (C.c_int32, [P]),
    "zarrcore_store_close": (C.c_int32, [P]),
    "zarrcore_group_create": (C.c_int32, [P, C.c_char_p, C.c_int32, C.c_char_p, PP]),
    "zarrcore_group_open": (C.c_int32, [P, C.c_char_p, PP]),
    "zarrcore_group_close": (C.c_int32, [P]),
    "zarrcore_group_zarr_format": (C.c_int32, [P, I32P]),
    "zarrcore_group_members": (C.c_int32, [P, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_group_attributes_get": (C.c_int32, [P, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_group_attributes_set": (C.c_int32, [P, C.c_char_p]),
    "zarrcore_array_create": (C.c_int32, [P, C.c_char_p, C.c_int32, C.c_char_p, C.c_size_t,
                                          U64P, U64P, U64P, C.c_char_p, C.c_char_p, C.c_int32,
                                          PP]),
    "zarrcore_array_create_json": (C.c_int32, [P, C.c_char_p, C.c_char_p, C.c_int32, PP]),
    "zarrcore_array_open": (C.c_int32, [P, C.c_char_p, C.c_int32, PP]),
    "zarrcore_array_flush": (C.c_int32, [P]),
    "zarrcore_array_close": (C.c_int32, [P]),
    "zarrcore_array_ndim": (C.c_int32, [P, SZP]),
    "zarrcore_array_shape": (C.c_int32, [P, U64P, C.c_size_t]),
    "zarrcore_array_chunk_shape": (C.c_int32, [P, U64P, C.c_size_t]),
    "zarrcore_array_shard_shape": (C.c_int32, [P, U64P, C.c_size_t, I32P]),
    "zarrcore_array_dtype": (C.c_int32, [P, I32P]),
    "zarrcore_array_dtype_str": (C.c_int32, [P, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_array_item_size": (C.c_int32, [P, SZP]),
    "zarrcore_array_num_bytes": (C.c_int32, [P, C.POINTER(C.c_uint64)]),
    "zarrcore_array_fill_value": (C.c_int32, [P, C.c_void_p, C.c_size_t]),
    "zarrcore_array_metadata_json": (C.c_int32, [P, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_array_zarr_format": (C.c_int32, [P, I32P]),
    "zarrcore_array_mode": (C.c_int32, [P, I32P]),
    "zarrcore_array_attributes_get": (C.c_int32, [P, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_array_attributes_set": (C.c_int32, [P, C.c_char_p]),
    "zarrcore_array_read_region": (C.c_int32, [P, U64P, U64P, C.c_size_t, C.c_int32,
                                               C.c_void_p, C.c_size_t]),
    "zarrcore_array_write_region": (C.c_int32, [P, U64P, U64P, C.c_size_t, C.c_int32,
                                                C.c_void_p, C.c_size_t]),
    "zarrcore_array_read_bytes": (C.c_int32, [P, C.c_uint64, C.c_void_p, C.c_size_t]),
    "zarrcore_array_write_bytes": (C.c_int32, [P, C.c_uint64, C.c_void_p, C.c_size_t]),
    "zarrcore_copy": (C.c_int32, [P, C.c_char_p, P, C.c_char_p, C.c_char_p, PROGRESS_FN,
                                  C.c_void_p, C.c_char_p, C.c_size_t, SZP]),
    "zarrcore_test_force_panic": (C.c_int32, [C.c_int32]),
    "zarrcore_array_open_wait": (C.c_int32, [P, C.c_char_p, C.c_int32, C.c_uint64, PP]),
}

# Frozen numbers (as in zarrcore.h).
OK, E_NULL, E_INVALID, E_BUFLEN, E_NOT_FOUND, E_EXISTS, E_BUSY, E_MODE, E_READ_ONLY = \
    0, -1, -2, -3, -4, -5, -6, -7, -8
E_BOUNDS, E_OVERFLOW, E_METADATA, E_UNSUPPORTED, E_CODEC, E_IO, E_STORE, E_PANIC = \
    -9, -10, -11, -12, -13, -14, -15, -16
E_INTERNAL, E_CANCELLED, E_UNPROTECTED = -17, -18, -19
COPY_REPORT_MAX_LEN = 512
STORE_RO, STORE_RW, STORE_CREATE = 0, 1, 2
MODE_READ, MODE_WRITE = 0, 1
ORDER_C, ORDER_F = 0, 1
DTYPE_CODES = {"b1": 1, "i1": 2, "i2": 3, "i4": 4, "i8": 5, "u1": 6, "u2": 7, "u4": 8, "u8": 9,
               "f2": 10, "f4": 11, "f8": 12, "c8": 13, "c16": 14, "S": 15, "U": 16}

CALLED = set()


def _library_path():
    env = os.environ.get("ZARRCORE_FFI_LIB")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    lib = target / "release" / "libzarrcore.so"
    if not lib.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "zarrcore-ffi"], cwd=ROOT,
                       check=True, timeout=1800)
    return lib


class Lib:
    """The loaded library; attribute access records which functions ran."""

    def __init__(self, path):
        self._dll = C.CDLL(str(path))
        for name, (res, args) in SIGNATURES.items():
            fn = getattr(self._dll, name)
            fn.restype = res
            fn.argtypes = args

    def __getattr__(self, name):
        fn = getattr(self._dll, name)
        CALLED.add(name)
        return fn

    def message(self):
        n = C.c_size_t(0)
        self.zarrcore_error_message(None, 0, C.byref(n))
        buf = C.create_string_buffer(n.value + 1)
        assert self.zarrcore_error_message(buf, len(buf), C.byref(n)) == OK
        return buf.value.decode()

    def ok(self, status):
        if status != OK:
            name = self.zarrcore_status_str(status).decode()
            raise AssertionError(f"{name}: {self.message()}")

    def expect(self, status, code, needle):
        msg = self.message()
        assert status == code, (status, msg)
        assert needle in msg, msg

    def string(self, fn, handle):
        n = C.c_size_t(0)
        assert fn(handle, None, 0, C.byref(n)) == E_BUFLEN
        buf = C.create_string_buffer(n.value + 1)
        self.ok(fn(handle, buf, len(buf), C.byref(n)))
        assert len(buf.value) == n.value
        return buf.value.decode()


@pytest.fixture(scope="module")
def lib():
    return Lib(_library_path())


def u64(values):
    return (C.c_uint64 * max(len(values), 1))(*values)


def open_store(lib, location, mode):
    h = C.c_void_p()
    lib.ok(lib.zarrcore_store_open(str(location).encode(), mode, C.byref(h)))
    return h


def open_array(lib, store, path, mode=MODE_READ):
    h = C.c_void_p()
    lib.ok(lib.zarrcore_array_open(store, path.encode(), mode, C.byref(h)))
    return h


def test_signatures_match_the_header():
    decls = {name: (ret, args) for ret, name, args in header_api.parse(HEADER)}
    assert set(decls) == set(SIGNATURES), set(decls) ^ set(SIGNATURES)
    want = {"int32_t": C.c_int32, "zarrcore_status": C.c_int32, "uint32_t": C.c_uint32,
            "uint64_t": C.c_uint64, "size_t": C.c_size_t, "const char*": C.c_char_p,
            "char*": C.c_char_p, "void*": C.c_void_p, "const void*": C.c_void_p,
            "uint64_t*": C.POINTER(C.c_uint64), "const uint64_t*": C.POINTER(C.c_uint64),
            "size_t*": C.POINTER(C.c_size_t), "int32_t*": C.POINTER(C.c_int32),
            "zarrcore_copy_progress_fn": PROGRESS_FN}
    for name, (ret, args) in decls.items():
        res, argtypes = SIGNATURES[name]
        assert len(args) == len(argtypes), name
        for (ctype, argname), t in zip(args, argtypes):
            if ctype.replace("const ", "").rstrip("*") in ("zarrcore_store", "zarrcore_group",
                                                            "zarrcore_array"):
                expected = PP if ctype.endswith("**") else C.c_void_p
            else:
                expected = want[ctype]
            assert t == expected, (name, argname, ctype, t)
        assert res == want[ret], (name, ret)


def test_version_and_status(lib):
    assert lib.zarrcore_version() == 100
    assert lib.zarrcore_version_string() == b"0.1.0"
    names = [lib.zarrcore_status_str(c).decode() for c in range(0, -19, -1)]
    assert names[0] == "ZARRCORE_OK" and names[6] == "ZARRCORE_E_BUSY"
    assert names[16] == "ZARRCORE_E_PANIC" and len(set(names)) == 19
    assert names[-E_CANCELLED] == "ZARRCORE_E_CANCELLED"
    assert lib.zarrcore_status_str(77) == b"ZARRCORE_E_UNKNOWN"


def test_write_read_roundtrip(lib, tmp_path):
    s = open_store(lib, tmp_path / "ct.zarr", STORE_CREATE)
    g = C.c_void_p()
    lib.ok(lib.zarrcore_group_create(s, b"", 3, b'{"k": [1, 2]}', C.byref(g)))
    fmt = C.c_int32()
    lib.ok(lib.zarrcore_group_zarr_format(g, C.byref(fmt)))
    assert fmt.value == 3
    assert json.loads(lib.string(lib.zarrcore_group_attributes_get, g)) == {"k": [1, 2]}
    lib.ok(lib.zarrcore_group_attributes_set(g, b'{"k": "v"}'))
    assert json.loads(lib.string(lib.zarrcore_group_attributes_get, g)) == {"k": "v"}

    shape, chunks, shards = [40, 30], [4, 5], [8, 15]
    a = C.c_void_p()
    lib.ok(lib.zarrcore_array_create(s, b"sub/x", 3, b"<f4", 2, u64(shape), u64(chunks),
                                     u64(shards), b"blosc:zstd:3:bitshuffle", b"inf", 0,
                                     C.byref(a)))
    assert json.loads(lib.string(lib.zarrcore_group_members, g)) == [
        {"name": "sub", "kind": "group"}]
    lib.ok(lib.zarrcore_group_close(g))

    data = np.arange(40 * 30, dtype=np.float32).reshape(40, 30) * 0.5
    region = data[3:29, 2:27]
    buf = np.ascontiguousarray(region)
    lib.ok(lib.zarrcore_array_write_region(a, u64([3, 2]), u64([26, 25]), 2, ORDER_C,
                                           buf.ctypes.data, buf.nbytes))
    fbuf = np.asfortranarray(data[30:33, 0:4])
    lib.ok(lib.zarrcore_array_write_region(a, u64([30, 0]), u64([3, 4]), 2, ORDER_F,
                                           fbuf.ctypes.data, fbuf.nbytes))
    lib.ok(lib.zarrcore_array_flush(a))
    mode = C.c_int32()
    lib.ok(lib.zarrcore_array_mode(a, C.byref(mode)))
    assert mode.value == MODE_WRITE
    lib.ok(lib.zarrcore_array_attributes_set(a, b'{"units": "m"}'))
    lib.ok(lib.zarrcore_array_close(a))

    a = open_array(lib, s, "sub/x")
    nd, item, nbytes = C.c_size_t(), C.c_size_t(), C.c_uint64()
    lib.ok(lib.zarrcore_array_ndim(a, C.byref(nd)))
    lib.ok(lib.zarrcore_array_item_size(a, C.byref(item)))
    lib.ok(lib.zarrcore_array_num_bytes(a, C.byref(nbytes)))
    assert (nd.value, item.value, nbytes.value) == (2, 4, 40 * 30 * 4)
    out = u64([0, 0])
    lib.ok(lib.zarrcore_array_shape(a, out, 2))
    assert list(out) == shape
    lib.ok(lib.zarrcore_array_chunk_shape(a, out, 2))
    assert list(out) == chunks
    sharded = C.c_int32(-1)
    lib.ok(lib.zarrcore_array_shard_shape(a, out, 2, C.byref(sharded)))
    assert sharded.value == 1 and list(out) == shards
    code = C.c_int32()
    lib.ok(lib.zarrcore_array_dtype(a, C.byref(code)))
    assert code.value == DTYPE_CODES["f4"]
    assert lib.string(lib.zarrcore_array_dtype_str, a) == "<f4"
    lib.ok(lib.zarrcore_array_zarr_format(a, C.byref(fmt)))
    assert fmt.value == 3
    fill = np.zeros(1, np.float32)
    lib.ok(lib.zarrcore_array_fill_value(a, fill.ctypes.data, 4))
    assert fill[0] == np.inf
    meta = json.loads(lib.string(lib.zarrcore_array_metadata_json, a))
    assert meta["shape"] == shape and meta["fill_value"] == "Infinity"
    assert meta["codecs"][0]["name"] == "sharding_indexed"
    assert json.loads(lib.string(lib.zarrcore_array_attributes_get, a)) == {"units": "m"}

    want = np.full((40, 30), np.inf, np.float32)
    want[3:29, 2:27] = region
    want[30:33, 0:4] = data[30:33, 0:4]
    got = np.empty((40, 30), np.float32)
    lib.ok(lib.zarrcore_array_read_region(a, u64([0, 0]), u64(shape), 2, ORDER_C,
                                          got.ctypes.data, got.nbytes))
    np.testing.assert_array_equal(got, want)
    gotf = np.empty((40, 30), np.float32, order="F")
    lib.ok(lib.zarrcore_array_read_region(a, u64([0, 0]), u64(shape), 2, ORDER_F,
                                          gotf.ctypes.data, gotf.nbytes))
    np.testing.assert_array_equal(gotf, want)
    raw = (C.c_ubyte * 101)()
    lib.ok(lib.zarrcore_array_read_bytes(a, 999, raw, 101))
    assert bytes(raw) == want.tobytes()[999:1100]
    lib.ok(lib.zarrcore_array_close(a))

    # Byte writes, then a JSON-created v2 array.
    a = open_array(lib, s, "sub/x", MODE_WRITE)
    patch = bytes(range(7))
    lib.ok(lib.zarrcore_array_write_bytes(a, 5, patch, len(patch)))
    lib.ok(lib.zarrcore_array_read_bytes(a, 0, raw, 16))
    expect = bytearray(want.tobytes()[:16])
    expect[5:12] = patch
    assert bytes(raw)[:16] == bytes(expect)
    lib.ok(lib.zarrcore_array_close(a))
    want = np.frombuffer(bytes(expect) + want.tobytes()[16:], np.float32).reshape(want.shape)
    doc = {"zarr_format": 2, "shape": [7], "chunks": [3], "dtype": ">i8", "compressor": None,
           "fill_value": -5, "order": "C", "filters": None, "attributes": {"x": 1}}
    lib.ok(lib.zarrcore_array_create_json(s, b"v2", json.dumps(doc).encode(), 0, C.byref(a)))
    assert lib.string(lib.zarrcore_array_dtype_str, a) == ">i8"
    vals = np.arange(7, dtype=np.int64) * -3
    lib.ok(lib.zarrcore_array_write_region(a, u64([0]), u64([7]), 1, ORDER_C,
                                           vals.ctypes.data, vals.nbytes))
    lib.ok(lib.zarrcore_array_close(a))
    lib.ok(lib.zarrcore_store_flush(s))
    lib.ok(lib.zarrcore_store_close(s))

    # zarr-python reads what the library wrote.
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(tmp_path / "ct.zarr"), path="sub/x", mode="r")
    np.testing.assert_array_equal(z[:], want)
    z2 = zarr.open_array(str(tmp_path / "ct.zarr"), path="v2", mode="r")
    np.testing.assert_array_equal(z2[:], vals)
    assert dict(z2.attrs) == {"x": 1}


def test_error_paths(lib, tmp_path):
    h = C.c_void_p(12345)
    lib.expect(lib.zarrcore_store_open(None, STORE_RO, C.byref(h)), E_NULL, "`location` is NULL")
    assert h.value is None
    lib.expect(lib.zarrcore_store_open(str(tmp_path).encode(), 9, C.byref(h)), E_INVALID,
               "`mode`: is 9")
    lib.expect(lib.zarrcore_store_open(str(tmp_path / "none").encode(), STORE_RO, C.byref(h)),
               E_STORE, "no such directory")
    s = open_store(lib, tmp_path / "err.zarr", STORE_CREATE)
    lib.expect(lib.zarrcore_array_open(s, b"missing", MODE_READ, C.byref(h)), E_NOT_FOUND,
               '"missing"')
    lib.expect(lib.zarrcore_group_open(s, b"missing", C.byref(h)), E_NOT_FOUND, "missing")
    a = C.c_void_p()
    lib.ok(lib.zarrcore_array_create(s, b"a", 2, b"int16", 1, u64([10]), None, None, None,
                                     None, 0, C.byref(a)))
    buf = np.zeros(10, np.int16)
    lib.expect(lib.zarrcore_array_read_region(a, u64([0]), u64([10]), 1, ORDER_C,
                                              buf.ctypes.data, 19), E_BUFLEN, "needs 20")
    lib.expect(lib.zarrcore_array_read_region(a, u64([0]), u64([10]), 1, 3,
                                              buf.ctypes.data, 20), E_INVALID, "`order`")
    lib.expect(lib.zarrcore_array_read_region(a, u64([5]), u64([10]), 1, ORDER_C,
                                              buf.ctypes.data, 20), E_BOUNDS, "out of bounds")
    lib.expect(lib.zarrcore_array_read_bytes(a, 19, buf.ctypes.data, 2), E_BOUNDS, "outside")
    lib.expect(lib.zarrcore_array_ndim(None, None), E_NULL, "`array` is NULL")
    lib.expect(lib.zarrcore_array_ndim(s, C.byref(C.c_size_t())), E_INVALID,
               "not a live zarrcore_array handle")
    r = C.c_void_p()
    lib.expect(lib.zarrcore_array_open(s, b"a", MODE_READ, C.byref(r)), E_BUSY,
               "write handle is open in this process")
    lib.ok(lib.zarrcore_array_close(a))
    r = open_array(lib, s, "a")
    lib.expect(lib.zarrcore_array_write_bytes(r, 0, b"xx", 2), E_MODE, "open for reading")
    lib.expect(lib.zarrcore_array_attributes_set(r, b"[]"), E_INVALID, "JSON object")
    lib.ok(lib.zarrcore_test_force_panic(1))
    lib.expect(lib.zarrcore_array_flush(r), E_PANIC, "panic inside zarrcore")
    lib.ok(lib.zarrcore_array_flush(r))
    lib.ok(lib.zarrcore_array_close(r))
    lib.ok(lib.zarrcore_array_close(None))
    lib.ok(lib.zarrcore_group_close(None))
    lib.ok(lib.zarrcore_store_close(s))
    lib.ok(lib.zarrcore_store_close(None))


def _copy(lib, src, src_path, dst, dst_path, options, progress=None):
    """zarrcore_copy with a Python progress function; (status, report dict or None)."""
    buf = C.create_string_buffer(COPY_REPORT_MAX_LEN)
    n = C.c_size_t(99)
    cb = PROGRESS_FN(progress) if progress else NO_PROGRESS
    st = lib.zarrcore_copy(src, src_path.encode(), dst, dst_path.encode(),
                           None if options is None else json.dumps(options).encode(), cb, None,
                           buf, len(buf), C.byref(n))
    if st in (OK, E_CANCELLED):
        assert len(buf.value) == n.value
        return st, json.loads(buf.value)
    assert n.value == 0
    return st, None


def test_copy(lib, tmp_path):
    """Transpose + rechunk + re-encode + convert through ctypes, compared with
    numpy; a cancel from the callback, then resume; error paths."""
    rng = np.random.default_rng(7)
    data = rng.integers(-1000, 1000, size=(9, 14, 11), dtype=np.int32)
    s = open_store(lib, tmp_path / "copy.zarr", STORE_CREATE)
    a = C.c_void_p()
    lib.ok(lib.zarrcore_array_create(s, b"src", 3, b"int32", 3, u64(data.shape), u64([4, 5, 3]),
                                     None, b"zstd:1", None, 0, C.byref(a)))
    lib.ok(lib.zarrcore_array_write_region(a, u64([0, 0, 0]), u64(data.shape), 3, ORDER_C,
                                           data.ctypes.data, data.nbytes))
    lib.ok(lib.zarrcore_array_close(a))

    def read(path, dtype):
        h = open_array(lib, s, path)
        nd = C.c_size_t()
        lib.ok(lib.zarrcore_array_ndim(h, C.byref(nd)))
        shape = u64([0] * nd.value)
        lib.ok(lib.zarrcore_array_shape(h, shape, nd.value))
        out = np.empty(list(shape), dtype)
        lib.ok(lib.zarrcore_array_read_region(h, u64([0] * nd.value), shape, nd.value, ORDER_C,
                                              out.ctypes.data, out.nbytes))
        lib.ok(lib.zarrcore_array_close(h))
        return out

    seen = []
    caller = threading.get_ident()

    def progress(_user, done, total):
        seen.append((done, total, threading.get_ident()))
        return 0

    opts = {"transpose": [2, 0, 1], "region": "1:8,:,-9:", "chunks": [4, 4, 4],
            "shards": [8, 8, 8], "codec": "blosc:lz4:5:shuffle", "dtype": "float64",
            "memory": 32 << 20, "threads": 2}
    st, rep = _copy(lib, s, "src", s, "dst", opts, progress)
    assert st == OK, lib.message()
    want = data[1:8, :, -9:].transpose(2, 0, 1).astype(np.float64)
    np.testing.assert_array_equal(read("dst", np.float64), want)
    assert rep["outcome"] == "complete" and rep["bytes"] == want.nbytes
    assert rep["cells_written"] == rep["cells_total"] and rep["cells_resumed"] == 0
    assert seen and all(t == caller for _, _, t in seen)
    assert seen[-1][:2] == (want.nbytes, want.nbytes)

    # Cancel at the first finished chunk (retry if a busy machine let the
    # whole copy finish first), then resume: equal to an uninterrupted copy.
    big = np.arange(128 * 96, dtype=np.uint16).reshape(128, 96) * 7
    lib.ok(lib.zarrcore_array_create(s, b"big", 3, b"uint16", 2, u64(big.shape), u64([4, 4]),
                                     None, b"none", None, 0, C.byref(a)))
    lib.ok(lib.zarrcore_array_write_region(a, u64([0, 0]), u64(big.shape), 2, ORDER_C,
                                           big.ctypes.data, big.nbytes))
    lib.ok(lib.zarrcore_array_close(a))
    calls = []

    def cancel(_user, done, total):
        calls.append(done)
        return 1 if done > 0 else 0

    base = {"transpose": [1, 0], "threads": 1}
    for attempt in range(10):
        calls.clear()
        st, rep = _copy(lib, s, "big", s, "tb", dict(base, overwrite=attempt > 0), cancel)
        if st != OK:
            break
    assert st == E_CANCELLED, lib.message()
    assert "resume" in lib.message()
    assert rep["outcome"] == "cancelled" and 0 < rep["cells_written"] < rep["cells_total"]
    assert sum(1 for d in calls if d > 0) == 1  # not called after cancelling
    first = rep["cells_written"]
    st, rep2 = _copy(lib, s, "big", s, "tb", dict(base, resume=True))
    assert st == OK, lib.message()
    assert rep2["cells_resumed"] == first
    assert rep2["cells_written"] == rep["cells_total"] - first
    st, _ = _copy(lib, s, "big", s, "ref", base)
    assert st == OK
    np.testing.assert_array_equal(read("tb", np.uint16), read("ref", np.uint16))
    np.testing.assert_array_equal(read("tb", np.uint16), big.T)

    # Errors: each before anything is written.
    for options, code, needle in [
        ({"transpos": [0]}, E_INVALID, 'key "transpos": unknown option'),
        ({"memory": [1]}, E_INVALID, 'key "memory"'),
        ({"memory": "1KiB"}, E_INVALID, "too small"),
        ({"casting": "unsafe"}, E_INVALID, 'key "casting"'),
        ({}, E_EXISTS, "dst"),
    ]:
        st, rep = _copy(lib, s, "src", s, "dst", options)
        assert rep is None
        lib.expect(st, code, needle)
    st = lib.zarrcore_copy(s, b"src", s, b"x", b"{", NO_PROGRESS, None, None, 0,
                           None)
    lib.expect(st, E_INVALID, "not valid JSON")
    st = lib.zarrcore_copy(None, b"src", s, b"x", None, NO_PROGRESS, None, None, 0, None)
    lib.expect(st, E_NULL, "`src` is NULL")
    buf = C.create_string_buffer(8)
    n = C.c_size_t(0)
    st = lib.zarrcore_copy(s, b"src", s, b"x", None, NO_PROGRESS, None, buf, 8, C.byref(n))
    lib.expect(st, E_BUFLEN, "ZARRCORE_COPY_REPORT_MAX_LEN")
    assert n.value == COPY_REPORT_MAX_LEN - 1
    # NULL options: a plain copy; the report's length alone.
    st = lib.zarrcore_copy(s, b"src", s, b"plain", None, NO_PROGRESS, None, None, 0,
                           C.byref(n))
    lib.ok(st)
    assert 0 < n.value < COPY_REPORT_MAX_LEN
    np.testing.assert_array_equal(read("plain", np.int32), data)
    lib.ok(lib.zarrcore_store_close(s))


def _fill_bytes(fill, dtype):
    dt = np.dtype(dtype).newbyteorder("=")
    if fill is None or (dt.kind in "SU" and fill == ""):
        return bytes(dt.itemsize)
    num = lambda v: {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) \
        if isinstance(v, str) else v  # noqa: E731
    if dt.kind == "c":
        return np.array(complex(num(fill[0]), num(fill[1])), dt).tobytes()
    return np.array(fill if dt.kind in "SU" else num(fill), dt).tobytes()


def _same(got, want):
    """Bit-for-bit equality, except that any NaN equals any NaN."""
    if got.shape != want.shape:
        return False
    if got.dtype.kind not in "fc":
        return got.tobytes() == want.tobytes()
    unit = got.dtype.itemsize // (2 if got.dtype.kind == "c" else 1)
    f = np.dtype(f"f{unit}")
    u = np.dtype(f"u{unit}")
    g = np.ascontiguousarray(got).view(f).ravel()
    w = np.ascontiguousarray(want).view(f).ravel()
    gn, wn = np.isnan(g), np.isnan(w)
    return bool(np.array_equal(gn, wn) and np.array_equal(g.view(u)[~gn], w.view(u)[~wn]))


def test_every_fixture(lib):
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    stores = {}
    try:
        for e in manifest["arrays"]:
            key = e["store"]
            if key not in stores:
                stores[key] = open_store(lib, FIXTURES / key, STORE_RO)
            a = open_array(lib, stores[key], e["array_path"])
            try:
                dt = np.dtype(e["dtype"]).newbyteorder("=")
                shape = e["shape"]
                nd = C.c_size_t()
                lib.ok(lib.zarrcore_array_ndim(a, C.byref(nd)))
                out = u64([0] * len(shape))
                lib.ok(lib.zarrcore_array_shape(a, out, nd.value))
                assert list(out)[:len(shape)] == shape, e["id"]
                assert json.loads(lib.string(lib.zarrcore_array_attributes_get, a)) == \
                    e.get("attributes", {}), e["id"]
                fill = (C.c_ubyte * dt.itemsize)()
                lib.ok(lib.zarrcore_array_fill_value(a, fill, dt.itemsize))
                want_fill = np.frombuffer(_fill_bytes(e["fill_value"], e["dtype"]), dt)
                assert _same(np.frombuffer(bytes(fill), dt), want_fill), e["id"]
                got = np.empty(shape, dt)
                lib.ok(lib.zarrcore_array_read_region(a, u64([0] * len(shape)), u64(shape),
                                                      len(shape), ORDER_C, got.ctypes.data,
                                                      got.nbytes))
                want = np.load(FIXTURES / e["expected"]).astype(dt)
                assert _same(got, want), e["id"]
            finally:
                lib.ok(lib.zarrcore_array_close(a))
        for g in manifest["groups"]:
            if g["store"] not in stores:
                stores[g["store"]] = open_store(lib, FIXTURES / g["store"], STORE_RO)
            h = C.c_void_p()
            lib.ok(lib.zarrcore_group_open(stores[g["store"]], g["path"].encode(), C.byref(h)))
            try:
                assert json.loads(lib.string(lib.zarrcore_group_attributes_get, h)) == \
                    g.get("attributes", {}), g["id"]
                members = json.loads(lib.string(lib.zarrcore_group_members, h))
                assert sorted(m["name"] for m in members) == sorted(g["members"]), g["id"]
            finally:
                lib.ok(lib.zarrcore_group_close(h))
    finally:
        for s in stores.values():
            lib.ok(lib.zarrcore_store_close(s))


HOLDER = r"""
import ctypes as C, sys, time
lib = C.CDLL(sys.argv[1])
P = C.c_void_p
s, a = P(), P()
assert lib.zarrcore_store_open(sys.argv[2].encode(), 0, C.byref(s)) == 0
assert lib.zarrcore_array_open(s, b"a", 0, C.byref(a)) == 0
print("ready", flush=True)
time.sleep(float(sys.argv[3]))
lib.zarrcore_array_close(a)
lib.zarrcore_store_close(s)
"""


def test_open_across_processes_busy_then_wait(lib, tmp_path):
    """A reader in another process makes a write open fail with E_BUSY
    naming that process; zarrcore_array_open_wait waits for it to close."""
    root = tmp_path / "procs.zarr"
    s = open_store(lib, root, STORE_CREATE)
    a = C.c_void_p()
    lib.ok(lib.zarrcore_array_create(s, b"a", 2, b"int16", 1, u64([10]), None, None, None,
                                     None, 0, C.byref(a)))
    lib.ok(lib.zarrcore_array_close(a))
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(_library_path()), str(root),
                              "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        w = C.c_void_p()
        lib.expect(lib.zarrcore_array_open(s, b"a", MODE_WRITE, C.byref(w)), E_BUSY,
                   f"open for reading by process {child.pid}")
        assert not w.value
        lib.expect(lib.zarrcore_array_open_wait(s, b"a", MODE_WRITE, 0, C.byref(w)), E_BUSY,
                   "reads and writes never mix")
        lib.ok(lib.zarrcore_array_open_wait(s, b"a", MODE_WRITE, 60_000, C.byref(w)))
        # Only once the reader process has let go.
        assert child.wait(timeout=60) == 0
        lib.ok(lib.zarrcore_array_close(w))
    finally:
        child.kill()
        child.wait()
    lib.ok(lib.zarrcore_store_close(s))


def test_zz_every_function_was_called():
    """Runs last (file order): every header function was exercised above."""
    assert set(SIGNATURES) - CALLED == set()


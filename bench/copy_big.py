#!/usr/bin/env python3
"""Helpers of bench/copy_bench.sh's large run (zarrcore copy beside Dask).

  copy_big.py gen SRC --shape 2048,2048,1024     write a uint16 v3 array, 64^3
                                                 chunks, bytes+zstd(1), fill 0,
                                                 smooth field + small noise
                                                 (zstd-1 ratio ~2.5x), slab by slab
  copy_big.py dask SRC DST                       dask.array.from_zarr(SRC).T.to_zarr(DST)
                                                 into a precreated array with the
                                                 same layout zarrcore writes (64^3,
                                                 zstd 1); prints {"seconds": ..}
  copy_big.py verify SRC DST [DST2 ...] [--samples 24]
                                                 sampled 64^3 blocks of each DST equal
                                                 the transposed SRC
"""
import argparse, json, sys, time
import numpy as np
import zarr
from zarr.codecs import BytesCodec, ZstdCodec

def create(path, shape):
    return zarr.create_array(store=path, shape=shape, chunks=(64,) * len(shape), dtype="uint16",
                             fill_value=0, serializer=BytesCodec(endian="little"),
                             compressors=ZstdCodec(level=1, checksum=False), zarr_format=3,
                             overwrite=True)

def gen(a):
    shape = tuple(int(s) for s in a.shape.split(","))
    arr = create(a.src, shape)
    Z, Y, X = shape
    rng = np.random.default_rng(12345)
    y = np.arange(Y, dtype=np.float32)[:, None]
    x = np.arange(X, dtype=np.float32)[None, :]
    s_yx = (np.sin(2 * np.pi * x / 397.0) * np.cos(2 * np.pi * y / 283.0)
            + 0.5 * np.sin(2 * np.pi * (x + y) / 151.0)).astype(np.float32)
    t = time.perf_counter()
    for z0 in range(0, Z, 64):
        z = np.arange(z0, min(z0 + 64, Z), dtype=np.float32)[:, None, None]
        f = 100.0 + 300.0 * np.maximum(s_yx[None] + np.cos(2 * np.pi * z / 511.0), 0.0)
        f += rng.integers(0, 4, size=f.shape, dtype=np.uint8)
        arr[z0:z0 + f.shape[0]] = f.astype("<u2")
    print(f"generated {a.src} {shape} in {time.perf_counter() - t:.1f} s", file=sys.stderr)

def dask_copy(a):
    import dask, dask.array as da
    t = time.perf_counter()
    src = da.from_zarr(a.src)
    tt = src.T
    dst = create(a.dst, tt.shape)
    tt.to_zarr(dst)
    secs = time.perf_counter() - t
    print(json.dumps(dict(engine="dask", dask_version=dask.__version__, seconds=secs,
                          bytes=int(tt.nbytes))), flush=True)

def verify(a):
    src = zarr.open_array(a.src, mode="r")
    rng = np.random.default_rng(7)
    shape = src.shape
    nd = len(shape)
    ok = True
    for dst_path in a.dst:
        dst = zarr.open_array(dst_path, mode="r")
        assert dst.shape == shape[::-1], (dst.shape, shape)
        for _ in range(a.samples):
            start = [int(rng.integers(0, max(1, n - 64) + 1)) for n in shape]
            sl = tuple(slice(s, min(s + 64, n)) for s, n in zip(start, shape))
            want = src[sl].T
            got = dst[tuple(reversed(sl))]
            if not np.array_equal(want, got):
                print(f"MISMATCH {dst_path} at source {start}", file=sys.stderr)
                ok = False
                break
    print("verify: ok" if ok else "verify: FAILED")
    sys.exit(0 if ok else 1)

def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen"); g.add_argument("src"); g.add_argument("--shape", default="2048,2048,1024")
    d = sub.add_parser("dask"); d.add_argument("src"); d.add_argument("dst")
    v = sub.add_parser("verify"); v.add_argument("src"); v.add_argument("dst", nargs="+")
    v.add_argument("--samples", type=int, default=24)
    a = ap.parse_args()
    {"gen": gen, "dask": dask_copy, "verify": verify}[a.cmd](a)

if __name__ == "__main__":
    main()

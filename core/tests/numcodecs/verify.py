"""Checks, with the pinned zarr-python, the arrays zarrcore wrote for the
numcodecs corpus (OUT_DIR/zc/<id>, written from <id>.input.npy with the
metadata zarr-python wrote): zarr-python reads exactly <id>.expected.npy,
and for v2 every chunk holds, once the compressor is undone, the same bytes
as zarr-python's own chunk (so lossy filters encode bit for bit alike).

    python verify.py OUT_DIR

Prints one line per failure and exits 1 if there is any.
"""
import json
import sys
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import zarr

warnings.simplefilter("ignore")


def same(a, b):
    if a.shape != b.shape or a.dtype.newbyteorder("=") != b.dtype.newbyteorder("="):
        return f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    a = a.astype(a.dtype.newbyteorder("="))
    b = b.astype(b.dtype.newbyteorder("="))
    if a.dtype.kind == "f":
        bits = f"u{a.dtype.itemsize}"
        eq = (a.view(bits) == b.view(bits)) | (np.isnan(a) & np.isnan(b))
    else:
        eq = a == b
    if not eq.all():
        i = np.argwhere(~eq)[0]
        return f"differs at {tuple(i)}: {a[tuple(i)]!r} vs {b[tuple(i)]!r}"
    return None


def chunk_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".z")}


def main(out):
    out = Path(out)
    failures = []
    for case in json.loads((out / "manifest.json").read_text()):
        cid = case["id"]
        try:
            got = zarr.open_array(str(out / "zc" / cid), mode="r")[...]
            why = same(got, np.load(out / case["expected"]))
            if why:
                failures.append(f"{cid}: zarr-python reads zarrcore's array: {why}")
                continue
            if case["zarr_format"] == 2:
                meta = case["metadata"]
                comp = meta["compressor"] and numcodecs.get_codec(meta["compressor"])
                mine = chunk_files(out / "zc" / cid)
                theirs = chunk_files(out / case["store"])
                if sorted(mine) != sorted(theirs):
                    failures.append(f"{cid}: chunk keys {sorted(mine)} vs {sorted(theirs)}")
                    continue
                for k in mine:
                    a, b = mine[k], theirs[k]
                    if comp:
                        a, b = bytes(comp.decode(a)), bytes(comp.decode(b))
                    if a != b:
                        failures.append(f"{cid}: chunk {k} differs before compression")
                        break
        except Exception as e:  # noqa: BLE001 - report every case
            failures.append(f"{cid}: {type(e).__name__}: {e}")
    for f in failures:
        print(f)
    print(f"{len(failures)} failed of {len(json.loads((out / 'manifest.json').read_text()))}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""Pre-digests the fixture manifest into a plain text list for the C test
(test_fixtures.c), which has no JSON parser. One line per node:

  A ID STORE ARRAY_PATH ZARR_FORMAT DTYPE NDIM SHAPE.. CHUNKS.. SHARDED [SHARDS..]
    FILL_HEX ATTRS_HEX EXPECTED_NPY
  G ID STORE PATH ZARR_FORMAT ATTRS_HEX NMEMBERS MEMBER..

Paths are absolute; an empty node path is written as "/". FILL_HEX is the
fill value as one element in native byte order (from the manifest's JSON,
converted with NumPy), ATTRS_HEX the attributes as compact JSON (UTF-8,
hex-encoded, "-" when empty). The array *values* are not digested: the C
program reads the expected .npy files itself and compares.

Usage: digest_manifest.py MANIFEST.json OUT.txt
"""
import json
import math
import os
import sys

import numpy as np


def fill_bytes(fill, dtype):
    dt = np.dtype(dtype).newbyteorder("=")
    if fill is None or (dt.kind in "SU" and fill == ""):
        return bytes(dt.itemsize)

    def num(v):
        if isinstance(v, str):
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
        return v

    if dt.kind == "c":
        value = complex(num(fill[0]), num(fill[1]))
    elif dt.kind in "SU":
        value = fill
    else:
        value = num(fill)
    return np.array(value, dtype=dt).tobytes()


def attrs_hex(attrs):
    if not attrs:
        return "-"
    text = json.dumps(attrs, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8").hex()


def main():
    manifest_path, out_path = sys.argv[1], sys.argv[2]
    base = os.path.dirname(os.path.abspath(manifest_path))
    m = json.load(open(manifest_path))
    lines = []
    for a in m["arrays"]:
        nd = len(a["shape"])
        shards = a.get("shards")
        fields = ["A", a["id"], os.path.join(base, a["store"]), a["array_path"] or "/",
                  str(a["zarr_format"]), a["dtype"], str(nd)]
        fields += [str(x) for x in a["shape"]]
        fields += [str(x) for x in a["chunks"]]
        fields.append("1" if shards else "0")
        if shards:
            fields += [str(x) for x in shards]
        fields.append(fill_bytes(a["fill_value"], a["dtype"]).hex() or "-")
        fields.append(attrs_hex(a.get("attributes")))
        fields.append(os.path.join(base, a["expected"]))
        lines.append(" ".join(fields))
    for g in m.get("groups", []):
        fields = ["G", g["id"], os.path.join(base, g["store"]), g["path"] or "/",
                  str(g["zarr_format"]), attrs_hex(g.get("attributes")),
                  str(len(g["members"]))] + list(g["members"])
        lines.append(" ".join(fields))
    for line in lines:
        if any(c.isspace() for f in line.split(" ") for c in f):
            raise SystemExit(f"whitespace in a field: {line!r}")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"digested {len(m['arrays'])} arrays and {len(m.get('groups', []))} groups")


if __name__ == "__main__":
    main()

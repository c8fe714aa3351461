#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the fixture stores.

Usage: seeds.py FIXTURES_DIR OUT_DIR

For every array of every directory store: its metadata document seeds the
metadata targets; its chunk files seed the decoder of each bytes->bytes codec
it uses (raw stored bytes); `chunk` and `sharding` get the document and a
stored value framed as the targets expect (2-byte length, document, bytes).
.npy headers of the expected values seed `npy_header`; a few hand-written
selections seed `region`. Only files up to 256 KiB are used.
"""
import json
import os
import struct
import sys
import zipfile

MAX = 256 << 10
fixtures, out = sys.argv[1], sys.argv[2]
counts = {}


def put(target, name, data):
    if len(data) > MAX:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    safe = name.replace("/", "_")[-120:]
    with open(os.path.join(d, safe), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1


def framed(doc, data):
    return struct.pack("<H", len(doc)) + doc + data


V2_IDS = {"zstd": "decode_zstd", "blosc": "decode_blosc", "gzip": "decode_gzip",
          "zlib": "decode_zlib", "lz4": "decode_lz4", "crc32c": "decode_crc32c",
          "bz2": "decode_bz2", "lzma": "decode_lzma", "crc32": "decode_checksum32",
          "adler32": "decode_checksum32", "fletcher32": "decode_checksum32"}
V3_NAMES = {"zstd": "decode_zstd", "numcodecs.zstd": "decode_zstd", "blosc": "decode_blosc",
            "numcodecs.blosc": "decode_blosc", "gzip": "decode_gzip",
            "numcodecs.gzip": "decode_gzip", "numcodecs.zlib": "decode_zlib",
            "numcodecs.lz4": "decode_lz4", "crc32c": "decode_crc32c",
            "numcodecs.crc32c": "decode_checksum32", "numcodecs.bz2": "decode_bz2",
            "numcodecs.lzma": "decode_lzma", "numcodecs.crc32": "decode_checksum32",
            "numcodecs.adler32": "decode_checksum32",
            "numcodecs.fletcher32": "decode_checksum32"}


def walk_store(files):
    """files: dict relative key -> bytes-loader."""
    for key in sorted(files):
        base = key.rsplit("/", 1)[-1]
        node = key[: -len(base)].rstrip("/")
        if base in (".zarray", ".zgroup", ".zattrs", ".zmetadata"):
            put("metadata_v2", key, files[key]())
        if base == "zarr.json":
            put("metadata_v3", key, files[key]())
        if base not in (".zarray", "zarr.json"):
            continue
        doc_bytes = files[key]()
        doc = json.loads(doc_bytes)
        if doc.get("node_type", "array") != "array":
            continue
        decoders = []
        sharded = False
        if base == ".zarray":
            comp = doc.get("compressor")
            if comp and comp.get("id") in V2_IDS:
                decoders.append(V2_IDS[comp["id"]])
        else:
            for c in doc.get("codecs", []):
                name = c["name"] if isinstance(c, dict) else c
                if name == "sharding_indexed":
                    sharded = True
                if name in V3_NAMES:
                    decoders.append(V3_NAMES[name])
        prefix = node + "/" if node else ""
        n = 0
        for k in sorted(files):
            if not k.startswith(prefix) or k == key:
                continue
            rest = k[len(prefix):]
            tail = rest.rsplit("/", 1)[-1]
            if tail.startswith(".") or tail == "zarr.json" or "zarr.json" in rest:
                continue
            # Chunk keys only: digits and separators (v2) or "c..." (v3).
            if not (rest[0].isdigit() or rest.startswith("c")):
                continue
            if any(p in files for p in (prefix + rest.split("/")[0] + "/zarr.json",
                                          prefix + rest.split("/")[0] + "/.zarray")):
                continue
            data = files[k]()
            if n < 6:
                for t in decoders[-1:]:
                    put(t, k, data)
                put("sharding" if sharded else "chunk", k, framed(doc_bytes, data))
                if sharded:
                    put("chunk", k, framed(doc_bytes, data))
            n += 1


stores = os.path.join(fixtures, "stores")
for s in sorted(os.listdir(stores)):
    p = os.path.join(stores, s)
    files = {}
    if s.endswith(".zip"):
        z = zipfile.ZipFile(p)
        for name in z.namelist():
            if not name.endswith("/"):
                files[name] = (lambda n=name: z.read(n))
    else:
        for dirpath, _, names in os.walk(p):
            for n in names:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, p)
                files[rel] = (lambda f=full: open(f, "rb").read())
    walk_store(files)

exp = os.path.join(fixtures, "expected")
for n in sorted(os.listdir(exp))[:60]:
    with open(os.path.join(exp, n), "rb") as f:
        put("npy_header", n, f.read(256))


def region_seed(shape, chunks, a, b, text):
    data = bytes([len(shape)])
    for s, c in zip(shape, chunks):
        data += struct.pack("<HB", s, c)
    return data + struct.pack("<II", a, b) + text.encode()


for i, (shape, chunks, a, b, text) in enumerate([
    ([100, 100], [10, 10], 5, 555, "0:10,5:20"),
    ([7, 9, 11], [3, 4, 5], 0, 693, "1:6,:,-3"),
    ([1000], [7], 13, 999, "-10:"),
    ([], [], 0, 1, ""),
    ([4, 5, 6, 7], [2, 2, 2, 2], 17, 600, ":,1,2:4,"),
    ([0, 5], [1, 1], 0, 0, "0:0"),
]):
    put("region", f"seed{i}", region_seed(shape, chunks, a, b, text))

for t in sorted(counts):
    print(f"seeds: {t}: {counts[t]}")

#!/usr/bin/env python3
"""Do TensorStore and zarrs read a store corpus exactly?

    verify_peers.py CORPUS_DIR MANIFEST [--engines tensorstore,zarrs] [-q]

CORPUS_DIR/MANIFEST is in the fixture format (../shared/fixtures/README.md);
tests/suites/interop_write.sh makes one with everything zarrcore writes. Every
array entry is read whole by each engine and compared with its `expected`
values exactly (floats bit for bit, any NaN equals any NaN):

* tensorstore: the `zarr` (v2) and `zarr3` (v3) drivers on a `file` kvstore,
  or a `zip` kvstore over the file for zip stores;
* zarrs: zarr-python with zarrs-python's codec pipeline
  (`zarrs.ZarrsCodecPipeline`), so chunk decoding, sharding and chunk
  assembly are done by the zarrs Rust crate; metadata is parsed by both.

A failure is excused only by a documented limitation of that engine
(LIMITATIONS: a predicate on the array's stored metadata and the reason, e.g.
TensorStore has no numcodecs `lz4` compressor, zarrs-python swaps the real and
imaginary parts of big-endian complex numbers). With `--reference
ZARR_PYTHON_MANIFEST` (the fixtures zarr-python wrote), every limitation that
excuses a failure here must also excuse a failure on zarr-python's own stores
— proof that it is the engine's limitation and not something zarrcore writes
differently. Any other failure or mismatch fails. Exit 0 when nothing failed,
1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")



def values_equal(actual: np.ndarray, expected: np.ndarray) -> tuple[bool, str]:
    if actual.shape != expected.shape:
        return False, f"shape {actual.shape} != expected {expected.shape}"
    if actual.dtype.kind != expected.dtype.kind or actual.dtype.itemsize != expected.dtype.itemsize:
        return False, f"dtype {actual.dtype} != expected {expected.dtype}"
    a = actual.astype(actual.dtype.newbyteorder("="))
    e = expected.astype(expected.dtype.newbyteorder("="))
    if a.dtype.kind in "fc":
        parts = [(a.real, e.real), (a.imag, e.imag)] if a.dtype.kind == "c" else [(a, e)]
        bad = np.zeros(a.shape, dtype=bool)
        for x, y in parts:
            both_nan = np.isnan(x) & np.isnan(y)
            same_bits = x.view(f"u{x.dtype.itemsize}") == y.view(f"u{y.dtype.itemsize}")
            bad |= ~(both_nan | same_bits)
    else:
        bad = np.asarray(a != e)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        return False, (f"{int(bad.sum())} of {bad.size} elements differ; first at {first}: "
                       f"got {a[first]!r}, expected {e[first]!r}")
    return True, ""


def stored_metadata(entry: dict, root: Path) -> dict:
    """The array's metadata document as stored (.zarray or zarr.json)."""
    name = ".zarray" if entry["zarr_format"] == 2 else "zarr.json"
    key = "/".join(p for p in (entry["array_path"].strip("/"), name) if p)
    store = root / entry["store"]
    if entry["store_type"] == "zip":
        with zipfile.ZipFile(store) as z:
            return json.loads(z.read(key))
    return json.loads((store / key).read_text())


def v2_compressor(m: dict) -> dict:
    return m.get("compressor") or {}


def v3_codec(m: dict, name: str) -> dict | None:
    for c in m.get("codecs", []):
        if c.get("name") == name:
            return c
    return None


# (engine, reason, predicate on the stored metadata[, pattern]). Each is a
# limitation of the engine, shown by it failing on zarr-python's own fixtures
# too or, with a pattern, by the engine's own error message saying so.
LIMITATIONS = [
    ("tensorstore", "no numcodecs 'lz4' compressor in tensorstore's zarr driver",
     lambda m: m.get("zarr_format") == 2 and v2_compressor(m).get("id") == "lz4"),
    ("tensorstore", "tensorstore's zarr driver refuses the 'checksum' option of zstd",
     lambda m: m.get("zarr_format") == 2 and "checksum" in v2_compressor(m)),
    ("tensorstore", "fixed-length strings: no 'U' type; 'S' needs an n-byte fill value "
     "and reads back as zero-width numpy arrays in tensorstore's Python binding",
     lambda m: m.get("zarr_format") == 2 and str(m.get("dtype", ""))[1:2] in ("S", "U")),
    ("zarrs", "zarrs-python has no numcodecs 'lz4' compressor",
     lambda m: m.get("zarr_format") == 2 and v2_compressor(m).get("id") == "lz4"),
    ("zarrs", "zarrs-python refuses the 'checksum' option of v2 zstd",
     lambda m: m.get("zarr_format") == 2 and "checksum" in v2_compressor(m)),
    ("zarrs", "zarrs-python has no v2 fixed-length string types",
     lambda m: m.get("zarr_format") == 2 and str(m.get("dtype", ""))[1:2] in ("S", "U")),
    ("zarrs", "zarrs-python refuses non-native (big-endian) v2 data types",
     lambda m: m.get("zarr_format") == 2 and str(m.get("dtype", "")).startswith(">")),
    ("zarrs", "zarrs-python's pipeline fails on v2 order 'F' ('input array must be a C "
     "contiguous array')",
     lambda m: m.get("zarr_format") == 2 and m.get("order") == "F"),
    ("zarrs", "zarrs swaps the real and imaginary parts of big-endian v3 complex numbers",
     lambda m: m.get("zarr_format") == 3 and str(m.get("data_type", "")).startswith("complex")
     and (v3_codec(m, "bytes") or {}).get("configuration", {}).get("endian") == "big"),
    ("zarrs", "zarrs refuses a null fill value for v2 complex types",
     lambda m: m.get("zarr_format") == 2 and str(m.get("dtype", ""))[1:2] == "c"
     and m.get("fill_value") is None, r"incompatible fill value metadata: dtype=.c\d+, fill_value=null"),
]


def limitation(engine: str, meta: dict, why: str) -> str | None:
    for name, reason, pred, *pattern in LIMITATIONS:
        if name == engine and pred(meta) and (not pattern or re.search(pattern[0], why)):
            return reason
    return None


def needs_reference(reason: str) -> bool:
    return any(len(lim) == 3 and lim[1] == reason for lim in LIMITATIONS)


def describe(ex: BaseException) -> str:
    parts = []
    while ex is not None:
        parts.append(f"{type(ex).__name__}: {ex}")
        ex = ex.__cause__
    return " <- ".join(parts)


def tensorstore_read(entry: dict, root: Path) -> np.ndarray:
    import tensorstore as ts

    store = (root / entry["store"]).resolve()
    path = entry["array_path"].strip("/")
    if entry["store_type"] == "zip":
        kv = {"driver": "zip", "base": {"driver": "file", "path": str(store)}, "path": path + "/" if path else ""}
    else:
        kv = {"driver": "file", "path": str(store / path) + "/"}
    driver = "zarr" if entry["zarr_format"] == 2 else "zarr3"
    arr = ts.open({"driver": driver, "kvstore": kv, "open": True}, read=True).result()
    out = arr.read().result()
    return np.asarray(out)


def zarrs_read(entry: dict, root: Path) -> np.ndarray:
    import zarr
    import zarr.storage

    store_path = (root / entry["store"]).resolve()
    with zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline",
                          "codec_pipeline.strict": True}):
        if entry["store_type"] == "zip":
            store = zarr.storage.ZipStore(str(store_path), mode="r")
        else:
            store = zarr.storage.LocalStore(str(store_path), read_only=True)
        try:
            arr = zarr.open_array(store, path=entry["array_path"], mode="r",
                                  zarr_format=entry["zarr_format"])
            return np.asarray(arr[...])
        finally:
            store.close()


ENGINES = {"tensorstore": tensorstore_read, "zarrs": zarrs_read}


def verify(root: Path, manifest: Path, engines: list[str], quiet: bool) -> dict:
    """Reads every array with every engine; returns per engine the counts,
    the failures excused by a limitation (reason -> ids) and the others."""
    entries = json.loads(manifest.read_text())["arrays"]
    report = {e: {"passed": 0, "excused": {}, "failed": []} for e in engines}
    for entry in entries:
        expected = np.load(root / entry["expected"], allow_pickle=False)
        meta = stored_metadata(entry, root)
        for name in engines:
            r = report[name]
            try:
                ok, why = values_equal(ENGINES[name](entry, root), expected)
            except Exception as ex:  # noqa: BLE001 - any engine error is a failure
                ok, why = False, describe(ex)
            if ok:
                r["passed"] += 1
                continue
            reason = limitation(name, meta, why)
            if reason:
                r["excused"].setdefault(reason, []).append(entry["id"])
            else:
                r["failed"].append((entry["id"], why))
    print(f"{manifest}: {len(entries)} arrays")
    for name, r in report.items():
        n_exc = sum(len(v) for v in r["excused"].values())
        print(f"  {name}: {r['passed']} read exactly, {n_exc} not readable by {name} "
              f"(known limitations), {len(r['failed'])} failed")
        for reason, ids in r["excused"].items():
            print(f"    limitation ({len(ids)}): {reason}")
            if not quiet:
                print(f"      {', '.join(ids)}")
        for i, why in r["failed"]:
            print(f"    FAILED {i}: {why[:400]}")
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path)
    p.add_argument("manifest", type=Path)
    p.add_argument("--engines", default="tensorstore,zarrs")
    p.add_argument("--reference", type=Path,
                   help="manifest of zarr-python's stores: each limitation used must show there too")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    engines = [e for e in a.engines.split(",") if e]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        p.error(f"unknown engines {sorted(unknown)}; known: {sorted(ENGINES)}")
    report = verify(a.root, a.manifest, engines, a.quiet)
    bad = any(r["failed"] for r in report.values())
    if a.reference:
        ref = verify(a.reference.parent, a.reference, engines, True)
        for name, r in report.items():
            for reason in r["excused"]:
                if needs_reference(reason) and reason not in ref[name]["excused"]:
                    print(f"FAILED: {name}: limitation never seen on zarr-python's stores, so it may "
                          f"be zarrcore's fault: {reason}")
                    bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

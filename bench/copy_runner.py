#!/usr/bin/env python3
"""Runner for the side-by-side benchmark (../shared/bench, see its README for
the contract) that measures `zarrcore copy` on W5: the transpose op runs

    zarrcore copy SRC "" DST "" --transpose N-1,...,0 --chunks 64,... \
        --codec zstd:1 --zarr-format 3 --memory BUDGET --quiet --json

and reports the copy's own timer (open source, plan, create destination,
copy, flush). The other ops (write, read, random) are handed to
zarrcore-bench (--bench-bin), so that the harness's W1 store for this engine
exists and its smoke check passes; without --bench-bin they exit 64
(unsupported). Registered by bench/copy_bench.sh as engine `zarrcore_copy`.

Options before or after the op: --bin PATH (the zarrcore binary),
--bench-bin PATH (zarrcore-bench), --memory SIZE (default 256MiB),
--threads N (default: one per core).
"""
import json, os, subprocess, sys

def main():
    argv = sys.argv[1:]
    opts = {"bin": None, "bench-bin": None, "memory": "256MiB", "threads": None}
    rest = []
    i = 0
    while i < len(argv):
        a = argv[i]
        key = a[2:].split("=", 1)[0] if a.startswith("--") else None
        if key in opts or (key and key.replace("-", "_") in ("out_store", "store")):
            val = a.split("=", 1)[1] if "=" in a else argv[i + 1]
            opts[key if key in opts else key.replace("-", "_")] = val
            i += 1 if "=" in a else 2
            continue
        rest.append(a)
        i += 1
    op = rest[0] if rest else ""
    if op != "transpose" and opts["bench-bin"]:
        # Everything but the copy is zarrcore-bench's (the original arguments).
        args = [a for a in argv]
        drop = {"--bin", "--bench-bin", "--memory"}
        clean, i = [], 0
        while i < len(args):
            k = args[i].split("=", 1)[0]
            if k in drop:
                i += 1 if "=" in args[i] else 2
                continue
            clean.append(args[i])
            i += 1
        os.execv(opts["bench-bin"], [opts["bench-bin"], *clean])
    if op != "transpose":
        print(f"copy_runner: op {op!r} is not measured here (transpose only)", file=sys.stderr)
        sys.exit(64)
    src, dst = opts.get("store"), opts.get("out_store")
    if not src or not dst or not opts["bin"]:
        print("copy_runner: transpose needs --store, --out-store and --bin", file=sys.stderr)
        sys.exit(2)
    with open(os.path.join(src, "zarr.json")) as f:
        nd = len(json.load(f)["shape"])
    cmd = [opts["bin"], "copy", src, "", dst, "",
           "--transpose", ",".join(str(k) for k in reversed(range(nd))),
           "--chunks", ",".join(["64"] * nd), "--codec", "zstd:1", "--zarr-format", "3",
           "--memory", opts["memory"], "--overwrite", "--quiet", "--json"]
    if opts["threads"]:
        cmd += ["--threads", str(opts["threads"])]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        sys.exit(1)
    rep = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
    out = dict(engine="zarrcore_copy", engine_version=version(opts["bin"]), op="transpose",
               seconds=rep["seconds"], bytes=rep["bytes"], checksum=None,
               memory_budget=opts["memory"], plan=rep["plan"],
               source_decode_factor=rep["plan"]["decode_factor"],
               stored_bytes=rep["stored_bytes"])
    print(json.dumps(out), flush=True)

def version(binary):
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[-1]
    except Exception:
        return None

if __name__ == "__main__":
    main()

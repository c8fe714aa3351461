#!/usr/bin/env bash
# Benchmarks of `zarrcore copy` (docs/copy.md). Not part of the tests; run
# them on a quiet machine.
#
#   bench/copy_bench.sh w5 [bench.py args...]
#       W5 of the side-by-side benchmark (../shared/bench): 1 GiB uint16
#       1024x1024x512, 64^3 zstd-1 -> transposed 64^3 zstd-1. zarrcore-bench's
#       transpose op is the engine's out-of-core copy (`zarrcore copy`'s
#       code) with a 256 MiB budget; beside zarrs, TensorStore
#       and zarr-python+Dask (through bench/run.sh: builds the peers on first
#       use). Target: >= 450 MB/s, peak RSS <= 256 MB. Tables:
#       $BENCH_DIR/RESULTS.md.
#   bench/copy_bench.sh big [--shape 2048,2048,1024] [--memory 512MiB]
#       An 8 GiB source (uint16 2048x2048x1024, 64^3 zstd-1, generated once
#       into $COPY_BENCH_DIR) transposed by `zarrcore copy --memory 512MiB`
#       and by `dask.array.from_zarr(src).T.to_zarr(dst)` (same output
#       layout), each under /usr/bin/time -v: seconds, MB/s, peak RSS; the
#       outputs are checked on sampled blocks.
#   bench/copy_bench.sh smoke
#       `big` at a toy size (seconds): checks the script works (W5's own
#       smoke check is `bench/run.sh --smoke`, run by the tests).
#
# Environment: BENCH_DIR (harness copy, default /tmp/zarrcore-bench-harness),
# COPY_BENCH_DIR (big run's data, default /tmp/zarrcore-copy-bench),
# PY (a Python with zarr 3.1.6, numpy and dask; default: a venv made in
# $COPY_BENCH_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-}"
shift || true
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" = /* ]] || target="$root/$target"
bin="$target/release/zarrcore"

build() {
  echo "copy_bench: building zarrcore (release)"
  (cd "$root" && cargo build --release --quiet -p zarrcore-cli)
  [[ -x "$bin" ]] || { echo "copy_bench: $bin was not built" >&2; exit 1; }
}

python_with_dask() {
  if [[ -n "${PY:-}" ]] && "$PY" -c "import dask, zarr" 2>/dev/null; then echo "$PY"; return; fi
  local v="$work/.venv"
  if [[ ! -x "$v/bin/python" ]]; then
    python3 -m venv "$v" >&2
    "$v/bin/pip" install -q --disable-pip-version-check \
      zarr==3.1.6 numcodecs==0.16.6 numpy==2.4.6 dask==2026.8.0 crc32c >&2
  fi
  echo "$v/bin/python"
}

# Peak RSS (MB) and the last JSON line of a command run under /usr/bin/time -v.
timed() {
  local log; log="$(mktemp)"
  /usr/bin/time -v "$@" >"$log.out" 2>"$log.err" || { cat "$log.err" >&2; return 1; }
  local rss; rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.err")
  local js; js=$(grep '^{' "$log.out" | tail -1)
  echo "$js" | "$py" -c "import json,sys; d=json.loads(sys.stdin.read()); d['peak_rss_mb']=$rss/1024; print(json.dumps(d))"
  rm -f "$log" "$log.out" "$log.err"
}

big() {
  local shape="2048,2048,1024" memory="512MiB"
  while (($#)); do
    case "$1" in
      --shape) shape="$2"; shift 2 ;;
      --memory) memory="$2"; shift 2 ;;
      *) echo "copy_bench big: unknown option $1" >&2; exit 2 ;;
    esac
  done
  work="${COPY_BENCH_DIR:-/tmp/zarrcore-copy-bench}"
  mkdir -p "$work"
  py="$(python_with_dask)"
  local src="$work/src_${shape//,/x}.zarr"
  if [[ ! -f "$src/zarr.json" ]]; then
    echo "copy_bench: generating $src"
    "$py" "$root/bench/copy_big.py" gen "$src" --shape "$shape"
  fi
  rm -rf "$work/t_zarrcore.zarr" "$work/t_dask.zarr"
  echo "copy_bench: zarrcore copy --memory $memory"
  local zc; zc=$(timed "$bin" copy "$src" "" "$work/t_zarrcore.zarr" "" --transpose 2,1,0 \
      --chunks 64,64,64 --codec zstd:1 --zarr-format 3 --memory "$memory" --quiet --json)
  echo "copy_bench: dask.array.from_zarr(src).T.to_zarr(dst)"
  local dk; dk=$(timed "$py" "$root/bench/copy_big.py" dask "$src" "$work/t_dask.zarr")
  "$py" "$root/bench/copy_big.py" verify "$src" "$work/t_zarrcore.zarr" "$work/t_dask.zarr"
  ZC="$zc" DK="$dk" MEM="$memory" "$py" - <<'PYEOF'
import json, os
zc, dk = json.loads(os.environ["ZC"]), json.loads(os.environ["DK"])
print(f"\n| engine | seconds | MB/s | peak RSS (MB) |\n|---|---|---|---|")
for name, d in [(f"zarrcore copy --memory {os.environ['MEM']}", zc), ("dask from_zarr(src).T.to_zarr", dk)]:
    print(f"| {name} | {d['seconds']:.1f} | {d['bytes'] / d['seconds'] / 1e6:.0f} | {d['peak_rss_mb']:.0f} |")
print(f"\nzarrcore plan: {json.dumps(zc['plan'])}")
PYEOF
}

w5() {
  bash "$root/bench/run.sh" --engines zarrs,tensorstore,zarr-python,zarrcore --workloads W1,W5 "$@"
}

smoke() {
  smoke_tmp="$(mktemp -d)"
  trap 'rm -rf "$smoke_tmp"' EXIT
  COPY_BENCH_DIR="$smoke_tmp/big" big --shape 256,192,128 --memory 64MiB
  echo "copy_bench: smoke passed"
}

case "$mode" in
  w5) build; w5 "$@" ;;
  big) build; big "$@" ;;
  smoke) build; smoke ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac

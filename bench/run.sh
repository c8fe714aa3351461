#!/usr/bin/env bash
# The side-by-side Zarr engine benchmark (../shared/bench) with zarrcore
# registered as one more engine, in one command.
#
#   bench/run.sh [bench.py args...]   full suite: every peer + zarrcore, ratios
#                                     relative to zarrcore (--ref zarrcore);
#                                     runs the harness's run_all.sh (builds the
#                                     zarrs runner and zarrs_tools, measures the
#                                     physical limits, 1 GiB array, ~20-30 min)
#   bench/run.sh --smoke [args...]    quick check of zarrcore alone on a small
#                                     array (128x128x64), 1 rep, every op and
#                                     workload; bench.py verifies the checksums
#                                     and the W5 output with zarr-python
#
# Extra args go to bench.py and override the defaults (e.g.
# `bench/run.sh --engines zarrs,tensorstore,zarrcore --workloads W1,W4`,
# `--ref zarrs`, `--reps 5`); SKIP_PHYS=1 skips the physical limits.
#
# Environment: BENCH_SRC (harness to copy; default ../shared/bench beside the
# repository), BENCH_DIR (writable copy; default /tmp/zarrcore-bench-harness,
# kept between runs so data, venv and peer builds are reused), PY (a Python
# with the harness's pinned packages; default: the harness makes its own venv),
# CARGO_TARGET_DIR (honoured when locating the binary).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${BENCH_SRC:-$root/../shared/bench}"
dir="${BENCH_DIR:-/tmp/zarrcore-bench-harness}"
smoke=""
if [[ "${1:-}" == "--smoke" ]]; then
  smoke=1
  shift
fi

[[ -f "$src/bench.py" ]] || { echo "run.sh: no benchmark harness at $src (set BENCH_SRC)" >&2; exit 1; }

echo "run.sh: building zarrcore-bench (release)"
(cd "$root" && cargo build --release --quiet -p zarrcore-bench)
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" = /* ]] || target="$root/$target"
bin="$target/release/zarrcore-bench"
[[ -x "$bin" ]] || { echo "run.sh: $bin was not built" >&2; exit 1; }

# A writable copy of the harness (the original is read-only). Harness files
# are refreshed on every run; data/, results/, .venv/ and peer builds stay.
mkdir -p "$dir"
chmod -R u+w "$dir"
cp -rfT "$src" "$dir"
chmod -R u+w "$dir"
cd "$dir"
echo "run.sh: harness in $dir; zarrcore = $bin ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown))"

if [[ -z "$smoke" ]]; then
  ./run_all.sh --engine "zarrcore=$bin" --ref zarrcore "$@"
  echo "run.sh: tables in $dir/RESULTS.md, raw records in $dir/results/"
  exit 0
fi

# Smoke: zarrcore alone, small array, one rep. Python only needs numpy and
# zarr-python (bench.py's checksums and W5 verification); a separate small
# venv so that run_all.sh still builds its full one on first use.
if [[ -z "${PY:-}" ]]; then
  if [[ ! -x .venv-smoke/bin/python ]]; then
    python3 -m venv .venv-smoke
    .venv-smoke/bin/pip install -q --disable-pip-version-check \
      zarr==3.1.6 numcodecs==0.16.6 numpy==2.4.6 crc32c
  fi
  PY="$PWD/.venv-smoke/bin/python"
fi
export PATH="$(dirname "$PY"):$PATH"   # engines.json calls python3 (as run_all.sh does)
[[ -f data/small.npy ]] || "$PY" scripts/gen_data.py data/small.npy --shape 128,128,64
log="$(mktemp)"
"$PY" bench.py --reps 1 --npy data/small.npy --tag smoke --engines zarrcore \
  --engine "zarrcore=$bin" --ref zarrcore --out results/results_smoke.json "$@" | tee "$log"
# Every run must be ok with a matching checksum, and W5 must verify.
fail=0
grep -E ' (error|timeout|unsupported) ' "$log" && fail=1
grep -E 'ck=False' "$log" && fail=1
if grep -q ' transpose ' "$log"; then
  grep -q 'transpose verify zarrcore: ok' "$log" || { echo "run.sh: W5 output did not verify" >&2; fail=1; }
fi
rm -f "$log"
if ((fail)); then
  echo "run.sh: smoke test FAILED" >&2
  exit 1
fi
echo "run.sh: smoke test passed (tables in $dir/RESULTS_smoke.md)"

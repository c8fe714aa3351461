#!/usr/bin/env bash
# The benchmark runner (bench/) driven by the real harness (../shared/bench):
# every op and workload once on a small 128x128x64 array; bench.py checks the
# checksums and verifies the W5 output with zarr-python. Takes seconds; it is
# a correctness check of the runner, not a measurement.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The test command's venv has numpy and the pinned zarr-python; without it,
# run.sh makes a small venv of its own.
if [[ -z "${PY:-}" && -x "$root/.venv/bin/python" ]]; then
  export PY="$root/.venv/bin/python"
fi
BENCH_DIR="$tmp/harness" timeout 900 bash "$root/bench/run.sh" --smoke

#!/usr/bin/env bash
# The main job on a local directory store: make a 3-D array with NumPy, import
# it into a compressed Zarr v3 store, inspect it, export a region back to .npy
# and check the values. Uses (and creates) the same venv as the tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
py="$root/.venv/bin/python"
cargo build --release --quiet -p zarrcore-cli
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" = /* ]] || target="$root/$target"
z="$target/release/zarrcore"
work="$(mktemp -d "${TMPDIR:-/tmp}/zarrcore-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$py" - "$work/temperature.npy" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(1)
t = (15 + 10 * np.sin(np.linspace(0, 6, 256))[:, None, None]
     + rng.normal(0, 0.5, (256, 180, 360))).astype("<f4")
np.save(sys.argv[1], t)
PY
"$z" import "$work/temperature.npy" "$work/climate.zarr" temperature --chunks 32,90,90 --codec zstd:3
"$z" tree "$work/climate.zarr"
"$z" info "$work/climate.zarr" temperature
"$z" export "$work/climate.zarr" temperature "$work/week.npy" --region 7:14,:,:
"$py" - "$work" <<'PY'
import sys, numpy as np, zarr
w = sys.argv[1]
t = np.load(f"{w}/temperature.npy")
assert (np.load(f"{w}/week.npy") == t[7:14]).all()
assert (zarr.open_array(f"{w}/climate.zarr/temperature", mode="r")[:] == t).all()
print("demo: exported region and zarr-python's read of the store match the source exactly")
PY

#!/usr/bin/env bash
# The FUSE mount suite (real mounts): shell tools on a mounted fixture store
# (cat, dd, cp, sha256sum, du) against `zarrcore export`, then the Python
# mount tests (tests/fuse), then a smoke run of the mount benchmark. Every
# step is bounded by a timeout and every mount is removed on exit, also
# when a step fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
Z="${ZARRCORE_BIN:-$root/target/release/zarrcore}"
[[ -x "$Z" ]] || cargo build --release --quiet -p zarrcore-cli
export ZARRCORE_BIN="$Z"
fixtures="${ZARRCORE_FIXTURES:-$root/../shared/fixtures/zarr}"
export ZARRCORE_FIXTURES="$fixtures"
py="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$py" ]] || py=python3
if [[ ! -e /dev/fuse ]] || ! command -v fusermount3 >/dev/null; then
  echo "fuse suite: /dev/fuse and fusermount3 are required (scripts/setup.sh installs fuse3)" >&2
  exit 1
fi

work="$(mktemp -d)"
cleanup() {
  local rc=$?
  set +e
  # Unmount anything still mounted under the work directory.
  grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | while read -r m; do
    timeout 30 "$Z" umount "$m" --timeout 20 >/dev/null 2>&1 || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  rm -rf "$work" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT

t() { timeout -k 5 "$@"; }

echo "fuse: shell tools on a read-only mount"
mnt="$work/m"; mkdir -p "$mnt"
store="$fixtures/stores/hierarchy_v2.zarr"
t 60 "$Z" mount "$store" "$mnt"
for arr in dtypes/big/float64 dtypes/little/int16 dtypes/big/complex64 strings/s_beU4; do
  t 60 "$Z" export "$store" "$arr" "$work/exp.npy"
  # The .npy of the mount is byte for byte what export writes.
  cmp "$work/exp.npy" "$mnt/$arr.npy"
  t 30 cat "$mnt/$arr.npy" | cmp - "$work/exp.npy"
  t 30 dd if="$mnt/$arr.npy" of="$work/dd.npy" bs=7 status=none
  cmp "$work/dd.npy" "$work/exp.npy"
  t 30 cp "$mnt/$arr.npy" "$work/cp.npy"
  [[ "$(sha256sum < "$work/cp.npy")" == "$(t 30 sha256sum < "$mnt/$arr.npy")" ]]
  hdr=$(( $(stat -c %s "$mnt/$arr.npy") - $(stat -c %s "$mnt/$arr.raw") ))
  tail -c +$((hdr + 1)) "$work/exp.npy" | cmp - "$mnt/$arr.raw"
done
t 30 du -s "$mnt" >/dev/null
t 60 "$Z" umount "$mnt"
if grep -qF " $mnt " /proc/self/mountinfo; then echo "fuse: still mounted" >&2; exit 1; fi

echo "fuse: cp of a .npy into a read-write mount, then export"
t 60 "$Z" mount "$work/new.zarr" "$mnt" --rw
t 60 "$Z" export "$store" dtypes/big/float64 "$work/src.npy"
t 30 cp "$work/src.npy" "$mnt/copied.npy"
t 60 "$Z" umount "$mnt"
t 60 "$Z" export "$work/new.zarr" copied "$work/back.npy"
"$py" - "$work/src.npy" "$work/back.npy" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), "copied array differs"
PY

echo "fuse: python mount tests"
t 900 "$py" -m pytest -q -p no:cacheprovider --timeout 300 tests/fuse

echo "fuse: benchmark script smoke run (tiny sizes)"
t 300 bash bench/mount_bench.sh --smoke

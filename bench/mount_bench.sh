#!/usr/bin/env bash
# Mount benchmark (not run by the tests; the lead runs it on a quiet machine).
#
#   bash bench/mount_bench.sh [--size 1GiB] [--dir DIR] [--smoke]
#
# 1. Sequential read of a SIZE .raw through a read-only mount, with 1 and 4
#    reader processes (each reads its quarter), beside `zarrcore export` of
#    the same array (the library's direct read, written to /dev/shm) and a
#    plain read of the exported .npy from the page cache.
# 2. numpy.save of a SIZE array into a read-write mount beside `zarrcore
#    import` of the same .npy.
# Page caches are dropped before each cold run when possible (root).
# --smoke runs everything on a 16 MiB array (checks the script works).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
Z="${ZARRCORE_BIN:-$root/target/release/zarrcore}"
py="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$py" ]] || py=python3
size="1GiB"; dir=""; smoke=0
while (($#)); do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --smoke) smoke=1; size="16MiB"; shift ;;
    *) echo "usage: $0 [--size SIZE] [--dir DIR] [--smoke]" >&2; exit 2 ;;
  esac
done
[[ -x "$Z" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
work="$(mktemp -d "${dir:-${TMPDIR:-/tmp}}/zarrcore-bench.XXXXXX")"
mnt="$work/mnt"; mkdir -p "$mnt"
cleanup() {
  local rc=$?
  set +e
  if grep -qF " $mnt " /proc/self/mountinfo; then
    timeout 60 "$Z" umount "$mnt" >/dev/null 2>&1 || fusermount3 -u -z "$mnt" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
bytes=$("$py" -c "import sys; u={'k':1<<10,'m':1<<20,'g':1<<30}; s=sys.argv[1].lower().rstrip('ib').rstrip('b'); print(int(float(s[:-1])*u[s[-1]]) if s[-1] in u else int(s))" "$size")
rows=$(( bytes / (8 * 4096) ))
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
rate() { "$py" -c "import sys; b,t=float(sys.argv[1]),float(sys.argv[3])-float(sys.argv[2]); print(f'{b/t/2**20:9.1f} MiB/s  ({t:.2f} s)')" "$1" "$2" "$3"; }

echo "array: ${rows} x 4096 float64 ($(( rows * 4096 * 8 >> 20 )) MiB), zstd:1, 1 MiB chunks; $(nproc) cores"
"$py" - "$work/src.npy" "$rows" <<'PY'
import sys, numpy as np
rows = int(sys.argv[2])
a = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype="<f8", shape=(rows, 4096))
rng = np.random.default_rng(0)
step = max(1, rows // 64)
for r in range(0, rows, step):
    n = min(step, rows - r)
    # Smooth data with noise: compresses like real measurements.
    a[r:r + n] = np.cumsum(rng.standard_normal((n, 4096)), axis=1).round(3)
a.flush()
PY
npy_bytes=$(stat -c %s "$work/src.npy")

echo; echo "== write =="
drop; t0=$(now); "$Z" import "$work/src.npy" "$work/imp.zarr" x --codec zstd:1 >/dev/null; t1=$(now)
printf "zarrcore import            "; rate "$npy_bytes" "$t0" "$t1"
"$Z" mount "$work/mnt.zarr" "$mnt" --rw --codec zstd:1
drop; t0=$(now)
"$py" -c "import sys, numpy as np; a=np.load(sys.argv[1], mmap_mode='r'); np.save(sys.argv[2], a)" "$work/src.npy" "$mnt/x.npy"
t1=$(now)
"$Z" umount "$mnt"
printf "numpy.save into the mount  "; rate "$npy_bytes" "$t0" "$t1"

echo; echo "== sequential read =="
raw_bytes=$(( rows * 4096 * 8 ))
drop; t0=$(now); "$Z" export "$work/imp.zarr" x /dev/shm/zarrcore-bench-$$.npy >/dev/null; t1=$(now)
printf "zarrcore export            "; rate "$raw_bytes" "$t0" "$t1"
cat /dev/shm/zarrcore-bench-$$.npy > /dev/null
t0=$(now); cat /dev/shm/zarrcore-bench-$$.npy > /dev/null; t1=$(now)
printf "plain file, page cache     "; rate "$raw_bytes" "$t0" "$t1"
rm -f /dev/shm/zarrcore-bench-$$.npy
"$Z" mount "$work/imp.zarr" "$mnt"
for procs in 1 4; do
  drop; t0=$(now)
  part=$(( raw_bytes / procs ))
  for ((i = 0; i < procs; i++)); do
    dd if="$mnt/x.raw" of=/dev/null bs=4M iflag=skip_bytes,count_bytes skip=$(( i * part )) count=$part status=none &
  done
  wait; t1=$(now)
  printf "mount .raw, %d reader(s)    " "$procs"; rate "$raw_bytes" "$t0" "$t1"
done
t0=$(now); cat "$mnt/x.raw" > /dev/null; t1=$(now)
printf "mount .raw, kernel cache   "; rate "$raw_bytes" "$t0" "$t1"
"$Z" umount "$mnt"
if ((smoke)); then
  # The smoke run checks that what was written through the mount reads back.
  "$Z" export "$work/mnt.zarr" x "$work/back.npy" >/dev/null
  cmp <(tail -c "$raw_bytes" "$work/src.npy") <(tail -c "$raw_bytes" "$work/back.npy")
  echo "smoke run ok"
fi

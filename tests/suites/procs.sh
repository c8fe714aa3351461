#!/usr/bin/env bash
# Many processes, one array (issue 12), through the C API: builds
# tests/ffi/test_procs.c against the INSTALLED libzarrcore (make install into
# a temporary prefix, found with pkg-config; gcc -std=c99 -Wall -Wextra
# -Werror -pedantic) and runs its self-test -- four writer processes writing
# interleaved 1x1xK strips into shared chunks, flushing often, then every
# element checked -- natively and under AddressSanitizer + UBSan.
# The full matrix (C, Rust and CLI writers, N = 4 and 8, v2/v3, sharded,
# directory and S3, Busy, SIGKILL, servers without conditional writes) is
# tests/python/test_procs.py, which runs with pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/zarrcore-procs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
command -v gcc >/dev/null || fail "procs suite: gcc is missing"
command -v pkg-config >/dev/null || fail "procs suite: pkg-config is missing"

prefix="$work/prefix"
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags="$(pkg-config --cflags zarrcore)"
libs="$(pkg-config --libs zarrcore) -Wl,-rpath,$prefix/lib"
cstd=(-std=c99 -Wall -Wextra -Werror -pedantic -pthread -Itests/ffi)
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g)
gcc "${cstd[@]}" tests/ffi/test_procs.c -o "$work/test_procs" $cflags $libs
gcc "${cstd[@]}" "${san[@]}" tests/ffi/test_procs.c -o "$work/test_procs.asan" $cflags $libs

for kind in native asan; do
  exe="$work/test_procs"
  [[ "$kind" == asan ]] && exe="$work/test_procs.asan"
  dir="$work/run_$kind"
  mkdir -p "$dir"
  start=$(date +%s%N)
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       timeout 600 "$exe" "$dir" > "$work/$kind.out" 2> "$work/$kind.err"; then
    cat "$work/$kind.out" "$work/$kind.err" >&2
    fail "test_procs ($kind): four C writer processes lost updates or failed"
  fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "    ($kind, ${ms} ms) $(tail -n 1 "$work/$kind.out")"
done
echo "--> procs: all checks passed"

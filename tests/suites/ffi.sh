#!/usr/bin/env bash
# libzarrcore, the C ABI: install it into a temporary prefix with
# `make install`, then, against the INSTALLED header and library (found with
# pkg-config):
#   - the header regenerates identically (pinned cbindgen) and compiles
#     alone as C99 and C++17 with -Wall -Wextra -Werror -pedantic, defining
#     nothing outside the ZARRCORE_ namespace;
#   - `nm -D` of the shared library exports exactly the header's functions;
#     the soname is libzarrcore.so.0; the static library links too;
#   - the C tests (gcc -std=c99 -Wall -Wextra -Werror -pedantic) and the C++
#     wrapper tests (g++ -std=c++17) pass natively, under valgrind (zero
#     errors, zero definite/indirect leaks) and under AddressSanitizer +
#     UBSan (with LeakSanitizer);
#   - a C program reads every public fixture of the zarr-python corpus;
#   - the C and C++ examples build and run;
#   - every ccall of examples/julia/ZarrCore.jl matches the header.
# The ctypes suite (tests/python/test_ffi_ctypes.py) runs with pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
fixtures="${ZARRCORE_FIXTURES:-$root/../shared/fixtures/zarr}"
py="$root/.venv/bin/python"
[[ -x "$py" ]] || py="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/zarrcore-ffi.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
bin="$work/bin"
mkdir -p "$bin"
start=$(date +%s)
step() { echo "--> ffi: $* ($(( $(date +%s) - start ))s)"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
# A hung test must not hang the suite.
run() { timeout 900 "$@"; }

step "make install PREFIX=$prefix"
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[[ "$(pkg-config --modversion zarrcore)" == "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)" ]] \
  || fail "pkg-config version"
for f in lib/libzarrcore.so lib/libzarrcore.so.0 lib/libzarrcore.a include/zarrcore.h \
         include/zarrcore.hpp lib/pkgconfig/zarrcore.pc; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
so="$prefix/lib/libzarrcore.so.0"
readelf -d "$so" | grep -q 'SONAME.*\[libzarrcore\.so\.0\]' || fail "soname is not libzarrcore.so.0"
cflags="$(pkg-config --cflags zarrcore)"
libs="$(pkg-config --libs zarrcore) -Wl,-rpath,$prefix/lib"
hdr="$prefix/include/zarrcore.h"

step "the committed header is what cbindgen generates"
cargo test -q --profile "${ZARRCORE_CARGO_PROFILE:-dev}" -p zarrcore-ffi --test header 2>&1 | tail -n 3
cmp -s include/zarrcore.h "$hdr" || fail "installed header differs from include/zarrcore.h"

"$py" tests/ffi/header_api.py --check-docs include/zarrcore.h

step "the header compiles alone (C99, C++17) and defines only ZARRCORE_* macros"
printf '#include <zarrcore.h>\nint main(void) { return zarrcore_version() == ZARRCORE_VERSION_NUMBER ? 0 : 1; }\n' \
  > "$work/alone.c"
cp "$work/alone.c" "$work/alone.cpp"
gcc -std=c99 -Wall -Wextra -Werror -pedantic $cflags -c "$work/alone.c" -o "$work/alone_c.o"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic $cflags -c "$work/alone.cpp" -o "$work/alone_cpp.o"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic $cflags -fsyntax-only -x c++ - <<< '#include <zarrcore.hpp>'
# Twice in one translation unit is harmless (include guard).
printf '#include <zarrcore.h>\n#include <zarrcore.h>\n' | gcc -std=c99 -Wall -Werror -pedantic $cflags -fsyntax-only -x c -
printf '#include <stddef.h>\n#include <stdint.h>\n' | gcc -std=c99 -dM -E -x c - | sort > "$work/macros_base"
printf '#include <zarrcore.h>\n' | gcc -std=c99 $cflags -dM -E -x c - | sort > "$work/macros_hdr"
extra="$(comm -13 "$work/macros_base" "$work/macros_hdr" | awk '{print $2}' | grep -v '^ZARRCORE_' || true)"
[[ -z "$extra" ]] || fail "the header defines macros outside ZARRCORE_: $extra"

step "nm -D exports exactly the header's functions"
"$py" tests/ffi/header_api.py "$hdr" | sort > "$work/header_funcs"
nm -D --defined-only "$so" | awk '{print $3}' | sort > "$work/exports"
if ! diff -u "$work/header_funcs" "$work/exports"; then
  fail "exported symbols differ from the header's functions (- header, + library)"
fi
echo "    $(wc -l < "$work/exports") exported functions = $(wc -l < "$work/header_funcs") declared"

step "build the C tests (gcc -std=c99 -Wall -Wextra -Werror -pedantic) and C++ tests (g++ -std=c++17)"
cstd=(-std=c99 -Wall -Wextra -Werror -pedantic -pthread -Itests/ffi)
cxxstd=(-std=c++17 -Wall -Wextra -Werror -pedantic -pthread)
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g)
ctests=(test_api test_errors test_threads test_fixtures test_copy)
for t in "${ctests[@]}"; do
  gcc "${cstd[@]}" "tests/ffi/$t.c" -o "$bin/$t" $cflags $libs -lm
  gcc "${cstd[@]}" "${san[@]}" "tests/ffi/$t.c" -o "$bin/$t.asan" $cflags $libs -lm
done
g++ "${cxxstd[@]}" tests/ffi/test_wrapper.cpp -o "$bin/test_wrapper" $cflags $libs
g++ "${cxxstd[@]}" "${san[@]}" tests/ffi/test_wrapper.cpp -o "$bin/test_wrapper.asan" $cflags $libs
# The static library links and works as well.
gcc "${cstd[@]}" tests/ffi/test_api.c -o "$bin/test_api.static" $cflags \
  "$prefix/lib/libzarrcore.a" $(pkg-config --libs-only-l --static zarrcore | sed 's/-lzarrcore//')

"$py" tests/ffi/digest_manifest.py "$fixtures/manifest.json" "$work/fixtures.txt"
args_for() {  # the argument of each test: a fresh work directory, or the digest
  if [[ "$1" == test_fixtures ]]; then echo "$work/fixtures.txt"; else
    local d="$work/run_$1_$2"; rm -rf "$d"; mkdir -p "$d"; echo "$d"; fi
}

step "run natively"
for t in "${ctests[@]}" test_wrapper; do
  run "$bin/$t" "$(args_for "$t" native)" 2> "$work/$t.err" | tail -n 1 \
    || { cat "$work/$t.err" >&2; fail "$t"; }
done
run "$bin/test_api.static" "$(args_for test_api static)" | sed 's/^test_api/test_api (static)/'

step "run under valgrind (zero errors, zero definite/indirect leaks)"
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect)
for t in "${ctests[@]}" test_wrapper; do
  if ! run "${vg[@]}" --log-file="$work/$t.vg" "$bin/$t" "$(args_for "$t" vg)" \
       2> "$work/$t.err" | tail -n 1; then
    cat "$work/$t.vg" "$work/$t.err" >&2
    fail "$t under valgrind"
  fi
  grep -q "ERROR SUMMARY: [1-9]" "$work/$t.vg" && { cat "$work/$t.vg" >&2; fail "$t: valgrind errors"; }
  grep -Eq "(definitely|indirectly) lost: [1-9]" "$work/$t.vg" && { cat "$work/$t.vg" >&2; fail "$t: leaks"; }
  echo "    $t: valgrind clean"
done

step "run under AddressSanitizer + UBSan (LeakSanitizer on)"
for t in "${ctests[@]}" test_wrapper; do
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
       run "$bin/$t.asan" "$(args_for "$t" asan)" 2> "$work/$t.asan.err" | tail -n 1; then
    cat "$work/$t.asan.err" >&2
    fail "$t under AddressSanitizer"
  fi
done

step "examples (C, C++)"
gcc -std=c99 -Wall -Wextra -Werror -pedantic examples/c/create_write_read.c -o "$bin/ex_create" $cflags $libs
gcc -std=c99 -Wall -Wextra -Werror -pedantic -pthread examples/c/threads.c -o "$bin/ex_threads" $cflags $libs
g++ -std=c++17 -Wall -Wextra -Werror -pedantic examples/cpp/example.cpp -o "$bin/ex_cpp" $cflags $libs
run "$bin/ex_create" "$work/ex.zarr" > "$work/ex_create.out" || fail "examples/c/create_write_read.c"
run "$bin/ex_threads" "$work/ex_threads.zarr" > "$work/ex_threads.out" || fail "examples/c/threads.c"
run "$bin/ex_cpp" "$work/ex_cpp.zarr" > "$work/ex_cpp.out" || fail "examples/cpp/example.cpp"
# What the C example wrote reads back in zarr-python exactly.
"$py" - "$work/ex.zarr" <<'EOF'
import sys
import numpy as np
import zarr
a = zarr.open_array(sys.argv[1], path="measurements/temperature", mode="r")
i, j = np.meshgrid(np.arange(100), np.arange(200), indexing="ij")
assert a.shape == (100, 200) and a.chunks == (32, 64)
np.testing.assert_array_equal(a[:], i + j / 1000.0)
print("    zarr-python reads the C example's array exactly")
EOF

step "Julia bindings: every ccall matches the header"
"$py" tests/ffi/check_julia_ccalls.py "$hdr" examples/julia/ZarrCore.jl

step "all ffi checks passed"

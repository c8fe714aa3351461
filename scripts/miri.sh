#!/usr/bin/env bash
# Runs the core's unsafe-code tests under Miri (docs/reliability.md):
# core/tests/unsafe_paths.rs (strided copies, DisjointOut from several
# threads, all_equal alignments, cache slabs) and the `nd` unit tests. The
# c-blosc FFI test is skipped under Miri (it cannot call C); valgrind covers
# it in tests/suites/reliability.sh. Needs a nightly toolchain with the miri
# component (`rustup +nightly component add miri rust-src`); exits 0 with a
# note when there is none.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: no nightly toolchain with Miri here; skipped"
  exit 0
fi
# Anonymous mmap (the cache's slabs) and the thread pool need these.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-many-seeds=0..2}"
export ZARRCORE_THREADS=2
# A fixed cache budget: Miri cannot answer sysconf(_SC_PHYS_PAGES).
export ZARRCORE_CACHE_BYTES=64MiB
cargo +nightly miri test -p zarrcore --lib -- nd::
cargo +nightly miri test -p zarrcore --test unsafe_paths -- --test-threads=1

#!/usr/bin/env bash
# Reliability suite (docs/reliability.md): more SIGKILL iterations of the CLI
# import crash test against the release binary, and `zarrcore check` on
# every fixture store. Optional, off by default (they need a nightly
# toolchain and cargo-fuzz, which CI does not have):
#   ZARRCORE_FUZZ_SECS=N   also run every fuzz target N seconds (fuzz/run.sh)
#   ZARRCORE_MIRI=1        also run the core's unsafe-code tests under Miri
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
bin="${ZARRCORE_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --release --quiet -p zarrcore-cli
  bin="$root/target/release/zarrcore"
fi
fixtures="${ZARRCORE_FIXTURES:-$root/../shared/fixtures/zarr}"

echo "reliability: zarrcore check on every fixture store"
for s in "$fixtures"/stores/*; do
  timeout 300 "$bin" check "$s" > /dev/null || { echo "check failed on $s"; exit 1; }
done

iters="${ZARRCORE_CRASH_ITERS:-40}"
echo "reliability: import killed with SIGKILL, $iters times per scenario"
ZARRCORE_BIN="$bin" ZARRCORE_CRASH_ITERS="$iters" timeout 1200 \
  cargo test --quiet --profile "${ZARRCORE_CARGO_PROFILE:-dev}" -p zarrcore-cli --test crash_import -- --nocapture

if command -v valgrind >/dev/null; then
  echo "reliability: unsafe-code tests under valgrind memcheck"
  exe=$(cargo test --profile "${ZARRCORE_CARGO_PROFILE:-dev}" -p zarrcore --test unsafe_paths --no-run 2>&1 \
        | grep -o '[^ ()]*/deps/unsafe_paths-[0-9a-f]*' | head -1)
  [[ -n "$exe" ]] || { echo "reliability: unsafe_paths test binary not found"; exit 1; }
  ZARRCORE_TEST_LIGHT=1 ZARRCORE_THREADS=2 timeout 1200 \
    valgrind --error-exitcode=99 -q "$exe" --test-threads=2 -q
else
  echo "reliability: valgrind not installed; memcheck run skipped"
fi

if [[ -n "${ZARRCORE_FUZZ_SECS:-}" ]]; then
  bash fuzz/run.sh "$ZARRCORE_FUZZ_SECS"
fi
if [[ -n "${ZARRCORE_MIRI:-}" ]]; then
  bash scripts/miri.sh
fi
echo "reliability: ok"

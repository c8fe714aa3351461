#!/usr/bin/env bash
# The test command (README): installs what is needed, then runs every suite:
# formatting and lints, Rust unit/integration tests, and the interop suites
# against zarr-python. Exits non-zero on the first failing suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# One build for everything: the unit tests and the suites' binaries all use
# the release profile, here without LTO or debug info (a much faster build)
# but with debug assertions and overflow checks on, as in a debug build.
# Building the dependencies once instead of in two profiles halves the build.
# The benchmark (bench/run.sh, outside the tests) uses the full profile.
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export ZARRCORE_CARGO_PROFILE=release
export ZARRCORE_FIXTURES="${ZARRCORE_FIXTURES:-$root/../shared/fixtures/zarr}"
start=$(date +%s)
step() { echo; echo "==> $* ($(( $(date +%s) - start ))s)"; }

step "setup"
bash scripts/setup.sh
export PATH="$root/.venv/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo build (every target: binaries for the suites, test executables)"
cargo build --workspace --release --all-targets --quiet
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" = /* ]] || target="$root/$target"
export ZARRCORE_BIN="$target/release/zarrcore"
export ZARRCORE_ENGINE_HELPER="$target/release/zarrcore-engine-helper"
export ZARRCORE_FFI_LIB="$target/release/libzarrcore.so"

step "cargo test"
cargo test --workspace --release --quiet

for suite in tests/suites/*.sh; do
  [[ -e "$suite" ]] || continue
  step "suite $(basename "$suite")"
  bash "$suite"
done

step "python interop tests"
python -m pytest -q tests/python

step "all tests passed"

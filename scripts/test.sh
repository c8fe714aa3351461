#!/usr/bin/env bash
# The test command (README): installs what is needed, then runs every suite:
# formatting and lints, Rust unit/integration tests, and the interop suites
# against zarr-python. Exits non-zero on the first failing suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Release binaries for the suites without LTO or debug info: a much faster
# build; the benchmark (bench/run.sh outside the tests) uses the full profile.
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_DEBUG=0
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

step "cargo build (release binaries for the interop suites)"
cargo build --workspace --release --quiet
export ZARRCORE_BIN="$root/target/release/zarrcore"

step "cargo test"
cargo test --workspace --quiet

for suite in tests/suites/*.sh; do
  [[ -e "$suite" ]] || continue
  step "suite $(basename "$suite")"
  bash "$suite"
done

step "python interop tests"
python -m pytest -q tests/python

step "all tests passed"

#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each, seeded
# from the fixture corpus, and prints a summary line per target.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 120 s)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). With a nightly toolchain
# (`cargo +nightly`) the targets are built with AddressSanitizer; on stable
# alone they are built with RUSTC_BOOTSTRAP=1 and `--sanitizer none`
# (libFuzzer with coverage instrumentation, debug assertions, overflow
# checks; no ASan). Every run limits single allocations (-malloc_limit_mb)
# so a decoder that trusts a size header fails as a crash.
# Crashing inputs land in fuzz/artifacts/TARGET/; the summary goes to
# fuzz/results/last-run.txt (appended). Keep the machine's load in mind: one
# job.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${1:-120}"
shift || true
all=(metadata_v2 metadata_v3 decode_zstd decode_blosc decode_gzip decode_zlib decode_lz4
     decode_crc32c decode_bz2 decode_lzma decode_checksum32 decode_filters decode_vlen
     sharding chunk npy_header region)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
fixtures="${ZARRCORE_FIXTURES:-$here/../../shared/fixtures/zarr}"

if cargo +nightly --version >/dev/null 2>&1; then
  tc=(+nightly); san=(); mode="nightly, AddressSanitizer"
else
  export RUSTC_BOOTSTRAP=1
  tc=(); san=(--sanitizer none); mode="stable (RUSTC_BOOTSTRAP=1), no sanitizer"
fi
# The C libraries behind the zstd and blosc codecs are built by `cc`; with
# clang they can be instrumented too (coverage feedback and ASan inside
# c-blosc and libzstd): ZARRCORE_FUZZ_CLANG=1 (needs Debian's clang).
if [[ -n "${ZARRCORE_FUZZ_CLANG:-}" ]] && command -v clang >/dev/null; then
  export CC=clang
  if [[ ${#san[@]} -eq 0 ]]; then
    export CFLAGS="-fsanitize=fuzzer-no-link,address"
  else
    export CFLAGS="-fsanitize=fuzzer-no-link"
  fi
  mode="$mode; C code instrumented by clang ($CFLAGS)"
fi
echo "fuzz: toolchain: $mode; $secs s per target"

rm -rf "$here/seeds"
python3 "$here/seeds.py" "$fixtures" "$here/seeds"
mkdir -p "$here/corpus" "$here/results"
out="$here/results/last-run.txt"
echo "# $(date -u +%FT%TZ) $mode, $secs s per target" >> "$out"
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  log="$here/results/$t.log"
  start=$(date +%s)
  set +e
  cargo "${tc[@]}" fuzz run "${san[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 > "$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  crashes=$(find "artifacts/$t" -type f | wc -l)
  line="$t: exit $rc, ${took}s wall (fuzzing ${secs}s), $execs execs, corpus $(ls "corpus/$t" | wc -l), artifacts $crashes"
  echo "$line" | tee -a "$out"
  [[ $rc -eq 0 ]] || status=1
done
exit $status

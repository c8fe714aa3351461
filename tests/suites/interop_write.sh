#!/usr/bin/env bash
# The write direction of the interop tests: zarrcore writes arrays and groups
# for every format/dtype/codec combination of the zarr-python fixture corpus
# (core/examples/interop_corpus.rs), with a manifest in the corpus format and
# the expected values; then the corpus's own verify_with_zarr_python.py checks
# with the pinned zarr-python that it reads every one exactly (metadata in
# full, not --values-only). Then TensorStore and zarrs (zarrs-python's codec
# pipeline) read every array of the same corpus exactly, failures excused only
# by limitations the peer also shows on zarr-python's own stores
# (tests/python/verify_peers.py). Writes only to a temporary directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
fixtures="${ZARRCORE_FIXTURES:-$root/../shared/fixtures/zarr}"
verify="$fixtures/../verify_with_zarr_python.py"
py="${ZARRCORE_PYTHON:-$root/.venv/bin/python}"
for f in "$fixtures/manifest.json" "$verify" "$py"; do
  [[ -e "$f" ]] || { echo "interop_write: missing $f (run scripts/setup.sh; fixtures at ../shared/fixtures)" >&2; exit 1; }
done
out="$(mktemp -d "${TMPDIR:-/tmp}/zarrcore-interop-write.XXXXXX")"
trap 'rm -rf "$out"' EXIT

timeout 1200 cargo run --quiet --profile "${ZARRCORE_CARGO_PROFILE:-dev}" -p zarrcore --example interop_corpus -- "$out" "$fixtures"
want=$("$py" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["arrays"]) + len(m["groups"]))' "$out/manifest.json")
log="$out/verify.log"
status=0
timeout 1200 "$py" "$verify" "$out" "$out/manifest.json" -q > "$log" 2>&1 || status=$?
cat "$log"
if [[ $status -ne 0 ]]; then
  echo "interop_write: zarr-python disagrees with what zarrcore wrote (exit $status)" >&2
  exit 1
fi
# Every entry was checked (not silently skipped).
grep -q "^$want/$want passed" "$log" || { echo "interop_write: expected $want/$want checks to pass" >&2; exit 1; }
echo "interop_write: zarr-python read all $want arrays and groups written by zarrcore exactly"

peers_log="$out/peers.log"
status=0
timeout 1200 "$py" tests/python/verify_peers.py "$out" "$out/manifest.json" \
  --reference "$fixtures/manifest.json" > "$peers_log" 2>&1 || status=$?
cat "$peers_log"
if [[ $status -ne 0 ]]; then
  echo "interop_write: TensorStore or zarrs disagrees with what zarrcore wrote (exit $status)" >&2
  exit 1
fi
echo "interop_write: TensorStore and zarrs read every array they support exactly"

#!/usr/bin/env bash
# S3 suite: starts a real S3-compatible server (moto's server mode, pinned in
# tests/python/requirements.txt) on 127.0.0.1, runs the Rust remote-store
# tests against it (store contract, arrays, the zarr-python fixture corpus
# through S3, eight writer processes, server killed/paused mid-write), and
# stops it. The Python interop tests (tests/python/test_s3.py) start their
# own server through a pytest fixture.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
py="${ZARRCORE_PYTHON:-$root/.venv/bin/python}"
"$py" -c 'import moto.server' 2>/dev/null || {
  echo "s3 suite: $py has no moto[server]; run scripts/setup.sh" >&2
  exit 1
}

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# s3_server.py starts moto, creates the bucket, writes the port and stays
# until killed (then stops moto).
"$py" tests/python/s3_server.py serve "$work/port" &
server_pid=$!
for _ in $(seq 1 300); do
  [[ -s "$work/port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "s3 suite: the server failed to start" >&2; exit 1; }
  sleep 0.2
done
[[ -s "$work/port" ]] || { echo "s3 suite: the server did not start in 60 s" >&2; exit 1; }
port="$(cat "$work/port")"
echo "s3 suite: moto on 127.0.0.1:$port"

export ZARRCORE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
export ZARRCORE_TEST_S3_BUCKET="zarrcore-test"
export ZARRCORE_TEST_MOTO_PYTHON="$py"
timeout 1200 cargo test --profile "${ZARRCORE_CARGO_PROFILE:-dev}" -p zarrcore --test s3_store -- --test-threads=2

#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine with Rust:
# Debian packages (FUSE, valgrind, pkg-config) and a Python venv with the
# pinned peers in tests/python/requirements.txt. Idempotent and quiet.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

need_pkgs=()
for p in fuse3 libfuse3-dev pkg-config valgrind python3-venv; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

venv="$root/.venv"
stamp="$venv/.requirements.sha"
want="$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: creating the Python venv (.venv) with pinned zarr/numpy"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
  echo "$want" > "$stamp"
fi

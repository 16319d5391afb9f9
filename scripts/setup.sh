#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages this project builds and runs
# with, if any is missing (chromium: the test suite renders the HTML reports). Run as root (or with sudo) on a fresh machine;
# does nothing when everything is there already.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libssl-dev openssl libcmocka-dev libinih-dev libjansson-dev
  libsqlite3-dev sqlite3 zlib1g-dev libgsl-dev libglpk-dev libcsv-dev
  python3 procps
  libpq-dev postgresql postgresql-client time
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

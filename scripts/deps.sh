#!/usr/bin/env bash
# scripts/deps.sh - install every Debian package kvbm needs to build, test and run.
# Idempotent: installs only what is missing. Needs root (or sudo) and apt on first use.
# Quiet: one line per package set; apt's output goes to build/deps.log, named on failure.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-dev
      libxxhash-dev libjson-c-dev libmsgpack-dev
      python3-dev python3-setuptools python3-pytest python3-numpy
      libmicrohttpd-dev prometheus python3 python3-prometheus-client
      nats-server libnats-dev libzmq3-dev python3-zmq python3-msgpack)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/build"
log="$root/build/deps.log"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing ${missing[*]} (log: $log)" >&2
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "deps.sh: installing packages failed, full log: $log" >&2
  exit 1
fi
